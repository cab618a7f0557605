"""`isms audit list/get/verify/pack`: reading the archive, with the read-only auditor identity when
one is configured (ISMS_S3_AUDITOR_ACCESS_KEY_ID), so these could not change it even by mistake."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cli.audit.support import (
    JsonFlag,
    OrgArg,
    YearArg,
    archive_errors,
    audit_app,
    auditor_reader,
    day,
    echo_json,
    progress_printer,
    when,
)
from cli.common import EXIT_BAD_INPUT, EXIT_FAILED, console, fail, reflowed_help, settings_or_exit
from models.audit import ArchivedCycle, ObjectCheck, Verdict, VerifyReport

if TYPE_CHECKING:
    from adapters.audit.offline import PackReport


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
        "versions": [
            {
                "document": v.document,
                "version": v.version,
                "title": v.facts.title if v.facts else "",
                "document_version": v.facts.version if v.facts and v.facts.version else v.version,
            }
            for v in cycle.versions
        ],
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
    reader = auditor_reader(settings)
    with archive_errors(settings):
        if org is not None:
            reader.require_organisation(org)
        cycles = reader.all_cycles(organisation=org, year=year)
    if as_json:
        echo_json([_cycle_json(c) for c in cycles])
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
            when(c.facts.signed_at),
            _acknowledgement_text(c),
            day(c.retain_until),
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
    reader = auditor_reader(settings)
    with archive_errors(settings):
        reader.require_year(org, year)
        chosen = select_version(reader.cycles(org, year), document, version)
        written = download_version(reader, chosen, org, year, out)
    if as_json:
        echo_json(
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


def _print_check(check: ObjectCheck) -> None:
    reasons = check.problems if check.verdict is not Verdict.PASS else check.passed
    line = Text()
    line.append(f"{check.verdict.value:<4}", style=_VERDICT_STYLE[check.verdict])
    line.append(f"  {check.key}")
    if check.version_id:
        line.append(f" (version {check.version_id})", style="dim")
    if reasons:
        line.append(": " + "; ".join(reasons))
    console.print(line, soft_wrap=True)


def _print_report(report: VerifyReport) -> None:
    if report.documents:  # each document of the signed versions, complete; then object by object
        console.print("Documents", style="bold")
        for check in report.documents:
            _print_check(check)
        console.print("Objects", style="bold")
    for check in report.objects:
        _print_check(check)
    counts = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict)
    verdict = report.verdict
    summary = Text()
    summary.append(f"Verdict: {verdict.value}", style=_VERDICT_STYLE[verdict])
    if report.objects:
        documents = sum(1 for d in report.documents if d.verdict is Verdict.PASS)
        complete = f", {documents} of {len(report.documents)} documents complete" if report.documents else ""
        summary.append(
            f"  {counts} of {len(report.objects)} checked against {len(report.manifests)} manifests"
            f"{complete} ({report.source})"
        )
    else:
        summary.append(f"  nothing archived was found to check in {report.source}")
    console.print(summary, soft_wrap=True)


def _print_times(report: PackReport) -> None:
    console.print("Times, and the clock each rests on", style="bold")
    for fact in report.times:
        line = Text()
        line.append(f"{fact.at:%Y-%m-%d %H:%M:%S} UTC" if fact.at else "(no time stated)", style="bold")
        line.append(f"  {fact.fact}: {fact.clock}")
        console.print(line, soft_wrap=True)
    if not any(fact.trusted_time for fact in report.times):
        console.print(
            "No timestamp authority vouches for any of these times: they rest on the "
            "organisation's own clock.",
            style="yellow",
            soft_wrap=True,
        )
    if report.seal_certificate_sha256:
        console.print(
            f"Seals checked against the pinned seal certificate, fingerprint (SHA-256) "
            f"{report.seal_certificate_sha256}: compare it with the one the organisation gave you.",
            soft_wrap=True,
            highlight=False,
        )


def _verify_pack(org: str | None, year: int | None, copy: Path, as_json: bool) -> None:
    """The pack alone: no settings, no S3 (adapters.audit.offline)."""
    from adapters.audit.offline import pack_report_json, verify_pack
    from adapters.audit.reader import AuditError

    try:
        report = verify_pack(copy, organisation=org, year=year)
    except AuditError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)
    if as_json:
        typer.echo(pack_report_json(report))
    else:
        _print_report(report)
        _print_times(report)
    raise typer.Exit(0 if report.verdict is Verdict.PASS else EXIT_FAILED)


@audit_app.command("verify")
@reflowed_help
def verify(
    org: Annotated[
        str | None,
        typer.Argument(
            metavar="ORG",
            help="The organisation's short name (with --copy PACK: read from the pack).",
            show_default=False,
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Argument(
            metavar="YEAR",
            help="The cycle's year (with --copy PACK: read from the pack).",
            show_default=False,
        ),
    ] = None,
    copy: Annotated[
        Path | None,
        typer.Option(
            "--copy",
            exists=True,
            help="Check a local copy instead: an evidence pack (.zip, or the folder it was unzipped "
            "into), checked from its own files alone; or a folder from `isms audit get`.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the archive (or a local copy) against its manifests: one PASS, WARN or FAIL per object.

    In the archive, each object's archived version must still exist with the manifest's
    SHA-256 and size, under COMPLIANCE retention not shortened, and a PDF's seal must be valid
    and intact; and each document of a signed version must have every file it needs (its
    sealed PDF, its Word file unless it is a static PDF, the certificate, the evidence and the
    seal certificate), with the SHA-256 the manifest lists for it. A later version written
    under an archived key FAILs (a plain download no longer returns the evidence); a delete
    marker is a WARN (the evidence is intact).

    With --copy PACK (an evidence pack from `isms audit pack`) nothing but the pack is used:
    no settings, no S3. Every file is checked against the pack's manifests, the manifests'
    chain (a gap or an extra manifest FAILs naming it), every seal against the seal
    certificate pinned in the pack (seal-certificate.json), and each time is listed with the
    clock it rests on. With --copy FOLDER from `isms audit get`, the files are checked against
    the archive's manifests (this needs the settings and S3).

    Exit code 0 PASS, 1 FAIL (or the archive could not be read), 2 nothing archived for
    ORG YEAR, a copy that is not a pack or a folder, or the pack of another ORG YEAR.

    Examples:
      isms audit verify larkspur 2026
      isms audit verify --copy evidence-larkspur-2026.zip --json
    """
    from adapters.audit.offline import is_pack

    if copy is not None and is_pack(copy):
        _verify_pack(org, year, copy, as_json)
    if org is None or year is None:
        fail("give ORG and YEAR (or --copy with an evidence pack)", code=EXIT_BAD_INPUT)
    from adapters.audit.verify import report_json, verify_archive, verify_copy

    settings = settings_or_exit()
    reader = auditor_reader(settings)
    with archive_errors(settings):
        reader.require_year(org, year)
        if copy is not None:
            report = verify_copy(reader, org, year, copy)
        else:
            with progress_printer("verifying") as progress:
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
    archived version id of each file; each document with its id, title, version and the
    SHA-256 of its sealed PDF) and index.html (the documents, each file and the Clause 5
    evidence item it proves). `isms audit verify ORG YEAR --copy PACK.zip` checks it again later.

    Exit code 0 written, 1 an archived object does not match its manifest or a service
    problem, 2 nothing archived for ORG YEAR.

    Example:  isms audit pack larkspur 2026 --out evidence-larkspur-2026.zip
    """
    from adapters.audit.pack import build_pack

    settings = settings_or_exit()
    reader = auditor_reader(settings)
    target = out / f"evidence-{org}-{year}.zip" if out.is_dir() else out
    with archive_errors(settings):
        reader.require_year(org, year)
        with progress_printer("packing") as progress:
            index = build_pack(reader, org, year, target, progress=progress)
    if as_json:
        echo_json({"path": str(target), "files": len(index.entries), "index": index.model_dump(mode="json")})
        return
    console.print(
        f"Wrote {target}: {len(index.entries)} files, with index.json and index.html.", highlight=False
    )
    if index.documents:
        documents = Table(title=f"Documents in the pack {org} {year}")
        for column in ("id", "title", "version", "SHA-256 of the sealed PDF", "approval"):
            documents.add_column(column, overflow="fold")
        for document in index.documents:
            documents.add_row(
                Text(document.id),
                Text(document.title or "-"),
                Text(document.version),
                document.sha256[:16] + "…",
                "signed" if document.signed else "sealed, not signed",
            )
        console.print(documents)
    table = Table(title=f"Evidence pack {org} {year}")
    for column in ("file", "evidence for", "SHA-256", "bytes"):
        table.add_column(column, overflow="fold")
    for entry in index.entries:
        table.add_row(Text(entry.path), Text(entry.evidence), entry.sha256[:16] + "…", str(entry.size))
    console.print(table)
