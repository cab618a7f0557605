"""What leaves a batch is its people's full register lines, whatever the batch keeps inside.

The batch keeps each person in a slim form of its own (no copy of the version's hashes,
titles or versions; shared strings) and makes a ``PersonRecord`` only where one leaves it:
the records stored at the close, the ``page`` and ``batch_view`` queries, the receipts. This
test plays one batch through everything a line can hold (an address that is not in lower case,
questions with a first wrong try, documents shown in another order than the version's, none
shown, a group, a leaver, a joiner whose manager's name comes from the batch, reminders and a
digest) and compares each of those with the line, page and receipt built from the inputs here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import PurePosixPath

from models.ack_group import AckGroup, AckGroupReceipt, BatchView, ViewPerson
from models.campaign import (
    AcknowledgedDocument,
    Acknowledgement,
    AckPage,
    AckReceipt,
    BatchChange,
    CampaignInput,
    PersonRecord,
    Recipient,
    batch_id_for,
)
from tests.logic.scenario import DAY, LEAD, ORGANISATION, Tier, close_to, step
from tests.logic.test_questions_campaign import POLICY, SDP, WITH_QUESTIONS
from workflows.acknowledgement import AcknowledgementBatchWorkflow

SIGNED = WITH_QUESTIONS  # the policy for everyone; the SDP (two questions) for Engineering
RIGHT = {SDP: [1, 0]}
BOTH = [POLICY, SDP]


def _person(number: int, department: str, documents: list[str], **fields: str | None) -> Recipient:
    return Recipient(
        email=f"person{number:03d}@larkspur.example",
        name=f"Person {number:03d}",
        department=department,
        acknowledges=documents,
        **fields,
    )


LEAD_ENGINEER = _person(0, "Engineering", BOTH).model_copy(update={"email": "Person000@Larkspur.example"})
BOSS = {"manager_email": "person000@larkspur.example", "manager_name": "Person 000"}
PEOPLE = [
    LEAD_ENGINEER,  # acknowledges on day 1 after a wrong try; their email is not in lower case
    _person(1, "Engineering", BOTH, **BOSS),  # in a group on day 6, right first time
    _person(2, "Sales", [POLICY], manager_email=BOSS["manager_email"]),  # no documents shown; no name
    _person(3, "Sales", [POLICY], **BOSS),  # leaves on day 2
    _person(4, "Engineering", [SDP, POLICY], **BOSS),  # their set in another order; day 6
    _person(5, "Sales", [POLICY], **BOSS),  # never: both reminders and the digest
]
# joins on day 3 into the lead engineer's team; the batch finds the manager's name
JOINER = Recipient(
    email="joiner000@larkspur.example",
    name="Joiner 000",
    department="Engineering",
    manager_email="person000@larkspur.example",
    acknowledges=BOTH,
)


async def _page(tier: Tier, data: CampaignInput, person: str) -> AckPage:
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    page: AckPage | None = await handle.query(AcknowledgementBatchWorkflow.page, person)
    assert page is not None
    return page


async def _ack(tier: Tier, data: CampaignInput, person: str, **fields: object) -> Acknowledgement:
    """``person``'s acknowledgement through their newest link, of the documents their page shows
    unless ``fields`` say otherwise."""
    page = await _page(tier, data, person)
    values: dict[str, object] = {
        "person": person,
        "version_hash": data.signed.version_hash,
        "link_id": uuid.uuid4().hex,
        "documents": page.documents,
        "ip": f"198.51.100.{len(person)}",
        "user_agent": "Mozilla/5.0 (logic tier)",
        "link_sequence": page.newest_link,
    }
    values.update(fields)
    return Acknowledgement.model_validate(values)


async def _acknowledge(tier: Tier, data: CampaignInput, ack: Acknowledgement) -> AckReceipt:
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    receipt: AckReceipt = await handle.execute_update(
        AcknowledgementBatchWorkflow.acknowledge, ack, id=f"ack-{ack.link_id}"
    )
    return receipt


def _names(person: Recipient) -> list[str]:
    """The person's documents in the version's order."""
    return [name for name in SIGNED.documents if name in (person.acknowledges or [])]


def _documents(person: Recipient, ack: Acknowledgement) -> dict[str, str]:
    """What the register records as acknowledged: as shown, or the person's own when none shown."""
    return dict(ack.documents) or {name: SIGNED.documents[name] for name in _names(person)}


