"""What the `isms audit` commands share: the command group, its options, S3 errors as one line.

The commands import adapters.audit and adapters.audit_access where they use them; pyHanko, the
slow import, is loaded only when verify checks a seal (adapters.audit.verify).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape

from adapters.s3 import make_auditor_s3_client
from cli.common import EXIT_BAD_INPUT, errors, fail
from core.settings import Settings

if TYPE_CHECKING:
    from adapters.audit.reader import ArchiveReader, Progress

audit_app = typer.Typer(
    help="Give an auditor read-only access to the evidence archive; list, download, verify and "
    "pack what is archived; place a legal hold.",
    no_args_is_help=True,
)

OrgArg = Annotated[
    str, typer.Argument(metavar="ORG", help="The organisation's short name: the first part of every key.")
]
YearArg = Annotated[int, typer.Argument(metavar="YEAR", help="The cycle's year, e.g. 2026.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who is acting, for the record (default: your user name).", show_default=False),
]


@contextmanager
def archive_errors(settings: Settings, bucket: str | None = None) -> Iterator[None]:
    """Turn what the archive code raises into one plain error line.

    Exit 2: what was asked for is not valid or not in the archive (nothing was changed);
    exit 1: the bytes do not match the manifest, or S3 could not be used.
    """
    from adapters.audit.reader import AuditError, IntegrityMismatchError

    try:
        yield
    except IntegrityMismatchError as exc:
        fail(f"integrity check failed: {exc}")
    except AuditError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)
    except (ClientError, BotoCoreError) as exc:
        where = f"s3://{bucket or settings.archive_bucket}"
        fail(f"cannot use {where} at {settings.s3_endpoint_url or 'AWS S3'}: {exc}")


def who(by: str | None) -> str:
    return by.strip() if by and by.strip() else getpass.getuser()


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "-"


def auditor_reader(settings: Settings) -> ArchiveReader:
    """The archive as the auditor reads it: the read-only identity when configured."""
    from adapters.audit.reader import ArchiveReader

    return ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)


@contextmanager
def progress_printer(what: str) -> Iterator[Progress]:
    """Progress on stderr (stdout stays clean for --json): a transient status line on a
    terminal, one plain line per step in a pipe or a CI log."""
    if errors.is_terminal:
        with errors.status(what) as status:
            yield lambda step: status.update(f"{escape(what)} {escape(step)}")
    else:
        yield lambda step: errors.print(f"{what} {step}", markup=False, highlight=False, soft_wrap=True)


def echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2))
