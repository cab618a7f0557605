"""``isms cycle``: start the annual review, submit a revision, see where it stands, follow the
acknowledgement campaign and add or remove staff while it runs."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer
from rich.live import Live
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from adapters.campaign import campaign_progress, campaign_state
from adapters.cycles import Outcome, check_files, cycle_status, start_cycle, submit_revision
from adapters.document_files import DocumentFile
from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from adapters.workflow_client import CampaignHandle, UpdateRefusedError
from cli.campaign_view import (
    LiveFigures,
    plain_line,
    print_campaign,
    print_final,
    print_receipt,
)
from cli.common import (
    EXIT_BAD_INPUT,
    EXIT_EXISTS,
    EXIT_FAILED,
    console,
    errors,
    fail,
    reflowed_help,
    settings_or_exit,
    workflow_ui_url,
)
from core.contract import Failure, Refusal
from core.profile_io import UnreadableInputError, load_staff
from core.settings import Settings
from models.campaign import CampaignProgress, CampaignStage, StaffChange, StaffChangeReceipt
from models.cycle import CycleStatus

P = ParamSpec("P")
R = TypeVar("R")

cycle_app = typer.Typer(
    help="Run the annual review: start it, submit a revision the CEO asked for, follow its progress.",
    no_args_is_help=True,
)

ProfileArg = Annotated[Path, typer.Argument(help="The organisation profile (YAML).")]
CycleArg = Annotated[str, typer.Argument(help="The cycle id, e.g. isms-review-larkspur-2026.")]
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
    fail(outcome.message, *(f"  {problem}" for problem in outcome.problems), code=code)


def _files_json(files: list[DocumentFile]) -> list[dict[str, str | int]]:
    return [
        {"id": f.id, "file": f.file, "sha256": f.stored.sha256, "size": f.stored.size, "key": f.stored.key}
        for f in files
    ]


def _print_files(files: list[DocumentFile]) -> None:
    """Which of the profile's own files went with the cycle: id, file, SHA-256 prefix."""
    if not files:
        console.print("The documents are made from the built-in templates (the profile names no files).")
        return
    table = Table(title="The profile's own files, uploaded", title_justify="left")
    for column in ("document", "file", "SHA-256"):
        table.add_column(column, overflow="fold")
    for file in files:
        table.add_row(file.id, file.file, file.stored.sha256[:16] + "…")
    console.print(table)


async def _client(settings: Settings) -> Client:
    try:
        return await connect_temporal(settings)
    except RuntimeError as exc:
        fail(f"cannot reach Temporal at {settings.temporal_address}: {exc}")


@cycle_app.command("start")
@reflowed_help
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
            help="Last year's render-manifest.json: the CEO sees what changed in text, roles and holders "
            "(default: the one archived with the organisation's last signed version).",
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
        typer.echo(
            json.dumps(
                {
                    "ok": True,
                    "cycle_id": outcome.cycle_id,
                    "temporal_ui": ui,
                    "previous": outcome.previous or None,
                    "document_files": _files_json(outcome.document_files),
                }
            )
        )
        return
    console.print(
        f"Started [bold]{outcome.cycle_id}[/bold]: the documents are being rendered and sent for signature."
    )
    _print_files(outcome.document_files)
    if outcome.previous:
        console.print(f"The CEO sees what changed since {outcome.previous}", highlight=False, soft_wrap=True)
    if ui:
        console.print(f"Temporal UI: {ui}")
    console.print(f"Follow it with: isms cycle status {outcome.cycle_id}")


@cycle_app.command("revise")
@reflowed_help
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
        typer.echo(
            json.dumps(
                {
                    "ok": True,
                    "cycle_id": cycle_id,
                    "message": outcome.message,
                    "document_files": _files_json(outcome.document_files),
                }
            )
        )
        return
    console.print(
        f"{outcome.message[0].upper()}{outcome.message[1:]}: the new version is rendered and sent to the CEO."
    )
    _print_files(outcome.document_files)