def _receipt(person: Recipient, ack: Acknowledgement, at: datetime, *, already: bool = False) -> AckReceipt:
    documents = _documents(person, ack)
    return AckReceipt(
        organisation=ORGANISATION,
        lead_name=LEAD.name,
        person=person.email,
        name=person.name,
        acknowledged_at=at,
        version=SIGNED.version,
        version_hash=SIGNED.version_hash,
        documents=documents,
        ip=ack.ip,
        user_agent=ack.user_agent,
        already=already,
        titles={name: SIGNED.titles[name] for name in documents},
        versions={name: SIGNED.versions[name] for name in documents},
        statement=SIGNED.statement_for(list(documents)),
    )


def _line(
    person: Recipient,
    *,
    invited_at: datetime,
    reminded_at: list[datetime] | None = None,
    escalated_at: datetime | None = None,
    left_at: datetime | None = None,
    acknowledged: tuple[Acknowledgement, datetime] | None = None,
    joined: bool = False,
    manager_name: str | None = None,
) -> PersonRecord:
    """The register line the batch must give, made from the inputs and the times of its steps."""
    line = PersonRecord(
        email=person.email,
        name=person.name,
        department=person.department,
        manager_email=person.manager_email,
        manager_name=manager_name or person.manager_name,
        joined=joined,
        invited_at=invited_at,
        reminded_at=reminded_at or [],
        escalated_at=escalated_at,
        left_at=left_at,
        acknowledges=person.acknowledges,
    )
    if acknowledged is None:
        return line
    ack, at = acknowledged
    documents = _documents(person, ack)
    questions = SDP in _names(person)
    return line.model_copy(
        update={
            "acknowledged_at": at,
            "ip": ack.ip,
            "user_agent": ack.user_agent,
            "version_hash": ack.version_hash,
            "documents": documents,
            "acknowledged_documents": [
                AcknowledgedDocument(
                    id=PurePosixPath(name).stem,
                    name=name,
                    title=SIGNED.titles[name],
                    version=SIGNED.versions[name],
                    sha256=documents[name],
                )
                for name in _names(person)
            ],
            "answers": dict(ack.answers) if questions else {},
            "first_answers": (dict(ack.first_answers) or dict(ack.answers)) if questions else {},
            "attempts": max(ack.attempts, 1) if questions else 0,
        }
    )


