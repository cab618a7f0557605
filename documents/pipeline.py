"""The documents of one cycle, and the one pipeline that makes them: render, convert, manifest.

Both doors use it: ``isms docs render`` writes into a folder the user names, the render
activity into a temporary folder it then stores in the drafts bucket::

    sources = resolve_sources(profile, Path("profile.yaml").parent).files   # the profile's own files
    made = render_cycle(profile, staff, Path("out"), sources=sources, converter=converter,
                        previous_dir=Path("last-year"))
    made.documents              # each .docx (and its PDF), with SHA-256s
    made.manifest.changes       # what changed since last year's render, or None
    made.manifest_path          # out/render-manifest.json

The cycle's documents are the profile's (:meth:`OrganisationProfile.cycle_documents`): a
*generated* one is rendered from its template (the organisation's own, named in ``sources``
by document id, or the built-in one), a *static* one is copied unchanged (a .docx is converted
to PDF like a generated one; a .pdf is its own PDF). A profile without a documents section has
the two built-in documents, with exactly the names and bytes it always had, and (while role
acceptance and its appointment letter are on, as by default) the ISMS lead's appointment letter.

Each document is rendered exactly once per call; ``render_document`` renders a single one (the
signing activity stamps each document with a signature line of its own).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

import jinja2
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree  # type: ignore[import-untyped]
from pydantic import BaseModel

from core.files import write_atomic
from core.hashing import sha256_bytes, sha256_file
from documents.changes import build_manifest, write_manifest
from documents.context import (
    AWAITING_SIGNATURE,
    ROLES_TITLE,
    build_appointment_context,
    build_policy_context,
    build_roles_context,
)
from documents.raci import raci_subdoc
from documents.render import TEMPLATES, SubdocBuilder, render_docx
from documents.sources import pin_problem
from models.documents import RenderedDocument, RenderManifest
from models.profile import (
    APPOINTMENT_LETTER,
    APPOINTMENT_LETTER_TITLE,
    POLICY_DOCUMENT,
    ROLES_DOCUMENT,
    DocumentEntry,
    DocumentKind,
    OrganisationProfile,
)
from models.staff import StaffDirectory

POLICY_TEMPLATE = TEMPLATES / "information_security_policy.docx"
ROLES_TEMPLATE = TEMPLATES / "isms_roles_responsibilities.docx"
LETTER_TEMPLATE = TEMPLATES / "isms_lead_appointment.docx"
POLICY_OUTPUT = f"{POLICY_DOCUMENT}.docx"
ROLES_OUTPUT = f"{ROLES_DOCUMENT}.docx"
LETTER_OUTPUT = f"{APPOINTMENT_LETTER}.docx"
BUILTIN_TEMPLATES: dict[str, Path] = {
    POLICY_DOCUMENT: POLICY_TEMPLATE,
    ROLES_DOCUMENT: ROLES_TEMPLATE,
    APPOINTMENT_LETTER: LETTER_TEMPLATE,
}
DOCUMENT_NAMES: tuple[str, ...] = (POLICY_OUTPUT, ROLES_OUTPUT, LETTER_OUTPUT)
"""The names of a profile without a documents section, role acceptance on as by default (see
:func:`document_names` for any profile)."""

STATIC_VERSION_DIGITS = 12  # a static document without ``version:`` is versioned by its SHA-256's start


class DocumentError(ValueError):
    """One document of the cycle cannot be made; the message names it and the fix."""

    def __init__(self, document_id: str, message: str) -> None:
        super().__init__(message)
        self.document_id = document_id


class DocumentSourceError(DocumentError):
    """A document's own file is not there, is not the file the profile pins, or is not readable."""


class DocumentRenderError(DocumentError):
    """A generated document's template does not render (syntax, unknown placeholder, sandbox)."""


