"""An acknowledgement campaign for N people on the local stack, against the raw SMTP rate of its
mail server and the raw Temporal signal and update rates of its Temporal server, all measured
in the same run.

    .venv/bin/python bench/campaign.py --n 1000 10000 --concurrency 32 --json campaign.json

The whole local stack (``isms dev up``: Temporal dev server on SQLite with the WAL pragmas,
SeaweedFS with Object Lock, the SMTP sink, the worker and the web app, each its own process)
is started on free ports in ``--data-dir`` (default a new temporary directory, removed
afterwards) and brought down at the end, also on Ctrl-C or failure. ISMS_ variables of the
calling shell are ignored: every process reads the stack's own settings file. With
``--workers K``, K - 1 more worker processes (``python -m worker`` on the stack's worker
settings file) poll the same task queue; Temporal spreads the batches over them.

For each N, in order:

1. Dispatch: a synthetic directory of N people (teams of 8) and a signed version are stored in
   S3, ``AcknowledgementCampaignWorkflow`` is started with the default ladder (in days, so no
   reminder fires during the run), and the clock runs until the batches report all N people
   invited (``adapters.campaign.campaign_progress``, polled every ``--poll`` seconds, the resolution,
   once the SMTP sink has kept N new .eml files: they are counted and reported too).
   Invitations/s = N / that time.
2. Acknowledgements: a ``--ack-fraction`` of the people (a seeded random sample, so requests
   spread over the batches as people's do) open their link and confirm through the real HTTP
   endpoint: ``GET /ack/{token}`` (the page, its CSRF cookie and hidden field), then
   ``POST /ack/{token}``, from ``--concurrency`` clients sharing one keep-alive HTTP client
   (aiohttp, no cookie jar: each request carries its own CSRF cookie). Links are minted up front
   exactly as the mail activity mints them (role STAFF, the batch workflow id, the person, the
   version hash). Acks/s = recorded acknowledgements / the wall time of all the requests.
3. Verified: every person whose POST was answered "recorded" is read back from their batch
   (one ``batch_view`` query per batch: it holds every person of the batch): the record is that
   person's, acknowledged at the time the receipt page showed, with the signed version's hash;
   and the campaign's figures count exactly that many acknowledged, so nobody is recorded twice
   or without a receipt. Any difference fails the run (after the baselines, so the numbers are
   still reported).
4. Raw SMTP baseline: ``min(N, --smtp-messages)`` pre-built messages of about 6 kB sent by this
   process to the stack's SMTP sink over ``--smtp-connections`` connection(s), to recipients
   of ``smtp-baseline.invalid`` (after the dispatch, so they are not counted as invitations).
   Invitations/s ÷ raw SMTP/s is the dispatch's figure.
5. Raw Temporal baselines, on a task queue of their own served by a worker in this process:
   ``--signals`` signals from as many concurrent senders to a trivial workflow (timed until
   the workflow has received them all), and ``--updates`` updates to trivial workflows, 8 in
   flight per workflow (the web app's own limit; the server refuses a workflow's 11th) across
   ``concurrency / 8`` workflows. acks/s ÷ raw signals/s is THE figure; an acknowledgement is
   an update, so acks/s ÷ raw updates/s is the second.
6. Memory and CPU: the resident set of the stack's worker(s) (``python -m worker``) and of the
   other processes is sampled from /proc while 1 and 2 run (the peak is reported), and the CPU
   seconds each process spent in each phase show where the time went (``bench`` is this
   process: the HTTP clients, the senders of the baselines and their worker); the CPU per
   acknowledgement and per invitation is each process's CPU in that phase over the count.

The raw rates are not a ceiling the campaign should reach: one acknowledgement is two HTTP
round trips, two page queries and an update, and every process of the stack competes for the
same cores (the CPU lines say how many there are).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
from smtp_baseline import raw_smtp_rate
from temporalio import workflow
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from adapters.campaign import QUERY_RETRY, QUERY_TIMEOUT, campaign_progress, campaign_state
from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from adapters.workflow_client import UPDATES_IN_FLIGHT_PER_WORKFLOW, BatchHandle, retry_rpc
from core.settings import ENV_PREFIX, Settings, load_settings
from core.tokens import issue_link
from devstack.ports import GRPC_OFFSET, port_is_free
from devstack.processes import ProcessRecord, is_running, spawn, stop
from devstack.stack import COMPONENTS, DevPorts, DevStack, StackError
from devstack.synthetic import staff_csv, staff_rows, tiny_pdf
from models.ack_group import BatchView
from models.campaign import CampaignInput, CampaignProgress, SignedVersion, batch_id_for, signed_version_hash
from models.links import LinkRole
from models.routing import AckLadder, Person
from models.storage import StoredObject
from workflows.acknowledgement import AcknowledgementCampaignWorkflow

LEAD = Person(name="Ravi Chandran", email="ravi.chandran@larkspur.example", title="ISMS Manager")
CEO = Person(name="Eleanor Marsh", email="eleanor.marsh@larkspur.example", title="Chief Executive")
TEAM_SIZE = 8
CSRF_COOKIE = "isms_csrf"  # web.security.CSRF_COOKIE
# the receipt page's "Recorded at" (web.acknowledge._TIME_FORMAT), compared with the register's
RECEIPT_TIME_FORMAT = "%d %B %Y, %H:%M:%S UTC"
RECORDED_AT = re.compile(r"<th>Recorded at</th><td>([^<]+)</td>")
DOCUMENTS = ("information-security-policy.docx", "isms-roles-and-responsibilities.docx")
USER_AGENT = "isms-bench-campaign/1.0 (like a browser)"
RECORDED = "Thank you: your acknowledgement is recorded"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
SEAWEED_PORTS = ("s3", "seaweed_master", "seaweed_volume", "seaweed_filer")
PORT_RANGE = (20000, 22700)  # the stack's ports; SeaweedFS's gRPC twins (+10000) stay below 32768
# what one run may take in its life: 10,000 signals (history.maximumSignalsPerExecution) and
# 2,000 updates (history.maxTotalUpdates); a margin below each
SIGNALS_PER_WORKFLOW_MAX = 9000
UPDATES_PER_WORKFLOW_MAX = 1800
STACK_START_TIMEOUT = 180.0
DISPATCH_STALL_SECONDS = 600.0
# a query a busy worker did not answer in time: ask again
TRANSIENT = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
MAILBOX_QUIET_SECONDS = 60.0  # no new email for this long: ask the batches why
VERIFY_CONCURRENCY = 16  # batch_view queries in flight while verifying (adapters.campaign's own bound)
WORKER_START_TIMEOUT = 120.0


# ---------------------------------------------------------------------------------------
# the raw baselines: trivial workflows, no sandbox (nothing to protect, and this is __main__)


@workflow.defn(name="BenchSignalSink", sandboxed=False)
class SignalSinkWorkflow:
    """Counts ``ping`` signals; returns when ``expected`` have arrived."""

    def __init__(self) -> None:
        self._received = 0

    @workflow.run
    async def run(self, expected: int) -> int:
        await workflow.wait_condition(lambda: self._received >= expected)
        return self._received

    @workflow.signal
    def ping(self, _sequence: int) -> None:
        self._received += 1


@workflow.defn(name="BenchUpdateSink", sandboxed=False)
class UpdateSinkWorkflow:
    """Counts ``bump`` updates (each answered with the count); returns when ``expected`` have."""

    def __init__(self) -> None:
        self._received = 0

    @workflow.run
    async def run(self, expected: int) -> int:
        await workflow.wait_condition(lambda: self._received >= expected)
        return self._received

    @workflow.update
    def bump(self, _sequence: int) -> int:
        self._received += 1
        return self._received


# ---------------------------------------------------------------------------------------
# results


@dataclass
class Latency:
    median_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        if not seconds:
            return cls()
        ordered = sorted(seconds)
        p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
        return cls(statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000)

    def __str__(self) -> str:
        return f"median {self.median_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, max {self.max_ms:.0f} ms"


@dataclass
class RunResult:
    n: int
    cycle_id: str = ""
    batches: int = 0
    dispatch_seconds: float | None = None
    freeze_seconds: float | None = None  # until the batches were known (directory frozen)
    invitations_per_second: float | None = None
    emails: int = 0
    acks_requested: int = 0
    acks_recorded: int = 0
    ack_failures: dict[str, int] = field(default_factory=dict)
    ack_seconds: float | None = None
    acks_per_second: float | None = None
    acknowledged_in_figures: int | None = None
    verified: bool | None = None  # every recorded acknowledgement found in the register, once
    verify_problems: list[str] = field(default_factory=list)  # the first few, and a count
    verify_seconds: float | None = None
    get_latency: Latency = field(default_factory=Latency)
    post_latency: Latency = field(default_factory=Latency)
    raw_smtp_messages: int = 0
    raw_smtp_connections: int = 0
    raw_smtp_per_second: float | None = None
    ratio_invitations_raw_smtp: float | None = None
    raw_signals: int = 0
    raw_signal_workflows: int = 0
    raw_signals_accepted_per_second: float = 0.0  # every signal RPC answered
    raw_signals_per_second: float | None = None  # the workflows received them all
    raw_updates: int = 0
    raw_update_workflows: int = 0
    raw_updates_per_second: float | None = None
    ratio_acks_raw_signals: float | None = None
    ratio_acks_raw_updates: float | None = None
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # sampled during dispatch and acks
    worker_hwm_mb: float | None = None  # the worker's lifetime high-water mark (VmHWM)
    worker_hwm_mb_each: dict[str, float] = field(default_factory=dict)  # with --workers > 1
    cpu_seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> process -> s
    wall_seconds: dict[str, float] = field(default_factory=dict)  # phase -> s
    cpu_ms_per_ack: dict[str, float] = field(default_factory=dict)  # process -> ms
    cpu_ms_per_invitation: dict[str, float] = field(default_factory=dict)  # process -> ms

    @property
    def worker_peak_rss_mb(self) -> float | None:
        """The largest peak of the worker processes (one unless --workers)."""
        peaks = self.worker_peaks_mb()
        return max(peaks.values()) if peaks else None

    def worker_peaks_mb(self) -> dict[str, float]:
        return {name: mb for name, mb in self.peak_rss_mb.items() if is_worker(name)}


def is_worker(name: str) -> bool:
    """``worker`` (the stack's) and ``worker-2``, ``worker-3``, ... (the bench's extra ones)."""
    return name == "worker" or name.startswith("worker-")


class BenchError(Exception):
    """The campaign did something the benchmark cannot accept (wrong figures, a stall)."""


# ---------------------------------------------------------------------------------------
# processes: memory and CPU from /proc

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, field_name: str) -> int | None:
    """A ``VmRSS``-style line of /proc/<pid>/status in kB, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds the process has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


