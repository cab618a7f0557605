"""The change summary against the previous version: text, roles, holders, and each document by id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from core.profile_io import load_profile, load_staff
from documents.changes import build_manifest, load_previous, summarise_changes, write_manifest
from documents.pipeline import render_cycle, render_documents
from documents.sources import resolve_sources
from models.documents import MANIFEST_NAME, ChangeSummary, RenderManifest
from models.profile import OrganisationProfile, RoleAcceptanceSchedule
from models.staff import StaffDirectory
from tests.documents_helpers import OWN_POLICY_TITLE, four_documents, minimal_pdf

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"


@pytest.fixture(scope="module")
def staff() -> StaffDirectory:
    return load_staff(DEMO / "staff.csv")


def _next_year(data: dict[str, Any]) -> OrganisationProfile:
    data["policy"]["version"] = "4.0"
    data["isms_scope"] = data["isms_scope"] + " It now includes the Leeds office."
    for role in data["roles"]:
        if role["id"] == "engineering-lead":
            role["holder"] = "tomasz.nowak@larkspur.example"
        if role["id"] == "finance-ops":
            role["title"] = "Finance and Supplier Contact"
    data["roles"] = [role for role in data["roles"] if role["id"] != "hr-manager"]
    data["roles"].append(
        {
            "id": "security-champion",
            "title": "Security Champion",
            "holder": "amara.okafor@larkspur.example",
            "responsibilities": ["Promotes secure coding"],
            "authorities": ["Requests security reviews"],
        }
    )
    for row in data["raci"]:
        row["assignments"].pop("hr-manager", None)
    data["policy"]["objectives"] = [o for o in data["policy"]["objectives"] if o["owner"] != "hr-manager"]
    data["policy"]["sub_policies"] = [s for s in data["policy"]["sub_policies"] if s["owner"] != "hr-manager"]
    return OrganisationProfile.model_validate(data)


def test_summary_names_holder_role_and_text_changes(staff: StaffDirectory, tmp_path: Path) -> None:
    this_year = load_profile(DEMO / "profile.yaml")
    previous_dir = tmp_path / "v3"
    documents = render_documents(this_year, staff, previous_dir)
    write_manifest(previous_dir, build_manifest(this_year, staff, documents))

    next_year = _next_year(yaml.safe_load((DEMO / "profile.yaml").read_text()))
    current_dir = tmp_path / "v4"
    manifest = build_manifest(
        next_year, staff, render_documents(next_year, staff, current_dir), previous_dir=previous_dir
    )
    changes = manifest.changes
    assert changes is not None
    assert (changes.previous_version, changes.current_version) == ("3.0", "4.0")
    assert changes.roles_added == ["Security Champion"]
    assert changes.roles_removed == ["HR Manager (People Contact)"]
    assert changes.roles_retitled == [("Finance and Operations Contact", "Finance and Supplier Contact")]
    assert [(c.role, c.field, c.current) for c in changes.holder_changes] == [
        ("Engineering Lead", "holder", "Tomasz Nowak <tomasz.nowak@larkspur.example>")
    ]
    policy_changes = changes.text["information-security-policy.docx"]
    assert any("Leeds office" in paragraph for paragraph in policy_changes.added)
    assert not any("Leeds office" in paragraph for paragraph in policy_changes.removed)
    assert "New role: Security Champion" in changes.lines()


def test_identical_renders_have_no_changes_but_the_version(staff: StaffDirectory, tmp_path: Path) -> None:
    profile = load_profile(DEMO / "profile.yaml")
    first = build_manifest(profile, staff, render_documents(profile, staff, tmp_path / "a"))
    second = build_manifest(profile, staff, render_documents(profile, staff, tmp_path / "b"))
    changes = summarise_changes(first.facts, second.facts)
    assert changes.roles_added == changes.roles_removed == []
    assert changes.holder_changes == []
    assert all(not (c.added or c.removed) for c in changes.text.values())


def test_previous_without_manifest_compares_text_only(staff: StaffDirectory, tmp_path: Path) -> None:
    profile = load_profile(DEMO / "profile.yaml")
    render_documents(profile, staff, tmp_path / "old")  # Word files only, no manifest
    facts, roles_compared = load_previous(tmp_path / "old")
    assert roles_compared is False
    assert set(facts.paragraphs) == {
        "information-security-policy.docx",
        "isms-roles-responsibilities.docx",
        "isms-lead-appointment.docx",
    }
    with pytest.raises(FileNotFoundError, match=r"neither render-manifest\.json nor any \.docx"):
        load_previous(tmp_path / "empty-does-not-exist")


def test_cli_render_with_previous_writes_the_manifest(tmp_path: Path) -> None:
    runner = CliRunner()
    profile, staff = str(DEMO / "profile.yaml"), str(DEMO / "staff.csv")
    first = runner.invoke(
        app, ["docs", "render", profile, "--staff", staff, "--out", str(tmp_path / "v3"), "--no-pdf"]
    )
    assert first.exit_code == 0, first.output
    changed = tmp_path / "profile.yaml"
    changed.write_text((DEMO / "profile.yaml").read_text().replace('version: "3.0"', 'version: "3.1"'))
    result = runner.invoke(
        app,
        [
            "docs",
            "render",
            str(changed),
            "--staff",
            staff,
            "--out",
            str(tmp_path / "v31"),
            "--previous",
            str(tmp_path / "v3"),
            "--json",
            "--no-pdf",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["changes"]["previous_version"] == "3.0"
    manifest = RenderManifest.model_validate_json((tmp_path / "v31" / MANIFEST_NAME).read_text())
    assert manifest.changes is not None
    assert manifest.changes.current_version == "3.1"
    missing = runner.invoke(
        app,
        [
            "docs",
            "render",
            profile,
            "--staff",
            staff,
            "--out",
            str(tmp_path / "x"),
            "--previous",
            str(tmp_path / "nope"),
        ],
    )
    assert missing.exit_code == 2
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------------------------
# Per document, by id


def _render(folder: Path, staff: StaffDirectory, **options: Any) -> RenderManifest:
    four = four_documents(folder / "org", **options)
    profile = load_profile(four.profile)
    sources = resolve_sources(profile, four.profile.parent).files
    return render_cycle(profile, staff, folder / "out", sources=sources, previous_dir=None).manifest


def test_each_document_is_compared_with_last_years_of_the_same_id(
    staff: StaffDirectory, tmp_path: Path
) -> None:
    def last_year(data: dict[str, Any]) -> None:
        data["documents"][1]["version"] = "2.0"  # the Acceptable Use Policy
        data["documents"].append(
            {"id": "clean-desk", "title": "Clean Desk Rule", "kind": "static", "file": "files/clean-desk.pdf"}
        )

    previous = tmp_path / "2026"
    four = four_documents(previous / "org", pin_aup=False, changes=last_year)
    minimal_pdf(previous / "org" / "files" / "clean-desk.pdf", "Clear your desk")
    minimal_pdf(four.aup_pdf, "Acceptable Use Policy, 2026 edition")
    profile = load_profile(four.profile)
    render_cycle(
        profile, staff, previous / "out", sources=resolve_sources(profile, four.profile.parent).files
    )

    def this_year(data: dict[str, Any]) -> None:
        data["documents"].append(
            {
                "id": "incident-procedure",
                "title": "Incident Procedure",
                "kind": "static",
                "file": "files/Secure Development Policy.docx",
            }
        )

    current = tmp_path / "2027"
    four = four_documents(current / "org", changes=this_year)
    profile = load_profile(four.profile)
    made = render_cycle(
        profile,
        staff,
        current / "out",
        sources=resolve_sources(profile, four.profile.parent).files,
        previous_dir=previous / "out",
    )
    changes = made.manifest.changes
    assert changes is not None
    by_id = {Path(d.name).stem: d for d in changes.documents}
    assert {doc_id: d.change for doc_id, d in by_id.items()} == {
        "isms-roles-responsibilities": "text",
        "information-security-policy": "text",
        "acceptable-use-policy": "replaced",
        "secure-development-policy": "text",
        "incident-procedure": "new",
        "clean-desk": "removed",
    }
    assert (
        by_id["acceptable-use-policy"].previous_version,
        by_id["acceptable-use-policy"].current_version,
    ) == (
        "2.0",
        "2.1",
    )
    lines = changes.lines()
    assert "Acceptable Use Policy: replaced (2.0 -> 2.1)" in lines
    assert "Incident Procedure: new document" in lines
    assert "Clean Desk Rule: no longer in the cycle" in lines
    # the same files, the same template: no text line for them, and no file name in any line
    assert not any(line.startswith(("Information Security Policy", "Secure Development")) for line in lines)
    assert not any(".docx" in line or ".pdf" in line for line in lines)


def test_a_static_pdf_unchanged_and_a_policy_template_changed(staff: StaffDirectory, tmp_path: Path) -> None:
    previous = _render(tmp_path / "2026", staff)

    def new_wording(data: dict[str, Any]) -> None:
        data["isms_scope"] += " It now includes the Leeds office."

    current_dir = tmp_path / "2027"
    four = four_documents(current_dir / "org", changes=new_wording)
    profile = load_profile(four.profile)
    made = render_cycle(
        profile,
        staff,
        current_dir / "out",
        sources=resolve_sources(profile, four.profile.parent).files,
        previous_dir=tmp_path / "2026" / "out",
    )
    changes = made.manifest.changes
    assert changes is not None
    assert [d.change for d in changes.documents if d.name.endswith(".pdf")] == ["unchanged"]
    lines = changes.lines()
    assert "Acceptable Use Policy: unchanged" in lines
    assert any(
        line.startswith("Information Security Policy (Larkspur edition): 1 paragraph(s)") for line in lines
    )
    assert any(line.startswith("ISMS Roles and Responsibilities: ") for line in lines)
    policy = changes.text["information-security-policy.docx"]
    assert any("Leeds office" in paragraph for paragraph in policy.added)
    assert previous.facts.documents  # written with this year's facts


def test_last_years_manifest_from_before_documents_is_compared_by_name(
    staff: StaffDirectory, tmp_path: Path
) -> None:
    """A manifest archived before the documents section: the built-ins by text, the others are new."""
    # rendered as then: the two Clause 5 documents (no appointment letter yet)
    profile = load_profile(DEMO / "profile.yaml").model_copy(
        update={"role_acceptance": RoleAcceptanceSchedule(appointment_letter=False)}
    )
    folder = tmp_path / "2026"
    manifest = build_manifest(profile, staff, render_documents(profile, staff, folder))
    old = manifest.model_dump(mode="json")
    del old["facts"]["documents"]
    for document in old["documents"]:
        del document["title"], document["kind"]
    (folder / MANIFEST_NAME).write_text(json.dumps(old))

    four = four_documents(tmp_path / "2027" / "org")
    current = load_profile(four.profile)
    made = render_cycle(
        current,
        staff,
        tmp_path / "2027" / "out",
        sources=resolve_sources(current, four.profile.parent).files,
        previous_dir=folder,
    )
    changes = made.manifest.changes
    assert changes is not None
    assert [(Path(d.name).stem, d.change) for d in changes.documents] == [
        ("information-security-policy", "text"),
        ("isms-roles-responsibilities", "text"),
        ("acceptable-use-policy", "new"),
        ("secure-development-policy", "new"),
    ]
    lines = changes.lines()
    assert any(line.startswith(f"{OWN_POLICY_TITLE}: 2 paragraph(s) added") for line in lines)
    assert "Acceptable Use Policy: new document" in lines
    assert "Secure Development Policy: new document" in lines


def test_a_summary_made_before_documents_still_reads_as_it_did() -> None:
    """A change summary stored before documents (no ``documents``): its lines name files as then."""
    summary = ChangeSummary.model_validate(
        {
            "previous_version": "2.0",
            "current_version": "3.0",
            "text": {"information-security-policy.docx": {"added": ["a", "b"], "removed": ["c"]}},
        }
    )
    assert summary.lines() == [
        "Version 2.0 -> 3.0",
        "information-security-policy.docx: 2 paragraph(s) added or changed, 1 removed or replaced",
    ]
