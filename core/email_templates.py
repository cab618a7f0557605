"""Render the emails in ``doc_templates/emails/<name>.md``: a subject, a plain-text and an HTML part.

A template is Markdown with Jinja2. Its first line is ``Subject: ...`` (Jinja2 too); the rest
is the body. Every template's variables are declared in :data:`EMAIL_TEMPLATES` (and, as
plain name sets, :data:`TEMPLATE_VARIABLES`); a missing one is a clear
:class:`EmailTemplateError`, and StrictUndefined catches a template using an undeclared one.

>>> email = render_email_template(template_name="lead_signin", context={
...     "organisation": "Larkspur Analytics Ltd", "lead_name": "Ravi Chandran",
...     "link": "https://isms.example/lead/TOKEN", "link_expires": "24 November 2026 09:30 UTC"})
>>> email.subject
'Your sign-in link for the Larkspur Analytics Ltd ISMS dashboard'

Escaping: the plain-text part is the rendered Markdown with the values as they are. The HTML
part never lets a value reach the Markdown parser: in the HTML pass every ``{{ ... }}`` output
is replaced (through Jinja2's ``finalize``) by an inert placeholder, the Markdown is converted,
and only then is each placeholder replaced by the HTML-escaped value. So ``<script>``,
``**bold**`` or ``{{ 7*7 }}`` in a profile show up literally in both parts. Templates run in a
sandbox, and values are data: a value is never evaluated as a template.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import jinja2
import markdown
from jinja2 import StrictUndefined, meta, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

Kind = Literal["text", "number", "lines"]


@dataclass(frozen=True)
class Variable:
    kind: Kind  # text: str (or int); number: int; lines: list[str]
    description: str
    # optional: may be left out (empty when it is); for variables added after messages were
    # already queued, so a retried send of one of those still renders
    optional: bool = False


_EMPTY: dict[Kind, object] = {"text": "", "number": 0, "lines": []}


@dataclass(frozen=True)
class EmailTemplateSpec:
    variables: Mapping[str, Variable]
    button: str | None = None  # the label of the HTML button that opens ``link``


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class EmailTemplateError(Exception):
    """An unknown template, a missing or mistyped variable, or a template that does not render."""


_ORGANISATION = Variable("text", "the organisation's name (header, footer, wording)")
_VERSION = Variable("text", "the document version, e.g. '3.0'")
_DEADLINE = Variable("text", "when the decision is due, formatted for people")
_SIGNER = Variable("text", "the signer's name (the CEO)")
_LEAD = Variable("text", "the ISMS lead's name")
_CYCLE = Variable("text", "the cycle id, e.g. isms-review-larkspur-2026")
_DOCUMENTS = Variable("lines", "the names of the documents")
_STAFF_DOCUMENTS = Variable(
    "lines",
    "the person's own documents, one a line: 'Title, version V (SHA-256 ...)' "
    "(every document's file name for a version signed before the documents section)",
)
_DAYS = Variable("number", "whole days since the version was sent for signature")
_LINK = Variable("text", "the personal https link (the mail activity mints it from a LinkRequest)")
_LINK_EXPIRES = Variable("text", "when the link stops working (the mail activity sets it)")
_PERSON = Variable("text", "the addressee's name, as in the staff directory")
_ACK_DEADLINE = Variable("text", "when acknowledgements are due (the campaign closes), formatted for people")
_ACKNOWLEDGED = Variable("number", "how many people in scope have acknowledged")
_TOTAL = Variable("number", "how many people are in scope (leavers excluded)")
_RATE = Variable("text", "the acknowledgement rate as a percentage with one decimal, e.g. '87.5%'")
_ROLES = Variable(
    "lines", "the person's roles, one a line: 'Title (deputy), Department, reports to Title (Name)'"
)
_LETTER = Variable("text", "the ISMS lead's appointment letter, 'Title (SHA-256 ...)'; empty for anyone else")
_ROLE_DEADLINE = Variable("text", "when role acceptance closes, formatted for people")

EMAIL_TEMPLATES: dict[str, EmailTemplateSpec] = {
    "ceo_invitation": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "signer_name": _SIGNER,
            "lead_name": _LEAD,
            "version": _VERSION,
            "documents": _DOCUMENTS,
            "change_lines": Variable("lines", "the change summary against the previous version"),
            "deadline": _DEADLINE,
            "link": _LINK,
        },
        button="Review and sign",
    ),
    "ceo_reminder": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "signer_name": _SIGNER,
            "lead_name": _LEAD,
            "version": _VERSION,
            "reminder_number": Variable("number", "1 for the first reminder, 2 for the second, ..."),
            "deadline": _DEADLINE,
            "link": _LINK,
        },
        button="Review and sign",
    ),
    # to the ISMS lead and the escalation contacts (a deputy, the board chair)
    "signature_escalation": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "signer_name": _SIGNER,
            "version": _VERSION,
            "days_waiting": _DAYS,
            "deadline": _DEADLINE,
            "documents": _DOCUMENTS,
            "cycle_id": _CYCLE,
        }
    ),
    "cycle_overdue": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "signer_name": _SIGNER,
            "version": _VERSION,
            "days_waiting": _DAYS,
            "deadline": _DEADLINE,
            "cycle_id": _CYCLE,
        }
    ),
    # to the ISMS lead
    "changes_requested": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "lead_name": _LEAD,
            "signer_name": _SIGNER,
            "version": _VERSION,
            "comment": Variable("text", "the CEO's comment, as typed (may span lines)"),
            "named_documents": Variable(
                "lines",
                "the documents the request names, 'Title (name)'; empty: the whole version",
                optional=True,
            ),
            "cycle_id": _CYCLE,
        }
    ),
    # to the CEO, from the signing page: the second factor before a signature
    "signer_code": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "signer_name": _SIGNER,
            "version": _VERSION,
            "code": Variable("text", "the six-digit one-time code"),
            "code_expires": Variable("text", "when the code stops working, formatted for people"),
        }
    ),
    # to the CEO and the ISMS lead
    "signed_confirmation": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "version": _VERSION,
            "signed_by": Variable("text", "the name the signer typed"),
            "hashes": Variable("lines", "one line per signed document: 'name: sha256'"),
            "cycle_id": _CYCLE,
        }
    ),
    "auditor_access": EmailTemplateSpec(
        {
            "organisation": Variable("text", "the organisation's short name (the archive's first key part)"),
            "issued_by": Variable("text", "who granted the access (the ISMS lead)"),
            "link": Variable("text", "the auditor portal link (the grant's token)"),
            "link_expires": Variable("text", "when the access ends, formatted for people"),
        },
        button="Open the evidence archive",
    ),
    "lead_signin": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "lead_name": _LEAD,
            "link": _LINK,
            "link_expires": Variable("text", "when the link stops working (the mail activity sets it)"),
        },
        button="Open the dashboard",
    ),
    # the acknowledgement campaign: to each person in scope
    "staff_invitation": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "person_name": _PERSON,
            "lead_name": _LEAD,
            "signer_name": _SIGNER,
            "version": _VERSION,
            "documents": _STAFF_DOCUMENTS,
            "deadline": _ACK_DEADLINE,
            "link": _LINK,
            "link_expires": _LINK_EXPIRES,
        },
        button="Read and acknowledge",
    ),
    "staff_reminder": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "person_name": _PERSON,
            "lead_name": _LEAD,
            "version": _VERSION,
            "reminder_number": Variable("number", "1 for the first reminder, 2 for the second, ..."),
            "documents": _STAFF_DOCUMENTS,
            "deadline": _ACK_DEADLINE,
            "link": _LINK,
            "link_expires": _LINK_EXPIRES,
        },
        button="Read and acknowledge",
    ),
    # to a line manager: their people who have not acknowledged yet
    "manager_digest": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "manager_name": Variable("text", "the line manager's name"),
            "version": _VERSION,
            "people": Variable("lines", "one line per person: 'Name <email> (Department)'"),
            "outstanding_count": Variable("number", "how many of the manager's people are outstanding"),
            "deadline": _ACK_DEADLINE,
            "lead_name": _LEAD,
        }
    ),
    # to the ISMS lead and the CEO
    "campaign_summary": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "version": _VERSION,
            "acknowledged": _ACKNOWLEDGED,
            "total": _TOTAL,
            "rate": _RATE,
            "departments": Variable("lines", "one line per department, e.g. 'Finance: 40 of 50 (80.0%)'"),
            "deadline": _ACK_DEADLINE,
            "cycle_id": _CYCLE,
        }
    ),
    "campaign_closed": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "version": _VERSION,
            "acknowledged": _ACKNOWLEDGED,
            "total": _TOTAL,
            "rate": _RATE,
            "target": Variable("text", "the target rate, e.g. '95%'"),
            "outcome": Variable("text", "'target met' or 'target NOT met'"),
            "non_responders": Variable("number", "how many people in scope did not acknowledge"),
            "cycle_id": _CYCLE,
            "register_key": Variable("text", "where the acknowledgement register is stored"),
            "report_key": Variable("text", "where the cycle report is stored"),
        }
    ),
    # role acceptance (workflows.role_acceptance): to each named role holder and deputy
    "role_invitation": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "person_name": _PERSON,
            "signer_name": _SIGNER,
            "lead_name": _LEAD,
            "version": _VERSION,
            "roles": _ROLES,
            "letter": _LETTER,
            "deadline": _ROLE_DEADLINE,
            "link": _LINK,
            "link_expires": _LINK_EXPIRES,
        },
        button="Read and accept your role",
    ),
    "role_reminder": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "person_name": _PERSON,
            "signer_name": _SIGNER,
            "lead_name": _LEAD,
            "version": _VERSION,
            "reminder_number": Variable("number", "1 for the first reminder, 2 for the second, ..."),
            "roles": _ROLES,
            "letter": _LETTER,
            "deadline": _ROLE_DEADLINE,
            "link": _LINK,
            "link_expires": _LINK_EXPIRES,
        },
        button="Read and accept your role",
    ),
    # to the CEO and the ISMS lead
    "role_escalation": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "signer_name": _SIGNER,
            "lead_name": _LEAD,
            "version": _VERSION,
            "people": Variable(
                "lines",
                "one line per person who has not accepted: 'Name <email>: their roles (invited ...; "
                "reminded ...)', and a decline with its reason",
            ),
            "outstanding_count": Variable("number", "how many role holders and deputies have not accepted"),
            "deadline": _ROLE_DEADLINE,
            "cycle_id": _CYCLE,
        }
    ),
    "role_declined": EmailTemplateSpec(
        {
            "organisation": _ORGANISATION,
            "signer_name": _SIGNER,
            "lead_name": _LEAD,
            "version": _VERSION,
            "person_name": Variable("text", "who declined, as in the staff directory"),
            "person_email": Variable("text", "their email address"),
            "roles": _ROLES,
            "comment": Variable("text", "their reason, as typed (may span lines)"),
            "deadline": _ROLE_DEADLINE,
            "cycle_id": _CYCLE,
        }
    ),
}

TEMPLATE_VARIABLES: dict[str, frozenset[str]] = {
    name: frozenset(spec.variables) for name, spec in EMAIL_TEMPLATES.items()
}
_REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(key for key, variable in spec.variables.items() if not variable.optional)
    for name, spec in EMAIL_TEMPLATES.items()
}


def template_names() -> list[str]:
    """Every email template, sorted."""
    return sorted(EMAIL_TEMPLATES)


def required_variables(template_name: str) -> frozenset[str]:
    """The context keys ``template_name`` needs (:class:`EmailTemplateError` if unknown): its
    variables but the optional ones."""
    return _REQUIRED[_known(template_name)]


def _known(template_name: str) -> str:
    if template_name not in EMAIL_TEMPLATES or not _NAME_RE.match(template_name):
        known = ", ".join(template_names())
        raise EmailTemplateError(f"no email template {template_name!r}; known: {known}")
    return template_name


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_SUBJECT_PREFIX = "Subject:"

# The HTML pass: each rendered value goes into this list and leaves a placeholder behind. The
# placeholder looks like an https URL so that ``<{{ link }}>`` is still a Markdown autolink,
# and it has no character Markdown treats specially (no _ * ` [ < &).
_values: ContextVar[list[str] | None] = ContextVar("isms_email_values", default=None)
_PLACEHOLDER = "https://isms-value.invalid/{index}/"
_PLACEHOLDER_RE = re.compile(r'(href=")?https://isms-value\.invalid/(\d+)/')


@pass_eval_context
def _placeholder(eval_ctx: EvalContext, value: object) -> object:
    values = _values.get()
    if values is None:
        return value
    values.append(str(value))  # str() of a StrictUndefined raises: a missing variable is an error
    return _PLACEHOLDER.format(index=len(values) - 1)


_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]


def _ordinal(number: int) -> str:
    return _ORDINALS[number - 1] if 1 <= number <= len(_ORDINALS) else f"number {number}"


def _days(number: int) -> str:
    return "1 day" if number == 1 else f"{number} days"


def _environment(*, html_pass: bool) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,  # the output is Markdown; the HTML pass escapes values itself
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_placeholder if html_pass else None,
    )
    environment.filters["ordinal"] = _ordinal
    environment.filters["days"] = _days
    return environment


_TEXT_ENV = _environment(html_pass=False)
_HTML_ENV = _environment(html_pass=True)


@dataclass(frozen=True)
class _Compiled:
    subject: jinja2.Template
    text_body: jinja2.Template
    html_body: jinja2.Template


def template_source(template_name: str) -> str:
    """The raw text of ``doc_templates/emails/<template_name>.md``."""
    _known(template_name)
    path = resources.files("doc_templates").joinpath("emails", f"{template_name}.md")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EmailTemplateError(f"email template file {template_name}.md is missing") from exc


def _split(template_name: str, source: str) -> tuple[str, str]:
    first, _, body = source.partition("\n")
    if not first.startswith(_SUBJECT_PREFIX):
        raise EmailTemplateError(f"email template {template_name}.md must start with 'Subject: ...'")
    return first.removeprefix(_SUBJECT_PREFIX).strip(), body.lstrip("\n")


@cache
def _compiled(template_name: str) -> _Compiled:
    subject, body = _split(template_name, template_source(template_name))
    try:
        return _Compiled(
            subject=_TEXT_ENV.from_string(subject),
            text_body=_TEXT_ENV.from_string(body),
            html_body=_HTML_ENV.from_string(body),
        )
    except jinja2.TemplateSyntaxError as exc:
        raise EmailTemplateError(f"email template {template_name}.md line {exc.lineno}: {exc}") from exc


def used_variables(template_name: str) -> frozenset[str]:
    """The variables the template file actually uses (a test checks they are the declared ones)."""
    subject, body = _split(template_name, template_source(template_name))
    used: set[str] = set()
    for source in (subject, body):
        used |= meta.find_undeclared_variables(_TEXT_ENV.parse(source))
    return frozenset(used)


def _check_context(template_name: str, spec: EmailTemplateSpec, context: Mapping[str, object]) -> None:
    missing = sorted(name for name, variable in spec.variables.items() if not variable.optional)
    missing = sorted(set(missing) - set(context))
    if missing:
        raise EmailTemplateError(
            f"email template {template_name!r} needs: {', '.join(missing)} "
            f"(the context has no value for {'it' if len(missing) == 1 else 'them'})"
        )
    for name, variable in spec.variables.items():
        if name not in context:  # an optional variable left out
            continue
        value = context[name]
        if variable.kind == "lines":
            ok = isinstance(value, list) and all(isinstance(line, str) for line in value)
        elif variable.kind == "number":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str | int) and not isinstance(value, bool)
        if not ok:
            raise EmailTemplateError(
                f"email template {template_name!r}: {name} must be {variable.kind} "
                f"({variable.description}), got {type(value).__name__}"
            )
    if spec.button is not None:
        link = str(context["link"])
        if not link.startswith(("https://", "http://")):
            raise EmailTemplateError(f"email template {template_name!r}: link must be an http(s) URL")


def _substitute(rendered_html: str, values: list[str], *, link: str | None) -> str:
    """Put each value, HTML-escaped, where its placeholder is; the trusted ``link`` is clickable."""

    def replace(match: re.Match[str]) -> str:
        value = values[int(match.group(2))]
        if match.group(1):  # inside href="...": only a web address may go there
            safe = value if value.startswith(("https://", "http://", "mailto:")) else "#"
            return f'href="{html.escape(safe, quote=True)}'
        escaped = html.escape(value, quote=True)
        if link is not None and value == link:  # the link the activity minted, on a line of its own
            return f'<a style="color:#1f4e79;word-break:break-all;" href="{escaped}">{escaped}</a>'
        return escaped.replace("\n", "<br>\n")

    return _PLACEHOLDER_RE.sub(replace, rendered_html)


_FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
_MONO = "font-family:Consolas,Menlo,'Courier New',monospace;font-size:13px;"
_INLINE_STYLES = {
    "<p>": '<p style="margin:0 0 16px 0;">',
    "<ul>": '<ul style="margin:0 0 16px 0;padding-left:24px;">',
    "<ol>": '<ol style="margin:0 0 16px 0;padding-left:24px;">',
    "<li>": '<li style="margin:0 0 6px 0;">',
    "<h2>": '<h2 style="margin:0 0 12px 0;font-size:18px;color:#1f3a5f;">',
    "<h3>": '<h3 style="margin:0 0 8px 0;font-size:16px;color:#1f3a5f;">',
    "<blockquote>": (
        '<blockquote style="margin:0 0 16px 0;padding:8px 16px;border-left:4px solid #c8d1dc;'
        'color:#3d4752;background-color:#f6f8fa;">'
    ),
    "<pre>": (
        f'<pre style="margin:0 0 16px 0;padding:10px 12px;background-color:#f3f4f6;{_MONO}'
        'white-space:pre-wrap;border-radius:4px;">'
    ),
    "<code>": f'<code style="{_MONO}background-color:#f3f4f6;padding:1px 4px;word-break:break-all;">',
    "<a href=": '<a style="color:#1f4e79;" href=',
}
_INLINE_STYLE_RE = re.compile("|".join(re.escape(tag) for tag in _INLINE_STYLES))

_LAYOUT = jinja2.Environment(autoescape=True, undefined=StrictUndefined).from_string(
    """<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ subject }}</title>
