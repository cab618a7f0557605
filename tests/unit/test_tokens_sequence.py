"""The link's sequence: which email of a person's carried it (claim ``s``; absent reads as 0).

Tokens from before the claim existed still read (as 0), a first email's token keeps that old
shape, a signed payload whose ``s`` is not a small whole number is no link of ours, and the
mail code puts the number it is given into the token it mints.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from core.campaign_mail import StepRenderer, campaign_message
from core.mail_message import link_context
from core.settings import ENV_PREFIX, Settings
from core.tokens import MAX_SEQUENCE, issue_link, read_link
from models.campaign import CampaignMailRecipient
from models.links import LinkClaims, LinkProblem, LinkRole
from models.mail import LinkRequest

SECRET = "test-link-secret-" + "s" * 40
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TTL = timedelta(days=21)
VERSION = "a" * 64
SALT = "isms-cycle.link."


def _issue(sequence: int, role: LinkRole = LinkRole.SIGNER) -> str:
    return issue_link(
        SECRET,
        cycle_id="isms-review-larkspur-2026",
        person="ceo@larkspur.example",
        role=role,
        version_hash=VERSION,
        ttl=TTL,
        now=NOW,
        sequence=sequence,
    )


def _read(token: str, role: LinkRole = LinkRole.SIGNER, secret: str = SECRET) -> LinkClaims | LinkProblem:
    return read_link(secret, token, expected_role=role, now=NOW + timedelta(days=1))


def _payload(token: str, role: LinkRole = LinkRole.SIGNER) -> dict[str, object]:
    payload = URLSafeSerializer(SECRET, salt=f"{SALT}{role.value}").loads(token)
    assert isinstance(payload, dict)
    return payload


def _old_shape(role: LinkRole = LinkRole.SIGNER, **extra: object) -> str:
    """A token exactly as issue_link made them before sequences: six claims, no ``s``."""
    expiry = (NOW + TTL - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    payload: dict[str, object] = {
        "c": "isms-review-larkspur-2026",
        "p": "ceo@larkspur.example",
        "r": role.value,
        "v": VERSION,
        "n": secrets.token_urlsafe(16),
        "e": expiry,
    }
    payload.update(extra)
    token = URLSafeSerializer(SECRET, salt=f"{SALT}{role.value}").dumps(payload)
    assert isinstance(token, str)
    return token


@pytest.mark.parametrize("sequence", [0, 1, 2, 17, MAX_SEQUENCE])
@pytest.mark.parametrize("role", list(LinkRole))
def test_the_sequence_round_trips_for_every_role(role: LinkRole, sequence: int) -> None:
    claims = _read(_issue(sequence, role), role)
    assert isinstance(claims, LinkClaims)
    assert claims.sequence == sequence
    assert claims.person == "ceo@larkspur.example"


def test_a_first_emails_token_keeps_the_old_shape_and_a_later_one_carries_s() -> None:
    assert "s" not in _payload(_issue(0))  # a web app from before sequences still reads it
    assert _payload(_issue(3))["s"] == 3


def test_a_token_made_before_sequences_reads_as_the_first_email() -> None:
    claims = _read(_old_shape())
    assert isinstance(claims, LinkClaims)
    assert claims.sequence == 0


@pytest.mark.parametrize(
    "bad",
    [-1, MAX_SEQUENCE + 1, True, False, 1.0, "1", None, [1], {"n": 1}],
    ids=repr,
)
def test_a_signed_payload_whose_sequence_is_not_a_small_whole_number_is_tampered(bad: object) -> None:
    assert _read(_old_shape(s=bad)) is LinkProblem.TAMPERED


def test_a_signed_payload_with_any_other_extra_claim_is_still_tampered() -> None:
    assert _read(_old_shape(x=1)) is LinkProblem.TAMPERED
    assert _read(_old_shape(s=1, x=1)) is LinkProblem.TAMPERED


def test_the_sequence_is_under_the_signature() -> None:
    token = _issue(1)
    signature = token.rsplit(".", 1)[1]
    # a payload with a higher number, given the genuine signature, is a forgery
    forged = URLSafeSerializer("another-secret-" + "x" * 40, salt=f"{SALT}signer").dumps(
        {**_payload(token), "s": 9}
    )
    assert _read(f"{forged.rsplit('.', 1)[0]}.{signature}") is LinkProblem.TAMPERED
    assert _read(forged) is LinkProblem.TAMPERED


@pytest.mark.parametrize("bad", [-1, MAX_SEQUENCE + 1, True, 1.5])
def test_issue_link_refuses_a_sequence_that_is_not_a_small_whole_number(bad: object) -> None:
    with pytest.raises(ValueError, match="sequence must be a whole number"):
        _issue(bad)  # type: ignore[arg-type]


def test_a_link_request_refuses_a_negative_sequence_and_defaults_to_zero() -> None:
    request = LinkRequest(
        cycle_id="c", person="p@x.example", role=LinkRole.SIGNER, version_hash=None, path="sign"
    )
    assert request.sequence == 0
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        LinkRequest(
            cycle_id="c",
            person="p@x.example",
            role=LinkRole.SIGNER,
            version_hash=None,
            path="sign",
            sequence=-1,
        )


# --------------------------------------------------------------- minted by the mail code


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var in [var for var in os.environ if var.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(var)
    return Settings(
        _env_file=None,
        public_base_url="https://isms.larkspur.example",
        link_secret=SECRET,
        drafts_bucket="isms-drafts",
        archive_bucket="isms-archive",
        smtp_sender="isms@larkspur.example",
    )


def _token_in(text: str, path: str) -> str:
    match = re.search(rf"https://isms\.larkspur\.example/{path}/([A-Za-z0-9_.\-]+)", text)
    assert match, f"no /{path}/ link in the text"
    return match.group(1)


def test_the_signers_link_carries_the_sequence_of_its_request(settings: Settings) -> None:
    for sequence in (0, 2):
        request = LinkRequest(
            cycle_id="isms-review-larkspur-2026",
            person="ceo@larkspur.example",
            role=LinkRole.SIGNER,
            version_hash=VERSION,
            path="sign",
            sequence=sequence,
        )
        claims = _read(_token_in(str(link_context(settings, request)["link"]), "sign"))
        assert isinstance(claims, LinkClaims)
        assert claims.sequence == sequence


def test_a_staff_email_carries_the_sequence_of_its_recipient(settings: Settings) -> None:
    shared: dict[str, object] = {
        "organisation": "Larkspur Analytics Ltd",
        "lead_name": "Ravi Chandran",
        "version": "3.0",
        "deadline": "21 December 2026",
        "signer_name": "Eleanor Marsh",
        "documents": ["information-security-policy.docx"],
    }
    renderer = StepRenderer("staff_invitation", shared)
    for sequence in (0, 1, 4):
        recipient = CampaignMailRecipient(
            key=f"isms-review-larkspur-2026/ack/p@larkspur.example/step-{sequence}",
            to="p@larkspur.example",
            context={"person_name": "Pat Person"},
            link_for="p@larkspur.example",
            link_sequence=sequence,
        )
        message = campaign_message(
            settings,
            renderer,
            recipient,
            batch_id="isms-review-larkspur-2026--ack-0001",
            version_hash=VERSION,
        )
        plain = next(part for part in message.walk() if part.get_content_type() == "text/plain")
        text = plain.get_payload(decode=True)
        assert isinstance(text, bytes)
        claims = _read(_token_in(text.decode(), "ack"), LinkRole.STAFF)
        assert isinstance(claims, LinkClaims)
        assert (claims.person, claims.sequence) == ("p@larkspur.example", sequence)