async def test_every_line_page_and_receipt_is_the_one_built_from_the_inputs(tier: Tier) -> None:
    _, data = await tier.start_campaign(PEOPLE, signed=SIGNED)
    batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    invitations = await tier.standins.wait(
        lambda: found if len(found := step(tier, "invitation")) >= 6 else None
    )
    invited = invitations[0].at
    lead, engineer, seller, leaver, reordered, late = PEOPLE
    acks: dict[str, tuple[Acknowledgement, datetime]] = {}
    receipts: dict[str, AckReceipt] = {}

    async def acknowledge(person: Recipient, **fields: object) -> None:
        ack = await _ack(tier, data, person.email, **fields)
        receipt = await _acknowledge(tier, data, ack)
        assert receipt == _receipt(person, ack, receipt.acknowledged_at)
        assert close_to(receipt.acknowledged_at, await tier.now())
        acks[person.email] = (ack, receipt.acknowledged_at)
        receipts[person.email] = receipt

    await tier.sleep(DAY)
    await acknowledge(lead, answers=RIGHT, attempts=2, first_answers={SDP: [0, 0]})
    await acknowledge(seller, documents={})  # none shown: their own are recorded
    # a repeat (in a group) is refused with the first receipt, marked as already recorded
    repeat = AckGroup(acks=[await _ack(tier, data, lead.email.upper(), answers=RIGHT)])
    (again,) = (
        await batch.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, repeat, id="group-0")
    ).outcomes
    assert again.earlier == receipts[lead.email].model_copy(update={"already": True})

    await tier.sleep(DAY)
    await batch.signal(AcknowledgementBatchWorkflow.staff_changed, BatchChange(leavers=[leaver.email]))
    left = await tier.until(
        lambda: _page(tier, data, leaver.email),
        lambda page: page.person is not None and page.person.left_at is not None,
    )
    assert left.person is not None
    await tier.sleep(DAY)
    await batch.signal(AcknowledgementBatchWorkflow.staff_changed, BatchChange(joiners=[JOINER]))
    joined = await tier.standins.wait(lambda: found if len(found := step(tier, "invitation")) >= 7 else None)
    joined_at = joined[-1].at
    assert close_to(joined_at, invited + 3 * DAY)

    await tier.sleep(2 * DAY + DAY // 2)  # day 5 and a half: the first cohort's first reminder
    first_reminders = await tier.standins.wait(
        lambda: found if len(found := step(tier, "reminder-1")) >= 3 else None
    )
    assert sorted(m.to[0] for m in first_reminders) == [engineer.email, reordered.email, late.email]
    group_acks = [await _ack(tier, data, engineer.email, answers=RIGHT, attempts=1)]
    answered: AckGroupReceipt = await batch.execute_update(
        AcknowledgementBatchWorkflow.acknowledge_group, AckGroup(acks=group_acks), id="group-1"
    )
    (outcome,) = answered.outcomes
    assert outcome.receipt is not None
    assert outcome.receipt == _receipt(engineer, group_acks[0], outcome.receipt.acknowledged_at)
    acks[engineer.email] = (group_acks[0], outcome.receipt.acknowledged_at)
    await acknowledge(reordered, answers=RIGHT, attempts=1)
    # the joiner's page lists the version's order; they send the hashes the other way round
    shown = dict(reversed((await _page(tier, data, JOINER.email)).documents.items()))
    assert list(shown) == [SDP, POLICY]
    await acknowledge(JOINER, documents=shown, answers=RIGHT, attempts=1)
    assert list(receipts[JOINER.email].documents) == [SDP, POLICY]

    # the view every page is made from holds each person as their line does
    view: BatchView | None = await batch.query(AcknowledgementBatchWorkflow.batch_view)
    assert view is not None
    for person in [*PEOPLE, JOINER]:
        page = await _page(tier, data, person.email)
        assert page.person is not None
        key = person.email.casefold()
        assert view.people[key] == ViewPerson.of(page.person, page.newest_link)

    await tier.sleep(23 * DAY)  # past the deadline (day 28): the batch stores its records
    await tier.standins.wait_calls("store_batch_records")
    (stored,) = tier.standins.of("store_batch_records")
    records = {record.email: record for record in stored.data.records}
    assert list(records) == [person.email for person in [*PEOPLE, JOINER]]

    def at(step_name: str, person: Recipient) -> datetime:
        """When the workflow recorded ``person``'s email of ``step_name`` as sent: the time the
        line holds, checked against the stand-in's call (the workflow's clock moves on a little)."""
        (mail,) = [m for m in step(tier, step_name) if m.to == [person.email]]
        record = records[person.email]
        recorded = (
            record.invited_at
            if step_name == "invitation"
            else record.reminded_at[int(step_name.removeprefix("reminder-")) - 1]
        )
        assert recorded is not None
        assert close_to(recorded, mail.at), (step_name, person.email)
        return recorded

    (digest,) = tier.standins.mails(lambda m: m.template == "manager_digest")
    assert digest.to == [BOSS["manager_email"]]
    assert digest.context["people"] == [f"{late.name} <{late.email}> ({late.department})"]
    escalated = records[late.email].escalated_at
    assert escalated is not None
    assert close_to(escalated, digest.at)
    expected = {
        lead.email: _line(lead, invited_at=at("invitation", lead), acknowledged=acks[lead.email]),
        engineer.email: _line(
            engineer,
            invited_at=at("invitation", engineer),
            reminded_at=[at("reminder-1", engineer)],
            acknowledged=acks[engineer.email],
        ),
        seller.email: _line(seller, invited_at=at("invitation", seller), acknowledged=acks[seller.email]),
        leaver.email: _line(leaver, invited_at=at("invitation", leaver), left_at=left.person.left_at),
        reordered.email: _line(
            reordered,
            invited_at=at("invitation", reordered),
            reminded_at=[at("reminder-1", reordered)],
            acknowledged=acks[reordered.email],
        ),
        late.email: _line(
            late,
            invited_at=at("invitation", late),
            reminded_at=[at("reminder-1", late), at("reminder-2", late)],
            escalated_at=escalated,
        ),
        JOINER.email: _line(
            JOINER,
            invited_at=at("invitation", JOINER),
            acknowledged=acks[JOINER.email],
            joined=True,
            manager_name=lead.name,
        ),
    }
    for email, record in records.items():
        assert record.model_dump_json() == expected[email].model_dump_json(), email
    # a few of the values spelled out, in case the builders above went wrong the same way
    assert records[lead.email].email == "Person000@Larkspur.example"
    assert records[lead.email].first_answers == {SDP: [0, 0]}
    assert records[engineer.email].first_answers == RIGHT
    assert records[seller.email].documents == {POLICY: SIGNED.documents[POLICY]}
    assert records[seller.email].manager_name is None
    assert [d.name for d in records[reordered.email].acknowledged_documents] == [POLICY, SDP]
    assert records[reordered.email].acknowledges == [SDP, POLICY]
    assert list(records[JOINER.email].documents) == [SDP, POLICY]
    assert [d.name for d in records[JOINER.email].acknowledged_documents] == [POLICY, SDP]
    assert records[JOINER.email].manager_name == "Person 000"
