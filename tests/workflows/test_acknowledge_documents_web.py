"""Documents each to its audience, through the real web page, worker, S3 and SMTP sink.

An Acceptable Use Policy goes to everyone and a Secure Development Policy to Engineering only:
an engineer's invitation and page show both and they acknowledge both; a salesperson's show
one, their link does not open the other, and a form that confirms the engineers' set records
nothing; at the close the register says exactly which documents (id, version, SHA-256) each
person acknowledged and the report gives the rate per document.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.s3 import make_s3_client
from core.settings import Settings
from models.campaign import DOCUMENTS_ACKNOWLEDGEMENT_TEXT, CampaignInput, CampaignResult, CampaignStage
from models.profile import Audience
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import (
    batch_of,
    ladder,
    signed_version,
    staff_link,
    staff_rows,
    start_campaign,
    state,
    wait_until,
)
from tests.workflows.helpers import wait_for_mail
from web.app import create_app

AUP = "acceptable-use-policy.pdf"
SDP = "secure-development-policy.docx"
DOCUMENTS = {
    AUP: ("Acceptable Use Policy", "2024.2", Audience()),
    SDP: ("Secure Development Policy", "1.4", Audience(departments=["engineering"])),
}
# staff_rows with teams of two: departments in turn, Engineering, Finance, Operations, Sales
ENGINEER = "person000001@larkspur.example"
SELLER = "person000007@larkspur.example"
OTHER_SELLER = "person000006@larkspur.example"


@pytest.fixture
async def web(review_skipping: tuple[WorkflowEnvironment, Settings]) -> AsyncIterator[httpx.AsyncClient]:
    env, settings = review_skipping
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://isms.test", headers={"User-Agent": "pytest"}
    ) as client:
        yield client


def _form(page: str) -> dict[str, Any]:
    """What the page's form posts: the CSRF value and each document it showed."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, "no CSRF field on the page"
    shown = [unescape(value) for value in re.findall(r'name="shown" value="([^"]+)"', page)]
    return {"csrf": csrf.group(1), "shown": shown}


def _rows(page: str) -> list[tuple[str, str, str]]:
    """The page's documents table: title, version, SHA-256."""
    return [
        (unescape(title), unescape(version), digest)
        for title, version, digest in re.findall(
            r'<tr class="document"[^>]*><td>([^<]*)</td><td>([^<]*)</td><td class="hash">([0-9a-f]{64})</td></tr>',
            page,
        )
    ]


def _facts(page: str, label: str) -> list[str]:
    return [
        unescape(value)
        for value in re.findall(rf"<tr><th>{re.escape(label)}</th><td[^>]*>([^<]*)</td></tr>", page)
    ]


def _read(settings: Settings, key: str) -> bytes:
    body: bytes = make_s3_client(settings).get_object(Bucket=settings.drafts_bucket, Key=key)["Body"].read()
    return body


async def _closed(env: WorkflowEnvironment, data: CampaignInput, *, within: float = 120) -> CampaignResult:
    deadline = time.monotonic() + within
    while True:
        current = await state(env.client, data.cycle_id)
        if current.stage is CampaignStage.CLOSED and current.result is not None:
            return current.result
        assert time.monotonic() < deadline, f"not closed: {current.stage}"
        await asyncio.sleep(0.3)


