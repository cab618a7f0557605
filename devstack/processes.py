"""Start background processes and stop exactly those, by recorded pid and start time.

A pid alone is not an identity: after a reboot or a long time the number can belong to
another program. Each record also keeps the process's start time from ``/proc``, and a
process whose start time differs is treated as gone and is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel


class ProcessRecord(BaseModel):
    """A process this tool started."""

    name: str
    pid: int
    start_ticks: int | None
    argv: list[str]
    log_file: str


def _start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def is_running(record: ProcessRecord) -> bool:
    """True if the recorded process is alive and is still the one we started."""
    ticks = _start_ticks(record.pid)
    if ticks is None or _is_zombie(record.pid):
        return False
    return record.start_ticks is None or ticks == record.start_ticks


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[ProcessRecord, subprocess.Popen[bytes]]:
    """Start ``argv`` detached from the terminal (own session), output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # Ctrl-C in the terminal that ran `isms dev up` must not stop it
        )
    record = ProcessRecord(
        name=name,
        pid=process.pid,
        start_ticks=_start_ticks(process.pid),
        argv=list(argv),
        log_file=str(log_file),
    )
    return record, process


def stop(
    record: ProcessRecord,
    *,
    grace_seconds: float = 10.0,
    process: subprocess.Popen[bytes] | None = None,
) -> str:
    """Stop the recorded process: SIGTERM, wait up to ``grace_seconds``, then SIGKILL.

    Pass ``process`` when this interpreter started it, so the exited child is reaped.
    Returns what happened: ``"not running"``, ``"stopped"`` or ``"killed"``.
    """
    outcome = _stop(record, grace_seconds=grace_seconds)
    if process is not None:
        process.wait(timeout=5)
    return outcome


def _stop(record: ProcessRecord, *, grace_seconds: float) -> str:
    if not is_running(record):
        return "not running"
    os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not is_running(record):
            return "stopped"
        time.sleep(0.1)
    if is_running(record):
        os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while is_running(record) and time.monotonic() < deadline:
            time.sleep(0.05)
    return "killed"


def tail(path: Path | str, *, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


HealthCheck = Callable[[], tuple[bool, str]]


def wait_until_healthy(
    what: str,
    check: HealthCheck,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.25,
) -> str:
    """Poll ``check`` until it passes; fail early if ``process`` exits. Returns the detail."""
    deadline = time.monotonic() + timeout
    detail = "not checked yet"
    while time.monotonic() < deadline:
        ok, detail = check()
        if ok:
            return detail
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} during start-up")
        time.sleep(interval)
    raise TimeoutError(f"{what} did not become healthy within {timeout:.0f} s: {detail}")