@cycle_app.command("status")
@reflowed_help
def status(cycle_id: CycleArg, as_json: JsonFlag = False) -> None:
    """The stage, version, who is waiting on whom, the history of events, and the campaign.

    Once the CEO has signed, the acknowledgement campaign's figures follow: acknowledged,
    outstanding and overdue of the people in scope, the rate, invitations, leavers, the
    deadline and a table by department; once it has closed, where the register and the
    report are stored. A campaign whose annual review workflow is gone (or was started on
    its own) is still shown.

    With --json: the cycle's status, "workflow_status", and "campaign" (the live figures,
    null before the campaign starts). Exit code 0 shown, 1 no such cycle or a service problem.

    Example:  isms cycle status isms-review-larkspur-2026 --json
    """
    settings = settings_or_exit()

    async def go() -> tuple[tuple[CycleStatus, str] | None, CampaignProgress | None]:
        client = await _client(settings)
        found, progress = await asyncio.gather(
            cycle_status(client, cycle_id), campaign_progress(client, cycle_id)
        )
        return found, progress

    try:
        found, progress = asyncio.run(go())
    except RPCError as exc:
        fail(f"cannot read cycle {cycle_id}: {exc.message}")
    if found is None and progress is None:
        fail(f"no cycle {cycle_id}: see `isms cycle start`")
    campaign_json = progress.model_dump(mode="json") if progress else None
    if found is None:
        # the campaign is there but its annual review is not (started alone, or its history is gone)
        if as_json:
            typer.echo(
                json.dumps(
                    {"cycle_id": cycle_id, "workflow_status": "not found", "campaign": campaign_json},
                    indent=2,
                )
            )
            return
        console.print(f"[bold]{cycle_id}[/bold]")
        console.print("No annual review workflow for this cycle: showing its acknowledgement campaign.")
        assert progress is not None
        print_campaign(console, progress)
        return
    current, run_state = found
    if as_json:
        typer.echo(
            json.dumps(
                {**current.model_dump(mode="json"), "workflow_status": run_state, "campaign": campaign_json},
                indent=2,
            )
        )
        return
    console.print(f"[bold]{current.cycle_id}[/bold]  {current.organisation}")
    overdue = "  [red]OVERDUE[/red]" if current.overdue else ""
    console.print(f"Stage     {current.stage.value.replace('_', ' ')}{overdue}")
    console.print(f"Version   {current.version or '-'} (round {current.round})")
    if current.waiting_on:
        console.print(f"Waiting   {current.waiting_on}")
    if current.last_comment:
        console.print(f"Comment   {current.last_comment}", highlight=False)
    if current.last_comment_documents:
        console.print(f"About     {', '.join(current.last_comment_documents)}", highlight=False)
    console.print(f"Workflow  {run_state}")
    table = Table(title="Events")
    for column in ("at (UTC)", "event", "actor", "detail"):
        table.add_column(column, overflow="fold")
    for event in current.events:
        table.add_row(event.at.strftime("%Y-%m-%d %H:%M:%S"), event.event, event.actor, event.detail)
    console.print(table)
    for archived in current.archive:  # what went under Object Lock, stage by stage
        held = ", under legal hold" if archived.legal_hold else ""
        console.print(
            f"Archived  {len(archived.objects)} object(s) and {archived.manifest.key}, COMPLIANCE retention "
            f"until {archived.manifest.retain_until:%Y-%m-%d}{held}",
            highlight=False,
        )
    for problem in current.archive_problems:
        console.print(f"[red]Archive refused[/red]  {problem}", highlight=False)
    if progress is None:
        console.print("No acknowledgement campaign yet: it starts once the CEO has signed.")
    else:
        print_campaign(console, progress)


# ------------------------------------------------------------------ joiners and leavers


@dataclass
class _Refusal:
    """Why a staff change was not made (``problems`` are lines a person can act on)."""

    message: str
    problems: list[str] = field(default_factory=list)
    code: int = EXIT_BAD_INPUT


def _refuse(cycle_id: str, refusal: _Refusal, *, as_json: bool) -> NoReturn:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": False,
                    "cycle_id": cycle_id,
                    "message": refusal.message,
                    "problems": refusal.problems,
                }
            )
        )
        raise typer.Exit(refusal.code)
    fail(refusal.message, *(f"  {problem}" for problem in refusal.problems), code=refusal.code)


