"""The production docker-compose.yml and Dockerfile, checked by parsing (no Docker needed)."""

from __future__ import annotations

import copy
import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import ENV_PREFIX, Settings

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

SERVICES = {"postgresql", "temporal", "temporal-ui", "minio", "minio-init", "mailpit", "worker", "web"}
APP_SERVICES = ("worker", "web")
SECRET_WORDS = ("SECRET", "PASSWORD", "PWD", "API_KEY", "ACCESS_KEY", "ROOT_USER")
# ${NAME:?message} (required) or ${NAME:-default}
SUBSTITUTION = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[?-])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def isms_environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's ISMS_ settings: its environment, and the secrets it gets as files named like
    a setting (the image's entrypoint turns each into that variable), shown as ``${source:?}``."""
    env = {name: value for name, value in environment(service).items() if name.startswith(ENV_PREFIX)}
    for secret in service.get("secrets") or []:
        if isinstance(secret, dict) and str(secret.get("target", "")).startswith(ENV_PREFIX):
            env[secret["target"]] = "${" + secret["source"] + ":?a secret}"
    return env


def settings_variables() -> set[str]:
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def required_variables() -> set[str]:
    return {ENV_PREFIX + name.upper() for name, field in Settings.model_fields.items() if field.is_required()}


def environment_problems(compose: dict[str, Any]) -> list[str]:
    """Every way the app services' ISMS_ environment disagrees with ``Settings``."""
    problems = []
    for name in APP_SERVICES:
        env = isms_environment(compose["services"][name])
        problems += [f"{name}: {var} is not a setting" for var in sorted(env.keys() - settings_variables())]
        problems += [f"{name}: {var} is missing" for var in sorted(required_variables() - env.keys())]
    return problems


def command(service: dict[str, Any]) -> list[str]:
    """The service's command, falling back to the Dockerfile's CMD for services built from it."""
    cmd = service.get("command")
    if cmd is None:
        match = re.search(r"^CMD\s+(.+)$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
        assert match, "the Dockerfile has no CMD"
        cmd = yaml.safe_load(match.group(1))
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def test_every_service_exists(compose: dict[str, Any]) -> None:
    assert compose["services"].keys() >= SERVICES


def test_app_environment_matches_settings(compose: dict[str, Any]) -> None:
    assert environment_problems(compose) == []


def test_misspelled_or_missing_variable_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    env = broken["services"]["worker"]["environment"] = dict(broken["services"]["worker"]["environment"])
    env["ISMS_SMTP_SENDR"] = env.pop("ISMS_SMTP_SENDER")
    assert environment_problems(broken) == [
        "worker: ISMS_SMTP_SENDR is not a setting",
        "worker: ISMS_SMTP_SENDER is missing",
    ]


def test_worker_and_web_agree_on_every_setting_both_have(compose: dict[str, Any]) -> None:
    """Each has only what it needs (test_compose_privilege); what both have is the same."""
    worker, web = (isms_environment(compose["services"][name]) for name in APP_SERVICES)
    shared = worker.keys() & web.keys()
    assert {"ISMS_TEMPORAL_ADDRESS", "ISMS_ARCHIVE_BUCKET", "ISMS_LINK_SECRET"} <= shared
    differ = {name for name in shared if worker[name] != web[name]}
    # one S3 identity each, the web app's and the worker's
    assert differ == {"ISMS_S3_ACCESS_KEY_ID", "ISMS_S3_SECRET_ACCESS_KEY"}


def test_compose_environment_is_valid_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the defaults applied and a dummy for each required secret, Settings accepts it."""
    for var in [var for var in os.environ if var.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(var)

    def substitute(value: str) -> str:
        return SUBSTITUTION.sub(lambda m: m["arg"] if m["op"] == "-" else "x" * 40, value)

    env = {k: substitute(v) for k, v in isms_environment(compose["services"]["worker"]).items()}
    values: dict[str, Any] = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items()}
    Settings(_env_file=None, **values)


def test_app_points_at_the_compose_services(compose: dict[str, Any]) -> None:
    env = isms_environment(compose["services"]["worker"])
    assert env["ISMS_TEMPORAL_ADDRESS"].rpartition(":")[0] == "temporal"
    assert urlsplit(env["ISMS_S3_ENDPOINT_URL"]).hostname == "minio"
    assert env["ISMS_SMTP_HOST"] == "mailpit"
    assert env["ISMS_SMTP_SECURITY"] == "none"
    assert env["ISMS_WEB_HOST"] == "0.0.0.0"  # noqa: S104 - the container listens on its network


def test_minio_init_creates_the_archive_bucket_with_object_lock(compose: dict[str, Any]) -> None:
    env = isms_environment(compose["services"]["worker"])
    script = " ".join(command(compose["services"]["minio-init"]))
    archive, drafts = env["ISMS_ARCHIVE_BUCKET"], env["ISMS_DRAFTS_BUCKET"]
    assert re.search(rf"mc mb --ignore-existing --with-lock \S+/{re.escape(archive)}\b", script)
    assert re.search(rf"mc mb --ignore-existing \S+/{re.escape(drafts)}\b", script)


def test_no_secret_is_hard_coded(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for var, value in environment(service).items():
            if var.endswith("_ACCESS_KEY_ID") and re.fullmatch(r"isms-[a-z-]+", value):
                continue  # the name of an S3 identity; its secret key comes from a secret
            if any(word in var for word in SECRET_WORDS):
                match = SUBSTITUTION.fullmatch(value)
                assert match is not None, f"{name}: {var} is hard-coded, use ${{NAME:?message}}"
                assert match["op"] == "?", f"{name}: {var} must be required: ${{NAME:?message}}"


def test_images_run_the_right_process(compose: dict[str, Any]) -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert "libreoffice-writer-nogui" in dockerfile
    assert re.search(r"^USER\s+(?!root\b)\S+", dockerfile, re.MULTILINE), "the image must not run as root"
    assert command({"build": "."}) == ["python", "-m", "worker"]
    assert command(compose["services"]["worker"]) == ["python", "-m", "worker"]
    assert command(compose["services"]["web"]) == ["python", "-m", "web"]
    for name in APP_SERVICES:
        assert compose["services"][name]["build"] == "."
        assert compose["services"][name]["depends_on"]["minio-init"] == {
            "condition": "service_completed_successfully"
        }
