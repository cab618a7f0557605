"""The campaign in runs against Temporal's real limit on a run's pending children.

A dev server of this module's own runs with ``limit.numPendingChildExecutions.error`` at 8
(2,000 by default). Started as it always was, every batch at once, a campaign of 24 batches
is refused by the server; started in waves of 4, continuing as new after each, it runs and
closes with every person in the register once. The worker, S3 and the SMTP sink are the real
ones. The slow test does the same with 2,500 batches on the server's default limit.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from adapters.s3 import ensure_archive_bucket, make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.ports import find_free_ports
from devstack.processes import spawn, stop, tail, wait_until_healthy
from devstack.temporal_server import TemporalPorts, temporal_argv, temporal_health
from documents.pdf_convert import PdfConverter
from models.campaign import Acknowledgement, CampaignInput, CampaignResult, CampaignStage, batch_id_for
from models.routing import AckLadder
from tests.campaign_runs import RUN_HISTORY_LIMIT, run_histories, started_children
from tests.conftest import S3Server, SmtpSink, _settings_for
from tests.workflows.campaign_helpers import staff_rows, start_campaign, state, wait_until
from worker import build_worker
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow

PENDING_CHILDREN_LIMIT = 8
# no reminder, digest or summary before the close: only the invitations go out
QUICK = AckLadder(
    reminders=[timedelta(hours=1)],
    manager_digest_after=timedelta(hours=2),
    summary_after=timedelta(hours=3),
    close_after=timedelta(seconds=30),
)


@pytest.fixture(scope="module")
def limited_temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dev server that refuses a run's 9th pending child; its address."""
    root = tmp_path_factory.mktemp("temporal-limited")
    grpc, http, metrics = find_free_ports(3)
    ports = TemporalPorts(grpc=grpc, ui=0, http=http, metrics=metrics)
    argv = temporal_argv(db_file=root / "temporal.db", ports=ports, ui=False)
    argv += ["--dynamic-config-value", f"limit.numPendingChildExecutions.error={PENDING_CHILDREN_LIMIT}"]
    record, process = spawn("temporal", argv, log_file=root / "temporal.log")
    try:
        wait_until_healthy("temporal", lambda: temporal_health(ports=ports), timeout=60, process=process)
    except Exception:
        stop(record, process=process)
        pytest.fail(f"Temporal dev server did not start:\n{tail(record.log_file)}")
    yield f"127.0.0.1:{grpc}"
    stop(record, process=process)


def _settings(address: str, s3_server: S3Server, smtp_sink: SmtpSink) -> Settings:
    settings = _settings_for(
        s3_server=s3_server,
        temporal_address=address,
        smtp=smtp_sink,
        temporal_task_queue=f"isms-test-{secrets.token_hex(4)}",
        archive_bucket=f"isms-archive-{secrets.token_hex(6)}",
    )
    ensure_archive_bucket(make_s3_client(settings), settings.archive_bucket)
    return settings


@pytest.fixture
async def limited(
    limited_temporal: str, s3_server: S3Server, smtp_sink: SmtpSink
) -> AsyncIterator[tuple[Client, Settings]]:
    """The real worker on the limited server (no document is rendered: LibreOffice never starts)."""
    settings = _settings(limited_temporal, s3_server, smtp_sink)
    client = await connect_temporal(settings)
    converter = PdfConverter()
    try:
        async with build_worker(client, settings, converter=converter):
            yield client, settings
    finally:
        converter.close()


def register_emails(settings: Settings, result: CampaignResult) -> list[str]:
    """Every email in the closed register, as often as it appears there."""
    stored = result.register_json
    body = make_s3_client(settings).get_object(Bucket=stored.bucket, Key=stored.key)["Body"].read()
    return [person["email"] for person in json.loads(body)["people"]]


async def check_runs(
    client: Client, handle: WorkflowHandle[AcknowledgementCampaignWorkflow, CampaignResult], batches: int
) -> list[int]:
    """Every batch started once, by one run or another; each run's history length."""
    assert handle.first_execution_run_id is not None
    histories = await run_histories(client, handle.id, handle.first_execution_run_id)
    cycle_id = handle.id.removesuffix("--campaign")
    assert started_children(histories) == [batch_id_for(cycle_id, n) for n in range(1, batches + 1)]
    lengths = [len(history.events) for history in histories]
    assert max(lengths) < RUN_HISTORY_LIMIT, lengths
    return lengths


