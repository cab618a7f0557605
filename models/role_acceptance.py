"""Role acceptance: each named role holder and deputy accepts their own role after the signature.

Clause 5.3 checklist row 2 ("signed appointment letters ... HR records of role acceptance") and
evidence item 6 ("a formal record designating the individual responsible for the ISMS"). After
the CEO signs, ``RoleAcceptanceWorkflow`` (one per cycle, a child of the annual review, beside
the all-staff campaign) asks every person who holds or deputises a role of the profile (except
the signer, whose signature is their acceptance) to accept their roles: each role's
responsibilities, authorities and reporting line, and for the ISMS lead the appointment letter
signed with the version. Its own ladder: reminders to the person, then the people who have not
accepted are named to the CEO and the ISMS lead; at the deadline the register is closed.

The archive keeps the register beside the acknowledgements (``role-acceptance/v<version>/``
in the acknowledgements' manifest).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, Field

from models.routing import Person, RoleLadder
from models.storage import StoredObject

# the statement a holder confirms, recorded with each acceptance
ROLE_ACCEPTANCE_TEXT: Final = (
    "I accept the role(s) above, with the responsibilities and authorities they carry and the "
    "reporting line they name, as set out in the signed version."
)
# archive names, below <org>/<year>/ (in the acknowledgements' manifest)
ROLE_ACCEPTANCE_FOLDER: Final = "role-acceptance"  # role-acceptance/v<version>/register.csv ...
ROLE_REGISTER_CSV: Final = "register.csv"
ROLE_REGISTER_JSON: Final = "register.json"
ROLE_REPORT_HTML: Final = "report.html"
# the web app's page for one person's request: <public_base_url>/role/<token>
ROLE_LINK_PATH: Final = "role"
MAX_COMMENT: Final = 2000  # characters of a reason for declining


def role_acceptance_id_for(cycle_id: str) -> str:
    """The role acceptance workflow's id: one per cycle."""
    return f"{cycle_id}-roles"


class Capacity(StrEnum):
    HOLDER = "holder"
    DEPUTY = "deputy"


class RoleAssignment(BaseModel):
    """One role a person is asked to accept, as the signed version sets it out."""

    role_id: str
    title: str
    capacity: Capacity
    department: str | None = None
    reports_to: str | None = None  # the title of the role it reports to (None: the top)
    reports_to_holder: str | None = None  # that role's holder's name, where there is one
    responsibilities: list[str] = Field(default_factory=list)
    authorities: list[str] = Field(default_factory=list)

    @property
    def described(self) -> str:
        """``ISMS Manager (deputy)`` or ``Risk Owner``."""
        return f"{self.title} (deputy)" if self.capacity is Capacity.DEPUTY else self.title


class AppointmentLetter(BaseModel):
    """The signed appointment letter the ISMS lead accepts with their role."""

    name: str  # the document's file name through the cycle, e.g. isms-lead-appointment.docx
    title: str
    sha256: str  # of its sealed PDF
    pdf: StoredObject


class RoleHolder(BaseModel):
    """One person asked to accept: every role they hold or deputise, in the profile's order."""

    email: str
    name: str
    department: str = ""
    assignments: list[RoleAssignment] = Field(min_length=1)
    lead: bool = False  # the ISMS lead: their request carries the appointment letter


class RolePlanInput(BaseModel):
    """What ``plan_role_acceptance`` reads: the signed version's profile and staff directory."""

    cycle_id: str
    profile: StoredObject
    staff: StoredObject
    signer_email: str  # left out: their signature is their acceptance


class RoleAcceptanceInput(BaseModel):
    cycle_id: str
    organisation: str
    version: str
    version_hash: str  # the signed version (models.campaign.SignedVersion.version_hash)
    profile: StoredObject
    staff: StoredObject
    signer: Person
    lead: Person
    ladder: RoleLadder = Field(default_factory=RoleLadder)
    signed_at: datetime  # every delay of the ladder counts from here
    letter: AppointmentLetter | None = None  # None: the profile has no appointment letter


