"""The CEO's signature and its evidence: who, intent, when, where and what."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, Field, computed_field

from models.profile import DocumentKind
from models.storage import StoredObject

EVIDENCE_NAME = "evidence.json"
EVIDENCE_FORMAT: Final = "isms-cycle/signing-evidence/v1"


class AuditEvent(BaseModel):
    """One line of the audit trail: created, sent, opened (documents loaded), reminded, signed..."""

    at: datetime  # UTC
    event: str
    actor: str  # an email address, or "isms-cycle"
    detail: str = ""
    ip: str | None = None
    user_agent: str | None = None


class Signer(BaseModel):
    name: str  # as typed by the signer
    title: str
    email: str


class SignDocumentsInput(BaseModel):
    """Stamp, convert, seal and certify one approved version."""

    cycle_id: str
    version: str
    profile: StoredObject
    staff: StoredObject
    signer: Signer
    signed_at: datetime  # server time, UTC
    consent_text: str
    ip: str | None
    user_agent: str | None
    shown_documents: dict[str, str]  # document name -> SHA-256 of the draft the signer was shown
    audit_trail: list[AuditEvent] = Field(default_factory=list)
    # the files the profile's documents section names (templates, static documents), by document
    # id, stored by content hash; empty for a profile on the built-in templates
    document_files: dict[str, StoredObject] = Field(default_factory=dict)


class SignedDocument(BaseModel):
    name: str
    draft_sha256: str  # the version shown to the signer
    docx: StoredObject | None  # with the signature block stamped in (as is, if static); None: a static PDF
    pdf: StoredObject  # PAdES-sealed
    # came with the profile's documents section; the defaults are what the two built-ins always were
    title: str = ""
    version: str = ""
    kind: DocumentKind = DocumentKind.GENERATED
    signed: bool = True  # False: sealed by the organisation, not signed by the signer (``signs: false``)

    @property
    def id(self) -> str:
        return Path(self.name).stem


class SignDocumentsResult(BaseModel):
    documents: list[SignedDocument]
    certificate: StoredObject  # certificate of completion (sealed PDF)
    evidence: StoredObject  # evidence.json


class SignatureCheck(BaseModel):
    """What verifying a sealed PDF found."""

    valid: bool  # cryptographically valid and the certificate chains to a trusted root
    intact: bool  # the signed bytes were not modified
    signer_subject: str
    signing_time: datetime | None
    detail: str


class StampedDocument(BaseModel):
    """One signed document in ``evidence.json``: what the signer saw, and what was made of it."""

    name: str
    title: str
    draft_sha256: str  # what the signer was shown
    signature_line: str
    docx: StoredObject | None  # None for a static PDF
    pdf: StoredObject
    version: str = ""
    kind: DocumentKind = DocumentKind.GENERATED
    signed: bool = True  # False: carried to staff, not under the CEO's signature (``signs: false``)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """The document's id (its name's stem), written into ``evidence.json`` beside the name."""
        return Path(self.name).stem


class SealRecord(BaseModel):
    """The sealing identity as it was when the documents were sealed."""

    subject: str
    certificate_sha256: str
    certificate_pem: str
    self_signed: bool
    sealed_at: datetime


class SigningEvidence(BaseModel):
    """``evidence.json``: every fact of one signature, and the objects it produced."""

    format: Literal["isms-cycle/signing-evidence/v1"] = EVIDENCE_FORMAT
    cycle_id: str
    organisation: str
    version: str
    signer: Signer
    signed_at: datetime
    consent_text: str
    ip: str | None
    user_agent: str | None
    shown_documents: dict[str, str]
    documents: list[StampedDocument]
    certificate: StoredObject
    audit_trail: list[AuditEvent]
    seal: SealRecord

    def result(self, evidence: StoredObject) -> SignDocumentsResult:
        return SignDocumentsResult(
            documents=[
                SignedDocument(
                    name=d.name,
                    draft_sha256=d.draft_sha256,
                    docx=d.docx,
                    pdf=d.pdf,
                    title=d.title,
                    version=d.version,
                    kind=d.kind,
                    signed=d.signed,
                )
                for d in self.documents
            ],
            certificate=self.certificate,
            evidence=evidence,
        )
