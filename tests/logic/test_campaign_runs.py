"""The campaign in runs: waves of batches, continue-as-new, a close that needs no children.

A campaign with more batches than one run starts (``batch_wave``) hands on to a new run after
each wave; a run that has waited long enough (``run_events``) hands on too, and the staff
changes made before it still count after. Every run's history stays far below Temporal's limit.
"""

from __future__ import annotations

import asyncio

from temporalio.client import WorkflowHandle

from models.campaign import CampaignResult, CampaignStage, PersonRecord, Recipient, batch_id_for
from tests.campaign_runs import RUN_HISTORY_LIMIT, run_histories, started_children
from tests.logic.scenario import DAY, Tier, acknowledge, email, invitations, staff, state
from tests.logic.test_campaign_staff import change
from workflows.acknowledgement import AcknowledgementCampaignWorkflow


def records_at_close(tier: Tier) -> list[PersonRecord]:
    """Every register line the close read, a person as many times as they appear."""
    (close,) = tier.standins.of("close_campaign")
    return [record for ref in close.data.batches for record in tier.standins.records(ref)]


async def runs(tier: Tier, handle: WorkflowHandle[AcknowledgementCampaignWorkflow, object]) -> list[int]:
    """The history length of each of the campaign's runs, all of which must have ended."""
    assert handle.first_execution_run_id is not None
    histories = await run_histories(tier.env.client, handle.id, handle.first_execution_run_id)
    lengths = [len(history.events) for history in histories]
    assert all(length < RUN_HISTORY_LIMIT for length in lengths), lengths
    return lengths


async def continued(handle: WorkflowHandle[AcknowledgementCampaignWorkflow, object]) -> bool:
    """Whether the campaign is past its first run (it hands on in the task after an update)."""
    for _ in range(20):
        if (await state(handle)).runs > 1:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_more_batches_than_a_wave_continue_as_new_and_close_with_an_exact_register(
    tier: Tier,
) -> None:
    people = 23  # 12 batches of 2 (the last of 1), in waves of 5: three runs start them
    handle, data = await tier.start_campaign(staff(people, team_size=2), batch_size=2, batch_wave=5)
    await invitations(tier, people)
    current = await state(handle)
    assert current.stage is CampaignStage.RUNNING
    assert current.batches == 12
    assert current.runs == 3
    for person, batch in ((0, 1), (9, 5), (22, 12)):  # one in each wave
        await acknowledge(tier, data, email(person), batch=batch)
    # the time-skipping server skips to the close while the result is awaited (a sleep past a
    # closed chain of runs is never answered by it)
    result = await handle.result()
    assert isinstance(result, CampaignResult)

    lengths = await runs(tier, handle)
    assert len(lengths) == 3, lengths
    assert handle.first_execution_run_id is not None
    histories = await run_histories(tier.env.client, handle.id, handle.first_execution_run_id)
    assert started_children(histories) == [batch_id_for(data.cycle_id, n) for n in range(1, 13)]
    assert len(tier.standins.of("freeze_directory")) == 1
    waves = [(call.data.first, call.data.count) for call in tier.standins.of("list_batches")]
    assert waves == [(1, 5), (6, 5), (11, 2)]
    loaded = sorted(call.data.key for call in tier.standins.of("load_batch"))
    assert len(loaded) == len(set(loaded)) == 12  # every batch started once, and only once

    lines = records_at_close(tier)
    assert sorted(r.email for r in lines) == sorted(email(n) for n in range(people))  # each once
    assert {r.email for r in lines if r.acknowledged_at} == {email(0), email(9), email(22)}
    assert result.tally.total == people
    assert result.tally.acknowledged == 3
    assert result.invited == people
    assert (await state(handle)).stage is CampaignStage.CLOSED


async def test_staff_changes_made_before_a_continue_as_new_still_count_after_it(tier: Tier) -> None:
    handle, _ = await tier.start_campaign(staff(6, team_size=2), batch_size=2, run_events=100)
    await invitations(tier, 6)
    await tier.sleep(DAY)
    joiner = Recipient(
        email="joiner000@larkspur.example", name="Joiner 000", department="Sales", manager_email=email(2)
    )
    receipt = await change(tier, handle, add=[joiner], remove=[email(5)])
    assert receipt.added == [joiner.email]
    assert receipt.removed == [email(5)]
    # a change adds a dozen events or so: the run hands on once its history holds 100
    for n in range(10):
        if await continued(handle):
            break
        await change(tier, handle, remove=[f"nobody{n}@larkspur.example"])
    assert await continued(handle), "the campaign never continued as new"

    again = await change(tier, handle, add=[joiner], remove=[email(5)])
    assert again.added == []
    assert again.already_in == [joiner.email]  # the joiner the first run took
    assert again.removed == []
    assert again.unknown == [email(5)]  # and its leaver
    late = Recipient(email="joiner001@larkspur.example", name="Joiner 001", department="Sales")
    assert (await change(tier, handle, add=[late])).added == [late.email]
    result = await handle.result()
    assert isinstance(result, CampaignResult)

    await runs(tier, handle)
    lines = {r.email: r for r in records_at_close(tier)}
    assert len(records_at_close(tier)) == len(lines) == 8
    assert lines[joiner.email].joined
    assert lines[late.email].joined
    assert lines[email(5)].left_at is not None
    assert result.tally.total == 7
    assert result.left == 1
    assert result.joined == 2
    invited = [m.to for m in tier.standins.mails(lambda m: m.key.endswith("/invitation"))]
    assert sorted(invited) == sorted([*[[email(n)] for n in range(6)], [joiner.email], [late.email]])
