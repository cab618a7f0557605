"""Build the MIME message of an email: shared by the mail activities and the command line.

>>> build_message(settings, key="isms-review-acme-2026/round-1/invitation", to=[...], rendered=rendered)

Also the pieces every sender needs before a message exists: the address check, the personal
link (minted at send time, so no token enters workflow history) and template rendering.
"""

from __future__ import annotations

import io
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, parseaddr

from core.email_templates import RenderedEmail, render_email_template
from core.hashing import sha256_bytes
from core.settings import Settings
from core.tokens import issue_link, link_url
from models.mail import LinkRequest


def message_id_for(key: str) -> str:
    """The Message-ID of the email with ``key``: the same for every attempt."""
    return f"<{sha256_bytes(key.encode())[:32]}@isms-cycle>"


# compat32 builds MIME fast, but folds a long unbreakable header (X-Isms-Key) onto a line of its
# own, which readers then see with a leading space; RFC 5322 allows lines up to 998 characters
_UNFOLDED = compat32.clone(max_line_length=998)
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def build_message(
    settings: Settings, *, key: str, to: list[str], cc: list[str] | None = None, rendered: RenderedEmail
) -> Message:
    """A multipart/alternative email (plain text and HTML, UTF-8 quoted-printable) for ``key``."""
    message = MIMEMultipart("alternative", policy=_UNFOLDED)
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = (
        Header(rendered.subject, "utf-8").encode() if not rendered.subject.isascii() else rendered.subject
    )
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id_for(key)
    message["X-Isms-Key"] = key
    # the stub says str, the runtime takes a Charset: quoted-printable keeps .eml files readable
    message.attach(MIMEText(rendered.text, "plain", _UTF8_QP))  # type: ignore[arg-type]
    message.attach(MIMEText(rendered.html, "html", _UTF8_QP))  # type: ignore[arg-type]
    return message


_LINE_ENDS = re.compile(r"\r\n|\r|\n")  # what the generator rewrites to CRLF
_FROM_LINE = re.compile(r"^From ", re.MULTILINE)  # compat32 mangles these, as mbox readers expect
_MAX_LINE = 998  # RFC 5322: longer header lines are the generator's to fold


def message_bytes(message: Message) -> bytes:
    """``message`` as ``BytesGenerator`` writes it with CRLF line ends (before dot-stuffing).

    An email :func:`build_message` made (a multipart of text parts whose payloads are already
    encoded, every header one line of ASCII) is written here directly, in a fraction of the
    generator's time (an invitation's CPU went mostly to the generator and header folding);
    the bytes are the generator's, boundary included (chosen the same way, and set on
    ``message`` as the generator sets it). Anything else goes through the generator.
    """
    written = _written_directly(message)
    if written is not None:
        return written
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(message, linesep="\r\n")
    return buffer.getvalue()


def _header_lines(message: Message) -> str | None:
    """Every header as ``Name: value`` and CRLF, or None when one is no plain line of printable ASCII."""
    lines = []
    for name, value in message.raw_items():
        line = f"{name}: {value}"
        if (
            not isinstance(value, str)
            or not line.isascii()
            or not line.isprintable()
            or len(line) > _MAX_LINE
        ):
            return None
        lines.append(line + "\r\n")
    return "".join(lines)


def _written_directly(message: Message) -> bytes | None:
    if message.policy is not _UNFOLDED or not message.is_multipart():
        return None
    if message.preamble is not None or message.epilogue is not None:
        return None
    texts = []
    for part in message.get_payload():
        assert isinstance(part, Message)
        payload = part.get_payload()
        headers = _header_lines(part)
        if part.is_multipart() or not isinstance(payload, str) or not payload.isascii() or headers is None:
            return None
        if part.preamble is not None or part.epilogue is not None:
            return None
        texts.append(headers + "\r\n" + _LINE_ENDS.sub("\r\n", _FROM_LINE.sub(">From ", payload)))
    boundary = message.get_boundary()
    if boundary is None:
        # as the generator makes one: a random token it then checks against the parts' lines
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="  # noqa: S311 (not a secret)
        if any(f"--{boundary}" in text for text in texts):
            return None
        message.set_boundary(boundary)
    headers = _header_lines(message)
    if headers is None:
        return None
    delimiter = f"\r\n--{boundary}\r\n"
    body = f"--{boundary}\r\n" + delimiter.join(texts) + f"\r\n--{boundary}--\r\n"
    return (headers + "\r\n" + body).encode("ascii")


class InvalidAddressError(ValueError):
    """Not a single email address (a header injection, a list, a bare name)."""


def check_address(address: str) -> None:
    """Raise :class:`InvalidAddressError` unless ``address`` is one plain ``local@domain``."""
    _, parsed = parseaddr(address)
    local, _, domain = parsed.partition("@")
    if not local or not domain or parsed != address.strip() or any(c in address for c in "\r\n,"):
        raise InvalidAddressError(f"not a single email address: {address!r}")


def link_context(settings: Settings, request: LinkRequest) -> dict[str, object]:
    """``link`` and ``link_expires`` for a template: a fresh token, minted here and never logged.

    Called inside the mail activities, so the bearer token never enters workflow history.
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
        sequence=request.sequence,
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
    """The email with ``key`` rendered from ``template``; raises ``EmailTemplateError``."""
    rendered = render_email_template(template_name=template, context=context)
    return build_message(settings, key=key, to=to, cc=cc, rendered=rendered)
