"""The SMTP sink is a real server: a message sent over SMTP arrives as an .eml file."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import TYPE_CHECKING

from adapters.smtp import open_smtp
from core.settings import Settings
from devstack.mailsink import read_mailbox

if TYPE_CHECKING:
    from tests.conftest import SmtpSink


def test_message_sent_over_smtp_arrives_in_the_sink(settings: Settings, smtp_sink: SmtpSink) -> None:
    subject = f"Please sign the Information Security Policy {uuid.uuid4()}"
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = "ceo@example.test"
    message["Subject"] = subject
    message.set_content("Plain text part")
    message.add_alternative("<p>HTML part</p>", subtype="html")

    with open_smtp(settings) as smtp:
        refused = smtp.send_message(message, to_addrs=["ceo@example.test", "board-chair@example.test"])
    assert refused == {}

    received = [m for m in read_mailbox(smtp_sink.maildir) if m["Subject"] == subject]
    assert len(received) == 1
    stored = received[0]
    assert stored["X-Envelope-To"] == "ceo@example.test, board-chair@example.test"
    assert stored["From"] == "isms-cycle tests <isms@example.test>"
    html = stored.get_body(preferencelist=("html",))
    assert html is not None
    assert "<p>HTML part</p>" in html.get_content()
    assert not list(smtp_sink.maildir.glob(".*.tmp")), "a half-written message was left behind"
