"""The raw rate of an SMTP server: pre-built messages sent from this process, nothing else.

    >>> rate = raw_smtp_rate("127.0.0.1", 8025, count=2000)
    >>> f"{rate.per_second:.0f} messages/s"

The baseline the invitation figures are compared with (bench/invitations.py, bench/campaign.py):
the same server, the same size of message (an invitation is about 6 kB), and no work on the
sender's side but the SMTP transaction itself. Every message is built before the clock starts;
each connection is opened (and greeted with EHLO) before it too, so the time is the server's
and the protocol's: from the first MAIL FROM to the last 250 for a final dot. ``sendmail``
writes the content and the final dot in one write, so Nagle's algorithm adds no delay.
"""

from __future__ import annotations

import smtplib
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

SENDER = "isms-bench <bench@isms-cycle.example>"
SENDER_ADDRESS = "bench@isms-cycle.example"


@dataclass(frozen=True)
class SmtpRate:
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def _message(number: int, *, size: int) -> tuple[str, bytes]:
    """One plain message of about ``size`` bytes (headers included): its recipient and its bytes."""
    recipient = f"raw{number:07d}@larkspur.example"
    message = EmailMessage(policy=SMTP)
    message["From"] = SENDER
    message["To"] = recipient
    message["Subject"] = f"Raw SMTP baseline message {number}"
    message["Message-ID"] = f"<raw-{number:07d}@isms-bench>"
    line = "The quick brown fox jumps over the lazy dog, again and again and again.\n"
    head = len(bytes(message))
    message.set_content(line * max(1, (size - head - 200) // len(line)))
    return recipient, bytes(message)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def raw_smtp_rate(host: str, port: int, *, count: int, size: int = 6000, connections: int = 1) -> SmtpRate:
    """Pre-built messages of about `size` bytes (like an invitation) sent to the server from this
    process over `connections` connections (threads), timed from the first MAIL to the last 250."""
    if count < 1 or connections < 1:
        raise ValueError("count and connections must be at least 1")
    connections = min(connections, count)
    messages = [_message(number, size=size) for number in range(count)]
    shares: list[list[tuple[str, bytes]]] = []
    start = 0
    for share in _split(count, connections):
        shares.append(messages[start : start + share])
        start += share
    sessions = []
    try:
        for _ in shares:
            smtp = smtplib.SMTP(host, port, timeout=60)
            sessions.append(smtp)
            smtp.ehlo()
        ready = threading.Barrier(len(shares) + 1)
        first_mail: list[float] = []
        last_reply: list[float] = []
        errors: list[BaseException] = []

        def send(smtp: smtplib.SMTP, share: list[tuple[str, bytes]]) -> None:
            ready.wait()
            try:
                first_mail.append(time.perf_counter())
                for recipient, body in share:
                    smtp.sendmail(SENDER_ADDRESS, [recipient], body)
                last_reply.append(time.perf_counter())
            except BaseException as exc:  # reported by the caller's thread
                errors.append(exc)

        threads = [
            threading.Thread(target=send, args=(smtp, share), daemon=True)
            for smtp, share in zip(sessions, shares, strict=True)
        ]
        for thread in threads:
            thread.start()
        ready.wait()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return SmtpRate(messages=count, seconds=max(last_reply) - min(first_mail))
    finally:
        for smtp in sessions:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
