"""Emails: what to send, to whom, and the key that makes a retried send a no-op."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SendEmailInput(BaseModel):
    """One email rendered from ``doc_templates/emails/<template>.md``.

    ``key`` identifies the message for good: cycle, person, purpose and step (never the
    attempt number). The same key is sent at most once, however often the activity retries.
    """

    key: str = Field(min_length=1)
    template: str
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    context: dict[str, str | int | list[str]] = Field(default_factory=dict)


class SendEmailResult(BaseModel):
    key: str
    message_id: str
    sent: bool  # False when an earlier attempt had already sent it
