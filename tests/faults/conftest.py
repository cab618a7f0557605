"""Fault injection with real processes: a worker that can be SIGKILLed, an S3 link that can go down.

The S3 server stays the real SeaweedFS; the worker reaches it through :class:`FaultyLink`, a
TCP relay in the test process that can delay traffic (so "mid-archive" lasts long enough to
be hit) and can go down (refusing and cutting connections) and come back, as a network
outage would. SMTP outages stop and restart the real sink on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.settings import Settings
from devstack.ports import find_free_ports
from tests.workflows.test_cycle_cli import _environment

REPO = Path(__file__).resolve().parents[2]


@dataclass
class FaultyLink:
    """A TCP relay to ``target``: ``delay`` seconds before each chunk forwarded; ``down()`` cuts it."""

    target_host: str
    target_port: int
    delay: float = 0.0
    port: int = 0
    _up: bool = True
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        (self.port,) = find_free_ports(1)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        self.down()
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target_url(self) -> str:
        return f"http://{self.target_host}:{self.target_port}"

    def down(self) -> None:
        self._up = False
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def up(self) -> None:
        self._up = True

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slow: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while chunk := await reader.read(65536):
                if slow and self.delay:
                    await asyncio.sleep(self.delay)
                if not self._up:
                    break
                writer.write(chunk)
                await writer.drain()
        writer.transport.abort() if not self._up else writer.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._relay(client_reader, client_writer)
        except asyncio.CancelledError:
            client_writer.transport.abort()
        finally:
            self._handlers.discard(task)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if not self._up:
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        self._open |= {client_writer, upstream_writer}
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, slow=True),
            self._pipe(upstream_reader, client_writer, slow=False),
        )
        self._open -= {client_writer, upstream_writer}


@pytest.fixture
async def s3_link(settings: Settings) -> AsyncIterator[FaultyLink]:
    assert settings.s3_endpoint_url is not None
    host, port = settings.s3_endpoint_url.removeprefix("http://").split(":")
    link = FaultyLink(host, int(port))
    await link.start()
    yield link
    await link.close()


@dataclass
class ProcessGroup:
    """Processes a fault test starts (each in a session of its own) and their logs, ``<log_prefix>-*.log``."""

    settings: Settings
    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_prefix = "process"

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and every process it started (a worker's LibreOffice too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                self.kill(process)

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-20:])
            for path in sorted(self.logs.glob(f"{self.log_prefix}-*.log"))
        )


@dataclass
class WorkerProcesses(ProcessGroup):
    """Workers started as real processes (``python -m worker``), each killable with SIGKILL."""

    log_prefix = "worker"

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.started) + 1
        log = (self.logs / f"worker-{number}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=REPO,
            env=_environment(self.settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.started.append(process)
        return process


@pytest.fixture
def worker_processes(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcesses]:
    workers = WorkerProcesses(settings=settings, logs=tmp_path)
    yield workers
    workers.stop_all()
