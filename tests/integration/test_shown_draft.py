"""The draft the CEO saw is archived beside the signed files, and verify recomputes its hash.

Real SeaweedFS Object Lock, real sealed PDFs (tests/audit_helpers.py); the workflow's own
archiving of the shown draft is proven end to end in tests/workflows/test_archive_cycle.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.audit import ArchiveReader, build_pack, read_pack, verify_archive
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.hashing import sha256_bytes
from core.settings import Settings
from devstack.synthetic import tiny_pdf
from documents.sealing import seal_pdf
from documents.signing_identity import load_or_create_signing_identity
from models.archive import ArchivedDocumentFacts, ArchiveInput, ArchiveItem, ChainRequest, ManifestFacts
from models.audit import Verdict
from tests.audit_helpers import OWN_DOCUMENTS, SIGNER, archive_cycle


def test_the_draft_shown_is_archived_beside_the_signed_files_and_verified(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", documents=OWN_DOCUMENTS)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    signed = {o.key.removeprefix(f"{year.organisation}/{year.year}/"): o for o in year.results[0].objects}
    evidence = json.loads(reader.read_checked(signed["information-security-policy/v3.0/evidence.json"]))
    recorded = {d["name"]: d["draft_sha256"] for d in evidence["documents"]}
    for document in OWN_DOCUMENTS:
        suffix = ".pdf" if document.static_pdf else ".docx"
        shown = signed[f"{document.id}/v3.0/draft-shown{suffix}"]
        # the bytes archived are the ones whose SHA-256 the signature records
        assert sha256_bytes(reader.read(shown.key, shown.version_id)) == recorded[document.id + suffix]

    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.PASS, [o for o in report.objects if o.verdict is not Verdict.PASS]
    by_folder = {d.key.removeprefix(f"{year.organisation}/{year.year}/"): d for d in report.documents}
    policy = by_folder["information-security-policy/v3.0/"]
    assert "draft-shown.docx archived with the SHA-256 the manifest lists" in policy.passed
    assert (
        "the draft shown (draft-shown.docx) is archived with the SHA-256 evidence.json records "
        "and the signature line carries"
    ) in policy.passed
    aup = by_folder["acceptable-use-policy/v3.0/"]  # a static PDF, not signed: shown as it was sent
    assert (
        "the draft shown (draft-shown.pdf) is archived with the SHA-256 evidence.json records" in aup.passed
    )
    # the shown static PDF is not sealed, and is not taken for a sealed PDF
    shown_pdf = next(
        o for o in report.objects if o.key.endswith("acceptable-use-policy/v3.0/draft-shown.pdf")
    )
    assert not any("PAdES" in p for p in [*shown_pdf.passed, *shown_pdf.problems])

    index = build_pack(reader, year.organisation, year.year, tmp_path / "pack.zip")
    _, files = read_pack((tmp_path / "pack.zip").read_bytes())
    entries = {e.path: e for e in index.entries}
    shown_entry = entries["information-security-policy/v3.0/draft-shown.docx"]
    assert shown_entry.evidence.startswith("5.1: the draft shown to top management when signing")
    assert sha256_bytes(files[shown_entry.path]) == recorded["information-security-policy.docx"]


def _signed_version(settings: Settings, folder: Path, *, recorded: bytes, shown: bytes) -> ArchiveInput:
    """One signed document whose evidence.json records ``recorded`` as the draft shown; ``shown`` is archived."""
    s3 = make_s3_client(settings)
    identity = load_or_create_signing_identity(settings)
    folder.mkdir(parents=True)
    raw = folder / "raw.pdf"
    raw.write_bytes(tiny_pdf("Information Security Policy"))
    pdf = seal_pdf(raw, folder / "document.pdf", identity, signer=SIGNER, reason="Approved")
    draft = folder / "draft.docx"
    draft.write_bytes(shown)
    recorded_sha = sha256_bytes(recorded)
    evidence = folder / "evidence.json"
    evidence.write_text(
        json.dumps(
            {
                "signed_at": None,
                "documents": [
                    {
                        "name": "information-security-policy.docx",
                        "draft_sha256": recorded_sha,
                        "signature_line": f"Signed (SHA-256 of the approved draft {recorded_sha[:16]}\u2026)",
                    }
                ],
            }
        )
    )
    word = folder / "document.docx"
    word.write_bytes(b"PK\x03\x04 signed")
    target = "information-security-policy/v3.0"
    stored = {
        name: store_input(s3, settings, path)
        for name, path in [
            ("document.docx", word),
            ("document.pdf", pdf),
            ("certificate.pdf", pdf),
            ("evidence.json", evidence),
            ("draft-shown.docx", draft),
        ]
    }
    return ArchiveInput(
        cycle_id="isms-review-shownorg-2026",
        organisation=f"shown{folder.name}",
        year=2026,
        stage="signed-v3.0",
        items=[ArchiveItem(source=source, name=f"{target}/{name}") for name, source in stored.items()],
        seal_certificate_in=[target],
        facts=ManifestFacts(
            version="3.0",
            documents=["information-security-policy"],
            document_facts=[
                ArchivedDocumentFacts(
                    id="information-security-policy",
                    title="Information Security Policy",
                    version="3.0",
                    pdf_sha256=stored["document.pdf"].sha256,
                    docx_sha256=stored["document.docx"].sha256,
                    shown_file="draft-shown.docx",
                    shown_sha256=stored["draft-shown.docx"].sha256,
                )
            ],
        ),
        chain=ChainRequest(next_stage="acknowledgements-v3.0"),
    )


def test_an_archived_draft_that_is_not_the_one_the_signature_records_fails(
    settings: Settings, tmp_path: Path
) -> None:
    request = _signed_version(
        settings, tmp_path / "a", recorded=b"PK draft as shown", shown=b"PK another draft"
    )
    activities = ArchiveActivities(
        settings=settings,
        s3=make_s3_client(settings),
        seal_certificate_pem=load_or_create_signing_identity(settings).certificate_pem(),
    )
    ActivityEnvironment().run(activities.archive_objects, request)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report = verify_archive(reader, request.organisation, 2026)
    assert report.verdict is Verdict.FAIL
    (document,) = report.documents
    assert document.verdict is Verdict.FAIL
    shown = request.facts.document_facts[0].shown_sha256
    assert document.problems == [
        f"the draft shown has SHA-256 {shown}, evidence.json records {sha256_bytes(b'PK draft as shown')}"
    ]


def test_a_shown_draft_missing_from_the_items_is_refused_before_anything_is_written(
    settings: Settings, tmp_path: Path
) -> None:
    request = _signed_version(settings, tmp_path / "b", recorded=b"PK same", shown=b"PK same")
    without = request.model_copy(
        update={"items": [i for i in request.items if not i.name.endswith("draft-shown.docx")]}
    )
    activities = ArchiveActivities(settings=settings, s3=make_s3_client(settings))
    with pytest.raises(ApplicationError, match=r"v3\.0/draft-shown\.docx: not among the items") as refused:
        ActivityEnvironment().run(activities.archive_objects, without)
    assert refused.value.non_retryable
    listed = make_s3_client(settings).list_object_versions(
        Bucket=settings.archive_bucket, Prefix=f"{request.organisation}/"
    )
    assert not listed.get("Versions")
