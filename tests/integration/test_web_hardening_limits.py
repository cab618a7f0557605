"""Body limits per route, before anything is parsed, against the web app served by a real uvicorn.

The client is a plain socket, as an attacker's would be: it announces (or streams) a 2 GB
upload and keeps sending from a generator until the server answers, counting what the
generator yielded. Between uvicorn and the app sits a counter of the body bytes the app was
handed, and the process's temporary folder is one of the test's own: a refused upload must
be refused before the app reads it, and nothing may be spooled to disk.
"""

from __future__ import annotations

import asyncio
import select
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings
from devstack.ports import find_free_ports
from web.__main__ import uvicorn_config
from web.app import create_app
from web.middleware import DEFAULT_BODY_LIMIT, SIGNIN_BODY_LIMIT

KB = 1024
MB = 1024 * KB
GB = 1024 * MB
CHUNK = 64 * KB
# a server that is still reading after this much has failed the test (and the test stops sending)
GIVE_UP_AFTER = 64 * MB
BOUNDARY = "isms-test-boundary"


@dataclass
class BodyCounter:
    """An ASGI layer between uvicorn and the app: how many body bytes the app received."""

    app: ASGIApp
    received: dict[str, int] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        self.received.setdefault(path, 0)

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received[path] += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@dataclass
class Served:
    port: int
    counter: BodyCounter
    spool: Path


@pytest.fixture
async def served(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Served]:
    """The app under uvicorn with the production configuration, on a free port."""
    spool = tmp_path / "spool"
    spool.mkdir()
    # every tempfile (python-multipart's spooled uploads, the dashboard's upload folder) lands here
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    (port,) = find_free_ports(1)
    settings = settings.model_copy(
        update={"public_base_url": f"http://127.0.0.1:{port}", "web_port": port, "web_host": "127.0.0.1"}
    )
    counter = BodyCounter(create_app(settings))
    server = uvicorn.Server(uvicorn_config(settings, counter))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.05)
    yield Served(port=port, counter=counter, spool=spool)
    server.should_exit = True
    await serving


def two_gigabytes() -> Iterator[bytes]:
    """The body of a 2 GB multipart upload, one 64 KB piece at a time."""
    yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="documents"; filename="big.pdf"\r\n'.encode()
    yield b"Content-Type: application/pdf\r\n\r\n"
    piece = b"%" * CHUNK
    for _ in range(2 * GB // CHUNK):
        yield piece


@dataclass
class UploadOutcome:
    status: int | None
    yielded: int  # bytes the generator produced before the client stopped
    response: bytes


def upload(port: int, path: str, body: Iterator[bytes], *, content_length: int | None) -> UploadOutcome:
    """POST ``body`` with a socket, sending until the server answers (or stops the connection)."""
    framing = (
        f"Content-Length: {content_length}" if content_length is not None else "Transfer-Encoding: chunked"
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n\r\n"
    ).encode()
    yielded = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        pending = b""
        try:
            while yielded < GIVE_UP_AFTER:
                readable, writable, _ = select.select([sock], [sock], [], 10)
                if readable:
                    break  # the server has answered
                if not writable:
                    break  # neither reading nor answering: the status below says which
                if not pending:
                    piece = next(body, None)
                    if piece is None:
                        break
                    yielded += len(piece)
                    pending = piece if content_length is not None else b"%x\r\n%s\r\n" % (len(piece), piece)
                pending = pending[sock.send(pending) :]
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: its answer may still be readable
        sock.setblocking(True)
        sock.settimeout(10)
        response = b""
        try:
            while chunk := sock.recv(65536):
                response += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    status_line = response.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else None
    return UploadOutcome(status=status, yielded=yielded, response=response)


async def test_a_2gb_upload_to_the_dashboard_is_refused_before_it_is_read(served: Served) -> None:
    outcome = await asyncio.to_thread(
        upload, served.port, "/dashboard/cycles", two_gigabytes(), content_length=2 * GB
    )
    assert outcome.status == 413, outcome.response[:300]
    assert b"What was sent is too large" in outcome.response
    assert b"content-security-policy" in outcome.response.lower()  # the 413 is a page like any other
    # the client was stopped within the socket buffers, long before 2 GB
    assert outcome.yielded < 8 * MB, f"the server read {outcome.yielded} bytes before answering"
    assert served.counter.received.get("/dashboard/cycles", 0) == 0  # the app was handed nothing
    assert list(served.spool.iterdir()) == []  # nothing spooled


async def test_a_chunked_upload_is_cut_off_at_the_routes_limit(served: Served) -> None:
    """No Content-Length to refuse on: the bytes are counted as the app reads them."""
    path = "/sign/not-even-a-token"
    outcome = await asyncio.to_thread(upload, served.port, path, two_gigabytes(), content_length=None)
    assert outcome.status == 413, outcome.response[:300]
    assert b"at most 64 KB" in outcome.response
    assert outcome.yielded < 8 * MB, f"the server read {outcome.yielded} bytes before answering"
    assert served.counter.received[path] <= DEFAULT_BODY_LIMIT + 2 * CHUNK
    assert list(served.spool.iterdir()) == []


async def test_the_sign_in_form_takes_8_kb(served: Served) -> None:
    too_long = f"password={'x' * (SIGNIN_BODY_LIMIT + 1)}".encode()
    outcome = await asyncio.to_thread(
        upload, served.port, "/dashboard/login", iter([too_long]), content_length=len(too_long)
    )
    assert outcome.status == 413
    assert b"at most 8 KB" in outcome.response
    assert served.counter.received.get("/dashboard/login", 0) == 0
