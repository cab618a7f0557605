"""``isms cycle``: start the annual review, submit a revision, and see where it stands."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.table import Table
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from cli.common import (
    EXIT_BAD_INPUT,
    EXIT_EXISTS,
    EXIT_FAILED,
    console,
    errors,
    fail,
    settings_or_exit,
    workflow_ui_url,
)
from core.clause5 import Severity, blocking, check_profile
from core.drafts import store_input
from core.profile_io import UnreadableInputError, load_profile, load_staff
from core.s3 import make_s3_client
from core.settings import Settings
from core.temporal import connect_temporal
from models.cycle import AnnualReviewInput, CycleStatus, RevisionInput, RevisionReceipt, cycle_id_for

WORKFLOW = "AnnualReviewWorkflow"

cycle_app = typer.Typer(
    help="Run the annual review: start it, submit a revision the CEO asked for, follow its progress.",
    no_args_is_help=True,
)

ProfileArg = Annotated[Path, typer.Argument(help="The organisation profile (YAML).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} (command line)"


def _check_locally(profile_path: Path, staff_path: Path) -> tuple[str, int]:
    """Check before anything is uploaded or started: (organisation short name, findings shown)."""
    try:
        profile = load_profile(profile_path)
        staff = load_staff(staff_path)
    except UnreadableInputError as exc:
        for problem in exc.problems:
            errors.print(f"[red]unreadable:[/red] {problem}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    findings = check_profile(profile, staff, today=datetime.now(UTC).date())
    if blocking(findings):
        for finding in findings:
            if finding.severity is Severity.ERROR:
                errors.print(
                    f"[red]error:[/red] {finding.rule} at {finding.where}: {finding.message}", highlight=False
                )
                errors.print(f"       fix: {finding.fix}", highlight=False)
        fail("the documents fail Clause 5: nothing was started (see `isms docs check`)")
    return profile.organisation.short_name, len(findings)


async def _client(settings: Settings) -> Client:
    try:
        return await connect_temporal(settings)
    except RuntimeError as exc:
        fail(f"cannot reach Temporal at {settings.temporal_address}: {exc}")


@cycle_app.command("start")
def start(
    profile: ProfileArg,
    staff: Annotated[Path, typer.Option("--staff", help="The staff directory exported by HR (CSV).")],
    year: Annotated[int | None, typer.Option(help="The cycle's year (default: this year).")] = None,
    reason: Annotated[
        str | None,
        typer.Option(help='Start an ad-hoc review outside the schedule: "significant change: ..."'),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the documents, then start the annual review: the CEO gets the signing invitation.

    Exit code 0 started, 1 Clause 5 errors or a service problem, 2 unreadable input or
    settings, 3 a cycle with that id already exists (nothing is changed).
    """
    settings = settings_or_exit()
    short_name, _ = _check_locally(profile, staff)
    cycle_year = year or datetime.now(UTC).year
    suffix = datetime.now(UTC).strftime("adhoc-%Y%m%d%H%M") if reason else None
    cycle_id = cycle_id_for(short_name, cycle_year, ad_hoc=suffix)

    async def go() -> None:
        client = await _client(settings)
        s3 = make_s3_client(settings)
        stored_profile, stored_staff = await asyncio.gather(
            asyncio.to_thread(store_input, s3, settings, profile),
            asyncio.to_thread(store_input, s3, settings, staff),
        )
        try:
            await client.start_workflow(
                WORKFLOW,
                AnnualReviewInput(
                    cycle_id=cycle_id,
                    year=cycle_year,
                    profile=stored_profile,
                    staff=stored_staff,
                    started_by=_who(),
                    reason=reason,
                ),
                id=cycle_id,
                task_queue=settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # a cycle that failed (e.g. its documents were refused) may be started again
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except WorkflowAlreadyStartedError:
            if as_json:
                typer.echo(json.dumps({"cycle_id": cycle_id, "started": False, "reason": "exists"}))
            else:
                errors.print(
                    f"Cycle {cycle_id} already exists: nothing was changed. "
                    f"See `isms cycle status {cycle_id}`."
                )
            raise typer.Exit(EXIT_EXISTS) from None

    asyncio.run(go())
    ui = workflow_ui_url(settings, cycle_id)
    if as_json:
        typer.echo(json.dumps({"cycle_id": cycle_id, "started": True, "temporal_ui": ui}))
        return
    console.print(
        f"Started [bold]{cycle_id}[/bold]: the documents are being rendered and sent for signature."
    )
    if ui:
        console.print(f"Temporal UI: {ui}")
    console.print(f"Follow it with: isms cycle status {cycle_id}")


@cycle_app.command("revise")
def revise(
    cycle_id: Annotated[str, typer.Argument(help="The cycle id, e.g. isms-review-larkspur-2026.")],
    profile: ProfileArg,
    staff: Annotated[
        Path | None, typer.Option("--staff", help="A new staff directory (default: keep the current one).")
    ] = None,
    staff_for_check: Annotated[
        Path | None,
        typer.Option(
            "--check-staff", help="The directory to check against locally when --staff is not given."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Submit a revised profile after the CEO requested changes: a new version goes to the CEO.

    The revision is checked against Clause 5 by the workflow before it is accepted; a
    refused revision changes nothing and prints the findings.
    """
    settings = settings_or_exit()
    local_staff = staff or staff_for_check
    if local_staff is not None:
        _check_locally(profile, local_staff)

    async def go() -> RevisionReceipt:
        client = await _client(settings)
        s3 = make_s3_client(settings)
        stored_profile = await asyncio.to_thread(store_input, s3, settings, profile)
        stored_staff = await asyncio.to_thread(store_input, s3, settings, staff) if staff else None
        handle = client.get_workflow_handle(cycle_id)
        try:
            receipt: RevisionReceipt = await handle.execute_update(
                "submit_revision",
                RevisionInput(profile=stored_profile, staff=stored_staff, submitted_by=_who()),
                result_type=RevisionReceipt,
            )
            return receipt
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                for detail in cause.details:
                    errors.print(f"  {detail}", highlight=False)
                fail(cause.message)
            fail(str(cause))
        except RPCError as exc:
            _rpc_failure(exc, cycle_id)

    receipt = asyncio.run(go())
    if as_json:
        typer.echo(receipt.model_dump_json())
        return
    console.print(f"Revision accepted: round {receipt.round} is being rendered and sent to the CEO.")


def _rpc_failure(exc: RPCError, cycle_id: str) -> NoReturn:
    if exc.status is RPCStatusCode.NOT_FOUND:
        fail(f"no cycle {cycle_id}: see `isms cycle start`", code=EXIT_FAILED)
    fail(str(exc))


@cycle_app.command("status")
def status(
    cycle_id: Annotated[str, typer.Argument(help="The cycle id, e.g. isms-review-larkspur-2026.")],
    as_json: JsonFlag = False,
) -> None:
    """The stage, version, who is waiting on whom, and the history of events."""
    settings = settings_or_exit()

    async def go() -> tuple[CycleStatus, str]:
        client = await _client(settings)
        handle = client.get_workflow_handle(cycle_id)
        try:
            description = await handle.describe()
            current = await handle.query("status", result_type=CycleStatus)
        except RPCError as exc:
            _rpc_failure(exc, cycle_id)
        run_state = description.status.name.lower() if description.status else "unknown"
        return current, run_state

    current, run_state = asyncio.run(go())
    if as_json:
        typer.echo(json.dumps({**current.model_dump(mode="json"), "workflow_status": run_state}, indent=2))
        return
    console.print(f"[bold]{current.cycle_id}[/bold]  {current.organisation}")
    overdue = "  [red]OVERDUE[/red]" if current.overdue else ""
    console.print(f"Stage     {current.stage.value.replace('_', ' ')}{overdue}")
    console.print(f"Version   {current.version or '-'} (round {current.round})")
    if current.waiting_on:
        console.print(f"Waiting   {current.waiting_on}")
    if current.last_comment:
        console.print(f"Comment   {current.last_comment}", highlight=False)
    console.print(f"Workflow  {run_state}")
    table = Table(title="Events")
    for column in ("at (UTC)", "event", "actor", "detail"):
        table.add_column(column, overflow="fold")
    for event in current.events:
        table.add_row(event.at.strftime("%Y-%m-%d %H:%M:%S"), event.event, event.actor, event.detail)
    console.print(table)
