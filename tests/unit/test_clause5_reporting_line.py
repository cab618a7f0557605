"""Checklist rows 8 and 10 and the check report, on profiles built here from the demo one.

Row 10: the ISMS lead's reporting line reaches top management without passing through someone
the lead oversees (a loop, a chain through an overseen holder, a line that stops short are
errors naming the chain). Row 8: a holder or deputy now in another department is a warning.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.clause5 import RULES, Severity, blocking, check_profile, check_report
from core.profile_io import load_staff
from models.check_report import RuleOutcome
from models.profile import OrganisationProfile
from models.staff import Person, StaffDirectory

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
TODAY = date(2026, 11, 23)
LINE_RULE = "5.3.isms-lead-reports-to-top-management"
DEPARTMENT_RULE = "5.3.holder-in-role-department"
Profile = dict[str, Any]


@pytest.fixture(scope="module")
def demo_data() -> Profile:
    return yaml.safe_load((DEMO / "profile.yaml").read_text())


@pytest.fixture(scope="module")
def staff() -> StaffDirectory:
    return load_staff(DEMO / "staff.csv")


def _role(data: Profile, role_id: str) -> dict[str, Any]:
    return next(role for role in data["roles"] if role["id"] == role_id)


def _profile(data: Profile) -> OrganisationProfile:
    return OrganisationProfile.model_validate(data)


def _line_findings(data: Profile, staff: StaffDirectory) -> list[Any]:
    return [f for f in check_profile(_profile(data), staff, today=TODAY) if f.rule == LINE_RULE]


def test_a_lead_reporting_to_the_ceo_passes_and_the_report_says_so(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    assert _line_findings(demo_data, staff) == []
    report = check_report(_profile(demo_data), staff, today=TODAY)
    [line] = report.reporting_lines
    assert line.reaches_top_management
    assert line.chain == [
        "ISMS Lead (Chief Technology Officer)",
        "Chief Executive Officer (Top Management Sponsor)",
    ]


def test_a_loop_in_reports_to_is_an_error_naming_the_chain(demo_data: Profile, staff: StaffDirectory) -> None:
    data = copy.deepcopy(demo_data)
    _role(data, "isms-lead")["reports_to"] = "hr-manager"
    _role(data, "hr-manager")["reports_to"] = "isms-lead"
    [finding] = _line_findings(data, staff)
    assert finding.severity is Severity.ERROR
    assert finding.where == "roles[1].reports_to"
    assert (
        "ISMS Lead (Chief Technology Officer) -> HR Manager (People Contact) -> ISMS Lead (Chief Technology Officer)"
        in finding.message
    )
    assert "loops back" in finding.message
    assert blocking(check_profile(_profile(data), staff, today=TODAY))


def test_a_chain_through_a_role_the_lead_oversees_is_an_error(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    # the Engineering Lead's holder, Sofia Alvarez, has the ISMS lead (Ravi Chandran) as line manager
    data = copy.deepcopy(demo_data)
    _role(data, "isms-lead")["reports_to"] = "engineering-lead"
    _role(data, "engineering-lead")["reports_to"] = "ceo"
    [finding] = _line_findings(data, staff)
    assert "ISMS Lead (Chief Technology Officer) -> Engineering Lead" in finding.message
    assert "held by Sofia Alvarez, whom the ISMS lead oversees" in finding.message


def test_oversight_is_followed_down_the_directory(demo_data: Profile, staff: StaffDirectory) -> None:
    # Liam Hughes reports to Sofia Alvarez, who reports to the ISMS lead: two levels down
    data = copy.deepcopy(demo_data)
    data["roles"].insert(
        5,
        {
            "id": "sre-lead",
            "title": "SRE Lead",
            "holder": "liam.hughes@larkspur.example",
            "reports_to": "ceo",
        },
    )
    _role(data, "isms-lead")["reports_to"] = "sre-lead"
    [finding] = _line_findings(data, staff)
    assert "-> SRE Lead" in finding.message
    assert "Liam Hughes" in finding.message


def test_a_line_that_stops_below_top_management_is_an_error(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    data = copy.deepcopy(demo_data)
    _role(data, "isms-lead")["reports_to"] = "hr-manager"
    _role(data, "hr-manager")["reports_to"] = None
    [finding] = _line_findings(data, staff)
    assert "ends at HR Manager (People Contact), which is not top management" in finding.message


def test_a_ceo_who_is_also_the_isms_lead_reaches_top_management(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    data = copy.deepcopy(demo_data)
    _role(data, "isms-lead")["holder"] = "eleanor.marsh@larkspur.example"
    _role(data, "isms-lead")["reports_to"] = None
    assert _line_findings(data, staff) == []


def test_a_holder_or_deputy_in_another_department_is_a_warning(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    moved = StaffDirectory(
        people=[
            Person.model_validate({**p.model_dump(), "department": "Sales"})
            if p.email == "sofia.alvarez@larkspur.example"
            else p
            for p in staff.people
        ]
    )
    findings = [
        f for f in check_profile(_profile(demo_data), moved, today=TODAY) if f.rule == DEPARTMENT_RULE
    ]
    # Sofia is the ISMS lead's deputy and the Engineering Lead: both roles are Engineering's
    assert sorted(f.where for f in findings) == ["roles[1].deputy", "roles[2].holder"]
    assert all(f.severity is Severity.WARNING for f in findings)
    assert "works in Sales" in findings[0].message
    assert "not in Engineering" in findings[0].message
    assert not blocking(findings)
    assert [
        f for f in check_profile(_profile(demo_data), staff, today=TODAY) if f.rule == DEPARTMENT_RULE
    ] == []


def test_the_report_lists_every_rule_and_the_pairs_checked(demo_data: Profile, staff: StaffDirectory) -> None:
    report = check_report(_profile(demo_data), staff, today=TODAY)
    assert [r.rule for r in report.rules] == list(RULES)
    assert {r.outcome for r in report.rules} == {RuleOutcome.PASSED}
    assert not report.blocking
    assert report.findings == []
    [pair] = report.segregation_of_duties
    assert (pair.approve, pair.implement, pair.result) == (
        "Approve production access",
        "Grant production access",
        "no conflict",
    )
    assert pair.approvers
    assert pair.implementers
    assert not set(pair.approvers) & set(pair.implementers)


def test_the_report_marks_the_rules_that_failed(demo_data: Profile, staff: StaffDirectory) -> None:
    data = copy.deepcopy(demo_data)
    _role(data, "isms-lead")["reports_to"] = "engineering-lead"
    next(r for r in data["raci"] if r["activity"] == "Grant production access")["assignments"].update(
        {"isms-lead": "R", "engineering-lead": "A"}
    )
    data["policy"]["commitments"]["applicable_requirements"] = []
    report = check_report(_profile(data), staff, today=TODAY)
    outcomes = {r.rule: r.outcome for r in report.rules}
    assert outcomes[LINE_RULE] is RuleOutcome.ERROR
    assert outcomes["A.5.3.segregation-of-duties"] is RuleOutcome.ERROR
    assert outcomes["5.2.commitment-requirements"] is RuleOutcome.ERROR
    assert outcomes["5.3.raci.present"] is RuleOutcome.PASSED
    assert report.segregation_of_duties[0].result.startswith("conflict: ")
    assert report.blocking
    # every finding the check made belongs to a rule the report lists
    listed = set(RULES)
    assert all(f.rule in listed for f in report.findings)
