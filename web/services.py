"""The web app's connections (``Services``), shared by the app factory and every router.

Its own module so that ``web.app`` imports the routers and the routers import this, never
each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from temporalio.client import Client

from adapters.s3 import make_auditor_s3_client, make_s3_client
from adapters.temporal import connect_temporal
from adapters.update_proof import proving_client
from core.settings import Settings
from web.state import WebState

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEMPLATES_DIR = Path(__file__).parent / "templates"


class Services:
    """The app's connections. Temporal is connected on first use, so the app starts (and says
    it is unhealthy) without it; tests pass their own client.

    Every decision, acknowledgement and opened document the app sends carries its proof
    (``adapters.update_proof``): the client, its own or the one given, proves with the
    settings' proof key, and the app is not made without one (``SettingsError``).

    ``auditor_s3`` is the read-only identity the auditor's portal reads the archive with
    (and presigns its download links with), when one is configured.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client: Client | None = None,
        s3: S3Client | None = None,
        auditor_s3: S3Client | None = None,
    ) -> None:
        self.settings = settings
        self._proof_key = settings.proof_key()
        self._client = proving_client(client, self._proof_key) if client is not None else None
        self.s3 = s3 or make_s3_client(settings)
        self.auditor_s3 = auditor_s3 or make_auditor_s3_client(settings)
        # server-side sessions, one-time codes and verified second factors (web.state)
        self.state = WebState(settings.web_state_dir)
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=jinja2.StrictUndefined
        )
        self.templates = Jinja2Templates(env=environment)

    async def temporal(self) -> Client:
        if self._client is None:
            self._client = proving_client(await connect_temporal(self.settings), self._proof_key)
        return self._client


def app_services(request: Request) -> Services:
    """The app's ``Services`` (set by ``create_app``)."""
    found: Services = request.app.state.services
    return found
