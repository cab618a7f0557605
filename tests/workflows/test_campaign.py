"""The acknowledgement campaign on the time-skipping server, with the real worker and services.

Days pass only through ``env.sleep``; everything else waits by query or by mailbox (awaiting a
result would let the server skip time on its own). Timing is asserted on the register, whose
times come from the workflows' clock.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from adapters.workflow_client import CampaignHandle, UpdateRefusedError
from core.contract import Refusal
from core.settings import Settings
from models.campaign import (
    Acknowledgement,
    AckReceipt,
    CampaignInput,
    CampaignResult,
    CampaignStage,
    StaffChange,
    StaffChangeReceipt,
    batch_id_for,
)
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import staff_rows, start_campaign, state, wait_until, write_staff
from tests.workflows.helpers import mails
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow

DAY = timedelta(days=1)


def _read_json(settings: Settings, key: str) -> Any:
    body = make_s3_client(settings).get_object(Bucket=settings.drafts_bucket, Key=key)["Body"].read()
    return json.loads(body)


def batch_index(settings: Settings, cycle_id: str) -> dict[str, int]:
    """email -> batch, from the frozen directory's index in S3."""
    index = _read_json(settings, f"{settings.drafts_prefix}{cycle_id}/campaign/index.json")
    people: dict[str, int] = index["people"]
    return people


async def acknowledge(client: Client, data: CampaignInput, batch: int, email: str) -> AckReceipt:
    handle = client.get_workflow_handle(batch_id_for(data.cycle_id, batch))
    link_id = uuid.uuid4().hex
    page = await handle.query(AcknowledgementBatchWorkflow.page, email)  # the newest link sent
    receipt: AckReceipt = await handle.execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(
            person=email,
            version_hash=data.signed.version_hash,
            link_id=link_id,
            documents=data.signed.documents,
            ip="198.51.100.9",
            user_agent="pytest",
            link_sequence=page.newest_link if page else 0,
        ),
        id=f"ack-{link_id}",
    )
    return receipt


async def wait_mail(
    sink: SmtpSink, cycle_id: str, check: Callable[[set[str]], bool], *, within: float = 60
) -> set[str]:
    deadline = time.monotonic() + within
    while True:
        keys = set(mails(sink, cycle_id))
        if check(keys):
            return keys
        assert time.monotonic() < deadline, f"gave up; mail keys: {sorted(keys)}"
        await asyncio.sleep(0.2)


async def closed(client: Client, data: CampaignInput, *, within: float = 120) -> CampaignResult:
    deadline = time.monotonic() + within
    while True:
        current = await state(client, data.cycle_id)
        if current.stage is CampaignStage.CLOSED and current.result is not None:
            return current.result
        assert time.monotonic() < deadline, f"not closed: {current.stage}"
        await asyncio.sleep(0.3)


