"""Email templates: each renders with exactly its declared variables; values stay data in both parts."""

from __future__ import annotations

import html
import re
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.email_templates import (
    EMAIL_TEMPLATES,
    TEMPLATE_VARIABLES,
    EmailTemplateError,
    EmailTemplateSpec,
    render_email_template,
    required_variables,
    template_names,
    used_variables,
)

SAMPLES: dict[str, object] = {
    "organisation": "Larkspur Analytics Ltd",
    "version": "3.0",
    "signer_name": "Eleanor Marsh",
    "code": "042917",
    "code_expires": "09:10 UTC on 23 November 2026",
    "lead_name": "Ravi Chandran",
    "documents": ["information-security-policy.docx", "isms-roles-responsibilities.docx"],
    "change_lines": ["Version 2.0 -> 3.0", "Scope: the Leeds office added"],
    "deadline": "7 December 2026",
    "link": "https://isms.example/sign/abc_DEF-123.xyz",
    "link_expires": "24 November 2026 09:30 UTC",
    "reminder_number": 2,
    "days_waiting": 10,
    "cycle_id": "isms-review-larkspur-2026",
    "comment": "Add the Leeds office.",
    "signed_by": "Eleanor Marsh",
    "hashes": ["information-security-policy.pdf: " + "a" * 64],
    # the acknowledgement campaign
    "person_name": "Priya Natarajan",
    "manager_name": "Tom Okafor",
    "people": [
        "Priya Natarajan <priya@larkspur.example> (Finance)",
        "Sam Hughes <sam@larkspur.example> (Finance)",
    ],
    "outstanding_count": 2,
    "acknowledged": 175,
    "total": 200,
    "rate": "87.5%",
    "departments": ["Finance: 40 of 50 (80.0%)", "Engineering: 135 of 150 (90.0%)"],
    "target": "95%",
    "outcome": "target NOT met",
    "non_responders": 25,
    "register_key": "larkspur/2026/acknowledgements/register.csv",
    "report_key": "larkspur/2026/acknowledgements/report.html",
    # the auditor's access
    "issued_by": "Ravi Chandran",
    # role acceptance
    "roles": ["ISMS Manager, Security, reports to Chief Executive (Eleanor Marsh)", "Risk Owner (deputy)"],
    "letter": "Appointment of the ISMS lead (SHA-256 " + "c" * 64 + ")",
    "person_email": "priya@larkspur.example",
}
HOSTILE = "<script>alert(1)</script> **bold** [x](http://evil.example) {{ 7*7 }} O'Brien & Sons"
EMAILS = resources.files("doc_templates").joinpath("emails")


def _context(name: str, **overrides: object) -> dict[str, object]:
    return {**{key: SAMPLES[key] for key in required_variables(name)}, **overrides}


def test_the_expected_templates_exist_and_each_has_a_file() -> None:
    assert set(template_names()) == {
        "ceo_invitation",
        "ceo_reminder",
        "signature_escalation",
        "cycle_overdue",
        "changes_requested",
        "signed_confirmation",
        "signer_code",
        "lead_signin",
        "staff_invitation",
        "staff_reminder",
        "manager_digest",
        "campaign_summary",
        "campaign_closed",
        "auditor_access",
        "role_invitation",
        "role_reminder",
        "role_escalation",
        "role_declined",
    }
    files = {entry.name.removesuffix(".md") for entry in EMAILS.iterdir() if entry.name.endswith(".md")}
    assert files == set(template_names())


@pytest.mark.parametrize("name", sorted(EMAIL_TEMPLATES))
def test_declared_variables_are_exactly_what_the_template_uses(name: str) -> None:
    assert EMAILS.joinpath(f"{name}.md").read_text(encoding="utf-8").startswith("Subject: ")
    assert used_variables(name) == TEMPLATE_VARIABLES[name]


