"""One approved version, signed: each document sealed, and the sealed certificate of completion.

No storage and no Temporal: the signing activity fetches the inputs, calls :func:`seal_version`
and stores what it made::

    sealed = seal_version(request, profile, staff, Path("signed"), converter=converter,
                          identity=identity, sources=sources)
    sealed.documents[0].pdf     # signed/information-security-policy.pdf, PAdES-sealed
    sealed.certificate          # signed/certificate.pdf, sealed too

Every document of the profile is in the set, each made once:

- generated: rendered with a signature line that carries the SHA-256 of the draft the signer
  was shown, converted and sealed;
- static .docx: carried unchanged, converted and sealed; static .pdf: sealed as it is (the seal
  is an incremental update, so the original bytes stay the sealed file's first bytes);
- ``signs: false``: made the same way, but sealed by the organisation alone, naming no signer,
  and listed as "distributed, not signed by" the signer (a generated one says so on its
  signature line).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.hashing import sha256_file
from documents.certificate import (
    CertificateDocumentRow,
    SigningRequestError,
    audit_trail_with_signature,
    build_certificate_context,
    check_signing_request,
    render_certificate,
    signature_statement,
    signing_status,
)
from documents.pipeline import Converter, CycleDocument, cycle_documents, render_document
from documents.sealing import seal_verified
from documents.signing_identity import SigningIdentity
from models.documents import RenderedDocument
from models.profile import DocumentKind, OrganisationProfile
from models.signing import AuditEvent, SignDocumentsInput
from models.staff import StaffDirectory

CERTIFICATE_NAME = "certificate"


@dataclass(frozen=True)
class SealedDocument:
    name: str
    title: str
    signature_line: str
    docx: Path | None  # with the signature block stamped in (as it is, if static); None: a static PDF
    pdf: Path  # PAdES-sealed
    version: str = ""
    kind: DocumentKind = DocumentKind.GENERATED
    signed: bool = True  # False: sealed by the organisation, not signed by the signer

    @property
    def id(self) -> str:
        return Path(self.name).stem


@dataclass(frozen=True)
class SealedVersion:
    documents: list[SealedDocument]
    certificate: Path  # the certificate of completion, sealed
    audit_trail: list[AuditEvent]  # in time order, the signature included


def _check_static_shown(data: SignDocumentsInput, document: CycleDocument, made: RenderedDocument) -> None:
    """A static document is carried unchanged: it must be the very file the signer was shown."""
    shown = data.shown_documents[document.name]
    if shown != made.sha256:
        raise SigningRequestError(
            f"{document.id}: the signer was shown a file with SHA-256 {shown}, but the profile's "
            f"{document.entry.source} has {made.sha256}",
            problem="shown_documents",
        )


def seal_version(
    data: SignDocumentsInput,
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    converter: Converter,
    identity: SigningIdentity,
    sources: Mapping[str, Path] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SealedVersion:
    """Make, convert and seal every document of ``data``, then the certificate of completion.

    ``sources`` maps a document id to its own file (template or static), as for
    :func:`documents.pipeline.render_cycle`. Writes the documents and sealed PDFs into
    ``out_dir`` (intermediate files beside them in ``out_dir/work``). Raises
    :class:`~documents.certificate.SigningRequestError` for a request that does not match the
    profile (its version, its set of documents, a static file other than the one shown),
    :class:`~documents.pipeline.DocumentError` for a document that cannot be made,
    :class:`~documents.sealing.SealingError` for a seal that cannot be made or does not verify,
    and whatever ``converter`` raises. Blocking: call it from a thread.
    """
    documents_of_profile = cycle_documents(profile, sources)
    check_signing_request(
        data, version=profile.policy.version, documents=[document.name for document in documents_of_profile]
    )
    report = progress or (lambda step: None)
    work = out_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    approval_date = data.signed_at.astimezone(dt.UTC).date()
    reason = f"Approved version {data.version} ({data.cycle_id})"

    def sealed_pdf(made: Path, target: Path, reason: str, *, signed: bool = True) -> Path:
        unsealed = (
            made if made.suffix == ".pdf" else converter.convert(made, work / f"{target.stem}.unsealed.pdf")
        )
        signer = data.signer if signed else None
        return seal_verified(unsealed, target, identity, signer=signer, reason=reason)

    documents: list[SealedDocument] = []
    for document in documents_of_profile:
        signs = document.entry.signs
        if signs:
            line = signature_statement(data.signer, data.signed_at, data.shown_documents[document.name])
        else:
            line = f"{signing_status(data.signer, signed=False)} (version {data.version})"
        # a static document is copied into the work folder: its sealed PDF takes its name in out_dir
        folder = work if document.static_pdf else out_dir
        made = render_document(
            document.name,
            profile,
            staff,
            folder,
            sources=sources,
            signature_line=line,
            approval_date=approval_date if signs else None,
        )
        if document.kind is DocumentKind.STATIC:
            _check_static_shown(data, document, made)
        seal_reason = (
            reason if signs else f"Distributed with version {data.version} ({data.cycle_id}); not signed"
        )
        pdf = sealed_pdf(made.path, out_dir / f"{document.id}.pdf", seal_reason, signed=signs)
        documents.append(
            SealedDocument(
                name=document.name,
                title=document.title,
                signature_line=line,
                docx=None if document.static_pdf else made.path,
                pdf=pdf,
                version=made.version,
                kind=document.kind,
                signed=signs,
            )
        )
        report(f"sealed {document.name}")

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
                id=document.id,
                version=document.version,
                kind=document.kind.value,
                signed=document.signed,
                status=signing_status(data.signer, signed=document.signed),
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
