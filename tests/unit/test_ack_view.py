"""The web app's kept batch views, with a stand-in for the query (no servers).

Within the bound the kept view answers; concurrent requests for a missing one wait for one
query; ``fresh`` asks again; 0 asks every time; a receipt this process got shows at once and
stays on top of a view fetched before it was recorded; the least recently used batch goes
first; a view never goes back to an older revision; a batch nobody else reads within the
bound gets one person's page instead of a view, and a view from its second reader on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from models.ack_group import BatchView, ViewPerson, ack_page
from models.campaign import AckPage, AckReceipt, SignedVersion
from web.ack_view import BatchViews

AT = datetime(2026, 12, 2, 9, tzinfo=UTC)


def _view(revision: int, *, acknowledged: bool = False) -> BatchView:
    return BatchView(
        organisation="Larkspur",
        lead_name="Ravi",
        signed=SignedVersion(version="3.0", version_hash="v" * 64, documents={}, pdfs={}),
        deadline=AT,
        closed=False,
        revision=revision,
        people={
            "ada@x.example": ViewPerson(
                email="ada@x.example", name="Ada", acknowledged_at=AT if acknowledged else None
            )
        },
    )


class StandInQuery:
    def __init__(self, *views: BatchView) -> None:
        self.views = list(views)
        self.calls = 0

    async def __call__(self) -> BatchView:
        self.calls += 1
        await asyncio.sleep(0.01)
        return self.views[min(self.calls, len(self.views)) - 1].model_copy(deep=True)


async def test_one_query_for_many_and_the_view_kept_within_the_bound() -> None:
    views = BatchViews(60)
    query = StandInQuery(_view(1), _view(2))
    seen = await asyncio.gather(*(views.get("b1", query) for _ in range(10)))
    assert query.calls == 1, "concurrent requests wait for one query"
    assert {view.revision for view in seen if view} == {1}
    assert (await views.get("b1", query)) is seen[0]
    assert query.calls == 1
    fresh = await views.get("b1", query, fresh=True)
    assert (query.calls, fresh.revision if fresh else None) == (2, 2)
    always = BatchViews(0)
    await always.get("b1", query)
    await always.get("b1", query)
    assert query.calls == 4, "0: a query every time"


async def test_a_receipt_shows_at_once_and_outlives_an_older_answer() -> None:
    views = BatchViews(60)
    await views.get("b1", StandInQuery(_view(1)))
    receipt = AckReceipt(
        person="ADA@x.example",
        name="Ada",
        acknowledged_at=AT,
        version="3.0",
        version_hash="v" * 64,
        documents={},
    )
    views.recorded("b1", receipt)
    kept = await views.get("b1", StandInQuery(_view(1)))
    assert kept is not None
    assert kept.people["ada@x.example"].acknowledged_at == AT
    # a query answered by a view from before the acknowledgement (same revision): still shown
    again = await views.get("b1", StandInQuery(_view(1)), fresh=True)
    assert again is not None
    assert again.people["ada@x.example"].acknowledged_at == AT
    # an older revision than the one kept is never taken
    older = await views.get("b1", StandInQuery(_view(0)), fresh=True)
    assert older is not None
    assert older.revision == 1


async def test_the_least_recently_used_batch_goes_first() -> None:
    views = BatchViews(60, kept=2)
    for batch in ("b1", "b2"):
        await views.get(batch, StandInQuery(_view(1)))
    await views.get("b1", StandInQuery(_view(1)))  # used again: b2 is the oldest now
    await views.get("b3", StandInQuery(_view(1)))
    assert len(views) == 2
    query = StandInQuery(_view(1))
    await views.get("b1", query)
    assert query.calls == 0, "b1 is still kept"
    await views.get("b2", query)
    assert query.calls == 1, "b2 went first"


class StandInPage:
    """The ``page`` query for one person: the page made from the newest view the batch has."""

    def __init__(self, view: BatchView) -> None:
        self.view = view
        self.calls = 0

    async def __call__(self) -> AckPage:
        self.calls += 1
        await asyncio.sleep(0.01)
        return ack_page(self.view, "ada@x.example")


async def test_a_batch_nobody_else_reads_gets_one_persons_page_then_a_view_for_the_others() -> None:
    views = BatchViews(60)
    query, one = StandInQuery(_view(1), _view(2)), StandInPage(_view(1))
    first = await views.page("b1", "ada@x.example", one=one, every=query)
    assert (one.calls, query.calls) == (1, 0), "the first reader of a batch: that person's page only"
    assert first is not None
    assert first.person is not None
    assert first.person.email == "ada@x.example"
    second = await views.page("b1", "ada@x.example", one=one, every=query)
    assert (one.calls, query.calls) == (1, 1), "a second reader within the bound: the view, kept"
    third = await views.page("b1", "ada@x.example", one=one, every=query)
    assert (one.calls, query.calls) == (1, 1), "then the kept view answers"
    assert second == third == first
    await views.page("b1", "ada@x.example", one=one, every=query, fresh=True)
    assert query.calls == 2, "fresh: a new view, whatever is kept"
    assert (views.page_queries, views.queries) == (1, 2)


async def test_once_the_bound_has_passed_a_lone_reader_asks_for_a_page_again() -> None:
    views = BatchViews(0.05)
    query, one = StandInQuery(_view(1)), StandInPage(_view(1))
    await views.page("b1", "ada@x.example", one=one, every=query)
    await views.page("b1", "ada@x.example", one=one, every=query)  # within the bound: the view
    await asyncio.sleep(0.1)
    await views.page("b1", "ada@x.example", one=one, every=query)  # the view is old, nobody asked since
    assert (one.calls, query.calls) == (2, 1)
    zero = BatchViews(0)
    for _ in range(3):
        await zero.page("b2", "ada@x.example", one=one, every=query)
    assert one.calls == 5, "0: nothing is kept, and every page is the person's own, fresh"
