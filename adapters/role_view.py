"""Reading and answering a cycle's role acceptance (``RoleAcceptanceWorkflow``) by its cycle id.

The web page, the dashboard and ``isms cycle roles`` use these; they call the workflow by the
contract's names (``core.contract``) with the models of ``models.role_acceptance``, never its
code. Updates go through :func:`adapters.workflow_client.retry_rpc` (one update id for every
attempt, so a retry or a double click is one update); a refusal arrives as
:class:`~adapters.workflow_client.UpdateRefusedError`.

>>> roles = RoleView(client, cycle_id)
>>> state = await roles.state()  # RPCError NOT_FOUND: the cycle has no role acceptance
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import UpdateRefusedError, retry_rpc
from core.contract import Query, Update
from models.role_acceptance import (
    RoleAcceptanceState,
    RoleAnswer,
    RolePage,
    RoleReceipt,
    role_acceptance_id_for,
)


class RoleView:
    """A cycle's ``RoleAcceptanceWorkflow`` (id ``role_acceptance_id_for(cycle_id)``)."""

    def __init__(self, client: Client, cycle_id: str) -> None:
        self.cycle_id = cycle_id
        self.id = role_acceptance_id_for(cycle_id)
        self.handle: WorkflowHandle[object, object] = client.get_workflow_handle(self.id)

    async def page(self, email: str, *, rpc_timeout: timedelta | None = None) -> RolePage | None:
        """What the person's page shows (``role_page``), or None when they are not asked."""
        page: RolePage | None = await self.handle.query(
            Query.ROLE_PAGE.value, email, result_type=RolePage, rpc_timeout=rpc_timeout
        )
        return page

    async def state(self, *, rpc_timeout: timedelta | None = None) -> RoleAcceptanceState:
        """The figures and the lines (``role_state``); RPCError NOT_FOUND when there is none."""
        state: RoleAcceptanceState = await self.handle.query(
            Query.ROLE_STATE.value, result_type=RoleAcceptanceState, rpc_timeout=rpc_timeout
        )
        return state

    async def answer(
        self,
        answer: RoleAnswer,
        *,
        update_id: str,
        rpc_timeout: timedelta | None = None,
        hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> RoleReceipt:
        """Accept or decline (``answer_role``); the client interceptor sets the proof."""

        async def call() -> RoleReceipt:
            receipt: RoleReceipt = await self.handle.execute_update(
                Update.ANSWER_ROLE.value,
                answer,
                id=update_id,
                result_type=RoleReceipt,
                rpc_timeout=rpc_timeout,
            )
            return receipt

        try:
            return await retry_rpc(call, hold=hold, what=f"update {Update.ANSWER_ROLE.value} on {self.id}")
        except WorkflowUpdateFailedError as exc:
            raise UpdateRefusedError.from_failure(exc) from exc


async def role_state(client: Client, cycle_id: str) -> RoleAcceptanceState | None:
    """The cycle's role acceptance figures and lines, or None when it has no role acceptance."""
    try:
        return await RoleView(client, cycle_id).state()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


def when_text(moment: datetime | None) -> str:
    """``2026-03-02 09:00 UTC``, or empty for no moment."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def role_lines(state: RoleAcceptanceState) -> dict[str, object]:
    """The dashboard's and ``isms cycle roles``'s view of a role acceptance: figures and one
    line per person with their roles and every step of their ladder."""
    lines: list[dict[str, object]] = []
    for record in state.records:
        if record.accepted_at is not None:
            answer = f"accepted {when_text(record.accepted_at)}"
        elif record.declined_at is not None:
            answer = f"declined {when_text(record.declined_at)}: {record.decline_comment}"
        else:
            answer = "outstanding"
        lines.append(
            {
                "email": record.email,
                "name": record.name,
                "department": record.department,
                "roles": [assignment.described for assignment in record.assignments],
                "lead": record.lead,
                "invited": when_text(record.invited_at),
                "reminded": [when_text(at) for at in record.reminded_at],
                "escalated": when_text(record.escalated_at),
                "accepted": when_text(record.accepted_at),
                "declined": when_text(record.declined_at),
                "decline_comment": record.decline_comment,
                "answer": answer,
                "state": (
                    "accepted"
                    if record.accepted_at is not None
                    else "declined"
                    if record.declined_at is not None
                    else "outstanding"
                ),
            }
        )
    return {
        "cycle_id": state.cycle_id,
        "version": state.version,
        "started": when_text(state.started_at),
        "deadline": when_text(state.deadline),
        "closed": state.closed,
        "tally": state.tally.model_dump(),
        "rate": state.tally.rate_text,
        "lines": lines,
    }
