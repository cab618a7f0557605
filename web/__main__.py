"""Run the web app: ``python -m web`` (host and port from ISMS_WEB_HOST / ISMS_WEB_PORT).

Logs go through ``core.log_redaction`` (uvicorn's access log would otherwise write every
``GET /sign/<token>``), and uvicorn's own proxy-header handling is off: by default it believes
``X-Forwarded-For`` from 127.0.0.1, while the app believes it only from
``settings.trusted_proxies`` (``web.security.client_ip``).
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from starlette.types import ASGIApp

from core.log_redaction import configure_logging, uvicorn_log_config
from core.settings import Settings, SettingsError, load_settings
from web.app import create_app

logger = logging.getLogger("isms.web")


def uvicorn_config(settings: Settings, app: ASGIApp | None = None) -> uvicorn.Config:
    """How the web app is served (``main`` and the tests that start a real server use it)."""
    return uvicorn.Config(
        app if app is not None else create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_level="info",
        log_config=uvicorn_log_config(),
        proxy_headers=False,  # client_ip decides, from settings.trusted_proxies
        server_header=False,  # no server name and version for a scanner
        # uvloop's event loop and httptools' parser (uvicorn[standard]) cost the app less CPU
        # per request than asyncio's loop and h11; named so a missing extra fails at start, not
        # silently slower. Only `main` runs the loop: a test's server serves in the test's loop
        loop="uvloop",
        http="httptools",
    )


def main() -> None:
    configure_logging()
    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            logger.error("invalid settings (%s): %s", exc.source, problem)
        sys.exit(2)
    try:
        config = uvicorn_config(settings)
    except SettingsError as exc:
        for problem in exc.problems:
            logger.error("invalid settings (%s): %s", exc.source, problem)
        sys.exit(2)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
