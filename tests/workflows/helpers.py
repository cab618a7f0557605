"""Helpers for the annual review tests: start a cycle, wait for a stage, read its emails."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
from temporalio.client import Client, WorkflowHandle

from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from core.hashing import sha256_bytes
from core.settings import Settings
from devstack.mailsink import read_mailbox
from devstack.synthetic import tiny_pdf
from models.cycle import (
    SIGNED_STAGES,
    AnnualReviewInput,
    AnnualReviewResult,
    CycleStatus,
    DecisionKind,
    SecondFactor,
    SecondFactorMethod,
    SignatureDecision,
    Stage,
)
from models.storage import StoredObject
from tests.conftest import SmtpSink
from workflows.annual_review import AnnualReviewWorkflow

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
CEO = "eleanor.marsh@larkspur.example"
LEAD = "ravi.chandran@larkspur.example"


def invited(status: CycleStatus) -> bool:
    """Awaiting the signature, and this round's invitation recorded as sent.

    The stage changes before the email goes out (a decision may arrive while it is sent), so
    waiting for the stage alone races the "sent" event.
    """
    sent = [event.event for event in status.events].count("sent")
    return status.stage is Stage.AWAITING_SIGNATURE and sent >= status.round


def current_demo_profile(folder: Path, *, text: str | None = None) -> Path:
    """The demo profile with its policy dates moved to today, so it is never overdue for review.

    The shipped file has fixed dates (effective 2026-12-01, review due 2027-11-30); a workflow
    checks against ``workflow.now()``, which is the real date.
    """
    today = datetime.now(UTC).date()
    source = text if text is not None else (DEMO / "profile.yaml").read_text()
    assert "effective_date: 2026-12-01" in source
    assert "review_due: 2027-11-30" in source
    moved = source.replace("effective_date: 2026-12-01", f"effective_date: {today.isoformat()}").replace(
        "review_due: 2027-11-30", f"review_due: {(today + timedelta(days=364)).isoformat()}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"profile-{sha256_bytes(moved.encode())[:12]}.yaml"
    path.write_text(moved)
    return path


OWN_DOCUMENTS = """
documents:
  - id: information-security-policy
    template: templates/policy.docx
  - id: isms-roles-responsibilities
  - id: acceptable-use-policy
    title: Acceptable Use Policy
    kind: static
    file: policies/aup.pdf
    version: "2.1"
    signs: false
  - id: secure-development-policy
    title: Secure Development Policy
    template: templates/sdp.docx
    audience:
      departments: [Engineering]
# the organisation's own four documents only: the ISMS lead's appointment letter has its own tests
role_acceptance:
  appointment_letter: false
