"""FastAPI application factory.

>>> app = create_app(load_settings())

Every response passes ``web.middleware``: the body limit per route (413 before anything is
parsed) and the security headers (CSP with a per-request nonce, nosniff, no referrer, HSTS on
https), outside Starlette's own error handling so errors carry them too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Scope
from temporalio.client import Client

from core.settings import Settings, SettingsError
from web.ack_commit import close_committer
from web.acknowledge import router as acknowledge_router
from web.audit import router as audit_router
from web.dashboard import router as dashboard_router
from web.middleware import BodyLimit, SecurityHeaders, csp_nonce, describe_limit
from web.role_acceptance import router as role_router
from web.security import protect_page, trusted_networks
from web.services import Services
from web.signer_sso import router as signer_sso_router
from web.signing import router as signing_router
from web.statement import router as statement_router

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("isms.web")


class IsmsApp(FastAPI):
    """The FastAPI app with ``web.middleware`` around all of it, Starlette's error pages included."""

    def __init__(self, *, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state.services = services

    def build_middleware_stack(self) -> ASGIApp:
        services: Services = self.state.services

        def too_large_page(scope: Scope, limit: int) -> Response:
            return _plain_page(
                services,
                Request(scope),
                413,
                "What was sent is too large",
                f"This page accepts at most {describe_limit(limit)}. Nothing was read or changed: "
                "go back and send less (for documents: fewer or smaller files).",
            )

        stack = BodyLimit(super().build_middleware_stack(), too_large_page=too_large_page)
        return SecurityHeaders(stack, https=str(services.settings.public_base_url).startswith("https://"))


def _plain_page(
    services: Services, request: Request, status_code: int, heading: str, explanation: str
) -> HTMLResponse:
    response = services.templates.TemplateResponse(
        request,
        "problem.html",
        {"heading": heading, "explanation": explanation, "advice": "", "tone": "bad"},
        status_code=status_code,
    )
    return protect_page(response)


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    s3: S3Client | None = None,
    auditor_s3: S3Client | None = None,
) -> FastAPI:
    try:
        trusted_networks(tuple(settings.trusted_proxies))
    except ValueError as exc:
        raise SettingsError(
            [f"ISMS_TRUSTED_PROXIES: {exc} (give IP addresses or CIDR ranges, e.g. 10.0.0.0/8)"],
            source="settings",
        ) from exc
    services = Services(settings, client=client, s3=s3, auditor_s3=auditor_s3)
    # every template may use {{ csp_nonce }} (the nonce a <script> needs to run)
    services.templates.context_processors.append(lambda request: {"csp_nonce": csp_nonce(request)})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # acknowledgements waiting for their group are sent (or failed), never dropped
        await close_committer(app)

    app = IsmsApp(
        services=services,
        title="isms-cycle",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(signer_sso_router)  # the signer's single sign-on (/sign/{token}/sso, its callback)
    app.include_router(signing_router)
    app.include_router(dashboard_router)
    app.include_router(acknowledge_router)
    app.include_router(role_router)  # a role holder's acceptance (/role/{token})
    app.include_router(audit_router)
    app.include_router(statement_router)  # the public policy statement: /statement, no token

    @app.exception_handler(RequestValidationError)
    async def unreadable_request(request: Request, _exc: RequestValidationError) -> HTMLResponse:
        """A form or query FastAPI cannot accept (too long, malformed): a plain page, no input echoed."""
        return _plain_page(
            services,
            request,
            400,
            "The form could not be read",
            "What was sent is too long or not in the form the page sends. Go back, shorten it and try again.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        heading = {404: "Not found", 405: "Not allowed here"}.get(
            exc.status_code, "This request cannot be served"
        )
        explanation = {
            404: "There is no page at this address. Use the link exactly as it was sent to you.",
            405: "This page does not take that kind of request.",
        }.get(exc.status_code, "The request was refused.")
        response = _plain_page(services, request, exc.status_code, heading, explanation)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(500)
    async def server_error(request: Request, exc: Exception) -> HTMLResponse:
        """A bug or an outage: a plain page without the exception (the server logs it)."""
        return _plain_page(
            services,
            request,
            500,
            "Something went wrong",
            "The request could not be completed. Try again in a minute; if it keeps happening, "
            "tell your ISMS lead.",
        )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 ``{"status": "ok"}`` when the app can reach Temporal, else 503 ``unavailable``.

        Nothing else: the answer is public, so no address or exception text (those go to the log).
        """
        try:
            temporal = await services.temporal()
            await temporal.service_client.check_health()
        except Exception as exc:  # any failure to reach Temporal is the answer, not a crash
            logger.warning("health check: Temporal unreachable (%s: %s)", type(exc).__name__, exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<title>isms-cycle</title></head><body>"
            "<h1>isms-cycle</h1>"
            "<p>The annual ISO 27001 Clause 5 review: policy and roles, CEO signature, "
            "staff acknowledgement and the audit archive.</p>"
            f"<p>Organisation links are sent by email from {escape(settings.smtp_sender)}.</p>"
            "</body></html>"
        )

    return app
