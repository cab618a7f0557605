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
from core.settings import Settings
from core.tokens import issue_link
from models.cycle import DecisionKind, SignatureDecision, Stage
from models.links import LinkRole
from tests.workflows.helpers import CEO, DEMO, current_demo_profile, invited, wait_for
from web.app import create_app
from web.dashboard import SESSION_COOKIE
from workflows.annual_review import AnnualReviewWorkflow

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def dashboard(
    review: tuple[Client, Settings],
) -> AsyncIterator[tuple[httpx.AsyncClient, Client, Settings]]:
    temporal, settings = review
    settings = settings.model_copy(update={"dashboard_password": SecretStr(PASSWORD)})
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
