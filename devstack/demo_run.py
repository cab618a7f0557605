"""The demo cycle: the whole product on the embedded local stack, with people played over HTTP.

``isms demo`` calls :func:`run_demo`. It brings the dev stack up, starts a cycle for the demo
organisation (Larkspur Analytics, 14 people) with its durations cut from days to seconds, and
plays each person the way their browser would, through the real web endpoints and the links
in the real emails: the CEO opens the documents and asks for a change, the ISMS lead revises,
the CEO signs (the policy, the roles document and the ISMS lead's appointment letter, with a
one-time code); the public policy statement is published; the role holders accept their roles
(the HR manager declines first and accepts later, the internal auditor never answers, so the CEO
is told); staff
answer the policy's question (one wrongly first) and acknowledge, most at once, three only after
the first reminder, and two never, so their managers get the digest; the campaign and role
acceptance close, both registers are archived under Object Lock, and an auditor's grant opens
the portal and verifies the archive.

Nothing here is a stand-in: the worker, Temporal, SeaweedFS, the SMTP sink, LibreOffice and
pyHanko are the stack's own processes. Progress goes to ``on_event``; no printing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from temporalio.client import Client

from adapters.audit import ArchiveReader, verify_archive
from adapters.audit_access import issue_grant
from adapters.cycles import cycle_status, start_cycle, submit_revision
from adapters.s3 import make_auditor_s3_client, make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings, load_settings
from devstack.mailsink import read_mailbox
from devstack.stack import DevStack
from models.audit import Verdict
from models.cycle import CycleStatus, Stage, cycle_id_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEMO_DIR = Path(__file__).parent / "demo"
CEO = "eleanor.marsh@larkspur.example"
CEO_NAME = "Eleanor Marsh"
CODE_KEY = "signer-code/"  # the keys of the one-time code emails (web.signer_codes.code_email)
LEAD = "ravi.chandran@larkspur.example"
AUDITOR = "auditor@certification-body.example"
# two people who never acknowledge (their managers get the digest) and three who need a reminder
# (of the 14 rows, Hannah Cole has left and Felix Wagner is out of scope: neither is invited)
NEVER = ("jonas.berg@larkspur.example", "amara.okafor@larkspur.example")
AFTER_REMINDER = (
    "marcus.reid@larkspur.example",
    "tomasz.nowak@larkspur.example",
    "liam.hughes@larkspur.example",
)
CHANGE_REQUEST = "Please add the Leeds office to the ISMS scope before I sign."
# the named role holders and deputies (the CEO signs, so is not asked): the lead accepts their role
# and the appointment letter at once, the deputy too; the HR manager declines, then accepts later
# (through the same link); the internal auditor never answers: reminded, then the CEO and the lead
# are told
ROLE_AT_ONCE = ("ravi.chandran@larkspur.example", "sofia.alvarez@larkspur.example")
ROLE_DECLINES = "daniel.obrien@larkspur.example"
ROLE_DECLINE_REASON = "Please name who approves HR's access to the payroll system before I accept."
ROLE_NEVER = "grace.whitfield@larkspur.example"
# answers the comprehension question wrongly once, then rightly
WRONG_FIRST = "priya.sharma@larkspur.example"

# the demo's clock: what takes days in a real cycle takes seconds here
SCHEDULES = """
signature_schedule:
  reminders: [PT3M]
  escalate_after: PT5M
  overdue_after: PT8M
acknowledgement_schedule:
  reminders: [PT15S, PT30S]
  manager_digest_after: PT40S
  summary_after: PT45S
  close_after: PT55S
role_acceptance:
  reminders: [PT15S]
  escalate_after: PT30S
  close_after: PT55S
"""
# what the demo adds to the shipped profile: a published public statement and one question
# staff answer about the policy before they acknowledge it (the right choice is the second)
DEMO_EXTRAS = """
public_statement:
  enabled: true
