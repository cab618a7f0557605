"""``isms dev``: the embedded local stack (no Docker, no accounts)."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.table import Table

from cli.common import DataDirOption, console, errors, fail
from core.settings import DATA_DIR_VARIABLE, resolve_data_dir
from devstack.stack import ARCHIVE_BUCKET, ComponentStatus, DevStack, StackError

dev_app = typer.Typer(
    help="Start, inspect and stop the embedded local stack: Temporal dev server, SeaweedFS S3 "
    "with Object Lock, an SMTP sink that keeps every message as a file, the worker and the web app.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _port(help_text: str) -> object:
    return typer.Option(help=help_text, min=1, max=65535, show_default=False)


def _status_table(statuses: list[ComponentStatus]) -> Table:
    table = Table(title="isms-cycle local stack")
    table.add_column("component")
    table.add_column("pid", justify="right")
    table.add_column("state")
    table.add_column("where")
    table.add_column("detail", overflow="fold")
    for status in statuses:
        if status.healthy:
            state = "[green]healthy[/green]"
        elif status.running:
            state = "[yellow]running, unhealthy[/yellow]"
        else:
            state = "[red]stopped[/red]"
        table.add_row(status.name, str(status.pid or "-"), state, status.url or "-", status.detail)
    return table


@dev_app.command("up")
def up(
    data_dir: DataDirOption = None,
    temporal_port: Annotated[int | None, _port("Temporal gRPC port (default 7233).")] = None,
    temporal_ui_port: Annotated[int | None, _port("Temporal web UI port (default 8233).")] = None,
    temporal_http_port: Annotated[int | None, _port("Temporal HTTP API port (default 7243).")] = None,
    temporal_metrics_port: Annotated[int | None, _port("Temporal metrics port (default 7244).")] = None,
    s3_port: Annotated[int | None, _port("S3 port (default 8333); its gRPC port is +10000.")] = None,
    seaweed_master_port: Annotated[int | None, _port("SeaweedFS master port (default 9333).")] = None,
    seaweed_volume_port: Annotated[int | None, _port("SeaweedFS volume port (default 8380).")] = None,
    seaweed_filer_port: Annotated[int | None, _port("SeaweedFS filer port (default 8388).")] = None,
    smtp_port: Annotated[int | None, _port("SMTP sink port (default 8025).")] = None,
    tsa_port: Annotated[int | None, _port("Timestamp authority port (default 8090).")] = None,
    web_port: Annotated[int | None, _port("Web app port (default 8000).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each component.")] = 90.0,
    as_json: JsonFlag = False,
) -> None:
    """Start the local stack (only what is not already running) and print where everything is.

    State lives in --data-dir, so a second `isms dev up` finds the workflows of the first.
    Every port is checked before anything starts.
    """
    overrides = {
        key: value
        for key, value in {
            "temporal": temporal_port,
            "temporal_ui": temporal_ui_port,
            "temporal_http": temporal_http_port,
            "temporal_metrics": temporal_metrics_port,
            "s3": s3_port,
            "seaweed_master": seaweed_master_port,
            "seaweed_volume": seaweed_volume_port,
            "seaweed_filer": seaweed_filer_port,
            "smtp": smtp_port,
            "tsa": tsa_port,
            "web": web_port,
        }.items()
        if value is not None
    }
    stack = DevStack(resolve_data_dir(data_dir))
    on_event = (lambda _line: None) if as_json else (lambda line: errors.print(f"[dim]•[/dim] {line}"))
    try:
        statuses = stack.up(port_overrides=overrides, timeout=timeout, on_event=on_event)
    except StackError as exc:
        fail(*exc.lines)
    healthy = all(status.healthy for status in statuses)
    if as_json:
        typer.echo(json.dumps(_summary(stack, statuses), indent=2))
    else:
        console.print(_status_table(statuses))
        env = stack.settings_env(stack.load_state())  # type: ignore[arg-type]
        console.print(f"Temporal UI   {env['ISMS_TEMPORAL_UI_URL']}")
        console.print(
            f"Web app       {env['ISMS_PUBLIC_BASE_URL']}  (the dashboard: sign in with the ISMS lead's "
            "or deputy's address; the sign-in link arrives in the mailbox)",
            soft_wrap=True,
        )
        console.print(f"S3 endpoint   {env['ISMS_S3_ENDPOINT_URL']} (bucket {ARCHIVE_BUCKET}, Object Lock)")
        console.print(f"Mailbox       {stack.mailbox_dir}  (one .eml file per message)")
        if stack.data_dir != resolve_data_dir().resolve():
            readers = f"other `isms` commands read it with {DATA_DIR_VARIABLE}={stack.data_dir}"
        elif os.environ.get(DATA_DIR_VARIABLE):
            readers = f"read by every `isms` command while {DATA_DIR_VARIABLE} names this folder"
        else:
            readers = "read by every `isms` command run from this folder"
        console.print(f"Settings      {stack.settings_file}  ({readers})", soft_wrap=True)
        console.print(f"Logs          {stack.logs_dir}")
        console.print("Stop it with  isms dev down")
    raise typer.Exit(0 if healthy else 1)


def _summary(stack: DevStack, statuses: list[ComponentStatus]) -> dict[str, object]:
    state = stack.load_state()
    env = stack.settings_env(state) if state else {}
    return {
        "healthy": all(status.healthy for status in statuses),
        "data_dir": str(stack.data_dir),
        "components": [status.model_dump() for status in statuses],
        "urls": {
            "temporal_ui": env.get("ISMS_TEMPORAL_UI_URL"),
            "temporal_address": env.get("ISMS_TEMPORAL_ADDRESS"),
            "web": env.get("ISMS_PUBLIC_BASE_URL"),
            "s3": env.get("ISMS_S3_ENDPOINT_URL"),
            "mailbox": str(stack.mailbox_dir),
        },
        "settings_file": str(stack.settings_file),
    }


@dev_app.command("status")
def status(data_dir: DataDirOption = None, as_json: JsonFlag = False) -> None:
    """Say what runs and what is healthy. Exit code 0 only when everything is healthy."""
    stack = DevStack(resolve_data_dir(data_dir))
    statuses = stack.status()
    if as_json:
        typer.echo(json.dumps(_summary(stack, statuses), indent=2))
    else:
        console.print(_status_table(statuses))
    raise typer.Exit(0 if all(s.healthy for s in statuses) else 1)


@dev_app.command("down")
def down(data_dir: DataDirOption = None, as_json: JsonFlag = False) -> None:
    """Stop exactly the processes `isms dev up` started (by recorded pid). Data is kept."""
    stack = DevStack(resolve_data_dir(data_dir))
    on_event = (lambda _line: None) if as_json else (lambda line: errors.print(f"[dim]•[/dim] {line}"))
    outcome = stack.down(on_event=on_event)
    if as_json:
        typer.echo(json.dumps({"stopped": outcome}, indent=2))
    elif not outcome:
        console.print("Nothing to stop: the local stack is not running.")
    else:
        console.print(f"Stopped. Data kept in {stack.data_dir}")
