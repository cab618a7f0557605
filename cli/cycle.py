"""``isms cycle``: start the annual review, submit a revision, and see where it stands."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from temporalio.client import Client

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
from core.cycles import Outcome, check_files, cycle_status, start_cycle, submit_revision
from core.s3 import make_s3_client
from core.settings import Settings
from core.temporal import connect_temporal
from models.cycle import CycleStatus

cycle_app = typer.Typer(
    help="Run the annual review: start it, submit a revision the CEO asked for, follow its progress.",
    no_args_is_help=True,
)

ProfileArg = Annotated[Path, typer.Argument(help="The organisation profile (YAML).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} (command line)"


def _report_failure(outcome: Outcome, *, as_json: bool) -> None:
    code = EXIT_BAD_INPUT if outcome.unreadable else EXIT_EXISTS if outcome.exists else EXIT_FAILED
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": False,
                    "cycle_id": outcome.cycle_id,
                    "message": outcome.message,
                    "problems": outcome.problems,
                }
            )
        )
        raise typer.Exit(code)
    for problem in outcome.problems:
        errors.print(f"  {problem}", highlight=False)
    fail(outcome.message, code=code)


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
    previous_manifest: Annotated[
        Path | None,
        typer.Option(
            "--previous-manifest",
            help="Last year's render-manifest.json: the CEO sees what changed in text, roles and holders.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the documents, then start the annual review: the CEO gets the signing invitation.

    Exit code 0 started, 1 Clause 5 errors or a service problem, 2 unreadable input or
    settings, 3 a cycle with that id already exists (nothing is changed).
    """
    settings = settings_or_exit()
    checked = check_files(profile, staff)  # before connecting to anything: quick feedback
    if not checked.ok:
        _report_failure(checked, as_json=as_json)

    async def go() -> Outcome:
        client = await _client(settings)
        return await start_cycle(
            client,
            settings,
            make_s3_client(settings),
            profile=profile,
            staff=staff,
            year=year or datetime.now(UTC).year,
            started_by=_who(),
            reason=reason,
            previous_manifest=previous_manifest,
        )

    outcome = asyncio.run(go())
    if not outcome.ok:
        _report_failure(outcome, as_json=as_json)
    ui = workflow_ui_url(settings, outcome.cycle_id)
    if as_json:
        typer.echo(json.dumps({"ok": True, "cycle_id": outcome.cycle_id, "temporal_ui": ui}))
        return
    console.print(
        f"Started [bold]{outcome.cycle_id}[/bold]: the documents are being rendered and sent for signature."
    )
    if ui:
        console.print(f"Temporal UI: {ui}")
    console.print(f"Follow it with: isms cycle status {outcome.cycle_id}")


@cycle_app.command("revise")
def revise(
    cycle_id: Annotated[str, typer.Argument(help="The cycle id, e.g. isms-review-larkspur-2026.")],
    profile: ProfileArg,
    staff: Annotated[
        Path | None, typer.Option("--staff", help="A new staff directory (default: keep the current one).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Submit a revised profile after the CEO requested changes: a new version goes to the CEO.

    The cycle checks the revision against Clause 5 before accepting it; a refused revision
    changes nothing and prints the findings.
    """
    settings = settings_or_exit()
    if staff is not None:
        checked = check_files(profile, staff)
        if not checked.ok:
            _report_failure(checked, as_json=as_json)

    async def go() -> Outcome:
        client = await _client(settings)
        outcome, _ = await submit_revision(
            client,
            settings,
            make_s3_client(settings),
            cycle_id=cycle_id,
            profile=profile,
            staff=staff,
            submitted_by=_who(),
        )
        return outcome

    outcome = asyncio.run(go())
    if not outcome.ok:
        _report_failure(outcome, as_json=as_json)
    if as_json:
        typer.echo(json.dumps({"ok": True, "cycle_id": cycle_id, "message": outcome.message}))
        return
    console.print(
        f"{outcome.message[0].upper()}{outcome.message[1:]}: the new version is rendered and sent to the CEO."
    )


@cycle_app.command("status")
def status(
    cycle_id: Annotated[str, typer.Argument(help="The cycle id, e.g. isms-review-larkspur-2026.")],
    as_json: JsonFlag = False,
) -> None:
    """The stage, version, who is waiting on whom, and the history of events."""
    settings = settings_or_exit()

    async def go() -> tuple[CycleStatus, str] | None:
        return await cycle_status(await _client(settings), cycle_id)

    found = asyncio.run(go())
    if found is None:
        fail(f"no cycle {cycle_id}: see `isms cycle start`")
    current, run_state = found
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
