"""The Clause 5 checks run before anything goes to the CEO for signature.

Pure functions of the profile, the staff directory and the day of the check. Each finding
names its rule, the place in the profile and how to fix it; errors block signature,
warnings do not.

>>> findings = check_profile(profile, staff, today=date(2026, 11, 23))
>>> blocking(findings)
False
"""

from __future__ import annotations

from datetime import date

from models.findings import Finding, Severity
from models.profile import (
    MANDATORY_WORDING,
    MandatoryResponsibility,
    OrganisationProfile,
    RaciLetter,
    Role,
    RoleKind,
)
from models.staff import Person, StaffDirectory

__all__ = ["Finding", "Severity", "blocking", "check_profile"]

MAX_REVIEW_INTERVAL_DAYS = 366  # "review at least annually": a leap year is still within 12 months


def blocking(findings: list[Finding]) -> bool:
    """True when any finding is an error, so the documents must not go for signature."""
    return any(finding.severity is Severity.ERROR for finding in findings)


def _error(rule: str, where: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, where=where, message=message, fix=fix)


def _warning(rule: str, where: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=Severity.WARNING, where=where, message=message, fix=fix)


def check_profile(profile: OrganisationProfile, staff: StaffDirectory, *, today: date) -> list[Finding]:
    """Every Clause 5 finding for ``profile``, most fundamental first."""
    return [
        *_check_roles_exist(profile),
        *_check_holders(profile, staff, today=today),
        *_check_mandatory(profile),
        *_check_authorities(profile),
        *_check_raci(profile),
        *_check_internal_auditor(profile, staff),
        *_check_conflicting_duties(profile, staff),
        *_check_policy(profile, staff, today=today),
    ]


def _role_index(profile: OrganisationProfile, role: Role) -> int:
    return profile.roles.index(role)


def _check_roles_exist(profile: OrganisationProfile) -> list[Finding]:
    findings = []
    seen: set[str] = set()
    for index, role in enumerate(profile.roles):
        if role.id in seen:
            findings.append(
                _error(
                    "roles.unique-ids",
                    f"roles[{index}].id",
                    f"role id {role.id!r} is used twice",
                    "give every role its own id",
                )
            )
        seen.add(role.id)
        if role.reports_to is not None and profile.role(role.reports_to) is None:
            findings.append(
                _error(
                    "roles.reporting-line",
                    f"roles[{index}].reports_to",
                    f"{role.title} reports to {role.reports_to!r}, which is not a role in the profile",
                    "name the id of an existing role",
                )
            )
    references = [
        ("policy.owner", profile.policy.owner),
        ("policy.approved_by", profile.policy.approved_by),
        *((f"policy.objectives[{i}].owner", o.owner) for i, o in enumerate(profile.policy.objectives)),
        *((f"policy.sub_policies[{i}].owner", s.owner) for i, s in enumerate(profile.policy.sub_policies)),
    ]
    for where, role_id in references:
        if profile.role(role_id) is None:
            findings.append(
                _error(
                    "roles.reference",
                    where,
                    f"{role_id!r} is not a role in the profile",
                    f"add a role with id {role_id!r} under roles:, or name an existing one",
                )
            )
    return findings


def _holder(staff: StaffDirectory, reference: str | None) -> Person | None:
    return staff.find(reference) if reference else None


def _check_holders(profile: OrganisationProfile, staff: StaffDirectory, *, today: date) -> list[Finding]:
    findings = []
    for index, role in enumerate(profile.roles):
        if role.kind is RoleKind.GROUP:
            continue
        if not role.holder:
            findings.append(
                _error(
                    "5.3.role-has-holder",
                    f"roles[{index}].holder",
                    f"the role {role.title!r} has no holder",
                    "name the person who holds it (email or employee id from the staff directory)",
                )
            )
            continue
        for field, reference in (("holder", role.holder), ("deputy", role.deputy)):
            if reference is None:
                continue
            person = staff.find(reference)
            where = f"roles[{index}].{field}"
            if person is None:
                findings.append(
                    _error(
                        "5.3.holder-is-current-staff",
                        where,
                        f"{reference!r} ({role.title} {field}) is not in the staff directory",
                        "correct the email or employee id, or add the person to the HR export",
                    )
                )
            elif not person.is_current(today):
                findings.append(
                    _error(
                        "5.3.holder-is-current-staff",
                        where,
                        f"{person.name} ({role.title} {field}) left the organisation on {person.end_date}",
                        "assign the role to someone still in the organisation",
                    )
                )
            elif not person.in_scope:
                findings.append(
                    _error(
                        "5.3.holder-is-current-staff",
                        where,
                        f"{person.name} ({role.title} {field}) is marked out of the ISMS scope",
                        "assign the role to a person in scope, or correct in_scope in the directory",
                    )
                )
    return findings


