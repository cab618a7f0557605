"""Bad form fields and garbage links, over real HTTP, against running workflows: nothing changes.

The real app is served by uvicorn (the ``served`` fixture: worker, web app, Temporal dev
server, SeaweedFS). Hypothesis sends, per example:

- to a genuine signing link, a POST of random fields (action, typed_name, consent, comment of
  any unicode, control characters included, up to the form's limits; a CSRF value missing,
  empty, garbage, altered, or right but without its cookie; extra and repeated fields; form
  or multipart encoding), never a complete valid decision;
- to a genuine acknowledgement link, the same kind of POST, never with a valid CSRF value;
- GETs and POSTs of garbage tokens (any text, the token alphabet, over-long, a genuine link
  changed, another page's link) to every route under /sign/, /ack/ and /audit/.

Every answer is an HTML page, 4xx (or 200 for a GET of a link that reads as the genuine one,
which records nothing), never 5xx; the workflow's state afterwards equals its state before.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, assume, event, example, given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from adapters.campaign import batch_progress
from core.settings import Settings
from core.tokens import issue_link, read_link
from models.campaign import CampaignInput, batch_id_for
from models.cycle import CycleStatus, SecondFactor, SecondFactorMethod
from models.links import LinkClaims, LinkRole
from tests.workflows.campaign_helpers import (
    batch_of,
    ladder,
    staff_link,
    staff_rows,
    start_campaign,
    wait_until,
)
from tests.workflows.helpers import CEO, invited, start, wait_for
from web.state import SIGNER_BROWSER_COOKIE, WebState, mark_signer_verified, new_browser_binding
from workflows.acknowledgement import AcknowledgementBatchWorkflow
from workflows.annual_review import AnnualReviewWorkflow

SIGNER_NAME = "Eleanor Marsh"  # the demo profile's CEO, who holds the signing link
NOTHING_CHANGED = "Nothing has been recorded or changed."
USER_AGENT = "pytest-properties/1.0"
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_."

# each example makes several HTTP calls and Temporal queries; the fixtures are set up once per
# test (not per example), which is what the function_scoped_fixture health check warns about
WEB = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # controls (Cc) included
long_runs = st.tuples(
    st.sampled_from(["x", "é", "\x00", " ", "\n", "\u202e", "😀"]), st.integers(1, 5000)
).map(lambda run: run[0] * run[1])


@dataclass
class Signing:
    client: Client
    settings: Settings
    handle: WorkflowHandle[AnnualReviewWorkflow, object]
    status: CycleStatus
    token: str
    browser: str  # the cookie value of the browser that passed the second factor

    async def state(self) -> dict[str, object]:
        status: CycleStatus = await self.handle.query(AnnualReviewWorkflow.status)
        return status.model_dump()


@dataclass
class Acknowledging:
    client: Client
    settings: Settings
    data: CampaignInput
    email: str
    token: str

    async def state(self) -> tuple[dict[str, object], dict[str, object]]:
        handle = self.client.get_workflow_handle(batch_id_for(self.data.cycle_id, 1))
        page = await handle.query(AcknowledgementBatchWorkflow.page, self.email)
        assert page is not None
        assert page.person is not None
        assert page.person.acknowledged_at is None, "an acknowledgement was recorded"
        progress = await batch_progress(self.client, self.data.cycle_id, 1)
        assert progress.tally.acknowledged == 0, "an acknowledgement was recorded"
        return page.model_dump(), progress.model_dump()


@pytest.fixture
async def signing(served: tuple[Client, Settings]) -> AsyncIterator[Signing]:
    """A cycle awaiting the CEO's signature, and the CEO's genuine link."""
    client, settings = served
    handle = await start(client, settings)
    status = await wait_for(handle, invited)
    token = issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id=status.cycle_id,
        person=CEO,
        role=LinkRole.SIGNER,
        version_hash=status.version_hash,
        ttl=timedelta(days=21),
        now=datetime.now(UTC),
    )
    # the CEO has passed the second factor, so the random forms reach the workflow's checks
    claims = read_link(
        settings.link_secret.get_secret_value(), token, expected_role=LinkRole.SIGNER, now=datetime.now(UTC)
    )
    assert isinstance(claims, LinkClaims)
    now = datetime.now(UTC)
    factor = SecondFactor(method=SecondFactorMethod.EMAILED_CODE, identity=CEO, verified_at=now)
    browser = new_browser_binding()
    await mark_signer_verified(
        WebState(settings.web_state_dir),
        claims.token_id,
        factor,
        browser=browser,
        expires_at=now + timedelta(hours=1),
    )
    yield Signing(client, settings, handle, status, token, browser)
    if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
        await handle.terminate("test over")


@pytest.fixture
async def acknowledging(served: tuple[Client, Settings], tmp_path: Path) -> AsyncIterator[Acknowledging]:
    """A campaign of two people, both invited, and the second person's genuine link."""
    client, settings = served
    rows = staff_rows(2)
    handle, data = await start_campaign(client, settings, tmp_path, rows, schedule=ladder())
    await wait_until(client, data.cycle_id, lambda p: p.batches == 1 and p.tally.total == 2)
    email = rows[1]["email"]
    token = staff_link(settings, data, email, await batch_of(client, data.cycle_id, email, 1))
    for _ in range(300):  # the invitations are sent a moment later: let the page settle first
        if (await batch_progress(client, data.cycle_id, 1)).invited == 2:
            break
        await asyncio.sleep(0.2)
    assert (await batch_progress(client, data.cycle_id, 1)).invited == 2
    yield Acknowledging(client, settings, data, email, token)
    await handle.terminate("test over")  # its batches are terminated with it


