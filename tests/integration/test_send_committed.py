"""send_committed against the real SMTP sink: the commit (a pending record) runs before the final dot."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest

from adapters.smtp import open_smtp, send_committed
from core.settings import Settings
from devstack.mailsink import read_mailbox

if TYPE_CHECKING:
    from tests.conftest import SmtpSink


def _message(key: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "isms@example.test"
    message["To"] = "ana@larkspur.example"
    message["Subject"] = "test"
    message["X-Isms-Key"] = key
    message.set_content(body)
    return message


def _arrived(sink: SmtpSink, key: str) -> list[EmailMessage]:
    return [m for m in read_mailbox(sink.maildir) if m["X-Isms-Key"] == key]


def test_delivered_once_after_the_commit(settings: Settings, smtp_sink: SmtpSink) -> None:
    key = uuid.uuid4().hex
    committed: list[dict[str, tuple[int, bytes]]] = []
    body = "first line\n.a line that starts with a dot\n..and two\n.\nlast line\n"
    with open_smtp(settings) as smtp:
        refused = send_committed(
            smtp,
            _message(key, body),
            to_addrs=["ana@larkspur.example"],
            commit=committed.append,
            rollback=lambda: pytest.fail("rolled back"),
        )
    assert refused == {}
    assert committed == [{}]
    (arrived,) = _arrived(smtp_sink, key)
    assert arrived.get_content().replace("\r\n", "\n") == body  # dot-stuffing undone by the server


def test_a_failed_commit_delivers_nothing(settings: Settings, smtp_sink: SmtpSink) -> None:
    key = uuid.uuid4().hex

    def commit(_refused: object) -> None:
        raise OSError("S3 is down")

    smtp = open_smtp(settings)
    with pytest.raises(OSError, match="S3 is down"):
        send_committed(
            smtp,
            _message(key, "x\n"),
            to_addrs=["ana@larkspur.example"],
            commit=commit,
            rollback=lambda: None,
        )
    # the transaction never got its final dot: the server delivered nothing
    with open_smtp(settings) as probe:
        probe.noop()
    assert _arrived(smtp_sink, key) == []
