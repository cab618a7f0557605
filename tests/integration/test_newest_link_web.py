"""Only the newest emailed link works, through the real web app, worker, mail and S3.

The links are the ones the real mail activities minted into the emails the SMTP sink wrote;
days pass on the time-skipping server so the reminders go out. Once a reminder is sent, the
invitation's link gets a plain page on GET and on POST (nothing recorded), and the reminder's
link works. A request for changes is what the CEO sends here: it needs no second factor, so
the test is about the link alone.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from documents.pdf_convert import PdfConverter
from models.campaign import AckPage, batch_id_for
from models.cycle import Stage
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import staff_rows, start_campaign, wait_until
from tests.workflows.helpers import current_status, invited, mails, start, wait_for, wait_for_mail
from web.app import create_app
from worker import build_worker
from workflows.acknowledgement import AcknowledgementBatchWorkflow

NEWER_EMAIL = "A newer email has been sent"


@pytest.fixture
async def stack(
    time_skipping_env: WorkflowEnvironment, settings: Settings, pdf_converter: PdfConverter
) -> AsyncIterator[tuple[WorkflowEnvironment, Settings, httpx.AsyncClient]]:
    """The real worker on the time-skipping server, and the real web app talking to it."""
    async with build_worker(time_skipping_env.client, settings, converter=pdf_converter):
        # every acknowledgement page asks the batch (no kept view): days pass here in a moment
        # of real time, and a reminder recorded less than ack_page_cache_seconds after a page
        # was opened would show on the next page only once the kept view is that old (its POST
        # is refused all the same, as below)
        uncached = settings.model_copy(update={"ack_page_cache_seconds": 0})
        app = create_app(uncached, client=time_skipping_env.client)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://isms.test"
        ) as web:
            yield time_skipping_env, settings, web


def _path(message: EmailMessage, route: str) -> str:
    """The path of the email's personal link (``/sign/<token>``), as the person would open it."""
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(rf"https?://[^/\s]+(/{route}/[A-Za-z0-9_.\-]+)", body.get_content())
    assert match, f"no /{route}/ link in the email"
    return match.group(1)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def test_the_ceos_invitation_link_stops_working_once_a_reminder_is_sent(
    stack: tuple[WorkflowEnvironment, Settings, httpx.AsyncClient], smtp_sink: SmtpSink
) -> None:
    env, settings, web = stack
    handle = await start(env.client, settings)
    try:
        await wait_for(handle, invited)
        invitation = _path(await wait_for_mail(smtp_sink, handle.id, "round-1/invitation"), "sign")
        opened = await web.get(invitation)  # the CEO opens it (and keeps the tab) before the reminder
        assert opened.status_code == 200
        csrf = _csrf(opened.text)

        await env.sleep(timedelta(days=3, hours=1))
        reminder = _path(await wait_for_mail(smtp_sink, handle.id, "round-1/reminder-1"), "sign")
        assert reminder != invitation
        before = await wait_for(handle, lambda s: s.signer_link_sequence == 1)

        page = await web.get(invitation)
        assert page.status_code == 410
        assert NEWER_EMAIL in page.text
        assert "Use the link in the most recent email." in page.text
        assert 'name="csrf"' not in page.text  # no form
        document = await web.get(f"{invitation}/documents/{before.documents[0].name}")
        assert document.status_code == 410
        assert not document.content.startswith(b"%PDF")
        # the tab opened before the reminder sends its form: refused, nothing recorded
        posted = await web.post(
            invitation, data={"csrf": csrf, "action": "request_changes", "comment": "Add the Leeds office."}
        )
        assert posted.status_code == 410
        assert NEWER_EMAIL in posted.text
        after = await current_status(handle)
        assert after.stage is Stage.AWAITING_SIGNATURE
        assert after.events == before.events

        # the reminder's link works
        current = await web.get(reminder)
        assert current.status_code == 200
        decided = await web.post(
            reminder,
            data={
                "csrf": _csrf(current.text),
                "action": "request_changes",
                "comment": "Add the Leeds office.",
            },
        )
        assert decided.status_code == 200, decided.text
        assert "Your request for changes is recorded" in decided.text
        waiting = await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
        assert waiting.last_comment == "Add the Leeds office."
    finally:
        if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")


async def test_a_persons_invitation_link_stops_working_once_reminded(
    stack: tuple[WorkflowEnvironment, Settings, httpx.AsyncClient], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env, settings, web = stack
    handle, data = await start_campaign(env.client, settings, tmp_path, staff_rows(2))
    try:
        person = "person000001@larkspur.example"
        key = f"ack/{person}"
        invitation = _path(await wait_for_mail(smtp_sink, data.cycle_id, f"{key}/invitation"), "ack")
        opened = await web.get(invitation)
        assert opened.status_code == 200
        csrf = _csrf(opened.text)

        await env.sleep(timedelta(days=5, hours=1))
        reminder = _path(await wait_for_mail(smtp_sink, data.cycle_id, f"{key}/reminder-1"), "ack")
        batch = env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))

        async def newest() -> int:
            page: AckPage | None = await batch.query(AcknowledgementBatchWorkflow.page, person)
            assert page is not None
            return page.newest_link

        for _ in range(100):
            if await newest() == 1:
                break
            await asyncio.sleep(0.1)  # the batch records the send a moment after the email is out
        assert await newest() == 1

        page = await web.get(invitation)
        assert page.status_code == 410
        assert NEWER_EMAIL in page.text
        # the form of the page opened before the reminder: the batch refuses it, nothing recorded
        posted = await web.post(invitation, data={"csrf": csrf})
        assert posted.status_code == 410
        assert NEWER_EMAIL in posted.text
        figures = await wait_until(env.client, data.cycle_id, lambda p: p.tally.total == 2)
        assert figures.tally.acknowledged == 0

        current = await web.get(reminder)
        assert current.status_code == 200
        done = await web.post(reminder, data={"csrf": _csrf(current.text)})
        assert done.status_code == 200, done.text
        assert "Thank you: your acknowledgement is recorded" in done.text
        await wait_until(env.client, data.cycle_id, lambda p: p.tally.acknowledged == 1)
        assert f"{key}/reminder-1" in mails(smtp_sink, data.cycle_id)
    finally:
        if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")
