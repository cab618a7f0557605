"""Processes are stopped by recorded pid and start time, never by name, never a reused pid."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from devstack.ports import find_free_ports, port_is_free
from devstack.processes import is_running, spawn, stop

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
    "time.sleep(60)",
]


def test_spawn_records_and_stop_terminates(tmp_path: Path) -> None:
    record, process = spawn("sleeper", SLEEPER, log_file=tmp_path / "sleeper.log")
    assert is_running(record)
    assert record.start_ticks is not None
    assert stop(record, process=process) == "stopped"
    assert not is_running(record)
    assert stop(record) == "not running"


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    record, process = spawn("stubborn", STUBBORN, log_file=log)
    while "ready" not in log.read_text():
        pass
    assert stop(record, grace_seconds=0.5, process=process) == "killed"
    assert process.returncode == -9


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    record, process = spawn("sleeper", SLEEPER, log_file=tmp_path / "sleeper.log")
    impostor = record.model_copy(update={"start_ticks": (record.start_ticks or 0) + 12345})
    assert not is_running(impostor)
    assert stop(impostor) == "not running"
    assert process.poll() is None, "a process with the same pid but another start time was signalled"
    stop(record, process=process)


def test_port_checks() -> None:
    (port,) = find_free_ports(1)
    assert port_is_free(port)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert not port_is_free(port)