"""
# the names of the four documents of OWN_DOCUMENTS through the cycle, in its order
OWN_DOCUMENT_NAMES = [
    "information-security-policy.docx",
    "isms-roles-responsibilities.docx",
    "acceptable-use-policy.pdf",
    "secure-development-policy.docx",
]


def own_documents_profile(folder: Path, *, text: str | None = None) -> Path:
    """The demo profile (dates moved to today) with a documents section naming its own files,
    made beside it in ``folder``: the policy on its own template (a copy of the built-in one),
    a static Acceptable Use Policy PDF the CEO does not sign, and a Secure Development Policy for
    Engineering on its own template; the roles document stays on the built-in template."""
    profile = current_demo_profile(folder, text=(text or (DEMO / "profile.yaml").read_text()) + OWN_DOCUMENTS)
    templates = Path(__file__).resolve().parents[2] / "doc_templates"
    (folder / "templates").mkdir(exist_ok=True)
    (folder / "policies").mkdir(exist_ok=True)
    (folder / "templates" / "policy.docx").write_bytes(
        (templates / "information_security_policy.docx").read_bytes()
    )
    (folder / "templates" / "sdp.docx").write_bytes(
        (templates / "information_security_policy.docx").read_bytes()
    )
    (folder / "policies" / "aup.pdf").write_bytes(tiny_pdf("Acceptable Use Policy 2.1"))
    return profile


def store(settings: Settings, path: Path) -> StoredObject:
    return store_input(make_s3_client(settings), settings, path)


async def start(client: Client, settings: Settings, profile: Path | None = None) -> WorkflowHandle:
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    return await client.start_workflow(
        AnnualReviewWorkflow.run,
        AnnualReviewInput(
            cycle_id=cycle_id,
            year=2026,
            profile=store(settings, profile or current_demo_profile(Path(tempfile.mkdtemp(prefix="demo-")))),
            staff=store(settings, DEMO / "staff.csv"),
            started_by=LEAD,
        ),
        id=cycle_id,
        task_queue=settings.temporal_task_queue,
    )


async def current_status(handle: WorkflowHandle) -> CycleStatus:
    status: CycleStatus = await handle.query(AnnualReviewWorkflow.status)
    return status


async def wait_for(handle: WorkflowHandle, check: object, *, within: float = 60) -> CycleStatus:
    """Poll the status query (real time: queries do not skip time) until ``check(status)``."""
    deadline = time.monotonic() + within
    while True:
        status = await current_status(handle)
        if check(status):  # type: ignore[operator]
            return status
        if time.monotonic() >= deadline:
            description = await handle.describe()
            raw = description.raw_description
            if description.status is not None and description.status.name != "RUNNING":
                history = await handle.fetch_history()
                failures = [
                    str(e.workflow_execution_failed_event_attributes.failure)
                    for e in history.events
                    if e.HasField("workflow_execution_failed_event_attributes")
                ]
                raise AssertionError(f"the workflow is {description.status.name}: {failures}")
            pending = [
                f"{a.activity_type.name} attempt {a.attempt}: {a.last_failure.message or 'no failure'}"
                for a in raw.pending_activities
            ]
            raise AssertionError(f"gave up waiting; stage is {status.stage}; pending: {pending}")
        await asyncio.sleep(0.2)


def mails(sink: SmtpSink, cycle_id: str) -> dict[str, EmailMessage]:
    found = {}
    for message in read_mailbox(sink.maildir):
        key = str(message.get("X-Isms-Key", ""))
        if key.startswith(f"{cycle_id}/"):
            assert key not in found, f"{key} was sent twice"
            found[key.removeprefix(f"{cycle_id}/")] = message
    return found


async def wait_for_mail(sink: SmtpSink, cycle_id: str, key: str, *, within: float = 30) -> EmailMessage:
    deadline = time.monotonic() + within
    while (message := mails(sink, cycle_id).get(key)) is None:
        assert time.monotonic() < deadline, f"no email {key}; got {sorted(mails(sink, cycle_id))}"
        await asyncio.sleep(0.2)
    return message


CODE_RE = re.compile(r"\*\*(\d{6})\*\*")  # the code, in bold on a line of its own (signer_code.md)


def page_csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def signer_codes(sink: SmtpSink, cycle_id: str) -> list[str]:
    """The one-time codes emailed to the signer of ``cycle_id``, oldest first."""
    codes = []
    for key, message in mails(sink, cycle_id).items():
        if key.startswith("signer-code/"):
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            match = CODE_RE.search(body.get_content())
            assert match, f"no code in {key}"
            codes.append(match.group(1))
    return codes


async def pass_second_factor(web: httpx.AsyncClient, token: str, sink: SmtpSink, cycle_id: str) -> str:
    """What the signer does before the Sign form shows: ask for the code, read it from the
    mailbox, type it in. Returns the page after, with the Sign form (and its CSRF value)."""
    before = len(signer_codes(sink, cycle_id))
    page = await web.get(f"/sign/{token}")
    sent = await web.post(f"/sign/{token}/code", data={"csrf": page_csrf(page.text)})
    assert sent.status_code == 303, sent.text
    codes = signer_codes(sink, cycle_id)
    assert len(codes) == before + 1, "no new code emailed"
    page = await web.get(f"/sign/{token}")
    verified = await web.post(
        f"/sign/{token}/code/verify", data={"csrf": page_csrf(page.text), "code": codes[-1]}
    )
    assert verified.status_code == 303, verified.text
    page = await web.get(f"/sign/{token}")
    assert 'name="typed_name"' in page.text
    return page.text


def sign(
    status: CycleStatus, *, name: str = "Eleanor Marsh", version_hash: str | None = None
) -> SignatureDecision:
    return SignatureDecision(
        kind=DecisionKind.SIGN,
        person=CEO,
        version_hash=version_hash or status.version_hash,
        link_id=uuid.uuid4().hex,
        typed_name=name,
        consent=True,
        ip="203.0.113.7",
        user_agent="pytest",
        # what the web app adds once the signer passed the emailed code (web.signer_codes)
        second_factor=SecondFactor(
            method=SecondFactorMethod.EMAILED_CODE,
            identity=CEO,
            verified_at=datetime.now(UTC),
            detail="code sent by the test, 1 attempt",
        ),
        link_sequence=status.signer_link_sequence,  # the newest link the CEO was sent
    )


async def finish(handle: WorkflowHandle, *, within: float = 120) -> AnnualReviewResult:
    """The cycle's result as far as the signature: sealed, and the acknowledgement campaign begun.

    The workflow itself runs on through the campaign (weeks), so this reads the status query
    rather than awaiting the result, which on the time-skipping server would also let the
    clock run away (seen here: ten years ahead while a real activity ran).
    """
    status = await wait_for(
        handle, lambda s: s.stage in SIGNED_STAGES and s.signed is not None, within=within
    )
    for _ in range(int(within * 5)):
        if status.stage in (Stage.ACKNOWLEDGING, Stage.CLOSED):
            break
        await asyncio.sleep(0.2)
        status = await current_status(handle)
    assert status.stage in (Stage.ACKNOWLEDGING, Stage.CLOSED), f"no campaign; stage is {status.stage}"
    assert status.signed is not None
    return AnnualReviewResult(
        cycle_id=status.cycle_id, version=status.version, rounds=status.round, signed=status.signed
    )
