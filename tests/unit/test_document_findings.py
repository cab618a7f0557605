"""documents.catalogue.document_findings: every bad input of the documents section is one finding
that names the document and the fix; adapters.cycles.check_files refuses the start on it.

The start against the real servers (nothing stored, nothing started) is in
tests/workflows/test_start_refuses_documents.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from adapters.cycles import check_files
from core.profile_io import UnreadableInputError, load_profile, load_staff
from documents.catalogue import document_findings
from documents.sources import resolve_sources
from models.findings import Finding, Severity
from models.profile import OrganisationProfile
from models.staff import StaffDirectory
from tests.template_helpers import PROFILE, STAFF, make_docx, make_pdf, profile_with_documents, sha256

TODAY = date(2026, 12, 5)
AS_OF = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # the demo policy is in force, not overdue


@pytest.fixture(scope="module")
def staff() -> StaffDirectory:
    return load_staff(STAFF)


def _findings(path: Path, staff: StaffDirectory) -> list[Finding]:
    return document_findings(load_profile(path), staff, path.parent, today=TODAY)


def _one(findings: list[Finding], rule: str) -> Finding:
    found = [finding for finding in findings if finding.rule == rule]
    assert len(found) == 1, findings
    return found[0]


def _good_folder(folder: Path) -> list[dict[str, object]]:
    """A profile's own documents, all fine: own policy template, a pinned static PDF, one for Engineering."""
    make_docx(
        folder / "templates" / "policy.docx",
        ["{{ organisation_name }}", "{{ document_title }} {{ version }}", "{{ ceo_statement }}"],
        header="{{ organisation_name }} | {{ document_title }}",
    )
    make_docx(
        folder / "templates" / "sdp.docx",
        ["{{ document_title }} for {{ organisation_name }}, v{{ version }}"],
    )
    aup = make_pdf(folder / "static" / "aup.pdf")
    return [
        {"id": "information-security-policy", "template": "templates/policy.docx"},
        {"id": "acceptable-use-policy", "title": "Acceptable Use Policy", "kind": "static",
         "file": "static/aup.pdf", "sha256": sha256(aup)},
        {"id": "secure-development-policy", "title": "Secure Development Policy",
         "template": "templates/sdp.docx", "version": "1.2", "audience": {"departments": ["Engineering"]}},
    ]  # fmt: skip


def test_a_good_documents_section_has_no_findings(tmp_path: Path, staff: StaffDirectory) -> None:
    path = profile_with_documents(tmp_path, _good_folder(tmp_path))
    assert _findings(path, staff) == []
    outcome = check_files(path, STAFF, today=AS_OF)
    assert outcome.ok, outcome.problems


