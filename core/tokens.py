"""Signed, expiring link tokens: one person, one role, one cycle, one document version.

Used by the mail activity (to mint the links it emails) and by the web app (to check them),
so it stays pure: no clock, no I/O, no imports from ``activities`` or ``web``.

>>> token = issue_link(secret, cycle_id="isms-review-acme-2026", person="ceo@acme.example",
...                    role=LinkRole.SIGNER, version_hash=digest, ttl=timedelta(days=21), now=now)
>>> read_link(secret, token, expected_role=LinkRole.SIGNER, now=now, current_version_hash=digest)
LinkClaims(cycle_id='isms-review-acme-2026', ...)

A token is an itsdangerous ``URLSafeSerializer`` payload (HMAC-SHA1 over a key derived from
the secret and a per-role salt) carrying the claims, a nonce of 128 bits from ``secrets``, the
expiry in microseconds since the epoch (UTC) and, from the second email a person is sent on,
the email's sequence number (claim ``"s"``: absent means 0, so tokens made before it existed
read as the first email's, and a first email's token keeps the shape it always had).

The salt differs per role, so a token made for one purpose never verifies as another;
:func:`read_link` still tells "a real link, but for another page" (``WRONG_ROLE``) from a
forgery (``TAMPERED``) by trying the other salts.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from itsdangerous import BadData, URLSafeSerializer

from models.links import LinkClaims, LinkProblem, LinkRole

NONCE_BYTES = 16  # 128 bits, the floor the design sets for link entropy
MAX_TOKEN_LENGTH = 2048  # longer input is refused before any decoding work
_SALT_PREFIX = "isms-cycle.link."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CLAIM_KEYS = frozenset({"c", "p", "r", "v", "n", "e"})
_SEQUENCE_KEY = "s"  # optional: which email of the person's carried the link (absent: 0)
MAX_SEQUENCE = 1_000_000  # far beyond any ladder of reminders; a larger claim is no link's


def _salt(role: LinkRole) -> str:
    return f"{_SALT_PREFIX}{role.value}"


def _serializer(secret: str, role: LinkRole) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_salt(role))


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime")


def issue_link(
    secret: str,
    *,
    cycle_id: str,
    person: str,
    role: LinkRole,
    version_hash: str | None,
    ttl: timedelta,
    now: datetime,
    sequence: int = 0,
) -> str:
    """A URL-safe token granting ``person`` the ``role`` on ``cycle_id`` until ``now + ttl``.

    ``sequence`` says which email of the person's (for this role) carries the link: 0 the
    first, 1, 2, ... each later one; the workflows accept only the newest sent.
    Every call has a fresh nonce, so two links with the same claims are different tokens.
    Raises ``ValueError`` for a naive ``now``, a non-positive ``ttl``, a ``sequence`` outside
    0 to :data:`MAX_SEQUENCE` or claims so long the token would exceed
    :data:`MAX_TOKEN_LENGTH` (and so never be accepted).
    """
    _require_aware(now, "now")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be a whole number from 0 to {MAX_SEQUENCE}, got {sequence!r}")
    expires_at = now.astimezone(UTC) + ttl
    payload: dict[str, object] = {
        "c": cycle_id,
        "p": person,
        "r": role.value,
        "v": version_hash,
        "n": secrets.token_urlsafe(NONCE_BYTES),
        "e": (expires_at - _EPOCH) // _MICROSECOND,
    }
    if sequence:  # a first email's token keeps the shape tokens had before sequences
        payload[_SEQUENCE_KEY] = sequence
    token = _serializer(secret, role).dumps(payload)
    assert isinstance(token, str)  # URLSafeSerializer produces text
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError(f"claims too long: the token would be {len(token)} characters")
    return token


def _claims_from_payload(payload: Any, role: LinkRole) -> LinkClaims | None:
    """The claims in a verified payload, or None if its shape is wrong (never raises)."""
    if not isinstance(payload, dict) or set(payload) - {_SEQUENCE_KEY} != _CLAIM_KEYS:
        return None
    sequence = payload.get(_SEQUENCE_KEY, 0)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= MAX_SEQUENCE:
        return None
    cycle_id, person, role_value, version_hash, nonce, expiry = (
        payload["c"],
        payload["p"],
        payload["r"],
        payload["v"],
        payload["n"],
        payload["e"],
    )
    if not (isinstance(cycle_id, str) and isinstance(person, str) and isinstance(nonce, str) and nonce):
        return None
    if role_value != role.value or not (version_hash is None or isinstance(version_hash, str)):
        return None
    if not isinstance(expiry, int) or isinstance(expiry, bool):
        return None
    try:
        expires_at = _EPOCH + expiry * _MICROSECOND
    except OverflowError:
        return None
    return LinkClaims(
        cycle_id=cycle_id,
        person=person,
        role=role,
        version_hash=version_hash,
        nonce=nonce,
        expires_at=expires_at,
        sequence=sequence,
    )


def _verified_payload(secret: str, token: str, role: LinkRole) -> tuple[bool, Any]:
    try:
        return True, _serializer(secret, role).loads(token)
    except (BadData, ValueError, TypeError, OverflowError):
        # BadData: bad signature or undecodable; the rest: defensive, the input is hostile
        return False, None


def read_link(
    secret: str,
    token: str,
    *,
    expected_role: LinkRole,
    now: datetime,
    current_version_hash: str | None = None,
) -> LinkClaims | LinkProblem:
    """The claims of a valid link, or why it does not work. Never raises on any ``token``.

    Checked in this order: ``TAMPERED`` (not a string, longer than :data:`MAX_TOKEN_LENGTH`,
    malformed, a bad signature, another secret or a salt that is no link's), ``WRONG_ROLE``
    (a genuine link for another role), ``EXPIRED`` (``now >= expires_at``) and, when
    ``current_version_hash`` is given, ``SUPERSEDED`` (the link names another version).
    """
    _require_aware(now, "now")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return LinkProblem.TAMPERED
    verified, payload = _verified_payload(secret, token, expected_role)
    if not verified:
        for other in LinkRole:
            if other is not expected_role and _verified_payload(secret, token, other)[0]:
                return LinkProblem.WRONG_ROLE
        return LinkProblem.TAMPERED
    claims = _claims_from_payload(payload, expected_role)
    if claims is None:  # signed by us but not a link payload: treat as a forgery
        return LinkProblem.TAMPERED
    if now >= claims.expires_at:
        return LinkProblem.EXPIRED
    if current_version_hash is not None and claims.version_hash != current_version_hash:
        return LinkProblem.SUPERSEDED
    return claims


def link_url(base_url: str, path: str, token: str) -> str:
    """``{base_url}/{path}/{token}``, e.g. ``link_url(settings.public_base_url, "sign", token)``."""
    route = "/".join(quote(part, safe="") for part in path.strip("/").split("/") if part)
    return f"{base_url.rstrip('/')}/{route}/{quote(token, safe='')}"
