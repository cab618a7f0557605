"""``isms``: run the annual ISO 27001 Clause 5 review from the command line."""

from __future__ import annotations

import os
import sys

import typer

from cli.audit import audit_app
from cli.cycle import cycle_app
from cli.demo import demo
from cli.dev import dev_app
from cli.docs import docs_app
from cli.schedule import schedule_app

app = typer.Typer(
    name="isms",
    help="Run the yearly ISO 27001 Clause 5 cycle: policy and roles, CEO signature, "
    "staff acknowledgements, escalation and the WORM evidence archive.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(dev_app, name="dev")
app.add_typer(docs_app, name="docs")
app.add_typer(cycle_app, name="cycle")
app.add_typer(audit_app, name="audit")
app.add_typer(schedule_app, name="schedule")
app.command("demo")(demo)


def main() -> None:
    """Run the command, then leave without interpreter finalization.

    The Temporal client's native runtime keeps threads of its own; when the interpreter
    finalizes while one of them releases the GIL, CPython aborts ("PyGILState_Release: thread
    state ... must be current", exit -6), seen here once in a few hundred runs of a command
    whose work had finished. Output is flushed, then the process exits with the command's code.
    """
    try:
        app()  # standalone: shows usage errors and always ends in SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
