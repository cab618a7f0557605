"""Send one email, at most once per key, with a personal link minted inside the activity.

A marker object per key in the drafts bucket (``<prefix>mail/sent/<sha256 of key>.json``) is
checked before sending and written inside the SMTP transaction, after the server took the
recipients and the content and before the final dot that makes it deliver (adapters.smtp.
send_committed), so a retried activity or a restarted worker does not send the message again.
The window left is the server's handling of that final dot (milliseconds): a crash exactly
there can lose or repeat one message; the Message-ID, derived from the key, lets mail systems
and people recognise a repeat.

Logs carry the key and the number of recipients: never a body, a link or a secret.
"""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parseaddr
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.s3 import object_exists
from adapters.smtp import open_smtp, send_committed
from core.contract import Failure
from core.email_templates import EmailTemplateError, render_email_template
from core.hashing import sha256_bytes
from core.mail_message import build_message, message_id_for
from core.settings import Settings
from core.tokens import issue_link, link_url
from models.mail import LinkRequest, SendEmailInput, SendEmailResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Error types a workflow can name in its retry policy: retrying cannot fix any of them.
RECIPIENT_REFUSED = Failure.RECIPIENT_REFUSED
TEMPLATE_ERROR = Failure.TEMPLATE_ERROR
INVALID_ADDRESS = Failure.INVALID_ADDRESS
SEND_EMAIL_NON_RETRYABLE: list[str] = [RECIPIENT_REFUSED, TEMPLATE_ERROR, INVALID_ADDRESS]


def link_context(settings: Settings, request: LinkRequest) -> dict[str, object]:
    """``link`` and ``link_expires`` for a template: a fresh token, minted here and never logged.

    Minted inside the activity so the bearer token never enters workflow history.
    """
    now = datetime.now(UTC)
    ttl = timedelta(days=settings.link_ttl_days)
    token = issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id=request.cycle_id,
        person=request.person,
        role=request.role,
        version_hash=request.version_hash,
        ttl=ttl,
        now=now,
    )
    return {
        "link": link_url(settings.public_base_url, request.path, token),
        "link_expires": (now + ttl).strftime("%d %B %Y, %H:%M UTC"),
    }


def compose_message(
    settings: Settings,
    *,
    key: str,
    template: str,
    to: list[str],
    cc: list[str] | None = None,
    context: dict[str, object],
) -> Message:
    """The email with ``key`` (Message-ID derived from it), rendered from ``template``.

    Raises a non-retryable ``EmailTemplateError`` for a template that cannot render.
    """
    try:
        rendered = render_email_template(template_name=template, context=context)
    except EmailTemplateError as exc:
        raise ApplicationError(str(exc), type=TEMPLATE_ERROR, non_retryable=True) from exc
    return build_message(settings, key=key, to=to, cc=cc, rendered=rendered)


def check_address(address: str) -> None:
    _, parsed = parseaddr(address)
    local, _, domain = parsed.partition("@")
    if not local or not domain or parsed != address.strip() or any(c in address for c in "\r\n,"):
        raise ApplicationError(
            f"not a single email address: {address!r}", type=INVALID_ADDRESS, non_retryable=True
        )


class MailActivities:
    """Holds the settings (SMTP, link secret) and the S3 client that keeps the sent markers."""

    def __init__(self, *, settings: Settings, s3: S3Client) -> None:
        self._settings = settings
        self._s3 = s3

    def _marker_key(self, digest: str) -> str:
        return f"{self._settings.drafts_prefix}mail/sent/{digest}.json"

    def _already_sent(self, marker: str) -> bool:
        return object_exists(self._s3, self._settings.drafts_bucket, marker)

    def _message(self, data: SendEmailInput, message_id: str) -> Message:
        context: dict[str, object] = dict(data.context)
        if data.link is not None:
            context.update(link_context(self._settings, data.link))
        return compose_message(
            self._settings, key=data.key, template=data.template, to=data.to, cc=data.cc, context=context
        )

    def _write_marker(
        self, marker: str, *, data: SendEmailInput, message_id: str, refused: list[str]
    ) -> None:
        record = {
            "key": data.key,
            "message_id": message_id,
            "template": data.template,
            "to": data.to,
            "cc": data.cc,
            "refused": refused,
            "sent_at": datetime.now(UTC).isoformat(),
        }
        self._s3.put_object(
            Bucket=self._settings.drafts_bucket,
            Key=marker,
            Body=json.dumps(record, indent=2).encode(),
            ContentType="application/json",
        )

    @activity.defn
    def send_email(self, data: SendEmailInput) -> SendEmailResult:
        """Render and send one email unless its key was sent before.

        Non-retryable: ``RecipientRefused`` (the server refused every recipient),
        ``EmailTemplateError`` (unknown template, missing or mistyped variable) and
        ``InvalidAddress``. SMTP and S3 outages raise ordinary errors, so Temporal retries them.
        Runs on the worker's thread pool (smtplib and boto3 block).
        """
        digest = sha256_bytes(data.key.encode())
        message_id = message_id_for(data.key)
        marker = self._marker_key(digest)
        if self._already_sent(marker):
            activity.logger.info("email %s was already sent; not sending again", data.key)
            return SendEmailResult(key=data.key, message_id=message_id, sent=False)
        recipients = [*data.to, *data.cc]
        for address in recipients:
            check_address(address)
        message = self._message(data, message_id)

        def commit(refused: dict[str, tuple[int, bytes]]) -> None:
            self._write_marker(marker, data=data, message_id=message_id, refused=sorted(refused))

        def rollback() -> None:
            self._s3.delete_object(Bucket=self._settings.drafts_bucket, Key=marker)

        try:
            with open_smtp(self._settings) as smtp:
                # the marker is written inside the SMTP transaction, before its final dot
                refused = send_committed(smtp, message, to_addrs=recipients, commit=commit, rollback=rollback)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ApplicationError(
                f"the mail server refused every recipient: {', '.join(sorted(exc.recipients))}",
                type=RECIPIENT_REFUSED,
                non_retryable=True,
            ) from exc
        if refused:
            activity.logger.warning("email %s: %d recipient(s) refused", data.key, len(refused))
        activity.logger.info("sent email %s to %d recipient(s)", data.key, len(recipients) - len(refused))
        return SendEmailResult(key=data.key, message_id=message_id, sent=True)
