"""Named sign-in to the ISMS lead's dashboard: who may, how, for how long, and what failed.

Who may: ``settings.admins`` and the ISMS lead and deputy named in ``settings.profile_file``
(re-read when the file changes). Every request re-checks its session's email against the
list as it is now, so removing a person ends their sessions at once.

How:
- an emailed one-time link (the default, nothing to configure): the login page asks for an
  address; an allowed one gets a ``LinkRole.LEAD`` link valid 15 minutes, and every address
  gets the same answer (the page never says who may sign in). Opening the link shows a
  "Sign in" button, since mail scanners open links; its POST uses the link up (in
  ``WebState``, kind ``"signin-link"``) and starts the session;
- OpenID Connect (:mod:`web.oidc`) when ``settings.oidc_enabled``: the provider's verified
  email must be an allowed person's;
- the shared password, only with ``settings.dashboard_single_user`` (a documented opt-in for a
  one-person install); its actions are recorded as "single-user install (shared password)".

Sessions live server-side (``WebState`` kind ``"session"``): the cookie holds only a random
id (HttpOnly, SameSite=Strict, Secure on https, path /dashboard). A session ends
``session_hours`` after sign-in, after ``session_idle_minutes`` unused, at logout (a
CSRF-checked POST), when its person leaves the allowed list, and (password sessions) when
the password changes. Each has its own CSRF value.

Throttling (``limits``, moving windows in memory, per client address and per email):
link requests and failed sign-ins; a throttled request gets 429 and a plain page. Every
failed sign-in is one line on the ``isms.security`` logger (time, address, the email
tried, why) and a row the dashboard shows its signed-in people (the last 20).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.smtp import smtp_session
from core.mail_message import compose_message
from core.profile_io import UnreadableInputError, load_profile
from core.settings import Settings
from core.tokens import issue_link, link_url, read_link
from models.links import LinkClaims, LinkProblem, LinkRole
from models.profile import RoleKind
from web import oidc, pages
from web.security import client_ip, csrf_matches, new_csrf_token, set_csrf_cookie
from web.services import app_services

router = APIRouter()
security_log = logging.getLogger("isms.security")
log = logging.getLogger(__name__)

SESSION_COOKIE = "isms_session"
SESSION_KIND = "session"
SIGNIN_LINK_KIND = "signin-link"  # a used sign-in link's id, until the link would have expired
SIGNIN_LINK_MINUTES = 15
SIGNIN_CYCLE = "dashboard"  # the cycle id a sign-in link's claims carry
SSO_COOKIE = "isms_sso_dashboard"  # binds a single sign-on flow to the browser that started it
SHOWN_FAILURES = 20
KEPT_FAILURES = 1000
SINGLE_USER_ACTOR = "single-user install (shared password)"
_MAX_EMAIL = 254

# moving windows: requests for a link, and failed sign-ins (a bad or used link, a wrong
# password, a refused single sign-on), each per client address and per email tried
LINK_REQUESTS_PER_ADDRESS: RateLimitItem = RateLimitItemPerMinute(10, 15)
LINK_REQUESTS_PER_EMAIL: RateLimitItem = RateLimitItemPerMinute(5, 15)
FAILURES_PER_ADDRESS: RateLimitItem = RateLimitItemPerMinute(20, 15)
FAILURES_PER_EMAIL: RateLimitItem = RateLimitItemPerMinute(10, 15)


# who may sign in -------------------------------------------------------------------------


class AllowedPeople:
    """``settings.admins`` and the profile's ISMS lead and deputy (re-read when the file changes)."""

    def __init__(self, settings: Settings) -> None:
        self._admins = {address.strip().casefold(): "" for address in settings.admins if address.strip()}
        self._profile = settings.profile_file
        self._seen: tuple[int, int, int] | None = None
        self._from_profile: dict[str, str] = {}
        self.organisation = ""  # the profile's organisation name, for the sign-in email
        self.short_name = ""  # and its short name (the archive's first key part)

    def _file_mark(self) -> tuple[int, int, int] | None:
        if self._profile is None:
            return None
        try:
            stat = self._profile.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _reload(self, profile: Path) -> None:
        try:
            loaded = load_profile(profile)
        except (UnreadableInputError, OSError, ValueError) as exc:
            # a broken profile lets nobody in through it (admins still work), and says so
            log.warning("the sign-in profile %s cannot be read: %s", profile, type(exc).__name__)
            self._from_profile, self.organisation, self.short_name = {}, "", ""
            return
        people: dict[str, str] = {}
        for role in loaded.roles:
            if role.kind is RoleKind.ISMS_LEAD:
                for reference in (role.holder, role.deputy):
                    if reference and "@" in reference:
                        people[reference.strip().casefold()] = role.title
        self._from_profile, self.organisation = people, loaded.organisation.name
        self.short_name = loaded.organisation.short_name

    def current(self) -> dict[str, str]:
        """Every allowed address (casefolded) and, for the profile's people, their role's title."""
        mark = self._file_mark()
        if mark != self._seen:
            self._seen = mark
            if mark is None or self._profile is None:
                self._from_profile, self.organisation, self.short_name = {}, "", ""
            else:
                self._reload(self._profile)
        return {**self._admins, **self._from_profile}

    def known(self) -> dict[str, str]:
        """The list as last read (no file access)."""
        return {**self._admins, **self._from_profile}

    async def allows(self, email: str) -> bool:
        """Whether ``email`` may sign in now (the profile is checked on a thread)."""
        return email.strip().casefold() in await asyncio.to_thread(self.current)


