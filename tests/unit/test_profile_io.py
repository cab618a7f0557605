"""Malformed YAML or CSV gives file, line and column, never a traceback; the CLI exits 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.profile_io import UnreadableInputError, load_profile, load_staff

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
PROFILE, STAFF = DEMO / "profile.yaml", DEMO / "staff.csv"
HEADER = "employee_id,name,email,department,job_title,manager_email,start_date,end_date,in_scope"


def _problems(loader: object, path: Path) -> list[str]:
    with pytest.raises(UnreadableInputError) as caught:
        loader(path)  # type: ignore[operator]
    return [str(problem) for problem in caught.value.problems]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text("organisation:\n  name: Acme\n  purpose: [unclosed\nisms_scope: x\n")
    (problem,) = _problems(load_profile, path)
    assert problem.startswith(f"{path}:4:")
    assert "invalid YAML" in problem


def test_validation_error_points_at_the_yaml_node(tmp_path: Path) -> None:
    text = PROFILE.read_text().replace("short_name: larkspur", "short_name: Larkspur Ltd!")
    text = text.replace("    kind: isms_lead\n", "    kind: chief_wizard\n")
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    problems = _problems(load_profile, path)
    line_of = {n + 1: line for n, line in enumerate(text.splitlines())}
    assert len(problems) == 2
    short_name, kind = problems
    assert short_name.startswith(f"{path}:")
    assert "organisation.short_name: must be lowercase letters" in short_name
    assert "short_name: Larkspur Ltd!" in line_of[int(short_name.split(":")[1])]
    assert "roles[1].kind" in kind
    assert "chief_wizard" in line_of[int(kind.split(":")[1])]


def test_unknown_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE.read_text().replace("isms_scope:", "isms_scoop:"))
    problems = _problems(load_profile, path)
    assert any("isms_scoop: Extra inputs are not permitted" in p for p in problems)
    assert any("isms_scope: Field required" in p for p in problems)


def test_a_profile_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text("- just\n- a list\n")
    assert "a profile is a YAML mapping" in _problems(load_profile, path)[0]


def test_staff_headers_are_case_insensitive_and_extra_columns_ignored() -> None:
    directory = load_staff(STAFF)  # the demo has Title-Case headers and a Location column
    assert len(directory.people) == 14
    person = directory.find("LA-004")
    assert person is not None
    assert person.name == "Daniel O'Brien"
    assert directory.find("DANIEL.OBRIEN@larkspur.example") is person


def test_staff_bad_cells_have_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text(
        f"{HEADER}\n"
        "E1,Ann,ann@x.example,Ops,Analyst,,2020-01-01,,yes\n"
        "E2,Bob,bob@x.example,Ops,Analyst,,01/02/2020,,perhaps\n"
        "E3,Cy,not-an-email,Ops,Analyst,,2020-01-01,,no\n"
        "E1,Ann again,ann2@x.example,Ops,Analyst,,2020-01-01,,yes\n"
    )
    assert _problems(load_staff, path) == [
        f"{path}:3:7: start_date: must be a date as YYYY-MM-DD (got '01/02/2020')",
        f"{path}:3:9: in_scope: must be yes/no, true/false or 1/0 (got 'perhaps')",
        f"{path}:4:3: email: not an email address: 'not-an-email'",
        f"{path}:5: 'e1' appears again (first on line 2)",
    ]


def test_staff_missing_columns_and_broken_quoting(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text("Employee_ID,Name,Email\nE1,Ann,ann@x.example\n")
    assert _problems(load_staff, path) == [
        f"{path}:1: header: missing column(s): department, job_title, manager_email, start_date, end_date, in_scope"
    ]
    path.write_text(f'{HEADER}\nE1,"Ann,ann@x.example,Ops,Analyst,,2020-01-01,,yes\n')
    assert "invalid CSV" in _problems(load_staff, path)[0]


def test_missing_and_binary_files(tmp_path: Path) -> None:
    assert _problems(load_profile, tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]
    binary = tmp_path / "staff.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8 text" in _problems(load_staff, binary)[0]


runner = CliRunner()


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    clean = runner.invoke(
        app, ["docs", "check", str(PROFILE), "--staff", str(STAFF), "--today", "2026-11-23"]
    )
    assert clean.exit_code == 0, clean.output
    assert "no Clause 5 errors" in clean.output

    broken = tmp_path / "profile.yaml"
    broken.write_text(PROFILE.read_text().replace("approved_by: ceo", "approved_by: engineering-lead"))
    result = runner.invoke(
        app, ["docs", "check", str(broken), "--staff", str(STAFF), "--json", "--today", "2026-11-23"]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [f["rule"] for f in report["findings"]] == ["5.2.approved-by-top-management"]

    broken.write_text("organisation: [\n")
    unreadable = runner.invoke(app, ["docs", "check", str(broken), "--staff", str(STAFF), "--json"])
    assert unreadable.exit_code == 2
    assert json.loads(unreadable.stdout)["readable"] is False


def test_cli_render_writes_both_documents_and_refuses_on_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["docs", "render", str(PROFILE), "--staff", str(STAFF), "--out", str(out), "--json", "--no-pdf"]
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["documents"]
    assert sorted(d["name"] for d in written) == [
        "information-security-policy.docx",
        "isms-lead-appointment.docx",
        "isms-roles-responsibilities.docx",
    ]
    for document in written:
        assert Path(document["path"]).is_file()
        assert len(document["sha256"]) == len(document["template_sha256"]) == 64

    broken = tmp_path / "profile.yaml"
    broken.write_text(PROFILE.read_text().replace("approved_by: ceo", "approved_by: engineering-lead"))
    refused_out = tmp_path / "refused"
    refused = runner.invoke(
        app, ["docs", "render", str(broken), "--staff", str(STAFF), "--out", str(refused_out)]
    )
    assert refused.exit_code == 1
    assert "Nothing written" in refused.output
    assert not refused_out.exists()

    draft = runner.invoke(
        app,
        [
            "docs",
            "render",
            str(broken),
            "--staff",
            str(STAFF),
            "--out",
            str(refused_out),
            "--draft",
            "--no-pdf",
        ],
    )
    assert draft.exit_code == 0, draft.output
    assert len(list(refused_out.glob("*.docx"))) == 3  # the policy, the roles, the appointment letter
