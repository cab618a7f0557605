"""A real `python -m worker` and its LibreOffice: the office dies with a SIGKILLed worker, and a
starting worker reaps what a dead owner left.

Real processes throughout: the worker (killed with its process group, as the other fault
tests kill it), its LibreOffice, the Temporal dev server, SeaweedFS, the SMTP sink. The
leftover the first worker reaps comes from an owner process that ran without setpriv (as on
a machine without util-linux), whose offices outlived it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.demo_run import demo_profile
from documents.pdf_convert import DEFAULT_WORK_ROOT
from models.cycle import AnnualReviewInput, cycle_id_for
from tests.faults.conftest import WorkerProcesses
from tests.faults.test_worker_killed import SCHEDULES, _activity_started
from tests.integration.test_office_lifetime import alive, comm, processes_using, start_owner
from tests.workflows.helpers import DEMO, LEAD, store
from workflows.annual_review import AnnualReviewWorkflow


async def _gone(pids: list[int], *, within: float) -> list[int]:
    """Wait up to ``within`` seconds for every pid to stop; the ones still running."""
    deadline = time.monotonic() + within
    while True:
        running = [pid for pid in pids if alive(pid)]
        if not running or time.monotonic() >= deadline:
            return running
        await asyncio.sleep(0.05)


async def _removed(directories: list[Path], *, within: float) -> list[Path]:
    deadline = time.monotonic() + within
    while True:
        left = [d for d in directories if d.exists()]
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.1)


def _using(directories: list[Path]) -> list[int]:
    return sorted({pid for directory in directories for pid in processes_using(directory)})


async def _office_of(worker_pid: int, *, within: float = 90) -> tuple[list[Path], list[int]]:
    """The worker's converter directories and the processes using them, once its office listens.

    Not as soon as a soffice.bin appears: on a fresh profile the first one exits by itself and
    the next one is the office; the office's UNO pipe exists once the office accepts.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        directories = sorted(DEFAULT_WORK_ROOT.glob(f"{worker_pid}-*"))
        pipes = [
            Path(f"/tmp/OSL_PIPE_{os.getuid()}_{json.loads(office.read_text())['pipe']}")
            for directory in directories
            for office in directory.glob("office-*/office.json")
        ]
        using = _using(directories)
        if pipes and all(pipe.is_socket() for pipe in pipes) and "soffice.bin" in map(comm, using):
            return directories, using
        await asyncio.sleep(0.05)
    raise AssertionError(f"worker {worker_pid} started no LibreOffice within {within:g} s")


async def test_a_killed_workers_office_dies_with_it_and_a_new_worker_reaps_leftovers(
    settings: Settings, worker_processes: WorkerProcesses, tmp_path: Path
) -> None:
    # an owner without setpriv, killed with its group: its offices stay, as they all did before
    (tmp_path / "owner").mkdir()
    owner = await asyncio.to_thread(start_owner, "without-setpriv", tmp_path / "owner")
    stale = owner.processes()
    owner.sigkill()
    await asyncio.sleep(1)
    assert [pid for pid in owner.offices if alive(pid)] == owner.offices

    # a worker starting reaps them (before it even connects to Temporal)
    first = worker_processes.start()
    assert await _gone(stale, within=60) == [], worker_processes.log_tail()
    assert await _removed(owner.directories, within=5) == []
    assert "left by process" in worker_processes.log_tail()

    # the worker renders a cycle's documents; SIGKILLed, its office goes with it
    client = await connect_temporal(settings)
    short_name = f"office{secrets.token_hex(3)}"
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
    try:
        await _activity_started(handle, "render_documents")
        directories, office = await _office_of(first.pid)
        worker_processes.kill(first)
        still = await _gone(office, within=5) + [pid for pid in _using(directories) if pid not in office]
        assert still == [], f"outlived the worker: {[(pid, comm(pid)) for pid in still]}"
        assert all(directory.exists() for directory in directories)  # files only, for the next worker

        worker_processes.start()
        assert await _removed(directories, within=60) == [], worker_processes.log_tail()
    finally:
        await handle.terminate("test over")
