"""Link tokens under bad input: read_link never raises and never grants what was not issued.

Properties, each over arbitrary input and an arbitrary (aware) ``now``:

- anything that is not a token (any text, bytes decoded as text, non-strings) is ``TAMPERED``;
- a genuine token changed in any way (a character flipped, inserted or deleted, truncated,
  something appended) is a ``LinkProblem``, or, only when the change leaves the signed payload
  as it was and the signature decoding to the same MAC, exactly the genuine claims;
- a token signed with another secret is ``TAMPERED``; one for another role is ``WRONG_ROLE``;
- a payload signed with our secret and a link salt, but not shaped like a link, is ``TAMPERED``;
- genuine tokens round-trip their claims for any valid claims, ttl and time zone.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from itsdangerous.encoding import base64_decode

from core.tokens import MAX_TOKEN_LENGTH, issue_link, read_link
from models.links import LinkClaims, LinkProblem, LinkRole

SECRET = "property-link-secret-" + "p" * 40
ISSUED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TTL = timedelta(days=21)
HEX = "0123456789abcdef"
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_."

# any aware moment the datetime type can hold, in any fixed offset from UTC
offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)),
)
any_now = st.datetimes(timezones=offsets)
roles = st.sampled_from(list(LinkRole))
version_hashes = st.none() | st.text(alphabet=HEX, min_size=64, max_size=64)


def _genuine(
    role: LinkRole, *, cycle_id: str, person: str, version_hash: str | None
) -> tuple[str, LinkClaims]:
    token = issue_link(
        SECRET, cycle_id=cycle_id, person=person, role=role, version_hash=version_hash, ttl=TTL, now=ISSUED
    )
    claims = read_link(SECRET, token, expected_role=role, now=ISSUED)
    assert isinstance(claims, LinkClaims)
    return token, claims


# issued once: a token's nonce is random, and a property must see the same token when replayed
GENUINE: list[tuple[LinkRole, str, LinkClaims]] = [
    (role, *_genuine(role, cycle_id=cycle_id, person=person, version_hash=version_hash))
    for role in LinkRole
    for cycle_id, person, version_hash in (
        ("isms-review-larkspur-2026", "eleanor.marsh@larkspur.example", "a" * 64),
        ("isms-review-larkspur-2026--ack-0001", "zoë.ünïcode@例え.example", None),
    )
]


def _same_mac(signature: str, genuine_signature: str) -> bool:
    """Whether the two decode to the same MAC, decoded as itsdangerous does (from UTF-8 bytes)."""
    try:
        return base64_decode(signature.encode("utf-8")) == base64_decode(genuine_signature.encode("utf-8"))
    except Exception:  # undecodable: certainly not the same MAC
        return False


def _assert_problem_or_the_genuine_claims(
    result: LinkClaims | LinkProblem, *, token: str, genuine: str, claims: LinkClaims, now: datetime
) -> None:
    if isinstance(result, LinkProblem):
        return
    assert isinstance(result, LinkClaims), f"read_link returned {result!r}"
    # itsdangerous decodes the signature leniently (spare low bits, '=', non-ASCII and other
    # non-base64 characters are ignored), so a few other spellings of the same MAC verify: they
    # must name exactly the genuine claims, and the signed payload must be the genuine one
    payload, _, signature = token.rpartition(".")
    genuine_payload, _, genuine_signature = genuine.rpartition(".")
    assert payload == genuine_payload, f"a changed payload was accepted: {token!r}"
    assert _same_mac(signature, genuine_signature), f"another MAC was accepted: {token!r}"
    assert result == claims
    assert now < result.expires_at


@settings(max_examples=200)
@given(
    token=st.text(max_size=MAX_TOKEN_LENGTH + 20)
    | st.text(alphabet=TOKEN_ALPHABET, max_size=200)
    | st.binary(max_size=300).map(lambda raw: raw.decode("utf-8", "surrogateescape"))
    | st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
    role=roles,
    now=any_now,
)
@example(token="\udcff", role=LinkRole.SIGNER, now=ISSUED)
@example(token="a" * (MAX_TOKEN_LENGTH + 1), role=LinkRole.SIGNER, now=ISSUED)
def test_any_text_is_tampered(token: str, role: LinkRole, now: datetime) -> None:
    # nothing but a genuine token can verify under our secret, for this role or any other
    assert read_link(SECRET, token, expected_role=role, now=now) is LinkProblem.TAMPERED


@settings(max_examples=100)
@given(
    token=st.binary()
    | st.integers()
    | st.none()
    | st.floats()
    | st.lists(st.text())
    | st.dictionaries(st.text(), st.text()),
    role=roles,
    now=any_now,
)
def test_anything_that_is_not_a_string_is_tampered(token: object, role: LinkRole, now: datetime) -> None:
    assert read_link(SECRET, token, expected_role=role, now=now) is LinkProblem.TAMPERED  # type: ignore[arg-type]


def _mutation() -> st.SearchStrategy[tuple[str, int, str]]:
    characters = st.sampled_from(TOKEN_ALPHABET) | st.characters(exclude_categories=["Cs"]) | st.just("=")
    return st.one_of(
        st.tuples(st.just("flip"), st.integers(min_value=0), characters),
        st.tuples(st.just("insert"), st.integers(min_value=0), characters),
        st.tuples(st.just("delete"), st.integers(min_value=0), st.just("")),
        st.tuples(st.just("truncate"), st.integers(min_value=0), st.just("")),
        st.tuples(st.just("append"), st.just(0), st.text(min_size=1, max_size=40)),
    )


def _mutate(token: str, mutations: list[tuple[str, int, str]]) -> str:
    for kind, position, text in mutations:
        index = position % max(len(token), 1)
        if kind == "flip" and token:
            token = token[:index] + text + token[index + 1 :]
        elif kind == "insert":
            token = token[:index] + text + token[index:]
        elif kind == "delete":
            token = token[:index] + token[index + 1 :]
        elif kind == "truncate":
            token = token[:index]
        elif kind == "append":
            token += text
    return token


@settings(max_examples=300)
@given(
    genuine=st.sampled_from(GENUINE),
    mutations=st.lists(_mutation(), min_size=1, max_size=3),
    now=any_now,
    read_as=st.none() | roles,
)
@example(genuine=GENUINE[0], mutations=[("append", 0, "=")], now=ISSUED, read_as=None)
@example(genuine=GENUINE[0], mutations=[("append", 0, "é")], now=ISSUED, read_as=None)
@example(genuine=GENUINE[0], mutations=[("append", 0, ":\x80")], now=ISSUED, read_as=None)
@example(genuine=GENUINE[0], mutations=[("flip", 10, "A"), ("flip", 10, "B")], now=ISSUED, read_as=None)
def test_a_changed_genuine_token_is_a_problem_or_exactly_the_genuine_claims(
    genuine: tuple[LinkRole, str, LinkClaims],
    mutations: list[tuple[str, int, str]],
    now: datetime,
    read_as: LinkRole | None,
) -> None:
    role, token, claims = genuine
    changed = _mutate(token, mutations)
    expected_role = read_as or role
    result = read_link(SECRET, changed, expected_role=expected_role, now=now)
    if expected_role is not role:
        # a mutation never turns a link into one for another role: the salt is inside the MAC
        assert isinstance(result, LinkProblem)
        return
    _assert_problem_or_the_genuine_claims(result, token=changed, genuine=token, claims=claims, now=now)
    if changed == token:
        assert result == (claims if now < claims.expires_at else LinkProblem.EXPIRED)


@settings(max_examples=100)
@given(genuine=st.sampled_from(GENUINE), now=any_now)
def test_a_genuine_token_is_valid_exactly_until_it_expires(
    genuine: tuple[LinkRole, str, LinkClaims], now: datetime
) -> None:
    role, token, claims = genuine
    expected = claims if now < ISSUED + TTL else LinkProblem.EXPIRED
    assert read_link(SECRET, token, expected_role=role, now=now) == expected


@settings(max_examples=100)
@given(
    other_secret=st.text(min_size=1, max_size=80).filter(lambda s: s != SECRET),
    role=roles,
    read_as=roles,
    cycle_id=st.text(max_size=40),
    person=st.emails(),
    version_hash=version_hashes,
    now=any_now,
)
def test_a_token_signed_with_another_secret_is_tampered(
    other_secret: str,
    role: LinkRole,
    read_as: LinkRole,
    cycle_id: str,
    person: str,
    version_hash: str | None,
    now: datetime,
) -> None:
    token = issue_link(
        other_secret,
        cycle_id=cycle_id,
        person=person,
        role=role,
        version_hash=version_hash,
        ttl=TTL,
        now=ISSUED,
    )
    assert read_link(SECRET, token, expected_role=read_as, now=now) is LinkProblem.TAMPERED


@settings(max_examples=100)
@given(
    roles_pair=st.permutations(list(LinkRole)).map(lambda ordered: (ordered[0], ordered[1])),
    cycle_id=st.text(max_size=40),
    person=st.emails(),
    version_hash=version_hashes,
    now=any_now,
    current_version_hash=st.none() | version_hashes,
)
def test_a_token_for_another_role_is_wrong_role_whenever_it_is_read(
    roles_pair: tuple[LinkRole, LinkRole],
    cycle_id: str,
    person: str,
    version_hash: str | None,
    now: datetime,
    current_version_hash: str | None,
) -> None:
    issued_for, read_as = roles_pair
    token = issue_link(
        SECRET,
        cycle_id=cycle_id,
        person=person,
        role=issued_for,
        version_hash=version_hash,
        ttl=TTL,
        now=ISSUED,
    )
    result = read_link(
        SECRET, token, expected_role=read_as, now=now, current_version_hash=current_version_hash
    )
    assert result is LinkProblem.WRONG_ROLE  # checked before expiry and version


CLAIM_KEYS = ("c", "p", "r", "v", "n", "e")


def _json_containers(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    _json_containers,
    max_leaves=12,
)


@st.composite
def link_shaped_payloads(draw: st.DrawFn, role: LinkRole) -> dict[str, object]:
    """A payload with the link's keys whose values may be of any type (expiry any integer)."""
    valid: dict[str, object] = {
        "c": draw(st.text(max_size=30)),
        "p": draw(st.emails()),
        "r": role.value,
        "v": draw(version_hashes),
        "n": draw(st.text(min_size=1, max_size=30)),
        "e": draw(st.integers()),
    }
    for key in draw(st.sets(st.sampled_from(CLAIM_KEYS))):
        valid[key] = draw(json_values)
    return valid