class ProcessWatch:
    """The stack's processes (and this one): peak RSS sampled in the background, CPU by phase."""

    def __init__(self, pids: dict[str, int], *, interval: float = 0.25) -> None:
        self.pids = pids
        self.interval = interval
        self.peak_kb: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            rss = _status_kb(pid, "VmRSS")
            if rss is not None and rss > self.peak_kb.get(name, 0):
                self.peak_kb[name] = rss

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self.peak_kb = {}
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, float]:
        """Stop sampling; the peak RSS of each process in MB since :meth:`start`."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            self._sample()
        return {name: kb / 1024 for name, kb in self.peak_kb.items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process, and the machine's busy seconds as ``machine``."""
        found = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        used = {name: seconds for name, seconds in found.items() if seconds is not None}
        used["machine"] = machine_busy_seconds()
        return used

    def high_water_mb(self, name: str) -> float | None:
        kb = _status_kb(self.pids[name], "VmHWM")
        return None if kb is None else kb / 1024


class Phase:
    """Wall and CPU seconds of one phase, recorded into ``result`` when it ends."""

    def __init__(self, name: str, result: RunResult, watch: ProcessWatch) -> None:
        self.name, self.result, self.watch = name, result, watch
        self.started = 0.0
        self.cpu_before: dict[str, float] = {}

    def __enter__(self) -> Phase:
        self.started = time.perf_counter()
        self.cpu_before = self.watch.cpu()
        return self

    def __exit__(self, *_: object) -> None:
        after = self.watch.cpu()
        self.result.wall_seconds[self.name] = time.perf_counter() - self.started
        used = {name: after[name] - self.cpu_before[name] for name in after if name in self.cpu_before}
        machine = used.pop("machine")
        # anything else running on the machine (another test run, a build) skews the figures
        used["others"] = max(0.0, machine - sum(used.values()))
        self.result.cpu_seconds[self.name] = used


