"""``isms dev up/status/down``: the whole stack under one data directory.

Layout of the data directory (``--data-dir``, else ``$ISMS_DATA_DIR``, else ``./.isms-data``: the
folder :func:`core.settings.resolve_data_dir` gives every ``isms`` command)::

    devstack.json            ports, identities and the processes this tool started
    isms.env                 the ISMS_ settings of the command line (`isms ...`; 0600)
    web.env, worker.env      the settings of the web app and of the worker (0600 each): each
                             process gets only what it needs (least privilege, see below)
    temporal/temporal.db     Temporal's SQLite store: workflows survive a restart
    seaweedfs/               SeaweedFS volumes and filer metadata
    seaweedfs-identities.json  S3 access keys, one identity per process and purpose (0600)
    mailbox/                 one .eml file per message the SMTP sink accepted
    logs/<component>.log     each process's output

Who gets what: the web app has its own S3 identity (drafts read/write, archive read only), the
auditor's read-only keys, the session and proof secrets, and no archive-write keys, no seal key
settings; the worker has its main identity (the same rights as the web app's), the archive
writer's keys, the proof secret and the seal key folder; the command line has an identity of
its own (drafts, archive read, legal hold) and neither the proof secret (Temporal's clients
other than the web app must not be able to prove a decision) nor the archive-write keys. Only
``isms dev`` itself keeps the admin identity that creates the buckets (in devstack.json).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from core.files import write_atomic
from devstack.mailsink import smtp_health
from devstack.ports import port_is_free
from devstack.processes import (
    HealthCheck,
    ProcessRecord,
    is_running,
    spawn,
    stop,
    tail,
    wait_until_healthy,
)
from devstack.seaweed import (
    STOP_GRACE_SECONDS,
    S3Identity,
    SeaweedPorts,
    app_actions,
    archive_writer_actions,
    auditor_actions,
    operator_actions,
    s3_client_for,
    s3_config_is,
    s3_health,
    seaweed_argv,
    write_s3_config,
)
from devstack.temporal_server import TemporalPorts, temporal_argv, temporal_health
from devstack.tsa import fetch_tsa_root, tsa_argv, tsa_health, tsa_url, write_tsa_config
from documents.pdf_convert import reap_stale_converters

# the demo organisation's profile: its ISMS lead and deputy may sign in to the local dashboard
DEMO_PROFILE = Path(__file__).parent / "demo" / "profile.yaml"

HOST = "127.0.0.1"
ARCHIVE_BUCKET = "isms-archive"
DRAFTS_BUCKET = "isms-drafts"
TASK_QUEUE = "isms-cycle"

ComponentName = Literal["temporal", "seaweedfs", "smtp", "tsa", "worker", "web"]
# tsa: a real RFC 3161 timestamp authority (certomancer), started before the worker that uses it
COMPONENTS: tuple[ComponentName, ...] = ("temporal", "seaweedfs", "smtp", "tsa", "worker", "web")
# the processes that read ISMS_ settings, each from a file of its own beside isms.env
SETTINGS_READERS: tuple[Literal["worker", "web"], ...] = ("worker", "web")


class DevPorts(BaseModel):
    """Every port the local stack listens on (all on 127.0.0.1)."""

    temporal: int = Field(7233, ge=1, le=65535)
    temporal_ui: int = Field(8233, ge=1, le=65535)
    temporal_http: int = Field(7243, ge=1, le=65535)
    temporal_metrics: int = Field(7244, ge=1, le=65535)
    s3: int = Field(8333, ge=1, le=55535)
    seaweed_master: int = Field(9333, ge=1, le=55535)
    seaweed_volume: int = Field(8380, ge=1, le=55535)
    seaweed_filer: int = Field(8388, ge=1, le=55535)
    smtp: int = Field(8025, ge=1, le=65535)
    tsa: int = Field(8090, ge=1, le=65535)
    web: int = Field(8000, ge=1, le=65535)

    def temporal_ports(self) -> TemporalPorts:
        return TemporalPorts(
            grpc=self.temporal,
            ui=self.temporal_ui,
            http=self.temporal_http,
            metrics=self.temporal_metrics,
        )

    def seaweed_ports(self) -> SeaweedPorts:
        return SeaweedPorts(
            s3=self.s3,
            master=self.seaweed_master,
            volume=self.seaweed_volume,
            filer=self.seaweed_filer,
        )

    def by_component(self) -> dict[ComponentName, list[tuple[int, str]]]:
        """Each component's ports with the option that changes them."""
        seaweed = self.seaweed_ports()
        return {
            "temporal": [
                (self.temporal, "--temporal-port"),
                (self.temporal_ui, "--temporal-ui-port"),
                (self.temporal_http, "--temporal-http-port"),
                (self.temporal_metrics, "--temporal-metrics-port"),
            ],
            "seaweedfs": [
                (self.s3, "--s3-port"),
                (seaweed.grpc(self.s3), "--s3-port (its gRPC port is +10000)"),
                (self.seaweed_master, "--seaweed-master-port"),
                (seaweed.grpc(self.seaweed_master), "--seaweed-master-port (gRPC +10000)"),
                (self.seaweed_volume, "--seaweed-volume-port"),
                (seaweed.grpc(self.seaweed_volume), "--seaweed-volume-port (gRPC +10000)"),
                (self.seaweed_filer, "--seaweed-filer-port"),
                (seaweed.grpc(self.seaweed_filer), "--seaweed-filer-port (gRPC +10000)"),
            ],
            "smtp": [(self.smtp, "--smtp-port")],
            "tsa": [(self.tsa, "--tsa-port")],
            "worker": [],
            "web": [(self.web, "--web-port")],
        }


