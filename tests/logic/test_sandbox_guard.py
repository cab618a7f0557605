"""The logic tier runs the workflows the worker runs outside the sandbox inside it.

``AcknowledgementBatchWorkflow`` is ``sandboxed=False`` in the worker (memory and CPU per
cached batch); the tier's worker gives such workflows the sandbox anyway, so a workflow that
reads the clock, draws a random number or does I/O fails here instead of replaying wrongly in
production. Proven with a workflow of this test's own that reads the wall clock.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.worker import Worker

from tests.logic.conftest import SANDBOX_FOR_ALL
from tests.logic.scenario import Tier
from tests.logic.wall_clock_workflow import ReadsTheWallClockWorkflow
from workflows.acknowledgement import AcknowledgementBatchWorkflow


async def _first_task_failure(handle: WorkflowHandle[Any, Any], within: float = 20) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return event.workflow_task_failed_event_attributes.failure.message
        await asyncio.sleep(0.2)
    raise AssertionError("the workflow's task never failed")


def test_the_batch_runs_outside_the_sandbox_in_the_worker() -> None:
    definition = workflow._Definition.must_from_class(AcknowledgementBatchWorkflow)
    assert definition.sandboxed is False


async def test_a_workflow_outside_the_sandbox_is_held_to_it_in_the_tier(tier: Tier) -> None:
    task_queue = f"sandbox-guard-{uuid.uuid4()}"
    async with Worker(
        tier.env.client,
        task_queue=task_queue,
        workflows=[ReadsTheWallClockWorkflow],
        unsandboxed_workflow_runner=SANDBOX_FOR_ALL,
    ):
        handle = await tier.env.client.start_workflow(
            ReadsTheWallClockWorkflow.run,
            id=f"wall-clock-{uuid.uuid4()}",
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=1),
        )
        message = await _first_task_failure(handle)
        await handle.terminate("the test has seen the failure")
    assert "Cannot access datetime.datetime.now" in message, message


async def test_without_the_tiers_runner_the_same_workflow_runs(tier: Tier) -> None:
    """The control: a worker as the product builds it runs it (the clock read goes unseen)."""
    task_queue = f"sandbox-control-{uuid.uuid4()}"
    async with Worker(tier.env.client, task_queue=task_queue, workflows=[ReadsTheWallClockWorkflow]):
        answer = await tier.env.client.execute_workflow(
            ReadsTheWallClockWorkflow.run,
            id=f"wall-clock-{uuid.uuid4()}",
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=1),
        )
    assert answer.startswith("20")