def _is_link_payload(payload: object, role: LinkRole) -> bool:
    if not isinstance(payload, dict) or set(payload) != set(CLAIM_KEYS):
        return False
    expiry = payload["e"]
    return (
        isinstance(payload["c"], str)
        and isinstance(payload["p"], str)
        and isinstance(payload["n"], str)
        and bool(payload["n"])
        and payload["r"] == role.value
        and (payload["v"] is None or isinstance(payload["v"], str))
        and isinstance(expiry, int)
        and not isinstance(expiry, bool)
    )


@settings(max_examples=150)
@given(data=st.data(), role=roles, now=any_now)
def test_a_payload_signed_by_us_but_not_shaped_like_a_link_is_tampered(
    data: st.DataObject, role: LinkRole, now: datetime
) -> None:
    payload = data.draw(json_values | link_shaped_payloads(role), label="payload")
    token = URLSafeSerializer(SECRET, salt=f"isms-cycle.link.{role.value}").dumps(payload)
    result = read_link(SECRET, token, expected_role=role, now=now)
    if len(token) > MAX_TOKEN_LENGTH or not _is_link_payload(payload, role):
        assert result is LinkProblem.TAMPERED
        return
    assert isinstance(payload, dict)
    if isinstance(result, LinkClaims):
        assert (result.cycle_id, result.person, result.version_hash, result.nonce) == (
            payload["c"],
            payload["p"],
            payload["v"],
            payload["n"],
        )
        assert now < result.expires_at
    else:  # an expiry beyond what a datetime holds is a forgery too
        assert result in (LinkProblem.EXPIRED, LinkProblem.TAMPERED)


