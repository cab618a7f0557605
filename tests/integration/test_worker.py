"""The real worker against the real servers: it runs the stack check, and guards the archive."""

from __future__ import annotations

import uuid

import pytest

from adapters.s3 import ObjectLockNotEnabledError, ensure_bucket, make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from documents.pdf_convert import PdfConverter
from models.health import StackCheckInput, StackCheckResult
from worker import build_worker, run_worker
from workflows.stack_check import StackCheckWorkflow


async def test_worker_runs_the_stack_check_against_real_services(
    settings: Settings, pdf_converter: PdfConverter
) -> None:
    client = await connect_temporal(settings)
    async with build_worker(client, settings, converter=pdf_converter, identity="test-worker"):
        result = await client.execute_workflow(
            StackCheckWorkflow.run,
            StackCheckInput(),
            id=f"stack-check-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )
    assert isinstance(result, StackCheckResult)
    checks = {check.name: check for check in result.dependencies.checks}
    assert checks["archive"].ok, checks["archive"].detail
    assert checks["smtp"].ok, checks["smtp"].detail
    assert result.dependencies.worker_identity == "test-worker"


async def test_stack_check_reports_a_bucket_without_object_lock(
    settings: Settings, pdf_converter: PdfConverter
) -> None:
    ensure_bucket(make_s3_client(settings), "no-lock-archive")
    unlocked = settings.model_copy(update={"archive_bucket": "no-lock-archive"})
    client = await connect_temporal(unlocked)
    async with build_worker(client, unlocked, converter=pdf_converter):
        result = await client.execute_workflow(
            StackCheckWorkflow.run,
            StackCheckInput(),
            id=f"stack-check-{uuid.uuid4()}",
            task_queue=unlocked.temporal_task_queue,
        )
    archive = next(c for c in result.dependencies.checks if c.name == "archive")
    assert not archive.ok
    assert "does not have Object Lock" in archive.detail
    assert not result.dependencies.ok


async def test_worker_refuses_to_start_without_object_lock(settings: Settings) -> None:
    ensure_bucket(make_s3_client(settings), "no-lock-archive")
    unlocked = settings.model_copy(update={"archive_bucket": "no-lock-archive"})
    with pytest.raises(ObjectLockNotEnabledError, match="no-lock-archive"):
        await run_worker(unlocked)
