"""Document activities on real S3 (SeaweedFS) and real LibreOffice: check, render, convert, store."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from activities.documents import CLAUSE5_ERRORS, INTEGRITY, UNREADABLE_INPUT, DocumentActivities
from adapters.drafts import store_input
from adapters.s3 import get_file, make_s3_client
from core.profile_io import load_profile, load_staff
from core.settings import Settings
from documents.changes import build_manifest, write_manifest
from documents.pdf_convert import PdfConverter
from documents.pipeline import render_documents
from models.archive import ArchiveInput, ArchiveItem
from models.documents import CheckDocumentsInput, RenderDocumentsInput, RenderManifest
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
AS_OF = date(2026, 11, 23)


@pytest.fixture
def activities(settings: Settings, pdf_converter: PdfConverter) -> DocumentActivities:
    return DocumentActivities(settings=settings, s3=make_s3_client(settings), converter=pdf_converter)


@pytest.fixture
def s3(settings: Settings) -> S3Client:
    return make_s3_client(settings)


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


async def test_render_stores_docx_and_pdf_with_everyone_in_them(
    activities: DocumentActivities, settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    profile = store_input(s3, settings, DEMO / "profile.yaml")
    staff = store_input(s3, settings, DEMO / "staff.csv")
    env = ActivityEnvironment()
    checked = await asyncio.to_thread(
        env.run, activities.check_documents, CheckDocumentsInput(profile=profile, staff=staff, as_of=AS_OF)
    )
    assert checked.findings == []
    assert checked.blocking is False

    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}"
    request = RenderDocumentsInput(cycle_id=cycle_id, profile=profile, staff=staff, as_of=AS_OF)
    result = await asyncio.to_thread(env.run, activities.render_documents, request)
    assert [d.name for d in result.documents] == [
        "information-security-policy.docx",
        "isms-roles-responsibilities.docx",
    ]

    demo = load_profile(DEMO / "profile.yaml")
    holders = {"Eleanor Marsh", "Ravi Chandran", "Sofia Alvarez", "Daniel O'Brien", "Grace Whitfield"}
    for document in result.documents:
        assert document.docx.key.startswith(f"{settings.drafts_prefix}{cycle_id}/{document.docx.sha256}/")
        assert document.pdf.content_type == "application/pdf"
        pdf = get_file(s3, document.pdf, tmp_path / Path(document.pdf.key).name)  # checks the SHA-256
        assert pdf.read_bytes().startswith(b"%PDF-")
        text = " ".join(_pdf_text(pdf).split())
        assert "Larkspur Analytics Ltd" in text
        assert all(name in text for name in holders), document.name
    roles_text = " ".join(_pdf_text(tmp_path / "isms-roles-responsibilities.pdf").split())
    for activity in demo.raci:
        assert activity.activity.split()[0] in roles_text

    manifest_path = get_file(s3, result.manifest, tmp_path / "render-manifest.json")
    manifest = RenderManifest.model_validate_json(manifest_path.read_text())
    assert [str(d.path) for d in manifest.documents] == [d.name for d in result.documents]
    assert [d.pdf_sha256 for d in manifest.documents] == [d.pdf.sha256 for d in result.documents]

    again = await asyncio.to_thread(
        env.run, activities.render_documents, request
    )  # a retry: same .docx, same keys
    assert [d.docx for d in again.documents] == [d.docx for d in result.documents]


async def test_render_with_previous_manifest_reports_changes(
    activities: DocumentActivities, settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    staff = store_input(s3, settings, DEMO / "staff.csv")
    env = ActivityEnvironment()
    first = await asyncio.to_thread(
        env.run,
        activities.render_documents,
        RenderDocumentsInput(
            cycle_id="changes-v3",
            profile=store_input(s3, settings, DEMO / "profile.yaml"),
            staff=staff,
            as_of=AS_OF,
        ),
    )
    revised = tmp_path / "profile.yaml"
    revised.write_text(
        (DEMO / "profile.yaml")
        .read_text()
        .replace('version: "3.0"', 'version: "3.1"')
        .replace("holder: sofia.alvarez@larkspur.example", "holder: liam.hughes@larkspur.example")
    )
    second = await asyncio.to_thread(
        env.run,
        activities.render_documents,
        RenderDocumentsInput(
            cycle_id="changes-v31",
            profile=store_input(s3, settings, revised),
            staff=staff,
            as_of=AS_OF,
            previous_manifest=first.manifest,
        ),
    )
    assert second.change_lines[0] == "Version 3.0 -> 3.1"
    assert any(
        "Engineering Lead: holder Sofia Alvarez" in line and "Liam Hughes" in line
        for line in second.change_lines
    )


async def test_render_without_previous_manifest_compares_with_last_years_archived_version(
    activities: DocumentActivities, settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    """What a cycle the yearly Schedule starts gets: the change summary against the archived version."""
    last_year = tmp_path / "last-year.yaml"
    last_year.write_text(
        (DEMO / "profile.yaml")
        .read_text()
        .replace('version: "3.0"', 'version: "2.0"')
        .replace("holder: sofia.alvarez@larkspur.example", "holder: liam.hughes@larkspur.example")
    )
    profile, staff = load_profile(last_year), load_staff(DEMO / "staff.csv")
    folder = tmp_path / "v2"
    manifest = write_manifest(
        folder, build_manifest(profile, staff, render_documents(profile, staff, folder))
    )
    await asyncio.to_thread(
        ActivityEnvironment().run,
        ArchiveActivities(settings=settings, s3=s3).archive_objects,
        ArchiveInput(
            cycle_id="isms-review-larkspur-2026",
            organisation="larkspur",
            year=2026,
            stage="signed-v2.0",
            items=[ArchiveItem(source=store_input(s3, settings, manifest), name="render-manifest/v2.0.json")],
        ),
    )
    this_year = store_input(s3, settings, DEMO / "profile.yaml")
    directory = store_input(s3, settings, DEMO / "staff.csv")
    env = ActivityEnvironment()

    # the cycle of 2027 (its year is read from its id, not from the day it renders)
    render = await asyncio.to_thread(
        env.run,
        activities.render_documents,
        RenderDocumentsInput(
            cycle_id="isms-review-larkspur-2027", profile=this_year, staff=directory, as_of=AS_OF
        ),
    )
    assert render.change_lines[0] == "Version 2.0 -> 3.0"
    assert any(
        "Engineering Lead: holder Liam Hughes" in line and "Sofia Alvarez" in line
        for line in render.change_lines
    )
    stored = RenderManifest.model_validate_json(
        get_file(s3, render.manifest, tmp_path / "render-manifest.json").read_text()
    )
    assert stored.changes is not None
    assert stored.changes.previous_version == "2.0"

    # a version signed in the same year is not "last year's": nothing earlier, no summary
    same_year = await asyncio.to_thread(
        env.run,
        activities.render_documents,
        RenderDocumentsInput(
            cycle_id="isms-review-larkspur-2026", profile=this_year, staff=directory, as_of=AS_OF
        ),
    )
    assert same_year.change_lines == []


async def _application_error(call: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_bad_inputs_are_non_retryable_and_store_nothing(
    activities: DocumentActivities, settings: Settings, s3: S3Client, tmp_path: Path
) -> None:
    env = ActivityEnvironment()
    staff = store_input(s3, settings, DEMO / "staff.csv")
    cycle_id = f"bad-{uuid.uuid4().hex[:6]}"

    broken = tmp_path / "broken.yaml"
    broken.write_text("organisation: [\n")
    unreadable = await _application_error(
        asyncio.to_thread(
            env.run,
            activities.render_documents,
            RenderDocumentsInput(
                cycle_id=cycle_id, profile=store_input(s3, settings, broken), staff=staff, as_of=AS_OF
            ),
        )
    )
    assert (unreadable.type, unreadable.non_retryable) == (UNREADABLE_INPUT, True)
    assert "invalid YAML" in unreadable.message
    assert unreadable.details  # one entry per problem, each with its line and column

    failing = tmp_path / "failing.yaml"
    failing.write_text(
        (DEMO / "profile.yaml").read_text().replace("approved_by: ceo", "approved_by: engineering-lead")
    )
    clause5 = await _application_error(
        asyncio.to_thread(
            env.run,
            activities.render_documents,
            RenderDocumentsInput(
                cycle_id=cycle_id, profile=store_input(s3, settings, failing), staff=staff, as_of=AS_OF
            ),
        )
    )
    assert (clause5.type, clause5.non_retryable) == (CLAUSE5_ERRORS, True)
    assert any("5.2.approved-by-top-management" in str(detail) for detail in clause5.details)

    good = store_input(s3, settings, DEMO / "profile.yaml")
    tampered = StoredObject(**{**good.model_dump(), "sha256": "0" * 64})
    integrity = await _application_error(
        asyncio.to_thread(
            env.run,
            activities.check_documents,
            CheckDocumentsInput(profile=tampered, staff=staff, as_of=AS_OF),
        )
    )
    assert (integrity.type, integrity.non_retryable) == (INTEGRITY, True)

    listing = s3.list_objects_v2(Bucket=settings.drafts_bucket, Prefix=f"{settings.drafts_prefix}{cycle_id}/")
    assert listing.get("KeyCount", 0) == 0, "a failed render left drafts behind"
