"""Checklist row 8 on real SeaweedFS: the check compares with last year's archived render manifest.

Version 2.0 is rendered from the demo profile (an organisation of its own) and its render
manifest archived under Object Lock with 2025's signed version, as the workflow archives it. This
year's ``check_documents`` activity, given a directory where the ISMS lead's deputy moved to
Product and the HR manager has left, warns about each, naming version 2.0; the same check with
last year's directory warns of nothing, and an organisation with nothing archived compares nothing.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from activities.documents import DocumentActivities
from adapters.drafts import store_input
from adapters.previous_render import previous_render_facts
from adapters.s3 import make_s3_client
from core.profile_io import load_profile, load_staff
from core.settings import Settings
from documents.changes import build_manifest, write_manifest
from documents.pdf_convert import PdfConverter
from documents.pipeline import render_documents
from models.archive import ArchiveInput, ArchiveItem
from models.documents import CheckDocumentsInput

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
AS_OF = date(2026, 11, 23)
RULE = "5.3.holder-changed-since-signed"


def _profile(folder: Path, organisation: str, version: str) -> Path:
    path = folder / f"profile-{version}.yaml"
    path.write_text(
        (DEMO / "profile.yaml")
        .read_text()
        .replace("short_name: larkspur", f"short_name: {organisation}")
        .replace('version: "3.0"', f'version: "{version}"')
    )
    return path


def _staff(folder: Path) -> Path:
    """This year's directory: Sofia Alvarez moved to Product, Daniel O'Brien left in October."""
    lines = []
    for line in (DEMO / "staff.csv").read_text().splitlines():
        if line.startswith("LA-003,"):
            line = line.replace(",Engineering,Engineering Lead,", ",Product,Engineering Lead,")
        if line.startswith("LA-004,"):
            line = line.replace(",2020-01-06,,", ",2020-01-06,2026-10-31,")
        lines.append(line)
    path = folder / "staff-now.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def organisation(settings: Settings, tmp_path: Path) -> str:
    """An organisation whose version 2.0 was signed in 2025, its render manifest archived."""
    organisation = f"lark{uuid.uuid4().hex[:8]}"
    profile, staff = load_profile(_profile(tmp_path, organisation, "2.0")), load_staff(DEMO / "staff.csv")
    folder = tmp_path / "v2"
    manifest = write_manifest(
        folder, build_manifest(profile, staff, render_documents(profile, staff, folder))
    )
    s3 = make_s3_client(settings)
    ActivityEnvironment().run(
        ArchiveActivities(settings=settings, s3=s3).archive_objects,
        ArchiveInput(
            cycle_id=f"isms-review-{organisation}-2025",
            organisation=organisation,
            year=2025,
            stage="signed-v2.0",
            items=[ArchiveItem(source=store_input(s3, settings, manifest), name="render-manifest/v2.0.json")],
        ),
    )
    return organisation


def test_the_check_warns_of_holders_who_left_or_moved_since_last_years_version(
    settings: Settings, organisation: str, pdf_converter: PdfConverter, tmp_path: Path
) -> None:
    s3 = make_s3_client(settings)
    facts = previous_render_facts(s3, settings.archive_bucket, organisation, 2026)
    assert facts is not None
    assert facts.version == "2.0"
    assert facts.roles["isms-lead"].deputy_department == "Engineering"  # recorded by last year's render

    activities = DocumentActivities(settings=settings, s3=s3, converter=pdf_converter)
    profile = store_input(s3, settings, _profile(tmp_path, organisation, "3.0"))
    result = ActivityEnvironment().run(
        activities.check_documents,
        CheckDocumentsInput(profile=profile, staff=store_input(s3, settings, _staff(tmp_path)), as_of=AS_OF),
    )
    ours = sorted(f.message for f in result.findings if f.rule == RULE)
    assert ours == [
        "Daniel O'Brien, HR Manager (People Contact) holder when version 2.0 was signed, has left",
        "Sofia Alvarez (Engineering Lead holder) worked in Engineering when version 2.0 was signed "
        "and now works in Product",
        "Sofia Alvarez (ISMS Lead (Chief Technology Officer) deputy) worked in Engineering when version "
        "2.0 was signed and now works in Product",
    ]

    unchanged = ActivityEnvironment().run(
        activities.check_documents,
        CheckDocumentsInput(
            profile=profile, staff=store_input(s3, settings, DEMO / "staff.csv"), as_of=AS_OF
        ),
    )
    assert [f for f in unchanged.findings if f.rule == RULE] == []


def test_an_organisation_with_nothing_archived_compares_nothing(
    settings: Settings, pdf_converter: PdfConverter, tmp_path: Path
) -> None:
    s3 = make_s3_client(settings)
    organisation = f"lark{uuid.uuid4().hex[:8]}"
    assert previous_render_facts(s3, settings.archive_bucket, organisation, 2026) is None
    activities = DocumentActivities(settings=settings, s3=s3, converter=pdf_converter)
    result = ActivityEnvironment().run(
        activities.check_documents,
        CheckDocumentsInput(
            profile=store_input(s3, settings, _profile(tmp_path, organisation, "3.0")),
            staff=store_input(s3, settings, _staff(tmp_path)),
            as_of=AS_OF,
        ),
    )
    assert [f for f in result.findings if f.rule == RULE] == []
    assert any(f.rule == "5.3.holder-is-current-staff" for f in result.findings)  # the leaver, still assigned