def _check_mandatory(profile: OrganisationProfile) -> list[Finding]:
    findings = []
    for responsibility in MandatoryResponsibility:
        holders = [role for role in profile.roles if responsibility in role.mandatory_responsibilities]
        named = [role for role in holders if role.holder and role.kind is not RoleKind.GROUP]
        if not named:
            findings.append(
                _error(
                    f"5.3.mandatory.{responsibility.value}",
                    "roles",
                    f"nobody is assigned the mandatory responsibility: {MANDATORY_WORDING[responsibility]}",
                    f"add '{responsibility.value}' to mandatory_responsibilities of a role with a named "
                    "holder (usually the ISMS lead)",
                )
            )
    return findings


def _check_authorities(profile: OrganisationProfile) -> list[Finding]:
    return [
        _error(
            "5.3.role-has-authority",
            f"roles[{index}].authorities",
            f"the role {role.title!r} has responsibilities but no authorities (a role without authority)",
            "list what the holder may decide or enforce to carry out the responsibilities",
        )
        for index, role in enumerate(profile.roles)
        if role.responsibilities and not role.authorities and role.kind is not RoleKind.GROUP
    ]


def _check_raci(profile: OrganisationProfile) -> list[Finding]:
    findings = []
    if not profile.raci:
        return [
            _error(
                "5.3.raci.present",
                "raci",
                "the profile has no RACI matrix",
                "list the ISMS activities with R, A, C, I per role",
            )
        ]
    for index, activity in enumerate(profile.raci):
        where = f"raci[{index}]"
        for role_id in activity.assignments:
            if profile.role(role_id) is None:
                findings.append(
                    _error(
                        "5.3.raci.role-exists",
                        f"{where}.assignments.{role_id}",
                        f"{activity.activity!r} names {role_id!r}, which is not a role in the profile",
                        "use the id of a role defined under roles:",
                    )
                )
        letters = list(activity.assignments.values())
        accountable = letters.count(RaciLetter.A)
        if accountable != 1:
            findings.append(
                _error(
                    "5.3.raci.one-accountable",
                    where,
                    f"{activity.activity!r} has {accountable} Accountable roles; it needs exactly one",
                    "mark exactly one role A: the one who answers for the activity",
                )
            )
        if RaciLetter.R not in letters:
            findings.append(
                _error(
                    "5.3.raci.responsible",
                    where,
                    f"{activity.activity!r} has no Responsible role",
                    "mark at least one role R: who does the work",
                )
            )
    return findings


def _check_internal_auditor(profile: OrganisationProfile, staff: StaffDirectory) -> list[Finding]:
    findings = []
    leads = {
        person.email
        for role in profile.roles
        if role.kind is RoleKind.ISMS_LEAD and (person := _holder(staff, role.holder))
    }
    auditors = [role for role in profile.roles if role.kind is RoleKind.INTERNAL_AUDITOR]
    if not auditors:
        findings.append(
            _warning(
                "A.5.3.internal-auditor",
                "roles",
                "no internal auditor role: Clause 9.2 needs an independent internal audit programme",
                "add a role of kind internal_auditor: a staff member from another area, or an external one",
            )
        )
    for role in auditors:
        index = _role_index(profile, role)
        person = _holder(staff, role.holder)
        if person is None:
            continue
        if person.email in leads:
            findings.append(
                _error(
                    "A.5.3.auditor-not-isms-lead",
                    f"roles[{index}].holder",
                    f"{person.name} is both the internal auditor and the ISMS lead: "
                    "they would audit their own work",
                    "appoint an internal auditor independent of the ISMS lead",
                )
            )
        own_areas = {area.lower() for area in role.audits} & {person.department.lower()}
        if own_areas:
            findings.append(
                _error(
                    "A.5.3.auditor-not-own-area",
                    f"roles[{index}].audits",
                    f"{person.name} works in {person.department} and is set to audit it",
                    f"have someone outside {person.department} audit it",
                )
            )
    return findings


