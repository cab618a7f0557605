"""``isms audit``: give an auditor read-only access, and read, verify and pack the WORM archive.

The ISMS lead's commands (``grant``, ``grants``, ``revoke``, ``hold``) act with the
application's S3 identity; the reading commands (``list``, ``get``, ``verify``, ``pack``) use
the read-only auditor identity when one is configured (ISMS_S3_AUDITOR_ACCESS_KEY_ID), so
they could not change the archive even by mistake.
"""

from __future__ import annotations

import getpass
import json
import smtplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from adapters.s3 import make_auditor_s3_client, make_s3_client
from cli.common import EXIT_BAD_INPUT, EXIT_FAILED, console, errors, fail, reflowed_help, settings_or_exit
from core.settings import Settings
from models.audit import ArchivedCycle, AuditGrant, Verdict, VerifyReport

# adapters.audit and adapters.audit_access are imported inside the commands, so that other `isms`
# commands start without them (audit_access brings the email templates and SMTP); pyHanko is
# imported only when verify checks a seal (adapters.audit.verify).
if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from adapters.audit.reader import ArchiveReader

Progress = Callable[[str], None]

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


# ------------------------------------------------------------------------------ helpers


@contextmanager
def _archive_errors(settings: Settings, bucket: str | None = None) -> Iterator[None]:
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


def _who(by: str | None) -> str:
    return by.strip() if by and by.strip() else getpass.getuser()


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "-"


def _reader(settings: Settings) -> ArchiveReader:
    """The archive as the auditor reads it: the read-only identity when configured."""
    from adapters.audit.reader import ArchiveReader

    return ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)


@contextmanager
def _progress(what: str) -> Iterator[Progress]:
    """Progress on stderr (stdout stays clean for --json): a transient status line on a
    terminal, one plain line per step in a pipe or a CI log."""
    if errors.is_terminal:
        with errors.status(what) as status:
            yield lambda step: status.update(f"{escape(what)} {escape(step)}")
    else:
        yield lambda step: errors.print(f"{what} {step}", markup=False, highlight=False, soft_wrap=True)


def _echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2))


# ------------------------------------------------------------------------ access grants


def _state(grant: AuditGrant, now: datetime) -> str:
    if grant.revoked_at is not None:
        return "revoked"
    return "active" if grant.active(now) else "expired"


def _grant_json(grant: AuditGrant, now: datetime) -> dict[str, Any]:
    return {**grant.model_dump(mode="json"), "state": _state(grant, now)}


def _only_organisation(s3: S3Client, settings: Settings) -> str:
    from adapters.audit.reader import ArchiveReader, AuditError

    known = ArchiveReader(s3, settings.archive_bucket).organisations()
    if len(known) == 1:
        return known[0]
    if not known:
        raise AuditError(
            f"nothing is archived in s3://{settings.archive_bucket} yet: no organisation to grant"
        )
    raise AuditError(f"the archive holds several organisations: choose one with --org ({', '.join(known)})")