# throttling and the log of failures ------------------------------------------------------


class FailedSignIns:
    """A small table of failed sign-ins beside ``WebState``'s, in the same SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS failed_signins (at REAL NOT NULL, address TEXT NOT NULL, "
            "email TEXT NOT NULL, reason TEXT NOT NULL)"
        )
        return connection

    def _add(self, at: datetime, address: str, email: str, reason: str) -> None:
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "INSERT INTO failed_signins (at, address, email, reason) VALUES (?, ?, ?, ?)",
                (at.timestamp(), address, email, reason),
            )
            connection.execute(
                "DELETE FROM failed_signins WHERE rowid NOT IN "
                "(SELECT rowid FROM failed_signins ORDER BY at DESC LIMIT ?)",
                (KEPT_FAILURES,),
            )

    def _latest(self, count: int) -> list[dict[str, str]]:
        with closing(self._connect()) as connection:
            rows = connection.execute(
                "SELECT at, address, email, reason FROM failed_signins ORDER BY at DESC LIMIT ?", (count,)
            ).fetchall()
        return [
            {
                "at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "address": address,
                "email": email,
                "reason": reason,
            }
            for at, address, email, reason in rows
        ]

    async def add(self, *, address: str, email: str, reason: str) -> None:
        await asyncio.to_thread(self._add, datetime.now(UTC), address, email, reason)

    async def latest(self, count: int = SHOWN_FAILURES) -> list[dict[str, str]]:
        return await asyncio.to_thread(self._latest, count)


class SignInDesk:
    """What sign-in keeps per app: the allowed list, the throttles, the failures, sent mail."""

    def __init__(self, settings: Settings, state_file: Path) -> None:
        self.allowed = AllowedPeople(settings)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.failures = FailedSignIns(state_file)
        self.sending: set[asyncio.Task[None]] = set()

    def throttled(self, *, address: str, email: str) -> bool:
        """True when this address or email has failed too often lately (nothing is counted)."""
        if not self.limiter.test(FAILURES_PER_ADDRESS, "failed", "address", address):
            return True
        return bool(email) and not self.limiter.test(FAILURES_PER_EMAIL, "failed", "email", email.casefold())

    def count_link_request(self, *, address: str, email: str) -> bool:
        """Count a request for a link; False when it is one too many."""
        by_address = self.limiter.hit(LINK_REQUESTS_PER_ADDRESS, "link", "address", address)
        by_email = self.limiter.hit(LINK_REQUESTS_PER_EMAIL, "link", "email", email.casefold())
        return by_address and by_email

    async def failed(self, *, address: str, email: str, reason: str) -> None:
        """Count, log and keep one failed sign-in."""
        self.limiter.hit(FAILURES_PER_ADDRESS, "failed", "address", address)
        if email:
            self.limiter.hit(FAILURES_PER_EMAIL, "failed", "email", email.casefold())
        security_log.warning(
            "failed sign-in at=%s address=%s email=%s reason=%s",
            datetime.now(UTC).isoformat(timespec="seconds"),
            address,
            email or "-",
            reason,
        )
        await self.failures.add(address=address, email=email, reason=reason)


def desk(request: Request) -> SignInDesk:
    """The app's sign-in desk (made on first use, one per app)."""
    found = getattr(request.app.state, "signin_desk", None)
    if not isinstance(found, SignInDesk):
        services = app_services(request)
        found = SignInDesk(services.settings, services.state.path)
        request.app.state.signin_desk = found
    return found


# sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardSession:
    """A signed-in person (or the single-user install's password holder)."""

    session_id: str
    email: str  # empty for a password session
    csrf: str
    method: str  # "link", "sso" or "password"

    def actor(self, request: Request) -> str:
        """Who did it, as recorded in the workflow: the email, how, and from where."""
        address = client_ip(request) or "unknown address"
        who = SINGLE_USER_ACTOR if self.method == "password" else self.email
        return f"{who} via dashboard ({address})"

    def csrf_matches(self, submitted: object) -> bool:
        return isinstance(submitted, str) and hmac.compare_digest(self.csrf.encode(), submitted.encode())


def _password_check(settings: Settings) -> str:
    """A digest of today's shared password: a session made with another password is over."""
    password = settings.dashboard_password.get_secret_value() if settings.dashboard_password else ""
    return hmac.new(settings.session_key(), password.encode(), hashlib.sha256).hexdigest()


def _session_expiry(settings: Settings, created: float, now: datetime) -> datetime:
    ends = datetime.fromtimestamp(created, UTC) + timedelta(hours=settings.session_hours)
    return min(ends, now + timedelta(minutes=settings.session_idle_minutes))


async def _still_allowed(request: Request, value: dict[str, Any]) -> bool:
    settings = app_services(request).settings
    if value.get("method") == "password":
        return settings.dashboard_single_user and hmac.compare_digest(
            str(value.get("password_check", "")), _password_check(settings)
        )
    return await desk(request).allowed.allows(str(value.get("email", "")))


async def current_session(request: Request) -> DashboardSession | None:
    """The request's live session, or None. Checked before anything else a route does.

    Refreshes the idle expiry; ends the session when its person is no longer allowed.
    """
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > 100:
        return None
    services = app_services(request)
    now = datetime.now(UTC)
    found = await services.state.get(SESSION_KIND, session_id, now=now)
    if found is None:
        return None
    if not await _still_allowed(request, found):
        await services.state.delete(SESSION_KIND, session_id)
        security_log.warning(
            "session ended at=%s email=%s reason=no longer an allowed person",
            now.isoformat(timespec="seconds"),
            found.get("email") or SINGLE_USER_ACTOR,
        )
        return None

    def refresh(current: dict[str, Any] | None) -> tuple[dict[str, Any] | None, datetime]:
        if current is None:  # ended meanwhile (logout): stays ended
            return None, now
        return current, _session_expiry(services.settings, float(current["created"]), now)

    refreshed = await services.state.change(SESSION_KIND, session_id, refresh, now=now)
    if refreshed is None:
        return None
    return DashboardSession(
        session_id=session_id,
        email=str(refreshed.get("email", "")),
        csrf=str(refreshed["csrf"]),
        method=str(refreshed.get("method", "")),
    )


async def _start_session(request: Request, *, email: str, method: str) -> Response:
    """A new session for ``email`` and the redirect to the dashboard that sets its cookie."""
    services = app_services(request)
    settings = services.settings
    now = datetime.now(UTC)
    session_id = secrets.token_urlsafe(32)
    value: dict[str, Any] = {
        "email": email,
        "csrf": secrets.token_urlsafe(32),
        "method": method,
        "created": now.timestamp(),
        "address": client_ip(request) or "",
    }
    if method == "password":
        value["password_check"] = _password_check(settings)
    await services.state.put(
        SESSION_KIND, session_id, value, expires_at=_session_expiry(settings, now.timestamp(), now)
    )
    security_log.info(
        "signed in at=%s address=%s email=%s method=%s",
        now.isoformat(timespec="seconds"),
        client_ip(request) or "-",
        email or SINGLE_USER_ACTOR,
        method,
    )
    if method == "sso":
        # the browser came here from the provider's site: a SameSite=Strict cookie set now is
        # not sent with a redirect in the same chain, so the next request is a navigation of ours
        response: Response = pages.page(request, "signin_continue.html", {}, status_code=200)
    else:
        response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_hours * 3600,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=settings.public_base_url.startswith("https"),
    )
    return response