def _check_conflicting_duties(profile: OrganisationProfile, staff: StaffDirectory) -> list[Finding]:
    findings = []
    by_activity = {activity.activity: activity for activity in profile.raci}

    def people_with(activity_name: str, letters: set[RaciLetter]) -> dict[str, str]:
        activity = by_activity.get(activity_name)
        if activity is None:
            return {}
        found = {}
        for role_id, letter in activity.assignments.items():
            role = profile.role(role_id)
            person = _holder(staff, role.holder) if role and letter in letters else None
            if person is not None:
                found[person.email] = person.name
        return found

    for index, pair in enumerate(profile.conflicting_duties):
        where = f"conflicting_duties[{index}]"
        for name in (pair.approve, pair.implement):
            if name not in by_activity:
                findings.append(
                    _error(
                        "A.5.3.conflict-names-activity",
                        where,
                        f"{name!r} is not an activity of the RACI matrix",
                        "use the exact name of a RACI activity",
                    )
                )
        approvers = people_with(pair.approve, {RaciLetter.A, RaciLetter.R})
        implementers = people_with(pair.implement, {RaciLetter.R})
        for email in approvers.keys() & implementers.keys():
            findings.append(
                _error(
                    "A.5.3.segregation-of-duties",
                    where,
                    f"{approvers[email]} both approves {pair.approve!r} and implements {pair.implement!r} "
                    f"({pair.reason})",
                    "give one of the two activities to someone else",
                )
            )
    return findings


def _check_policy(profile: OrganisationProfile, staff: StaffDirectory, *, today: date) -> list[Finding]:
    findings = []
    policy = profile.policy
    approver = profile.role(policy.approved_by)
    if approver is not None and approver.kind is not RoleKind.TOP_MANAGEMENT:
        findings.append(
            _error(
                "5.2.approved-by-top-management",
                "policy.approved_by",
                f"the policy is approved by {approver.title!r}, which is not top management",
                "have the CEO or equivalent (a role of kind top_management) approve it",
            )
        )
    elif (
        approver is not None
        and (person := _holder(staff, approver.holder)) is not None
        and any(title in person.job_title.lower() for title in ("it manager", "it director"))
    ):
        findings.append(
            _error(
                "5.2.approved-by-top-management",
                "policy.approved_by",
                f"the approver {person.name} is the {person.job_title}, not top management",
                "have the CEO or equivalent approve the policy",
            )
        )
    interval = (policy.review_due - policy.effective_date).days
    if interval > MAX_REVIEW_INTERVAL_DAYS or interval < 0:
        findings.append(
            _error(
                "5.2.review-within-12-months",
                "policy.review_due",
                f"the review is due {policy.review_due}, {interval} days after the effective date "
                f"{policy.effective_date}",
                "set review_due within 12 months of effective_date",
            )
        )
    elif policy.review_due < today:
        findings.append(
            _error(
                "5.2.review-within-12-months",
                "policy.review_due",
                f"the review was due on {policy.review_due}: the policy is overdue for review",
                "review the policy, give it a new version, effective date and review date",
            )
        )
    if not policy.commitments.applicable_requirements:
        findings.append(
            _error(
                "5.2.commitment-requirements",
                "policy.commitments.applicable_requirements",
                "the policy does not name the requirements it commits to satisfy",
                "list the laws, regulations and contracts that apply (e.g. UK GDPR, customer contracts)",
            )
        )
    if not (policy.commitments.continual_improvement or "").strip():
        findings.append(
            _error(
                "5.2.commitment-improvement",
                "policy.commitments.continual_improvement",
                "the policy has no commitment to continual improvement of the ISMS",
                "state the commitment to continually improve the ISMS",
            )
        )
    if not policy.objectives and not (policy.objectives_framework or "").strip():
        findings.append(
            _error(
                "5.2.objectives",
                "policy.objectives",
                "the policy has neither information security objectives nor a framework for setting them",
                "list objectives (objective, measure, target, owner) or describe the framework",
            )
        )
    if policy.version_history and policy.version_history[-1].version != policy.version:
        findings.append(
            _warning(
                "5.2.version-history",
                "policy.version_history",
                f"the last version history entry is {policy.version_history[-1].version}, "
                f"the policy is {policy.version}",
                "add a version history entry for this version",
            )
        )
    return findings
