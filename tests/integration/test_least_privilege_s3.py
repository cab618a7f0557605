"""Each process's S3 identity, against the real SeaweedFS: only the archive writer adds evidence.

The identities are the ones production uses (devstack.seaweed's actions, on the test buckets):
the web app's and the worker's main identity may read the archive but not write it, the archive
writer writes it under retention, the auditor only reads. The worker hands its archive activity
the archive writer's client (worker.build_worker): a real worker archives with the main
identity unable to.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from adapters.archive import archive_bytes
from adapters.drafts import store_input
from adapters.s3 import make_archive_s3_client, make_auditor_s3_client, make_s3_client, put_bytes
from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.seaweed import S3Identity
from documents.pdf_convert import PdfConverter
from models.archive import ArchiveInput, ArchiveItem, ArchiveResult
from tests.conftest import S3Server
from worker import build_worker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _as(settings: Settings, main: S3Identity, *, archive: S3Identity | None = None) -> Settings:
    """``settings`` with ``main`` as the process's identity and ``archive`` as its archive writer."""
    update: dict[str, object] = {
        "s3_access_key_id": main.access_key_id,
        "s3_secret_access_key": SecretStr(main.secret_access_key),
        "s3_archive_access_key_id": archive.access_key_id if archive else None,
        "s3_archive_secret_access_key": SecretStr(archive.secret_access_key) if archive else None,
    }
    return settings.model_copy(update=update)


def _refusal(action: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as refused:
        action()
    return str(refused.value.response.get("Error", {}).get("Code"))


def _archive_locked(s3: S3Client, settings: Settings, key: str) -> str:
    """Write ``key`` the way the archive activity does (COMPLIANCE retention); its version id."""
    archived = archive_bytes(
        s3,
        bucket=settings.archive_bucket,
        key=key,
        body=f"evidence {key}".encode(),
        content_type="text/plain",
        retain_until=datetime.now(UTC) + timedelta(days=1),
    )
    return archived.version_id


def test_the_web_identity_writes_drafts_and_cannot_add_to_the_archive(
    settings: Settings, s3_server: S3Server
) -> None:
    web = _as(settings, s3_server.web)
    s3 = make_s3_client(web)
    draft = put_bytes(
        s3,
        bucket=web.drafts_bucket,
        key=f"drafts/{uuid.uuid4()}.txt",
        payload=b"d",
        content_type="text/plain",
    )
    assert s3.get_object(Bucket=draft.bucket, Key=draft.key)["Body"].read() == b"d"

    key = f"least-privilege/{uuid.uuid4()}/document.pdf"
    # the archive writer's object is there to be read, and to be overwritten or held by the web app
    written = _archive_locked(make_s3_client(settings), settings, key)
    assert s3.get_object(Bucket=web.archive_bucket, Key=key)["Body"].read() == f"evidence {key}".encode()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=web.archive_bucket, Prefix=key)["Contents"]] == [key]

    assert _refusal(lambda: _archive_locked(s3, web, f"{key}.forged")) == "AccessDenied"
    assert (
        _refusal(lambda: s3.put_object(Bucket=web.archive_bucket, Key=key, Body=b"forged")) == "AccessDenied"
    )
    assert (
        _refusal(
            lambda: s3.put_object_legal_hold(Bucket=web.archive_bucket, Key=key, LegalHold={"Status": "ON"})
        )
        == "AccessDenied"
    )
    assert _refusal(lambda: s3.delete_object(Bucket=web.archive_bucket, Key=key)) == "AccessDenied"
    # without archive keys of its own, the archive client is the main identity: refused just the same
    assert (
        _refusal(lambda: _archive_locked(make_archive_s3_client(web), web, f"{key}.again")) == "AccessDenied"
    )
    versions = make_s3_client(settings).list_object_versions(Bucket=settings.archive_bucket, Prefix=key)
    assert [v["VersionId"] for v in versions.get("Versions", [])] == [written]
    assert not versions.get("DeleteMarkers")


