"""The lead's dashboard shows a cycle's acknowledgement campaign: totals, rate, department bars.

The campaigns are started on their own, so their cycle has no annual review workflow: the
page says so and shows the campaign.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from core.settings import Settings
from models.campaign import Acknowledgement, CampaignInput, CampaignStage, batch_id_for
from models.profile import Audience
from tests.workflows.campaign_helpers import ladder, signed_version, staff_rows, start_campaign, wait_until
from tests.workflows.test_dashboard import PASSWORD, _sign_in
from web.app import create_app
from workflows.acknowledgement import AcknowledgementBatchWorkflow


@pytest.fixture
async def dashboard(
    review: tuple[Client, Settings],
) -> AsyncIterator[tuple[httpx.AsyncClient, Client, Settings]]:
    temporal, settings = review
    settings = settings.model_copy(
        update={"dashboard_password": SecretStr(PASSWORD), "dashboard_single_user": True}
    )
    transport = httpx.ASGITransport(app=create_app(settings, client=temporal))
    async with httpx.AsyncClient(transport=transport, base_url="http://isms.test/") as client:
        yield client, temporal, settings


def _departments(page: str) -> dict[str, dict[str, str]]:
    """Each department row's figures (its data attributes) and its bar widths."""
    rows: dict[str, dict[str, str]] = {}
    for row in re.findall(r'<tr class="department"(.*?)</tr>', page, flags=re.DOTALL):
        figures = dict(re.findall(r'data-([a-z]+)="([^"]*)"', row))
        widths = dict(re.findall(r'<span class="([a-z]+)" style="width: ([0-9.]+%)"', row))
        name = unescape(figures.pop("department"))
        rows[name] = {
            **figures,
            **{f"{k}_width": v for k, v in widths.items()},
        }
    return rows


async def _acknowledge(client: Client, data: CampaignInput, emails: list[str]) -> None:
    handle = client.get_workflow_handle(batch_id_for(data.cycle_id, 1))  # a few people: one batch
    for email in emails:
        await handle.execute_update(
            AcknowledgementBatchWorkflow.acknowledge,
            Acknowledgement(person=email, version_hash=data.signed.version_hash, link_id="dashboard-test"),
        )


async def test_the_cycle_page_shows_the_campaign_by_department(
    dashboard: tuple[httpx.AsyncClient, Client, Settings], tmp_path: Path
) -> None:
    client, temporal, settings = dashboard
    people = staff_rows(20)  # Engineering 8, Finance 8, Operations 4
    handle, data = await start_campaign(temporal, settings, tmp_path, people)
    await wait_until(temporal, data.cycle_id, lambda p: p.stage is CampaignStage.RUNNING and p.invited == 20)
    await _acknowledge(temporal, data, [row["email"] for row in people[:3]] + [people[8]["email"]])
    await wait_until(temporal, data.cycle_id, lambda p: p.tally.acknowledged == 4)

    page = f"/dashboard/cycles/{data.cycle_id}"
    assert (await client.get(page)).status_code == 303  # the lead's session is required
    await _sign_in(client)
    shown = await client.get(page)
    assert shown.status_code == 200
    text = shown.text
    assert "There is no annual review workflow for this cycle" in text
    assert "Acknowledgement campaign" in text
    assert "<strong>4</strong> of 20 (<strong>20.0%</strong>" in text
    assert "<script" not in text
    assert _departments(text) == {
        "Engineering": {
            "acknowledged": "3",
            "outstanding": "5",
            "overdue": "0",
            "total": "8",
            "ack_width": "37.5%",
            "waiting_width": "62.5%",
            "overdue_width": "0.0%",
        },
        "Finance": {
            "acknowledged": "1",
            "outstanding": "7",
            "overdue": "0",
            "total": "8",
            "ack_width": "12.5%",
            "waiting_width": "87.5%",
            "overdue_width": "0.0%",
        },
        "Operations": {
            "acknowledged": "0",
            "outstanding": "4",
            "overdue": "0",
            "total": "4",
            "ack_width": "0.0%",
            "waiting_width": "100.0%",
            "overdue_width": "0.0%",
        },
    }
    assert 'aria-label="Engineering: 3 of 8 acknowledged, 5 outstanding (0 overdue)"' in text
    await handle.terminate("test over")

    missing = await client.get("/dashboard/cycles/isms-review-nobody-2041")
    assert missing.status_code == 404


