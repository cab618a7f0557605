"""``isms docs``: check the organisation profile against Clause 5 (and, next, render the documents)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.clause5 import Severity, blocking, check_profile
from core.profile_io import UnreadableInputError, load_profile, load_staff

docs_app = typer.Typer(
    help="Check the organisation profile against ISO 27001 Clause 5 before anyone signs.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


@docs_app.command("check")
def check(
    profile: Annotated[Path, typer.Argument(help="The organisation profile (YAML).")],
    staff: Annotated[Path, typer.Option("--staff", help="The staff directory exported by HR (CSV).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    today: Annotated[
        str | None, typer.Option(help="Check as of this date (YYYY-MM-DD); default: today (UTC).")
    ] = None,
) -> None:
    """Report every Clause 5 finding: errors block signature, warnings do not.

    Exit code 0 when there is no error, 1 when there are errors, 2 when a file cannot be read.
    """
    try:
        as_of = date.fromisoformat(today) if today else datetime.now(UTC).date()
    except ValueError:
        errors.print(f"[red]error:[/red] --today must be a date as YYYY-MM-DD (got {today!r})")
        raise typer.Exit(EXIT_UNREADABLE) from None
    problems = []
    loaded_profile = loaded_staff = None
    try:
        loaded_profile = load_profile(profile)
    except UnreadableInputError as exc:
        problems += exc.problems
    try:
        loaded_staff = load_staff(staff)
    except UnreadableInputError as exc:
        problems += exc.problems
    if problems or loaded_profile is None or loaded_staff is None:
        if as_json:
            typer.echo(json.dumps({"readable": False, "problems": [str(p) for p in problems]}, indent=2))
        else:
            for problem in problems:
                errors.print(f"[red]unreadable:[/red] {problem}", highlight=False)
        raise typer.Exit(EXIT_UNREADABLE)

    findings = check_profile(loaded_profile, loaded_staff, today=as_of)
    failed = blocking(findings)
    if as_json:
        document = {
            "readable": True,
            "organisation": loaded_profile.organisation.name,
            "checked_on": as_of.isoformat(),
            "ok": not failed,
            "errors": sum(f.severity is Severity.ERROR for f in findings),
            "warnings": sum(f.severity is Severity.WARNING for f in findings),
            "findings": [finding.model_dump(mode="json") for finding in findings],
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        if findings:
            table = Table(title=f"Clause 5 findings for {loaded_profile.organisation.name}", show_lines=True)
            for column in ("severity", "rule", "where", "finding", "how to fix"):
                table.add_column(column, overflow="fold")
            for finding in findings:
                colour = "red" if finding.severity is Severity.ERROR else "yellow"
                table.add_row(
                    f"[{colour}]{finding.severity.value}[/{colour}]",
                    finding.rule,
                    finding.where,
                    finding.message,
                    finding.fix,
                )
            console.print(table)
        count_errors = sum(f.severity is Severity.ERROR for f in findings)
        count_warnings = len(findings) - count_errors
        if failed:
            console.print(
                f"[red]✗[/red] {count_errors} error(s), {count_warnings} warning(s): "
                "fix the errors before the documents go for signature."
            )
        else:
            console.print(
                f"[green]✓[/green] {loaded_profile.organisation.name}: no Clause 5 errors "
                f"({count_warnings} warning(s)); ready for signature."
            )
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_CLEAN)
