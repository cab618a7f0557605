"""OpenID Connect single sign-on: one client for the dashboard's sign-in and the signer's second factor.

Authlib's Starlette client does the protocol (discovery from ``settings.oidc_issuer``, the
authorization code flow with PKCE S256, a nonce, the token exchange and the ID token's
signature, issuer, audience, expiry and nonce checks). What Authlib would keep in a
cookie-backed ``request.session`` is kept server-side in :class:`web.state.WebState` instead
(kind ``"oidc-flow"``, keyed by the ``state`` value, ten minutes, used once), bound to the
browser that started the flow by the digest of a value only that browser holds:

>>> url = await begin_login(request, purpose="dashboard", redirect_path="/dashboard/login/sso/callback",
...                         binding=cookie_value)
>>> finished = await finish_login(request, purpose="dashboard", redirect_path=..., binding=cookie_value)
>>> if isinstance(finished, str): ...  # why not, in words for the log and the page
>>> finished.identity.email

An identity counts only with a verified email: ``email_verified`` must be true in the ID token.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# first, on its own: at import it installs a filter that shows its warnings always
import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401
import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from joserfc.errors import JoseError

from core.settings import Settings
from web import pages
from web.services import app_services
from web.state import Value

with warnings.catch_warnings():
    # Authlib 1.9 announces at import that it would rather have httpx2; this project pins httpx
    # 0.28 (FastAPI, the tests' clients), which Authlib still supports as its fallback
    warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=DeprecationWarning)
    from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]
        OAuth,
        OAuthError,
        StarletteOAuth2App,
    )

FLOW_KIND = "oidc-flow"
FLOW_MINUTES = 10  # from leaving for the provider to coming back
SCOPE = "openid email"
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class OidcIdentity:
    """Who the provider says signed in: a verified email address."""

    email: str
    issuer: str
    subject: str


@dataclass(frozen=True)
class FinishedLogin:
    identity: OidcIdentity
    extra: dict[str, Any]  # what ``begin_login`` was given to carry through the flow


class OidcClient:
    """The relying party for ``settings.oidc_issuer`` (discovery is fetched once and kept)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_enabled or settings.oidc_client_secret is None:
            raise ValueError("OpenID Connect is not configured (ISMS_OIDC_ISSUER and the client)")
        assert settings.oidc_issuer is not None
        self.issuer = settings.oidc_issuer
        registry = OAuth()
        app = registry.register(
            "isms",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": HTTP_TIMEOUT_SECONDS},
        )
        assert isinstance(app, StarletteOAuth2App)
        self._app = app

    async def _metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = await self._app.load_server_metadata()
        # OpenID Connect Discovery 1.0, 4.3: the issuer in the document must be the one configured
        if metadata.get("issuer") != self.issuer:
            raise OidcError(
                f"the provider's discovery document names issuer {metadata.get('issuer')!r}, "
                f"not the configured {self.issuer!r}"
            )
        return metadata

    async def authorization(self, *, redirect_uri: str, login_hint: str | None) -> dict[str, str]:
        """The provider's URL to send the browser to, with the state, nonce and PKCE verifier."""
        await self._metadata()
        extra = {"login_hint": login_hint} if login_hint else {}
        created: dict[str, str] = await self._app.create_authorization_url(redirect_uri, **extra)
        return created

    async def identity(self, *, redirect_uri: str, code: str, code_verifier: str, nonce: str) -> OidcIdentity:
        """Exchange ``code`` and check the ID token; raises :class:`OidcError` saying why not."""
        try:
            await self._metadata()
            token = await self._app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
            )
            claims = await self._app.parse_id_token(token, nonce=nonce)
        except (OAuthError, JoseError, httpx.HTTPError, ValueError, KeyError) as exc:
            raise OidcError(f"the provider's answer was refused ({type(exc).__name__})") from None
        if claims is None:
            raise OidcError("the provider sent no ID token")
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise OidcError("the ID token has no email address")
        if claims.get("email_verified") is not True:
            raise OidcError(f"the provider has not verified the address {email}")
        return OidcIdentity(email=email, issuer=self.issuer, subject=str(claims.get("sub", "")))


