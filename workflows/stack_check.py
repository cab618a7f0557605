"""StackCheckWorkflow: proves that a worker polls the task queue and reaches S3 and SMTP."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.health import HealthActivities
    from core.contract import WorkflowType
    from models.health import CheckDependenciesInput, StackCheckInput, StackCheckResult


@workflow.defn(name=WorkflowType.STACK_CHECK)
class StackCheckWorkflow:
    """Runs one dependency check on whichever worker picks it up, and returns what it saw.

    ``isms dev status`` starts it with a short execution timeout: if no worker polls the
    task queue, the timeout is the answer ("no worker").
    """

    @workflow.run
    async def run(self, _input: StackCheckInput) -> StackCheckResult:
        dependencies = await workflow.execute_activity_method(
            HealthActivities.check_dependencies,
            CheckDependenciesInput(),
            start_to_close_timeout=timedelta(seconds=20),
            # a health check reports what it sees now; retrying would hide a flapping service
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return StackCheckResult(dependencies=dependencies)
