"""Archive a cycle's evidence from the drafts bucket into the Object Lock bucket, manifest last.

Not yet called by the workflows: the archive stage of the cycle (after the signature and after the
campaign closes) is wired in with the auditor's side (issue 6).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.archive import ArchiveConflictError, add_years, archive_bytes, archive_key, manifest_bytes
from core.s3 import get_file
from core.settings import Settings
from models.archive import ArchiveInput, ArchiveManifest, ArchiveResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ARCHIVE_CONFLICT = "ArchiveConflict"
NON_RETRYABLE_ERRORS = [ARCHIVE_CONFLICT, "IntegrityError"]


class ArchiveActivities:
    def __init__(self, *, settings: Settings, s3: S3Client) -> None:
        self._settings = settings
        self._s3 = s3

    @activity.defn
    def archive_objects(self, data: ArchiveInput) -> ArchiveResult:
        """Copy every item under retention (verified against its SHA-256), then the manifest.

        A retry writes nothing twice: items already archived are found by key and hash. The
        retention date is fixed by the first attempt's day, so a retry cannot lengthen or
        shorten it for the items written then.
        """
        retain_until = add_years(
            datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0), data.retention_years
        )
        bucket = self._settings.archive_bucket
        archived = []
        try:
            with tempfile.TemporaryDirectory(prefix="isms-archive-") as folder:
                for number, item in enumerate(data.items):
                    local = get_file(self._s3, item.source, Path(folder) / f"{number}")  # checks SHA-256
                    archived.append(
                        archive_bytes(
                            self._s3,
                            bucket=bucket,
                            key=archive_key(data.organisation, data.year, item.name),
                            body=local.read_bytes(),
                            content_type=item.source.content_type,
                            retain_until=retain_until,
                        )
                    )
                    activity.heartbeat(number)
            manifest = ArchiveManifest(
                cycle_id=data.cycle_id,
                organisation=data.organisation,
                year=data.year,
                stage=data.stage,
                objects=archived,
            )
            written = archive_bytes(
                self._s3,
                bucket=bucket,
                key=archive_key(data.organisation, data.year, f"manifests/{data.stage}.json"),
                body=manifest_bytes(manifest),
                content_type="application/json",
                retain_until=retain_until,
            )
        except ArchiveConflictError as exc:
            raise ApplicationError(str(exc), type=ARCHIVE_CONFLICT, non_retryable=True) from exc
        activity.logger.info("archived %d object(s) and the manifest for %s", len(archived), data.cycle_id)
        return ArchiveResult(manifest=written, objects=archived)
