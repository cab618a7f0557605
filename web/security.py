"""CSRF for the forms, the headers every page and file carries, and what the web app knows
about the person at the other end."""

from __future__ import annotations

import hmac
import secrets
from typing import TypeVar

from fastapi import Request
from starlette.responses import Response

CSRF_COOKIE = "isms_csrf"

# every page: never cached (links carry tokens, pages carry CSRF values), never framed
PAGE_HEADERS: dict[str, str] = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}

R = TypeVar("R", bound=Response)


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
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:512] if agent else None
