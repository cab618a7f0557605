"""What the Clause 5 documents say: one context model per template, and its builder.

A context is built from the organisation profile and the staff directory; people are resolved
to "Name, Job title" through the directory, and an empty field shows as an em dash::

    context = build_policy_context(profile, staff, signature_line="Awaiting signature")
    render_docx(POLICY_TEMPLATE, context, Path("out/information-security-policy.docx"))

The templates (``doc_templates/build_templates.py``) use exactly the fields declared here; a
test per template asserts that no placeholder is left undeclared.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from models.profile import (
    APPOINTMENT_LETTER_TITLE,
    MANDATORY_WORDING,
    MandatoryResponsibility,
    OrganisationProfile,
    Role,
    RoleKind,
)
from models.staff import StaffDirectory

CLASSIFICATION = "Internal"
NOT_ASSIGNED = "Not assigned"
NONE_TEXT = "\u2014"  # an em dash for an empty field
AWAITING_SIGNATURE = "Awaiting signature"
ROLES_TITLE = "ISMS Roles and Responsibilities"
NO_DEPUTY = "No deputy is named"


def format_date(value: date) -> str:
    """``2026-12-01`` -> ``1 December 2026`` (the form a reader expects in a policy)."""
    return f"{value.day} {value.strftime('%B %Y')}"


# --------------------------------------------------------------------------------------------
# Context models


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class ObjectiveRow(_Row):
    objective: str
    measure: str
    target: str
    owner: str  # the owner role's title


class SubPolicyRow(_Row):
    title: str
    reference: str
    owner: str


class RoleSummaryRow(_Row):
    title: str
    holder: str


class MandatoryAssignment(_Row):
    wording: str
    holders: str  # "Ravi Chandran, ISMS Lead", or "Not assigned"


class VersionRow(_Row):
    version: str
    date: str
    author: str
    summary: str


class RoleDetail(_Row):
    number: str
    id: str
    title: str
    holder: str  # "Name, Job title" or the raw reference
    deputy: str
    reports_to: str
    department: str
    responsibilities: list[str]
    authorities: list[str]
    mandatory_wording: list[str]
    audits: str


class ConflictRow(_Row):
    approve: str
    implement: str
    reason: str
    status: str


class DocumentContext(BaseModel):
    """What both documents share: the title block, header, footer and approval block."""

    model_config = ConfigDict(frozen=True)
    SUBDOC_NAMES: ClassVar[tuple[str, ...]] = ()

    organisation_name: str
    document_title: str
    version: str
    effective_date: str
    classification: str = CLASSIFICATION
    owner_title: str
    approver_name: str
    approver_title: str
    signature_line: str
    approval_date: str
    scope: str
    mandatory: list[MandatoryAssignment]


class PolicyContext(DocumentContext):
    review_due: str
    ceo_statement: str
    ceo_name: str
    ceo_title: str
    purpose: str
    applicable_requirements: list[str]
    continual_improvement: str
    statements: list[str]
    objectives: list[ObjectiveRow]
    objectives_framework: str
    sub_policies: list[SubPolicyRow]
    roles: list[RoleSummaryRow]
    version_history: list[VersionRow]


class RolesContext(DocumentContext):
    SUBDOC_NAMES: ClassVar[tuple[str, ...]] = ("raci_table",)

    roles: list[RoleDetail]
    conflicts: list[ConflictRow]
    auditor_independence: list[str]


class AppointmentContext(DocumentContext):
    """The ISMS lead's appointment letter (``isms-lead-appointment``), signed by top management.

    The lead is the holder of the profile's ``isms_lead`` role; the approver (``approver_name``,
    ``approver_title``) signs it with the version, in the same signature as the other documents.
    """

    lead_name: str
    lead_job_title: str
    lead_email: str
    lead_department: str  # the lead's department in the staff directory
    role_title: str  # the ISMS lead role's title
    role_department: str  # the area the role owns (the profile's ``department``)
    reports_to: str  # the title of the role the ISMS lead reports to
    reports_to_name: str  # that role's holder
    mandatory_wording: list[str]  # the Clause 5.3 responsibilities the role carries
    responsibilities: list[str]
    authorities: list[str]
    has_deputy: bool
    deputy_name: str  # "No deputy is named" without one
    deputy_job_title: str
    deputy_email: str


# --------------------------------------------------------------------------------------------
# Resolving people


class _People:
    def __init__(self, profile: OrganisationProfile, staff: StaffDirectory) -> None:
        self.profile = profile
        self.staff = staff

    def name(self, reference: str | None) -> str:
        if not reference:
            return NOT_ASSIGNED
        person = self.staff.find(reference)
        return person.name if person else reference

    def name_and_title(self, reference: str | None) -> str:
        if not reference:
            return NOT_ASSIGNED
        person = self.staff.find(reference)
        if person is None:
            return reference
        return f"{person.name}, {person.job_title}" if person.job_title else person.name

    def job_title(self, role: Role | None) -> str:
        if role is None:
            return NOT_ASSIGNED
        person = self.staff.find(role.holder) if role.holder else None
        return person.job_title if person and person.job_title else role.title

    def role_title(self, role_id: str | None) -> str:
        if not role_id:
            return NONE_TEXT
        role = self.profile.role(role_id)
        return role.title if role else role_id

    def role_holder(self, role: Role) -> str:
        if role.kind is RoleKind.GROUP and not role.holder:
            return "Everyone in scope"
        return self.name(role.holder)

    def key(self, role: Role) -> str:
        """Who holds the role, for comparing people across roles."""
        if not role.holder:
            return f"role:{role.id}"
        person = self.staff.find(role.holder)
        return person.email.lower() if person else role.holder.strip().lower()


def _top_management(profile: OrganisationProfile) -> Role | None:
    return profile.role(profile.policy.approved_by) or next(
        (role for role in profile.roles if role.kind is RoleKind.TOP_MANAGEMENT), None
    )


def _mandatory(profile: OrganisationProfile, people: _People) -> list[MandatoryAssignment]:
    rows = []
    for responsibility in MandatoryResponsibility:
        holders = [
            f"{people.role_holder(role)}, {role.title}"
            for role in profile.roles
            if responsibility in role.mandatory_responsibilities
        ]
        rows.append(
            MandatoryAssignment(
                wording=MANDATORY_WORDING[responsibility], holders="; ".join(holders) or NOT_ASSIGNED
            )
        )
    return rows


def _common(
    profile: OrganisationProfile,
    people: _People,
    *,
    document_title: str,
    signature_line: str,
    approval_date: date | None,
) -> dict[str, Any]:
    approver = _top_management(profile)
    return {
        "organisation_name": profile.organisation.name,
        "document_title": document_title,
        "version": profile.policy.version,
        "effective_date": format_date(profile.policy.effective_date),
        "owner_title": people.role_title(profile.policy.owner),
        "approver_name": people.name(approver.holder if approver else None),
        "approver_title": people.job_title(approver),
        "signature_line": signature_line,
        "approval_date": format_date(approval_date) if approval_date else NONE_TEXT,
        "scope": profile.isms_scope,
        "mandatory": _mandatory(profile, people),
    }


def build_policy_context(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    signature_line: str = AWAITING_SIGNATURE,
    approval_date: date | None = None,
) -> PolicyContext:
    people = _People(profile, staff)
    policy = profile.policy
    ceo = _top_management(profile)
    return PolicyContext(
        **_common(
            profile,
            people,
            document_title=policy.title,
            signature_line=signature_line,
            approval_date=approval_date,
        ),
        review_due=format_date(policy.review_due),
        ceo_statement=policy.ceo_statement,
        ceo_name=people.name(ceo.holder if ceo else None),
        ceo_title=people.job_title(ceo),
        purpose=profile.organisation.purpose,
        applicable_requirements=list(policy.commitments.applicable_requirements),
        continual_improvement=policy.commitments.continual_improvement or NONE_TEXT,
        statements=list(policy.commitments.statements),
        objectives=[
            ObjectiveRow(
                objective=objective.objective,
                measure=objective.measure,
                target=objective.target,
                owner=people.role_title(objective.owner),
            )
            for objective in policy.objectives
        ],
        objectives_framework=policy.objectives_framework or "",
        sub_policies=[
            SubPolicyRow(title=sub.title, reference=sub.reference, owner=people.role_title(sub.owner))
            for sub in policy.sub_policies
        ],
        roles=[RoleSummaryRow(title=role.title, holder=people.role_holder(role)) for role in profile.roles],
        version_history=[
            VersionRow(
                version=entry.version,
                date=format_date(entry.date),
                author=entry.author,
                summary=entry.summary,
            )
            for entry in policy.version_history
        ],
    )


def _raci_people(profile: OrganisationProfile, people: _People, activity: str, letters: set[str]) -> set[str]:
    found = next((item for item in profile.raci if item.activity == activity), None)
    if found is None:
        return set()
    keys = set()
    for role_id, letter in found.assignments.items():
        role = profile.role(role_id)
        if letter.value in letters:
            keys.add(people.key(role) if role else f"role:{role_id}")
    return keys


def _conflicts(profile: OrganisationProfile, people: _People) -> list[ConflictRow]:
    rows = []
    for conflict in profile.conflicting_duties:
        approvers = _raci_people(profile, people, conflict.approve, {"A", "R"})
        implementers = _raci_people(profile, people, conflict.implement, {"R"})
        overlap = approvers & implementers
        status = "Segregated" if not overlap else "Conflict: same person approves and implements"
        rows.append(
            ConflictRow(
                approve=conflict.approve, implement=conflict.implement, reason=conflict.reason, status=status
            )
        )
    return rows


def _auditor_independence(profile: OrganisationProfile, people: _People) -> list[str]:
    statements = []
    for auditor in (role for role in profile.roles if role.kind is RoleKind.INTERNAL_AUDITOR):
        holder = people.name(auditor.holder)
        person = people.staff.find(auditor.holder) if auditor.holder else None
        home = person.department if person else auditor.department
        audited = ", ".join(auditor.audits) or "the areas set out in the audit programme"
        text = f"{holder} ({auditor.title}) audits {audited}."
        if home and home.strip().lower() in {area.strip().lower() for area in auditor.audits}:
            text += (
                f" The auditor's own department ({home}) is in that list: its audit must be "
                "carried out by someone independent of it."
            )
        elif home:
            text += f" The auditor does not audit their own department ({home}) or their own work."
        others = [
            role.title
            for role in profile.roles
            if role.id != auditor.id and role.holder and people.key(role) == people.key(auditor)
        ]
        if others:
            text += f" The auditor also holds: {', '.join(others)}; these areas are audited by someone else."
        statements.append(text)
    if not statements:
        statements.append("No internal auditor role is defined; the internal audit programme must name one.")
    return statements


def build_roles_context(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    signature_line: str = AWAITING_SIGNATURE,
    approval_date: date | None = None,
) -> RolesContext:
    people = _People(profile, staff)
    details = []
    for number, role in enumerate(profile.roles, start=1):
        details.append(
            RoleDetail(
                number=f"2.{number}",
                id=role.id,
                title=role.title,
                holder=(
                    "Everyone in scope"
                    if role.kind is RoleKind.GROUP and not role.holder
                    else people.name_and_title(role.holder)
                ),
                deputy=people.name_and_title(role.deputy) if role.deputy else NONE_TEXT,
                reports_to=people.role_title(role.reports_to),
                department=role.department or NONE_TEXT,
                responsibilities=list(role.responsibilities),
                authorities=list(role.authorities),
                mandatory_wording=[MANDATORY_WORDING[item] for item in role.mandatory_responsibilities],
                audits=", ".join(role.audits),
            )
        )
    return RolesContext(
        **_common(
            profile,
            people,
            document_title=ROLES_TITLE,
            signature_line=signature_line,
            approval_date=approval_date,
        ),
        roles=details,
        conflicts=_conflicts(profile, people),
        auditor_independence=_auditor_independence(profile, people),
    )


def _isms_lead(profile: OrganisationProfile) -> Role | None:
    return next((role for role in profile.roles if role.kind is RoleKind.ISMS_LEAD), None)


def build_appointment_context(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    signature_line: str = AWAITING_SIGNATURE,
    approval_date: date | None = None,
) -> AppointmentContext:
    """The appointment letter's values: the ISMS lead role, its holder and deputy, the reporting line.

    A profile without an ISMS lead role (a Clause 5 error that blocks signature) still renders,
    with "Not assigned" where the lead would be, so ``isms docs render`` can show the draft.
    """
    people = _People(profile, staff)
    role = _isms_lead(profile)
    lead = staff.find(role.holder) if role is not None and role.holder else None
    deputy = staff.find(role.deputy) if role is not None and role.deputy else None
    above = profile.role(role.reports_to) if role is not None and role.reports_to else None
    return AppointmentContext(
        **_common(
            profile,
            people,
            document_title=APPOINTMENT_LETTER_TITLE,
            signature_line=signature_line,
            approval_date=approval_date,
        ),
        lead_name=people.name(role.holder if role else None),
        lead_job_title=lead.job_title if lead and lead.job_title else (role.title if role else NOT_ASSIGNED),
        lead_email=lead.email if lead else NONE_TEXT,
        lead_department=lead.department if lead and lead.department else NONE_TEXT,
        role_title=role.title if role else NOT_ASSIGNED,
        role_department=(role.department if role else None) or NONE_TEXT,
        reports_to=people.role_title(role.reports_to if role else None),
        reports_to_name=people.name(above.holder) if above is not None else NONE_TEXT,
        mandatory_wording=[MANDATORY_WORDING[item] for item in role.mandatory_responsibilities]
        if role
        else [],
        responsibilities=list(role.responsibilities) if role else [],
        authorities=list(role.authorities) if role else [],
        has_deputy=bool(role and role.deputy),
        deputy_name=people.name(role.deputy) if role and role.deputy else NO_DEPUTY,
        deputy_job_title=deputy.job_title if deputy and deputy.job_title else NONE_TEXT,
        deputy_email=deputy.email if deputy else NONE_TEXT,
    )
