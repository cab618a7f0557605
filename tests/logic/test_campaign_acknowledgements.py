"""A batch's ``acknowledge`` Update: recorded once, and every refusal says why and records nothing."""

from __future__ import annotations

import asyncio

from core.contract import Refusal
from models.campaign import Acknowledgement, AckPage, AckReceipt, batch_id_for
from tests.logic.scenario import (
    DAY,
    ORGANISATION,
    Tier,
    acknowledge,
    close_to,
    email,
    invitations,
    progress,
    refusal,
    staff,
)
from workflows.acknowledgement import AcknowledgementBatchWorkflow


async def test_an_acknowledgement_is_recorded_once(tier: Tier) -> None:
    _, data = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    await tier.sleep(2 * DAY)
    batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))

    first = await acknowledge(tier, data, email(2))
    assert not first.already
    assert (first.person, first.name, first.version) == (email(2), "Person 002", "3.0")
    assert first.version_hash == data.signed.version_hash
    assert first.documents == data.signed.documents
    assert (first.ip, first.organisation) == ("198.51.100.9", ORGANISATION)
    assert close_to(first.acknowledged_at, await tier.now())

    # a second link, or a second visit: refused, the first record stands
    again = await refusal(acknowledge(tier, data, email(2)), Refusal.ALREADY_ACKNOWLEDGED)
    assert again == "already acknowledged"

    # the same update id again and again (a retried request, a double click): one update
    repeated = Acknowledgement(person=email(3), version_hash=data.signed.version_hash, link_id="L1")
    receipts: list[AckReceipt] = await asyncio.gather(
        *(
            batch.execute_update(AcknowledgementBatchWorkflow.acknowledge, repeated, id="ack-L1")
            for _ in range(5)
        )
    )
    assert len({r.acknowledged_at for r in receipts}) == 1
    assert [r.already for r in receipts] == [False] * 5
    assert receipts[0].documents == data.signed.documents, "no hashes shown: the signed ones are recorded"

    figures = await progress(tier, data)
    assert (figures.tally.total, figures.tally.acknowledged, figures.tally.outstanding) == (4, 2, 2)
    page: AckPage | None = await batch.query(AcknowledgementBatchWorkflow.page, email(2))
    assert page is not None
    assert page.person is not None
    assert page.person.acknowledged_at == first.acknowledged_at
    assert not page.closed


async def test_a_link_for_another_version_or_person_records_nothing(tier: Tier) -> None:
    _, data = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))

    async def ack(kind: Refusal, **changes: object) -> str:
        request = Acknowledgement(
            person=email(1), version_hash=data.signed.version_hash, link_id="L", documents={}
        ).model_copy(update=changes)
        return await refusal(batch.execute_update(AcknowledgementBatchWorkflow.acknowledge, request), kind)

    superseded = "superseded: this link is for another version of the documents"
    assert await ack(Refusal.SUPERSEDED, version_hash="0" * 64) == superseded
    shown = {**data.signed.documents, "information-security-policy.docx": "f" * 64}
    assert await ack(Refusal.SUPERSEDED, documents=shown) == superseded, "the page showed other hashes"
    assert await ack(Refusal.NOT_IN_CAMPAIGN, person="stranger@larkspur.example") == (
        "not in this campaign: this link's person is not in this batch"
    )
    figures = await progress(tier, data)
    assert figures.tally.acknowledged == 0


async def test_nothing_is_taken_before_the_batch_has_its_people(tier: Tier) -> None:
    async with tier.standins.holding("load_batch") as loading:
        _, data = await tier.start_campaign(staff(3))
        await asyncio.wait_for(loading.entered.wait(), 15)
        batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
        assert await batch.query(AcknowledgementBatchWorkflow.page, email(1)) is None
        early = await refusal(acknowledge(tier, data, email(1)), Refusal.NOT_STARTED)
        assert early == "not started: the campaign is still starting, try again in a minute"
    await invitations(tier, 3)
    receipt = await acknowledge(tier, data, email(1))
    assert not receipt.already


async def test_nothing_is_taken_once_the_deadline_has_passed(tier: Tier) -> None:
    _, data = await tier.start_campaign(staff(3))
    await invitations(tier, 3)
    batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    async with tier.standins.holding("store_batch_records") as storing:
        # the batch closes at the deadline and stores its records; meanwhile it is still there
        sleeping = asyncio.create_task(tier.sleep(29 * DAY))
        await asyncio.wait_for(storing.entered.wait(), 15)
        late = await refusal(acknowledge(tier, data, email(1)), Refusal.CLOSED)
        assert late == "closed: the acknowledgement campaign has closed"
        page: AckPage | None = await batch.query(AcknowledgementBatchWorkflow.page, email(1))
        assert page is not None
        assert page.closed
        figures = await progress(tier, data)
        assert figures.closed
        assert (figures.tally.outstanding, figures.tally.overdue) == (3, 3), (
            "at the close, everyone outstanding is overdue"
        )
    await sleeping
    (stored,) = tier.standins.of("store_batch_records")
    assert all(record.acknowledged_at is None for record in stored.data.records)
