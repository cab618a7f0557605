"""The profile's documents section, checked before a cycle starts: every finding names the document.

``isms docs check`` and ``isms cycle start`` (through :func:`adapters.cycles.check_files`) run
it beside the Clause 5 checks, so a broken template, a missing or changed file, or an audience
that selects nobody stops the start with a finding, never mid-cycle::

    findings = document_findings(profile, staff, Path("profile.yaml").parent, today=date.today())

For every document of ``profile.cycle_documents()``: the file exists; a generated document's
template passes :func:`documents.template_check.check_template` and renders with the real
context; a static file is a readable .docx or .pdf whose SHA-256 matches its ``sha256:`` pin;
the audience names what the staff directory has and selects somebody; the two documents
Clause 5 requires are signed and acknowledged, and go to everyone. The organisation's own
public statement (``public_statement.file``, while the statement is on) exists, is a readable
PDF and matches its ``sha256:`` pin.

docxtpl (and, for a static PDF, pyHanko's reader) are imported only when a document needs
them: a profile on the built-in templates is checked without either.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.audience import audience_problems
from core.hashing import sha256_file
from core.public_statement import statement_file, statement_pin_problem
from documents.sources import pin_problem, resolve_sources
from models.findings import Finding, Severity
from models.profile import (
    POLICY_DOCUMENT,
    REQUIRED_DOCUMENTS,
    ROLES_DOCUMENT,
    DocumentEntry,
    DocumentKind,
    OrganisationProfile,
)
from models.staff import StaffDirectory

__all__ = ["document_findings", "document_place"]

_CLAUSE = {POLICY_DOCUMENT: "5.2", ROLES_DOCUMENT: "5.3"}
_WHAT = {POLICY_DOCUMENT: "the policy", ROLES_DOCUMENT: "the roles, responsibilities and authorities"}
_TEMPLATE_RULES = {
    "unreadable": "documents.template-unreadable",
    "syntax": "documents.template-syntax",
    "unknown-placeholder": "documents.template-placeholder",
    "sandbox": "documents.template-sandbox",
    "render": "documents.template-render",
}


def _error(rule: str, where: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, where=where, message=message, fix=fix)


def _warning(rule: str, where: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=Severity.WARNING, where=where, message=message, fix=fix)


def document_place(profile: OrganisationProfile, entry: DocumentEntry) -> str:
    """``documents[2]``, or ``documents (information-security-policy, built in)`` when not listed."""
    for index, listed in enumerate(profile.documents):
        if listed.id == entry.id:
            return f"documents[{index}]"
    return f"documents ({entry.id}, built in)"


def document_findings(
    profile: OrganisationProfile, staff: StaffDirectory, base_dir: Path, *, today: date
) -> list[Finding]:
    """Every finding about the documents section, document by document in the cycle's order.

    ``base_dir`` is the profile file's folder: the section's paths are relative to it.
    """
    sources = resolve_sources(profile, base_dir)
    findings: list[Finding] = []
    for entry in profile.cycle_documents():
        where = document_place(profile, entry)
        findings += _required_document(entry, where)
        findings += _audience(entry, where, staff, today=today)
        if entry.id in sources.unusable:
            field = "template" if entry.kind is DocumentKind.GENERATED else "file"
            findings.append(
                _error(
                    "documents.file-exists",
                    f"{where}.{field}",
                    f"{entry.id}: {entry.source!r} is not a usable path ({sources.unusable[entry.id]})",
                    f"correct {field}: (a path relative to the profile's folder, {base_dir})",
                )
            )
        elif entry.id in sources.missing:
            field = "template" if entry.kind is DocumentKind.GENERATED else "file"
            findings.append(
                _error(
                    "documents.file-exists",
                    f"{where}.{field}",
                    f"{entry.id}: there is no file at {sources.missing[entry.id]}",
                    f"put the file there, or correct {field}: (a path relative to the profile's "
                    f"folder, {base_dir})",
                )
            )
        elif entry.id in sources.files:
            path = sources.files[entry.id]
            if entry.kind is DocumentKind.GENERATED:
                findings += _template(profile, staff, entry, path, f"{where}.template")
            else:
                findings += _static(entry, path, f"{where}.file")
    return findings + statement_findings(profile, base_dir)


def statement_findings(profile: OrganisationProfile, base_dir: Path) -> list[Finding]:
    """The organisation's own statement PDF: there, readable, the pinned one (none when generated)."""
    path = statement_file(profile, base_dir)
    if path is None:
        return []
    where, named = "public_statement.file", profile.public_statement.file
    try:
        exists = path.is_file()
    except (OSError, ValueError) as exc:  # a name too long, a NUL
        return [
            _error(
                "public-statement.file-exists",
                where,
                f"public_statement.file: {named!r} is not a usable path ({exc})",
                f"correct file: (a path relative to the profile's folder, {base_dir})",
            )
        ]
    if not exists:
        return [
            _error(
                "public-statement.file-exists",
                where,
                f"public_statement.file: there is no file at {path}",
                f"put the PDF there, or correct file: (a path relative to the profile's folder, {base_dir})",
            )
        ]
    problem = _pdf_problem(path)
    if problem is not None:
        message, fix = problem
        return [
            _error("public-statement.unreadable", where, f"public_statement.file: {path.name} {message}", fix)
        ]
    pinned = statement_pin_problem(profile, sha256_file(path))
    if pinned is not None:
        message, fix = pinned
        return [_error("public-statement.sha256", where, message, fix)]
    return []


