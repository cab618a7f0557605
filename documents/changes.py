"""What changed between two renders: each document, roles, and who holds them.

>>> summary = summarise_changes(previous_facts, current_facts)
>>> summary.lines()
['Version 2.0 -> 3.0', 'isms-lead: holder Ravi Chandran -> Sofia Alvarez',
 'Information Security Policy: 2 paragraph(s) added or changed, 1 removed or replaced',
 'Acceptable Use Policy: unchanged', 'Secure Development Policy: new document', ...]

Documents are matched by id (the file name's stem), so a static document that became a PDF is
still last year's document: a .docx is compared paragraph by paragraph, a static PDF by SHA-256.
"""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path

from docx import Document

from core.files import write_atomic
from core.hashing import sha256_file
from models.documents import (
    MANIFEST_NAME,
    ChangeSummary,
    DocumentChange,
    DocumentFact,
    HolderChange,
    RenderedDocument,
    RenderFacts,
    RenderManifest,
    RoleFact,
    TextChanges,
)
from models.profile import DocumentKind, OrganisationProfile
from models.staff import StaffDirectory


def document_paragraphs(path: Path) -> list[str]:
    """The non-empty text of a .docx in reading order: body paragraphs, then table cells row by row."""
    document = Document(str(path))
    texts = [paragraph.text.strip() for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            texts.append(" | ".join(cell for cell in cells if cell))
    return [text for text in texts if text]


def _person_label(staff: StaffDirectory, reference: str | None) -> str | None:
    if not reference:
        return None
    person = staff.find(reference)
    return f"{person.name} <{person.email}>" if person else reference


def _department(staff: StaffDirectory, reference: str | None) -> str | None:
    person = staff.find(reference) if reference else None
    return person.department if person else None


def render_facts(
    profile: OrganisationProfile, staff: StaffDirectory, documents: list[RenderedDocument]
) -> RenderFacts:
    """What next year's render compares with: roles, holders, and each document's text and hash."""
    return RenderFacts(
        organisation=profile.organisation.name,
        version=profile.policy.version,
        effective_date=profile.policy.effective_date,
        roles={
            role.id: RoleFact(
                title=role.title,
                holder=_person_label(staff, role.holder),
                deputy=_person_label(staff, role.deputy),
                holder_department=_department(staff, role.holder),
                deputy_department=_department(staff, role.deputy),
            )
            for role in profile.roles
        },
        paragraphs={
            document.name: document_paragraphs(document.path)
            for document in documents
            if document.path.suffix == ".docx"
        },
        documents={
            document.name: DocumentFact(
                title=document.title or document.id,
                kind=document.kind,
                version=document.version,
                sha256=document.sha256,
            )
            for document in documents
        },
    )


def _text_changes(previous: list[str], current: list[str]) -> TextChanges:
    changes = TextChanges()
    matcher = difflib.SequenceMatcher(a=previous, b=current, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            changes.removed += previous[a_start:a_end]
        if tag in ("replace", "insert"):
            changes.added += current[b_start:b_end]
    return changes


def summarise_changes(
    previous: RenderFacts, current: RenderFacts, *, roles_compared: bool = True
) -> ChangeSummary:
    """Compare two renders. Roles are matched by id; documents by file name."""
    summary = ChangeSummary(
        previous_version=previous.version or None,
        current_version=current.version,
        roles_compared=roles_compared,
    )
    if roles_compared:
        for role_id, role in current.roles.items():
            before = previous.roles.get(role_id)
            if before is None:
                summary.roles_added.append(role.title)
                continue
            if before.title != role.title:
                summary.roles_retitled.append((before.title, role.title))
            for field in ("holder", "deputy"):
                old, new = getattr(before, field), getattr(role, field)
                if old != new:
                    summary.holder_changes.append(
                        HolderChange(role=role.title, field=field, previous=old, current=new)
                    )
        summary.roles_removed = [
            role.title for role_id, role in previous.roles.items() if role_id not in current.roles
        ]
    summary.documents = _document_changes(previous, current, summary)
    return summary


def _names(facts: RenderFacts) -> list[str]:
    """Every document of a render, in order (a manifest from before documents: its paragraphs)."""
    return list(facts.documents) or list(facts.paragraphs)


def _fact(facts: RenderFacts, name: str) -> DocumentFact | None:
    return facts.documents.get(name)


def _title(facts: RenderFacts, name: str) -> str:
    fact = _fact(facts, name)
    return fact.title if fact else Path(name).stem


def _version(facts: RenderFacts, name: str) -> str | None:
    fact = _fact(facts, name)
    return fact.version if fact else (facts.version or None)


def _document_changes(
    previous: RenderFacts, current: RenderFacts, summary: ChangeSummary
) -> list[DocumentChange]:
    """Each document against last year's of the same id; fills ``summary.text`` for the .docx ones."""
    before = {Path(name).stem: name for name in _names(previous)}
    changes: list[DocumentChange] = []
    for name in _names(current):
        old = before.pop(Path(name).stem, None)
        versions = {"previous_version": _version(previous, old) if old else None}
        versions["current_version"] = _version(current, name)
        title = _title(current, name)
        if name in current.paragraphs:
            # a .docx: paragraph by paragraph, against nothing for a document new this year
            summary.text[name] = _text_changes(
                previous.paragraphs.get(old or name, []), current.paragraphs[name]
            )
        if old is None:
            change = "new"
        elif name in current.paragraphs and old in previous.paragraphs:
            change = "text"
        else:  # a static PDF, or a document that changed between .docx and PDF: by its bytes
            was, now = _fact(previous, old), _fact(current, name)
            same = was is not None and now is not None and was.sha256 == now.sha256
            change = "unchanged" if same else "replaced"
        changes.append(DocumentChange(name=name, title=title, change=change, **versions))
    for old in before.values():
        changes.append(
            DocumentChange(
                name=old,
                title=_title(previous, old),
                change="removed",
                previous_version=_version(previous, old),
            )
        )
    return changes


def load_previous(directory: Path) -> tuple[RenderFacts, bool]:
    """The facts of a previous render in ``directory``: from its manifest, else from its .docx files.

    The flag says whether roles and holders can be compared (only with a manifest).
    """
    manifest_path = directory / MANIFEST_NAME
    if manifest_path.is_file():
        return RenderManifest.model_validate_json(manifest_path.read_text()).facts, True
    documents = sorted(directory.glob("*.docx"))
    if not documents:
        raise FileNotFoundError(f"{directory} has neither {MANIFEST_NAME} nor any .docx to compare with")
    # a PDF with no .docx of its name is a static PDF: compared by its bytes
    pdfs = sorted(path for path in directory.glob("*.pdf") if not path.with_suffix(".docx").is_file())
    facts = RenderFacts(
        organisation="",
        version="",
        effective_date=date.min,
        roles={},
        paragraphs={path.name: document_paragraphs(path) for path in documents},
        documents={
            path.name: DocumentFact(
                title=path.stem,
                kind=DocumentKind.STATIC if path.suffix == ".pdf" else DocumentKind.GENERATED,
                version="",
                sha256=sha256_file(path),
            )
            for path in sorted([*documents, *pdfs])
        },
    )
    return facts, False


def build_manifest(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    documents: list[RenderedDocument],
    *,
    previous_dir: Path | None = None,
) -> RenderManifest:
    """The manifest of one render, with the change summary when a previous render is given."""
    facts = render_facts(profile, staff, documents)
    changes = None
    if previous_dir is not None:
        previous, roles_compared = load_previous(previous_dir)
        changes = summarise_changes(previous, facts, roles_compared=roles_compared)
    return RenderManifest(
        organisation=profile.organisation.name,
        version=profile.policy.version,
        documents=documents,
        facts=facts,
        changes=changes,
    )


def write_manifest(out_dir: Path, manifest: RenderManifest) -> Path:
    """Write ``render-manifest.json`` atomically."""
    return write_atomic(out_dir / MANIFEST_NAME, manifest.model_dump_json(indent=2).encode())
