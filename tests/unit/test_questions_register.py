"""The register and the report with comprehension questions: answers, attempts, pass rates."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from core.register import build_report, register_csv, register_json, report_html, report_markdown
from models.campaign import CampaignDocument, PersonRecord
from models.profile import Question

SDP = "secure-development-policy.docx"
AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
QUESTIONS = [
    Question(question="Who do you report an incident to?", choices=["Manager", "Security desk"], correct=1),
    Question(question="Does every change need a reviewer?", choices=["Yes", "No"], correct=0),
]
DOCUMENTS = [
    CampaignDocument(
        name=SDP, title="Secure Development Policy", version="1.4", sha256="c" * 64, questions=QUESTIONS
    ),
    CampaignDocument(name="information-security-policy.docx", title="Policy", version="3.0", sha256="a" * 64),
]


def _records() -> list[PersonRecord]:
    def person(n: int, **fields: object) -> PersonRecord:
        return PersonRecord(email=f"p{n}@x.example", name=f"P{n}", department="R&D", **fields)

    return [
        # right first time
        person(0, acknowledged_at=AT, answers={SDP: [1, 0]}, first_answers={SDP: [1, 0]}, attempts=1),
        # the first question wrong at first, three tries
        person(1, acknowledged_at=AT, answers={SDP: [1, 0]}, first_answers={SDP: [0, 0]}, attempts=3),
        # both wrong at first
        person(2, acknowledged_at=AT, answers={SDP: [1, 0]}, first_answers={SDP: [0, 1]}, attempts=2),
        person(3),  # has not acknowledged: not counted
        person(4, acknowledged_at=AT),  # no questions for them
    ]


def _report() -> str:
    report = build_report(
        _records(),
        organisation="Acme",
        cycle_id="isms-review-acme-2026",
        version="3.0",
        version_hash="f" * 64,
        cycle_started_at=AT,
        signed_at=AT,
        campaign_started_at=AT,
        closed_at=AT,
        documents=DOCUMENTS,
    )
    assert [(f.number, f.answered, f.right_first_time, f.rate_text) for f in report.questions] == [
        (1, 3, 1, "33.3%"),
        (2, 3, 2, "66.6%"),  # rounded down, never overstated
    ]
    return report_markdown(report)


def test_the_register_has_the_answers_and_the_attempts() -> None:
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(register_csv(_records()).decode()))}
    assert (rows["p1@x.example"]["attempts"], rows["p1@x.example"]["answers"]) == (
        "3",
        "secure-development-policy=1,0",
    )
    assert rows["p1@x.example"]["first_answers"] == "secure-development-policy=0,0"
    assert (rows["p4@x.example"]["attempts"], rows["p4@x.example"]["answers"]) == ("", "")
    people = {
        person["email"]: person
        for person in json.loads(
            register_json(_records(), cycle_id="c", version="3.0", version_hash="f" * 64)
        )["people"]
    }
    assert people["p2@x.example"]["attempts"] == 2
    assert people["p2@x.example"]["answers"] == {"secure-development-policy": [1, 0]}
    assert people["p2@x.example"]["first_answers"] == {"secure-development-policy": [0, 1]}
    assert (people["p4@x.example"]["attempts"], people["p4@x.example"]["answers"]) == (0, {})


def test_the_report_shows_the_first_attempt_pass_rate_per_question() -> None:
    text = _report()
    assert "## Comprehension questions" in text
    assert "| Secure Development Policy | 1. Who do you report an incident to? | 3 | 1 | 33.3% |" in text
    assert "| Secure Development Policy | 2. Does every change need a reviewer? | 3 | 2 | 66.6% |" in text
    assert "33.3%" in report_html(
        build_report(
            _records(),
            organisation="Acme",
            cycle_id="c",
            version="3.0",
            version_hash="f" * 64,
            cycle_started_at=AT,
            signed_at=AT,
            campaign_started_at=AT,
            closed_at=AT,
            documents=DOCUMENTS,
        )
    )


def test_a_report_without_questions_has_no_such_section() -> None:
    report = build_report(
        _records()[3:],
        organisation="Acme",
        cycle_id="c",
        version="3.0",
        version_hash="f" * 64,
        cycle_started_at=AT,
        signed_at=AT,
        campaign_started_at=AT,
        closed_at=AT,
        documents=DOCUMENTS[1:],
    )
    assert report.questions == []
    assert "Comprehension" not in report_markdown(report)
