"""Where cycle inputs and draft documents live in the drafts bucket (keys by content hash).

    <prefix>inputs/<sha256>.<ext>                       a profile or staff directory, as uploaded
    <prefix><cycle id>/<docx sha256>/<document>.docx    a rendered draft
    <prefix><cycle id>/<docx sha256>/<document>.pdf     its PDF
    <prefix><cycle id>/<manifest sha256>/render-manifest.json

The same bytes always land under the same key, so a retried upload changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from adapters.s3 import put_file
from core.hashing import sha256_file
from core.settings import Settings
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT_TYPES = {
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".csv": "text/csv",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".pem": "application/x-pem-file",
}


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def input_key(settings: Settings, *, sha256: str, suffix: str) -> str:
    return f"{settings.drafts_prefix}inputs/{sha256}{suffix.lower()}"


def draft_key(settings: Settings, *, cycle_id: str, sha256: str, name: str) -> str:
    return f"{settings.drafts_prefix}{cycle_id}/{sha256}/{name}"


def store_input(s3: S3Client, settings: Settings, path: Path) -> StoredObject:
    """Upload a profile or staff file for a cycle; the workflow carries only the reference."""
    key = input_key(settings, sha256=sha256_file(path), suffix=path.suffix)
    return put_file(s3, bucket=settings.drafts_bucket, key=key, path=path, content_type=content_type(path))
