"""Invitations per second through ``send_campaign_mail``, against the raw rate of the same SMTP
server measured in the same run.

    .venv/bin/python bench/invitations.py --n 2000 --workers 1 2 --json invitations.json

A stack of its own, in ``--data-dir`` (default a new temporary directory, removed afterwards):
real SeaweedFS with an Object Lock archive bucket and the drafts bucket, and the real SMTP sink
(``python -m devstack.mailsink``, as ``isms dev up`` runs it), each its own process on free
ports. Temporal is not needed: the activity is called the way the worker calls it.

For each N and each number of worker processes, in order:

1. Raw: :func:`smtp_baseline.raw_smtp_rate`, N pre-built messages of the invitation's size over
   ``--raw-connections`` connection(s) from this process; measured again after step 2, and
   the raw rate is both runs' messages over both runs' seconds (the machine's load moves).
2. Invitations: N people in batches of ``--batch-size`` (the campaign's 250), every batch one
   ``CampaignMailInput`` of the ``staff_invitation`` step as the batch workflow builds it
   (shared context, each person's name and a link). The batches are shared out over
   ``--workers`` processes, each running ``CampaignActivities.send_campaign_mail`` in a pool of
   ``--threads`` threads (the worker's ``ACTIVITY_THREADS``) with its own S3 client, as
   ``python -m worker`` does. Timed from the start signal to the last batch's return.
   Afterwards the sink's mailbox must hold exactly N new messages, one per key.
3. CPU: seconds of each process (SeaweedFS, the sink, each worker, this process) in each
   phase, from /proc.

The ratio invitations/s ÷ raw/s is the figure (issue 16 asks for at least 0.5). With
``--profile FILE``, one worker process runs one thread under cProfile and writes its stats to
FILE (``python -m pstats FILE``); the rates of such a run are not figures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from email.parser import BytesHeaderParser
from multiprocessing.synchronize import Event
from pathlib import Path
from types import FrameType
from typing import Any

from smtp_baseline import SmtpRate, raw_smtp_rate
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.campaign import CampaignActivities
from adapters.s3 import ensure_archive_bucket, ensure_bucket, make_s3_client
from core.settings import ENV_PREFIX, Settings, load_settings
from devstack.mailsink import smtp_health
from devstack.ports import find_free_ports
from devstack.processes import ProcessRecord, spawn, stop, tail, wait_until_healthy
from devstack.seaweed import (
    STOP_GRACE_SECONDS,
    S3Identity,
    SeaweedPorts,
    s3_health,
    seaweed_argv,
    write_s3_config,
)
from devstack.synthetic import staff_rows
from models.campaign import CampaignMailInput, CampaignMailRecipient

HOST = "127.0.0.1"
ARCHIVE_BUCKET = "isms-archive"
DRAFTS_BUCKET = "isms-drafts"
START_TIMEOUT = 90.0
DOCUMENTS = ["information-security-policy.docx", "isms-roles-and-responsibilities.docx"]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------
# CPU from /proc


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds the process (all its threads) has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def machine_busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    used = {name: cpu_seconds(pid) for name, pid in pids.items()}
    found = {name: seconds for name, seconds in used.items() if seconds is not None}
    found["machine"] = machine_busy_seconds()
    return found


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    used = {name: after[name] - before[name] for name in after if name in before}
    machine = used.pop("machine")
    used["others"] = max(0.0, machine - sum(used.values()))  # anything else on the machine
    return used


def describe_cpu(used: dict[str, float], wall: float, per: int) -> str:
    ours = {name: seconds for name, seconds in used.items() if name != "others"}
    parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in sorted(ours.items(), key=lambda i: -i[1]))
    per_message = ", ".join(
        f"{name} {seconds / per * 1000:.2f}" for name, seconds in sorted(ours.items(), key=lambda i: -i[1])
    )
    return (
        f"{wall:.2f} s wall; CPU s {parts} (= {sum(ours.values()) / wall:.2f} of {os.cpu_count()} cores; "
        f"others on the machine {used.get('others', 0.0) / wall:.2f}); "
        f"ms per message: {per_message}"
    )


# ---------------------------------------------------------------------------------------
# the stack: SeaweedFS and the SMTP sink


@dataclass
class Stack:
    data_dir: Path
    settings_values: dict[str, Any]
    records: dict[str, ProcessRecord] = field(default_factory=dict)

    @property
    def mailbox(self) -> Path:
        return self.data_dir / "mailbox"

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "empty.env"

    def settings(self) -> Settings:
        return load_settings(settings_file=self.settings_file, **self.settings_values)

    def pid(self, name: str) -> int:
        return self.records[name].pid

    def down(self) -> None:
        for name, record in reversed(list(self.records.items())):
            stop(record, grace_seconds=STOP_GRACE_SECONDS if name == "seaweedfs" else 5.0)


def start_stack(data_dir: Path) -> Stack:
    s3_port, master, volume, filer, smtp_port = find_free_ports(5)
    ports = SeaweedPorts(s3=s3_port, master=master, volume=volume, filer=filer)
    admin = S3Identity(
        name="admin",
        access_key_id="BENCH" + uuid.uuid4().hex[:12].upper(),
        secret_access_key=uuid.uuid4().hex + uuid.uuid4().hex,
        actions=["Admin", "Read", "Write", "List", "Tagging"],
    )
    endpoint = f"http://{HOST}:{s3_port}"
    stack = Stack(
        data_dir=data_dir,
        settings_values={
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": admin.access_key_id,
            "s3_secret_access_key": admin.secret_access_key,
            "archive_bucket": ARCHIVE_BUCKET,
            "drafts_bucket": DRAFTS_BUCKET,
            "smtp_host": HOST,
            "smtp_port": smtp_port,
            "smtp_security": "none",
            "smtp_sender": "Larkspur ISMS <isms@larkspur.example>",
            "public_base_url": "https://isms.larkspur.example",
            "link_secret": "bench-link-secret-" + uuid.uuid4().hex,
            "proof_secret": "bench-proof-secret-" + uuid.uuid4().hex,
            "web_state_dir": str(data_dir / "web-state"),
        },
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    stack.settings_file.write_text("")
    config = data_dir / "identities.json"
    write_s3_config(config, [admin])
    try:
        record, process = spawn(
            "seaweedfs",
            seaweed_argv(data_dir=data_dir / "seaweedfs", s3_config=config, ports=ports),
            log_file=data_dir / "logs" / "seaweedfs.log",
        )
        stack.records["seaweedfs"] = record
        wait_until_healthy(
            "seaweedfs", lambda: s3_health(endpoint, admin), timeout=START_TIMEOUT, process=process
        )
        s3 = make_s3_client(stack.settings())
        ensure_archive_bucket(s3, ARCHIVE_BUCKET)
        ensure_bucket(s3, DRAFTS_BUCKET)
        argv = [
            sys.executable, "-m", "devstack.mailsink",
            "--host", HOST, "--port", str(smtp_port), "--maildir", str(stack.mailbox),
        ]  # fmt: skip
        record, process = spawn("smtp", argv, log_file=data_dir / "logs" / "smtp.log")
        stack.records["smtp"] = record
        wait_until_healthy(
            "smtp", lambda: smtp_health(host=HOST, port=smtp_port), timeout=START_TIMEOUT, process=process
        )
    except Exception:
        for name, record in stack.records.items():
            print(f"{name} log:\n{tail(record.log_file)}")
        stack.down()
        raise
    return stack


# ---------------------------------------------------------------------------------------
# the campaign's batches


def batches(n: int, batch_size: int) -> list[CampaignMailInput]:
    """N people's invitations, ``batch_size`` a batch, as the batch workflow asks for them."""
    cycle_id = f"isms-review-bench-{uuid.uuid4().hex[:8]}"
    rows = staff_rows(n, team_size=8)
    shared: dict[str, str | int | list[str]] = {
        "organisation": "Larkspur Analytics Ltd",
        "lead_name": "Ravi Chandran",
        "version": "3.0",
        "deadline": "21 December 2026",
        "signer_name": "Eleanor Marsh",
        "documents": DOCUMENTS,
    }
    inputs = []
    for number, start in enumerate(range(0, n, batch_size), start=1):
        batch_id = f"{cycle_id}--ack-{number:04d}"
        inputs.append(
            CampaignMailInput(
                batch_id=batch_id,
                template="staff_invitation",
                context=shared,
                recipients=[
                    CampaignMailRecipient(
                        key=f"{cycle_id}/ack/{row['email']}/invitation",
                        to=row["email"],
                        context={"person_name": row["name"]},
                        link_for=row["email"],
                    )
                    for row in rows[start : start + batch_size]
                ],
                version_hash="b" * 64,
            )
        )
    return inputs


