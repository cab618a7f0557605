"""A campaign step's emails: rendered once with stand-ins for the personal values, then by substitution.

>>> renderer = StepRenderer("staff_invitation", shared_context)
>>> message = campaign_message(settings, renderer, recipient, batch_id=..., version_hash=...)
"""

from __future__ import annotations

import html
import secrets
from email.message import Message
from typing import TypeGuard

from core.email_templates import RenderedEmail, render_email_template
from core.mail_message import build_message, check_address, link_context
from core.settings import Settings
from models.campaign import CampaignMailRecipient
from models.links import LinkRole
from models.mail import LinkRequest


class _Substitution:
    """One rendering with inert stand-ins for the personal text values, then substitution."""

    def __init__(self, template: str, shared: dict[str, object]) -> None:
        self._template = template
        self._shared = shared
        self._stand_ins: dict[str, str] = {}
        self._rendered: RenderedEmail | None = None
        self._checked = False
        self.usable = True

    def full(self, personal: dict[str, object]) -> RenderedEmail:
        return render_email_template(template_name=self._template, context={**self._shared, **personal})

    def render(self, personal: dict[str, str]) -> RenderedEmail:
        if not self.usable:
            return self.full(dict(personal))
        if self._rendered is None or set(self._stand_ins) != set(personal):
            marker = secrets.token_hex(8)
            self._stand_ins = {
                name: f"https://standin.invalid/{marker}{number}"
                if name == "link"
                else f"Zstandin{marker}n{number}Z"
                for number, name in enumerate(sorted(personal))
            }
            self._rendered = self.full(dict(self._stand_ins))
            self._checked = False
        fast = self._substitute(self._rendered, personal)
        if not self._checked:
            self._checked = True
            if fast != self.full(dict(personal)):
                self.usable = False
                return self.full(dict(personal))
        return fast

    def _substitute(self, rendered: RenderedEmail, personal: dict[str, str]) -> RenderedEmail:
        subject, text, body = rendered.subject, rendered.text, rendered.html
        for name, stand_in in self._stand_ins.items():
            value = personal[name]
            subject, text, body = (
                subject.replace(stand_in, value),
                text.replace(stand_in, value),
                body.replace(stand_in, value),
            )
        return RenderedEmail(subject=subject, text=text, html=body)


_Group = tuple[tuple[str, tuple[str, ...]], ...]


class StepRenderer:
    """Renders one step's emails: once with stand-ins for the personal values, then by substitution.

    Rendering Markdown through Jinja2 for every one of thousands of people is most of a
    campaign's CPU. Personal values (a name, the link) are plain text in every template, so the
    step is rendered once with inert stand-ins and each email replaces them. It is exact only
    for values the HTML pass leaves unchanged: a value that needs escaping (an apostrophe, an
    ampersand, a line break) or is not text gets a full render, and so does every email when
    the first one's full render differs from its substituted one.

    A personal list of lines (the documents a person acknowledges) is rendered, not
    substituted: people with the same lines share one rendering, made once a second person
    with them turns up (a list seen once, such as a manager's team, just gets a full render).
    """

    MAX_GROUPS = 64  # distinct sets of lines kept at once; beyond that, full renders

    def __init__(self, template: str, shared: dict[str, object]) -> None:
        self._template = template
        self._shared = shared
        self._groups: dict[_Group, _Substitution] = {}
        self._seen: set[_Group] = set()

    @staticmethod
    def _plain(value: object) -> bool:
        if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
            return False
        return value == html.escape(value, quote=True)

    @staticmethod
    def _lines(value: object) -> TypeGuard[list[str]]:
        return isinstance(value, list) and all(isinstance(line, str) for line in value)

    def _full(self, personal: dict[str, object]) -> RenderedEmail:
        return render_email_template(template_name=self._template, context={**self._shared, **personal})

    def render(self, personal: dict[str, object]) -> RenderedEmail:
        """The email for one person; raises ``EmailTemplateError`` as a full render would."""
        lines: dict[str, list[str]] = {}
        texts: dict[str, str] = {}
        for name, value in personal.items():
            if self._lines(value):
                lines[name] = value
            elif self._plain(value):
                texts[name] = str(value)
            else:
                return self._full(personal)
        group: _Group = tuple(sorted((name, tuple(value)) for name, value in lines.items()))
        substitution = self._groups.get(group)
        if substitution is None:
            if group and (group not in self._seen or len(self._groups) >= self.MAX_GROUPS):
                self._seen.add(group)
                return self._full(personal)
            substitution = _Substitution(self._template, {**self._shared, **lines})
            self._groups[group] = substitution
        return substitution.render(texts)


def campaign_message(
    settings: Settings,
    renderer: StepRenderer,
    recipient: CampaignMailRecipient,
    *,
    batch_id: str,
    version_hash: str | None,
) -> Message:
    """One person's email of a step, with a fresh staff link bound to the batch when asked for
    (numbered ``recipient.link_sequence``: the batch accepts only the newest link it sent).

    Raises ``InvalidAddressError`` and ``EmailTemplateError`` (core.mail_message, core.email_templates).
    """
    check_address(recipient.to)
    personal: dict[str, object] = dict(recipient.context)
    if recipient.link_for is not None:
        link = LinkRequest(
            cycle_id=batch_id,
            person=recipient.link_for,
            role=LinkRole.STAFF,
            version_hash=version_hash,
            path="ack",
            sequence=recipient.link_sequence,
        )
        personal.update(link_context(settings, link))
    return build_message(settings, key=recipient.key, to=[recipient.to], rendered=renderer.render(personal))
