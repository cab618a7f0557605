"""A workflow that reads the wall clock, outside the sandbox: tests/logic/test_sandbox_guard.py.

A module of its own with nothing else in it, because the sandbox imports a workflow's module
again, in its own sandbox, to check it before running it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import workflow


@workflow.defn(sandboxed=False)
class ReadsTheWallClockWorkflow:
    @workflow.run
    async def run(self) -> str:
        return datetime.now(UTC).isoformat()  # not workflow.now(): what the sandbox refuses
