"""An acknowledgement campaign for N people on the local stack, against raw Temporal signal and
update rates measured in the same run on the same server.

    .venv/bin/python bench/campaign.py --n 1000 10000 --concurrency 32 --json campaign.json

The whole local stack (``isms dev up``: Temporal dev server on SQLite with the WAL pragmas,
SeaweedFS with Object Lock, the SMTP sink, the worker and the web app, each its own process)
is started on free ports in ``--data-dir`` (default a new temporary directory, removed
afterwards) and brought down at the end, also on Ctrl-C or failure. ISMS_ variables of the
calling shell are ignored: every process reads the stack's own settings file.

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
   ``POST /ack/{token}``, from ``--concurrency`` clients. Links are minted up front exactly as
   the mail activity mints them (role STAFF, the batch workflow id, the person, the version
   hash). Acks/s = recorded acknowledgements / the wall time of all the requests. The
   campaign's figures must then show exactly that many acknowledged, or the run fails.
3. Raw Temporal baselines, on a task queue of their own served by a worker in this process:
   ``--signals`` signals from as many concurrent senders to a trivial workflow (timed until
   the workflow has received them all), and ``--updates`` updates to trivial workflows, 8 in
   flight per workflow (the web app's own limit; the server refuses a workflow's 11th) across
   ``concurrency / 8`` workflows. acks/s ÷ raw signals/s is THE figure; an acknowledgement is
   an update, so acks/s ÷ raw updates/s is the second.
4. Memory and CPU: the resident set of the stack's worker (``python -m worker``) and of the
   other processes is sampled from /proc while 1 and 2 run (the peak is reported), and the CPU
   seconds each process spent in each phase show where the time went.

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

import httpx
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from adapters.campaign import campaign_progress, campaign_state
from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from adapters.workflow_client import UPDATES_IN_FLIGHT_PER_WORKFLOW, retry_rpc
from core.settings import ENV_PREFIX, Settings, load_settings
from core.tokens import issue_link
from devstack.ports import GRPC_OFFSET, port_is_free
from devstack.stack import COMPONENTS, DevPorts, DevStack, StackError
from devstack.synthetic import staff_csv, staff_rows, tiny_pdf
from models.campaign import CampaignInput, CampaignProgress, SignedVersion, batch_id_for, signed_version_hash
from models.links import LinkRole
from models.routing import AckLadder, Person
from models.storage import StoredObject
from workflows.acknowledgement import AcknowledgementCampaignWorkflow

LEAD = Person(name="Ravi Chandran", email="ravi.chandran@larkspur.example", title="ISMS Manager")
CEO = Person(name="Eleanor Marsh", email="eleanor.marsh@larkspur.example", title="Chief Executive")
TEAM_SIZE = 8
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
    get_latency: Latency = field(default_factory=Latency)
    post_latency: Latency = field(default_factory=Latency)
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
    cpu_seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> process -> s
    wall_seconds: dict[str, float] = field(default_factory=dict)  # phase -> s

    @property
    def worker_peak_rss_mb(self) -> float | None:
        return self.peak_rss_mb.get("worker")


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
) -> list[str]:
    """Each person's token, as ``activities.mail.link_context`` mints it for the invitation."""
    secret = settings.link_secret.get_secret_value()
    ttl = timedelta(days=settings.link_ttl_days)
    now = datetime.now(UTC)
    return [
        issue_link(
            secret,
            cycle_id=batch_id_for(data.cycle_id, where[email.strip().casefold()]),
            person=email,
            role=LinkRole.STAFF,
            version_hash=data.signed.version_hash,
            ttl=ttl,
            now=now,
        )
        for email in emails
    ]


@dataclass
class AckTally:
    recorded: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    get_seconds: list[float] = field(default_factory=list)
    post_seconds: list[float] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.recorded + sum(self.failures.values())


