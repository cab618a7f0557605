"""Run the web app: ``python -m web`` (host and port from ISMS_WEB_HOST / ISMS_WEB_PORT)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from core.settings import SettingsError, load_settings
from web.app import create_app

logger = logging.getLogger("isms.web")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            logger.error("invalid settings (%s): %s", exc.source, problem)
        sys.exit(2)
    uvicorn.run(create_app(settings), host=settings.web_host, port=settings.web_port, log_level="info")


if __name__ == "__main__":
    main()