class RoleAnswerKind(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"  # recorded with the reason; the CEO and the ISMS lead are told at once


class RoleAnswer(BaseModel):
    """The ``answer_role`` Update: a person accepts (or declines) the roles their page showed."""

    person: str  # the link's addressee
    version_hash: str  # the version the link was for
    link_id: str
    link_sequence: int = 0  # only the newest link sent to the person works
    kind: RoleAnswerKind = RoleAnswerKind.ACCEPT
    roles: list[str] = Field(default_factory=list)  # the role ids shown on the page ("<id>:<capacity>")
    letter_sha256: str | None = None  # the appointment letter's hash shown (the ISMS lead's page)
    comment: str = Field("", max_length=MAX_COMMENT)  # a decline's reason
    ip: str | None = None
    user_agent: str | None = None
    proof: str = ""  # core.proof: the worker refuses an update without a valid one


class RoleRecord(BaseModel):
    """One line of the role acceptance register (one person, all their roles)."""

    email: str
    name: str
    department: str = ""
    assignments: list[RoleAssignment]
    lead: bool = False
    invited_at: datetime | None = None
    reminded_at: list[datetime] = Field(default_factory=list)
    escalated_at: datetime | None = None  # named to the CEO and the ISMS lead
    accepted_at: datetime | None = None
    declined_at: datetime | None = None  # the latest decline (a later acceptance still counts)
    decline_comment: str = ""
    ip: str | None = None
    user_agent: str | None = None
    version_hash: str | None = None  # of the version accepted
    letter_sha256: str | None = None  # the appointment letter accepted (the ISMS lead)
    statement: str = ""  # what they confirmed (ROLE_ACCEPTANCE_TEXT)


class RoleReceipt(BaseModel):
    """What the page shows once an answer is recorded."""

    organisation: str
    person: str
    name: str
    kind: RoleAnswerKind
    at: datetime
    version: str
    version_hash: str
    assignments: list[RoleAssignment]
    letter_sha256: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    statement: str = ROLE_ACCEPTANCE_TEXT
    already: bool = False  # an earlier request had recorded it


class RolePage(BaseModel):
    """The ``role_page`` query: what one person's page shows (None: not asked in this cycle)."""

    organisation: str
    person: str
    name: str
    version: str
    version_hash: str
    signer_name: str
    signer_title: str = ""
    signed_at: datetime
    deadline: datetime
    assignments: list[RoleAssignment]
    letter: AppointmentLetter | None = None  # the ISMS lead's page only
    accepted: RoleReceipt | None = None
    declined_at: datetime | None = None
    decline_comment: str = ""
    newest_link: int = 0  # the sequence of the newest link recorded as sent to the person
    closed: bool = False


class RoleTally(BaseModel):
    total: int = 0
    accepted: int = 0
    declined: int = 0  # declined and not accepted since
    outstanding: int = 0  # neither
    escalated: int = 0  # named to the CEO and the ISMS lead, not accepted

    @property
    def rate_text(self) -> str:
        """``3 of 4 accepted``."""
        return f"{self.accepted} of {self.total} accepted"


class RoleAcceptanceState(BaseModel):
    """The ``role_state`` query: the dashboard's figures and lines."""

    cycle_id: str
    version: str
    started_at: datetime
    deadline: datetime
    closed: bool = False
    tally: RoleTally = Field(default_factory=RoleTally)
    records: list[RoleRecord] = Field(default_factory=list)


class RoleRegisterInput(BaseModel):
    """``close_role_acceptance``: write the register and the report (drafts bucket) at the deadline."""

    cycle_id: str
    organisation: str
    version: str
    version_hash: str
    signer: Person
    lead: Person
    signed_at: datetime
    closed_at: datetime
    records: list[RoleRecord]


class RoleAcceptanceResult(BaseModel):
    register_csv: StoredObject
    register_json: StoredObject
    report: StoredObject  # report.html
    tally: RoleTally
