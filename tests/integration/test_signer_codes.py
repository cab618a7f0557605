"""``web.signer_codes`` on a real ``WebState`` (SQLite): lifetime, attempts, replacement, limits.

The clock is passed in (``now=``), so ten minutes pass without waiting; everything else is the
real store the web app uses.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.email_templates import render_email_template
from models.cycle import SecondFactorMethod
from web.signer_codes import (
    CODE_LIFETIME,
    MAX_ATTEMPTS,
    MAX_CODES_PER_DAY,
    RESEND_GAP,
    CodeOutcome,
    SendRefused,
    check_code,
    issue_code,
    masked_address,
    new_code,
    normalise_code,
    pending_code,
)
from web.state import WebState

KEY = b"k" * 32
LINK = "link-id-1"
CEO = "eleanor.marsh@larkspur.example"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> WebState:
    return WebState(tmp_path / "web")


async def _issue(state: WebState, now: datetime, link: str = LINK) -> str:
    code = await issue_code(state, key=KEY, link_id=link, now=now)
    assert isinstance(code, str), code
    return code


async def _check(state: WebState, code: str, now: datetime, link: str = LINK) -> CodeOutcome:
    return (await check_code(state, key=KEY, link_id=link, submitted=code, identity=CEO, now=now)).outcome


async def test_a_code_works_once_within_ten_minutes_and_names_the_address(state: WebState) -> None:
    code = await _issue(state, T0)
    assert len(code) == 6
    assert code.isdigit()
    checked = await check_code(
        state,
        key=KEY,
        link_id=LINK,
        submitted=f" {code[:3]} {code[3:]} ",
        identity=CEO,
        now=T0 + timedelta(minutes=9),
    )
    assert checked.outcome is CodeOutcome.VERIFIED
    assert checked.factor is not None
    assert checked.factor.method is SecondFactorMethod.EMAILED_CODE
    assert checked.factor.identity == CEO
    assert checked.factor.detail == "code sent 2026-11-23 09:00:00 UTC, 1 attempt"
    assert await _check(state, code, T0 + timedelta(minutes=9, seconds=1)) is CodeOutcome.NO_CODE  # used up


async def test_a_code_expires_after_ten_minutes(state: WebState) -> None:
    code = await _issue(state, T0)
    assert await _check(state, code, T0 + CODE_LIFETIME) is CodeOutcome.NO_CODE
    assert await pending_code(state, LINK, now=T0 + CODE_LIFETIME) is None


async def test_a_new_code_replaces_the_old_one(state: WebState) -> None:
    first = await _issue(state, T0)
    second = await _issue(state, T0 + RESEND_GAP)
    if first != second:  # one in a million: the same six digits twice
        assert await _check(state, first, T0 + RESEND_GAP) is CodeOutcome.WRONG
    assert await _check(state, second, T0 + RESEND_GAP) is CodeOutcome.VERIFIED


async def test_the_fifth_wrong_guess_ends_the_code_even_when_guesses_race(state: WebState) -> None:
    code = await _issue(state, T0)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    # ten guesses at once: the store's transactions let exactly five count, then the code is gone
    outcomes = await asyncio.gather(*(_check(state, wrong, T0) for _ in range(2 * MAX_ATTEMPTS)))
    assert outcomes.count(CodeOutcome.WRONG) == MAX_ATTEMPTS - 1
    assert outcomes.count(CodeOutcome.LOCKED) == 1
    assert outcomes.count(CodeOutcome.NO_CODE) == MAX_ATTEMPTS
    assert await _check(state, code, T0) is CodeOutcome.NO_CODE


async def test_codes_are_limited_per_link_not_across_links(state: WebState) -> None:
    await _issue(state, T0)
    refused = await issue_code(state, key=KEY, link_id=LINK, now=T0 + RESEND_GAP - timedelta(seconds=1))
    assert isinstance(refused, SendRefused)
    assert "Wait 2 seconds" in refused.reason
    await _issue(state, T0, link="another-link")  # another link has its own allowance
    for number in range(1, MAX_CODES_PER_DAY):
        await _issue(state, T0 + number * RESEND_GAP)
    over = await issue_code(state, key=KEY, link_id=LINK, now=T0 + MAX_CODES_PER_DAY * RESEND_GAP)
    assert isinstance(over, SendRefused)
    assert f"{MAX_CODES_PER_DAY} codes have been sent for this link today" in over.reason
    assert isinstance(
        await issue_code(state, key=KEY, link_id=LINK, now=T0 + timedelta(days=1, minutes=1)), str
    )


def test_codes_are_six_random_digits_and_typed_ones_are_normalised() -> None:
    codes = {new_code() for _ in range(2000)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 1990  # from secrets: repeats are rare
    assert normalise_code("012-345") == "012345"
    assert normalise_code("12345") is None
    assert normalise_code("12345a") is None
    assert normalise_code("１２３４５６") is None  # full-width digits are not what the email showed
    assert masked_address(CEO) == "e\u2022\u2022\u2022@larkspur.example"


def test_the_code_email_renders_with_exactly_its_variables() -> None:
    email = render_email_template(
        template_name="signer_code",
        context={
            "organisation": "Larkspur Analytics Ltd",
            "signer_name": "Eleanor Marsh",
            "version": "3.1",
            "code": "042917",
            "code_expires": "09:10 UTC on 23 November 2026",
        },
    )
    assert "042917" in email.text
    assert "042917" in email.html
    assert "042917" not in email.subject  # not on a locked phone's notification
    assert "href=" not in email.html  # no link: the code is typed on the page the signer has open