def describe_cpu(result: RunResult, phase: str) -> str:
    wall = result.wall_seconds.get(phase, 0.0)
    used = result.cpu_seconds.get(phase, {})
    ours = {name: seconds for name, seconds in used.items() if name != "others"}
    parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(ours.items(), key=lambda i: -i[1]))
    busy = sum(ours.values()) / wall if wall else 0.0
    others = used.get("others", 0.0) / wall if wall else 0.0
    return (
        f"{wall:.1f} s wall; CPU s {parts} (= {busy:.2f} of {os.cpu_count()} cores busy; "
        f"other processes on the machine {others:.2f} cores)"
    )


def cpu_ms_each(result: RunResult, phase: str, count: int) -> dict[str, float]:
    """Each process's CPU in ``phase`` per unit of work (an acknowledgement, an invitation), in ms."""
    if count <= 0:
        return {}
    used = result.cpu_seconds.get(phase, {})
    return {name: seconds * 1000 / count for name, seconds in used.items() if name != "others"}


def describe_ms(each: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(each.items(), key=lambda i: -i[1]))
    return f"{sum(each.values()):.1f} ms ({parts})" if each else "-"


# ---------------------------------------------------------------------------------------
# the stack


def free_dev_ports() -> dict[str, int]:
    """Free ports for every component, below the kernel's ephemeral range (32768 and up).

    SeaweedFS listens on each of its ports + 10000 too; an ephemeral port would soon be taken
    by some outgoing connection of the servers starting before it, so none is used.
    """
    names = list(DevPorts.model_fields)
    for _ in range(200):
        first = PORT_RANGE[0] + secrets.randbelow(PORT_RANGE[1] - PORT_RANGE[0] - len(names))
        chosen = dict(zip(names, range(first, first + len(names)), strict=True))
        wanted = set(chosen.values()) | {chosen[name] + GRPC_OFFSET for name in SEAWEED_PORTS}
        if all(port_is_free(port) for port in wanted):
            return chosen
    raise RuntimeError("could not find free ports for the stack")


def start_stack(stack: DevStack) -> None:
    overrides = free_dev_ports() if stack.load_state() is None else None
    started = time.perf_counter()
    stack.up(port_overrides=overrides, timeout=STACK_START_TIMEOUT, on_event=lambda line: print(f"  {line}"))
    print(f"stack up in {time.perf_counter() - started:.1f} s")


def stack_pids(stack: DevStack) -> dict[str, int]:
    state = stack.load_state()
    assert state is not None
    pids: dict[str, int] = {name: state.processes[name].pid for name in COMPONENTS if name in state.processes}
    pids["bench"] = os.getpid()
    return pids


@dataclass
class ExtraWorker:
    """A worker process the bench started beside the stack's own (``--workers``)."""

    name: str
    record: ProcessRecord
    process: subprocess.Popen[bytes]


def worker_env(stack: DevStack) -> dict[str, str]:
    """The environment the stack gives its worker: no ISMS_ variable, its own settings file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    env.setdefault("PYTHONUNBUFFERED", "1")
    env[f"{ENV_PREFIX}SETTINGS_FILE"] = str(stack.process_settings_file("worker"))
    env[f"{ENV_PREFIX}DATA_DIR"] = str(stack.data_dir)
    return env


async def workflow_pollers(client: Client, settings: Settings) -> set[str]:
    """The identities polling the stack's task queue for workflow tasks (seen in the last minutes)."""
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.temporal_task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {poller.identity for poller in answer.pollers}


async def start_extra_workers(
    stack: DevStack, client: Client, settings: Settings, count: int, started: list[ExtraWorker]
) -> None:
    """Start ``count`` more workers; return once each polls the task queue (``started`` is
    filled as they start, so the caller stops them whatever happens here)."""
    for number in range(2, count + 2):
        name = f"worker-{number}"
        record, process = spawn(
            name,
            [sys.executable, "-m", "worker"],
            log_file=stack.logs_dir / f"{name}.log",
            env=worker_env(stack),
        )
        started.append(ExtraWorker(name, record, process))
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    waiting = {worker.name: worker for worker in started}
    while waiting:
        pollers = await workflow_pollers(client, settings)
        for worker in list(waiting.values()):
            # worker.worker_identity(): isms-worker@<host>:<pid>
            if any(identity.endswith(f":{worker.record.pid}") for identity in pollers):
                print(f"  {worker.name}: polling (pid {worker.record.pid})")
                del waiting[worker.name]
            elif worker.process.poll() is not None:
                raise StackError(
                    [
                        f"{worker.name} exited with code {worker.process.returncode}",
                        f"log: {worker.record.log_file}",
                    ]
                )
        if waiting and time.monotonic() > deadline:
            raise StackError([f"{', '.join(waiting)} did not poll within {WORKER_START_TIMEOUT:.0f} s"])
        if waiting:
            await asyncio.sleep(0.5)


def stop_extra_workers(workers: list[ExtraWorker]) -> None:
    for worker in reversed(workers):
        if is_running(worker.record):
            print(f"  {worker.name}: {stop(worker.record, grace_seconds=40.0, process=worker.process)}")
        else:
            worker.process.poll()


def count_emails(mailbox: Path) -> int:
    """The messages the SMTP sink kept (one .eml each; hidden names are still being written)."""
    if not mailbox.is_dir():
        return 0
    with os.scandir(mailbox) as entries:
        return sum(1 for entry in entries if entry.name.endswith(".eml") and not entry.name.startswith("."))


# ---------------------------------------------------------------------------------------
# the campaign


@dataclass
class People:
    emails: list[str]
    csv_bytes: bytes


def synthetic_people(count: int) -> People:
    """``count`` people in scope, in teams of 8 under managers who are people too."""
    rows = staff_rows(count, team_size=TEAM_SIZE)
    return People(emails=[row["email"] for row in rows], csv_bytes=staff_csv(rows))


def store_bytes(settings: Settings, folder: Path, name: str, payload: bytes) -> StoredObject:
    path = folder / name
    path.write_bytes(payload)
    return store_input(make_s3_client(settings), settings, path)


