"""The annual review with role acceptance: the child after the signed archive, beside the campaign,
its register archived with the acknowledgements; none when the profile switches it off."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from models.archive import ArchiveInput
from models.campaign import CampaignState, campaign_id_for
from models.cycle import AnnualReviewResult, Stage
from models.profile import (
    APPOINTMENT_LETTER,
    APPOINTMENT_LETTER_TITLE,
    POLICY_DOCUMENT,
    ROLES_DOCUMENT,
    DocumentEntry,
    RoleAcceptanceSchedule,
)
from models.role_acceptance import (
    RoleAnswer,
    RoleAssignment,
    RoleHolder,
    RolePage,
    RoleReceipt,
    role_acceptance_id_for,
)
from tests.logic.scenario import CEO, DAY, LEAD, Tier, close_to, invited, routing, sign, staff
from workflows.acknowledgement import AcknowledgementCampaignWorkflow
from workflows.annual_review import AnnualReviewWorkflow
from workflows.role_acceptance import RoleAcceptanceWorkflow

LETTER = "isms-lead-appointment.docx"
DOCUMENTS = [
    DocumentEntry(id=POLICY_DOCUMENT, title="Information Security Policy"),
    DocumentEntry(id=ROLES_DOCUMENT, title="ISMS Roles and Responsibilities"),
    DocumentEntry(id=APPOINTMENT_LETTER, title=APPOINTMENT_LETTER_TITLE, acknowledges=False),
]
OWNER = "owner@larkspur.example"


def _holders() -> list[RoleHolder]:
    role = RoleAssignment(role_id="isms-lead", title="ISMS Manager", capacity="holder")
    owner = RoleAssignment(role_id="risk-owner", title="Risk Owner", capacity="holder")
    return [
        RoleHolder(email=LEAD.email, name=LEAD.name, assignments=[role], lead=True),
        RoleHolder(email=OWNER, name="Olu Owner", assignments=[owner]),
    ]


async def _signed(
    tier: Tier, *, roles: RoleAcceptanceSchedule
) -> WorkflowHandle[AnnualReviewWorkflow, object]:
    profile = tier.standins.profile(routing(roles=roles), documents=DOCUMENTS)
    tier.standins.role_holders(profile, _holders())
    handle = await tier.start_review(profile=profile, staff_directory=tier.standins.directory(staff(4)))
    status = await tier.wait_status(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    return handle


async def _accept(tier: Tier, cycle_id: str, person: str, letter: str | None) -> RoleReceipt:
    roles = tier.env.client.get_workflow_handle(role_acceptance_id_for(cycle_id))
    page: RolePage | None = await roles.query(RoleAcceptanceWorkflow.role_page, person)
    assert page is not None
    link = uuid.uuid4().hex
    receipt: RoleReceipt = await roles.execute_update(
        RoleAcceptanceWorkflow.answer_role,
        RoleAnswer(
            person=person,
            version_hash=page.version_hash,
            link_id=link,
            link_sequence=page.newest_link,
            roles=[f"{a.role_id}:{a.capacity.value}" for a in page.assignments],
            letter_sha256=letter,
            ip="198.51.100.40",
            user_agent="logic-tier",
        ),
        id=f"role-{link}-accept",
    )
    return receipt


async def test_the_review_runs_role_acceptance_beside_the_campaign_and_archives_its_register(
    tier: Tier,
) -> None:
    standins = tier.standins
    handle = await _signed(tier, roles=RoleAcceptanceSchedule())
    (start,) = await standins.wait_calls("plan_role_acceptance")
    both = await tier.wait_status(
        handle,
        lambda s: (
            s.stage is Stage.ACKNOWLEDGING and "acknowledge" in s.waiting_on and "roles" in s.waiting_on
        ),
    )
    assert both.waiting_on == (
        "everyone in scope to acknowledge the signed version and "
        "the named role holders and deputies to accept their roles"
    )
    # the child started after the signed archive (the first archiving), before the campaign
    names = [call.name for call in standins.calls]
    assert names.index("archive_objects") < names.index("plan_role_acceptance")
    child = tier.env.client.get_workflow_handle(role_acceptance_id_for(handle.id))
    described = await child.describe()
    assert described.workflow_type == "RoleAcceptanceWorkflow"
    history = await child.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.parent_workflow_execution.workflow_id == handle.id
    signed = both.signed
    assert signed is not None
    letter = next(d for d in signed.documents if d.name == LETTER)
    assert start.data.signer_email == CEO.email
    # what the child was given: read back from its own page (the letter is the signed one)
    lead_page = await child.query(RoleAcceptanceWorkflow.role_page, LEAD.email)
    assert lead_page is not None
    assert lead_page.letter is not None
    assert (lead_page.letter.name, lead_page.letter.sha256, lead_page.letter.pdf) == (
        LETTER,
        letter.pdf.sha256,
        letter.pdf,
    )
    assert lead_page.letter.title == "Appointment of the ISMS lead"
    decided = next(e.at for e in both.events if e.event == "signed")
    assert lead_page.signed_at == decided
    assert lead_page.deadline == decided + 28 * DAY
    assert lead_page.version == "3.0"
    # the same signed version's hash the campaign's links carry
    campaign = tier.env.client.get_workflow_handle(campaign_id_for(handle.id))
    state: CampaignState = await campaign.query(AcknowledgementCampaignWorkflow.state)
    assert lead_page.version_hash == state.version_hash

    await _accept(tier, handle.id, LEAD.email, letter.pdf.sha256)
    await tier.sleep(29 * DAY)
    result = await handle.result()
    final = await tier.status(handle)
    assert final.stage is Stage.CLOSED
    assert final.waiting_on == ""
    assert final.role_acceptance is not None
    assert isinstance(result, AnnualReviewResult)
    assert final.role_acceptance == result.role_acceptance
    assert (final.role_acceptance.tally.total, final.role_acceptance.tally.accepted) == (2, 1)
    (close,) = standins.of("close_role_acceptance")
    assert close_to(close.data.closed_at, decided + 28 * DAY)

    archive = standins.of("archive_objects")
    assert [call.data.stage for call in archive] == ["signed-v3.0", "acknowledgements-v3.0"]
    request = archive[-1].data
    assert isinstance(request, ArchiveInput)
    roles = final.role_acceptance
    items = {item.name: item.source for item in request.items}
    assert {name: items[name] for name in items if name.startswith("role-acceptance/")} == {
        "role-acceptance/v3.0/register.csv": roles.register_csv,
        "role-acceptance/v3.0/register.json": roles.register_json,
        "role-acceptance/v3.0/report.html": roles.report,
    }
    assert "acknowledgements/v3.0/register.csv" in items
    assert (request.facts.roles_in_scope, request.facts.roles_accepted) == (2, 1)
    events = [e.event for e in final.events]
    assert events.index("role acceptance started") < events.index("campaign started")
    # the role acceptance closes 28 days after the signature, a moment before the campaign
    assert events.index("role acceptance closed") < events.index("campaign closed") < len(events) - 1
    assert events[-1] == "archived"


async def test_a_profile_with_role_acceptance_off_starts_no_child(tier: Tier) -> None:
    standins = tier.standins
    handle = await _signed(tier, roles=RoleAcceptanceSchedule(enabled=False))
    acknowledging = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    assert acknowledging.waiting_on == "everyone in scope to acknowledge the signed version"
    await standins.wait_calls("send_campaign_mail")
    await tier.sleep(29 * DAY)
    result = await handle.result()
    assert standins.of("plan_role_acceptance") == []
    with pytest.raises(RPCError) as missing:  # no role acceptance workflow was started
        await tier.env.client.get_workflow_handle(role_acceptance_id_for(handle.id)).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND
    final = await tier.status(handle)
    assert final.role_acceptance is None
    assert final.stage is Stage.CLOSED
    request = standins.of("archive_objects")[-1].data
    assert isinstance(request, ArchiveInput)
    assert not [item.name for item in request.items if item.name.startswith("role-acceptance/")]
    assert (request.facts.roles_in_scope, request.facts.roles_accepted) == (None, None)
    assert getattr(result, "role_acceptance", None) is None


async def test_a_role_acceptance_closing_first_is_recorded_while_the_campaign_runs(tier: Tier) -> None:
    ladder = RoleAcceptanceSchedule(
        reminders=[timedelta(days=1)], escalate_after=timedelta(days=2), close_after=timedelta(days=5)
    )
    handle = await _signed(tier, roles=ladder)
    await tier.standins.wait_calls("send_campaign_mail")
    await tier.sleep(6 * DAY)
    status = await tier.wait_status(handle, lambda s: s.role_acceptance is not None)
    assert status.stage is Stage.ACKNOWLEDGING
    assert status.waiting_on == "everyone in scope to acknowledge the signed version"
    assert status.campaign is None
    assert status.role_acceptance is not None
    assert (status.role_acceptance.tally.total, status.role_acceptance.tally.accepted) == (2, 0)
    assert len(tier.standins.of("archive_objects")) == 1  # archived with the acknowledgements, later
    await tier.sleep(23 * DAY)
    await handle.result()
    final = await tier.status(handle)
    assert final.stage is Stage.CLOSED
    request = tier.standins.of("archive_objects")[-1].data
    assert isinstance(request, ArchiveInput)
    assert (request.facts.roles_in_scope, request.facts.roles_accepted) == (2, 0)
