"""The time-skipping test server is real: a 30-day durable timer completes in seconds."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker


@workflow.defn
class ThirtyDayTimerWorkflow:
    """Sleeps 30 days on a durable timer and returns when it started and woke."""

    @workflow.run
    async def run(self) -> list[str]:
        started = workflow.now()
        await workflow.sleep(timedelta(days=30))
        return [started.isoformat(), workflow.now().isoformat()]


async def test_thirty_day_timer_completes_under_time_skipping(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    task_queue = f"smoke-{uuid.uuid4()}"
    wall_started = time.monotonic()
    async with Worker(time_skipping_env.client, task_queue=task_queue, workflows=[ThirtyDayTimerWorkflow]):
        started, woke = await time_skipping_env.client.execute_workflow(
            ThirtyDayTimerWorkflow.run, id=f"smoke-{uuid.uuid4()}", task_queue=task_queue
        )
    wall_seconds = time.monotonic() - wall_started
    slept = datetime.fromisoformat(woke) - datetime.fromisoformat(started)
    assert slept >= timedelta(days=30)
    assert wall_seconds < 30, f"time did not skip: a 30-day timer took {wall_seconds:.0f} s"
