"""``isms demo``: one whole cycle on the embedded local stack, played through the real web pages."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from cli.common import EXIT_FAILED, console, errors
from devstack.demo_run import DemoError, DemoResult, run_demo
from devstack.stack import StackError


def _report(result: DemoResult) -> None:
    console.print()
    console.print(
        f"[bold green]Demo cycle complete[/bold green] in {result.seconds:.0f} s: {result.cycle_id}"
    )
    console.print(
        f"  acknowledged: {result.acknowledged} of {result.in_scope} ({result.rate_text}); "
        f"{result.emails} emails sent"
    )
    for manager, people in sorted(result.digests.items()):
        named = ", ".join(people) if people else "nobody outstanding"
        console.print(f"  escalated to {manager}: {named}", highlight=False)
    console.print(
        f"  archive verify: [bold]{result.verdict}[/bold] ({result.passed} passed, {result.failed} failed, "
        f"{result.warnings} warnings)"
    )
    console.print()
    console.print("[bold]Where to look[/bold]")
    console.print(f"  mailbox (one .eml per message):  {result.mailbox}", highlight=False)
    if result.temporal_ui:
        console.print(f"  Temporal UI (the workflow):      {result.temporal_ui}", highlight=False)
    console.print(
        f"  lead's dashboard:                {result.dashboard}  (password in .isms-data/isms.env, "
        "ISMS_DASHBOARD_PASSWORD)",
        highlight=False,
    )
    console.print(f"  auditor portal (30 days):        {result.portal}", highlight=False)
    console.print(
        f"  archive:                         `isms audit list --org {result.organisation}`, "
        f"`isms audit verify {result.organisation} {result.year}`",
        highlight=False,
    )
    console.print(f"  archived objects ({len(result.archived)}):")
    for key in result.archived:
        console.print(f"    {key}", highlight=False)
    console.print("Stop the stack with `isms dev down`.")


def demo(
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", envvar="ISMS_DATA_DIR", help="Where the local stack keeps its state."),
    ] = Path(".isms-data"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON (progress on stderr).")
    ] = False,
) -> None:
    """Run one whole cycle on the local stack, people played through the real web pages.

    Brings the stack up (as `isms dev up`), starts a cycle for the demo organisation with its
    days cut to seconds, and then: the CEO asks for a change, the ISMS lead revises, the CEO
    signs; staff acknowledge (three after a reminder, two never: their managers are told);
    the campaign closes; an auditor verifies the Object Lock archive. About three minutes.
    """
    progress = errors if as_json else console

    def say(line: str) -> None:
        progress.print(f"[dim]›[/dim] {line}", highlight=False)

    try:
        result = asyncio.run(run_demo(data_dir, on_event=say))
    except StackError as exc:
        for line in exc.lines:
            errors.print(f"[red]error:[/red] {line}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
    except DemoError as exc:
        errors.print(f"[red]the demo stopped:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
    if as_json:
        payload = asdict(result)
        payload["mailbox"] = str(result.mailbox)
        console.print_json(json.dumps(payload))
    else:
        _report(result)
    if result.verdict != "PASS":
        raise typer.Exit(EXIT_FAILED)
