"""A role holder answers in a real browser (Debian's Chromium, driven by Playwright) on a phone-sized
screen with the keyboard alone: declines with a reason, then comes back and accepts.

The cycle is real (rendered, signed, sealed by the worker); the link comes from the invitation
in the SMTP sink, minted for the public URL where uvicorn really listens.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, ViewportSize, async_playwright
from temporalio.client import Client

from adapters.role_view import role_state
from core.settings import Settings
from tests.conftest import SmtpSink
from tests.workflows.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.workflows.helpers import wait_for_mail
from tests.workflows.test_role_page import DEPUTY, _signed_cycle

PHONE: ViewportSize = {"width": 390, "height": 844}


async def _tab_to(page: Page, selector: str, *, presses: int = 25) -> None:
    """Press Tab until the element ``selector`` has the focus (as a keyboard user would)."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def _fits(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_on_a_phone_with_the_keyboard_a_deputy_declines_then_accepts(
    served: tuple[Client, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    client, settings = served
    handle = await _signed_cycle(client, settings, tmp_path)
    invitation = await wait_for_mail(smtp_sink, handle.id, f"roles/{DEPUTY}/invitation", within=60)
    body = invitation.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(settings.public_base_url)}/role/\S+", body.get_content())
    assert match, "no role link in the invitation"
    link = match.group(0).rstrip(").,>")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        await page.goto(link)
        await page.get_by_role("heading", name=re.compile(r"Accept your roles in version")).wait_for()
        await page.get_by_role("heading", name="Engineering Lead").wait_for()
        assert await _fits(page), "the role page is wider than the phone"
        await page.screenshot(path=str(tmp_path / "role-phone.png"), full_page=True)

        # decline, from the keyboard: the labelled reason box, then its button
        await _tab_to(page, "#comment")
        assert await page.get_by_label("Your reason").evaluate(
            "element => element === document.activeElement"
        )
        await page.keyboard.type("I moved to the data team in May")
        await _tab_to(page, "#decline-form button")
        await page.keyboard.press("Enter")
        await page.get_by_role("heading", name="Your answer is recorded: you declined").wait_for()
        assert await _fits(page)

        # back to the link: the decline is named, and "I accept" is reached and pressed from the keyboard
        await page.goto(link)
        await page.get_by_text("You declined on").wait_for()
        await _tab_to(page, "#accept-form button")
        await page.keyboard.press("Enter")
        await page.get_by_role("heading", name="Thank you: your acceptance is recorded").wait_for()
        receipt = await page.content()
        assert await _fits(page), "the receipt is wider than the phone"
        await page.screenshot(path=str(tmp_path / "role-recorded.png"), full_page=True)
        await browser.close()

    state = await role_state(client, handle.id)
    assert state is not None
    record = next(r for r in state.records if r.email == DEPUTY)
    assert record.declined_at is not None
    assert record.decline_comment == "I moved to the data team in May"
    assert record.accepted_at is not None
    assert record.accepted_at > record.declined_at
    assert "Chrome" in (record.user_agent or "")
    assert record.ip == "127.0.0.1"
    assert record.version_hash is not None
    assert record.version_hash in receipt
    assert state.tally.accepted == 1