def _http(settings: Settings) -> httpx.AsyncClient:
    """A client of its own for one example: a cookie jar no earlier example has touched."""
    return httpx.AsyncClient(
        base_url=settings.public_base_url, headers={"User-Agent": USER_AGENT}, timeout=60
    )


def _segment(text: str) -> str:
    """``text`` as one path segment, every reserved character escaped ('.' and '..' too)."""
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if set(text) <= {"."} else encoded


def _assert_plain_page(response: httpx.Response, *, may_show: bool = False) -> None:
    """An HTML page: 4xx saying nothing changed (or a refused form), or 200 where allowed."""
    where = f"{response.request.method} {str(response.request.url)[:200]}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    assert response.headers.get("content-type", "").startswith("text/html"), (
        f"{where}: {response.status_code} {response.headers.get('content-type')} {response.text[:300]}"
    )
    if response.status_code == 200:
        assert may_show, f"{where}: 200 for a request that should have been refused"
        return
    assert 400 <= response.status_code < 500, f"{where}: {response.status_code}"
    refused_form = response.status_code == 422 and 'class="error"' in response.text
    assert NOTHING_CHANGED in response.text or refused_form, f"{where}: {response.text[:500]}"


# ---------------------------------------------------------------- random form fields


def _same_name(typed: str, expected: str) -> bool:
    # as the workflow compares them (workflows/annual_review.py): spaces collapsed, case folded
    return " ".join(typed.split()).casefold() == " ".join(expected.split()).casefold()


def _would_record(fields: dict[str, str], csrf: str) -> bool:
    """A complete, valid decision: the one input these tests must never send."""
    if csrf != "valid":
        return False
    action = fields.get("action", "")
    if action == "sign":
        return fields.get("consent") == "yes" and _same_name(fields.get("typed_name", ""), SIGNER_NAME)
    if action == "request_changes":
        return bool(fields.get("comment", "").strip())
    return False


CSRF_KINDS = ["valid", "missing", "empty", "garbage", "altered", "no cookie"]


WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000"


