"""An SMTP sink for the local stack: every message accepted is kept as an ``.eml`` file.

Open the files with any mail client, or read them in tests. Envelope sender and
recipients are added as ``X-Envelope-From`` / ``X-Envelope-To`` headers, so Bcc copies
can be told apart.

Run it on its own::

    python -m devstack.mailsink --port 8025 --maildir .isms-data/mailbox
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import smtplib
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)


class MaildirSink:
    """aiosmtpd handler that writes each message atomically to ``maildir``."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.maildir.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content: bytes = envelope.original_content or envelope.content
        headers = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        with self._lock:
            sequence = next(self._counter)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{stamp}-{os.getpid()}-{sequence:06d}.eml"
        temporary = self.maildir / f".{name}.tmp"
        temporary.write_bytes(headers + content)
        temporary.rename(self.maildir / name)  # readers never see half a message
        logger.info("stored message for %s as %s", ", ".join(envelope.rcpt_tos), name)
        return "250 Message accepted for delivery"


def read_mailbox(maildir: Path) -> list[EmailMessage]:
    """Every stored message, oldest first."""
    messages = []
    for path in sorted(maildir.glob("*.eml")):
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def start_sink(maildir: Path, *, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the sink in a background thread; call ``.stop()`` on the result to stop it."""
    controller = Controller(MaildirSink(maildir), hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller


def smtp_health(*, host: str, port: int) -> tuple[bool, str]:
    """Healthy when the server greets and answers NOOP."""
    try:
        with smtplib.SMTP(host, port, timeout=3) as smtp:
            code, _ = smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return False, f"SMTP at {host}:{port} not answering: {exc}"
    return code == 250, f"NOOP answered {code}"


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP sink that stores messages as .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = start_sink(args.maildir, host=args.host, port=args.port)
    logger.info("SMTP sink on %s:%d storing into %s", args.host, args.port, args.maildir)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
