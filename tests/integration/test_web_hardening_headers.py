"""The security headers on every kind of response, and the client address behind a proxy.

The signing page is a real one: a cycle runs on the dev server with a real worker (LibreOffice,
SeaweedFS, the SMTP sink), the link comes from the invitation email, and the page is served by
uvicorn with the production configuration and opened in Chromium. The pack and the download
come from an archive written as the workflow writes it, opened with a grant as
``isms audit grant`` issues it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from playwright.async_api import async_playwright
from temporalio.client import Client

from adapters.audit_access import issue_grant
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.ports import find_free_ports
from documents.pdf_convert import PdfConverter
from tests.audit_helpers import archive_cycle
from tests.conftest import SmtpSink
from tests.workflows.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.workflows.helpers import invited, start, wait_for, wait_for_mail
from web.__main__ import uvicorn_config
from web.app import create_app
from web.security import client_ip, file_headers
from worker import build_worker

NONCE = re.compile(r"script-src 'nonce-([A-Za-z0-9_-]+)'")


def assert_always_there(response: httpx.Response) -> None:
    """The headers every response carries, whatever it is."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    assert "content-security-policy" in response.headers, where
    assert "x-frame-options" in response.headers, where


def assert_not_framed_file(response: httpx.Response) -> None:
    assert_always_there(response)
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["x-frame-options"] == "DENY"


async def _serve(settings: Settings, app: FastAPI) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(uvicorn_config(settings, app))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.05)
    return server, serving


def _on_free_port(settings: Settings, **update: object) -> Settings:
    (port,) = find_free_ports(1)
    return settings.model_copy(
        update={
            "public_base_url": f"http://127.0.0.1:{port}",
            "web_host": "127.0.0.1",
            "web_port": port,
            **update,
        }
    )


@pytest.fixture
async def served(settings: Settings, pdf_converter: PdfConverter) -> AsyncIterator[tuple[Client, Settings]]:
    """A worker and the web app (under uvicorn, configured as ``python -m web`` is)."""
    settings = _on_free_port(settings)
    client = await connect_temporal(settings)
    server, serving = await _serve(settings, create_app(settings, client=client))
    async with build_worker(client, settings, converter=pdf_converter):
        yield client, settings
    server.should_exit = True
    await serving


async def test_the_signing_page_cannot_be_framed_and_only_its_own_script_runs(
    served: tuple[Client, Settings], smtp_sink: SmtpSink
) -> None:
    client, settings = served
    handle = await start(client, settings)
    await wait_for(handle, invited)
    invitation = await wait_for_mail(smtp_sink, handle.id, "round-1/invitation")
    body = invitation.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(rf"{re.escape(settings.public_base_url)}/sign/\S+", body.get_content())
    assert found, "no signing link in the invitation"
    link = found.group(0).rstrip(").,>")

    async with httpx.AsyncClient() as browser:
        first, second = await browser.get(link), await browser.get(link)
    nonces = []
    for page in (first, second):
        assert page.status_code == 200
        assert_always_there(page)
        assert page.headers["x-frame-options"] == "DENY"
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "default-src 'self'" in policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert "strict-transport-security" not in page.headers  # http here
        match = NONCE.search(policy)
        assert match, policy
        # every script on the page carries this response's nonce, and no script is without it
        scripts = re.findall(r"<script\b[^>]*>", page.text)
        assert scripts == [f'<script nonce="{match.group(1)}">'] * len(scripts), scripts
        nonces.append(match.group(1))
    assert nonces[0] != nonces[1]  # a fresh nonce per response

    # a document the page shows: a file, never framed by anyone, never sniffed
    frames = re.findall(r'data-src="([^"]+)"', first.text)
    csrf = re.search(r'"X-Isms-Csrf": "([^"]+)"', first.text)
    assert frames, "the page shows no document"
    assert csrf, "the page's script sends no CSRF value"
    async with httpx.AsyncClient(cookies=first.cookies) as browser:
        pdf = await browser.get(
            httpx.URL(link).join(frames[0]), headers={"X-Isms-Viewer": "1", "X-Isms-Csrf": csrf.group(1)}
        )
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert_not_framed_file(pdf)

    # in Chromium: the page works under its policy (its script loads the PDFs into blob: frames)
    # and the browser reports no violation of it
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = await chromium.new_page()
        await tab.add_init_script(
            "window.cspViolations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        await tab.goto(link)
        await tab.wait_for_function(
            "() => Array.from(document.querySelectorAll('iframe[data-src]')).every(f => f.src.startsWith('blob:'))"
        )
        await tab.wait_for_timeout(500)
        violations = await tab.evaluate("window.cspViolations")
        await chromium.close()
    assert violations == []


@pytest.fixture
def archive_settings(settings: Settings) -> Settings:
    """Grants of this test's own: the drafts bucket is shared by every test."""
    return settings.model_copy(update={"drafts_prefix": f"drafts-{secrets.token_hex(4)}/"})


async def test_headers_on_the_pack_a_download_a_404_a_redirect_and_an_error(
    archive_settings: Settings, tmp_path: Path
) -> None:
    settings = archive_settings
    archived = await asyncio.to_thread(archive_cycle, settings, tmp_path / "cycle")
    policy = next(
        o for result in archived.results for o in result.objects if o.key.endswith("/v3.0/document.pdf")
    )
    _, portal = issue_grant(
        make_s3_client(settings),
        settings,
        email="auditor@certifier.example",
        organisation=archived.organisation,
        days=7,
        issued_by="ravi.chandran@larkspur.example",
        now=datetime.now(UTC),
    )
    app = create_app(settings)

    async def fails(_request: Request) -> Response:
        raise RuntimeError("a bug")

    async def framed_file(_request: Request) -> Response:
        return Response(b"%PDF-1.7", media_type="application/pdf", headers=file_headers(frame="SAMEORIGIN"))

    app.add_api_route("/_test/fails", fails)
    app.add_api_route("/_test/framed", framed_file)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=settings.public_base_url) as web:
        path = httpx.URL(portal).path
        pack = await web.get(f"{path}/2026/pack")
        download = await web.get(
            f"{path}/2026/download", params={"key": policy.key, "version": policy.version_id}
        )
        missing = await web.get("/no-such-page")
        to_login = await web.get("/dashboard")
        error = await web.get("/_test/fails")
        framed = await web.get("/_test/framed")
        health = await web.get("/healthz")

    assert pack.status_code == 200
    assert pack.headers["content-type"] == "application/zip"
    assert pack.content[:2] == b"PK"
    assert_not_framed_file(pack)

    assert download.status_code == 303
    assert download.headers["location"].startswith(settings.s3_endpoint_url or "http")
    assert_not_framed_file(download)  # no Referer carries the portal's token to S3

    for page in (missing, error):
        assert page.headers["content-type"].startswith("text/html")
        assert_always_there(page)
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert missing.status_code == 404
    assert error.status_code == 500
    assert "a bug" not in error.text  # the exception stays in the log

    assert to_login.status_code in (302, 303, 307)
    assert_not_framed_file(to_login)

    # a file the app's own page frames (the acknowledgement page's PDF): only the app may frame it
    assert_always_there(framed)
    assert framed.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'self'"
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"

    assert_not_framed_file(health)


