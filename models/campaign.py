"""The acknowledgement campaign: who must confirm the signed version, and what each one did.

The campaign runs as one ``AcknowledgementCampaignWorkflow`` per cycle (id
:func:`campaign_id_for`) over batch workflows of a few hundred people each (ids
:func:`batch_id_for`). People are packed into batches by line manager, so one batch owns
everything a manager is told about. A staff link names its batch workflow in the token's
``cycle_id`` claim, so the web app reaches the right batch without a lookup.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from enum import StrEnum
from pathlib import PurePosixPath

from pydantic import BaseModel, Field

from models.profile import Audience, Question
from models.routing import AckLadder, Person
from models.storage import StoredObject

BATCH_SEPARATOR = "--ack-"
# what a person confirms: the wording of versions signed before the documents section (two
# fixed documents, everyone acknowledging both), kept so their records read as they always did
ACKNOWLEDGEMENT_TEXT = (
    "I have read and accept the Information Security Policy and the ISMS Roles, Responsibilities "
    "and Authorities identified by the SHA-256 fingerprints shown."
)
# and for any set of documents: names none of them, so it is right for whichever set a person gets
DOCUMENTS_ACKNOWLEDGEMENT_TEXT = (
    "I have read and accept the documents listed on this page, each identified by the SHA-256 "
    "fingerprint shown."
)
DOCUMENT_ACKNOWLEDGEMENT_TEXT = (
    "I have read and accept the document listed on this page, identified by the SHA-256 fingerprint shown."
)
RATE_TARGET = 0.95  # the acknowledgement rate the cycle report measures against
DEFAULT_BATCH_SIZE = 250  # people per batch workflow: keeps each history and payload small
# batches one campaign run starts (about two events each) before it continues as new: far below
# Temporal's 2,000 pending children of a run and its 10,240-event warning
BATCH_WAVE = 500
# a campaign run continues as new once its history is this long (or the server suggests it)
RUN_EVENTS = 4000


def campaign_id_for(cycle_id: str) -> str:
    return f"{cycle_id}--campaign"


def batch_id_for(cycle_id: str, batch: int) -> str:
    return f"{cycle_id}{BATCH_SEPARATOR}{batch:04d}"


def cycle_of_batch(batch_id: str) -> str | None:
    """The cycle id a batch workflow id belongs to, or None if it is not a batch id."""
    cycle_id, separator, number = batch_id.rpartition(BATCH_SEPARATOR)
    return cycle_id if separator and cycle_id and number.isdigit() else None


class CampaignStage(StrEnum):
    DISPATCHING = "dispatching"  # freezing the directory, starting batches, sending invitations
    RUNNING = "running"  # waiting for acknowledgements, chasing on the ladder
    CLOSING = "closing"  # the deadline passed: writing the register and the report
    CLOSED = "closed"


class Recipient(BaseModel):
    """One person in scope, as frozen from the staff directory when the documents were signed."""

    email: str
    name: str
    department: str
    manager_email: str | None = None
    manager_name: str | None = None
    # the names of the documents this person acknowledges; None: every document of the version
    acknowledges: list[str] | None = None


class CampaignDocument(BaseModel):
    """One document staff acknowledge, as the campaign's pages, figures and report name it."""

    name: str  # its file name through the cycle, e.g. acceptable-use-policy.pdf
    title: str
    version: str
    sha256: str  # of the sealed PDF
    audience: str = "everyone in scope"  # Audience.describe()
    questions: list[Question] = Field(default_factory=list)  # asked before acknowledging it

    @property
    def id(self) -> str:
        return PurePosixPath(self.name).stem


