"""A broken template or a missing file stops the start: one finding, nothing stored, nothing started.

Against the real Temporal dev server and SeaweedFS: ``start_cycle`` (the command line's and the
dashboard's way to start) and the dashboard's upload form.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.cycles import start_cycle
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from tests.template_helpers import STAFF, make_docx, make_pdf, profile_with_documents, sha256
from tests.workflows.helpers import DEMO, LEAD, current_demo_profile
from web.app import create_app

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def temporal(settings: Settings) -> Client:
    return await connect_temporal(settings)


def _drafts(settings: Settings) -> set[str]:
    s3 = make_s3_client(settings)
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.drafts_bucket):
        keys |= {item["Key"] for item in page.get("Contents", [])}
    return keys


async def _not_started(client: Client, cycle_id: str) -> None:
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(cycle_id).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND


def _organisation(tmp_path: Path, documents: list[dict[str, object]]) -> tuple[Path, str]:
    short_name = f"docs{secrets.token_hex(3)}"
    text = (
        current_demo_profile(tmp_path / "demo")
        .read_text()
        .replace("short_name: larkspur", f"short_name: {short_name}")
    )
    return profile_with_documents(tmp_path / "org", documents, text=text), short_name


@pytest.mark.parametrize(
    "broken", ["unknown placeholder", "sandbox", "not a docx", "missing file", "changed pin"]
)
async def test_start_cycle_refuses_and_changes_nothing(
    settings: Settings, temporal: Client, tmp_path: Path, broken: str
) -> None:
    folder = tmp_path / "org"
    policy = make_docx(
        folder / "templates" / "policy.docx", ["{{ organisation_name }}", "{{ document_title }}"]
    )
    aup = make_pdf(folder / "static" / "aup.pdf")
    documents: list[dict[str, object]] = [
        {"id": "information-security-policy", "template": "templates/policy.docx"},
        {"id": "acceptable-use-policy", "title": "Acceptable Use Policy", "kind": "static",
         "file": "static/aup.pdf", "sha256": sha256(aup)},
    ]  # fmt: skip
    expected = {
        "unknown placeholder": ("documents.template-placeholder", "write `approver_name`"),
        "sandbox": ("documents.template-sandbox", "remove it"),
        "not a docx": ("documents.template-unreadable", "save it as a Word Document (.docx)"),
        "missing file": ("documents.file-exists", "put the file there"),
        "changed pin": ("documents.static-sha256", "pin the new hash"),
    }[broken]
    if broken == "unknown placeholder":
        make_docx(policy, ["Approved by {{ approvr_name }}"])
    elif broken == "sandbox":
        make_docx(policy, ["{{ ''.__class__.__base__.__subclasses__() }}"])
    elif broken == "not a docx":
        policy.write_text("not a Word document")
    elif broken == "missing file":
        aup.unlink()
    else:
        aup.write_bytes(aup.read_bytes() + b"% changed after pinning\n")
    profile, short_name = _organisation(tmp_path, documents)
    year = datetime.now(UTC).year
    before = _drafts(settings)

    outcome = await start_cycle(
        temporal, settings, make_s3_client(settings), profile=profile, staff=STAFF, year=year, started_by=LEAD
    )

    assert not outcome.ok
    assert not outcome.exists
    assert "nothing was started" in outcome.message
    rule, fix = expected
    errors = [finding for finding in outcome.findings if finding.severity.value == "error"]
    assert [finding.rule for finding in errors] == [rule]
    document = (
        "acceptable-use-policy"
        if broken in ("missing file", "changed pin")
        else "information-security-policy"
    )
    assert errors[0].message.startswith(f"{document}: ")
    assert fix in errors[0].fix
    await _not_started(temporal, f"isms-review-{short_name}-{year}")
    assert _drafts(settings) == before  # neither the profile nor the staff directory was uploaded


@pytest.fixture
async def dashboard(settings: Settings, temporal: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings.model_copy(
            update={"dashboard_password": SecretStr(PASSWORD), "dashboard_single_user": True}
        ),
        client=temporal,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://isms.test/"
    ) as client:
        yield client


async def test_the_dashboard_refuses_a_profile_whose_template_is_not_there(
    dashboard: httpx.AsyncClient, temporal: Client, settings: Settings, tmp_path: Path
) -> None:
    """An uploaded profile comes alone: the template it names was not chosen with it, and the start
    is refused naming the document and the file to choose (web/document_uploads.py)."""
    profile, short_name = _organisation(
        tmp_path, [{"id": "information-security-policy", "template": "templates/policy.docx"}]
    )
    assert (await dashboard.post("/dashboard/login", data={"password": PASSWORD})).status_code == 303
    page = await dashboard.get("/dashboard")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    before = _drafts(settings)
    year = datetime.now(UTC).year
    refused = await dashboard.post(
        "/dashboard/cycles",
        data={"csrf": csrf, "year": str(year)},
        files={
            "profile": ("profile.yaml", profile.read_bytes(), "application/yaml"),
            "staff": ("staff.csv", (DEMO / "staff.csv").read_bytes(), "text/csv"),
        },
    )
    assert refused.status_code == 422
    assert (
        "documents.information-security-policy: the profile names templates/policy.docx, which was "
        "not chosen; add policy.docx to the document files" in refused.text
    )
    await _not_started(temporal, f"isms-review-{short_name}-{year}")
    assert _drafts(settings) == before


async def test_the_dashboard_places_the_organisations_own_public_statement(
    dashboard: httpx.AsyncClient, temporal: Client, settings: Settings, tmp_path: Path
) -> None:
    """``public_statement.file`` is chosen with the profile like a document's file: without it the
    start is refused naming it; with it the cycle starts and carries the PDF."""
    profile, short_name = _organisation(tmp_path, [])
    profile.write_text(profile.read_text() + "public_statement:\n  enabled: true\n  file: statement.pdf\n")
    pdf = make_pdf(tmp_path / "statement.pdf")
    assert (await dashboard.post("/dashboard/login", data={"password": PASSWORD})).status_code == 303
    page = await dashboard.get("/dashboard")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    year = datetime.now(UTC).year
    files = {
        "profile": ("profile.yaml", profile.read_bytes(), "application/yaml"),
        "staff": ("staff.csv", (DEMO / "staff.csv").read_bytes(), "text/csv"),
    }
    before = _drafts(settings)
    refused = await dashboard.post("/dashboard/cycles", data={"csrf": csrf, "year": str(year)}, files=files)
    assert refused.status_code == 422
    assert (
        "public_statement.file: the profile names statement.pdf, which was not chosen; add statement.pdf "
        "to the document files" in refused.text
    )
    await _not_started(temporal, f"isms-review-{short_name}-{year}")
    assert _drafts(settings) == before

    started = await dashboard.post(
        "/dashboard/cycles",
        data={"csrf": csrf, "year": str(year)},
        files=[*files.items(), ("documents", ("statement.pdf", pdf.read_bytes(), "application/pdf"))],
    )
    assert started.status_code == 303, started.text
    handle = temporal.get_workflow_handle(f"isms-review-{short_name}-{year}")
    async for event in handle.fetch_history_events():  # the start event carries the stored PDF
        attributes = event.workflow_execution_started_event_attributes
        (payload,) = attributes.input.payloads
        assert b'"public_statement.file"' in payload.data
        assert sha256(pdf).encode() in payload.data
        break
    await handle.terminate("test over")
