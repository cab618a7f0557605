"""Record replay histories of the paths the whole-cycle recorder does not take, on the logic tier.

Not collected by the default run (its name does not start with ``test_``). The stand-ins
answer every activity, so these histories hold stand-in objects; a replay never runs an
activity, so they replay like any other. Run it explicitly with the code whose histories you
want to keep, and commit the files it writes:

    HISTORIES_OUT=tests/replay/histories HISTORIES_LABEL=v4-defects-logic \
        .venv/bin/pytest tests/logic/record_histories.py -p no:randomly

The stories: a team spanning two batches with a leaver who comes back (digest keys per batch,
a returning leaver's own membership); a revision accepted while the CEO is deciding, with an
open of the superseded version while the revision renders, then signed and acknowledged; a
campaign of documents each to its audience (label ``v5-campaign-documents-logic``: run with
``-k documents``); a cycle with role acceptance beside the campaign, an acceptance and a decline
then an acceptance, the escalation and the close (label ``v7-role-acceptance-logic``: run with
``-k role``); a batch acknowledged in groups, some of each group refused (label
``v8-group-commit-logic``: run with ``-k group``; the batch's history only); a campaign in runs,
its batches started in two waves, a staff change, the run continuing as new once its history is
long, another change and the close, one file a run (label ``v8-campaign-runs-logic``: run with
``-k runs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from temporalio.client import WorkflowUpdateFailedError

from models.ack_group import AckGroup
from models.campaign import (
    Acknowledgement,
    BatchChange,
    Recipient,
    StaffChange,
    batch_id_for,
    campaign_id_for,
)
from models.cycle import DocumentsViewed, RevisionInput, Stage
from models.profile import Audience, RoleAcceptanceSchedule
from models.role_acceptance import (
    RoleAnswer,
    RoleAnswerKind,
    RoleAssignment,
    RoleHolder,
    RolePage,
    role_acceptance_id_for,
)
from tests.campaign_runs import run_histories
from tests.logic.scenario import (
    CEO,
    DAY,
    LEAD,
    Tier,
    acknowledge,
    email,
    hr_staff,
    invitations,
    invited,
    routing,
    sign,
    signed_documents,
    staff,
)
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow
from workflows.annual_review import AnnualReviewWorkflow
from workflows.role_acceptance import RoleAcceptanceWorkflow


async def _write(tier: Tier, out: Path, name: str, workflow_id: str) -> None:
    label = os.environ.get("HISTORIES_LABEL", "current")
    history = await tier.env.client.get_workflow_handle(workflow_id).fetch_history()
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread((out / f"{label}-{name}.json").write_text, history.to_json())


async def test_record_a_returning_leaver_in_a_team_spanning_batches(tier: Tier, tmp_path: Path) -> None:
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path))
    handle, data = await tier.start_campaign(staff(11, team_size=11), batch_size=8)
    await invitations(tier, 11)
    await tier.sleep(DAY)
    await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff, StaffChange(remove=[email(1)], requested_by=LEAD.email)
    )
    await tier.sleep(DAY)
    back = Recipient(email=email(1), name="Person 001", department="Engineering", manager_email=email(0))
    await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=tier.standins.directory([back]), requested_by=LEAD.email),
    )
    await tier.sleep(27 * DAY)
    await handle.result()
    await _write(tier, out, "returning-leaver-campaign", handle.id)
    await _write(tier, out, "returning-leaver-batch", batch_id_for(data.cycle_id, 1))
    await _write(tier, out, "second-team-batch", batch_id_for(data.cycle_id, 2))


async def test_record_a_revision_superseding_while_the_ceo_decides(tier: Tier, tmp_path: Path) -> None:
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path))
    standins = tier.standins
    handle = await tier.start_review()
    first = await tier.wait_status(handle, invited)
    await tier.sleep(DAY)
    async with standins.holding("render_documents") as rendering:
        await handle.execute_update(
            AnnualReviewWorkflow.submit_revision,
            RevisionInput(profile=standins.profile(routing("3.1")), submitted_by=LEAD.email),
        )
        await asyncio.wait_for(rendering.entered.wait(), 15)
        await handle.signal(
            AnnualReviewWorkflow.documents_viewed,
            DocumentsViewed(
                person=CEO.email, version_hash=first.version_hash, document=first.documents[0].name
            ),
        )
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(second))
    await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    await invitations(tier, 4)
    await tier.sleep(29 * DAY)
    await handle.result()
    await _write(tier, out, "superseded-annual-review", handle.id)
    await _write(tier, out, "superseded-campaign", campaign_id_for(handle.id))


async def test_record_a_campaign_of_documents_each_to_its_audience(tier: Tier, tmp_path: Path) -> None:
    """Two audiences (everyone, Engineering), a person no document is for, per-person sets
    acknowledged (one refused for the wrong set), a joiner with documents and one without."""
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path))
    signed = signed_documents(
        {
            "acceptable-use-policy.pdf": ("Acceptable Use Policy", "2024.2", Audience(departments=["Sales", "Engineering"])),
            "secure-development-policy.docx": ("Secure Development Policy", "1.4", Audience(departments=["Engineering"])),
        }
    )  # fmt: skip
    people = hr_staff({"Engineering": 2, "Sales": 2, "Finance": 1})
    handle, data = await tier.start_campaign(people, signed=signed)
    await invitations(tier, 4)
    await tier.sleep(DAY)
    documents = data.signed.documents
    await acknowledge(tier, data, email(0), documents=documents)
    sales = {"acceptable-use-policy.pdf": documents["acceptable-use-policy.pdf"]}
    await acknowledge(tier, data, email(2), documents=sales)
    with contextlib.suppress(WorkflowUpdateFailedError):  # the engineers' set: refused
        await acknowledge(tier, data, email(3), documents=documents)
    joiners = hr_staff({"Engineering": 6, "Finance": 1})[5:]  # person005 (Engineering), person006 (Finance)
    await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=tier.standins.directory(joiners), requested_by=LEAD.email),
    )
    await invitations(tier, 5)
    await tier.sleep(29 * DAY)
    await handle.result()
    await _write(tier, out, "documents-campaign", handle.id)
    await _write(tier, out, "documents-batch", batch_id_for(data.cycle_id, 1))


async def _answer_role(tier: Tier, cycle_id: str, person: str, kind: RoleAnswerKind) -> None:
    roles = tier.env.client.get_workflow_handle(role_acceptance_id_for(cycle_id))
    page: RolePage | None = await roles.query(RoleAcceptanceWorkflow.role_page, person)
    assert page is not None
    link = f"{person}-{kind.value}-{page.newest_link}"
    await roles.execute_update(
        RoleAcceptanceWorkflow.answer_role,
        RoleAnswer(
            person=person,
            version_hash=page.version_hash,
            link_id=link,
            link_sequence=page.newest_link,
            kind=kind,
            roles=[f"{a.role_id}:{a.capacity.value}" for a in page.assignments],
            letter_sha256=page.letter.sha256 if page.letter else None,
            comment="not my team any more" if kind is RoleAnswerKind.DECLINE else "",
            ip="198.51.100.40",
            user_agent="logic-tier",
        ),
        id=f"role-{link}",
    )


async def test_record_a_cycle_with_role_acceptance(tier: Tier, tmp_path: Path) -> None:
    """The lead accepts, a risk owner declines then accepts, an asset owner never answers
    (reminded, escalated), beside the campaign; the register archived with the acknowledgements."""
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path))
    standins = tier.standins
    profile = standins.profile(routing(roles=RoleAcceptanceSchedule()))
    standins.role_holders(
        profile,
        [
            RoleHolder(
                email=LEAD.email,
                name=LEAD.name,
                lead=True,
                assignments=[RoleAssignment(role_id="isms-lead", title="ISMS Manager", capacity="holder")],
            ),
            RoleHolder(
                email=email(1),
                name="Person 001",
                assignments=[RoleAssignment(role_id="risk-owner", title="Risk Owner", capacity="holder")],
            ),
            RoleHolder(
                email=email(2),
                name="Person 002",
                assignments=[RoleAssignment(role_id="asset-owner", title="Asset Owner", capacity="deputy")],
            ),
        ],
    )
    handle = await tier.start_review(profile=profile)
    status = await tier.wait_status(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    await invitations(tier, 4 + 3)  # the staff and the role holders
    await tier.sleep(DAY)
    await _answer_role(tier, handle.id, LEAD.email, RoleAnswerKind.ACCEPT)
    await _answer_role(tier, handle.id, email(1), RoleAnswerKind.DECLINE)
    await tier.sleep(8 * DAY)
    await _answer_role(tier, handle.id, email(1), RoleAnswerKind.ACCEPT)
    await tier.sleep(20 * DAY)
    await handle.result()
    await _write(tier, out, "role-acceptance-annual-review", handle.id)
    await _write(tier, out, "role-acceptance-campaign", campaign_id_for(handle.id))
    await _write(tier, out, "role-acceptance-batch", batch_id_for(handle.id, 1))
    await _write(tier, out, "role-acceptance-roles", role_acceptance_id_for(handle.id))


async def test_record_a_batch_acknowledged_in_groups(tier: Tier, tmp_path: Path) -> None:
    """Acknowledgements in groups (the web app's group commit): a group of three, one refused for
    another version; a leaver; a second group with a repeat (already acknowledged), the leaver
    and a good one; the same group again under its id; a single acknowledgement; the close."""
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path))
    handle, data = await tier.start_campaign(staff(6))
    await invitations(tier, 6)
    batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))

    def ack(person: str, **changes: object) -> Acknowledgement:
        return Acknowledgement(
            person=person, version_hash=data.signed.version_hash, link_id=f"link-{person}", ip="198.51.100.9"
        ).model_copy(update=changes)

    await tier.sleep(DAY)
    first = AckGroup(acks=[ack(email(0)), ack(email(1)), ack(email(2), version_hash="0" * 64)])
    await batch.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, first, id="group-1")
    await batch.signal(AcknowledgementBatchWorkflow.staff_changed, BatchChange(leavers=[email(3)]))
    await tier.sleep(DAY)
    second = AckGroup(acks=[ack(email(1), link_id="another-link"), ack(email(3)), ack(email(4))])
    await batch.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, second, id="group-2")
    await batch.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, second, id="group-2")
    await acknowledge(tier, data, email(5))
    await tier.sleep(27 * DAY)
    await handle.result()
    await _write(tier, out, "group-commit-batch", batch_id_for(data.cycle_id, 1))


async def test_record_a_campaign_in_runs(tier: Tier, tmp_path: Path) -> None:
    """Three batches in waves of two (two runs start them), a leaver, the run handing on once
    its history holds 100 events, a joiner in the next run, an acknowledgement, the close."""
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path))
    handle, data = await tier.start_campaign(
        staff(6, team_size=2), batch_size=2, batch_wave=2, run_events=100
    )
    await invitations(tier, 6)
    await tier.sleep(DAY)
    for n in range(10):  # a change adds a dozen events or so
        current = await handle.query(AcknowledgementCampaignWorkflow.state)
        if current.runs > 2:
            break
        await handle.execute_update(
            AcknowledgementCampaignWorkflow.change_staff,
            StaffChange(
                remove=[email(5) if n == 0 else f"nobody{n}@larkspur.example"], requested_by=LEAD.email
            ),
        )
        await asyncio.sleep(0.5)  # the run hands on in the task after the update
    joiner = Recipient(email="joiner000@larkspur.example", name="Joiner 000", department="Sales")
    await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=tier.standins.directory([joiner]), requested_by=LEAD.email),
    )
    await acknowledge(tier, data, email(2), batch=2)
    await handle.result()
    assert handle.first_execution_run_id is not None
    histories = await run_histories(tier.env.client, handle.id, handle.first_execution_run_id)
    assert len(histories) >= 3, "the campaign did not continue as new while running"
    label = os.environ.get("HISTORIES_LABEL", "current")
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    for number, history in enumerate(histories, start=1):
        path = out / f"{label}-run-{number}-campaign.json"
        await asyncio.to_thread(path.write_text, history.to_json())
    await _write(tier, out, "runs-batch", batch_id_for(data.cycle_id, 3))
