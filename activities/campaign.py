"""The acknowledgement campaign's side effects: freeze and pack the directory, send each step's
emails once, place joiners and leavers, and write the register and the report.

Batches are packed by line manager (first fit, largest team first), so a manager's people sit
in one batch and that batch sends the manager one digest. A team larger than a batch is split,
and its manager then gets one digest per batch.

Campaign emails are sent in runs of a few hundred over one SMTP connection. Each sent email
leaves a marker object under ``<prefix>mail/campaign/<batch id>/``; a retried run lists the
markers once and skips what they name, so a worker killed mid-batch sends nothing twice. The
marker is written inside the SMTP transaction (adapters.smtp.send_committed: after the content,
before the final dot), so only a crash during the server's handling of that dot can lose or
repeat one message. The marker's time is the time the email went out.
"""

from __future__ import annotations

import heapq
import html
import json
import secrets
import smtplib
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.mail import INVALID_ADDRESS, TEMPLATE_ERROR, check_address, link_context
from adapters.campaign import campaign_progress
from adapters.s3 import get_file
from adapters.smtp import open_smtp, send_committed
from core.contract import Failure
from core.email_templates import EmailTemplateError, RenderedEmail, render_email_template
from core.hashing import sha256_bytes
from core.mail_message import build_message
from core.profile_io import UnreadableInputError, load_staff
from core.register import build_report, register_csv, register_json, report_html, report_markdown, shortfall
from core.settings import Settings
from models.campaign import (
    CampaignMailInput,
    CampaignMailResult,
    CampaignProgress,
    CampaignResult,
    CloseInput,
    FreezeInput,
    FrozenDirectory,
    PersonRecord,
    PlanChangeInput,
    PlannedChange,
    Recipient,
    StoreRecordsInput,
)
from models.links import LinkRole
from models.mail import LinkRequest
from models.staff import Person
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STAFF_CHANGE_REFUSED = Failure.STAFF_CHANGE_REFUSED
UNREADABLE_STAFF = Failure.UNREADABLE_STAFF
# what each activity raises that retrying cannot fix (the workflows' retry policies name them)
FREEZE_DIRECTORY_NON_RETRYABLE: list[str] = [UNREADABLE_STAFF]
LOAD_BATCH_NON_RETRYABLE: list[str] = []
PLAN_STAFF_CHANGE_NON_RETRYABLE: list[str] = [UNREADABLE_STAFF]
SEND_CAMPAIGN_MAIL_NON_RETRYABLE: list[str] = [TEMPLATE_ERROR, INVALID_ADDRESS]
STORE_BATCH_RECORDS_NON_RETRYABLE: list[str] = []
CLOSE_CAMPAIGN_NON_RETRYABLE: list[str] = []
CAMPAIGN_FIGURES_NON_RETRYABLE: list[str] = [Failure.NO_CAMPAIGN]
MAX_JOINERS_PER_CHANGE = 5000
_HEARTBEAT_EVERY = 25

_RECIPIENTS = TypeAdapter(list[Recipient])
_RECORDS = TypeAdapter(list[PersonRecord])


def _key(email: str) -> str:
    return email.strip().casefold()


def pack_batches(people: list[Recipient], batch_size: int) -> list[list[Recipient]]:
    """Pack people into batches of at most ``batch_size``, keeping each manager's team together.

    First fit decreasing: the largest teams first, each into the batch with the most room
    that can take it whole, else a new batch. People without a manager fill gaps one by one.
    Deterministic for the same input.
    """
    teams: dict[str, list[Recipient]] = defaultdict(list)
    loose: list[Recipient] = []
    for person in sorted(people, key=lambda p: _key(p.email)):
        if person.manager_email:
            teams[_key(person.manager_email)].append(person)
        else:
            loose.append(person)
    groups: list[list[Recipient]] = []
    for manager in sorted(teams, key=lambda m: (-len(teams[m]), m)):
        team = teams[manager]
        groups += [team[i : i + batch_size] for i in range(0, len(team), batch_size)]
    groups += [[person] for person in loose]

    batches: list[list[Recipient]] = []
    room: list[tuple[int, int]] = []  # a heap of (-free places, batch index)
    for group in groups:
        if room and -room[0][0] >= len(group):
            free, index = heapq.heappop(room)
            batches[index].extend(group)
            heapq.heappush(room, (free + len(group), index))
        else:
            batches.append(list(group))
            heapq.heappush(room, (-(batch_size - len(group)), len(batches) - 1))
    return batches


