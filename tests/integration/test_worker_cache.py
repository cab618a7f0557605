"""The worker's sticky cache is bounded by ``ISMS_WORKER_MAX_CACHED_WORKFLOWS`` (issue 16, goal 4).

A real ``Worker`` built by ``worker.build_worker`` on a client of the real Temporal dev server:
what the worker was configured with is what the SDK reads when it starts polling.
"""

from __future__ import annotations

from adapters.temporal import connect_temporal
from core.settings import Settings
from documents.pdf_convert import PdfConverter
from worker import build_worker


async def test_the_worker_keeps_at_most_the_configured_number_of_workflows(
    settings: Settings, pdf_converter: PdfConverter
) -> None:
    bounded = settings.model_copy(update={"worker_max_cached_workflows": 37})
    client = await connect_temporal(bounded)
    worker = build_worker(client, bounded, converter=pdf_converter, identity="cache-bound-worker")
    assert worker.config()["max_cached_workflows"] == 37


async def test_by_default_the_worker_keeps_fewer_workflows_than_the_sdk_would(
    settings: Settings, pdf_converter: PdfConverter
) -> None:
    # the SDK's own default (1,000) kept every batch of a 100,000-person campaign in memory
    assert Settings.model_fields["worker_max_cached_workflows"].default == 200
    client = await connect_temporal(settings)
    worker = build_worker(client, settings, converter=pdf_converter)
    assert worker.config()["max_cached_workflows"] == settings.worker_max_cached_workflows == 200
