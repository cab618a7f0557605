"""The mail activity on the real SMTP sink and real S3: sent once per key, links minted inside."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from botocore.exceptions import ClientError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mail import INVALID_ADDRESS, RECIPIENT_REFUSED, TEMPLATE_ERROR, MailActivities
from adapters.s3 import make_s3_client
from core.hashing import sha256_bytes
from core.settings import Settings
from core.tokens import read_link
from devstack.mailsink import read_mailbox
from devstack.ports import find_free_ports
from models.links import LinkClaims, LinkRole
from models.mail import LinkRequest, SendEmailInput, SendEmailResult
from tests.conftest import SmtpSink

CEO = "eleanor.marsh@larkspur.example"
LEAD = "ravi.chandran@larkspur.example"
VERSION_HASH = "f" * 64
HOSTILE = "<script>alert(1)</script> **x** {{ 7*7 }}"
CONTEXT: dict[str, str | int | list[str]] = {
    "organisation": "Larkspur Analytics Ltd",
    "cycle_id": "isms-review-larkspur-2026",
    "version": "3.0",
    "documents": ["information-security-policy.docx", "isms-roles-responsibilities.docx"],
    "signer_name": "Eleanor Marsh",
    "lead_name": "Ravi Chandran",
    "deadline": "7 December 2026",
    "change_lines": ["Scope: the Leeds office added"],
    "reminder_number": 1,
    "days_waiting": 14,
}


def _invitation(key: str, **context: str | int | list[str]) -> SendEmailInput:
    return SendEmailInput(
        key=key,
        template="ceo_invitation",
        to=[CEO],
        cc=[LEAD],
        context={**CONTEXT, **context},
        link=LinkRequest(
            cycle_id="isms-review-larkspur-2026",
            person=CEO,
            role=LinkRole.SIGNER,
            version_hash=VERSION_HASH,
            path="sign",
        ),
    )


def _with_key(sink: SmtpSink, key: str) -> list[EmailMessage]:
    return [m for m in read_mailbox(sink.maildir) if m["X-Isms-Key"] == key]


async def _send(mail: MailActivities, request: SendEmailInput) -> SendEmailResult:
    # a plain (thread-pool) activity, as the worker runs it
    return await asyncio.to_thread(ActivityEnvironment().run, mail.send_email, request)


def _marker(settings: Settings, key: str) -> dict[str, Any] | None:
    s3 = make_s3_client(settings)
    marker = f"{settings.drafts_prefix}mail/sent/{sha256_bytes(key.encode())}.json"
    try:
        body = s3.get_object(Bucket=settings.drafts_bucket, Key=marker)["Body"].read()
    except ClientError:
        return None
    record: dict[str, Any] = json.loads(body)
    return record


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    page = message.get_body(preferencelist=("html",))
    assert text is not None
    assert page is not None
    return text.get_content(), page.get_content()


@pytest.fixture
def mail(settings: Settings) -> MailActivities:
    return MailActivities(settings=settings, s3=make_s3_client(settings))


async def test_invitation_arrives_once_with_both_parts_and_a_working_link(
    mail: MailActivities, settings: Settings, smtp_sink: SmtpSink
) -> None:
    key = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}/round-1/invitation"
    first = await _send(mail, _invitation(key))
    assert first.sent is True
    assert first.message_id == f"<{sha256_bytes(key.encode())[:32]}@isms-cycle>"

    second = await _send(mail, _invitation(key))
    assert second.sent is False
    assert second.message_id == first.message_id
    (message,) = _with_key(smtp_sink, key)  # the retry sent nothing

    assert message["Message-ID"] == first.message_id
    assert message["X-Isms-Key"] == key
    assert message["From"] == settings.smtp_sender
    assert message["To"] == CEO
    assert message["Cc"] == LEAD
    assert message["Date"] is not None
    assert message["X-Envelope-To"] == f"{CEO}, {LEAD}"
    assert message["Subject"] == (
        "Please review and sign: Larkspur Analytics Ltd Information Security Policy, version 3.0"
    )
    text, page = _parts(message)
    assert "Scope: the Leeds office added" in text
    assert "Sent by isms-cycle for Larkspur Analytics Ltd" in page

    token = text.split(f"{settings.public_base_url}/sign/", 1)[1].split()[0]
    assert f'href="{settings.public_base_url}/sign/{token}"' in page
    claims = read_link(
        settings.link_secret.get_secret_value(),
        token,
        expected_role=LinkRole.SIGNER,
        now=datetime.now(UTC),
        current_version_hash=VERSION_HASH,
    )
    assert isinstance(claims, LinkClaims)
    assert claims.person == CEO
    assert claims.cycle_id == "isms-review-larkspur-2026"

    marker = _marker(settings, key)
    assert marker is not None
    assert marker["key"] == key
    assert marker["message_id"] == first.message_id
    assert marker["to"] == [CEO]
    assert marker["cc"] == [LEAD]
    assert datetime.fromisoformat(marker["sent_at"]).utcoffset() is not None
    assert token not in json.dumps(marker)  # the bearer token is not kept


async def test_hostile_values_arrive_literal_in_text_and_escaped_in_html(
    mail: MailActivities, smtp_sink: SmtpSink
) -> None:
    key = f"hostile-{uuid.uuid4()}"
    await _send(mail, _invitation(key, signer_name=HOSTILE, change_lines=[HOSTILE]))
    (message,) = _with_key(smtp_sink, key)
    text, page = _parts(message)
    assert text.count(HOSTILE) == 2
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt; **x** {{ 7*7 }}") == 2
    assert "<strong>x</strong>" not in page
    # an evaluated value would read "... x** 49": not a bare "49", which a random link token can contain
    assert "x** 49" not in page + text
    assert "</strong> 49" not in page


async def test_template_errors_are_not_retried_and_send_nothing(
    mail: MailActivities, settings: Settings, smtp_sink: SmtpSink
) -> None:
    key = f"bad-template-{uuid.uuid4()}"
    for request in (
        SendEmailInput(key=key, template="ceo_reminder", to=[CEO], context={}),
        SendEmailInput(key=key, template="no_such_template", to=[CEO], context=CONTEXT),
    ):
        with pytest.raises(ApplicationError) as caught:
            await _send(mail, request)
        assert caught.value.type == TEMPLATE_ERROR
        assert caught.value.non_retryable
    assert _with_key(smtp_sink, key) == []
    assert _marker(settings, key) is None


async def test_a_malformed_address_is_not_retried(mail: MailActivities, smtp_sink: SmtpSink) -> None:
    key = f"bad-address-{uuid.uuid4()}"
    request = SendEmailInput(
        key=key, template="cycle_overdue", to=["ceo@larkspur.example\r\nBcc: x@evil.example"], context=CONTEXT
    )
    with pytest.raises(ApplicationError) as caught:
        await _send(mail, request)
    assert caught.value.type == INVALID_ADDRESS
    assert caught.value.non_retryable
    assert _with_key(smtp_sink, key) == []


class _RefuseEveryRecipient:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        return "550 5.1.1 no such mailbox"


@pytest.fixture
def refusing_smtp() -> Iterator[int]:
    (port,) = find_free_ports(1)
    controller = Controller(_RefuseEveryRecipient(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    yield port
    controller.stop()


async def test_every_recipient_refused_is_not_retried(settings: Settings, refusing_smtp: int) -> None:
    refusing = settings.model_copy(update={"smtp_port": refusing_smtp})
    mail = MailActivities(settings=refusing, s3=make_s3_client(refusing))
    key = f"refused-{uuid.uuid4()}"
    request = SendEmailInput(
        key=key, template="cycle_overdue", to=["nobody@larkspur.example"], context=CONTEXT
    )
    with pytest.raises(ApplicationError) as caught:
        await _send(mail, request)
    assert caught.value.type == RECIPIENT_REFUSED
    assert caught.value.non_retryable
    assert "nobody@larkspur.example" in str(caught.value)
    assert _marker(settings, key) is None


async def test_smtp_down_is_a_retryable_failure_and_sends_nothing(
    mail: MailActivities, settings: Settings, smtp_sink: SmtpSink
) -> None:
    down = settings.model_copy(update={"smtp_port": find_free_ports(1)[0]})  # nothing listens there
    key = f"down-{uuid.uuid4()}"
    request = SendEmailInput(key=key, template="cycle_overdue", to=[LEAD], context=CONTEXT)
    with pytest.raises(ConnectionRefusedError) as caught:  # not an ApplicationError: Temporal retries
        await _send(MailActivities(settings=down, s3=make_s3_client(down)), request)
    assert not isinstance(caught.value, ApplicationError)
    assert _with_key(smtp_sink, key) == []
    assert _marker(settings, key) is None

    assert (await _send(mail, request)).sent is True  # once SMTP is back
    assert len(_with_key(smtp_sink, key)) == 1
