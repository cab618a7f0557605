"""The CEO's signature and its evidence: who, intent, when, where and what."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

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


class SignerVerification(BaseModel):
    """How the signer proved, beyond holding the link, who they are: the decision's
    ``models.cycle.SecondFactor`` as the evidence keeps it.

    Its own model because ``models.cycle`` imports this module; ``from_attributes`` lets the
    workflow pass the decision's ``SecondFactor`` as it is.
    """

    model_config = ConfigDict(from_attributes=True)

    method: str  # "emailed_code" or "sso" (models.cycle.SecondFactorMethod)
    identity: str  # the address the code was emailed to, or the SSO identity
    verified_at: datetime  # UTC
    detail: str = ""

    def describe(self) -> str:
        """``one-time code emailed to ceo@..., verified 2026-11-23 14:05:09 UTC (...)``."""
        from models.cycle import SecondFactor  # imported here: models.cycle imports this module

        return SecondFactor.model_validate(self.model_dump()).describe()


def second_factor_statement(verification: SignerVerification | None) -> str:
    """The line the certificate and ``evidence.json`` show for the signer's second factor."""
    if verification is None:
        return "Second factor: none recorded (signed before a second factor was required)"
    return f"Second factor: {verification.describe()}"


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
    # the signer's second factor (the decision's SecondFactor); None only for a signature made
    # before second factors were required
    second_factor: SignerVerification | None = None


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
    second_factor: SignerVerification | None = None  # None in evidence made before it was required

    @computed_field  # type: ignore[prop-decorator]
    @property
    def second_factor_statement(self) -> str:
        """``Second factor: one-time code emailed to ..., verified ...``, written into the JSON."""
        return second_factor_statement(self.second_factor)

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