def _new_identity(name: str, actions: list[str]) -> S3Identity:
    return S3Identity(
        name=name,
        access_key_id="ISMS" + secrets.token_hex(8).upper(),
        secret_access_key=secrets.token_urlsafe(30),
        actions=actions,
    )


class DevState(BaseModel):
    """What ``devstack.json`` remembers between commands.

    The identities' actions are recomputed from :func:`identity_actions` each time SeaweedFS
    starts, so a state file written by an older version gets today's (narrower) rights.
    """

    ports: DevPorts = DevPorts()
    s3_admin: S3Identity  # `isms dev` alone: creates the buckets, checks the gateway
    s3_auditor: S3Identity
    # one identity per process and purpose, made on first `up` (defaults keep older files readable)
    s3_web: S3Identity = Field(default_factory=lambda: _new_identity("isms-web", []))
    s3_worker: S3Identity = Field(default_factory=lambda: _new_identity("isms-worker", []))
    s3_archive_writer: S3Identity = Field(default_factory=lambda: _new_identity("isms-archive-writer", []))
    s3_cli: S3Identity = Field(default_factory=lambda: _new_identity("isms-cli", []))
    link_secret: str
    # generated on first `up`; a default keeps devstack.json files from before it readable
    # no longer used (the dashboard signs in named people); kept so older devstack.json files load
    dashboard_password: str = Field(default_factory=lambda: secrets.token_urlsafe(12))
    # a secret per purpose (sessions; the web app's proof to the worker), made on first `up`
    session_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(48))
    proof_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(48))
    processes: dict[str, ProcessRecord] = {}


class ComponentStatus(BaseModel):
    name: ComponentName
    running: bool
    healthy: bool
    pid: int | None = None
    detail: str
    url: str | None = None
    log_file: str | None = None


class StackError(Exception):
    """The stack could not be started; ``lines`` says why, one problem a line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


EventSink = Callable[[str], None]


def identity_actions(state: DevState) -> list[S3Identity]:
    """Every identity of the stack with what it may do on the stack's two buckets."""
    buckets = {"archive": ARCHIVE_BUCKET, "drafts": DRAFTS_BUCKET}
    return [
        state.s3_admin.model_copy(update={"actions": ["Admin", "Read", "Write", "List", "Tagging"]}),
        state.s3_web.model_copy(update={"actions": app_actions(**buckets)}),
        state.s3_worker.model_copy(update={"actions": app_actions(**buckets)}),
        state.s3_archive_writer.model_copy(update={"actions": archive_writer_actions(**buckets)}),
        state.s3_cli.model_copy(update={"actions": operator_actions(**buckets)}),
        state.s3_auditor.model_copy(update={"actions": auditor_actions(archive=ARCHIVE_BUCKET)}),
    ]