@st.composite
def signing_forms(draw: st.DrawFn) -> tuple[str, dict[str, str], list[tuple[str, str]], bool]:
    """(the CSRF kind, the named fields, extra and repeated fields, multipart or not).

    Each form has one defect, chosen first so that every refusal is reached: no valid CSRF
    value, an unknown action, a signature without consent or with another name, a request
    for changes without a comment. The other fields are anything.
    """
    candidates = {
        "action": st.sampled_from(["sign", "request_changes", "SIGN", " sign", "sign\x00", "delete", ""])
        | any_text,
        "typed_name": st.sampled_from(
            [SIGNER_NAME, "eleanor  MARSH", "Eleanor Marsh\x00", "Eleanor Marš", ""]
        )
        | any_text
        | long_runs.map(lambda run: run[:200]),
        "consent": st.sampled_from(["yes", "YES", "on", "no", "true", ""]) | any_text,
        "comment": any_text | long_runs | st.sampled_from(["", " \t\n", "\x1c\x1d\x1e\x1f"]),
    }
    fields = {name: draw(value) for name, value in candidates.items() if draw(st.booleans())}
    defect = draw(st.sampled_from(["csrf", "action", "consent", "name", "comment"]))
    csrf = draw(st.sampled_from(CSRF_KINDS[1:])) if defect == "csrf" else "valid"
    if defect == "action":
        fields["action"] = draw(
            candidates["action"].filter(lambda action: action not in ("sign", "request_changes"))
        )
    elif defect in ("consent", "name"):
        fields["action"] = "sign"
        if defect == "consent":
            fields["consent"] = draw(candidates["consent"].filter(lambda consent: consent != "yes"))
        else:
            fields["consent"] = "yes"
            fields["typed_name"] = draw(
                candidates["typed_name"].filter(lambda name: not _same_name(name, SIGNER_NAME))
            )
    elif defect == "comment":
        fields["action"] = "request_changes"
        fields["comment"] = draw(st.text(alphabet=WHITESPACE, max_size=20))
    extra = draw(
        st.lists(st.tuples(any_text.filter(lambda key: key not in candidates), any_text), max_size=3)
    )
    if csrf != "valid" and draw(st.booleans()):  # a field twice: the app must not pick a valid one
        extra.append((draw(st.sampled_from(list(candidates))), draw(any_text)))
    return csrf, fields, extra, draw(st.booleans())


async def _post_form(
    http: httpx.AsyncClient,
    path: str,
    *,
    csrf_kind: str,
    fields: dict[str, str],
    extra: list[tuple[str, str]],
    multipart: bool,
) -> httpx.Response:
    body: list[tuple[str, str]] = list(fields.items())
    if csrf_kind in ("valid", "altered", "no cookie"):
        page = await http.get(path)
        _assert_plain_page(page, may_show=True)
        start_ = page.text.find('name="csrf" value="')
        assert start_ >= 0, f"no CSRF field on {path}: {page.text[:300]}"
        value = page.text[start_ + len('name="csrf" value="') :].split('"', 1)[0]
        if csrf_kind == "altered":
            value = value[:-1] + ("A" if value[-1] != "A" else "B")
        if csrf_kind == "no cookie":
            http.cookies.clear()
        body.append(("csrf", value))
    elif csrf_kind == "empty":
        body.append(("csrf", ""))
    elif csrf_kind == "garbage":
        body.append(("csrf", "forged-" + "x" * 43))
    body += extra
    if multipart:
        return await http.post(path, data=_as_multidict(body), files={"attachment": ("a.txt", b"\x00\xff")})
    return await http.post(path, data=_as_multidict(body))


def _as_multidict(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    merged: dict[str, list[str]] = {}
    for key, value in pairs:
        merged.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in merged.items()}


