"""The organisation profile: what the policy (Clause 5.2) and the roles document (Clause 5.3) say.

Loaded from YAML by :mod:`core.profile_io`; checked against Clause 5 by :mod:`core.clause5`.
The models accept anything well-formed; the Clause 5 rules (holders, RACI, segregation of
duties, review dates) are findings, not parse errors, so one run reports all of them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _slug(value: str) -> str:
    if not _SLUG_RE.match(value):
        raise ValueError("must be lowercase letters, digits and hyphens, starting with a letter or digit")
    return value


def _days_or_duration(value: object) -> object:
    # a bare number in the profile means days; ISO 8601 ("PT5M") allows the demo's minutes
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return timedelta(days=value)
        except (OverflowError, ValueError):  # 1e10 days, .inf, .nan
            raise ValueError(f"{value} is not a usable number of days") from None
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Duration = Annotated[timedelta, BeforeValidator(_days_or_duration), AfterValidator(_positive)]
Text = Annotated[str, Field(min_length=1)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Organisation(StrictModel):
    name: Text
    short_name: Slug = Field(description="used in cycle ids and archive keys, e.g. 'brightwave'")
    purpose: Text
    address: str | None = None


class Commitments(StrictModel):
    applicable_requirements: list[Text] = Field(
        default_factory=list, description="laws, regulations and contracts the policy commits to satisfy"
    )
    continual_improvement: str | None = Field(
        None, description="the commitment to continually improve the ISMS, in the policy's words"
    )
    statements: list[Text] = Field(default_factory=list)


class Objective(StrictModel):
    objective: Text
    measure: Text
    target: Text
    owner: Slug  # a role id


class SubPolicy(StrictModel):
    title: Text
    reference: Text
    owner: Slug  # a role id


class VersionEntry(StrictModel):
    version: Text
    date: date
    author: Text
    summary: Text


class Policy(StrictModel):
    title: Text = "Information Security Policy"
    version: Text
    effective_date: date
    review_due: date
    owner: Slug  # the role that maintains the policy, usually the ISMS lead
    approved_by: Slug  # the role that signs it: top management
    ceo_statement: Text
    commitments: Commitments
    objectives: list[Objective] = Field(default_factory=list)
    objectives_framework: str | None = Field(
        None, description="how objectives are set and measured, where they are not listed"
    )
    sub_policies: list[SubPolicy] = Field(default_factory=list)
    version_history: list[VersionEntry] = Field(default_factory=list)


class RoleKind(StrEnum):
    TOP_MANAGEMENT = "top_management"
    ISMS_LEAD = "isms_lead"
    INTERNAL_AUDITOR = "internal_auditor"
    RISK_OWNER = "risk_owner"
    DEPARTMENTAL_CONTACT = "departmental_contact"
    GROUP = "group"  # e.g. "All staff": a column of the RACI matrix held by nobody in particular
    OTHER = "other"


class MandatoryResponsibility(StrEnum):
    """The two responsibilities Clause 5.3 requires top management to assign."""

    CONFORMANCE = "conformance"  # 5.3 a) ensuring the ISMS conforms to ISO/IEC 27001
    PERFORMANCE_REPORTING = "performance_reporting"  # 5.3 b) reporting ISMS performance to top management


MANDATORY_WORDING: dict[MandatoryResponsibility, str] = {
    MandatoryResponsibility.CONFORMANCE: (
        "Ensuring that the information security management system conforms to the requirements "
        "of ISO/IEC 27001 (Clause 5.3 a)"
    ),
    MandatoryResponsibility.PERFORMANCE_REPORTING: (
        "Reporting on the performance of the information security management system to top "
        "management (Clause 5.3 b)"
    ),
}


class Role(StrictModel):
    id: Slug
    title: Text
    kind: RoleKind = RoleKind.OTHER
    holder: str | None = Field(None, description="email or employee id in the staff directory")
    deputy: str | None = None
    reports_to: Slug | None = None  # a role id
    department: str | None = Field(None, description="the area this role owns or speaks for")
    responsibilities: list[Text] = Field(default_factory=list)
    authorities: list[Text] = Field(default_factory=list)
    mandatory_responsibilities: list[MandatoryResponsibility] = Field(default_factory=list)
    audits: list[Text] = Field(
        default_factory=list, description="for an internal auditor: the departments they audit"
    )


class RaciLetter(StrEnum):
    R = "R"
    A = "A"
    C = "C"
    I = "I"  # noqa: E741 (the letter of the RACI matrix)


class RaciActivity(StrictModel):
    activity: Text
    assignments: dict[str, RaciLetter]  # role id -> letter


class ConflictingDuties(StrictModel):
    """A pair of RACI activities one person must not both approve and implement."""

    approve: Text  # the approval activity: its Accountable and Responsible roles approve
    implement: Text  # the activity whose Responsible roles carry it out
    reason: Text


class SignatureSchedule(StrictModel):
    """When the CEO is reminded and who is told if the signature does not come.

    Numbers are days; ISO 8601 durations (``PT10M``) are accepted too. Every delay counts
    from the moment the version is sent for signature.
    """

    reminders: list[Duration] = Field(default_factory=lambda: [timedelta(days=3), timedelta(days=7)])
    escalate_after: Duration = timedelta(days=10)
    escalate_to: list[str] = Field(
        default_factory=list, description="besides the ISMS lead: e.g. the board chair (email or employee id)"
    )
    overdue_after: Duration = timedelta(days=14)


class AcknowledgementSchedule(StrictModel):
    """The ladder that chases people who have not acknowledged the signed documents.

    Numbers are days; ISO 8601 durations (``PT10M``) are accepted too. Reminders and the
    manager digest count from each person's invitation; the summary to the ISMS lead and the
    CEO and the close count from the start of the campaign (the moment of signature).
    """

    reminders: list[Duration] = Field(default_factory=lambda: [timedelta(days=5), timedelta(days=10)])
    manager_digest_after: Duration = timedelta(days=14)
    summary_after: Duration = timedelta(days=21)
    close_after: Duration = Field(timedelta(days=28), description="the deadline: the campaign closes")

    @model_validator(mode="after")
    def _steps_before_close(self) -> AcknowledgementSchedule:
        steps = [("reminders", r) for r in self.reminders]
        steps += [("manager_digest_after", self.manager_digest_after), ("summary_after", self.summary_after)]
        for name, delay in steps:
            if delay >= self.close_after:
                raise ValueError(
                    f"{name} ({delay}) must come before close_after ({self.close_after}), "
                    "or it would never happen"
                )
        return self


class RoleAcceptanceSchedule(StrictModel):
    """Each named role holder and deputy accepts their own role once the CEO has signed.

    Separate from the all-staff acknowledgement: every holder and deputy (except the signer,
    whose signature is their acceptance) gets a request naming their roles, with their
    responsibilities, authorities and reporting line; the ISMS lead's also carries the
    appointment letter the CEO signed with the version. Numbers are days; ISO 8601 durations
    (``PT10M``) are accepted too; every delay counts from the moment of signature.
    """

    enabled: bool = Field(True, description="false: no role acceptance (and no appointment letter)")
    appointment_letter: bool = Field(
        True, description="the CEO signs an appointment letter for the ISMS lead with the version"
    )
    reminders: list[Duration] = Field(default_factory=lambda: [timedelta(days=3), timedelta(days=7)])
    escalate_after: Duration = Field(
        timedelta(days=10), description="who has not accepted by then is named to the CEO and the ISMS lead"
    )
    close_after: Duration = Field(timedelta(days=28), description="the deadline: the register is closed")

    @model_validator(mode="after")
    def _steps_before_close(self) -> RoleAcceptanceSchedule:
        steps = [("reminders", r) for r in self.reminders] + [("escalate_after", self.escalate_after)]
        for name, delay in steps:
            if delay >= self.close_after:
                raise ValueError(
                    f"{name} ({delay}) must come before close_after ({self.close_after}), "
                    "or it would never happen"
                )
        return self


class PublicStatement(StrictModel):
    """An optional public policy statement (Clause 5 evidence item 5: external availability).

    Published after signature at the web app's stable public URL ``/statement`` (no token,
    read-only, cacheable), with the signed version and date, and archived with that URL and its
    SHA-256. Built from the profile (``summary``, or the organisation's purpose and the CEO's
    statement), or the PDF the organisation supplies (``file``, relative to the profile).
    """

    enabled: bool = False
    summary: Text | None = Field(None, description="the statement's text (default: built from the policy)")
    file: Text | None = Field(None, description="a PDF to publish instead of the generated page")
    sha256: str | None = Field(None, description="pin the file's SHA-256; a changed file is refused")

    @model_validator(mode="after")
    def _one_source(self) -> PublicStatement:
        if self.file is not None and self.summary is not None:
            raise ValueError("public_statement: give summary: (a generated page) or file: (a PDF), not both")
        if self.file is not None and not self.file.lower().endswith(".pdf"):
            raise ValueError(f"public_statement.file: must be a .pdf (got {self.file!r})")
        if self.sha256 is not None and (self.file is None or not _SHA256_RE.match(self.sha256.lower())):
            raise ValueError("public_statement.sha256: pins file: and must be 64 hexadecimal digits")
        return self


POLICY_DOCUMENT = "information-security-policy"  # Clause 5.2
ROLES_DOCUMENT = "isms-roles-responsibilities"  # Clause 5.3
REQUIRED_DOCUMENTS = (POLICY_DOCUMENT, ROLES_DOCUMENT)
# the CEO's letter appointing the ISMS lead (Clause 5.3; evidence item 6), signed with the version
# while role acceptance is on; generated from a built-in template an entry of this id may replace
APPOINTMENT_LETTER = "isms-lead-appointment"
APPOINTMENT_LETTER_TITLE = "Appointment of the ISMS lead"
BUILT_IN_DOCUMENTS = (*REQUIRED_DOCUMENTS, APPOINTMENT_LETTER)
STATIC_SUFFIXES = (".docx", ".pdf")


class DocumentKind(StrEnum):
    GENERATED = "generated"  # a docxtpl .docx template rendered with the profile's context
    STATIC = "static"  # a finished .docx or .pdf, carried through the cycle unchanged


class Audience(StrictModel):
    """Who in scope gets a document: everyone, or anyone any of the selectors picks.

    Names are matched case-insensitively against the staff directory: ``departments`` and
    ``job_titles`` against those columns, ``people`` against email or employee id, and
    ``columns`` against any column of the HR export (``{"location": ["London"]}``).
    """

    departments: list[Text] = Field(default_factory=list)
    job_titles: list[Text] = Field(default_factory=list)
    people: list[Text] = Field(default_factory=list, description="email or employee id")
    columns: dict[Text, list[Text]] = Field(
        default_factory=dict, description="HR export column -> the values that select a person"
    )

    @property
    def everyone(self) -> bool:
        return not (self.departments or self.job_titles or self.people or self.columns)

    def describe(self) -> str:
        """The audience in a few words, for pages, emails and the CLI."""
        if self.everyone:
            return "everyone in scope"
        parts = []
        if self.departments:
            parts.append(", ".join(self.departments))
        if self.job_titles:
            parts.append("job titles " + ", ".join(self.job_titles))
        if self.people:
            parts.append(f"{len(self.people)} named " + ("person" if len(self.people) == 1 else "people"))
        parts += [f"{column} = {' or '.join(values)}" for column, values in self.columns.items()]
        return "; ".join(parts)


MAX_QUESTIONS = 5  # per document: a short check of comprehension, not an exam
MIN_CHOICES, MAX_CHOICES = 2, 6


class Question(StrictModel):
    """One multiple-choice question staff answer before they acknowledge a document.

    ``correct`` is the index of the right one of ``choices``, counting from 0 (the first
    choice is 0), so the profile says which answer is right in one number.
    """

    question: Text
    choices: list[Text] = Field(min_length=MIN_CHOICES, max_length=MAX_CHOICES)
    correct: int = Field(description="the index of the right choice, counting from 0")

    @model_validator(mode="after")
    def _one_right_choice(self) -> Question:
        if not 0 <= self.correct < len(self.choices):
            raise ValueError(
                f"correct: must be the index of one of the {len(self.choices)} choices, counting "
                f"from 0 (0 to {len(self.choices) - 1}); got {self.correct}"
            )
        seen: set[str] = set()
        for choice in self.choices:
            if choice.casefold() in seen:
                raise ValueError(f"choices: {choice!r} is listed twice; each choice must differ")
            seen.add(choice.casefold())
        return self


class DocumentEntry(StrictModel):
    """One document of the cycle, as the profile's ``documents`` section names it.

    File paths are relative to the profile file. The two documents Clause 5 requires
    (:data:`REQUIRED_DOCUMENTS`) are always part of the cycle: an entry for either only changes
    its template, title or audience.
    """

    id: Slug
    title: Text | None = Field(None, description="required except for the two built-in documents")
    kind: DocumentKind = DocumentKind.GENERATED
    template: Text | None = Field(None, description="generated: the .docx template (default: built-in)")
    file: Text | None = Field(None, description="static: the finished .docx or .pdf")
    sha256: str | None = Field(None, description="static: pin the file's SHA-256; a changed file is refused")
    version: Text | None = Field(
        None, description="default: the policy's version (generated) or the file's SHA-256 (static)"
    )
    audience: Audience = Field(default_factory=Audience)
    signs: bool = Field(True, description="the CEO signs it")
    acknowledges: bool = Field(True, description="staff in its audience acknowledge it")
    questions: list[Question] = Field(
        default_factory=list,
        max_length=MAX_QUESTIONS,
        description="up to five multiple-choice questions staff answer before acknowledging it",
    )

    @model_validator(mode="after")
    def _questions_asked(self) -> DocumentEntry:
        if self.questions and not self.acknowledges:
            raise ValueError(
                f"{self.id}: questions: are asked when staff acknowledge the document, and "
                "acknowledges: is false; remove the questions or acknowledge it"
            )
        return self

    @model_validator(mode="after")
    def _kind_fits(self) -> DocumentEntry:
        builtin = self.id in BUILT_IN_DOCUMENTS
        if self.kind is DocumentKind.GENERATED:
            if self.file is not None:
                raise ValueError("a generated document takes a template:, not a file: (or set kind: static)")
            if self.sha256 is not None:
                raise ValueError(
                    "sha256: pins a static file; a generated document is versioned by the policy"
                )
            if self.template is None and not builtin:
                raise ValueError(f"{self.id}: a generated document needs template: (a .docx file)")
            if self.template is not None and not self.template.lower().endswith(".docx"):
                raise ValueError(f"template: must be a .docx file (got {self.template!r})")
        else:
            if self.id in REQUIRED_DOCUMENTS:
                raise ValueError(f"{self.id} is generated from the profile; it cannot be static")
            if self.template is not None:
                raise ValueError("a static document takes a file:, not a template:")
            if self.file is None:
                raise ValueError(f"{self.id}: a static document needs file: (a .docx or .pdf)")
            if not self.file.lower().endswith(STATIC_SUFFIXES):
                raise ValueError(f"file: must be a .docx or .pdf (got {self.file!r})")
            if self.sha256 is not None and not _SHA256_RE.match(self.sha256.lower()):
                raise ValueError("sha256: must be 64 hexadecimal digits")
        if self.title is None and not builtin:
            raise ValueError(f"{self.id}: title: is required")
        return self

    @property
    def source(self) -> str | None:
        """The file this entry names (template or static file), or None for a built-in template."""
        return self.template if self.kind is DocumentKind.GENERATED else self.file

    @property
    def name(self) -> str:
        """The document's file name through the cycle: ``<id>.docx``, or ``<id>.pdf`` for a static PDF."""
        if self.kind is DocumentKind.STATIC and self.file is not None and self.file.lower().endswith(".pdf"):
            return f"{self.id}.pdf"
        return f"{self.id}.docx"