def test_the_demo_has_no_document_findings_and_needs_no_docxtpl() -> None:
    code = (
        "import sys; from datetime import date; from pathlib import Path\n"
        "from core.profile_io import load_profile, load_staff\n"
        "from documents.catalogue import document_findings\n"
        f"p = Path({str(PROFILE)!r})\n"
        f"found = document_findings(load_profile(p), load_staff(Path({str(STAFF)!r})), p.parent, today=date(2026, 12, 5))\n"
        "assert found == [], found\n"
        "assert 'docxtpl' not in sys.modules and 'docx' not in sys.modules, 'imported docxtpl for built-ins'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# ------------------------------------------------------------------ files and templates


def test_a_missing_file_path(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    documents[2]["template"] = "templates/secure-dev.docx"
    finding = _one(_findings(profile_with_documents(tmp_path, documents), staff), "documents.file-exists")
    assert finding.severity is Severity.ERROR
    assert finding.where == "documents[2].template"
    assert finding.message.startswith("secure-development-policy: there is no file at ")
    assert finding.message.endswith("templates/secure-dev.docx")
    assert "correct template:" in finding.fix


def test_a_path_that_cannot_be_looked_up_is_one_finding_and_the_others_still_resolve(
    tmp_path: Path, staff: StaffDirectory
) -> None:
    documents = _good_folder(tmp_path)
    documents[2]["template"] = "~no-such-user-isms-cycle/sdp.docx"  # expanduser raises for an unknown user
    profile = load_profile(profile_with_documents(tmp_path, documents))
    sources = resolve_sources(profile, tmp_path)  # never raises
    assert sorted(sources.files) == ["acceptable-use-policy", "information-security-policy"]
    assert sources.missing == {"secure-development-policy": Path("~no-such-user-isms-cycle/sdp.docx")}
    assert "secure-development-policy" in sources.unusable
    finding = _one(document_findings(profile, staff, tmp_path, today=TODAY), "documents.file-exists")
    assert finding.where == "documents[2].template"
    assert finding.message.startswith(
        "secure-development-policy: '~no-such-user-isms-cycle/sdp.docx' is not a usable path"
    )
    assert "correct template:" in finding.fix


def test_a_template_that_is_not_a_docx(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    (tmp_path / "templates" / "policy.docx").write_bytes(make_pdf(tmp_path / "x.pdf").read_bytes())
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "documents.template-unreadable"
    )
    assert finding.where == "documents[0].template"
    assert finding.message.startswith("information-security-policy: the template policy.docx is a PDF")
    assert "save it as a Word Document (.docx)" in finding.fix


def test_a_corrupt_template(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    template = tmp_path / "templates" / "sdp.docx"
    template.write_bytes(template.read_bytes()[:900])
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "documents.template-unreadable"
    )
    assert finding.message.startswith("secure-development-policy: the template sdp.docx is a damaged .docx")
    assert "save it again from Word" in finding.fix


def test_an_unknown_placeholder(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    make_docx(tmp_path / "templates" / "sdp.docx", ["{{ document_title }}", "Owner: {{ owner_titel }}"])
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "documents.template-placeholder"
    )
    assert finding.where == "documents[2].template"
    assert finding.message.startswith(
        'secure-development-policy: the template sdp.docx (paragraph 2 "Owner: {{ owner_titel }}"): `owner_titel`'
    )
    assert finding.fix == "write `owner_title` (the closest name it has)"


def test_a_template_that_breaks_out_of_the_sandbox(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    make_docx(tmp_path / "templates" / "policy.docx", ["{{ organisation_name.__class__.__mro__ }}"])
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "documents.template-sandbox"
    )
    assert finding.message.startswith("information-security-policy: the template policy.docx (paragraph 1")
    assert "`__class__`" in finding.message
    assert finding.fix.startswith("remove it")


def test_a_syntax_error_names_its_place(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    make_docx(
        tmp_path / "templates" / "sdp.docx", ["{{ document_title }}"], table=[["{% for o in objectives %}"]]
    )
    finding = _one(_findings(profile_with_documents(tmp_path, documents), staff), "documents.template-syntax")
    assert "(table 1 row 1 cell 1" in finding.message
    assert "is never closed" in finding.message
    assert "{% endfor %}" in finding.fix


def test_a_template_that_fails_only_with_the_real_values(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    make_docx(tmp_path / "templates" / "sdp.docx", ["{{ sub_policies[10].title }}"])
    finding = _one(_findings(profile_with_documents(tmp_path, documents), staff), "documents.template-render")
    assert finding.message.startswith("secure-development-policy: the template sdp.docx (paragraph 1")
    assert "no element 10" in finding.message


def test_a_roles_template_is_checked_against_the_roles_context(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    make_docx(tmp_path / "templates" / "roles.docx", ["{{ ceo_statement }}", "{{p raci_table }}"])
    documents.append({"id": "isms-roles-responsibilities", "template": "templates/roles.docx"})
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "documents.template-placeholder"
    )
    assert finding.where == "documents[3].template"
    assert "RolesContext" in finding.message


# ------------------------------------------------------------------ static files


def test_a_static_file_whose_sha256_changed(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    aup = make_pdf(tmp_path / "static" / "aup.pdf", password=None)
    aup.write_bytes(aup.read_bytes() + b"\n% edited\n")
    finding = _one(_findings(profile_with_documents(tmp_path, documents), staff), "documents.static-sha256")
    assert finding.where == "documents[1].sha256"
    assert finding.message.startswith("acceptable-use-policy: static/aup.pdf changed since it was pinned")
    assert (
        finding.fix
        == f"restore the pinned file, or pin the new hash (sha256: {sha256(aup)}) if the change is meant"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"Acceptable use: be nice.", "is not a PDF"),
        (b"%PDF-1.7\nnot really\n", "is a damaged PDF"),
        (None, "is password-protected"),
    ],
)
def test_a_static_pdf_that_cannot_be_used(
    tmp_path: Path, staff: StaffDirectory, content: bytes | None, expected: str
) -> None:
    documents = _good_folder(tmp_path)
    del documents[1]["sha256"]
    aup = tmp_path / "static" / "aup.pdf"
    if content is None:
        make_pdf(aup, password="secret")
    else:
        aup.write_bytes(content)
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "documents.static-unreadable"
    )
    assert finding.where == "documents[1].file"
    assert finding.message.startswith("acceptable-use-policy: aup.pdf ")
    assert expected in finding.message
    assert finding.fix


def test_a_static_docx_that_is_not_a_word_document(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    (tmp_path / "static" / "handbook.docx").write_text("The staff handbook")
    documents.append(
        {"id": "handbook", "title": "Staff Handbook", "kind": "static", "file": "static/handbook.docx"}
    )
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "documents.static-unreadable"
    )
    assert (
        finding.message
        == "handbook: handbook.docx is a text file, not a Word document (a .docx is a zip file)"
    )


# ------------------------------------------------------------------ audiences


@pytest.mark.parametrize(
    ("audience", "expected", "fix"),
    [
        ({"departments": ["Enginering"]}, "names department 'Enginering'", "department column"),
        ({"job_titles": ["Chief Hacker"]}, "names job title 'Chief Hacker'", "job_title column"),
        ({"people": ["nobody@larkspur.example"]}, "names 'nobody@larkspur.example'", "email or employee id"),
        ({"columns": {"office": ["London"]}}, "selects on column 'office'", "column of the staff directory"),
        ({"columns": {"location": ["Atlantis"]}}, "selects nobody in scope (location = Atlantis)", "widen"),
    ],
)
def test_an_audience_problem(
    tmp_path: Path, staff: StaffDirectory, audience: dict[str, object], expected: str, fix: str
) -> None:
    documents = _good_folder(tmp_path)
    documents[2]["audience"] = audience
    finding = _one(_findings(profile_with_documents(tmp_path, documents), staff), "documents.audience")
    assert finding.where == "documents[2].audience"
    assert finding.message.startswith(f"secure-development-policy: the audience {expected}")
    assert fix in finding.fix
    if "Enginering" in expected:
        assert "did you mean 'Engineering'?" in finding.message


# ------------------------------------------------------------------ the two documents Clause 5 requires


def test_signs_false_on_a_required_document(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    documents.append({"id": "isms-roles-responsibilities", "signs": False})
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "5.3.signed-by-top-management"
    )
    assert finding.severity is Severity.ERROR
    assert finding.where == "documents[3].signs"
    assert "isms-roles-responsibilities has signs: false" in finding.message
    assert "Clause 5.3 needs" in finding.message
    assert "top management" in finding.message
    assert finding.fix.startswith("remove signs: false")


def test_acknowledges_false_on_the_policy(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    documents[0]["acknowledges"] = False
    finding = _one(_findings(profile_with_documents(tmp_path, documents), staff), "5.2.communicated")
    assert finding.severity is Severity.ERROR
    assert finding.where == "documents[0].acknowledges"
    assert "communicated within the organisation" in finding.message
    assert finding.fix.startswith("remove acknowledges: false")


def test_a_policy_for_part_of_the_organisation_is_a_warning(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    documents[0]["audience"] = {"departments": ["Engineering"]}
    finding = _one(
        _findings(profile_with_documents(tmp_path, documents), staff), "5.2.communicated-to-everyone"
    )
    assert finding.severity is Severity.WARNING
    assert "goes only to Engineering" in finding.message
    assert "5.2 g" in finding.message


def test_the_built_in_documents_are_placed_as_built_in(staff: StaffDirectory) -> None:
    profile: OrganisationProfile = load_profile(PROFILE)
    assert profile.documents == []
    from documents.catalogue import document_place

    assert [document_place(profile, entry) for entry in profile.cycle_documents()] == [
        "documents (information-security-policy, built in)",
        "documents (isms-roles-responsibilities, built in)",
        "documents (isms-lead-appointment, built in)",
    ]


# ------------------------------------------------------------------ ids, paths that cannot be used


def test_two_documents_with_one_id_is_a_parse_error_naming_the_id(tmp_path: Path) -> None:
    documents = _good_folder(tmp_path)
    documents.append(
        {"id": "acceptable-use-policy", "title": "Again", "kind": "static", "file": "static/aup.pdf"}
    )
    with pytest.raises(UnreadableInputError) as raised:
        load_profile(profile_with_documents(tmp_path, documents))
    (problem,) = raised.value.problems
    assert "two documents have the id 'acceptable-use-policy'" in problem.message
    assert "give each its own id" in problem.message
    outcome = check_files(tmp_path / "profile.yaml", STAFF, today=AS_OF)
    assert not outcome.ok
    assert outcome.unreadable
    assert any("'acceptable-use-policy'" in line for line in outcome.problems)


def test_a_path_the_system_cannot_use_is_a_finding_not_a_crash(tmp_path: Path, staff: StaffDirectory) -> None:
    documents = _good_folder(tmp_path)
    documents[2]["template"] = "~no-such-user-here/sdp.docx"
    documents.append({"id": "long", "title": "Long", "template": "x" * 5000 + ".docx"})
    findings = [
        f
        for f in _findings(profile_with_documents(tmp_path, documents), staff)
        if f.rule == "documents.file-exists"
    ]
    assert [finding.where for finding in findings] == ["documents[2].template", "documents[3].template"]
    assert findings[0].message.startswith("secure-development-policy: ")


# ------------------------------------------------------------------ check_files: the start's check


def test_check_files_refuses_a_broken_template_with_the_finding(tmp_path: Path) -> None:
    documents = _good_folder(tmp_path)
    make_docx(tmp_path / "templates" / "policy.docx", ["Approved by {{ approvr_name }}"])
    outcome = check_files(profile_with_documents(tmp_path, documents), STAFF, today=AS_OF)
    assert not outcome.ok
    assert not outcome.unreadable
    assert "nothing was started" in outcome.message
    assert [f.rule for f in outcome.findings if f.severity is Severity.ERROR] == [
        "documents.template-placeholder"
    ]
    (line,) = outcome.problems
    assert line.startswith(
        "documents.template-placeholder at documents[0].template: information-security-policy"
    )
    assert "(fix: write `approver_name` (the closest name it has))" in line


def test_check_files_refuses_a_missing_static_file(tmp_path: Path) -> None:
    documents = _good_folder(tmp_path)
    (tmp_path / "static" / "aup.pdf").unlink()
    outcome = check_files(profile_with_documents(tmp_path, documents), STAFF, today=AS_OF)
    assert not outcome.ok
    assert [f.rule for f in outcome.findings if f.severity is Severity.ERROR] == ["documents.file-exists"]
