"""The raw rate of an SMTP server: pre-built messages sent from one process, nothing else.

A minimal copy for bench/campaign.py (its API is the one the campaign benchmark uses); the
fuller version of this module replaces it.

    rate = raw_smtp_rate("127.0.0.1", 8025, count=2000)
    print(f"{rate.per_second:.1f} messages/s")

Messages go to ``baseline-<n>@smtp-baseline.invalid``, so a reader of the mailbox can tell them
from a campaign's.
"""

from __future__ import annotations

import smtplib
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

SENDER = "smtp-baseline@smtp-baseline.invalid"
RECIPIENT_DOMAIN = "smtp-baseline.invalid"


@dataclass(frozen=True)
class SmtpRate:
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def _message(number: int, size: int) -> bytes:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = f"baseline-{number}@{RECIPIENT_DOMAIN}"
    message["Subject"] = f"SMTP baseline {number}"
    line = "The quick brown fox jumps over the lazy dog, again and again.\n"
    body = (line * (size // len(line) + 1))[:size]
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)  # CRLF line ends: bytes go to the server as they are


def raw_smtp_rate(host: str, port: int, *, count: int, size: int = 6000, connections: int = 1) -> SmtpRate:
    """Send ``count`` pre-built messages of about ``size`` bytes over ``connections`` connections.

    The messages are built before the clock starts; each connection sends its share one after
    another (one SMTP transaction each) and stays open until its share is sent.
    """
    if count < 1 or connections < 1:
        raise ValueError("count and connections must be at least 1")
    messages = [(f"baseline-{n}@{RECIPIENT_DOMAIN}", _message(n, size)) for n in range(count)]
    shares = [messages[index::connections] for index in range(min(connections, count))]
    errors: list[BaseException] = []

    def send(share: list[tuple[str, bytes]]) -> None:
        try:
            with smtplib.SMTP(host, port, timeout=60) as smtp:
                for recipient, payload in share:
                    smtp.sendmail(SENDER, [recipient], payload)
        except (smtplib.SMTPException, OSError) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"the SMTP baseline failed: {errors[0]}") from errors[0]
    return SmtpRate(messages=count, seconds=seconds)
