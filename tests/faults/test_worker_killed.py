"""A worker killed with SIGKILL at four points of a cycle; new workers finish it.

Real processes throughout: `python -m worker` (each killed with its LibreOffice), the Temporal
dev server, SeaweedFS (reached through a relay that slows each request, so the archiving and
the run of emails last long enough to be interrupted), the SMTP sink. Two cycles, one test
each (they run side by side): one killed mid-render and mid-archive, whose signed version
then verifies; one killed mid-run of invitations and between acknowledgements, after which
every email arrived once (twice, with one Message-ID, only for a kill between its final dot
and its sent marker), every acknowledgement is in the register, and the archive verifies.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowHandle

from adapters.audit import ArchiveReader, verify_archive
from adapters.s3 import make_auditor_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.demo_run import demo_profile
from models.audit import Verdict
from models.campaign import batch_id_for
from models.cycle import AnnualReviewInput, Stage, cycle_id_for
from tests.conftest import SmtpSink
from tests.faults.conftest import FaultyLink, WorkerProcesses
from tests.faults.mail_window import keys_arrived, mails_within_window
from tests.workflows.campaign_helpers import acknowledge_signed
from tests.workflows.helpers import DEMO, LEAD, invited, sign, store, wait_for
from tests.workflows.test_campaign import batch_index
from workflows.annual_review import AnnualReviewWorkflow

# days in seconds, so the campaign runs to its close within the test; the reminder comes well
# after a run of invitations interrupted by a kill has resumed (20 s of heartbeat timeout) even
# on a loaded machine, so every outstanding person gets it before the close
SCHEDULES = """
acknowledgement_schedule:
  reminders: [PT55S]
  manager_digest_after: PT65S
  summary_after: PT70S
  close_after: PT80S
role_acceptance:
  reminders: [PT55S]
  escalate_after: PT65S
  close_after: PT80S
"""
PEOPLE = 12  # in scope and employed on the day of the signature (of 14 rows)


async def _activity_started(handle: WorkflowHandle, name: str, *, within: float = 120) -> None:
    """Wait until ``name`` is running on a worker (its first attempt)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        description = await handle.describe()
        for pending in description.raw_description.pending_activities:
            if (
                pending.activity_type.name == name
                and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            ):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never started on {handle.id}")


