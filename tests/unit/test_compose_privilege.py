"""Least privilege in the production docker-compose.yml, read by parsing it (no Docker here).

Only the web app is published and only it has a route out; each process has an S3 identity
of its own whose MinIO policy allows what it needs (the archive written by the archive writer
alone, deleted by nobody); each secret serves one purpose and reaches only the processes that
need it; the seal key is on the worker's own volume with a passphrase from a secret. The
image's entrypoint that turns secret files into settings is run for real.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BACKING = ("postgresql", "temporal", "temporal-ui", "minio", "minio-init", "mailpit")
ARCHIVE = "arn:aws:s3:::isms-archive"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(compose["services"][name])


def _env(compose: dict[str, Any], name: str) -> dict[str, str]:
    return {key: str(value) for key, value in (_service(compose, name).get("environment") or {}).items()}


def _secrets(compose: dict[str, Any], name: str) -> dict[str, str]:
    """target -> source of each secret the service gets."""
    return {s["target"]: s["source"] for s in _service(compose, name).get("secrets") or []}


def _policy(compose: dict[str, Any], identity: str) -> list[dict[str, Any]]:
    """The statements of the MinIO policy minio-init attaches to ``identity``."""
    mounted = {c["target"]: c["source"] for c in _service(compose, "minio-init")["configs"]}
    source = mounted[f"/policies/{identity}.json"]
    statements: list[dict[str, Any]] = json.loads(compose["configs"][source]["content"])["Statement"]
    return statements


def _allowed(statements: list[dict[str, Any]], resource: str) -> set[str]:
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow" and resource in statement["Resource"]
        for action in statement["Action"]
    }


def test_only_the_web_app_is_published_and_the_backing_services_are_internal(compose: dict[str, Any]) -> None:
    networks = compose["networks"]
    internal = {name for name, network in networks.items() if (network or {}).get("internal") is True}
    assert internal, "no network is internal: true"
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"web"}
    for name in (*BACKING, "worker", "cli"):
        assert set(_service(compose, name)["networks"]) <= internal, f"{name} has a route outside"
    web_networks = set(_service(compose, "web")["networks"])
    assert web_networks & internal, "the web app must reach the internal services"
    assert web_networks - internal, "the web app must be on a published network too"


def test_each_process_has_its_own_s3_identity_and_the_web_app_no_archive_writer(
    compose: dict[str, Any],
) -> None:
    web, worker, cli = (_env(compose, name) for name in ("web", "worker", "cli"))
    identities = [web["ISMS_S3_ACCESS_KEY_ID"], worker["ISMS_S3_ACCESS_KEY_ID"], cli["ISMS_S3_ACCESS_KEY_ID"]]
    archive_writer = worker["ISMS_S3_ARCHIVE_ACCESS_KEY_ID"]
    assert len({*identities, archive_writer}) == 4
    secret_keys = [_secrets(compose, name)["ISMS_S3_SECRET_ACCESS_KEY"] for name in ("web", "worker", "cli")]
    archive_key = _secrets(compose, "worker")["ISMS_S3_ARCHIVE_SECRET_ACCESS_KEY"]
    assert len({*secret_keys, archive_key}) == 4, "two processes share an S3 secret key"
    for name in ("web", "cli"):
        given = _env(compose, name).keys() | _secrets(compose, name).keys()
        assert not {var for var in given if var.startswith("ISMS_S3_ARCHIVE_")}, (
            f"{name} can write the archive"
        )
        assert archive_key not in _secrets(compose, name).values()
    # the auditor identity is set where the archive is read for an auditor (portal, `isms audit`)
    for name in ("web", "cli"):
        assert _env(compose, name)["ISMS_S3_AUDITOR_ACCESS_KEY_ID"] == "isms-auditor"
        assert _secrets(compose, name)["ISMS_S3_AUDITOR_SECRET_ACCESS_KEY"] == "s3_auditor_secret_key"


def test_minio_init_makes_every_identity_with_the_secret_its_process_uses(compose: dict[str, Any]) -> None:
    init_secrets = _secrets(compose, "minio-init")  # target (the identity's name) -> source
    script = " ".join(_service(compose, "minio-init")["command"])
    pairs = [
        ("web", "ISMS_S3_ACCESS_KEY_ID", "ISMS_S3_SECRET_ACCESS_KEY"),
        ("worker", "ISMS_S3_ACCESS_KEY_ID", "ISMS_S3_SECRET_ACCESS_KEY"),
        ("worker", "ISMS_S3_ARCHIVE_ACCESS_KEY_ID", "ISMS_S3_ARCHIVE_SECRET_ACCESS_KEY"),
        ("web", "ISMS_S3_AUDITOR_ACCESS_KEY_ID", "ISMS_S3_AUDITOR_SECRET_ACCESS_KEY"),
        ("cli", "ISMS_S3_ACCESS_KEY_ID", "ISMS_S3_SECRET_ACCESS_KEY"),
    ]
    for service, key_id, secret_key in pairs:
        identity = _env(compose, service)[key_id]
        assert init_secrets[identity] == _secrets(compose, service)[secret_key], identity
        assert _policy(compose, identity), f"{identity} has no policy"
        assert identity in script.split("for user in ", 1)[1].split(";", 1)[0]


def test_only_the_archive_writer_may_write_the_archive_and_nobody_may_delete_there(
    compose: dict[str, Any],
) -> None:
    objects = f"{ARCHIVE}/*"
    writes = {"s3:PutObject", "s3:PutObjectRetention", "s3:DeleteObject", "s3:DeleteObjectVersion"}
    for identity in ("isms-web", "isms-worker", "isms-auditor", "isms-operator"):
        allowed = _allowed(_policy(compose, identity), objects)
        assert "s3:GetObject" in allowed
        assert not allowed & writes, f"{identity} may {sorted(allowed & writes)} in the archive"
    writer = _allowed(_policy(compose, "isms-archive-writer"), objects)
    assert {"s3:PutObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold"} <= writer
    assert not {action for action in writer if action.startswith("s3:Delete") or "Bypass" in action}
    # the archive writer reads the drafts it copies, and changes none
    assert _allowed(_policy(compose, "isms-archive-writer"), "arn:aws:s3:::isms-drafts/*") == {"s3:GetObject"}
    auditor = _policy(compose, "isms-auditor")
    assert not any("isms-drafts" in resource for statement in auditor for resource in statement["Resource"])
    assert not {a for s in auditor for a in s["Action"] if re.match(r"s3:(Put|Delete)", a)}


def test_each_secret_has_one_purpose_and_reaches_only_who_needs_it(compose: dict[str, Any]) -> None:
    declared = compose["secrets"]
    purposes = {"ISMS_LINK_SECRET", "ISMS_SESSION_SECRET", "ISMS_PROOF_SECRET", "ISMS_SIGNING_KEY_PASSPHRASE"}
    sources = {
        target: source
        for name in ("web", "worker", "cli")
        for target, source in _secrets(compose, name).items()
    }
    assert len({sources[p] for p in purposes}) == len(purposes), "two purposes share a secret"
    assert len({declared[sources[p]]["environment"] for p in purposes}) == len(purposes)
    holders = {
        purpose: {name for name in ("web", "worker", "cli") if purpose in _secrets(compose, name)}
        for purpose in purposes
    }
    assert holders == {
        "ISMS_LINK_SECRET": {"web", "worker", "cli"},
        "ISMS_SESSION_SECRET": {"web"},
        "ISMS_PROOF_SECRET": {"web", "worker"},  # never the command line: it must not prove a decision
        "ISMS_SIGNING_KEY_PASSPHRASE": {"worker"},
    }
    for name in ("web", "worker", "cli"):
        leaked = [var for var in _env(compose, name) if re.search(r"SECRET|PASSWORD|PASSPHRASE", var)]
        assert leaked == [], f"{name} has secrets in its environment: {leaked}"


def test_the_seal_key_is_on_the_workers_own_volume(compose: dict[str, Any]) -> None:
    worker = _service(compose, "worker")
    signing_dir = _env(compose, "worker")["ISMS_SIGNING_DIR"]
    mounts = dict(volume.split(":", 1)[::-1] for volume in worker["volumes"])
    assert mounts[signing_dir] in compose["volumes"], "the seal key folder is not a named volume"
    seal_volume = mounts[signing_dir]
    for name, service in compose["services"].items():
        if name != "worker":
            assert not any(str(v).startswith(f"{seal_volume}:") for v in service.get("volumes") or []), name
    assert not {var for var in _env(compose, "web") if var.startswith("ISMS_SIGNING_")}
    assert not {var for var in _secrets(compose, "web") if var.startswith("ISMS_SIGNING_")}
    assert "ISMS_SIGNING_KEY_PASSPHRASE" in _secrets(compose, "worker")


def _entrypoint_script() -> str:
    text = DOCKERFILE.read_text(encoding="utf-8")
    match = re.search(r"^COPY --chmod=0755 <<'EOF' (\S+)\n(.*?)^EOF$", text, re.MULTILINE | re.DOTALL)
    assert match, "the Dockerfile has no entrypoint script"
    assert re.search(rf'^ENTRYPOINT \["{re.escape(match[1])}"\]$', text, re.MULTILINE)
    return match[2]


def test_the_image_turns_secret_files_into_the_settings_they_name(tmp_path: Path) -> None:
    script = tmp_path / "isms-secrets"
    script.write_text(_entrypoint_script())
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ISMS_PROOF_SECRET").write_text("proof-" + "p" * 40 + "\n")
    (secrets / "ISMS_bad-name").write_text("ignored")
    (secrets / "postgres_password").write_text("not a setting")
    shown = subprocess.run(
        ["sh", str(script), "env"],
        env={"PATH": "/usr/bin:/bin", "SECRETS_DIR": str(secrets)},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    variables = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    assert variables["ISMS_PROOF_SECRET"] == "proof-" + "p" * 40  # the file's newline is not kept
    assert not {name for name in variables if name.startswith("ISMS_")} - {"ISMS_PROOF_SECRET"}
    assert "not a setting" not in shown.stdout
    assert "ignoring" in shown.stderr
