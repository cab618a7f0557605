"""Send one email, at least once per key, with a personal link minted inside the activity.

The protocol is adapters.mail_delivery's: a pending marker before the SMTP transaction's final
dot, a sent marker after the server's 250. A retry skips a key with a sent marker and sends
any other again with the same Message-ID, so a worker killed inside that window leads to a
recognisable repeat (``repeat`` in the result), never to a message recorded but not sent.

Logs carry the key and the number of recipients: never a body, a link or a secret.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.mail_delivery import EmailMarkers
from core.contract import Failure
from core.email_templates import EmailTemplateError
from core.mail_message import InvalidAddressError, check_address, compose_message, link_context
from core.settings import Settings
from models.mail import SendEmailInput, SendEmailResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Error types a workflow can name in its retry policy: retrying cannot fix any of them.
RECIPIENT_REFUSED = Failure.RECIPIENT_REFUSED
TEMPLATE_ERROR = Failure.TEMPLATE_ERROR
INVALID_ADDRESS = Failure.INVALID_ADDRESS
SEND_EMAIL_NON_RETRYABLE: list[str] = [RECIPIENT_REFUSED, TEMPLATE_ERROR, INVALID_ADDRESS]


@contextmanager
def mail_errors() -> Iterator[None]:
    """The refusals retrying cannot fix, raised as the non-retryable errors workflows name."""
    try:
        yield
    except InvalidAddressError as exc:
        raise ApplicationError(str(exc), type=INVALID_ADDRESS, non_retryable=True) from exc
    except EmailTemplateError as exc:
        raise ApplicationError(str(exc), type=TEMPLATE_ERROR, non_retryable=True) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise ApplicationError(
            f"the mail server refused every recipient: {', '.join(sorted(exc.recipients))}",
            type=RECIPIENT_REFUSED,
            non_retryable=True,
        ) from exc


class MailActivities:
    """Holds the settings (SMTP, link secret) and the S3 client that keeps the markers."""

    def __init__(self, *, settings: Settings, s3: S3Client) -> None:
        self._settings = settings
        self._markers = EmailMarkers(s3, settings)

    def _message(self, data: SendEmailInput) -> Message:
        for address in [*data.to, *data.cc]:
            check_address(address)
        context: dict[str, object] = dict(data.context)
        if data.link is not None:
            context.update(link_context(self._settings, data.link))
        return compose_message(
            self._settings, key=data.key, template=data.template, to=data.to, cc=data.cc, context=context
        )

    @activity.defn
    def send_email(self, data: SendEmailInput) -> SendEmailResult:
        """Render and send one email unless the server's acceptance of its key is on record.

        Non-retryable: ``RecipientRefused`` (the server refused every recipient),
        ``EmailTemplateError`` (unknown template, missing or mistyped variable) and
        ``InvalidAddress``. SMTP and S3 outages raise ordinary errors, so Temporal retries them.
        Runs on the worker's thread pool (smtplib and boto3 block).
        """
        recipients = [*data.to, *data.cc]
        record = {"template": data.template, "to": data.to, "cc": data.cc}
        with mail_errors():
            delivered = self._markers.deliver(
                self._settings,
                lambda: self._message(data),
                key=data.key,
                recipients=recipients,
                record=record,
            )
        if not delivered.sent:
            activity.logger.info("email %s was already sent; not sending again", data.key)
        else:
            if delivered.refused:
                activity.logger.warning("email %s: %d recipient(s) refused", data.key, len(delivered.refused))
            activity.logger.info(
                "sent email %s to %d recipient(s)%s",
                data.key,
                len(recipients) - len(delivered.refused),
                " again: an earlier attempt reached the final dot unconfirmed" if delivered.repeat else "",
            )
        return SendEmailResult(
            key=data.key, message_id=delivered.message_id, sent=delivered.sent, repeat=delivered.repeat
        )