def register(settings: Settings, result: CampaignResult) -> dict[str, dict[str, Any]]:
    people = _read_json(settings, result.register_json.key)["people"]
    return {person["email"]: person for person in people}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_ladder_steps_on_time_with_their_content(
    review_skipping: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env, settings = review_skipping
    client = env.client
    handle, data = await start_campaign(client, settings, tmp_path, staff_rows(16))
    cycle = data.cycle_id
    people = [f"person{n:06d}@larkspur.example" for n in range(16)]
    await wait_mail(smtp_sink, cycle, lambda keys: sum(k.endswith("/invitation") for k in keys) == 16)
    where = batch_index(settings, cycle)
    early = people[1:4]  # three of the first manager's team acknowledge on day one
    for email in early:
        await acknowledge(client, data, where[email], email)

    await env.sleep(5 * DAY - timedelta(hours=1))
    await asyncio.sleep(1)
    assert not any("reminder" in key for key in mails(smtp_sink, cycle)), "a reminder came early"
    await env.sleep(timedelta(hours=2))
    keys = await wait_mail(smtp_sink, cycle, lambda k: sum("reminder-1" in x for x in k) == 13)
    assert not any(f"ack/{email}/reminder-1" in keys for email in early), "reminded someone who had acked"
    reminder = mails(smtp_sink, cycle)[f"ack/{people[5]}/reminder-1"]
    assert "first reminder" in str(reminder["Subject"]).lower()
    text = reminder.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Person 000005" in text
    assert "/ack/" in text

    await acknowledge(client, data, where[people[4]], people[4])
    await env.sleep(5 * DAY)
    await wait_mail(smtp_sink, cycle, lambda k: sum("reminder-2" in x for x in k) == 12)

    await env.sleep(4 * DAY)
    keys = await wait_mail(smtp_sink, cycle, lambda k: any("/digest/" in x for x in k))
    digests = {k: m for k, m in mails(smtp_sink, cycle).items() if "/digest/" in k}
    assert set(digests) == {
        "ack/digest/person000000@larkspur.example/batch-1/cohort-0",
        "ack/digest/person000008@larkspur.example/batch-1/cohort-0",
    }, "one digest per line manager"
    first = digests["ack/digest/person000000@larkspur.example/batch-1/cohort-0"]
    assert first["To"] == "person000000@larkspur.example"
    body = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    listed = {email for email in people if email in body}
    assert listed == set(people[5:8]), "the digest lists exactly the manager's people still outstanding"

    await env.sleep(7 * DAY)
    await wait_mail(smtp_sink, cycle, lambda k: "ack/summary" in k)
    summary = mails(smtp_sink, cycle)["ack/summary"]
    assert data.lead.email in str(summary["To"])
    assert data.signer.email in str(summary["To"])
    summary_text = summary.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "4 of 16" in summary_text or ("4" in summary_text and "16" in summary_text)

    await env.sleep(7 * DAY + timedelta(hours=1))
    result = await closed(client, data)
    assert (result.tally.total, result.tally.acknowledged, result.tally.overdue) == (16, 4, 12)
    assert "ack/closed" in mails(smtp_sink, cycle)
    lines = register(settings, result)
    late = lines[people[9]]
    invited = _at(late["invited_at"])
    reminded = [_at(at) - invited for at in late["reminded_at"]]
    assert [round(r / timedelta(hours=1)) for r in reminded] == [5 * 24, 10 * 24]
    assert round((_at(late["escalated_at"]) - invited) / timedelta(hours=1)) == 14 * 24
    assert lines[people[1]]["acknowledged_at"]
    assert not lines[people[1]]["reminded_at"]
    assert lines[people[1]]["ip"] == "198.51.100.9"
    assert set(lines[people[1]]["documents"].values()) == set(data.signed.documents.values())
    assert len(mails(smtp_sink, cycle)) == 16 + 13 + 12 + 2 + 1 + 1  # nothing sent twice
    await handle.result()


async def test_acknowledgement_is_recorded_once(
    review_skipping: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env, settings = review_skipping
    client = env.client
    _, data = await start_campaign(client, settings, tmp_path, staff_rows(4))
    await wait_until(client, data.cycle_id, lambda p: p.invited == 4)
    email = "person000002@larkspur.example"
    batch = batch_index(settings, data.cycle_id)[email]
    first = await acknowledge(client, data, batch, email)
    assert not first.already
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await acknowledge(client, data, batch, email)
    assert "already acknowledged" in str(refused.value.cause)
    # the same update id twice (a retried request): one update, the same receipt
    handle = client.get_workflow_handle(batch_id_for(data.cycle_id, batch))
    other = "person000003@larkspur.example"
    ack = Acknowledgement(person=other, version_hash=data.signed.version_hash, link_id="L1")
    receipts = await asyncio.gather(
        *(handle.execute_update(AcknowledgementBatchWorkflow.acknowledge, ack, id="ack-L1") for _ in range(5))
    )
    assert len({r.acknowledged_at for r in receipts}) == 1
    progress = await wait_until(client, data.cycle_id, lambda p: p.tally.acknowledged == 2)
    assert progress.tally.total == 4
    # a link for another version records nothing
    stale = Acknowledgement(person="person000001@larkspur.example", version_hash="0" * 64, link_id="L2")
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(AcknowledgementBatchWorkflow.acknowledge, stale, id="ack-L2")
    assert (await wait_until(client, data.cycle_id, lambda p: True)).tally.acknowledged == 2


async def test_joiners_are_invited_and_leavers_leave_the_figures(
    review_skipping: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env, settings = review_skipping
    client = env.client
    handle, data = await start_campaign(client, settings, tmp_path, staff_rows(10))
    await wait_until(client, data.cycle_id, lambda p: p.invited == 10)
    await env.sleep(2 * DAY)
    joiners = staff_rows(2, prefix="joiner")
    joiners[0]["manager_email"] = "person000000@larkspur.example"  # joins an existing team
    joiners[1]["manager_email"] = ""
    csv_path = write_staff(tmp_path / "joiners", joiners)
    leaver = "person000003@larkspur.example"
    receipt: StaffChangeReceipt = await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(
            add=store_input(make_s3_client(settings), settings, csv_path),
            remove=[leaver, "nobody@larkspur.example"],
            requested_by=data.lead.email,
        ),
    )
    assert sorted(receipt.added) == ["joiner000000@larkspur.example", "joiner000001@larkspur.example"]
    assert receipt.removed == [leaver]
    assert receipt.unknown == ["nobody@larkspur.example"]
    progress = await wait_until(client, data.cycle_id, lambda p: p.invited == 12 and p.left == 1)
    assert progress.tally.total == 11
    keys = set(mails(smtp_sink, data.cycle_id))
    assert {
        "ack/joiner000000@larkspur.example/invitation",
        "ack/joiner000001@larkspur.example/invitation",
    } <= keys
    # the leaver's link stops working
    where = batch_index(settings, data.cycle_id)
    with pytest.raises(WorkflowUpdateFailedError) as gone:
        await acknowledge(client, data, where[leaver], leaver)
    assert isinstance(gone.value.cause, ApplicationError)
    assert gone.value.cause.message.startswith("left")
    # the same joiners again: already in, nothing sent twice
    again = await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=store_input(make_s3_client(settings), settings, csv_path), requested_by="lead"),
    )
    assert sorted(again.already_in) == sorted(receipt.added)
    assert not again.added
    # a bad joiners file changes nothing
    bad = staff_rows(1, prefix="outsider")
    bad[0]["in_scope"] = "no"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            AcknowledgementCampaignWorkflow.change_staff,
            StaffChange(
                add=store_input(make_s3_client(settings), settings, write_staff(tmp_path / "bad", bad)),
                requested_by="lead",
            ),
        )
    assert "refused" in str(refused.value.cause)
    assert (await wait_until(client, data.cycle_id, lambda p: True)).tally.total == 11

    # the first cohort's reminder at day 5; the joiners' at day 2 + 5
    await env.sleep(3 * DAY + timedelta(hours=1))
    await wait_mail(smtp_sink, data.cycle_id, lambda k: sum("reminder-1" in x for x in k) == 9)
    assert not any(k.startswith("ack/joiner") and "reminder" in k for k in mails(smtp_sink, data.cycle_id))
    await env.sleep(2 * DAY)
    await wait_mail(smtp_sink, data.cycle_id, lambda k: sum("reminder-1" in x for x in k) == 11)

    await env.sleep(22 * DAY)
    result = await closed(client, data)
    lines = register(settings, result)
    assert len(lines) == 12
    assert lines[leaver]["status"] == "left"
    assert lines[leaver]["left_at"]
    assert lines["joiner000000@larkspur.example"]["joined"] is True
    assert result.tally.total == 11


