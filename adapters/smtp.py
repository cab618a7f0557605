"""SMTP: a connection the way the settings say (plain, STARTTLS or implicit TLS), and one transaction.

>>> with smtp_session(settings) as smtp:
...     refused = send_committed(smtp, message, to_addrs=[...], commit=..., rollback=...)
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message
from email.utils import parseaddr

from core.mail_message import message_bytes
from core.settings import Settings, SmtpSecurity


def open_smtp(settings: Settings, *, timeout: float = 30.0) -> smtplib.SMTP:
    """A connected, authenticated SMTP session; the caller closes it (``with`` works)."""
    if settings.smtp_security is SmtpSecurity.TLS:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        if settings.smtp_security is SmtpSecurity.STARTTLS:
            smtp.starttls(context=ssl.create_default_context())
        # send_committed writes the content and the final dot separately: without this, Nagle's
        # algorithm holds the dot until the server's delayed ACK (about 40 ms an email, measured)
        if smtp.sock is not None:
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if settings.smtp_user is not None and settings.smtp_password is not None:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()  # a refused STARTTLS or login: the connected socket is not left to the collector
        raise
    return smtp


@contextmanager
def smtp_session(settings: Settings) -> Iterator[smtplib.SMTP]:
    """One SMTP connection for a run of emails; a failing QUIT does not undo what was accepted."""
    smtp = open_smtp(settings)
    try:
        yield smtp
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with "." gets another; the body ends with CRLF."""
    data = re.sub(rb"(?m)^\.", b"..", re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def send_committed(
    smtp: smtplib.SMTP,
    message: Message,
    *,
    to_addrs: list[str],
    commit: Callable[[dict[str, tuple[int, bytes]]], None] | None,
    rollback: Callable[[], None],
) -> dict[str, tuple[int, bytes]]:
    """Send ``message``, running ``commit(refused)`` inside the SMTP transaction, before its final dot.

    ``commit`` runs after the server has taken every recipient and the whole content, and
    before the final "." that asks it to deliver: the place for a *pending* record. A sender
    that dies before the commit leaves no record and no delivery (the server drops a
    transaction without its final dot). Returning means the server answered 250 to the dot:
    only then may the caller record the message as *sent* (adapters.mail_delivery). A sender
    that dies in between leaves a pending record, and whether the server delivered is unknown.
    A refusal at the final dot calls ``rollback()``. Returns the refused recipients, as
    ``smtplib.SMTP.sendmail`` does; raises ``SMTPRecipientsRefused`` when every recipient is
    refused (``commit`` is not called). ``commit=None``: nothing to record before the dot (a
    record stored before the transaction names the message), so the content and the final dot
    go in one write.
    """
    body = _dot_stuffed(message_bytes(message))
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
    if commit is None:
        smtp.send(body + b".\r\n")
    else:
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
