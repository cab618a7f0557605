"""FastAPI application factory.

>>> app = create_app(load_settings())
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from temporalio.client import Client

from core.settings import Settings
from core.temporal import connect_temporal


class TemporalConnection:
    """Connects on first use, so the web app starts (and says it is unhealthy) without Temporal."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None

    async def client(self) -> Client:
        if self._client is None:
            self._client = await connect_temporal(self._settings)
        return self._client


def create_app(settings: Settings) -> FastAPI:
    temporal = TemporalConnection(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(title="isms-cycle", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.temporal = temporal

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the app can reach Temporal, 503 with the reason when it cannot."""
        try:
            client = await temporal.client()
            await client.service_client.check_health()
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
