"""Rendered documents, the facts a render records, and what changed since the previous version."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.findings import Finding
from models.profile import Audience, DocumentKind, Question
from models.routing import CycleRouting
from models.storage import StoredObject

MANIFEST_NAME = "render-manifest.json"


class RenderedDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    sha256: str
    template_sha256: str
    version: str
    date: date
    pdf_path: Path | None = None
    pdf_sha256: str | None = None
    # came with the profile's documents section; the defaults are what the two built-ins always were
    title: str = ""
    kind: DocumentKind = DocumentKind.GENERATED

    @property
    def id(self) -> str:
        return Path(self.name).stem


class RoleFact(BaseModel):
    title: str
    holder: str | None  # "Name <email>", or the profile's reference when the directory lacked them
    deputy: str | None
    # the holder's and deputy's department in the staff directory at the render (None: not found,
    # or a manifest written before departments were recorded); next year's check compares them
    holder_department: str | None = None
    deputy_department: str | None = None


class DocumentFact(BaseModel):
    """One document of a render, as next year's change summary needs it."""

    title: str
    kind: DocumentKind = DocumentKind.GENERATED
    version: str
    sha256: str  # of the rendered .docx, or of the static file


class RenderFacts(BaseModel):
    """What a render said, kept beside the documents so next year's render can be compared."""

    organisation: str
    version: str
    effective_date: date
    roles: dict[str, RoleFact]
    paragraphs: dict[str, list[str]]  # document name -> its text, paragraph by paragraph (.docx only)
    # document name -> title, kind, version, SHA-256 ({} in a manifest written before documents)
    documents: dict[str, DocumentFact] = Field(default_factory=dict)


class HolderChange(BaseModel):
    role: str
    field: str  # "holder" or "deputy"
    previous: str | None
    current: str | None


class TextChanges(BaseModel):
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


DocumentChangeKind = Literal["text", "unchanged", "replaced", "new", "removed"]


class DocumentChange(BaseModel):
    """How one document compares with last year's document of the same id.

    ``text``: compared paragraph by paragraph (see ``ChangeSummary.text``); ``unchanged`` and
    ``replaced``: a static PDF, compared by SHA-256; ``new``: no document of this id last year;
    ``removed``: last year's document is no longer in the cycle.
    """

    name: str  # this year's file name (last year's, for a removed document)
    title: str
    change: DocumentChangeKind
    previous_version: str | None = None
    current_version: str | None = None


class ChangeSummary(BaseModel):
    """What changed in the text, roles and holders against the previous version."""

    previous_version: str | None
    current_version: str
    roles_added: list[str] = Field(default_factory=list)
    roles_removed: list[str] = Field(default_factory=list)
    roles_retitled: list[tuple[str, str]] = Field(default_factory=list)
    holder_changes: list[HolderChange] = Field(default_factory=list)
    text: dict[str, TextChanges] = Field(default_factory=dict)  # document name -> its paragraphs
    roles_compared: bool = True  # False when the previous version had no render manifest
    # every document of either version, this year's in order, then the ones gone ([]: a summary
    # made before documents, whose lines name the documents in ``text`` by file name)
    documents: list[DocumentChange] = Field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as short sentences, for the signing page, emails and the CLI."""
        result = [f"Version {self.previous_version or '(unknown)'} -> {self.current_version}"]
        result += [f"New role: {title}" for title in self.roles_added]
        result += [f"Role removed: {title}" for title in self.roles_removed]
        result += [f"Role renamed: {old} -> {new}" for old, new in self.roles_retitled]
        result += [
            f"{change.role}: {change.field} {change.previous or 'none'} -> {change.current or 'none'}"
            for change in self.holder_changes
        ]
        if not self.roles_compared:
            result.append("Roles and holders not compared: the previous version has no render manifest")
        if not self.documents:
            result += [line for name, changes in self.text.items() if (line := _text_line(name, changes))]
        for document in self.documents:
            if document.change == "text":
                line = _text_line(document.title, self.text.get(document.name, TextChanges()))
                if line:
                    result.append(line)
            elif document.change == "unchanged":
                result.append(f"{document.title}: unchanged")
            elif document.change == "replaced":
                versions = f" ({document.previous_version} -> {document.current_version})"
                both = document.previous_version and document.current_version
                result.append(f"{document.title}: replaced{versions if both else ''}")
            elif document.change == "new":
                result.append(f"{document.title}: new document")
            else:
                result.append(f"{document.title}: no longer in the cycle")
        return result


def _text_line(label: str, changes: TextChanges) -> str | None:
    if not (changes.added or changes.removed):
        return None
    return (
        f"{label}: {len(changes.added)} paragraph(s) added or changed, "
        f"{len(changes.removed)} removed or replaced"
    )


class RenderManifest(BaseModel):
    """``render-manifest.json``: every document of one render, with hashes and changes."""

    organisation: str
    version: str
    documents: list[RenderedDocument]
    facts: RenderFacts
    changes: ChangeSummary | None = None


class CheckDocumentsInput(BaseModel):
    """The profile and staff directory as stored inputs; ``as_of`` is the day the check counts from."""

    profile: StoredObject
    staff: StoredObject
    as_of: date
    # the files the profile's documents section names (templates, static documents), by document
    # id, stored by content hash; empty for a profile on the built-in templates
    document_files: dict[str, StoredObject] = Field(default_factory=dict)


class CheckDocumentsResult(BaseModel):
    organisation: str
    version: str
    findings: list[Finding]
    blocking: bool
    routing: CycleRouting | None = None  # None when the profile names no resolvable signer or lead


class RenderDocumentsInput(BaseModel):
    """Render, convert and store drafts of every document of one cycle."""

    cycle_id: str
    profile: StoredObject
    staff: StoredObject
    as_of: date
    # the files the profile's documents section names (templates, static documents), by document
    # id, stored by content hash; empty for a profile on the built-in templates
    document_files: dict[str, StoredObject] = Field(default_factory=dict)
    # last year's render-manifest.json; None: the activity looks for the one archived with the
    # organisation's last version signed before the cycle's year (read from ``cycle_id``)
    previous_manifest: StoredObject | None = None
    signature_line: str = "Awaiting signature"


class DraftDocument(BaseModel):
    """One document of a render, as stored in the drafts bucket.

    ``name`` is its file name through the cycle (``<id>.docx``, or ``<id>.pdf`` for a static PDF);
    the fields after ``pdf`` came with the profile's documents section and default to what the
    two built-in documents always were.
    """

    name: str
    version: str
    template_sha256: str  # of the template, or of the static file
    docx: StoredObject | None  # None only for a static PDF
    pdf: StoredObject
    title: str = ""
    kind: DocumentKind = DocumentKind.GENERATED
    audience: Audience = Field(default_factory=Audience)
    signs: bool = True
    acknowledges: bool = True
    questions: list[Question] = Field(default_factory=list)  # asked before staff acknowledge it

    @property
    def id(self) -> str:
        return Path(self.name).stem

    @property
    def shown_sha256(self) -> str:
        """The SHA-256 the signer is shown and the signature line carries: the .docx, else the PDF."""
        return self.docx.sha256 if self.docx is not None else self.pdf.sha256


class RenderDocumentsResult(BaseModel):
    documents: list[DraftDocument]
    manifest: StoredObject
    change_lines: list[str] = Field(default_factory=list)
