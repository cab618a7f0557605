"""The campaign's ``change_staff`` Update: joiners on their own ladder, leavers out of the figures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import WorkflowHandle

from core.contract import Refusal
from models.campaign import (
    CampaignResult,
    CampaignStage,
    PersonRecord,
    Recipient,
    StaffChange,
    StaffChangeReceipt,
)
from tests.logic.scenario import (
    DAY,
    LEAD,
    Tier,
    acknowledge,
    close_to,
    email,
    invitations,
    progress,
    refusal,
    staff,
    state,
    step,
)
from workflows.acknowledgement import AcknowledgementCampaignWorkflow

JOINER = Recipient(
    email="joiner000@larkspur.example",
    name="Joiner 000",
    department="Engineering",
    manager_email=email(0),  # joins an existing team: the manager's batch
)
LONER = Recipient(email="joiner001@larkspur.example", name="Joiner 001", department="Sales")


def records_at_close(tier: Tier) -> dict[str, PersonRecord]:
    (close,) = tier.standins.of("close_campaign")
    return {r.email: r for ref in close.data.batches for r in tier.standins.records(ref)}


async def change(
    tier: Tier,
    handle: WorkflowHandle[AcknowledgementCampaignWorkflow, object],
    *,
    add: list[Recipient] | None = None,
    remove: list[str] | None = None,
    problems: list[str] | None = None,
) -> StaffChangeReceipt:
    joiners = tier.standins.directory(add, problems=problems) if add is not None else None
    receipt: StaffChangeReceipt = await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=joiners, remove=remove or [], requested_by=LEAD.email),
    )
    return receipt


async def test_joiners_are_invited_on_their_own_ladder_and_leavers_leave_the_figures(tier: Tier) -> None:
    standins = tier.standins
    handle, data = await tier.start_campaign(staff(10))
    invited = (await invitations(tier, 10))[0].at
    await tier.sleep(2 * DAY)
    leaver = email(3)
    receipt = await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(
            add=standins.directory([JOINER, LONER]),
            remove=[leaver, "nobody@larkspur.example"],
            requested_by=LEAD.email,
        ),
    )
    assert sorted(receipt.added) == [JOINER.email, LONER.email]
    assert receipt.removed == [leaver]
    assert receipt.unknown == ["nobody@larkspur.example"]
    assert receipt.already_in == []
    joined = await standins.wait(
        lambda: found if len(found := step(tier, "invitation")) == 12 else None, what="joiners invited"
    )
    joined_at = joined[-1].at
    assert {m.to[0] for m in joined[10:]} == {JOINER.email, LONER.email}
    assert close_to(joined_at, invited + 2 * DAY)
    figures = await tier.until(lambda: progress(tier, data), lambda f: f.invited == 12)
    assert (figures.invited, figures.left, figures.tally.total) == (12, 1, 11)

    # the leaver's link stops working
    gone = await refusal(acknowledge(tier, data, leaver), Refusal.LEFT)
    assert gone == "left: this person has left the organisation's scope"

    # the first cohort's reminders at day 5 and 10, the joiners' at day 2 + 5 and 2 + 10
    await tier.sleep(3 * DAY + timedelta(minutes=5))
    first = step(tier, "reminder-1")
    assert sorted(m.to[0] for m in first) == sorted(set(map(email, range(10))) - {leaver})
    assert all(close_to(m.at, invited + 5 * DAY) for m in first)
    await tier.sleep(2 * DAY)
    joiners = [m for m in step(tier, "reminder-1") if m.to[0].startswith("joiner")]
    assert sorted(m.to[0] for m in joiners) == [JOINER.email, LONER.email]
    assert all(close_to(m.at, joined_at + 5 * DAY) for m in joiners)

    # the joiner with a manager is in that manager's digest of the joiners' cohort, at day 2 + 14
    await tier.sleep(10 * DAY)
    digests = standins.mails(lambda m: m.template == "manager_digest")
    assert [m.key.removeprefix(f"{data.cycle_id}/ack/digest/") for m in digests] == [
        f"{email(0)}/batch-1/cohort-0",
        f"{email(8)}/batch-1/cohort-0",
        f"{email(0)}/batch-1/cohort-1",
    ]
    assert email(3) not in str(digests[0].context["people"]), "a leaver is in no digest"
    assert digests[2].context["people"] == [f"Joiner 000 <{JOINER.email}> (Engineering)"]
    assert digests[2].context["manager_name"] == "Person 000"
    assert close_to(digests[2].at, joined_at + 14 * DAY)

    await tier.sleep(15 * DAY)
    result = await handle.result()
    assert isinstance(result, CampaignResult)
    lines = records_at_close(tier)
    assert len(lines) == 12
    left_at = lines[leaver].left_at
    assert left_at is not None
    assert close_to(left_at, invited + 2 * DAY)
    assert lines[JOINER.email].joined
    assert lines[JOINER.email].manager_name == "Person 000", "named from the manager's record"
    assert lines[LONER.email].joined
    assert (result.tally.total, result.joined, result.left) == (11, 2, 1)
    closed = standins.mails(lambda m: m.key.endswith("/ack/closed"))
    assert closed[0].context["total"] == 11


async def test_the_same_joiners_again_are_already_in_and_nothing_is_sent_twice(tier: Tier) -> None:
    handle, _ = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    first = await change(tier, handle, add=[JOINER])
    assert first.added == [JOINER.email]
    await invitations(tier, 5)
    again = await change(tier, handle, add=[JOINER])
    assert again.added == []
    assert again.already_in == [JOINER.email]
    assert len(step(tier, "invitation")) == 5


async def test_a_bad_joiners_file_or_an_empty_change_changes_nothing(tier: Tier) -> None:
    handle, data = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    outsider = Recipient(email="outsider@larkspur.example", name="Outsider", department="Sales")
    problem = "outsider@larkspur.example: in_scope is no; only people in scope can be added"
    message = await refusal(
        change(tier, handle, add=[outsider], remove=[email(1)], problems=[problem]),
        Refusal.STAFF_CHANGE_REFUSED,
    )
    assert message == "staff change refused: 1 problem(s); nothing was changed"
    empty = await refusal(change(tier, handle), Refusal.NOTHING_TO_CHANGE)
    assert empty == "nothing to change: give joiners to add or emails to remove"
    figures = await tier.until(lambda: progress(tier, data), lambda f: f.invited == 4)
    assert (figures.invited, figures.left, figures.tally.total) == (4, 0, 4), "the leaver in it stayed"
    assert len(step(tier, "invitation")) == 4
    receipt = await acknowledge(tier, data, email(1))
    assert not receipt.already


async def test_one_staff_change_at_a_time(tier: Tier) -> None:
    handle, data = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    async with tier.standins.holding("plan_staff_change") as planning:
        first = asyncio.create_task(change(tier, handle, remove=[email(1)]))
        await asyncio.wait_for(planning.entered.wait(), 15)
        busy = await refusal(change(tier, handle, remove=[email(2)]), Refusal.CHANGE_IN_PROGRESS)
        assert busy == "another staff change is being applied: try again in a moment"
    assert (await first).removed == [email(1)]
    figures = await tier.until(lambda: progress(tier, data), lambda f: f.left >= 1)
    assert (figures.left, figures.tally.total) == (1, 3)


async def test_staff_changes_are_refused_while_starting_and_after_the_close(tier: Tier) -> None:
    async with tier.standins.holding("freeze_directory") as freezing:
        handle, _ = await tier.start_campaign(staff(4))
        await asyncio.wait_for(freezing.entered.wait(), 15)
        starting = await refusal(change(tier, handle, remove=[email(1)]), Refusal.CAMPAIGN_STARTING)
        assert starting == "the campaign is still starting: try again in a minute"
    await invitations(tier, 4)
    async with tier.standins.holding("close_campaign") as closing:
        sleeping = asyncio.create_task(tier.sleep(29 * DAY))
        await asyncio.wait_for(closing.entered.wait(), 15)
        late = await refusal(change(tier, handle, add=[JOINER]), Refusal.CAMPAIGN_CLOSED)
        assert late == "the campaign has closed: staff can no longer be added or removed"
        assert (await state(handle)).stage is CampaignStage.CLOSING
    await sleeping
    assert len(step(tier, "invitation")) == 4


async def test_a_late_joiners_steps_after_the_close_are_skipped(tier: Tier) -> None:
    handle, _ = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    await tier.sleep(20 * DAY)
    await change(tier, handle, add=[JOINER])
    joined_at = (await invitations(tier, 5))[-1].at
    await tier.sleep(9 * DAY)
    await handle.result()
    mine = tier.standins.mails(lambda m: JOINER.email in m.key)
    assert [m.key.rsplit("/", 1)[-1] for m in mine] == ["invitation", "reminder-1"]
    assert close_to(mine[1].at, joined_at + 5 * DAY)
    assert not [m for m in tier.standins.mails(lambda m: m.key.endswith("/cohort-1"))], (
        "digest after the close"
    )
    line = records_at_close(tier)[JOINER.email]
    assert line.escalated_at is None
    assert len(line.reminded_at) == 1


async def test_a_returning_leaver_gets_a_membership_of_their_own(tier: Tier) -> None:
    """Recorded as invited and reminded only when an email went out, on the new cohort's ladder only."""
    handle, data = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    await tier.sleep(DAY)
    await change(tier, handle, remove=[email(1)])
    await tier.sleep(DAY)
    back = Recipient(email=email(1), name="Person 001", department="Engineering", manager_email=email(0))
    receipt = await change(tier, handle, add=[back])
    assert receipt.added == [email(1)]
    # the batch's second mail run is the returning leaver's invitation
    rejoined = (await tier.standins.wait_calls("send_campaign_mail", 2))[1].at
    await tier.sleep(27 * DAY)
    await handle.result()

    to_them = tier.standins.mails(lambda m: m.to == [email(1)])
    invitations_sent = [m for m in to_them if m.template == "staff_invitation"]
    assert len(invitations_sent) == 2, "invited again on coming back, under a key of its own"
    assert len({m.key for m in invitations_sent}) == 2
    reminders_sent = [m for m in to_them if m.template == "staff_reminder"]
    assert [m.key.removeprefix(f"{data.cycle_id}/ack/") for m in reminders_sent] == [
        f"{email(1)}/membership-2/reminder-1",
        f"{email(1)}/membership-2/reminder-2",
    ], "reminded on the new cohort's ladder only"
    assert close_to(reminders_sent[0].at, rejoined + 5 * DAY)
    assert close_to(reminders_sent[1].at, rejoined + 10 * DAY)
    line = records_at_close(tier)[email(1)]
    assert line.joined
    assert line.invited_at is not None
    assert close_to(line.invited_at, rejoined)
    assert len(line.reminded_at) == len(reminders_sent), (
        f"register: {len(line.reminded_at)} reminders; emails sent: {len(reminders_sent)}"
    )
    digests = tier.standins.mails(lambda m: m.template == "manager_digest")
    listing = [d for d in digests if any(email(1) in person for person in d.context["people"])]
    assert len(listing) == 1, "in one digest: the new cohort's"
    assert listing[0].key.endswith("/cohort-1")
    assert line.escalated_at is not None
    assert close_to(line.escalated_at, rejoined + 14 * DAY)
