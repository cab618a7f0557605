"""A worker-side check of the services the cycle depends on."""

from __future__ import annotations

import asyncio
import smtplib
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from temporalio import activity

from adapters.s3 import ObjectLockNotEnabledError, verify_archive_bucket
from adapters.smtp import open_smtp
from core.settings import Settings
from models.health import CheckDependenciesInput, CheckDependenciesResult, DependencyCheck

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class HealthActivities:
    """Checks run from the worker, so they see what the cycle's activities will see."""

    def __init__(self, *, settings: Settings, s3: S3Client, worker_identity: str) -> None:
        self._settings = settings
        self._s3 = s3
        self._worker_identity = worker_identity

    def _check_archive(self) -> DependencyCheck:
        bucket = self._settings.archive_bucket
        try:
            verify_archive_bucket(self._s3, bucket)
        except ObjectLockNotEnabledError as exc:
            return DependencyCheck(name="archive", ok=False, detail=str(exc))
        except (BotoCoreError, ClientError) as exc:
            return DependencyCheck(name="archive", ok=False, detail=f"S3 error: {exc}")
        return DependencyCheck(name="archive", ok=True, detail=f"{bucket} has Object Lock")

    def _check_smtp(self) -> DependencyCheck:
        where = f"{self._settings.smtp_host}:{self._settings.smtp_port}"
        try:
            with open_smtp(self._settings, timeout=5) as smtp:
                code, _ = smtp.noop()
        except (OSError, smtplib.SMTPException) as exc:
            return DependencyCheck(name="smtp", ok=False, detail=f"{where}: {exc}")
        return DependencyCheck(name="smtp", ok=code == 250, detail=f"{where} answered {code}")

    @activity.defn
    async def check_dependencies(self, _input: CheckDependenciesInput) -> CheckDependenciesResult:
        """Check the archive bucket's Object Lock and the SMTP relay; never raises for them."""
        archive, smtp = await asyncio.gather(
            asyncio.to_thread(self._check_archive), asyncio.to_thread(self._check_smtp)
        )
        return CheckDependenciesResult(worker_identity=self._worker_identity, checks=[archive, smtp])
