"""The evidence of one signature: the certificate of completion, ``evidence.json``, the request checks.

The certificate of completion shows who signed which version, when, from where, and the audit
trail::

    context = build_certificate_context(data=request, organisation="Larkspur Analytics Ltd",
                                        documents=rows, audit_trail=trail, identity=identity)
    render_certificate(context, Path("certificate.docx"))   # then convert and seal it

Also :func:`signature_statement` (the line stamped into each document's approval block),
:func:`format_utc` (every time shown to people), :func:`check_signing_request` (is this request
one that can be sealed) and :func:`build_signing_evidence` (the content of ``evidence.json``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from documents.context import CLASSIFICATION, NONE_TEXT
from documents.render import TEMPLATES, render_docx
from documents.signing_identity import SigningIdentity
from models.signing import (
    AuditEvent,
    SealRecord,
    SignDocumentsInput,
    Signer,
    SigningEvidence,
    StampedDocument,
    second_factor_statement,
)
from models.storage import StoredObject

CERTIFICATE_TEMPLATE = TEMPLATES / "certificate_of_completion.docx"


def format_utc(moment: dt.datetime) -> str:
    """``2026-11-23 14:05:09 UTC``: the one way times appear in evidence meant for people."""
    if moment.tzinfo is None:
        raise ValueError("evidence times must be timezone-aware")
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class CertificateDocumentRow(_Row):
    title: str
    name: str
    draft_sha256: str
    pdf_sha256: str
    id: str = ""
    version: str = ""
    kind: str = "generated"  # "generated" from a template, or "static" (carried unchanged)
    signed: bool = True
    status: str = ""  # "Signed by <signer>", or "Distributed, not signed by <signer>"


class AuditRow(_Row):
    at: str
    event: str
    actor: str
    detail: str
    ip: str
    user_agent: str


class CertificateContext(BaseModel):
    """What the certificate of completion template shows (``doc_templates.build_certificate``)."""

    model_config = ConfigDict(frozen=True)

    organisation_name: str
    document_title: str = "Certificate of Completion"
    classification: str = CLASSIFICATION
    cycle_id: str
    version: str
    signer_name: str
    signer_title: str
    signer_email: str
    signed_at: str
    second_factor: str  # "Second factor: one-time code emailed to ..., verified ..."
    ip: str
    user_agent: str
    consent_text: str
    documents: list[CertificateDocumentRow]
    audit_trail: list[AuditRow]
    seal_subject: str
    seal_fingerprint: str


def audit_trail_with_signature(data: SignDocumentsInput) -> list[AuditEvent]:
    """The given audit trail in time order, with the signature itself if the caller left it out."""
    events = list(data.audit_trail)
    if not any(event.event == "signed" for event in events):
        events.append(
            AuditEvent(
                at=data.signed_at,
                event="signed",
                actor=data.signer.email,
                detail=f"Typed name {data.signer.name!r}; consent given",
                ip=data.ip,
                user_agent=data.user_agent,
            )
        )
    return sorted(events, key=lambda event: event.at)


def build_certificate_context(
    *,
    data: SignDocumentsInput,
    organisation: str,
    documents: list[CertificateDocumentRow],
    audit_trail: list[AuditEvent],
    identity: SigningIdentity,
) -> CertificateContext:
    return CertificateContext(
        organisation_name=organisation,
        cycle_id=data.cycle_id,
        version=data.version,
        signer_name=data.signer.name,
        signer_title=data.signer.title,
        signer_email=data.signer.email,
        signed_at=format_utc(data.signed_at),
        second_factor=second_factor_statement(data.second_factor).removeprefix("Second factor: "),
        ip=data.ip or NONE_TEXT,
        user_agent=data.user_agent or NONE_TEXT,
        consent_text=data.consent_text,
        documents=documents,
        audit_trail=[
            AuditRow(
                at=format_utc(event.at),
                event=event.event,
                actor=event.actor,
                detail=event.detail or NONE_TEXT,
                ip=event.ip or NONE_TEXT,
                user_agent=event.user_agent or NONE_TEXT,
            )
            for event in audit_trail
        ],
        seal_subject=identity.subject,
        seal_fingerprint=identity.fingerprint,
    )


def signing_status(signer: Signer, *, signed: bool) -> str:
    """Whether a document of the set is under the signature, as the certificate and evidence say it."""
    return f"{'Signed' if signed else 'Distributed, not signed'} by {signer.name}, {signer.title}"


def signature_statement(signer: Signer, signed_at: dt.datetime, draft_sha256: str) -> str:
    """The line stamped into a document's approval block."""
    return (
        f"Signed electronically by {signer.name}, {signer.title}, on {format_utc(signed_at)} "
        f"(SHA-256 of the approved draft {draft_sha256[:16]}\u2026)"
    )


def render_certificate(context: CertificateContext, out: Path) -> Path:
    """Render the certificate of completion (.docx) into ``out``."""
    return render_docx(CERTIFICATE_TEMPLATE, context, out)


class SigningRequestError(ValueError):
    """A signature request that cannot be sealed; ``problem`` says which part is wrong."""

    def __init__(self, message: str, *, problem: Literal["version", "times", "shown_documents"]) -> None:
        super().__init__(message)
        self.problem = problem


def check_signing_request(data: SignDocumentsInput, *, version: str, documents: Collection[str]) -> None:
    """Raise :class:`SigningRequestError` unless ``data`` signs ``version`` of exactly ``documents``.

    ``documents`` is the profile's set of names (``documents.pipeline.document_names``). The
    stamped documents cannot equal the drafts byte for byte (the stamp is the change); what
    must hold is that the signer was shown exactly these documents, each named by a SHA-256.
    """
    if version != data.version:
        raise SigningRequestError(
            f"the profile is at version {version}, the signature is for version {data.version}",
            problem="version",
        )
    naive = (["signed_at"] if data.signed_at.tzinfo is None else []) + [
        event.event for event in data.audit_trail if event.at.tzinfo is None
    ]
    if naive:
        raise SigningRequestError(
            f"evidence times must be timezone-aware (UTC): {', '.join(naive)}", problem="times"
        )
    if set(data.shown_documents) != set(documents):
        raise SigningRequestError(
            f"the signer was shown {sorted(data.shown_documents)}, expected exactly {list(documents)}",
            problem="shown_documents",
        )
    malformed = [
        name
        for name, digest in data.shown_documents.items()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)
    ]
    if malformed:
        raise SigningRequestError(
            f"not a lowercase hex SHA-256 for {', '.join(sorted(malformed))}", problem="shown_documents"
        )


def build_signing_evidence(
    data: SignDocumentsInput,
    *,
    organisation: str,
    documents: list[StampedDocument],
    certificate: StoredObject,
    audit_trail: list[AuditEvent],
    identity: SigningIdentity,
    sealed_at: dt.datetime,
) -> SigningEvidence:
    """The content of ``evidence.json`` for one sealed signature."""
    return SigningEvidence(
        cycle_id=data.cycle_id,
        organisation=organisation,
        version=data.version,
        signer=data.signer,
        signed_at=data.signed_at,
        consent_text=data.consent_text,
        ip=data.ip,
        user_agent=data.user_agent,
        shown_documents=data.shown_documents,
        documents=documents,
        certificate=certificate,
        audit_trail=audit_trail,
        second_factor=data.second_factor,
        seal=SealRecord(
            subject=identity.subject,
            certificate_sha256=identity.fingerprint,
            certificate_pem=identity.certificate_pem(),
            self_signed=identity.self_signed,
            sealed_at=sealed_at,
        ),
    )