class StepRenderer:
    """Renders one step's emails: once with stand-ins for the personal values, then by substitution.

    Rendering Markdown through Jinja2 for every one of thousands of people is most of a
    campaign's CPU. Personal values (a name, the link) are plain text in every template, so the
    step is rendered once with inert stand-ins and each email replaces them. It is exact only
    for values the HTML pass leaves unchanged: a value that needs escaping (an apostrophe, an
    ampersand, a line break) or is not text gets a full render, and so does every email when
    the first one's full render differs from its substituted one.
    """

    def __init__(self, template: str, shared: dict[str, object]) -> None:
        self._template = template
        self._shared = shared
        self._stand_ins: dict[str, str] = {}
        self._rendered: RenderedEmail | None = None
        self._checked = False
        self._usable = True

    @staticmethod
    def _plain(value: object) -> bool:
        if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
            return False
        return value == html.escape(value, quote=True)

    def _full(self, personal: dict[str, object]) -> RenderedEmail:
        return render_email_template(template_name=self._template, context={**self._shared, **personal})

    def render(self, personal: dict[str, object]) -> RenderedEmail:
        if not self._usable or not all(self._plain(value) for value in personal.values()):
            return self._full(personal)
        if self._rendered is None or set(self._stand_ins) != set(personal):
            marker = secrets.token_hex(8)
            self._stand_ins = {
                name: f"https://standin.invalid/{marker}{number}"
                if name == "link"
                else f"Zstandin{marker}n{number}Z"
                for number, name in enumerate(sorted(personal))
            }
            self._rendered = self._full(dict(self._stand_ins))
            self._checked = False
        fast = self._substitute(self._rendered, personal)
        if not self._checked:
            self._checked = True
            if fast != self._full(personal):
                self._usable = False
                return self._full(personal)
        return fast

    def _substitute(self, rendered: RenderedEmail, personal: dict[str, object]) -> RenderedEmail:
        subject, text, body = rendered.subject, rendered.text, rendered.html
        for name, stand_in in self._stand_ins.items():
            value = str(personal[name])
            subject, text, body = (
                subject.replace(stand_in, value),
                text.replace(stand_in, value),
                body.replace(stand_in, value),
            )
        return RenderedEmail(subject=subject, text=text, html=body)


@contextmanager
def _smtp_session(settings: Settings) -> Iterator[smtplib.SMTP]:
    """One SMTP connection for a run of emails; a failing QUIT does not undo what was accepted."""
    smtp = open_smtp(settings)
    try:
        yield smtp
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


