"""The auditor's path in a real browser: Debian's Chromium, driven by Playwright, through the portal.

A cycle is archived the way the workflow archives it (tests/audit_helpers.py), access is granted
as ``isms audit grant`` grants it, for the public URL where uvicorn really listens. The auditor
opens the link, opens the year, downloads the signed policy (from SeaweedFS, through the
portal's presigned link) and verifies the archive.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from pathlib import Path

import pytest
from playwright.async_api import async_playwright
from temporalio.client import Client

from core.settings import Settings
from devstack.mailsink import read_mailbox
from tests.audit_helpers import archive_cycle
from tests.conftest import SmtpSink
from tests.workflows.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.workflows.test_cycle_cli import _isms

POLICY_PDF = "information-security-policy/v3.0/document.pdf"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with grants of their own: the drafts bucket is shared by every test."""
    return settings.model_copy(update={"drafts_prefix": f"drafts-{secrets.token_hex(4)}/"})


async def test_an_auditor_downloads_the_signed_policy_and_verifies_in_chromium(
    served: tuple[Client, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    _, settings = served
    archived = await asyncio.to_thread(archive_cycle, settings, tmp_path / "cycle")
    objects = {o.key: o for result in archived.results for o in [*result.objects, result.manifest]}
    policy = objects[f"{archived.organisation}/2026/{POLICY_PDF}"]
    # the ISMS lead grants access as a person does; the auditor gets the link by email
    code, out, err = await _isms(
        settings,
        "audit",
        "grant",
        "--email",
        "auditor@certifier.example",
        "--org",
        archived.organisation,
        "--json",
    )
    assert code == 0, err
    granted = json.loads(out)
    assert granted["link_emailed"] == "sent"
    assert granted["email"] == "auditor@certifier.example"
    (email,) = [
        m for m in read_mailbox(smtp_sink.maildir) if m["X-Isms-Key"] == f"audit-grant/{granted['grant_id']}"
    ]
    assert email["To"] == "auditor@certifier.example"
    text = email.get_body(preferencelist=("plain",))
    assert text is not None
    found = re.search(rf"{re.escape(settings.public_base_url)}/audit/\S+", text.get_content())
    assert found, "no portal link in the email"
    link = found.group(0)
    assert link == granted["link"]
    assert link.startswith(f"{settings.public_base_url}/audit/")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(accept_downloads=True)
        await page.goto(link)
        await page.get_by_role(
            "heading", name=f"ISO 27001 Clause 5 evidence: {archived.organisation}"
        ).wait_for()
        assert archived.cycle_id in await page.content()
        await page.get_by_role("link", name="2026", exact=True).click()
        await page.get_by_role(
            "heading", name=f"{archived.organisation}: archived evidence of 2026"
        ).wait_for()
        await page.screenshot(path=str(tmp_path / "audit-year.png"), full_page=True)

        async with page.expect_download() as started:
            await page.get_by_role("link", name=f"Download {POLICY_PDF}", exact=True).click()
        download = await started.value
        saved = tmp_path / "downloaded-policy.pdf"
        await download.save_as(saved)
        assert download.suggested_filename == "document.pdf"
        assert download.url.startswith(f"{settings.s3_endpoint_url}/{settings.archive_bucket}/")
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == policy.sha256

        await page.get_by_role("button", name="Verify").click()
        await page.get_by_role("heading", name="Verification of 2026: PASS").wait_for()
        await page.screenshot(path=str(tmp_path / "audit-verify.png"), full_page=True)
        rows = await page.locator("table.verify tbody tr").evaluate_all(
            "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))"
        )
        await browser.close()

    results = {row[0]: row for row in rows}
    assert set(results) == set(objects)
    for key, (_, version, verdict, passed, failed) in results.items():
        assert (version, verdict, failed) == (objects[key].version_id, "PASS", ""), key
        assert "matches the manifest" in passed, key
    assert "PAdES seal valid and intact" in results[policy.key][3]
