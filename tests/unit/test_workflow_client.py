"""The typed client's one retry policy and how a refusal reaches its callers (no server needed:
the errors are the SDK's own types, as the client raises them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import RpcRetry, UpdateRefusedError, retry_rpc
from core.contract import Failure, Refusal, refusal

QUICK = RpcRetry(attempts=4, first_delay=0.0)


def _refused_for(status: RPCStatusCode) -> RPCError:
    return RPCError("refused", status, b"")


@pytest.mark.parametrize("status", [RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE])
async def test_a_call_refused_for_load_is_tried_again_within_its_attempts(status: RPCStatusCode) -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise _refused_for(status)
        return "done"

    assert await retry_rpc(call, policy=QUICK) == "done"
    assert calls == 3

    async def always() -> str:
        raise _refused_for(status)

    with pytest.raises(RPCError):
        await retry_rpc(always, policy=QUICK)


async def test_other_errors_are_not_retried_and_the_gate_wraps_each_attempt() -> None:
    calls, held = 0, 0

    @asynccontextmanager
    async def gate() -> AsyncIterator[None]:
        nonlocal held
        held += 1
        yield

    async def missing() -> str:
        nonlocal calls
        calls += 1
        raise _refused_for(RPCStatusCode.NOT_FOUND)

    with pytest.raises(RPCError):
        await retry_rpc(missing, policy=QUICK, hold=gate)
    assert (calls, held) == (1, 1)

    async def busy_once() -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise _refused_for(RPCStatusCode.RESOURCE_EXHAUSTED)
        return "ok"

    assert await retry_rpc(busy_once, policy=QUICK, hold=gate) == "ok"
    assert held == 3  # released while waiting, held again for the retry


def test_a_refusal_arrives_as_its_type_with_its_details_as_lines() -> None:
    failure = WorkflowUpdateFailedError(refusal(Refusal.STAFF_CHANGE_REFUSED, "two problems", ["a", "b"]))
    refused = UpdateRefusedError.from_failure(failure)
    assert refused.kind is Refusal.STAFF_CHANGE_REFUSED
    assert (refused.message, refused.details) == ("two problems", ["a", "b"])


def test_an_activity_error_inside_a_handler_is_not_a_refusal_but_keeps_its_type() -> None:
    unreadable = ApplicationError("joiners.csv: missing column(s)", type=Failure.UNREADABLE_STAFF)
    activity = ActivityError(
        "activity error",
        scheduled_event_id=1,
        started_event_id=2,
        identity="worker",
        activity_type="plan_staff_change",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    activity.__cause__ = unreadable
    refused = UpdateRefusedError.from_failure(WorkflowUpdateFailedError(activity))
    assert refused.kind is None
    assert refused.error_type == Failure.UNREADABLE_STAFF
    assert refused.message == "joiners.csv: missing column(s)"
    unknown = UpdateRefusedError.from_failure(WorkflowUpdateFailedError(ApplicationError("x", type="Other")))
    assert (unknown.kind, unknown.error_type) == (None, "Other")