@pytest.mark.parametrize("name", sorted(EMAIL_TEMPLATES))
def test_each_template_renders_with_exactly_its_variables(name: str) -> None:
    email = render_email_template(template_name=name, context=_context(name))
    assert email.subject
    assert "\n" not in email.subject
    for part in (email.subject, email.text, email.html):
        assert "{{" not in part
        assert "{%" not in part
    assert email.text.endswith("-- \nSent by isms-cycle for Larkspur Analytics Ltd\n")
    assert email.html.startswith("<!doctype html>")
    assert "max-width:600px" in email.html
    assert "Sent by isms-cycle for Larkspur Analytics Ltd" in email.html
    if "link" in required_variables(name):
        assert str(SAMPLES["link"]) in email.text.split()  # on a line of its own: easy to copy
        assert f'href="{SAMPLES["link"]}"' in email.html
        assert email.html.count(f'href="{SAMPLES["link"]}"') == 2  # the button and the fallback
    else:
        assert "href=" not in email.html


@pytest.mark.parametrize("name", sorted(EMAIL_TEMPLATES))
def test_a_missing_variable_is_a_clear_error(name: str) -> None:
    for missing in sorted(required_variables(name)):
        context = _context(name)
        del context[missing]
        with pytest.raises(EmailTemplateError, match=f"'{name}' needs: {missing} "):
            render_email_template(template_name=name, context=context)


def test_a_template_using_an_undeclared_variable_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = dict(EMAIL_TEMPLATES["ceo_reminder"].variables)
    del declared["deadline"]
    monkeypatch.setitem(EMAIL_TEMPLATES, "ceo_reminder", EmailTemplateSpec(declared, button="Go"))
    context = _context("ceo_reminder")
    del context["deadline"]
    with pytest.raises(EmailTemplateError, match="'deadline' is undefined"):
        render_email_template(template_name="ceo_reminder", context=context)


def test_a_mistyped_variable_is_a_clear_error() -> None:
    with pytest.raises(EmailTemplateError, match="documents must be lines"):
        render_email_template(
            template_name="ceo_invitation", context=_context("ceo_invitation", documents="policy.docx")
        )
    with pytest.raises(EmailTemplateError, match="reminder_number must be number"):
        render_email_template(
            template_name="ceo_reminder", context=_context("ceo_reminder", reminder_number="2")
        )


def test_a_link_that_is_not_a_web_address_is_refused() -> None:
    with pytest.raises(EmailTemplateError, match="http"):
        render_email_template(
            template_name="lead_signin", context=_context("lead_signin", link="javascript:alert(1)")
        )


@pytest.mark.parametrize("name", ["nope", "../ceo_invitation", "CEO_INVITATION", ""])
def test_unknown_template_is_a_clear_error(name: str) -> None:
    with pytest.raises(EmailTemplateError, match="no email template"):
        render_email_template(template_name=name, context={})


def test_extra_context_is_ignored() -> None:
    email = render_email_template(template_name="changes_requested", context=SAMPLES)
    assert "Add the Leeds office." in email.text


def test_reminder_number_reads_as_words() -> None:
    email = render_email_template(template_name="ceo_reminder", context=_context("ceo_reminder"))
    assert email.subject.startswith("Second reminder:")
    assert "the second reminder" in email.text


def _assert_literal(value: str, text: str, page: str) -> None:
    assert value in text
    assert html.escape(value, quote=True) in page


def test_hostile_values_are_literal_in_text_and_escaped_in_html() -> None:
    context = _context("changes_requested", comment=HOSTILE)
    email = render_email_template(template_name="changes_requested", context=context)
    _assert_literal(HOSTILE, email.text, email.html)
    assert "<script" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "<strong>bold</strong>" not in email.html
    assert "**bold**" in email.html
    assert 'href="http://evil.example"' not in email.html
    assert "{{ 7*7 }}" in email.html
    assert "49" not in email.html + email.text
    code = re.search(r"<code[^>]*>(.*?)</code>", email.html, re.S)
    assert code is not None
    assert "isms cycle revise isms-review-larkspur-2026 PROFILE" in code.group(1)


@pytest.mark.parametrize("name", sorted(EMAIL_TEMPLATES))
def test_hostile_values_in_every_text_variable(name: str) -> None:
    spec = EMAIL_TEMPLATES[name]
    hostile: dict[str, object] = {
        var: HOSTILE for var, kind in spec.variables.items() if kind.kind == "text" and var != "link"
    }
    hostile |= {var: [HOSTILE] for var, kind in spec.variables.items() if kind.kind == "lines"}
    email = render_email_template(template_name=name, context=_context(name, **hostile))
    assert "<script" not in email.html
    assert "<strong>bold</strong>" not in email.html
    assert 'href="http://evil.example"' not in email.html
    assert "49" not in email.html
    assert HOSTILE in email.text
    assert "\n" not in email.subject


