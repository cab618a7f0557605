"""The acknowledgement campaign's side effects: freeze and pack the directory, send each step's
emails, place joiners and leavers, and write the register and the report.

The logic lives below: core.batches (who is in scope, packing by line manager, placing joiners
and leavers), core.campaign_mail and core.mail_message (the emails), adapters.mail_delivery
(sending at least once per key: a pending marker before the final dot, a sent marker after the
server's 250, so a retried run resends what was not confirmed and skips what was). Every
object stored here carries its SHA-256 (adapters.s3.put_bytes).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import TypeAdapter
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.mail import INVALID_ADDRESS, RECIPIENT_REFUSED, TEMPLATE_ERROR, mail_errors
from adapters.campaign import campaign_progress
from adapters.mail_delivery import Outgoing, RunMarkers
from adapters.s3 import get_file, is_missing, put_bytes
from core.batches import batch_index, in_scope, pack_batches, plan_change, with_documents
from core.campaign_mail import StepRenderer, campaign_message
from core.contract import Failure
from core.email_templates import required_variables
from core.profile_io import UnreadableInputError, load_staff
from core.register import build_report, register_csv, register_json, report_html, report_markdown, shortfall
from core.settings import Settings
from models.campaign import (
    BatchWaveInput,
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
from models.staff import Person
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

UNREADABLE_STAFF = Failure.UNREADABLE_STAFF
# what each activity raises that retrying cannot fix (the workflows' retry policies name them)
FREEZE_DIRECTORY_NON_RETRYABLE: list[str] = [UNREADABLE_STAFF]
LOAD_BATCH_NON_RETRYABLE: list[str] = []
PLAN_STAFF_CHANGE_NON_RETRYABLE: list[str] = [UNREADABLE_STAFF]
SEND_CAMPAIGN_MAIL_NON_RETRYABLE: list[str] = [TEMPLATE_ERROR, INVALID_ADDRESS, RECIPIENT_REFUSED]
STORE_BATCH_RECORDS_NON_RETRYABLE: list[str] = []
CLOSE_CAMPAIGN_NON_RETRYABLE: list[str] = []
CAMPAIGN_FIGURES_NON_RETRYABLE: list[str] = [Failure.NO_CAMPAIGN]
LIST_BATCHES_NON_RETRYABLE: list[str] = []
# the close found batches that have not stored their records yet: a retry looks again
RECORDS_PENDING = "BatchRecordsPending"
# how long one attempt of the close waits for the batches' records, and how often it looks for
# the missing ones (the retry policy's backoff then spaces the attempts)
RECORDS_WAIT_SECONDS = 15
RECORDS_POLL_SECONDS = 2.0

_RECIPIENTS = TypeAdapter(list[Recipient])
_RECORDS = TypeAdapter(list[PersonRecord])
_BATCH_LIST = TypeAdapter(list[StoredObject])


class CampaignActivities:
    """Holds the settings, the S3 client (drafts bucket) and a Temporal client (for the figures)."""

    def __init__(self, *, settings: Settings, s3: S3Client, client: Client) -> None:
        self._settings = settings
        self._s3 = s3
        self._client = client

    def _store(self, cycle_id: str, name: str, payload: bytes, content_type: str) -> StoredObject:
        key = f"{self._settings.drafts_prefix}{cycle_id}/campaign/{name}"
        return put_bytes(
            self._s3, bucket=self._settings.drafts_bucket, key=key, payload=payload, content_type=content_type
        )

    def _read_bytes(self, stored: StoredObject) -> bytes:
        with tempfile.TemporaryDirectory(prefix="isms-campaign-") as folder:
            return get_file(self._s3, stored, Path(folder) / "object").read_bytes()

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

    @activity.defn
    def freeze_directory(self, data: FreezeInput) -> FrozenDirectory:
        """Everyone in scope and employed on ``as_of``, packed into batches stored in S3.

        Each person carries the documents whose audience selects them; a person in scope whom
        no document is for is not invited (and counted apart, in ``no_documents``).
        """
        people = self._load_directory(data.staff, "staff.csv")
        in_scope_now = in_scope(people, as_of=data.as_of, audiences=data.audiences)
        included, nothing = with_documents(in_scope_now)
        batches = pack_batches(included, data.batch_size)
        stored: list[StoredObject] = []
        for number, batch in enumerate(batches, start=1):
            payload = _RECIPIENTS.dump_json(batch)
            stored.append(
                self._store(data.cycle_id, f"batches/{number:04d}.json", payload, "application/json")
            )
            activity.heartbeat(number)
        index = json.dumps(batch_index(batches), sort_keys=True).encode()
        index_ref = self._store(data.cycle_id, "index.json", index, "application/json")
        batch_list = None
        if data.by_reference:  # the campaign reads the list a wave at a time (list_batches)
            listed = _BATCH_LIST.dump_json(stored)
            batch_list = self._store(data.cycle_id, "batches.json", listed, "application/json")
        excluded = len(people) - len(in_scope_now)
        activity.logger.info(
            "campaign %s: %d people in %d batch(es), %d excluded, %d in scope with no document",
            data.cycle_id,
            len(included),
            len(batches),
            excluded,
            len(nothing),
        )
        return FrozenDirectory(
            batches=[] if data.by_reference else stored,
            index=index_ref,
            people=len(included),
            excluded=excluded,
            no_documents=len(nothing),
            batch_list=batch_list,
            batch_count=len(stored),
        )

    @activity.defn
    def list_batches(self, data: BatchWaveInput) -> list[StoredObject]:
        """The people of batches ``first`` to ``first + count - 1``, as ``freeze_directory`` stored them."""
        listed = _BATCH_LIST.validate_json(self._read_bytes(data.batch_list))
        return listed[data.first - 1 : data.first - 1 + data.count]

    @activity.defn
    def load_batch(self, people: StoredObject) -> list[Recipient]:
        return _RECIPIENTS.validate_json(self._read_bytes(people))

    @activity.defn
    def plan_staff_change(self, data: PlanChangeInput) -> PlannedChange:
        """Place joiners (the manager's batch, else the smallest) and find each leaver's batch.

        Every unusable joiner row is named in the plan's problems; the campaign then refuses the
        whole change (``StaffChangeRefused``), so a bad file changes nothing.
        """
        index = json.loads(self._read_bytes(data.index))
        joiners = self._load_directory(data.change.add, "joiners.csv") if data.change.add else []
        return plan_change(
            index,
            joiners,
            remove=data.change.remove,
            joined=data.joined,
            left=data.left,
            as_of=data.as_of,
            audiences=data.audiences,
        )

    @activity.defn
    def send_campaign_mail(self, data: CampaignMailInput) -> CampaignMailResult:
        """Send each recipient's email unless the server's acceptance of it is on record.

        ``sent_at`` names only emails the server accepted (now or in an earlier attempt). A
        recipient the server refuses is reported in ``refused`` and does not stop the run; an
        SMTP or S3 outage raises, and the retry resends whatever has no sent marker.
        """
        context: dict[str, object] = dict(data.context)
        with mail_errors():  # an unknown template is the same non-retryable error as below
            if "documents" in required_variables(data.template) and "documents" not in context:
                # a step asked for by a batch from before reminders listed the documents: each
                # recipient's own list, when there is one, takes this empty one's place
                context["documents"] = []
        renderer = StepRenderer(data.template, context)
        compose = partial(
            campaign_message, self._settings, renderer, batch_id=data.batch_id, version_hash=data.version_hash
        )
        emails = [Outgoing(key=r.key, to=r.to, compose=partial(compose, r)) for r in data.recipients]
        markers = RunMarkers(self._s3, self._settings, data.batch_id)
        with mail_errors():
            outcome = markers.deliver(
                self._settings, emails, template=data.template, heartbeat=activity.heartbeat
            )
        for key in outcome.refused:
            activity.logger.warning("campaign email %s: recipient refused", key)
        sent, before, again = (
            outcome.newly_sent,
            len(outcome.sent_at) - outcome.newly_sent,
            len(outcome.resent),
        )
        activity.logger.info(
            "%s %s: %d sent now (%d again after an unconfirmed attempt), %d before, %d refused",
            *(data.batch_id, data.template, sent, again, before, len(outcome.refused)),
        )
        return outcome

    @activity.defn
    def store_batch_records(self, data: StoreRecordsInput) -> StoredObject:
        payload = _RECORDS.dump_json(data.records)
        return self._store(data.cycle_id, f"records/{data.batch:04d}.json", payload, "application/json")

    def _records(self, parts: list[StoredObject]) -> Iterator[PersonRecord]:
        for number, part in enumerate(parts, start=1):
            yield from _RECORDS.validate_json(self._read_bytes(part))
            if number % 20 == 0:
                activity.heartbeat(number)

    def _records_key(self, cycle_id: str, batch: int) -> str:
        return f"{self._settings.drafts_prefix}{cycle_id}/campaign/records/{batch:04d}.json"

    def _stored_records(self, cycle_id: str, batch: int) -> bytes | None:
        """Batch ``batch``'s records as it stored them at its close, or None if it has not yet.

        The bytes are checked against the SHA-256 ``put_bytes`` stored with them.
        """
        key = self._records_key(cycle_id, batch)
        try:
            found = self._s3.get_object(Bucket=self._settings.drafts_bucket, Key=key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        body = found["Body"].read()
        expected = found.get("Metadata", {}).get("sha256")
        if expected != hashlib.sha256(body).hexdigest():
            raise ApplicationError(f"s3://{self._settings.drafts_bucket}/{key} does not match its SHA-256")
        return body

    def _records_stored(self, cycle_id: str) -> set[int]:
        """The numbers of the batches whose records are stored (one listing per 1,000 batches)."""
        prefix = self._records_key(cycle_id, 0).removesuffix("0000.json")
        numbers: set[int] = set()
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._settings.drafts_bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"].removeprefix(prefix).removesuffix(".json")
                if name.isdigit():
                    numbers.add(int(name))
        return numbers

    def _pending(self, missing: list[int], count: int) -> ApplicationError:
        return ApplicationError(
            f"{len(missing)} of {count} batch(es) have not stored their records yet",
            [f"batch {batch}" for batch in missing[:20]],
            type=RECORDS_PENDING,
        )

    def _records_by_number(self, cycle_id: str, count: int) -> Iterator[PersonRecord]:
        """Every record of batches 1 to ``count``, once each has stored them at its own close.

        The batches close at the campaign's deadline, each on its own timer, so most are there
        and the rest follow within seconds: one attempt waits up to RECORDS_WAIT_SECONDS for the
        missing ones (heartbeating), then fails as RECORDS_PENDING, and the retry looks again.
        """
        expected = set(range(1, count + 1))
        give_up = time.monotonic() + RECORDS_WAIT_SECONDS
        while missing := sorted(expected - self._records_stored(cycle_id)):
            activity.heartbeat(count - len(missing))
            if time.monotonic() > give_up:
                raise self._pending(missing, count)
            time.sleep(RECORDS_POLL_SECONDS)
        for batch in range(1, count + 1):
            body = self._stored_records(cycle_id, batch)
            if body is None:  # listed a moment ago: S3 answered otherwise since
                raise self._pending([batch], count)
            yield from _RECORDS.validate_json(body)
            activity.heartbeat(batch)

    @activity.defn
    def close_campaign(self, data: CloseInput) -> CampaignResult:
        """The register (CSV, JSON) and the cycle report (Markdown, HTML) from every batch's records.

        The records are the ones ``data.batches`` names, or (``data.batch_count``) the ones each
        batch stored under its number: this waits until every batch has.
        """
        if data.batch_count:
            records = list(self._records_by_number(data.cycle_id, data.batch_count))
        else:
            records = list(self._records(data.batches))
        signed = data.signed
        documents = signed.campaign_documents()
        report = build_report(
            records,
            documents=documents,
            no_documents=data.no_documents,
            organisation=data.organisation,
            cycle_id=data.cycle_id,
            version=signed.version,
            version_hash=signed.version_hash,
            cycle_started_at=data.cycle_started_at,
            signed_at=data.signed_at,
            campaign_started_at=data.campaign_started_at,
            closed_at=data.closed_at,
        )
        register = register_json(
            records,
            cycle_id=data.cycle_id,
            version=signed.version,
            version_hash=signed.version_hash,
            closed=True,
            documents=documents,
        )
        result = CampaignResult(
            register_csv=self._store(data.cycle_id, "register.csv", register_csv(records), "text/csv"),
            register_json=self._store(data.cycle_id, "register.json", register, "application/json"),
            report=self._store(
                data.cycle_id, "report.html", report_html(report).encode(), "text/html; charset=utf-8"
            ),
            report_markdown=self._store(
                data.cycle_id, "report.md", report_markdown(report).encode(), "text/markdown"
            ),
            tally=report.tally,
            by_department=report.by_department,
            target_met=shortfall(report.tally, report.target) == 0,
            invited=sum(1 for record in records if record.invited_at is not None),
            joined=report.joiners,
            left=report.leavers,
            by_document=report.by_document,
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
