"""The public policy statement: the page built from the profile, and its own PDF checked at start.

Pure: the page from the demo profile (summary built from the CEO's statement and the
commitments, or the profile's own summary; every value escaped; no script), and the findings
and upload problems for ``public_statement.file`` (missing, not a PDF, another file than the
pinned one), which refuse the start through ``adapters.cycles.check_files``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from adapters.cycles import check_files
from adapters.document_files import document_file_problems
from core.profile_io import load_profile, load_staff
from core.public_statement import PUBLIC_STATEMENT_FILE, statement_context, statement_html
from documents.catalogue import document_findings
from models.archive import PublicStatementRequest
from models.findings import Severity
from models.storage import StoredObject
from tests.template_helpers import PROFILE, STAFF, make_docx, make_pdf, sha256

URL = "https://isms.larkspur.example/statement"
SIGNED_AT = datetime(2026, 12, 3, 16, 45, tzinfo=UTC)
POLICY_SHA = "ab" * 32
AS_OF = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _request() -> PublicStatementRequest:
    stored = StoredObject(
        bucket="drafts", key="inputs/x.yaml", sha256="0" * 64, size=1, content_type="text/yaml"
    )
    return PublicStatementRequest(
        profile=stored,
        version="3.0",
        signed_at=SIGNED_AT,
        signer="Eleanor Marsh, Chief Executive Officer",
        policy_sha256=POLICY_SHA,
    )


def _profile(folder: Path, statement: dict[str, object], **organisation: str) -> Path:
    data = yaml.safe_load(PROFILE.read_text())
    data["public_statement"] = statement
    data["organisation"].update(organisation)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def test_the_generated_statement_names_the_organisation_approval_version_hash_and_url(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, {"enabled": True}))
    context = statement_context(profile, _request(), url=URL)
    page = statement_html(context).decode()
    assert profile.organisation.name in page
    assert " ".join(profile.isms_scope.split())[:60] in page
    assert context.summary
    assert context.summary[0][:40] in " ".join(page.split())
    assert context.commitments  # built from the policy: its commitments are listed
    for commitment in profile.policy.commitments.statements:
        assert " ".join(commitment.split()) in page.replace("&#39;", "'")
    assert "approved by Eleanor Marsh, Chief Executive Officer on 2026-12-03" in page
    assert "version 3.0" in page
    assert POLICY_SHA in page
    assert f'href="{URL}"' in page
    assert "<script" not in page.lower()
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert statement_html(context) == statement_html(statement_context(profile, _request(), url=URL))


def test_the_profiles_own_summary_replaces_the_built_one_and_everything_is_escaped(tmp_path: Path) -> None:
    summary = "We protect <b>our</b> customers' data.\n\nSecond paragraph & more."
    path = _profile(
        tmp_path, {"enabled": True, "summary": summary}, name="Larkspur <script>alert(1)</script>"
    )
    profile = load_profile(path)
    page = statement_html(statement_context(profile, _request(), url=URL)).decode()
    assert "<script>alert(1)" not in page
    assert "Larkspur &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<p>We protect &lt;b&gt;our&lt;/b&gt; customers&#39; data.</p>" in page
    assert "<p>Second paragraph &amp; more.</p>" in page
    assert " ".join(profile.policy.ceo_statement.split()[:8]) not in " ".join(page.split())
    assert "<ul>" not in page


def test_a_missing_statement_pdf_is_a_finding_naming_public_statement_file(tmp_path: Path) -> None:
    path = _profile(tmp_path, {"enabled": True, "file": "public/statement.pdf"})
    findings = document_findings(load_profile(path), load_staff(STAFF), tmp_path, today=AS_OF.date())
    found = [f for f in findings if f.where == "public_statement.file"]
    assert [(f.rule, f.severity) for f in found] == [("public-statement.file-exists", Severity.ERROR)]
    assert "there is no file at" in found[0].message
    assert document_file_problems(load_profile(path), tmp_path)[0].startswith("public_statement.file: ")


def test_a_word_file_named_pdf_is_refused_as_not_a_pdf(tmp_path: Path) -> None:
    make_docx(tmp_path / "public" / "statement.pdf", ["not a PDF"])
    path = _profile(tmp_path, {"enabled": True, "file": "public/statement.pdf"})
    findings = document_findings(load_profile(path), load_staff(STAFF), tmp_path, today=AS_OF.date())
    found = [f for f in findings if f.where == "public_statement.file"]
    assert [f.rule for f in found] == ["public-statement.unreadable"]
    assert "not a PDF" in found[0].message


def test_a_statement_pdf_that_is_not_the_pinned_one_refuses_the_start_naming_the_field(
    tmp_path: Path,
) -> None:
    pdf = make_pdf(tmp_path / "public" / "statement.pdf")
    good = _profile(tmp_path / "good", {"enabled": True, "file": str(pdf), "sha256": sha256(pdf)})
    assert check_files(good, STAFF, today=AS_OF).ok
    assert document_file_problems(load_profile(good), good.parent) == []

    path = _profile(tmp_path, {"enabled": True, "file": "public/statement.pdf", "sha256": "c" * 64})
    outcome = check_files(path, STAFF, today=AS_OF)
    assert not outcome.ok
    assert len(outcome.problems) == 1
    assert outcome.problems[0].startswith(
        "public-statement.sha256 at public_statement.file: public_statement.file: "
    )
    assert f"its SHA-256 is now {sha256(pdf)}" in outcome.problems[0]
    upload = document_file_problems(load_profile(path), tmp_path)
    assert len(upload) == 1
    assert upload[0].startswith("public_statement.file: public/statement.pdf changed")


def test_a_statement_file_is_checked_only_while_the_statement_is_on(tmp_path: Path) -> None:
    path = _profile(tmp_path, {"enabled": False, "file": "public/missing.pdf"})
    assert check_files(path, STAFF, today=AS_OF).ok
    assert document_file_problems(load_profile(path), tmp_path) == []
    assert "." in PUBLIC_STATEMENT_FILE  # not a slug: no document id can take its place among the files