@audit_app.command("grant")
@reflowed_help
def grant(
    email: Annotated[str, typer.Option("--email", help="The auditor's email address.", show_default=False)],
    days: Annotated[
        int, typer.Option("--days", help="How many days the access lasts (at most a year).")
    ] = 30,
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="The organisation whose archive the auditor may read (default: the only one archived).",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    send: Annotated[
        bool, typer.Option("--send/--no-send", help="Email the portal link to the auditor.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Give an auditor read-only access to one organisation's archive, for a number of days.

    Emails the portal link to the auditor (unless --no-send) and prints the grant id, when
    it expires and the link. The link is the secret:
    whoever holds it can read the archive until it expires or is revoked, and it cannot be
    shown again. Send it to the auditor only, over a channel you trust.

    Exit code 0 granted, 1 a service problem, 2 a refused address, number of days or
    organisation (nothing is recorded).

    Example:  isms audit grant --email auditor@certifier.example --days 30
    """
    from adapters.audit_access import issue_grant

    settings = settings_or_exit()
    s3 = make_s3_client(settings)
    now = datetime.now(UTC)
    with _archive_errors(settings):
        organisation = org if org is not None else _only_organisation(s3, settings)
        issued, link = issue_grant(
            s3, settings, email=email, organisation=organisation, days=days, issued_by=_who(by), now=now
        )
    sent = ""
    if send:
        from adapters.audit_access import send_grant_email

        try:
            send_grant_email(settings, issued, link)
            sent = "sent"
        except (OSError, smtplib.SMTPException) as exc:
            sent = f"not sent ({type(exc).__name__}: {exc}); send the link yourself"
    if as_json:
        _echo_json({**_grant_json(issued, now), "link": link, "link_emailed": sent or "not sent (--no-send)"})
        return
    console.print(f"Granted [bold]{escape(issued.email)}[/bold] read-only access to {escape(organisation)}.")
    if sent:
        console.print(f"Email     {escape(sent)} to {escape(issued.email)}", highlight=False)
    console.print(f"Grant     {issued.grant_id}", highlight=False)
    console.print(f"Expires   {_when(issued.expires_at)} ({days} days)", highlight=False)
    console.print(f"Link      {link}", highlight=False, soft_wrap=True)
    console.print(
        "[yellow]The link is the secret:[/yellow] whoever holds it can read the archive until it expires "
        "or is revoked, and it cannot be shown again. Send it to the auditor only.",
        soft_wrap=True,
    )
    console.print(f"Withdraw it with: isms audit revoke --grant {issued.grant_id}", highlight=False)


@audit_app.command("grants")
@reflowed_help
def grants(as_json: JsonFlag = False) -> None:
    """List every auditor grant: id, auditor, organisation, issued, expires, and its state.

    The state is active, expired or revoked. Exit code 0 listed, 1 a service problem.
    """
    from adapters.audit_access import list_grants

    settings = settings_or_exit()
    now = datetime.now(UTC)
    with _archive_errors(settings, settings.drafts_bucket):
        found = list_grants(make_s3_client(settings), settings)
    if as_json:
        _echo_json([_grant_json(g, now) for g in found])
        return
    if not found:
        console.print("No auditor grants yet: see `isms audit grant`.")
        return
    table = Table(title="Auditor grants")
    for column in ("grant id", "auditor", "organisation", "issued", "by", "expires", "state"):
        table.add_column(column, overflow="fold")
    colours = {"active": "green", "expired": "yellow", "revoked": "red"}
    for g in found:
        state = _state(g, now)
        table.add_row(
            g.grant_id,
            Text(g.email),
            Text(g.organisation),
            _when(g.issued_at),
            Text(g.issued_by),
            _when(g.expires_at),
            Text(state, style=colours[state]),
        )
    console.print(table)


@audit_app.command("revoke")
@reflowed_help
def revoke(
    email: Annotated[
        str | None,
        typer.Option("--email", help="Revoke every grant of this auditor.", show_default=False),
    ] = None,
    grant_id: Annotated[
        str | None, typer.Option("--grant", help="Revoke this one grant (its id).", show_default=False)
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Withdraw an auditor's access: by address (all their grants) or one grant by id.

    It takes effect at the auditor's next request. Exit code 0 revoked (or already
    revoked), 1 a service problem, 2 no such grant or auditor (nothing is changed).

    Examples:
      isms audit revoke --email auditor@certifier.example
      isms audit revoke --grant 3q2-7x...
    """
    from adapters.audit_access import revoke_grants

    settings = settings_or_exit()
    now = datetime.now(UTC)
    with _archive_errors(settings, settings.drafts_bucket):
        revoked = revoke_grants(make_s3_client(settings), settings, now=now, email=email, grant_id=grant_id)
    if as_json:
        _echo_json([_grant_json(g, now) for g in revoked])
        return
    if not revoked:
        console.print(
            f"Nothing to revoke: {f'grant {grant_id}' if grant_id else f'every grant of {email}'} "
            "had already been revoked.",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(f"Revoked {len(revoked)} grant{'s' if len(revoked) != 1 else ''}:")
    for g in revoked:
        console.print(
            f"  {g.grant_id}  {g.email}  {g.organisation}  (was valid until {_when(g.expires_at)})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


@audit_app.command("hold")
@reflowed_help
def hold(
    cycle_id: Annotated[
        str, typer.Argument(metavar="CYCLE_ID", help="The archived cycle, e.g. isms-review-larkspur-2026.")
    ],
    on: Annotated[
        bool | None,
        typer.Option(
            "--on/--off",
            help="Place the legal hold (--on) or release it (--off): one is required.",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Place or release an S3 Object Lock legal hold on every archived version of a cycle.

    A held version cannot be deleted even after its retention ends, until the hold is
    released; objects archived later for the same cycle are held too while the hold is on.

    Exit code 0 done, 1 a service problem, 2 no such archived cycle (nothing is changed).

    Example:  isms audit hold isms-review-larkspur-2026 --on
    """
    if on is None:
        fail("say --on to place the legal hold or --off to release it", code=EXIT_BAD_INPUT)
    from adapters.audit_access import set_legal_hold

    settings = settings_or_exit()
    with _archive_errors(settings):
        count = set_legal_hold(
            make_s3_client(settings), settings, cycle_id, on=on, actor=_who(by), now=datetime.now(UTC)
        )
    if as_json:
        _echo_json({"cycle_id": cycle_id, "legal_hold": on, "object_versions": count})
        return
    if on:
        console.print(
            f"Legal hold placed on {count} archived object versions of {cycle_id}.", highlight=False
        )
    else:
        console.print(
            f"Legal hold released from {count} archived object versions of {cycle_id}.", highlight=False
        )


# -------------------------------------------------------------------------- reading


def _acknowledgement_text(cycle: ArchivedCycle) -> str:
    facts = cycle.facts
    if facts.in_scope is None:
        return "-"
    return f"{facts.acknowledged or 0} of {facts.in_scope} ({facts.rate_text})"


def _documents(cycle: ArchivedCycle) -> list[str]:
    return cycle.facts.documents or sorted({v.document for v in cycle.versions})


def _cycle_json(cycle: ArchivedCycle) -> dict[str, Any]:
    facts = cycle.facts
    return {
        "organisation": cycle.organisation,
        "year": cycle.year,
        "cycle_id": cycle.cycle_id,
        "documents": _documents(cycle),
        "version": facts.version,
        "versions": [{"document": v.document, "version": v.version} for v in cycle.versions],
        "signer": facts.signer,
        "signed_at": facts.signed_at.isoformat() if facts.signed_at else None,
        "reason": facts.reason,
        "in_scope": facts.in_scope,
        "acknowledged": facts.acknowledged,
        "rate_text": facts.rate_text,
        "acknowledgement": _acknowledgement_text(cycle),
        "retain_until": cycle.retain_until.isoformat() if cycle.retain_until else None,
        "objects": len(cycle.objects()),
    }


@audit_app.command("list")
@reflowed_help
def list_cycles(
    org: Annotated[
        str | None, typer.Option("--org", help="Only this organisation.", show_default=False)
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="Only this year.", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """The archived cycles by organisation and year: documents, version, signer, acknowledgements.

    Each row shows the signed version, who signed it and when, the acknowledgement rate
    (acknowledged of those in scope) and the earliest date until which its evidence is
    retained. Exit code 0 listed (even if empty), 1 a service problem, 2 an unknown --org.
    """
    settings = settings_or_exit()
    reader = _reader(settings)
    with _archive_errors(settings):
        if org is not None:
            reader.require_organisation(org)
        cycles = reader.all_cycles(organisation=org, year=year)
    if as_json:
        _echo_json([_cycle_json(c) for c in cycles])
        return
    if not cycles:
        which = " ".join(part for part in (org or "", str(year) if year else "") if part)
        console.print(f"No archived cycles{f' for {which}' if which else ''} in s3://{reader.bucket}.")
        return
    table = Table(title=f"Archived cycles in s3://{reader.bucket}")
    columns = ("organisation", "year", "cycle id", "documents", "version", "signer", "signed at")
    for column in (*columns, "acknowledged", "retain until"):
        table.add_column(column, overflow="fold")
    for c in cycles:
        table.add_row(
            Text(c.organisation),
            str(c.year),
            Text(c.cycle_id),
            Text("\n".join(_documents(c))),
            Text(c.facts.version or "-"),
            Text(c.facts.signer or "-"),
            _when(c.facts.signed_at),
            _acknowledgement_text(c),
            _day(c.retain_until),
        )
    console.print(table)


@audit_app.command("get")
@reflowed_help
def get(
    org: OrgArg,
    year: YearArg,
    document: Annotated[
        str, typer.Argument(metavar="DOCUMENT", help="The document, e.g. information-security-policy.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            file_okay=False,
            help="The folder to write into (made if missing).",
            show_default=False,
        ),
    ],
    version: Annotated[
        str | None,
        typer.Option("--version", help="The version, e.g. 3.0 (default: the latest signed one)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Download one archived document version: its PDF, Word file, certificate and evidence.

    Each file is checked against the SHA-256 the manifest recorded before it is written,
    under the same relative names as in the archive (`isms audit verify --copy` checks the
    folder again later).

    Exit code 0 written, 1 a file does not match its manifest or a service problem, 2 no
    such organisation, year, document or version (the error lists those archived).

    Example:  isms audit get larkspur 2026 information-security-policy --out evidence/
    """
    from adapters.audit.reader import download_version, select_version

    settings = settings_or_exit()
    reader = _reader(settings)
    with _archive_errors(settings):
        reader.require_year(org, year)
        chosen = select_version(reader.cycles(org, year), document, version)
        written = download_version(reader, chosen, org, year, out)
    if as_json:
        _echo_json(
            {
                "organisation": org,
                "year": year,
                "document": chosen.document,
                "version": chosen.version,
                "files": [
                    {"path": str(path), "key": obj.key, "version_id": obj.version_id, "sha256": obj.sha256}
                    for path, obj in zip(written, chosen.files, strict=True)
                ],
            }
        )
        return
    console.print(
        f"{escape(chosen.document)} version {escape(chosen.version)}: {len(written)} files, "
        "each matching the manifest's SHA-256:"
    )
    for path in written:
        console.print(f"  {path}", highlight=False, soft_wrap=True, markup=False)


_VERDICT_STYLE = {Verdict.PASS: "green", Verdict.WARN: "yellow", Verdict.FAIL: "bold red"}


def _print_report(report: VerifyReport) -> None:
    for check in report.objects:
        reasons = check.problems if check.verdict is not Verdict.PASS else check.passed
        line = Text()
        line.append(f"{check.verdict.value:<4}", style=_VERDICT_STYLE[check.verdict])
        line.append(f"  {check.key}")
        if check.version_id:
            line.append(f" (version {check.version_id})", style="dim")
        if reasons:
            line.append(": " + "; ".join(reasons))
        console.print(line, soft_wrap=True)
    counts = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict)
    verdict = report.verdict
    summary = Text()
    summary.append(f"Verdict: {verdict.value}", style=_VERDICT_STYLE[verdict])
    if report.objects:
        summary.append(
            f"  {counts} of {len(report.objects)} checked against {len(report.manifests)} manifests "
            f"({report.source})"
        )
    else:
        summary.append(f"  nothing archived was found to check in {report.source}")
    console.print(summary, soft_wrap=True)


@audit_app.command("verify")
@reflowed_help
def verify(
    org: OrgArg,
    year: YearArg,
    copy: Annotated[
        Path | None,
        typer.Option(
            "--copy",
            exists=True,
            help="Check a local copy instead: a folder from `isms audit get` or an evidence pack (.zip).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the archive (or a local copy) against its manifests: one PASS, WARN or FAIL per object.

    In the archive, each object's archived version must still exist with the manifest's
    SHA-256 and size, under COMPLIANCE retention not shortened, and a PDF's seal must be valid
    and intact. A later version written under an archived key FAILs (a plain download no
    longer returns the evidence); a delete marker is a WARN (the evidence is intact). With
    --copy, a file whose bytes differ from the manifest FAILs by name.

    Exit code 0 PASS, 1 FAIL (or the archive could not be read), 2 nothing archived for
    ORG YEAR or an unreadable copy.

    Examples:
      isms audit verify larkspur 2026
      isms audit verify larkspur 2026 --copy evidence-larkspur-2026.zip --json
    """
    from adapters.audit.verify import report_json, verify_archive, verify_copy

    settings = settings_or_exit()
    reader = _reader(settings)
    with _archive_errors(settings):
        reader.require_year(org, year)
        if copy is not None:
            report = verify_copy(reader, org, year, copy)
        else:
            with _progress("verifying") as progress:
                report = verify_archive(reader, org, year, progress=progress)
    if as_json:
        typer.echo(report_json(report))
    else:
        _print_report(report)
    raise typer.Exit(0 if report.verdict is Verdict.PASS else EXIT_FAILED)


@audit_app.command("pack")
@reflowed_help
def pack(
    org: OrgArg,
    year: YearArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="The zip to write; a folder gets evidence-ORG-YEAR.zip inside it.",
            show_default=False,
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Build the evidence pack: every archived object of the year, hash-checked, in one zip.

    The zip keeps the archive's relative names and adds index.json (path, SHA-256, size,
    archived version id of each file) and index.html (each file and the Clause 5 evidence
    item it proves). `isms audit verify ORG YEAR --copy PACK.zip` checks it again later.

    Exit code 0 written, 1 an archived object does not match its manifest or a service
    problem, 2 nothing archived for ORG YEAR.

    Example:  isms audit pack larkspur 2026 --out evidence-larkspur-2026.zip
    """
    from adapters.audit.pack import build_pack

    settings = settings_or_exit()
    reader = _reader(settings)
    target = out / f"evidence-{org}-{year}.zip" if out.is_dir() else out
    with _archive_errors(settings):
        reader.require_year(org, year)
        with _progress("packing") as progress:
            index = build_pack(reader, org, year, target, progress=progress)
    if as_json:
        _echo_json({"path": str(target), "files": len(index.entries), "index": index.model_dump(mode="json")})
        return
    console.print(
        f"Wrote {target}: {len(index.entries)} files, with index.json and index.html.", highlight=False
    )
    table = Table(title=f"Evidence pack {org} {year}")
    for column in ("file", "evidence for", "SHA-256", "bytes"):
        table.add_column(column, overflow="fold")
    for entry in index.entries:
        table.add_row(Text(entry.path), Text(entry.evidence), entry.sha256[:16] + "…", str(entry.size))
    console.print(table)