documents:
  - id: information-security-policy
    questions:
      - question: When must you report a security incident or weakness?
        choices:
          - At the next team meeting
          - At once, through the incident procedure
          - Only if customer data was affected
        correct: 1
"""
QUESTION_FIELD = "answer-information-security-policy.docx-1"
RIGHT_CHOICE, WRONG_CHOICE = "1", "0"

EventSink = Callable[[str], None]


class DemoError(Exception):
    """The demo could not go on; the message says where it stopped and where to look."""


@dataclass
class DemoResult:
    cycle_id: str
    organisation: str
    year: int
    mailbox: Path
    temporal_ui: str | None
    dashboard: str
    settings_file: Path  # holds ISMS_DASHBOARD_PASSWORD (the demo never prints a secret)
    portal: str
    archived: list[str] = field(default_factory=list)
    verdict: str = ""
    passed: int = 0
    failed: int = 0
    warnings: int = 0
    acknowledged: int = 0
    in_scope: int = 0
    rate_text: str = ""
    digests: dict[str, list[str]] = field(default_factory=dict)  # manager -> people named
    roles_text: str = ""  # "3 of 4 accepted": the named role holders and deputies
    roles_escalated: int = 0  # named to the CEO and the lead, not accepted by the close
    statement_url: str = ""  # the public policy statement, published without a link
    emails: int = 0
    seconds: float = 0.0


def demo_profile(
    folder: Path,
    *,
    short_name: str,
    today: date,
    version: str = "3.0",
    leeds: bool = False,
    schedules: str = SCHEDULES,
    extras: str = "",
) -> Path:
    """The demo organisation's profile, dated today, with the demo's short schedules."""
    text = (DEMO_DIR / "profile.yaml").read_text()
    text = (
        text.replace("short_name: larkspur", f"short_name: {short_name}")
        .replace("effective_date: 2026-12-01", f"effective_date: {today.isoformat()}")
        .replace("review_due: 2027-11-30", f"review_due: {(today + timedelta(days=364)).isoformat()}")
        .replace('  version: "3.0"', f'  version: "{version}"')
    )
    if leeds:
        text = text.replace("isms_scope: >-\n", "isms_scope: >-\n  The Leeds office is in scope.\n", 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"profile-{version}.yaml"
    path.write_text(text.rstrip("\n") + "\n" + schedules + extras)
    return path


def _link(message: EmailMessage, base_url: str, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    found = re.search(re.escape(f"{base_url}/{path}/") + r"[A-Za-z0-9_.~%\-]+", text)
    if found is None:
        raise DemoError(f"no /{path}/ link in the email {message['Subject']!r}")
    return found.group(0)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    if found is None:
        raise DemoError("the page has no form to submit (was the link refused?)")
    return unescape(found.group(1))


class _Demo:
    def __init__(self, stack: DevStack, settings: Settings, client: Client, on_event: EventSink) -> None:
        self.stack = stack
        self.settings = settings
        self.client = client
        self.say = on_event
        self.cycle_id = ""
        self.statement_url = ""

    # mail -----------------------------------------------------------------------------

    def mails(self) -> dict[str, EmailMessage]:
        prefix = f"{self.cycle_id}/"
        found: dict[str, EmailMessage] = {}
        for message in read_mailbox(self.stack.mailbox_dir):
            key = str(message.get("X-Isms-Key", ""))
            if key.startswith(prefix):
                found[key.removeprefix(prefix)] = message
        return found

    async def mail(self, key: str, *, within: float = 120) -> EmailMessage:
        return await self.first_mail(lambda found: found == key, key, within=within)

    async def first_mail(
        self, wanted: Callable[[str], bool], what: str, *, within: float = 120
    ) -> EmailMessage:
        """The first email whose key (without the cycle id) is ``wanted``, polling the sink's folder."""
        deadline = time.monotonic() + within
        while True:
            mails = await asyncio.to_thread(self.mails)  # file reads: off the event loop
            found = next((message for key, message in mails.items() if wanted(key)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                where = self.stack.logs_dir / "worker.log"
                raise DemoError(f"no email {what!r} after {within:.0f} s; see {where}")
            await asyncio.sleep(0.5)

    async def status_until(
        self, check: Callable[[CycleStatus], bool], what: str, *, within: float = 240
    ) -> CycleStatus:
        deadline = time.monotonic() + within
        while True:
            found = await cycle_status(self.client, self.cycle_id)
            if found is not None:
                status, state = found
                if check(status):
                    return status
                if state not in ("running", "completed"):
                    raise DemoError(f"the cycle is {state} while waiting for {what}")
            if time.monotonic() > deadline:
                raise DemoError(f"gave up waiting for {what}; see {self.stack.logs_dir}/worker.log")
            await asyncio.sleep(0.5)

    async def invited(self, s3: S3Client, *, within: float = 120) -> list[str]:
        """Everyone the campaign invites: its frozen directory's index (leavers and people out
        of scope on the day of the signature are not in it), once the campaign has written it."""
        key = f"{self.settings.drafts_prefix}{self.cycle_id}/campaign/index.json"
        deadline = time.monotonic() + within
        while True:
            try:
                response = await asyncio.to_thread(s3.get_object, Bucket=self.settings.drafts_bucket, Key=key)
            except s3.exceptions.NoSuchKey:
                if time.monotonic() > deadline:
                    where = self.stack.logs_dir / "worker.log"
                    raise DemoError(f"the campaign did not freeze its directory; see {where}") from None
                await asyncio.sleep(0.5)
                continue
            return sorted(json.loads(response["Body"].read())["people"])

    # people ---------------------------------------------------------------------------

    async def ceo(self, key: str, *, action: str) -> None:
        """The CEO opens the emailed link, lets the documents load, and decides."""
        link = _link(await self.mail(key), self.settings.public_base_url, "sign")
        async with httpx.AsyncClient(
            headers={"User-Agent": "isms-demo (CEO's browser)"}, timeout=60
        ) as browser:
            page = (await browser.get(link)).text
            csrf = _csrf(page)
            for document in re.findall(r'data-src="([^"]+)"', page):  # as the page's script fetches them
                await browser.get(
                    httpx.URL(link).join(unescape(document)),
                    headers={"X-Isms-Viewer": "1", "X-Isms-Csrf": csrf},
                )
            form = {"csrf": csrf, "action": action}
            if action == "sign":
                form |= {"csrf": await self.second_factor(browser, link, csrf)}
                form |= {"typed_name": CEO_NAME, "consent": "yes"}
            else:
                form |= {"comment": CHANGE_REQUEST}
            answer = await browser.post(link, data=form)
        if answer.status_code != 200:
            raise DemoError(f"the signing page refused the CEO's {action} ({answer.status_code})")

    async def second_factor(self, browser: httpx.AsyncClient, link: str, csrf: str) -> str:
        """Before the Sign form shows: ask for the one-time code, read it from the mailbox like
        the links, type it in. Returns the CSRF value of the page that has the Sign form."""
        earlier = {key for key in await asyncio.to_thread(self.mails) if key.startswith(CODE_KEY)}
        sent = await browser.post(f"{link}/code", data={"csrf": csrf})
        if sent.status_code != 303:
            raise DemoError(f"the signing page did not send the CEO a code ({sent.status_code})")
        message = await self.first_mail(
            lambda key: key.startswith(CODE_KEY) and key not in earlier, "the CEO's one-time code"
        )
        body = message.get_body(preferencelist=("plain",))
        found = re.search(r"\*\*(\d{6})\*\*", body.get_content() if body is not None else "")
        if found is None:
            raise DemoError("the one-time code email has no code")
        page = (await browser.get(link)).text
        verified = await browser.post(
            f"{link}/code/verify", data={"csrf": _csrf(page), "code": found.group(1)}
        )
        if verified.status_code != 303:
            raise DemoError(f"the signing page refused the CEO's one-time code ({verified.status_code})")
        self.say("CEO asked for a one-time code, read it in the mailbox and entered it: second factor passed")
        return _csrf((await browser.get(link)).text)

    async def acknowledge(self, email: str, key: str) -> None:
        """Open the emailed link, answer the page's question (wrongly first, for one person),
        and accept."""
        link = _link(await self.mail(key), self.settings.public_base_url, "ack")
        async with httpx.AsyncClient(headers={"User-Agent": f"isms-demo ({email})"}, timeout=60) as browser:
            page = (await browser.get(link)).text
            asked = QUESTION_FIELD in page
            if asked and email == WRONG_FIRST:
                retry = await browser.post(link, data={"csrf": _csrf(page), QUESTION_FIELD: WRONG_CHOICE})
                if retry.status_code != 422:
                    raise DemoError(f"a wrong answer was not sent back to {email} ({retry.status_code})")
                page = retry.text
                self.say(f"{email} answered the policy's question wrongly: asked again, nothing recorded")
            form = {"csrf": _csrf(page)} | ({QUESTION_FIELD: RIGHT_CHOICE} if asked else {})
            answer = await browser.post(link, data=form)
        if answer.status_code != 200:
            raise DemoError(f"the acknowledgement of {email} was refused ({answer.status_code})")

    async def answer_role(self, email: str, key: str, *, decline: str | None = None) -> None:
        """A role holder opens their emailed link and accepts their roles (or declines, with a reason)."""
        link = _link(await self.mail(key), self.settings.public_base_url, "role")
        async with httpx.AsyncClient(headers={"User-Agent": f"isms-demo ({email})"}, timeout=60) as browser:
            page = (await browser.get(link)).text
            # the page's two forms repeat the role fields: each once
            shown = re.findall(r'name="roles" value="([^"]+)"', page)
            roles = list(dict.fromkeys(unescape(role) for role in shown))
            form: dict[str, str | list[str]] = {
                "csrf": _csrf(page),
                "kind": "decline" if decline else "accept",
                "roles": roles,
            }
            letter = re.search(r'name="letter_sha256" value="([0-9a-f]{64})"', page)
            if letter is not None:  # the ISMS lead: the appointment letter is accepted with the role
                letter_pdf = await browser.get(f"{link}/letter")
                if letter_pdf.status_code != 200 or not letter_pdf.content.startswith(b"%PDF-"):
                    raise DemoError(
                        f"the appointment letter did not open for {email} ({letter_pdf.status_code})"
                    )
                form["letter_sha256"] = letter.group(1)
            if decline:
                form["comment"] = decline
            answer = await browser.post(link, data=form)
        if answer.status_code != 200:
            raise DemoError(f"the role answer of {email} was refused ({answer.status_code})")

    # the story ------------------------------------------------------------------------

    async def run(self, folder: Path, short_name: str, year: int) -> None:
        s3 = make_s3_client(self.settings)
        today = datetime.now(UTC).date()
        first = demo_profile(folder, short_name=short_name, today=today, extras=DEMO_EXTRAS)
        started = await start_cycle(
            self.client,
            self.settings,
            s3,
            profile=first,
            staff=DEMO_DIR / "staff.csv",
            year=year,
            started_by=LEAD,
        )
        if not started.ok:
            raise DemoError(f"the demo cycle did not start: {started.message} {' '.join(started.problems)}")
        self.cycle_id = started.cycle_id
        self.say(f"ISMS lead started {self.cycle_id}: documents checked against Clause 5 and rendered")

        await self.ceo("round-1/invitation", action="request_changes")
        self.say(f"CEO opened the emailed link, read version 3.0 and asked: {CHANGE_REQUEST!r}")
        await self.status_until(lambda s: s.stage is Stage.AWAITING_REVISION, "the request for changes")

        revised = demo_profile(
            folder, short_name=short_name, today=today, version="3.1", leeds=True, extras=DEMO_EXTRAS
        )
        outcome, _ = await submit_revision(
            self.client,
            self.settings,
            s3,
            cycle_id=self.cycle_id,
            profile=revised,
            staff=None,
            submitted_by=LEAD,
        )
        if not outcome.ok:
            raise DemoError(f"the revision was refused: {outcome.message}")
        self.say("ISMS lead revised the profile (version 3.1, Leeds in scope); re-rendered and sent back")

        await self.ceo("round-2/invitation", action="sign")
        status = await self.status_until(
            lambda s: len(s.archive) >= 1, "the seal and the archive", within=300
        )
        signed = [document.title or document.name for document in status.documents]
        self.say(
            f"CEO signed version {status.version} ({', '.join(signed)}): PAdES-sealed, certificate of "
            f"completion, {len(status.archive[0].objects)} objects archived under Object Lock"
        )
        await self.public_statement(status.archive[0].manifest.key)

        status = await self.status_until(
            lambda s: s.stage in (Stage.ACKNOWLEDGING, Stage.CLOSED), "the campaign"
        )
        for email in ROLE_AT_ONCE:
            await self.answer_role(email, f"roles/{email}/invitation")
        invitation = f"roles/{ROLE_DECLINES}/invitation"
        await self.answer_role(ROLE_DECLINES, invitation, decline=ROLE_DECLINE_REASON)
        self.say(
            f"role holders: {len(ROLE_AT_ONCE)} accepted their roles from the invitation (the ISMS lead "
            f"with the signed appointment letter); {ROLE_DECLINES} declined with a reason, so the CEO "
            "and the lead were emailed"
        )
        people = await self.invited(s3)  # in scope and employed on the day of the signature
        prompt = [p for p in people if p not in NEVER and p not in AFTER_REMINDER]
        for email in prompt:
            await self.acknowledge(email, f"ack/{email}/invitation")
        self.say(f"{len(prompt)} of {len(people)} people acknowledged from their invitation email")
        for email in AFTER_REMINDER:
            await self.acknowledge(email, f"ack/{email}/reminder-1")
        self.say(f"{len(AFTER_REMINDER)} more acknowledged after the first reminder; {len(NEVER)} never will")
        # someone who declined is not reminded (they are talking to the lead); their link still works
        await self.answer_role(ROLE_DECLINES, f"roles/{ROLE_DECLINES}/invitation")
        self.say(f"{ROLE_DECLINES} accepted after talking it over with the lead; {ROLE_NEVER} never answers")
        await self.mail("roles/escalation", within=180)
        self.say(f"the CEO and the ISMS lead were told that {ROLE_NEVER} has not accepted their roles")

        await self.first_mail(lambda key: "/digest/" in key, "the managers' digest", within=180)
        self.say("line managers got the digest naming the people still outstanding")
        await self.status_until(
            lambda s: s.stage is Stage.CLOSED and len(s.archive) >= 2, "the campaign to close", within=240
        )
        self.say(
            "the campaign and role acceptance closed: both registers and the report written, mailed to "
            "the lead and CEO, and archived"
        )

    async def public_statement(self, manifest: str) -> None:
        """Anyone, without a link, reads the public policy statement the signature published."""
        url = f"{self.settings.public_base_url}/statement"
        async with httpx.AsyncClient(headers={"User-Agent": "isms-demo (a customer)"}, timeout=60) as anyone:
            for _ in range(120):  # published once the signed version's archive is in (read every 60 s)
                answer = await anyone.get(url)
                if answer.status_code == 200:
                    break
                await asyncio.sleep(1)
        if answer.status_code != 200:
            raise DemoError(f"the public policy statement was not published at {url} ({answer.status_code})")
        self.statement_url = url
        self.say(f"public policy statement published at {url}, no link needed (archived: {manifest})")


async def _next_short_name(client: Client, reader: ArchiveReader, year: int) -> str:
    """``larkspur``, or ``larkspur-2``... when an earlier demo run used that name this year."""
    taken = set(await asyncio.to_thread(reader.organisations))
    number = 1
    while True:
        name = "larkspur" if number == 1 else f"larkspur-{number}"
        archived = name in taken and year in await asyncio.to_thread(reader.years, name)
        if not archived and await cycle_status(client, cycle_id_for(name, year)) is None:
            return name
        number += 1


async def run_demo(data_dir: Path, *, on_event: EventSink = lambda _: None) -> DemoResult:
    """Bring the local stack up and play one whole cycle; returns where to look."""
    began = time.monotonic()
    stack = DevStack(data_dir)
    on_event("starting the local stack (Temporal, SeaweedFS, SMTP sink, timestamp authority, worker, web)...")
    await asyncio.to_thread(stack.up, on_event=on_event)
    state = stack.load_state()
    assert state is not None
    settings = load_settings(settings_file=stack.settings_file)
    client = await connect_temporal(settings)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    year = datetime.now(UTC).year
    short_name = await _next_short_name(client, reader, year)
    demo = _Demo(stack, settings, client, on_event)
    await demo.run(data_dir / "demo" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S"), short_name, year)

    status = await demo.status_until(lambda s: s.stage is Stage.CLOSED, "the closed cycle")
    grant, portal = await asyncio.to_thread(
        lambda: issue_grant(
            make_s3_client(settings),
            settings,
            email=AUDITOR,
            organisation=short_name,
            days=30,
            issued_by=LEAD,
            now=datetime.now(UTC),
        )
    )
    async with httpx.AsyncClient(timeout=120) as auditor:
        opened = await auditor.get(portal)
        if opened.status_code != 200 or str(year) not in opened.text:
            raise DemoError(f"the auditor portal did not open ({opened.status_code}): {portal}")
    report = await asyncio.to_thread(verify_archive, reader, short_name, year)
    on_event(
        f"auditor ({grant.email}, read-only until {grant.expires_at:%d %B %Y}) opened the portal "
        f"and verified {report.count(Verdict.PASS)} archived objects: {report.verdict.value}"
    )
    mails = await asyncio.to_thread(demo.mails)
    digests = {
        str(message["To"]): [p for p in NEVER if p in (message.get_body(("plain",)) or message).get_content()]
        for key, message in mails.items()
        if "/digest/" in key
    }
    tally = status.campaign.tally if status.campaign else None
    roles = status.role_acceptance.tally if status.role_acceptance else None
    ui = settings.temporal_ui_url
    return DemoResult(
        cycle_id=demo.cycle_id,
        organisation=short_name,
        year=year,
        mailbox=stack.mailbox_dir,
        temporal_ui=f"{ui}/namespaces/{settings.temporal_namespace}/workflows/{demo.cycle_id}"
        if ui
        else None,
        dashboard=f"{settings.public_base_url}/dashboard",
        settings_file=stack.settings_file,
        portal=portal,
        archived=sorted(o.key for result in status.archive for o in [*result.objects, result.manifest]),
        verdict=report.verdict.value,
        passed=report.count(Verdict.PASS),
        failed=report.count(Verdict.FAIL),
        warnings=report.count(Verdict.WARN),
        acknowledged=tally.acknowledged if tally else 0,
        in_scope=tally.total if tally else 0,
        rate_text=tally.rate_text if tally else "",
        digests=digests,
        roles_text=roles.rate_text if roles else "",
        roles_escalated=roles.escalated if roles else 0,
        statement_url=demo.statement_url,
        emails=len(mails),
        seconds=time.monotonic() - began,
    )
