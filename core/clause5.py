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

from models.check_report import (
    Clause5CheckReport,
    EvaluatedRule,
    ReportingLine,
    RuleOutcome,
    SegregationPair,
)
from models.documents import RenderFacts
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

__all__ = ["RULES", "Finding", "Severity", "blocking", "check_profile", "check_report"]

MAX_REVIEW_INTERVAL_DAYS = 366  # "review at least annually": a leap year is still within 12 months

# the Clause 5.3 audit checklist rows (seeds/001) a rule answers
ROW = "Clause 5.3 checklist row"

# Every rule the check evaluates: its id, what it asks, and what it answers. The check report
# lists each with its outcome, so an auditor sees what was checked, not only what failed.
RULES: dict[str, tuple[str, list[str]]] = {
    "roles.unique-ids": ("every role has its own id", [f"{ROW} 1"]),
    "roles.reporting-line": ("every role reports to a role of the profile", [f"{ROW} 10"]),
    "roles.reference": ("the policy's owner, approver and objective owners are roles", [f"{ROW} 1"]),
    "5.3.role-has-holder": ("every role has a named holder", [f"{ROW} 2"]),
    "5.3.holder-is-current-staff": (
        "every holder and deputy is in the staff directory, still employed and in scope",
        [f"{ROW} 2", f"{ROW} 8"],
    ),
    "5.3.holder-in-role-department": (
        "every holder and deputy still works in the department of their role",
        [f"{ROW} 8"],
    ),
    "5.3.holder-changed-since-signed": (
        "every holder and deputy of the last signed version is still employed, and still in the "
        "department they were in then (checked when that version's render manifest is archived)",
        [f"{ROW} 8"],
    ),
    "5.3.mandatory.conformance": (
        "a named holder ensures the ISMS conforms to ISO/IEC 27001 (5.3 a)",
        [f"{ROW} 1"],
    ),
    "5.3.mandatory.performance_reporting": (
        "a named holder reports ISMS performance to top management (5.3 b)",
        [f"{ROW} 1"],
    ),
    "5.3.isms-lead-reports-to-top-management": (
        "the ISMS lead's reporting line reaches top management without passing through someone "
        "the lead oversees",
        [f"{ROW} 10"],
    ),
    "5.3.role-has-authority": ("every role with responsibilities has authorities", [f"{ROW} 4"]),
    "5.3.raci.present": ("the profile has a RACI matrix", [f"{ROW} 1"]),
    "5.3.raci.role-exists": ("every RACI column is a role", [f"{ROW} 1"]),
    "5.3.raci.one-accountable": ("every RACI activity has exactly one Accountable role", [f"{ROW} 3"]),
    "5.3.raci.responsible": ("every RACI activity has a Responsible role", [f"{ROW} 3"]),
    "A.5.3.internal-auditor": ("there is an internal auditor role", [f"{ROW} 3"]),
    "A.5.3.auditor-not-isms-lead": ("the internal auditor is not the ISMS lead", [f"{ROW} 3"]),
    "A.5.3.auditor-not-own-area": ("the internal auditor does not audit their own area", [f"{ROW} 3"]),
    "A.5.3.conflict-names-activity": (
        "every conflicting-duties pair names RACI activities",
        [f"{ROW} 3"],
    ),
    "A.5.3.segregation-of-duties": (
        "nobody both approves and implements a pair of conflicting duties",
        [f"{ROW} 3"],
    ),
    "5.2.approved-by-top-management": ("the policy is approved by top management", ["Clause 5.2"]),
    "5.2.review-within-12-months": ("the policy is reviewed within 12 months", ["Clause 5.2"]),
    "5.2.commitment-requirements": ("the policy commits to satisfy applicable requirements", ["5.2 c)"]),
    "5.2.commitment-improvement": ("the policy commits to continual improvement", ["5.2 d)"]),
    "5.2.objectives": ("the policy has objectives or a framework for setting them", ["5.2 b)"]),
    "5.2.version-history": ("the version history ends with this version", ["Clause 5.2"]),
}


