"""`isms demo`, the README's first command, played to its end on a local stack of its own."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.mailsink import read_mailbox
from devstack.ports import find_free_ports
from devstack.stack import DevStack
from tests.e2e.test_dev_stack import PORT_OPTIONS, _isms, _isms_in
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
    assert (result["passed"], result["failed"], result["warnings"]) == (34, 0, 0)
    assert (result["acknowledged"], result["in_scope"]) == (10, 12)  # three after a reminder, two never
    assert result["digests"] == {
        "priya.sharma@larkspur.example": ["jonas.berg@larkspur.example"],
        "sofia.alvarez@larkspur.example": ["amara.okafor@larkspur.example"],
    }
    assert "/audit/" in result["portal"]
    assert result["settings_file"].endswith("isms.env")
    assert "dashboard_password" not in result  # the demo never prints a secret
    # 3 signed documents (6 files each), the check report (2), the statement, the render manifest,
    # the acknowledgement register and report (4), the role register and report (3), 2 manifests;
    # and 3 timestamp files beside the manifests
    assert len(result["archived"]) == 31
    assert result["roles_text"] == "3 of 4 accepted"
    assert result["roles_escalated"] == 1
    for step in (
        "asked:",
        "revised the profile",
        "CEO signed version 3.1 (Information Security Policy, ISMS Roles and Responsibilities, "
        "Appointment of the ISMS lead)",
        "public policy statement published at",
        "declined with a reason",
        "answered the policy's question wrongly",
        "after the first reminder",
        "has not accepted their roles",
        "digest",
        "the campaign and role acceptance closed",
        "verified 34 archived objects: PASS",
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

    # the evidence of issue 15, read back from the pack an auditor downloads
    pack = demo_dir / "evidence.zip"
    built = _isms_in(
        "audit",
        "pack",
        result["organisation"],
        str(result["year"]),
        "--out",
        str(pack),
        cwd=demo_dir,
        data_dir=demo_dir,
    )
    assert built.returncode == 0, built.stderr + built.stdout
    _the_pack_answers_every_item(pack, result)
    by_key = {
        str(m["X-Isms-Key"]).removeprefix(result["cycle_id"] + "/"): m
        for m in read_mailbox(Path(result["mailbox"]))
    }
    escalation = by_key["roles/escalation"]
    assert {"eleanor.marsh@larkspur.example", "ravi.chandran@larkspur.example"} <= set(
        str(escalation["To"]).replace(" ", "").split(",")
    )
    assert "Grace Whitfield" in escalation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "roles/daniel.obrien@larkspur.example/declined-1" in by_key


def _the_pack_answers_every_item(pack: Path, result: dict[str, Any]) -> None:
    """All sixteen items answered by a file (or outside scope), the registers show the answers."""
    with zipfile.ZipFile(pack) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    index = json.loads(files["index.json"])
    items = {item["id"]: item for item in index["items"]}
    assert len(items) == 16
    assert not [key for key, item in items.items() if item["status"] == "not_yet_produced"]
    assert "public-statement/v3.1/statement.html" in items["evidence-5"]["files"]
    assert result["statement_url"] in items["evidence-5"]["note"]
    for key in ("checklist-2", "evidence-6"):  # the appointment letter and the holders' acceptance
        assert "isms-lead-appointment/v3.1/document.pdf" in items[key]["files"], items[key]
        assert "role-acceptance/v3.1/register.csv" in items[key]["files"], items[key]
    assert "acknowledgements/v3.1/register.csv" in items["checklist-6"]["files"]  # the questions
    assert "clause5-check/v3.1/report.json" in items["checklist-10"]["files"]
    # the statement published without a link is the one archived
    published = httpx.get(result["statement_url"], timeout=30)
    assert published.status_code == 200
    assert published.content == files["public-statement/v3.1/statement.html"]
    assert "public" in published.headers["cache-control"]
    # the acknowledgement register: the answer to the policy's question, and two tries for one person
    register = json.loads(files["acknowledgements/v3.1/register.json"])
    people = {person["email"]: person for person in register["people"]}
    wrong_first = people["priya.sharma@larkspur.example"]
    assert wrong_first["attempts"] == 2
    assert wrong_first["answers"] == {"information-security-policy": [1]}
    assert wrong_first["first_answers"] == {"information-security-policy": [0]}
    assert people["chloe.bennett@larkspur.example"]["attempts"] == 1
    assert (
        "When must you report a security incident or weakness?"
        in files["acknowledgements/v3.1/report.html"].decode()
    )
    # the role register: who accepted what, the decline and its reason, the one escalated
    roles = json.loads(files["role-acceptance/v3.1/register.json"])
    records = {record["email"]: record for record in roles["records"]}
    assert set(records) == {
        "ravi.chandran@larkspur.example",
        "sofia.alvarez@larkspur.example",
        "daniel.obrien@larkspur.example",
        "grace.whitfield@larkspur.example",
    }
    letter = next(d for d in index["documents"] if d["id"] == "isms-lead-appointment")
    assert records["ravi.chandran@larkspur.example"]["letter_sha256"] == letter["sha256"]
    assert records["ravi.chandran@larkspur.example"]["accepted_at"]
    daniel = records["daniel.obrien@larkspur.example"]
    assert daniel["declined_at"]
    assert daniel["accepted_at"]
    assert "payroll" in daniel["decline_comment"]
    grace = records["grace.whitfield@larkspur.example"]
    assert grace["accepted_at"] is None
    assert grace["escalated_at"]
    assert grace["reminded_at"]
    assert {a["role_id"] for a in grace["assignments"]} == {"internal-auditor", "finance-ops"}
