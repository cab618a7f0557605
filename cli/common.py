"""What every `isms` command needs: the consoles, the data folder, settings, one way to fail."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from core.settings import DATA_DIR_VARIABLE, Settings, SettingsError, load_settings

console = Console()
errors = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_EXISTS = 0, 1, 2, 3
P = ParamSpec("P")
R = TypeVar("R")


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help=f"Where the local stack keeps its state, logs, mailbox and settings file "
        f"(default: ${DATA_DIR_VARIABLE}, else ./.isms-data).",
        show_default=False,
    ),
]
"""A ``--data-dir`` option; pass its value to :func:`core.settings.resolve_data_dir`."""


def fail(*lines: str, code: int = EXIT_FAILED) -> NoReturn:
    """Say on stderr what went wrong, then exit with ``code``: the one error printer of ``isms``.

    Each line that does not start with a space reads ``error: <line>``; an indented line (a
    problem under the error, a log line) is printed as it is. Lines may hold newlines. The
    text is never read as Rich markup and never wrapped, so paths and links stay copyable.

    >>> fail("no cycle isms-review-acme-2026: see `isms cycle start`")
    >>> fail("2 problems in staff.csv", "  line 3: no email", "  line 9: bad date", code=EXIT_BAD_INPUT)
    """
    for line in "\n".join(lines).splitlines():
        text = escape(line) if line.startswith(" ") else f"[red]error:[/red] {escape(line)}"
        errors.print(text, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    """The settings, or exit 2 with one line per problem (and where they were read from)."""
    try:
        return load_settings()
    except SettingsError as exc:
        fail(
            f"invalid settings (read from {exc.source}):",
            *(f"  {problem}" for problem in exc.problems),
            "  Run `isms dev up` for a local stack, or set the ISMS_ variables (see README).",
            code=EXIT_BAD_INPUT,
        )


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
