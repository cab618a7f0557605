"""Emails: what to send, to whom, and the key that makes a retried send skip what was accepted."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.links import LinkRole


class LinkRequest(BaseModel):
    """A personal link the mail activity mints and puts in the context as ``link``.

    Tokens are bearer credentials: they are made inside the activity so they never enter
    workflow history, and each email gets a fresh one (a new nonce, the same claims).
    """

    cycle_id: str
    person: str
    role: LinkRole
    version_hash: str | None
    path: str  # the web app's route, e.g. "sign" -> <public_base_url>/sign/<token>
    # which email of the person's carries this link (0 the first, then 1, 2, ...): the workflow
    # that sends it accepts only the newest link it sent (requests from before this read as 0)
    sequence: int = Field(0, ge=0)


class SendEmailInput(BaseModel):
    """One email rendered from ``doc_templates/emails/<template>.md``.

    ``key`` identifies the message for good: cycle, person, purpose and step (never the
    attempt number). The same key is sent until the server has accepted it once; a second
    copy (same Message-ID) only when an attempt died between the final dot and the record of
    the server's reply (adapters.mail_delivery).
    """

    key: str = Field(min_length=1)
    template: str
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    context: dict[str, str | int | list[str]] = Field(default_factory=dict)
    link: LinkRequest | None = None


class SendEmailResult(BaseModel):
    key: str
    message_id: str
    sent: bool  # False when an earlier attempt had already sent it
    # sent again after an attempt that reached the final dot unconfirmed: maybe a repeat
    repeat: bool = False
