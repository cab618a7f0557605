"""LibreOffice never outlives the process that owns its converter: real processes, real SIGKILLs.

A separate Python process owns the converters here (a pool started from pool threads that
have exited since, and one started in a short-lived thread), so that it can be SIGKILLed as a
worker would be. With setpriv, its offices go with it. Without it (simulated by pointing the
owner at a setpriv that does not exist, as on a machine without util-linux), they stay, and
``reap_stale_converters`` in the next owner (and ``isms dev down``) stops them and removes
what they left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest

from devstack.processes import spawn
from devstack.seaweed import S3Identity
from devstack.stack import DevStack, DevState
from documents.pdf_convert import DEFAULT_WORK_ROOT, PdfConverter, reap_stale_converters

REPO = Path(__file__).resolve().parents[2]

OWNER_SCRIPT = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import documents.pdf_convert as pdf_convert

if sys.argv[1] == "without-setpriv":
    pdf_convert.SETPRIV = "/nonexistent/setpriv"
source, out = Path(sys.argv[2]), Path(sys.argv[3])
pool = pdf_convert.PdfConverterPool(size=2).start()  # started by threads that have exited
with ThreadPoolExecutor(1) as threads:
    single = threads.submit(lambda: pdf_convert.PdfConverter().start()).result()
converters = [*pool.converters, single]
started = [c.pid for c in converters]
time.sleep(0.5)
for number, converter in enumerate(converters):
    converter.convert(source, out / f"{number}.pdf")
print(json.dumps({
    "started": started,
    "offices": [c.pid for c in converters],
    "directories": [str(c.profile_dir.parents[1]) for c in converters],
}), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not count)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


def processes_using(directory: Path) -> list[int]:
    """Running processes whose command line names ``directory`` or whose working directory is in it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (str(directory) + "/" in argv or (cwd + "/").startswith(str(directory) + "/")) and alive(
            int(entry.name)
        ):
            found.append(int(entry.name))
    return found


