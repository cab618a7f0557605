"""The acknowledgement campaign's logic: invitations, the ladder on time, the close and its result.

Timing is asserted from what the stand-in mail activities recorded: the workflow time at
which each email was asked for.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from models.campaign import CampaignResult, CampaignStage, CloseInput, batch_id_for
from models.routing import AckLadder
from tests.logic.scenario import (
    CEO,
    DAY,
    LEAD,
    Tier,
    acknowledge,
    close_to,
    email,
    invitations,
    progress,
    staff,
    state,
    step,
)

MINUTE = timedelta(minutes=1)


async def test_everyone_in_scope_is_invited_once_with_their_own_link(tier: Tier) -> None:
    people = staff(20)
    handle, data = await tier.start_campaign(people, batch_size=8)
    sent = await invitations(tier, 20)
    assert sorted(m.to[0] for m in sent) == sorted(p.email for p in people)
    assert len({m.key for m in sent}) == 20
    for mail in sent:
        assert mail.key == f"{data.cycle_id}/ack/{mail.to[0]}/invitation"
        assert mail.link_for == mail.to[0]
        assert mail.version_hash == data.signed.version_hash
        assert mail.template == "staff_invitation"
        assert mail.context["signer_name"] == CEO.name
        assert mail.context["documents"] == sorted(data.signed.documents)
    # each batch invites its own people, under its own id (the staff links name the batch)
    batches = {m.batch_id for m in sent}
    assert batches == {batch_id_for(data.cycle_id, n) for n in (1, 2, 3)}
    current = await state(handle)
    assert current.stage is CampaignStage.RUNNING
    assert current.batches == 3
    assert current.started_at is not None
    assert current.deadline == current.started_at + 28 * DAY
    figures = [
        await tier.until(partial(progress, tier, data, number), lambda f: f.invited == f.tally.total)
        for number in (1, 2, 3)
    ]
    assert [f.invited for f in figures] == [8, 8, 4]
    assert sum(f.tally.total for f in figures) == 20
    assert sum(f.tally.outstanding for f in figures) == 20
    assert all(close_to(m.at, current.started_at) for m in sent)


async def test_the_ladder_reminds_digests_summarises_and_closes_on_time(tier: Tier) -> None:
    standins = tier.standins
    handle, data = await tier.start_campaign(staff(16))  # managers: person000 (1-7), person008 (9-15)
    invited = (await invitations(tier, 16))[0].at
    early = [email(1), email(2), email(3)]
    for person in early:
        await acknowledge(tier, data, person)

    await tier.sleep(5 * DAY - MINUTE)
    assert step(tier, "reminder-1") == [], "a reminder came before day 5"
    await tier.sleep(2 * MINUTE)
    first = step(tier, "reminder-1")
    assert sorted(m.to[0] for m in first) == sorted(set(map(email, range(16))) - set(early))
    assert all(close_to(m.at, invited + 5 * DAY) for m in first)
    assert {m.context["reminder_number"] for m in first} == {1}
    assert all(m.template == "staff_reminder" and m.link_for == m.to[0] for m in first)

    await acknowledge(tier, data, email(4))
    await tier.sleep(5 * DAY)
    second = step(tier, "reminder-2")
    assert len(second) == 12
    assert email(4) not in {m.to[0] for m in second}
    assert all(close_to(m.at, invited + 10 * DAY) for m in second)
    assert {m.context["reminder_number"] for m in second} == {2}

    await tier.sleep(4 * DAY)
    digests = standins.mails(lambda m: m.template == "manager_digest")
    assert [m.key for m in digests] == [
        f"{data.cycle_id}/ack/digest/{email(0)}/batch-1/cohort-0",
        f"{data.cycle_id}/ack/digest/{email(8)}/batch-1/cohort-0",
    ], "one digest per line manager"
    assert [m.to for m in digests] == [[email(0)], [email(8)]]
    assert all(close_to(m.at, invited + 14 * DAY) for m in digests)
    first_team, second_team = digests
    assert first_team.context["people"] == [f"Person {n:03d} <{email(n)}> (Engineering)" for n in (5, 6, 7)]
    assert first_team.context["outstanding_count"] == 3
    assert first_team.context["manager_name"] == "Person 000"
    assert second_team.context["people"] == [f"Person {n:03d} <{email(n)}> (Finance)" for n in range(9, 16)]
    figures = await progress(tier, data)
    assert (figures.tally.acknowledged, figures.tally.outstanding, figures.tally.overdue) == (4, 12, 10)

    await tier.sleep(7 * DAY)
    (summary,) = standins.mails(lambda m: m.key == f"{data.cycle_id}/ack/summary")
    current = await state(handle)
    assert current.started_at is not None
    assert close_to(summary.at, current.started_at + 21 * DAY)
    assert summary.template == "campaign_summary"
    assert summary.to == [LEAD.email, CEO.email]
    assert (summary.context["acknowledged"], summary.context["total"], summary.context["rate"]) == (
        4,
        16,
        "25.0%",
    )
    assert summary.context["departments"] == ["Engineering: 4 of 8 (50.0%)", "Finance: 0 of 8 (0.0%)"]
    assert [c.data for c in standins.of("campaign_figures")] == [data.cycle_id]

    await tier.sleep(7 * DAY + MINUTE)
    result = await handle.result()
    assert isinstance(result, CampaignResult)
    (close,) = standins.of("close_campaign")
    request = close.data
    assert isinstance(request, CloseInput)
    assert close_to(request.closed_at, current.started_at + 28 * DAY)
    assert request.campaign_started_at == current.started_at
    assert (request.cycle_started_at, request.signed_at) == (data.cycle_started_at, data.signed_at)
    lines = {r.email: r for ref in request.batches for r in standins.records(ref)}
    assert len(lines) == 16
    late = lines[email(9)]
    assert late.invited_at is not None
    assert len(late.reminded_at) == 2
    assert close_to(late.reminded_at[0], late.invited_at + 5 * DAY)
    assert close_to(late.reminded_at[1], late.invited_at + 10 * DAY)
    assert late.escalated_at is not None
    assert close_to(late.escalated_at, late.invited_at + 14 * DAY)
    assert late.acknowledged_at is None
    prompt = lines[email(1)]
    assert prompt.acknowledged_at is not None
    assert prompt.reminded_at == []
    assert prompt.escalated_at is None
    assert (prompt.ip, prompt.user_agent) == ("198.51.100.9", "logic-tier")
    assert prompt.documents == data.signed.documents
    assert lines[email(0)].escalated_at is None, "a person with no manager is in no digest"
    (closed,) = standins.mails(lambda m: m.key == f"{data.cycle_id}/ack/closed")
    assert closed.template == "campaign_closed"
    assert (closed.context["acknowledged"], closed.context["total"], closed.context["rate"]) == (
        4,
        16,
        "25.0%",
    )
    assert closed.context["outcome"] == "target NOT met"
    assert closed.context["non_responders"] == 12
    assert closed.context["register_key"] == f"s3://{result.register_csv.bucket}/{result.register_csv.key}"
    keys = standins.mail_keys()
    assert len(keys) == len(set(keys)) == 16 + 13 + 12 + 2 + 1 + 1, "every email once"
    final = await state(handle)
    assert final.stage is CampaignStage.CLOSED
    assert final.result == result


async def test_a_profile_ladder_runs_at_its_own_delays(tier: Tier) -> None:
    ladder = AckLadder(
        reminders=[timedelta(hours=12)],
        manager_digest_after=timedelta(days=2),
        summary_after=timedelta(days=3),
        close_after=timedelta(days=4),
    )
    handle, data = await tier.start_campaign(staff(3), schedule=ladder)
    invited = (await invitations(tier, 3))[0].at
    await tier.sleep(5 * DAY)
    await handle.result()
    started = (await state(handle)).started_at
    assert started is not None

    timeline = [(m.key.removeprefix(f"{data.cycle_id}/ack/"), m.at) for m in tier.standins.mail[3:]]
    assert [name for name, _ in timeline] == [
        f"{email(0)}/reminder-1",
        f"{email(1)}/reminder-1",
        f"{email(2)}/reminder-1",
        f"digest/{email(0)}/batch-1/cohort-0",
        "summary",
        "closed",
    ]
    at = dict(timeline)
    assert close_to(at[f"{email(1)}/reminder-1"], invited + timedelta(hours=12))
    assert close_to(at[f"digest/{email(0)}/batch-1/cohort-0"], invited + 2 * DAY)
    assert close_to(at["summary"], started + 3 * DAY)
    assert close_to(at["closed"], started + 4 * DAY)


async def test_the_whole_organisation_acknowledging_meets_the_target(tier: Tier) -> None:
    handle, data = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    for number in range(4):
        await acknowledge(tier, data, email(number))
    await tier.sleep(29 * DAY)
    result = await handle.result()
    assert isinstance(result, CampaignResult)
    assert (result.tally.total, result.tally.acknowledged) == (4, 4)
    (closed,) = tier.standins.mails(lambda m: m.key.endswith("/ack/closed"))
    assert closed.context["outcome"] == "target met"
    assert closed.context["rate"] == "100.0%"
    assert closed.context["non_responders"] == 0
    # nobody outstanding: nobody chased, no digest
    assert [m.template for m in tier.standins.mail] == ["staff_invitation"] * 4 + [
        "campaign_summary",
        "campaign_closed",
    ]


async def test_an_address_the_server_refuses_is_not_recorded_as_invited(tier: Tier) -> None:
    tier.standins.refuse_recipients.add(email(2))
    handle, data = await tier.start_campaign(staff(4))
    await invitations(tier, 3)
    figures = await tier.until(lambda: progress(tier, data), lambda f: f.invited >= 3)
    assert figures.invited == 3
    assert figures.tally.total == 4, "still in scope, still outstanding"
    await tier.sleep(29 * DAY)
    await handle.result()
    (close,) = tier.standins.of("close_campaign")
    lines = {r.email: r for ref in close.data.batches for r in tier.standins.records(ref)}
    assert lines[email(2)].invited_at is None
    assert lines[email(2)].reminded_at == []
    assert all(lines[email(n)].invited_at is not None for n in (0, 1, 3))


async def test_no_summary_when_it_would_come_at_or_after_the_close(tier: Tier) -> None:
    ladder = AckLadder(
        reminders=[DAY], manager_digest_after=2 * DAY, summary_after=4 * DAY, close_after=4 * DAY
    )
    handle, _ = await tier.start_campaign(staff(2), schedule=ladder)
    await invitations(tier, 2)
    await tier.sleep(5 * DAY)
    await handle.result()
    assert tier.standins.of("campaign_figures") == []
    assert [m.template for m in tier.standins.mail if not m.template.startswith("staff_")] == [
        "manager_digest",
        "campaign_closed",
    ]


async def test_each_digest_has_a_key_of_its_own_when_a_team_spans_batches(tier: Tier) -> None:
    # ten people under one manager, in batches of eight: the team is split, so two digests
    people = staff(11, team_size=11)
    _, data = await tier.start_campaign(people, batch_size=8)
    await invitations(tier, 11)
    await tier.sleep(15 * DAY)
    digests = tier.standins.mails(lambda m: m.template == "manager_digest")
    listed = [person for digest in digests for person in digest.context["people"]]
    assert len(listed) == 10, "every outstanding person of the team is in a digest"
    assert len(digests) == 2
    keys = [digest.key for digest in digests]
    assert len(set(keys)) == len(keys), f"two different digests under one key: {keys}"
    assert sorted(keys) == [
        f"{data.cycle_id}/ack/digest/{email(0)}/batch-1/cohort-0",
        f"{data.cycle_id}/ack/digest/{email(0)}/batch-2/cohort-0",
    ]
    assert [digest.batch_id for digest in sorted(digests, key=lambda d: d.key)] == [
        batch_id_for(data.cycle_id, 1),
        batch_id_for(data.cycle_id, 2),
    ]