def campaign_input(settings: Settings, folder: Path, people: People, *, batch_size: int) -> CampaignInput:
    """A campaign over ``people`` for a fresh cycle id, its inputs stored in the drafts bucket."""
    cycle_id = f"isms-review-bench-{uuid.uuid4().hex[:8]}"
    pdfs = {
        name: store_bytes(settings, folder, name.replace(".docx", ".pdf"), tiny_pdf(f"{name} {cycle_id}"))
        for name in DOCUMENTS
    }
    documents = {name: pdf.sha256 for name, pdf in pdfs.items()}
    now = datetime.now(UTC)
    return CampaignInput(
        cycle_id=cycle_id,
        organisation="Larkspur Analytics Ltd",
        signed=SignedVersion(
            version="3.0", version_hash=signed_version_hash(documents), documents=documents, pdfs=pdfs
        ),
        staff=store_bytes(settings, folder, f"staff-{cycle_id}.csv", people.csv_bytes),
        lead=LEAD,
        signer=CEO,
        schedule=AckLadder(),  # in days: no reminder, digest or summary during the bench
        cycle_started_at=now - timedelta(days=3),
        signed_at=now,
        batch_size=batch_size,
    )


async def figures(client: Client, cycle_id: str) -> CampaignProgress | None:
    """The campaign's figures; None when a busy worker missed a query deadline (ask again)."""
    try:
        return await campaign_progress(client, cycle_id)
    except RPCError as exc:
        if exc.status in TRANSIENT:
            return None
        raise


async def dispatch(
    client: Client,
    settings: Settings,
    data: CampaignInput,
    result: RunResult,
    *,
    mailbox: Path,
    options: Options,
) -> None:
    """Start the campaign and wait until the batches report every person invited.

    Until the mailbox holds N new messages, progress is followed there (free), not by querying
    every batch each time: at 100,000 people that would be 400 queries a poll, competing with
    the dispatch it measures. Then the batches are asked until they all say so.
    """
    n, poll, every = result.n, options.poll, options.progress_every
    emails_before = count_emails(mailbox)
    started = time.perf_counter()
    await client.start_workflow(
        AcknowledgementCampaignWorkflow.run,
        data,
        id=f"{data.cycle_id}--campaign",
        task_queue=settings.temporal_task_queue,
    )
    last_print = started
    moved_at, last_sent, batches = started, -1, 0
    while True:
        now = time.perf_counter()
        if not batches:
            try:
                state = await campaign_state(client, data.cycle_id)
            except RPCError as exc:
                if exc.status not in TRANSIENT:
                    raise
                state = None
            batches = state.batches if state is not None else 0
            if batches:
                result.freeze_seconds = time.perf_counter() - started
        sent = count_emails(mailbox) - emails_before
        if sent != last_sent:
            moved_at, last_sent = now, sent
        if sent >= n or now - moved_at > MAILBOX_QUIET_SECONDS:
            break
        if now - last_print >= every:
            elapsed = now - started
            print(
                f"  dispatch N={n}: {elapsed:6.1f} s  batches {batches:4d}  "
                f"emails sent {sent:7d}/{n}  ({sent / elapsed:6.1f}/s)"
            )
            last_print = now
        await asyncio.sleep(poll)

    moved_at, last_invited = time.perf_counter(), -1
    while True:
        progress = await figures(client, data.cycle_id)
        now = time.perf_counter()
        if progress is not None:
            if progress.invited != last_invited:
                moved_at, last_invited = now, progress.invited
            if progress.batches and progress.invited >= n:
                result.batches = progress.batches
                break
            if now - last_print >= every:
                elapsed = now - started
                print(
                    f"  dispatch N={n}: {elapsed:6.1f} s  batches {progress.batches:4d}  "
                    f"invited {progress.invited:7d}/{n}  ({progress.invited / elapsed:6.1f}/s)"
                )
                last_print = now
        if now - moved_at > DISPATCH_STALL_SECONDS:
            raise BenchError(
                f"dispatch stalled: {last_invited} of {n} invited, "
                f"nothing new for {DISPATCH_STALL_SECONDS:.0f} s"
            )
        await asyncio.sleep(poll)
    result.dispatch_seconds = time.perf_counter() - started
    result.invitations_per_second = n / result.dispatch_seconds
    result.emails = count_emails(mailbox) - emails_before


def read_index(settings: Settings, cycle_id: str) -> dict[str, int]:
    """The frozen index: casefolded email -> batch number."""
    key = f"{settings.drafts_prefix}{cycle_id}/campaign/index.json"
    body = make_s3_client(settings).get_object(Bucket=settings.drafts_bucket, Key=key)["Body"].read()
    people: dict[str, int] = json.loads(body)["people"]
    return people


def mint_links(
    settings: Settings, data: CampaignInput, emails: list[str], where: dict[str, int]
) -> dict[str, str]:
    """Each person's token, as ``activities.mail.link_context`` mints it for the invitation."""
    secret = settings.link_secret.get_secret_value()
    ttl = timedelta(days=settings.link_ttl_days)
    now = datetime.now(UTC)
    return {
        email: issue_link(
            secret,
            cycle_id=batch_id_for(data.cycle_id, where[email.strip().casefold()]),
            person=email,
            role=LinkRole.STAFF,
            version_hash=data.signed.version_hash,
            ttl=ttl,
            now=now,
        )
        for email in emails
    }


@dataclass
class AckTally:
    recorded: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    get_seconds: list[float] = field(default_factory=list)
    post_seconds: list[float] = field(default_factory=list)
    # person -> the "Recorded at" their receipt page showed
    receipts: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.recorded + sum(self.failures.values())


async def acknowledge_one(
    http: aiohttp.ClientSession, base_url: str, person: str, token: str, tally: AckTally
) -> None:
    """Open the page (CSRF cookie and field), then confirm, as a browser does.

    The session keeps no cookies (it is shared by every client): the page's CSRF cookie is
    sent back by hand with the form, as the browser that opened the page would.
    """
    url = f"{base_url}/ack/{token}"
    started = time.perf_counter()
    async with http.get(url) as page:
        text = await page.text()
        status, cookie = page.status, page.cookies.get(CSRF_COOKIE)
    tally.get_seconds.append(time.perf_counter() - started)
    found = CSRF_FIELD.search(text) if status == 200 else None
    if found is None or cookie is None:
        tally.failures[f"GET {status}" + (" without form" if status == 200 else "")] += 1
        return
    started = time.perf_counter()
    async with http.post(
        url, data={"csrf": found.group(1)}, headers={"Cookie": f"{CSRF_COOKIE}={cookie.value}"}
    ) as posted:
        text = await posted.text()
        status = posted.status
    tally.post_seconds.append(time.perf_counter() - started)
    at = RECORDED_AT.search(text) if status == 200 and RECORDED in text else None
    if at is not None:
        tally.recorded += 1
        tally.receipts[person] = at.group(1)
    else:
        tally.failures[f"POST {status}" + (" not recorded" if status == 200 else "")] += 1