@settings(max_examples=100)
@given(
    cycle_id=st.text(max_size=60),
    person=st.emails(),
    role=roles,
    version_hash=version_hashes,
    other_hash=st.text(alphabet=HEX, min_size=64, max_size=64),
    ttl=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=400)),
    now=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets),
)
def test_any_valid_claims_round_trip_in_any_time_zone(
    cycle_id: str,
    person: str,
    role: LinkRole,
    version_hash: str | None,
    other_hash: str,
    ttl: timedelta,
    now: datetime,
) -> None:
    token = issue_link(
        SECRET, cycle_id=cycle_id, person=person, role=role, version_hash=version_hash, ttl=ttl, now=now
    )
    assert len(token) <= MAX_TOKEN_LENGTH
    assert set(token) <= set(TOKEN_ALPHABET)  # safe in a URL path as it is
    claims = read_link(SECRET, token, expected_role=role, now=now, current_version_hash=version_hash)
    assert isinstance(claims, LinkClaims)
    assert (claims.cycle_id, claims.person, claims.role, claims.version_hash) == (
        cycle_id,
        person,
        role,
        version_hash,
    )
    assert claims.expires_at == now + ttl
    assert claims.expires_at.utcoffset() == timedelta(0)
    last_moment = now + ttl - timedelta(microseconds=1)
    assert read_link(SECRET, token, expected_role=role, now=last_moment) == claims
    assert read_link(SECRET, token, expected_role=role, now=now + ttl) is LinkProblem.EXPIRED
    if version_hash != other_hash:
        superseded = read_link(SECRET, token, expected_role=role, now=now, current_version_hash=other_hash)
        assert superseded is LinkProblem.SUPERSEDED
