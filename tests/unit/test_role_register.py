"""The role acceptance register and report from records built in the test: CSV, JSON, HTML."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from core.role_register import (
    ROLE_CSV_COLUMNS,
    role_register_csv,
    role_register_json,
    role_report_html,
    tally_roles,
)
from models.role_acceptance import (
    ROLE_ACCEPTANCE_TEXT,
    Capacity,
    RoleAssignment,
    RoleRecord,
    RoleRegisterInput,
)
from models.routing import Person

SIGNED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LEAD = RoleAssignment(role_id="isms-lead", title="ISMS Lead", capacity=Capacity.HOLDER, reports_to="CEO")
DEPUTY = LEAD.model_copy(update={"capacity": Capacity.DEPUTY})
ENGINEERING = RoleAssignment(role_id="engineering-lead", title="Engineering Lead", capacity=Capacity.HOLDER)
AUDITOR = RoleAssignment(role_id="internal-auditor", title="Internal Auditor", capacity=Capacity.HOLDER)
LETTER = "ab" * 32


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def _records() -> list[RoleRecord]:
    return [
        RoleRecord(
            email="ravi@x.example",
            name="Ravi",
            department="Engineering",
            assignments=[LEAD],
            lead=True,
            invited_at=_at(24),
            accepted_at=_at(25, 10),
            ip="203.0.113.7",
            user_agent="Firefox/130",
            version_hash="v" * 64,
            letter_sha256=LETTER,
            statement=ROLE_ACCEPTANCE_TEXT,
        ),
        RoleRecord(
            email="sofia@x.example",
            name="Sofia",
            department="Engineering",
            assignments=[DEPUTY, ENGINEERING],
            invited_at=_at(24),
            declined_at=_at(26),
            decline_comment='=HYPERLINK("http://evil") I report to the CTO, not the ISMS lead',
            accepted_at=_at(27),
            ip="198.51.100.2",
            user_agent="@Chrome",
            version_hash="v" * 64,
        ),
        RoleRecord(
            email="grace@x.example",
            name="Grace <b>",
            department="Finance",
            assignments=[AUDITOR],
            invited_at=_at(24),
            reminded_at=[_at(27), _at(28)],
            escalated_at=_at(29),
        ),
        RoleRecord(
            email="dan@x.example",
            name="Dan",
            department="People",
            assignments=[ENGINEERING.model_copy(update={"role_id": "hr-manager", "title": "HR Manager"})],
            invited_at=_at(24),
            declined_at=_at(25),
            decline_comment="Not my role since October",
        ),
    ]


def _input(records: list[RoleRecord]) -> RoleRegisterInput:
    return RoleRegisterInput(
        cycle_id="isms-review-x-2026",
        organisation="X & Co",
        version="2.0",
        version_hash="v" * 64,
        signer=Person(name="Eleanor", email="ceo@x.example", title="CEO"),
        lead=Person(name="Ravi", email="ravi@x.example"),
        signed_at=SIGNED,
        closed_at=_at(30),
        records=records,
    )


def test_tally_counts_people_a_later_acceptance_outweighs_a_decline() -> None:
    tally = tally_roles(_records())
    assert (tally.total, tally.accepted, tally.declined, tally.outstanding, tally.escalated) == (
        4,
        2,
        1,
        1,
        1,
    )
    assert tally.rate_text == "2 of 4 accepted"


def test_csv_one_line_per_person_and_role_with_formulas_made_safe() -> None:
    rows = list(csv.DictReader(io.StringIO(role_register_csv(_records()).decode())))
    assert list(rows[0]) == list(ROLE_CSV_COLUMNS)
    # sorted by department, name, email; each person's roles in the profile's order
    assert [(r["email"], r["role_id"], r["capacity"], r["status"]) for r in rows] == [
        ("ravi@x.example", "isms-lead", "holder", "accepted"),
        ("sofia@x.example", "isms-lead", "deputy", "accepted"),
        ("sofia@x.example", "engineering-lead", "holder", "accepted"),
        ("grace@x.example", "internal-auditor", "holder", "outstanding"),
        ("dan@x.example", "hr-manager", "holder", "declined"),
    ]
    ravi, sofia, _, grace, dan = rows
    assert (ravi["accepted_at"], ravi["ip"], ravi["user_agent"]) == (
        "2026-11-25T10:00:00Z",
        "203.0.113.7",
        "Firefox/130",
    )
    assert (ravi["version_hash"], ravi["letter_sha256"], ravi["invited_at"]) == (
        "v" * 64,
        LETTER,
        "2026-11-24T09:00:00Z",
    )
    assert sofia["decline_reason"].startswith("'=HYPERLINK")
    assert sofia["user_agent"] == "'@Chrome"
    assert sofia["declined_at"] == "2026-11-26T09:00:00Z"
    assert grace["reminded_at"] == "2026-11-27T09:00:00Z; 2026-11-28T09:00:00Z"
    assert grace["escalated_at"] == "2026-11-29T09:00:00Z"
    assert (grace["accepted_at"], grace["ip"]) == ("", "")
    assert (dan["declined_at"], dan["decline_reason"]) == (
        "2026-11-25T09:00:00Z",
        "Not my role since October",
    )


def test_json_holds_the_records_as_they_are_and_is_the_same_bytes_each_time() -> None:
    records = _records()
    payload = role_register_json(_input(records))
    assert payload == role_register_json(_input(list(reversed(records))))
    document = json.loads(payload)
    assert document["version_hash"] == "v" * 64
    assert document["signed_at"] == "2026-11-24T09:00:00Z"
    assert document["tally"] == {"total": 4, "accepted": 2, "declined": 1, "outstanding": 1, "escalated": 1}
    assert document["statement"] == ROLE_ACCEPTANCE_TEXT
    by_email = {item["email"]: item for item in document["records"]}
    for record in records:
        back = RoleRecord.model_validate({k: v for k, v in by_email[record.email].items() if k != "status"})
        assert back == record
    assert by_email["dan@x.example"]["status"] == "declined"


def test_report_names_who_accepted_what_who_did_not_and_the_reasons_escaped() -> None:
    page = role_report_html(_input(_records())).decode()
    assert "2 of 4 accepted" in page
    accepted, rest = page.split("<h2>Accepted</h2>")[1].split("<h2>Not accepted</h2>")
    not_accepted, declines = rest.split("<h2>Declines</h2>")
    assert "Ravi" in accepted
    assert LETTER in accepted
    assert "2026-11-25T10:00:00Z" in accepted
    assert "ISMS Lead (deputy); Engineering Lead" in accepted
    assert "Grace &lt;b&gt;" in not_accepted
    assert "<b>" not in page
    assert "2026-11-27T09:00:00Z; 2026-11-28T09:00:00Z" in not_accepted
    assert "2026-11-29T09:00:00Z" in not_accepted  # escalated
    assert "Dan" in not_accepted
    assert "Ravi" not in not_accepted
    assert "Not my role since October" in declines
    assert "=HYPERLINK(&#34;http://evil&#34;)" in declines
    assert '<meta name="viewport"' in page
    assert "X &amp; Co" in page


def test_an_empty_register_says_so() -> None:
    page = role_report_html(_input([])).decode()
    assert "Nobody accepted." in page
    assert "Nobody declined." in page
    assert role_register_csv([]).decode() == ",".join(ROLE_CSV_COLUMNS) + "\r\n"


def test_the_answer_given_last_counts() -> None:
    later_decline = _records()[0].model_copy(
        update={"declined_at": _at(26), "decline_comment": "Changed my mind"}
    )
    assert tally_roles([later_decline]).declined == 1
    rows = list(csv.DictReader(io.StringIO(role_register_csv([later_decline]).decode())))
    assert (rows[0]["status"], rows[0]["accepted_at"]) == ("declined", "2026-11-25T10:00:00Z")