async def acknowledge_all(
    base_url: str, links: dict[str, str], *, concurrency: int, every: float, label: str
) -> tuple[AckTally, float]:
    """Every person's link (person -> token) acknowledged by ``concurrency`` clients sharing one
    keep-alive session; the tally and the wall seconds."""
    tally = AckTally()
    queue = iter(links.items())  # shared: each link is taken by exactly one client
    total = len(links)

    async def browser(http: aiohttp.ClientSession) -> None:
        for person, token in queue:
            try:
                await acknowledge_one(http, base_url, person, token, tally)
            except (aiohttp.ClientError, TimeoutError) as exc:
                tally.failures[type(exc).__name__] += 1

    async def progress_lines(started: float) -> None:
        previous, previous_at = 0, started
        while True:
            await asyncio.sleep(every)
            now, done = time.perf_counter(), tally.done
            print(
                f"  acks {label}: {now - started:6.1f} s  {done:7d}/{total}  recorded {tally.recorded}  "
                f"failed {done - tally.recorded}  ({(done - previous) / (now - previous_at):6.1f}/s now)"
            )
            previous, previous_at = done, now

    clients = min(concurrency, max(total, 1))
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients, keepalive_timeout=60),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
        timeout=aiohttp.ClientTimeout(total=120.0),
    ) as http:
        started = time.perf_counter()
        reporter = asyncio.create_task(progress_lines(started))
        try:
            await asyncio.gather(*(browser(http) for _ in range(clients)))
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        return tally, time.perf_counter() - started


# ---------------------------------------------------------------------------------------
# verified: every recorded acknowledgement read back from the register


async def verify_register(
    client: Client,
    data: CampaignInput,
    receipts: dict[str, str],
    where: dict[str, int],
    *,
    acknowledged_in_figures: int,
) -> list[str]:
    """What is wrong with the register for the acknowledgements answered "recorded" (empty: all
    right). Each person's record is read from their batch's view (one query per batch): theirs,
    acknowledged at the time the receipt showed, with the signed version's hash. The campaign's
    count must equal the receipts: together, each receipt's acknowledgement is recorded exactly
    once and nothing else is."""
    problems: list[str] = []
    if acknowledged_in_figures != len(receipts):
        problems.append(
            f"the campaign's figures show {acknowledged_in_figures} acknowledged, "
            f"but {len(receipts)} POSTs were answered as recorded"
        )
    expected_hash = data.signed.version_hash

    def check(person: str, receipt_at: str, view: BatchView, batch: str) -> str | None:
        found = view.people.get(person.strip().casefold())
        if found is None:
            return f"{person}: no record in {batch}"
        if found.email.strip().casefold() != person.strip().casefold():
            return f"{person}: {batch} answered with the record of {found.email}"
        if found.acknowledged_at is None:
            return f"{person}: the receipt said recorded, the register has no acknowledgement"
        if found.version_hash != expected_hash:
            return f"{person}: recorded with version hash {found.version_hash}, not {expected_hash}"
        recorded_at = found.acknowledged_at.astimezone(UTC).strftime(RECEIPT_TIME_FORMAT)
        if recorded_at != receipt_at:
            return f"{person}: the receipt said recorded at {receipt_at}, the register says {recorded_at}"
        return None

    by_batch: dict[int, list[tuple[str, str]]] = {}
    for person, receipt_at in receipts.items():
        by_batch.setdefault(where[person.strip().casefold()], []).append((person, receipt_at))
    queue = iter(sorted(by_batch.items()))
    wrong: list[str] = []

    async def read(handle: BatchHandle) -> BatchView | None:
        return await retry_rpc(
            lambda: handle.view(rpc_timeout=QUERY_TIMEOUT), policy=QUERY_RETRY, what="batch_view query"
        )

    async def checker() -> None:
        for number, people in queue:  # shared by the checkers: one batch_view query per batch
            handle = BatchHandle.of(client, data.cycle_id, number)
            view = await read(handle)
            if view is None:
                wrong.extend(f"{person}: {handle.id} has not started" for person, _ in people)
                continue
            for person, receipt_at in people:
                problem = check(person, receipt_at, view, handle.id)
                if problem is not None:
                    wrong.append(problem)

    await asyncio.gather(*(checker() for _ in range(VERIFY_CONCURRENCY)))
    problems += wrong[:10]
    if len(wrong) > 10:
        problems.append(f"... and {len(wrong) - 10} more acknowledgements not as recorded")
    return problems


# ---------------------------------------------------------------------------------------
# the raw baselines


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


async def raw_signals(
    client: Client, task_queue: str, *, total: int, concurrency: int, workflows: int
) -> tuple[float, float]:
    """Signals/s: (every signal RPC answered, every signal received by its workflow)."""
    quotas = split(total, workflows)
    run = uuid.uuid4().hex[:8]
    handles = [
        await client.start_workflow(
            SignalSinkWorkflow.run, quota, id=f"bench-signals-{run}-{index}", task_queue=task_queue
        )
        for index, quota in enumerate(quotas)
    ]
    sequence = iter(range(total))  # shared by the senders

    async def sender() -> None:
        for number in sequence:
            await handles[number % workflows].signal(SignalSinkWorkflow.ping, number)

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    accepted = time.perf_counter() - started
    received = await asyncio.gather(*(handle.result() for handle in handles))
    finished = time.perf_counter() - started
    if sum(received) != total:
        raise BenchError(f"the signal sinks received {sum(received)} of {total} signals")
    return total / accepted, total / finished


async def drain(handle: WorkflowHandle[UpdateSinkWorkflow, int], sequence: Iterator[int]) -> None:
    """Send updates one at a time until ``sequence`` (shared with other senders) runs out."""
    for number in sequence:
        # the server refuses a workflow's 11th update in flight: the project's one retry policy
        await retry_rpc(partial(handle.execute_update, UpdateSinkWorkflow.bump, number), what="bump")