async def test_hsts_when_the_public_address_is_https(settings: Settings) -> None:
    secure = settings.model_copy(update={"public_base_url": "https://isms.larkspur.example"})
    transport = httpx.ASGITransport(app=create_app(secure))
    async with httpx.AsyncClient(transport=transport, base_url="https://isms.larkspur.example") as web:
        home, missing = await web.get("/"), await web.get("/nothing-here")
    for response in (home, missing):
        assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert_always_there(response)


# --------------------------------------------------------------------------------------------
# The client address behind a proxy, through a real uvicorn (whose own proxy handling would
# believe X-Forwarded-For from 127.0.0.1)


async def _addresses_seen(settings: Settings, forwarded: list[str | None]) -> list[str]:
    settings = _on_free_port(settings)
    app = create_app(settings)

    async def seen(request: Request) -> PlainTextResponse:
        return PlainTextResponse(client_ip(request) or "unknown")

    app.add_api_route("/_test/client-ip", seen)
    server, serving = await _serve(settings, app)
    try:
        async with httpx.AsyncClient(base_url=settings.public_base_url) as web:
            answers = []
            for value in forwarded:
                headers = {"X-Forwarded-For": value} if value is not None else {}
                answers.append((await web.get("/_test/client-ip", headers=headers)).text)
            return answers
    finally:
        server.should_exit = True
        await serving


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Settings) -> None:
    seen = await _addresses_seen(settings, ["203.0.113.5", "203.0.113.5, 198.51.100.7", None])
    assert seen == ["127.0.0.1", "127.0.0.1", "127.0.0.1"]


async def test_x_forwarded_for_from_a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop(
    settings: Settings,
) -> None:
    through_one = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    seen = await _addresses_seen(
        through_one,
        [
            "203.0.113.5",
            # the client wrote the first entry itself; the proxy appended the address it saw
            "192.0.2.66, 203.0.113.5",
            "not-an-address",
            None,
        ],
    )
    assert seen == ["203.0.113.5", "203.0.113.5", "127.0.0.1", "127.0.0.1"]

    through_two = settings.model_copy(update={"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]})
    seen = await _addresses_seen(through_two, ["198.51.100.7, 10.1.2.3", "10.1.2.3, 10.4.5.6"])
    assert seen == ["198.51.100.7", "10.1.2.3"]