@settings(WEB, max_examples=50)
@given(form=signing_forms())
@example(form=("valid", {"action": "sign", "typed_name": "Someone Else", "consent": "yes"}, [], False))
@example(form=("valid", {"action": "sign", "typed_name": SIGNER_NAME, "consent": "no"}, [], False))
@example(form=("valid", {"action": "request_changes", "comment": " \t\x1c "}, [], True))
@example(form=("no cookie", {"action": "sign", "typed_name": SIGNER_NAME, "consent": "yes"}, [], False))
@example(
    form=(
        "missing",
        {"action": "sign", "typed_name": SIGNER_NAME, "consent": "yes"},
        [("action", "x")],
        False,
    )
)
async def test_random_signing_form_fields_get_a_page_and_record_nothing(
    signing: Signing, form: tuple[str, dict[str, str], list[tuple[str, str]], bool]
) -> None:
    csrf_kind, fields, extra, multipart = form
    assume(not _would_record(fields, csrf_kind))
    before = await signing.state()
    async with _http(signing.settings) as http:
        # the browser that passed the second factor
        http.cookies.set(SIGNER_BROWSER_COOKIE, signing.browser, path=f"/sign/{signing.token}")
        response = await _post_form(
            http,
            f"/sign/{signing.token}",
            csrf_kind=csrf_kind,
            fields=fields,
            extra=extra,
            multipart=multipart,
        )
    event(f"{csrf_kind} CSRF: {response.status_code}")
    _assert_plain_page(response)
    assert await signing.state() == before


@st.composite
def acknowledgement_forms(draw: st.DrawFn) -> tuple[str, dict[str, str], list[tuple[str, str]], bool]:
    csrf = draw(st.sampled_from([kind for kind in CSRF_KINDS if kind != "valid"]))
    extra = draw(st.lists(st.tuples(any_text, any_text | long_runs), max_size=4))
    if draw(st.booleans()):
        extra.append(("csrf", draw(any_text)))  # a second, garbage, CSRF value
    return csrf, {}, extra, draw(st.booleans())


@settings(WEB, max_examples=40)
@given(form=acknowledgement_forms())
@example(form=("no cookie", {}, [], False))
@example(form=("altered", {}, [("csrf", "")], True))
async def test_random_acknowledgement_form_fields_get_a_page_and_record_nothing(
    acknowledging: Acknowledging, form: tuple[str, dict[str, str], list[tuple[str, str]], bool]
) -> None:
    csrf_kind, fields, extra, multipart = form
    before = await acknowledging.state()
    async with _http(acknowledging.settings) as http:
        response = await _post_form(
            http,
            f"/ack/{acknowledging.token}",
            csrf_kind=csrf_kind,
            fields=fields,
            extra=extra,
            multipart=multipart,
        )
    event(f"{csrf_kind} CSRF: {response.status_code}")
    _assert_plain_page(response)
    assert await acknowledging.state() == before


# ---------------------------------------------------------------- garbage links


def _changed(token: str, kind: str, position: int, text: str) -> str:
    index = position % len(token)
    if kind == "flip":
        return token[:index] + text + token[index + 1 :]
    if kind == "insert":
        return token[:index] + text + token[index:]
    if kind == "delete":
        return token[:index] + token[index + 1 :]
    if kind == "truncate":
        return token[:index]
    return token + text


def _garbage_tokens(genuine: list[str]) -> st.SearchStrategy[str]:
    changed = st.builds(
        _changed,
        st.sampled_from(genuine),
        st.sampled_from(["flip", "insert", "delete", "truncate", "append"]),
        st.integers(min_value=0),
        st.sampled_from(TOKEN_ALPHABET) | st.characters(exclude_categories=["Cs"]) | st.just("="),
    )
    return (
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200)
        | st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=300)
        | st.integers(min_value=2049, max_value=4000).map(lambda n: "A" * n)
        | changed
        | st.sampled_from(genuine)  # a genuine link on another page is that page's garbage
    ).filter(lambda token: "/" not in token and token != "")


PAGES = {"/sign/": LinkRole.SIGNER, "/ack/": LinkRole.STAFF, "/audit/": LinkRole.AUDITOR}
LINK_ROUTES = {"": ["GET", "POST"], "/documents/{name}": ["GET"]}
AUDIT_ROUTES = {
    "": ["GET"],
    "/{year}": ["GET"],
    "/{year}/download?key={name}": ["GET"],
    "/{year}/verify": ["POST"],
    "/{year}/pack": ["GET"],
}


