"""The archive: evidence kept under S3 Object Lock (COMPLIANCE) retention, and its manifest."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.storage import StoredObject


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


class ArchiveInput(BaseModel):
    cycle_id: str
    organisation: str  # the short name: the first part of every key
    year: int
    stage: str  # "signed-v3.0" or "acknowledgements": names the manifest of this archiving
    items: list[ArchiveItem] = Field(min_length=1)
    retention_years: int = Field(ge=3, le=100)


class ArchiveManifest(BaseModel):
    cycle_id: str
    organisation: str
    year: int
    stage: str
    objects: list[ArchivedObject]


class ArchiveResult(BaseModel):
    manifest: ArchivedObject
    objects: list[ArchivedObject]
