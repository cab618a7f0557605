"""The local stack gives each process only what it needs: read from the running processes.

`isms dev up` on free ports, then: the web app's own environment (``/proc/<pid>/environ``) and
the settings file it names hold no archive-write keys and no seal key settings, and its S3
identity is refused a write to the archive by the stack's real SeaweedFS while its drafts write
works; the worker's file has the archive writer's keys and the proof secret; the command line's
``isms.env`` has neither the proof secret nor the archive keys.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from dotenv import dotenv_values

from adapters.archive import archive_bytes
from adapters.s3 import make_archive_s3_client, make_s3_client
from core.settings import Settings, load_settings
from devstack.ports import find_free_ports
from devstack.processes import spawn, stop
from devstack.seaweed import write_s3_config
from devstack.stack import DevPorts, DevStack, DevState, StackError

pytestmark = pytest.mark.e2e

ARCHIVE_KEYS = {"ISMS_S3_ARCHIVE_ACCESS_KEY_ID", "ISMS_S3_ARCHIVE_SECRET_ACCESS_KEY"}
SEAL_SETTINGS = {
    "ISMS_SIGNING_KEY_FILE",
    "ISMS_SIGNING_CERT_FILE",
    "ISMS_SIGNING_KEY_PASSPHRASE",
    "ISMS_SIGNING_DIR",
}


# settings left in the shell that runs `isms dev up`: they would win over a process's own file
STRAY = {
    "ISMS_S3_ARCHIVE_ACCESS_KEY_ID": "STRAYARCHIVEKEY",
    "ISMS_S3_ARCHIVE_SECRET_ACCESS_KEY": "stray-archive-secret",
    "ISMS_SIGNING_KEY_PASSPHRASE": "stray-passphrase",
}


PORT_OPTIONS = {
    "temporal": "--temporal-port",
    "temporal_ui": "--temporal-ui-port",
    "temporal_http": "--temporal-http-port",
    "temporal_metrics": "--temporal-metrics-port",
    "s3": "--s3-port",
    "seaweed_master": "--seaweed-master-port",
    "seaweed_volume": "--seaweed-volume-port",
    "seaweed_filer": "--seaweed-filer-port",
    "smtp": "--smtp-port",
    "tsa": "--tsa-port",
    "web": "--web-port",
}


def _isms_dev(command: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``isms dev <command>`` as a user runs it, from a shell that has the stray settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ISMS_")} | STRAY
    return subprocess.run(
        [str(Path(sys.executable).parent / "isms"), "dev", command, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevStack, DevState]]:
    data_dir = tmp_path_factory.mktemp("least-privilege-stack")
    ports = find_free_ports(len(PORT_OPTIONS))
    assert list(PORT_OPTIONS) == list(DevPorts.model_fields)
    port_args = [
        arg for option, port in zip(PORT_OPTIONS.values(), ports, strict=True) for arg in (option, str(port))
    ]
    try:
        up = _isms_dev("up", data_dir, *port_args, "--json")
        assert up.returncode == 0, up.stderr + up.stdout
        stack = DevStack(data_dir)
        state = stack.load_state()
        assert state is not None
        yield stack, state
    finally:
        down = _isms_dev("down", data_dir)
        assert down.returncode == 0, down.stderr


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


def _settings_file(stack: DevStack, path: Path) -> dict[str, str]:
    assert oct(path.stat().st_mode & 0o777) == "0o600", f"{path} must be readable by its owner only"
    return {name: value or "" for name, value in dotenv_values(path).items()}


def _write_archive(settings: Settings, s3_key: str, *, archive_client: bool) -> None:
    s3 = make_archive_s3_client(settings) if archive_client else make_s3_client(settings)
    archive_bytes(
        s3,
        bucket=settings.archive_bucket,
        key=s3_key,
        body=b"evidence",
        content_type="text/plain",
        retain_until=datetime.now(UTC) + timedelta(days=1),
    )


def _refused(action: object) -> str:
    assert callable(action)
    with pytest.raises(ClientError) as refused:
        action()
    return str(refused.value.response.get("Error", {}).get("Code"))


def test_the_web_process_has_no_archive_write_keys_and_no_seal_key(stack: tuple[DevStack, DevState]) -> None:
    dev, state = stack
    assert all(status.healthy for status in dev.status()), dev.status()
    web_environ = _environ(state.processes["web"].pid)
    assert web_environ["ISMS_SETTINGS_FILE"] == str(dev.process_settings_file("web"))
    # nothing of the shell's ISMS_ settings reaches it: only the file it is given, and the folder
    assert {name for name in web_environ if name.startswith("ISMS_")} == {
        "ISMS_SETTINGS_FILE",
        "ISMS_DATA_DIR",
    }

    web_file = _settings_file(dev, dev.process_settings_file("web"))
    assert web_file.keys() & (ARCHIVE_KEYS | SEAL_SETTINGS) == set()
    assert web_file["ISMS_S3_ACCESS_KEY_ID"] == state.s3_web.access_key_id
    assert state.s3_admin.access_key_id not in web_file.values()
    assert state.s3_archive_writer.access_key_id not in web_file.values()
    assert web_file["ISMS_PROOF_SECRET"] == state.proof_secret  # the web app proves decisions

    web = load_settings(settings_file=dev.process_settings_file("web"))
    key = f"least-privilege/{uuid.uuid4()}/forged.pdf"
    assert _refused(lambda: _write_archive(web, key, archive_client=False)) == "AccessDenied"
    assert _refused(lambda: _write_archive(web, key, archive_client=True)) == "AccessDenied"
    s3 = make_s3_client(web)
    s3.put_object(Bucket=web.drafts_bucket, Key=f"drafts/{uuid.uuid4()}.txt", Body=b"a draft")


def test_the_worker_has_the_archive_writer_and_the_proof_secret(stack: tuple[DevStack, DevState]) -> None:
    dev, state = stack
    worker_environ = _environ(state.processes["worker"].pid)
    assert worker_environ["ISMS_SETTINGS_FILE"] == str(dev.process_settings_file("worker"))
    worker_file = _settings_file(dev, dev.process_settings_file("worker"))
    assert worker_file["ISMS_S3_ARCHIVE_ACCESS_KEY_ID"] == state.s3_archive_writer.access_key_id
    assert worker_file["ISMS_S3_ACCESS_KEY_ID"] == state.s3_worker.access_key_id
    assert worker_file["ISMS_PROOF_SECRET"] == state.proof_secret
    # the web app's secrets are not the worker's business
    assert worker_file.keys() & {"ISMS_SESSION_SECRET", "ISMS_DASHBOARD_PASSWORD"} == set()

    worker = load_settings(settings_file=dev.process_settings_file("worker"))
    key = f"least-privilege/{uuid.uuid4()}/register.csv"
    _write_archive(worker, key, archive_client=True)
    assert _refused(lambda: _write_archive(worker, f"{key}.main", archive_client=False)) == "AccessDenied"


def test_the_command_line_settings_have_no_proof_secret_and_no_archive_keys(
    stack: tuple[DevStack, DevState],
) -> None:
    dev, state = stack
    cli_file = _settings_file(dev, dev.settings_file)
    assert "ISMS_PROOF_SECRET" not in cli_file
    assert state.proof_secret not in cli_file.values()
    assert cli_file.keys() & (ARCHIVE_KEYS | SEAL_SETTINGS | {"ISMS_SESSION_SECRET"}) == set()
    assert cli_file["ISMS_S3_ACCESS_KEY_ID"] == state.s3_cli.access_key_id

    cli = load_settings(settings_file=dev.settings_file)
    assert cli.proof_secret is None
    key = f"least-privilege/{uuid.uuid4()}/forged.json"
    assert _refused(lambda: _write_archive(cli, key, archive_client=True)) == "AccessDenied"


def test_no_process_of_the_stack_inherits_isms_settings_from_the_shell(
    stack: tuple[DevStack, DevState],
) -> None:
    _, state = stack
    for name in ("temporal", "seaweedfs", "smtp", "worker", "web"):
        environ = _environ(state.processes[name].pid)
        inherited = sorted(variable for variable in environ if variable in STRAY)
        assert inherited == [], f"{name} was given {inherited} from the shell"
        assert "STRAYARCHIVEKEY" not in environ.values()


def test_a_seaweedfs_running_with_the_old_shared_identity_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    """A stack from before the split: its SeaweedFS knows one admin and the auditor only, so a
    web app or worker started now with identities of their own could not work."""
    dev = DevStack(tmp_path / "stack")
    old = DevState.model_validate(
        {
            "s3_admin": {
                "name": "isms-app",
                "access_key_id": "A",
                "secret_access_key": "B",
                "actions": ["Admin"],
            },
            "s3_auditor": {
                "name": "isms-auditor",
                "access_key_id": "C",
                "secret_access_key": "D",
                "actions": [],
            },
            "link_secret": "x" * 32,
        }
    )
    write_s3_config(dev.s3_config, [old.s3_admin, old.s3_auditor])
    # a stand-in for the running SeaweedFS: what matters is that the stack believes it runs
    record, process = spawn("seaweedfs", ["sleep", "60"], log_file=tmp_path / "seaweedfs.log")
    try:
        old.processes["seaweedfs"] = record
        dev.data_dir.mkdir(parents=True, exist_ok=True)
        dev._save_state(old)
        with pytest.raises(StackError, match="run `isms dev down` first"):
            dev.up(timeout=5)
        state = dev.load_state()
        assert state is not None
        assert set(state.processes) == {"seaweedfs"}  # nothing else was started
        assert not dev.process_settings_file("web").exists()
    finally:
        dev.down()  # whatever a regression might have started
        stop(record, process=process)
