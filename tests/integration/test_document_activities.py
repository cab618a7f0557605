"""Document activities on real S3 (SeaweedFS) and real LibreOffice: check, render, convert, store;
the built-in pair and a profile's own four documents."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from docx import Document
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from activities.documents import CLAUSE5_ERRORS, INTEGRITY, UNREADABLE_INPUT, DocumentActivities
from adapters.drafts import store_input
from adapters.s3 import get_file, make_s3_client
from core.hashing import sha256_file
from core.profile_io import load_profile, load_staff
from core.settings import Settings
from documents.changes import build_manifest, write_manifest
from documents.pdf_convert import PdfConverter
from documents.pipeline import render_documents
from documents.sources import resolve_sources
from models.archive import ArchiveInput, ArchiveItem
from models.documents import CheckDocumentsInput, RenderDocumentsInput, RenderManifest
from models.storage import StoredObject
from tests.documents_helpers import (
    AUP_TEXT,
    AUP_TITLE,
    FOUR_NAMES,
    HOUSE_STYLE_RENDERED,
    OWN_POLICY_TITLE,
    SDP_TEXT,
    SDP_TITLE,
    FourDocuments,
    four_documents,
)

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
        "isms-lead-appointment.docx",
    ]

    demo = load_profile(DEMO / "profile.yaml")
    holders = {"Eleanor Marsh", "Ravi Chandran", "Sofia Alvarez", "Daniel O'Brien", "Grace Whitfield"}
    for document in result.documents:
        assert document.docx is not None  # the built-in documents: all .docx
        assert document.docx.key.startswith(f"{settings.drafts_prefix}{cycle_id}/{document.docx.sha256}/")
        assert document.pdf.content_type == "application/pdf"
        pdf = get_file(s3, document.pdf, tmp_path / Path(document.pdf.key).name)  # checks the SHA-256
        assert pdf.read_bytes().startswith(b"%PDF-")
        text = " ".join(_pdf_text(pdf).split())
        assert "Larkspur Analytics Ltd" in text
        # the Clause 5 documents name every holder; the appointment letter the lead and the signer
        named = (
            holders if document.name != "isms-lead-appointment.docx" else {"Ravi Chandran", "Eleanor Marsh"}
        )
        assert all(name in text for name in named), document.name
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


# --------------------------------------------------------------------------------------------
# A profile with four documents


@pytest.fixture
def four(tmp_path: Path, pdf_converter: PdfConverter) -> FourDocuments:
    return four_documents(tmp_path / "org", make_pdf=pdf_converter.convert)


def _document_files(s3: S3Client, settings: Settings, four: FourDocuments) -> dict[str, StoredObject]:
    """What the start uploads: each file the profile names, by document id."""
    profile = load_profile(four.profile)
    return {
        doc_id: store_input(s3, settings, path)
        for doc_id, path in resolve_sources(profile, four.profile.parent).files.items()
    }


async def test_four_documents_are_checked_rendered_converted_and_stored(
    activities: DocumentActivities, settings: Settings, s3: S3Client, four: FourDocuments, tmp_path: Path
) -> None:
    profile = store_input(s3, settings, four.profile)
    staff = store_input(s3, settings, DEMO / "staff.csv")
    files = _document_files(s3, settings, four)
    assert sorted(files) == [
        "acceptable-use-policy",
        "information-security-policy",
        "secure-development-policy",
    ]
    env = ActivityEnvironment()
    checked = await asyncio.to_thread(
        env.run,
        activities.check_documents,
        CheckDocumentsInput(profile=profile, staff=staff, as_of=AS_OF, document_files=files),
    )
    assert checked.blocking is False

    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}"
    request = RenderDocumentsInput(
        cycle_id=cycle_id, profile=profile, staff=staff, as_of=AS_OF, document_files=files
    )
    result = await asyncio.to_thread(env.run, activities.render_documents, request)
    by_name = {d.name: d for d in result.documents}
    assert sorted(by_name) == sorted(FOUR_NAMES)
    assert [
        (d.id, d.title, d.kind, d.signs, d.acknowledges, d.audience.departments) for d in result.documents
    ] == [
        ("information-security-policy", OWN_POLICY_TITLE, "generated", True, True, []),
        ("isms-roles-responsibilities", "ISMS Roles and Responsibilities", "generated", True, True, []),
        ("acceptable-use-policy", AUP_TITLE, "static", True, True, []),
        ("secure-development-policy", SDP_TITLE, "static", False, True, ["Engineering"]),
    ]

    aup = by_name["acceptable-use-policy.pdf"]
    assert aup.docx is None  # a static PDF is its own PDF
    assert aup.version == "2.1"
    assert aup.pdf.sha256 == aup.shown_sha256 == aup.template_sha256 == sha256_file(four.aup_pdf)
    stored_aup = get_file(s3, aup.pdf, tmp_path / "stored-aup.pdf")
    assert stored_aup.read_bytes() == four.aup_pdf.read_bytes()

    sdp = by_name["secure-development-policy.docx"]
    assert sdp.docx is not None
    assert sdp.docx.sha256 == sha256_file(four.sdp_docx) == sdp.shown_sha256  # carried unchanged
    assert sdp.version == sha256_file(four.sdp_docx)[:12]
    texts = {
        name: " ".join(
            _pdf_text(get_file(s3, d.pdf, tmp_path / "pdfs" / Path(name).with_suffix(".pdf").name)).split()
        )
        for name, d in by_name.items()
    }
    assert SDP_TEXT in texts["secure-development-policy.docx"]
    assert AUP_TEXT in texts["acceptable-use-policy.pdf"]
    assert HOUSE_STYLE_RENDERED in texts["information-security-policy.docx"]
    assert OWN_POLICY_TITLE in texts["information-security-policy.docx"]
    assert "Larkspur house style" not in texts["isms-roles-responsibilities.docx"]  # the built-in one

    manifest = RenderManifest.model_validate_json(
        get_file(s3, result.manifest, tmp_path / "render-manifest.json").read_text()
    )
    assert [(str(d.path), d.kind) for d in manifest.documents] == [(d.name, d.kind) for d in result.documents]

    again = await asyncio.to_thread(env.run, activities.render_documents, request)
    # a retry: the same .docx under the same keys, the static PDF the same object (LibreOffice's
    # PDFs carry their creation time)
    assert [d.docx for d in again.documents] == [d.docx for d in result.documents]
    assert {d.name: d.pdf for d in again.documents}["acceptable-use-policy.pdf"] == aup.pdf


async def test_a_tampered_or_missing_document_file_is_refused(
    activities: DocumentActivities, settings: Settings, s3: S3Client, four: FourDocuments, tmp_path: Path
) -> None:
    env = ActivityEnvironment()
    profile = store_input(s3, settings, four.profile)
    staff = store_input(s3, settings, DEMO / "staff.csv")
    files = _document_files(s3, settings, four)
    cycle_id = f"tampered-{uuid.uuid4().hex[:6]}"

    # someone replaces the stored Acceptable Use Policy after the start recorded its SHA-256
    stored = files["acceptable-use-policy"]
    s3.put_object(Bucket=stored.bucket, Key=stored.key, Body=four.aup_pdf.read_bytes() + b"% replaced\n")
    render = RenderDocumentsInput(
        cycle_id=cycle_id, profile=profile, staff=staff, as_of=AS_OF, document_files=files
    )
    check = CheckDocumentsInput(profile=profile, staff=staff, as_of=AS_OF, document_files=files)
    for refused in [
        await _application_error(asyncio.to_thread(env.run, activities.render_documents, render)),
        await _application_error(asyncio.to_thread(env.run, activities.check_documents, check)),
    ]:
        assert (refused.type, refused.non_retryable) == (INTEGRITY, True)
        assert refused.message == (
            "the stored file of acceptable-use-policy does not match the SHA-256 recorded at the start"
        )

    # the start did not upload the Secure Development Policy the profile names
    partial = {k: v for k, v in files.items() if k != "secure-development-policy"}
    missing = await _application_error(
        asyncio.to_thread(
            env.run,
            activities.render_documents,
            RenderDocumentsInput(
                cycle_id=cycle_id, profile=profile, staff=staff, as_of=AS_OF, document_files=partial
            ),
        )
    )
    assert (missing.type, missing.non_retryable) == (UNREADABLE_INPUT, True)
    assert any(
        "secure-development-policy: the profile names 'files/Secure Development Policy.docx'" in str(detail)
        for detail in missing.details
    )

    # a policy template that does not render: named, not retried
    document = Document(str(four.policy_template))
    document.paragraphs[0].insert_paragraph_before("{{ polcy_owner }}")
    document.save(str(four.policy_template))
    s3.delete_object(Bucket=stored.bucket, Key=stored.key)  # the replaced file goes; the start uploads again
    broken = _document_files(s3, settings, four)
    template = await _application_error(
        asyncio.to_thread(
            env.run,
            activities.render_documents,
            RenderDocumentsInput(
                cycle_id=cycle_id, profile=profile, staff=staff, as_of=AS_OF, document_files=broken
            ),
        )
    )
    assert (template.type, template.non_retryable) == (UNREADABLE_INPUT, True)
    assert template.message.startswith("information-security-policy: the template templates/our-policy.docx")
    assert "'polcy_owner' is undefined" in template.message

    listing = s3.list_objects_v2(Bucket=settings.drafts_bucket, Prefix=f"{settings.drafts_prefix}{cycle_id}/")
    assert listing.get("KeyCount", 0) == 0, "a refused render left drafts behind"
