"""The signer's emailed one-time code: the second factor a signature needs besides the link.

A link alone proves only that someone holds the email (or a forward of it). Before the
signing POST is accepted, the web app emails a six-digit code to the link's person and the
page asks for it back:

>>> code = await issue_code(state, key=settings.session_key(), link_id=claims.token_id, now=now)
>>> await send_code_email(settings, code_email(settings, code=code, ...))
>>> checked = await check_code(state, key=..., link_id=claims.token_id, submitted="123 456",
...                            identity=claims.person, now=later)
>>> checked.outcome is CodeOutcome.VERIFIED   # then web.state.mark_signer_verified(...)

Rules: a code is 6 digits from :mod:`secrets`, valid :data:`CODE_LIFETIME`, allows
:data:`MAX_ATTEMPTS` wrong guesses, works once, and a new code replaces the old one. It is
stored only as an HMAC (keyed by the settings' session key and bound to the link id) in
``WebState`` kind ``"signer-code"``, so neither the state file nor a copy of it gives the
code away (six digits unkeyed would be a million SHA-256 computations away). Sending is
limited per link (:data:`RESEND_GAP` between codes, :data:`MAX_CODES_PER_DAY`), so new
codes cannot be used to multiply the guesses or to flood the signer's mailbox.
The code itself is never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from enum import StrEnum
from typing import Any

from adapters.smtp import smtp_session
from core.mail_message import compose_message
from core.settings import Settings
from models.cycle import SecondFactor, SecondFactorMethod
from web.state import WebState

CODE_KIND = "signer-code"  # WebState kind: the outstanding code of a link (its HMAC, attempts)
SENDS_KIND = "signer-code-sends"  # WebState kind: when codes were sent for a link (throttling)
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
VERIFIED_FOR = timedelta(minutes=30)  # how long a passed second factor lets the holder sign
RESEND_GAP = timedelta(seconds=30)
MAX_CODES_PER_DAY = 10
TEMPLATE = "signer_code"


_CODE_RE = re.compile(rf"^[0-9]{{{CODE_DIGITS}}}$")


class CodeOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"  # a wrong guess, attempts left
    MALFORMED = "malformed"  # not six digits: not counted as a guess
    NO_CODE = "no_code"  # none outstanding: never sent, expired, already used or replaced
    LOCKED = "locked"  # the last allowed wrong guess: the code no longer works


@dataclass(frozen=True)
class CodeCheck:
    outcome: CodeOutcome
    attempts_left: int = 0
    factor: SecondFactor | None = None  # set when VERIFIED


@dataclass(frozen=True)
class SendRefused:
    """A new code cannot be sent now; ``reason`` says why, for the page."""

    reason: str


@dataclass(frozen=True)
class PendingCode:
    """An outstanding code, as the page describes it (never the code itself)."""

    sent_at: datetime
    expires_at: datetime
    attempts_left: int


def new_code() -> str:
    """Six random digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalise_code(submitted: str) -> str | None:
    """The six digits typed (spaces and dashes allowed, as people copy them), else None."""
    digits = re.sub(r"[\s-]", "", submitted)
    return digits if _CODE_RE.match(digits) else None


def _code_mac(key: bytes, link_id: str, code: str) -> str:
    return hmac.new(key, f"signer-code\x00{link_id}\x00{code}".encode(), hashlib.sha256).hexdigest()


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


async def issue_code(state: WebState, *, key: bytes, link_id: str, now: datetime) -> str | SendRefused:
    """A fresh code for ``link_id``, replacing any earlier one; or why none can be sent now."""
    refused: SendRefused | None = None

    def record_send(current: dict[str, Any] | None) -> tuple[dict[str, Any] | None, datetime]:
        nonlocal refused
        day_ago = now - timedelta(days=1)
        sent = [_at(at) for at in (current or {}).get("sent", []) if _at(at) > day_ago]
        if sent and now - max(sent) < RESEND_GAP:
            wait = int((RESEND_GAP - (now - max(sent))).total_seconds()) + 1
            refused = SendRefused(
                f"A code was sent moments ago. Wait {wait} seconds before asking for another."
            )
        elif len(sent) >= MAX_CODES_PER_DAY:
            refused = SendRefused(
                f"{MAX_CODES_PER_DAY} codes have been sent for this link today, the most allowed. "
                "Try again tomorrow, or ask the ISMS lead."
            )
        else:
            sent.append(now)
        return {"sent": [at.isoformat() for at in sent]}, now + timedelta(days=1)

    await state.change(SENDS_KIND, link_id, record_send, now=now)
    if refused is not None:
        return refused
    code = new_code()
    await state.put(
        CODE_KIND,
        link_id,
        {"mac": _code_mac(key, link_id, code), "attempts": 0, "sent_at": now.isoformat()},
        expires_at=now + CODE_LIFETIME,
    )
    return code


