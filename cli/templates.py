"""``isms templates``: bring the organisation's own Word templates: export, check, reference."""

from __future__ import annotations

import json
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import EXIT_EXISTS, console, fail, reflowed_help
from cli.docs import EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE, _load_inputs
from core.files import write_atomic
from core.hashing import sha256_file
from models.profile import APPOINTMENT_LETTER, POLICY_DOCUMENT, ROLES_DOCUMENT, DocumentEntry, DocumentKind

templates_app = typer.Typer(
    help="Bring your own Word templates: export the built-in ones to start from, check yours "
    "before a cycle uses them, and list every value a template can use.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

# the built-in templates, by document id (their paths are in documents.template_check, which
# imports docxtpl: `isms templates --help` should not wait for it)
_EXPORTED = {
    POLICY_DOCUMENT: "information_security_policy.docx",
    ROLES_DOCUMENT: "isms_roles_responsibilities.docx",
    APPOINTMENT_LETTER: "isms_lead_appointment.docx",
}


@templates_app.command("export")
@reflowed_help
def export(
    folder: Annotated[Path, typer.Argument(help="The folder to write the templates into (made if missing).")],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite templates already in the folder.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write the built-in Word templates into FOLDER, as editable .docx files to start from.

    information_security_policy.docx is the Clause 5.2 policy, isms_roles_responsibilities.docx
    the Clause 5.3 roles document, isms_lead_appointment.docx the ISMS lead's appointment letter
    (signed with them while role acceptance is on). Change their text, layout, logo, headers and footers in
    Word; keep the {{ placeholders }} you need (`isms templates reference` lists them all).
    Then name your file in the profile, relative to the profile's folder, and check it:

      documents:
        - id: information-security-policy
          template: templates/information_security_policy.docx

      isms templates check templates/information_security_policy.docx --profile profile.yaml --staff staff.csv

    A file already there is left alone and nothing is written (exit 3), unless --force.
    Exit code 0 written, 2 the folder cannot be written, 3 a file exists.
    """
    from documents.template_check import BUILTIN_TEMPLATES

    if folder.exists() and not folder.is_dir():
        fail(f"{folder} is a file, not a folder", code=EXIT_UNREADABLE)
    targets = {document: folder / name for document, name in _EXPORTED.items()}
    existing = [path for path in targets.values() if path.exists()]
    if existing and not force:
        if as_json:
            typer.echo(json.dumps({"written": [], "exists": [str(path) for path in existing]}, indent=2))
            raise typer.Exit(EXIT_EXISTS)
        fail(
            f"{', '.join(str(path) for path in existing)} already exist(s): nothing was written",
            "  Pass --force to overwrite, or export into another folder.",
            code=EXIT_EXISTS,
        )
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for document, target in targets.items():
            write_atomic(target, BUILTIN_TEMPLATES[document].read_bytes())
            written.append({"document": document, "path": str(target), "sha256": sha256_file(target)})
    except OSError as exc:
        fail(f"cannot write into {folder}: {exc.strerror or exc}", code=EXIT_UNREADABLE)
    if as_json:
        typer.echo(json.dumps({"written": written, "exists": []}, indent=2))
        return
    for item in written:
        console.print(f"[green]✓[/green] {escape(item['path'])}  ({item['document']})", highlight=False)
    console.print(
        "Edit them in Word, name them under documents: in the profile (template: <path relative to "
        "the profile>), then run `isms templates check <file> --profile <profile> --staff <csv>`.",
        highlight=False,
    )


def _roles_like(template: Path) -> bool:
    """Named like the roles template: isms_roles_responsibilities.docx, our-roles.docx, Roles v2.docx."""
    return "roles" in re.split(r"[^a-z0-9]+", template.stem.lower())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _choose_entry(
    template: Path, document: str | None, entries: list[DocumentEntry] | None, base: Path | None
) -> tuple[str, DocumentEntry | None, str]:
    """The document id the template is checked as, its profile entry (with a profile), and why."""
    if document is not None:
        if entries is None:
            return document, None, f"--document {document}"
        found = next((entry for entry in entries if entry.id == document), None)
        if found is None:
            fail(
                f"--document {document}: the profile has no such document",
                f"  Its documents: {', '.join(entry.id for entry in entries)}",
                code=EXIT_UNREADABLE,
            )
        if found.kind is DocumentKind.STATIC:
            fail(
                f"--document {document} is a static document: it is carried unchanged and has no "
                "placeholders to check",
                code=EXIT_UNREADABLE,
            )
        return found.id, found, f"--document {document}"
    if entries is not None and base is not None:
        for entry in entries:
            if entry.kind is DocumentKind.GENERATED and entry.template is not None:
                named = Path(entry.template).expanduser()
                if _same_file(template, named if named.is_absolute() else base / named):
                    return entry.id, entry, f"the profile names it as the template of {entry.id}"
    chosen = ROLES_DOCUMENT if _roles_like(template) else POLICY_DOCUMENT
    why = "the file is named like the roles template" if _roles_like(template) else "the default"
    listed = next((entry for entry in entries or [] if entry.id == chosen), None)
    return chosen, listed or DocumentEntry(id=chosen), why


@templates_app.command("check")
@reflowed_help
def check(
    template: Annotated[Path, typer.Argument(help="The Word template (.docx) to check.")],
    profile: Annotated[
        Path | None,
        typer.Option("--profile", help="The organisation profile (YAML): also render with its real values."),
    ] = None,
    staff: Annotated[
        Path | None, typer.Option("--staff", help="The staff directory (CSV); goes with --profile.")
    ] = None,
    document: Annotated[
        str | None,
        typer.Option(
            "--document",
            help="The document id the template is for (isms-roles-responsibilities gets the roles "
            "context; any other the policy's).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a Word template: every placeholder it uses, and everything that would go wrong.

    Lists each placeholder with where it is (paragraph number and text, table, row and cell,
    header or footer). Names each one the context does not provide, with the closest name it
    does; reports Jinja syntax errors where they are, and what the sandbox refuses (Python
    internals such as __class__, loading other templates).

    Without --profile the template is checked against the context's names and types. With
    --profile and --staff it is also rendered with the organisation's real values in a
    temporary folder, which finds what fails only then. The context is the roles document's
    when --document is isms-roles-responsibilities (or the profile names the file as its
    template, or the file is named like the roles template), else the policy's; the output
    says which.

    Exit code 0 when there is no error, 1 when there are errors, 2 when a file cannot be read.
    """
    if (profile is None) != (staff is None):
        fail("--profile and --staff go together: give both, or neither", code=EXIT_UNREADABLE)
    # imported here: docxtpl is heavy, and `isms templates --help` should be quick
    from documents.template_check import check_template, context_model_for, real_context

    loaded = _load_inputs(profile, staff, as_json=as_json) if profile and staff else None
    document_id, entry, reason = _choose_entry(
        template,
        document,
        loaded[0].cycle_documents() if loaded else None,
        profile.parent if profile else None,
    )
    model = context_model_for(document_id)
    real = real_context(loaded[0], loaded[1], entry) if loaded and entry else None
    result = check_template(template, model, render_with=real)
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    code = EXIT_UNREADABLE if not result.readable else EXIT_FINDINGS if errors else EXIT_CLEAN
    if as_json:
        document_json = {
            **result.model_dump(mode="json"),
            "document": document_id,
            "context_reason": reason,
            "ok": result.ok,
            "readable": result.readable,
            "errors": errors,
            "warnings": warnings,
        }
        typer.echo(json.dumps(document_json, indent=2))
        raise typer.Exit(code)
    console.print(
        f"[bold]{escape(str(template))}[/bold]: checked as {document_id}, against the {result.context} "
        f"({escape(reason)}; --document chooses)",
        highlight=False,
    )
    if result.placeholders:
        table = Table(title=f"{len(result.placeholders)} placeholder(s)", show_lines=False)
        for column in ("", "placeholder", "where"):
            table.add_column(column, overflow="fold")
        for placeholder in result.placeholders:
            mark = "[green]✓[/green]" if placeholder.known else "[red]✗[/red]"
            places = [place.describe() for place in placeholder.places]
            shown = "; ".join(places[:2]) + (f" (+{len(places) - 2} more)" if len(places) > 2 else "")
            table.add_row(mark, escape(placeholder.name), escape(shown))
        console.print(table)
    if result.problems:
        table = Table(title=f"{len(result.problems)} problem(s)", show_lines=True)
        for column in ("severity", "kind", "where", "problem", "how to fix"):
            table.add_column(column, overflow="fold")
        for problem in result.problems:
            colour = "red" if problem.severity.value == "error" else "yellow"
            table.add_row(
                f"[{colour}]{problem.severity.value}[/{colour}]",
                problem.kind.value,
                escape(problem.place.describe() if problem.place else "the file"),
                escape(problem.message),
                escape(problem.fix),
            )
        console.print(table)
    rendered = (
        f"; rendered with the real values of {escape(loaded[0].organisation.name)}"
        if result.rendered and loaded
        else ""
    )
    if errors:
        console.print(
            f"[red]✗[/red] {errors} error(s), {warnings} warning(s): fix the errors before a cycle uses it."
        )
    else:
        console.print(
            f"[green]✓[/green] no errors ({warnings} warning(s)): {len(result.placeholders)} placeholder(s), "
            f"all known{rendered}."
        )
    raise typer.Exit(code)


class ReferenceFormat(StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"


@templates_app.command("reference")
@reflowed_help
def reference(
    output_format: Annotated[
        ReferenceFormat, typer.Option("--format", help="markdown (the docs page) or json.")
    ] = ReferenceFormat.MARKDOWN,
) -> None:
    """Print every value a template can use: its name, type and an example from the demo.

    Generated from the context models (documents/context.py) with the demo organisation's
    values; docs/template-context.md is this output, kept current by a test.
    """
    from documents.reference import reference_json, reference_markdown

    typer.echo(reference_json() if output_format is ReferenceFormat.JSON else reference_markdown(), nl=False)
