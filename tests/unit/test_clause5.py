"""A test per Clause 5 rule: the demo profile is clean, and each way of breaking it is caught."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.clause5 import Severity, blocking, check_profile
from core.profile_io import load_staff
from models.profile import OrganisationProfile
from models.staff import StaffDirectory

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
TODAY = date(2026, 11, 23)
Profile = dict[str, Any]


@pytest.fixture(scope="module")
def demo_data() -> Profile:
    return yaml.safe_load((DEMO / "profile.yaml").read_text())


@pytest.fixture(scope="module")
def staff() -> StaffDirectory:
    return load_staff(DEMO / "staff.csv")


def _role(data: Profile, role_id: str) -> dict[str, Any]:
    return next(role for role in data["roles"] if role["id"] == role_id)


def _raci(data: Profile, activity: str) -> dict[str, str]:
    return next(row for row in data["raci"] if row["activity"] == activity)["assignments"]


def _findings(data: Profile, staff: StaffDirectory) -> list[Any]:
    return check_profile(OrganisationProfile.model_validate(data), staff, today=TODAY)


def test_demo_profile_is_clean(demo_data: Profile, staff: StaffDirectory) -> None:
    assert _findings(demo_data, staff) == []


def _no_conformance(d: Profile) -> None:
    _role(d, "isms-lead")["mandatory_responsibilities"] = ["performance_reporting"]


def _no_reporting(d: Profile) -> None:
    _role(d, "isms-lead")["mandatory_responsibilities"] = ["conformance"]


def _two_accountable(d: Profile) -> None:
    _raci(d, "Manage risk register")["isms-lead"] = "A"


def _no_accountable(d: Profile) -> None:
    _raci(d, "Manage risk register")["ceo"] = "C"


def _no_responsible(d: Profile) -> None:
    _raci(d, "Conduct an internal audit")["internal-auditor"] = "C"


def _unknown_role_in_raci(d: Profile) -> None:
    _raci(d, "Manage risk register")["security-champion"] = "C"


def _role_without_holder(d: Profile) -> None:
    del _role(d, "hr-manager")["holder"]


def _holder_not_in_directory(d: Profile) -> None:
    _role(d, "engineering-lead")["holder"] = "nobody@larkspur.example"


def _holder_has_left(d: Profile) -> None:
    _role(d, "engineering-lead")["holder"] = "hannah.cole@larkspur.example"  # left 2026-06-30


def _holder_out_of_scope(d: Profile) -> None:
    _role(d, "engineering-lead")["holder"] = "LA-014"  # the contractor, by employee id


def _deputy_has_left(d: Profile) -> None:
    _role(d, "isms-lead")["deputy"] = "LA-013"


def _auditor_is_isms_lead(d: Profile) -> None:
    _role(d, "internal-auditor")["holder"] = "ravi.chandran@larkspur.example"
    _role(d, "internal-auditor")["audits"] = ["People"]


def _auditor_audits_own_area(d: Profile) -> None:
    _role(d, "internal-auditor")["audits"] = ["Engineering", "Finance"]


def _approver_implements(d: Profile) -> None:
    _raci(d, "Grant production access").update({"isms-lead": "R", "engineering-lead": "A"})


def _approved_by_it_manager(d: Profile) -> None:
    d["policy"]["approved_by"] = "engineering-lead"


def _review_after_12_months(d: Profile) -> None:
    d["policy"]["review_due"] = date(2028, 1, 31)


def _review_overdue(d: Profile) -> None:
    d["policy"]["effective_date"] = date(2025, 1, 1)
    d["policy"]["review_due"] = date(2025, 12, 31)


def _no_requirements(d: Profile) -> None:
    d["policy"]["commitments"]["applicable_requirements"] = []


def _no_improvement(d: Profile) -> None:
    d["policy"]["commitments"]["continual_improvement"] = "  "


def _no_objectives(d: Profile) -> None:
    d["policy"]["objectives"] = []


def _role_without_authority(d: Profile) -> None:
    _role(d, "finance-ops")["authorities"] = []


def _unknown_policy_owner(d: Profile) -> None:
    d["policy"]["owner"] = "ciso"


RULES: list[tuple[str, Callable[[Profile], None], str, str]] = [
    ("conformance unassigned", _no_conformance, "5.3.mandatory.conformance", "roles"),
    ("reporting unassigned", _no_reporting, "5.3.mandatory.performance_reporting", "roles"),
    ("two Accountable", _two_accountable, "5.3.raci.one-accountable", "raci[1]"),
    ("no Accountable", _no_accountable, "5.3.raci.one-accountable", "raci[1]"),
    ("no Responsible", _no_responsible, "5.3.raci.responsible", "raci[2]"),
    ("unknown role in RACI", _unknown_role_in_raci, "5.3.raci.role-exists", "raci[1].assignments.security-champion"),
    ("role without holder", _role_without_holder, "5.3.role-has-holder", "roles[3].holder"),
    ("holder not in directory", _holder_not_in_directory, "5.3.holder-is-current-staff", "roles[2].holder"),
    ("holder has left", _holder_has_left, "5.3.holder-is-current-staff", "roles[2].holder"),
    ("holder out of scope", _holder_out_of_scope, "5.3.holder-is-current-staff", "roles[2].holder"),
    ("deputy has left", _deputy_has_left, "5.3.holder-is-current-staff", "roles[1].deputy"),
    ("auditor is ISMS lead", _auditor_is_isms_lead, "A.5.3.auditor-not-isms-lead", "roles[4].holder"),
    ("auditor audits own area", _auditor_audits_own_area, "A.5.3.auditor-not-own-area", "roles[4].audits"),
    ("approver implements", _approver_implements, "A.5.3.segregation-of-duties", "conflicting_duties[0]"),
    ("approved by IT", _approved_by_it_manager, "5.2.approved-by-top-management", "policy.approved_by"),
    ("review after 12 months", _review_after_12_months, "5.2.review-within-12-months", "policy.review_due"),
    ("review overdue", _review_overdue, "5.2.review-within-12-months", "policy.review_due"),
    ("no applicable requirements", _no_requirements, "5.2.commitment-requirements", "policy.commitments.applicable_requirements"),
    ("no continual improvement", _no_improvement, "5.2.commitment-improvement", "policy.commitments.continual_improvement"),
    ("no objectives nor framework", _no_objectives, "5.2.objectives", "policy.objectives"),
    ("role without authority", _role_without_authority, "5.3.role-has-authority", "roles[5].authorities"),
    ("unknown policy owner", _unknown_policy_owner, "roles.reference", "policy.owner"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "breaks", "rule", "where"), RULES, ids=[r[0] for r in RULES])
def test_each_rule_catches_its_breach(
    demo_data: Profile,
    staff: StaffDirectory,
    name: str,
    breaks: Callable[[Profile], None],
    rule: str,
    where: str,
) -> None:
    data = copy.deepcopy(demo_data)
    breaks(data)
    findings = _findings(data, staff)
    matching = [f for f in findings if f.rule == rule]
    assert matching, f"{name}: expected {rule}, got {[f.rule for f in findings]}"
    assert matching[0].where == where
    assert matching[0].severity is Severity.ERROR
    assert matching[0].fix
    assert blocking(findings)


def test_objectives_framework_is_enough(demo_data: Profile, staff: StaffDirectory) -> None:
    data = copy.deepcopy(demo_data)
    data["policy"]["objectives"] = []
    data["policy"]["objectives_framework"] = (
        "Objectives are set at each management review and tracked monthly."
    )
    assert _findings(data, staff) == []


def test_missing_internal_auditor_is_a_warning_only(demo_data: Profile, staff: StaffDirectory) -> None:
    data = copy.deepcopy(demo_data)
    data["roles"] = [role for role in data["roles"] if role["id"] != "internal-auditor"]
    _raci(data, "Conduct an internal audit").pop("internal-auditor")
    _raci(data, "Conduct an internal audit")["isms-lead"] = "R"
    findings = _findings(data, staff)
    assert [(f.rule, f.severity) for f in findings] == [("A.5.3.internal-auditor", Severity.WARNING)]
    assert not blocking(findings)


def test_the_guides_worked_example_fails_two_rules(demo_data: Profile, staff: StaffDirectory) -> None:
    """The guide's 12-person RACI has no R on the audit and no A on the review: both are caught."""
    data = copy.deepcopy(demo_data)
    _raci(data, "Conduct an internal audit").update({"internal-auditor": "I", "isms-lead": "C"})
    _raci(data, "Run an annual management review").update({"ceo": "R", "isms-lead": "R"})
    rules = {f.rule for f in _findings(data, staff)}
    assert rules == {"5.3.raci.responsible", "5.3.raci.one-accountable"}


def test_an_it_manager_in_the_sponsor_role_cannot_approve(demo_data: Profile, staff: StaffDirectory) -> None:
    people = [
        person.model_copy(update={"job_title": "IT Manager"}) if person.employee_id == "LA-001" else person
        for person in staff.people
    ]
    findings = _findings(demo_data, StaffDirectory(people=people))
    assert [(f.rule, f.where) for f in findings] == [("5.2.approved-by-top-management", "policy.approved_by")]
    assert "is the IT Manager, not top management" in findings[0].message
