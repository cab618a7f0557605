"""Who is asked to accept which role: the plan on profiles built in the test from the demo's."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.profile_io import load_staff
from core.role_plan import plan_role_holders, unknown_references
from models.profile import MANDATORY_WORDING, MandatoryResponsibility, OrganisationProfile
from models.role_acceptance import Capacity, RoleHolder
from models.staff import StaffDirectory

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
SIGNER = "eleanor.marsh@larkspur.example"
Profile = dict[str, Any]


@pytest.fixture(scope="module")
def demo_data() -> Profile:
    return yaml.safe_load((DEMO / "profile.yaml").read_text())


@pytest.fixture(scope="module")
def staff() -> StaffDirectory:
    return load_staff(DEMO / "staff.csv")


def _role(data: Profile, role_id: str) -> dict[str, Any]:
    return next(role for role in data["roles"] if role["id"] == role_id)


def _plan(data: Profile, staff: StaffDirectory, signer: str = SIGNER) -> list[RoleHolder]:
    return plan_role_holders(OrganisationProfile.model_validate(data), staff, signer_email=signer)


def _shape(holders: list[RoleHolder]) -> list[tuple[str, list[str], bool]]:
    return [
        (holder.email, [f"{a.role_id}:{a.capacity.value}" for a in holder.assignments], holder.lead)
        for holder in holders
    ]


def test_demo_everyone_but_the_signer_once_with_all_their_roles(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    assert _shape(_plan(demo_data, staff)) == [
        ("ravi.chandran@larkspur.example", ["isms-lead:holder"], True),
        ("sofia.alvarez@larkspur.example", ["isms-lead:deputy", "engineering-lead:holder"], False),
        ("daniel.obrien@larkspur.example", ["hr-manager:holder"], False),
        ("grace.whitfield@larkspur.example", ["internal-auditor:holder", "finance-ops:holder"], False),
    ]


def test_each_assignment_carries_the_role_as_the_signed_version_sets_it_out(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    ravi, sofia, *_ = _plan(demo_data, staff)
    assert (ravi.name, ravi.department) == ("Ravi Chandran", "Engineering")
    lead = ravi.assignments[0]
    assert lead.title == "ISMS Lead (Chief Technology Officer)"
    assert lead.department == "Engineering"
    assert lead.reports_to == "Chief Executive Officer (Top Management Sponsor)"
    assert lead.reports_to_holder == "Eleanor Marsh"
    # the Clause 5.3 wording first, as the roles document prints it, then the profile's own
    assert lead.responsibilities[:2] == [
        MANDATORY_WORDING[MandatoryResponsibility.CONFORMANCE],
        MANDATORY_WORDING[MandatoryResponsibility.PERFORMANCE_REPORTING],
    ]
    assert "Maintains the risk register and the Statement of Applicability" in lead.responsibilities
    assert (
        lead.authorities[0] == "Requires changes to systems and processes that do not meet ISMS requirements"
    )
    deputy, engineering = sofia.assignments
    assert (deputy.capacity, deputy.described) == (
        Capacity.DEPUTY,
        "ISMS Lead (Chief Technology Officer) (deputy)",
    )
    assert engineering.reports_to == "ISMS Lead (Chief Technology Officer)"
    assert engineering.reports_to_holder == "Ravi Chandran"


def test_a_deputy_of_top_management_accepts_the_signer_does_not(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    data = copy.deepcopy(demo_data)
    _role(data, "ceo")["deputy"] = "LA-004"  # by employee id: Daniel O'Brien
    holders = _plan(data, staff, signer="Eleanor.Marsh@LARKSPUR.example")  # case does not matter
    assert "eleanor.marsh@larkspur.example" not in [holder.email for holder in holders]
    daniel = next(holder for holder in holders if holder.email == "daniel.obrien@larkspur.example")
    assert [f"{a.role_id}:{a.capacity.value}" for a in daniel.assignments] == [
        "ceo:deputy",
        "hr-manager:holder",
    ]
    assert daniel.assignments[0].reports_to is None  # the top of the line


def test_someone_else_signing_leaves_the_ceo_to_accept(demo_data: Profile, staff: StaffDirectory) -> None:
    holders = _plan(demo_data, staff, signer="grace.whitfield@larkspur.example")
    assert _shape(holders)[0] == ("eleanor.marsh@larkspur.example", ["ceo:holder"], False)
    assert "grace.whitfield@larkspur.example" not in [holder.email for holder in holders]


def test_a_holder_missing_from_the_directory_and_a_group_role_ask_nobody(
    demo_data: Profile, staff: StaffDirectory
) -> None:
    data = copy.deepcopy(demo_data)
    _role(data, "hr-manager")["holder"] = "nobody@larkspur.example"
    _role(data, "all-staff")["holder"] = "grace.whitfield@larkspur.example"  # a group is held by no one
    holders = _plan(data, staff)
    assert "daniel.obrien@larkspur.example" not in [holder.email for holder in holders]
    grace = next(holder for holder in holders if holder.email == "grace.whitfield@larkspur.example")
    assert [a.role_id for a in grace.assignments] == ["internal-auditor", "finance-ops"]
    assert unknown_references(OrganisationProfile.model_validate(data), staff) == [
        "hr-manager.holder: nobody@larkspur.example"
    ]


def test_the_lead_flag_follows_the_holder_not_the_deputy(demo_data: Profile, staff: StaffDirectory) -> None:
    data = copy.deepcopy(demo_data)
    lead = _role(data, "isms-lead")
    lead["holder"], lead["deputy"] = lead["deputy"], lead["holder"]
    leads = [holder.email for holder in _plan(data, staff) if holder.lead]
    assert leads == ["sofia.alvarez@larkspur.example"]