async def acknowledge_one(http: httpx.AsyncClient, token: str, tally: AckTally) -> None:
    """Open the page (CSRF cookie and field), then confirm, as a browser does."""
    http.cookies.clear()  # one person at a time per client: only this page's cookie
    started = time.perf_counter()
    page = await http.get(f"/ack/{token}")
    tally.get_seconds.append(time.perf_counter() - started)
    found = CSRF_FIELD.search(page.text) if page.status_code == 200 else None
    if found is None:
        tally.failures[f"GET {page.status_code}" + (" without form" if page.status_code == 200 else "")] += 1
        return
    started = time.perf_counter()
    posted = await http.post(f"/ack/{token}", data={"csrf": found.group(1)})
    tally.post_seconds.append(time.perf_counter() - started)
    if posted.status_code == 200 and RECORDED in posted.text:
        tally.recorded += 1
    else:
        tally.failures[f"POST {posted.status_code}"] += 1


async def acknowledge_all(
    base_url: str, tokens: list[str], *, concurrency: int, every: float, label: str
) -> tuple[AckTally, float]:
    """Every token acknowledged by ``concurrency`` clients; the tally and the wall seconds."""
    tally = AckTally()
    queue = iter(tokens)  # shared: each token is taken by exactly one client
    total = len(tokens)

    async def browser() -> None:
        async with httpx.AsyncClient(
            base_url=base_url, headers={"User-Agent": USER_AGENT}, timeout=httpx.Timeout(120.0)
        ) as http:
            for token in queue:
                try:
                    await acknowledge_one(http, token, tally)
                except httpx.HTTPError as exc:
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

    started = time.perf_counter()
    reporter = asyncio.create_task(progress_lines(started))
    try:
        await asyncio.gather(*(browser() for _ in range(min(concurrency, max(total, 1)))))
    finally:
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
    return tally, time.perf_counter() - started


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
    signals: int
    signal_workflows: int
    updates: int
    poll: float
    progress_every: float
    seed: int


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
    """Dispatch, then acknowledgements, then check the figures; the campaign is ended after."""
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
        print(
            f"  dispatched N={n} in {result.batches} batches: {result.dispatch_seconds:.1f} s "
            f"({result.invitations_per_second:.1f} invitations/s; directory frozen after "
            f"{result.freeze_seconds or 0:.1f} s); {result.emails} emails in the mailbox"
        )
        print(f"  dispatch: {describe_cpu(result, 'dispatch')}")

        where = await asyncio.to_thread(read_index, settings, data.cycle_id)
        chooser = random.Random(options.seed)  # noqa: S311 (who acknowledges; not a secret)
        sample = chooser.sample(people.emails, k=round(n * options.ack_fraction))
        minting = time.perf_counter()
        tokens = mint_links(settings, data, sample, where)
        print(f"  minted {len(tokens)} links in {time.perf_counter() - minting:.1f} s; acknowledging")
        with Phase("acks", result, watch):
            tally, seconds = await acknowledge_all(
                settings.public_base_url,
                tokens,
                concurrency=options.concurrency,
                every=options.progress_every,
                label=f"N={n}",
            )
        result.peak_rss_mb = await watch.stop()
        result.worker_hwm_mb = watch.high_water_mb("worker")
        result.acks_requested = len(tokens)
        result.acks_recorded = tally.recorded
        result.ack_failures = dict(tally.failures)
        result.ack_seconds = seconds
        result.acks_per_second = tally.recorded / seconds if seconds else 0.0
        result.get_latency = Latency.of(tally.get_seconds)
        result.post_latency = Latency.of(tally.post_seconds)
        print(
            f"  acknowledged {tally.recorded}/{len(tokens)} in {seconds:.1f} s "
            f"({result.acks_per_second:.1f}/s); failures: {dict(tally.failures) or 'none'}"
        )
        print(f"  GET  /ack/{{token}}: {result.get_latency}")
        print(f"  POST /ack/{{token}}: {result.post_latency}")
        print(f"  acks: {describe_cpu(result, 'acks')}")

        final = None
        for _ in range(20):
            final = await figures(client, data.cycle_id)
            if final is not None:
                break
            await asyncio.sleep(1)
        if final is None:
            raise BenchError("the campaign's figures could not be read after the acknowledgements")
        result.acknowledged_in_figures = final.tally.acknowledged
        if final.tally.acknowledged != tally.recorded:
            raise BenchError(
                f"N={n}: the campaign shows {final.tally.acknowledged} acknowledged, but "
                f"{tally.recorded} POSTs were answered as recorded"
            )
        print(f"  verified: the campaign's figures show {final.tally.acknowledged} acknowledged")
    finally:
        await watch.stop()
        try:
            await handle.terminate("benchmark over")  # its batches are terminated with it
        except RPCError as exc:
            print(f"  could not terminate {handle.id}: {exc}")


