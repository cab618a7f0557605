"""The second example, examples/own-documents, played as a whole cycle on real servers.

Four documents: the organisation's own policy template, the built-in roles template, a static
Acceptable Use Policy PDF for everyone and a static Secure Development Policy .docx for
Engineering only. The lead starts the cycle as the CLI does (the example's files uploaded by
the door); the CEO signs in Chromium; an engineer acknowledges in Chromium and a salesperson
over HTTP, each through the link in their own invitation; the campaign closes; the register
and the report say exactly who acknowledged which document; the archive verifies and packs.

The time-skipping server runs the workflows (so the campaign's four weeks pass in seconds),
with the real worker, LibreOffice, pyHanko, SeaweedFS with Object Lock, the SMTP sink and the
web app under uvicorn on a real port.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright
from temporalio.testing import WorkflowEnvironment

from adapters.audit import ArchiveReader, verify_archive
from adapters.audit.pack import build_pack
from adapters.cycles import start_cycle
from adapters.s3 import get_file, make_auditor_s3_client, make_s3_client
from core.seal_check import verify_pdf_signature
from core.settings import Settings
from devstack.ports import find_free_ports
from documents.pdf_convert import PdfConverter
from documents.signing_identity import load_or_create_signing_identity
from models.audit import Verdict
from models.cycle import SIGNED_STAGES, CycleStatus, Stage
from tests.conftest import SmtpSink
from tests.workflows.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.workflows.helpers import LEAD, current_demo_profile, invited, signer_codes, wait_for, wait_for_mail
from web.app import create_app
from worker import build_worker

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "own-documents"
YEAR = 2071  # a year of its own in the shared archive bucket
POLICY, ROLES = "information-security-policy", "isms-roles-responsibilities"
AUP, SDP = "acceptable-use-policy", "secure-development-policy"
LETTER = "isms-lead-appointment"  # signed with them, accepted by the ISMS lead (not by staff)
# the example's four, and the ISMS lead's appointment letter the CEO signs with them
NAMES = [f"{POLICY}.docx", f"{ROLES}.docx", f"{LETTER}.docx", f"{AUP}.pdf", f"{SDP}.docx"]
VERSIONS = {POLICY: "3.0", ROLES: "3.0", LETTER: "3.0", AUP: "2.1", SDP: "1.3"}
ENGINEER = "tomasz.nowak@larkspur.example"
SELLER = "chloe.bennett@larkspur.example"
# the example's staff.csv: 14 rows, a leaver and a contractor out of scope; 5 current engineers
IN_SCOPE, ENGINEERS = 12, 5


@pytest.fixture
async def stack(
    time_skipping_env: WorkflowEnvironment, settings: Settings, pdf_converter: PdfConverter
) -> AsyncIterator[tuple[WorkflowEnvironment, Settings]]:
    """Worker and web app on the time-skipping server; links point where uvicorn listens."""
    (port,) = find_free_ports(1)
    settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, client=time_skipping_env.client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.05)
    async with build_worker(time_skipping_env.client, settings, converter=pdf_converter):
        yield time_skipping_env, settings
    server.should_exit = True
    await serving


def _example(folder: Path) -> Path:
    """The example copied to ``folder`` with its policy dates moved to today."""
    for part in ("templates", "files", "staff.csv"):
        source = EXAMPLE / part
        if source.is_dir():
            shutil.copytree(source, folder / part)
        else:
            shutil.copy(source, folder / part)
    return current_demo_profile(folder, text=(EXAMPLE / "profile.yaml").read_text())


def _link(body: str, settings: Settings, path: str) -> str:
    match = re.search(rf"{re.escape(settings.public_base_url)}/{path}/\S+", body)
    assert match, f"no /{path}/ link in the email"
    return match.group(0).rstrip(").,>")


def _plain(message: object) -> str:
    body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert body is not None
    text: str = body.get_content()
    return text


async def test_four_documents_signed_acknowledged_by_two_audiences_archived_verified_packed(
    stack: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env, settings = stack
    profile = _example(tmp_path / "example")
    s3 = make_s3_client(settings)
    started = await start_cycle(
        env.client,
        settings,
        s3,
        profile=profile,
        staff=tmp_path / "example" / "staff.csv",
        year=YEAR,
        started_by=LEAD,
    )
    assert started.ok, (started.message, started.problems)
    assert sorted(f.id for f in started.document_files) == [AUP, POLICY, SDP]  # roles: built in
    handle = env.client.get_workflow_handle(started.cycle_id)
    status = await wait_for(handle, invited, within=240)
    assert [d.name for d in status.documents] == NAMES
    invitation = await wait_for_mail(smtp_sink, handle.id, "round-1/invitation")
    signing_link = _link(_plain(invitation), settings, "sign")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(signing_link)
        await page.get_by_role("heading", name="Review and sign version 3.0").wait_for()
        await page.wait_for_function(
            "() => Array.from(document.querySelectorAll('iframe.viewer')).every(f => f.src.startsWith('blob:'))"
        )
        assert await page.locator("iframe.viewer").count() == len(NAMES)
        text = await page.content()
        for document in status.documents:  # each with its version and the SHA-256 shown
            assert document.shown_sha256 in text, document.name
            assert unescape(document.title) in unescape(text)
        # the second factor: the code the web app emails to the CEO, typed back
        await page.get_by_role("button", name="Send me a code").click()
        await page.get_by_label("The 6-digit code from the email").fill(
            signer_codes(smtp_sink, handle.id)[-1]
        )
        await page.get_by_role("button", name="Confirm the code").click()
        await page.get_by_label("Type your full name").fill("Eleanor Marsh")
        await page.get_by_role("checkbox", name=re.compile("I agree|consent|sign", re.I)).check()
        await page.get_by_role("button", name=re.compile("^Sign", re.I)).click()
        await page.get_by_role("heading", name="Thank you: your signature is recorded").wait_for()

        signed = await wait_for(
            handle, lambda s: s.stage in SIGNED_STAGES and s.signed is not None and s.archive, within=300
        )
        assert signed.signed is not None
        sealed = {d.name: d for d in signed.signed.documents}
        assert list(sealed) == NAMES
        trust = [load_or_create_signing_identity(settings).certificate]
        for stamped in signed.signed.documents:  # every PDF sealed, and the seal validates
            pdf = get_file(s3, stamped.pdf, tmp_path / "sealed" / Path(stamped.pdf.key).name)
            check = await asyncio.to_thread(verify_pdf_signature, pdf, trust=trust)
            assert check.valid, (stamped.name, check.detail)
            assert check.intact, (stamped.name, check.detail)
        pdf_sha = {Path(name).stem: d.pdf.sha256 for name, d in sealed.items()}

        # the campaign: the engineer gets four documents, the salesperson three
        engineer_mail = await wait_for_mail(smtp_sink, handle.id, f"ack/{ENGINEER}/invitation", within=120)
        seller_mail = await wait_for_mail(smtp_sink, handle.id, f"ack/{SELLER}/invitation", within=120)
        assert "Secure Development Policy" in _plain(engineer_mail)
        assert "Secure Development Policy" not in _plain(seller_mail)
        assert "Acceptable Use Policy" in _plain(seller_mail)

        await page.goto(_link(_plain(engineer_mail), settings, "ack"))
        await page.get_by_role("button", name="I have read and accept").wait_for()
        engineer_page = await page.content()
        for document_id in (POLICY, ROLES, AUP, SDP):
            assert pdf_sha[document_id] in engineer_page, document_id
        await page.get_by_role("button", name="I have read and accept").click()
        await page.get_by_text("Thank you: your acknowledgement is recorded").wait_for()
        await browser.close()

    seller_link = _link(_plain(seller_mail), settings, "ack")
    async with httpx.AsyncClient(headers={"User-Agent": "pytest"}) as web:
        seller_page = await web.get(seller_link)
        assert seller_page.status_code == 200, seller_page.text
        assert pdf_sha[SDP] not in seller_page.text
        token_path = seller_link.removeprefix(settings.public_base_url)
        refused = await web.get(f"{settings.public_base_url}{token_path}/documents/{SDP}.docx")
        assert refused.status_code == 403
        csrf = re.search(r'name="csrf" value="([^"]+)"', seller_page.text)
        assert csrf
        shown = [unescape(v) for v in re.findall(r'name="shown" value="([^"]+)"', seller_page.text)]
        for_seller = [f"{POLICY}.docx", f"{ROLES}.docx", f"{AUP}.pdf"]
        assert sorted(shown) == sorted(f"{name}={sealed[name].pdf.sha256}" for name in for_seller)
        done = await web.post(seller_link, data={"csrf": csrf.group(1), "shown": shown})
        assert done.status_code == 200, done.text
        assert "Thank you: your acknowledgement is recorded" in done.text

    # four weeks pass: the ladder runs, the campaign closes, the register is archived
    for _ in range(5):
        await env.sleep(timedelta(days=7))
        await asyncio.sleep(1)
    closed: CycleStatus = await wait_for(
        handle, lambda s: s.stage is Stage.CLOSED and len(s.archive) == 2, within=240
    )
    assert closed.campaign is not None
    register = json.loads(
        s3.get_object(Bucket=closed.campaign.register_json.bucket, Key=closed.campaign.register_json.key)[
            "Body"
        ].read()
    )
    people = {person["email"]: person for person in register["people"]}
    assert len(people) == IN_SCOPE

    def acknowledged(*ids: str) -> list[dict[str, str]]:
        return [{"id": i, "version": VERSIONS[i], "sha256": pdf_sha[i]} for i in ids]

    def recorded(person: dict[str, object]) -> list[dict[str, str]]:
        return [
            {key: str(d[key]) for key in ("id", "version", "sha256")}
            for d in person["acknowledged_documents"]  # type: ignore[attr-defined]
        ]

    assert recorded(people[ENGINEER]) == acknowledged(POLICY, ROLES, AUP, SDP)
    assert recorded(people[SELLER]) == acknowledged(POLICY, ROLES, AUP)
    assert all(recorded(p) == [] for email, p in people.items() if email not in (ENGINEER, SELLER))
    by_document = register["totals"]["by_document"]
    assert {i: (t["total"], t["acknowledged"]) for i, t in by_document.items()} == {
        POLICY: (IN_SCOPE, 2),
        ROLES: (IN_SCOPE, 2),
        AUP: (IN_SCOPE, 2),
        SDP: (ENGINEERS, 1),
    }
    report = (
        s3.get_object(Bucket=closed.campaign.report_markdown.bucket, Key=closed.campaign.report_markdown.key)[
            "Body"
        ]
        .read()
        .decode()
    )
    rows = {
        cells[0]: cells[1:]
        for line in report.split("## By document", 1)[1].split("\n\n", 2)[1].splitlines()[2:]
        if (cells := [cell.strip() for cell in line.strip("|").split("|")])
    }
    assert {title: row[2:5] for title, row in rows.items()} == {  # audience, acknowledged, outstanding
        f"Information Security Policy ({POLICY})": [str(IN_SCOPE), "2", str(IN_SCOPE - 2)],
        f"ISMS Roles and Responsibilities ({ROLES})": [str(IN_SCOPE), "2", str(IN_SCOPE - 2)],
        f"Acceptable Use Policy ({AUP})": [str(IN_SCOPE), "2", str(IN_SCOPE - 2)],
        f"Secure Development Policy ({SDP})": [str(ENGINEERS), "1", str(ENGINEERS - 1)],
    }

    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report_check = await asyncio.to_thread(verify_archive, reader, "larkspur", YEAR)
    assert report_check.verdict is Verdict.PASS, [
        o for o in report_check.objects if o.verdict is not Verdict.PASS
    ]
    archived = {o.key.split("/", 2)[2] for o in closed.archive[0].objects}
    for document_id in (POLICY, ROLES, LETTER, AUP, SDP):
        assert f"{document_id}/v{VERSIONS[POLICY]}/document.pdf" in archived, document_id
    assert f"{AUP}/v{VERSIONS[POLICY]}/document.docx" not in archived  # a static PDF has no .docx

    pack = tmp_path / "pack.zip"
    index = await asyncio.to_thread(build_pack, reader, "larkspur", YEAR, pack)
    assert sorted((d.id, d.version, d.sha256) for d in index.documents) == sorted(
        (i, VERSIONS[i], pdf_sha[i]) for i in (POLICY, ROLES, LETTER, AUP, SDP)
    )
    with zipfile.ZipFile(pack) as packed:
        names = set(packed.namelist())
    for entry in index.documents:
        assert entry.path in names