class SignedVersion(BaseModel):
    """What every person is asked to acknowledge."""

    version: str
    version_hash: str  # SHA-256 over the sealed PDFs' hashes: the value staff links are bound to
    documents: dict[str, str]  # document name -> SHA-256 of its sealed PDF
    pdfs: dict[str, StoredObject]  # document name -> the sealed PDF
    titles: dict[str, str] = Field(default_factory=dict)  # document name -> title ({}: before documents)
    versions: dict[str, str] = Field(default_factory=dict)  # document name -> its version
    # the documents staff acknowledge, each with its audience; None (a version signed before the
    # documents section existed): everyone in scope acknowledges every document
    audiences: dict[str, Audience] | None = None
    # document name -> the questions staff answer before acknowledging it (the profile's
    # ``questions``); a document not named here has none ({}: a version signed before questions)
    questions: dict[str, list[Question]] = Field(default_factory=dict)

    def acknowledged_names(self) -> list[str]:
        """The documents staff acknowledge (each by its audience), in the version's order."""
        if self.audiences is None:
            return list(self.documents)
        return [name for name in self.audiences if name in self.documents]

    def names_for(self, acknowledges: list[str] | None) -> list[str]:
        """The documents a person acknowledges: theirs (``Recipient.acknowledges``), else all."""
        names = self.acknowledged_names()
        if acknowledges is None:
            return names
        chosen = set(acknowledges)
        return [name for name in names if name in chosen]

    def title_of(self, name: str) -> str:
        return self.titles.get(name) or name

    def version_of(self, name: str) -> str:
        return self.versions.get(name) or self.version

    def campaign_documents(self) -> list[CampaignDocument]:
        """Every document staff acknowledge, with its title, version, hash and audience."""
        return [
            CampaignDocument(
                name=name,
                title=self.title_of(name),
                version=self.version_of(name),
                sha256=self.documents[name],
                audience="everyone in scope" if self.audiences is None else self.audiences[name].describe(),
                questions=self.questions.get(name, []),
            )
            for name in self.acknowledged_names()
        ]

    def statement_for(self, names: list[str]) -> str:
        """What a person asked to acknowledge ``names`` confirms (see ACKNOWLEDGEMENT_TEXT)."""
        if self.audiences is None:
            return ACKNOWLEDGEMENT_TEXT
        return DOCUMENT_ACKNOWLEDGEMENT_TEXT if len(names) == 1 else DOCUMENTS_ACKNOWLEDGEMENT_TEXT


class CampaignInput(BaseModel):
    """What a campaign starts with; a run that continues as new passes it on with ``carried`` set."""

    cycle_id: str
    organisation: str
    signed: SignedVersion
    staff: StoredObject  # the directory as it was when the documents were signed
    lead: Person
    signer: Person
    schedule: AckLadder = Field(default_factory=AckLadder)
    cycle_started_at: datetime
    signed_at: datetime
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=1000)
    batch_wave: int = Field(BATCH_WAVE, ge=1, le=1000)  # batches started per run
    run_events: int = Field(RUN_EVENTS, ge=100, le=9000)  # history length at which a run continues as new
    carried: CampaignCarry | None = None  # None: the campaign's first run


class FrozenDirectory(BaseModel):
    """The batches a directory was packed into; the people themselves stay in S3.

    A campaign that runs in waves (``FreezeInput.by_reference``) gets only the count of batches
    and a reference to their list, so nothing in its history grows with the organisation.
    """

    batches: list[StoredObject] = Field(default_factory=list)  # one JSON list of Recipient per batch
    index: (
        StoredObject  # JSON: {"people": {email: batch}, "managers": {manager email: batch}, "sizes": [...]}
    )
    people: int
    excluded: int  # out of scope, or not employed on the day
    no_documents: int = 0  # in scope, but no document's audience takes them in: not invited
    batch_list: StoredObject | None = None  # JSON list of StoredObject: ``batches``, kept in S3
    batch_count: int = 0  # with ``batch_list``: how many batches it names

    @property
    def count(self) -> int:
        """How many batches there are (listed here or in ``batch_list``)."""
        return self.batch_count if self.batch_list is not None else len(self.batches)


class CampaignCarry(BaseModel):
    """What one campaign run hands the next when it continues as new.

    Nothing here grows with the number of people: the batches are a count and a reference;
    only the staff changes of the campaign (who joined, who left) are carried person by person.
    """

    started_at: datetime
    deadline: datetime
    frozen: FrozenDirectory
    next_batch: int = 1  # the first batch not started yet (``frozen.count + 1``: all started)
    joined: dict[str, int] = Field(default_factory=dict)  # joiners (casefold) -> their batch
    left: list[str] = Field(default_factory=list)  # leavers (casefold)
    no_document_joiners: list[str] = Field(default_factory=list)  # joiners in scope no document is for
    summary_sent: bool = False
    runs: int = 1  # this run's number: 1 for the first


class BatchWaveInput(BaseModel):
    """Batches ``first`` to ``first + count - 1`` of a frozen directory's list."""

    batch_list: StoredObject
    first: int = Field(ge=1)
    count: int = Field(ge=1)


class BatchInput(BaseModel):
    cycle_id: str
    batch: int
    organisation: str
    signed: SignedVersion
    signer_name: str
    people: StoredObject
    lead: Person
    schedule: AckLadder
    started_at: datetime  # the campaign's start
    deadline: datetime