async def _until(check: Callable[[], bool], what: str, *, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


async def _retried(client: Client, workflow_id: str) -> dict[str, int]:
    """Each activity type's highest attempt number in the workflow's history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    names: dict[int, str] = {}
    attempts: dict[str, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            name = names[attributes.scheduled_event_id]
            attempts[name] = max(attempts.get(name, 0), attributes.attempt)
    return attempts


async def _start_cycle(
    settings: Settings, s3_link: FaultyLink, worker_processes: WorkerProcesses, tmp_path: Path
) -> tuple[Client, WorkflowHandle, str, str]:
    """A cycle of its own, its S3 slowed by the relay; returns the client, the cycle's handle,
    its short name and its id (no worker started yet)."""
    s3_link.delay = 0.05  # each request to S3 takes a little longer: archiving lasts seconds
    worker_processes.settings = settings.model_copy(update={"s3_endpoint_url": s3_link.url})
    client = await connect_temporal(settings)
    short_name = f"fault{secrets.token_hex(3)}"
    year = datetime.now(UTC).year
    profile = demo_profile(
        tmp_path, short_name=short_name, today=datetime.now(UTC).date(), schedules=SCHEDULES
    )
    cycle_id = cycle_id_for(short_name, year)
    handle = await client.start_workflow(
        AnnualReviewWorkflow.run,
        AnnualReviewInput(
            cycle_id=cycle_id,
            year=year,
            profile=store(settings, profile),
            staff=store(settings, DEMO / "staff.csv"),
            started_by=LEAD,
        ),
        id=cycle_id,
        task_queue=settings.temporal_task_queue,
    )
    return client, handle, short_name, cycle_id


async def _verified(settings: Settings, short_name: str) -> None:
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report = await asyncio.to_thread(verify_archive, reader, short_name, datetime.now(UTC).year)
    assert report.verdict is Verdict.PASS
    assert report.count(Verdict.WARN) == 0, [o for o in report.objects if o.verdict is Verdict.WARN]


async def test_sigkill_mid_render_and_mid_archive(
    settings: Settings, s3_link: FaultyLink, worker_processes: WorkerProcesses, tmp_path: Path
) -> None:
    client, handle, short_name, cycle_id = await _start_cycle(settings, s3_link, worker_processes, tmp_path)
    worker = worker_processes.start()
    kills: list[str] = []
    try:
        # 1. mid-render: LibreOffice is converting the drafts
        await _activity_started(handle, "render_documents")
        await asyncio.sleep(0.5)  # LibreOffice starts cold in a new worker: the render lasts seconds
        worker_processes.kill(worker)
        kills.append("render_documents")
        worker = worker_processes.start()
        status = await wait_for(handle, invited, within=180)

        # 2. mid-archive: the CEO signs; the worker dies while the signed version is archived
        await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
        await _activity_started(handle, "archive_objects", within=180)
        await asyncio.sleep(0.5)
        worker_processes.kill(worker)
        kills.append("archive_objects")
        worker = worker_processes.start()
        # the signed version's archive is done once the campaign has started
        status = await wait_for(
            handle, lambda s: s.stage is Stage.ACKNOWLEDGING and len(s.archive) == 1, within=180
        )
    except (AssertionError, TimeoutError) as exc:
        raise AssertionError(f"{exc}\nkills so far: {kills}\n{worker_processes.log_tail()}") from exc

    # the kills really landed mid-activity: each was retried on a new worker
    attempts = await _retried(client, cycle_id)
    assert attempts["render_documents"] >= 2, attempts
    assert attempts["archive_objects"] >= 2, attempts
    await _verified(settings, short_name)  # the signed version, sealed and archived once
    assert len(kills) == 2
    await handle.terminate("the test has what it needs")  # its campaign would run on for a minute


async def test_sigkill_mid_email_run_and_between_acknowledgements(
    settings: Settings,
    s3_link: FaultyLink,
    worker_processes: WorkerProcesses,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    client, handle, short_name, cycle_id = await _start_cycle(settings, s3_link, worker_processes, tmp_path)
    worker = worker_processes.start()
    kills: list[str] = []
    try:
        status = await wait_for(handle, invited, within=180)
        await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))

        # 1. mid-email run: a few invitations are out, the rest are not
        def invitations() -> int:
            return sum(
                key.endswith("/invitation") and key.startswith("ack/")
                for key in keys_arrived(smtp_sink, cycle_id)
            )

        await _until(lambda: invitations() >= 3, "the first staff invitations", within=180)
        worker_processes.kill(worker)
        sent_at_kill = invitations()
        kills.append(f"send_campaign_mail after {sent_at_kill} of {PEOPLE} invitations")
        worker = worker_processes.start()
        await _until(lambda: invitations() == PEOPLE, "every invitation", within=120)

        # 2. acknowledgements accepted before a kill are kept; those after it count too
        status = await wait_for(handle, lambda s: s.signed is not None and s.stage is Stage.ACKNOWLEDGING)
        assert status.signed is not None
        where = batch_index(settings, cycle_id)
        people = sorted(where)
        acknowledgers = people[:8]
        for number, email in enumerate(acknowledgers):
            if number == 5:
                worker_processes.kill(worker)
                kills.append("between acknowledgements (5 recorded)")
                worker = worker_processes.start()
            await acknowledge_signed(client, cycle_id, where[email], email, status.signed)
        status = await wait_for(handle, lambda s: s.stage is Stage.CLOSED and len(s.archive) == 2, within=240)
    except (AssertionError, TimeoutError) as exc:
        raise AssertionError(f"{exc}\nkills so far: {kills}\n{worker_processes.log_tail()}") from exc
    assert status.campaign is not None
    assert status.campaign.tally.acknowledged == len(acknowledgers), "an acknowledgement was lost"
    assert status.campaign.tally.total == PEOPLE

    # every email arrived exactly once, or twice with one Message-ID when the kill landed between
    # its final dot and its sent marker (mails_within_window fails on any other repeat)
    received = mails_within_window(settings, smtp_sink, cycle_id)
    assert sum(k.startswith("ack/") and k.endswith("/invitation") for k in received) == PEOPLE
    assert {"round-1/invitation", "round-1/signed", "ack/closed"} <= set(received)
    reminded = {k.split("/")[1] for k in received if k.endswith("/reminder-1")}
    assert set(people) - set(acknowledgers) <= reminded, "someone outstanding missed the reminder"

    # the run of emails was interrupted and resumed on a new worker
    batch_attempts = await _retried(client, batch_id_for(cycle_id, where[people[0]]))
    assert batch_attempts["send_campaign_mail"] >= 2 or sent_at_kill == PEOPLE, batch_attempts
    await _verified(settings, short_name)
    assert len(kills) == 2
