"""Run StackCheckWorkflow against a stack: the end-to-end proof that the worker works."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from adapters.temporal import connect_temporal
from core.contract import WorkflowType
from core.settings import SettingsError, load_settings
from models.health import StackCheckInput, StackCheckResult

CHECK_TIMEOUT = timedelta(seconds=10)


async def _run(settings_file: Path) -> tuple[bool, str]:
    try:
        settings = load_settings(settings_file=settings_file)
    except SettingsError as exc:
        return False, "; ".join(exc.problems)
    started = time.monotonic()
    try:
        client = await connect_temporal(settings)
        result = await client.execute_workflow(
            WorkflowType.STACK_CHECK.value,
            StackCheckInput(),
            id=f"isms-stack-check-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
            execution_timeout=CHECK_TIMEOUT,
            result_type=StackCheckResult,
        )
    except WorkflowFailureError as exc:
        cause = exc.cause
        return False, f"no worker answered on {settings.temporal_task_queue!r}: {cause}"
    except (RPCError, RuntimeError, OSError) as exc:
        return False, f"could not reach Temporal: {exc}"
    elapsed = time.monotonic() - started
    checks = result.dependencies.checks
    summary = "; ".join(f"{c.name} {'ok' if c.ok else 'FAILED'}: {c.detail}" for c in checks)
    return result.dependencies.ok, f"ran a check in {elapsed:.1f} s ({summary})"


def run_stack_check(settings_file: Path) -> tuple[bool, str]:
    """(healthy, detail) for the worker of the stack whose settings are in ``settings_file``."""
    return asyncio.run(_run(settings_file))
