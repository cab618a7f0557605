"""The S3 client factory and the Object Lock checks every archive write depends on.

>>> s3 = make_s3_client(settings)
>>> ensure_archive_bucket(s3, settings.archive_bucket)   # creates it with Object Lock, or checks it

Each process acts as its own S3 identity (least privilege): the web app and the worker use
their main one (drafts read/write, archive read), only the worker's archive activity writes
the archive (:func:`make_archive_s3_client`), and the auditor's side reads with
:func:`make_auditor_s3_client`. docs/production-security.md lists what each identity may do.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from core.files import publish_file
from core.hashing import sha256_bytes, sha256_file
from core.settings import Settings
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectLockNotEnabledError(Exception):
    """The archive bucket exists but cannot hold WORM evidence."""


def make_s3_client(
    settings: Settings,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> S3Client:
    """A boto3 S3 client for the configured endpoint (path-style, bounded retries).

    Pass another key pair to act as a different identity, for example the read-only auditor.
    """
    if access_key_id is None and settings.s3_access_key_id is not None:
        access_key_id = settings.s3_access_key_id
        assert settings.s3_secret_access_key is not None  # guaranteed by Settings
        secret_access_key = settings.s3_secret_access_key.get_secret_value()
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(
            signature_version="s3v4",  # presigned URLs with a VersionId need SigV4 on SeaweedFS
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def make_auditor_s3_client(settings: Settings) -> S3Client:
    """The read-only client the auditor's side uses (list, read, presign), when one is configured.

    With ``ISMS_S3_AUDITOR_ACCESS_KEY_ID``/``..._SECRET_ACCESS_KEY`` set, a presigned download link
    and every read run on an identity the S3 server allows nothing but reading; without them,
    the application's own identity is used (the code paths only read either way).
    """
    if settings.s3_auditor_access_key_id is None:
        return make_s3_client(settings)
    assert settings.s3_auditor_secret_access_key is not None  # guaranteed by Settings
    return make_s3_client(
        settings,
        access_key_id=settings.s3_auditor_access_key_id,
        secret_access_key=settings.s3_auditor_secret_access_key.get_secret_value(),
    )


def make_archive_s3_client(settings: Settings) -> S3Client:
    """The client that writes the archive bucket: the worker's archive activity, and nothing else.

    With ``ISMS_S3_ARCHIVE_ACCESS_KEY_ID``/``..._SECRET_ACCESS_KEY`` set, archiving runs on an
    identity of its own (write, retention and legal hold on the archive bucket; read of the
    drafts it copies from), so the main identity the web app and the rest of the worker hold
    can read the archive but never add to it. Without them (a single-identity install) the
    main identity writes it too.
    """
    if settings.s3_archive_access_key_id is None:
        return make_s3_client(settings)
    assert settings.s3_archive_secret_access_key is not None  # guaranteed by Settings
    return make_s3_client(
        settings,
        access_key_id=settings.s3_archive_access_key_id,
        secret_access_key=settings.s3_archive_secret_access_key.get_secret_value(),
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def is_missing(exc: ClientError) -> bool:
    """True when S3 answered that the object does not exist (HEAD says 404/NotFound, GET NoSuchKey)."""
    return _error_code(exc) in _MISSING_OBJECT_CODES


def object_exists(s3: S3Client, bucket: str, key: str) -> bool:
    """True when ``key`` exists in ``bucket``; any other S3 error is raised."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise
    return True


