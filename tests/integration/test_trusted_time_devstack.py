"""``isms dev up`` runs a real timestamp authority, and only the worker is told where it is.

The authority listens on its default port (8090): ``isms dev up`` has no ``--tsa-port`` yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from devstack.ports import find_free_ports
from devstack.stack import DevPorts, DevStack
from documents.timestamps import TimestampAuthority


def _isms_dev(command: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ISMS_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "isms"), "dev", command, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DevStack]:
    data_dir = tmp_path / "stack"
    options = {name: f"--{name.replace('_', '-')}-port" for name in DevPorts.model_fields if name != "tsa"}
    options["s3"] = "--s3-port"
    ports = find_free_ports(len(options))
    args = [arg for option, port in zip(options.values(), ports, strict=True) for arg in (option, str(port))]
    try:
        up = _isms_dev("up", data_dir, *args)
        assert up.returncode == 0, up.stderr + up.stdout
        yield DevStack(data_dir)
    finally:
        down = _isms_dev("down", data_dir)
        assert down.returncode == 0, down.stderr


def test_the_stack_serves_timestamps_to_the_worker(stack: DevStack) -> None:
    worker = dotenv_values(stack.process_settings_file("worker"))
    web = dotenv_values(stack.process_settings_file("web"))
    assert "ISMS_TSA_URL" not in web  # the web app seals nothing
    url, ca_file = worker["ISMS_TSA_URL"], worker["ISMS_TSA_CA_FILE"]
    assert url is not None
    assert ca_file is not None
    authority = TimestampAuthority(url=url, roots_pem=Path(ca_file).read_bytes())
    response = authority.timestamp(b"manifest bytes")  # checked against the root before returned
    assert response
    statuses = {status.name: status for status in stack.status()}
    assert statuses["tsa"].healthy
