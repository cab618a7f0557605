"""Role acceptance activities on real S3 (SeaweedFS): the plan from stored inputs, the register read back."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.role_acceptance import RoleAcceptanceActivities
from adapters.drafts import store_input
from adapters.s3 import get_file, make_s3_client
from core.contract import Failure
from core.settings import Settings
from models.role_acceptance import (
    Capacity,
    RoleAssignment,
    RolePlanInput,
    RoleRecord,
    RoleRegisterInput,
)
from models.routing import Person

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
SIGNER = "eleanor.marsh@larkspur.example"


@pytest.fixture
def s3(settings: Settings) -> S3Client:
    return make_s3_client(settings)


@pytest.fixture
def activities(settings: Settings, s3: S3Client) -> RoleAcceptanceActivities:
    return RoleAcceptanceActivities(settings=settings, s3=s3)


async def test_plan_reads_the_stored_profile_and_directory(
    activities: RoleAcceptanceActivities, settings: Settings, s3: S3Client
) -> None:
    request = RolePlanInput(
        cycle_id="isms-review-larkspur-2026-roles",
        profile=store_input(s3, settings, DEMO / "profile.yaml"),
        staff=store_input(s3, settings, DEMO / "staff.csv"),
        signer_email=SIGNER,
    )
    holders = await asyncio.to_thread(ActivityEnvironment().run, activities.plan_role_acceptance, request)
    assert [(holder.email, len(holder.assignments), holder.lead) for holder in holders] == [
        ("ravi.chandran@larkspur.example", 1, True),
        ("sofia.alvarez@larkspur.example", 2, False),
        ("daniel.obrien@larkspur.example", 1, False),
        ("grace.whitfield@larkspur.example", 2, False),
    ]


async def test_an_unreadable_profile_is_a_non_retryable_unreadable_input(
    activities: RoleAcceptanceActivities, settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    broken = tmp_path / "profile.yaml"
    broken.write_text("organisation: [not, a, mapping\n")
    request = RolePlanInput(
        cycle_id="isms-review-larkspur-2026-broken",
        profile=store_input(s3, settings, broken),
        staff=store_input(s3, settings, DEMO / "staff.csv"),
        signer_email=SIGNER,
    )
    with pytest.raises(ApplicationError) as caught:
        await asyncio.to_thread(ActivityEnvironment().run, activities.plan_role_acceptance, request)
    assert caught.value.type == Failure.UNREADABLE_INPUT
    assert caught.value.non_retryable


async def test_close_stores_the_register_and_report_in_the_drafts_bucket(
    activities: RoleAcceptanceActivities, settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}"
    at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    lead = RoleAssignment(role_id="isms-lead", title="ISMS Lead", capacity=Capacity.HOLDER)
    records = [
        RoleRecord(
            email="ravi.chandran@larkspur.example",
            name="Ravi Chandran",
            department="Engineering",
            assignments=[lead],
            lead=True,
            invited_at=at,
            accepted_at=at,
            ip="203.0.113.7",
            user_agent="Firefox/130",
            version_hash="v" * 64,
            letter_sha256="a" * 64,
        ),
        RoleRecord(
            email="sofia.alvarez@larkspur.example",
            name="Sofia Alvarez",
            department="Engineering",
            assignments=[lead.model_copy(update={"capacity": Capacity.DEPUTY})],
            invited_at=at,
            declined_at=at,
            decline_comment="+1 I was never asked",
        ),
    ]
    request = RoleRegisterInput(
        cycle_id=cycle_id,
        organisation="Larkspur Analytics",
        version="3.1",
        version_hash="v" * 64,
        signer=Person(name="Eleanor Marsh", email=SIGNER),
        lead=Person(name="Ravi Chandran", email="ravi.chandran@larkspur.example"),
        signed_at=at,
        closed_at=at,
        records=records,
    )
    result = await asyncio.to_thread(ActivityEnvironment().run, activities.close_role_acceptance, request)
    assert (result.tally.total, result.tally.accepted, result.tally.declined) == (2, 1, 1)
    prefix = f"{settings.drafts_prefix}{cycle_id}/role-acceptance/"
    assert [result.register_csv.key, result.register_json.key, result.report.key] == [
        prefix + "register.csv",
        prefix + "register.json",
        prefix + "report.html",
    ]
    assert {result.register_csv.bucket, result.report.bucket} == {settings.drafts_bucket}

    # read back from S3 (get_file checks each SHA-256 against the stored reference)
    rows = list(
        csv.DictReader(io.StringIO(get_file(s3, result.register_csv, tmp_path / "r.csv").read_text()))
    )
    assert [(row["email"], row["capacity"], row["status"]) for row in rows] == [
        ("ravi.chandran@larkspur.example", "holder", "accepted"),
        ("sofia.alvarez@larkspur.example", "deputy", "declined"),
    ]
    assert rows[1]["decline_reason"] == "'+1 I was never asked"
    document = json.loads(get_file(s3, result.register_json, tmp_path / "r.json").read_text())
    assert [record["email"] for record in document["records"]] == [r.email for r in records]
    assert document["records"][0]["ip"] == "203.0.113.7"
    page = get_file(s3, result.report, tmp_path / "r.html").read_text()
    assert "1 of 2 accepted" in page
    assert "+1 I was never asked" in page
    head = s3.head_object(Bucket=result.report.bucket, Key=result.report.key)
    assert head["ContentType"] == "text/html; charset=utf-8"

    # a retried close writes the same bytes under the same keys
    again = await asyncio.to_thread(ActivityEnvironment().run, activities.close_role_acceptance, request)
    assert again == result