async def test_each_person_sees_and_acknowledges_their_own_documents_and_the_register_says_so(
    review_skipping: tuple[WorkflowEnvironment, Settings],
    web: httpx.AsyncClient,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    env, settings = review_skipping
    signed = signed_version(settings, tmp_path / "signed", documents=DOCUMENTS)
    rows = staff_rows(8, team_size=2)
    assert [row["department"] for row in rows if row["email"] in (ENGINEER, SELLER)] == [
        "Engineering",
        "Sales",
    ]
    handle, data = await start_campaign(
        env.client, settings, tmp_path, rows, schedule=ladder(), signed=signed
    )
    await wait_until(env.client, data.cycle_id, lambda p: p.batches == 1 and p.invited == 8)
    aup, sdp = signed.documents[AUP], signed.documents[SDP]

    # the invitations list each person's own documents
    engineer_mail = await wait_for_mail(smtp_sink, data.cycle_id, f"ack/{ENGINEER}/invitation")
    seller_mail = await wait_for_mail(smtp_sink, data.cycle_id, f"ack/{SELLER}/invitation")
    engineer_text = engineer_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    seller_text = seller_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"- Acceptable Use Policy, version 2024.2 (SHA-256 {aup})" in engineer_text
    assert f"- Secure Development Policy, version 1.4 (SHA-256 {sdp})" in engineer_text
    assert f"- Acceptable Use Policy, version 2024.2 (SHA-256 {aup})" in seller_text
    assert "Secure Development Policy" not in seller_text
    assert "information security document," in str(seller_mail["Subject"])

    batch = await batch_of(env.client, data.cycle_id, ENGINEER, 1)
    tokens = {
        person: staff_link(settings, data, person, batch) for person in (ENGINEER, SELLER, OTHER_SELLER)
    }

    # the engineer: both documents, each with its version, hash and viewer
    page = await web.get(f"/ack/{tokens[ENGINEER]}")
    assert page.status_code == 200, page.text
    assert _rows(page.text) == [
        ("Acceptable Use Policy", "2024.2", aup),
        ("Secure Development Policy", "1.4", sdp),
    ]
    assert DOCUMENTS_ACKNOWLEDGEMENT_TEXT in page.text
    for name in (AUP, SDP):
        pdf = await web.get(f"/ack/{tokens[ENGINEER]}/documents/{name}")
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF-")
    engineer_form = _form(page.text)
    assert sorted(engineer_form["shown"]) == sorted([f"{AUP}={aup}", f"{SDP}={sdp}"])

    # the salesperson: one document; the other is not theirs to open
    page = await web.get(f"/ack/{tokens[SELLER]}")
    assert page.status_code == 200, page.text
    assert _rows(page.text) == [("Acceptable Use Policy", "2024.2", aup)]
    assert "Secure Development Policy" not in page.text
    assert sdp not in page.text
    refused = await web.get(f"/ack/{tokens[SELLER]}/documents/{SDP}")
    assert refused.status_code == 403
    assert "This document is not for you" in refused.text
    assert not refused.content.startswith(b"%PDF-")
    assert (await web.get(f"/ack/{tokens[SELLER]}/documents/{AUP}")).status_code == 200
    seller_form = _form(page.text)
    assert seller_form["shown"] == [f"{AUP}={aup}"]

    # a form confirming the engineers' set for a salesperson records nothing, and says why
    other_form = _form((await web.get(f"/ack/{tokens[OTHER_SELLER]}")).text)
    wrong = await web.post(
        f"/ack/{tokens[OTHER_SELLER]}", data={**other_form, "shown": [f"{AUP}={aup}", f"{SDP}={sdp}"]}
    )
    assert wrong.status_code == 409, wrong.text
    assert "Nothing was recorded" in wrong.text
    assert "not the ones you are asked to acknowledge (Acceptable Use Policy)" in wrong.text
    assert "I have read and accept</button>" in (await web.get(f"/ack/{tokens[OTHER_SELLER]}")).text

    # each confirms their own: the confirmation names each document, version and hash
    engineer_done = await web.post(f"/ack/{tokens[ENGINEER]}", data=engineer_form)
    assert engineer_done.status_code == 200, engineer_done.text
    assert "Thank you: your acknowledgement is recorded" in engineer_done.text
    assert _facts(engineer_done.text, "Document") == [
        f"Acceptable Use Policy, version 2024.2 ({AUP})",
        f"Secure Development Policy, version 1.4 ({SDP})",
    ]
    assert _facts(engineer_done.text, f"SHA-256 of {SDP}") == [sdp]
    assert _facts(engineer_done.text, "Statement") == [DOCUMENTS_ACKNOWLEDGEMENT_TEXT]
    seller_done = await web.post(f"/ack/{tokens[SELLER]}", data=seller_form)
    assert seller_done.status_code == 200, seller_done.text
    assert _facts(seller_done.text, "Document") == [f"Acceptable Use Policy, version 2024.2 ({AUP})"]
    assert _facts(seller_done.text, f"SHA-256 of {AUP}") == [aup]
    assert _facts(seller_done.text, f"SHA-256 of {SDP}") == []

    figures = await wait_until(env.client, data.cycle_id, lambda p: p.tally.acknowledged == 2)
    assert {name: (t.total, t.acknowledged) for name, t in figures.by_document.items()} == {
        AUP: (8, 2),
        SDP: (2, 1),  # the two engineers
    }

    # the close: the register and the report, per person and per document
    await env.sleep(timedelta(days=29))
    result = await _closed(env, data)
    register = json.loads(_read(settings, result.register_json.key))
    people = {person["email"]: person for person in register["people"]}
    assert people[ENGINEER]["acknowledged_documents"] == [
        {"id": "acceptable-use-policy", "title": "Acceptable Use Policy", "version": "2024.2", "sha256": aup},
        {"id": "secure-development-policy", "title": "Secure Development Policy", "version": "1.4", "sha256": sdp},
    ]  # fmt: skip
    assert people[SELLER]["acknowledged_documents"] == [
        {"id": "acceptable-use-policy", "title": "Acceptable Use Policy", "version": "2024.2", "sha256": aup}
    ]
    assert people[SELLER]["acknowledges"] == ["acceptable-use-policy"]
    assert people[OTHER_SELLER]["acknowledged_documents"] == []
    assert people[OTHER_SELLER]["status"] == "outstanding"
    assert register["totals"]["by_document"]["secure-development-policy"]["total"] == 2
    assert register["totals"]["by_document"]["secure-development-policy"]["acknowledged"] == 1
    assert register["totals"]["by_document"]["acceptable-use-policy"]["acknowledged"] == 2
    lines = {
        row["email"]: row
        for row in csv.DictReader(io.StringIO(_read(settings, result.register_csv.key).decode()))
    }
    assert lines[ENGINEER]["acknowledged_documents"] == (
        f"acceptable-use-policy@2024.2={aup}; secure-development-policy@1.4={sdp}"
    )
    assert lines[SELLER]["acknowledged_documents"] == f"acceptable-use-policy@2024.2={aup}"
    assert lines[SELLER]["documents"] == f"{AUP}={aup}"
    report = _read(settings, result.report_markdown.key).decode()
    assert (
        "| Secure Development Policy (secure-development-policy) | 1.4 | engineering | 2 | 1 | 1 | 50.0% |"
        in report
    )
    assert (
        "| Acceptable Use Policy (acceptable-use-policy) | 2024.2 | everyone in scope | 8 | 2 | 6 | 25.0% |"
        in report
    )
    assert (result.by_document[SDP].total, result.by_document[SDP].acknowledged) == (2, 1)
    await handle.result()
