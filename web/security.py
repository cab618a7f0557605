"""CSRF for the forms, the headers every page and file carries, and what the web app knows
about the person at the other end.

The headers themselves are set on every response by ``web.middleware.SecurityHeaders``; a
route only says what differs (a file the app's own page frames: :func:`file_headers`).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TypeVar

from fastapi import Request
from starlette.responses import Response

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CSRF_COOKIE = "isms_csrf"

# every page: never cached (links carry tokens, pages carry CSRF values), never framed
PAGE_HEADERS: dict[str, str] = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}

R = TypeVar("R", bound=Response)

# a file the app's own page shows in a frame (the acknowledgement page's PDF viewer)
FRAMED_FILE_POLICY = "default-src 'none'; frame-ancestors 'self'"
# any other file, JSON or redirect: nothing in it runs, nobody frames it
FILE_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def page_policy(nonce: str) -> str:
    """The CSP of an HTML page: a script runs only with this response's nonce; never framed.

    Styles stay inline ('unsafe-inline' for styles only: the templates carry their CSS and the
    progress bars' widths); the signing page shows each PDF from a ``blob:`` it fetched.
    """
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "frame-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def response_security_headers(existing: Mapping[str, str], *, nonce: str, https: bool) -> dict[str, str]:
    """The headers to set on a response that already has ``existing`` (lower-case names).

    A page (text/html) gets the page policy with ``nonce``; a file gets ``FILE_POLICY``, or
    ``FRAMED_FILE_POLICY`` when its route allowed the app's own page to frame it
    (``X-Frame-Options: SAMEORIGIN``); a policy the route set itself is kept. Every response:
    nosniff, no referrer (a token in the address must not leave in a ``Referer``), HSTS on https.
    """
    framed_by_own_page = existing.get("x-frame-options", "").upper() == "SAMEORIGIN"
    headers = {
        "X-Frame-Options": "SAMEORIGIN" if framed_by_own_page else "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if "content-security-policy" not in existing:
        if existing.get("content-type", "").startswith("text/html"):
            headers["Content-Security-Policy"] = page_policy(nonce)
        else:
            headers["Content-Security-Policy"] = FRAMED_FILE_POLICY if framed_by_own_page else FILE_POLICY
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def protect_page(response: R) -> R:
    """``response`` with the page headers (no-store, X-Frame-Options: DENY)."""
    response.headers.update(PAGE_HEADERS)
    return response


def file_headers(*, inline_name: str | None = None, frame: str | None = None) -> dict[str, str]:
    """Headers of a file served to a link holder: never cached, never sniffed as another type.

    ``inline_name`` shows it in the browser under that name; ``frame`` ("SAMEORIGIN") lets the
    app's own page frame it.
    """
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if inline_name is not None:
        headers = {"Content-Disposition": f'inline; filename="{inline_name}"', **headers}
    if frame is not None:
        headers["X-Frame-Options"] = frame
        if frame.upper() == "SAMEORIGIN":
            # the same permission in CSP terms (web.middleware keeps a route's own policy)
            headers["Content-Security-Policy"] = FRAMED_FILE_POLICY
    return headers


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, token: str, *, path: str, secure: bool) -> None:
    # SameSite=Strict: another site's form cannot post with it; HttpOnly: scripts cannot read it
    response.set_cookie(CSRF_COOKIE, token, path=path, httponly=True, samesite="strict", secure=secure)


def csrf_matches(request: Request, submitted: str | None) -> bool:
    """Double submit: the form's (or header's) value must equal the cookie the page set."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


def client_ip(request: Request) -> str | None:
    """The address of the person at the other end, as recorded in the evidence.

    The immediate peer, unless that peer is one of ``settings.trusted_proxies``: then the
    rightmost ``X-Forwarded-For`` address that is not a trusted proxy (each proxy appends the
    address it saw, so everything left of that is the client's own claim and proves nothing).
    """
    peer = request.client.host if request.client else None
    settings = request.app.state.services.settings
    networks = trusted_networks(tuple(settings.trusted_proxies))
    if peer is None or not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    if not hops:
        return peer
    for hop in reversed(hops):
        address = _parse_address(hop)
        if address is None:
            # a trusted proxy always appends a real address: garbage here came from the client
            return peer
        if not any(address in network for network in networks):
            return str(address)
    return str(_parse_address(hops[0]) or peer)  # every hop is one of ours: the first one is the client


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """``settings.trusted_proxies`` (addresses or CIDR ranges) as networks; a bad entry raises."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def _parse_address(text: str) -> IPAddress | None:
    candidate = text.strip()
    if candidate.startswith("[") and "]" in candidate:  # "[2001:db8::1]:443"
        candidate = candidate[1 : candidate.index("]")]
    elif candidate.count(":") == 1:  # "203.0.113.5:51234"
        candidate = candidate.split(":", 1)[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def _is_trusted(peer: str, networks: Iterable[IPNetwork]) -> bool:
    address = _parse_address(peer)
    return address is not None and any(address in network for network in networks)


def user_agent(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:512] if agent else None
