"""Group commit and kept views through the real web app, worker and Temporal dev server.

Many POSTs to one batch within the group window travel as fewer updates than people (the
batch's history counts them), each person recorded once and answered with their own receipt;
a double click in one group or in two is recorded once; the first page of a batch is that
person's own, the next ones come from one view kept for them, and a page after this
process's POST shows "already recorded" without asking the batch; and a POST from a page made from a kept view that
the batch has since overtaken (a leaver, a newer email) is refused and explained as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from adapters.campaign import batch_progress
from core.settings import Settings
from models.campaign import AckPage, BatchChange, CampaignInput, batch_id_for
from tests.workflows.campaign_helpers import ladder, staff_link, staff_rows, start_campaign, wait_until
from web.ack_view import BatchViews
from web.app import create_app
from workflows.acknowledgement import AcknowledgementBatchWorkflow

USER_AGENT = "pytest-group-commit/1.0"
NEWER_EMAIL = "A newer email has been sent"


@dataclass
class Web:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def views(self) -> BatchViews:
        views: BatchViews = self.app.state.ack_views
        return views


@dataclass
class Campaign:
    handle: WorkflowHandle
    data: CampaignInput
    emails: list[str]

    @property
    def batch(self) -> str:
        return batch_id_for(self.data.cycle_id, 1)


@pytest.fixture
async def web_with(review: tuple[Client, Settings]) -> AsyncIterator[Callable[..., Awaitable[Web]]]:
    """Web apps with these settings changed (a 50 ms group window unless given)."""
    temporal, settings = review
    async with contextlib.AsyncExitStack() as stack:

        async def make(**changes: object) -> Web:
            app = create_app(
                settings.model_copy(update={"ack_group_window_ms": 50, **changes}), client=temporal
            )
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://isms.test",
                    headers={"User-Agent": USER_AGENT},
                )
            )
            return Web(app=app, http=client)

        yield make


@pytest.fixture
async def web(web_with: Callable[..., Awaitable[Web]]) -> Web:
    """The web app with a 50 ms group window (and the default 2 s kept views)."""
    return await web_with()


@pytest.fixture
async def campaigns(
    review: tuple[Client, Settings], tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Campaign]]]:
    client, settings = review
    started: list[Campaign] = []

    async def start(people: int, *, scale: timedelta = timedelta(days=1)) -> Campaign:
        rows = staff_rows(people)
        folder = tmp_path / f"campaign-{len(started)}"
        folder.mkdir()
        handle, data = await start_campaign(client, settings, folder, rows, schedule=ladder(scale))
        campaign = Campaign(handle=handle, data=data, emails=[row["email"] for row in rows])
        started.append(campaign)
        await wait_until(client, data.cycle_id, lambda p: p.batches == 1 and p.tally.total == people)
        return campaign

    yield start
    for campaign in started:
        await campaign.handle.terminate("test over")


def _link(settings: Settings, campaign: Campaign, email: str, **claims: object) -> str:
    return staff_link(settings, campaign.data, email, 1, **claims)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def _fact(page: str, label: str) -> str:
    match = re.search(rf"<tr><th>{re.escape(label)}</th><td[^>]*>([^<]*)</td></tr>", page)
    assert match, f"no {label!r} on the page"
    return unescape(match.group(1))


async def _accepted_updates(client: Client, campaign: Campaign) -> int:
    history = await client.get_workflow_handle(campaign.batch).fetch_history()
    return sum(
        1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )


async def _page(client: Client, campaign: Campaign, email: str) -> AckPage:
    page = await client.get_workflow_handle(campaign.batch).query(AcknowledgementBatchWorkflow.page, email)
    assert page is not None
    return page


async def test_forty_at_once_travel_in_fewer_updates_each_with_its_own_receipt(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[..., Awaitable[Campaign]]
) -> None:
    client, settings = review
    people = 40
    campaign = await campaigns(people)
    tokens = [_link(settings, campaign, email) for email in campaign.emails]
    forms = [{"csrf": _csrf((await web.http.get(f"/ack/{token}")).text)} for token in tokens]

    responses = await asyncio.gather(
        *(web.http.post(f"/ack/{token}", data=form) for token, form in zip(tokens, forms, strict=True))
    )
    assert [r.status_code for r in responses] == [200] * people, [
        r.text for r in responses if r.status_code != 200
    ]
    for email, response in zip(campaign.emails, responses, strict=True):
        assert "Thank you: your acknowledgement is recorded" in response.text
        assert _fact(response.text, "Name").endswith(f"<{email}>"), "each request gets its own receipt"
        record = (await _page(client, campaign, email)).person
        assert record is not None
        assert record.acknowledged_at is not None
        assert _fact(response.text, "Recorded at") == record.acknowledged_at.strftime(
            "%d %B %Y, %H:%M:%S UTC"
        )
    updates = await _accepted_updates(client, campaign)
    assert 1 <= updates < people, f"{updates} updates for {people} acknowledgements"
    progress = await batch_progress(client, campaign.data.cycle_id, 1)
    assert (progress.tally.acknowledged, progress.tally.outstanding) == (people, 0)
    assert len(web.app.state.ack_committer) == 0, "nothing left waiting or in flight"
    assert len(web.app.state.ack_update_gates) == 0


async def test_a_double_click_in_one_group_or_in_two_is_recorded_once(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[..., Awaitable[Campaign]]
) -> None:
    client, settings = review
    campaign = await campaigns(3)
    one, two = campaign.emails[1], campaign.emails[2]

    token = _link(settings, campaign, one)
    form = {"csrf": _csrf((await web.http.get(f"/ack/{token}")).text)}
    together = await asyncio.gather(*(web.http.post(f"/ack/{token}", data=form) for _ in range(5)))
    assert [r.status_code for r in together] == [200] * 5
    assert all("Thank you: your acknowledgement is recorded" in r.text for r in together), "one slot, shared"
    assert len({_fact(r.text, "Recorded at") for r in together}) == 1
    after = await web.http.post(f"/ack/{token}", data=form)  # the same link, in a later group
    assert after.status_code == 200
    assert _fact(after.text, "Recorded at") == _fact(together[0].text, "Recorded at")

    first, second = _link(settings, campaign, two), _link(settings, campaign, two)  # two emails' links
    forms = [{"csrf": _csrf((await web.http.get(f"/ack/{t}")).text)} for t in (first, second)]
    recorded = await web.http.post(f"/ack/{first}", data=forms[0])
    assert "Thank you: your acknowledgement is recorded" in recorded.text
    again = await web.http.post(f"/ack/{second}", data=forms[1])  # another group: refused for them
    assert again.status_code == 200, again.text
    assert "Already acknowledged" in again.text
    assert _fact(again.text, "Recorded at") == _fact(recorded.text, "Recorded at")

    progress = await batch_progress(client, campaign.data.cycle_id, 1)
    assert (progress.tally.acknowledged, progress.tally.outstanding) == (2, 1)


async def test_the_page_after_a_post_shows_the_record_without_asking_the_batch(
    review: tuple[Client, Settings],
    web_with: Callable[..., Awaitable[Web]],
    campaigns: Callable[..., Awaitable[Campaign]],
) -> None:
    _, settings = review
    web = await web_with(ack_page_cache_seconds=60)  # kept for the whole test, however slow the machine
    campaign = await campaigns(3)
    email = campaign.emails[0]
    token = _link(settings, campaign, email)
    opened = await web.http.get(f"/ack/{token}")
    assert ">I have read and accept</button>" in opened.text
    assert (web.views.page_queries, web.views.queries) == (1, 0), "a lone reader: their own page only"
    others = [await web.http.get(f"/ack/{_link(settings, campaign, other)}") for other in campaign.emails[1:]]
    assert all(page.status_code == 200 for page in others)
    assert all(">I have read and accept</button>" in page.text for page in others)
    asked = web.views.queries
    assert (web.views.page_queries, asked) == (1, 1), "one view for the others, kept"

    posted = await web.http.post(f"/ack/{token}", data={"csrf": _csrf(opened.text)})
    assert "Thank you: your acknowledgement is recorded" in posted.text
    later = await web.http.get(f"/ack/{token}")
    assert later.status_code == 200
    assert "was already recorded at" in later.text
    assert ">I have read and accept</button>" not in later.text
    assert _fact(later.text, "Recorded at") == _fact(posted.text, "Recorded at")
    assert web.views.queries == asked, "the receipt was written into the kept view"


async def test_a_refused_post_from_a_kept_page_is_explained_as_before(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[..., Awaitable[Campaign]]
) -> None:
    client, settings = review
    # reminders after 5 and 10 seconds: the invitation's link is old a few seconds in
    campaign = await campaigns(3, scale=timedelta(seconds=1))
    leaver, reminded = campaign.emails[1], campaign.emails[2]
    leaver_token = _link(settings, campaign, leaver)
    leaver_form = {"csrf": _csrf((await web.http.get(f"/ack/{leaver_token}")).text)}
    invitation = _link(settings, campaign, reminded)
    invitation_form = {"csrf": _csrf((await web.http.get(f"/ack/{invitation}")).text)}

    batch = client.get_workflow_handle(campaign.batch)
    await batch.signal(AcknowledgementBatchWorkflow.staff_changed, BatchChange(leavers=[leaver]))
    await wait_until(client, campaign.data.cycle_id, lambda p: p.left == 1)
    refused = await web.http.post(f"/ack/{leaver_token}", data=leaver_form)
    assert refused.status_code == 410, refused.text
    assert "This link no longer works" in refused.text
    assert "Nothing has been recorded or changed." in refused.text
    shown = await web.http.get(f"/ack/{leaver_token}")  # the refusal brought a fresh view
    assert shown.status_code == 410

    for _ in range(200):  # the first reminder is recorded as sent (~5 s in)
        if (await _page(client, campaign, reminded)).newest_link >= 1:
            break
        await asyncio.sleep(0.1)
    assert (await _page(client, campaign, reminded)).newest_link >= 1
    old = await web.http.post(f"/ack/{invitation}", data=invitation_form)
    assert old.status_code == 410, old.text
    assert NEWER_EMAIL in old.text
    progress = await batch_progress(client, campaign.data.cycle_id, 1)
    assert progress.tally.acknowledged == 0