def gone_within(pids: list[int], seconds: float) -> list[int]:
    """Wait up to ``seconds`` for every pid to stop; the ones still running."""
    deadline = time.monotonic() + seconds
    while (running := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


@dataclass
class Owner:
    """A Python process that owns three converters, their offices and directories."""

    process: subprocess.Popen[str]
    started: list[int]
    offices: list[int]
    directories: list[Path]

    def processes(self) -> list[int]:
        return sorted({pid for directory in self.directories for pid in processes_using(directory)})

    def sigkill(self) -> None:
        """SIGKILL the owner's process group, its bridges with it, as the fault tests kill a worker.

        Killing the owner alone would let each bridge see the end of its input and ask its
        office to quit; the group kill leaves the parent-death signal as the only way out.
        """
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_owner(mode: str, tmp_path: Path) -> Owner:
    source = tmp_path / "policy.docx"
    document = docx.Document()
    document.add_heading("Information Security Policy", level=1)
    document.save(str(source))
    (tmp_path / "out").mkdir()
    with (tmp_path / "owner.log").open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", OWNER_SCRIPT, mode, str(source), str(tmp_path / "out")],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        process.stdout.close()
        pytest.fail(f"the owner process failed:\n{(tmp_path / 'owner.log').read_text()}")
    started = json.loads(line)
    return Owner(
        process=process,
        started=started["started"],
        offices=started["offices"],
        directories=[Path(directory) for directory in started["directories"]],
    )


@pytest.fixture
def owners() -> Iterator[list[Owner]]:
    started: list[Owner] = []
    yield started
    for owner in started:
        if owner.process.poll() is None:
            owner.sigkill()
    reap_stale_converters()  # whatever a failed assertion left


def test_libreoffice_goes_with_its_sigkilled_owner(owners: list[Owner], tmp_path: Path) -> None:
    owner = start_owner("with-setpriv", tmp_path)
    owners.append(owner)
    everything = owner.processes()
    # three offices and their bridges, all alive although the threads that started them ended:
    # each conversion ran on the office started then, none had to start a new one
    assert owner.offices == owner.started
    assert sorted(comm(pid) for pid in owner.offices) == ["soffice.bin"] * 3
    assert set(owner.offices) <= set(everything)
    assert len(everything) == 6, [(pid, comm(pid)) for pid in everything]
    assert all(directory.parent == DEFAULT_WORK_ROOT for directory in owner.directories)

    owner.sigkill()

    still = gone_within(everything, 5)
    assert still == [], f"still running after their owner was killed: {[(p, comm(p)) for p in still]}"
    # what is left is files only, which the next owner removes without stopping anything
    reaped = {r.directory: r for r in reap_stale_converters()}
    for directory in owner.directories:
        assert reaped[directory].killed == []
        assert not directory.exists()


def test_an_office_left_running_is_reaped_by_the_next_owner(owners: list[Owner], tmp_path: Path) -> None:
    with PdfConverter() as mine:  # a live owner's converter must not be touched
        owner = start_owner("without-setpriv", tmp_path)
        owners.append(owner)
        everything = owner.processes()
        owner.sigkill()
        # nothing armed a parent-death signal: the offices outlive their owner
        time.sleep(2)
        assert [pid for pid in owner.offices if alive(pid)] == owner.offices
        # the sockets LibreOffice listens on, which a killed office does not remove
        pipes = [
            Path(f"/tmp/OSL_PIPE_{os.getuid()}_{json.loads(office.read_text())['pipe']}")
            for directory in owner.directories
            for office in directory.glob("office-*/office.json")
        ]
        assert len(pipes) == 3
        assert all(pipe.is_socket() for pipe in pipes)

        reaped = {r.directory: r for r in reap_stale_converters()}

        assert gone_within(everything, 1) == []
        for directory, office in zip(owner.directories, owner.offices, strict=True):
            assert office in reaped[directory].killed
            assert reaped[directory].owner_pid == owner.process.pid
            assert not directory.exists()
        assert [pipe for pipe in pipes if pipe.exists()] == []
        assert mine.pid is not None
        assert alive(mine.pid)
        assert mine.profile_dir is not None
        assert mine.profile_dir.is_dir()
        mine.convert(tmp_path / "policy.docx", tmp_path / "mine.pdf")


def test_dev_down_removes_what_a_killed_worker_left(owners: list[Owner], tmp_path: Path) -> None:
    # the stack's worker is a stand-in process here: what matters is what down does after it
    identity = S3Identity(name="admin", access_key_id="A", secret_access_key="B", actions=["Admin"])
    stack = DevStack(tmp_path / "stack")
    record, process = spawn("worker", ["sleep", "60"], log_file=tmp_path / "worker.log")
    state = DevState(s3_admin=identity, s3_auditor=identity, link_secret="x" * 32)
    state.processes["worker"] = record
    stack._save_state(state)
    (tmp_path / "owner").mkdir()
    owner = start_owner("without-setpriv", tmp_path / "owner")
    owners.append(owner)
    everything = owner.processes()
    owner.sigkill()
    events: list[str] = []

    assert stack.down(on_event=events.append) == {"worker": "stopped"}

    process.wait(timeout=5)
    assert gone_within(everything, 1) == []
    assert not any(directory.exists() for directory in owner.directories)
    assert sum(f"left by process {owner.process.pid}" in event for event in events) == 3, events


COLD_SCRIPT = """
import sys
from pathlib import Path

import docx

from documents.pdf_convert import convert_cold

document = docx.Document()
for n in range(6000):  # seconds of work: it would finish by itself
    document.add_paragraph(f"Clause {n} " * 30)
document.save(sys.argv[1])
convert_cold(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_cold_conversion_dies_with_its_sigkilled_caller(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", COLD_SCRIPT, str(tmp_path / "long.docx"), str(tmp_path / "out")],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    # the first soffice.bin on a fresh profile exits by itself (81) and is started again: wait
    # for one that has been running for a while, converting
    first_seen: dict[int, float] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            now = time.monotonic()
            running = [pid for pid in children(process.pid) if comm(pid) == "soffice.bin"]
            for pid in running:
                first_seen.setdefault(pid, now)
            offices = [pid for pid in running if now - first_seen[pid] >= 1.5]
            if offices:
                break
            assert process.poll() is None, "the conversion ended before it could be interrupted"
            assert now < deadline, "no soffice.bin kept running"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    # at once, not when it has finished the document
    assert gone_within(offices, 1) == []