async def end_session(request: Request, session: DashboardSession) -> None:
    await app_services(request).state.delete(SESSION_KIND, session.session_id)


# pages -------------------------------------------------------------------------------------


def _address(request: Request) -> str:
    return client_ip(request) or "unknown address"


def _throttled_page(request: Request) -> HTMLResponse:
    return pages.page(
        request,
        "problem.html",
        {
            "heading": "Too many sign-in attempts",
            "explanation": "There have been too many sign-in attempts from here or for this address lately.",
            "advice": "Wait 15 minutes, then try again.",
            "tone": "bad",
        },
        status_code=429,
    )


def _login_page(request: Request, *, error: str = "", status_code: int = 200) -> HTMLResponse:
    settings = app_services(request).settings
    return pages.page(
        request,
        "dashboard_login.html",
        {
            "error": error,
            "password": settings.dashboard_single_user,
            "sso": settings.oidc_enabled,
        },
        status_code=status_code,
    )


async def _small_form(request: Request) -> FormData | HTMLResponse:
    """A sign-in form: a few short fields, no files (anything else is refused unread)."""
    try:
        return await request.form(max_files=0, max_fields=5, max_part_size=4096)
    except StarletteHTTPException as exc:
        return pages.notice(request, "The form could not be read", str(exc.detail), status_code=400)


def _plain_email(value: object) -> str | None:
    """The address typed, when it is one plain address of a sane length."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    _, parsed = parseaddr(text)
    local, _, domain = parsed.partition("@")
    if not local or not domain or parsed != text or len(text) > _MAX_EMAIL or any(c in text for c in "\r\n,"):
        return None
    return text


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    """Ask for a sign-in link (``email``) or, in a single-user install, give the password."""
    form = await _small_form(request)
    if isinstance(form, HTMLResponse):
        return form
    if "password" in form:
        return await _password_login(request, form.get("password"))
    email = _plain_email(form.get("email"))
    if email is None:
        return _login_page(
            request, error="Enter your email address, for example ravi@example.com.", status_code=422
        )
    signin = desk(request)
    address = _address(request)
    if signin.throttled(address=address, email=email) or not signin.count_link_request(
        address=address, email=email
    ):
        await signin.failed(address=address, email=email, reason="too many sign-in link requests")
        return _throttled_page(request)
    if await signin.allowed.allows(email):
        _send_link_in_background(request, signin, email)
    else:
        await signin.failed(address=address, email=email, reason="not an allowed person (no link sent)")
    # the same answer for every address: the page never tells who may sign in
    return pages.page(request, "signin_sent.html", {"minutes": SIGNIN_LINK_MINUTES})


async def _password_login(request: Request, submitted: object) -> Response:
    settings = app_services(request).settings
    signin = desk(request)
    address = _address(request)
    if not settings.dashboard_single_user or settings.dashboard_password is None:
        await signin.failed(address=address, email="", reason="password sign-in is not enabled")
        return _login_page(
            request,
            error="This dashboard does not take a shared password: sign in with your email address.",
            status_code=403,
        )
    if signin.throttled(address=address, email=""):
        await signin.failed(address=address, email="", reason="throttled")
        return _throttled_page(request)
    expected = settings.dashboard_password.get_secret_value().encode()
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted.encode(), expected):
        await signin.failed(address=address, email="", reason="wrong dashboard password")
        return _login_page(request, error="That is not the dashboard password.", status_code=401)
    return await _start_session(request, email="", method="password")


def _send_link_in_background(request: Request, signin: SignInDesk, email: str) -> None:
    """Email ``email`` a sign-in link, on a thread, without making the page wait for SMTP
    (the answer must take as long for an address that gets no email)."""
    settings = app_services(request).settings
    now = datetime.now(UTC)
    token = issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id=SIGNIN_CYCLE,
        person=email,
        role=LinkRole.LEAD,
        version_hash=None,
        ttl=timedelta(minutes=SIGNIN_LINK_MINUTES),
        now=now,
    )
    names = signin.allowed.known()
    context: dict[str, object] = {
        "organisation": signin.allowed.organisation or "isms-cycle",
        "lead_name": names.get(email.casefold()) or email,
        "link": link_url(settings.public_base_url, "dashboard/signin", token),
        "link_expires": (now + timedelta(minutes=SIGNIN_LINK_MINUTES)).strftime("%d %B %Y, %H:%M UTC"),
    }
    key = f"dashboard-signin/{hashlib.sha256(token.encode()).hexdigest()[:32]}"

    def send() -> None:
        message = compose_message(settings, key=key, template="lead_signin", to=[email], context=context)
        with smtp_session(settings) as smtp:
            smtp.send_message(message, to_addrs=[email])

    async def send_and_log() -> None:
        try:
            await asyncio.to_thread(send)
        except Exception as exc:  # a failed send is logged (never the link); the page already answered
            log.error("the sign-in email to %s could not be sent: %s", email, type(exc).__name__)

    task = asyncio.create_task(send_and_log())
    signin.sending.add(task)
    task.add_done_callback(signin.sending.discard)


_LINK_PROBLEMS: pages.ProblemTexts = {
    LinkProblem.TAMPERED: (
        400,
        "This sign-in link is not valid",
        "The link is incomplete or has been changed. Links work only exactly as they were sent.",
        "Ask for a new sign-in link on the dashboard's sign-in page.",
    ),
    LinkProblem.EXPIRED: (
        410,
        "This sign-in link has expired",
        f"Sign-in links work for {SIGNIN_LINK_MINUTES} minutes, and this one's time is over.",
        "Ask for a new sign-in link on the dashboard's sign-in page.",
    ),
    LinkProblem.WRONG_ROLE: (
        403,
        "This link is not for this page",
        "The link you opened grants access to something else, not to the ISMS lead's dashboard.",
        "Ask for a sign-in link on the dashboard's sign-in page.",
    ),
    LinkProblem.SUPERSEDED: (410, "This sign-in link no longer works", "", ""),
    LinkProblem.REVOKED: (410, "This sign-in link no longer works", "", ""),
    LinkProblem.OLD_LINK: (410, "This sign-in link no longer works", "", ""),
}


async def _signin_claims(request: Request, token: str) -> LinkClaims | Response:
    """The sign-in link's claims, or the page (and the logged failure) for a link that does not work."""
    signin = desk(request)
    address = _address(request)
    if signin.throttled(address=address, email=""):
        await signin.failed(address=address, email="", reason="throttled")
        return _throttled_page(request)
    settings = app_services(request).settings
    claims = read_link(
        settings.link_secret.get_secret_value(), token, expected_role=LinkRole.LEAD, now=datetime.now(UTC)
    )
    if isinstance(claims, LinkProblem):
        await signin.failed(address=address, email="", reason=f"sign-in link {claims.value}")
        return pages.problem_page(request, _LINK_PROBLEMS, claims)
    if claims.cycle_id != SIGNIN_CYCLE:
        await signin.failed(address=address, email=claims.person, reason="not a sign-in link")
        return pages.problem_page(request, _LINK_PROBLEMS, LinkProblem.WRONG_ROLE)
    if signin.throttled(address=address, email=claims.person):
        await signin.failed(address=address, email=claims.person, reason="throttled")
        return _throttled_page(request)
    return claims


