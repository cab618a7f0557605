"""A batch's ``acknowledge_group`` Update: several people at once, each answered on their own.

Each acknowledgement of a group is recorded, or refused exactly as the single ``acknowledge``
update's validator would refuse it (nothing recorded for that one, and the refusal's type,
message and details say why); the group as a whole is refused only when the batch takes no
acknowledgement at all (not started, closed) or the group is malformed. The ``batch_view``
query and the ``page`` query agree (one function makes the page from the view).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from core.contract import Message, Refusal
from models.ack_group import ACK_GROUP_MAX, AckGroup, AckGroupReceipt, BatchView, ack_page
from models.campaign import Acknowledgement, AckPage, BatchChange, CampaignInput, batch_id_for
from tests.logic.scenario import DAY, Tier, acknowledge, email, hr_staff, progress, refusal, staff, step
from tests.logic.test_questions_campaign import POLICY, SDP, WITH_QUESTIONS
from workflows.acknowledgement import AcknowledgementBatchWorkflow

STRANGER = "stranger@larkspur.example"


def _ack(data: CampaignInput, person: str, **changes: object) -> Acknowledgement:
    values: dict[str, object] = {
        "person": person,
        "version_hash": data.signed.version_hash,
        "link_id": uuid.uuid4().hex,
        "ip": "198.51.100.9",
        "user_agent": "logic-tier",
        "link_sequence": 1,  # the first reminder's link: the newest sent to everyone outstanding
    }
    values.update(changes)
    return Acknowledgement.model_validate(values)


async def _page(tier: Tier, data: CampaignInput, person: str) -> AckPage:
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    page: AckPage | None = await handle.query(AcknowledgementBatchWorkflow.page, person)
    assert page is not None
    return page


async def test_a_group_records_the_good_ones_and_explains_each_refusal(tier: Tier) -> None:
    people = hr_staff({"Engineering": 3, "Sales": 6})  # person000-002 engineers, 003-008 sales
    _, data = await tier.start_campaign(people, signed=WITH_QUESTIONS)
    await tier.standins.wait(lambda: len(step(tier, "invitation")) >= 9 or None)
    batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    seller_documents = {POLICY: data.signed.documents[POLICY]}

    earlier = await acknowledge(tier, data, email(3), documents=seller_documents)
    await batch.signal(AcknowledgementBatchWorkflow.staff_changed, BatchChange(leavers=[email(4)]))
    await tier.until(lambda: progress(tier, data), lambda figures: figures.left == 1)
    await tier.sleep(5 * DAY + timedelta(minutes=5))  # the first reminder: links 0 are old now
    await tier.standins.wait(lambda: len(step(tier, "reminder-1")) >= 7 or None)

    right = {SDP: [1, 0]}
    group = AckGroup(
        acks=[
            _ack(data, email(0), documents=data.signed.documents, answers=right, attempts=1),
            _ack(data, email(5), documents=seller_documents),
            _ack(data, email(3), documents=seller_documents),  # acknowledged before
            _ack(data, email(4)),  # left
            _ack(data, STRANGER),
            _ack(data, email(6), version_hash="0" * 64),
            _ack(data, email(7), link_sequence=0),  # the invitation's link
            _ack(data, email(8), documents=data.signed.documents),  # not a seller's set
            _ack(data, email(1), answers={SDP: [0, 0]}),
            _ack(data, email(2), answers=right, attempts=2, first_answers={SDP: [0, 0]}),
        ]
    )
    answered: AckGroupReceipt = await batch.execute_update(
        AcknowledgementBatchWorkflow.acknowledge_group, group, id="group-1"
    )
    outcomes = answered.outcomes
    assert len(outcomes) == len(group.acks)
    kinds = [o.refused.kind if o.refused else None for o in outcomes]
    assert kinds == [
        None,
        None,
        Refusal.ALREADY_ACKNOWLEDGED,
        Refusal.LEFT,
        Refusal.NOT_IN_CAMPAIGN,
        Refusal.SUPERSEDED,
        Refusal.OLD_LINK,
        Refusal.WRONG_DOCUMENTS,
        Refusal.WRONG_ANSWERS,
        None,
    ]
    refused = {o.refused.kind: o.refused for o in outcomes if o.refused}
    # the single update's own wording and details, per person
    assert refused[Refusal.LEFT].message == Message.LEFT
    assert refused[Refusal.OLD_LINK].message == Message.OLD_LINK
    assert refused[Refusal.SUPERSEDED].message == Message.SUPERSEDED_ACKNOWLEDGEMENT
    assert refused[Refusal.WRONG_DOCUMENTS].details == [POLICY]
    assert refused[Refusal.WRONG_ANSWERS].details == [f"{SDP}#1"]
    assert outcomes[2].earlier is not None, "the earlier record, for the page to show"
    assert outcomes[2].earlier.acknowledged_at == earlier.acknowledged_at
    assert outcomes[2].earlier.already

    for number, outcome in zip((0, 5, 2), (outcomes[0], outcomes[1], outcomes[9]), strict=True):
        assert outcome.receipt is not None
        assert (outcome.receipt.person, outcome.receipt.already) == (email(number), False)
    assert outcomes[1].receipt is not None
    assert outcomes[1].receipt.documents == seller_documents
    figures = await progress(tier, data)
    assert (figures.tally.total, figures.tally.acknowledged) == (8, 4), "3 of the group, and the earlier one"
    for number in (1, 4, 6, 7, 8):
        assert (await _page(tier, data, email(number))).person.acknowledged_at is None  # type: ignore[union-attr]
    recorded = (await _page(tier, data, email(2))).person
    assert recorded is not None
    assert (recorded.answers, recorded.first_answers, recorded.attempts) == (right, {SDP: [0, 0]}, 2)

    # the same group again under its id (a retried call): the same answer, nothing recorded twice
    again: AckGroupReceipt = await batch.execute_update(
        AcknowledgementBatchWorkflow.acknowledge_group, group, id="group-1"
    )
    assert again == answered
    # a double click that went in a later group: refused for that person, with the first record
    (late,) = (
        await batch.execute_update(
            AcknowledgementBatchWorkflow.acknowledge_group, AckGroup(acks=[group.acks[0]]), id="group-2"
        )
    ).outcomes
    assert late.refused is not None
    assert late.refused.kind is Refusal.ALREADY_ACKNOWLEDGED
    assert late.earlier is not None
    assert outcomes[0].receipt is not None
    assert late.earlier.acknowledged_at == outcomes[0].receipt.acknowledged_at
    assert (await progress(tier, data)).tally.acknowledged == 4

    # the view every page is made from agrees with the page query, person by person
    view: BatchView | None = await batch.query(AcknowledgementBatchWorkflow.batch_view)
    assert view is not None
    assert len(view.people) == 9
    for number in range(9):
        page = await _page(tier, data, email(number))
        from_view = ack_page(view, email(number))
        assert page.model_dump(exclude={"person"}) == from_view.model_dump(exclude={"person"})
        assert page.person is not None
        assert from_view.person is not None
        for name in ("email", "name", "acknowledged_at", "left_at", "ip", "user_agent", "documents"):
            assert getattr(page.person, name) == getattr(from_view.person, name), name
    assert ack_page(view, STRANGER) == (await _page(tier, data, STRANGER))
    later: BatchView | None = await batch.query(AcknowledgementBatchWorkflow.batch_view)
    assert later is not None
    assert later.revision == view.revision, "nothing changed: the same revision"


async def test_the_whole_group_is_refused_only_for_the_batch_or_a_malformed_group(tier: Tier) -> None:
    async with tier.standins.holding("load_batch") as loading:
        _, data = await tier.start_campaign(staff(3))
        await asyncio.wait_for(loading.entered.wait(), 15)
        batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
        assert await batch.query(AcknowledgementBatchWorkflow.batch_view) is None
        early = AckGroup(acks=[_ack(data, email(1), link_sequence=0)])
        assert (
            await refusal(
                batch.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, early),
                Refusal.NOT_STARTED,
            )
            == Message.NOT_STARTED
        )
    await tier.standins.wait(lambda: len(step(tier, "invitation")) >= 3 or None)

    malformed = Message.ACK_GROUP_MALFORMED.format(most=ACK_GROUP_MAX)
    twice = [_ack(data, email(1), link_sequence=0), _ack(data, email(1).upper(), link_sequence=0)]
    too_many = [_ack(data, f"someone-{n}@larkspur.example") for n in range(ACK_GROUP_MAX + 1)]
    for acks in ([], twice, too_many):
        assert (
            await refusal(
                batch.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, AckGroup(acks=acks)),
                Refusal.ACK_GROUP_MALFORMED,
            )
            == malformed
        )
    assert (await progress(tier, data)).tally.acknowledged == 0
    # a group of the batch's size at most is taken (each stranger refused on their own)
    (one,) = (
        await batch.execute_update(
            AcknowledgementBatchWorkflow.acknowledge_group,
            AckGroup(acks=[_ack(data, email(1), link_sequence=0)]),
        )
    ).outcomes
    assert one.receipt is not None

    async with tier.standins.holding("store_batch_records") as storing:
        sleeping = asyncio.create_task(tier.sleep(29 * DAY))
        await asyncio.wait_for(storing.entered.wait(), 15)
        late = AckGroup(acks=[_ack(data, email(2), link_sequence=0)])
        assert (
            await refusal(
                batch.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, late), Refusal.CLOSED
            )
            == Message.CLOSED
        )
    await sleeping
    (stored,) = tier.standins.of("store_batch_records")
    assert [r.email for r in stored.data.records if r.acknowledged_at is not None] == [email(1)]
