"""The web app's kept batch views, with a stand-in for the query (no servers).

Within the bound the kept view answers; concurrent requests for a missing one wait for one
query; ``fresh`` asks again; 0 asks every time; a receipt this process got shows at once and
stays on top of a view fetched before it was recorded; the least recently used batch goes
first; a view never goes back to an older revision.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from models.ack_group import BatchView, ViewPerson
from models.campaign import AckReceipt, SignedVersion
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