def mailbox_keys(mailbox: Path, before: set[str]) -> list[str]:
    """The X-Isms-Key of every message the sink kept since ``before`` (file names)."""
    parser = BytesHeaderParser()
    keys = []
    for path in mailbox.glob("*.eml"):
        if path.name not in before:
            with path.open("rb") as file:
                keys.append(str(parser.parse(file).get("X-Isms-Key", "")))
    return keys


# ---------------------------------------------------------------------------------------
# worker processes


def worker_process(
    settings_file: str,
    settings_values: dict[str, Any],
    inputs: list[str],
    threads: int,
    ready: Any,
    start: Event,
    done: Any,
    profile: str | None,
) -> None:
    """One worker: its own S3 client and activity object, ``threads`` activities at a time."""
    settings = load_settings(settings_file=Path(settings_file), **settings_values)
    activities = CampaignActivities(
        settings=settings, s3=make_s3_client(settings), client=Client.__new__(Client)
    )
    runs = [CampaignMailInput.model_validate_json(data) for data in inputs]

    def one(data: CampaignMailInput) -> int:
        return ActivityEnvironment().run(activities.send_campaign_mail, data).newly_sent

    ready.put(os.getpid())
    start.wait()
    if profile is not None:
        profiler = cProfile.Profile()
        profiler.enable()
        sent = sum(one(data) for data in runs)
        profiler.disable()
        profiler.dump_stats(profile)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            sent = sum(pool.map(one, runs))

    done.put(sent)


