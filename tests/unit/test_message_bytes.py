"""message_bytes writes build_message's emails directly: the same bytes as the generator's."""

from __future__ import annotations

import io
from email.generator import BytesGenerator
from email.message import Message
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.email_templates import RenderedEmail
from core.mail_message import _written_directly, build_message, message_bytes
from core.settings import Settings, load_settings

EMPTY = Path(__file__).parent.parent / "data" / "empty.env"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(
        settings_file=EMPTY,
        s3_endpoint_url="http://127.0.0.1:1",
        archive_bucket="isms-archive",
        drafts_bucket="isms-drafts",
        smtp_host="127.0.0.1",
        smtp_sender="Larkspur ISMS <isms@larkspur.example>",
        public_base_url="https://isms.larkspur.example",
        link_secret="unit-link-secret-" + "x" * 32,
        proof_secret="unit-proof-secret-" + "p" * 32,
    )


def generated(message: Message) -> bytes:
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(message, linesep="\r\n")
    return buffer.getvalue()


LINK = "https://isms.larkspur.example/ack/" + "eyJjIjoiaXNtcy1yZXZpZXctbGFya3NwdXItMjAyNiJ9" * 4
CASES = [
    RenderedEmail(
        subject="Please acknowledge",
        text=f"Dear Pat,\n\n{LINK}\n",
        html=f'<p><a href="{LINK}">Open</a></p>\n',
    ),
    RenderedEmail(subject="Ünïcode subject", text="Grüße, Zoë\n", html="<p>Grüße</p>"),
    RenderedEmail(
        subject="Dots", text=".\n..leading dots\nFrom the ISMS lead\r\nbare\rcarriage", html="From here\n."
    ),
    RenderedEmail(subject="x" * 300, text="no newline at the end", html=""),
]


@pytest.mark.parametrize("rendered", CASES)
def test_the_bytes_are_the_generators(settings: Settings, rendered: RenderedEmail) -> None:
    message = build_message(
        settings, key="isms-review-larkspur-2026/ack/pat@larkspur.example/invitation",
        to=["pat@larkspur.example"], rendered=rendered,
    )  # fmt: skip
    written = message_bytes(message)  # chooses the boundary and sets it, as the generator does
    assert message.get_boundary() is not None
    assert written == generated(message)


def test_an_invitation_is_written_directly_and_anything_else_by_the_generator(settings: Settings) -> None:
    message = build_message(
        settings, key="k", to=["pat@larkspur.example"], cc=["lead@larkspur.example"], rendered=CASES[0]
    )
    assert _written_directly(message) is not None
    plain = Message()
    plain["Subject"] = "a single part"
    plain.set_payload("text\n")
    assert _written_directly(plain) is None
    assert message_bytes(plain) == generated(plain)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    subject=st.text(min_size=1, max_size=120).filter(lambda s: "\n" not in s and "\r" not in s),
    text=st.text(max_size=400),
    html=st.text(max_size=400),
)
def test_any_rendered_email_gives_the_generators_bytes(
    settings: Settings, subject: str, text: str, html: str
) -> None:
    message = build_message(
        settings,
        key="k",
        to=["pat@larkspur.example"],
        rendered=RenderedEmail(subject=subject, text=text, html=html),
    )
    written = message_bytes(message)
    assert written == generated(message)