class OidcError(Exception):
    """Single sign-on did not give a usable identity; the message says why (no secrets in it)."""


def oidc_client(request: Request) -> OidcClient:
    """The app's one OpenID Connect client (made on first use)."""
    found = getattr(request.app.state, "oidc_client", None)
    if not isinstance(found, OidcClient):
        found = OidcClient(app_services(request).settings)
        request.app.state.oidc_client = found
    return found


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def redirect_uri_for(settings: Settings, path: str) -> str:
    """The callback address the provider sends the browser back to (the public address)."""
    return f"{settings.public_base_url}{path}"


async def begin_login(
    request: Request,
    *,
    purpose: str,
    redirect_path: str,
    binding: str,
    login_hint: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Start a login: remember the flow server-side and return the provider's URL.

    ``binding`` is a value the browser keeps (a cookie): the flow finishes only with it.
    Raises :class:`OidcError` when the provider cannot be reached or is misconfigured.
    """
    services = app_services(request)
    client = oidc_client(request)
    try:
        created = await client.authorization(
            redirect_uri=redirect_uri_for(services.settings, redirect_path), login_hint=login_hint
        )
    except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as exc:
        raise OidcError(f"the identity provider cannot be reached ({type(exc).__name__})") from None
    now = datetime.now(UTC)
    await services.state.put(
        FLOW_KIND,
        created["state"],
        {
            "purpose": purpose,
            "nonce": created["nonce"],
            "code_verifier": created["code_verifier"],
            "binding": _digest(binding),
            "extra": extra or {},
        },
        expires_at=now + timedelta(minutes=FLOW_MINUTES),
    )
    return created["url"]


def provider_redirect(request: Request, url: str, *, cookie: str, value: str, path: str) -> RedirectResponse:
    """The redirect to the provider, with the cookie that binds the flow to this browser.

    Lax, not Strict: the provider sends the browser back with a cross-site top-level GET, and
    the callback at ``path`` must see the cookie then.
    """
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        cookie,
        value,
        max_age=FLOW_MINUTES * 60,
        path=path,
        httponly=True,
        samesite="lax",
        secure=app_services(request).settings.public_base_url.startswith("https"),
    )
    return response


def unavailable_page(request: Request, *, advice: str) -> HTMLResponse:
    """The plain page for a provider that cannot be reached (503), with the other way in."""
    return pages.notice(
        request,
        "Single sign-on is unavailable",
        "The identity provider cannot be reached just now.",
        status_code=503,
        advice=advice,
    )


async def _take_flow(request: Request, state: str) -> Value | None:
    """The flow started with ``state``, removed in the same transaction (a state works once)."""
    taken: list[Value] = []

    def edit(current: Value | None) -> tuple[Value | None, datetime]:
        if current is not None:
            taken.append(current)
        return None, datetime.now(UTC)

    await app_services(request).state.change(FLOW_KIND, state, edit)
    return taken[0] if taken else None


async def finish_login(
    request: Request, *, purpose: str, redirect_path: str, binding: str | None
) -> FinishedLogin | str:
    """Finish the login the provider sent the browser back from, or say why it does not count."""
    params = request.query_params
    state = params.get("state", "")
    if not state or len(state) > 200:
        return "the provider's answer has no state"
    flow = await _take_flow(request, state)
    if flow is None or flow.get("purpose") != purpose:
        return "the sign-in was not started here, has been used already or took longer than 10 minutes"
    if not binding or not hmac.compare_digest(str(flow.get("binding", "")), _digest(binding)):
        return "the sign-in was started in another browser"
    if params.get("error"):
        return f"the provider refused the sign-in ({params.get('error', '')[:100]})"
    code = params.get("code", "")
    if not code or len(code) > 2000:
        return "the provider's answer has no code"
    try:
        identity = await oidc_client(request).identity(
            redirect_uri=redirect_uri_for(app_services(request).settings, redirect_path),
            code=code,
            code_verifier=str(flow["code_verifier"]),
            nonce=str(flow["nonce"]),
        )
    except OidcError as problem:
        return str(problem)
    extra = flow.get("extra")
    return FinishedLogin(identity=identity, extra=extra if isinstance(extra, dict) else {})
