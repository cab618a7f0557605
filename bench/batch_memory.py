"""What a batch of acknowledgements weighs in the worker's memory, in Python objects.

    .venv/bin/python bench/batch_memory.py --batches 4 --people 250

The real ``AcknowledgementBatchWorkflow`` runs in a worker in this process (the sandbox as
the product's worker has it) on the time-skipping test server, with stand-ins for its
activities under their real names (the people from memory, every email "sent", the records
kept). ``tracemalloc`` counts the Python objects the process holds:

1. after one batch has run through invitations and acknowledgements (the imports, the
   sandbox's shared modules and the SDK's caches are in by then, and not counted);
2. once ``--batches`` more batches have invited their ``--people`` each: KB per invited batch;
3. once everyone in them has acknowledged (groups of 50, as the web app sends them, with
   an IP, a browser's user agent and the person's documents as shown): KB per acknowledged batch.

Each batch stays in the worker's sticky cache (the cache holds them all), as a batch
waiting for its people's acknowledgements does in production, so the figures are what each
cached batch costs. Memory outside Python's allocator (the SDK's Rust core) is not counted;
with ``--rss`` the process's resident set is measured instead (no tracemalloc), which counts
it, and the allocator's slack, too (the test server is a process of its own, not counted); freed
memory is handed back first (``malloc_trim``, as the worker does every 30 s) unless ``--no-trim``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import shutil
import sys
import tracemalloc
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.process_memory import resident_bytes, return_freed_memory
from adapters.temporal import DATA_CONVERTER
from models.ack_group import AckGroup
from models.campaign import (
    Acknowledgement,
    BatchInput,
    BatchProgress,
    CampaignMailInput,
    CampaignMailResult,
    Recipient,
    SignedVersion,
    StoreRecordsInput,
    batch_id_for,
    signed_version_hash,
)
from models.profile import Audience
from models.routing import AckLadder, Person
from models.storage import StoredObject
from workflows.acknowledgement import AcknowledgementBatchWorkflow

LEAD = Person(name="Ravi Chandran", email="ravi.chandran@larkspur.example", title="ISMS Manager")
DEPARTMENTS = ("Engineering", "Finance", "Operations", "Sales", "People", "Legal")
TEAM_SIZE = 8
GROUP = 50  # acknowledgements per acknowledge_group update
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
DOCUMENTS = {
    "information-security-policy.pdf": ("Information Security Policy", "3.0"),
    "acceptable-use-policy.pdf": ("Acceptable Use Policy", "2.1"),
}


def _object(key: str) -> StoredObject:
    return StoredObject(bucket="bench", key=key, sha256="0" * 64, size=1000, content_type="application/pdf")


def signed_version() -> SignedVersion:
    hashes = {name: f"{index:x}" * 64 for index, name in enumerate(DOCUMENTS, start=10)}
    return SignedVersion(
        version="3.0",
        version_hash=signed_version_hash(hashes),
        documents=hashes,
        pdfs={name: _object(f"signed/{name}") for name in hashes},
        titles={name: title for name, (title, _) in DOCUMENTS.items()},
        versions={name: version for name, (_, version) in DOCUMENTS.items()},
        audiences={name: Audience() for name in DOCUMENTS},
    )


def people(batch: int, count: int) -> list[Recipient]:
    """``count`` people in teams of eight, each team's first person managing the rest."""
    found = []
    for number in range(count):
        manager = (number // TEAM_SIZE) * TEAM_SIZE
        boss = None if manager == number else f"{batch:04d}.{manager:04d}"
        found.append(
            Recipient(
                email=f"person{batch:04d}.{number:04d}@larkspur.example",
                name=f"Person {batch:04d}.{number:04d}",
                department=DEPARTMENTS[(number // TEAM_SIZE) % len(DEPARTMENTS)],
                manager_email=f"person{boss}@larkspur.example" if boss else None,
                manager_name=f"Person {boss}" if boss else None,
                acknowledges=list(DOCUMENTS),
            )
        )
    return found


class StandIns:
    """The batch's activities: people from memory, every email accepted, records kept."""

    def __init__(self) -> None:
        self.batches: dict[str, list[Recipient]] = {}

    @activity.defn(name="load_batch")
    async def load_batch(self, ref: StoredObject) -> list[Recipient]:
        return self.batches[ref.key]

    @activity.defn(name="send_campaign_mail")
    async def send_campaign_mail(self, data: CampaignMailInput) -> CampaignMailResult:
        at = activity.info().current_attempt_scheduled_time
        sent_at = {recipient.key: at for recipient in data.recipients}
        return CampaignMailResult(sent_at=sent_at, newly_sent=len(sent_at))

    @activity.defn(name="store_batch_records")
    async def store_batch_records(self, data: StoreRecordsInput) -> StoredObject:
        return _object(f"records/{data.batch:04d}.json")


def _test_server() -> str:
    found = shutil.which("temporal-test-server") or shutil.which(
        "temporal-test-server", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise SystemExit("temporal-test-server is not installed: pip install -e '.[test]'")
    return found


def traced_kb() -> float:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / 1024


def resident_kb(*, trim: bool = True) -> float:
    gc.collect()
    if trim:  # as the worker does every worker_memory_trim_seconds
        return_freed_memory()
    resident = resident_bytes()
    if resident is None:
        raise SystemExit("no VmRSS in /proc/self/status")
    return resident / 1024


async def start_batches(
    client: Client,
    task_queue: str,
    standins: StandIns,
    cycle_id: str,
    numbers: list[int],
    *,
    size: int,
    start: datetime,
) -> None:
    signed = signed_version()
    for number in numbers:
        ref = _object(f"people/{cycle_id}/{number:04d}.json")
        standins.batches.setdefault(ref.key, people(number, size))
        data = BatchInput(
            cycle_id=cycle_id,
            batch=number,
            organisation="Larkspur Analytics Ltd",
            signed=signed,
            signer_name="Eleanor Marsh",
            people=ref,
            lead=LEAD,
            schedule=AckLadder(),
            started_at=start,
            deadline=start + timedelta(days=28),
        )
        await client.start_workflow(
            AcknowledgementBatchWorkflow.run, data, id=batch_id_for(cycle_id, number), task_queue=task_queue
        )


async def wait_for(client: Client, cycle_id: str, numbers: list[int], check: str, size: int) -> None:
    for number in numbers:
        handle = client.get_workflow_handle(batch_id_for(cycle_id, number))
        while True:
            figures: BatchProgress = await handle.query(AcknowledgementBatchWorkflow.progress)
            done = figures.invited if check == "invited" else figures.tally.acknowledged
            if done >= size:
                break
            await asyncio.sleep(0.05)


async def acknowledge(client: Client, cycle_id: str, numbers: list[int], size: int) -> None:
    signed = signed_version()
    for number in numbers:
        handle = client.get_workflow_handle(batch_id_for(cycle_id, number))
        everyone = people(number, size)
        for first in range(0, size, GROUP):
            acks = [
                Acknowledgement(
                    person=person.email,
                    version_hash=signed.version_hash,
                    link_id=uuid.uuid4().hex,
                    documents=dict(signed.documents),
                    ip=f"198.51.{number % 250}.{index % 250}",
                    user_agent=USER_AGENT,
                )
                for index, person in enumerate(everyone[first : first + GROUP], start=first)
            ]
            group = AckGroup(acks=acks)
            await handle.execute_update(
                AcknowledgementBatchWorkflow.acknowledge_group, group, id=f"group-{uuid.uuid4()}"
            )


async def measure(batches: int, size: int, top: int, *, rss: bool, trim: bool = True) -> dict[str, float]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_test_server(), data_converter=DATA_CONVERTER
    )
    try:
        start = await env.get_current_time()
        standins = StandIns()
        task_queue = f"batch-memory-{uuid.uuid4()}"
        cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[AcknowledgementBatchWorkflow],
            activities=[standins.load_batch, standins.send_campaign_mail, standins.store_batch_records],
            max_cached_workflows=batches + 10,
        ):
            if not rss:
                tracemalloc.start(25 if top else 1)
            memory = functools.partial(resident_kb, trim=trim) if rss else traced_kb
            warm = [0]
            await start_batches(env.client, task_queue, standins, cycle_id, warm, size=size, start=start)
            await wait_for(env.client, cycle_id, warm, "invited", size)
            await acknowledge(env.client, cycle_id, warm, size)
            await wait_for(env.client, cycle_id, warm, "acknowledged", size)

            numbers = list(range(1, batches + 1))
            for number in numbers:  # the directory as loaded: held by the stand-ins, not counted
                standins.batches[f"people/{cycle_id}/{number:04d}.json"] = people(number, size)
            base = memory()
            before = tracemalloc.take_snapshot() if top and not rss else None
            await start_batches(env.client, task_queue, standins, cycle_id, numbers, size=size, start=start)
            await wait_for(env.client, cycle_id, numbers, "invited", size)
            invited = memory()
            await acknowledge(env.client, cycle_id, numbers, size)
            await wait_for(env.client, cycle_id, numbers, "acknowledged", size)
            acknowledged = memory()
            if before is not None:
                after = tracemalloc.take_snapshot()
                for stat in after.compare_to(before, "traceback")[:top]:
                    print(f"{stat.size_diff / 1024 / batches:8.1f} KB per batch, {stat.count_diff} blocks")
                    for line in stat.traceback.format()[-8:]:
                        print(f"    {line}")
            if not rss:
                tracemalloc.stop()
    finally:
        await env.shutdown()
    return {
        "invited_kb_per_batch": (invited - base) / batches,
        "acknowledged_kb_per_batch": (acknowledged - base) / batches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=4, help="batches measured (after one to warm up)")
    parser.add_argument("--people", type=int, default=250, help="people per batch")
    parser.add_argument("--top", type=int, default=0, help="also show the N biggest allocation sites")
    parser.add_argument("--rss", action="store_true", help="the resident set's growth, not tracemalloc's")
    parser.add_argument(
        "--no-trim",
        action="store_true",
        help="with --rss: measure without handing freed memory back first (the worker does, every 30 s)",
    )
    options = parser.parse_args()
    found = asyncio.run(
        measure(options.batches, options.people, options.top, rss=options.rss, trim=not options.no_trim)
    )
    how = "resident set" if options.rss else "tracemalloc"
    print(
        f"{options.batches} batches of {options.people} ({how}): "
        f"{found['invited_kb_per_batch']:.0f} KB per invited batch, "
        f"{found['acknowledged_kb_per_batch']:.0f} KB per acknowledged batch "
        f"({found['acknowledged_kb_per_batch'] * 1024 / options.people:.0f} bytes per person)"
    )


if __name__ == "__main__":
    main()