</head>
<body style="margin:0;padding:0;background-color:#f0f2f5;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="background-color:#f0f2f5;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="max-width:600px;background-color:#ffffff;border:1px solid #dde2e8;border-radius:6px;">
<tr><td style="padding:20px 32px;border-bottom:3px solid #1f4e79;{{ font }}font-size:18px;\
font-weight:bold;color:#1f4e79;">{{ organisation }}</td></tr>
<tr><td style="padding:24px 32px 8px 32px;{{ font }}font-size:15px;line-height:1.55;color:#24292f;">
{{ body }}
{% if button %}
<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:8px 0 24px 0;">
<tr><td align="center" bgcolor="#1f4e79" style="border-radius:4px;background-color:#1f4e79;">\
<a href="{{ link }}" style="display:inline-block;padding:12px 28px;{{ font }}font-size:16px;\
font-weight:bold;color:#ffffff;text-decoration:none;border-radius:4px;">{{ button }}</a></td></tr>
</table>
{% endif %}
</td></tr>
<tr><td style="padding:16px 32px;border-top:1px solid #dde2e8;{{ font }}font-size:12px;color:#6a737d;">\
Sent by isms-cycle for {{ organisation }}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
)


def _markdown_to_html(body: str) -> str:
    converted = markdown.markdown(body, output_format="html")
    return _INLINE_STYLE_RE.sub(lambda match: _INLINE_STYLES[match.group(0)], converted)


