"""A campaign step's emails: rendered once with stand-ins for the personal values, then by substitution.

>>> renderer = StepRenderer("staff_invitation", shared_context)
>>> message = campaign_message(settings, renderer, recipient, batch_id=..., version_hash=...)
"""

from __future__ import annotations

import html
import secrets
from email.message import Message

from core.email_templates import RenderedEmail, render_email_template
from core.mail_message import build_message, check_address, link_context
from core.settings import Settings
from models.campaign import CampaignMailRecipient
from models.links import LinkRole
from models.mail import LinkRequest


class StepRenderer:
    """Renders one step's emails: once with stand-ins for the personal values, then by substitution.

    Rendering Markdown through Jinja2 for every one of thousands of people is most of a
    campaign's CPU. Personal values (a name, the link) are plain text in every template, so the
    step is rendered once with inert stand-ins and each email replaces them. It is exact only
    for values the HTML pass leaves unchanged: a value that needs escaping (an apostrophe, an
    ampersand, a line break) or is not text gets a full render, and so does every email when
    the first one's full render differs from its substituted one.
    """

    def __init__(self, template: str, shared: dict[str, object]) -> None:
        self._template = template
        self._shared = shared
        self._stand_ins: dict[str, str] = {}
        self._rendered: RenderedEmail | None = None
        self._checked = False
        self._usable = True

    @staticmethod
    def _plain(value: object) -> bool:
        if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
            return False
        return value == html.escape(value, quote=True)

    def _full(self, personal: dict[str, object]) -> RenderedEmail:
        return render_email_template(template_name=self._template, context={**self._shared, **personal})

    def render(self, personal: dict[str, object]) -> RenderedEmail:
        """The email for one person; raises ``EmailTemplateError`` as a full render would."""
        if not self._usable or not all(self._plain(value) for value in personal.values()):
            return self._full(personal)
        if self._rendered is None or set(self._stand_ins) != set(personal):
            marker = secrets.token_hex(8)
            self._stand_ins = {
                name: f"https://standin.invalid/{marker}{number}"
                if name == "link"
                else f"Zstandin{marker}n{number}Z"
                for number, name in enumerate(sorted(personal))
            }
            self._rendered = self._full(dict(self._stand_ins))
            self._checked = False
        fast = self._substitute(self._rendered, personal)
        if not self._checked:
            self._checked = True
            if fast != self._full(personal):
                self._usable = False
                return self._full(personal)
        return fast

    def _substitute(self, rendered: RenderedEmail, personal: dict[str, object]) -> RenderedEmail:
        subject, text, body = rendered.subject, rendered.text, rendered.html
        for name, stand_in in self._stand_ins.items():
            value = str(personal[name])
            subject, text, body = (
                subject.replace(stand_in, value),
                text.replace(stand_in, value),
                body.replace(stand_in, value),
            )
        return RenderedEmail(subject=subject, text=text, html=body)


def campaign_message(
    settings: Settings,
    renderer: StepRenderer,
    recipient: CampaignMailRecipient,
    *,
    batch_id: str,
    version_hash: str | None,
) -> Message:
    """One person's email of a step, with a fresh staff link bound to the batch when asked for.

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
        )
        personal.update(link_context(settings, link))
    return build_message(settings, key=recipient.key, to=[recipient.to], rendered=renderer.render(personal))
