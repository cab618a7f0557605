"""Named sign-in to the dashboard, black box through the real web app: the emailed one-time link
(real SMTP sink), server-side sessions, throttling and the failure log, single sign-on against a
real OpenID provider (``tests.oidc_fixtures``), the signer's single sign-on, and the order of
checks on the upload routes. Temporal is the real dev server (the dashboard lists its cycles).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client

from adapters.audit_access import list_grants
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from core.tokens import issue_link
from models.cycle import AnnualReviewInput, SecondFactorMethod
from models.links import LinkRole
from tests.conftest import SmtpSink
from tests.oidc_fixtures import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.oidc_fixtures import oidc_provider as oidc_provider  # the fixture
from tests.workflows.helpers import CEO, DEMO, LEAD, current_demo_profile
from web.app import create_app
from web.signer_sso import router as signer_sso_router
from web.signin import SESSION_COOKIE
from web.state import SIGNER_BROWSER_COOKIE, signer_verified

DEPUTY = "sofia.alvarez@larkspur.example"
ADMIN = "admin.person@larkspur.example"
STRANGER = "mallory@elsewhere.example"
ATTACKER = ("203.0.113.66", 40000)
LEAD_DESK = ("203.0.113.5", 41000)


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    """The demo profile (lead ravi.chandran@, deputy sofia.alvarez@), a copy this test may edit."""
    path = tmp_path / "signin-profile.yaml"
    path.write_text((DEMO / "profile.yaml").read_text())
    return path


@pytest.fixture
def signin_settings(settings: Settings, profile_file: Path) -> Settings:
    return settings.model_copy(update={"profile_file": profile_file, "admins": [ADMIN]})


def _app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.include_router(signer_sso_router)  # until web.app registers it
    return app


def _client(app: FastAPI, peer: tuple[str, int] = LEAD_DESK) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=peer), base_url="http://isms.test")


@pytest.fixture
async def web(signin_settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = _app(signin_settings)
    async with _client(app) as http:
        yield app, http


def _messages_to(maildir: Path, address: str) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(maildir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        if address in str(message["To"]) and str(message["X-Isms-Key"]).startswith("dashboard-signin/"):
            found.append(message)
    return found


async def _signin_link(maildir: Path, address: str, *, already: int) -> str:
    """The path of the newest sign-in link emailed to ``address`` (after ``already`` earlier ones)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        messages = _messages_to(maildir, address)
        if len(messages) > already:
            body = messages[-1].get_body(preferencelist=("plain",))
            assert body is not None
            url = re.search(r"http://\S+/dashboard/signin/\S+", body.get_content())
            assert url is not None
            return urlsplit(url.group(0)).path
        await asyncio.sleep(0.1)
    raise AssertionError(f"no sign-in email to {address} arrived")


def _csrf(page: httpx.Response) -> str:
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def _sign_in_by_email(http: httpx.AsyncClient, maildir: Path, address: str) -> str:
    """Sign ``http`` in as ``address`` with the emailed link; returns the session cookie."""
    already = len(_messages_to(maildir, address))
    asked = await http.post("/dashboard/login", data={"email": address})
    assert asked.status_code == 200, asked.text
    path = await _signin_link(maildir, address, already=already)
    page = await http.get(path)
    assert page.status_code == 200, page.text
    assert SESSION_COOKIE not in page.cookies  # opening the link signs nobody in
    signed = await http.post(path, data={"csrf": _csrf(page)})
    assert signed.status_code == 303, signed.text
    cookie = signed.cookies[SESSION_COOKIE]
    set_cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=strict" in set_cookie
    assert "path=/dashboard" in set_cookie
    return cookie


