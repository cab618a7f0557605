"""Role holders accept their roles on the real page, after a real cycle is signed.

The demo profile (its role ladder shortened so a reminder comes within seconds) goes through
the real worker: rendered, sent to the CEO, signed, sealed. The role acceptance workflow then
emails each holder and deputy their own link; the link from the SMTP sink opens the person's
page (their roles, responsibilities and reporting line), and what they answer is recorded by
the workflow exactly once. The ISMS lead's page serves the sealed appointment letter only
while its SHA-256 is the one signed. Every way a link can be wrong gets a plain page and
records nothing, and no token reaches a log line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle

from adapters.role_view import role_state
from adapters.s3 import make_s3_client
from adapters.workflow_client import RoleHandle
from core.hashing import sha256_bytes
from core.settings import Settings
from core.tokens import issue_link
from models.links import LinkRole
from models.role_acceptance import ROLE_ACCEPTANCE_TEXT, RoleAcceptanceState, RolePage, RoleRecord
from tests.conftest import SmtpSink
from tests.workflows.helpers import (
    DEMO,
    LEAD,
    current_demo_profile,
    finish,
    invited,
    sign,
    start,
    wait_for,
    wait_for_mail,
)
from web.app import create_app
from web.security import CSRF_COOKIE
from workflows.annual_review import AnnualReviewWorkflow

DEPUTY = "sofia.alvarez@larkspur.example"  # ISMS lead's deputy and the Engineering Lead
HR = "daniel.obrien@larkspur.example"
USER_AGENT = "pytest-roles/1.0 (like a browser)"
# the first reminder within seconds; nothing else happens during the test
ROLE_LADDER = """
role_acceptance:
  reminders: [PT15S]
  escalate_after: PT1H
  close_after: PT2H
"""


@pytest.fixture
async def web(review: tuple[Client, Settings]) -> AsyncIterator[httpx.AsyncClient]:
    client, settings = review
    app = create_app(settings, client=client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://isms.test",
        headers={"User-Agent": USER_AGENT},
    ) as http:
        yield http


async def _signed_cycle(client: Client, settings: Settings, folder: Path) -> WorkflowHandle:
    profile = current_demo_profile(folder, text=(DEMO / "profile.yaml").read_text() + ROLE_LADDER)
    handle = await start(client, settings, profile)
    status = await wait_for(handle, invited, within=180)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    await finish(handle, within=180)
    return handle


def _link(message: EmailMessage, settings: Settings) -> str:
    """The token of the role link in an email."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(settings.public_base_url)}/role/(\S+)", body.get_content())
    assert match, body.get_content()
    return match.group(1).rstrip(").,>")


def _form(page: str, form_id: str) -> dict[str, Any]:
    """What one of the page's two forms posts."""
    found = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
    assert found, f"no form {form_id}"
    form = found.group(0)
    fields: dict[str, Any] = {"roles": []}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        if name == "roles":
            fields["roles"].append(unescape(value))
        else:
            fields[name] = unescape(value)
    return fields