def read_object(s3: S3Client, bucket: str, key: str) -> bytes | None:
    """The body of ``key``, or None when it does not exist; any other S3 error is raised."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise


def bucket_exists(s3: S3Client, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def object_lock_enabled(s3: S3Client, bucket: str) -> bool:
    """True when the bucket was created with Object Lock (so versions can be retained)."""
    try:
        config = s3.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
            return False
        raise
    return config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def verify_archive_bucket(s3: S3Client, bucket: str) -> None:
    """Raise :class:`ObjectLockNotEnabledError` unless ``bucket`` exists with Object Lock."""
    if not bucket_exists(s3, bucket):
        raise ObjectLockNotEnabledError(
            f"archive bucket {bucket!r} does not exist; create it with Object Lock enabled"
        )
    if not object_lock_enabled(s3, bucket):
        raise ObjectLockNotEnabledError(
            f"archive bucket {bucket!r} does not have Object Lock enabled; evidence written there "
            "could be changed or deleted. Object Lock can only be turned on when a bucket is "
            "created: create a new bucket with Object Lock and set ISMS_ARCHIVE_BUCKET to it"
        )


def ensure_archive_bucket(s3: S3Client, bucket: str) -> bool:
    """Create ``bucket`` with Object Lock if missing, else check it has it. True if created."""
    if bucket_exists(s3, bucket):
        verify_archive_bucket(s3, bucket)
        return False
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    verify_archive_bucket(s3, bucket)
    return True


def ensure_bucket(s3: S3Client, bucket: str) -> bool:
    """Create a plain (versioning off, no lock) bucket if missing. True if created."""
    if bucket_exists(s3, bucket):
        return False
    s3.create_bucket(Bucket=bucket)
    return True


class IntegrityError(Exception):
    """A downloaded object does not have the SHA-256 its reference promises."""


def put_file(s3: S3Client, *, bucket: str, key: str, path: Path, content_type: str) -> StoredObject:
    """Upload ``path`` to ``key`` unless that key already holds the same bytes (safe to retry).

    The SHA-256 travels as the S3 checksum (the server verifies it) and as metadata.
    """
    digest = sha256_file(path)
    stored = StoredObject(
        bucket=bucket, key=key, sha256=digest, size=path.stat().st_size, content_type=content_type
    )
    if not _holds(s3, stored):
        with path.open("rb") as body:
            _put_checked(s3, stored, body)
    return stored


def put_bytes(s3: S3Client, *, bucket: str, key: str, payload: bytes, content_type: str) -> StoredObject:
    """:func:`put_file` for bytes in memory: the same SHA-256 checksum and metadata, safe to retry."""
    stored = StoredObject(
        bucket=bucket, key=key, sha256=sha256_bytes(payload), size=len(payload), content_type=content_type
    )
    if not _holds(s3, stored):
        _put_checked(s3, stored, payload)
    return stored


def _holds(s3: S3Client, stored: StoredObject) -> bool:
    """True when ``stored.key`` already holds those bytes (by the SHA-256 metadata and the size)."""
    try:
        head = s3.head_object(Bucket=stored.bucket, Key=stored.key)
    except ClientError as exc:
        if not is_missing(exc):
            raise
        return False
    return head.get("Metadata", {}).get("sha256") == stored.sha256 and head["ContentLength"] == stored.size


def _put_checked(s3: S3Client, stored: StoredObject, body: bytes | BinaryIO) -> None:
    s3.put_object(
        Bucket=stored.bucket,
        Key=stored.key,
        Body=body,
        ContentType=stored.content_type,
        Metadata={"sha256": stored.sha256},
        ChecksumSHA256=base64.b64encode(bytes.fromhex(stored.sha256)).decode(),
    )


# downloads in the calling thread: boto3's default starts a pool of threads per transfer, and an
# activity's cancel (the SDK raises it asynchronously in the thread that runs the activity) can
# land in a thread being started, which then dies before it says it started: the activity's
# thread waits for it for ever and the worker's shutdown never ends (seen at a test worker's
# teardown with an archive in flight)
_IN_THIS_THREAD = TransferConfig(use_threads=False)


def get_file(s3: S3Client, stored: StoredObject, target: Path) -> Path:
    """Download ``stored`` to ``target``, checking its SHA-256 (:class:`IntegrityError` if it differs).

    Starts no thread (see ``_IN_THIS_THREAD``).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    s3.download_file(stored.bucket, stored.key, str(partial), Config=_IN_THIS_THREAD)
    actual = sha256_file(partial)
    if actual != stored.sha256:
        partial.unlink(missing_ok=True)
        raise IntegrityError(
            f"s3://{stored.bucket}/{stored.key} has SHA-256 {actual}, expected {stored.sha256}"
        )
    return publish_file(partial, target)