async def _change_staff(
    client: Client, settings: Settings, *, cycle_id: str, add: Path | None, remove: list[str]
) -> StaffChangeReceipt | _Refusal:
    """Upload the joiners, then run the campaign's ``change_staff`` Update (it checks the rows)."""
    stored = await asyncio.to_thread(store_input, make_s3_client(settings), settings, add) if add else None
    change = StaffChange(add=stored, remove=remove, requested_by=_who())
    try:
        receipt = await CampaignHandle(client, cycle_id).change_staff(change)
    except UpdateRefusedError as refused:
        # a refusal, or an unreadable joiners file (the planning activity's error): nothing changed
        if refused.kind is not None or refused.error_type == Failure.UNREADABLE_STAFF:
            # a change that reached some batches only: a service problem, and the lines say which
            code = EXIT_FAILED if refused.kind is Refusal.STAFF_CHANGE_PARTLY_APPLIED else EXIT_BAD_INPUT
            return _Refusal(refused.message, refused.details, code=code)
        return _Refusal(f"the staff change failed: {refused.message}", code=EXIT_FAILED)
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        # a closed campaign's workflow has completed: it takes no more Updates
        if await campaign_state(client, cycle_id) is not None:
            return _Refusal("the campaign has closed: staff can no longer be added or removed")
        return _Refusal(
            f"no acknowledgement campaign for {cycle_id}: it starts once the CEO has signed",
            code=EXIT_FAILED,
        )
    return receipt


