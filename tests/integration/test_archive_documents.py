"""A version of four documents in the real Object Lock archive: archived, verified and packed per document.

The cycle is archived the way the workflow archives it (tests/audit_helpers.py with
OWN_DOCUMENTS): a folder per document id, no Word file for the static Acceptable Use Policy
PDF, which the CEO does not sign, and a manifest that lists every document with its title,
version and hashes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.archive import archive_bytes
from adapters.audit import ArchiveReader, build_pack, read_pack, select_version, verify_archive, verify_copy
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.hashing import sha256_bytes
from core.settings import Settings
from models.archive import ArchivedDocumentFacts, ArchiveInput, ArchiveItem, ManifestFacts
from models.audit import Verdict
from tests.audit_helpers import OWN_DOCUMENTS, archive_cycle

IDS = [document.id for document in OWN_DOCUMENTS]


def test_every_document_is_archived_in_its_folder_and_verified_complete(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", documents=OWN_DOCUMENTS)
    signed = year.results[0]
    names = {o.key.removeprefix(f"{year.organisation}/{year.year}/") for o in signed.objects}
    for doc_id in IDS:
        for file in ("document.pdf", "certificate.pdf", "evidence.json", "seal-certificate.pem"):
            assert f"{doc_id}/v3.0/{file}" in names
    assert "acceptable-use-policy/v3.0/document.docx" not in names
    assert "secure-development-policy/v3.0/document.docx" in names

    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    (cycle,) = reader.cycles(year.organisation, year.year)
    assert [v.document for v in cycle.versions] == sorted(IDS)
    aup = select_version([cycle], "acceptable-use-policy", None)
    assert aup.facts is not None
    assert (aup.facts.title, aup.facts.version, aup.facts.signed) == ("Acceptable Use Policy", "2.1", False)
    assert len(aup.files) == 5  # no Word file; the static PDF as shown to the signer (draft-shown.pdf)
    assert f"{year.organisation}/{year.year}/acceptable-use-policy/v3.0/draft-shown.pdf" in {
        f.key for f in aup.files
    }

    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.PASS
    assert [d.key for d in report.documents] == [
        f"{year.organisation}/{year.year}/{doc_id}/v3.0/" for doc_id in IDS
    ]
    assert all(d.verdict is Verdict.PASS for d in report.documents)
    aup_check = report.documents[2]
    assert aup_check.passed[0] == (
        "Acceptable Use Policy, version 2.1 (static PDF; sealed by the organisation, not signed; "
        "acknowledged by everyone in scope)"
    )
    assert "document.pdf archived with the SHA-256 the manifest lists" in aup_check.passed
    sdp_check = report.documents[3]
    assert "document.docx archived with the SHA-256 the manifest lists" in sdp_check.passed
    assert "acknowledged by Engineering" in sdp_check.passed[0]
    # every PDF, the unsigned static one too, carries a valid seal
    pdfs = [o for o in report.objects if o.key.endswith("/document.pdf")]
    assert len(pdfs) == 4
    assert all(any("PAdES seal valid and intact" in p for p in o.passed) for o in pdfs)


def test_a_manifest_listing_a_document_whose_files_are_missing_fails_that_document(
    settings: Settings, tmp_path: Path
) -> None:
    """Written past the activity's own check (as an older or faulty writer could): verify names the document."""
    year = archive_cycle(settings, tmp_path / "cycle", documents=OWN_DOCUMENTS)
    s3 = make_s3_client(settings)
    body = tmp_path / "ghost.pdf"
    body.write_bytes(b"%PDF-1.4 ghost")
    ghost = ArchivedDocumentFacts(id="ghost-policy", title="Ghost Policy", version="1.0", pdf_sha256="0" * 64)
    request = ArchiveInput(
        cycle_id=year.cycle_id,
        organisation=year.organisation,
        year=year.year,
        stage="signed-v3.1",
        items=[ArchiveItem(source=store_input(s3, settings, body), name="ghost-policy/v3.1/evidence.json")],
        facts=ManifestFacts(version="3.1", documents=["ghost-policy"], document_facts=[ghost]),
    )
    activities = ArchiveActivities(settings=settings, s3=s3)
    with pytest.raises(
        ApplicationError, match=r"ghost-policy/v3\.1/document\.pdf: not among the items"
    ) as refused:
        ActivityEnvironment().run(activities.archive_objects, request)
    assert refused.value.type == "IntegrityError"
    assert refused.value.non_retryable
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    # the refusal wrote nothing: no manifest, no object of the ghost's
    assert {m.stage for m, _ in reader.manifests(year.organisation, year.year)} == {
        "signed-v3.0",
        "acknowledgements-v3.0",
    }
    assert not [key for key in reader.listing(year.organisation, year.year).versions if "ghost" in key]

    # a manifest that does say so anyway (written without the check): FAIL for that document
    unchecked = request.model_copy(update={"facts": request.facts.model_copy(update={"document_facts": []})})
    written = ActivityEnvironment().run(activities.archive_objects, unchecked)
    manifest = json.loads(
        s3.get_object(Bucket=settings.archive_bucket, Key=written.manifest.key)["Body"].read()
    )
    manifest["facts"]["document_facts"] = [ghost.model_dump(mode="json")]
    # the first and only manifest of a cycle of its own, so it is on a chain and its documents are read
    manifest["cycle_id"] = f"{year.cycle_id}-adhoc"
    manifest["chain"] = {"cycle_id": manifest["cycle_id"], "position": 0, "previous": None, "next_key": None}
    forged_key = f"{year.organisation}/{year.year}/manifests/signed-v3.1-listed.json"
    archive_bytes(
        s3,
        bucket=settings.archive_bucket,
        key=forged_key,
        body=json.dumps(manifest).encode(),
        content_type="application/json",
        retain_until=written.manifest.retain_until,
    )
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.FAIL
    failing = [d for d in report.documents if d.verdict is Verdict.FAIL]
    assert [d.key for d in failing] == [f"{year.organisation}/{year.year}/ghost-policy/v3.1/"]
    assert failing[0].problems == [
        "document.pdf is not in the manifest",
        "certificate.pdf is not in the manifest",
        "seal-certificate.pem is not in the manifest",
    ]
    assert all(d.verdict is Verdict.PASS for d in report.documents if d not in failing)
    # the manifest the unchecked request wrote names no place in the cycle's chain: an extra
    extra = [o for o in report.objects if o.key == written.manifest.key and o.verdict is Verdict.FAIL]
    assert len(extra) == 1
    assert extra[0].problems == [
        f"an extra manifest: unchained, beside the chained manifests of cycle {year.cycle_id}"
    ]