async def withdraw_code(state: WebState, link_id: str) -> None:
    """Forget the outstanding code (its email could not be sent)."""
    await state.delete(CODE_KIND, link_id)


async def pending_code(state: WebState, link_id: str, *, now: datetime) -> PendingCode | None:
    """The outstanding code of ``link_id``, if there is one that still works."""
    found = await state.get(CODE_KIND, link_id, now=now)
    if found is None:
        return None
    sent_at = _at(found["sent_at"])
    return PendingCode(
        sent_at=sent_at,
        expires_at=sent_at + CODE_LIFETIME,
        attempts_left=MAX_ATTEMPTS - int(found["attempts"]),
    )


async def check_code(
    state: WebState, *, key: bytes, link_id: str, submitted: str, identity: str, now: datetime
) -> CodeCheck:
    """Check ``submitted`` against the outstanding code of ``link_id``, in one transaction.

    A right code is used up (deleted) and gives the :class:`SecondFactor` naming ``identity``
    (the address the code was emailed to); a wrong one counts an attempt, and the fifth wrong
    one deletes the code. A malformed entry counts nothing.
    """
    code = normalise_code(submitted)
    if code is None:
        pending = await pending_code(state, link_id, now=now)
        if pending is None:
            return CodeCheck(CodeOutcome.NO_CODE)
        return CodeCheck(CodeOutcome.MALFORMED, attempts_left=pending.attempts_left)
    result = CodeCheck(CodeOutcome.NO_CODE)

    def attempt(current: dict[str, Any] | None) -> tuple[dict[str, Any] | None, datetime]:
        nonlocal result
        if current is None:
            return None, now
        sent_at = _at(current["sent_at"])
        expires_at = sent_at + CODE_LIFETIME
        attempts = int(current["attempts"]) + 1
        if hmac.compare_digest(current["mac"], _code_mac(key, link_id, code)):
            factor = SecondFactor(
                method=SecondFactorMethod.EMAILED_CODE,
                identity=identity,
                verified_at=now,
                detail=f"code sent {sent_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"{attempts} attempt{'s' if attempts != 1 else ''}",
            )
            result = CodeCheck(CodeOutcome.VERIFIED, factor=factor)
            return None, now  # used up
        if attempts >= MAX_ATTEMPTS:
            result = CodeCheck(CodeOutcome.LOCKED)
            return None, now
        result = CodeCheck(CodeOutcome.WRONG, attempts_left=MAX_ATTEMPTS - attempts)
        return {**current, "attempts": attempts}, expires_at

    await state.change(CODE_KIND, link_id, attempt, now=now)
    return result


def code_email(
    settings: Settings,
    *,
    cycle_id: str,
    to: str,
    organisation: str,
    signer_name: str,
    version: str,
    code: str,
    expires_at: datetime,
) -> Message:
    """The email carrying ``code`` to the signer. Its key is unique per code (a new code is a
    new message), under the cycle's keys so the mailbox shows it beside the invitation."""
    return compose_message(
        settings,
        key=f"{cycle_id}/signer-code/{uuid.uuid4().hex[:16]}",
        template=TEMPLATE,
        to=[to],
        context={
            "organisation": organisation,
            "signer_name": signer_name,
            "version": version,
            "code": code,
            "code_expires": expires_at.astimezone(UTC).strftime("%H:%M UTC on %d %B %Y"),
        },
    )


def _send(settings: Settings, message: Message, to: str) -> None:
    with smtp_session(settings) as smtp:
        smtp.send_message(message, to_addrs=[to])


async def send_code_email(settings: Settings, message: Message, *, to: str) -> None:
    """Send the code's email over the settings' SMTP server (on a thread); raises
    ``smtplib.SMTPException`` or ``OSError`` when it cannot be sent."""
    await asyncio.to_thread(_send, settings, message, to)


def masked_address(address: str) -> str:
    """``e•••@larkspur.example``: enough for the signer to recognise, no name to copy."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}\u2022\u2022\u2022@{domain}" if domain else "\u2022\u2022\u2022"
