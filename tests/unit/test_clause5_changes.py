"""Checklist row 8: holders and deputies who left or changed department since the last signed version.

The last signed version is what its render manifest recorded (``RenderFacts``, made here with
the same ``render_facts`` the render uses, from the demo profile and directory); the current
directory is changed in the test: a deputy and holder moved department, a previous holder gone,
a holder still assigned who has left. A manifest from before departments were recorded gives
no department warning; no previous version gives no finding of the rule.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.clause5 import RULES, Severity, check_profile, check_report
from core.profile_io import load_profile, load_staff
from documents.changes import render_facts
from models.check_report import RuleOutcome
from models.documents import RenderFacts, RoleFact
from models.findings import Finding
from models.profile import OrganisationProfile
from models.staff import StaffDirectory

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
TODAY = date(2026, 11, 23)
RULE = "5.3.holder-changed-since-signed"


@pytest.fixture(scope="module")
def profile() -> OrganisationProfile:
    return load_profile(DEMO / "profile.yaml")


@pytest.fixture(scope="module")
def staff() -> StaffDirectory:
    return load_staff(DEMO / "staff.csv")


def _signed(profile: OrganisationProfile, staff: StaffDirectory) -> RenderFacts:
    """The facts of version 2.0, as its archived render manifest holds them."""
    return render_facts(profile, staff, []).model_copy(update={"version": "2.0"})


def _changed(staff: StaffDirectory, email: str, **update: object) -> StaffDirectory:
    people = [p.model_copy(update=update) if p.email == email else p for p in staff.people]
    return staff.model_copy(update={"people": people})


def _ours(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.where, f.message) for f in findings if f.rule == RULE]


def _index(profile: OrganisationProfile, role_id: str) -> int:
    return next(i for i, role in enumerate(profile.roles) if role.id == role_id)


def test_the_render_records_each_holders_department(
    profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    facts = _signed(profile, staff)
    lead = facts.roles["isms-lead"]
    assert (lead.holder, lead.holder_department) == (
        "Ravi Chandran <ravi.chandran@larkspur.example>",
        "Engineering",
    )
    assert lead.deputy_department == "Engineering"
    assert facts.roles["hr-manager"].holder_department == "People"


def test_nothing_changed_since_the_signed_version_warns_of_nothing(
    profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    assert _ours(check_profile(profile, staff, today=TODAY, previous=_signed(profile, staff))) == []
    assert _ours(check_profile(profile, staff, today=TODAY)) == []


def test_a_holder_and_deputy_who_moved_department_is_warned_for_each_role(
    profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    previous = _signed(profile, staff)
    moved = _changed(staff, "sofia.alvarez@larkspur.example", department="Product")
    findings = check_profile(profile, moved, today=TODAY, previous=previous)
    assert _ours(findings) == [
        (
            f"roles[{_index(profile, 'isms-lead')}].deputy",
            "Sofia Alvarez (ISMS Lead (Chief Technology Officer) deputy) worked in Engineering when version 2.0 was signed "
            "and now works in Product",
        ),
        (
            f"roles[{_index(profile, 'engineering-lead')}].holder",
            "Sofia Alvarez (Engineering Lead holder) worked in Engineering when version 2.0 was signed "
            "and now works in Product",
        ),
    ]
    assert all(f.severity is Severity.WARNING for f in findings if f.rule == RULE)


def test_a_previous_holder_gone_from_the_directory_names_who_holds_it_now(
    profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    previous = _signed(profile, staff)
    hr = previous.roles["hr-manager"]
    previous.roles["hr-manager"] = hr.model_copy(
        update={"holder": "Priya Shah <priya.shah@larkspur.example>", "holder_department": "People"}
    )
    findings = check_profile(profile, staff, today=TODAY, previous=previous)
    assert _ours(findings) == [
        (
            f"roles[{_index(profile, 'hr-manager')}].holder",
            f"Priya Shah, {hr.title} holder when version 2.0 was signed, is no longer in the staff "
            "directory; Daniel O'Brien holds it now",
        )
    ]
    finding = next(f for f in findings if f.rule == RULE)
    assert finding.fix.startswith("record the handover")


def test_a_holder_still_assigned_who_has_left_is_warned_beside_the_error(
    profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    previous = _signed(profile, staff)
    left = _changed(staff, "daniel.obrien@larkspur.example", end_date=date(2026, 10, 31))
    findings = check_profile(profile, left, today=TODAY, previous=previous)
    hr = previous.roles["hr-manager"]
    assert _ours(findings) == [
        (
            f"roles[{_index(profile, 'hr-manager')}].holder",
            f"Daniel O'Brien, {hr.title} holder when version 2.0 was signed, has left",
        )
    ]
    assert any(f.rule == "5.3.holder-is-current-staff" and f.severity is Severity.ERROR for f in findings)


def test_a_manifest_without_departments_compares_leavers_only(
    profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    old = RenderFacts(
        organisation="Larkspur Analytics Ltd",
        version="2.0",
        effective_date=date(2025, 12, 1),
        roles={
            role_id: RoleFact(title=fact.title, holder=fact.holder, deputy=fact.deputy)
            for role_id, fact in _signed(profile, staff).roles.items()
        },
        paragraphs={},
    )
    moved = _changed(staff, "sofia.alvarez@larkspur.example", department="Product")
    assert _ours(check_profile(profile, moved, today=TODAY, previous=old)) == []
    left = _changed(moved, "ravi.chandran@larkspur.example", end_date=date(2026, 10, 31))
    assert [where for where, _ in _ours(check_profile(profile, left, today=TODAY, previous=old))] == [
        f"roles[{_index(profile, 'isms-lead')}].holder"
    ]


def test_the_check_report_lists_the_rule_and_its_outcome(
    profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    assert RULE in RULES
    assert RULES[RULE][1] == ["Clause 5.3 checklist row 8"]
    previous = _signed(profile, staff)
    moved = _changed(staff, "sofia.alvarez@larkspur.example", department="Product")
    report = check_report(profile, moved, today=TODAY, previous=previous)
    outcomes = {r.rule: (r.outcome, r.findings) for r in report.rules}
    assert outcomes[RULE] == (RuleOutcome.WARNING, 2)
    assert not report.blocking
    quiet = check_report(profile, staff, today=TODAY, previous=previous)
    assert {r.rule: r.outcome for r in quiet.rules}[RULE] is RuleOutcome.PASSED
