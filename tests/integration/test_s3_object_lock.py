"""SeaweedFS is real S3 with Object Lock: COMPLIANCE retention holds against every attempt."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from adapters.s3 import ObjectLockNotEnabledError, ensure_archive_bucket, ensure_bucket, verify_archive_bucket

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.conftest import S3Server


def _put_locked(s3: S3Client, bucket: str, key: str, body: bytes, *, days: int = 1) -> tuple[str, datetime]:
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ChecksumAlgorithm="SHA256",
    )
    return response["VersionId"], until


def _refused(call: object) -> str:
    with pytest.raises(ClientError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.response["Error"]["Code"])


def test_compliance_retention_refuses_delete_shorten_and_bypass(
    s3_server: S3Server, s3_admin: S3Client
) -> None:
    bucket, key, body = s3_server.archive_bucket, "smoke/compliance.txt", b"signed policy v1"
    version, until = _put_locked(s3_admin, bucket, key, body)

    retention = s3_admin.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["RetainUntilDate"] >= until

    assert (
        _refused(lambda: s3_admin.delete_object(Bucket=bucket, Key=key, VersionId=version)) == "AccessDenied"
    )
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=12)}
    assert (
        _refused(
            lambda: s3_admin.put_object_retention(
                Bucket=bucket,
                Key=key,
                VersionId=version,
                Retention=shorter,  # type: ignore[arg-type]
            )
        )
        == "AccessDenied"
    )
    assert (
        _refused(
            lambda: s3_admin.delete_object(
                Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
            )
        )
        == "AccessDenied"
    )
    stored = s3_admin.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(body).hexdigest()


def test_delete_without_version_only_adds_a_marker(s3_server: S3Server, s3_admin: S3Client) -> None:
    bucket, key = s3_server.archive_bucket, "smoke/marker.txt"
    version, _ = _put_locked(s3_admin, bucket, key, b"evidence")

    deleted = s3_admin.delete_object(Bucket=bucket, Key=key)
    assert deleted.get("DeleteMarker") is True

    listing = s3_admin.list_object_versions(Bucket=bucket, Prefix=key)
    assert [v["VersionId"] for v in listing.get("Versions", [])] == [version]
    assert len(listing.get("DeleteMarkers", [])) == 1
    assert s3_admin.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read() == b"evidence"


def test_overwrite_keeps_the_locked_version(s3_server: S3Server, s3_admin: S3Client) -> None:
    bucket, key = s3_server.archive_bucket, "smoke/overwrite.txt"
    first, _ = _put_locked(s3_admin, bucket, key, b"original")
    second, _ = _put_locked(s3_admin, bucket, key, b"tampered")
    assert first != second
    assert s3_admin.get_object(Bucket=bucket, Key=key, VersionId=first)["Body"].read() == b"original"


def test_read_only_identity_reads_but_cannot_write(
    s3_server: S3Server, s3_admin: S3Client, s3_auditor: S3Client
) -> None:
    bucket, key = s3_server.archive_bucket, "smoke/auditor.txt"
    version, _ = _put_locked(s3_admin, bucket, key, b"for the auditor")
    assert (
        s3_auditor.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read() == b"for the auditor"
    )
    assert _refused(lambda: s3_auditor.put_object(Bucket=bucket, Key="smoke/x", Body=b"x")) == "AccessDenied"
    assert _refused(lambda: s3_auditor.delete_object(Bucket=bucket, Key=key)) == "AccessDenied"


def test_archive_bucket_checks_tell_lock_from_plain(s3_server: S3Server, s3_admin: S3Client) -> None:
    verify_archive_bucket(s3_admin, s3_server.archive_bucket)
    assert ensure_archive_bucket(s3_admin, s3_server.archive_bucket) is False  # found, not created

    ensure_bucket(s3_admin, "smoke-plain")
    with pytest.raises(ObjectLockNotEnabledError, match="does not have Object Lock"):
        verify_archive_bucket(s3_admin, "smoke-plain")
    with pytest.raises(ObjectLockNotEnabledError, match="does not have Object Lock"):
        ensure_archive_bucket(s3_admin, "smoke-plain")
    with pytest.raises(ObjectLockNotEnabledError, match="does not exist"):
        verify_archive_bucket(s3_admin, "smoke-missing")
