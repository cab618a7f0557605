"""A real OpenID provider for the single sign-on tests: ``oidc_provider_mock`` in a process of its own.

A subprocess rather than a thread: the provider is a Flask app on its own server, and its
library's deprecation warnings (Authlib's ``jose`` module) then stay out of this test run,
whose warnings are errors. Stopped at the end of the session like the other servers.

>>> provider.add_user("ravi@example.test", email_verified=True)
>>> await provider.approve(http, authorization_url, subject="ravi@example.test")  # -> our callback URL
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from devstack.ports import find_free_ports
from devstack.processes import spawn, stop, tail, wait_until_healthy

CLIENT_ID = "isms-cycle-tests"
CLIENT_SECRET = "isms-cycle-tests-client-secret"  # the provider takes any secret for any client


@dataclass(frozen=True)
class OidcProvider:
    issuer: str  # what the provider calls itself: http://127.0.0.1:<port>

    def add_user(self, subject: str, **claims: object) -> None:
        """Give ``subject`` its claims (``email`` defaults to the subject)."""
        response = httpx.put(
            f"{self.issuer}/users/{quote(subject, safe='')}", json={"email": subject, **claims}, timeout=10
        )
        response.raise_for_status()

    async def approve(self, authorization_url: str, *, subject: str) -> str:
        """Submit the provider's login form as ``subject``; the URL it sends the browser back to."""
        async with httpx.AsyncClient(timeout=10) as http:
            form = await http.get(authorization_url)
            assert form.status_code == 200, form.text
            answer = await http.post(authorization_url, data={"sub": subject})
        assert answer.status_code in (302, 303), answer.text
        return answer.headers["location"]


def _health(issuer: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2) as response:  # noqa: S310
            return response.status == 200, f"HTTP {response.status}"
    except OSError as exc:
        return False, str(exc)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """The provider on a free port, with nonces required (as our client always sends one)."""
    root: Path = tmp_path_factory.mktemp("oidc")
    (port,) = find_free_ports(1)
    record, process = spawn(
        "oidc-provider",
        [
            sys.executable,
            "-m",
            "oidc_provider_mock",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--require-nonce",
        ],
        log_file=root / "oidc.log",
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy("oidc provider", lambda: _health(issuer), timeout=30, process=process)
    except Exception:
        stop(record, process=process)
        pytest.fail(f"the OpenID provider did not start:\n{tail(record.log_file)}")
    yield OidcProvider(issuer=issuer)
    stop(record, process=process)