def _tags(page: str) -> list[str]:
    return [tag for tag in re.findall(r"<[A-Za-z/!][^>]*>", page) if tag != "<br>"]


@settings(max_examples=150)
@given(st.text(max_size=200))
def test_any_comment_is_data_in_both_parts(comment: str) -> None:
    email = render_email_template(
        template_name="changes_requested", context=_context("changes_requested", comment=comment)
    )
    assert comment.strip() in email.text
    assert html.escape(comment, quote=True).replace("\n", "<br>\n") in email.html
    # whatever the value, the HTML has the same elements as with a harmless one
    plain = render_email_template(template_name="changes_requested", context=_context("changes_requested"))
    assert _tags(email.html) == _tags(plain.html)


CAMPAIGN_TEMPLATES = [
    "staff_invitation",
    "staff_reminder",
    "manager_digest",
    "campaign_summary",
    "campaign_closed",
]


def test_campaign_templates_declare_the_agreed_variables() -> None:
    expected = {
        "staff_invitation": {
            "organisation",
            "person_name",
            "lead_name",
            "signer_name",
            "version",
            "documents",
            "deadline",
            "link",
            "link_expires",
        },
        "staff_reminder": {
            "organisation",
            "person_name",
            "lead_name",
            "version",
            "reminder_number",
            "documents",  # the person's own documents, as in the invitation
            "deadline",
            "link",
            "link_expires",
        },
        "manager_digest": {
            "organisation",
            "manager_name",
            "version",
            "people",
            "outstanding_count",
            "deadline",
            "lead_name",
        },
        "campaign_summary": {
            "organisation",
            "version",
            "acknowledged",
            "total",
            "rate",
            "departments",
            "deadline",
            "cycle_id",
        },
        "campaign_closed": {
            "organisation",
            "version",
            "acknowledged",
            "total",
            "rate",
            "target",
            "outcome",
            "non_responders",
            "cycle_id",
            "register_key",
            "report_key",
        },
    }
    assert {name: set(required_variables(name)) for name in CAMPAIGN_TEMPLATES} == expected
    assert EMAIL_TEMPLATES["staff_invitation"].button == "Read and acknowledge"
    assert EMAIL_TEMPLATES["staff_reminder"].button == "Read and acknowledge"
    for name in ("manager_digest", "campaign_summary", "campaign_closed"):
        assert EMAIL_TEMPLATES[name].button is None
    kinds = {
        "reminder_number": "number",
        "outstanding_count": "number",
        "acknowledged": "number",
        "total": "number",
        "non_responders": "number",
        "documents": "lines",
        "people": "lines",
        "departments": "lines",
        "rate": "text",
        "target": "text",
        "deadline": "text",
    }
    for name in CAMPAIGN_TEMPLATES:
        for variable, spec in EMAIL_TEMPLATES[name].variables.items():
            if variable in kinds:
                assert spec.kind == kinds[variable], (name, variable)


@pytest.mark.parametrize("name", CAMPAIGN_TEMPLATES)
def test_campaign_templates_render_their_values(name: str) -> None:
    context = _context(name)
    email = render_email_template(template_name=name, context=context)
    assert "Larkspur Analytics Ltd" in email.subject
    assert "3.0" in email.subject
    for variable, value in context.items():
        if variable in {"link", "reminder_number"}:  # the link is checked below; the number reads as words
            continue
        for piece in value if isinstance(value, list) else [value]:
            assert str(piece) in email.text, (variable, piece)
            assert html.escape(str(piece), quote=True) in email.html, (variable, piece)


@pytest.mark.parametrize("name", CAMPAIGN_TEMPLATES)
def test_campaign_templates_each_missing_variable_is_an_error(name: str) -> None:
    assert required_variables(name)
    for missing in sorted(required_variables(name)):
        context = _context(name)
        del context[missing]
        with pytest.raises(EmailTemplateError, match=missing):
            render_email_template(template_name=name, context=context)


