"""Link tokens: a round trip, one test per problem, nonce entropy, and no exception on any input."""

from __future__ import annotations

import base64
import secrets
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from core.tokens import MAX_TOKEN_LENGTH, NONCE_BYTES, issue_link, link_url, read_link
from models.links import LinkClaims, LinkProblem, LinkRole

SECRET = "test-link-secret-" + "s" * 40
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TTL = timedelta(days=21)
VERSION = "a" * 64


def _issue(**overrides: object) -> str:
    values: dict[str, object] = {
        "cycle_id": "isms-review-larkspur-2026",
        "person": "ceo@larkspur.example",
        "role": LinkRole.SIGNER,
        "version_hash": VERSION,
        "ttl": TTL,
        "now": NOW,
    }
    values.update(overrides)
    return issue_link(SECRET, **values)  # type: ignore[arg-type]


def _read(token: str, **overrides: object) -> LinkClaims | LinkProblem:
    values: dict[str, object] = {"expected_role": LinkRole.SIGNER, "now": NOW + timedelta(days=1)}
    values.update(overrides)
    return read_link(SECRET, token, **values)  # type: ignore[arg-type]


_TOKEN = _issue()


def _replace_char(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_round_trip_returns_the_claims() -> None:
    token = _issue()
    claims = _read(token, current_version_hash=VERSION)
    assert isinstance(claims, LinkClaims)
    assert claims.cycle_id == "isms-review-larkspur-2026"
    assert claims.person == "ceo@larkspur.example"
    assert claims.role is LinkRole.SIGNER
    assert claims.version_hash == VERSION
    assert claims.expires_at == NOW + TTL
    assert claims.expires_at.utcoffset() == timedelta(0)
    assert claims.token_id == claims.nonce


def test_tampered_payload_is_refused() -> None:
    token = _issue()
    payload, signature = token.rsplit(".", 1)
    # a forged payload (another person) with the old signature
    forged = URLSafeSerializer("another-secret-" + "x" * 40, salt="isms-cycle.link.signer").dumps(
        {"c": "isms-review-larkspur-2026", "p": "attacker@evil.example"}
    )
    assert _read(f"{forged.rsplit('.', 1)[0]}.{signature}") is LinkProblem.TAMPERED
    assert _read(f"{_replace_char(payload, 3)}.{signature}") is LinkProblem.TAMPERED


def test_tampered_signature_is_refused() -> None:
    token = _issue()
    assert _read(_replace_char(token, len(token) - 2)) is LinkProblem.TAMPERED
    assert _read(token.rsplit(".", 1)[0]) is LinkProblem.TAMPERED  # signature cut off


def test_token_from_another_secret_is_refused() -> None:
    token = issue_link(
        "some-other-deployment-secret-" + "o" * 40,
        cycle_id="c",
        person="ceo@larkspur.example",
        role=LinkRole.SIGNER,
        version_hash=VERSION,
        ttl=TTL,
        now=NOW,
    )
    assert _read(token) is LinkProblem.TAMPERED


def test_same_secret_with_a_salt_that_is_no_links_is_refused() -> None:
    # e.g. a session cookie signed with the same secret for another purpose
    token = URLSafeSerializer(SECRET, salt="isms-cycle.session").dumps({"c": "x"})
    assert _read(token) is LinkProblem.TAMPERED


def test_expired_exactly_at_the_boundary() -> None:
    token = _issue()
    assert isinstance(_read(token, now=NOW + TTL - timedelta(microseconds=1)), LinkClaims)
    assert _read(token, now=NOW + TTL) is LinkProblem.EXPIRED
    assert _read(token, now=NOW + TTL + timedelta(days=400)) is LinkProblem.EXPIRED


def test_wrong_role_is_told_apart_from_tampering() -> None:
    staff_token = _issue(role=LinkRole.STAFF)
    assert _read(staff_token, expected_role=LinkRole.SIGNER) is LinkProblem.WRONG_ROLE
    assert isinstance(_read(staff_token, expected_role=LinkRole.STAFF), LinkClaims)
    signer_token = _issue()
    assert _read(signer_token, expected_role=LinkRole.LEAD) is LinkProblem.WRONG_ROLE


def test_superseded_when_a_newer_version_was_routed() -> None:
    token = _issue()
    assert _read(token, current_version_hash="b" * 64) is LinkProblem.SUPERSEDED
    assert isinstance(_read(token, current_version_hash=VERSION), LinkClaims)
    assert isinstance(_read(token), LinkClaims)  # no current version given: not checked


def test_expiry_is_reported_before_supersession() -> None:
    token = _issue()
    assert _read(token, now=NOW + TTL, current_version_hash="b" * 64) is LinkProblem.EXPIRED


def test_nonce_has_128_bits_and_is_unique() -> None:
    nonces = set()
    for _ in range(1000):
        claims = _read(_issue())
        assert isinstance(claims, LinkClaims)
        raw = base64.urlsafe_b64decode(claims.nonce + "=" * (-len(claims.nonce) % 4))
        assert len(raw) * 8 >= 128
        nonces.add(claims.nonce)
    assert NONCE_BYTES >= 16
    assert len(nonces) == 1000


def test_not_a_string_or_too_long_is_tampered() -> None:
    assert _read(b"bytes-are-not-a-token") is LinkProblem.TAMPERED  # type: ignore[arg-type]
    assert _read(None) is LinkProblem.TAMPERED  # type: ignore[arg-type]
    assert _read("") is LinkProblem.TAMPERED
    assert _read("a" * (MAX_TOKEN_LENGTH + 1)) is LinkProblem.TAMPERED


def test_naive_datetimes_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _issue(now=datetime(2026, 11, 23, 9, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        _read(_issue(), now=datetime(2026, 11, 23, 9, 30))


def test_claims_too_long_for_a_link_are_refused_at_issue() -> None:
    with pytest.raises(ValueError, match="too long"):
        _issue(cycle_id=secrets.token_urlsafe(MAX_TOKEN_LENGTH))  # incompressible


def test_link_url_joins_base_path_and_token() -> None:
    token = _issue()
    assert link_url("https://isms.example/", "sign", token) == f"https://isms.example/sign/{token}"
    assert link_url("https://isms.example", "/ack/", token) == f"https://isms.example/ack/{token}"


@settings(max_examples=300)
@given(st.text(max_size=MAX_TOKEN_LENGTH + 50))
def test_any_text_is_a_problem_never_an_exception(token: str) -> None:
    assert isinstance(_read(token), LinkProblem)


@settings(max_examples=200)
@given(st.text(alphabet=string.ascii_letters + string.digits + ".-_", min_size=1, max_size=30))
def test_token_with_a_mangled_tail_is_a_problem(tail: str) -> None:
    token = _TOKEN[: -len(tail)] + tail
    result = _read(token)
    # base64 ignores the spare low bits of the last character, so a few edits decode to the
    # same signature: those must give exactly the original claims, anything else is tampered
    assert result is LinkProblem.TAMPERED or result == _read(_TOKEN)


@settings(max_examples=200)
@given(
    cycle_id=st.text(max_size=80),
    person=st.emails(),
    role=st.sampled_from(list(LinkRole)),
    version_hash=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    ttl=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=365)),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_any_valid_claims_round_trip(
    cycle_id: str, person: str, role: LinkRole, version_hash: str | None, ttl: timedelta, now: datetime
) -> None:
    token = issue_link(
        SECRET, cycle_id=cycle_id, person=person, role=role, version_hash=version_hash, ttl=ttl, now=now
    )
    claims = read_link(SECRET, token, expected_role=role, now=now, current_version_hash=version_hash)
    assert isinstance(claims, LinkClaims)
    assert (claims.cycle_id, claims.person, claims.role, claims.version_hash) == (
        cycle_id,
        person,
        role,
        version_hash,
    )
    assert claims.expires_at == now + ttl
    assert read_link(SECRET, token, expected_role=role, now=now + ttl) is LinkProblem.EXPIRED
