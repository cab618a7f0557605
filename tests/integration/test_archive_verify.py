"""The archive holds against the real SeaweedFS Object Lock, and verify tells the auditor what it finds.

Starts from a cycle archived the way the workflow archives it (tests/audit_helpers.py): sealed
PDFs, evidence, a register, manifests under COMPLIANCE retention.
"""

from __future__ import annotations

import base64
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.audit import ArchiveReader, build_pack, read_pack, verify_archive, verify_copy
from adapters.audit_access import set_legal_hold
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.hashing import sha256_bytes
from core.settings import Settings
from models.archive import ArchiveInput, ArchiveItem, ChainRequest
from models.audit import Verdict
from tests.audit_helpers import archive_cycle


def _put(s3: object, bucket: str, key: str, body: bytes) -> str:
    digest = base64.b64encode(bytes.fromhex(sha256_bytes(body))).decode()
    response = s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumSHA256=digest)  # type: ignore[attr-defined]
    return str(response["VersionId"])


def test_an_archived_cycle_verifies_and_the_server_refuses_every_change(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    s3, bucket = make_s3_client(settings), settings.archive_bucket
    reader = ArchiveReader(make_auditor_s3_client(settings), bucket)

    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.PASS
    keys = {o.key for o in report.objects}
    expected = {o.key for result in year.results for o in [*result.objects, result.manifest]}
    assert keys == expected
    assert len(keys) == 14
    pdf_checks = [o for o in report.objects if o.key.endswith(".pdf")]
    assert pdf_checks
    assert all(any("PAdES seal valid and intact" in p for p in o.passed) for o in pdf_checks)

    policy = next(
        o for o in year.results[0].objects if o.key.endswith("information-security-policy/v3.0/document.pdf")
    )
    # WORM: deleting the specific version, and shortening its retention, are refused by the server
    with pytest.raises(ClientError) as deleted:
        s3.delete_object(Bucket=bucket, Key=policy.key, VersionId=policy.version_id)
    assert deleted.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.put_object_retention(
            Bucket=bucket,
            Key=policy.key,
            VersionId=policy.version_id,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=30)},
        )
    with pytest.raises(ClientError):  # nor can COMPLIANCE be swapped for GOVERNANCE and bypassed
        s3.put_object_retention(
            Bucket=bucket,
            Key=policy.key,
            VersionId=policy.version_id,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": policy.retain_until},
            BypassGovernanceRetention=True,
        )
    # the read-only identity can write nothing at all
    with pytest.raises(ClientError):
        _put(reader.s3, bucket, policy.key, b"%PDF-1.4 forged")

    # an "overwrite" is a new version in S3: the archived version is untouched, verify names the key
    forged = _put(s3, bucket, policy.key, b"%PDF-1.4 forged")
    assert forged != policy.version_id
    assert sha256_bytes(reader.read(policy.key, policy.version_id)) == policy.sha256
    after = verify_archive(reader, year.organisation, year.year)
    assert after.verdict is Verdict.FAIL
    failing = [o for o in after.objects if o.verdict is Verdict.FAIL]
    assert [(o.key, o.version_id) for o in failing] == [(policy.key, forged)]
    assert "later write under an archived key" in failing[0].problems[0]
    archived_check = next(o for o in after.objects if o.version_id == policy.version_id)
    assert archived_check.verdict is Verdict.PASS