class CampaignActivities:
    """Holds the settings, the S3 client (drafts bucket) and a Temporal client (for the figures)."""

    def __init__(self, *, settings: Settings, s3: S3Client, client: Client) -> None:
        self._settings = settings
        self._s3 = s3
        self._client = client

    # ------------------------------------------------------------------------ storage

    def _put_json(self, key: str, payload: bytes) -> StoredObject:
        digest = sha256_bytes(payload)
        bucket = self._settings.drafts_bucket
        self._s3.put_object(Bucket=bucket, Key=key, Body=payload, ContentType="application/json")
        return StoredObject(
            bucket=bucket, key=key, sha256=digest, size=len(payload), content_type="application/json"
        )

    def _put(self, key: str, payload: bytes, content_type: str) -> StoredObject:
        bucket = self._settings.drafts_bucket
        self._s3.put_object(Bucket=bucket, Key=key, Body=payload, ContentType=content_type)
        return StoredObject(
            bucket=bucket, key=key, sha256=sha256_bytes(payload), size=len(payload), content_type=content_type
        )

    def _read(self, stored: StoredObject) -> bytes:
        with tempfile.TemporaryDirectory(prefix="isms-campaign-") as folder:
            return get_file(self._s3, stored, Path(folder) / "object").read_bytes()

    def _campaign_key(self, cycle_id: str, name: str) -> str:
        return f"{self._settings.drafts_prefix}{cycle_id}/campaign/{name}"

    def _load_directory(self, stored: StoredObject, label: str) -> list[Person]:
        with tempfile.TemporaryDirectory(prefix="isms-staff-") as folder:
            path = get_file(self._s3, stored, Path(folder) / label)
            try:
                return load_staff(path).people
            except UnreadableInputError as exc:
                raise ApplicationError(
                    f"the staff file cannot be read: {len(exc.problems)} problem(s)",
                    [str(problem) for problem in exc.problems],
                    type=UNREADABLE_STAFF,
                    non_retryable=True,
                ) from exc

    # ------------------------------------------------------------------------- freeze

    @activity.defn
    def freeze_directory(self, data: FreezeInput) -> FrozenDirectory:
        """Everyone in scope and employed on ``as_of``, packed into batches stored in S3."""
        people = self._load_directory(data.staff, "staff.csv")
        names = {_key(p.email): p.name for p in people}
        included = [
            Recipient(
                email=p.email,
                name=p.name,
                department=p.department or "(no department)",
                manager_email=p.manager_email,
                manager_name=names.get(_key(p.manager_email)) if p.manager_email else None,
            )
            for p in people
            if p.in_scope and p.is_current(data.as_of)
        ]
        batches = pack_batches(included, data.batch_size)
        stored: list[StoredObject] = []
        where: dict[str, int] = {}
        managers: dict[str, int] = {}
        for number, batch in enumerate(batches, start=1):
            key = self._campaign_key(data.cycle_id, f"batches/{number:04d}.json")
            stored.append(self._put_json(key, _RECIPIENTS.dump_json(batch)))
            for person in batch:
                where[_key(person.email)] = number
                if person.manager_email:
                    managers.setdefault(_key(person.manager_email), number)
            activity.heartbeat(number)
        index = {"people": where, "managers": managers, "sizes": [len(batch) for batch in batches]}
        index_ref = self._put_json(
            self._campaign_key(data.cycle_id, "index.json"), json.dumps(index, sort_keys=True).encode()
        )
        activity.logger.info(
            "campaign %s: %d people in %d batch(es), %d excluded",
            data.cycle_id,
            len(included),
            len(batches),
            len(people) - len(included),
        )
        return FrozenDirectory(
            batches=stored, index=index_ref, people=len(included), excluded=len(people) - len(included)
        )

    @activity.defn
    def load_batch(self, people: StoredObject) -> list[Recipient]:
        return _RECIPIENTS.validate_json(self._read(people))

    # ---------------------------------------------------------------------- staff changes

    @activity.defn
    def plan_staff_change(self, data: PlanChangeInput) -> PlannedChange:
        """Place joiners (the manager's batch, else the smallest) and find each leaver's batch.

        Refuses the whole change (``StaffChangeRefused``) when any joiner row is unusable, so
        a bad file changes nothing.
        """
        index = json.loads(self._read(data.index))
        where: dict[str, int] = {**index["people"], **data.joined}
        managers: dict[str, int] = index["managers"]
        sizes: list[int] = list(index["sizes"])
        for batch in data.joined.values():
            sizes[batch - 1] += 1
        left = set(data.left)
        plan = PlannedChange()

        joiners = self._load_directory(data.change.add, "joiners.csv") if data.change.add else []
        if len(joiners) > MAX_JOINERS_PER_CHANGE:
            plan.problems.append(
                f"{len(joiners)} joiners in one change; at most {MAX_JOINERS_PER_CHANGE} at a time"
            )
        leaving = {_key(email) for email in data.change.remove}
        for person in joiners:
            email = _key(person.email)
            if not person.in_scope:
                plan.problems.append(f"{person.email}: in_scope is no; only people in scope can be added")
            elif person.end_date is not None and person.end_date < data.as_of:
                plan.problems.append(f"{person.email}: end_date {person.end_date} is in the past")
            elif email in leaving:
                plan.problems.append(f"{person.email}: both added and removed in the same change")
        if plan.problems:
            return plan
        for person in joiners:
            email = _key(person.email)
            if email in where and email not in left:
                plan.already_in.append(person.email)
                continue
            manager = _key(person.manager_email) if person.manager_email else None
            found = where.get(email)  # someone who left and comes back returns to their batch
            if found is None and manager:
                found = managers.get(manager)
            if found is None:
                found = min(range(1, len(sizes) + 1), key=lambda b: (sizes[b - 1], b))
            batch = found
            sizes[batch - 1] += 1
            where[email] = batch
            plan.joiners.setdefault(batch, []).append(
                Recipient(
                    email=person.email,
                    name=person.name,
                    department=person.department or "(no department)",
                    manager_email=person.manager_email,
                    manager_name=None,
                )
            )
        for email in data.change.remove:
            key = _key(email)
            if key in where and key not in left:
                plan.leavers.setdefault(where[key], []).append(email.strip())
            else:
                plan.unknown.append(email)
        return plan

    # ----------------------------------------------------------------------------- mail

    def _markers(self, prefix: str) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._settings.drafts_bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"].rsplit("/", 1)[-1]] = item["LastModified"].astimezone(UTC)
        return found

    def _put_marker(self, key: str, body: bytes, _refused: object) -> None:
        self._s3.put_object(
            Bucket=self._settings.drafts_bucket, Key=key, Body=body, ContentType="application/json"
        )

    def _delete_marker(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._settings.drafts_bucket, Key=key)

    @activity.defn
    def send_campaign_mail(self, data: CampaignMailInput) -> CampaignMailResult:
        """Send each recipient's email unless a marker says an earlier attempt did.

        A recipient the server refuses is reported in ``refused`` and does not stop the run;
        an SMTP or S3 outage raises, and the retry resumes after the last marker.
        """
        prefix = f"{self._settings.drafts_prefix}mail/campaign/{data.batch_id}/"
        done = self._markers(prefix)
        result = CampaignMailResult(sent_at={}, newly_sent=0)
        renderer = StepRenderer(data.template, dict(data.context))
        with ExitStack() as stack:
            smtp: smtplib.SMTP | None = None  # opened at the first email that needs sending
            for position, recipient in enumerate(data.recipients):
                marker = f"{sha256_bytes(recipient.key.encode())}.json"
                if marker in done:
                    result.sent_at[recipient.key] = done[marker]
                    continue
                check_address(recipient.to)
                personal: dict[str, object] = dict(recipient.context)
                if recipient.link_for is not None:
                    personal.update(
                        link_context(
                            self._settings,
                            LinkRequest(
                                cycle_id=data.batch_id,
                                person=recipient.link_for,
                                role=LinkRole.STAFF,
                                version_hash=data.version_hash,
                                path="ack",
                            ),
                        )
                    )
                try:
                    rendered = renderer.render(personal)
                except EmailTemplateError as exc:
                    raise ApplicationError(str(exc), type=TEMPLATE_ERROR, non_retryable=True) from exc
                message = build_message(
                    self._settings, key=recipient.key, to=[recipient.to], rendered=rendered
                )
                if smtp is None:
                    smtp = stack.enter_context(_smtp_session(self._settings))
                now = datetime.now(UTC)
                record = {"key": recipient.key, "template": data.template, "sent_at": now.isoformat()}

                try:
                    # the marker is written inside the SMTP transaction, before its final dot
                    send_committed(
                        smtp,
                        message,
                        to_addrs=[recipient.to],
                        commit=partial(self._put_marker, prefix + marker, json.dumps(record).encode()),
                        rollback=partial(self._delete_marker, prefix + marker),
                    )
                except smtplib.SMTPRecipientsRefused:
                    activity.logger.warning("campaign email %s: recipient refused", recipient.key)
                    result.refused.append(recipient.key)
                    continue
                result.sent_at[recipient.key] = now
                result.newly_sent += 1
                if position % _HEARTBEAT_EVERY == 0:
                    activity.heartbeat(position)
        activity.logger.info(
            "%s %s: %d sent now, %d before, %d refused",
            data.batch_id,
            data.template,
            result.newly_sent,
            len(result.sent_at) - result.newly_sent,
            len(result.refused),
        )
        return result

    # ------------------------------------------------------------------ records, close

    @activity.defn
    def store_batch_records(self, data: StoreRecordsInput) -> StoredObject:
        key = self._campaign_key(data.cycle_id, f"records/{data.batch:04d}.json")
        return self._put_json(key, _RECORDS.dump_json(data.records))

    def _records(self, parts: list[StoredObject]) -> Iterator[PersonRecord]:
        for number, part in enumerate(parts, start=1):
            yield from _RECORDS.validate_json(self._read(part))
            if number % 20 == 0:
                activity.heartbeat(number)

    @activity.defn
    def close_campaign(self, data: CloseInput) -> CampaignResult:
        """The register (CSV, JSON) and the cycle report (Markdown, HTML) from every batch's records."""
        records = list(self._records(data.batches))
        report = build_report(
            records,
            organisation=data.organisation,
            cycle_id=data.cycle_id,
            version=data.signed.version,
            version_hash=data.signed.version_hash,
            cycle_started_at=data.cycle_started_at,
            signed_at=data.signed_at,
            campaign_started_at=data.campaign_started_at,
            closed_at=data.closed_at,
        )
        markdown_text = report_markdown(report)
        result = CampaignResult(
            register_csv=self._put(
                self._campaign_key(data.cycle_id, "register.csv"), register_csv(records), "text/csv"
            ),
            register_json=self._put(
                self._campaign_key(data.cycle_id, "register.json"),
                register_json(
                    records,
                    cycle_id=data.cycle_id,
                    version=data.signed.version,
                    version_hash=data.signed.version_hash,
                    closed=True,
                ),
                "application/json",
            ),
            report=self._put(
                self._campaign_key(data.cycle_id, "report.html"),
                report_html(report).encode(),
                "text/html; charset=utf-8",
            ),
            report_markdown=self._put(
                self._campaign_key(data.cycle_id, "report.md"), markdown_text.encode(), "text/markdown"
            ),
            tally=report.tally,
            by_department=report.by_department,
            target_met=shortfall(report.tally, report.target) == 0,
            invited=sum(1 for record in records if record.invited_at is not None),
            joined=report.joiners,
            left=report.leavers,
        )
        activity.logger.info(
            "campaign %s closed: %d of %d acknowledged",
            data.cycle_id,
            report.tally.acknowledged,
            report.tally.total,
        )
        return result

    @activity.defn
    async def campaign_figures(self, cycle_id: str) -> CampaignProgress:
        """The live figures, from the batches' queries (the same as ``isms cycle status``)."""
        progress = await campaign_progress(self._client, cycle_id)
        if progress is None:
            raise ApplicationError(
                f"no campaign for {cycle_id}", type=Failure.NO_CAMPAIGN, non_retryable=True
            )
        return progress