class Acknowledgement(BaseModel):
    """A person pressed "I have read and accept" (as the web app received it)."""

    person: str  # the link's addressee
    version_hash: str  # the version the link was for
    link_id: str
    documents: dict[str, str] = Field(default_factory=dict)  # the hashes shown on the page
    ip: str | None = None
    user_agent: str | None = None
    link_sequence: int = 0  # see LinkClaims.sequence: only the newest link sent works
    # the questions of the person's documents (SignedVersion.questions): document name -> the
    # index of the choice picked for each question, in order; the validator refuses a set that
    # is missing or wrong. ``attempts`` (this one included) and ``first_answers`` (as first sent)
    # are counted by the web app on its own side, never taken from the form
    answers: dict[str, list[int]] = Field(default_factory=dict)
    attempts: int = Field(0, ge=0)
    first_answers: dict[str, list[int]] = Field(default_factory=dict)
    proof: str = ""  # core.proof: the worker refuses an update without a valid one


class AcknowledgedDocument(BaseModel):
    """One document a person acknowledged: which one, which version, which bytes."""

    id: str
    name: str
    title: str = ""
    version: str
    sha256: str  # of the sealed PDF shown


class PersonRecord(BaseModel):
    """One line of the acknowledgement register."""

    email: str
    name: str
    department: str
    manager_email: str | None = None
    manager_name: str | None = None
    joined: bool = False  # added mid-cycle
    invited_at: datetime | None = None
    reminded_at: list[datetime] = Field(default_factory=list)
    escalated_at: datetime | None = None  # named in a digest to the line manager
    acknowledged_at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None
    version_hash: str | None = None  # of the version acknowledged
    documents: dict[str, str] = Field(default_factory=dict)  # hashes shown when acknowledging
    left_at: datetime | None = None  # a leaver: excluded from the figures
    # the documents this person is asked to acknowledge (None: every document of the version)
    acknowledges: list[str] | None = None
    # what they acknowledged, document by document (id, version, SHA-256); empty until they do
    acknowledged_documents: list[AcknowledgedDocument] = Field(default_factory=list)
    # the comprehension questions (Acknowledgement.answers): the right answers they gave, what
    # they first answered and how many tries it took; empty and 0 for documents without questions
    answers: dict[str, list[int]] = Field(default_factory=dict)
    first_answers: dict[str, list[int]] = Field(default_factory=dict)
    attempts: int = 0


class AckReceipt(BaseModel):
    organisation: str = ""
    lead_name: str = ""
    person: str
    name: str
    acknowledged_at: datetime
    version: str
    version_hash: str
    documents: dict[str, str]
    ip: str | None = None
    user_agent: str | None = None
    already: bool = False  # True when an earlier request had recorded it
    titles: dict[str, str] = Field(default_factory=dict)  # document name -> title
    versions: dict[str, str] = Field(default_factory=dict)  # document name -> version
    statement: str = ACKNOWLEDGEMENT_TEXT  # what the person confirmed


class Tally(BaseModel):
    total: int = 0  # in scope now (leavers excluded)
    acknowledged: int = 0
    outstanding: int = 0
    overdue: int = 0  # outstanding and already escalated to their manager, or the deadline passed

    def add(self, other: Tally) -> None:
        self.total += other.total
        self.acknowledged += other.acknowledged
        self.outstanding += other.outstanding
        self.overdue += other.overdue

    @property
    def rate(self) -> float:
        return self.acknowledged / self.total if self.total else 1.0

    @property
    def rate_text(self) -> str:
        """The rate as a percentage with one decimal, rounded down so it is never overstated."""
        if not self.total:
            return "100.0%"
        tenths = self.acknowledged * 1000 // self.total
        return f"{tenths // 10}.{tenths % 10}%"


class BatchProgress(BaseModel):
    batch: int
    invited: int = 0
    left: int = 0
    closed: bool = False
    tally: Tally = Field(default_factory=Tally)
    by_department: dict[str, Tally] = Field(default_factory=dict)
    # document name -> the people in its audience (leavers excluded) and how many acknowledged
    by_document: dict[str, Tally] = Field(default_factory=dict)


class CampaignProgress(BaseModel):
    """Live figures: the campaign's own state plus every batch's, summed (see adapters.campaign)."""

    cycle_id: str
    stage: CampaignStage
    started_at: datetime | None = None
    deadline: datetime | None = None
    batches: int = 0
    invited: int = 0
    left: int = 0
    tally: Tally = Field(default_factory=Tally)
    by_department: dict[str, Tally] = Field(default_factory=dict)
    result: CampaignResult | None = None  # the register and the report, once closed
    documents: list[CampaignDocument] = Field(default_factory=list)  # what staff acknowledge
    by_document: dict[str, Tally] = Field(default_factory=dict)  # document name -> its audience's figures
    no_documents: int = 0  # in scope, no document for them: not invited, not in the figures