def _required_document(entry: DocumentEntry, where: str) -> list[Finding]:
    if entry.id not in REQUIRED_DOCUMENTS:
        return []
    clause, what = _CLAUSE[entry.id], _WHAT[entry.id]
    findings = []
    if not entry.signs:
        findings.append(
            _error(
                f"{clause}.signed-by-top-management",
                f"{where}.signs",
                f"{entry.id} has signs: false, but Clause {clause} needs {what} approved by top management",
                "remove signs: false: the CEO signs the documents Clause 5 requires",
            )
        )
    if not entry.acknowledges:
        findings.append(
            _error(
                f"{clause}.communicated",
                f"{where}.acknowledges",
                f"{entry.id} has acknowledges: false, but Clause {clause} needs {what} communicated "
                "within the organisation, with proof that each person received it",
                "remove acknowledges: false: everyone in scope acknowledges the documents Clause 5 requires",
            )
        )
    elif not entry.audience.everyone:
        clause_point = "5.2 g" if entry.id == POLICY_DOCUMENT else "5.3"
        findings.append(
            _warning(
                f"{clause}.communicated-to-everyone",
                f"{where}.audience",
                f"{entry.id} goes only to {entry.audience.describe()}; Clause {clause_point} has {what} "
                "communicated within the organisation",
                "remove its audience: so that everyone in scope acknowledges it, or record why the others "
                "need not",
            )
        )
    return findings


def _audience(entry: DocumentEntry, where: str, staff: StaffDirectory, *, today: date) -> list[Finding]:
    findings = []
    for problem in audience_problems(entry.audience, staff, on=today):
        if problem.startswith("selects nobody"):
            fix = (
                "widen the audience (departments, job_titles, people or columns as the staff directory "
                "writes them), or remove the document"
            )
        elif problem.startswith("selects on column"):
            fix = "name a column of the staff directory's header (any case), or add it to the HR export"
        elif problem.startswith("names department"):
            fix = "write the department as the staff directory's department column has it"
        elif problem.startswith("names job title"):
            fix = "write the job title as the staff directory's job_title column has it"
        else:
            fix = "name the person by email or employee id as the staff directory has them"
        findings.append(
            _error("documents.audience", f"{where}.audience", f"{entry.id}: the audience {problem}", fix)
        )
    return findings


def _template(
    profile: OrganisationProfile, staff: StaffDirectory, entry: DocumentEntry, path: Path, where: str
) -> list[Finding]:
    # imported here: docxtpl is heavy, and a profile on the built-in templates does not need it
    from documents.template_check import check_template, context_model_for, real_context

    try:
        real = real_context(profile, staff, entry)
    except Exception:  # a context that cannot be built is a Clause 5 finding; check without values
        real = None
    check = check_template(path, context_model_for(entry.id), render_with=real)
    findings = []
    for problem in check.problems:
        if problem.message.startswith("the template "):  # about the file: "the template is a PDF..."
            message = f"{entry.id}: the template {path.name} {problem.message.removeprefix('the template ')}"
        else:
            place = f" ({problem.place.describe()})" if problem.place else ""
            message = f"{entry.id}: the template {path.name}{place}: {problem.message}"
        make = _error if problem.severity.value == "error" else _warning
        findings.append(make(_TEMPLATE_RULES[problem.kind.value], where, message, problem.fix))
    return findings


def _static(entry: DocumentEntry, path: Path, where: str) -> list[Finding]:
    problem = static_file_problem(path)
    if problem is not None:
        message, fix = problem
        return [_error("documents.static-unreadable", where, f"{entry.id}: {path.name} {message}", fix)]
    pinned = pin_problem(entry, sha256_file(path)) if entry.sha256 is not None else None
    if pinned is not None:
        message, fix = pinned
        return [_error("documents.static-sha256", f"{where.removesuffix('.file')}.sha256", message, fix)]
    return []


def static_file_problem(path: Path) -> tuple[str, str] | None:
    """Why a static file is not a readable document of its kind (message, fix), or None."""
    if path.suffix.lower() == ".pdf":
        return _pdf_problem(path)
    from documents.template_check import file_problem

    problem = file_problem(path, what="")
    if problem is None:
        return None
    return problem.message.strip(), problem.fix


def _pdf_problem(path: Path) -> tuple[str, str] | None:
    export = "export it again as PDF from the program that made it"
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}", "make the file readable"
    if head.startswith(b"PK"):
        return (
            "is a zip (a Word document?), not a PDF",
            "name it .docx if it is a Word document, or export a PDF",
        )
    if b"%PDF-" not in head:
        return "is not a PDF (it does not start with %PDF-)", export
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        with path.open("rb") as handle:
            reader = PdfFileReader(handle, strict=False)
            if reader.encrypted:
                return (
                    "is password-protected: it cannot be sealed or shown to staff",
                    "save a copy without a password (or without encryption) and name that one",
                )
            reader.root  # noqa: B018 (reading the catalogue parses the document's structure)
    except (PdfError, ValueError, KeyError, IndexError, TypeError, OSError) as exc:
        return f"is a damaged PDF ({type(exc).__name__}: {exc})", export
    return None
