"""The auditor's view of the archive: cycles, verification results, access grants, the pack index."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.archive import ArchivedDocumentFacts, ArchivedObject, ManifestFacts


class Verdict(StrEnum):
    PASS = "PASS"  # noqa: S105 (a verdict, not a password)
    WARN = "WARN"  # the evidence is intact, but something needs the auditor's attention
    FAIL = "FAIL"


class ObjectCheck(BaseModel):
    """The result for one archived object (or one thing found beside the archived ones)."""

    key: str
    version_id: str = ""
    verdict: Verdict
    passed: list[str] = Field(default_factory=list)  # what was checked and held
    problems: list[str] = Field(default_factory=list)  # what failed, or what to notice (WARN)


class VerifyReport(BaseModel):
    organisation: str
    year: int
    checked_at: datetime
    source: str  # "s3://bucket/org/year/" or the local copy checked
    manifests: list[str] = Field(default_factory=list)
    objects: list[ObjectCheck] = Field(default_factory=list)
    # one per document of each signed version whose manifest lists its documents: key is the
    # document's folder ("acceptable-use-policy/v3.0/"), checked for every file it must have
    documents: list[ObjectCheck] = Field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        checks = [*self.objects, *self.documents]
        if not self.objects or any(o.verdict is Verdict.FAIL for o in checks):
            return Verdict.FAIL
        return Verdict.PASS

    def count(self, verdict: Verdict) -> int:
        return sum(1 for o in self.objects if o.verdict is verdict)


class ArchivedVersion(BaseModel):
    """One document version in the archive and its files."""

    document: str
    version: str
    files: list[ArchivedObject]
    # what the manifest says of the document (title, its own version, kind...); None in
    # manifests written before they listed their documents
    facts: ArchivedDocumentFacts | None = None


class ArchivedCycle(BaseModel):
    organisation: str
    year: int
    cycle_id: str
    facts: ManifestFacts  # the signed stage's facts, with the acknowledgement figures added
    versions: list[ArchivedVersion] = Field(default_factory=list)
    acknowledgements: list[ArchivedObject] = Field(default_factory=list)
    other: list[ArchivedObject] = Field(default_factory=list)  # anything else a manifest lists
    manifests: list[ArchivedObject] = Field(default_factory=list)
    retain_until: datetime | None = None  # the earliest retain-until of its objects

    def objects(self) -> list[ArchivedObject]:
        found = [f for v in self.versions for f in v.files] + self.acknowledgements + self.other
        return found + self.manifests


class AuditGrant(BaseModel):
    """Read-only access to one organisation's archive, for one auditor, until it expires."""

    grant_id: str  # the link's nonce: names the grant without being the token
    email: str
    organisation: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class PackEntry(BaseModel):
    path: str  # inside the zip
    sha256: str
    size: int
    evidence: str  # the Clause 5 evidence item it proves
    version_id: str = ""


class PackDocument(BaseModel):
    """One archived document version in the pack's index: what it is and which file is its PDF."""

    id: str
    title: str = ""
    version: str
    sha256: str  # of the sealed PDF (``path``)
    path: str  # the PDF inside the zip, e.g. acceptable-use-policy/v3.0/document.pdf
    kind: str = "generated"
    signed: bool = True  # under the CEO's signature
    acknowledges: bool = True
    audience: str = ""


class PackIndex(BaseModel):
    organisation: str
    year: int
    built_at: datetime
    entries: list[PackEntry]
    documents: list[PackDocument] = Field(default_factory=list)  # every document version in the pack
    # SHA-256 naming the archive state it was built from: the head of each cycle's chain of manifests
    chain_state: str = ""
