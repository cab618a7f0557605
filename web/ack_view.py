"""The acknowledgement pages without a workflow round trip per request.

:class:`BatchViews` keeps each batch's ``BatchView`` (the ``batch_view`` query) for
``ack_page_cache_seconds``: every GET of a batch's pages in that time is answered from it,
and concurrent GETs of a batch whose view is missing or old wait for one query between them
(single flight). It holds at most a few hundred batches, the least recently used going first.

Every receipt this process gets is written into its copy at once (:meth:`BatchViews.recorded`),
so the person's next page shows "already recorded" without waiting for the next query, and
is kept on top of views fetched later until one of them shows it. Anything else the workflow
changes (a reminder making a link old, a leaver, the close) shows once the copy is older than
the bound; the workflow's validator still refuses a POST from such a page, and the refusal is
explained from a fresh view (``fresh=True``).

A batch nobody else has asked for within the bound is not worth a whole view: in a campaign
of 400 batches the people reading at one moment are spread so thin that a view would rarely
serve a second page before it is old, and each costs the workflow everyone's lines. So
:meth:`BatchViews.page` asks for that one person's page (the ``page`` query) when the batch
was not asked for within the bound, and for the whole view, kept for the next ones, from the
second request within it on.

>>> views = BatchViews(seconds=2.0)
>>> page = await views.page(batch_id, email, one=lambda: handle.page(email), every=handle.view)
>>> view = await views.get(batch_id, handle.view)
>>> views.recorded(batch_id, receipt)
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from models.ack_group import BatchView, ack_page, person_key
from models.campaign import AckPage, AckReceipt

# batches whose view is kept at once (a batch's view is a few hundred people: ~100 kB)
VIEWS_KEPT = 300


@dataclass
class _Kept:
    view: BatchView
    fetched: float  # time.monotonic() when its query was sent
    # receipts this process got, by person key, until a view from the workflow shows them
    receipts: dict[str, AckReceipt] = field(default_factory=dict)


class BatchViews:
    """Each batch's view for ``seconds`` (0: a query every time), at most ``kept`` batches."""

    def __init__(self, seconds: float, *, kept: int = VIEWS_KEPT) -> None:
        self._seconds = seconds
        self._most = kept
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._fetching: dict[str, asyncio.Future[BatchView | None]] = {}
        # when each batch was last asked for (most recent last; bounded like the views)
        self._asked: OrderedDict[str, float] = OrderedDict()
        self.queries = 0  # how many view queries this cache sent (for tests and the benchmark)
        self.page_queries = 0  # how many one-person page queries it chose instead

    async def page(
        self,
        batch_id: str,
        email: str,
        *,
        one: Callable[[], Awaitable[AckPage | None]],
        every: Callable[[], Awaitable[BatchView | None]],
        fresh: bool = False,
    ) -> AckPage | None:
        """``email``'s page: from the kept view when it is young enough (and not ``fresh``);
        else from ``one()`` (that person's page) when nobody asked for this batch within the
        bound and no view is on its way; else from a new view (``every()``), kept for the others."""
        now = time.monotonic()
        last = self._asked.pop(batch_id, None)
        self._asked[batch_id] = now
        while len(self._asked) > self._most * 4:
            self._asked.popitem(last=False)
        kept = self._kept.get(batch_id)
        young = kept is not None and self._seconds > 0 and now - kept.fetched < self._seconds
        alone = last is None or now - last >= self._seconds
        if not (young and not fresh) and alone and batch_id not in self._fetching:
            self.page_queries += 1
            return await one()  # the workflow's own page for the person: as fresh as it gets
        view = await self.get(batch_id, every, fresh=fresh)
        return ack_page(view, email) if view is not None else None

    async def get(
        self, batch_id: str, fetch: Callable[[], Awaitable[BatchView | None]], *, fresh: bool = False
    ) -> BatchView | None:
        """The batch's view: the copy kept when younger than the bound (and not ``fresh``), else
        from ``fetch()`` (the query; its errors are raised to every request waiting on it)."""
        fresh = fresh or self._seconds <= 0  # 0: every page from a query sent after it was asked for
        kept = self._kept.get(batch_id)
        if kept is not None and not fresh and time.monotonic() - kept.fetched < self._seconds:
            self._kept.move_to_end(batch_id)
            return kept.view
        waiting = self._fetching.get(batch_id)
        if waiting is None or fresh:
            waiting = asyncio.ensure_future(self._fetch(batch_id, fetch))
            if batch_id not in self._fetching:
                self._fetching[batch_id] = waiting
                waiting.add_done_callback(lambda _: self._fetching.pop(batch_id, None))
        return await asyncio.shield(waiting)

    async def _fetch(
        self, batch_id: str, fetch: Callable[[], Awaitable[BatchView | None]]
    ) -> BatchView | None:
        sent = time.monotonic()
        self.queries += 1
        view = await fetch()
        if view is None:  # not started: nothing to keep (the page asks to come back in a minute)
            return None
        kept = self._kept.get(batch_id)
        if kept is not None and kept.view.revision > view.revision:
            return kept.view  # an answer overtaken by a newer one
        receipts = kept.receipts if kept is not None else {}
        for key in [key for key, _ in receipts.items() if _shown(view, key)]:
            del receipts[key]  # the workflow's view shows it: that is the record now
        self._kept[batch_id] = fresh = _Kept(view=view, fetched=sent, receipts=receipts)
        self._kept.move_to_end(batch_id)
        while len(self._kept) > self._most:
            self._kept.popitem(last=False)
        return _patched(fresh)

    def recorded(self, batch_id: str, receipt: AckReceipt) -> None:
        """``receipt`` is recorded in the workflow: show it on this batch's pages from now on."""
        kept = self._kept.get(batch_id)
        if kept is None:
            return
        kept.receipts[person_key(receipt.person)] = receipt
        _patched(kept)

    def __len__(self) -> int:
        return len(self._kept)


def _shown(view: BatchView, key: str) -> bool:
    person = view.people.get(key)
    return person is None or person.acknowledged_at is not None


def _patched(kept: _Kept) -> BatchView:
    """``kept.view`` with this process's receipts written in (an acknowledgement is never undone)."""
    people = kept.view.people
    for key, receipt in kept.receipts.items():
        person = people.get(key)
        if person is not None and person.acknowledged_at is None:
            people[key] = person.with_receipt(receipt)
    return kept.view
