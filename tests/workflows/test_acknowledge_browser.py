"""A member of staff acknowledges in a real browser: Debian's Chromium, driven by Playwright.

The link comes from the invitation in the SMTP sink, minted by the campaign's mail activity
for the public URL where uvicorn really listens; the web app runs under uvicorn in this event
loop. After "I have read and accept", the batch's figures show the acknowledgement.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Response, async_playwright
from temporalio.client import Client

from adapters.campaign import batch_progress
from core.settings import Settings
from models.campaign import batch_id_for
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import batch_of, ladder, staff_rows, start_campaign, wait_until
from tests.workflows.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.workflows.helpers import wait_for_mail
from workflows.acknowledgement import AcknowledgementBatchWorkflow


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
            fetched: list[Response] = []  # what the inline viewers fetched
            page.on("response", lambda r: fetched.append(r) if "/documents/" in r.url else None)
            await page.goto(link)  # waits for the load event, so for the viewers too
            await page.get_by_role("heading", name="Read and acknowledge version 3.0").wait_for()
            # the two inline viewers loaded their documents...
            statuses = {r.url: r.status for r in fetched}
            assert sorted(statuses.values()) == [200, 200], statuses
            # ...and what they loaded are PDFs. Asked again through the page's own request context
            # (same cookies): a response handed to Chromium's PDF viewer sometimes reaches
            # Playwright without its headers, which made a check on the viewer's copy flaky.
            for url in statuses:
                again = await page.request.get(url)
                assert again.status == 200, url
                assert again.headers["content-type"] == "application/pdf", url
                assert (await again.body()).startswith(b"%PDF-"), url
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
