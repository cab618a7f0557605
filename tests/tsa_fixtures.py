"""A real RFC 3161 timestamp authority for the tests: certomancer (pyHanko's test PKI) in a process of its own.

The configuration is :mod:`devstack.tsa`'s, as ``isms dev up`` runs it, on a free port; the
root certificate is read from the running authority's certificate repository. Stopped at the
end of the session like the other servers.

>>> settings = load_settings(..., tsa_url=tsa.url, tsa_ca_file=tsa.ca_file)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.ports import find_free_ports
from devstack.processes import spawn, stop, tail, wait_until_healthy
from devstack.tsa import fetch_tsa_root, tsa_argv, tsa_health, tsa_url, write_tsa_config


@dataclass(frozen=True)
class TsaServer:
    url: str  # ISMS_TSA_URL
    ca_file: Path  # ISMS_TSA_CA_FILE: the authority's root, as it publishes it

    @property
    def root_pem(self) -> bytes:
        return self.ca_file.read_bytes()


@pytest.fixture(scope="session")
def tsa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsaServer]:
    """certomancer's time stamping service on a free port of 127.0.0.1."""
    root: Path = tmp_path_factory.mktemp("tsa")
    (port,) = find_free_ports(1)
    config = write_tsa_config(root, port=port)
    record, process = spawn("tsa", tsa_argv(config, port=port), log_file=root / "tsa.log")
    try:
        wait_until_healthy("timestamp authority", lambda: tsa_health(port), timeout=60, process=process)
    except Exception:
        stop(record, process=process)
        pytest.fail(f"the timestamp authority did not start:\n{tail(record.log_file)}")
    ca_file = root / "tsa-root.pem"
    ca_file.write_bytes(fetch_tsa_root(port))
    yield TsaServer(url=tsa_url(port), ca_file=ca_file)
    stop(record, process=process)
