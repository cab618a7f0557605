"""``isms dev up / status / down`` as a user runs them: real processes, real ports, real state."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from adapters.temporal import connect_temporal
from core.settings import load_settings
from devstack.ports import find_free_ports
from devstack.stack import DevStack
from models.health import StackCheckInput, StackCheckResult

pytestmark = pytest.mark.e2e

ISMS = [str(Path(sys.executable).parent / "isms")]
PORT_OPTIONS = [
    "--temporal-port",
    "--temporal-ui-port",
    "--temporal-http-port",
    "--temporal-metrics-port",
    "--s3-port",
    "--seaweed-master-port",
    "--seaweed-volume-port",
    "--seaweed-filer-port",
    "--smtp-port",
    "--tsa-port",
    "--web-port",
]


def _isms(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISMS_")}
    return subprocess.run(
        [*ISMS, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


async def _run_marker_workflow(settings_file: Path, workflow_id: str) -> StackCheckResult:
    settings = load_settings(settings_file=settings_file)
    client = await connect_temporal(settings)
    return await client.execute_workflow(
        "StackCheckWorkflow",
        StackCheckInput(),
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
        result_type=StackCheckResult,
    )


async def _marker_status(settings_file: Path, workflow_id: str) -> WorkflowExecutionStatus | None:
    client = await connect_temporal(load_settings(settings_file=settings_file))
    return (await client.get_workflow_handle(workflow_id).describe()).status


@pytest.fixture
def stack_dir(tmp_path: Path) -> Any:
    data_dir = tmp_path / "isms-data"
    yield data_dir
    # whatever happened, leave no process behind
    DevStack(data_dir).down()


def test_up_status_down_and_state_survives(stack_dir: Path) -> None:
    ports = find_free_ports(len(PORT_OPTIONS))
    port_args = [arg for option, port in zip(PORT_OPTIONS, ports, strict=True) for arg in (option, str(port))]

    up = _isms("dev", "up", *port_args, "--json", data_dir=stack_dir)
    assert up.returncode == 0, up.stderr + up.stdout
    summary = json.loads(up.stdout)
    assert summary["healthy"] is True
    assert [c["name"] for c in summary["components"]] == [
        "temporal",
        "seaweedfs",
        "smtp",
        "tsa",
        "worker",
        "web",
    ]
    assert summary["urls"]["web"] == f"http://127.0.0.1:{ports[PORT_OPTIONS.index('--web-port')]}"

    status = _isms("dev", "status", "--json", data_dir=stack_dir)
    assert status.returncode == 0, status.stdout
    components = {c["name"]: c for c in json.loads(status.stdout)["components"]}
    assert all(c["healthy"] for c in components.values()), components
    assert "archive ok" in components["worker"]["detail"]
    pids = [c["pid"] for c in components.values()]
    assert all(_pid_alive(pid) for pid in pids)

    settings_file = stack_dir / "isms.env"
    assert oct(settings_file.stat().st_mode & 0o777) == "0o600"
    marker = f"e2e-marker-{uuid.uuid4()}"
    result = asyncio.run(_run_marker_workflow(settings_file, marker))
    assert result.dependencies.ok

    down = _isms("dev", "down", "--json", data_dir=stack_dir)
    assert down.returncode == 0, down.stderr
    assert set(json.loads(down.stdout)["stopped"]) == set(components)
    assert not any(_pid_alive(pid) for pid in pids), "dev down left a process running"

    after = _isms("dev", "status", "--json", data_dir=stack_dir)
    assert after.returncode == 1
    assert not any(c["running"] for c in json.loads(after.stdout)["components"])

    again = _isms("dev", "up", "--json", data_dir=stack_dir)  # same ports, remembered
    assert again.returncode == 0, again.stderr + again.stdout
    assert asyncio.run(_marker_status(settings_file, marker)) == WorkflowExecutionStatus.COMPLETED


def test_a_taken_port_is_reported_and_nothing_starts(stack_dir: Path) -> None:
    ports = find_free_ports(len(PORT_OPTIONS))
    port_args = [arg for option, port in zip(PORT_OPTIONS, ports, strict=True) for arg in (option, str(port))]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[4]))  # the S3 port
        squatter.listen()
        up = _isms("dev", "up", *port_args, data_dir=stack_dir)
    assert up.returncode == 1
    assert f"port {ports[4]} (seaweedfs) is already in use" in up.stderr
    assert "--s3-port" in up.stderr
    state = DevStack(stack_dir).load_state()
    assert state is None or state.processes == {}


SETTINGS = {
    "archive_bucket": "acme-isms-archive",
    "smtp_sender": "ISMS <isms@acme.example>",
    "public_base_url": "https://isms.acme.example",
    "link_secret": "s3cr3t-" + "k" * 40,
}


def _isms_in(*args: str, cwd: Path, data_dir: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISMS_")}
    if data_dir is not None:
        env["ISMS_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "240"  # Rich wraps at the terminal width: keep messages on one line
    return subprocess.run(
        [str(Path(sys.executable).parent / "isms"), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_command_reads_the_settings_of_isms_data_dir(tmp_path: Path) -> None:
    """`ISMS_DATA_DIR` elsewhere, run from a third folder: `isms audit` uses that folder's isms.env."""
    data_dir, elsewhere = tmp_path / "stack-data", tmp_path / "somewhere-else"
    data_dir.mkdir()
    elsewhere.mkdir()
    (port,) = find_free_ports(1)  # nothing listens there: the command fails naming what it used
    values = {
        **SETTINGS,
        "drafts_bucket": "bucket-from-data-dir",
        "s3_endpoint_url": f"http://127.0.0.1:{port}",
    }
    lines = [f"ISMS_{name.upper()}={value}" for name, value in values.items()]
    (data_dir / "isms.env").write_text(
        "\n".join([*lines, "ISMS_S3_ACCESS_KEY_ID=k", "ISMS_S3_SECRET_ACCESS_KEY=s"])
    )

    used = _isms_in("audit", "grants", cwd=elsewhere, data_dir=data_dir)
    assert used.returncode == 1, used.stderr
    assert f"cannot use s3://bucket-from-data-dir at http://127.0.0.1:{port}" in used.stderr

    # the same command without ISMS_DATA_DIR looks in ./.isms-data of where it runs: nothing there
    unset = _isms_in("audit", "grants", cwd=elsewhere, data_dir=None)
    assert unset.returncode == 2
    assert "invalid settings (read from environment)" in unset.stderr
    assert "ISMS_ARCHIVE_BUCKET: missing" in unset.stderr

    # and `isms dev` agrees on the folder
    status = _isms_in("dev", "status", "--json", cwd=elsewhere, data_dir=data_dir)
    assert json.loads(status.stdout)["data_dir"] == str(data_dir.resolve())
    assert json.loads(status.stdout)["settings_file"] == str((data_dir / "isms.env").resolve())
