"""FastAPI application factory.

>>> app = create_app(load_settings())
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from core.settings import Settings
from web.acknowledge import router as acknowledge_router
from web.audit import router as audit_router
from web.dashboard import router as dashboard_router
from web.security import protect_page
from web.services import Services
from web.signing import router as signing_router

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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
    services = Services(settings, client=client, s3=s3, auditor_s3=auditor_s3)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(title="isms-cycle", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = services
    app.include_router(signing_router)
    app.include_router(dashboard_router)
    app.include_router(acknowledge_router)
    app.include_router(audit_router)

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

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the app can reach Temporal, 503 with the reason when it cannot."""
        try:
            temporal = await services.temporal()
            await temporal.service_client.check_health()
        except Exception as exc:  # any failure to reach Temporal is the answer, not a crash
            return JSONResponse(
                {"status": "unavailable", "temporal": f"unreachable: {type(exc).__name__}"},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "temporal": settings.temporal_address})

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
