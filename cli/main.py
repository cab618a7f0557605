"""``isms``: run the annual ISO 27001 Clause 5 review from the command line."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer

# each group's module pulls in what its commands need (boto3, the Temporal client, pyHanko...):
# `isms <group> ...` imports only its own, which halves the start of `isms audit` or `isms dev`
_COMMANDS: dict[str, tuple[str, str]] = {
    "dev": ("cli.dev", "dev_app"),
    "docs": ("cli.docs", "docs_app"),
    "cycle": ("cli.cycle", "cycle_app"),
    "audit": ("cli.audit", "audit_app"),
    "schedule": ("cli.schedule", "schedule_app"),
    "templates": ("cli.templates", "templates_app"),
    "demo": ("cli.demo", "demo"),  # a command, not a group
}


def build_app(command: str | None = None) -> typer.Typer:
    """The ``isms`` app with every command, or with only ``command`` when it names one."""
    app = typer.Typer(
        name="isms",
        help="Run the yearly ISO 27001 Clause 5 cycle: policy and roles, CEO signature, "
        "staff acknowledgements, escalation and the WORM evidence archive.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _isms() -> None:
        # a callback keeps `isms` a group even when a single command is registered
        pass

    for name, (module, attribute) in _COMMANDS.items():
        if command in _COMMANDS and name != command:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def __getattr__(name: str) -> Any:
    """``cli.main.app``: the whole app, built on first use (the tests drive it with CliRunner)."""
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the command, then leave without interpreter finalization.

    The Temporal client's native runtime keeps threads of its own; when the interpreter
    finalizes while one of them releases the GIL, CPython aborts ("PyGILState_Release: thread
    state ... must be current", exit -6), seen here once in a few hundred runs of a command
    whose work had finished. Output is flushed, then the process exits with the command's code.
    """
    command = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        build_app(command)()  # standalone: shows usage errors and always ends in SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
