"""Outages of the services a cycle depends on, with real processes: SMTP down, the Temporal dev
server restarted on its SQLite file, S3 down in the middle of archiving.

The cycle runs on its own Temporal dev server (so restarting it disturbs no other test), a
worker in this process, the real SeaweedFS behind a relay that can go down, and an SMTP sink on
a port of its own that is stopped and started again.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle

from adapters.audit import ArchiveReader, verify_archive
from adapters.s3 import make_auditor_s3_client, make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.demo_run import demo_profile
from devstack.mailsink import start_sink
from devstack.ports import find_free_ports
from devstack.processes import ProcessRecord, spawn, stop, tail, wait_until_healthy
from devstack.temporal_server import TemporalPorts, temporal_argv, temporal_health
from documents.pdf_convert import PdfConverter
from models.audit import Verdict
from models.cycle import AnnualReviewInput, Stage, cycle_id_for
from tests.conftest import SmtpSink
from tests.faults.conftest import FaultyLink
from tests.workflows.helpers import DEMO, LEAD, current_status, invited, mails, sign, store, wait_for
from worker import build_worker
from workflows.annual_review import AnnualReviewWorkflow


@dataclass
class OwnTemporal:
    """A Temporal dev server of this test's own, restartable on the same SQLite file and ports."""

    argv: list[str]
    ports: TemporalPorts
    log: Path
    record: ProcessRecord | None = None

    def start(self) -> None:
        record, process = spawn("temporal", self.argv, log_file=self.log)
        self.record = record
        self._process = process
        wait_until_healthy("temporal", lambda: temporal_health(ports=self.ports), timeout=60, process=process)

    def stop(self) -> None:
        if self.record is not None:
            stop(self.record, process=self._process)
            self.record = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports.grpc}"


@pytest.fixture
def own_temporal(tmp_path: Path) -> Iterator[OwnTemporal]:
    grpc, http, metrics = find_free_ports(3)
    ports = TemporalPorts(grpc=grpc, ui=0, http=http, metrics=metrics)
    server = OwnTemporal(
        temporal_argv(db_file=tmp_path / "temporal.db", ports=ports, ui=False),
        ports,
        tmp_path / "temporal.log",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def outage_settings(
    settings: Settings, own_temporal: OwnTemporal, s3_link: FaultyLink, tmp_path: Path
) -> tuple[Settings, SmtpSink]:
    (smtp_port,) = find_free_ports(1)
    sink = SmtpSink(host="127.0.0.1", port=smtp_port, maildir=tmp_path / "mailbox")
    return (
        settings.model_copy(
            update={
                "temporal_address": own_temporal.address,
                "smtp_port": smtp_port,
                "s3_endpoint_url": s3_link.url,
            }
        ),
        sink,
    )


async def _pending(handle: WorkflowHandle, name: str) -> tuple[int, str] | None:
    """(attempt, last failure) of the pending activity ``name``, if it is pending."""
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == name:
            return pending.attempt, pending.last_failure.message
    return None


async def _until_pending(
    handle: WorkflowHandle, name: str, check: object, what: str, within: float = 120
) -> None:
    deadline = time.monotonic() + within
    while True:
        found = await _pending(handle, name)
        if found is not None and check(found):  # type: ignore[operator]
            return
        assert time.monotonic() < deadline, f"gave up waiting for {what}: {found}"
        await asyncio.sleep(0.1)


async def test_smtp_down_temporal_restarted_and_s3_down_mid_archive(
    outage_settings: tuple[Settings, SmtpSink],
    own_temporal: OwnTemporal,
    s3_link: FaultyLink,
    pdf_converter: PdfConverter,
    tmp_path: Path,
) -> None:
    settings, sink = outage_settings
    # this process's own S3 calls go straight to the server: the relay runs on this event loop
    direct = settings.model_copy(update={"s3_endpoint_url": s3_link.target_url})
    client = await connect_temporal(settings)
    short_name = f"outage{secrets.token_hex(3)}"
    year = datetime.now(UTC).year
    cycle_id = cycle_id_for(short_name, year)
    profile = demo_profile(tmp_path, short_name=short_name, today=datetime.now(UTC).date())
    controller = None
    try:
        async with build_worker(client, settings, converter=pdf_converter):
            # SMTP is down from the start: the CEO's invitation waits for it
            handle = await client.start_workflow(
                AnnualReviewWorkflow.run,
                AnnualReviewInput(
                    cycle_id=cycle_id,
                    year=year,
                    profile=store(direct, profile),
                    staff=store(direct, DEMO / "staff.csv"),
                    started_by=LEAD,
                ),
                id=cycle_id,
                task_queue=settings.temporal_task_queue,
            )
            await _until_pending(
                handle,
                "send_email",
                lambda p: p[0] >= 2 and "refused" in p[1].lower(),
                "a refused SMTP connection",
            )
            assert mails(sink, cycle_id) == {}
            controller = start_sink(sink.maildir, host=sink.host, port=sink.port)  # SMTP is back
            status = await wait_for(handle, invited, within=120)
            assert list(mails(sink, cycle_id)) == ["round-1/invitation"]  # once

            # the Temporal server restarts on its SQLite file: the cycle is where it was
            own_temporal.stop()
            own_temporal.start()
            after = await wait_for(handle, invited, within=60)
            assert (after.stage, after.version_hash, len(after.events)) == (
                Stage.AWAITING_SIGNATURE,
                status.version_hash,
                len(status.events),
            )

            # S3 goes down while the signed version is being archived, and comes back
            s3_link.delay = 0.05
            await handle.execute_update(AnnualReviewWorkflow.decide, sign(after))
            await _until_pending(handle, "archive_objects", lambda p: True, "archiving", within=180)
            await asyncio.sleep(0.4)
            s3_link.down()
            await _until_pending(handle, "archive_objects", lambda p: p[0] >= 2, "a failed archiving attempt")
            admin = make_s3_client(direct)
            listed = admin.list_objects_v2(Bucket=settings.archive_bucket, Prefix=f"{short_name}/")
            written = [o["Key"] for o in listed.get("Contents", [])]
            assert not any("/manifests/" in key for key in written), "a manifest before its objects"
            await asyncio.sleep(8)
            s3_link.up()
            final = await wait_for(handle, lambda s: len(s.archive) == 1, within=240)
            assert final.stage in (Stage.ACKNOWLEDGING, Stage.SIGNED)
    finally:
        if controller is not None:
            controller.stop()

    reader = ArchiveReader(make_auditor_s3_client(direct), settings.archive_bucket)
    report = await asyncio.to_thread(verify_archive, reader, short_name, year)
    assert report.verdict is Verdict.PASS
    assert report.count(Verdict.WARN) == 0  # nothing half-written: every object is in the manifest
    for obj in final.archive[0].objects:  # one version per key: the retry wrote nothing twice
        versions = admin.list_object_versions(Bucket=settings.archive_bucket, Prefix=obj.key)["Versions"]
        assert [v["VersionId"] for v in versions if v["Key"] == obj.key] == [obj.version_id]
    assert list(mails(sink, cycle_id)).count("round-1/invitation") == 1
    _ = current_status, tail  # kept for failure diagnosis in interactive runs
