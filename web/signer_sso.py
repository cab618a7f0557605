"""The signer's second factor by single sign-on (when ``settings.oidc_enabled``).

``GET /sign/{token}/sso`` starts an OpenID Connect login (:mod:`web.oidc`, the dashboard's
client) for the person the signing link was sent to; the provider sends the browser back to
``GET /sign/sso/callback``, which checks that the verified email is that person's (casefold),
records the factor for the link for 30 minutes (``web.state.mark_signer_verified``) and
returns to the signing page, whose POST reads it (``web.state.signer_verified``).

The link token rides the round trip in an HttpOnly cookie scoped to the callback's path, so it
never reaches the provider, a log or the server's store; the flow itself is bound to that
cookie (its digest is kept with the flow).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.cycle import SecondFactor, SecondFactorMethod
from models.links import LinkClaims, LinkProblem, LinkRole
from web import oidc, pages
from web.security import client_ip
from web.services import app_services
from web.signing import SIGNING_LINK_PROBLEMS, remember_verified_browser

router = APIRouter()
security_log = logging.getLogger("isms.security")
log = logging.getLogger(__name__)

CALLBACK_PATH = "/sign/sso/callback"
SSO_COOKIE = "isms_sso_signer"


def _signing_claims(request: Request, token: str) -> LinkClaims | LinkProblem:
    return pages.link_claims(request, token, LinkRole.SIGNER)


def _refused(request: Request, explanation: str, *, status_code: int = 403) -> HTMLResponse:
    response = pages.page(
        request,
        "problem.html",
        {
            "heading": "Single sign-on did not confirm it is you",
            "explanation": explanation,
            "advice": "Open the signing link from the email again and try again, or use the emailed code.",
            "tone": "bad",
        },
        status_code=status_code,
    )
    response.delete_cookie(SSO_COOKIE, path=CALLBACK_PATH)
    return response


@router.get("/sign/{token}/sso", response_model=None)
async def signer_sso_start(request: Request, token: str) -> Response:
    """Leave for the identity provider to confirm the link's person. Records nothing."""
    settings = app_services(request).settings
    if not settings.oidc_enabled:
        return pages.notice(
            request,
            "Single sign-on is not set up",
            "Confirm it is you with the code emailed to you instead.",
            status_code=404,
        )
    claims = _signing_claims(request, token)
    if isinstance(claims, LinkProblem):
        return pages.problem_page(request, SIGNING_LINK_PROBLEMS, claims)
    try:
        url = await oidc.begin_login(
            request,
            purpose="signer",
            redirect_path=CALLBACK_PATH,
            binding=token,
            login_hint=claims.person,
            # the store keeps no link id in the clear: its digest is enough to compare
            extra={"link": hashlib.sha256(claims.token_id.encode()).hexdigest()},
        )
    except oidc.OidcError as problem:
        log.error("single sign-on for a signer cannot start: %s", problem)
        return oidc.unavailable_page(
            request, advice="Confirm it is you with the emailed code instead, or try again later."
        )
    response = oidc.provider_redirect(request, url, cookie=SSO_COOKIE, value=token, path=CALLBACK_PATH)
    return response


@router.get(CALLBACK_PATH, response_model=None)
async def signer_sso_callback(request: Request) -> Response:
    """Check the provider's answer against the link's person; on a match, back to the signing page."""
    token = request.cookies.get(SSO_COOKIE)
    address = client_ip(request) or "unknown address"
    now = datetime.now(UTC)
    finished = await oidc.finish_login(request, purpose="signer", redirect_path=CALLBACK_PATH, binding=token)
    if isinstance(finished, str) or token is None:
        reason = finished if isinstance(finished, str) else "no signing link"
        security_log.warning(
            "failed signer single sign-on at=%s address=%s reason=%s",
            now.isoformat(timespec="seconds"),
            address,
            reason,
        )
        return _refused(request, "The sign-in with the identity provider did not complete.")
    claims = _signing_claims(request, token)
    if isinstance(claims, LinkProblem):
        return pages.problem_page(request, SIGNING_LINK_PROBLEMS, claims)
    if finished.extra.get("link") != hashlib.sha256(claims.token_id.encode()).hexdigest():
        return _refused(request, "The sign-in was started for another signing link.")
    identity = finished.identity
    if identity.email.strip().casefold() != claims.person.strip().casefold():
        security_log.warning(
            "failed signer single sign-on at=%s address=%s email=%s reason=not the link's person",
            now.isoformat(timespec="seconds"),
            address,
            identity.email,
        )
        return _refused(
            request,
            f"You signed in as {identity.email}, which is not the address this signing link was sent to.",
        )
    factor = SecondFactor(
        method=SecondFactorMethod.SSO,
        identity=identity.email,
        verified_at=now,
        detail=f"issuer {identity.issuer}",
    )
    security_log.info(
        "signer verified by single sign-on at=%s address=%s email=%s",
        now.isoformat(timespec="seconds"),
        address,
        identity.email,
    )
    response = RedirectResponse(f"/sign/{token}", status_code=303)
    response.delete_cookie(SSO_COOKIE, path=CALLBACK_PATH)
    return await remember_verified_browser(request, response, token, claims, factor)
