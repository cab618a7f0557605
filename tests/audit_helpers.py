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
from models.archive import ArchiveInput, ArchiveItem, ArchiveResult, ManifestFacts
from models.signing import Signer

DOCUMENTS = ("information-security-policy", "isms-roles-responsibilities")
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
) -> ArchivedYear:
    """Seal two PDFs and a certificate, then archive them and a register as a cycle would."""
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
    evidence_path = folder / "evidence.json"
    evidence_path.write_text(json.dumps({"signer": SIGNER.model_dump(), "signed_at": signed_at.isoformat()}))
    evidence = stored(evidence_path)
    items: list[ArchiveItem] = []
    folders = []
    for document in DOCUMENTS:
        docx = folder / f"{document}.docx"
        docx.write_bytes(b"PK\x03\x04 stand-in docx for " + document.encode())
        pdf = stored(sealed(document, f"{document} version {version}"))
        target = f"{document}/v{version}"
        folders.append(target)
        items += [
            ArchiveItem(source=stored(docx).source, name=f"{target}/document.docx"),
            ArchiveItem(source=pdf.source, name=f"{target}/document.pdf"),
            ArchiveItem(source=certificate.source, name=f"{target}/certificate.pdf"),
            ArchiveItem(source=evidence.source, name=f"{target}/evidence.json"),
        ]
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
                documents=list(DOCUMENTS),
                signer=f"{SIGNER.name}, {SIGNER.title} <{SIGNER.email}>",
                signed_at=signed_at,
                reason=f"annual review {year}",
            ),
        ),
    )
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
        ),
    )
    return ArchivedYear(organisation, year, version, cycle_id, [signed, acknowledgements])
