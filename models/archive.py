"""The archive: evidence kept under S3 Object Lock (COMPLIANCE) retention, and its manifest."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

from models.storage import StoredObject

MANIFEST_FORMAT: Final = "isms-cycle/archive-manifest/v1"
SEAL_CERTIFICATE_FILE: Final = "seal-certificate.pem"  # beside each signed version's PDFs


class ArchivedObject(BaseModel):
    """One object version in the archive bucket: what the manifest lists and verify checks."""

    key: str
    version_id: str
    sha256: str
    size: int
    content_type: str
    retain_until: datetime  # UTC; COMPLIANCE mode: no one can delete it or shorten this before then


class ArchiveItem(BaseModel):
    source: StoredObject  # in the drafts bucket
    name: str  # relative key under <org>/<year>/, e.g. "information-security-policy/v3.0/document.pdf"


class ArchivedDocumentFacts(BaseModel):
    """One document of a signed version, as the manifest records it (verify and pack read it)."""

    id: str  # the document id: its folder, e.g. acceptable-use-policy
    title: str = ""
    version: str = ""
    kind: str = "generated"  # generated, or static (a finished .docx or .pdf)
    signed: bool = True  # False: carried to staff, not under the CEO's signature (signs: false)
    acknowledges: bool = True  # staff in its audience acknowledge it
    audience: str = ""  # who acknowledges it, in a few words ("everyone in scope", "Engineering")
    pdf_sha256: str = ""  # the sealed PDF, as archived under <id>/v<version>/document.pdf
    docx_sha256: str | None = None  # the signed .docx; None for a static PDF (no Word file)


class ManifestFacts(BaseModel):
    """What an auditor's listing shows without opening a document."""

    version: str = ""  # the signed document version
    documents: list[str] = Field(default_factory=list)  # document folders, e.g. information-security-policy
    # each document of the signed version (empty in manifests written before documents had titles)
    document_facts: list[ArchivedDocumentFacts] = Field(default_factory=list)
    signer: str = ""  # "Name, Title <email>"
    signed_at: datetime | None = None
    reason: str = ""  # "annual review 2026" or the reason of an ad-hoc review
    in_scope: int | None = None  # acknowledgements: people asked
    acknowledged: int | None = None
    rate_text: str = ""  # "97.5%", rounded down as in the report


class ArchiveInput(BaseModel):
    cycle_id: str
    organisation: str  # the short name: the first part of every key
    year: int
    stage: str  # "signed-v3.0" or "acknowledgements": names the manifest of this archiving
    items: list[ArchiveItem] = Field(min_length=1)
    retention_years: int | None = Field(None, ge=3, le=100)  # None: the worker's configured years
    facts: ManifestFacts = Field(default_factory=ManifestFacts)
    # archive the worker's seal certificate (public) in each of these folders, so the PDFs'
    # seals can be checked years later without the worker: e.g. "information-security-policy/v3.0"
    seal_certificate_in: list[str] = Field(default_factory=list)


class ArchiveManifest(BaseModel):
    format: str = MANIFEST_FORMAT
    cycle_id: str
    organisation: str
    year: int
    stage: str
    facts: ManifestFacts = Field(default_factory=ManifestFacts)
    objects: list[ArchivedObject]


class ArchiveResult(BaseModel):
    manifest: ArchivedObject
    objects: list[ArchivedObject]
    legal_hold: bool = False  # the cycle was under legal hold, so these versions were held too
