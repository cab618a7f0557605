"""The change summary against the previous version: text, roles and holders."""

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
from documents.pipeline import render_documents
from models.documents import MANIFEST_NAME, RenderManifest
from models.profile import OrganisationProfile
from models.staff import StaffDirectory

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
    assert set(facts.paragraphs) == {"information-security-policy.docx", "isms-roles-responsibilities.docx"}
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
