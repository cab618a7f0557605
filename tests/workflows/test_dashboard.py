"""The ISMS lead's dashboard through the real web app, starting and revising real cycles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from adapters.cycles import cycle_status
from core.hashing import sha256_file
from core.settings import Settings
from core.tokens import issue_link
from devstack.synthetic import tiny_pdf
from models.cycle import AnnualReviewInput, DecisionKind, RevisionInput, SignatureDecision, Stage
from models.links import LinkRole
from tests.workflows.helpers import CEO, DEMO, current_demo_profile, invited, own_documents_profile, wait_for
from web.app import create_app
from web.dashboard import SESSION_COOKIE
from workflows.annual_review import AnnualReviewWorkflow

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def dashboard(
    review: tuple[Client, Settings],
) -> AsyncIterator[tuple[httpx.AsyncClient, Client, Settings]]:
    temporal, settings = review
    settings = settings.model_copy(
        update={"dashboard_password": SecretStr(PASSWORD), "dashboard_single_user": True}
    )
    app = create_app(settings, client=temporal)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://isms.test/") as client:
        yield client, temporal, settings


async def _sign_in(client: httpx.AsyncClient) -> str:
    response = await client.post("/dashboard/login", data={"password": PASSWORD})
    assert response.status_code == 303
    page = await client.get("/dashboard")
    assert page.status_code == 200
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return csrf


def _files(profile: Path) -> dict[str, tuple[str, bytes, str]]:
    return {
        "profile": ("profile.yaml", profile.read_bytes(), "application/yaml"),
        "staff": ("staff.csv", (DEMO / "staff.csv").read_bytes(), "text/csv"),
    }


async def test_sign_in_is_required_and_links_never_open_it(
    dashboard: tuple[httpx.AsyncClient, Client, Settings],
) -> None:
    client, _, settings = dashboard
    assert (await client.get("/dashboard")).status_code == 303
    wrong = await client.post("/dashboard/login", data={"password": "guess"})
    assert wrong.status_code == 401
    assert SESSION_COOKIE not in wrong.cookies

    signing_link = issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id="isms-review-larkspur-2026",
        person=CEO,
        role=LinkRole.SIGNER,
        version_hash="0" * 64,
        ttl=timedelta(days=1),
        now=datetime.now(UTC),
    )
    client.cookies.set(SESSION_COOKIE, signing_link, path="/dashboard")
    assert (await client.get("/dashboard")).status_code == 303
    refused = await client.post(
        "/dashboard/cycles", data={"csrf": "x", "year": "2026"}, files=_files(DEMO / "profile.yaml")
    )
    assert refused.status_code == 403


async def test_start_refuses_bad_profiles_then_starts_and_revises(
    dashboard: tuple[httpx.AsyncClient, Client, Settings], tmp_path: Path
) -> None:
    client, temporal, _ = dashboard
    csrf = await _sign_in(client)

    forged = await client.post(
        "/dashboard/cycles", data={"csrf": "forged", "year": "2031"}, files=_files(DEMO / "profile.yaml")
    )
    assert forged.status_code == 403

    failing = tmp_path / "failing.yaml"
    failing.write_text(
        (DEMO / "profile.yaml").read_text().replace("approved_by: ceo", "approved_by: engineering-lead")
    )
    refused = await client.post(
        "/dashboard/cycles", data={"csrf": csrf, "year": "2031"}, files=_files(failing)
    )
    assert refused.status_code == 422
    assert "5.2.approved-by-top-management" in refused.text
    assert await cycle_status(temporal, "isms-review-larkspur-2031") is None

    year = 2032  # the time-skipping server is new for each test run
    started = await client.post(
        "/dashboard/cycles",
        data={"csrf": csrf, "year": str(year)},
        files=_files(current_demo_profile(tmp_path)),
    )
    assert started.status_code == 303
    cycle_id = f"isms-review-larkspur-{year}"
    assert started.headers["location"] == f"/dashboard/cycles/{cycle_id}"

    handle = temporal.get_workflow_handle(cycle_id)
    # this test's worker polls its own task queue, which the settings name
    status = await wait_for(handle, invited)
    again = await client.post(
        "/dashboard/cycles",
        data={"csrf": csrf, "year": str(year)},
        files=_files(current_demo_profile(tmp_path)),
    )
    assert again.status_code == 422
    assert "already exists" in again.text

    await handle.execute_update(
        AnnualReviewWorkflow.decide,
        SignatureDecision(
            kind=DecisionKind.REQUEST_CHANGES,
            person=CEO,
            version_hash=status.version_hash,
            link_id="x",
            comment="Add Leeds",
        ),
    )
    await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    page = await client.get(f"/dashboard/cycles/{cycle_id}")
    assert "Add Leeds" in page.text
    assert "Submit a revision" in page.text

    revised = current_demo_profile(
        tmp_path, text=(DEMO / "profile.yaml").read_text().replace('version: "3.0"', 'version: "3.1"')
    )
    accepted = await client.post(
        f"/dashboard/cycles/{cycle_id}/revision",
        data={"csrf": csrf},
        files={"profile": ("profile.yaml", revised.read_bytes(), "application/yaml")},
    )
    assert accepted.status_code == 200, accepted.text
    assert "revision accepted: round 2" in accepted.text
    second = await wait_for(handle, lambda s: invited(s) and s.round == 2)
    assert second.version == "3.1"
    await handle.terminate("test over")


def _with_documents(
    profile: Path, folder: Path, *names: str, staff: bool = True
) -> list[tuple[str, tuple[str, bytes, str]]]:
    """A form's parts: the profile, the staff directory (unless not ``staff``), and each of
    ``names`` (files under ``folder``) as one of the profile's document files."""
    parts = [(field, part) for field, part in _files(profile).items() if staff or field != "staff"]
    for name in names:
        path = next(folder.rglob(name))
        kind = "application/pdf" if name.endswith(".pdf") else "application/octet-stream"
        parts.append(("documents", (name, path.read_bytes(), kind)))
    return parts


