"""``isms cycle roles``: who accepted which role, who was reminded, escalated or declined."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.table import Table
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from adapters.cycles import cycle_status
from adapters.role_view import role_state, when_text
from adapters.temporal import connect_temporal
from cli.common import console, fail, settings_or_exit
from models.role_acceptance import RoleAcceptanceState

CycleArg = Annotated[str, typer.Argument(help="The cycle id, e.g. isms-review-larkspur-2026.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def roles(cycle_id: CycleArg, as_json: JsonFlag = False) -> None:
    """The cycle's role acceptance: each role holder and deputy, their roles and their answer.

    Once the CEO has signed, every person who holds or deputises a role (except the signer)
    is asked to accept it. This shows the figures (accepted, declined, outstanding, named to
    the CEO) and one line per person: their roles, when they were invited and reminded, when
    they were escalated, and when they accepted or declined (with the reason).

    With --json: {"cycle_id", "role_acceptance": the workflow's state (figures and records)}.
    Exit code 0 shown, 1 no such cycle, no role acceptance yet, or a service problem.

    Example:  isms cycle roles isms-review-larkspur-2026 --json
    """
    settings = settings_or_exit()

    async def go() -> tuple[RoleAcceptanceState | None, bool]:
        try:
            client = await connect_temporal(settings)
        except RuntimeError as exc:
            fail(f"cannot reach Temporal at {settings.temporal_address}: {exc}")
        state = await role_state(client, cycle_id)
        review = await cycle_status(client, cycle_id) if state is None else None
        return state, review is not None

    try:
        state, review = asyncio.run(go())
    except (RPCError, WorkflowQueryFailedError) as exc:
        fail(f"cannot read the role acceptance of {cycle_id}: {exc}")
    if state is None:
        if not review:
            fail(f"no cycle {cycle_id}: see `isms cycle start`")
        fail(
            f"{cycle_id} has no role acceptance yet: it starts once the CEO has signed "
            "(and not at all when the profile has role_acceptance: {enabled: false})"
        )
    if as_json:
        typer.echo(
            json.dumps({"cycle_id": cycle_id, "role_acceptance": state.model_dump(mode="json")}, indent=2)
        )
        return
    tally = state.tally
    console.print(f"[bold]{cycle_id}[/bold]  role acceptance of version {state.version}", highlight=False)
    console.print(
        f"Accepted     {tally.rate_text}{' (closed)' if state.closed else ''}\n"
        f"Declined     {tally.declined}\n"
        f"Outstanding  {tally.outstanding} ({tally.escalated} named to the CEO and the ISMS lead)\n"
        f"Deadline     {when_text(state.deadline)}",
        highlight=False,
    )
    table = Table(title="Role holders and deputies")
    for column in ("who", "roles", "invited", "reminded", "escalated", "answer"):
        table.add_column(column, overflow="fold")
    for record in state.records:
        if record.accepted_at is not None:
            answer = f"accepted {when_text(record.accepted_at)}"
        elif record.declined_at is not None:
            answer = f"declined {when_text(record.declined_at)}: {record.decline_comment}"
        else:
            answer = "outstanding"
        table.add_row(
            f"{record.name} <{record.email}>",
            ", ".join(assignment.described for assignment in record.assignments),
            when_text(record.invited_at) or "-",
            ", ".join(when_text(at) for at in record.reminded_at) or "-",
            when_text(record.escalated_at) or "-",
            answer,
        )
    console.print(table)