@cycle_app.command("staff")
@reflowed_help
def staff(
    cycle_id: CycleArg,
    more: Annotated[
        list[str] | None,
        typer.Argument(
            help="More addresses to remove, listed after --remove.", metavar="EMAIL...", show_default=False
        ),
    ] = None,
    add: Annotated[
        Path | None,
        typer.Option(
            "--add",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="CSV",
            help="Joiners: a CSV with the staff directory's columns; each is invited now.",
        ),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(
            "--remove",
            metavar="EMAIL",
            help="Leavers: their email addresses (several may follow one --remove).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add joiners to, or remove leavers from, a running acknowledgement campaign.

    Joiners are invited at once by their manager's batch and chased on the usual ladder,
    counted from today; leavers are no longer counted or chased. The campaign checks the
    joiners' rows first: if any is unusable (out of scope, already left, both added and
    removed) nothing is changed and each problem is printed.

    Exit code 0 applied (addresses already in, or not in, the campaign are reported), 1 no
    campaign for this cycle or a service problem, 2 unreadable file, refused change, or a
    campaign that is starting, busy or closed (nothing is changed).

    Examples:
      isms cycle staff isms-review-larkspur-2026 --add joiners.csv
      isms cycle staff isms-review-larkspur-2026 --remove ann@larkspur.example
    """
    if more and not remove:
        fail(
            f"unexpected argument(s) {' '.join(more)}: to remove people, list them after --remove",
            code=EXIT_BAD_INPUT,
        )
    leavers = [email.strip() for email in [*(remove or []), *(more or [])] if email.strip()]
    if add is None and not leavers:
        fail("nothing to change: give --add JOINERS.csv and/or --remove EMAIL", code=EXIT_BAD_INPUT)
    settings = settings_or_exit()
    if add is not None:
        try:  # the campaign reads it the same way: say what is wrong before sending anything
            load_staff(add)
        except UnreadableInputError as exc:
            _refuse(
                cycle_id,
                _Refusal(
                    f"{add} cannot be read as a staff directory: nothing was sent",
                    [str(problem) for problem in exc.problems],
                ),
                as_json=as_json,
            )

    async def go() -> StaffChangeReceipt | _Refusal:
        client = await _client(settings)
        return await _change_staff(client, settings, cycle_id=cycle_id, add=add, remove=leavers)

    outcome = asyncio.run(go())
    if isinstance(outcome, _Refusal):
        _refuse(cycle_id, outcome, as_json=as_json)
    if as_json:
        typer.echo(json.dumps({"ok": True, "cycle_id": cycle_id, **outcome.model_dump(mode="json")}))
        return
    print_receipt(console, cycle_id, outcome)


# ------------------------------------------------------------------------------ watch

EXIT_INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


class _Watcher:
    """Shows the figures: live on a terminal, else one plain line whenever they change."""

    def __init__(self, *, live: bool) -> None:
        self.figures = LiveFigures()
        self._live = Live(self.figures, console=console, refresh_per_second=4) if live else None
        self._last = ""

    def __enter__(self) -> _Watcher:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._live is not None:
            self._live.stop()

    def say(self, note: str) -> None:
        if self._live is not None:
            self.figures.waiting(note)
        elif note != self._last:
            console.print(note, highlight=False, soft_wrap=True)
        self._last = note

    def show(self, progress: CampaignProgress) -> None:
        if self._live is not None:
            self.figures.update(progress)
            return
        line = plain_line(progress)
        if line != self._last:
            console.print(f"{datetime.now(UTC):%H:%M:%S} {line}", highlight=False, soft_wrap=True)
        self._last = line


def _live_view_wanted() -> bool:
    """A live view only on a real terminal: FORCE_COLOR (set by some CI) colours a log but does
    not make it one. TTY_INTERACTIVE=1 or 0 (Rich's own setting) decides explicitly."""
    explicit = os.environ.get("TTY_INTERACTIVE")
    if explicit in ("0", "1"):
        return explicit == "1"
    return console.is_interactive and sys.stdout.isatty()


async def _campaign_run_state(client: Client, cycle_id: str) -> WorkflowExecutionStatus | None:
    description = await CampaignHandle(client, cycle_id).handle.describe()
    return description.status


async def _watch(settings: Settings, cycle_id: str, *, interval: float, until_closed: bool) -> int:
    client = await _client(settings)
    with _Watcher(live=_live_view_wanted()) as watcher:
        while True:
            try:
                progress = await campaign_progress(client, cycle_id)
                if progress is None:
                    review = await cycle_status(client, cycle_id)
                    watcher.say(
                        f"{cycle_id} has no acknowledgement campaign yet (it starts once the CEO has "
                        "signed): waiting for it, Ctrl-C to stop"
                        if review
                        else f"no cycle {cycle_id} and no acknowledgement campaign yet: waiting for it, "
                        "Ctrl-C to stop"
                    )
                else:
                    watcher.show(progress)
                    if progress.stage is CampaignStage.CLOSED:
                        break
                    everyone = progress.stage is CampaignStage.RUNNING and (
                        progress.tally.total > 0 and progress.tally.outstanding == 0
                    )
                    if everyone and not until_closed:
                        break
                    run_state = await _campaign_run_state(client, cycle_id)
                    if run_state is not WorkflowExecutionStatus.RUNNING:
                        # it may have closed since the figures were read: read them once more
                        progress = await campaign_progress(client, cycle_id)
                        if progress is not None and progress.stage is CampaignStage.CLOSED:
                            watcher.show(progress)
                            break
                        state = run_state.name.lower() if run_state else "unknown"
                        watcher.say(f"the campaign workflow ended ({state}) without closing")
                        return EXIT_FAILED
            except RPCError as exc:  # a server restart, say: keep watching
                watcher.say(f"cannot read the figures ({exc.message}): trying again")
            await asyncio.sleep(interval)
    if progress.stage is CampaignStage.CLOSED:
        print_final(console, progress)
    else:
        console.print(
            f"Everyone in scope has acknowledged ({progress.tally.total}); the campaign closes and "
            "writes the register at its deadline (watch with --until-closed to wait for it).",
            highlight=False,
        )
    return 0


@cycle_app.command("watch")
@reflowed_help
def watch(
    cycle_id: CycleArg,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between refreshes.", metavar="SECONDS")
    ] = 2.0,
    until_closed: Annotated[
        bool,
        typer.Option(
            "--until-closed",
            help="Keep watching after everyone has acknowledged, until the campaign closes and "
            "its register is written.",
        ),
    ] = False,
) -> None:
    """Follow the acknowledgement campaign live: acknowledged of total, the rate, each department.

    Refreshes every --interval seconds until the campaign closes, then prints the final
    figures and where the register and the report are stored. Without --until-closed it also
    stops as soon as everyone in scope has acknowledged. If the cycle has no campaign yet, it
    says so and waits for one. On a terminal the view updates in place; in a pipe or CI log it
    prints one line each time the figures change.

    Exit code 0 closed (or everyone acknowledged), 1 the campaign workflow ended without
    closing, 130 stopped with Ctrl-C (the campaign carries on).

    Example:  isms cycle watch isms-review-larkspur-2026 --interval 5 --until-closed
    """
    settings = settings_or_exit()
    try:
        code = asyncio.run(_watch(settings, cycle_id, interval=interval, until_closed=until_closed))
    except KeyboardInterrupt:
        errors.print("stopped watching: the campaign carries on")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(code)


# ------------------------------------------------------------------------ role acceptance

from cli.roles import roles as _roles  # noqa: E402 (its own module; registered here)

cycle_app.command("roles")(reflowed_help(_roles))
