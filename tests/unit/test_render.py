"""The policy and roles documents render from the demo profile, safely and completely."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import date
from pathlib import Path

import pytest
import yaml
from docx import Document
from lxml import etree  # type: ignore[import-untyped]

from core.profile_io import load_profile, load_staff
from documents.context import build_policy_context, build_roles_context
from documents.pipeline import LETTER_TEMPLATE, POLICY_TEMPLATE, ROLES_TEMPLATE, render_documents
from documents.render import undeclared_variables
from models.documents import RenderedDocument
from models.profile import MANDATORY_WORDING, OrganisationProfile
from models.staff import StaffDirectory

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
PROFILE, STAFF = DEMO / "profile.yaml", DEMO / "staff.csv"
NASTY = "O'Brien & Sons <b>bold</b> {{ 7*7 }} {% raw %}"


@pytest.fixture(scope="module")
def profile() -> OrganisationProfile:
    return load_profile(PROFILE)


@pytest.fixture(scope="module")
def staff() -> StaffDirectory:
    return load_staff(STAFF)


@pytest.fixture(scope="module")
def rendered(
    tmp_path_factory: pytest.TempPathFactory, profile: OrganisationProfile, staff: StaffDirectory
) -> list[RenderedDocument]:
    return render_documents(profile, staff, tmp_path_factory.mktemp("rendered"))


def _all_text(path: Path) -> str:
    """Body paragraphs, every table cell, headers and footers."""
    document = Document(str(path))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    for section in document.sections:
        parts.extend(paragraph.text for paragraph in section.header.paragraphs)
        parts.extend(paragraph.text for paragraph in section.footer.paragraphs)
    return "\n".join(parts)


def _by_name(rendered: list[RenderedDocument], name: str) -> Path:
    return next(document.path for document in rendered if document.name == name)


def test_templates_have_no_undeclared_variables(profile: OrganisationProfile, staff: StaffDirectory) -> None:
    assert undeclared_variables(POLICY_TEMPLATE, build_policy_context(profile, staff)) == set()
    assert undeclared_variables(ROLES_TEMPLATE, build_roles_context(profile, staff)) == set()


def test_undeclared_variables_are_reported(profile: OrganisationProfile, staff: StaffDirectory) -> None:
    context = build_policy_context(profile, staff)
    assert "ceo_name" in undeclared_variables(ROLES_TEMPLATE, context) | undeclared_variables(
        POLICY_TEMPLATE, build_roles_context(profile, staff)
    )


def test_demo_renders_both_documents(rendered: list[RenderedDocument], profile: OrganisationProfile) -> None:
    names = sorted(document.name for document in rendered)
    assert names == [
        "information-security-policy.docx",
        "isms-lead-appointment.docx",
        "isms-roles-responsibilities.docx",
    ]
    for document in rendered:
        assert document.path.is_file()
        assert document.version == profile.policy.version == "3.0"
        assert document.date == profile.policy.effective_date
        assert not list(document.path.parent.glob("*.tmp"))


def test_sha256_fields_match_the_files(rendered: list[RenderedDocument]) -> None:
    templates = {
        "information-security-policy.docx": POLICY_TEMPLATE,
        "isms-roles-responsibilities.docx": ROLES_TEMPLATE,
        "isms-lead-appointment.docx": LETTER_TEMPLATE,
    }
    for document in rendered:
        assert document.sha256 == hashlib.sha256(document.path.read_bytes()).hexdigest()
        assert document.template_sha256 == hashlib.sha256(templates[document.name].read_bytes()).hexdigest()


def test_policy_names_the_organisation_ceo_and_holders(
    rendered: list[RenderedDocument], profile: OrganisationProfile
) -> None:
    text = _all_text(_by_name(rendered, "information-security-policy.docx"))
    assert "Larkspur Analytics Ltd" in text
    assert "Eleanor Marsh" in text
    assert "Chief Executive Officer" in text
    for name in ("Ravi Chandran", "Sofia Alvarez", "Daniel O'Brien", "Grace Whitfield"):
        assert name in text
    assert profile.policy.ceo_statement in text
    for wording in MANDATORY_WORDING.values():
        assert wording in text
    assert "Awaiting signature" in text
    assert "30 November 2027" in text  # review due
    assert "Internal" in text
    assert "{{" not in text
    assert "{%" not in text


def test_roles_document_names_every_holder_and_mandatory_duty(
    rendered: list[RenderedDocument], profile: OrganisationProfile, staff: StaffDirectory
) -> None:
    text = _all_text(_by_name(rendered, "isms-roles-responsibilities.docx"))
    assert "Larkspur Analytics Ltd" in text
    for role in profile.roles:
        assert role.title in text
        if role.holder:
            person = staff.find(role.holder)
            assert person is not None
            assert person.name in text
    for wording in MANDATORY_WORDING.values():
        assert wording in text
    assert "Approve production access" in text
    assert "Segregated" in text
    assert "Grace Whitfield (Internal Auditor) audits" in text
    assert "{{" not in text
    assert "{%" not in text


def test_raci_is_a_real_table(rendered: list[RenderedDocument], profile: OrganisationProfile) -> None:
    document = Document(str(_by_name(rendered, "isms-roles-responsibilities.docx")))
    titles = [role.title for role in profile.roles]
    raci = next(
        table for table in document.tables if [cell.text for cell in table.rows[0].cells][1:] == titles
    )
    assert raci.rows[0].cells[0].text == "Activity"
    rows = {row.cells[0].text: [cell.text for cell in row.cells[1:]] for row in raci.rows[1:]}
    assert list(rows) == [item.activity for item in profile.raci]
    for item in profile.raci:
        expected = [
            item.assignments[role.id].value if role.id in item.assignments else "" for role in profile.roles
        ]
        assert rows[item.activity] == expected


def _nasty_profile() -> OrganisationProfile:
    data = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    data["organisation"]["name"] = NASTY
    data["roles"][1]["title"] = f"ISMS Lead {NASTY}"
    data["policy"]["commitments"]["statements"].append(NASTY)
    return OrganisationProfile.model_validate(data)


def test_template_syntax_and_markup_in_the_profile_render_literally(
    tmp_path: Path, staff: StaffDirectory
) -> None:
    profile = _nasty_profile()
    rendered = render_documents(profile, staff, tmp_path)
    for document in rendered:
        with zipfile.ZipFile(document.path) as archive:
            for name in archive.namelist():
                if name.endswith(".xml"):
                    etree.fromstring(archive.read(name))  # well-formed, or this raises
        text = _all_text(document.path)  # python-docx opens it
        assert NASTY in text
        assert f"ISMS Lead {NASTY}" in text
        assert "49" not in text.replace("2049", "")
        assert "<b>" in text
        assert "&amp;" not in text


def test_approval_details_come_from_the_arguments(
    tmp_path: Path, profile: OrganisationProfile, staff: StaffDirectory
) -> None:

    rendered = render_documents(
        profile, staff, tmp_path, signature_line="Signed electronically", approval_date=date(2026, 11, 25)
    )
    text = _all_text(_by_name(rendered, "information-security-policy.docx"))
    assert "Signed electronically" in text
    assert "25 November 2026" in text


def test_the_same_input_renders_the_same_bytes(
    profile: OrganisationProfile, staff: StaffDirectory, tmp_path: Path
) -> None:
    first = render_documents(profile, staff, tmp_path / "first")
    second = render_documents(profile, staff, tmp_path / "second")  # later: other zip timestamps
    assert [d.sha256 for d in first] == [d.sha256 for d in second]
    changed = profile.model_copy(update={"isms_scope": profile.isms_scope + " Also the Leeds office."})
    third = render_documents(changed, staff, tmp_path / "third")
    assert third[0].sha256 != first[0].sha256
    with zipfile.ZipFile(first[0].path) as docx:
        assert {entry.date_time for entry in docx.infolist()} == {(1980, 1, 1, 0, 0, 0)}