async def _started_files(temporal: Client, cycle_id: str) -> dict[str, str]:
    history = await temporal.get_workflow_handle(cycle_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (data,) = await temporal.data_converter.decode(started.input.payloads, [AnnualReviewInput])
    return {doc: stored.sha256 for doc, stored in data.document_files.items()}


async def _revision_files(temporal: Client, cycle_id: str) -> list[dict[str, str]]:
    history = await temporal.get_workflow_handle(cycle_id).fetch_history()
    found = []
    for event in history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == "submit_revision":
                (revision,) = await temporal.data_converter.decode(
                    request.input.args.payloads, [RevisionInput]
                )
                found.append({doc: stored.sha256 for doc, stored in revision.document_files.items()})
    return found


async def test_the_forms_take_the_profiles_own_files_matched_by_name(
    dashboard: tuple[httpx.AsyncClient, Client, Settings], tmp_path: Path
) -> None:
    client, temporal, _ = dashboard
    csrf = await _sign_in(client)
    folder = tmp_path / "own"
    profile = own_documents_profile(folder)
    shas = {
        "information-security-policy": sha256_file(folder / "templates" / "policy.docx"),
        "acceptable-use-policy": sha256_file(folder / "policies" / "aup.pdf"),
        "secure-development-policy": sha256_file(folder / "templates" / "sdp.docx"),
    }
    page = await client.get("/dashboard")
    assert 'name="documents"' in page.text
    assert "multiple" in page.text.split('name="documents"', 1)[1].split(">", 1)[0]

    year = 2033
    form = {"csrf": csrf, "year": str(year)}
    missing = await client.post(
        "/dashboard/cycles", data=form, files=_with_documents(profile, folder, "policy.docx", "aup.pdf")
    )
    assert missing.status_code == 422
    assert "documents.secure-development-policy (Secure Development Policy)" in missing.text
    assert "add sdp.docx to the document files" in missing.text
    extra = tmp_path / "old-aup.pdf"
    extra.write_bytes(b"%PDF-1.4 last year's")
    stray = await client.post(
        "/dashboard/cycles",
        data=form,
        files=[
            *_with_documents(profile, folder, "policy.docx", "aup.pdf", "sdp.docx"),
            ("documents", ("old-aup.pdf", extra.read_bytes(), "application/pdf")),
        ],
    )
    assert stray.status_code == 422
    assert "old-aup.pdf: the profile&#39;s documents section names no file of that name" in stray.text
    assert await cycle_status(temporal, f"isms-review-larkspur-{year}") is None

    started = await client.post(
        "/dashboard/cycles",
        data=form,
        files=_with_documents(profile, folder, "policy.docx", "aup.pdf", "sdp.docx"),
    )
    assert started.status_code == 303, started.text
    cycle_id = f"isms-review-larkspur-{year}"
    assert await _started_files(temporal, cycle_id) == shas

    # the CEO asks for changes to the policy; the page says which document, and the revision
    # takes the revised profile's files again (a missing one refused, nothing submitted)
    handle = temporal.get_workflow_handle(cycle_id)
    status = await wait_for(handle, invited)
    await handle.execute_update(
        AnnualReviewWorkflow.decide,
        SignatureDecision(
            kind=DecisionKind.REQUEST_CHANGES,
            person=CEO,
            version_hash=status.version_hash,
            link_id="dashboard-own-files",
            comment="Shorter, please",
            documents=["information-security-policy.docx"],
        ),
    )
    await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    page = await client.get(f"/dashboard/cycles/{cycle_id}")
    assert '<td class="named-documents">information-security-policy.docx</td>' in page.text
    revision_form = page.text.split("Submit a revision", 1)[1]
    assert 'name="documents"' in revision_form

    refused = await client.post(
        f"/dashboard/cycles/{cycle_id}/revision",
        data={"csrf": csrf},
        files=_with_documents(profile, folder, "policy.docx", "sdp.docx", staff=False),
    )
    assert refused.status_code == 422
    assert "Nothing was submitted." in refused.text
    assert "add aup.pdf to the document files" in refused.text
    assert (await wait_for(handle, lambda s: True)).stage is Stage.AWAITING_REVISION

    (folder / "policies" / "aup.pdf").write_bytes(tiny_pdf("Acceptable Use Policy 2.2"))
    accepted = await client.post(
        f"/dashboard/cycles/{cycle_id}/revision",
        data={"csrf": csrf},
        files=_with_documents(profile, folder, "policy.docx", "aup.pdf", "sdp.docx", staff=False),
    )
    assert accepted.status_code == 200, accepted.text
    assert "revision accepted: round 2" in accepted.text
    assert await _revision_files(temporal, cycle_id) == [
        {**shas, "acceptable-use-policy": sha256_file(folder / "policies" / "aup.pdf")}
    ]
    await wait_for(handle, lambda s: invited(s) and s.round == 2)
    await handle.terminate("test over")


async def test_files_outside_the_profiles_folder_are_placed_and_absolute_paths_refused(
    dashboard: tuple[httpx.AsyncClient, Client, Settings], tmp_path: Path
) -> None:
    client, temporal, _ = dashboard
    csrf = await _sign_in(client)
    folder = tmp_path / "own"
    profile = own_documents_profile(folder)
    shared = profile.read_text().replace("file: policies/aup.pdf", "file: ../shared/policies/aup.pdf")
    profile.write_text(shared)
    year = 2034
    form = {"csrf": csrf, "year": str(year)}
    started = await client.post(
        "/dashboard/cycles",
        data=form,
        files=_with_documents(profile, folder, "policy.docx", "aup.pdf", "sdp.docx"),
    )
    assert started.status_code == 303, started.text
    files = await _started_files(temporal, f"isms-review-larkspur-{year}")
    assert files["acceptable-use-policy"] == sha256_file(folder / "policies" / "aup.pdf")
    await temporal.get_workflow_handle(f"isms-review-larkspur-{year}").terminate("test over")

    profile.write_text(shared.replace("file: ../shared/policies/aup.pdf", "file: /srv/policies/aup.pdf"))
    refused = await client.post(
        "/dashboard/cycles",
        data={**form, "year": str(year + 1)},
        files=_with_documents(profile, folder, "policy.docx", "aup.pdf", "sdp.docx"),
    )
    assert refused.status_code == 422
    assert (
        "documents.acceptable-use-policy (Acceptable Use Policy): /srv/policies/aup.pdf is an absolute path"
        in refused.text
    )
    assert await cycle_status(temporal, f"isms-review-larkspur-{year + 1}") is None
