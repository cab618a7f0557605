"""`isms demo`, the README's first command, played to its end on a local stack of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.mailsink import read_mailbox
from devstack.ports import find_free_ports
from devstack.stack import DevStack
from tests.e2e.test_dev_stack import PORT_OPTIONS, _isms
from tests.e2e.token_logs import LINK, assert_no_tokens_in_logs, link_tokens

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_dir(tmp_path: Path) -> Any:
    data_dir = tmp_path / "isms-data"
    yield data_dir
    DevStack(data_dir).down()


def test_the_demo_plays_a_whole_cycle_and_the_archive_verifies(demo_dir: Path) -> None:
    ports = find_free_ports(len(PORT_OPTIONS))
    options = [part for option, port in zip(PORT_OPTIONS, ports, strict=True) for part in (option, str(port))]
    started = _isms("dev", "up", *options, data_dir=demo_dir)
    assert started.returncode == 0, started.stderr + started.stdout

    played = _isms("demo", "--json", data_dir=demo_dir)
    assert played.returncode == 0, played.stderr[-3000:]
    result = json.loads(played.stdout)
    assert result["verdict"] == "PASS"
    assert (result["passed"], result["failed"], result["warnings"]) == (24, 0, 0)
    assert (result["acknowledged"], result["in_scope"]) == (10, 12)  # three after a reminder, two never
    assert result["digests"] == {
        "priya.sharma@larkspur.example": ["jonas.berg@larkspur.example"],
        "sofia.alvarez@larkspur.example": ["amara.okafor@larkspur.example"],
    }
    assert "/audit/" in result["portal"]
    assert result["settings_file"].endswith("isms.env")
    assert "dashboard_password" not in result  # the demo never prints a secret
    assert len(result["archived"]) == 21  # and 3 timestamp files beside the manifests
    for step in (
        "asked:",
        "revised the profile",
        "CEO signed version 3.1",
        "after the first reminder",
        "digest",
        "the campaign closed",
        "verified 24 archived objects: PASS",
    ):
        assert step in played.stderr, step
    keys = [str(m["X-Isms-Key"]) for m in read_mailbox(Path(result["mailbox"]))]
    cycle_keys = [k for k in keys if k.startswith(result["cycle_id"] + "/")]
    assert len(cycle_keys) == len(set(cycle_keys)) == result["emails"]  # each email once

    # no log holds a link token (issue 14): every link the cycle emailed, and the portal link
    tokens = link_tokens(Path(result["mailbox"]))
    assert len(tokens) >= 12, f"only {len(tokens)} link tokens in the mailbox"  # the CEO, staff, the auditor
    assert LINK.search(result["portal"]), result["portal"]  # the portal link the demo made is a token link
    tokens |= set(LINK.findall(result["portal"]))
    web_log = demo_dir / "logs" / "web.log"
    assert "GET /sign/[redacted]" in web_log.read_text()  # the links were opened, and logged redacted
    assert_no_tokens_in_logs(demo_dir / "logs", tokens)
