"""``isms schedule``: the yearly Temporal Schedule that starts each organisation's annual review."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from temporalio.client import Client

from adapters.cycles import check_files
from adapters.document_files import DocumentFilesError, store_document_files
from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from adapters.schedules import (
    ScheduleError,
    check_date,
    pause_schedule,
    resolve_schedule,
    set_schedule,
    show_schedule,
)
from adapters.temporal import connect_temporal
from cli.common import EXIT_BAD_INPUT, console, fail, settings_or_exit
from core.settings import Settings
from models.schedule import ScheduledReviewInput, ScheduleInfo

schedule_app = typer.Typer(
    help="The yearly schedule: Temporal starts the annual review on the same day every year "
    "(skipped while the previous year's cycle still runs).",
    no_args_is_help=True,
)

OrgOption = Annotated[
    str | None, typer.Option("--org", help="The organisation's short name (default: the only schedule).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
T = TypeVar("T")


def _who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _run(settings: Settings, work: Callable[[Client], Awaitable[T]]) -> T:
    async def go() -> T:
        try:
            client = await connect_temporal(settings)
        except RuntimeError as exc:
            fail(f"cannot reach Temporal at {settings.temporal_address}: {exc}")
        try:
            return await work(client)
        except ScheduleError as exc:
            fail(str(exc))

    return asyncio.run(go())


def _print_info(info: ScheduleInfo) -> None:
    state = "[yellow]paused[/yellow]" if info.paused else "[green]active[/green]"
    console.print(f"[bold]{info.schedule_id}[/bold] ({state})")
    console.print(
        f"  every year on {info.day:02d}/{info.month:02d} at {info.hour:02d}:00 {info.time_zone}",
        highlight=False,
    )
    for moment in info.next_runs:
        console.print(f"  next: {moment:%Y-%m-%d %H:%M} UTC", highlight=False)
    if info.note:
        console.print(f"  note: {info.note}", highlight=False)
    if info.recent_runs:
        console.print(f"  recent: {', '.join(info.recent_runs)}", highlight=False)
    if info.skipped_overlap:
        console.print(f"  skipped while a cycle still ran: {info.skipped_overlap}")
    console.print(f"  profile sha256 {info.profile_sha256[:16]}…, staff sha256 {info.staff_sha256[:16]}…")
    for document, digest in info.document_files.items():
        console.print(f"  {document} sha256 {digest[:16]}…", highlight=False)


@schedule_app.command("set")
def set_(
    profile: Annotated[Path, typer.Argument(help="The organisation profile (YAML).")],
    staff: Annotated[Path, typer.Option("--staff", help="The staff directory exported by HR (CSV).")],
    month: Annotated[int, typer.Option("--month", help="Month of the yearly start (1-12).")],
    day: Annotated[int, typer.Option("--day", help="Day of the month (1-31).")],
    hour: Annotated[int, typer.Option("--hour", help="Hour of the day (0-23).")] = 9,
    time_zone: Annotated[str, typer.Option("--timezone", help="IANA time zone, e.g. Europe/London.")] = "UTC",
    as_json: JsonFlag = False,
) -> None:
    """Create or update the organisation's yearly schedule.

    The profile and staff files are checked against Clause 5 now and stored by content hash,
    with the files the profile's documents section names (templates, static documents); the
    schedule starts each year's review with them. Run `set` again when any of them changes (a
    pause stays in force). Exit code 0 set, 1 a service problem, 2 bad input.
    """
    settings = settings_or_exit()
    try:
        check_date(month, day, hour, time_zone)
    except ScheduleError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)
    checked = check_files(profile, staff)
    if not checked.ok:
        fail(checked.message, *(f"  {problem}" for problem in checked.problems), code=EXIT_BAD_INPUT)
    s3 = make_s3_client(settings)
    try:
        files = store_document_files(s3, settings, profile)
    except DocumentFilesError as exc:
        fail(
            "the profile's document files cannot be used: the schedule was not set",
            *(f"  {problem}" for problem in exc.problems),
            code=EXIT_BAD_INPUT,
        )
    data = ScheduledReviewInput(
        short_name=checked.cycle_id,
        profile=store_input(s3, settings, profile),
        staff=store_input(s3, settings, staff),
        set_by=_who(),
        document_files={file.id: file.stored for file in files},
    )

    async def work(client: Client) -> tuple[str, bool, ScheduleInfo]:
        schedule_id, created = await set_schedule(
            client,
            settings,
            data,
            month=month,
            day=day,
            hour=hour,
            time_zone=time_zone,
        )
        return schedule_id, created, await show_schedule(client, schedule_id)

    schedule_id, created, info = _run(settings, work)
    if as_json:
        typer.echo(json.dumps({"created": created, **info.model_dump(mode="json")}))
        return
    console.print(("Created " if created else "Updated ") + f"the yearly schedule {schedule_id}.")
    _print_info(info)


@schedule_app.command("show")
def show(org: OrgOption = None, as_json: JsonFlag = False) -> None:
    """Show the schedule: when it fires next, whether it is paused, its recent runs."""
    settings = settings_or_exit()

    async def work(client: Client) -> ScheduleInfo:
        return await show_schedule(client, await resolve_schedule(client, org))

    info = _run(settings, work)
    if as_json:
        typer.echo(info.model_dump_json())
        return
    _print_info(info)


def _pause(org: str | None, *, pause: bool, note: str) -> None:
    settings = settings_or_exit()

    async def work(client: Client) -> str:
        schedule_id = await resolve_schedule(client, org)
        await pause_schedule(client, schedule_id, pause=pause, note=note)
        return schedule_id

    schedule_id = _run(settings, work)
    console.print(f"{schedule_id} {'paused' if pause else 'resumed'}.")


@schedule_app.command("pause")
def pause(
    org: OrgOption = None,
    note: Annotated[str, typer.Option("--note", help="Why (shown by `isms schedule show`).")] = "paused",
) -> None:
    """Pause the yearly schedule (a running cycle is not affected)."""
    _pause(org, pause=True, note=f"{note} ({_who()})")


@schedule_app.command("resume")
def resume(
    org: OrgOption = None,
    note: Annotated[str, typer.Option("--note", help="Why (shown by `isms schedule show`).")] = "resumed",
) -> None:
    """Resume a paused yearly schedule."""
    _pause(org, pause=False, note=f"{note} ({_who()})")