def test_the_pack_indexes_each_document_with_id_title_version_and_sha256(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", documents=OWN_DOCUMENTS)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    pack = tmp_path / "pack.zip"
    index = build_pack(reader, year.organisation, year.year, pack)
    pdfs = {
        o.key.removeprefix(f"{year.organisation}/{year.year}/"): o.sha256
        for o in year.results[0].objects
        if o.key.endswith("/document.pdf")
    }
    assert [(d.id, d.title, d.version, d.path, d.sha256) for d in index.documents] == [
        (
            doc.id,
            doc.title,
            doc.version or "3.0",
            f"{doc.id}/v3.0/document.pdf",
            pdfs[f"{doc.id}/v3.0/document.pdf"],
        )
        for doc in sorted(OWN_DOCUMENTS, key=lambda d: d.id)
    ]
    aup = next(d for d in index.documents if d.id == "acceptable-use-policy")
    assert (aup.kind, aup.signed) == ("static", False)
    read_index, files = read_pack(pack.read_bytes())
    assert read_index == index
    for document in index.documents:
        assert sha256_bytes(files[document.path]) == document.sha256
    evidence = {e.path: e.evidence for e in index.entries}
    assert evidence["information-security-policy/v3.0/document.pdf"].startswith("5.2")
    assert evidence["isms-roles-responsibilities/v3.0/document.pdf"].startswith("5.3")
    assert evidence["acceptable-use-policy/v3.0/document.pdf"] == (
        "A.5.1 policies for information security: Acceptable Use Policy, communicated to relevant "
        "personnel; sealed by the organisation, not under top management's signature (sealed PDF)"
    )
    assert evidence["secure-development-policy/v3.0/document.pdf"].startswith(
        "A.5.1 policies for information security: Secure Development Policy, approved by top management"
    )
    html = files["index.html"].decode()
    for document in index.documents:
        assert f"<td>{document.title}</td>" in html.replace("&#x27;", "'")
        assert document.sha256 in html
    assert verify_copy(reader, year.organisation, year.year, pack).verdict is Verdict.PASS


def test_a_manifest_from_before_the_documents_list_still_packs_each_document(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")  # no document facts, as archived before
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    index = build_pack(reader, year.organisation, year.year, tmp_path / "pack.zip")
    assert [(d.id, d.title, d.version) for d in index.documents] == [
        ("information-security-policy", "", "3.0"),
        ("isms-roles-responsibilities", "", "3.0"),
    ]
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.PASS
    assert report.documents == []  # nothing listed to check them against: object by object only