async def raw_updates(client: Client, task_queue: str, *, total: int, concurrency: int) -> tuple[float, int]:
    """Updates/s with 8 in flight per workflow; and how many workflows took them.

    Senders go in groups of 8, each group on one workflow at a time. A workflow takes at most
    :data:`UPDATES_PER_WORKFLOW_MAX` in its life, so a group moves on to a fresh one when full.
    """
    per_workflow = UPDATES_IN_FLIGHT_PER_WORKFLOW
    groups = max(1, math.ceil(concurrency / per_workflow))
    workflows = max(groups, math.ceil(total / UPDATES_PER_WORKFLOW_MAX))
    quotas = split(total, workflows)
    run = uuid.uuid4().hex[:8]
    handles = [
        await client.start_workflow(
            UpdateSinkWorkflow.run, quota, id=f"bench-updates-{run}-{index}", task_queue=task_queue
        )
        for index, quota in enumerate(quotas)
    ]

    async def group(number: int) -> None:
        senders = min(per_workflow, concurrency - number * per_workflow)
        for index in range(number, workflows, groups):
            remaining = iter(range(quotas[index]))  # shared by the group's senders
            await asyncio.gather(*(drain(handles[index], remaining) for _ in range(senders)))

    started = time.perf_counter()
    await asyncio.gather(*(group(number) for number in range(groups)))
    finished = time.perf_counter() - started
    received = await asyncio.gather(*(handle.result() for handle in handles))
    if sum(received) != total:
        raise BenchError(f"the update sinks received {sum(received)} of {total} updates")
    return total / finished, workflows


# ---------------------------------------------------------------------------------------
# one N, then all of them


@dataclass
class Options:
    ns: list[int]
    concurrency: int
    batch_size: int
    ack_fraction: float
    workers: int
    smtp_messages: int
    smtp_connections: int
    signals: int
    signal_workflows: int
    updates: int
    poll: float
    progress_every: float
    seed: int
    worker_cache: int | None = None


@dataclass
class Bench:
    """What every run shares: the stack, its settings, a client, the watch, the baseline queue."""

    stack: DevStack
    settings: Settings
    client: Client
    watch: ProcessWatch
    baseline_queue: str
    options: Options
    scratch: Path


async def campaign_run(bench: Bench, result: RunResult) -> None:
    """Dispatch, then acknowledgements, then verify the register; the campaign is ended after."""
    client, settings, options, watch, n = bench.client, bench.settings, bench.options, bench.watch, result.n
    print(f"\nN={n}: storing the directory and the signed version")
    people = synthetic_people(n)
    folder = bench.scratch / f"n{n}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    data = await asyncio.to_thread(campaign_input, settings, folder, people, batch_size=options.batch_size)
    result.cycle_id = data.cycle_id
    handle = client.get_workflow_handle(f"{data.cycle_id}--campaign")
    watch.start()
    try:
        with Phase("dispatch", result, watch):
            await dispatch(client, settings, data, result, mailbox=bench.stack.mailbox_dir, options=options)
        result.cpu_ms_per_invitation = cpu_ms_each(result, "dispatch", n)
        print(
            f"  dispatched N={n} in {result.batches} batches: {result.dispatch_seconds:.1f} s "
            f"({result.invitations_per_second:.1f} invitations/s; directory frozen after "
            f"{result.freeze_seconds or 0:.1f} s); {result.emails} emails in the mailbox"
        )
        print(f"  dispatch: {describe_cpu(result, 'dispatch')}")
        print(f"  CPU per invitation: {describe_ms(result.cpu_ms_per_invitation)}")

        where = await asyncio.to_thread(read_index, settings, data.cycle_id)
        chooser = random.Random(options.seed)  # noqa: S311 (who acknowledges; not a secret)
        sample = chooser.sample(people.emails, k=round(n * options.ack_fraction))
        minting = time.perf_counter()
        links = mint_links(settings, data, sample, where)
        print(f"  minted {len(links)} links in {time.perf_counter() - minting:.1f} s; acknowledging")
        with Phase("acks", result, watch):
            tally, seconds = await acknowledge_all(
                settings.public_base_url,
                links,
                concurrency=options.concurrency,
                every=options.progress_every,
                label=f"N={n}",
            )
        result.peak_rss_mb = await watch.stop()
        result.worker_hwm_mb = watch.high_water_mb("worker")
        result.worker_hwm_mb_each = {
            name: mb
            for name in watch.pids
            if is_worker(name) and (mb := watch.high_water_mb(name)) is not None
        }
        result.acks_requested = len(links)
        result.acks_recorded = tally.recorded
        result.ack_failures = dict(tally.failures)
        result.ack_seconds = seconds
        result.acks_per_second = tally.recorded / seconds if seconds else 0.0
        result.get_latency = Latency.of(tally.get_seconds)
        result.post_latency = Latency.of(tally.post_seconds)
        result.cpu_ms_per_ack = cpu_ms_each(result, "acks", tally.recorded)
        print(
            f"  acknowledged {tally.recorded}/{len(links)} in {seconds:.1f} s "
            f"({result.acks_per_second:.1f}/s); failures: {dict(tally.failures) or 'none'}"
        )
        print(f"  GET  /ack/{{token}}: {result.get_latency}")
        print(f"  POST /ack/{{token}}: {result.post_latency}")
        print(f"  acks: {describe_cpu(result, 'acks')}")
        print(f"  CPU per acknowledgement: {describe_ms(result.cpu_ms_per_ack)}")

        final = None
        for _ in range(20):
            final = await figures(client, data.cycle_id)
            if final is not None:
                break
            await asyncio.sleep(1)
        if final is None:
            raise BenchError("the campaign's figures could not be read after the acknowledgements")
        result.acknowledged_in_figures = final.tally.acknowledged
        verifying = time.perf_counter()
        result.verify_problems = await verify_register(
            client, data, tally.receipts, where, acknowledged_in_figures=final.tally.acknowledged
        )
        result.verify_seconds = time.perf_counter() - verifying
        result.verified = not result.verify_problems
        if result.verified:
            print(
                f"  verified in {result.verify_seconds:.1f} s: each of the {len(tally.receipts)} "
                "acknowledgements answered as recorded is in the register once, with its person, "
                "the receipt's time and the version hash"
            )
        else:
            print(
                f"  NOT verified ({result.verify_seconds:.1f} s):\n    "
                + "\n    ".join(result.verify_problems)
            )
    finally:
        await watch.stop()
        try:
            await handle.terminate("benchmark over")  # its batches are terminated with it
        except RPCError as exc:
            print(f"  could not terminate {handle.id}: {exc}")


