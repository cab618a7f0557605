"""Comprehension questions on the real staff page, through the worker, S3 and the SMTP sink.

The Secure Development Policy (Engineering only) asks two questions. The engineer's page asks
them as radio groups before the button (never showing which choice is right); a wrong answer
gives a plain message naming the question to look at again and records nothing; the right
answers record the acknowledgement with the answers and the attempts the web app counted
(not the form); at the close the register and the report show them. The salesperson, with no
questions, acknowledges as before.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.profile import Audience, Question
from tests.workflows.campaign_helpers import (
    batch_of,
    ladder,
    signed_version,
    staff_link,
    staff_rows,
    start_campaign,
    wait_until,
)
from tests.workflows.test_acknowledge_documents_web import _closed, _read
from web.app import create_app

AUP = "acceptable-use-policy.pdf"
SDP = "secure-development-policy.docx"
DOCUMENTS = {
    AUP: ("Acceptable Use Policy", "2024.2", Audience()),
    SDP: ("Secure Development Policy", "1.4", Audience(departments=["engineering"])),
}
QUESTIONS = [
    Question(
        question="Who do you report a suspected incident to?",
        choices=["Nobody", "The security desk", "A friend"],
        correct=1,
    ),
    Question(question="Does every change need a second reviewer?", choices=["Yes", "No"], correct=0),
]
ENGINEER = "person000001@larkspur.example"
SELLER = "person000007@larkspur.example"


@pytest.fixture
async def web(review_skipping: tuple[WorkflowEnvironment, Settings]) -> AsyncIterator[httpx.AsyncClient]:
    env, settings = review_skipping
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://isms.test", headers={"User-Agent": "pytest"}
    ) as client:
        yield client


def _form(page: str) -> dict[str, Any]:
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, "no CSRF field on the page"
    shown = [unescape(value) for value in re.findall(r'name="shown" value="([^"]+)"', page)]
    return {"csrf": csrf.group(1), "shown": shown}


def _radios(page: str) -> dict[str, list[str]]:
    """Each radio group of the page: field name -> its values, in order."""
    groups: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="radio" name="([^"]+)" value="(\d+)" required', page):
        groups.setdefault(unescape(name), []).append(value)
    return groups


async def test_questions_are_asked_checked_counted_and_reported(
    review_skipping: tuple[WorkflowEnvironment, Settings], web: httpx.AsyncClient, tmp_path: Path
) -> None:
    env, settings = review_skipping
    signed = signed_version(settings, tmp_path / "signed", documents=DOCUMENTS)
    signed.questions = {SDP: QUESTIONS}
    handle, data = await start_campaign(
        env.client, settings, tmp_path, staff_rows(8, team_size=2), schedule=ladder(), signed=signed
    )
    await wait_until(env.client, data.cycle_id, lambda p: p.batches == 1 and p.invited == 8)
    batch = await batch_of(env.client, data.cycle_id, ENGINEER, 1)
    engineer, seller = (staff_link(settings, data, person, batch) for person in (ENGINEER, SELLER))

    # GET asks both questions, as radio groups with labels, before the button
    page = (await web.get(f"/ack/{engineer}")).text
    first, second = f"answer-{SDP}-1", f"answer-{SDP}-2"
    assert _radios(page) == {first: ["0", "1", "2"], second: ["0", "1"]}
    assert "Secure Development Policy, question 1: Who do you report a suspected incident to?" in page
    assert "<label><input" in page  # each choice is its own label: a large target, keyboard-selectable
    assert page.index("A few questions first") < page.index("I have read and accept</button>")
    assert "correct" not in page.lower()  # the right answers stay on the server
    form = _form(page)

    # a wrong answer: a plain message naming the question, nothing recorded
    wrong = await web.post(f"/ack/{engineer}", data={**form, first: "0", second: "0"})
    assert wrong.status_code == 422, wrong.text
    assert "Nothing was recorded yet: 1 answer is not right" in wrong.text
    assert "question 1 on Secure Development Policy" in wrong.text
    assert "(look at this one again)" in wrong.text
    assert 'value="0" required checked' in wrong.text  # their choices are kept for the next try
    form = _form(wrong.text)  # the page again, with a new CSRF value
    # a form without answers (or with an answer that is not a choice) records nothing either
    unanswered = await web.post(f"/ack/{engineer}", data=form)
    assert unanswered.status_code == 422, unanswered.text
    assert "2 answers are not right" in unanswered.text
    form = _form(unanswered.text)
    assert (await web.post(f"/ack/{engineer}", data={**form, first: "x", second: "0"})).status_code == 400
    figures = await wait_until(env.client, data.cycle_id, lambda p: p.invited == 8)
    assert figures.tally.acknowledged == 0

    # the right answers record it; the form's own "attempts" is not believed
    done = await web.post(f"/ack/{engineer}", data={**form, first: "1", second: "0", "attempts": "1"})
    assert done.status_code == 200, done.text
    assert "Thank you: your acknowledgement is recorded" in done.text
    # the salesperson has no questions: the page and the button as before
    seller_page = (await web.get(f"/ack/{seller}")).text
    assert _radios(seller_page) == {}
    assert "A few questions first" not in seller_page
    assert (await web.post(f"/ack/{seller}", data=_form(seller_page))).status_code == 200
    await wait_until(env.client, data.cycle_id, lambda p: p.tally.acknowledged == 2)

    # the close: the register has the answers and the attempts, the report the pass rates
    await env.sleep(timedelta(days=29))
    result = await _closed(env, data)
    people = {p["email"]: p for p in json.loads(_read(settings, result.register_json.key))["people"]}
    # tries: the wrong one, the one without answers (no answers: refused by the worker, not
    # counted here), the unreadable one (refused before counting), the right one
    assert people[ENGINEER]["attempts"] == 2
    assert people[ENGINEER]["answers"] == {"secure-development-policy": [1, 0]}
    assert people[ENGINEER]["first_answers"] == {"secure-development-policy": [0, 0]}
    assert (people[SELLER]["attempts"], people[SELLER]["answers"]) == (0, {})
    lines = {
        row["email"]: row
        for row in csv.DictReader(io.StringIO(_read(settings, result.register_csv.key).decode()))
    }
    assert (lines[ENGINEER]["attempts"], lines[ENGINEER]["answers"]) == ("2", "secure-development-policy=1,0")
    report = _read(settings, result.report_markdown.key).decode()
    assert (
        "| Secure Development Policy | 1. Who do you report a suspected incident to? | 1 | 0 | 0.0% |"
        in report
    )
    assert (
        "| Secure Development Policy | 2. Does every change need a second reviewer? | 1 | 1 | 100.0% |"
        in report
    )
    await handle.result()
