"""Last year's render, for the change summary: the render manifest archived with the last signed version.

Both ways a cycle starts (the lead's ``isms cycle start`` and the yearly Schedule) get it from the
render activity, which calls :func:`fetch_previous_render_manifest` when its input names no
previous manifest::

    target = Path("previous/render-manifest.json")
    source = fetch_previous_render_manifest(s3, "isms-archive", "larkspur", 2027, target)
    source   # "s3://isms-archive/larkspur/2026/render-manifest/v3.0.json", or None
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from adapters.audit import ArchiveReader, AuditError, latest_render_manifest
from core.files import write_atomic
from models.archive import ArchivedObject
from models.documents import RenderFacts, RenderManifest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def find_previous_render_manifest(
    s3: S3Client, bucket: str, organisation: str, before_year: int
) -> ArchivedObject | None:
    """The archived render manifest of ``organisation``'s last version signed before ``before_year``.

    None when there is none, or the archive cannot be read as an archive (the summary then lists
    the first version's content); S3 errors other than that are raised.
    """
    try:
        return latest_render_manifest(ArchiveReader(s3, bucket), organisation, before_year)
    except AuditError:
        return None


def fetch_previous_render_manifest(
    s3: S3Client, bucket: str, organisation: str, before_year: int, target: Path
) -> str | None:
    """Write that manifest to ``target`` (checked against the archive's SHA-256); its ``s3://`` address.

    None, and nothing written, when there is no readable one.
    """
    found = find_previous_render_manifest(s3, bucket, organisation, before_year)
    if found is None:
        return None
    try:
        body = ArchiveReader(s3, bucket).read_checked(found)
    except AuditError:
        return None
    write_atomic(target, body)
    return f"s3://{bucket}/{found.key}"


def previous_render_facts(
    s3: S3Client, bucket: str, organisation: str, before_year: int
) -> RenderFacts | None:
    """What the last version signed before ``before_year`` said of roles, holders and departments.

    For the Clause 5 check's comparison (``5.3.holder-changed-since-signed``): None when no render
    manifest is archived, or it cannot be read or parsed (the check then compares nothing).
    """
    found = find_previous_render_manifest(s3, bucket, organisation, before_year)
    if found is None:
        return None
    try:
        return RenderManifest.model_validate_json(ArchiveReader(s3, bucket).read_checked(found)).facts
    except (AuditError, ValidationError):
        return None