async def baseline_run(bench: Bench, result: RunResult) -> None:
    """The raw SMTP, signal and update rates, on the same servers, right after the campaign."""
    client, options, settings = bench.client, bench.options, bench.settings
    messages = min(result.n, options.smtp_messages)
    with Phase("raw smtp", result, bench.watch):
        smtp = await asyncio.to_thread(
            raw_smtp_rate,
            settings.smtp_host,
            settings.smtp_port,
            count=messages,
            connections=options.smtp_connections,
        )
    result.raw_smtp_messages, result.raw_smtp_connections = smtp.messages, options.smtp_connections
    result.raw_smtp_per_second = smtp.per_second
    print(
        f"  raw SMTP: {smtp.messages} pre-built messages over {options.smtp_connections} connection(s): "
        f"{smtp.per_second:.1f}/s"
    )
    print(f"  raw SMTP: {describe_cpu(result, 'raw smtp')}")
    if result.invitations_per_second is not None and smtp.per_second:
        result.ratio_invitations_raw_smtp = result.invitations_per_second / smtp.per_second

    workflows = max(options.signal_workflows, math.ceil(options.signals / SIGNALS_PER_WORKFLOW_MAX))
    with Phase("raw signals", result, bench.watch):
        accepted, received = await raw_signals(
            client,
            bench.baseline_queue,
            total=options.signals,
            concurrency=options.concurrency,
            workflows=workflows,
        )
    result.raw_signals, result.raw_signal_workflows = options.signals, workflows
    result.raw_signals_accepted_per_second, result.raw_signals_per_second = accepted, received
    print(
        f"  raw signals: {options.signals} to {workflows} workflow(s) from {options.concurrency} senders: "
        f"{received:.1f}/s received ({accepted:.1f}/s accepted)"
    )
    print(f"  raw signals: {describe_cpu(result, 'raw signals')}")
    with Phase("raw updates", result, bench.watch):
        rate, workflows = await raw_updates(
            client, bench.baseline_queue, total=options.updates, concurrency=options.concurrency
        )
    result.raw_updates, result.raw_update_workflows, result.raw_updates_per_second = (
        options.updates,
        workflows,
        rate,
    )
    print(
        f"  raw updates: {options.updates} to {workflows} workflows, "
        f"{UPDATES_IN_FLIGHT_PER_WORKFLOW} in flight each: {rate:.1f}/s"
    )
    print(f"  raw updates: {describe_cpu(result, 'raw updates')}")
    acks = result.acks_per_second
    if acks is not None:
        result.ratio_acks_raw_signals = acks / received
        result.ratio_acks_raw_updates = acks / rate


async def run_all(
    stack: DevStack, options: Options, results: list[RunResult], scratch: Path, extra: list[ExtraWorker]
) -> None:
    """Every N on one stack; ``extra`` gets the workers started for ``--workers`` (the caller
    stops them, also when this is interrupted)."""
    # Ctrl-C or SIGTERM cancels this task: each step's cleanup runs (the campaign is terminated,
    # the baseline worker shuts down, the extra workers stop) before the stack is brought down
    this = asyncio.current_task()
    assert this is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, this.cancel)
    settings = load_settings(settings_file=stack.settings_file)
    client = await connect_temporal(settings, identity=f"bench-campaign@{os.getpid()}")
    if options.workers > 1:
        print(f"starting {options.workers - 1} more worker process(es)")
        await start_extra_workers(stack, client, settings, options.workers - 1, extra)
    pids = stack_pids(stack) | {worker.name: worker.record.pid for worker in extra}
    bench = Bench(
        stack=stack,
        settings=settings,
        client=client,
        watch=ProcessWatch(pids),
        baseline_queue=f"bench-baseline-{uuid.uuid4().hex[:8]}",
        options=options,
        scratch=scratch,
    )
    async with Worker(
        client, task_queue=bench.baseline_queue, workflows=[SignalSinkWorkflow, UpdateSinkWorkflow]
    ):
        for n in options.ns:
            result = RunResult(n=n)
            results.append(result)
            await campaign_run(bench, result)
            await baseline_run(bench, result)


# ---------------------------------------------------------------------------------------
# output


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pair(latency: Latency, seen: bool) -> str:
    return f"{latency.median_ms:.0f}/{latency.p95_ms:.0f}" if seen else "-"


def _worker_rss(result: RunResult) -> str:
    peaks = result.worker_peaks_mb()
    return "/".join(f"{peaks[name]:.0f}" for name in sorted(peaks, key=_worker_order)) if peaks else "-"


def _worker_order(name: str) -> int:
    return 1 if name == "worker" else int(name.rsplit("-", 1)[1])


def _verified(result: RunResult) -> str:
    return "-" if result.verified is None else ("yes" if result.verified else "NO")


