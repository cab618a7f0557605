"""An archived cycle made quickly: real sealed PDFs, real Object Lock writes, no workflow.

Tests of the auditor's side (command line, portal, verify, tampering) start from this; the
workflow test (tests/workflows/test_archive_cycle.py) proves the cycle itself archives the same way.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from core.settings import Settings
from devstack.synthetic import tiny_pdf
from documents.sealing import seal_pdf
from documents.signing_identity import load_or_create_signing_identity
from models.archive import (
    ArchivedDocumentFacts,
    ArchiveInput,
    ArchiveItem,
    ArchiveResult,
    ChainRequest,
    ManifestFacts,
)
from models.check_report import CheckReportRequest
from models.signing import Signer

DOCUMENTS = ("information-security-policy", "isms-roles-responsibilities")


@dataclass(frozen=True)
class Document:
    """One document of an archived version made here (see :data:`OWN_DOCUMENTS`)."""

    id: str
    title: str
    version: str | None = None  # its own version (default: the signed version's)
    static_pdf: bool = False  # a finished PDF: no Word file
    signed: bool = True
    audience: str = "everyone in scope"


# a version of four documents, as a profile with a documents section signs it
OWN_DOCUMENTS = (
    Document("information-security-policy", "Information Security Policy"),
    Document("isms-roles-responsibilities", "ISMS Roles, Responsibilities and Authorities"),
    Document("acceptable-use-policy", "Acceptable Use Policy", version="2.1", static_pdf=True, signed=False),
    Document("secure-development-policy", "Secure Development Policy", audience="Engineering"),
)
SIGNER = Signer(name="Eleanor Marsh", title="Chief Executive Officer", email="eleanor.marsh@larkspur.example")


@dataclass
class ArchivedYear:
    organisation: str
    year: int
    version: str
    cycle_id: str
    results: list[ArchiveResult]


def archive_cycle(
    settings: Settings,
    folder: Path,
    *,
    organisation: str | None = None,
    year: int = 2026,
    version: str = "3.0",
    documents: tuple[Document, ...] | None = None,
    with_acknowledgements: bool = True,
    check_report: CheckReportRequest | None = None,
) -> ArchivedYear:
    """Seal two PDFs and a certificate, then archive them and a register as a cycle would.

    With ``documents`` (e.g. :data:`OWN_DOCUMENTS`) the version is those documents, each in
    its folder (no Word file for a static PDF) with the draft the signer was shown, and the
    manifest lists them with their titles, versions and hashes as the workflow's does; without,
    it is the two documents of a manifest from before the documents section. The two manifests
    form the cycle's chain (signed version first, the acknowledgements closing it); with
    ``with_acknowledgements=False`` only the signed version is archived (the campaign still running).
    """
    organisation = organisation or f"org{uuid.uuid4().hex[:8]}"
    cycle_id = f"isms-review-{organisation}-{year}"
    s3 = make_s3_client(settings)
    identity = load_or_create_signing_identity(settings)
    folder.mkdir(parents=True, exist_ok=True)

    def sealed(name: str, text: str) -> Path:
        raw = folder / f"{name}.raw.pdf"
        raw.write_bytes(tiny_pdf(text))
        return seal_pdf(raw, folder / f"{name}.pdf", identity, signer=SIGNER, reason="Approved")

    def stored(path: Path) -> ArchiveItem:
        return ArchiveItem(source=store_input(s3, settings, path), name="")

    signed_at = datetime.now(UTC).replace(microsecond=0)
    certificate = stored(sealed("certificate", "Certificate of completion"))
    # with documents, each one's draft as the signer was shown it (the .docx, or the static PDF)
    shown: dict[str, ArchiveItem] = {}
    for document in documents or ():
        draft = folder / f"{document.id}.draft{'.pdf' if document.static_pdf else '.docx'}"
        draft.write_bytes(
            tiny_pdf(f"{document.id} draft")
            if document.static_pdf
            else b"PK\x03\x04 draft of " + document.id.encode()
        )
        shown[document.id] = stored(draft)
    evidence_path = folder / "evidence.json"
    evidence_path.write_text(
        json.dumps(
            {
                "signer": SIGNER.model_dump(),
                "signed_at": signed_at.isoformat(),
                "documents": [
                    {
                        "name": f"{document.id}{'.pdf' if document.static_pdf else '.docx'}",
                        "draft_sha256": shown[document.id].source.sha256,
                        "signature_line": f"Signed electronically by {SIGNER.name} (SHA-256 of the approved "
                        f"draft {shown[document.id].source.sha256[:16]}\u2026)"
                        if document.signed
                        else "Not signed",
                    }
                    for document in documents or ()
                ],
            }
        )
    )
    evidence = stored(evidence_path)
    items: list[ArchiveItem] = []
    folders = []
    described: list[ArchivedDocumentFacts] = []
    for document in documents or tuple(Document(doc_id, "") for doc_id in DOCUMENTS):
        pdf = stored(sealed(document.id, f"{document.title or document.id} version {version}"))
        target = f"{document.id}/v{version}"
        folders.append(target)
        docx_sha256 = None
        if not document.static_pdf:
            docx = folder / f"{document.id}.docx"
            docx.write_bytes(b"PK\x03\x04 stand-in docx for " + document.id.encode())
            word = stored(docx).source
            docx_sha256 = word.sha256
            items.append(ArchiveItem(source=word, name=f"{target}/document.docx"))
        items += [
            ArchiveItem(source=pdf.source, name=f"{target}/document.pdf"),
            ArchiveItem(source=certificate.source, name=f"{target}/certificate.pdf"),
            ArchiveItem(source=evidence.source, name=f"{target}/evidence.json"),
        ]
        shown_file = None
        if document.id in shown:
            shown_file = f"draft-shown{'.pdf' if document.static_pdf else '.docx'}"
            items.append(ArchiveItem(source=shown[document.id].source, name=f"{target}/{shown_file}"))
        described.append(
            ArchivedDocumentFacts(
                id=document.id,
                title=document.title,
                version=document.version or version,
                kind="static" if document.static_pdf else "generated",
                signed=document.signed,
                audience=document.audience,
                pdf_sha256=pdf.source.sha256,
                docx_sha256=docx_sha256,
                shown_file=shown_file,
                shown_sha256=shown[document.id].source.sha256 if document.id in shown else None,
            )
        )
    activities = ArchiveActivities(settings=settings, s3=s3, seal_certificate_pem=identity.certificate_pem())
    signed = ActivityEnvironment().run(
        activities.archive_objects,
        ArchiveInput(
            cycle_id=cycle_id,
            organisation=organisation,
            year=year,
            stage=f"signed-v{version}",
            items=items,
            seal_certificate_in=folders,
            facts=ManifestFacts(
                version=version,
                documents=[target.split("/")[0] for target in folders],
                document_facts=described if documents else [],
                signer=f"{SIGNER.name}, {SIGNER.title} <{SIGNER.email}>",
                signed_at=signed_at,
                reason=f"annual review {year}",
            ),
            chain=ChainRequest(next_stage=f"acknowledgements-v{version}"),
            check_report=check_report,
        ),
    )
    if not with_acknowledgements:
        return ArchivedYear(organisation, year, version, cycle_id, [signed])
    register = folder / "register.csv"
    register.write_text("email,name,acknowledged_at\nana@larkspur.example,Ana,2026-12-02T10:00:00Z\n")
    report = folder / "report.html"
    report.write_text("<html><body><h1>Acknowledgement report</h1><p>1 of 2 (50.0%)</p></body></html>")
    acknowledgements = ActivityEnvironment().run(
        activities.archive_objects,
        ArchiveInput(
            cycle_id=cycle_id,
            organisation=organisation,
            year=year,
            stage=f"acknowledgements-v{version}",
            items=[
                ArchiveItem(source=stored(register).source, name=f"acknowledgements/v{version}/register.csv"),
                ArchiveItem(source=stored(report).source, name=f"acknowledgements/v{version}/report.html"),
            ],
            facts=ManifestFacts(version=version, in_scope=2, acknowledged=1, rate_text="50.0%"),
            chain=ChainRequest(previous=signed.manifest, position=1),
        ),
    )
    return ArchivedYear(organisation, year, version, cycle_id, [signed, acknowledgements])