async def baseline_run(bench: Bench, result: RunResult) -> None:
    """The raw signal and update rates, on the same server, right after the campaign."""
    client, options = bench.client, bench.options
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


async def run_all(stack: DevStack, options: Options, results: list[RunResult], scratch: Path) -> None:
    # Ctrl-C or SIGTERM cancels this task: each step's cleanup runs (the campaign is terminated,
    # the baseline worker shuts down) before the stack is brought down
    this = asyncio.current_task()
    assert this is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, this.cancel)
    settings = load_settings(settings_file=stack.settings_file)
    client = await connect_temporal(settings, identity=f"bench-campaign@{os.getpid()}")
    bench = Bench(
        stack=stack,
        settings=settings,
        client=client,
        watch=ProcessWatch(stack_pids(stack)),
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


def table(results: list[RunResult]) -> str:
    columns: list[tuple[str, Callable[[RunResult], str]]] = [
        ("N", lambda r: str(r.n)),
        ("batches", lambda r: str(r.batches or "-")),
        ("dispatch s", lambda r: _number(r.dispatch_seconds)),
        ("invit/s", lambda r: _number(r.invitations_per_second)),
        ("acks ok", lambda r: "-" if r.ack_seconds is None else f"{r.acks_recorded}/{r.acks_requested}"),
        ("acks/s", lambda r: _number(r.acks_per_second)),
        ("raw sig/s", lambda r: _number(r.raw_signals_per_second)),
        ("raw upd/s", lambda r: _number(r.raw_updates_per_second)),
        ("acks/sig", lambda r: _number(r.ratio_acks_raw_signals, 3)),
        ("acks/upd", lambda r: _number(r.ratio_acks_raw_updates, 3)),
        ("worker RSS MB", lambda r: _number(r.worker_peak_rss_mb)),
        ("emails", lambda r: "-" if r.dispatch_seconds is None else str(r.emails)),
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
    }


def report(results: list[RunResult], options: Options, problems: list[str], path: Path | None) -> None:
    if results:
        print(
            f"\nacknowledgement campaign: concurrency {options.concurrency}, "
            f"batch size {options.batch_size}, ack fraction {options.ack_fraction}, "
            f"{options.signals} raw signals, {options.updates} raw updates, {os.cpu_count()} CPUs"
        )
        print(table(results))
        for result in results:
            rss = ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(result.peak_rss_mb.items()))
            print(
                f"  N={result.n}: peak RSS MB: {rss or '-'}; worker lifetime high-water "
                f"{_number(result.worker_hwm_mb)} MB"
            )
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
        signals=args.signals,
        signal_workflows=args.signal_workflows,
        updates=args.updates,
        poll=args.poll,
        progress_every=args.progress_every,
        seed=args.seed,
    )
    # every process of the stack must read the stack's settings file, not the caller's shell
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        del os.environ[name]
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="isms-bench-")) if temporary else args.data_dir
    stack = DevStack(data_dir)
    if any(status.running for status in stack.status()):
        sys.exit(f"a stack is already running in {stack.data_dir}: stop it, or choose another --data-dir")
    for signum in (signal.SIGINT, signal.SIGTERM):  # while the stack starts; then run_all's
        signal.signal(signum, _interrupt)

    results: list[RunResult] = []
    problems: list[str] = []
    exit_code = 1  # when there are problems
    try:
        print(f"starting the local stack in {stack.data_dir} ({os.cpu_count()} CPUs)")
        start_stack(stack)
        with tempfile.TemporaryDirectory(prefix="isms-bench-inputs-") as scratch:
            asyncio.run(run_all(stack, options, results, Path(scratch)))
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
        for component, outcome in stack.down().items():
            print(f"  {component}: {outcome}")
        if temporary and not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"  data kept in {data_dir}")
    for result in results:
        if result.ack_failures:
            problems.append(f"N={result.n}: acknowledgements failed: {result.ack_failures}")
    report(results, options, problems, args.json)
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(exit_code)


if __name__ == "__main__":
    main()