def _used_page(request: Request) -> HTMLResponse:
    return pages.page(
        request,
        "problem.html",
        {
            "heading": "This sign-in link has been used",
            "explanation": "Each sign-in link works once, and this one has signed someone in already.",
            "advice": "Ask for a new sign-in link on the dashboard's sign-in page.",
            "tone": "bad",
        },
        status_code=410,
    )


@router.get("/signin/{token}", response_class=HTMLResponse)
async def signin_link_page(request: Request, token: str) -> Response:
    """The page the emailed link opens: a button, since opening a link must change nothing."""
    claims = await _signin_claims(request, token)
    if isinstance(claims, Response):
        return claims
    if await app_services(request).state.get(SIGNIN_LINK_KIND, claims.token_id) is not None:
        return _used_page(request)
    csrf = new_csrf_token()
    response = pages.page(request, "signin_link.html", {"csrf": csrf, "email": claims.person})
    settings = app_services(request).settings
    set_csrf_cookie(
        response, csrf, path="/dashboard/signin", secure=settings.public_base_url.startswith("https")
    )
    return response


@router.post("/signin/{token}", response_model=None)
async def signin_with_link(request: Request, token: str) -> Response:
    """Use the link up and start the session."""
    claims = await _signin_claims(request, token)
    if isinstance(claims, Response):
        return claims
    form = await _small_form(request)
    if isinstance(form, HTMLResponse):
        return form
    submitted = form.get("csrf")
    if not csrf_matches(request, submitted if isinstance(submitted, str) else None):
        return pages.notice(
            request,
            "Open the link again",
            "The sign-in form had expired or did not come from this page.",
            status_code=403,
            advice="Open the link from the email again and press Sign in.",
        )
    signin = desk(request)
    address = _address(request)
    used_now: list[bool] = []

    def use_up(current: dict[str, Any] | None) -> tuple[dict[str, Any] | None, datetime]:
        if current is None:
            used_now.append(True)
            return {"used_at": datetime.now(UTC).isoformat(), "address": address}, claims.expires_at
        return current, claims.expires_at

    await app_services(request).state.change(SIGNIN_LINK_KIND, claims.token_id, use_up)
    if not used_now:
        await signin.failed(address=address, email=claims.person, reason="sign-in link used already")
        return _used_page(request)
    if not await signin.allowed.allows(claims.person):
        await signin.failed(address=address, email=claims.person, reason="no longer an allowed person")
        return pages.page(
            request,
            "problem.html",
            {
                "heading": "Not allowed",
                "explanation": "This address may no longer sign in to the ISMS lead's dashboard.",
                "advice": "Ask the ISMS lead if you think it should.",
                "tone": "bad",
            },
            status_code=403,
        )
    return await _start_session(request, email=claims.person, method="link")


