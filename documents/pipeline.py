"""The documents of one cycle, and the one pipeline that makes them: render, convert, manifest.

Both doors use it: ``isms docs render`` writes into a folder the user names, the render
activity into a temporary folder it then stores in the drafts bucket::

    made = render_cycle(profile, staff, Path("out"), converter=converter, previous_dir=Path("last-year"))
    made.documents              # each .docx (and its PDF), with SHA-256s
    made.manifest.changes       # what changed since last year's render, or None
    made.manifest_path          # out/render-manifest.json

Each document is rendered exactly once per call; ``render_document`` renders a single one (the
signing activity stamps each document with a signature line of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from core.hashing import sha256_file
from documents.changes import build_manifest, write_manifest
from documents.context import (
    AWAITING_SIGNATURE,
    ROLES_TITLE,
    build_policy_context,
    build_roles_context,
)
from documents.raci import raci_subdoc
from documents.render import TEMPLATES, SubdocBuilder, render_docx
from models.documents import RenderedDocument, RenderManifest
from models.profile import OrganisationProfile
from models.staff import StaffDirectory

POLICY_TEMPLATE = TEMPLATES / "information_security_policy.docx"
ROLES_TEMPLATE = TEMPLATES / "isms_roles_responsibilities.docx"
POLICY_OUTPUT = "information-security-policy.docx"
ROLES_OUTPUT = "isms-roles-responsibilities.docx"


class ContextBuilder(Protocol):
    def __call__(
        self,
        profile: OrganisationProfile,
        staff: StaffDirectory,
        *,
        signature_line: str = ...,
        approval_date: date | None = ...,
    ) -> BaseModel: ...


@dataclass(frozen=True)
class CycleDocument:
    """One document of the cycle: its file name, template, context and subdocuments."""

    name: str
    template: Path
    build_context: ContextBuilder
    subdocs: Callable[[OrganisationProfile], dict[str, SubdocBuilder]]
    title: Callable[[OrganisationProfile], str]


CYCLE_DOCUMENTS: tuple[CycleDocument, ...] = (
    CycleDocument(
        name=POLICY_OUTPUT,
        template=POLICY_TEMPLATE,
        build_context=build_policy_context,
        subdocs=lambda profile: {},
        title=lambda profile: profile.policy.title,
    ),
    CycleDocument(
        name=ROLES_OUTPUT,
        template=ROLES_TEMPLATE,
        build_context=build_roles_context,
        subdocs=lambda profile: {"raci_table": raci_subdoc(profile)},
        title=lambda profile: ROLES_TITLE,
    ),
)
DOCUMENT_NAMES: tuple[str, ...] = tuple(document.name for document in CYCLE_DOCUMENTS)


def cycle_document(name: str) -> CycleDocument:
    """The document called ``name`` (its output file name); ``KeyError`` for an unknown one."""
    for document in CYCLE_DOCUMENTS:
        if document.name == name:
            return document
    raise KeyError(f"no document {name!r}; the cycle's documents are {', '.join(DOCUMENT_NAMES)}")


def document_titles(profile: OrganisationProfile) -> dict[str, str]:
    """Each document's title as a reader sees it, by file name."""
    return {document.name: document.title(profile) for document in CYCLE_DOCUMENTS}


def render_document(
    name: str,
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    signature_line: str = AWAITING_SIGNATURE,
    approval_date: date | None = None,
) -> RenderedDocument:
    """Render the one document called ``name`` into ``out_dir/name``."""
    document = cycle_document(name)
    context = document.build_context(
        profile, staff, signature_line=signature_line, approval_date=approval_date
    )
    path = render_docx(document.template, context, out_dir / name, subdocs=document.subdocs(profile))
    return RenderedDocument(
        name=name,
        path=path,
        sha256=sha256_file(path),
        template_sha256=sha256_file(document.template),
        version=profile.policy.version,
        date=profile.policy.effective_date,
    )


def render_documents(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    signature_line: str = AWAITING_SIGNATURE,
    approval_date: date | None = None,
) -> list[RenderedDocument]:
    """Render every document of the cycle into ``out_dir``, each once."""
    return [
        render_document(
            name, profile, staff, out_dir, signature_line=signature_line, approval_date=approval_date
        )
        for name in DOCUMENT_NAMES
    ]


class Converter(Protocol):
    """Anything that turns a .docx into a PDF (``PdfConverter``, ``PdfConverterPool``)."""

    def convert(self, source: Path, target: Path) -> Path: ...


Step = Literal["rendered", "converting", "converted"]
Progress = Callable[[Step, str], None]
"""Told each step as it happens, with the document's name ("" for "rendered", which covers all)."""


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
    signature_line: str = AWAITING_SIGNATURE,
    converter: Converter | None = None,
    previous_dir: Path | None = None,
    names_in_manifest: bool = False,
    progress: Progress | None = None,
) -> CycleRender:
    """Render every document into ``out_dir``, convert each to PDF beside it, write the manifest.

    Without ``converter`` no PDF is made. ``previous_dir`` holds the previous version (its
    ``render-manifest.json``, or its .docx files): the manifest then carries the change summary.
    With ``names_in_manifest`` the manifest records file names rather than paths (for a manifest
    stored beside the documents, away from this folder). Conversion errors propagate as the
    converter raises them. Blocking: call it from a thread.
    """
    report = progress or (lambda step, name: None)
    documents = render_documents(profile, staff, out_dir, signature_line=signature_line)
    report("rendered", "")
    if converter is not None:
        converted = []
        for document in documents:
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
