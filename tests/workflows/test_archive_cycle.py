"""A whole cycle archives its evidence: after the seal, and again when the campaign closes.

Time-skipping server, real worker, real SeaweedFS with Object Lock, real LibreOffice and pyHanko.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.archive import ArchiveActivities
from adapters.audit import ArchiveReader, verify_archive
from adapters.cycles import start_cycle
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.profile_io import load_profile, load_staff
from core.settings import Settings
from documents.changes import build_manifest, write_manifest
from documents.pipeline import render_documents
from models.archive import ArchiveInput, ArchiveItem
from models.audit import Verdict
from models.cycle import Stage
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import acknowledge_signed
from tests.workflows.helpers import (
    DEMO,
    LEAD,
    current_demo_profile,
    finish,
    invited,
    sign,
    start,
    wait_for,
    wait_for_mail,
)
from tests.workflows.test_campaign import batch_index
from workflows.annual_review import AnnualReviewWorkflow

DOCUMENTS = ["information-security-policy", "isms-roles-responsibilities", "isms-lead-appointment"]


async def test_signed_version_then_register_archived_under_retention_and_verified(
    review_skipping: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink
) -> None:
    env, settings = review_skipping
    handle = await start(env.client, settings)
    status = await wait_for(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    await finish(handle)
    status = await wait_for(handle, lambda s: len(s.archive) == 1, within=120)
    signed = status.archive[0]
    assert status.signed is not None
    names = {o.key.split("/", 2)[2] for o in signed.objects}
    assert names == {
        f"{document}/v3.0/{file}"
        for document in DOCUMENTS
        for file in (
            "document.docx",
            "document.pdf",
            "certificate.pdf",
            "evidence.json",
            "seal-certificate.pem",
            "draft-shown.docx",  # the draft the CEO saw, whose SHA-256 the signature line carries
        )
    } | {
        "render-manifest/v3.0.json",  # next year's change summary is made against it
        "clause5-check/v3.0/report.json",  # the Clause 5 check of the signed version, as evidence
        "clause5-check/v3.0/report.html",
    }
    by_name = {o.key.split("/", 2)[2]: o for o in signed.objects}
    for document in status.signed.documents:  # the archived bytes are the sealed ones
        folder = document.name.removesuffix(".docx")
        assert by_name[f"{folder}/v3.0/document.pdf"].sha256 == document.pdf.sha256
        assert document.docx is not None  # the built-in documents: all .docx
        assert by_name[f"{folder}/v3.0/document.docx"].sha256 == document.docx.sha256
        assert by_name[f"{folder}/v3.0/draft-shown.docx"].sha256 == document.draft_sha256
    assert signed.manifest.key == "larkspur/2026/manifests/signed-v3.0.json"
    assert signed.manifest.retain_until >= datetime.now(UTC) + timedelta(days=7 * 365 - 2)
    assert "archived" in [e.event for e in status.events]

    await wait_for_mail(smtp_sink, handle.id, f"ack/{LEAD}/invitation", within=120)  # the batch has started
    await acknowledge_signed(
        env.client, handle.id, batch_index(settings, handle.id)[LEAD], LEAD, status.signed
    )
    for _ in range(5):  # 35 days in weekly steps: the ladder's emails go out between them
        await env.sleep(timedelta(days=7))
        await asyncio.sleep(1)
    status = await wait_for(handle, lambda s: s.stage is Stage.CLOSED and len(s.archive) == 2, within=180)
    registered = status.archive[1]
    # the acknowledgements, and the role acceptance register beside them (nobody accepted here)
    assert {o.key.split("/", 2)[2] for o in registered.objects} == {
        f"acknowledgements/v3.0/{name}"
        for name in ("register.csv", "register.json", "report.html", "report.md")
    } | {f"role-acceptance/v3.0/{name}" for name in ("register.csv", "register.json", "report.html")}
    assert status.role_acceptance is not None
    assert status.role_acceptance.tally.accepted == 0
    assert status.role_acceptance.tally.total == 4  # the holders and deputies of the demo but the CEO
    assert status.campaign is not None
    assert registered.objects[0].sha256 in {
        status.campaign.register_csv.sha256,
        status.campaign.register_json.sha256,
        status.campaign.report.sha256,
        status.campaign.report_markdown.sha256,
    }

    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    (cycle,) = reader.cycles("larkspur", 2026)
    assert cycle.cycle_id == handle.id
    assert sorted(v.document for v in cycle.versions) == sorted(DOCUMENTS)
    assert cycle.facts.signer.startswith("Eleanor Marsh, ")
    assert cycle.facts.acknowledged == 1
    assert cycle.facts.in_scope == status.campaign.tally.total
    report = await asyncio.to_thread(verify_archive, reader, "larkspur", 2026)
    assert report.verdict is Verdict.PASS, [o for o in report.objects if o.verdict is not Verdict.PASS]
    assert len(report.documents) == len(DOCUMENTS)
    assert all(
        any(p.startswith("the draft shown (draft-shown.docx) is archived with the SHA-256") for p in d.passed)
        for d in report.documents
    ), report.documents
    assert report.count(Verdict.PASS) == len(signed.objects) + len(registered.objects) + 2
    seals = [o for o in report.objects if o.key.endswith(".pdf")]
    assert len(seals) == 2 * len(DOCUMENTS)  # each document and its certificate
    assert all(any("PAdES seal valid" in p for p in o.passed) for o in seals)
    s3 = make_s3_client(settings)
    head = s3.head_object(
        Bucket=settings.archive_bucket, Key=signed.manifest.key, VersionId=signed.manifest.version_id
    )
    assert head["ObjectLockMode"] == "COMPLIANCE"


async def test_next_years_cycle_shows_what_changed_since_the_archived_signed_version(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    """With no --previous-manifest, the change summary is made against last year's archived version."""
    client, settings = review
    short_name = f"prev{secrets.token_hex(3)}"
    year = datetime.now(UTC).year
    last_year = current_demo_profile(
        tmp_path / "last-year",
        text=(DEMO / "profile.yaml")
        .read_text()
        .replace("short_name: larkspur", f"short_name: {short_name}")
        .replace('version: "3.0"', 'version: "2.0"')
        .replace("holder: sofia.alvarez@larkspur.example", "holder: liam.hughes@larkspur.example"),
    )
    profile, staff = load_profile(last_year), load_staff(DEMO / "staff.csv")
    documents = render_documents(profile, staff, tmp_path / "v2")
    manifest = write_manifest(tmp_path / "v2", build_manifest(profile, staff, documents, previous_dir=None))
    s3 = make_s3_client(settings)
    await asyncio.to_thread(
        ActivityEnvironment().run,
        ArchiveActivities(settings=settings, s3=s3).archive_objects,
        ArchiveInput(
            cycle_id=f"isms-review-{short_name}-{year - 1}",
            organisation=short_name,
            year=year - 1,
            stage="signed-v2.0",
            items=[ArchiveItem(source=store_input(s3, settings, manifest), name="render-manifest/v2.0.json")],
        ),
    )
    this_year = current_demo_profile(
        tmp_path,
        text=(DEMO / "profile.yaml").read_text().replace("short_name: larkspur", f"short_name: {short_name}"),
    )
    outcome = await start_cycle(
        client, settings, s3, profile=this_year, staff=DEMO / "staff.csv", year=year, started_by=LEAD
    )
    assert outcome.ok, outcome.message
    assert outcome.previous.endswith(f"{short_name}/{year - 1}/render-manifest/v2.0.json")
    handle = client.get_workflow_handle(outcome.cycle_id)
    status = await wait_for(handle, invited, within=120)
    assert status.change_lines[0] == "Version 2.0 -> 3.0"
    assert any(line.startswith("Engineering Lead: holder Liam Hughes") for line in status.change_lines)
    await handle.terminate("test over")