@pytest.mark.slow  # a scale test (~2.5 min): `pytest -m slow`, with the benchmarks
@pytest.mark.timeout(600)
async def test_two_thousand_people_in_batches_and_an_exact_register(
    review_skipping: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env, settings = review_skipping
    client = env.client
    count = 2000
    handle, data = await start_campaign(client, settings, tmp_path, staff_rows(count), batch_size=250)
    progress = await wait_until(client, data.cycle_id, lambda p: p.invited == count, within=300)
    assert progress.batches == 8
    where = batch_index(settings, data.cycle_id)
    assert len(where) == count
    assert max(where.values()) == 8
    chosen = [f"person{n:06d}@larkspur.example" for n in range(0, count, 3)]
    gate = asyncio.Semaphore(8)

    async def one(email: str) -> None:
        async with gate:
            await acknowledge(client, data, where[email], email)

    await asyncio.gather(*(one(email) for email in chosen))
    await wait_until(client, data.cycle_id, lambda p: p.tally.acknowledged == len(chosen))
    history_sizes = []
    for batch in range(1, 9):
        history = await client.get_workflow_handle(batch_id_for(data.cycle_id, batch)).fetch_history()
        history_sizes.append(len(history.events))
    assert max(history_sizes) < 5000, history_sizes

    outstanding = count - len(chosen)
    # one ladder step at a time: the server skips time only while nothing runs, and a long
    # sleep over thousands of emails outlives the sleep call's own deadline
    for advance, step, expected in (
        (5 * DAY + timedelta(hours=1), "/reminder-1", outstanding),
        (5 * DAY, "/reminder-2", outstanding),
        (4 * DAY, "/digest/", 250),
    ):
        await env.sleep(advance)

        def reached(keys: set[str], step: str = step, expected: int = expected) -> bool:
            return sum(step in key for key in keys) == expected

        await wait_mail(smtp_sink, data.cycle_id, reached, within=300)
    await env.sleep(7 * DAY)
    await wait_mail(smtp_sink, data.cycle_id, lambda k: "ack/summary" in k, within=120)
    await env.sleep(7 * DAY)
    result = await closed(client, data, within=300)
    lines = register(settings, result)
    assert len(lines) == count
    acknowledged = {email for email, line in lines.items() if line["acknowledged_at"]}
    assert acknowledged == set(chosen)
    assert result.tally.acknowledged == len(chosen)
    assert result.tally.total == count
    assert all(lines[e]["invited_at"] for e in lines)
    assert all(len(line["reminded_at"]) == 2 for e, line in lines.items() if e not in acknowledged)
    sent = mails(smtp_sink, data.cycle_id)  # raises if any key was sent twice
    assert sum(k.endswith("/invitation") for k in sent) == count
    await handle.result()


async def test_a_change_one_batch_cannot_take_is_recorded_for_the_batches_that_took_it(
    review: tuple[Client, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """Signals to several batches are not one transaction: when one batch cannot take its part
    (here its workflow has ended), the campaign records the parts that were delivered, and
    only those, and says so with a typed refusal. The same change again applies what is missing."""
    client, settings = review
    handle, data = await start_campaign(client, settings, tmp_path, staff_rows(6, team_size=3), batch_size=3)
    try:
        await wait_until(client, data.cycle_id, lambda p: p.batches == 2 and p.invited == 6)
        where = batch_index(settings, data.cycle_id)
        joining_batch = where["person000001@larkspur.example"]  # the joiner's manager's team
        leaver = next(email for email, batch in where.items() if batch != joining_batch)
        gone = where[leaver]
        await client.get_workflow_handle(batch_id_for(data.cycle_id, gone)).terminate("test: batch ended")

        joiner = staff_rows(1, prefix="joiner")
        joiner[0]["manager_email"] = "person000000@larkspur.example"
        joiners = store_input(make_s3_client(settings), settings, write_staff(tmp_path / "in", joiner))
        change = StaffChange(add=joiners, remove=[leaver], requested_by="lead")
        with pytest.raises(UpdateRefusedError) as partly:
            await CampaignHandle(client, data.cycle_id).change_staff(change)
        assert partly.value.kind is Refusal.STAFF_CHANGE_PARTLY_APPLIED
        assert "1 of 2 batch(es)" in partly.value.message
        assert any(line.startswith(f"batch {joining_batch}: 1 joiner(s)") for line in partly.value.details)
        assert any(line.startswith(f"batch {gone}: not delivered") for line in partly.value.details)

        # the batch that took it invites the joiner
        deadline = time.monotonic() + 60
        while "ack/joiner000000@larkspur.example/invitation" not in mails(smtp_sink, data.cycle_id):
            assert time.monotonic() < deadline, "the joiner was never invited"
            await asyncio.sleep(0.2)
        # the campaign's record: the joiner is in; the leaver has not left (their batch never heard)
        again = await CampaignHandle(client, data.cycle_id).change_staff(
            StaffChange(add=joiners, requested_by="lead")
        )
        assert again.already_in == ["joiner000000@larkspur.example"]
        assert not again.added
        with pytest.raises(UpdateRefusedError) as still:
            await CampaignHandle(client, data.cycle_id).change_staff(
                StaffChange(remove=[leaver], requested_by="lead")
            )
        assert still.value.kind is Refusal.STAFF_CHANGE_PARTLY_APPLIED  # planned again, not "unknown"
        assert "0 of 1 batch(es)" in still.value.message
    finally:
        await handle.terminate("test over")
