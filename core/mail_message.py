"""Build the MIME message of a rendered email: shared by the mail activities and the command line.

>>> build_message(settings, key="isms-review-acme-2026/round-1/invitation", to=[...], rendered=rendered)
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime

from core.email_templates import RenderedEmail
from core.hashing import sha256_bytes
from core.settings import Settings


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
