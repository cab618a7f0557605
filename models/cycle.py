"""The annual review cycle: its input, its stages, the CEO's decision and what the lead sees."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.archive import ArchiveResult
from models.campaign import DEFAULT_BATCH_SIZE, CampaignResult
from models.documents import DraftDocument
from models.findings import Finding
from models.role_acceptance import RoleAcceptanceResult
from models.signing import AuditEvent, SignDocumentsResult
from models.storage import StoredObject

CONSENT_TEXT = (
    "I agree to sign these documents electronically. My typed name is my signature, and it "
    "has the same effect as my handwritten signature on the documents identified by the "
    "SHA-256 fingerprints shown."
)


def cycle_id_for(short_name: str, year: int, *, ad_hoc: str | None = None) -> str:
    """``isms-review-<org>-<year>``; an ad-hoc review gets a suffix of its own."""
    base = f"isms-review-{short_name}-{year}"
    return f"{base}-{ad_hoc}" if ad_hoc else base


def cycle_year(cycle_id: str, short_name: str) -> int | None:
    """The year of an id made by :func:`cycle_id_for` for ``short_name``; None for any other id."""
    prefix = f"isms-review-{short_name}-"
    if not cycle_id.startswith(prefix):
        return None
    year = cycle_id.removeprefix(prefix).split("-", 1)[0]
    return int(year) if len(year) == 4 and year.isdigit() else None


class Stage(StrEnum):
    CHECKING = "checking"
    RENDERING = "rendering"
    AWAITING_SIGNATURE = "awaiting_signature"
    AWAITING_REVISION = "awaiting_revision"  # the CEO asked for changes; the lead revises
    SIGNING = "signing"
    SIGNED = "signed"
    ACKNOWLEDGING = "acknowledging"  # the acknowledgement campaign runs
    CLOSED = "closed"  # the campaign closed: register and report written


SIGNED_STAGES = frozenset({Stage.SIGNING, Stage.SIGNED, Stage.ACKNOWLEDGING, Stage.CLOSED})


class AnnualReviewInput(BaseModel):
    cycle_id: str
    year: int
    profile: StoredObject
    staff: StoredObject
    started_by: str
    reason: str | None = None  # set for an ad-hoc review ("significant change: ...")
    previous_manifest: StoredObject | None = None  # last year's render, for the change summary
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=1000)  # people per acknowledgement batch
    # the files the profile's documents section names (templates, static documents), by document
    # id, stored by content hash; empty for a profile on the built-in templates
    document_files: dict[str, StoredObject] = Field(default_factory=dict)


class DecisionKind(StrEnum):
    SIGN = "sign"
    REQUEST_CHANGES = "request_changes"


class SecondFactorMethod(StrEnum):
    EMAILED_CODE = "emailed_code"  # a six-digit one-time code emailed to the signer
    SSO = "sso"  # the signer signed in with the organisation's OpenID Connect provider


class SecondFactor(BaseModel):
    """How the signer proved, beyond holding the link, that they are the signer."""

    method: SecondFactorMethod
    # who the factor names: the address the code went to, or the SSO identity (issuer, email)
    identity: str
    verified_at: datetime
    detail: str = ""  # e.g. "code sent 09:01:12 UTC, 2 attempts" or "issuer https://idp.example"

    def describe(self) -> str:
        """One line for the certificate and evidence.json."""
        how = (
            "one-time code emailed to"
            if self.method is SecondFactorMethod.EMAILED_CODE
            else "single sign-on as"
        )
        at = self.verified_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        extra = f" ({self.detail})" if self.detail else ""
        return f"{how} {self.identity}, verified {at}{extra}"


class SignatureDecision(BaseModel):
    """The CEO's decision, as the web app received it (server time, IP, user agent)."""

    kind: DecisionKind
    person: str  # the link's addressee
    version_hash: str  # the version the link was for
    link_id: str
    typed_name: str = ""
    consent: bool = False
    consent_text: str = CONSENT_TEXT
    comment: str = ""
    # a request for changes may name the documents it is about (their names, as on the signing
    # page: ``acceptable-use-policy.pdf``); empty: the request is about the version as a whole
    documents: list[str] = Field(default_factory=list)
    ip: str | None = None
    user_agent: str | None = None
    # the signer's second factor (required to sign; see SecondFactor)
    second_factor: SecondFactor | None = None
    # the newest link the signer was sent is the only one that works (see LinkClaims.sequence)
    link_sequence: int = 0
    # the web app's proof (core.proof) that it received this decision through a valid link;
    # the worker refuses an update without a valid one
    proof: str = ""


class DecisionReceipt(BaseModel):
    kind: DecisionKind
    version: str
    round: int
    recorded_at: datetime


class DocumentsViewed(BaseModel):
    """A person's browser loaded the documents (not a mail scanner's GET of the link)."""

    person: str
    version_hash: str
    document: str
    ip: str | None = None
    user_agent: str | None = None
    proof: str = ""  # core.proof: a signal without a valid one is ignored


class RevisionInput(BaseModel):
    profile: StoredObject
    staff: StoredObject | None = None  # None keeps the current directory
    submitted_by: str
    # the revised profile's own files, by document id (see AnnualReviewInput.document_files)
    document_files: dict[str, StoredObject] = Field(default_factory=dict)


class RevisionReceipt(BaseModel):
    round: int
    accepted_at: datetime


class CycleStatus(BaseModel):
    cycle_id: str
    stage: Stage
    organisation: str = ""
    version: str = ""
    round: int = 0
    version_hash: str = ""
    waiting_on: str = ""
    overdue: bool = False
    documents: list[DraftDocument] = Field(default_factory=list)
    change_lines: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    last_comment: str = ""
    # the documents the CEO's last request for changes named (their names; empty: the whole version)
    last_comment_documents: list[str] = Field(default_factory=list)
    events: list[AuditEvent] = Field(default_factory=list)
    signed: SignDocumentsResult | None = None
    campaign: CampaignResult | None = None  # the register and report, once the campaign closed
    # the role acceptance register, once closed (None: off in the profile, or a cycle from before it)
    role_acceptance: RoleAcceptanceResult | None = None
    archive: list[ArchiveResult] = Field(default_factory=list)  # what went under Object Lock, stage by stage
    archive_problems: list[str] = Field(default_factory=list)  # archivings refused (a conflicting object)
    # the sequence of the newest signing link sent to the signer and recorded (LinkClaims.sequence):
    # a link with a lower one is from an earlier email (an earlier reminder's) and no longer works
    signer_link_sequence: int = 0


class AnnualReviewResult(BaseModel):
    cycle_id: str
    version: str
    rounds: int
    signed: SignDocumentsResult
    campaign: CampaignResult | None = None  # None for cycles from before the campaign existed
    role_acceptance: RoleAcceptanceResult | None = None  # None: off, or a cycle from before it
    archive: list[ArchiveResult] = Field(default_factory=list)  # empty for cycles from before the archive
