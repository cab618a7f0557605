"""The contract between the workflows and everything that talks to them.

Every workflow type, query, signal and update is named here once, with the exact string
Temporal records in histories (the committed histories in ``tests/replay`` hold them, so a
name never changes); every refusal an update can give, and every error an activity raises
that retrying cannot fix, has a stable type here. The workflows use these names in their
decorators, the typed client (``adapters.workflow_client``) calls them by these names, and
the web pages and the command line decide what to show from a refusal's type, never from the
wording of its message.

>>> raise refusal(Refusal.ALREADY_ACKNOWLEDGED)  # in a validator
>>> if refused.kind is Refusal.ALREADY_ACKNOWLEDGED: ...  # in a page

This module sits at the bottom of the import graph (it imports nothing of the project), so
activities, workflows, adapters, the web app and the command line can all use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from temporalio.exceptions import ApplicationError


class WorkflowType(StrEnum):
    """Workflow type names (the class names, as registered)."""

    ANNUAL_REVIEW = "AnnualReviewWorkflow"
    CAMPAIGN = "AcknowledgementCampaignWorkflow"
    BATCH = "AcknowledgementBatchWorkflow"
    SCHEDULED_REVIEW = "ScheduledReviewWorkflow"
    STACK_CHECK = "StackCheckWorkflow"
    ROLE_ACCEPTANCE = "RoleAcceptanceWorkflow"


class Query(StrEnum):
    STATUS = "status"  # AnnualReviewWorkflow -> CycleStatus
    STATE = "state"  # AcknowledgementCampaignWorkflow -> CampaignState
    PROGRESS = "progress"  # AcknowledgementBatchWorkflow -> BatchProgress
    PAGE = "page"  # AcknowledgementBatchWorkflow (email) -> AckPage | None
    ROLE_PAGE = "role_page"  # RoleAcceptanceWorkflow (email) -> RolePage | None
    ROLE_STATE = "role_state"  # RoleAcceptanceWorkflow -> RoleAcceptanceState
    # AcknowledgementBatchWorkflow -> BatchView | None: what every page of the batch shows, in one
    # answer the web app keeps for a moment (models/ack_group.py)
    BATCH_VIEW = "batch_view"


class Signal(StrEnum):
    DOCUMENTS_VIEWED = "documents_viewed"  # AnnualReviewWorkflow <- DocumentsViewed
    STAFF_CHANGED = "staff_changed"  # AcknowledgementBatchWorkflow <- BatchChange


class Update(StrEnum):
    DECIDE = "decide"  # AnnualReviewWorkflow: SignatureDecision -> DecisionReceipt
    SUBMIT_REVISION = "submit_revision"  # AnnualReviewWorkflow: RevisionInput -> RevisionReceipt
    ACKNOWLEDGE = "acknowledge"  # AcknowledgementBatchWorkflow: Acknowledgement -> AckReceipt
    CHANGE_STAFF = "change_staff"  # AcknowledgementCampaignWorkflow: StaffChange -> StaffChangeReceipt
    ANSWER_ROLE = "answer_role"  # RoleAcceptanceWorkflow: RoleAnswer -> RoleReceipt
    # AcknowledgementBatchWorkflow: AckGroup -> AckGroupReceipt (group commit: several people's
    # acknowledgements in one update, each with its own receipt or refusal; models/ack_group.py)
    ACKNOWLEDGE_GROUP = "acknowledge_group"


class Refusal(StrEnum):
    """Why an update was refused: the ``type`` of the ``ApplicationError`` its validator or
    handler raises. A refused update records nothing (but see ``STAFF_CHANGE_PARTLY_APPLIED``)."""

    # the CEO's decision (``decide``)
    ALREADY_SIGNED = "CycleAlreadySigned"
    SUPERSEDED = "Superseded"
    NOT_AWAITING_SIGNATURE = "NotAwaitingSignature"
    NOT_THE_SIGNER = "NotTheSigner"
    CONSENT_REQUIRED = "ConsentRequired"
    NAME_MISMATCH = "NameMismatch"
    COMMENT_REQUIRED = "CommentRequired"
    UNKNOWN_DOCUMENT = "UnknownDocument"  # a request for changes names a document not in the version
    SECOND_FACTOR_REQUIRED = "SecondFactorRequired"  # a signature without the signer's second factor
    # any update the web app must prove (decide, acknowledge): no proof, or one that does not verify
    NO_PROOF = "NoProof"
    # a link older than the newest one sent to the person (an earlier reminder's)
    OLD_LINK = "OldLink"
    # the ISMS lead's revision (``submit_revision``)
    REVISION_NOT_NOW = "RevisionNotNow"
    REVISION_IN_PROGRESS = "RevisionInProgress"
    REVISION_FAILS_CLAUSE5 = "Clause5Errors"  # details: one line per error
    SIGNED_MEANWHILE = "SignedMeanwhile"
    # a person's acknowledgement (``acknowledge``)
    NOT_STARTED = "NotStarted"
    CLOSED = "Closed"
    NOT_IN_CAMPAIGN = "NotInCampaign"
    LEFT = "Left"
    ALREADY_ACKNOWLEDGED = "AlreadyAcknowledged"
    # a group of acknowledgements (``acknowledge_group``) that is empty, too large or names a
    # person twice: the web app never sends one; nothing of it is recorded
    ACK_GROUP_MALFORMED = "AckGroupMalformed"
    # the page confirmed other documents than the person's own set (details: the names expected)
    WRONG_DOCUMENTS = "WrongDocuments"
    # a comprehension question missing or answered wrongly (details: the document names to look at)
    WRONG_ANSWERS = "WrongAnswers"
    # a role holder's answer (``answer_role``); also CLOSED, SUPERSEDED, OLD_LINK, NOT_STARTED
    NOT_A_ROLE_HOLDER = "NotARoleHolder"  # the link's person is not asked to accept a role
    ALREADY_ACCEPTED = "AlreadyAccepted"
    WRONG_ROLES = "WrongRoles"  # the page showed other roles (or another letter) than the person's own
    REASON_REQUIRED = "ReasonRequired"  # declining needs a reason
    # joiners and leavers (``change_staff``)
    CAMPAIGN_STARTING = "CampaignStarting"
    CAMPAIGN_CLOSED = "CampaignClosed"
    CHANGE_IN_PROGRESS = "ChangeInProgress"
    NOTHING_TO_CHANGE = "NothingToChange"
    STAFF_CHANGE_REFUSED = "StaffChangeRefused"  # details: one line per unusable row
    # some batches got the change and some did not: the campaign records exactly which
    STAFF_CHANGE_PARTLY_APPLIED = "StaffChangePartlyApplied"


class Failure(StrEnum):
    """Errors activities raise that retrying cannot fix (non-retryable ``ApplicationError`` types).

    Each activity module lists the ones its activities raise next to them (for example
    ``activities.documents.RENDER_DOCUMENTS_NON_RETRYABLE``); the workflows' retry policies
    import those lists.
    """

    UNREADABLE_INPUT = "UnreadableInput"
    CLAUSE5_ERRORS = "Clause5Errors"
    INTEGRITY = "IntegrityError"
    PDF_CONVERSION = "PdfConversionFailed"
    RECIPIENT_REFUSED = "RecipientRefused"
    TEMPLATE_ERROR = "EmailTemplateError"
    INVALID_ADDRESS = "InvalidAddress"
    ARCHIVE_CONFLICT = "ArchiveConflict"
    NO_SEAL_CERTIFICATE = "NoSealCertificate"
    SIGNING_IDENTITY = "SigningIdentityError"
    SHOWN_DOCUMENTS_MISMATCH = "ShownDocumentsMismatch"
    VERSION_MISMATCH = "VersionMismatch"
    ALREADY_SIGNED = "AlreadySigned"
    SEALING_FAILED = "SealingFailed"
    STAFF_CHANGE_REFUSED = "StaffChangeRefused"
    UNREADABLE_STAFF = "UnreadableStaff"
    NO_CAMPAIGN = "NoCampaign"


class Message:
    """What each refusal says (``str.format`` fields in braces). Pages may show the text; they
    never decide anything from it."""

    ALREADY_SIGNED_VERSION: Final = "already signed: version {version} was signed"
    ALREADY_SIGNED_CURRENT: Final = "already signed: the current version was signed"
    SUPERSEDED_SIGNING: Final = "superseded: this link is for an earlier version of the documents"
    NOT_AWAITING_SIGNATURE: Final = "not awaiting a signature (the cycle is {stage})"
    NOT_THE_SIGNER: Final = "this link is not for the person who signs"
    CONSENT_REQUIRED: Final = "consent to sign electronically is required"
    NAME_MISMATCH: Final = "the typed name must be the signer's full name ({name})"
    COMMENT_REQUIRED: Final = "a request for changes needs a comment saying what to change"
    UNKNOWN_DOCUMENT: Final = "the version has no document {names}; it has: {known}"
    SECOND_FACTOR_REQUIRED: Final = (
        "a signature needs the signer's second factor: the emailed one-time code or single sign-on"
    )
    NO_PROOF: Final = "refused: this did not come through the organisation's web app"
    OLD_LINK: Final = "this link has been replaced by a newer email: use the link in the most recent one"
    REVISION_NOT_NOW: Final = "a revision cannot be taken now (the cycle is {stage})"
    REVISION_IN_PROGRESS: Final = "a revision is already being processed"
    REVISION_FAILS_CLAUSE5: Final = "revision refused: {count} Clause 5 error(s)"
    SIGNED_MEANWHILE: Final = "revision refused: the CEO signed the current version meanwhile"
    NOT_STARTED: Final = "not started: the campaign is still starting, try again in a minute"
    CLOSED: Final = "closed: the acknowledgement campaign has closed"
    SUPERSEDED_ACKNOWLEDGEMENT: Final = "superseded: this link is for another version of the documents"
    NOT_IN_CAMPAIGN: Final = "not in this campaign: this link's person is not in this batch"
    LEFT: Final = "left: this person has left the organisation's scope"
    ALREADY_ACKNOWLEDGED: Final = "already acknowledged"
    ACK_GROUP_MALFORMED: Final = (
        "not recorded: a group holds 1 to {most} acknowledgements, each of a different person"
    )
    WRONG_DOCUMENTS: Final = (
        "not recorded: the documents confirmed are not the {count} this person is asked to acknowledge"
    )
    WRONG_ANSWERS: Final = "not recorded: some answers are missing or not right"
    NOT_A_ROLE_HOLDER: Final = "this link's person is not asked to accept a role in this cycle"
    ALREADY_ACCEPTED: Final = "already accepted"
    WRONG_ROLES: Final = "not recorded: the roles confirmed are not the ones this person is asked to accept"
    REASON_REQUIRED: Final = "declining a role needs a reason, for the CEO and the ISMS lead"
    CLOSED_ROLES: Final = "closed: role acceptance for this version has closed"
    CAMPAIGN_STARTING: Final = "the campaign is still starting: try again in a minute"
    CAMPAIGN_CLOSED: Final = "the campaign has closed: staff can no longer be added or removed"
    CAMPAIGN_CLOSED_MEANWHILE: Final = (
        "staff change refused: the campaign closed meanwhile; nothing was changed"
    )
    CHANGE_IN_PROGRESS: Final = "another staff change is being applied: try again in a moment"
    NOTHING_TO_CHANGE: Final = "nothing to change: give joiners to add or emails to remove"
    STAFF_CHANGE_REFUSED: Final = "staff change refused: {count} problem(s); nothing was changed"
    STAFF_CHANGE_PARTLY_APPLIED: Final = (
        "staff change partly applied: {applied} of {total} batch(es) took it; "
        "run the same change again to apply the rest"
    )


def refusal(kind: Refusal, message: str | None = None, *details: object) -> ApplicationError:
    """The error an update's validator or handler raises to refuse: typed ``kind``.

    ``message`` defaults to the refusal's usual text: the ``Message`` of the same name (read
    when the refusal is raised).
    """
    text = message if message is not None else str(getattr(Message, kind.name, ""))
    # the message is read by people; the type is what callers switch on
    return ApplicationError(text, *details, type=kind.value, non_retryable=True)


def refusal_of(error_type: str | None) -> Refusal | None:
    """The refusal an ``ApplicationError.type`` names, or None for any other error."""
    try:
        return Refusal(error_type) if error_type else None
    except ValueError:
        return None