def blocking(findings: list[Finding]) -> bool:
    """True when any finding is an error, so the documents must not go for signature."""
    return any(finding.severity is Severity.ERROR for finding in findings)


def _error(rule: str, where: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, where=where, message=message, fix=fix)


def _warning(rule: str, where: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=Severity.WARNING, where=where, message=message, fix=fix)


def check_profile(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    today: date,
    previous: RenderFacts | None = None,
) -> list[Finding]:
    """Every Clause 5 finding for ``profile``, most fundamental first.

    ``previous``: the render facts of the organisation's last signed version (its archived
    render manifest), to warn about holders and deputies who have left or moved since; None
    when there is none (a first version), and the comparison is skipped.
    """
    return [
        *_check_roles_exist(profile),
        *_check_holders(profile, staff, today=today),
        *_check_departments(profile, staff, today=today),
        *(_check_changes_since_signed(profile, staff, previous, today=today) if previous else []),
        *_check_mandatory(profile),
        *_check_reporting_lines(profile, staff)[0],
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


def _people_with(
    profile: OrganisationProfile, staff: StaffDirectory, activity_name: str, letters: set[RaciLetter]
) -> dict[str, str]:
    """The people (email -> name) who hold ``letters`` for a RACI activity, through their roles."""
    activity = next((a for a in profile.raci if a.activity == activity_name), None)
    if activity is None:
        return {}
    found = {}
    for role_id, letter in activity.assignments.items():
        role = profile.role(role_id)
        person = _holder(staff, role.holder) if role and letter in letters else None
        if person is not None:
            found[person.email] = person.name
    return found


def segregation_pairs(profile: OrganisationProfile, staff: StaffDirectory) -> list[SegregationPair]:
    """Each conflicting-duties pair of the profile: who approves, who implements, and the result."""
    pairs = []
    for pair in profile.conflicting_duties:
        approvers = _people_with(profile, staff, pair.approve, {RaciLetter.A, RaciLetter.R})
        implementers = _people_with(profile, staff, pair.implement, {RaciLetter.R})
        both = sorted(approvers[email] for email in approvers.keys() & implementers.keys())
        pairs.append(
            SegregationPair(
                approve=pair.approve,
                implement=pair.implement,
                reason=pair.reason,
                approvers=sorted(approvers.values()),
                implementers=sorted(implementers.values()),
                result=f"conflict: {', '.join(both)}" if both else "no conflict",
            )
        )
    return pairs


def _check_conflicting_duties(profile: OrganisationProfile, staff: StaffDirectory) -> list[Finding]:
    findings = []
    activities = {activity.activity for activity in profile.raci}
    for index, pair in enumerate(profile.conflicting_duties):
        where = f"conflicting_duties[{index}]"
        for name in (pair.approve, pair.implement):
            if name not in activities:
                findings.append(
                    _error(
                        "A.5.3.conflict-names-activity",
                        where,
                        f"{name!r} is not an activity of the RACI matrix",
                        "use the exact name of a RACI activity",
                    )
                )
        approvers = _people_with(profile, staff, pair.approve, {RaciLetter.A, RaciLetter.R})
        implementers = _people_with(profile, staff, pair.implement, {RaciLetter.R})
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


def _check_departments(profile: OrganisationProfile, staff: StaffDirectory, *, today: date) -> list[Finding]:
    """Holders and deputies who work in another department than their role's (moved since assigned).

    Leavers and people missing from the directory are errors of ``5.3.holder-is-current-staff``.
    """
    findings = []
    for index, role in enumerate(profile.roles):
        if role.kind is RoleKind.GROUP or not (role.department or "").strip():
            continue
        assert role.department is not None
        for field, reference in (("holder", role.holder), ("deputy", role.deputy)):
            person = _holder(staff, reference)
            if person is None or not person.is_current(today):
                continue
            if person.department.strip().lower() != role.department.strip().lower():
                findings.append(
                    _warning(
                        "5.3.holder-in-role-department",
                        f"roles[{index}].{field}",
                        f"{person.name} ({role.title} {field}) works in "
                        f"{person.department or 'no department'} according to the staff directory, "
                        f"not in {role.department}, the role's department",
                        "review the assignment after the move: reassign the role, or correct its department",
                    )
                )
    return findings


def _reference_of(label: str) -> str:
    """The email in a render manifest's ``Name <email>``, or the label itself (a profile reference)."""
    if label.endswith(">") and "<" in label:
        return label.rsplit("<", 1)[1].removesuffix(">")
    return label


def _check_changes_since_signed(
    profile: OrganisationProfile, staff: StaffDirectory, previous: RenderFacts, *, today: date
) -> list[Finding]:
    """Holders and deputies of the last signed version who have left, or changed department, since.

    Compared with that version's render facts. A leaver is named whoever holds the role now (a
    role handed over is a personnel change the review should record); a department change only
    while the person still holds the same role, and only against a manifest that recorded it.
    Someone still assigned and gone is also an error of ``5.3.holder-is-current-staff``.
    """
    rule = "5.3.holder-changed-since-signed"
    version = previous.version or "the last signed version"
    current = {role.id: (index, role) for index, role in enumerate(profile.roles)}
    findings = []
    for role_id, fact in previous.roles.items():
        index, role = current.get(role_id, (None, None))
        for field in ("holder", "deputy"):
            label = getattr(fact, field)
            if not label:
                continue
            then_department: str | None = getattr(fact, f"{field}_department")
            person = staff.find(_reference_of(label))
            where = f"roles[{index}].{field}" if index is not None else "roles"
            now_reference = getattr(role, field) if role is not None else None
            now_person = _holder(staff, now_reference)
            still_assigned = (
                person is not None and now_person is not None and now_person.email == person.email
            )
            name = person.name if person else label.split(" <", 1)[0]
            if person is None or not person.is_current(today):
                gone = "is no longer in the staff directory" if person is None else "has left"
                successor = (
                    f"; {now_person.name} holds it now"
                    if now_person is not None and not still_assigned
                    else ""
                )
                findings.append(
                    _warning(
                        rule,
                        where,
                        f"{name}, {fact.title} {field} when version {version} was signed, {gone}{successor}",
                        "record the handover: confirm who holds the role now and that they accept it"
                        if not still_assigned
                        else "assign the role to someone current before signature",
                    )
                )
            elif (
                still_assigned
                and then_department is not None
                and then_department.strip().lower() != person.department.strip().lower()
            ):
                findings.append(
                    _warning(
                        rule,
                        where,
                        f"{person.name} ({fact.title} {field}) worked in {then_department} when version "
                        f"{version} was signed and now works in {person.department or 'no department'}",
                        "review the assignment after the move: confirm it, or reassign the role",
                    )
                )
    return findings


def _overseen_by(staff: StaffDirectory, lead_email: str) -> set[str]:
    """The emails of everyone whose line-manager chain in the staff directory reaches the lead."""
    managers = {p.email.lower(): (p.manager_email or "").strip().lower() for p in staff.people}
    lead = lead_email.lower()
    overseen = set()
    for email in managers:
        seen = {email}
        manager = managers.get(email, "")
        while manager and manager not in seen:
            if manager == lead:
                overseen.add(email)
                break
            seen.add(manager)
            manager = managers.get(manager, "")
    return overseen


def _holds_top_management(profile: OrganisationProfile, staff: StaffDirectory, email: str) -> bool:
    return any(
        role.kind is RoleKind.TOP_MANAGEMENT
        and (person := _holder(staff, role.holder)) is not None
        and person.email.lower() == email.lower()
        for role in profile.roles
    )


def _check_reporting_lines(
    profile: OrganisationProfile, staff: StaffDirectory
) -> tuple[list[Finding], list[ReportingLine]]:
    """Follow each ISMS lead role's ``reports_to`` up to a role of kind top_management.

    An error names the chain when it loops, ends below top management, or passes through a role
    whose holder the lead oversees (the holder's line-manager chain in the directory reaches the
    lead): the lead would report through someone who answers to them. A lead who also holds a
    top management role (the small-company CEO as ISMS lead) reaches it at once.
    """
    findings: list[Finding] = []
    lines: list[ReportingLine] = []
    for index, lead in enumerate(profile.roles):
        if lead.kind is not RoleKind.ISMS_LEAD:
            continue
        person = _holder(staff, lead.holder)
        overseen = _overseen_by(staff, person.email) if person is not None else set()
        chain = [lead]
        problem: str | None = None
        unknown = False  # an unknown role id: roles.reporting-line reports it, not this rule
        reaches = person is not None and _holds_top_management(profile, staff, person.email)
        current = lead
        while not reaches and problem is None:
            if current.reports_to is None:
                problem = f"ends at {current.title}, which is not top management"
                break
            above = profile.role(current.reports_to)
            if above is None:
                unknown = True
                problem = f"breaks at {current.reports_to!r}, which is not a role in the profile"
                break
            looped = above in chain
            chain.append(above)
            if looped:
                problem = f"loops back to {above.title}"
                break
            holder = _holder(staff, above.holder)
            if holder is not None and holder.email.lower() in overseen:
                problem = f"passes through {above.title}, held by {holder.name}, whom the ISMS lead oversees"
                break
            reaches = above.kind is RoleKind.TOP_MANAGEMENT
            current = above
        titles = [role.title for role in chain]
        line = " -> ".join(titles)
        if problem is not None and not unknown:
            findings.append(
                _error(
                    "5.3.isms-lead-reports-to-top-management",
                    f"roles[{index}].reports_to",
                    f"the reporting line of {lead.title} ({line}) {problem}: the ISMS lead needs an "
                    "unimpeded reporting line to top management",
                    "set reports_to so the line reaches a role of kind top_management through roles "
                    "the lead does not oversee",
                )
            )
        lines.append(
            ReportingLine(
                lead_role=lead.title,
                chain=titles,
                reaches_top_management=reaches,
                result=f"reaches top management: {line}" if reaches else f"{line} {problem}",
            )
        )
    return findings, lines


def check_report(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    today: date,
    previous: RenderFacts | None = None,
) -> Clause5CheckReport:
    """The whole check as evidence: the findings, every rule with its outcome, the pairs checked.

    >>> report = check_report(profile, staff, today=date(2026, 11, 23))
    >>> [pair.result for pair in report.segregation_of_duties]
    ['no conflict']
    """
    findings = check_profile(profile, staff, today=today, previous=previous)

    def family(rule: str) -> str:
        return rule if rule in RULES else rule.rsplit(".", 1)[0]

    rules = []
    for rule, (asks, answers) in RULES.items():
        own = [f for f in findings if family(f.rule) == rule or f.rule == rule]
        outcome = (
            RuleOutcome.ERROR
            if any(f.severity is Severity.ERROR for f in own)
            else RuleOutcome.WARNING
            if own
            else RuleOutcome.PASSED
        )
        rules.append(EvaluatedRule(rule=rule, asks=asks, answers=answers, outcome=outcome, findings=len(own)))
    return Clause5CheckReport(
        organisation=profile.organisation.name,
        version=profile.policy.version,
        checked_on=today,
        blocking=blocking(findings),
        findings=findings,
        rules=rules,
        segregation_of_duties=segregation_pairs(profile, staff),
        reporting_lines=_check_reporting_lines(profile, staff)[1],
    )


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
