"""``isms demo``: one whole cycle on the embedded local stack, played through the real web pages."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Annotated

import typer

from cli.common import EXIT_FAILED, DataDirOption, console, errors, fail
from core.settings import resolve_data_dir
from devstack.demo_run import DemoError, DemoResult, run_demo
from devstack.stack import StackError


def _line(text: str = "") -> None:
    console.print(text, highlight=False, soft_wrap=True)  # links stay on one line: copy and paste


def _report(result: DemoResult) -> None:
    _line()
    _line(f"[bold green]Demo cycle complete[/bold green] in {result.seconds:.0f} s: {result.cycle_id}")
    _line(
        f"  acknowledged: {result.acknowledged} of {result.in_scope} ({result.rate_text}); "
        f"{result.emails} emails sent"
    )
    for manager, people in sorted(result.digests.items()):
        _line(f"  escalated to {manager}: {', '.join(people) if people else 'nobody outstanding'}")
    if result.roles_text:
        _line(
            f"  role acceptance: {result.roles_text} by the named holders and deputies; "
            f"{result.roles_escalated} escalated to the CEO"
        )
    _line(
        f"  archive verify: [bold]{result.verdict}[/bold] ({result.passed} passed, {result.failed} failed, "
        f"{result.warnings} warnings)"
    )
    _line()
    _line("[bold]Where to look[/bold]")
    _line(f"  mailbox (one .eml per message):  {result.mailbox}")
    if result.temporal_ui:
        _line(f"  Temporal UI (the workflow):      {result.temporal_ui}")
    _line(
        f"  lead's dashboard:                {result.dashboard}  "
        "(sign in with the ISMS lead's address; the link arrives in the mailbox)"
    )
    _line(f"  auditor portal (30 days):        {result.portal}")
    if result.statement_url:
        _line(f"  public policy statement:         {result.statement_url}")
    _line(
        f"  archive:                         isms audit list --org {result.organisation}; "
        f"isms audit verify {result.organisation} {result.year}"
    )
    _line(f"  archived objects ({len(result.archived)}):")
    for key in result.archived:
        _line(f"    {key}")
    _line("Stop the stack with `isms dev down`.")


def demo(
    data_dir: DataDirOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON (progress on stderr).")
    ] = False,
) -> None:
    """Run one whole cycle on the local stack, people played through the real web pages.

    Brings the stack up (as `isms dev up`), starts a cycle for the demo organisation with its
    days cut to seconds, and then: the CEO asks for a change, the ISMS lead revises, the CEO
    signs the policy, the roles document and the ISMS lead's appointment letter; the public
    policy statement is published; the role holders accept their roles (one declines first,
    one never answers: the CEO is told); staff answer the policy's question and acknowledge
    (three after a reminder, two never: their managers are told); everything closes; an
    auditor verifies the Object Lock archive. About two minutes.
    """
    progress = errors if as_json else console

    def say(line: str) -> None:
        progress.print(f"[dim]›[/dim] {line}", highlight=False, soft_wrap=True)

    try:
        result = asyncio.run(run_demo(resolve_data_dir(data_dir), on_event=say))
    except StackError as exc:
        fail(*exc.lines)
    except DemoError as exc:
        fail(f"the demo stopped: {exc}")
    if as_json:
        payload = asdict(result)
        payload["mailbox"] = str(result.mailbox)
        payload["settings_file"] = str(result.settings_file)
        console.print_json(json.dumps(payload))
    else:
        _report(result)
    if result.verdict != "PASS":
        raise typer.Exit(EXIT_FAILED)