def test_the_archive_client_is_the_archive_writer_and_the_main_identity_only_reads(
    settings: Settings, s3_server: S3Server
) -> None:
    worker = _as(settings, s3_server.worker, archive=s3_server.archive_writer)
    key = f"least-privilege/{uuid.uuid4()}/register.csv"

    version = _archive_locked(make_archive_s3_client(worker), worker, key)
    archive = make_archive_s3_client(worker)
    head = archive.head_object(Bucket=worker.archive_bucket, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    archive.put_object_legal_hold(
        Bucket=worker.archive_bucket, Key=key, VersionId=version, LegalHold={"Status": "ON"}
    )

    main = make_s3_client(worker)
    assert main.get_object(Bucket=worker.archive_bucket, Key=key)["Body"].read() == f"evidence {key}".encode()
    assert _refusal(lambda: _archive_locked(main, worker, f"{key}.forged")) == "AccessDenied"
    # the archive writer copies from the drafts, and may not change them
    assert (
        _refusal(lambda: archive.put_object(Bucket=worker.drafts_bucket, Key="drafts/x", Body=b"x"))
        == "AccessDenied"
    )


def test_the_auditor_identity_reads_the_archive_and_writes_nothing(
    settings: Settings, s3_server: S3Server
) -> None:
    key = f"least-privilege/{uuid.uuid4()}/evidence.json"
    _archive_locked(make_s3_client(settings), settings, key)
    auditor = make_auditor_s3_client(settings)
    head = auditor.head_object(Bucket=settings.archive_bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"  # verify reads the lock from what the auditor sees
    assert _refusal(lambda: _archive_locked(auditor, settings, f"{key}.forged")) == "AccessDenied"
    assert (
        _refusal(lambda: auditor.put_object(Bucket=settings.drafts_bucket, Key="drafts/a", Body=b"a"))
        == "AccessDenied"
    )


@dataclass
class ArchiveOnce:
    data: ArchiveInput
    task_queue: str  # the real worker's queue: its archive activity runs there


@workflow.defn(sandboxed=False)
class ArchiveOnceWorkflow:
    """Runs the real worker's archive activity once (no retry): the test sees its first answer."""

    @workflow.run
    async def run(self, request: ArchiveOnce) -> ArchiveResult:
        return await workflow.execute_activity(
            "archive_objects",
            request.data,
            result_type=ArchiveResult,
            task_queue=request.task_queue,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def _archive_with_the_real_worker(settings: Settings, tmp_path: Path) -> ArchiveResult:
    source = tmp_path / "register.csv"
    source.write_bytes(b"email,status\nana@example.test,acknowledged\n")
    stored = store_input(make_s3_client(settings), settings, source)
    data = ArchiveInput(
        cycle_id=f"isms-review-lp{uuid.uuid4().hex[:6]}-2026",
        organisation=f"lp{uuid.uuid4().hex[:6]}",
        year=2026,
        stage="acknowledgements",
        items=[ArchiveItem(source=stored, name="acknowledgements/register.csv")],
        retention_years=3,
    )
    client = await connect_temporal(settings)
    converter = PdfConverter()  # started on a first conversion: this test converts nothing
    try:
        async with (
            build_worker(client, settings, converter=converter, identity="least-privilege-worker"),
            Worker(
                client,
                task_queue=f"{settings.temporal_task_queue}-driver",
                workflows=[ArchiveOnceWorkflow],
                workflow_runner=UnsandboxedWorkflowRunner(),
            ),
        ):
            return await client.execute_workflow(
                ArchiveOnceWorkflow.run,
                ArchiveOnce(data=data, task_queue=settings.temporal_task_queue),
                id=f"least-privilege-{uuid.uuid4()}",
                task_queue=f"{settings.temporal_task_queue}-driver",
            )
    finally:
        converter.close()


async def test_the_worker_archives_with_the_archive_writer_while_its_main_identity_cannot(
    settings: Settings, s3_server: S3Server, tmp_path: Path
) -> None:
    separated = _as(settings, s3_server.worker, archive=s3_server.archive_writer).model_copy(
        update={"signing_dir": tmp_path / "signing"}
    )
    result = await _archive_with_the_real_worker(separated, tmp_path)
    auditor = make_auditor_s3_client(settings)
    head = auditor.head_object(
        Bucket=settings.archive_bucket, Key=result.manifest.key, VersionId=result.manifest.version_id
    )
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert [o.key.partition("/")[2] for o in result.objects] == ["2026/acknowledgements/register.csv"]

    # the same worker without the archive writer's keys: its main identity is refused the write
    main_only = separated.model_copy(
        update={"s3_archive_access_key_id": None, "s3_archive_secret_access_key": None}
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await _archive_with_the_real_worker(main_only, tmp_path)
    assert "AccessDenied" in _causes(failed.value)


def _causes(error: BaseException) -> str:
    """The messages of an error and of every error it was caused by (Temporal chains them)."""
    messages: list[str] = []
    current: BaseException | None = error
    while current is not None:
        messages.append(str(current))
        current = getattr(current, "cause", None) or current.__cause__
    return " <- ".join(messages)