class CampaignState(BaseModel):
    """What the campaign workflow's ``state`` query returns (batch figures come from the batches)."""

    cycle_id: str
    stage: CampaignStage
    started_at: datetime | None = None
    deadline: datetime | None = None
    batches: int = 0
    version: str = ""
    version_hash: str = ""
    result: CampaignResult | None = None  # set when closed
    documents: list[CampaignDocument] = Field(default_factory=list)  # what staff acknowledge
    no_documents: int = 0  # in scope, no document for them (frozen directory and joiners)
    runs: int = 1  # the campaign's runs so far (it continues as new as it goes)


class StaffChange(BaseModel):
    """Joiners (a staff CSV with the usual columns) and leavers (email addresses)."""

    add: StoredObject | None = None
    remove: list[str] = Field(default_factory=list)
    requested_by: str


class PlannedChange(BaseModel):
    """Where each joiner and leaver goes: worked out by an activity from the frozen index."""

    joiners: dict[int, list[Recipient]] = Field(default_factory=dict)  # batch -> people
    leavers: dict[int, list[str]] = Field(default_factory=dict)  # batch -> emails
    already_in: list[str] = Field(default_factory=list)  # joiners already in the campaign
    unknown: list[str] = Field(default_factory=list)  # leavers not in the campaign
    problems: list[str] = Field(default_factory=list)  # invalid rows: nothing is changed
    no_documents: list[str] = Field(default_factory=list)  # joiners no document is for: not invited


class BatchChange(BaseModel):
    joiners: list[Recipient] = Field(default_factory=list)
    leavers: list[str] = Field(default_factory=list)


class StaffChangeReceipt(BaseModel):
    added: list[str]
    removed: list[str]
    already_in: list[str]
    unknown: list[str]
    no_documents: list[str] = Field(default_factory=list)  # joiners no document is for: not invited


class BatchResult(BaseModel):
    batch: int
    records: StoredObject  # JSON list of PersonRecord
    tally: Tally


class QuestionFigures(BaseModel):
    """How one comprehension question went: of those who acknowledged its document, how many
    answered it right the first time (everyone recorded answered it right in the end)."""

    document: str  # the document's name
    number: int  # 1 for the document's first question
    question: str
    answered: int = 0  # people who acknowledged the document with its questions
    right_first_time: int = 0
    attempts: int = 0  # tries it took them all together (each try answers every question)

    @property
    def rate_text(self) -> str:
        """The first-attempt pass rate with one decimal, rounded down ("no answers" when none)."""
        if not self.answered:
            return "no answers"
        tenths = self.right_first_time * 1000 // self.answered
        return f"{tenths // 10}.{tenths % 10}%"


class CampaignReport(BaseModel):
    """The figures the cycle report is written from."""

    organisation: str
    cycle_id: str
    version: str
    version_hash: str
    cycle_started_at: datetime
    signed_at: datetime
    campaign_started_at: datetime
    closed_at: datetime
    target: float = RATE_TARGET
    tally: Tally
    by_department: dict[str, Tally]
    non_responders_by_manager: dict[str, list[str]]  # "Manager Name <email>" -> "Name <email>"
    leavers: int
    joiners: int
    documents: list[CampaignDocument] = Field(default_factory=list)
    by_document: dict[str, Tally] = Field(default_factory=dict)  # name -> acknowledged of its audience
    no_documents: int = 0  # in scope, no document for them: not invited, not in the figures
    questions: list[QuestionFigures] = Field(default_factory=list)  # per question, in document order


class CampaignResult(BaseModel):
    register_csv: StoredObject
    register_json: StoredObject
    report: StoredObject  # HTML
    report_markdown: StoredObject
    tally: Tally
    by_department: dict[str, Tally] = Field(default_factory=dict)
    target_met: bool = False  # the rate reached RATE_TARGET
    invited: int = 0  # people sent an invitation, leavers included
    joined: int = 0
    left: int = 0
    by_document: dict[str, Tally] = Field(default_factory=dict)  # name -> acknowledged of its audience


