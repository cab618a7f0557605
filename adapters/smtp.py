"""Open an SMTP connection the way the settings say (plain, STARTTLS or implicit TLS)."""

from __future__ import annotations

import io
import re
import smtplib
import ssl
from collections.abc import Callable
from email.generator import BytesGenerator
from email.message import Message
from email.utils import parseaddr

from core.settings import Settings, SmtpSecurity


def open_smtp(settings: Settings, *, timeout: float = 30.0) -> smtplib.SMTP:
    """A connected, authenticated SMTP session; the caller closes it (``with`` works)."""
    if settings.smtp_security is SmtpSecurity.TLS:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        if settings.smtp_security is SmtpSecurity.STARTTLS:
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user is not None and settings.smtp_password is not None:
        smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    return smtp


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with "." gets another; the body ends with CRLF."""
    data = re.sub(rb"(?m)^\.", b"..", re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def send_committed(
    smtp: smtplib.SMTP,
    message: Message,
    *,
    to_addrs: list[str],
    commit: Callable[[dict[str, tuple[int, bytes]]], None],
    rollback: Callable[[], None],
) -> dict[str, tuple[int, bytes]]:
    """Send ``message`` with the sent-record written inside the SMTP transaction.

    ``commit(refused)`` runs after the server has taken every recipient and the whole content,
    and before the final "." that makes the server deliver it. So a worker that dies before the
    commit leaves no record and no delivery (the server drops a transaction without its final
    dot), and one that dies after it leaves a record: a retry never sends the message twice.
    What remains is the server's own handling of the final dot (milliseconds): a crash there
    can still lose or repeat the one message. A refusal at the final dot calls ``rollback()``.
    Returns the refused recipients, as ``smtplib.SMTP.sendmail`` does; raises
    ``SMTPRecipientsRefused`` when every recipient is refused (nothing recorded).
    """
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(message, linesep="\r\n")
    body = _dot_stuffed(buffer.getvalue())
    sender = parseaddr(str(message["From"]))[1]
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender)
    if code != 250:
        smtp.rset()
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for address in to_addrs:
        code, reply = smtp.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
    if len(refused) == len(to_addrs):
        smtp.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        smtp.rset()
        raise smtplib.SMTPDataError(code, reply)
    try:
        smtp.send(body)
        commit(refused)
    except BaseException:
        smtp.close()  # no final dot: the server discards the transaction
        raise
    smtp.send(b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        rollback()
        raise smtplib.SMTPDataError(code, reply)
    return refused