def test_staff_invitation_has_the_button_and_the_personal_link() -> None:
    link = "https://isms.example/ack/personal-TOKEN_123"
    email = render_email_template(
        template_name="staff_invitation", context=_context("staff_invitation", link=link)
    )
    button = re.search(r'<a href="([^"]+)"[^>]*>Read and acknowledge</a>', email.html)
    assert button is not None
    assert button.group(1) == link
    assert email.html.count(f'href="{link}"') == 2  # the button and the copyable fallback
    assert link in email.text.splitlines()
    assert "Eleanor Marsh" in email.text
    assert "I have read and accept" in email.text
    assert "do not forward" in email.text
    assert "24 November 2026 09:30 UTC" in email.text
    assert "information-security-policy.docx" in email.text
    assert "7 December 2026" in email.text


def test_staff_reminder_counts_in_words() -> None:
    email = render_email_template(
        template_name="staff_reminder", context=_context("staff_reminder", reminder_number=3)
    )
    assert email.subject.startswith("Third reminder:")
    assert "the third reminder" in email.text
    assert "Read and acknowledge</a>" in email.html


def test_manager_digest_lists_each_person_and_the_count() -> None:
    email = render_email_template(template_name="manager_digest", context=_context("manager_digest"))
    assert "Dear Tom Okafor," in email.text
    assert "- Priya Natarajan <priya@larkspur.example> (Finance)" in email.text
    assert "- Sam Hughes <sam@larkspur.example> (Finance)" in email.text
    assert "(2 in all)" in email.text
    items = re.findall(r"<li[^>]*>(.*?)</li>", email.html)
    assert items == [
        "Priya Natarajan &lt;priya@larkspur.example&gt; (Finance)",
        "Sam Hughes &lt;sam@larkspur.example&gt; (Finance)",
    ]


def test_campaign_summary_and_closed_show_the_figures_and_the_status_command() -> None:
    summary = render_email_template(template_name="campaign_summary", context=_context("campaign_summary"))
    assert "175 of 200 people in scope (87.5%)" in summary.text
    assert "- Finance: 40 of 50 (80.0%)" in summary.text
    assert "    isms cycle status isms-review-larkspur-2026" in summary.text
    closed = render_email_template(template_name="campaign_closed", context=_context("campaign_closed"))
    assert "target NOT met" in closed.subject
    assert "175 of 200 people in scope acknowledged (87.5%) against a target of 95%" in closed.text
    assert "did not acknowledge: 25" in closed.text
    assert "larkspur/2026/acknowledgements/register.csv" in closed.text
    assert "larkspur/2026/acknowledgements/report.html" in closed.text
    assert "isms cycle status isms-review-larkspur-2026" in closed.text


def test_a_campaign_template_refuses_a_mistyped_count() -> None:
    with pytest.raises(EmailTemplateError, match="outstanding_count must be number"):
        render_email_template(
            template_name="manager_digest", context=_context("manager_digest", outstanding_count="2")
        )
    with pytest.raises(EmailTemplateError, match="people must be lines"):
        render_email_template(template_name="manager_digest", context=_context("manager_digest", people="x"))


def test_a_request_for_changes_lists_the_documents_it_names_and_renders_without_them() -> None:
    named = ["Acceptable Use Policy (acceptable-use-policy.pdf)", "Secure Development Policy <sdp>"]
    email = render_email_template(
        template_name="changes_requested", context=_context("changes_requested", named_documents=named)
    )
    assert "The request is about:" in email.text
    for line in named:
        assert f"- {line}" in email.text
    assert "Secure Development Policy &lt;sdp&gt;" in email.html
    # a message queued before the variable existed (a retried send) still renders, without the list
    plain = render_email_template(template_name="changes_requested", context=_context("changes_requested"))
    assert "The request is about" not in plain.text
    assert "named_documents" not in required_variables("changes_requested")
    with pytest.raises(EmailTemplateError, match="named_documents must be lines"):
        render_email_template(
            template_name="changes_requested",
            context=_context("changes_requested", named_documents="acceptable-use-policy.pdf"),
        )