class CampaignMailRecipient(BaseModel):
    """One email of a campaign step: the key names it for good (cycle, purpose, person, step)."""

    key: str
    to: str
    context: dict[str, str | int | list[str]] = Field(default_factory=dict)
    link_for: str | None = None  # mint a staff link for this person
    # which email of the person's carries the link (LinkClaims.sequence): 0 the invitation, then
    # one more for each later email with a link; recipients from before it existed read as 0
    link_sequence: int = Field(0, ge=0)


class CampaignMailInput(BaseModel):
    batch_id: str  # markers live under this batch's prefix; staff links name this batch
    template: str
    context: dict[str, str | int | list[str]] = Field(default_factory=dict)  # shared by every email
    recipients: list[CampaignMailRecipient]
    version_hash: str | None = None  # for staff links


class CampaignMailResult(BaseModel):
    """The keys the server accepted: only these may be recorded as sent (invited_at, ...)."""

    sent_at: dict[str, datetime]  # key -> when the server accepted it (now, or in an earlier attempt)
    newly_sent: int
    refused: list[str] = Field(default_factory=list)  # keys whose recipient the server refused
    # sent again after an attempt that reached the final dot unconfirmed: maybe a repeat
    resent: list[str] = Field(default_factory=list)


class FreezeInput(BaseModel):
    cycle_id: str
    staff: StoredObject
    as_of: date  # in scope and employed on this day (the day of signature)
    batch_size: int
    # the signed version's audiences (SignedVersion.audiences): None, everyone gets every document
    audiences: dict[str, Audience] | None = None
    by_reference: bool = False  # the list of batches in S3, its count and reference returned


class PlanChangeInput(BaseModel):
    cycle_id: str
    index: StoredObject
    change: StaffChange
    joined: dict[str, int]  # joiners added earlier in this campaign: email (casefold) -> batch
    left: list[str]  # people who left earlier in this campaign (casefold)
    as_of: date
    audiences: dict[str, Audience] | None = None  # as in FreezeInput: which documents a joiner gets


class StoreRecordsInput(BaseModel):
    cycle_id: str
    batch: int
    records: list[PersonRecord]


class CloseInput(BaseModel):
    cycle_id: str
    organisation: str
    signed: SignedVersion
    cycle_started_at: datetime
    signed_at: datetime
    campaign_started_at: datetime
    closed_at: datetime
    batches: list[StoredObject] = Field(default_factory=list)  # each batch's records
    no_documents: int = 0  # in scope, no document for them: not invited (for the report)
    # instead of ``batches``: batches 1 to ``batch_count`` each store their records under their
    # number at their own close (``store_batch_records``), and the close waits for every one
    batch_count: int = 0


class AckPage(BaseModel):
    """What the acknowledgement page shows for one person (the batch's ``page`` query)."""

    organisation: str
    version: str
    version_hash: str
    documents: dict[str, str]
    pdfs: dict[str, StoredObject]
    deadline: datetime
    lead_name: str
    closed: bool
    person: PersonRecord | None
    # ``documents`` and ``pdfs`` hold only the person's documents; these describe them
    titles: dict[str, str] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    withheld: list[str] = Field(default_factory=list)  # the version's documents not for this person
    statement: str = ACKNOWLEDGEMENT_TEXT
    # the sequence of the newest link sent to this person and recorded (LinkClaims.sequence): a
    # link with a lower one is from an earlier email and no longer works (0: none recorded yet)
    newest_link: int = 0
    # the person's documents' questions, right answers included: for the web app to check a try;
    # the page shows the questions and choices only
    questions: dict[str, list[Question]] = Field(default_factory=dict)


def wrong_answers(questions: dict[str, list[Question]], answers: dict[str, list[int]]) -> list[str]:
    """The questions ``answers`` gets wrong or leaves out, as ``"<document name>#<number>"``
    (1 for a document's first question), in the documents' order; answers to a document
    without questions, or beyond its questions, count as wrong too (``"<name>#extra"``)."""
    wrong: list[str] = []
    for name, asked in questions.items():
        given = answers.get(name, [])
        wrong += [
            f"{name}#{number}"
            for number, question in enumerate(asked, start=1)
            if number > len(given) or given[number - 1] != question.correct
        ]
        if len(given) > len(asked):
            wrong.append(f"{name}#extra")
    wrong += [f"{name}#extra" for name, given in answers.items() if name not in questions and given]
    return wrong


def signed_version_hash(documents: dict[str, str]) -> str:
    """One SHA-256 naming a signed version: over each document's name and sealed-PDF hash."""
    lines = "".join(f"{name}\t{digest}\n" for name, digest in sorted(documents.items()))
    return hashlib.sha256(lines.encode()).hexdigest()
