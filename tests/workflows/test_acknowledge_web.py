"""The staff acknowledgement page through the real web app, against running batch workflows.

A GET (a mail scanner) records nothing; the confirmation is a POST with CSRF and is recorded
once however many requests and links race for it; many people acknowledging at once in one
batch are all recorded (the web app bounds its in-flight updates per batch); every way a
link can be wrong gets its plain page and records nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client, WorkflowHandle

from adapters.campaign import batch_progress
from core.contract import Message
from core.settings import Settings
from models.campaign import AckPage, BatchChange, BatchProgress, CampaignInput, batch_id_for
from models.links import LinkRole
from tests.workflows.campaign_helpers import (
    batch_of,
    ladder,
    staff_link,
    staff_rows,
    start_campaign,
    wait_until,
)
from web.acknowledge import UPDATES_IN_FLIGHT_PER_WORKFLOW, UpdateGates
from web.app import create_app
from workflows.acknowledgement import AcknowledgementBatchWorkflow

USER_AGENT = "pytest-acknowledge/1.0 (like a browser)"


@dataclass
class Web:
    app: FastAPI
    http: httpx.AsyncClient


@dataclass
class Campaign:
    handle: WorkflowHandle
    data: CampaignInput
    emails: list[str]

    @property
    def cycle_id(self) -> str:
        return self.data.cycle_id


@pytest.fixture
async def web(review: tuple[Client, Settings]) -> AsyncIterator[Web]:
    temporal, settings = review
    app = create_app(settings, client=temporal)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://isms.test",
        headers={"User-Agent": USER_AGENT},
    ) as client:
        yield Web(app=app, http=client)


@pytest.fixture
async def campaigns(
    review: tuple[Client, Settings], tmp_path: Path
) -> AsyncIterator[Callable[[int], Awaitable[Campaign]]]:
    """Start a campaign of ``n`` people (one batch, nothing closes for days) and wait for it."""
    client, settings = review
    started: list[Campaign] = []

    async def start(people: int) -> Campaign:
        rows = staff_rows(people)
        folder = tmp_path / f"campaign-{len(started)}"
        folder.mkdir()
        handle, data = await start_campaign(client, settings, folder, rows, schedule=ladder())
        campaign = Campaign(handle=handle, data=data, emails=[row["email"] for row in rows])
        started.append(campaign)
        await wait_until(client, data.cycle_id, lambda p: p.batches == 1 and p.tally.total == people)
        return campaign

    yield start
    for campaign in started:
        await campaign.handle.terminate("test over")  # its batches are terminated with it


async def _progress(client: Client, campaign: Campaign) -> BatchProgress:
    return await batch_progress(client, campaign.cycle_id, 1)


async def _page(client: Client, campaign: Campaign, email: str) -> AckPage:
    handle = client.get_workflow_handle(batch_id_for(campaign.cycle_id, 1))
    page = await handle.query(AcknowledgementBatchWorkflow.page, email)
    assert page is not None
    return page


async def _link(review: tuple[Client, Settings], campaign: Campaign, email: str, **claims: object) -> str:
    client, settings = review
    batch = await batch_of(client, campaign.cycle_id, campaign.emails[0], 1)
    return staff_link(settings, campaign.data, email, batch, **claims)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def _fact(page: str, label: str) -> str:
    match = re.search(rf"<tr><th>{re.escape(label)}</th><td[^>]*>([^<]*)</td></tr>", page)
    assert match, f"no {label!r} on the page"
    return unescape(match.group(1))


async def test_a_get_records_nothing_and_the_page_shows_the_fingerprints(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[[int], Awaitable[Campaign]]
) -> None:
    client, _ = review
    campaign = await campaigns(3)
    email = campaign.emails[1]
    token = await _link(review, campaign, email)

    page = await web.http.get(f"/ack/{token}")
    assert page.status_code == 200, page.text
    assert "Read and acknowledge version 3.0" in page.text
    assert "Person 000001" in page.text
    for digest in campaign.data.signed.documents.values():
        assert digest in page.text
    assert ">I have read and accept</button>" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert f"Path=/ack/{token}" in page.headers["set-cookie"]

    for name, digest in campaign.data.signed.documents.items():  # a scanner following the viewers
        pdf = await web.http.get(f"/ack/{token}/documents/{name}")
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF-")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"].startswith("inline")
        assert pdf.headers["x-content-type-options"] == "nosniff"
        assert pdf.headers["cache-control"] == "no-store"
        assert digest == campaign.data.signed.pdfs[name].sha256
    missing = await web.http.get(f"/ack/{token}/documents/no-such.docx")
    assert missing.status_code == 404
    assert "No such document" in missing.text

    assert (await _progress(client, campaign)).tally.acknowledged == 0
    assert (await _page(client, campaign, email)).person.acknowledged_at is None  # type: ignore[union-attr]


async def test_a_post_with_csrf_records_once_with_the_evidence(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[[int], Awaitable[Campaign]]
) -> None:
    client, _ = review
    campaign = await campaigns(3)
    email = campaign.emails[2]
    token = await _link(review, campaign, email)
    csrf = _csrf((await web.http.get(f"/ack/{token}")).text)

    first = await web.http.post(f"/ack/{token}", data={"csrf": csrf})
    assert first.status_code == 200, first.text
    assert "Thank you: your acknowledgement is recorded" in first.text
    assert _fact(first.text, "Name") == f"Person 000002 <{email}>"
    assert _fact(first.text, "Version") == "3.0"
    assert _fact(first.text, "From") == f"127.0.0.1; {USER_AGENT}"
    assert "I have read and accept the Information Security Policy" in _fact(first.text, "Statement")
    for name, digest in campaign.data.signed.documents.items():
        assert _fact(first.text, f"SHA-256 of {name}") == digest

    record = (await _page(client, campaign, email)).person
    assert record is not None
    assert record.acknowledged_at is not None
    assert _fact(first.text, "Recorded at") == record.acknowledged_at.strftime("%d %B %Y, %H:%M:%S UTC")
    assert record.ip == "127.0.0.1"
    assert record.user_agent == USER_AGENT
    assert record.version_hash == campaign.data.signed.version_hash
    assert record.documents == campaign.data.signed.documents

    again = await web.http.post(f"/ack/{token}", data={"csrf": csrf})  # a double click: the same update
    assert again.status_code == 200
    assert _fact(again.text, "Recorded at") == _fact(first.text, "Recorded at")
    later = await web.http.get(f"/ack/{token}")
    assert later.status_code == 200
    assert "was already recorded at" in later.text
    assert ">I have read and accept</button>" not in later.text

    progress = await _progress(client, campaign)
    assert progress.tally.acknowledged == 1
    assert progress.tally.outstanding == 2


async def test_twenty_racing_requests_from_three_links_record_one_acknowledgement(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[[int], Awaitable[Campaign]]
) -> None:
    client, _ = review
    campaign = await campaigns(4)
    email = campaign.emails[3]
    tokens = [await _link(review, campaign, email) for _ in range(3)]  # three emails, one person
    forms = {token: {"csrf": _csrf((await web.http.get(f"/ack/{token}")).text)} for token in tokens}

    responses = await asyncio.gather(
        *(web.http.post(f"/ack/{tokens[n % 3]}", data=forms[tokens[n % 3]]) for n in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20, [
        r.text for r in responses if r.status_code != 200
    ]
    moments = {_fact(r.text, "Recorded at") for r in responses}
    assert len(moments) == 1, moments
    thanked = sum("Thank you: your acknowledgement is recorded" in r.text for r in responses)
    already = sum("Already acknowledged" in r.text for r in responses)
    assert thanked + already == 20
    assert thanked >= 1

    record = (await _page(client, campaign, email)).person
    assert record is not None
    assert record.acknowledged_at is not None
    assert moments == {record.acknowledged_at.strftime("%d %B %Y, %H:%M:%S UTC")}
    assert (await _progress(client, campaign)).tally.acknowledged == 1
    assert len(web.app.state.ack_update_gates) == 0  # nothing left in flight


async def test_forty_people_at_once_in_one_batch_are_all_recorded(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[[int], Awaitable[Campaign]]
) -> None:
    client, _ = review
    people = 40
    campaign = await campaigns(people)
    tokens = [await _link(review, campaign, email) for email in campaign.emails]
    forms = [{"csrf": _csrf((await web.http.get(f"/ack/{token}")).text)} for token in tokens]

    started = time.monotonic()
    responses = await asyncio.gather(
        *(web.http.post(f"/ack/{token}", data=form) for token, form in zip(tokens, forms, strict=True))
    )
    elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * people, [
        r.text for r in responses if r.status_code != 200
    ]
    assert all("Thank you: your acknowledgement is recorded" in r.text for r in responses)
    for email, response in zip(campaign.emails, responses, strict=True):
        assert f"&lt;{email}&gt;" in response.text
    progress = await _progress(client, campaign)
    assert progress.tally.acknowledged == people, progress
    assert progress.tally.outstanding == 0
    assert len(web.app.state.ack_update_gates) == 0
    assert elapsed < 60


async def test_update_gates_bound_in_flight_calls_per_workflow() -> None:
    gates = UpdateGates(UPDATES_IN_FLIGHT_PER_WORKFLOW)
    in_flight: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}

    async def call(workflow_id: str) -> None:
        async with gates.hold(workflow_id):
            in_flight[workflow_id] += 1
            peak[workflow_id] = max(peak[workflow_id], in_flight[workflow_id])
            await asyncio.sleep(0.01)
            in_flight[workflow_id] -= 1

    await asyncio.gather(*(call("a" if n % 3 else "b") for n in range(60)))
    assert peak == {"a": UPDATES_IN_FLIGHT_PER_WORKFLOW, "b": UPDATES_IN_FLIGHT_PER_WORKFLOW}
    assert len(gates) == 0  # the registry forgets idle workflows


BAD_LINKS: list[tuple[str, dict[str, object], int, str]] = [
    ("tampered", {"tamper": True}, 400, "This link is not valid"),
    ("expired", {"now": datetime.now(UTC) - timedelta(days=31)}, 410, "This link has expired"),
    ("wrong role", {"role": LinkRole.SIGNER}, 403, "This link is not for this page"),
    ("superseded", {"version_hash": "0" * 64}, 410, "A newer version has been sent"),
    ("unknown person", {"person": "nobody@larkspur.example"}, 403, "This link is not for this campaign"),
    ("not a batch", {"cycle_id": "isms-review-larkspur-2026"}, 400, "This link is not valid"),
    ("no such batch", {"batch": 99}, 400, "This link is not valid"),
]


@pytest.mark.parametrize(("name", "changes", "code", "heading"), BAD_LINKS, ids=[b[0] for b in BAD_LINKS])
async def test_a_bad_link_gets_a_plain_page_and_records_nothing(
    review: tuple[Client, Settings],
    web: Web,
    campaigns: Callable[[int], Awaitable[Campaign]],
    name: str,
    changes: dict[str, object],
    code: int,
    heading: str,
) -> None:
    client, _ = review
    campaign = await campaigns(2)
    email = campaign.emails[1]
    changes = dict(changes)
    tamper = changes.pop("tamper", False)
    if "batch" in changes:
        changes["cycle_id"] = batch_id_for(campaign.cycle_id, int(str(changes.pop("batch"))))
    good = await _link(review, campaign, email)
    csrf = _csrf((await web.http.get(f"/ack/{good}")).text)
    token = await _link(review, campaign, email, **changes)
    if tamper:
        token = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    document = next(iter(campaign.data.signed.documents))
    for response in (
        await web.http.get(f"/ack/{token}"),
        await web.http.get(f"/ack/{token}/documents/{document}"),
        await web.http.post(f"/ack/{token}", data={"csrf": csrf}),
    ):
        assert response.status_code == code, (name, response.text)
        assert heading in response.text
        assert "Nothing has been recorded or changed." in response.text
        assert ">I have read and accept</button>" not in response.text
    assert (await _progress(client, campaign)).tally.acknowledged == 0
    assert (await _page(client, campaign, email)).person.acknowledged_at is None  # type: ignore[union-attr]


@pytest.fixture
async def uncached_web(review: tuple[Client, Settings]) -> AsyncIterator[Web]:
    """The web app asking the batch for every page (``ack_page_cache_seconds`` 0)."""
    temporal, settings = review
    app = create_app(settings.model_copy(update={"ack_page_cache_seconds": 0}), client=temporal)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://isms.test",
        headers={"User-Agent": USER_AGENT},
    ) as client:
        yield Web(app=app, http=client)


async def test_a_leaver_link_no_longer_works(
    review: tuple[Client, Settings], uncached_web: Web, campaigns: Callable[[int], Awaitable[Campaign]]
) -> None:
    # the leaver reaches the batch without passing through the web app, so a page made from a
    # view kept since before it would still show the button for up to ack_page_cache_seconds
    # (the POST would be refused all the same: tests/workflows/test_ack_group_commit.py); here
    # every page asks the batch, to show the leaver's pages as soon as the batch has the change
    web = uncached_web
    client, _ = review
    campaign = await campaigns(3)
    email = campaign.emails[2]
    token = await _link(review, campaign, email)
    csrf = _csrf((await web.http.get(f"/ack/{token}")).text)

    batch = client.get_workflow_handle(batch_id_for(campaign.cycle_id, 1))
    await batch.signal(AcknowledgementBatchWorkflow.staff_changed, BatchChange(leavers=[email]))
    await wait_until(client, campaign.cycle_id, lambda p: p.left == 1)

    for response in (
        await web.http.get(f"/ack/{token}"),
        await web.http.get(f"/ack/{token}/documents/{next(iter(campaign.data.signed.documents))}"),
        await web.http.post(f"/ack/{token}", data={"csrf": csrf}),
    ):
        assert response.status_code == 410, response.text
        assert "This link no longer works" in response.text
        assert "you are no longer in scope" in response.text.lower()
        assert "Nothing has been recorded or changed." in response.text
    progress = await _progress(client, campaign)
    assert progress.tally.acknowledged == 0
    assert progress.tally.total == 2
    assert (await _page(client, campaign, email)).person.acknowledged_at is None  # type: ignore[union-attr]


async def test_a_post_without_csrf_records_nothing(
    review: tuple[Client, Settings], web: Web, campaigns: Callable[[int], Awaitable[Campaign]]
) -> None:
    client, _ = review
    campaign = await campaigns(2)
    email = campaign.emails[0]
    token = await _link(review, campaign, email)

    cold = await web.http.post(f"/ack/{token}")  # no page opened, no cookie, no field
    await web.http.get(f"/ack/{token}")  # the cookie is set now
    missing = await web.http.post(f"/ack/{token}")
    forged = await web.http.post(f"/ack/{token}", data={"csrf": "forged"})
    for response in (cold, missing, forged):
        assert response.status_code == 403, response.text
        assert "Please reload the page" in response.text
        assert "Nothing has been recorded or changed." in response.text
    assert (await _progress(client, campaign)).tally.acknowledged == 0
    assert (await _page(client, campaign, email)).person.acknowledged_at is None  # type: ignore[union-attr]


async def test_the_page_follows_the_refusal_type_not_its_wording(
    review: tuple[Client, Settings],
    web: Web,
    campaigns: Callable[[int], Awaitable[Campaign]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second link for someone who has acknowledged: the batch refuses it as
    ALREADY_ACKNOWLEDGED, worded here unlike any page's text, and the page still shows what was
    recorded the first time (not "Nothing was recorded")."""
    campaign = await campaigns(2)
    email = campaign.emails[0]
    first_link, second_link = [await _link(review, campaign, email) for _ in range(2)]
    first_csrf = _csrf((await web.http.get(f"/ack/{first_link}")).text)
    second_csrf = _csrf((await web.http.get(f"/ack/{second_link}")).text)  # opened before the first
    first = await web.http.post(f"/ack/{first_link}", data={"csrf": first_csrf})
    assert "Thank you: your acknowledgement is recorded" in first.text

    # the message comes from the contract: reword it (the worker runs in this process)
    monkeypatch.setattr(Message, "ALREADY_ACKNOWLEDGED", "zz reworded refusal")
    second = await web.http.post(f"/ack/{second_link}", data={"csrf": second_csrf})
    assert second.status_code == 200, second.text
    assert "Already acknowledged" in second.text
    assert _fact(second.text, "Recorded at") == _fact(first.text, "Recorded at")
    assert (await _progress(review[0], campaign)).tally.acknowledged == 1