@dataclass
class Result:
    n: int
    workers: int
    threads: int
    batch_size: int
    raw_connections: int
    raw_per_second: float = 0.0
    raw_seconds: float = 0.0
    raw_per_second_before: float = 0.0
    raw_per_second_after: float = 0.0
    invitations_per_second: float = 0.0
    invitations_seconds: float = 0.0
    ratio: float = 0.0
    mean_message_bytes: float = 0.0
    cpu_raw: dict[str, float] = field(default_factory=dict)
    cpu_invitations: dict[str, float] = field(default_factory=dict)


def run_one(stack: Stack, *, n: int, workers: int, options: argparse.Namespace) -> Result:
    result = Result(
        n=n,
        workers=workers,
        threads=options.threads,
        batch_size=options.batch_size,
        raw_connections=options.raw_connections,
    )
    fixed = {"seaweedfs": stack.pid("seaweedfs"), "smtp": stack.pid("smtp"), "bench": os.getpid()}
    settings = stack.settings()

    print(f"\nN={n}, {workers} worker process(es) of {options.threads} threads")
    before = cpu_of(fixed)
    raw: SmtpRate = raw_smtp_rate(
        settings.smtp_host, settings.smtp_port, count=n, connections=options.raw_connections
    )
    result.cpu_raw = cpu_between(before, cpu_of(fixed))
    result.raw_per_second_before = raw.per_second
    print(f"  raw SMTP: {raw.messages} messages in {raw.seconds:.2f} s = {raw.per_second:.1f}/s")
    print(f"  raw CPU: {describe_cpu(result.cpu_raw, raw.seconds, n)}")

    inputs = batches(n, options.batch_size)
    shares: list[list[str]] = [[] for _ in range(workers)]
    for index, data in enumerate(inputs):
        shares[index % workers].append(data.model_dump_json())
    context = multiprocessing.get_context("spawn")
    ready, done, start = context.Queue(), context.Queue(), context.Event()
    processes = [
        context.Process(
            target=worker_process,
            args=(
                str(stack.settings_file),
                stack.settings_values,
                share,
                options.threads,
                ready,
                start,
                done,
                options.profile,
            ),
        )
        for share in shares
    ]
    for process in processes:
        process.start()
    pids = dict(fixed)
    for number in range(workers):
        pids[f"worker{number + 1}" if workers > 1 else "worker"] = ready.get(timeout=120)
    spies = [
        subprocess.Popen(
            [options.py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
             "--nonblocking", "--gil", "--output", f"{options.py_spy_output}.{name}.txt"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items() if name.startswith("worker") and options.py_spy
    ]  # fmt: skip
    if spies:
        time.sleep(1.0)  # py-spy attaches
    kept_before = {path.name for path in stack.mailbox.glob("*.eml")}
    before = cpu_of(pids)
    started = time.perf_counter()
    start.set()
    sent = sum(done.get(timeout=3600) for _ in processes)
    result.invitations_seconds = time.perf_counter() - started
    result.cpu_invitations = cpu_between(before, cpu_of(pids))
    for process in processes:
        process.join(timeout=30)
    for spy in spies:
        spy.wait(timeout=60)
    result.invitations_per_second = n / result.invitations_seconds
    keys = mailbox_keys(stack.mailbox, kept_before)
    expected = {recipient.key for data in inputs for recipient in data.recipients}
    if sent != n or len(keys) != n or set(keys) != expected:
        raise SystemExit(
            f"not exactly once: {sent} reported sent, {len(keys)} kept, {len(set(keys))} distinct keys of {n}"
        )
    new_files = [path for path in stack.mailbox.glob("*.eml") if path.name not in kept_before]
    result.mean_message_bytes = sum(path.stat().st_size for path in new_files) / len(new_files)
    print(
        f"  invitations: {n} in {result.invitations_seconds:.2f} s = {result.invitations_per_second:.1f}/s "
        f"(each kept once; {result.mean_message_bytes:.0f} bytes on average)"
    )
    print(f"  invitations CPU: {describe_cpu(result.cpu_invitations, result.invitations_seconds, n)}")
    again = raw_smtp_rate(
        settings.smtp_host, settings.smtp_port, count=n, connections=options.raw_connections
    )
    result.raw_per_second_after = again.per_second
    result.raw_seconds = raw.seconds + again.seconds
    result.raw_per_second = (raw.messages + again.messages) / result.raw_seconds
    print(
        f"  raw SMTP again: {again.messages} messages in {again.seconds:.2f} s = {again.per_second:.1f}/s; "
        f"both: {result.raw_per_second:.1f}/s"
    )
    result.ratio = result.invitations_per_second / result.raw_per_second
    print(f"  ratio invitations / raw SMTP: {result.ratio:.2f}")
    return result


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--threads", type=int, default=8, help="activities at a time per worker")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--raw-connections", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--profile", default=None, help="cProfile one worker thread into this file")
    parser.add_argument(
        "--py-spy", default=None, help="the py-spy binary: sample each worker's thread holding the GIL"
    )
    parser.add_argument("--py-spy-output", default="py-spy", help="collapsed stacks into OUTPUT.<worker>.txt")
    options = parser.parse_args()
    if options.profile is not None:
        options.workers, options.threads = [1], 1
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        del os.environ[name]  # the settings are the stack's alone
    temporary = options.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="isms-bench-invitations-")) if temporary else options.data_dir
    signal.signal(signal.SIGTERM, _interrupt)
    results: list[Result] = []
    stack = start_stack(data_dir)
    try:
        for n in options.n:
            for workers in options.workers:
                results.append(run_one(stack, n=n, workers=workers, options=options))
    finally:
        stack.down()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    print("\n| N | workers | invitations/s | raw SMTP/s | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r.n} | {r.workers} | {r.invitations_per_second:.1f} | {r.raw_per_second:.1f} "
            f"| {r.ratio:.2f} |"
        )
    if options.json is not None:
        options.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