@dataclass(frozen=True)
class CycleDocument:
    """One document of the cycle: its profile entry, title and the file it is made from."""

    entry: DocumentEntry
    title: str
    source: Path  # the template to render (generated), or the file to carry (static)
    builtin_template: bool  # ``source`` is one of the built-in templates

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def kind(self) -> DocumentKind:
        return self.entry.kind

    @property
    def static_pdf(self) -> bool:
        """A static PDF: it is its own PDF, with no .docx."""
        return self.kind is DocumentKind.STATIC and self.name.endswith(".pdf")


def _title(profile: OrganisationProfile, entry: DocumentEntry) -> str:
    if entry.title is not None:
        return entry.title
    if entry.id == POLICY_DOCUMENT:
        return profile.policy.title
    if entry.id == ROLES_DOCUMENT:
        return ROLES_TITLE
    if entry.id == APPOINTMENT_LETTER:
        return APPOINTMENT_LETTER_TITLE
    return entry.id  # unreachable: the profile requires a title for any other document


def cycle_documents(
    profile: OrganisationProfile, sources: Mapping[str, Path] | None = None
) -> list[CycleDocument]:
    """Every document of the cycle, in the profile's order, each with the file it is made from.

    ``sources`` maps a document id to its own file (template or static); raises
    :class:`DocumentSourceError` for a document whose profile entry names a file that
    ``sources`` lacks.
    """
    given = sources or {}
    documents = []
    for entry in profile.cycle_documents():
        source = given.get(entry.id)
        if entry.source is not None and source is None:
            raise DocumentSourceError(
                entry.id,
                f"{entry.id}: the profile names {entry.source!r}, which was not given; put the file "
                "there (paths are relative to the profile file) or correct the path",
            )
        builtin = entry.source is None
        if builtin:
            source = BUILTIN_TEMPLATES[entry.id]
        assert source is not None
        documents.append(
            CycleDocument(entry=entry, title=_title(profile, entry), source=source, builtin_template=builtin)
        )
    return documents


def cycle_document(
    name: str, profile: OrganisationProfile, sources: Mapping[str, Path] | None = None
) -> CycleDocument:
    """The document called ``name`` (its file name through the cycle); ``KeyError`` for an unknown one."""
    documents = cycle_documents(profile, sources)
    for document in documents:
        if document.name == name:
            return document
    names = ", ".join(document.name for document in documents)
    raise KeyError(f"no document {name!r}; the cycle's documents are {names}")


def document_names(profile: OrganisationProfile) -> list[str]:
    """Every document's file name through the cycle, in order."""
    return [entry.name for entry in profile.cycle_documents()]


def document_titles(profile: OrganisationProfile) -> dict[str, str]:
    """Each document's title as a reader sees it, by file name."""
    return {entry.name: _title(profile, entry) for entry in profile.cycle_documents()}


def document_version(profile: OrganisationProfile, entry: DocumentEntry, sha256: str) -> str:
    """The entry's own version, else the policy's (generated) or the file's SHA-256 start (static)."""
    if entry.version is not None:
        return entry.version
    if entry.kind is DocumentKind.GENERATED:
        return profile.policy.version
    return sha256[:STATIC_VERSION_DIGITS]


def _context(
    document: CycleDocument,
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    version: str,
    signature_line: str,
    approval_date: date | None,
) -> tuple[BaseModel, dict[str, SubdocBuilder]]:
    """The roles document gets the roles context and the RACI table, the ISMS lead's appointment
    letter its own context; any other the policy context."""
    if document.id == ROLES_DOCUMENT:
        context: BaseModel = build_roles_context(
            profile, staff, signature_line=signature_line, approval_date=approval_date
        )
        subdocs = {"raci_table": raci_subdoc(profile)}
    elif document.id == APPOINTMENT_LETTER:
        context = build_appointment_context(
            profile, staff, signature_line=signature_line, approval_date=approval_date
        )
        subdocs = {}
    else:
        context = build_policy_context(
            profile, staff, signature_line=signature_line, approval_date=approval_date
        )
        subdocs = {}
    # the same values as the built-ins always had, unless the entry names its own title or version
    return context.model_copy(update={"document_title": document.title, "version": version}), subdocs


