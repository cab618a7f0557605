"""The public statement in Chromium on a phone: readable without scrolling sideways, keyboard-usable.

The statement is archived in the real SeaweedFS (tests/integration/test_public_statement.py's
helper), fetched from the real web app's ``/statement`` (httpx ASGITransport) and handed to
Debian's Chromium with the app's own headers, its Content-Security-Policy included, so the page
is laid out exactly as served: 390 px wide, the 64-digit hash and the address wrap, and the
one link is reached with the Tab key.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from playwright.async_api import Route, async_playwright

from core.settings import Settings
from tests.integration.test_public_statement import _archive_signed_version
from tests.workflows.conftest import CHROMIUM, CHROMIUM_ARGS
from web.app import create_app

ADDRESS = "http://isms.test/statement"


async def test_the_statement_fits_a_phone_and_works_with_the_keyboard(
    settings: Settings, tmp_path: Path
) -> None:
    published = await asyncio.to_thread(_archive_signed_version, settings, tmp_path / "v3", {"enabled": True})
    app = create_app(published.settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://isms.test") as http:
        served = await http.get("/statement")
    assert served.status_code == 200

    async def fulfil(route: Route) -> None:
        await route.fulfill(status=served.status_code, headers=dict(served.headers), body=served.content)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            await page.route(ADDRESS, fulfil)
            await page.goto(ADDRESS)
            await page.get_by_role("heading", name="information security policy statement").wait_for()
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert await page.evaluate("document.scripts.length") == 0
            # the styles the page carries apply under its own policy (the body is narrowed and padded)
            assert await page.evaluate("getComputedStyle(document.body).maxWidth") != "none"
            await page.keyboard.press("Tab")
            focused = await page.evaluate("document.activeElement.getAttribute('href')")
            assert focused == "http://127.0.0.1:1/statement"
            await page.screenshot(path=str(tmp_path / "statement-phone.png"), full_page=True)
        finally:
            await browser.close()
