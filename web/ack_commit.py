"""Group commit: the acknowledgements this process receives for one batch travel together.

A ``POST /ack/<token>`` hands its ``Acknowledgement`` to the app's :class:`AckCommitter` and
waits for its own outcome. Per batch workflow, the committer keeps at most
:data:`~adapters.workflow_client.UPDATES_IN_FLIGHT_PER_WORKFLOW` groups in flight; while it has
room it waits up to ``ack_group_window_ms`` for more acknowledgements to the same batch, then
sends up to ``ack_group_max`` of them as one ``acknowledge_group`` Update. While every slot is
in flight, acknowledgements queue and the next group takes them all, so groups grow with the
load. A group's update id is made from its links (``models.ack_group.group_update_id``): a
retried call is the same update, never a second one.

An outcome is handed back only once the update returned it, that is once the workflow has
recorded it; a failure of the group (a timeout, an RPC error, a refusal of the whole group) is
raised to every request in it. The same link twice in this process (a double click) waits for
the one slot already taken. On shutdown, pending groups are sent (or failed), never dropped.

>>> committer = AckCommitter(send=send, window=0.02, most=64)
>>> outcome = await committer.commit(batch_id, acknowledgement)
>>> await committer.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from adapters.workflow_client import UPDATES_IN_FLIGHT_PER_WORKFLOW
from models.ack_group import AckGroup, AckGroupReceipt, AckOutcome, group_update_id, person_key
from models.campaign import Acknowledgement

log = logging.getLogger(__name__)

# send(batch workflow id, group, update id) -> the group's receipt (raises as the update does)
SendGroup = Callable[[str, AckGroup, str], Awaitable[AckGroupReceipt]]


class CommitterClosedError(Exception):
    """The web app is shutting down: this acknowledgement was not sent."""


@dataclass
class _Slot:
    ack: Acknowledgement
    outcome: asyncio.Future[AckOutcome]


@dataclass
class _Batch:
    pending: dict[str, _Slot] = field(default_factory=dict)  # link id -> slot, in arrival order
    sending: dict[str, _Slot] = field(default_factory=dict)  # in a group in flight
    in_flight: int = 0
    window: asyncio.Task[None] | None = None  # waiting for more before the next group


class AckCommitter:
    """One queue per batch workflow id; each ``commit`` returns its own acknowledgement's outcome."""

    def __init__(
        self, *, send: SendGroup, window: float, most: int, in_flight: int = UPDATES_IN_FLIGHT_PER_WORKFLOW
    ) -> None:
        self._send = send
        self._window = window
        self._most = most
        self._limit = in_flight
        self._batches: dict[str, _Batch] = {}
        self._groups: set[asyncio.Task[None]] = set()
        self._closing = False

    async def commit(self, batch_id: str, ack: Acknowledgement) -> AckOutcome:
        """Send ``ack`` with whatever else is going to ``batch_id`` now; its outcome once recorded.

        Raises what the group's update raised (``UpdateRefusedError`` for a refusal of the whole
        group, an RPC error or timeout), or :class:`CommitterClosedError` during shutdown.
        """
        if self._closing:
            raise CommitterClosedError
        batch = self._batches.setdefault(batch_id, _Batch())
        slot = batch.pending.get(ack.link_id) or batch.sending.get(ack.link_id)
        if slot is None:  # a double click waits for the first request's slot
            slot = _Slot(ack, asyncio.get_running_loop().create_future())
            # a failure nobody awaits any more (the request went away) is not an unretrieved error
            slot.outcome.add_done_callback(lambda done: done.cancelled() or done.exception())
            batch.pending[ack.link_id] = slot
            self._schedule(batch_id, batch)
        # the request may be cancelled (its client went away); the group goes on for the others
        return await asyncio.shield(slot.outcome)

    def _schedule(self, batch_id: str, batch: _Batch) -> None:
        if batch.in_flight >= self._limit:
            return  # the next group leaves when one in flight comes back
        if self._window <= 0 or len(batch.pending) >= self._most or self._closing:
            self._send_groups(batch_id, batch)
        elif batch.window is None:
            batch.window = asyncio.create_task(self._after_window(batch_id, batch))

    async def _after_window(self, batch_id: str, batch: _Batch) -> None:
        await asyncio.sleep(self._window)  # cancelled when a full group leaves before
        batch.window = None
        self._send_groups(batch_id, batch)

    def _send_groups(self, batch_id: str, batch: _Batch) -> None:
        """Send what is pending, in groups of at most ``most``, while there is room in flight."""
        if batch.window is not None:
            batch.window.cancel()
            batch.window = None
        while batch.pending and batch.in_flight < self._limit:
            links = _one_each(batch.pending, self._most)
            slots = [batch.pending.pop(link) for link in links]
            batch.sending.update(zip(links, slots, strict=True))
            batch.in_flight += 1
            task = asyncio.create_task(self._send_group(batch_id, batch, slots))
            self._groups.add(task)
            task.add_done_callback(self._groups.discard)

    async def _send_group(self, batch_id: str, batch: _Batch, slots: list[_Slot]) -> None:
        group = AckGroup(acks=[slot.ack for slot in slots])
        log.debug("acknowledgement group of %d to %s (%d in flight)", len(slots), batch_id, batch.in_flight)
        try:
            receipt = await self._send(batch_id, group, group_update_id(group))
            if len(receipt.outcomes) != len(slots):
                raise RuntimeError(f"{len(receipt.outcomes)} outcomes for a group of {len(slots)}")
        except BaseException as exc:  # every request of the group gets the group's failure
            for slot in slots:
                if not slot.outcome.done():
                    slot.outcome.set_exception(exc if isinstance(exc, Exception) else CommitterClosedError())
            if not isinstance(exc, Exception):
                raise
        else:
            for slot, outcome in zip(slots, receipt.outcomes, strict=True):
                if not slot.outcome.done():
                    slot.outcome.set_result(outcome)
        finally:
            for slot in slots:
                batch.sending.pop(slot.ack.link_id, None)
            batch.in_flight -= 1
            if batch.pending:
                # they waited while every slot was in flight: the next group leaves at once
                self._send_groups(batch_id, batch)
            elif not batch.in_flight and batch.window is None:
                self._batches.pop(batch_id, None)

    def __len__(self) -> int:
        """How many batches have acknowledgements waiting or in flight here."""
        return len(self._batches)

    def in_flight(self, batch_id: str) -> int:
        """How many of the batch's groups are on their way to it now."""
        batch = self._batches.get(batch_id)
        return batch.in_flight if batch is not None else 0

    async def close(self) -> None:
        """Send everything pending now and wait for every group in flight; take no more."""
        self._closing = True
        for batch_id, batch in list(self._batches.items()):
            self._send_groups(batch_id, batch)
        while self._groups:
            await asyncio.gather(*self._groups, return_exceptions=True)
        for batch in self._batches.values():  # nothing should be left; if it is, say so to its request
            for slot in [*batch.pending.values(), *batch.sending.values()]:
                if not slot.outcome.done():
                    slot.outcome.set_exception(CommitterClosedError())
        self._batches.clear()


def _one_each(pending: dict[str, _Slot], most: int) -> list[str]:
    """The links of the next group: at most ``most``, in arrival order, one per person (another
    link of the same person waits for the next group, which refuses it as already acknowledged
    and answers with the first one's record)."""
    links: list[str] = []
    people: set[str] = set()
    for link, slot in pending.items():
        person = person_key(slot.ack.person)
        if person not in people:
            links.append(link)
            people.add(person)
            if len(links) == most:
                break
    return links


async def close_committer(app: object) -> None:
    """At the app's shutdown: send or fail whatever its committer holds."""
    committer: AckCommitter | None = getattr(getattr(app, "state", None), "ack_committer", None)
    if committer is not None:
        with contextlib.suppress(Exception):
            await committer.close()
