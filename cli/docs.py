"""``isms docs``: check the organisation profile against Clause 5 (and, next, render the documents)."""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import console, errors, fail
from core.clause5 import Severity, blocking, check_profile
from core.profile_io import UnreadableInputError, load_profile, load_staff
from documents.catalogue import document_findings
from models.profile import OrganisationProfile
from models.staff import StaffDirectory

docs_app = typer.Typer(
    help="Check the organisation profile against ISO 27001 Clause 5 before anyone signs.",
    no_args_is_help=True,
)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


def _load_inputs(profile: Path, staff: Path, *, as_json: bool) -> tuple[OrganisationProfile, StaffDirectory]:
    """Both files, or exit 2 listing every problem in either (file, line, column)."""
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
            raise typer.Exit(EXIT_UNREADABLE)
        fail(*(f"unreadable: {problem}" for problem in problems), code=EXIT_UNREADABLE)
    return loaded_profile, loaded_staff


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

    The profile's documents section is checked too: every file exists, every template's
    placeholders are known and it renders with the real values (see `isms templates check`),
    static files match their sha256: pin, every audience selects somebody in scope.

    Exit code 0 when there is no error, 1 when there are errors, 2 when a file cannot be read.
    """
    try:
        as_of = date.fromisoformat(today) if today else datetime.now(UTC).date()
    except ValueError:
        fail(f"--today must be a date as YYYY-MM-DD (got {today!r})", code=EXIT_UNREADABLE)
    loaded_profile, loaded_staff = _load_inputs(profile, staff, as_json=as_json)
    findings = check_profile(loaded_profile, loaded_staff, today=as_of)
    # the documents section: files, templates (checked and rendered), static files, audiences
    findings += document_findings(loaded_profile, loaded_staff, profile.parent, today=as_of)
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
                table.add_row(  # a finding quotes what people wrote (a paragraph's "[Name]"): not markup
                    f"[{colour}]{finding.severity.value}[/{colour}]",
                    escape(finding.rule),
                    escape(finding.where),
                    escape(finding.message),
                    escape(finding.fix),
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


@docs_app.command("render")
def render(
    profile: Annotated[Path, typer.Argument(help="The organisation profile (YAML).")],
    staff: Annotated[Path, typer.Option("--staff", help="The staff directory exported by HR (CSV).")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the documents into.")],
    draft: Annotated[
        bool, typer.Option("--draft", help="Render even when Clause 5 errors remain (marked as a draft).")
    ] = False,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            help="A folder with the previous version (its render-manifest.json, or its .docx files): "
            "the manifest then records what changed in text, roles and holders.",
        ),
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also convert each document to PDF.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the render manifest as JSON.")] = False,
) -> None:
    """Render every document of the profile (.docx, and each PDF) into --out.

    The documents are the profile's documents section (without one: the Information Security
    Policy and the Roles document): each generated one from its template (the organisation's own,
    or the built-in one), each static one copied unchanged; files are found relative to the
    profile file. The Clause 5 checks run first: with errors nothing is written (exit 1) unless
    --draft. A file the profile names that is missing or unreadable: exit 2, nothing written.
    Each document is listed with its version, SHA-256 and its template's (or file's) SHA-256, in
    --out/render-manifest.json with the change summary against --previous.
    """
    # imported here: docxtpl and LibreOffice are heavy, and `isms docs check` should stay quick
    from documents.changes import load_previous
    from documents.pdf_convert import PdfConverter, PdfConverterError
    from documents.pipeline import DocumentError, DocumentSourceError, Step, cycle_documents, render_cycle
    from documents.sources import resolve_sources

    if previous is not None:
        try:
            load_previous(previous)
        except (FileNotFoundError, ValueError) as exc:
            fail(f"--previous: {exc}", code=EXIT_UNREADABLE)
    loaded_profile, loaded_staff = _load_inputs(profile, staff, as_json=as_json)
    sources = resolve_sources(loaded_profile, profile.parent)
    if sources.missing:
        fail(
            *(
                f"{doc_id}: {path} is not a file (the profile names it; paths are relative to {profile.name})"
                for doc_id, path in sources.missing.items()
            ),
            "  Nothing written: put each file there or correct its path in the profile.",
            code=EXIT_UNREADABLE,
        )
    titles = {document.name: document.title for document in cycle_documents(loaded_profile, sources.files)}
    findings = check_profile(loaded_profile, loaded_staff, today=datetime.now(UTC).date())
    if blocking(findings) and not draft:
        fail(
            *(f"{f.rule} at {f.where}: {f.message}" for f in findings if f.severity is Severity.ERROR),
            "  Nothing written: fix the errors (see `isms docs check`), or pass --draft.",
            code=EXIT_FINDINGS,
        )
    signature_line = "DRAFT: not for signature" if blocking(findings) else "Awaiting signature"
    created = not out.exists()  # a render that fails removes the folder it made
    with contextlib.ExitStack() as stack:
        converter = None
        status = None
        if pdf:
            status = stack.enter_context(errors.status("Starting LibreOffice…"))
            converter = stack.enter_context(PdfConverter())

        def progress(step: Step, name: str) -> None:
            if as_json:
                return
            if step == "rendered":
                errors.print(f"[dim]•[/dim] {name}  {titles.get(name, '')}", highlight=False)
            elif step == "converting" and status is not None:
                status.update(f"Converting {name} to PDF…")
            elif step == "converted":
                errors.print(f"[dim]•[/dim] {Path(name).with_suffix('.pdf').name}", highlight=False)

        try:
            made = render_cycle(
                loaded_profile,
                loaded_staff,
                out,
                sources=sources.files,
                signature_line=signature_line,
                converter=converter,
                previous_dir=previous,
                progress=progress,
            )
        except DocumentError as exc:
            if created:
                shutil.rmtree(out, ignore_errors=True)
            unreadable = isinstance(exc, DocumentSourceError)
            left = "  Nothing written." if created else f"  {out} may hold the documents made before it."
            fail(str(exc), left, code=EXIT_UNREADABLE if unreadable else EXIT_FINDINGS)
        except PdfConverterError as exc:
            fail(f"PDF conversion failed: {exc}", code=EXIT_FINDINGS)
    documents, manifest, manifest_path = made.documents, made.manifest, made.manifest_path
    if as_json:
        typer.echo(manifest.model_dump_json(indent=2, exclude={"facts"}))
        return
    table = Table(title=f"{loaded_profile.organisation.name}: version {loaded_profile.policy.version}")
    for column in ("document", "version", "sha256", "template/file sha256", "pdf"):
        table.add_column(column, overflow="fold")
    for document in documents:
        table.add_row(
            str(document.path),
            document.version,
            document.sha256,
            document.template_sha256,
            str(document.pdf_path) if document.pdf_path else "-",
        )
    console.print(table)
    if manifest.changes is not None:
        console.print("[bold]Changes since the previous version[/bold]")
        for line in manifest.changes.lines():
            console.print(f"  • {line}", highlight=False)
    console.print(f"Manifest: {manifest_path}")