def test_a_delete_marker_is_reported_and_every_archived_version_still_found(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    s3, bucket = make_s3_client(settings), settings.archive_bucket
    register = next(o for o in year.results[1].objects if o.key.endswith("register.csv"))
    response = s3.delete_object(Bucket=bucket, Key=register.key)  # no version id: only a marker
    assert response.get("DeleteMarker") is True
    with pytest.raises(ClientError):  # a plain GET no longer finds it...
        s3.get_object(Bucket=bucket, Key=register.key)

    reader = ArchiveReader(make_auditor_s3_client(settings), bucket)
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.PASS  # ...but the evidence is intact, and verify says so
    register_check = next(o for o in report.objects if o.key == register.key and o.verdict is Verdict.PASS)
    assert register_check.version_id == register.version_id
    markers = [o for o in report.objects if o.verdict is Verdict.WARN]
    assert [o.key for o in markers] == [register.key]
    assert "delete marker" in markers[0].problems[0]
    assert register.version_id in markers[0].problems[0]
    assert report.count(Verdict.PASS) == 14


def test_the_pack_matches_its_index_and_a_tampered_copy_fails_by_name(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    pack = tmp_path / "pack.zip"
    index = build_pack(reader, year.organisation, year.year, pack)
    read_index, files = read_pack(pack.read_bytes())
    assert read_index == index
    assert {e.path for e in index.entries} | {"index.json", "index.html"} == set(files)
    for entry in index.entries:
        assert sha256_bytes(files[entry.path]) == entry.sha256, entry.path
        assert entry.evidence not in ("", "supporting evidence"), entry.path
    assert any(e.evidence.startswith("5.2") for e in index.entries if e.path.endswith("document.pdf"))
    assert any(e.evidence.startswith("5.3") for e in index.entries if e.path.endswith("document.pdf"))
    assert "Clause 5" in files["index.html"].decode()
    assert verify_copy(reader, year.organisation, year.year, pack).verdict is Verdict.PASS

    tampered = tmp_path / "tampered.zip"
    target = "isms-roles-responsibilities/v3.0/document.pdf"
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(tampered, "w") as copy:
        for info in source.infolist():
            body = source.read(info)
            copy.writestr(info.filename, body.replace(b"3.0", b"3.1") if info.filename == target else body)
    report = verify_copy(reader, year.organisation, year.year, tampered)
    assert report.verdict is Verdict.FAIL
    assert [o.key for o in report.objects if o.verdict is Verdict.FAIL] == [target]


def test_a_legal_hold_covers_the_cycle_and_what_is_archived_for_it_later(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", with_acknowledgements=False)  # the campaign is running
    s3, bucket = make_s3_client(settings), settings.archive_bucket
    held = set_legal_hold(s3, settings, year.cycle_id, on=True, actor="ravi", now=datetime.now(UTC))
    objects = [o for result in year.results for o in [*result.objects, result.manifest]]
    assert held == len(objects)
    for obj in objects:
        head = s3.head_object(Bucket=bucket, Key=obj.key, VersionId=obj.version_id)
        assert head.get("ObjectLockLegalHoldStatus") == "ON", obj.key

    late = tmp_path / "register.csv"
    late.write_text("email,status\nlate@larkspur.example,acknowledged\n")
    result = ActivityEnvironment().run(  # the campaign closes: its register follows on the cycle's chain
        ArchiveActivities(settings=settings, s3=s3).archive_objects,
        ArchiveInput(
            cycle_id=year.cycle_id,
            organisation=year.organisation,
            year=year.year,
            stage="acknowledgements-v3.0",
            items=[
                ArchiveItem(source=store_input(s3, settings, late), name="acknowledgements/v3.0/register.csv")
            ],
            chain=ChainRequest(previous=year.results[0].manifest, position=1),
        ),
    )
    assert result.legal_hold
    for obj in [*result.objects, result.manifest]:
        assert (
            s3.head_object(Bucket=bucket, Key=obj.key, VersionId=obj.version_id)["ObjectLockLegalHoldStatus"]
            == "ON"
        )

    released = set_legal_hold(s3, settings, year.cycle_id, on=False, actor="ravi", now=datetime.now(UTC))
    assert released == len(objects) + 2
    head = s3.head_object(Bucket=bucket, Key=objects[0].key, VersionId=objects[0].version_id)
    assert head.get("ObjectLockLegalHoldStatus") == "OFF"
