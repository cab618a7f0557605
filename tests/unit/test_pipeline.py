"""The one render pipeline (documents.pipeline.render_cycle): the built-in pair, a profile's own documents,
the bad ones, and the cycle year a render compares against."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from docx import Document
from typer.testing import CliRunner

from cli.main import app
from core.hashing import sha256_file
from core.profile_io import load_profile, load_staff
from documents.changes import document_paragraphs
from documents.context import build_policy_context, build_roles_context
from documents.pipeline import (
    DOCUMENT_NAMES,
    LETTER_TEMPLATE,
    POLICY_TEMPLATE,
    ROLES_TEMPLATE,
    DocumentError,
    DocumentRenderError,
    DocumentSourceError,
    Step,
    document_names,
    render_cycle,
    render_document,
    render_documents,
)
from documents.raci import raci_subdoc
from documents.render import render_docx
from documents.sources import resolve_sources
from models.cycle import cycle_id_for, cycle_year
from models.documents import MANIFEST_NAME, RenderManifest
from models.profile import APPOINTMENT_LETTER_TITLE, DocumentKind, OrganisationProfile
from tests.documents_helpers import (
    AUP_TITLE,
    FOUR_NAMES,
    HOUSE_STYLE_RENDERED,
    OWN_POLICY_TITLE,
    SDP_TEXT,
    four_documents,
    word_document,
)

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"


class _CopyConverter:
    """Stands in for LibreOffice here: the pipeline only needs a file at the target."""

    def __init__(self) -> None:
        self.converted: list[str] = []

    def convert(self, source: Path, target: Path) -> Path:
        self.converted.append(source.name)
        target.write_bytes(b"%PDF-1.7 " + source.read_bytes()[:16])
        return target


def test_render_cycle_renders_converts_and_writes_the_manifest_once(tmp_path: Path) -> None:
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    first = render_cycle(profile, staff, tmp_path / "v3")
    assert [d.name for d in first.documents] == list(DOCUMENT_NAMES)
    assert all(d.pdf_path is None for d in first.documents)
    assert first.manifest_path == tmp_path / "v3" / MANIFEST_NAME
    assert first.manifest.changes is None

    steps: list[tuple[Step, str]] = []
    converter = _CopyConverter()
    second = render_cycle(
        profile,
        staff,
        tmp_path / "again",
        converter=converter,
        previous_dir=tmp_path / "v3",
        names_in_manifest=True,
        progress=lambda step, name: steps.append((step, name)),
    )
    assert converter.converted == list(DOCUMENT_NAMES)
    assert steps == [("rendered", name) for name in DOCUMENT_NAMES] + [
        (step, name) for name in DOCUMENT_NAMES for step in ("converting", "converted")
    ]
    for document in second.documents:
        assert document.pdf_path == document.path.with_suffix(".pdf")
        assert document.pdf_sha256 == sha256_file(document.pdf_path)
    stored = RenderManifest.model_validate_json(second.manifest_path.read_text())
    assert [str(d.path) for d in stored.documents] == list(DOCUMENT_NAMES)
    assert [str(d.pdf_path) for d in stored.documents] == [
        Path(n).with_suffix(".pdf").name for n in DOCUMENT_NAMES
    ]
    assert stored.changes is not None
    assert stored.changes.lines()[0] == "Version 3.0 -> 3.0"
    assert [d.sha256 for d in second.documents] == [d.sha256 for d in first.documents]  # deterministic


@pytest.mark.parametrize(
    ("cycle_id", "short_name", "year"),
    [
        (cycle_id_for("larkspur", 2027), "larkspur", 2027),
        (cycle_id_for("lark-spur", 2027, ad_hoc="adhoc-202711031200"), "lark-spur", 2027),
        (cycle_id_for("larkspur", 2027), "lark", None),
        ("changes-v3", "larkspur", None),
        ("isms-review-larkspur-27", "larkspur", None),
    ],
)
def test_cycle_year_is_read_only_from_ids_made_for_the_organisation(
    cycle_id: str, short_name: str, year: int | None
) -> None:
    assert cycle_year(cycle_id, short_name) == year


# --------------------------------------------------------------------------------------------
# The profile's documents section


def test_a_profile_without_documents_gives_todays_names_and_bytes(tmp_path: Path) -> None:
    """The same calls as before the documents section: each built-in template, its context, once."""
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    assert profile.documents == []
    made = render_documents(profile, staff, tmp_path / "now")
    assert [d.name for d in made] == list(DOCUMENT_NAMES) == document_names(profile)
    policy = render_docx(POLICY_TEMPLATE, build_policy_context(profile, staff), tmp_path / "then" / "p.docx")
    roles = render_docx(
        ROLES_TEMPLATE,
        build_roles_context(profile, staff),
        tmp_path / "then" / "r.docx",
        subdocs={"raci_table": raci_subdoc(profile)},
    )
    # the two Clause 5 documents as they always were; then the ISMS lead's appointment letter
    assert [d.sha256 for d in made[:2]] == [sha256_file(policy), sha256_file(roles)]
    assert [d.template_sha256 for d in made] == [
        sha256_file(POLICY_TEMPLATE),
        sha256_file(ROLES_TEMPLATE),
        sha256_file(LETTER_TEMPLATE),
    ]
    assert [(d.version, d.kind, d.title) for d in made] == [
        ("3.0", DocumentKind.GENERATED, "Information Security Policy"),
        ("3.0", DocumentKind.GENERATED, "ISMS Roles and Responsibilities"),
        ("3.0", DocumentKind.GENERATED, APPOINTMENT_LETTER_TITLE),
    ]
    # listing the two built-ins without templates changes nothing either
    data = yaml.safe_load((DEMO / "profile.yaml").read_text())
    data["documents"] = [{"id": "information-security-policy"}, {"id": "isms-roles-responsibilities"}]
    listed = render_documents(OrganisationProfile.model_validate(data), staff, tmp_path / "listed")
    assert [(d.name, d.sha256) for d in listed] == [(d.name, d.sha256) for d in made]


def test_four_documents_are_rendered_copied_and_converted(tmp_path: Path) -> None:
    four = four_documents(tmp_path / "org")
    profile, staff = load_profile(four.profile), load_staff(DEMO / "staff.csv")
    sources = resolve_sources(profile, four.profile.parent)
    assert sources.missing == {}
    converter = _CopyConverter()
    steps: list[tuple[Step, str]] = []
    made = render_cycle(
        profile,
        staff,
        tmp_path / "out",
        sources=sources.files,
        converter=converter,
        names_in_manifest=True,
        progress=lambda step, name: steps.append((step, name)),
    )
    by_name = {d.name: d for d in made.documents}
    assert sorted(by_name) == sorted(FOUR_NAMES)
    assert [d.name for d in made.documents] == document_names(profile)
    assert [name for step, name in steps if step == "rendered"] == document_names(profile)
    # a static PDF is its own PDF: never converted
    assert sorted(converter.converted) == sorted(n for n in FOUR_NAMES if n.endswith(".docx"))

    policy = by_name["information-security-policy.docx"]
    assert (policy.title, policy.kind, policy.version) == (OWN_POLICY_TITLE, DocumentKind.GENERATED, "3.0")
    assert policy.template_sha256 == sha256_file(four.policy_template)
    text = document_paragraphs(policy.path)
    assert text[0] == HOUSE_STYLE_RENDERED
    assert OWN_POLICY_TITLE in text
    roles = by_name["isms-roles-responsibilities.docx"]
    assert roles.template_sha256 == sha256_file(ROLES_TEMPLATE)

    aup = by_name["acceptable-use-policy.pdf"]
    assert (aup.kind, aup.version, aup.title) == (DocumentKind.STATIC, "2.1", AUP_TITLE)
    assert aup.path.read_bytes() == four.aup_pdf.read_bytes()  # carried unchanged
    assert aup.sha256 == aup.template_sha256 == aup.pdf_sha256 == sha256_file(four.aup_pdf)
    assert aup.pdf_path == aup.path
    sdp = by_name["secure-development-policy.docx"]
    assert sdp.path.read_bytes() == four.sdp_docx.read_bytes()
    assert sdp.version == sha256_file(four.sdp_docx)[:12]  # no version: its SHA-256 names it
    assert sdp.pdf_path == sdp.path.with_suffix(".pdf")

    stored = RenderManifest.model_validate_json(made.manifest_path.read_text())
    assert [(str(d.path), d.title, d.kind) for d in stored.documents] == [
        (d.name, d.title, d.kind) for d in made.documents
    ]
    assert stored.facts.documents["acceptable-use-policy.pdf"].sha256 == aup.sha256
    assert "acceptable-use-policy.pdf" not in stored.facts.paragraphs
    assert stored.facts.paragraphs["secure-development-policy.docx"][-1] == SDP_TEXT

    again = render_documents(profile, staff, tmp_path / "again", sources=sources.files)
    assert [d.sha256 for d in again] == [d.sha256 for d in made.documents]  # deterministic


def test_a_documents_own_version_and_title_reach_its_context(tmp_path: Path) -> None:
    def roles_entry(data: dict[str, Any]) -> None:
        data["documents"].append(
            {"id": "isms-roles-responsibilities", "title": "Who does what in our ISMS", "version": "3.0-r2"}
        )

    four = four_documents(tmp_path / "org", changes=roles_entry)
    profile = load_profile(four.profile)
    roles = render_document(
        "isms-roles-responsibilities.docx",
        profile,
        load_staff(DEMO / "staff.csv"),
        tmp_path / "out",
        sources=resolve_sources(profile, four.profile.parent).files,
    )
    assert roles.version == "3.0-r2"
    text = "\n".join(document_paragraphs(roles.path))
    assert "Who does what in our ISMS" in text
    assert "3.0-r2" in text
    assert roles.template_sha256 == sha256_file(ROLES_TEMPLATE)  # the built-in template


def _broken_template(path: Path, text: str) -> Path:
    document = Document(str(POLICY_TEMPLATE))
    document.paragraphs[0].insert_paragraph_before(text)
    document.save(str(path))
    return path


@pytest.mark.parametrize(
    ("problem", "error", "message"),
    [
        (
            "missing file",
            DocumentSourceError,
            "the profile names 'templates/our-policy.docx', which was not given",
        ),
        ("pinned file changed", DocumentSourceError, "changed since it was pinned"),
        (
            "not a PDF",
            DocumentSourceError,
            "acceptable-use-policy: files/acceptable-use-policy.pdf is not a .pdf",
        ),
        ("corrupt template", DocumentSourceError, "is not a readable .docx"),
        ("unknown placeholder", DocumentRenderError, "'polcy_owner' is undefined"),
        ("syntax error", DocumentRenderError, "does not render: expected token 'end of print statement'"),
        ("bad arithmetic", DocumentRenderError, "does not render: TypeError: can only concatenate list"),
        (
            "sandbox",
            DocumentRenderError,
            "access to attribute '__class__' of 'str' object is unsafe",
        ),
    ],
)
def test_a_document_that_cannot_be_made_is_named_with_the_fix(
    tmp_path: Path, problem: str, error: type[DocumentError], message: str
) -> None:
    four = four_documents(tmp_path / "org")
    profile = load_profile(four.profile)
    sources = dict(resolve_sources(profile, four.profile.parent).files)
    if problem == "missing file":
        del sources["information-security-policy"]
    elif problem == "pinned file changed":
        four.aup_pdf.write_bytes(four.aup_pdf.read_bytes() + b"\n% changed after it was pinned\n")
    elif problem == "not a PDF":
        data = yaml.safe_load(four.profile.read_text())
        data["documents"][1].pop("sha256")
        four.profile.write_text(yaml.safe_dump(data))
        profile = load_profile(four.profile)
        four.aup_pdf.write_text("Acceptable Use Policy, as plain text")
    elif problem == "corrupt template":
        four.policy_template.write_bytes(b"PK\x03\x04 not really a zip")
    elif problem == "unknown placeholder":
        _broken_template(four.policy_template, "Owner: {{ polcy_owner }}")
    elif problem == "syntax error":
        _broken_template(four.policy_template, "Owner: {{ policy owner }}")
    elif problem == "bad arithmetic":
        _broken_template(four.policy_template, "Objectives: {{ objectives + 1 }}")
    else:
        _broken_template(
            four.policy_template, "{{ organisation_name.__class__.__mro__[1].__subclasses__() }}"
        )
    with pytest.raises(error) as raised:
        render_documents(profile, load_staff(DEMO / "staff.csv"), tmp_path / "out", sources=sources)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{raised.value.document_id}: ")
    if problem in ("pinned file changed", "not a PDF"):
        assert raised.value.document_id == "acceptable-use-policy"
    else:
        assert raised.value.document_id == "information-security-policy"


def test_cli_render_resolves_the_profiles_files_and_names_each_document(tmp_path: Path) -> None:
    four = four_documents(tmp_path / "org")
    staff = str(DEMO / "staff.csv")
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["docs", "render", str(four.profile), "--staff", staff, "--out", str(tmp_path / "out"), "--no-pdf"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted([*FOUR_NAMES, MANIFEST_NAME])
    for name in FOUR_NAMES:
        assert f"• {name}" in result.stderr
    assert (tmp_path / "out" / "acceptable-use-policy.pdf").read_bytes() == four.aup_pdf.read_bytes()

    four.sdp_docx.unlink()
    missing = runner.invoke(
        app, ["docs", "render", str(four.profile), "--staff", staff, "--out", str(tmp_path / "x"), "--no-pdf"]
    )
    assert missing.exit_code == 2
    assert "secure-development-policy:" in missing.stderr
    assert "Secure Development Policy.docx is not a file" in missing.stderr
    assert not (tmp_path / "x").exists()

    word_document(four.sdp_docx, "Secure Development Policy", "back again")
    _broken_template(four.policy_template, "{{ no_such_value }}")
    broken = runner.invoke(
        app, ["docs", "render", str(four.profile), "--staff", staff, "--out", str(tmp_path / "y"), "--no-pdf"]
    )
    assert broken.exit_code == 1
    assert (
        "information-security-policy: the template templates/our-policy.docx does not render" in broken.stderr
    )
    assert not (tmp_path / "y").exists()  # the documents rendered before it are gone with the folder
