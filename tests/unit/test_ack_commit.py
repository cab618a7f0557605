"""The group committer's own rules, with a stand-in for the update (no servers).

At most 8 groups in flight per batch, and while they are the acknowledgements queue and the
next group takes them all (up to the most a group holds); a group waits for the window only
while there is room; a double click shares its slot; one person at most once per group; a
failed group fails each of its requests; at shutdown what is pending is sent, never dropped.
The real update is exercised in tests/workflows/test_ack_group_commit.py and tests/faults.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from models.ack_group import AckGroup, AckGroupReceipt, AckOutcome, group_update_id
from models.campaign import Acknowledgement, AckReceipt
from web.ack_commit import AckCommitter, CommitterClosedError


def _ack(person: str, link: str | None = None) -> Acknowledgement:
    return Acknowledgement(person=person, version_hash="v" * 64, link_id=link or f"link-{person}")


class StandInBatch:
    """Answers each group after ``hold`` is set, recording each group and the peak in flight."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, list[str]]] = []
        self.in_flight = 0
        self.peak = 0
        self.hold = asyncio.Event()
        self.hold.set()
        self.fail: Exception | None = None

    async def send(self, batch_id: str, group: AckGroup, update_id: str) -> AckGroupReceipt:
        assert update_id == group_update_id(group)
        self.groups.append((batch_id, [ack.person for ack in group.acks]))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.hold.wait()
            await asyncio.sleep(0.01)
            if self.fail is not None:
                raise self.fail
            return AckGroupReceipt(outcomes=[AckOutcome(receipt=_receipt(ack)) for ack in group.acks])
        finally:
            self.in_flight -= 1


def _receipt(ack: Acknowledgement) -> AckReceipt:
    return AckReceipt(
        person=ack.person,
        name=ack.person,
        acknowledged_at=datetime(2026, 12, 2, 9, tzinfo=UTC),
        version="3.0",
        version_hash=ack.version_hash,
        documents={},
    )


async def test_groups_grow_with_the_load_and_never_exceed_eight_in_flight() -> None:
    batch = StandInBatch()
    committer = AckCommitter(send=batch.send, window=0.02, most=5)
    batch.hold.clear()  # the first groups stay in flight while the rest arrive
    first = [asyncio.create_task(committer.commit("b1", _ack(f"p{n}"))) for n in range(40)]
    await asyncio.sleep(0.05)
    assert committer.in_flight("b1") == 8
    assert [len(people) for _, people in batch.groups] == [5] * 8, "full groups leave without waiting"
    later = [asyncio.create_task(committer.commit("b1", _ack(f"q{n}"))) for n in range(7)]
    await asyncio.sleep(0.05)
    assert len(batch.groups) == 8, "nothing more leaves while eight are in flight"
    batch.hold.set()
    outcomes = await asyncio.gather(*first, *later)
    assert [o.receipt.person for o in outcomes if o.receipt] == [f"p{n}" for n in range(40)] + [
        f"q{n}" for n in range(7)
    ], "each request gets its own outcome"
    assert batch.peak == 8
    assert sorted(len(people) for _, people in batch.groups[8:]) == [2, 5], "the queued seven, as they fit"
    assert len(committer) == 0


async def test_the_window_gathers_and_a_double_click_shares_its_slot() -> None:
    batch = StandInBatch()
    committer = AckCommitter(send=batch.send, window=0.05, most=64)
    clicks = [committer.commit("b1", _ack("ada")) for _ in range(3)]
    other = committer.commit("b1", _ack("bob"))
    second_link = committer.commit("b1", _ack("ada", link="ada-second-email"))
    elsewhere = committer.commit("b2", _ack("cy"))
    results = await asyncio.gather(*clicks, other, second_link, elsewhere)
    assert len({id(result) for result in results[:3]}) == 1, "one slot for the same link"
    assert sorted(batch.groups) == [("b1", ["ada"]), ("b1", ["ada", "bob"]), ("b2", ["cy"])], (
        "one group per batch and window; the same person's other link in the next group"
    )


async def test_a_failed_group_fails_each_request_and_window_zero_sends_at_once() -> None:
    batch = StandInBatch()
    batch.fail = TimeoutError("no answer in time")
    committer = AckCommitter(send=batch.send, window=0, most=64)
    results = await asyncio.gather(
        committer.commit("b1", _ack("ada")), committer.commit("b1", _ack("bob")), return_exceptions=True
    )
    assert all(isinstance(result, TimeoutError) for result in results)
    assert batch.groups[0] == ("b1", ["ada"]), "window 0: the first leaves alone, at once"


async def test_shutdown_sends_what_is_pending_and_takes_no_more() -> None:
    batch = StandInBatch()
    committer = AckCommitter(send=batch.send, window=30, most=64)  # a window no test waits out
    pending = [asyncio.create_task(committer.commit("b1", _ack(f"p{n}"))) for n in range(3)]
    await asyncio.sleep(0.01)
    assert batch.groups == []
    await committer.close()
    assert batch.groups == [("b1", ["p0", "p1", "p2"])]
    assert all(task.done() and task.result().receipt is not None for task in pending)
    with pytest.raises(CommitterClosedError):
        await committer.commit("b1", _ack("late"))


def test_a_groups_update_id_follows_what_it_carries() -> None:
    one, two = _ack("ada"), _ack("bob")
    assert group_update_id(AckGroup(acks=[one, two])) == group_update_id(AckGroup(acks=[two, one]))
    assert group_update_id(AckGroup(acks=[one])) != group_update_id(AckGroup(acks=[one, two]))
    retried_with_proof = AckGroup(acks=[one, two], proof="p")
    assert group_update_id(retried_with_proof) == group_update_id(AckGroup(acks=[one, two]))
    other_answers = one.model_copy(update={"answers": {"policy.docx": [1]}})
    assert group_update_id(AckGroup(acks=[other_answers])) != group_update_id(AckGroup(acks=[one]))
