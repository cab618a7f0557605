"""The acknowledgement register (CSV, JSON) and the cycle report (Markdown, HTML)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.register import (
    CSV_COLUMNS,
    NO_LINE_MANAGER,
    acknowledged_documents,
    build_report,
    escape_markdown,
    format_duration,
    format_rate,
    register_csv,
    register_json,
    report_html,
    report_markdown,
    shortfall,
    tally_documents,
    tally_records,
)
from models.campaign import (
    RATE_TARGET,
    AcknowledgedDocument,
    CampaignDocument,
    CampaignReport,
    PersonRecord,
    Tally,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HASH = "c" * 64
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_DEPARTMENT = "R&D | Ops"


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def _records() -> list[PersonRecord]:
    manager = {"manager_email": "tom@larkspur.example", "manager_name": "Tom Okafor"}
    return [
        PersonRecord(
            email="priya@larkspur.example",
            name="Priya Natarajan",
            department="Finance",
            **manager,
            invited_at=_at(0),
            acknowledged_at=_at(1.5),
            ip="203.0.113.7",
            user_agent="Mozilla/5.0",
            version_hash=HASH,
            documents={"roles.pdf": "b" * 64, "policy.pdf": "a" * 64},
        ),
        PersonRecord(
            email="sam@larkspur.example",
            name="sam hughes",
            department="finance",
            **manager,
            invited_at=_at(0),
            reminded_at=[_at(5), _at(10)],
            escalated_at=_at(14),
        ),
        PersonRecord(
            email="ann@larkspur.example",
            name="Ann Byrne",
            department="Finance",
            **manager,
            invited_at=_at(0),
            reminded_at=[_at(5)],
        ),
        PersonRecord(
            email="zed@larkspur.example",
            name="Zed Adams",
            department="Engineering",
            invited_at=_at(0),
            acknowledged_at=_at(2),
        ),
        PersonRecord(
            email="yara@larkspur.example",
            name="Yara Lund",
            department="Engineering",
            joined=True,
            invited_at=_at(3),
        ),
        PersonRecord(
            email="leo@larkspur.example",
            name="Leo Park",
            department="Engineering",
            manager_email="kim@larkspur.example",
            manager_name="Kim Reid",
            invited_at=_at(0),
            left_at=_at(4),
        ),
        PersonRecord(
            email="olu@larkspur.example",
            name="Olu Ade",
            department="Legal",
            joined=True,
            invited_at=_at(6),
            left_at=_at(8),
        ),
    ]


def _parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


# --- tally -----------------------------------------------------------------------------------


def test_tally_excludes_leavers_and_counts_escalated_as_overdue() -> None:
    overall, by_department = tally_records(_records())
    assert overall == Tally(total=5, acknowledged=2, outstanding=3, overdue=1)  # only sam was escalated
    assert list(by_department) == ["Engineering", "Finance", "finance"]  # leavers' Legal is gone
    assert by_department["Engineering"] == Tally(total=2, acknowledged=1, outstanding=1, overdue=0)
    assert by_department["Finance"] == Tally(total=2, acknowledged=1, outstanding=1, overdue=0)
    assert by_department["finance"] == Tally(total=1, acknowledged=0, outstanding=1, overdue=1)


def test_tally_when_closed_every_outstanding_person_is_overdue() -> None:
    overall, by_department = tally_records(_records(), closed=True)
    assert overall == Tally(total=5, acknowledged=2, outstanding=3, overdue=3)
    assert by_department["Engineering"].overdue == 1
    assert "Legal" not in by_department


def test_tally_of_nobody() -> None:
    overall, by_department = tally_records([])
    assert overall == Tally()
    assert by_department == {}
    assert format_rate(overall) == "100.0%"


def test_rate_is_rounded_down_so_it_never_shows_the_target_when_short() -> None:
    assert format_rate(Tally(total=2000, acknowledged=1899)) == "94.9%"  # 94.95% exactly
    assert format_rate(Tally(total=8, acknowledged=7)) == "87.5%"
    assert format_rate(Tally(total=3, acknowledged=2)) == "66.6%"
    assert format_rate(Tally(total=50, acknowledged=50)) == "100.0%"
    assert format_rate(Tally(total=50, acknowledged=0)) == "0.0%"


# --- CSV -------------------------------------------------------------------------------------


def test_csv_header_and_rows_sorted_by_department_name_email_ignoring_case() -> None:
    data = register_csv(_records())
    assert data.startswith(b"email,name,department,manager_email,")
    assert data.splitlines()[0].decode() == ",".join(CSV_COLUMNS)
    rows = _parse(data)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [row["email"] for row in rows] == [
        "leo@larkspur.example",  # Engineering: Leo Park
        "yara@larkspur.example",  # Engineering: Yara Lund
        "zed@larkspur.example",  # Engineering: Zed Adams
        "ann@larkspur.example",  # Finance: Ann Byrne
        "priya@larkspur.example",  # Finance: Priya Natarajan
        "sam@larkspur.example",  # finance: sam hughes, between Priya and nobody
        "olu@larkspur.example",  # Legal
    ]


def test_csv_row_content_and_time_format() -> None:
    rows = {row["email"]: row for row in _parse(register_csv(_records()))}
    priya = rows["priya@larkspur.example"]
    assert priya["status"] == "acknowledged"
    assert priya["joined"] == "no"
    assert priya["manager_name"] == "Tom Okafor"
    assert priya["invited_at"] == "2026-11-02T09:00:00Z"
    assert priya["acknowledged_at"] == "2026-11-03T21:00:00Z"
    assert priya["reminded_at"] == ""
    assert priya["ip"] == "203.0.113.7"
    assert priya["version_hash"] == HASH
    assert priya["documents"] == f"policy.pdf={'a' * 64}; roles.pdf={'b' * 64}"
    sam = rows["sam@larkspur.example"]
    assert sam["status"] == "outstanding"
    assert sam["reminded_at"] == "2026-11-07T09:00:00Z; 2026-11-12T09:00:00Z"
    assert sam["escalated_at"] == "2026-11-16T09:00:00Z"
    assert sam["acknowledged_at"] == ""
    assert rows["leo@larkspur.example"]["status"] == "left"
    assert rows["leo@larkspur.example"]["left_at"] == "2026-11-06T09:00:00Z"
    assert rows["yara@larkspur.example"]["joined"] == "yes"


def test_csv_times_in_other_zones_are_written_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    record = PersonRecord(
        email="a@x.example",
        name="A",
        department="D",
        acknowledged_at=datetime(2026, 11, 3, 10, 30, 15, 987654, tzinfo=paris),
    )
    (row,) = _parse(register_csv([record]))
    assert row["acknowledged_at"] == "2026-11-03T09:30:15Z"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_spreadsheet_formulas(start: str) -> None:
    payload = f'{start}HYPERLINK("http://evil.example","x")'
    record = PersonRecord(
        email="eve@x.example",
        name=payload,
        department=f"{start}1+1",
        manager_name=f"{start}cmd|' /C calc'!A0",
        manager_email="boss@x.example",
        user_agent=payload,
        acknowledged_at=T0,
        documents={f"{start}doc": "d" * 64},
    )
    (row,) = _parse(register_csv([record]))
    assert row["name"] == "'" + payload
    assert row["department"] == f"'{start}1+1"
    assert row["manager_name"] == f"'{start}cmd|' /C calc'!A0"
    assert row["user_agent"] == "'" + payload
    assert row["documents"] == f"'{start}doc={'d' * 64}"
    assert row["email"] == "eve@x.example"  # harmless cells are untouched
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_keeps_harmless_values_as_they_are() -> None:
    record = PersonRecord(email="o'brien@x.example", name="Zoë O'Brien, Jr", department="R&D | Ops")
    (row,) = _parse(register_csv([record]))
    assert row["name"] == "Zoë O'Brien, Jr"
    assert row["department"] == "R&D | Ops"
    assert row["email"] == "o'brien@x.example"


def test_csv_is_deterministic_whatever_the_input_order() -> None:
    records = _records()
    first = register_csv(records)
    assert register_csv(list(reversed(records))) == first
    assert register_csv(records) == first
    assert first.decode("utf-8").count("\r\n") == len(records) + 1


# --- JSON ------------------------------------------------------------------------------------


def test_json_content_and_order() -> None:
    data = register_json(_records(), cycle_id="isms-review-larkspur-2026", version="3.0", version_hash=HASH)
    document = json.loads(data)
    assert document["cycle_id"] == "isms-review-larkspur-2026"
    assert document["version"] == "3.0"
    assert document["version_hash"] == HASH
    assert document["generated_from"] == "isms-cycle"
    csv_order = [row["email"] for row in _parse(register_csv(_records()))]
    assert [person["email"] for person in document["people"]] == csv_order
    sam = next(person for person in document["people"] if person["email"] == "sam@larkspur.example")
    assert sam["status"] == "outstanding"
    assert sam["reminded_at"] == ["2026-11-07T09:00:00Z", "2026-11-12T09:00:00Z"]
    assert sam["escalated_at"] == "2026-11-16T09:00:00Z"
    assert sam["acknowledged_at"] is None
    priya = next(person for person in document["people"] if person["email"] == "priya@larkspur.example")
    assert priya["documents"] == {"policy.pdf": "a" * 64, "roles.pdf": "b" * 64}
    totals = document["totals"]
    assert {key: totals[key] for key in ("total", "acknowledged", "outstanding", "overdue")} == {
        "total": 5,
        "acknowledged": 2,
        "outstanding": 3,
        "overdue": 1,
    }
    assert totals["by_department"]["finance"] == {
        "total": 1,
        "acknowledged": 0,
        "outstanding": 1,
        "overdue": 1,
    }
    closed = json.loads(
        register_json(_records(), cycle_id="c", version="3.0", version_hash=HASH, closed=True)
    )
    assert closed["totals"]["overdue"] == 3


def test_json_is_deterministic_with_sorted_keys_and_a_fixed_indent() -> None:
    kwargs: dict[str, Any] = {"cycle_id": "isms-review-larkspur-2026", "version": "3.0", "version_hash": HASH}
    first = register_json(_records(), **kwargs)
    assert register_json(list(reversed(_records())), **kwargs) == first
    text = first.decode("utf-8")
    assert text.endswith("}\n")
    assert text.startswith('{\n  "cycle_id": ')
    document = json.loads(text)
    assert list(document) == sorted(document)
    assert list(document["people"][0]) == sorted(document["people"][0])
    assert json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n" == text


def test_json_keeps_values_as_they_are() -> None:
    record = PersonRecord(email="eve@x.example", name="=1+1 Zoë", department="D")
    document = json.loads(register_json([record], cycle_id="c", version="1", version_hash=HASH))
    assert document["people"][0]["name"] == "=1+1 Zoë"


# --- the report ------------------------------------------------------------------------------


def _report(records: list[PersonRecord] | None = None) -> CampaignReport:
    return build_report(
        _records() if records is None else records,
        organisation="Larkspur Analytics Ltd",
        cycle_id="isms-review-larkspur-2026",
        version="3.0",
        version_hash=HASH,
        cycle_started_at=datetime(2026, 10, 20, 8, 0, tzinfo=UTC),
        signed_at=datetime(2026, 10, 23, 13, 30, tzinfo=UTC),
        campaign_started_at=T0,
        closed_at=_at(28),
    )


def test_build_report_figures() -> None:
    report = _report()
    assert report.target == RATE_TARGET
    assert report.tally == Tally(total=5, acknowledged=2, outstanding=3, overdue=3)
    assert list(report.by_department) == ["Engineering", "Finance", "finance"]
    assert report.non_responders_by_manager == {
        "Tom Okafor <tom@larkspur.example>": [
            "Ann Byrne <ann@larkspur.example>",
            "sam hughes <sam@larkspur.example>",
        ],
        NO_LINE_MANAGER: ["Yara Lund <yara@larkspur.example>"],
    }
    assert report.leavers == 2
    assert report.joiners == 1  # Olu joined but left
    assert report.version_hash == HASH


def _bulk(in_scope: int, acknowledged: int, department: str = "Operations") -> list[PersonRecord]:
    return [
        PersonRecord(
            email=f"p{index:03d}@x.example",
            name=f"Person {index:03d}",
            department=department,
            manager_email="boss@x.example",
            manager_name="Boss",
            acknowledged_at=T0 if index < acknowledged else None,
        )
        for index in range(in_scope)
    ]


@pytest.mark.parametrize(
    ("in_scope", "acknowledged", "short"),
    [(100, 90, 5), (100, 95, 0), (100, 94, 1), (20, 19, 0), (21, 19, 1), (0, 0, 0), (1000, 949, 1)],
)
def test_shortfall_is_the_acknowledgements_still_needed(in_scope: int, acknowledged: int, short: int) -> None:
    assert shortfall(Tally(total=in_scope, acknowledged=acknowledged), 0.95) == short


def test_report_markdown_says_target_not_met_with_the_shortfall() -> None:
    text = report_markdown(_report(_bulk(100, 90)))
    assert "90.0%" in text
    assert "90 of 100 people in scope" in text
    assert "target of 95%" in text
    assert "target NOT met (short by 5 people)" in text
    assert "target met" not in text.replace("target NOT met", "")


def test_report_markdown_says_target_met() -> None:
    text = report_markdown(_report(_bulk(100, 95)))
    assert "95.0%" in text
    assert "**target met**" in text
    assert "NOT met" not in text
    one_short = report_markdown(_report(_bulk(100, 94)))
    assert "target NOT met (short by 1 person)" in one_short


def test_report_markdown_content() -> None:
    text = report_markdown(_report())
    assert text.startswith("# Larkspur Analytics Ltd: ISMS cycle report isms-review-larkspur-2026\n")
    assert "**Version:** 3.0" in text
    assert HASH in text
    assert "**Time to sign:** 3 days 5 hours" in text
    assert "started 2 November 2026 09:00 UTC, closed 30 November 2026 09:00 UTC" in text
    assert "40.0%" in text  # 2 of 5
    assert "target NOT met (short by 3 people)" in text  # 5 in scope at 95% needs 5
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == "| Department | In scope | Acknowledged | Outstanding | Rate |"
    assert table[1] == "| --- | ---: | ---: | ---: | ---: |"
    assert table[2:] == [
        "| Engineering | 2 | 1 | 1 | 50.0% |",
        "| Finance | 2 | 1 | 1 | 50.0% |",
        "| finance | 1 | 0 | 1 | 0.0% |",
    ]
    assert "### Tom Okafor &lt;tom@larkspur.example&gt; (2)" in text
    assert "- Ann Byrne &lt;ann@larkspur.example&gt;" in text
    assert f"### {NO_LINE_MANAGER} (1)" in text
    assert text.index("Tom Okafor") < text.index(NO_LINE_MANAGER)
    assert "Joined during the campaign: 1" in text
    assert "not counted in the figures): 2" in text


def test_report_markdown_when_everyone_acknowledged() -> None:
    text = report_markdown(_report(_bulk(10, 10)))
    assert "Everyone in scope acknowledged." in text
    assert "100.0%" in text
    assert "###" not in text


@pytest.mark.parametrize(
    ("duration", "words"),
    [
        (timedelta(days=3, hours=5, minutes=59), "3 days 5 hours"),
        (timedelta(days=1, hours=1), "1 day 1 hour"),
        (timedelta(days=2), "2 days"),
        (timedelta(hours=7), "7 hours"),
        (timedelta(minutes=20), "less than an hour"),
        (timedelta(seconds=-5), "less than an hour"),
    ],
)
def test_duration_reads_in_days_and_hours(duration: timedelta, words: str) -> None:
    assert format_duration(duration) == words


def _hostile_records() -> list[PersonRecord]:
    return [
        PersonRecord(
            email="eve@x.example",
            name=HOSTILE_NAME,
            department=HOSTILE_DEPARTMENT,
            manager_email="mallory@x.example",
            manager_name='<img src=x onerror="alert(2)"> **boss** [x](http://evil.example)',
        ),
        PersonRecord(
            email="ok@x.example",
            name="- 1. # `code` _em_ \\| pipe",
            department=HOSTILE_DEPARTMENT,
            acknowledged_at=T0,
        ),
    ]


def test_report_markdown_escapes_values() -> None:
    text = report_markdown(_report(_hostile_records()))
    assert "<script>" not in text
    assert "<img" not in text
    assert "| R&amp;D &#124; Ops | 2 | 1 | 1 | 50.0% |" in text
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text


def test_report_html_escapes_hostile_names_and_departments() -> None:
    page = report_html(_report(_hostile_records()))
    assert page.startswith("<!doctype html>")
    assert '<meta charset="utf-8">' in page
    assert "<style>" in page
    assert "<title>Larkspur Analytics Ltd: ISMS cycle report isms-review-larkspur-2026</title>" in page
    assert "<script" not in page
    assert "<img" not in page
    assert "<strong>boss</strong>" not in page
    assert "<em>" not in page
    assert "<code>" not in page
    assert 'href="http://evil.example"' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<table>" in page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert cells[:5] == ["R&amp;D &#124; Ops", "2", "1", "1", "50.0%"]  # one row: the pipe split nothing
    assert len(cells) == 5
    assert html.unescape(cells[0]) == HOSTILE_DEPARTMENT


def test_report_html_title_is_escaped() -> None:
    report = _report(_bulk(1, 1)).model_copy(update={"organisation": "</title><script>x</script>"})
    page = report_html(report)
    assert "<script" not in page
    assert "<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;: ISMS cycle report" in page


def _normalised(value: str) -> str:
    # what escape_markdown keeps: no control characters, whitespace runs as one space
    kept = "".join(char for char in value if unicodedata.category(char) != "Cc" or char.isspace())
    return " ".join(kept.split())


def _visible_text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@settings(max_examples=200)
@given(st.text(max_size=60))
@example("1. first")
@example("1.")
@example("3.0")
@example("- item")
@example("-")
@example("+ item")
@example("* item")
@example("# heading")
@example("> quote")
@example("---")
@example("===")
@example("```")
@example("    indented code")
@example("a\\|b")
@example("a\\\\|b")
@example("<b>bold</b> &amp; &#60;")
@example("\x02wzxhzdk:0\x03")
@example("line one\n\n# line two")
@example("[x](http://evil.example) ![i](http://evil.example/i.png) <http://evil.example>")
def test_any_name_reads_as_itself_in_the_html_report(name: str) -> None:
    markdown_text = escape_markdown(name)
    assert "\n" not in markdown_text
    record = PersonRecord(email="x@y.example", name=name, department=name, manager_email="m@y.example")
    page = report_html(_report([record]))
    expected = _normalised(name)
    items = re.findall(r"<li>(.*?)</li>", page, re.S)
    assert _visible_text(items[0]) == _normalised(f"{name} <x@y.example>")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
    assert len(cells) == 5  # the department never adds or removes a column
    if expected:
        assert _visible_text(cells[0]) == expected
    # the same elements as with a harmless name
    plain = report_html(_report([record.model_copy(update={"name": "Ann", "department": "Ops"})]))
    assert re.findall(r"<[a-z/!][^>]*>", page.split("<body>")[1]) == re.findall(
        r"<[a-z/!][^>]*>", plain.split("<body>")[1]
    )


# --- per document: each person's own documents -------------------------------------------------

POLICY = CampaignDocument(
    name="information-security-policy.docx",
    title="Information Security Policy",
    version="3.0",
    sha256="1" * 64,
)
AUP = CampaignDocument(
    name="acceptable-use-policy.pdf", title="Acceptable Use Policy", version="2024.2", sha256="2" * 64
)
SDP = CampaignDocument(
    name="secure-development-policy.docx",
    title="Secure Development Policy",
    version="3.0",
    sha256="3" * 64,
    audience="Engineering",
)
DOCUMENTS = [POLICY, AUP, SDP]


def _acknowledged(*documents: CampaignDocument) -> dict[str, Any]:
    return {
        "documents": {d.name: d.sha256 for d in documents},
        "acknowledged_documents": [
            AcknowledgedDocument(id=d.id, name=d.name, title=d.title, version=d.version, sha256=d.sha256)
            for d in documents
        ],
    }


def _document_records() -> list[PersonRecord]:
    everyone, engineers = [POLICY.name, AUP.name], [POLICY.name, AUP.name, SDP.name]
    return [
        PersonRecord(  # an engineer who acknowledged their three documents
            email="eng1@larkspur.example",
            name="Eng One",
            department="Engineering",
            acknowledges=engineers,
            acknowledged_at=_at(1),
            **_acknowledged(POLICY, AUP, SDP),
        ),
        PersonRecord(  # an engineer outstanding, escalated
            email="eng2@larkspur.example",
            name="Eng Two",
            department="Engineering",
            acknowledges=engineers,
            escalated_at=_at(14),
        ),
        PersonRecord(  # a salesperson who acknowledged their two
            email="sal1@larkspur.example",
            name="Sal One",
            department="Sales",
            acknowledges=everyone,
            acknowledged_at=_at(2),
            **_acknowledged(POLICY, AUP),
        ),
        PersonRecord(  # a salesperson outstanding
            email="sal2@larkspur.example",
            name="Sal Two",
            department="Sales",
            acknowledges=everyone,
        ),
        PersonRecord(  # an engineer who left: in no figure
            email="eng3@larkspur.example",
            name="Eng Three",
            department="Engineering",
            acknowledges=engineers,
            left_at=_at(3),
        ),
    ]


def test_tally_per_document_counts_the_people_in_its_audience_leavers_left_out() -> None:
    by_document = tally_documents(_document_records(), DOCUMENTS)
    assert list(by_document) == [POLICY.name, AUP.name, SDP.name]
    assert by_document[POLICY.name] == Tally(total=4, acknowledged=2, outstanding=2, overdue=1)
    assert by_document[AUP.name] == Tally(total=4, acknowledged=2, outstanding=2, overdue=1)
    assert by_document[SDP.name] == Tally(total=2, acknowledged=1, outstanding=1, overdue=1)
    closed = tally_documents(_document_records(), DOCUMENTS, closed=True)
    assert closed[POLICY.name].overdue == 2
    assert tally_documents(_document_records(), []) == {}


def test_a_record_without_its_own_set_counts_for_every_document() -> None:
    records = [
        PersonRecord(email="a@x.example", name="A", department="D", acknowledged_at=T0),
        PersonRecord(email="b@x.example", name="B", department="D"),
    ]
    by_document = tally_documents(records, DOCUMENTS)
    assert {name: (t.total, t.acknowledged) for name, t in by_document.items()} == {
        POLICY.name: (2, 1),
        AUP.name: (2, 1),
        SDP.name: (2, 1),
    }


def test_csv_keeps_every_column_and_adds_each_persons_documents() -> None:
    data = register_csv(_document_records())
    header = data.splitlines()[0].decode()
    assert header.startswith(
        "email,name,department,manager_email,manager_name,status,joined,invited_at,reminded_at,"
        "escalated_at,acknowledged_at,ip,user_agent,version_hash,left_at,documents,"
    ), "the columns an auditor's spreadsheet already reads stay where they were"
    assert header.endswith(",acknowledges,acknowledged_documents,attempts,answers,first_answers")
    rows = {row["email"]: row for row in _parse(data)}
    engineer = rows["eng1@larkspur.example"]
    assert engineer["acknowledges"] == (
        "information-security-policy; acceptable-use-policy; secure-development-policy"
    )
    assert engineer["acknowledged_documents"] == (
        f"information-security-policy@3.0={'1' * 64}; acceptable-use-policy@2024.2={'2' * 64}; "
        f"secure-development-policy@3.0={'3' * 64}"
    )
    seller = rows["sal1@larkspur.example"]
    assert seller["acknowledges"] == "information-security-policy; acceptable-use-policy"
    assert seller["acknowledged_documents"] == (
        f"information-security-policy@3.0={'1' * 64}; acceptable-use-policy@2024.2={'2' * 64}"
    )
    assert "secure-development-policy" not in seller["documents"]
    outstanding = rows["sal2@larkspur.example"]
    assert (outstanding["acknowledges"], outstanding["acknowledged_documents"]) == (
        "information-security-policy; acceptable-use-policy",
        "",
    )


def test_csv_of_a_cycle_without_audiences_leaves_the_set_empty_and_versions_unknown() -> None:
    record = PersonRecord(
        email="a@x.example",
        name="A",
        department="D",
        acknowledged_at=T0,
        documents={"roles.docx": "b" * 64, "policy.docx": "a" * 64},
    )
    (row,) = _parse(register_csv([record]))
    assert row["acknowledges"] == ""
    assert row["acknowledged_documents"] == f"policy@={'a' * 64}; roles@={'b' * 64}"
    assert [d.id for d in acknowledged_documents(record)] == ["policy", "roles"]
    assert acknowledged_documents(record.model_copy(update={"acknowledged_at": None})) == []


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formulas_in_the_document_columns_too(start: str) -> None:
    record = PersonRecord(
        email="eve@x.example",
        name="Eve",
        department="D",
        acknowledged_at=T0,
        acknowledges=[f"{start}cmd.docx"],
        acknowledged_documents=[
            AcknowledgedDocument(id=f"{start}cmd", name=f"{start}cmd.docx", version="1", sha256="d" * 64)
        ],
    )
    (row,) = _parse(register_csv([record]))
    assert row["acknowledges"] == f"'{start}cmd"
    assert row["acknowledged_documents"] == f"'{start}cmd@1={'d' * 64}"


def test_json_register_lists_the_documents_and_what_each_person_acknowledged() -> None:
    document = json.loads(
        register_json(
            _document_records(),
            cycle_id="c",
            version="3.0",
            version_hash=HASH,
            closed=True,
            documents=DOCUMENTS,
        )
    )
    assert document["documents"] == [
        {
            "id": "information-security-policy",
            "title": "Information Security Policy",
            "version": "3.0",
            "sha256": "1" * 64,
            "audience": "everyone in scope",
        },
        {
            "id": "acceptable-use-policy",
            "title": "Acceptable Use Policy",
            "version": "2024.2",
            "sha256": "2" * 64,
            "audience": "everyone in scope",
        },
        {
            "id": "secure-development-policy",
            "title": "Secure Development Policy",
            "version": "3.0",
            "sha256": "3" * 64,
            "audience": "Engineering",
        },
    ]
    people = {person["email"]: person for person in document["people"]}
    seller = people["sal1@larkspur.example"]
    assert seller["acknowledges"] == ["information-security-policy", "acceptable-use-policy"]
    assert seller["acknowledged_documents"] == [
        {"id": "information-security-policy", "title": "Information Security Policy", "version": "3.0",
         "sha256": "1" * 64},
        {"id": "acceptable-use-policy", "title": "Acceptable Use Policy", "version": "2024.2",
         "sha256": "2" * 64},
    ]  # fmt: skip
    assert [d["id"] for d in people["eng1@larkspur.example"]["acknowledged_documents"]] == [
        "information-security-policy",
        "acceptable-use-policy",
        "secure-development-policy",
    ]
    assert people["eng2@larkspur.example"]["acknowledged_documents"] == []
    by_document = document["totals"]["by_document"]
    assert by_document["secure-development-policy"] == {
        "total": 2,
        "acknowledged": 1,
        "outstanding": 1,
        "overdue": 1,
    }
    assert by_document["acceptable-use-policy"]["total"] == 4
    old = json.loads(register_json(_records(), cycle_id="c", version="3.0", version_hash=HASH))
    assert (old["documents"], old["totals"]["by_document"]) == ([], {})
    assert next(p for p in old["people"] if p["email"] == "sam@larkspur.example")["acknowledges"] is None


def _document_report(no_documents: int = 0) -> CampaignReport:
    return build_report(
        _document_records(),
        documents=DOCUMENTS,
        no_documents=no_documents,
        organisation="Larkspur Analytics Ltd",
        cycle_id="isms-review-larkspur-2026",
        version="3.0",
        version_hash=HASH,
        cycle_started_at=datetime(2026, 10, 20, 8, 0, tzinfo=UTC),
        signed_at=datetime(2026, 10, 23, 13, 30, tzinfo=UTC),
        campaign_started_at=T0,
        closed_at=_at(28),
    )


def test_report_gives_the_rate_per_document_beside_the_overall_rate() -> None:
    report = _document_report(no_documents=3)
    assert report.tally == Tally(total=4, acknowledged=2, outstanding=2, overdue=2)
    assert report.by_document[SDP.name] == Tally(total=2, acknowledged=1, outstanding=1, overdue=1)
    assert report.by_document[AUP.name] == Tally(total=4, acknowledged=2, outstanding=2, overdue=2)
    text = report_markdown(report)
    assert "**50.0%** acknowledged: 2 of 4 people in scope" in text
    start = text.index("## By document")
    table = [line for line in text[start:].splitlines() if line.startswith("| ")][:5]
    assert table == [
        "| Document | Version | Audience | In its audience | Acknowledged | Outstanding | Rate |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
        "| Information Security Policy (information-security-policy) | 3.0 | everyone in scope | 4 | 2 | 2 | 50.0% |",
        "| Acceptable Use Policy (acceptable-use-policy) | 2024.2 | everyone in scope | 4 | 2 | 2 | 50.0% |",
        "| Secure Development Policy (secure-development-policy) | 3.0 | Engineering | 2 | 1 | 1 | 50.0% |",
    ]  # fmt: skip
    assert "In scope with no document for them (not invited, not counted): 3." in text
    page = report_html(report)
    assert "<td>Secure Development Policy (secure-development-policy)</td>" in page
    without = report_markdown(_report())
    assert "## By document" not in without
    assert "no document for them" not in without


def test_report_escapes_document_titles_and_audiences() -> None:
    hostile = SDP.model_copy(update={"title": "<script>x</script> | *bold*", "audience": "R&D | Ops"})
    page = report_html(
        build_report(
            _document_records(),
            documents=[POLICY, AUP, hostile],
            organisation="Larkspur Analytics Ltd",
            cycle_id="c",
            version="3.0",
            version_hash=HASH,
            cycle_started_at=T0,
            signed_at=T0,
            campaign_started_at=T0,
            closed_at=_at(28),
        )
    )
    assert "<script" not in page
    assert "<em>" not in page
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    hostile_row = next(row for row in rows if "secure-development-policy" in row)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", hostile_row, re.S)
    assert len(cells) == 7, "a pipe in a title splits no cell"
    assert html.unescape(cells[0]) == "<script>x</script> | *bold* (secure-development-policy)"
    assert html.unescape(cells[2]) == "R&D | Ops"
