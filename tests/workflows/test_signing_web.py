"""The signing page through the real web app, against a running AnnualReviewWorkflow.

Every way a link can be wrong gets its page and changes nothing; a GET (a mail scanner)
records nothing; the documents count as opened only when the page's script fetches them;
the decision is a POST with CSRF, and a double click is recorded once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from adapters.workflow_client import CycleHandle
from core.contract import Message
from core.settings import Settings
from core.tokens import issue_link
from models.cycle import CycleStatus, Stage
from models.links import LinkRole
from tests.conftest import SmtpSink
from tests.workflows.helpers import CEO, finish, invited, pass_second_factor, start, wait_for
from web.app import create_app
from workflows.annual_review import AnnualReviewWorkflow


@pytest.fixture
async def cycle(
    review: tuple[Client, Settings],
) -> AsyncIterator[tuple[WorkflowHandle, CycleStatus]]:
    client, settings = review
    handle = await start(client, settings)
    status = await wait_for(handle, invited)
    yield handle, status
    if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
        await handle.terminate("test over")  # a signed cycle runs on into its campaign


@pytest.fixture
async def web(review: tuple[Client, Settings]) -> AsyncIterator[httpx.AsyncClient]:
    temporal, settings = review
    app = create_app(settings, client=temporal)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://isms.test"
    ) as client:
        yield client


async def _current(handle: WorkflowHandle) -> CycleStatus:
    status: CycleStatus = await handle.query(AnnualReviewWorkflow.status)
    return status


def _link(settings: Settings, status: CycleStatus, **changes: object) -> str:
    claims: dict[str, object] = {
        "cycle_id": status.cycle_id,
        "person": CEO,
        "role": LinkRole.SIGNER,
        "version_hash": status.version_hash,
        "ttl": timedelta(days=21),
        "now": datetime.now(UTC),
    }
    claims.update(changes)
    return issue_link(settings.link_secret.get_secret_value(), **claims)  # type: ignore[arg-type]


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def test_scanner_get_records_nothing_and_the_page_shows_the_version(
    review: tuple[Client, Settings],
    cycle: tuple[WorkflowHandle, CycleStatus],
    web: httpx.AsyncClient,
) -> None:
    _, settings = review
    handle, status = cycle
    token = _link(settings, status)
    page = await web.get(f"/sign/{token}")
    assert page.status_code == 200
    assert "Review and sign version 3.0" in page.text
    for document in status.documents:
        assert document.shown_sha256 in page.text
    pdf = await web.get(f"/sign/{token}/documents/{status.documents[0].name}")  # a scanner following the link
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert [e.event for e in (await _current(handle)).events] == ["created", "rendered", "sent"]

    viewed = await web.get(
        f"/sign/{token}/documents/{status.documents[0].name}",
        headers={"X-Isms-Viewer": "1", "X-Isms-Csrf": _csrf(page.text)},
    )
    assert viewed.status_code == 200
    # the signal is accepted at once and applied by the workflow a moment later
    events = (await wait_for(handle, lambda s: s.events[-1].event == "opened")).events
    assert [e.event for e in events] == ["created", "rendered", "sent", "opened"]
    assert events[-1].detail == status.documents[0].name


@pytest.mark.parametrize(
    ("name", "changes", "code", "heading"),
    [
        ("expired", {"now": datetime.now(UTC) - timedelta(days=30)}, 410, "This link has expired"),
        ("wrong role", {"role": LinkRole.STAFF}, 403, "This link is not for this page"),
        ("superseded", {"version_hash": "0" * 64}, 410, "A newer version has been sent"),
        ("other secret", {"secret": "another-secret-" + "y" * 40}, 400, "This link is not valid"),
        ("tampered", {"tamper": True}, 400, "This link is not valid"),
    ],
)
async def test_bad_links_get_a_plain_page_and_change_nothing(
    review: tuple[Client, Settings],
    cycle: tuple[WorkflowHandle, CycleStatus],
    web: httpx.AsyncClient,
    name: str,
    changes: dict[str, object],
    code: int,
    heading: str,
) -> None:
    _, settings = review
    handle, status = cycle
    changes = dict(changes)
    tamper = changes.pop("tamper", False)
    secret = changes.pop("secret", None)
    if secret is not None:
        claims: dict[str, Any] = {"cycle_id": status.cycle_id, "person": CEO, "role": LinkRole.SIGNER}
        token = issue_link(
            str(secret),
            **claims,
            version_hash=status.version_hash,
            ttl=timedelta(days=1),
            now=datetime.now(UTC),
        )
    else:
        token = _link(settings, status, **changes)
    if tamper:
        token = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for response in (
        await web.get(f"/sign/{token}"),
        await web.get(f"/sign/{token}/documents/{status.documents[0].name}"),
        await web.post(
            f"/sign/{token}", data={"action": "sign", "typed_name": "Eleanor Marsh", "consent": "yes"}
        ),
    ):
        assert response.status_code == code, name
        assert heading in response.text
        assert "Nothing has been recorded or changed." in response.text
    assert [e.event for e in (await _current(handle)).events] == ["created", "rendered", "sent"]


async def test_post_needs_csrf_and_a_double_click_is_recorded_once(
    review: tuple[Client, Settings],
    cycle: tuple[WorkflowHandle, CycleStatus],
    web: httpx.AsyncClient,
    smtp_sink: SmtpSink,
) -> None:
    _, settings = review
    handle, status = cycle
    token = _link(settings, status)
    form = {"action": "sign", "typed_name": "Eleanor Marsh", "consent": "yes"}

    forged = await web.post(f"/sign/{token}", data={**form, "csrf": "forged"})
    assert forged.status_code == 403
    assert (await _current(handle)).stage is Stage.AWAITING_SIGNATURE

    page = await pass_second_factor(web, token, smtp_sink, status.cycle_id)
    csrf = _csrf(page)
    misnamed = await web.post(f"/sign/{token}", data={**form, "typed_name": "Someone Else", "csrf": csrf})
    assert misnamed.status_code == 422
    # the page does not repeat the workflow's message, which names the signer
    assert "the typed name does not match the signer&#39;s name on record" in misnamed.text
    assert (await _current(handle)).stage is Stage.AWAITING_SIGNATURE
    csrf = _csrf(misnamed.text)  # each rendering of the form carries a new CSRF value

    first = await web.post(f"/sign/{token}", data={**form, "csrf": csrf})
    assert first.status_code == 200, first.text
    assert "your signature is recorded" in first.text
    assert status.documents[0].shown_sha256 in first.text
    again = await web.post(f"/sign/{token}", data={**form, "csrf": csrf})
    assert again.status_code in (200, 409)
    assert ("your signature is recorded" in again.text) or ("Already signed" in again.text)

    await finish(handle)
    events = [e.event for e in (await _current(handle)).events]
    assert events.count("signed") == 1
    after = await web.get(f"/sign/{token}")
    assert "Already signed" in after.text


async def test_the_page_follows_the_refusal_type_not_its_wording(
    review: tuple[Client, Settings],
    cycle: tuple[WorkflowHandle, CycleStatus],
    web: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    smtp_sink: SmtpSink,
) -> None:
    """A second tab that read the cycle before the first signed: the workflow refuses its decision
    as ALREADY_SIGNED, worded here unlike any page's text, and the page still says nothing was
    recorded (409) instead of offering the form again."""
    _, settings = review
    handle, status = cycle
    token = _link(settings, status)
    form = {"action": "sign", "typed_name": "Eleanor Marsh", "consent": "yes"}
    csrf = _csrf(await pass_second_factor(web, token, smtp_sink, status.cycle_id))
    assert (await web.post(f"/sign/{token}", data={**form, "csrf": csrf})).status_code == 200
    await wait_for(handle, lambda s: s.stage is not Stage.AWAITING_SIGNATURE)

    # the message comes from the contract: reword it (the worker runs in this process)
    monkeypatch.setattr(Message, "ALREADY_SIGNED_VERSION", "zz reworded refusal {version}")

    async def stale(_request: object, cycle_id: str) -> tuple[CycleHandle, CycleStatus]:
        # the other tab's read, from before the signature: only the workflow knows better
        return CycleHandle(review[0], cycle_id), status

    monkeypatch.setattr("web.signing._cycle", stale)
    changes = {**form, "action": "request_changes", "comment": "x", "csrf": csrf}
    other = await web.post(f"/sign/{token}", data=changes)
    assert other.status_code == 409, other.text
    assert "Nothing was recorded" in other.text
    assert "Zz reworded refusal" in other.text  # the workflow's words, shown, not parsed
    await finish(handle)
    events = [e.event for e in (await _current(handle)).events]
    assert events.count("signed") == 1
    assert "changes requested" not in events
