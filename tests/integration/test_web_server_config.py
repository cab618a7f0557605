"""How ``python -m web`` serves the app: uvloop's event loop and httptools' HTTP parser.

Both come with ``uvicorn[standard]`` and cost less CPU per request than asyncio's loop and h11
(measured with bench/campaign.py: the web app's CPU per acknowledgement). The configuration
is loaded as uvicorn loads it when it starts, and a request goes through a server built from it.
"""

from __future__ import annotations

import asyncio

import httpx
import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.settings import Settings
from devstack.ports import find_free_ports
from web.__main__ import uvicorn_config


def test_the_web_app_is_served_by_uvloop_and_httptools(settings: Settings) -> None:
    config = uvicorn_config(settings)
    # named, not "auto": without the extras uvicorn would fall back to asyncio and h11 unnoticed
    assert (config.loop, config.http) == ("uvloop", "httptools")
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_a_server_on_that_configuration_answers_in_a_uvloop_loop(settings: Settings) -> None:
    (port,) = find_free_ports(1)
    served = settings.model_copy(
        update={"public_base_url": f"http://127.0.0.1:{port}", "web_port": port, "web_host": "127.0.0.1"}
    )
    server = uvicorn.Server(uvicorn_config(served))

    async def ask() -> httpx.Response:
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                return await http.get("/healthz")
        finally:
            server.should_exit = True
            await serving

    # the loop `python -m web` runs in (uvicorn.Server.run makes it from the same factory)
    with asyncio.Runner(loop_factory=uvicorn_config(served).get_loop_factory()) as runner:
        loop_type = runner.get_loop()
        response = runner.run(ask())
    assert isinstance(loop_type, uvloop.Loop)
    assert response.status_code == 200  # the app reached Temporal from inside uvloop
    assert response.json() == {"status": "ok"}
