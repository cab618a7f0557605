"""The archive: evidence kept under S3 Object Lock (COMPLIANCE) retention, and its manifest."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

from models.check_report import CheckReportRequest
from models.storage import StoredObject

MANIFEST_FORMAT: Final = "isms-cycle/archive-manifest/v1"
# a manifest that names its predecessor in its cycle's chain (``ArchiveManifest.chain``)
CHAINED_MANIFEST_FORMAT: Final = "isms-cycle/archive-manifest/v2"
SEAL_CERTIFICATE_FILE: Final = "seal-certificate.pem"  # beside each signed version's PDFs
# <org>/seal-certificate.json: the organisation's seal certificate as first archived, written once
# under retention; every later year's seal certificates must have its fingerprint
SEAL_PIN_FILE: Final = "seal-certificate.json"
SEAL_PIN_FORMAT: Final = "isms-cycle/seal-certificate-pin/v1"
# beside each document's signed files: the draft the signer was shown (.docx, or .pdf for a static PDF)
SHOWN_DRAFT_STEM: Final = "draft-shown"
# the public policy statement: public-statement/v<version>/statement.html (or statement.pdf, the
# organisation's own), in the signed version's manifest; the web app serves the newest signed one
# at PUBLIC_STATEMENT_PATH (no token)
PUBLIC_STATEMENT_FOLDER: Final = "public-statement"
PUBLIC_STATEMENT_STEM: Final = "statement"
PUBLIC_STATEMENT_PATH: Final = "/statement"


def manifest_name(stage: str) -> str:
    """A stage's manifest below ``<org>/<year>/``: ``manifests/<stage>.json``."""
    return f"manifests/{stage}.json"


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
    # the draft the signer was shown, archived beside them as ``shown_file`` (draft-shown.docx, or
    # draft-shown.pdf for a static PDF); its SHA-256 is the one stamped into the signed document.
    # None in manifests written before the shown draft was archived
    shown_file: str | None = None
    shown_sha256: str | None = None


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
    # role acceptance (the acknowledgements' manifest): named role holders and deputies asked, accepted
    roles_in_scope: int | None = None
    roles_accepted: int | None = None
    # the public policy statement (the signed version's manifest): where it is published, its SHA-256
    public_statement_url: str | None = None
    public_statement_sha256: str | None = None


class PublicStatementRequest(BaseModel):
    """Write the signed version's public policy statement among the archived objects.

    The archive activity builds it (or takes the organisation's PDF) and records the URL it is
    published at (the worker's public base URL + PUBLIC_STATEMENT_PATH) and its hash in the facts.
    """

    profile: StoredObject  # the signed version's profile
    file: StoredObject | None = None  # the organisation's own PDF; None: generated from the profile
    version: str
    signed_at: datetime
    signer: str  # "Eleanor Marsh, Chief Executive Officer"
    policy_sha256: str  # the signed policy's sealed PDF, named on the statement


class ChainRequest(BaseModel):
    """Where a manifest goes in its cycle's chain (the workflow knows; the activity writes it)."""

    previous: ArchivedObject | None = None  # the cycle's last archived manifest; None: this is its first
    position: int = Field(0, ge=0)  # 0 for the first manifest of the cycle
    next_stage: str | None = None  # the stage whose manifest follows; None: this one closes the chain


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
    # None: an unchained manifest, as written before manifests were chained (an activity task
    # scheduled by older workflow code)
    chain: ChainRequest | None = None
    # write the Clause 5 check report of the version (clause5-check/v<version>/report.{json,html})
    # among the objects; None: none (the acknowledgements' archiving, older workflow code)
    check_report: CheckReportRequest | None = None
    # write the public policy statement (public-statement/v<version>/); None: none
    public_statement: PublicStatementRequest | None = None


class ManifestLink(BaseModel):
    """One archived manifest version, as its successor names it."""

    key: str
    version_id: str
    sha256: str  # of the manifest's bytes as archived


class ManifestChain(BaseModel):
    """A manifest's place in its cycle's chain: the set of a cycle's manifests is closed.

    The first manifest of a cycle has ``previous`` None and names the cycle; each later one names
    its predecessor's key, version id and SHA-256; each names the key its successor will have
    (``next_key``), or None when it closes the chain. Any other manifest is not evidence.
    """

    cycle_id: str
    position: int
    previous: ManifestLink | None
    next_key: str | None


class ArchiveManifest(BaseModel):
    format: str = MANIFEST_FORMAT
    cycle_id: str
    organisation: str
    year: int
    stage: str
    facts: ManifestFacts = Field(default_factory=ManifestFacts)
    objects: list[ArchivedObject]
    chain: ManifestChain | None = None  # None: written before manifests were chained
    # the fingerprint (SHA-256 of the DER certificate) of the seal certificate archived with it
    seal_certificate_sha256: str | None = None


class SealPin(BaseModel):
    """``<org>/seal-certificate.json``: the seal certificate first archived for the organisation."""

    format: str = SEAL_PIN_FORMAT
    organisation: str
    certificate_sha256: str  # SHA-256 of the DER certificate: its fingerprint
    certificate_pem: str
    pinned_at: datetime
    cycle_id: str  # the cycle whose archiving pinned it


class ArchiveResult(BaseModel):
    manifest: ArchivedObject
    objects: list[ArchivedObject]
    legal_hold: bool = False  # the cycle was under legal hold, so these versions were held too
