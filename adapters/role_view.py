"""A cycle's role acceptance as the dashboard and ``isms cycle roles`` show it.

Read by the ``role_state`` query through :class:`adapters.workflow_client.RoleHandle`.

>>> state = await role_state(client, cycle_id)  # None: the cycle has no role acceptance
>>> view = role_lines(state)
"""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import RoleHandle
from models.role_acceptance import (
    RoleAcceptanceState,
)


async def role_state(client: Client, cycle_id: str) -> RoleAcceptanceState | None:
    """The cycle's role acceptance figures and lines, or None when it has no role acceptance."""
    try:
        return await RoleHandle.of(client, cycle_id).state()
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
