"""One approved version, signed: each document stamped and sealed, and the sealed certificate.

No storage and no Temporal: the signing activity fetches the inputs, calls :func:`seal_version`
and stores what it made::

    sealed = seal_version(request, profile, staff, Path("signed"), converter=converter, identity=identity)
    sealed.documents[0].pdf     # signed/information-security-policy.pdf, PAdES-sealed
    sealed.certificate          # signed/certificate.pdf, sealed too

Each document is rendered once, with a signature line that carries the SHA-256 of the draft
the signer was shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.hashing import sha256_file
from documents.certificate import (
    CertificateDocumentRow,
    audit_trail_with_signature,
    build_certificate_context,
    check_signing_request,
    render_certificate,
    signature_statement,
)
from documents.pipeline import DOCUMENT_NAMES, Converter, document_titles, render_document
from documents.sealing import seal_verified
from documents.signing_identity import SigningIdentity
from models.profile import OrganisationProfile
from models.signing import AuditEvent, SignDocumentsInput
from models.staff import StaffDirectory

CERTIFICATE_NAME = "certificate"


@dataclass(frozen=True)
class SealedDocument:
    name: str
    title: str
    signature_line: str
    docx: Path  # with the signature block stamped in
    pdf: Path  # PAdES-sealed


@dataclass(frozen=True)
class SealedVersion:
    documents: list[SealedDocument]
    certificate: Path  # the certificate of completion, sealed
    audit_trail: list[AuditEvent]  # in time order, the signature included


def seal_version(
    data: SignDocumentsInput,
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    converter: Converter,
    identity: SigningIdentity,
    progress: Callable[[str], None] | None = None,
) -> SealedVersion:
    """Stamp, convert and seal every document of ``data``, then the certificate of completion.

    Writes the stamped .docx and sealed PDFs into ``out_dir`` (intermediate files beside them in
    ``out_dir/work``). Raises :class:`~documents.certificate.SigningRequestError` for a request
    that does not match the profile, :class:`~documents.sealing.SealingError` for a seal that
    cannot be made or does not verify, and whatever ``converter`` raises. Blocking: call it from
    a thread.
    """
    check_signing_request(data, version=profile.policy.version, documents=DOCUMENT_NAMES)
    report = progress or (lambda step: None)
    work = out_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    titles = document_titles(profile)
    approval_date = data.signed_at.astimezone(dt.UTC).date()
    reason = f"Approved version {data.version} ({data.cycle_id})"

    def sealed_pdf(docx: Path, target: Path, reason: str) -> Path:
        unsealed = converter.convert(docx, work / f"{target.stem}.unsealed.pdf")
        return seal_verified(unsealed, target, identity, signer=data.signer, reason=reason)

    documents: list[SealedDocument] = []
    for name in DOCUMENT_NAMES:
        line = signature_statement(data.signer, data.signed_at, data.shown_documents[name])
        docx = render_document(
            name, profile, staff, out_dir, signature_line=line, approval_date=approval_date
        )
        pdf = sealed_pdf(docx.path, out_dir / f"{Path(name).stem}.pdf", reason)
        documents.append(
            SealedDocument(name=name, title=titles[name], signature_line=line, docx=docx.path, pdf=pdf)
        )
        report(f"sealed {name}")

    audit_trail = audit_trail_with_signature(data)
    context = build_certificate_context(
        data=data,
        organisation=profile.organisation.name,
        documents=[
            CertificateDocumentRow(
                title=document.title,
                name=document.name,
                draft_sha256=data.shown_documents[document.name],
                pdf_sha256=sha256_file(document.pdf),
            )
            for document in documents
        ],
        audit_trail=audit_trail,
        identity=identity,
    )
    certificate = sealed_pdf(
        render_certificate(context, work / f"{CERTIFICATE_NAME}.docx"),
        out_dir / f"{CERTIFICATE_NAME}.pdf",
        f"Certificate of completion: {reason}",
    )
    report("sealed the certificate")
    return SealedVersion(documents=documents, certificate=certificate, audit_trail=audit_trail)
