"""The comprehension questions in a real browser: Chromium on a phone-sized screen, keyboard only.

The engineer's link comes from the invitation in the SMTP sink (minted by the campaign's mail
activity for the public URL where uvicorn listens). On a 390 px screen, from the keyboard alone
(Tab to each radio group, Space or the arrow keys to choose, Enter on the button): a wrong
answer first, the plain message naming the question with the choices kept, then the right
answers; the batch records the acknowledgement with the answers, the first answers and the
two tries the web app counted. Nothing on either page is wider than the screen.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, async_playwright
from temporalio.client import Client

from core.settings import Settings
from models.campaign import batch_id_for
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import (
    batch_of,
    ladder,
    signed_version,
    staff_rows,
    start_campaign,
    wait_until,
)
from tests.workflows.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.workflows.helpers import wait_for_mail
from tests.workflows.test_questions_page import DOCUMENTS, ENGINEER, QUESTIONS, SDP
from workflows.acknowledgement import AcknowledgementBatchWorkflow

FIRST, SECOND = f"answer-{SDP}-1", f"answer-{SDP}-2"
ACTIVE = "(() => { const e = document.activeElement; return e ? [e.tagName, e.name || '', e.value || '', "
ACTIVE += "e.textContent.trim()] : null })()"


async def _active(page: Page) -> tuple[str, str, str, str]:
    tag, name, value, text = await page.evaluate(ACTIVE)
    return tag, name, value, text


async def _tab_to(page: Page, name: str, *, limit: int = 80) -> tuple[str, str, str, str]:
    """Press Tab until a radio of group ``name`` has the focus (the way a keyboard user gets there)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        active = await _active(page)
        if active[0] == "INPUT" and active[1] == name:
            return active
    raise AssertionError(f"Tab never reached the question {name}; the focus is on {await _active(page)}")


async def _fits(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_questions_answered_with_the_keyboard_on_a_phone(
    served: tuple[Client, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    client, settings = served
    signed = signed_version(settings, tmp_path / "signed", documents=DOCUMENTS)
    signed.questions = {SDP: QUESTIONS}
    handle, data = await start_campaign(
        client, settings, tmp_path, staff_rows(8, team_size=2), schedule=ladder(), signed=signed
    )
    try:
        await wait_until(client, data.cycle_id, lambda p: p.batches == 1 and p.invited == 8)
        invitation = await wait_for_mail(smtp_sink, data.cycle_id, f"ack/{ENGINEER}/invitation")
        body = invitation.get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(rf"{re.escape(settings.public_base_url)}/ack/\S+", body.get_content())
        assert match, "no acknowledgement link in the invitation"
        link = match.group(0).rstrip(").,>")

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            await page.goto(link)
            await page.get_by_role("heading", name="Read and acknowledge version 3.0").wait_for()
            await page.get_by_role("heading", name="A few questions first").wait_for()
            await _fits(page)
            await page.screenshot(path=str(tmp_path / "questions-phone.png"), full_page=True)

            # a wrong first answer (question 1: "Nobody"), the right one to question 2 ("Yes")
            assert await _tab_to(page, FIRST) == ("INPUT", FIRST, "0", "")
            await page.keyboard.press("Space")
            await page.keyboard.press("Tab")  # to question 2's group
            assert (await _active(page))[:3] == ("INPUT", SECOND, "0")
            await page.keyboard.press("Space")
            await page.keyboard.press("Tab")  # to the button
            assert await _active(page) == ("BUTTON", "", "", "I have read and accept")
            await page.keyboard.press("Enter")
            await page.get_by_text("Nothing was recorded yet: 1 answer is not right").wait_for()
            await page.get_by_text("(look at this one again)").wait_for()
            # the answer page is a new document: Tab from its start only once it has loaded (a Tab
            # pressed while it still loads is lost and leaves the focus on the body)
            await page.wait_for_load_state("load")
            await _fits(page)
            # the choices are kept: the wrong one still checked
            assert await page.locator(f'input[name="{FIRST}"][value="0"]').is_checked()
            assert await page.locator(f'input[name="{SECOND}"][value="0"]').is_checked()
            assert await page.get_by_role("radio", name="The security desk").is_checked() is False

            # the group takes the focus on its checked choice; the arrow moves to the next one
            assert await _tab_to(page, FIRST) == ("INPUT", FIRST, "0", "")
            await page.keyboard.press("ArrowDown")
            assert (await _active(page))[:3] == ("INPUT", FIRST, "1")
            assert await page.get_by_role("radio", name="The security desk").is_checked()
            await page.keyboard.press("Tab")  # question 2 keeps its answer
            await page.keyboard.press("Tab")
            assert await _active(page) == ("BUTTON", "", "", "I have read and accept")
            await page.keyboard.press("Enter")
            await page.get_by_role("heading", name="Thank you: your acknowledgement is recorded").wait_for()
            await _fits(page)
            await page.screenshot(path=str(tmp_path / "questions-recorded.png"), full_page=True)
            await browser.close()

        figures = await wait_until(client, data.cycle_id, lambda p: p.tally.acknowledged == 1)
        assert figures.tally.acknowledged == 1
        batch = await batch_of(client, data.cycle_id, ENGINEER, 1)
        record = await client.get_workflow_handle(batch_id_for(data.cycle_id, batch)).query(
            AcknowledgementBatchWorkflow.page, ENGINEER
        )
        assert record is not None
        assert record.person is not None
        assert record.person.acknowledged_at is not None
        assert record.person.answers == {SDP: [1, 0]}
        assert record.person.first_answers == {SDP: [0, 0]}
        assert record.person.attempts == 2
        assert "Chrome" in (record.person.user_agent or "")
    finally:
        await handle.terminate("test over")