@router.get("/login/sso", response_model=None)
async def sso_start(request: Request) -> Response:
    """Leave for the identity provider (when single sign-on is configured)."""
    settings = app_services(request).settings
    if not settings.oidc_enabled:
        return pages.notice(
            request, "Single sign-on is not set up", "Sign in with your email address.", status_code=404
        )
    if desk(request).throttled(address=_address(request), email=""):
        return _throttled_page(request)
    binding = secrets.token_urlsafe(32)
    try:
        url = await oidc.begin_login(
            request, purpose="dashboard", redirect_path="/dashboard/login/sso/callback", binding=binding
        )
    except oidc.OidcError as problem:
        log.error("single sign-on cannot start: %s", problem)
        return oidc.unavailable_page(
            request, advice="Sign in with your email address instead, or try again later."
        )
    response = oidc.provider_redirect(
        request, url, cookie=SSO_COOKIE, value=binding, path="/dashboard/login/sso"
    )
    return response


@router.get("/login/sso/callback", response_model=None)
async def sso_callback(request: Request) -> Response:
    signin = desk(request)
    address = _address(request)
    if signin.throttled(address=address, email=""):
        await signin.failed(address=address, email="", reason="throttled")
        return _throttled_page(request)
    finished = await oidc.finish_login(
        request,
        purpose="dashboard",
        redirect_path="/dashboard/login/sso/callback",
        binding=request.cookies.get(SSO_COOKIE),
    )
    if isinstance(finished, str):
        await signin.failed(address=address, email="", reason=f"single sign-on: {finished}")
        return _sso_refused(request, "The sign-in with the identity provider did not complete.")
    email = finished.identity.email
    if signin.throttled(address=address, email=email):
        await signin.failed(address=address, email=email, reason="throttled")
        return _throttled_page(request)
    if not await signin.allowed.allows(email):
        await signin.failed(address=address, email=email, reason="single sign-on: not an allowed person")
        return _sso_refused(request, f"{email} may not sign in to the ISMS lead's dashboard.")
    response = await _start_session(request, email=email, method="sso")
    response.delete_cookie(SSO_COOKIE, path="/dashboard/login/sso")
    return response


def _sso_refused(request: Request, explanation: str) -> HTMLResponse:
    response = pages.page(
        request,
        "problem.html",
        {
            "heading": "Not signed in",
            "explanation": explanation,
            "advice": "Go back to the sign-in page and try again, or sign in with your email address.",
            "tone": "bad",
        },
        status_code=403,
    )
    response.delete_cookie(SSO_COOKIE, path="/dashboard/login/sso")
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request) -> Response:
    """End the session (CSRF-checked): its cookie is refused from now on, wherever it was saved."""
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    form = await _small_form(request)
    if isinstance(form, HTMLResponse):
        return form
    if not session.csrf_matches(form.get("csrf")):
        return pages.notice(
            request,
            "Not signed out",
            "The sign-out form did not come from this dashboard.",
            status_code=403,
            advice="Use the Sign out button on the dashboard.",
        )
    await end_session(request, session)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response
