"""What every `isms` command that talks to the services needs: settings, clients, errors."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console

from core.settings import Settings, SettingsError, load_settings

console = Console()
errors = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_EXISTS = 0, 1, 2, 3
P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, *, code: int = EXIT_FAILED) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    """The settings, or exit 2 with one line per problem (and where they were read from)."""
    try:
        return load_settings()
    except SettingsError as exc:
        errors.print(f"[red]invalid settings[/red] (read from {exc.source}):")
        for problem in exc.problems:
            errors.print(f"  {problem}", highlight=False)
        errors.print("Run `isms dev up` for a local stack, or set the ISMS_ variables (see README).")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def workflow_ui_url(settings: Settings, workflow_id: str) -> str | None:
    if settings.temporal_ui_url is None:
        return None
    return f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"


def reflowed_help(command: Callable[P, R]) -> Callable[P, R]:
    """Let ``--help`` wrap each docstring paragraph to the terminal; a paragraph with indented
    lines (examples) stays as written."""
    paragraphs = inspect.cleandoc(command.__doc__ or "").split("\n\n")
    command.__doc__ = "\n\n".join(
        paragraph if "\n  " in paragraph else paragraph.replace("\n", " ") for paragraph in paragraphs
    )
    return command
