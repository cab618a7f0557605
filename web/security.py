"""CSRF for the forms, and what the web app knows about the person at the other end."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

CSRF_COOKIE = "isms_csrf"


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