def table(results: list[RunResult]) -> str:
    """The issue's table: one row per N."""
    columns: list[tuple[str, Callable[[RunResult], str]]] = [
        ("N", lambda r: str(r.n)),
        ("batches", lambda r: str(r.batches or "-")),
        ("invit/s", lambda r: _number(r.invitations_per_second)),
        ("raw SMTP/s", lambda r: _number(r.raw_smtp_per_second)),
        ("ratio", lambda r: _number(r.ratio_invitations_raw_smtp, 3)),
        ("acks/s", lambda r: _number(r.acks_per_second)),
        ("raw sig/s", lambda r: _number(r.raw_signals_per_second)),
        ("ratio", lambda r: _number(r.ratio_acks_raw_signals, 3)),
        ("raw upd/s", lambda r: _number(r.raw_updates_per_second)),
        ("ratio", lambda r: _number(r.ratio_acks_raw_updates, 3)),
        ("GET p50/p95 ms", lambda r: _pair(r.get_latency, bool(r.ack_seconds))),
        ("POST p50/p95 ms", lambda r: _pair(r.post_latency, bool(r.ack_seconds))),
        ("worker peak RSS MB", _worker_rss),
        ("verified", _verified),
    ]
    rows = [[name for name, _ in columns]] + [[cell(r) for _, cell in columns] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(value.rjust(width) for value, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def as_json(results: list[RunResult], options: Options, *, problems: list[str]) -> dict[str, Any]:
    return {
        "benchmark": "bench/campaign.py",
        "at": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "options": asdict(options),
        "problems": problems,
        "results": [
            {**asdict(result), "worker_peak_rss_mb": result.worker_peak_rss_mb} for result in results
        ],
        "load_average_at_end": list(os.getloadavg()),
    }


def report(results: list[RunResult], options: Options, problems: list[str], path: Path | None) -> None:
    if results:
        print(
            f"\nacknowledgement campaign: concurrency {options.concurrency}, "
            f"batch size {options.batch_size}, ack fraction {options.ack_fraction}, "
            f"{options.workers} worker process(es), {options.signals} raw signals, "
            f"{options.updates} raw updates, {os.cpu_count()} CPUs"
        )
        print(table(results))
        for result in results:
            rss = ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(result.peak_rss_mb.items()))
            print(
                f"  N={result.n}: peak RSS MB: {rss or '-'}; worker lifetime high-water "
                f"{_number(result.worker_hwm_mb)} MB; emails {result.emails}; "
                f"acks {result.acks_recorded}/{result.acks_requested}"
            )
            print(f"    CPU per invitation: {describe_ms(result.cpu_ms_per_invitation)}")
            print(f"    CPU per acknowledgement: {describe_ms(result.cpu_ms_per_ack)}")
            for problem in result.verify_problems:
                print(f"    not verified: {problem}")
    if path is not None:
        path.write_text(json.dumps(as_json(results, options, problems=problems), indent=2) + "\n")
        print(f"results written to {path}")


# ---------------------------------------------------------------------------------------
# the command


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n", 1)[0].replace("\n", " "),
        epilog=doc.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--n", type=positive_int, nargs="+", default=[1000], metavar="N",
        help="campaign sizes, run in this order on one stack (default 1000)",
    )  # fmt: skip
    parser.add_argument(
        "--concurrency", type=positive_int, default=32,
        help="concurrent HTTP clients, and concurrent signal and update senders (default 32)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=positive_int, default=250, help="people per batch workflow (default 250)"
    )
    parser.add_argument(
        "--ack-fraction", type=fraction, default=1.0,
        help="share of the people who acknowledge, a seeded random sample (default 1.0)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=positive_int, default=1,
        help="worker processes polling the task queue: the stack's own and K - 1 more started by "
        "the bench with the stack's worker settings (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-messages", type=positive_int, default=2000,
        help="messages of the raw SMTP baseline, at most N of each run (default 2000)",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-connections", type=positive_int, default=1,
        help="SMTP connections the raw baseline sends over, from this one process (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--signals", type=positive_int, default=5000, help="signals of the raw baseline (default 5000)"
    )
    parser.add_argument(
        "--signal-workflows", type=positive_int, default=1,
        help="workflows sharing the signals "
        f"(default 1; more when one would take over {SIGNALS_PER_WORKFLOW_MAX})",
    )  # fmt: skip
    parser.add_argument(
        "--updates", type=positive_int, default=5000, help="updates of the raw baseline (default 5000)"
    )
    parser.add_argument(
        "--poll", type=float, default=1.0,
        help="seconds between dispatch progress queries: the resolution of the dispatch time (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--progress-every", type=float, default=5.0, help="seconds between progress lines (default 5)"
    )
    parser.add_argument(
        "--worker-cache",
        type=positive_int,
        default=None,
        metavar="WORKFLOWS",
        help="the workers' sticky cache (ISMS_WORKER_MAX_CACHED_WORKFLOWS; default: the setting's default)",
    )
    parser.add_argument("--seed", type=int, default=27001, help="seed of the acknowledging sample")
    parser.add_argument(
        "--data-dir", type=Path, default=None,
        help="where the stack keeps its data (default: a new temporary directory, removed afterwards); "
        "must not hold a running stack",
    )  # fmt: skip
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the temporary data directory (logs, mailbox)"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    return parser.parse_args(argv)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    args = parse_args()
    options = Options(
        ns=args.n,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        ack_fraction=args.ack_fraction,
        workers=args.workers,
        smtp_messages=args.smtp_messages,
        smtp_connections=args.smtp_connections,
        signals=args.signals,
        signal_workflows=args.signal_workflows,
        updates=args.updates,
        poll=args.poll,
        progress_every=args.progress_every,
        seed=args.seed,
        worker_cache=args.worker_cache,
    )
    # every process of the stack must read the stack's settings file, not the caller's shell
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        del os.environ[name]
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="isms-bench-")) if temporary else args.data_dir
    worker_settings = (
        {"ISMS_WORKER_MAX_CACHED_WORKFLOWS": str(options.worker_cache)} if options.worker_cache else {}
    )
    stack = DevStack(data_dir, worker_settings=worker_settings)
    if any(status.running for status in stack.status()):
        sys.exit(f"a stack is already running in {stack.data_dir}: stop it, or choose another --data-dir")
    for signum in (signal.SIGINT, signal.SIGTERM):  # while the stack starts; then run_all's
        signal.signal(signum, _interrupt)

    results: list[RunResult] = []
    extra: list[ExtraWorker] = []
    problems: list[str] = []
    exit_code = 1  # when there are problems
    try:
        print(f"starting the local stack in {stack.data_dir} ({os.cpu_count()} CPUs)")
        start_stack(stack)
        with tempfile.TemporaryDirectory(prefix="isms-bench-inputs-") as scratch:
            asyncio.run(run_all(stack, options, results, Path(scratch), extra))
    except (KeyboardInterrupt, asyncio.CancelledError):
        problems.append("interrupted")
        exit_code = 130
    except (BenchError, StackError) as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # still stop the stack and report what was measured
        traceback.print_exc()
        problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        print("\nstopping the local stack")
        stop_extra_workers(extra)
        for component, outcome in stack.down().items():
            print(f"  {component}: {outcome}")
        if temporary and not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"  data kept in {data_dir}")
    for result in results:
        if result.ack_failures:
            problems.append(f"N={result.n}: acknowledgements failed: {result.ack_failures}")
        if result.verified is False:
            problems.append(f"N={result.n}: not verified: {'; '.join(result.verify_problems)}")
    report(results, options, problems, args.json)
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(exit_code)


if __name__ == "__main__":
    main()
