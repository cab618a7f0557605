"""The web app reports whether it can reach Temporal."""

from __future__ import annotations

import httpx

from core.settings import Settings
from web.app import create_app


async def _get(settings: Settings, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://isms.test") as client:
        return await client.get(path)


async def test_healthz_is_ok_when_temporal_answers(settings: Settings) -> None:
    response = await _get(settings, "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}  # no internal address on a public endpoint


async def test_healthz_is_503_when_temporal_is_unreachable(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    response = await _get(unreachable, "/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}  # no address, no exception text
