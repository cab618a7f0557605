"""Fixtures for workflow tests: the real worker, on the dev server or the time-skipping server.

Cycles that only wait for people run on the Temporal dev server in real time. The timing
test (reminders after 3 and 7 days...) runs on the time-skipping server, and waits for
results by query: awaiting a result there unlocks time skipping, and with real activities
running the server was seen to jump its clock ten years ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.ports import find_free_ports
from documents.pdf_convert import PdfConverter
from web.app import create_app
from worker import build_worker


@pytest.fixture
async def review(settings: Settings, pdf_converter: PdfConverter) -> AsyncIterator[tuple[Client, Settings]]:
    """A worker on the dev server for this test's task queue, and a client."""
    client = await connect_temporal(settings)
    async with build_worker(client, settings, converter=pdf_converter):
        yield client, settings


@pytest.fixture
async def review_skipping(
    time_skipping_env: WorkflowEnvironment, settings: Settings, pdf_converter: PdfConverter
) -> AsyncIterator[tuple[WorkflowEnvironment, Settings]]:
    """A worker on the time-skipping server, for tests that let days pass."""
    async with build_worker(time_skipping_env.client, settings, converter=pdf_converter):
        yield time_skipping_env, settings


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def served(settings: Settings, pdf_converter: PdfConverter) -> AsyncIterator[tuple[Client, Settings]]:
    """Worker and web app sharing settings whose public URL is where uvicorn really listens."""
    (port,) = find_free_ports(1)
    settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    client = await connect_temporal(settings)
    app = create_app(settings, client=client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.05)
    async with build_worker(client, settings, converter=pdf_converter):
        yield client, settings
    server.should_exit = True
    await serving