async def acknowledge(client: Client, data: CampaignInput, batch: int, email: str) -> None:
    """``email`` acknowledges through the newest link sent to them, as the web app's Update does."""
    handle = client.get_workflow_handle(batch_id_for(data.cycle_id, batch))
    page = await handle.query(AcknowledgementBatchWorkflow.page, email)
    assert page is not None
    link_id = uuid.uuid4().hex
    await handle.execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(
            person=email,
            version_hash=data.signed.version_hash,
            link_id=link_id,
            documents=data.signed.documents,
            ip="198.51.100.9",
            user_agent="pytest",
            link_sequence=page.newest_link,
        ),
        id=f"ack-{link_id}",
    )


def batch_index(settings: Settings, cycle_id: str) -> dict[str, int]:
    """email -> batch, from the frozen directory's index in S3."""
    key = f"{settings.drafts_prefix}{cycle_id}/campaign/index.json"
    body = make_s3_client(settings).get_object(Bucket=settings.drafts_bucket, Key=key)["Body"].read()
    people: dict[str, int] = json.loads(body)["people"]
    return people


async def test_in_waves_a_campaign_of_more_batches_than_the_limit_closes_with_an_exact_register(
    limited: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = limited
    people = 48  # 24 batches of 2, in waves of 4: six runs start them
    rows = staff_rows(people, team_size=2)
    handle, data = await start_campaign(
        client, settings, tmp_path, rows, schedule=QUICK, batch_size=2, batch_wave=4
    )
    progress = await wait_until(client, data.cycle_id, lambda p: p.invited == people, within=60)
    assert progress.batches == 24  # the figures are read from batches the current run never started
    where = batch_index(settings, data.cycle_id)
    chosen = [rows[n]["email"] for n in (0, 23, 47)]
    for email in chosen:
        await acknowledge(client, data, where[email.casefold()], email)
    current = await state(client, data.cycle_id)
    assert current.runs == 6
    assert current.stage is CampaignStage.RUNNING

    result = await asyncio.wait_for(handle.result(), 120)
    emails = register_emails(settings, result)
    assert sorted(emails) == sorted(row["email"] for row in rows)  # everyone, once
    assert result.tally.total == people
    assert result.tally.acknowledged == len(chosen)
    assert len(await check_runs(client, handle, 24)) == 6


async def test_every_batch_at_once_is_refused_at_the_limit(
    limited: tuple[Client, Settings], tmp_path: Path
) -> None:
    """As a campaign started before the waves did (one wave of all 24): the server refuses the
    workflow task that starts them, again and again, and no batch starts."""
    client, settings = limited
    handle, _ = await start_campaign(
        client, settings, tmp_path, staff_rows(48, team_size=2), schedule=QUICK, batch_size=2, batch_wave=24
    )
    limit = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED
    try:
        give_up = time.monotonic() + 30
        causes: list[int] = []
        while time.monotonic() < give_up and limit not in causes:
            history = await handle.fetch_history()
            causes = [
                event.workflow_task_failed_event_attributes.cause
                for event in history.events
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]
            await asyncio.sleep(0.5)
        assert limit in causes, f"the server took {PENDING_CHILDREN_LIMIT}+ children: {causes}"
        assert not started_children([history])
        # stuck, not failed: it would retry the refused task for as long as it ran
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    finally:
        await handle.terminate("the test is over")


@pytest.fixture
async def default_limits(settings: Settings) -> AsyncIterator[tuple[Client, Settings]]:
    """The real worker on the session's dev server, whose limit is the default 2,000 children."""
    client = await connect_temporal(settings)
    converter = PdfConverter()
    try:
        async with build_worker(client, settings, converter=converter):
            yield client, settings
    finally:
        converter.close()


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_2500_batches_pass_the_default_limit_of_2000_children_with_every_run_bounded(
    default_limits: tuple[Client, Settings], tmp_path: Path
) -> None:
    """5,000 people in 2,500 batches of 2 (the default waves of 500: five runs start them)."""
    client, settings = default_limits
    people = 5000
    rows = staff_rows(people, team_size=2)
    schedule = QUICK.model_copy(update={"close_after": timedelta(minutes=5)})
    handle, _ = await start_campaign(client, settings, tmp_path, rows, schedule=schedule, batch_size=2)
    result = await asyncio.wait_for(handle.result(), 40 * 60)
    emails = register_emails(settings, result)
    assert len(emails) == people
    assert sorted(emails) == sorted(row["email"] for row in rows)  # everyone, once
    assert result.tally.total == people
    assert result.invited == people
    lengths = await check_runs(client, handle, 2500)
    assert len(lengths) == 5, lengths
    print(f"2,500 batches: {len(lengths)} runs of {lengths} events")  # noqa: T201 (-s shows the figures)