@settings(WEB, max_examples=40)
@given(data=st.data())
async def test_garbage_links_get_a_page_and_record_nothing(
    signing: Signing, acknowledging: Acknowledging, data: st.DataObject
) -> None:
    settings_ = signing.settings
    lead = issue_link(
        settings_.link_secret.get_secret_value(),
        cycle_id="dashboard",
        person="ravi.chandran@larkspur.example",
        role=LinkRole.LEAD,
        version_hash=None,
        ttl=timedelta(hours=1),
        now=datetime.now(UTC),
    )
    token = data.draw(_garbage_tokens([signing.token, acknowledging.token, lead]), label="token")
    page = data.draw(st.sampled_from(list(PAGES)), label="page")
    # every route under the page: (the path after the token, the methods it answers)
    routes = AUDIT_ROUTES if page == "/audit/" else LINK_ROUTES
    suffix = data.draw(st.sampled_from(list(routes)), label="suffix")
    name = data.draw(
        st.sampled_from([d.name for d in signing.status.documents])
        | st.text(min_size=1, max_size=30).filter(lambda text: "/" not in text),
        label="name",
    )
    year = data.draw(st.sampled_from(["2026", "0000", "99999", "-1", "x"]), label="year")
    path = page + _segment(token) + suffix.format(name=_segment(name), year=year)
    method = data.draw(st.sampled_from(routes[suffix]), label="method")
    claims = read_link(
        settings_.link_secret.get_secret_value(), token, expected_role=PAGES[page], now=datetime.now(UTC)
    )

    signing_before, ack_before = await signing.state(), await acknowledging.state()
    async with _http(settings_) as http:
        if method == "GET":
            response = await http.get(path)
        else:
            form = data.draw(st.dictionaries(any_text, any_text, max_size=3), label="form")
            response = await http.post(path, data={**form, "csrf": data.draw(any_text, label="csrf")})
    # a link that reads as the genuine one shows its page (or document) on GET, and that is all
    genuine = isinstance(claims, LinkClaims) and method == "GET"
    event(f"{method} {page}...{suffix[:4]}: {response.status_code}")
    if (
        genuine
        and suffix.startswith("/documents")
        and response.headers.get("content-type") == "application/pdf"
    ):
        assert response.status_code == 200
        assert response.content.startswith(b"%PDF-")
    else:
        _assert_plain_page(response, may_show=genuine)
    assert await signing.state() == signing_before
    assert await acknowledging.state() == ack_before


# ------------------------------------------- bodies the framework itself refuses (once JSON)


@settings(WEB, max_examples=10, phases=[Phase.explicit, Phase.generate])
@given(
    page=st.sampled_from(["/sign/", "/ack/"]),
    body=st.one_of(
        st.integers(201, 2000).map(
            lambda n: ({"action": "sign", "typed_name": "E" * n, "consent": "yes"}, None)
        ),
        st.integers(5001, 20000).map(lambda n: ({"action": "request_changes", "comment": "x" * n}, None)),
        st.sampled_from([b"garbage", b"--xyz\r\nContent-Disposition: form-data\r\n\r\n"]).map(
            lambda raw: ({}, raw)
        ),
    ),
)
@example(page="/sign/", body=({"action": "request_changes", "comment": "Please change. " * 400}, None))
async def test_a_form_body_the_framework_refuses_gets_an_html_page(
    served: tuple[Client, Settings], page: str, body: tuple[dict[str, str], bytes | None]
) -> None:
    _, settings_ = served
    fields, raw = body
    role = LinkRole.SIGNER if page == "/sign/" else LinkRole.STAFF
    token = issue_link(
        settings_.link_secret.get_secret_value(),
        cycle_id="isms-review-larkspur-2026" + ("" if role is LinkRole.SIGNER else "--ack-0001"),
        person=CEO,
        role=role,
        version_hash="0" * 64,
        ttl=timedelta(days=1),
        now=datetime.now(UTC),
    )
    async with _http(settings_) as http:
        if raw is None:
            response = await http.post(f"{page}{token}", data=fields)
        else:
            response = await http.post(
                f"{page}{token}", content=raw, headers={"content-type": "multipart/form-data; boundary=xyz"}
            )
    _assert_plain_page(response)
