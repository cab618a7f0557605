"""No link token in a log line: the redaction filter, and the web app's own log as it runs.

The last test starts the web app as the stack does (``python -m web``, its output to a log
file), opens real link tokens on every page that takes one, and reads the log file back.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.log_redaction import REDACTED, TokenRedactionFilter, redact
from core.settings import Settings
from core.tokens import issue_link
from devstack.ports import find_free_ports
from models.links import LinkRole

ROOT = Path(__file__).resolve().parents[2]
EMPTY_SETTINGS = ROOT / "tests" / "data" / "empty.env"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _token(role: LinkRole, *, secret: str = "s" * 40, person: str = "ceo@larkspur.example") -> str:
    return issue_link(
        secret,
        cycle_id="isms-review-larkspur-2026",
        person=person,
        role=role,
        version_hash="a" * 64 if role is not LinkRole.AUDITOR else None,
        ttl=timedelta(days=21),
        now=NOW,
    )


@pytest.mark.parametrize("role", list(LinkRole))
def test_a_token_is_redacted_wherever_it_appears(role: LinkRole) -> None:
    token = _token(role)
    for line in (
        f'127.0.0.1:50412 - "GET /sign/{token} HTTP/1.1" 200',
        f'127.0.0.1:50412 - "GET /ack/{token}/documents/information-security-policy HTTP/1.1" 200',
        f'"POST /audit/{token}/2026/verify HTTP/1.1" 200',
        f"GET /dashboard/signin/{token}",
        f"link sent: https://isms.larkspur.example/sign/{token}?x=1",
        f"a token on its own: {token}.",
        f"quoted {token!r}",
    ):
        cleaned = redact(line)
        assert token not in cleaned, line
        assert REDACTED in cleaned
    assert redact(f"GET /sign/{token}/documents/policy HTTP/1.1") == (
        "GET /sign/[redacted]/documents/policy HTTP/1.1"
    )


def test_any_segment_after_a_link_page_is_redacted_and_other_text_is_left_alone() -> None:
    assert redact("GET /sign/whatever-was-sent HTTP/1.1") == "GET /sign/[redacted] HTTP/1.1"
    assert redact("GET /ack/abc?x=1") == "GET /ack/[redacted]?x=1"
    assert redact("GET /dashboard/oidc/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsl") == (
        "GET /dashboard/oidc/callback?code=[redacted]&state=[redacted]"
    )
    ordinary = (
        "sent larkspur 2026 v3.0 invitation to eleanor.marsh@larkspur.example "
        "key larkspur/2026/information-security-policy/v3.0/document.pdf "
        f"sha256 {'ab12' * 16} workflow isms-review-larkspur-2026 GET /dashboard/cycles 303"
    )
    assert redact(ordinary) == ordinary


def test_the_filter_redacts_arguments_exceptions_and_keeps_formats_working() -> None:
    token = _token(LinkRole.SIGNER)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', None, None
    )
    record.args = ("127.0.0.1:5000", "GET", f"/sign/{token}", "1.1", 200)
    try:
        raise ValueError(f"could not open https://isms.example/ack/{token}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert TokenRedactionFilter().filter(record)
    formatted = logging.Formatter("%(message)s").format(record)
    assert token not in formatted
    assert '"GET /sign/[redacted] HTTP/1.1" 200' in formatted
    assert "/ack/[redacted]" in formatted
    assert record.args[-1] == 200  # numbers keep their type (uvicorn colours the status code)


def _environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ISMS_ variables a process of the stack reads."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ISMS_")}
    env["ISMS_SETTINGS_FILE"] = str(EMPTY_SETTINGS)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        env[f"ISMS_{name.upper()}"] = str(value)
    return env


def test_the_web_apps_log_has_no_token_after_every_link_page_is_opened(
    settings: Settings, tmp_path: Path
) -> None:
    (port,) = find_free_ports(1)
    settings = settings.model_copy(
        update={"public_base_url": f"http://127.0.0.1:{port}", "web_host": "127.0.0.1", "web_port": port}
    )
    secret = settings.link_secret.get_secret_value()
    tokens = {role: _token(role, secret=secret) for role in LinkRole}
    log_file = tmp_path / "web.log"
    with log_file.open("wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "web"], cwd=ROOT, env=_environment(settings), stdout=log, stderr=log
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/", timeout=2)
                break
            except httpx.TransportError:
                assert web.poll() is None, log_file.read_text()
                assert time.monotonic() < deadline, log_file.read_text()
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as browser:
            browser.get(f"/sign/{tokens[LinkRole.SIGNER]}")
            browser.get(f"/sign/{tokens[LinkRole.SIGNER]}/documents/information-security-policy")
            browser.post(f"/sign/{tokens[LinkRole.SIGNER]}", data={"action": "sign"})
            browser.get(f"/ack/{tokens[LinkRole.STAFF]}")
            browser.get(f"/audit/{tokens[LinkRole.AUDITOR]}/2026")
            browser.get(f"/dashboard/signin/{tokens[LinkRole.LEAD]}")
            browser.get("/sign/not-a-real-token-but-still-a-secret-shape")
    finally:
        web.terminate()
        web.wait(timeout=30)
    logged = log_file.read_text()
    assert "GET /sign/[redacted]" in logged, logged  # the access log is on, and redacted
    for role, token in tokens.items():
        assert token not in logged, f"the {role.value} token is in the web log"
    assert "not-a-real-token" not in logged
