"""The role holder's page renders what the person is asked to accept, and nothing it must not.

Rendered with the web app's own template environment (StrictUndefined: a variable the page
uses but the context lacks fails the render) from a ``RolePage`` built here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import jinja2
import pytest

from core.log_redaction import redact
from models.role_acceptance import (
    ROLE_ACCEPTANCE_TEXT,
    AppointmentLetter,
    Capacity,
    RoleAssignment,
    RolePage,
)
from models.storage import StoredObject
from web.role_acceptance import role_key, role_page_context
from web.services import TEMPLATES_DIR

NASTY = "O'Brien & Sons <b>bold</b> {{ 7*7 }}"
SIGNED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LETTER_SHA = "ab" * 32


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )


def _page(*, lead: bool) -> RolePage:
    assignments = [
        RoleAssignment(
            role_id="isms-lead",
            title="ISMS Manager",
            capacity=Capacity.HOLDER,
            department="Security",
            reports_to="Chief Executive Officer",
            reports_to_holder="Dana CEO",
            responsibilities=["Run the ISMS day to day", NASTY],
            authorities=["Stop a change that breaks policy"],
        ),
        RoleAssignment(
            role_id="risk-owner",
            title="Risk Owner",
            capacity=Capacity.DEPUTY,
            responsibilities=["Keep the risk register"],
        ),
    ]
    letter = AppointmentLetter(
        name="isms-lead-appointment.docx",
        title="Appointment of the ISMS lead",
        sha256=LETTER_SHA,
        pdf=StoredObject(
            bucket="drafts", key="c/letter.pdf", sha256=LETTER_SHA, size=10, content_type="application/pdf"
        ),
    )
    return RolePage(
        organisation="Larkspur",
        person="lee@larkspur.example",
        name="Lee Lead",
        version="2026.1",
        version_hash="cd" * 32,
        signer_name="Dana CEO",
        signer_title="Chief Executive Officer",
        signed_at=SIGNED,
        deadline=SIGNED + timedelta(days=21),
        assignments=assignments if lead else assignments[1:],
        letter=letter if lead else None,
    )


def _render(page: RolePage, **extra: str) -> str:
    context = role_page_context(page, base_path="/role/TOKEN", csrf="CSRF", **extra)
    return _environment().get_template("role.html").render(**context, csp_nonce="n")


def test_the_leads_page_lists_each_role_with_its_reporting_line_and_the_letter() -> None:
    html = _render(_page(lead=True))
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    assert "ISMS Manager" in text
    assert "Risk Owner (deputy)" in text
    assert "Chief Executive Officer (Dana CEO)" in text
    assert "Run the ISMS day to day" in text
    assert "Stop a change that breaks policy" in text
    assert "Keep the risk register" in text
    assert "top management (this role is at the top)" in text  # the deputy role reports to no one
    assert ROLE_ACCEPTANCE_TEXT in text
    # the letter: framed from the page's own path, with its fingerprint, and sent back with the answer
    assert 'src="/role/TOKEN/letter"' in html
    assert html.count(f'name="letter_sha256" value="{LETTER_SHA}"') == 2  # accept and decline
    # both forms name exactly the person's roles
    keys = re.findall(r'name="roles" value="([^"]+)"', html)
    assert keys == ["isms-lead:holder", "risk-owner:deputy"] * 2
    assert html.count('name="csrf" value="CSRF"') == 2


def test_a_deputy_without_the_letter_sees_no_letter_and_sends_no_hash() -> None:
    html = _render(_page(lead=False))
    assert "/letter" not in html
    assert "letter_sha256" not in html
    assert re.findall(r'name="roles" value="([^"]+)"', html) == ["risk-owner:deputy"] * 2


def test_text_from_the_profile_is_escaped_never_run() -> None:
    html = _render(_page(lead=True))
    assert "<b>bold</b>" not in html
    assert "O&#39;Brien &amp; Sons &lt;b&gt;bold&lt;/b&gt; {{ 7*7 }}" in html
    assert "49" not in html


def test_the_reason_box_is_labelled_and_a_problem_is_announced() -> None:
    html = _render(_page(lead=False), problem="Nothing was recorded: say why", comment="typed before")
    assert '<label for="comment">' in html
    assert 'id="comment"' in html
    assert "required" in html
    assert re.search(r'role="alert"[^>]*>\s*<p><strong>Nothing was recorded: say why', html)
    assert ">typed before</textarea>" in html


@pytest.mark.parametrize("capacity", list(Capacity))
def test_a_role_key_names_the_role_and_the_capacity(capacity: Capacity) -> None:
    assignment = RoleAssignment(role_id="ciso", title="CISO", capacity=capacity)
    assert role_key(assignment) == f"ciso:{capacity.value}"


def test_role_links_are_redacted_from_log_lines() -> None:
    line = 'GET /role/eyJhbGciOi.abcdefghijklmnopqrstuvwxyz01/letter HTTP/1.1" 200'
    assert redact(line) == 'GET /role/[redacted]/letter HTTP/1.1" 200'
