"""`isms templates export / check / reference`, `isms docs check` and `isms cycle start` on the
documents section, run as a person runs them: the real `isms` command on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document

from documents.template_check import BUILTIN_TEMPLATES
from models.profile import APPOINTMENT_LETTER, POLICY_DOCUMENT, ROLES_DOCUMENT
from tests.template_helpers import PROFILE, STAFF, make_docx, make_pdf, profile_with_documents, sha256

ISMS = str(Path(sys.executable).parent / "isms")
REPO = Path(__file__).resolve().parents[2]
EMPTY_SETTINGS = REPO / "tests" / "data" / "empty.env"


def _isms(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ISMS_")}
    environment.update({"COLUMNS": "250", "ISMS_SETTINGS_FILE": str(EMPTY_SETTINGS), **(env or {})})
    return subprocess.run(
        [ISMS, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("org") / "templates"
    result = _isms("templates", "export", str(folder))
    assert result.returncode == 0, result.stderr
    return folder


# ------------------------------------------------------------------ export


def test_export_writes_the_built_in_templates_and_says_so(exported: Path) -> None:
    for document, name in ((POLICY_DOCUMENT, "information_security_policy.docx"),
                           (ROLES_DOCUMENT, "isms_roles_responsibilities.docx"),
                           (APPOINTMENT_LETTER, "isms_lead_appointment.docx")):  # fmt: skip
        assert (exported / name).read_bytes() == BUILTIN_TEMPLATES[document].read_bytes()
        Document(str(exported / name))  # an editable Word document


def test_export_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    first = _isms("templates", "export", str(tmp_path), "--json")
    assert first.returncode == 0
    written = json.loads(first.stdout)["written"]
    assert [item["document"] for item in written] == [POLICY_DOCUMENT, ROLES_DOCUMENT, APPOINTMENT_LETTER]
    assert written[0]["sha256"] == sha256(BUILTIN_TEMPLATES[POLICY_DOCUMENT])
    edited = tmp_path / "information_security_policy.docx"
    edited.write_bytes(b"my edits")

    again = _isms("templates", "export", str(tmp_path))
    assert again.returncode == 3
    assert "already exist" in again.stderr
    assert "--force" in again.stderr
    assert edited.read_bytes() == b"my edits"  # nothing written

    forced = _isms("templates", "export", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "information_security_policy.docx" in forced.stdout
    assert edited.read_bytes() == BUILTIN_TEMPLATES[POLICY_DOCUMENT].read_bytes()

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert _isms("templates", "export", str(a_file)).returncode == 2


# ------------------------------------------------------------------ check


def test_the_exported_templates_check_clean_and_render_with_real_values(exported: Path) -> None:
    policy = _isms(
        "templates", "check", str(exported / "information_security_policy.docx"),
        "--profile", str(PROFILE), "--staff", str(STAFF),
    )  # fmt: skip
    assert policy.returncode == 0, policy.stdout + policy.stderr
    assert "against the PolicyContext" in policy.stdout
    assert "rendered with the real values of Larkspur Analytics Ltd" in policy.stdout

    roles = _isms("templates", "check", str(exported / "isms_roles_responsibilities.docx"), "--json")
    assert roles.returncode == 0, roles.stdout
    result = json.loads(roles.stdout)
    assert result["context"] == "RolesContext"
    assert result["context_reason"] == "the file is named like the roles template"
    assert result["ok"] is True
    assert result["rendered"] is False
    assert "raci_table" in {placeholder["name"] for placeholder in result["placeholders"]}


def test_the_context_follows_document_and_the_profile(tmp_path: Path, exported: Path) -> None:
    mine = tmp_path / "ours.docx"
    mine.write_bytes((exported / "isms_roles_responsibilities.docx").read_bytes())
    as_policy = _isms("templates", "check", str(mine), "--json")
    assert as_policy.returncode == 1
    unknown = {p["placeholder"] for p in json.loads(as_policy.stdout)["problems"]}
    assert {"auditor_independence", "conflicts", "raci_table"} <= unknown

    chosen = _isms("templates", "check", str(mine), "--document", ROLES_DOCUMENT)
    assert chosen.returncode == 0, chosen.stdout
    assert f"--document {ROLES_DOCUMENT}" in chosen.stdout

    profile = profile_with_documents(tmp_path, [{"id": ROLES_DOCUMENT, "template": "ours.docx"}])
    named = _isms("templates", "check", str(mine), "--profile", str(profile), "--staff", str(STAFF), "--json")
    assert named.returncode == 0, named.stdout
    result = json.loads(named.stdout)
    assert result["context"] == "RolesContext"
    assert result["context_reason"] == f"the profile names it as the template of {ROLES_DOCUMENT}"
    assert result["rendered"] is True


def test_a_user_edited_template_names_each_problem_and_its_place(tmp_path: Path, exported: Path) -> None:
    document = Document(str(exported / "information_security_policy.docx"))
    document.add_paragraph("Signed for {{ organisation_name }} by {{ approvr_name }}")
    document.sections[0].header.add_paragraph("{{ ''.__class__ }}")
    document.save(str(tmp_path / "policy.docx"))

    shown = _isms("templates", "check", str(tmp_path / "policy.docx"))
    assert shown.returncode == 1
    assert "approvr_name" in shown.stdout
    assert "write `approver_name`" in shown.stdout
    assert "sandbox" in shown.stdout
    assert "2 error(s)" in shown.stdout

    result = json.loads(_isms("templates", "check", str(tmp_path / "policy.docx"), "--json").stdout)
    problems = {problem["kind"]: problem for problem in result["problems"]}
    assert set(problems) == {"unknown-placeholder", "sandbox"}
    assert problems["unknown-placeholder"]["suggestion"] == "approver_name"
    assert problems["unknown-placeholder"]["place"]["text"].startswith("Signed for {{ organisation_name }}")
    assert problems["sandbox"]["place"]["part"] == "header"
    assert result["errors"] == 2


def test_a_file_that_is_not_a_template_exits_2(tmp_path: Path) -> None:
    pdf = tmp_path / "policy.docx"
    pdf.write_bytes(make_pdf(tmp_path / "aup.pdf").read_bytes())
    result = _isms("templates", "check", str(pdf))
    assert result.returncode == 2
    assert "is a PDF, not a Word document" in result.stdout


def test_check_refuses_incomplete_options(tmp_path: Path) -> None:
    template = make_docx(tmp_path / "t.docx", ["{{ version }}"])
    alone = _isms("templates", "check", str(template), "--profile", str(PROFILE))
    assert alone.returncode == 2
    assert "--profile and --staff go together" in alone.stderr
    static = profile_with_documents(
        tmp_path, [{"id": "aup", "title": "AUP", "kind": "static", "file": "aup.pdf"}]
    )
    unknown = _isms("templates", "check", str(template), "--profile", str(static), "--staff", str(STAFF),
                    "--document", "nope")  # fmt: skip
    assert unknown.returncode == 2
    assert "the profile has no such document" in unknown.stderr
    assert "aup" in unknown.stderr
    not_generated = _isms("templates", "check", str(template), "--profile", str(static), "--staff", str(STAFF),
                          "--document", "aup")  # fmt: skip
    assert not_generated.returncode == 2
    assert "is a static document" in not_generated.stderr


def test_reference_prints_the_committed_page_and_json() -> None:
    page = _isms("templates", "reference")
    assert page.returncode == 0
    assert page.stdout == (REPO / "docs" / "template-context.md").read_text()
    as_json = json.loads(_isms("templates", "reference", "--format", "json").stdout)
    assert [context["context"] for context in as_json["contexts"]] == [
        "PolicyContext",
        "RolesContext",
        "AppointmentContext",
    ]


# ------------------------------------------------------------------ docs check and cycle start


def _broken_organisation(folder: Path) -> Path:
    make_docx(
        folder / "templates" / "policy.docx", ["{{ organisation_name }}", "Approved by {{ approvr_name }}"]
    )
    aup = make_pdf(folder / "static" / "aup.pdf")
    return profile_with_documents(
        folder,
        [
            {"id": POLICY_DOCUMENT, "template": "templates/policy.docx"},
            {"id": "acceptable-use-policy", "title": "Acceptable Use Policy", "kind": "static",
             "file": "static/aup.pdf", "sha256": sha256(aup)},
            {"id": "secure-development-policy", "title": "Secure Development Policy",
             "template": "templates/sdp.docx", "audience": {"departments": ["Engineering"]}},
        ],
    )  # fmt: skip


def test_docs_check_reports_document_findings_with_its_exit_codes(tmp_path: Path) -> None:
    profile = _broken_organisation(tmp_path / "org")
    # run from elsewhere: the paths are the profile folder's, not the working directory's
    relative = str(profile.relative_to(tmp_path))
    shown = _isms("docs", "check", relative, "--staff", str(STAFF), "--today", "2026-12-05", cwd=tmp_path)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "documents.template-placeholder" in shown.stdout
    assert "documents.file-exists" in shown.stdout
    assert "2 error(s)" in shown.stdout

    result = _isms("docs", "check", str(profile), "--staff", str(STAFF), "--today", "2026-12-05", "--json")
    findings = json.loads(result.stdout)["findings"]
    assert result.returncode == 1
    assert [(f["rule"], f["where"]) for f in findings] == [
        ("documents.template-placeholder", "documents[0].template"),
        ("documents.file-exists", "documents[2].template"),
    ]
    assert findings[0]["fix"] == "write `approver_name` (the closest name it has)"

    make_docx(
        tmp_path / "org" / "templates" / "policy.docx", ["{{ organisation_name }}", "{{ approver_name }}"]
    )
    make_docx(tmp_path / "org" / "templates" / "sdp.docx", ["{{ document_title }}"])
    fixed = _isms("docs", "check", str(profile), "--staff", str(STAFF), "--today", "2026-12-05")
    assert fixed.returncode == 0, fixed.stdout


def test_docs_check_prints_why_a_file_cannot_be_read(tmp_path: Path) -> None:
    result = _isms("docs", "check", str(tmp_path / "nowhere.yaml"), "--staff", str(STAFF))
    assert result.returncode == 2
    assert "nowhere.yaml: no such file" in result.stderr


def test_cycle_start_refuses_a_broken_template_before_connecting(tmp_path: Path) -> None:
    profile = _broken_organisation(tmp_path / "org")
    settings = {
        "ISMS_TEMPORAL_ADDRESS": "127.0.0.1:1",  # nothing listens: the check must come first
        "ISMS_ARCHIVE_BUCKET": "archive",
        "ISMS_DRAFTS_BUCKET": "drafts",
        "ISMS_SMTP_SENDER": "ISMS <isms@example.test>",
        "ISMS_PUBLIC_BASE_URL": "http://127.0.0.1:1",
        "ISMS_LINK_SECRET": "x" * 40,
    }
    result = _isms("cycle", "start", str(profile), "--staff", str(STAFF), env=settings)
    assert result.returncode == 1, result.stderr
    assert "nothing was started" in result.stderr
    assert "information-security-policy: the template policy.docx" in result.stderr
    assert "fix: write `approver_name`" in result.stderr
    assert "secure-development-policy: there is no file at" in result.stderr
    assert "Temporal" not in result.stderr
