"""ASGI middleware in front of every route: the security headers and the per-route body limits.

Both are pure ASGI (not Starlette's ``BaseHTTPMiddleware``, which buffers streamed responses
such as the evidence pack) and wrap the whole application, outside Starlette's own error
middleware, so that a 500, a 404, a redirect and a 413 carry the same headers as a page.

``SecurityHeaders`` gives each request a fresh CSP nonce (``csp_nonce(request)``, in every
template's context as ``csp_nonce``) and sets on every response:

* ``Content-Security-Policy``: for pages, scripts only with the nonce, everything else from
  the app itself, never framed (``frame-ancestors 'none'``); for files (PDFs, the pack, JSON,
  redirects), nothing runs (``default-src 'none'``) and nothing frames them, unless the route
  allowed its own page to (``web.security.file_headers(frame="SAMEORIGIN")``);
* ``X-Frame-Options``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``
  (a token in the address must not leave in a ``Referer``), and HSTS when the public address
  is https.

``BodyLimit`` refuses a request body larger than its route allows with a plain 413 page: at
once when ``Content-Length`` says so (nothing is read), and when a body without one (chunked)
passes the limit while the app reads it (the app's answer is then replaced by the 413). The
413 closes the connection, so a client that keeps sending is cut off rather than drained.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.document_uploads import MAX_TOTAL_BYTES
from web.security import response_security_headers

NONCE_SCOPE_KEY = "isms.csp_nonce"

KB = 1024
MB = 1024 * KB
# the dashboard's document uploads (at most 100 MB of files) plus the profile and the form's framing
UPLOAD_BODY_LIMIT = MAX_TOTAL_BYTES + 20 * MB
SIGNIN_BODY_LIMIT = 8 * KB  # an email address, a password or a sign-in link's confirmation
DEFAULT_BODY_LIMIT = 64 * KB  # every other form: a name, a comment, a checkbox, a CSRF value


@dataclass(frozen=True)
class RouteBodyLimit:
    """Requests whose path matches ``path`` may send at most ``max_bytes`` of body."""

    path: re.Pattern[str]
    max_bytes: int


BODY_LIMITS: tuple[RouteBodyLimit, ...] = (
    # a new cycle, a revision: the profile and the documents
    RouteBodyLimit(re.compile(r"/dashboard/cycles/?"), UPLOAD_BODY_LIMIT),
    RouteBodyLimit(re.compile(r"/dashboard/cycles/[^/]+/revision/?"), UPLOAD_BODY_LIMIT),
    # asking for a sign-in link, confirming one, the single-user password
    RouteBodyLimit(re.compile(r"/dashboard/(?:login|signin)(?:/.*)?"), SIGNIN_BODY_LIMIT),
)


def body_limit_for(path: str) -> int:
    """How many bytes of body a request to ``path`` may send."""
    for limit in BODY_LIMITS:
        if limit.path.fullmatch(path):
            return limit.max_bytes
    return DEFAULT_BODY_LIMIT


def csp_nonce(connection: HTTPConnection) -> str:
    """This request's script nonce (empty outside ``SecurityHeaders``)."""
    nonce: str = connection.scope.get(NONCE_SCOPE_KEY, "")
    return nonce


class SecurityHeaders:
    """Adds the security headers to every HTTP response; a header a route set itself is kept."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope[NONCE_SCOPE_KEY] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add_headers(MutableHeaders(scope=message), nonce)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add_headers(self, headers: MutableHeaders, nonce: str) -> None:
        for name, value in response_security_headers(headers, nonce=nonce, https=self.https).items():
            headers[name] = value


class BodyTooLargeError(Exception):
    """Raised into the app when a streamed body passes its route's limit."""


# the plain 413 page for a request and its route's limit (the app's own problem template)
TooLargePage = Callable[[Scope, int], Response]


class BodyLimit:
    """Refuses request bodies over the route's limit with 413, before the app parses them."""

    def __init__(self, app: ASGIApp, *, too_large_page: TooLargePage) -> None:
        self.app = app
        self.too_large_page = too_large_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)  # nothing of the body is read
            return

        received = 0
        over = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, over
            if over:
                raise BodyTooLargeError
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if over and not response_started:
                return  # the app's answer to a body cut short (a 400, a 500) gives way to the 413
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over or response_started:
                raise
        if over and not response_started:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = self.too_large_page(scope, limit)
        # the server closes the connection instead of reading (or draining) the rest of the body
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before the app sees it
    return None


def describe_limit(limit: int) -> str:
    """``limit`` in words for the 413 page: "64 KB", "120 MB"."""
    if limit >= MB:
        return f"{limit // MB} MB"
    return f"{limit // KB} KB"