_UNREADABLE_DOCX = (zipfile.BadZipFile, KeyError, PackageNotFoundError, etree.XMLSyntaxError)


def _render_generated(
    document: CycleDocument,
    profile: OrganisationProfile,
    staff: StaffDirectory,
    target: Path,
    *,
    version: str,
    signature_line: str,
    approval_date: date | None,
) -> Path:
    context, subdocs = _context(
        document, profile, staff, version=version, signature_line=signature_line, approval_date=approval_date
    )
    where = "the built-in template" if document.builtin_template else f"the template {document.entry.source}"
    try:
        return render_docx(document.source, context, target, subdocs=subdocs)
    except _UNREADABLE_DOCX as exc:
        raise DocumentSourceError(
            document.id, f"{document.id}: {where} is not a readable .docx ({exc}); save it again from Word"
        ) from exc
    except jinja2.TemplateError as exc:
        raise _does_not_render(document, where, (exc.message or type(exc).__name__)) from exc
    except (TypeError, ValueError, AttributeError, LookupError, ArithmeticError) as exc:
        if document.builtin_template:
            raise  # the built-in templates are tested against their contexts: a bug, not input
        # an expression of the organisation's template failed on the values (``{{ roles + 1 }}``)
        raise _does_not_render(document, where, f"{type(exc).__name__}: {exc}") from exc


def _does_not_render(document: CycleDocument, where: str, detail: str) -> DocumentRenderError:
    check = f"`isms templates check {document.entry.source or document.source}`"
    return DocumentRenderError(
        document.id,
        f"{document.id}: {where} does not render: {detail.rstrip('.')}; run {check} for the paragraph "
        "and the fix",
    )


def _looks_like(suffix: str, data: bytes) -> bool:
    if suffix == ".pdf":
        return data.lstrip()[:5] == b"%PDF-"
    return data[:4] == b"PK\x03\x04"  # a .docx is a zip


def _copy_static(document: CycleDocument, target: Path) -> tuple[Path, str]:
    """Copy a static document unchanged; refuse one that is not what its name or pin says."""
    try:
        data = document.source.read_bytes()
    except OSError as exc:
        raise DocumentSourceError(
            document.id, f"{document.id}: {document.entry.source} cannot be read ({exc.strerror})"
        ) from exc
    digest = sha256_bytes(data)
    pinned = pin_problem(document.entry, digest)
    if pinned is not None:
        raise DocumentSourceError(document.id, "; ".join(pinned))
    suffix = target.suffix
    if not _looks_like(suffix, data):
        raise DocumentSourceError(
            document.id,
            f"{document.id}: {document.entry.source} is not a {suffix} file; export it again as {suffix}",
        )
    return write_atomic(target, data), digest


def _make(
    document: CycleDocument,
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    signature_line: str,
    approval_date: date | None,
) -> RenderedDocument:
    target = out_dir / document.name
    if document.kind is DocumentKind.STATIC:
        path, digest = _copy_static(document, target)
        pdf = {"pdf_path": path, "pdf_sha256": digest} if document.static_pdf else {}
        return RenderedDocument(
            name=document.name,
            path=path,
            sha256=digest,
            template_sha256=digest,
            version=document_version(profile, document.entry, digest),
            date=profile.policy.effective_date,
            title=document.title,
            kind=document.kind,
            **pdf,
        )
    version = document_version(profile, document.entry, "")
    path = _render_generated(
        document,
        profile,
        staff,
        target,
        version=version,
        signature_line=signature_line,
        approval_date=approval_date,
    )
    return RenderedDocument(
        name=document.name,
        path=path,
        sha256=sha256_file(path),
        template_sha256=sha256_file(document.source),
        version=version,
        date=profile.policy.effective_date,
        title=document.title,
        kind=document.kind,
    )