async def test_the_emailed_link_signs_in_once_and_the_page_never_says_who_may(
    web: tuple[FastAPI, httpx.AsyncClient], smtp_sink: SmtpSink
) -> None:
    _, http = web
    assert (await http.get("/dashboard")).headers["location"] == "/dashboard/login"
    for_stranger = await http.post("/dashboard/login", data={"email": STRANGER})
    already = len(_messages_to(smtp_sink.maildir, LEAD))
    for_lead = await http.post("/dashboard/login", data={"email": LEAD})
    assert for_stranger.status_code == for_lead.status_code == 200
    assert for_stranger.text == for_lead.text  # no account enumeration
    path = await _signin_link(smtp_sink.maildir, LEAD, already=already)
    await asyncio.sleep(0.5)
    assert _messages_to(smtp_sink.maildir, STRANGER) == []

    # GET (a mail scanner) changes nothing; the POST uses the link up
    for _ in range(3):
        assert (await http.get(path)).status_code == 200
    page = await http.get(path)
    assert LEAD in page.text
    assert (await http.post(path, data={"csrf": "forged"})).status_code == 403
    signed = await http.post(path, data={"csrf": _csrf(page)})
    assert signed.status_code == 303
    home = await http.get("/dashboard")
    assert home.status_code == 200
    assert f"Signed in as <strong>{LEAD}</strong>" in home.text

    async with _client(web[0], ATTACKER) as other:
        again = await other.get(path)
        assert again.status_code == 410
        assert "has been used" in again.text
        other.cookies.set("isms_csrf", "x", domain="isms.test", path="/dashboard/signin")
        page_again = await other.post(path, data={"csrf": "x"})
        assert page_again.status_code == 410
        assert SESSION_COOKIE not in page_again.cookies


async def test_staff_and_signing_tokens_open_nothing_as_a_session_or_a_sign_in_link(
    web: tuple[FastAPI, httpx.AsyncClient], signin_settings: Settings
) -> None:
    _, http = web
    secret = signin_settings.link_secret.get_secret_value()
    now = datetime.now(UTC)
    staff = issue_link(
        secret, cycle_id="isms-review-larkspur-2026", person=LEAD, role=LinkRole.STAFF,
        version_hash="0" * 64, ttl=timedelta(days=1), now=now,
    )  # fmt: skip
    signing = issue_link(
        secret, cycle_id="isms-review-larkspur-2026", person=LEAD, role=LinkRole.SIGNER,
        version_hash="0" * 64, ttl=timedelta(days=1), now=now,
    )  # fmt: skip
    # a lead link minted for something other than sign-in (its cycle id is not the dashboard's)
    other_lead = issue_link(
        secret, cycle_id="isms-review-larkspur-2026", person=LEAD, role=LinkRole.LEAD,
        version_hash=None, ttl=timedelta(minutes=5), now=now,
    )  # fmt: skip
    for token in (staff, signing, other_lead):
        cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
        home = await http.get("/dashboard", headers=cookie)
        assert home.status_code == 303
        assert home.headers["location"] == "/dashboard/login"
        posted = await http.post("/dashboard/cycles", headers=cookie, data={"csrf": token, "year": "2026"})
        assert posted.status_code == 403
        for method in ("GET", "POST"):
            used = await http.request(method, f"/dashboard/signin/{token}", data={"csrf": "x"})
            assert used.status_code == 403, (method, used.status_code)
            assert "This link is not for this page" in used.text
            assert SESSION_COOKIE not in used.cookies