def _text(page: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def _state(client: Client, cycle_id: str) -> RoleAcceptanceState:
    state = await role_state(client, cycle_id)
    assert state is not None, "no role acceptance for the cycle"
    return state


async def _record(client: Client, cycle_id: str, email: str) -> RoleRecord:
    return next(r for r in (await _state(client, cycle_id)).records if r.email == email)


async def test_holders_accept_on_their_page_once_and_bad_links_record_nothing(
    review: tuple[Client, Settings],
    web: httpx.AsyncClient,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client, settings = review
    handle = await _signed_cycle(client, settings, tmp_path)
    cycle_id = handle.id
    deputy = _link(
        await wait_for_mail(smtp_sink, cycle_id, f"roles/{DEPUTY}/invitation", within=60), settings
    )
    lead = _link(await wait_for_mail(smtp_sink, cycle_id, f"roles/{LEAD}/invitation"), settings)
    hr_first = _link(await wait_for_mail(smtp_sink, cycle_id, f"roles/{HR}/invitation"), settings)

    # the emailed link opens the person's page: both of the deputy's roles, as the profile sets them out
    opened = await web.get(f"/role/{deputy}")
    assert opened.status_code == 200, opened.text
    text = _text(opened.text)
    assert "Engineering Lead" in text
    assert "(deputy)" in text
    assert "ISMS Lead (Chief Technology Officer)" in text
    assert "Responsibilities" in text
    assert "Authorities" in text
    assert ROLE_ACCEPTANCE_TEXT in text
    assert "/letter" not in opened.text  # only the ISMS lead's page carries the letter
    accept = _form(opened.text, "accept-form")
    assert sorted(accept["roles"]) == ["engineering-lead:holder", "isms-lead:deputy"]

    # a decline without a reason: a plain 422, and nothing recorded
    decline = _form(opened.text, "decline-form")
    refused = await web.post(f"/role/{deputy}", data={**decline, "comment": "   "})
    assert refused.status_code == 422, refused.text
    assert "declining needs a reason" in refused.text
    record = await _record(client, cycle_id, DEPUTY)
    assert record.declined_at is None
    assert record.accepted_at is None

    accept = _form(refused.text, "accept-form")  # the page again, with a new CSRF value

    # other roles than the person's own: the workflow refuses it, nothing recorded
    wrong = await web.post(f"/role/{deputy}", data={**accept, "roles": ["engineering-lead:holder"]})
    assert wrong.status_code == 409, wrong.text
    assert "not the ones you are asked to accept" in wrong.text
    assert (await _record(client, cycle_id, DEPUTY)).accepted_at is None

    # a double click: two POSTs of the same form, one acceptance
    first, second = await asyncio.gather(
        web.post(f"/role/{deputy}", data=accept), web.post(f"/role/{deputy}", data=accept)
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert "your acceptance is recorded" in first.text
    receipt = _text(first.text)
    state = await _state(client, cycle_id)
    assert state.tally.accepted == 1
    record = next(r for r in state.records if r.email == DEPUTY)
    assert record.accepted_at is not None
    assert record.user_agent == USER_AGENT
    assert record.version_hash is not None
    assert record.version_hash in receipt
    assert record.statement == ROLE_ACCEPTANCE_TEXT
    again = await web.get(f"/role/{deputy}")
    assert again.status_code == 200
    assert "Already accepted" in again.text
    accepted_at = record.accepted_at

    # the ISMS lead's page opens too (their letter: the test below)
    lead_page = await web.get(f"/role/{lead}")
    assert lead_page.status_code == 200, lead_page.text
    assert "ISMS Lead (Chief Technology Officer)" in _text(lead_page.text)

    # an older link: the reminder's link works, the invitation's gets a 410 and records nothing
    reminder = await wait_for_mail(smtp_sink, cycle_id, f"roles/{HR}/reminder-1", within=60)
    hr_newest = _link(reminder, settings)
    old = await web.get(f"/role/{hr_first}")
    assert old.status_code == 410
    assert "A newer email has been sent" in old.text
    hr_page = await web.get(f"/role/{hr_newest}")
    assert hr_page.status_code == 200, hr_page.text
    old_post = await web.post(f"/role/{hr_first}", data=_form(hr_page.text, "accept-form"))
    assert old_post.status_code in (403, 410), old_post.text  # its CSRF cookie is the newer page's path
    assert (await _record(client, cycle_id, HR)).accepted_at is None
    # the same with the old page's CSRF cookie in place: the workflow's validator refuses the older link
    hr_form = _form(hr_page.text, "accept-form")
    web.cookies.set(CSRF_COOKIE, hr_form["csrf"], domain="isms.test", path=f"/role/{hr_first}")
    refused_old = await web.post(f"/role/{hr_first}", data=hr_form)
    assert refused_old.status_code == 410, refused_old.text
    assert "A newer email has been sent" in refused_old.text
    assert (await _record(client, cycle_id, HR)).accepted_at is None

    # a tampered token, and a genuine staff link on this page
    assert (await web.get(f"/role/{hr_newest[:-3]}xyz")).status_code == 400
    staff_token = issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id=cycle_id,
        person=HR,
        role=LinkRole.STAFF,
        version_hash=record.version_hash,
        ttl=timedelta(days=1),
        now=datetime.now(UTC),
    )
    assert (await web.get(f"/role/{staff_token}")).status_code == 403

    # nothing more was recorded for the deputy; no token reached any log line
    assert (await _record(client, cycle_id, DEPUTY)).accepted_at == accepted_at
    # (the test's own HTTP client logs the URLs it requests: not the app's, left out)
    logged = "\n".join(
        record.getMessage() + (record.exc_text or "") for record in caplog.records if record.name != "httpx"
    )
    assert "role answer refused" in logged  # the refusals are logged, by their type only
    for token in (deputy, lead, hr_first, hr_newest):
        assert token not in logged


async def role_page_of(client: Client, cycle_id: str, email: str) -> RolePage:
    deadline = time.monotonic() + 10
    while (page := await RoleHandle.of(client, cycle_id).page(email)) is None:
        assert time.monotonic() < deadline, f"no role page for {email}"
        await asyncio.sleep(0.2)
    return page


async def test_the_leads_letter_is_served_only_with_the_hash_signed(
    review: tuple[Client, Settings], web: httpx.AsyncClient, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    client, settings = review
    handle = await _signed_cycle(client, settings, tmp_path)
    cycle_id = handle.id
    lead = _link(await wait_for_mail(smtp_sink, cycle_id, f"roles/{LEAD}/invitation", within=60), settings)
    lead_page = await web.get(f"/role/{lead}")
    assert lead_page.status_code == 200, lead_page.text
    letter_hash = _form(lead_page.text, "accept-form")["letter_sha256"]
    letter = await web.get(f"/role/{lead}/letter")
    assert letter.status_code == 200, letter.text
    assert letter.headers["content-type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF-")
    assert sha256_bytes(letter.content) == letter_hash
    page = await role_page_of(client, cycle_id, LEAD)
    assert page.letter is not None
    s3 = make_s3_client(settings)
    s3.put_object(Bucket=page.letter.pdf.bucket, Key=page.letter.pdf.key, Body=b"%PDF-1.4 swapped")
    swapped = await web.get(f"/role/{lead}/letter")
    assert swapped.status_code == 500
    assert b"swapped" not in swapped.content
    assert "does not match its recorded SHA-256" in swapped.text

    # the lead accepts the letter the page showed: the record keeps its hash; the deputy's page has none
    accepted = await web.post(f"/role/{lead}", data=_form(lead_page.text, "accept-form"))
    assert accepted.status_code == 200, accepted.text
    assert letter_hash in accepted.text
    record = await _record(client, cycle_id, LEAD)
    assert record.accepted_at is not None
    assert record.letter_sha256 == letter_hash
    # another letter hash than the one signed: refused by the workflow, nothing recorded for the deputy
    deputy = _link(await wait_for_mail(smtp_sink, cycle_id, f"roles/{DEPUTY}/invitation"), settings)
    deputy_page = await web.get(f"/role/{deputy}")
    assert "/letter" not in deputy_page.text
    forged = await web.post(
        f"/role/{deputy}", data={**_form(deputy_page.text, "accept-form"), "letter_sha256": letter_hash}
    )
    assert forged.status_code == 409, forged.text
    assert (await _record(client, cycle_id, DEPUTY)).accepted_at is None
