"""Write evidence into the archive bucket under Object Lock COMPLIANCE retention, once.

Archiving is idempotent: an object whose key already holds a version with the same SHA-256 is
not written again (that version is returned), and a key that holds a *different* object is
refused with :class:`ArchiveConflictError`: the archive never gets a second, different object
under one key. Every PUT carries its SHA-256 as the S3 checksum (Object Lock PUTs need one).

    <org>/<year>/<document id>/v<version>/{document.docx, document.pdf, certificate.pdf, evidence.json,
                                           seal-certificate.pem}   (no document.docx for a static PDF)
    <org>/<year>/acknowledgements/{register.csv, register.json, report.html}
    <org>/<year>/manifests/<stage>.json      written last, under the same retention
    <org>/seal-certificate.json              the organisation's seal certificate, pinned once

Each manifest names its predecessor in its cycle's chain (``ArchiveManifest.chain``), so the set
of a cycle's manifests is closed: the auditor's verify FAILs any other.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from core.hashing import sha256_bytes
from models.archive import SEAL_PIN_FILE, ArchivedObject, ArchiveManifest, SealPin

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ArchiveConflictError(Exception):
    """The key already holds a different object: archiving it again would be a second version."""


def archive_key(organisation: str, year: int, name: str) -> str:
    """``<org>/<year>/<name>``; ``name`` is relative and may not climb out (no ``..``, no leading ``/``)."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a relative archive name: {name!r}")
    return f"{organisation}/{year}/{name}"


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` plus whole calendar years (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def certificate_fingerprint(pem: bytes) -> str:
    """The hex SHA-256 of the (first) certificate in ``pem``, DER-encoded: its fingerprint.

    Raises ValueError if ``pem`` holds no certificate.
    """
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()


def seal_pin_key(organisation: str) -> str:
    """``<org>/seal-certificate.json``: beside the years, one per organisation."""
    if not organisation or "/" in organisation or organisation in (".", ".."):
        raise ValueError(f"not an organisation's short name: {organisation!r}")
    return f"{organisation}/{SEAL_PIN_FILE}"


def _versions(s3: S3Client, bucket: str, key: str) -> list[str]:
    found: list[str] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        found += [v["VersionId"] for v in page.get("Versions", []) if v["Key"] == key and "VersionId" in v]
    return found


def describe_version(s3: S3Client, bucket: str, key: str, version_id: str) -> ArchivedObject:
    """What the server says of one version: its recorded SHA-256, size, type and retention."""
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    retain_until = head.get("ObjectLockRetainUntilDate")
    return ArchivedObject(
        key=key,
        version_id=version_id,
        sha256=head.get("Metadata", {}).get("sha256", ""),
        size=head["ContentLength"],
        content_type=head.get("ContentType", "application/octet-stream"),
        retain_until=(retain_until or datetime.min.replace(tzinfo=UTC)).astimezone(UTC),
    )


def archive_bytes(
    s3: S3Client, *, bucket: str, key: str, body: bytes, content_type: str, retain_until: datetime
) -> ArchivedObject:
    """Put ``body`` under ``key`` with COMPLIANCE retention, unless the key holds it already."""
    digest = sha256_bytes(body)
    for version_id in _versions(s3, bucket, key):
        existing = describe_version(s3, bucket, key, version_id)
        if existing.sha256 == digest and existing.size == len(body):
            return existing
        raise ArchiveConflictError(
            f"s3://{bucket}/{key} already holds a different object (SHA-256 {existing.sha256 or 'unknown'}, "
            f"version {version_id}); refusing to archive a second one ({digest})"
        )
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType=content_type,
        Metadata={"sha256": digest},
        ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode(),
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=retain_until,
    )
    version_id = response.get("VersionId")
    if not version_id:
        raise ArchiveConflictError(f"s3://{bucket} returned no version id: is versioning (Object Lock) on?")
    return describe_version(s3, bucket, key, version_id)


def manifest_bytes(manifest: ArchiveManifest) -> bytes:
    """The manifest as deterministic JSON (sorted keys), objects in key order."""
    ordered = manifest.model_copy(update={"objects": sorted(manifest.objects, key=lambda o: o.key)})
    return json.dumps(ordered.model_dump(mode="json"), indent=2, sort_keys=True).encode() + b"\n"


def pin_seal_certificate(
    s3: S3Client,
    *,
    bucket: str,
    organisation: str,
    certificate_pem: bytes,
    cycle_id: str,
    retain_until: datetime,
) -> tuple[SealPin, ArchivedObject]:
    """The organisation's pinned seal certificate: written now if it has none, else the first one.

    The pin is written once under COMPLIANCE retention and never replaced; a later year's
    archiving extends its retention to that year's date, so it outlives every archive it pins.
    The caller compares the returned pin's fingerprint with its own certificate's.
    """
    key = seal_pin_key(organisation)
    versions = list_versions_oldest_first(s3, bucket, key)
    if not versions:
        pin = SealPin(
            organisation=organisation,
            certificate_sha256=certificate_fingerprint(certificate_pem),
            certificate_pem=certificate_pem.decode(),
            pinned_at=datetime.now(UTC),
            cycle_id=cycle_id,
        )
        body = json.dumps(pin.model_dump(mode="json"), indent=2, sort_keys=True).encode() + b"\n"
        written = archive_bytes(
            s3, bucket=bucket, key=key, body=body, content_type="application/json", retain_until=retain_until
        )
        return pin, written
    first = describe_version(s3, bucket, key, versions[0])
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=first.version_id)["Body"].read()
    pin = SealPin.model_validate_json(body)
    if first.retain_until < retain_until:  # COMPLIANCE retention may be extended, never shortened
        s3.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=first.version_id,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retain_until},
        )
        first = describe_version(s3, bucket, key, first.version_id)
    return pin, first


def list_versions_oldest_first(s3: S3Client, bucket: str, key: str) -> list[str]:
    """The version ids under exactly ``key``, the first written first."""
    found: list[tuple[datetime, str]] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        found += [
            (v["LastModified"], v["VersionId"])
            for v in page.get("Versions", [])
            if v["Key"] == key and "VersionId" in v
        ]
    return [version_id for _, version_id in sorted(found)]
