"""documents.template_check: what a user's Word template uses, and every way it can be wrong.

The templates are made here with python-docx, the way a user's Word makes them (placeholders
split over runs, tables, headers and footers), never committed as binaries.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docxtpl import DocxTemplate

from core.profile_io import load_profile, load_staff
from documents.context import PolicyContext, RolesContext, build_policy_context
from documents.render import sandboxed_environment
from documents.template_check import (
    BUILTIN_TEMPLATES,
    ProblemKind,
    RealContext,
    Severity,
    TemplateCheck,
    check_template,
    context_model_for,
    file_problem,
    real_context,
)
from models.profile import POLICY_DOCUMENT, ROLES_DOCUMENT, DocumentEntry
from tests.template_helpers import PROFILE, STAFF, make_docx, make_pdf, rewrite_zip


@pytest.fixture(scope="module")
def demo_policy() -> RealContext:
    return RealContext(build_policy_context(load_profile(PROFILE), load_staff(STAFF)))


def _only(check: TemplateCheck, kind: ProblemKind):
    found = [problem for problem in check.problems if problem.kind is kind]
    assert len(found) == 1, check.problems
    return found[0]


# ------------------------------------------------------------------ the built-in templates


@pytest.mark.parametrize("document", [POLICY_DOCUMENT, ROLES_DOCUMENT])
def test_the_built_in_templates_are_clean_and_every_placeholder_is_listed(document: str) -> None:
    template = BUILTIN_TEMPLATES[document]
    check = check_template(template, context_model_for(document))
    assert check.ok
    assert check.problems == []
    assert all(placeholder.known and placeholder.places for placeholder in check.placeholders)
    # the same top-level names docxtpl's own parser finds, with the render engine's sandbox
    docxtpl_names = DocxTemplate(str(template)).get_undeclared_template_variables(
        jinja_env=sandboxed_environment()
    )
    listed = {placeholder.name for placeholder in check.placeholders if "." not in placeholder.name}
    assert listed == docxtpl_names
    # and the fields of rows, as the context model names them
    if document == POLICY_DOCUMENT:
        assert {"objectives[].measure", "roles[].holder", "version_history[].summary"} <= {
            placeholder.name for placeholder in check.placeholders
        }


def test_the_built_in_templates_render_with_the_demo_values() -> None:
    profile, staff = load_profile(PROFILE), load_staff(STAFF)
    for document, template in BUILTIN_TEMPLATES.items():
        real = real_context(profile, staff, DocumentEntry(id=document))
        check = check_template(template, context_model_for(document), render_with=real)
        assert check.ok, check.problems
        assert check.rendered


def test_places_name_the_paragraph_table_cell_and_header() -> None:
    check = check_template(BUILTIN_TEMPLATES[POLICY_DOCUMENT], PolicyContext)
    places = {placeholder.name: placeholder.places for placeholder in check.placeholders}
    described = [place.describe() for place in places["version"]]
    assert 'table 1 row 1 cell 2 "{{ version }}"' in described
    assert any(text.startswith('header, paragraph 1 "{{ organisation_name }}') for text in described)
    # a placeholder in a {%tr for %} row that docxtpl removes still has its row's place
    assert places["objectives"][0].describe() == 'table 2 row 2 cell 1 "{%tr for objective in objectives %}"'


# ------------------------------------------------------------------ unknown placeholders


def test_an_unknown_placeholder_is_named_with_the_closest_known_name(tmp_path: Path) -> None:
    template = make_docx(
        tmp_path / "policy.docx", ["Our policy", "Approved by {{ approvr_name }}, {{ ceo_title }}"]
    )
    check = check_template(template, PolicyContext)
    problem = _only(check, ProblemKind.UNKNOWN)
    assert problem.placeholder == "approvr_name"
    assert problem.suggestion == "approver_name"
    assert "approver_name" in problem.fix
    assert problem.place is not None
    assert problem.place.paragraph == 2
    assert problem.describe().startswith('paragraph 2 "Approved by {{ approvr_name }}, {{ ceo_title }}"')
    assert not check.ok
    assert {p.name: p.known for p in check.placeholders} == {"approvr_name": False, "ceo_title": True}


def test_a_placeholder_word_split_over_runs_is_read_as_the_engine_reads_it(tmp_path: Path) -> None:
    document = Document()
    paragraph = document.add_paragraph("Issued by ")
    paragraph.add_run("{{ organi")
    paragraph.add_run("sation_name }}").bold = True  # Word splits a placeholder where formatting changes
    paragraph.add_run(" and {{ organisaton_nme }}")
    document.save(str(tmp_path / "split.docx"))
    check = check_template(tmp_path / "split.docx", PolicyContext)
    assert [p.name for p in check.placeholders if p.known] == ["organisation_name"]
    assert _only(check, ProblemKind.UNKNOWN).suggestion == "organisation_name"


def test_a_row_field_a_list_and_text_are_checked_against_their_types(tmp_path: Path) -> None:
    template = make_docx(
        tmp_path / "policy.docx",
        [
            "{% for role in roles %}{{ role.titel }}: {{ role.holder }}{% endfor %}",
            "{{ roles.title }}",
            "{{ organisation_name.nme }}",
            "{{ objectives[0].target }}",
        ],
    )
    check = check_template(template, PolicyContext)
    unknown = {problem.placeholder: problem for problem in check.problems}
    assert set(unknown) == {"roles[].titel", "roles.title", "organisation_name.nme"}
    assert unknown["roles[].titel"].suggestion == "role.title"
    assert "RoleSummaryRow" in unknown["roles[].titel"].message
    assert "loop over it" in unknown["roles.title"].fix
    assert "is text" in unknown["organisation_name.nme"].message
    assert {p.name for p in check.placeholders if p.known} >= {"roles[].holder", "objectives[].target"}


def test_roles_only_placeholders_are_unknown_to_the_policy_context(tmp_path: Path) -> None:
    template = make_docx(tmp_path / "t.docx", ["{{ auditor_independence }}", "{{ ceo_statement }}"])
    assert (
        _only(check_template(template, PolicyContext), ProblemKind.UNKNOWN).placeholder
        == "auditor_independence"
    )
    assert _only(check_template(template, RolesContext), ProblemKind.UNKNOWN).placeholder == "ceo_statement"


def test_an_unknown_filter_is_named_with_the_closest_one(tmp_path: Path) -> None:
    template = make_docx(tmp_path / "t.docx", ["{{ organisation_name|upperr }}"])
    problem = _only(check_template(template, PolicyContext), ProblemKind.UNKNOWN)
    assert "no filter named `upperr`" in problem.message
    assert problem.suggestion == "upper"


def test_placeholders_in_the_header_footer_and_properties_are_checked(tmp_path: Path) -> None:
    template = make_docx(
        tmp_path / "t.docx",
        ["{{ version }}"],
        header="{{ organisaton_name }}",
        footer="Page {{ pag }}",
        title="{{ document_titel }}",
    )
    check = check_template(template, PolicyContext)
    by_name = {problem.placeholder: problem for problem in check.problems}
    assert by_name["organisaton_name"].place is not None
    assert by_name["organisaton_name"].place.describe() == 'header, paragraph 1 "{{ organisaton_name }}"'
    assert by_name["pag"].place is not None
    assert by_name["pag"].place.part == "footer"
    assert by_name["document_titel"].place is not None
    assert by_name["document_titel"].place.part == "document properties"
    assert by_name["document_titel"].suggestion == "document_title"


def test_a_header_of_a_second_section_is_named_so(tmp_path: Path) -> None:
    document = Document()
    document.add_paragraph("{{ version }}")
    second = document.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "{{ verison }}"
    document.save(str(tmp_path / "two.docx"))
    problem = _only(check_template(tmp_path / "two.docx", PolicyContext), ProblemKind.UNKNOWN)
    assert problem.place is not None
    assert problem.place.part == "header of section 2"


def test_a_subdocument_inline_in_text_is_refused(tmp_path: Path) -> None:
    template = make_docx(tmp_path / "roles.docx", ["The matrix: {{ raci_table }}", "{{p raci_table }}"])
    check = check_template(template, RolesContext)
    problem = _only(check, ProblemKind.SYNTAX)
    assert problem.place is not None
    assert problem.place.paragraph == 1
    assert "{{p raci_table }}" in problem.fix
    assert [p.name for p in check.placeholders] == ["raci_table"]


# ------------------------------------------------------------------ syntax


def test_an_unclosed_block_is_reported_where_it_opens(tmp_path: Path) -> None:
    template = make_docx(tmp_path / "t.docx", ["Intro", "{% if scope %}", "Scope: {{ scope }}", "The end"])
    problem = _only(check_template(template, PolicyContext), ProblemKind.SYNTAX)
    assert problem.message == "`{% if %}` is never closed"
    assert problem.place is not None
    assert problem.place.paragraph == 2
    assert "{% endif %}" in problem.fix


def test_an_unclosed_placeholder_is_reported_in_its_paragraph(tmp_path: Path) -> None:
    template = make_docx(tmp_path / "t.docx", ["Intro", "Version {{ version }", "{{ scope }}"])
    problem = _only(check_template(template, PolicyContext), ProblemKind.SYNTAX)
    assert problem.place is not None
    assert problem.place.paragraph == 2
    assert "`{{` is not closed with `}}`" in problem.message


def test_a_broken_expression_in_a_table_cell_names_the_cell(tmp_path: Path) -> None:
    template = make_docx(
        tmp_path / "t.docx", ["{% for x in roles %}", "{% endif %}"], table=[["Version", "{{ version + }}"]]
    )
    check = check_template(template, PolicyContext)
    cell = [p for p in check.problems if p.place and p.place.table == 1]
    assert len(cell) == 1
    assert cell[0].describe().startswith('table 1 row 1 cell 2 "{{ version + }}"')
    nesting = [p for p in check.problems if p.place and p.place.paragraph == 2]
    assert len(nesting) == 1
    assert "unknown tag 'endif'" in nesting[0].message
    assert 'the open block is `{% for %}` in paragraph 1 "{% for x in roles %}"' in nesting[0].message


def test_a_closer_without_an_opener_is_a_warning(tmp_path: Path) -> None:
    check = check_template(make_docx(tmp_path / "t.docx", ["Hello organisation_name }}"]), PolicyContext)
    problem = _only(check, ProblemKind.SYNTAX)
    assert problem.severity is Severity.WARNING
    assert check.ok  # it renders; it prints the braces


# ------------------------------------------------------------------ the sandbox


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ("{{ ''.__class__ }}", "__class__"),
        ("{{ scope['__class__'] }}", "__class__"),
        ("{{ cycler.__init__.__globals__ }}", "__init__"),
        ("{{ organisation_name|attr('__class__') }}", "__class__"),
        ("{{ (roles|first).mro }}", "mro"),
    ],
)
def test_what_the_sandbox_refuses_is_refused_before_rendering(
    tmp_path: Path, text: str, attribute: str
) -> None:
    check = check_template(make_docx(tmp_path / "t.docx", ["Policy", text]), PolicyContext)
    problem = _only(check, ProblemKind.SANDBOX)
    assert problem.placeholder == attribute
    assert problem.place is not None
    assert problem.place.paragraph == 2
    assert not check.ok


def test_loading_another_template_is_refused(tmp_path: Path) -> None:
    check = check_template(make_docx(tmp_path / "t.docx", ["{% include 'other.docx' %}"]), PolicyContext)
    assert "loads another template" in _only(check, ProblemKind.SANDBOX).message


def test_a_refusal_only_the_real_render_finds_is_reported_with_its_place(
    tmp_path: Path, demo_policy: RealContext
) -> None:
    template = make_docx(
        tmp_path / "t.docx", ["Policy", "{% set name = '__cla' ~ 'ss__' %}{{ organisation_name|attr(name) }}"]
    )
    assert check_template(template, PolicyContext).ok  # nothing to see without values
    check = check_template(template, PolicyContext, render_with=demo_policy)
    problem = _only(check, ProblemKind.SANDBOX)
    assert "unsafe" in problem.message
    assert problem.place is not None
    assert problem.place.paragraph == 2


# ------------------------------------------------------------------ rendering with the real values


def test_an_error_only_real_values_show_is_reported_with_its_place(
    tmp_path: Path, demo_policy: RealContext
) -> None:
    template = make_docx(
        tmp_path / "t.docx", ["{{ organisation_name }}"], table=[["Owner", "{{ roles[40].title }}"]]
    )
    without = check_template(template, PolicyContext)
    assert without.ok
    assert not without.rendered
    check = check_template(template, PolicyContext, render_with=demo_policy)
    problem = _only(check, ProblemKind.RENDER)
    assert "no element 40" in problem.message
    assert problem.place is not None
    assert (problem.place.table, problem.place.row, problem.place.cell) == (
        1,
        1,
        2,
    )
    assert check.rendered
    assert not check.ok


def test_a_user_template_renders_with_real_values(tmp_path: Path, demo_policy: RealContext) -> None:
    template = make_docx(
        tmp_path / "ours.docx",
        ["{{ organisation_name }}: {{ document_title }} v{{ version }}", "{{ ceo_statement }}"],
        table=[
            ["{%tr for o in objectives %}", ""],
            ["{{ o.objective }}", "{{ o.target }}"],
            ["{%tr endfor %}", ""],
        ],
        header="{{ organisation_name }}",
    )
    check = check_template(template, PolicyContext, render_with=demo_policy)
    assert check.ok
    assert check.rendered
    assert check.problems == []


# ------------------------------------------------------------------ files that are not templates


def _problem(path: Path) -> str:
    problem = file_problem(path)
    assert problem is not None
    assert problem.kind is ProblemKind.UNREADABLE
    check = check_template(path, PolicyContext)
    assert not check.readable
    assert not check.ok
    assert check.placeholders == []
    assert check.problems == [problem]
    return problem.message


def test_a_pdf_renamed_docx(tmp_path: Path) -> None:
    path = tmp_path / "policy.docx"
    path.write_bytes(make_pdf(tmp_path / "policy.pdf").read_bytes())
    assert "is a PDF, not a Word document" in _problem(path)


def test_text_renamed_docx(tmp_path: Path) -> None:
    path = tmp_path / "policy.docx"
    path.write_text("Information Security Policy\n{{ organisation_name }}\n")
    assert "is a text file, not a Word document" in _problem(path)


def test_a_truncated_docx(tmp_path: Path) -> None:
    whole = BUILTIN_TEMPLATES[POLICY_DOCUMENT].read_bytes()
    path = tmp_path / "policy.docx"
    path.write_bytes(whole[: len(whole) // 2])
    assert "is a damaged .docx" in _problem(path)


def test_a_docx_with_a_corrupt_entry(tmp_path: Path) -> None:
    source = make_docx(tmp_path / "good.docx", ["{{ organisation_name }}" * 200])
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        entry = archive.getinfo("word/document.xml")
    data[entry.header_offset + 30 + len(entry.filename) + 40] ^= 0xFF  # inside the compressed bytes
    path = tmp_path / "policy.docx"
    path.write_bytes(bytes(data))
    assert "is a damaged .docx" in _problem(path)


def test_a_zip_without_word_document_xml(tmp_path: Path) -> None:
    source = make_docx(tmp_path / "good.docx", ["{{ organisation_name }}"])
    path = rewrite_zip(source, tmp_path / "policy.docx", drop="word/document.xml")
    assert "without word/document.xml" in _problem(path)


def test_a_word_template_dotx_renamed_docx(tmp_path: Path) -> None:
    source = make_docx(tmp_path / "good.docx", ["{{ organisation_name }}"])
    with zipfile.ZipFile(source) as archive:
        types = archive.read("[Content_Types].xml").replace(b"document.main+xml", b"template.main+xml")
    path = rewrite_zip(source, tmp_path / "policy.docx", replace={"[Content_Types].xml": types})
    assert "is a Word template (.dotx)" in _problem(path)


def test_a_missing_file_and_a_folder(tmp_path: Path) -> None:
    assert "does not exist" in _problem(tmp_path / "nowhere.docx")
    (tmp_path / "folder.docx").mkdir()
    assert "is a folder" in _problem(tmp_path / "folder.docx")


def test_the_result_is_structured_and_serialisable(tmp_path: Path) -> None:
    template = make_docx(tmp_path / "t.docx", ["{{ approvr_name }}"])
    dumped = json.loads(check_template(template, PolicyContext).model_dump_json())
    assert dumped["context"] == "PolicyContext"
    assert dumped["problems"][0]["kind"] == "unknown-placeholder"
    assert dumped["problems"][0]["place"]["paragraph"] == 1
    assert TemplateCheck.model_validate(dumped).problems[0].suggestion == "approver_name"