async def test_no_session_no_body_read_on_the_upload_routes(web: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """An unauthenticated 64 MB multipart upload is refused before the form is read."""
    _, http = web
    sent: list[int] = []
    chunk = b"x" * (1024 * 1024)

    async def body() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="profile"; filename="p.yaml"\r\n\r\n'
        for _ in range(64):
            sent.append(len(chunk))
            yield chunk
        yield b"\r\n--b--\r\n"

    for path in ("/dashboard/cycles", "/dashboard/cycles/isms-review-larkspur-2026/revision"):
        sent.clear()
        refused = await http.post(
            path,
            content=body(),
            headers={
                "Content-Type": "multipart/form-data; boundary=b",
                "Cookie": f"{SESSION_COOKIE}=made-up",
            },
        )
        assert refused.status_code == 403
        assert sum(sent) <= 2 * len(chunk), f"{path}: {sum(sent)} bytes read before the session check"


async def test_a_session_cookie_saved_before_logout_is_refused_after_it(
    web: tuple[FastAPI, httpx.AsyncClient], smtp_sink: SmtpSink
) -> None:
    app, http = web
    saved = await _sign_in_by_email(http, smtp_sink.maildir, LEAD)
    home = await http.get("/dashboard")
    assert home.status_code == 200
    csrf = _csrf(home)
    # logout is CSRF-checked: a forged form leaves the session as it is
    forged = await http.post("/dashboard/logout", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert (await http.get("/dashboard")).status_code == 200
    out = await http.post("/dashboard/logout", data={"csrf": csrf})
    assert out.status_code == 303
    async with _client(app) as replay:
        replay.cookies.set(SESSION_COOKIE, saved, domain="isms.test", path="/dashboard")
        assert (await replay.get("/dashboard")).headers["location"] == "/dashboard/login"
        started = await replay.post("/dashboard/cycles", data={"csrf": csrf, "year": "2031"})
        assert started.status_code == 403


async def test_removal_from_the_allowed_list_ends_a_live_session(
    signin_settings: Settings, profile_file: Path, smtp_sink: SmtpSink
) -> None:
    app = _app(signin_settings)
    async with _client(app) as deputy, _client(app) as admin:
        await _sign_in_by_email(deputy, smtp_sink.maildir, DEPUTY)
        admin_cookie = await _sign_in_by_email(admin, smtp_sink.maildir, ADMIN)
        assert (await deputy.get("/dashboard")).status_code == 200
        # the profile names a new deputy: the old one's session ends at their next request
        text = await asyncio.to_thread(profile_file.read_text)
        await asyncio.to_thread(profile_file.write_text, text.replace(DEPUTY, "new.deputy@larkspur.example"))
        assert (await deputy.get("/dashboard")).headers["location"] == "/dashboard/login"
        assert (await admin.get("/dashboard")).status_code == 200

    # the web app restarted with the admin taken off ISMS_ADMINS: the same store, the cookie refused
    restarted = _app(signin_settings.model_copy(update={"admins": []}))
    async with _client(restarted) as admin_again:
        admin_again.cookies.set(SESSION_COOKIE, admin_cookie, domain="isms.test", path="/dashboard")
        assert (await admin_again.get("/dashboard")).headers["location"] == "/dashboard/login"


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="isms.security")
    return caplog


async def test_thirty_wrong_sign_in_links_are_throttled_logged_and_shown(
    web: tuple[FastAPI, httpx.AsyncClient], smtp_sink: SmtpSink, security_log: pytest.LogCaptureFixture
) -> None:
    app, http = web
    statuses = []
    async with _client(app, ATTACKER) as attacker:
        for _ in range(30):
            guess = f"/dashboard/signin/{secrets.token_urlsafe(40)}"
            statuses.append((await attacker.post(guess, data={"csrf": "x"})).status_code)
        assert statuses[:20] == [400] * 20
        assert set(statuses[20:]) == {429}
        throttled = await attacker.get(f"/dashboard/signin/{secrets.token_urlsafe(40)}")
        assert throttled.status_code == 429
        assert "Too many sign-in attempts" in throttled.text
        # and asking for links from there is throttled too
        asked = await attacker.post("/dashboard/login", data={"email": LEAD})
        assert asked.status_code == 429
    failures = [
        r for r in security_log.records if r.name == "isms.security" and "failed sign-in" in r.message
    ]
    assert len(failures) >= 30
    assert all(f"address={ATTACKER[0]}" in r.message for r in failures)
    assert "reason=sign-in link tampered" in failures[0].message

    # the lead, from another address, signs in and sees the last 20
    await _sign_in_by_email(http, smtp_sink.maildir, LEAD)
    page = (await http.get("/dashboard")).text
    assert "Failed sign-ins" in page
    assert page.count(f"<td>{ATTACKER[0]}</td>") == 20


async def test_the_shared_password_only_for_a_single_user_install_throttled_and_named_so(
    signin_settings: Settings, temporal_dev_server: object, tmp_path: Path
) -> None:
    password = "a long shared dashboard password"
    # not a single-user install: the password is not taken, even when set
    plain = _app(signin_settings.model_copy(update={"dashboard_password": SecretStr(password)}))
    async with _client(plain) as http:
        refused = await http.post("/dashboard/login", data={"password": password})
        assert refused.status_code == 403
        assert SESSION_COOKIE not in refused.cookies

    single = signin_settings.model_copy(
        update={"dashboard_password": SecretStr(password), "dashboard_single_user": True}
    )
    app = _app(single)
    async with _client(app, ATTACKER) as attacker:
        statuses = [
            (await attacker.post("/dashboard/login", data={"password": f"guess {n}"})).status_code
            for n in range(30)
        ]
        assert statuses[:20] == [401] * 20
        assert set(statuses[20:]) == {429}
        # throttled: even the right password waits
        assert (await attacker.post("/dashboard/login", data={"password": password})).status_code == 429
    async with _client(app) as lead:
        signed = await lead.post("/dashboard/login", data={"password": password})
        assert signed.status_code == 303
        home = await lead.get("/dashboard")
        assert "single-user install (shared password)" in home.text
        # a changed password ends the sessions made with the old one
        changed = _app(single.model_copy(update={"dashboard_password": SecretStr(password + " v2")}))
        async with _client(changed) as after:
            after.cookies.set(
                SESSION_COOKIE, signed.cookies[SESSION_COOKIE], domain="isms.test", path="/dashboard"
            )
            assert (await after.get("/dashboard")).headers["location"] == "/dashboard/login"


async def test_an_action_is_recorded_with_the_person_s_email(
    signin_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    app = _app(signin_settings)
    temporal: Client = await connect_temporal(signin_settings)
    year = 2047
    async with _client(app) as http:
        await _sign_in_by_email(http, smtp_sink.maildir, LEAD)
        csrf = _csrf(await http.get("/dashboard"))
        profile = current_demo_profile(tmp_path)
        started = await http.post(
            "/dashboard/cycles",
            data={"csrf": csrf, "year": str(year)},
            files={
                "profile": ("profile.yaml", profile.read_bytes(), "application/yaml"),
                "staff": ("staff.csv", (DEMO / "staff.csv").read_bytes(), "text/csv"),
            },
        )
        assert started.status_code == 303, started.text
    handle = temporal.get_workflow_handle(f"isms-review-larkspur-{year}")
    try:
        history = await handle.fetch_history()
        attributes = history.events[0].workflow_execution_started_event_attributes
        (data,) = await temporal.data_converter.decode(attributes.input.payloads, [AnnualReviewInput])
        assert data.started_by == f"{LEAD} via dashboard ({LEAD_DESK[0]})"
    finally:
        await handle.terminate("test over")


# single sign-on ------------------------------------------------------------------------


@pytest.fixture
def sso_settings(signin_settings: Settings, oidc_provider: OidcProvider) -> Settings:
    return signin_settings.model_copy(
        update={
            "oidc_issuer": oidc_provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
        }
    )


async def _sso_round_trip(http: httpx.AsyncClient, provider: OidcProvider, start: str, subject: str) -> str:
    """Start at ``start``, approve at the provider as ``subject``; the path+query to call back."""
    left = await http.get(start)
    assert left.status_code == 303, left.text
    authorization = left.headers["location"]
    assert authorization.startswith(f"{provider.issuer}/oauth2/authorize?")
    for part in ("code_challenge_method=S256", "nonce=", "state=", "scope=openid+email"):
        assert part in authorization
    back = urlsplit(await provider.approve(authorization, subject=subject))
    return f"{back.path}?{back.query}"


async def test_single_sign_on_lets_an_allowed_person_in_and_nobody_else(
    sso_settings: Settings,
    oidc_provider: OidcProvider,
    security_log: pytest.LogCaptureFixture,
) -> None:
    oidc_provider.add_user(LEAD, email_verified=True)
    oidc_provider.add_user(STRANGER, email_verified=True)
    oidc_provider.add_user(DEPUTY)  # the provider has not verified this address
    app = _app(sso_settings)
    async with _client(app) as http:
        assert "/dashboard/login/sso" in (await http.get("/dashboard/login")).text
        callback = await _sso_round_trip(http, oidc_provider, "/dashboard/login/sso", LEAD)
        arrived = await http.get(callback)
        assert arrived.status_code == 200, arrived.text
        assert SESSION_COOKIE in arrived.cookies
        assert f"Signed in as <strong>{LEAD}</strong>" in (await http.get("/dashboard")).text
        # the same answer from the provider works once
        replayed = await http.get(callback)
        assert replayed.status_code == 403

    for subject, why in ((STRANGER, "not an allowed person"), (DEPUTY, "has not verified")):
        async with _client(app) as http:
            callback = await _sso_round_trip(http, oidc_provider, "/dashboard/login/sso", subject)
            refused = await http.get(callback)
            assert refused.status_code == 403, subject
            assert SESSION_COOKIE not in refused.cookies
            assert (await http.get("/dashboard")).headers["location"] == "/dashboard/login"
            assert any(why in r.message and "failed sign-in" in r.message for r in security_log.records)

    # an answer carried to another browser (without the cookie that started it) does not count
    async with _client(app) as http, _client(app, ATTACKER) as elsewhere:
        callback = await _sso_round_trip(http, oidc_provider, "/dashboard/login/sso", LEAD)
        stolen = await elsewhere.get(callback)
        assert stolen.status_code == 403
        assert SESSION_COOKIE not in stolen.cookies


async def test_the_signer_single_sign_on_must_be_the_link_s_person(
    sso_settings: Settings,
    oidc_provider: OidcProvider,
) -> None:
    oidc_provider.add_user(CEO, email_verified=True)
    oidc_provider.add_user(LEAD, email_verified=True)
    app = _app(sso_settings)
    state = app.state.services.state
    secret = sso_settings.link_secret.get_secret_value()

    def signing_link() -> str:
        return issue_link(
            secret, cycle_id="isms-review-larkspur-2026", person=CEO.upper(), role=LinkRole.SIGNER,
            version_hash="0" * 64, ttl=timedelta(days=1), now=datetime.now(UTC),
        )  # fmt: skip

    from core.tokens import read_link

    # someone else's account: refused, nothing recorded for the link
    token = signing_link()
    claims = read_link(secret, token, expected_role=LinkRole.SIGNER, now=datetime.now(UTC))
    assert not isinstance(claims, str)
    async with _client(app) as http:
        callback = await _sso_round_trip(http, oidc_provider, f"/sign/{token}/sso", LEAD)
        assert "/sign/sso/callback" in callback
        assert token not in callback  # the link never goes to the provider
        refused = await http.get(callback)
        assert refused.status_code == 403
        assert (
            await signer_verified(state, claims.token_id, browser=http.cookies.get(SIGNER_BROWSER_COOKIE))
            is None
        )

    # the link's person (the case of the address does not matter): verified for this link
    async with _client(app) as http:
        callback = await _sso_round_trip(http, oidc_provider, f"/sign/{token}/sso", CEO)
        back = await http.get(callback)
        assert back.status_code == 303
        assert back.headers["location"] == f"/sign/{token}"
        browser = back.cookies.get(SIGNER_BROWSER_COOKIE)
    assert browser, "the callback binds the factor to this browser"
    assert await signer_verified(state, claims.token_id, browser=None) is None  # another browser
    assert await signer_verified(state, claims.token_id, browser="another browser's cookie") is None
    factor = await signer_verified(state, claims.token_id, browser=browser)
    assert factor is not None
    assert factor.method is SecondFactorMethod.SSO
    assert factor.identity == CEO
    assert factor.detail == f"issuer {oidc_provider.issuer}"
    assert factor.describe().startswith(f"single sign-on as {CEO}")

    # another link's flow cannot be finished with this link's cookie
    other = signing_link()
    async with _client(app) as http:
        callback = await _sso_round_trip(http, oidc_provider, f"/sign/{other}/sso", CEO)
        http.cookies.set("isms_sso_signer", token, domain="isms.test", path="/sign/sso/callback")
        assert (await http.get(callback)).status_code == 403


async def test_auditor_access_from_the_dashboard_is_recorded_as_given_by_the_signed_in_person(
    signin_settings: Settings, smtp_sink: SmtpSink
) -> None:
    s3 = make_s3_client(signin_settings)
    # something archived for the organisation, as the worker's archive stage leaves it
    await asyncio.to_thread(
        s3.put_object, Bucket=signin_settings.archive_bucket, Key="larkspur/2026/manifests/m.json", Body=b"{}"
    )
    auditor = f"auditor-{secrets.token_hex(4)}@certifier.example"
    app = _app(signin_settings)
    async with _client(app) as http:
        refused = await http.post(
            "/dashboard/auditor-access", data={"csrf": "x", "email": auditor, "organisation": "larkspur"}
        )
        assert refused.status_code == 403
        await _sign_in_by_email(http, smtp_sink.maildir, DEPUTY)
        home = await http.get("/dashboard")
        assert 'value="larkspur"' in home.text  # the profile's organisation, filled in
        forged = await http.post(
            "/dashboard/auditor-access", data={"csrf": "forged", "email": auditor, "organisation": "larkspur"}
        )
        assert forged.status_code == 403
        unknown = await http.post(
            "/dashboard/auditor-access",
            data={"csrf": _csrf(home), "email": auditor, "organisation": "nobody"},
        )
        assert unknown.status_code == 422
        assert "no archive for organisation" in unknown.text
        assert [
            g for g in await asyncio.to_thread(list_grants, s3, signin_settings) if g.email == auditor
        ] == []
        granted = await http.post(
            "/dashboard/auditor-access",
            data={"csrf": _csrf(home), "email": auditor, "organisation": "larkspur", "days": "7"},
        )
        assert granted.status_code == 200, granted.text
        assert f"{auditor} has read-only access to larkspur" in granted.text
        assert "/audit/" not in granted.text  # the link goes by email only
    (grant,) = [g for g in await asyncio.to_thread(list_grants, s3, signin_settings) if g.email == auditor]
    assert grant.issued_by == DEPUTY
    # the grant's email was sent before the page answered
    mail = [p for p in smtp_sink.maildir.glob("*.eml") if auditor in p.read_text(errors="replace")]
    assert len(mail) == 1
    message = email.message_from_bytes(mail[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"{DEPUTY} has given you read-only access" in body.get_content()


async def test_a_session_ends_when_unused_and_its_forms_are_read_with_tight_limits(
    signin_settings: Settings, smtp_sink: SmtpSink
) -> None:
    settings = signin_settings.model_copy(update={"session_idle_minutes": 5})
    app = _app(settings)
    state = app.state.services.state
    async with _client(app) as http:
        cookie = await _sign_in_by_email(http, smtp_sink.maildir, ADMIN)
        now = datetime.now(UTC)
        assert await state.get("session", cookie, now=now + timedelta(minutes=4)) is not None
        assert await state.get("session", cookie, now=now + timedelta(minutes=5, seconds=5)) is None
        csrf = _csrf(await http.get("/dashboard"))
        # a signed-in form with more fields than the page has: refused unread, nothing started
        crowded = await http.post(
            "/dashboard/cycles", data={"csrf": csrf, **{f"f{n}": "x" for n in range(20)}}
        )
        assert crowded.status_code == 400
        assert "Too many fields" in crowded.text
        long_reason = await http.post("/dashboard/cycles", data={"csrf": csrf, "reason": "x" * 600})
        assert long_reason.status_code == 400
        assert "at most 500 characters" in long_reason.text
        bad_year = await http.post("/dashboard/cycles", data={"csrf": csrf, "year": "20x6"})
        assert bad_year.status_code == 400
        assert "from 2000 to 2100" in bad_year.text