class OrganisationProfile(StrictModel):
    organisation: Organisation
    isms_scope: Text
    policy: Policy
    roles: list[Role]
    raci: list[RaciActivity]
    conflicting_duties: list[ConflictingDuties] = Field(default_factory=list)
    signature_schedule: SignatureSchedule = Field(default_factory=SignatureSchedule)
    acknowledgement_schedule: AcknowledgementSchedule = Field(default_factory=AcknowledgementSchedule)
    role_acceptance: RoleAcceptanceSchedule = Field(default_factory=RoleAcceptanceSchedule)
    public_statement: PublicStatement = Field(default_factory=PublicStatement)
    documents: list[DocumentEntry] = Field(
        default_factory=list,
        description="the cycle's documents; without it, the built-in policy and roles documents",
    )

    @model_validator(mode="after")
    def _unique_documents(self) -> OrganisationProfile:
        seen: set[str] = set()
        for entry in self.documents:
            if entry.id in seen:
                raise ValueError(f"documents: two documents have the id {entry.id!r}; give each its own id")
            seen.add(entry.id)
            if entry.id == APPOINTMENT_LETTER and not self.has_appointment_letter:
                raise ValueError(
                    f"documents: {APPOINTMENT_LETTER} is listed, but the appointment letter is off "
                    "(role_acceptance: enabled: false or appointment_letter: false); remove the entry "
                    "or turn the letter on"
                )
        return self

    @property
    def has_appointment_letter(self) -> bool:
        """Whether the CEO signs the ISMS lead's appointment letter with the version."""
        schedule = self.role_acceptance
        return schedule.enabled and schedule.appointment_letter

    def cycle_documents(self) -> list[DocumentEntry]:
        """Every document of the cycle: the policy, the roles document, the ISMS lead's appointment
        letter (while role acceptance is on), then the others as listed.

        The built-in documents come first, each as its entry says or on the built-in template,
        so they keep their place whether or not the profile lists them. The letter is signed,
        and accepted by the ISMS lead rather than acknowledged by staff: an entry for it that
        does not say ``acknowledges:`` is not acknowledged.
        """
        listed = {entry.id: entry for entry in self.documents}
        required = [listed.get(doc_id) or DocumentEntry(id=doc_id) for doc_id in REQUIRED_DOCUMENTS]
        if self.has_appointment_letter:
            letter = listed.get(APPOINTMENT_LETTER) or DocumentEntry(
                id=APPOINTMENT_LETTER, title=APPOINTMENT_LETTER_TITLE, acknowledges=False
            )
            if "acknowledges" not in letter.model_fields_set:
                letter = letter.model_copy(update={"acknowledges": False})
            required.append(letter)
        return [*required, *(entry for entry in self.documents if entry.id not in BUILT_IN_DOCUMENTS)]

    def role(self, role_id: str) -> Role | None:
        return next((role for role in self.roles if role.id == role_id), None)