async def test_a_closed_campaign_marks_the_overdue_and_names_the_register(
    dashboard: tuple[httpx.AsyncClient, Client, Settings], tmp_path: Path
) -> None:
    client, temporal, settings = dashboard
    people = staff_rows(6, team_size=3)  # Engineering 3, Finance 3
    handle, data = await start_campaign(
        temporal, settings, tmp_path, people, schedule=ladder(timedelta(seconds=0.3))
    )
    await wait_until(temporal, data.cycle_id, lambda p: p.stage is CampaignStage.RUNNING and p.invited == 6)
    await _acknowledge(temporal, data, [people[0]["email"], people[1]["email"], people[3]["email"]])
    result = await handle.result()

    await _sign_in(client)
    text = (await client.get(f"/dashboard/cycles/{data.cycle_id}")).text
    assert "<strong>3</strong> of 6 (<strong>50.0%</strong>; target 95%, not met)" in text
    assert '<span class="error">(3 overdue)</span>' in text
    assert f"s3://{result.register_csv.bucket}/{result.register_csv.key}" in text
    assert f"s3://{result.report.bucket}/{result.report.key}" in text
    departments = _departments(text)
    assert departments["Engineering"] == {
        "acknowledged": "2",
        "outstanding": "1",
        "overdue": "1",
        "total": "3",
        "ack_width": "66.6%",
        "waiting_width": "0.0%",
        "overdue_width": "33.3%",
    }
    assert departments["Finance"]["overdue"] == "2"
    assert departments["Finance"]["overdue_width"] == "66.6%"


def _documents(page: str) -> dict[str, dict[str, str]]:
    """Each document row's figures (its data attributes), by document id."""
    rows: dict[str, dict[str, str]] = {}
    for row in re.findall(r'<tr class="document"(.*?)</tr>', page, flags=re.DOTALL):
        figures = dict(re.findall(r'data-([a-z]+)="([^"]*)"', row))
        rows[unescape(figures.pop("document"))] = figures
    return rows


async def test_the_cycle_page_shows_each_documents_figures_and_who_has_none(
    dashboard: tuple[httpx.AsyncClient, Client, Settings], tmp_path: Path
) -> None:
    client, temporal, settings = dashboard
    people = staff_rows(20)  # Engineering 8, Finance 8, Operations 4
    signed = signed_version(
        settings,
        tmp_path / "signed",
        documents={
            "acceptable-use-policy.pdf": (
                "Acceptable Use Policy",
                "2024.2",
                Audience(departments=["Engineering", "Operations"]),
            ),
            "secure-development-policy.docx": (
                "Secure Development Policy",
                "1.4",
                Audience(departments=["Engineering"]),
            ),
        },
    )
    handle, data = await start_campaign(temporal, settings, tmp_path, people, signed=signed)
    await wait_until(temporal, data.cycle_id, lambda p: p.stage is CampaignStage.RUNNING and p.invited == 12)
    # two engineers and one in Operations; nobody in Finance has a document
    await _acknowledge(temporal, data, [people[1]["email"], people[2]["email"], people[16]["email"]])
    await wait_until(temporal, data.cycle_id, lambda p: p.tally.acknowledged == 3)

    await _sign_in(client)
    text = (await client.get(f"/dashboard/cycles/{data.cycle_id}")).text
    assert "<strong>3</strong> of 12 (<strong>25.0%</strong>" in text
    assert "<h2>By document</h2>" in text
    assert _documents(text) == {
        "acceptable-use-policy": {"acknowledged": "3", "outstanding": "9", "overdue": "0", "total": "12"},
        "secure-development-policy": {"acknowledged": "2", "outstanding": "6", "overdue": "0", "total": "8"},
    }
    assert 'aria-label="Secure Development Policy: 2 of 8 acknowledged, 6 outstanding (0 overdue)"' in text
    assert '<td class="no-documents">8 in scope, not invited' in text
    assert "Finance" not in _departments(text)
    await handle.terminate("test over")