def _quote_env(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DevStack:
    """The local stack rooted at ``data_dir``."""

    def __init__(self, data_dir: Path, *, worker_settings: dict[str, str] | None = None) -> None:
        """``worker_settings``: more ISMS_ settings for the worker's file (the benchmark's
        ``--worker-cache``); the stack's own win over them."""
        self.data_dir = data_dir.resolve()
        self._worker_settings = dict(worker_settings or {})
        self.state_file = self.data_dir / "devstack.json"
        self.settings_file = self.data_dir / "isms.env"  # the command line's
        self.logs_dir = self.data_dir / "logs"
        self.mailbox_dir = self.data_dir / "mailbox"
        self.tsa_root_file = self.data_dir / "tsa" / "tsa-root.pem"
        self.temporal_db = self.data_dir / "temporal" / "temporal.db"
        self.seaweed_dir = self.data_dir / "seaweedfs"
        self.s3_config = self.data_dir / "seaweedfs-identities.json"

    # state ---------------------------------------------------------------------------

    def load_state(self) -> DevState | None:
        if not self.state_file.is_file():
            return None
        return DevState.model_validate_json(self.state_file.read_text())

    def _save_state(self, state: DevState) -> None:
        write_atomic(self.state_file, state.model_dump_json(indent=2).encode())  # 0600, as mkstemp makes it

    def _initial_state(self) -> DevState:
        return DevState(
            s3_admin=_new_identity("isms-admin", []),
            s3_auditor=_new_identity("isms-auditor", []),
            link_secret=secrets.token_urlsafe(48),
        )

    def process_settings_file(self, name: Literal["worker", "web"]) -> Path:
        """The settings file the stack's worker or web app reads (``worker.env``, ``web.env``)."""
        return self.data_dir / f"{name}.env"

    def _shared_env(self, state: DevState) -> dict[str, str]:
        """Where everything is: what every reader of settings needs, no key of any identity."""
        ports = state.ports
        return {
            "ISMS_TEMPORAL_ADDRESS": f"{HOST}:{ports.temporal}",
            "ISMS_TEMPORAL_NAMESPACE": "default",
            "ISMS_TEMPORAL_TASK_QUEUE": TASK_QUEUE,
            "ISMS_TEMPORAL_UI_URL": f"http://{HOST}:{ports.temporal_ui}",
            "ISMS_S3_ENDPOINT_URL": f"http://{HOST}:{ports.s3}",
            "ISMS_S3_REGION": "us-east-1",
            "ISMS_ARCHIVE_BUCKET": ARCHIVE_BUCKET,
            "ISMS_DRAFTS_BUCKET": DRAFTS_BUCKET,
            "ISMS_RETENTION_YEARS": "7",
            "ISMS_SMTP_HOST": HOST,
            "ISMS_SMTP_PORT": str(ports.smtp),
            "ISMS_SMTP_SECURITY": "none",
            "ISMS_SMTP_SENDER": "isms-cycle <isms@localhost>",
            "ISMS_PUBLIC_BASE_URL": f"http://{HOST}:{ports.web}",
            "ISMS_WEB_HOST": HOST,
            "ISMS_WEB_PORT": str(ports.web),
            # links are made by the worker (emails) and the command line (auditor access), read by the web app
            "ISMS_LINK_SECRET": state.link_secret,
        }

    @staticmethod
    def _identity_env(identity: S3Identity, prefix: str = "ISMS_S3_") -> dict[str, str]:
        return {
            f"{prefix}ACCESS_KEY_ID": identity.access_key_id,
            f"{prefix}SECRET_ACCESS_KEY": identity.secret_access_key,
        }

    def settings_env(self, state: DevState) -> dict[str, str]:
        """The command line's ISMS_ settings, as written to ``isms.env``.

        Its own S3 identity and the auditor's read-only one; no proof secret, no session
        secret, no archive-write keys, no seal key settings.
        """
        return {
            **self._shared_env(state),
            **self._identity_env(state.s3_cli),
            **self._identity_env(state.s3_auditor, "ISMS_S3_AUDITOR_"),
        }

    def process_env(self, state: DevState, name: Literal["worker", "web"]) -> dict[str, str]:
        """The ISMS_ settings of the stack's worker or web app: only what that process needs."""
        if name == "web":
            return {
                **self._shared_env(state),
                **self._identity_env(state.s3_web),
                **self._identity_env(state.s3_auditor, "ISMS_S3_AUDITOR_"),  # the auditor's portal
                # named sign-in only (an emailed link): no shared dashboard password here
                "ISMS_SESSION_SECRET": state.session_secret,
                "ISMS_PROOF_SECRET": state.proof_secret,
                # the demo organisation's ISMS lead and deputy may sign in to the dashboard
                "ISMS_PROFILE_FILE": str(DEMO_PROFILE),
                "ISMS_WEB_STATE_DIR": str(self.data_dir / "web"),
            }
        return {
            **self._worker_settings,
            **self._shared_env(state),
            **self._identity_env(state.s3_worker),
            **self._identity_env(state.s3_archive_writer, "ISMS_S3_ARCHIVE_"),
            "ISMS_PROOF_SECRET": state.proof_secret,
            "ISMS_SIGNING_DIR": str(self.data_dir / "signing"),
            # trusted time for the seals and the manifests (the file is written once the TSA answers)
            "ISMS_TSA_URL": tsa_url(state.ports.tsa),
            "ISMS_TSA_CA_FILE": str(self.tsa_root_file),
        }

    def _write_settings_files(self, state: DevState) -> None:
        """``isms.env`` for the command line, ``web.env`` and ``worker.env``: 0600, they hold secrets."""
        files: list[tuple[Path, str, dict[str, str]]] = [
            (self.settings_file, "the `isms` command line", self.settings_env(state)),
            *(
                (self.process_settings_file(name), f"the stack's {name}", self.process_env(state, name))
                for name in SETTINGS_READERS
            ),
        ]
        for path, reader, values in files:
            lines = [f"# written by `isms dev up`: the settings of {reader}, and of nothing else"]
            lines += [f"{variable}={_quote_env(value)}" for variable, value in values.items()]
            write_atomic(path, ("\n".join(lines) + "\n").encode())  # 0600, as mkstemp makes it

    def _child_env(self, name: ComponentName) -> dict[str, str]:
        """The environment a component starts with: ours without any ISMS_ variable (they would
        win over its settings file and could hand it a key it must not have), plus its own file."""
        env = {variable: value for variable, value in os.environ.items() if not variable.startswith("ISMS_")}
        env.setdefault("PYTHONUNBUFFERED", "1")
        if name == "worker" or name == "web":
            env["ISMS_SETTINGS_FILE"] = str(self.process_settings_file(name))
            env["ISMS_DATA_DIR"] = str(self.data_dir)
        return env

    # components ----------------------------------------------------------------------

    def _argv(self, name: ComponentName, state: DevState) -> list[str]:
        if name == "temporal":
            self.temporal_db.parent.mkdir(parents=True, exist_ok=True)
            return temporal_argv(db_file=self.temporal_db, ports=state.ports.temporal_ports())
        if name == "seaweedfs":
            write_s3_config(self.s3_config, identity_actions(state))
            return seaweed_argv(
                data_dir=self.seaweed_dir,
                s3_config=self.s3_config,
                ports=state.ports.seaweed_ports(),
            )
        if name == "smtp":
            return [
                sys.executable, "-m", "devstack.mailsink",
                "--host", HOST, "--port", str(state.ports.smtp),
                "--maildir", str(self.mailbox_dir),
            ]  # fmt: skip
        if name == "tsa":
            config = write_tsa_config(self.data_dir / "tsa", port=state.ports.tsa)
            return tsa_argv(config, port=state.ports.tsa)
        if name == "worker":
            return [sys.executable, "-m", "worker"]
        return [sys.executable, "-m", "web"]

    def _health_check(self, name: ComponentName, state: DevState) -> HealthCheck:
        ports = state.ports
        if name == "temporal":
            return lambda: temporal_health(ports=ports.temporal_ports())
        if name == "seaweedfs":
            return lambda: s3_health(f"http://{HOST}:{ports.s3}", state.s3_admin)
        if name == "smtp":
            return lambda: smtp_health(host=HOST, port=ports.smtp)
        if name == "tsa":
            return lambda: tsa_health(ports.tsa)
        if name == "worker":
            return lambda: self._worker_health()
        return lambda: _http_health(f"http://{HOST}:{ports.web}/healthz")

    def _worker_health(self) -> tuple[bool, str]:
        # imported here: the check talks to Temporal, which `dev down` and friends never need
        from devstack.worker_check import run_stack_check

        return run_stack_check(self.settings_file)

    def url(self, name: ComponentName, state: DevState) -> str | None:
        ports = state.ports
        return {
            "temporal": f"http://{HOST}:{ports.temporal_ui} (gRPC {HOST}:{ports.temporal})",
            "seaweedfs": f"http://{HOST}:{ports.s3}",
            "smtp": f"smtp://{HOST}:{ports.smtp} -> {self.mailbox_dir}",
            "tsa": tsa_url(ports.tsa),
            "worker": f"task queue {TASK_QUEUE}",
            "web": f"http://{HOST}:{ports.web}",
        }[name]

    def _prepare_buckets(self, state: DevState) -> str:
        from adapters.s3 import ensure_archive_bucket, ensure_bucket

        s3 = s3_client_for(f"http://{HOST}:{state.ports.s3}", state.s3_admin)
        created = ensure_archive_bucket(s3, ARCHIVE_BUCKET)
        ensure_bucket(s3, DRAFTS_BUCKET)
        verb = "created" if created else "found"
        return f"{verb} archive bucket {ARCHIVE_BUCKET} with Object Lock"

    # commands ------------------------------------------------------------------------

    def up(
        self,
        *,
        port_overrides: dict[str, int] | None = None,
        timeout: float = 90.0,
        on_event: EventSink = lambda _: None,
    ) -> list[ComponentStatus]:
        """Start every component that is not already running, in dependency order.

        Raises :class:`StackError` before starting anything when a port is taken, and
        stops what this call started when a component fails to come up.
        """
        state = self.load_state() or self._initial_state()
        running = {name for name in COMPONENTS if self._is_running(state, name)}
        if port_overrides:
            changed = state.ports.model_copy(update=port_overrides)
            if running and changed != state.ports:
                raise StackError(
                    [
                        "the stack is running with other ports; run `isms dev down` first, "
                        "then `isms dev up` with the new ports"
                    ]
                )
            state.ports = DevPorts.model_validate(changed.model_dump())
        if "seaweedfs" in running and not s3_config_is(self.s3_config, identity_actions(state)):
            # SeaweedFS reads its identities when it starts: a worker or web app started now with
            # keys it does not know (a stack from before identities were split) could not work
            raise StackError(
                [
                    "SeaweedFS is running with other S3 identities than this version gives each "
                    "process; run `isms dev down` first, then `isms dev up`"
                ]
            )
        to_start = [name for name in COMPONENTS if name not in running]
        self._check_ports(state, to_start)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_settings_files(state)
        self._save_state(state)

        started: list[ComponentName] = []
        for name in COMPONENTS:
            if name in running:
                on_event(f"{name}: already running (pid {state.processes[name].pid})")
                continue
            on_event(f"{name}: starting")
            record, process = spawn(
                name,
                self._argv(name, state),
                log_file=self.logs_dir / f"{name}.log",
                env=self._child_env(name),
            )
            state.processes[name] = record
            self._save_state(state)  # recorded before waiting, so `down` can always find it
            started.append(name)
            try:
                detail = wait_until_healthy(
                    name, self._health_check(name, state), timeout=timeout, process=process
                )
                if name == "seaweedfs":
                    detail = self._prepare_buckets(state)
                if name == "tsa":  # the worker's ISMS_TSA_CA_FILE: the root the authority publishes
                    write_atomic(self.tsa_root_file, fetch_tsa_root(state.ports.tsa))
            except Exception as exc:
                log_tail = tail(record.log_file)
                for earlier in reversed(started):
                    stop(state.processes.pop(earlier), grace_seconds=self._grace(earlier))
                self._save_state(state)
                lines = [f"{name} failed to start: {exc}", f"log: {record.log_file}"]
                if log_tail:
                    lines += ["last lines of the log:", *("  " + line for line in log_tail.splitlines())]
                raise StackError(lines) from exc
            on_event(f"{name}: healthy ({detail})")
        return self.status(state=state)

    def _is_running(self, state: DevState, name: str) -> bool:
        record = state.processes.get(name)
        return record is not None and is_running(record)

    def _check_ports(self, state: DevState, to_start: list[ComponentName]) -> None:
        problems: list[str] = []
        seen: dict[int, str] = {}
        for name in to_start:
            for port, option in state.ports.by_component()[name]:
                if port in seen:
                    problems.append(f"port {port} is given to both {seen[port]} and {option}")
                    continue
                seen[port] = option
                if not port_is_free(port, host=HOST):
                    problems.append(
                        f"port {port} ({name}) is already in use by another program: "
                        f"free it, or choose another with {option.split()[0]}"
                    )
        if problems:
            raise StackError(problems)

    @staticmethod
    def _grace(name: str) -> float:
        return STOP_GRACE_SECONDS if name == "seaweedfs" else 10.0

    def status(self, *, state: DevState | None = None) -> list[ComponentStatus]:
        """Is each component running (its recorded process alive) and healthy (it answers)?"""
        state = state or self.load_state()
        if state is None:
            return [
                ComponentStatus(name=name, running=False, healthy=False, detail="never started")
                for name in COMPONENTS
            ]
        result = []
        for name in COMPONENTS:
            record = state.processes.get(name)
            if record is None or not is_running(record):
                result.append(
                    ComponentStatus(
                        name=name,
                        running=False,
                        healthy=False,
                        detail="not running",
                        log_file=record.log_file if record else None,
                    )
                )
                continue
            healthy, detail = self._health_check(name, state)()
            result.append(
                ComponentStatus(
                    name=name,
                    running=True,
                    healthy=healthy,
                    pid=record.pid,
                    detail=detail,
                    url=self.url(name, state),
                    log_file=record.log_file,
                )
            )
        return result

    def down(self, *, on_event: EventSink = lambda _: None) -> dict[str, str]:
        """Stop the processes this stack started (by recorded pid), newest first. Data stays."""
        state = self.load_state()
        if state is None:
            return {}
        outcome: dict[str, str] = {}
        for name in reversed(COMPONENTS):
            record = state.processes.pop(name, None)
            if record is None:
                continue
            on_event(f"{name}: stopping pid {record.pid}")
            outcome[name] = stop(record, grace_seconds=self._grace(name))
            self._save_state(state)
            on_event(f"{name}: {outcome[name]}")
            if name == "worker":
                # its LibreOffice dies with it; this catches one a worker killed earlier left behind
                for reaped in reap_stale_converters():
                    on_event(f"libreoffice: removed {reaped.directory} left by process {reaped.owner_pid}")
        return outcome


def _http_health(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (our own http URL)
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"no answer from {url}: {exc}"
    return body.get("status") == "ok", f"{url} says {body.get('status')}"