def render_email_template(*, template_name: str, context: Mapping[str, object]) -> RenderedEmail:
    """Render ``doc_templates/emails/<template_name>.md`` with ``context``.

    Raises :class:`EmailTemplateError` for an unknown template and for a missing, mistyped or
    undeclared variable. Extra context keys are ignored.
    """
    spec = EMAIL_TEMPLATES.get(template_name)
    compiled = _compiled(template_name)  # raises for an unknown name first
    assert spec is not None
    _check_context(template_name, spec, context)
    empty = {name: _EMPTY[v.kind] for name, v in spec.variables.items() if v.optional and name not in context}
    context = {**empty, **context}
    values: list[str] = []
    token = _values.set(values)
    try:
        subject = " ".join(compiled.subject.render(context).split())  # one header line, always
        _values.set(None)
        text_body = compiled.text_body.render(context)
        _values.set(values)
        html_body = compiled.html_body.render(context)
    except jinja2.UndefinedError as exc:
        raise EmailTemplateError(f"email template {template_name!r}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise EmailTemplateError(f"email template {template_name!r} does not render: {exc}") from exc
    finally:
        _values.reset(token)
    if not subject:
        raise EmailTemplateError(f"email template {template_name!r} rendered an empty subject")
    organisation = str(context["organisation"])
    text = f"{text_body.strip()}\n\n-- \nSent by isms-cycle for {organisation}\n"
    link = str(context["link"]) if "link" in spec.variables else None
    body_html = _substitute(_markdown_to_html(html_body), values, link=link)
    page = _LAYOUT.render(
        subject=subject,
        organisation=organisation,
        body=Markup(body_html),  # noqa: S704 - values in it were escaped by _substitute
        button=spec.button,
        link=link or "",
        font=Markup(_FONT),  # noqa: S704 - a constant
    )
    return RenderedEmail(subject=subject, text=text, html=page)
