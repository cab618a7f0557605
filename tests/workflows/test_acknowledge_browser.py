"""A member of staff acknowledges in a real browser: Debian's Chromium, driven by Playwright.

The link comes from the invitation in the SMTP sink, minted by the campaign's mail activity
for the public URL where uvicorn really listens; the web app runs under uvicorn in this event
loop. After "I have read and accept", the batch's figures show the acknowledgement.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import async_playwright
from temporalio.client import Client

from activities.pdf_convert import PdfConverter
from core.campaign import batch_progress
from core.settings import Settings
from core.temporal import connect_temporal
from devstack.ports import find_free_ports
from models.campaign import batch_id_for
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import batch_of, ladder, staff_rows, start_campaign, wait_until
from tests.workflows.helpers import wait_for_mail
from web.app import create_app
from worker import build_worker
from workflows.acknowledgement import AcknowledgementBatchWorkflow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def served(settings: Settings, pdf_converter: PdfConverter) -> AsyncIterator[tuple[Client, Settings]]:
    """Worker and web app sharing settings whose public URL is where uvicorn really listens."""
    (port,) = find_free_ports(1)
    settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    client = await connect_temporal(settings)
    app = create_app(settings, client=client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.05)
    async with build_worker(client, settings, converter=pdf_converter):
        yield client, settings
    server.should_exit = True
    await serving


async def test_a_person_acknowledges_in_chromium(
    served: tuple[Client, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    client, settings = served
    rows = staff_rows(3)
    person = rows[1]
    handle, data = await start_campaign(client, settings, tmp_path, rows, schedule=ladder())
    try:
        await wait_until(client, data.cycle_id, lambda p: p.batches == 1 and p.tally.total == 3)
        invitation = await wait_for_mail(smtp_sink, data.cycle_id, f"ack/{person['email']}/invitation")
        body = invitation.get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(rf"{re.escape(settings.public_base_url)}/ack/\S+", body.get_content())
        assert match, "no acknowledgement link in the invitation"
        link = match.group(0).rstrip(").,>")

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            documents: dict[str, tuple[int, str]] = {}  # what the inline viewers fetched
            page.on(
                "response",
                lambda r: (
                    documents.update({r.url: (r.status, r.headers.get("content-type", ""))})
                    if "/documents/" in r.url
                    else None
                ),
            )
            await page.goto(link)  # waits for the load event, so for the viewers too
            await page.get_by_role("heading", name="Read and acknowledge version 3.0").wait_for()
            assert sorted(documents.values()) == [(200, "application/pdf")] * 2, documents
            for digest in data.signed.documents.values():
                assert digest in await page.content()
            await page.screenshot(path=str(tmp_path / "acknowledgement-page.png"), full_page=True)
            await page.get_by_role("button", name="I have read and accept").click()
            await page.get_by_role("heading", name="Thank you: your acknowledgement is recorded").wait_for()
            confirmation = await page.content()
            await page.screenshot(path=str(tmp_path / "acknowledgement-recorded.png"), full_page=True)
            await browser.close()
        assert f"{person['name']} &lt;{person['email']}&gt;" in confirmation
        assert any(digest in confirmation for digest in data.signed.documents.values())

        batch = await batch_of(client, data.cycle_id, person["email"], 1)
        progress = await batch_progress(client, data.cycle_id, batch)
        assert progress.tally.acknowledged == 1
        assert progress.tally.outstanding == 2
        record = await client.get_workflow_handle(batch_id_for(data.cycle_id, batch)).query(
            AcknowledgementBatchWorkflow.page, person["email"]
        )
        assert record is not None
        assert record.person is not None
        assert record.person.acknowledged_at is not None
        assert "Chrome" in (record.person.user_agent or "")
        assert record.person.ip == "127.0.0.1"
        assert record.person.documents == data.signed.documents
    finally:
        await handle.terminate("test over")
