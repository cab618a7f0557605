"""The signer's second factor on the real signing page, against a running AnnualReviewWorkflow.

Real Temporal dev server and worker, real SeaweedFS, real SMTP sink (codes are read from its
.eml files, as the signer reads their email), the web app through httpx's ASGI transport.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from adapters.s3 import make_s3_client
from core.settings import Settings
from core.tokens import issue_link
from models.cycle import CycleStatus, Stage
from models.links import LinkRole
from tests.conftest import SmtpSink
from tests.workflows.helpers import (
    CEO,
    finish,
    invited,
    mails,
    page_csrf,
    pass_second_factor,
    signer_codes,
    start,
    wait_for,
)
from web.app import create_app
from web.signer_codes import MAX_ATTEMPTS
from web.state import STATE_FILENAME
from workflows.annual_review import AnnualReviewWorkflow

SIGNER_NAME = "Eleanor Marsh"
FORM = {"action": "sign", "typed_name": SIGNER_NAME, "consent": "yes"}


@pytest.fixture
async def cycle(review: tuple[Client, Settings]) -> AsyncIterator[tuple[WorkflowHandle, CycleStatus]]:
    client, settings = review
    handle = await start(client, settings)
    status = await wait_for(handle, invited)
    yield handle, status
    if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
        await handle.terminate("test over")


@pytest.fixture
async def web(review: tuple[Client, Settings]) -> AsyncIterator[httpx.AsyncClient]:
    temporal, settings = review
    app = create_app(settings, client=temporal)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://isms.test"
    ) as client:
        yield client


def _link(settings: Settings, status: CycleStatus) -> str:
    return issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id=status.cycle_id,
        person=CEO,
        role=LinkRole.SIGNER,
        version_hash=status.version_hash,
        ttl=timedelta(days=21),
        now=datetime.now(UTC),
    )


async def _events(handle: WorkflowHandle) -> list[str]:
    status: CycleStatus = await handle.query(AnnualReviewWorkflow.status)
    return [event.event for event in status.events]


async def test_signing_needs_the_emailed_code_and_the_page_never_prints_the_name(
    review: tuple[Client, Settings],
    cycle: tuple[WorkflowHandle, CycleStatus],
    web: httpx.AsyncClient,
    smtp_sink: SmtpSink,
) -> None:
    _, settings = review
    handle, status = cycle
    token = _link(settings, status)

    page = await web.get(f"/sign/{token}")
    assert page.status_code == 200
    assert SIGNER_NAME not in page.text  # the name to type is not given away
    assert 'name="typed_name"' not in page.text  # no Sign form before the second factor
    assert "Send me a code" in page.text
    assert "/sso" not in page.text  # single sign-on is offered only when configured

    # a signing POST without the second factor (a forwarded link, a script): nothing recorded
    refused = await web.post(f"/sign/{token}", data={**FORM, "csrf": page_csrf(page.text)})
    assert refused.status_code == 403
    assert "confirm it is you" in refused.text.lower()
    assert await _events(handle) == ["created", "rendered", "sent"]

    await pass_second_factor(web, token, smtp_sink, status.cycle_id)
    (code_mail,) = [
        m for key, m in mails(smtp_sink, status.cycle_id).items() if key.startswith("signer-code/")
    ]
    assert code_mail["To"] == CEO  # the code goes to the link's person, not to whoever holds the link
    verified = await web.get(f"/sign/{token}")
    assert "It is you: confirmed with the one-time code emailed to e\u2022\u2022\u2022@larkspur.example" in (
        verified.text
    )
    assert SIGNER_NAME not in verified.text

    # the same link forwarded and opened in another browser within the half hour: the code passed
    # in the CEO's browser does not carry over (another app on the same store: another web process)
    temporal, _ = review
    other_app = create_app(settings, client=temporal)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other_app), base_url="http://isms.test"
    ) as elsewhere:
        forwarded = await elsewhere.get(f"/sign/{token}")
        assert forwarded.status_code == 200
        assert 'name="typed_name"' not in forwarded.text  # no Sign form there
        attempt = await elsewhere.post(f"/sign/{token}", data={**FORM, "csrf": page_csrf(forwarded.text)})
        assert attempt.status_code == 403
        assert "confirm it is you" in attempt.text.lower()
    assert await _events(handle) == ["created", "rendered", "sent"]
    csrf = page_csrf(verified.text)  # each page sets a new CSRF value

    # a wrong name: the page says so without saying the name (the workflow's message has it)
    misnamed = await web.post(f"/sign/{token}", data={**FORM, "typed_name": "Someone Else", "csrf": csrf})
    assert misnamed.status_code == 422
    assert "the typed name does not match the signer&#39;s name on record" in misnamed.text
    assert SIGNER_NAME not in misnamed.text

    signed = await web.post(f"/sign/{token}", data={**FORM, "csrf": page_csrf(misnamed.text)})
    assert signed.status_code == 200, signed.text
    assert "your signature is recorded" in signed.text
    await finish(handle)
    assert (await _events(handle)).count("signed") == 1


async def test_five_wrong_codes_use_the_code_up_and_a_new_code_replaces_the_old(
    review: tuple[Client, Settings],
    cycle: tuple[WorkflowHandle, CycleStatus],
    web: httpx.AsyncClient,
    smtp_sink: SmtpSink,
) -> None:
    _, settings = review
    handle, status = cycle
    token = _link(settings, status)
    page = await web.get(f"/sign/{token}")
    assert (await web.post(f"/sign/{token}/code", data={"csrf": page_csrf(page.text)})).status_code == 303
    (code,) = signer_codes(smtp_sink, status.cycle_id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    # asking again at once is refused (no second email), and says how long to wait
    page = await web.get(f"/sign/{token}")
    again = await web.post(f"/sign/{token}/code", data={"csrf": page_csrf(page.text)})
    assert again.status_code == 429
    assert "Wait" in again.text
    assert signer_codes(smtp_sink, status.cycle_id) == [code]

    # not six digits: a clear error, not counted as an attempt
    malformed = await web.post(
        f"/sign/{token}/code/verify", data={"csrf": page_csrf(again.text), "code": "12345"}
    )
    assert malformed.status_code == 422
    assert f"is not. {MAX_ATTEMPTS} attempts left" in malformed.text
    csrf = page_csrf(malformed.text)
    for left in range(MAX_ATTEMPTS - 1, 0, -1):
        answer = await web.post(f"/sign/{token}/code/verify", data={"csrf": csrf, "code": wrong})
        assert answer.status_code == 422
        assert f"That code is not right. {left} attempt" in answer.text
        csrf = page_csrf(answer.text)
    last = await web.post(f"/sign/{token}/code/verify", data={"csrf": csrf, "code": wrong})
    assert "it was the last attempt" in last.text
    # the right code no longer works once the attempts are used up
    late = await web.post(f"/sign/{token}/code/verify", data={"csrf": page_csrf(last.text), "code": code})
    assert late.status_code == 422
    assert "There is no code waiting for this link" in late.text
    page = await web.get(f"/sign/{token}")
    assert 'name="typed_name"' not in page.text
    refused = await web.post(f"/sign/{token}", data={**FORM, "csrf": page_csrf(page.text)})
    assert refused.status_code == 403
    assert await _events(handle) == ["created", "rendered", "sent"]

    # the code is kept only as a keyed hash: the state file never holds it
    with sqlite3.connect(settings.web_state_dir / STATE_FILENAME) as connection:
        stored = " ".join(str(row) for row in connection.execute("SELECT key, value FROM entries"))
    assert code not in stored
    assert token not in stored


async def test_a_draft_pdf_changed_in_the_bucket_is_not_served(
    review: tuple[Client, Settings],
    cycle: tuple[WorkflowHandle, CycleStatus],
    web: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, settings = review
    handle, status = cycle
    token = _link(settings, status)
    page = await web.get(f"/sign/{token}")
    document = status.documents[0]
    before = await web.get(f"/sign/{token}/documents/{document.name}")
    assert before.status_code == 200

    # someone with write access to the drafts bucket swaps the PDF the CEO is about to read
    s3 = make_s3_client(settings)
    s3.put_object(Bucket=document.pdf.bucket, Key=document.pdf.key, Body=b"%PDF-1.7 a different policy")
    for headers in ({}, {"X-Isms-Viewer": "1", "X-Isms-Csrf": page_csrf(page.text)}):
        with caplog.at_level("WARNING", logger="web.signing"):
            changed = await web.get(f"/sign/{token}/documents/{document.name}", headers=headers)
        assert changed.status_code == 409
        assert "This document has changed since it was sent" in changed.text
        assert b"a different policy" not in changed.content
        assert changed.headers["content-type"].startswith("text/html")
    assert any("SHA-256 differs" in record.getMessage() for record in caplog.records)
    # the viewer's fetch of a refused file does not count as having opened it
    assert await _events(handle) == ["created", "rendered", "sent"]
    assert (await handle.query(AnnualReviewWorkflow.status)).stage is Stage.AWAITING_SIGNATURE