def render_document(
    name: str,
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    sources: Mapping[str, Path] | None = None,
    signature_line: str = AWAITING_SIGNATURE,
    approval_date: date | None = None,
) -> RenderedDocument:
    """Make the one document called ``name`` into ``out_dir/name`` (a static one is copied).

    Raises :class:`DocumentError` (naming the document) for a file that is missing, unreadable
    or not the pinned one, and for a template that does not render.
    """
    document = cycle_document(name, profile, sources)
    return _make(
        document, profile, staff, out_dir, signature_line=signature_line, approval_date=approval_date
    )


def render_documents(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    sources: Mapping[str, Path] | None = None,
    signature_line: str = AWAITING_SIGNATURE,
    approval_date: date | None = None,
) -> list[RenderedDocument]:
    """Make every document of the cycle into ``out_dir``, each once; see :func:`render_document`."""
    return [
        _make(document, profile, staff, out_dir, signature_line=signature_line, approval_date=approval_date)
        for document in cycle_documents(profile, sources)
    ]


class Converter(Protocol):
    """Anything that turns a .docx into a PDF (``PdfConverter``, ``PdfConverterPool``)."""

    def convert(self, source: Path, target: Path) -> Path: ...


Step = Literal["rendered", "converting", "converted"]
Progress = Callable[[Step, str], None]
"""Told each step as it happens, with the document's name: each document is rendered (or, if
static, copied), then each one that needs a PDF converted."""


@dataclass(frozen=True)
class CycleRender:
    """What :func:`render_cycle` made."""

    documents: list[RenderedDocument]  # with ``pdf_path`` and ``pdf_sha256`` when converted
    manifest: RenderManifest
    manifest_path: Path


def _named(document: RenderedDocument) -> RenderedDocument:
    return document.model_copy(
        update={
            "path": Path(document.path.name),
            "pdf_path": Path(document.pdf_path.name) if document.pdf_path else None,
        }
    )


def render_cycle(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    sources: Mapping[str, Path] | None = None,
    signature_line: str = AWAITING_SIGNATURE,
    converter: Converter | None = None,
    previous_dir: Path | None = None,
    names_in_manifest: bool = False,
    progress: Progress | None = None,
) -> CycleRender:
    """Make every document into ``out_dir``, convert each .docx to PDF beside it, write the manifest.

    ``sources``: each document's own file by id (:func:`documents.sources.resolve_sources`).
    Without ``converter`` no PDF is made (a static PDF is its own). ``previous_dir`` holds the
    previous version (its ``render-manifest.json``, or its .docx files): the manifest then
    carries the change summary. With ``names_in_manifest`` the manifest records file names
    rather than paths (for a manifest stored beside the documents, away from this folder).
    Raises :class:`DocumentError` for a document that cannot be made; conversion errors
    propagate as the converter raises them. Blocking: call it from a thread.
    """
    report = progress or (lambda step, name: None)
    documents: list[RenderedDocument] = []
    for entry in cycle_documents(profile, sources):
        documents.append(
            _make(entry, profile, staff, out_dir, signature_line=signature_line, approval_date=None)
        )
        report("rendered", entry.name)
    if converter is not None:
        converted = []
        for document in documents:
            if document.pdf_path is not None:  # a static PDF
                converted.append(document)
                continue
            report("converting", document.name)
            target = converter.convert(document.path, document.path.with_suffix(".pdf"))
            converted.append(
                document.model_copy(update={"pdf_path": target, "pdf_sha256": sha256_file(target)})
            )
            report("converted", document.name)
        documents = converted
    manifest = build_manifest(profile, staff, documents, previous_dir=previous_dir)
    if names_in_manifest:
        manifest = manifest.model_copy(update={"documents": [_named(d) for d in manifest.documents]})
    return CycleRender(
        documents=documents, manifest=manifest, manifest_path=write_manifest(out_dir, manifest)
    )
