"""Send email at least once per key, in a window with a name: pending before the dot, sent after the 250.

For every email, named for good by its key (cycle, person, purpose, step; never the attempt):

1. a *pending* marker is stored in S3 before the final dot of the SMTP transaction;
2. the final dot; the server's 250 means it has taken the message;
3. a *sent* marker is stored, with the time of that 250.

A retry skips every key with a sent marker and sends every other key again, with the same
Message-ID (derived from the key). Nothing records an email as sent before the server accepted
it, so no crash can lose one. The window is between 1 and 3: a sender killed there, or a server
that kept the message but whose 250 never arrived, leads to a repeat, which the Message-ID
makes recognisable and the pending marker names (``repeat``/``resent`` in the results).

Single emails (``<prefix>mail/pending/`` and ``<prefix>mail/sent/<sha256 of key>.json``) write
both markers per message. A campaign run (``<prefix>mail/campaign/<batch>/<sha256>.json`` sent,
``<prefix>mail/campaign-pending/<batch>/`` pending) writes one pending record naming every email
it is about to send before its first transaction, a sent marker per email after its 250 (a
refusal marker for a refused recipient), and deletes the pending record at the end: the same
one PUT per email as a marker written before the dot, plus a PUT and a DELETE per run. Emails
go out one after another, each final dot after the previous one's sent marker, so a killed run
has at most one email in the window: the first of its pending record without a sent or refusal
marker. Only that one is named a possible repeat when the retry sends it again.
"""

from __future__ import annotations

import json
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import TYPE_CHECKING, Any

from adapters.s3 import object_exists, read_object
from adapters.smtp import send_committed, smtp_session
from core.hashing import sha256_bytes
from core.mail_message import message_id_for
from core.settings import Settings
from models.campaign import CampaignMailResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HEARTBEAT_EVERY = 25  # emails of a campaign run between heartbeats


def _digest(key: str) -> str:
    return sha256_bytes(key.encode())


class _Markers:
    def __init__(self, s3: S3Client, settings: Settings) -> None:
        self._s3 = s3
        self._bucket = settings.drafts_bucket
        self._prefix = f"{settings.drafts_prefix}mail/"

    def _put(self, key: str, record: dict[str, Any]) -> None:
        body = json.dumps(record, indent=2).encode()
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")

    def _delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)


@dataclass(frozen=True)
class Delivered:
    message_id: str
    sent: bool  # False: an earlier attempt's acceptance is on record, nothing was sent now
    repeat: bool = False  # sent again after an attempt that reached the final dot unconfirmed
    refused: list[str] = field(default_factory=list)


class EmailMarkers(_Markers):
    """The markers of single emails (the mail activity's)."""

    def _pending_key(self, key: str) -> str:
        return f"{self._prefix}pending/{_digest(key)}.json"

    def _sent_key(self, key: str) -> str:
        return f"{self._prefix}sent/{_digest(key)}.json"

    def deliver(
        self,
        settings: Settings,
        compose: Callable[[], Message],
        *,
        key: str,
        recipients: list[str],
        record: dict[str, Any],
    ) -> Delivered:
        """Send the message ``compose`` builds unless a sent marker exists; ``record`` goes into both markers.

        Raises what ``compose`` raises, ``SMTPRecipientsRefused`` when every recipient is refused
        (nothing is recorded), and whatever SMTP or S3 raise (retry: it is safe).
        """
        message_id = message_id_for(key)
        bucket = self._bucket
        if object_exists(self._s3, bucket, self._sent_key(key)):
            return Delivered(message_id=message_id, sent=False)
        message = compose()
        repeat = object_exists(self._s3, bucket, self._pending_key(key))
        pending = {
            **record,
            "key": key,
            "message_id": message_id,
            "pending_at": datetime.now(UTC).isoformat(),
        }

        def rollback() -> None:  # the server refused the final dot: not delivered by this attempt
            if not repeat:
                self._delete(self._pending_key(key))

        with smtp_session(settings) as smtp:  # a failing QUIT after the 250 changes nothing
            refused = send_committed(
                smtp,
                message,
                to_addrs=recipients,
                commit=lambda _refused: self._put(self._pending_key(key), pending),
                rollback=rollback,
            )
        accepted = datetime.now(UTC)
        sent = {**pending, "refused": sorted(refused), "sent_at": accepted.isoformat(), "repeat": repeat}
        del sent["pending_at"]
        self._put(self._sent_key(key), sent)
        self._delete(self._pending_key(key))
        return Delivered(message_id=message_id, sent=True, repeat=repeat, refused=sorted(refused))


@dataclass(frozen=True)
class Outgoing:
    """One email of a run: ``compose`` builds it (and may raise) only when it must be sent."""

    key: str
    to: str
    compose: Callable[[], Message]


class RunMarkers(_Markers):
    """The markers of one batch's campaign runs (every step of the batch shares them)."""

    def __init__(self, s3: S3Client, settings: Settings, batch_id: str) -> None:
        super().__init__(s3, settings)
        self._sent = f"{self._prefix}campaign/{batch_id}/"
        self._pending = f"{self._prefix}campaign-pending/{batch_id}/"
        self._refused = f"{self._prefix}campaign-refused/{batch_id}/"

    def _listed(self, prefix: str) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = item["LastModified"].astimezone(UTC)
        return found

    def _load(self) -> tuple[dict[str, datetime], dict[str, list[str]]]:
        """Sent digests with their time, and the pending records a killed attempt left (key -> email keys)."""
        sent = {
            key.rsplit("/", 1)[-1].removesuffix(".json"): at for key, at in self._listed(self._sent).items()
        }
        pending: dict[str, list[str]] = {}
        for record_key in self._listed(self._pending):
            body = read_object(self._s3, self._bucket, record_key)
            if body is not None:
                pending[record_key] = list(json.loads(body)["keys"])
        return sent, pending

    def _in_flight(self, sent: dict[str, datetime], left_behind: dict[str, list[str]]) -> set[str]:
        """The keys a killed attempt may have delivered: in each pending record, the first one unsettled.

        A run sends in order, and an email's final dot comes only after the previous one's sent
        marker (or refusal): so the emails after the first unsettled one never reached the server.
        """
        if not left_behind:
            return set()
        refused = {key.rsplit("/", 1)[-1].removesuffix(".json") for key in self._listed(self._refused)}
        in_flight: set[str] = set()
        for keys in left_behind.values():
            unsettled = (key for key in keys if _digest(key) not in sent and _digest(key) not in refused)
            if (first := next(unsettled, None)) is not None:
                in_flight.add(first)
        return in_flight

    def deliver(
        self,
        settings: Settings,
        emails: list[Outgoing],
        *,
        template: str,
        heartbeat: Callable[[int], None],
    ) -> CampaignMailResult:
        """Send each email that has no sent marker, over one SMTP connection.

        A recipient the server refuses is reported in ``refused`` and does not stop the run;
        an error from ``compose``, SMTP or S3 raises (a retry resumes after the sent markers).
        """
        sent, left_behind = self._load()
        pending = self._in_flight(sent, left_behind)
        outcome = CampaignMailResult(sent_at={}, newly_sent=0)
        todo: list[Outgoing] = []
        for email in emails:
            if (at := sent.get(_digest(email.key))) is not None:
                outcome.sent_at[email.key] = at
            else:
                todo.append(email)
        if not todo:
            return outcome
        # one pending record for the whole run, before its first final dot
        record_key = f"{self._pending}{uuid.uuid4().hex}.json"
        self._put(record_key, {"template": template, "keys": [email.key for email in todo]})
        with smtp_session(settings) as smtp:
            for position, email in enumerate(todo, start=1):
                if self._send(smtp, email, template=template, repeat=email.key in pending, outcome=outcome):
                    outcome.newly_sent += 1
                if position % HEARTBEAT_EVERY == 1:  # the first, then every 25th
                    heartbeat(position)
        # every email of the run is now sent or refused, and so is every one a killed attempt left
        settled = set(outcome.sent_at) | set(outcome.refused)
        for done in [record_key, *(key for key, keys in left_behind.items() if settled.issuperset(keys))]:
            self._delete(done)
        return outcome

    def _send(
        self, smtp: smtplib.SMTP, email: Outgoing, *, template: str, repeat: bool, outcome: CampaignMailResult
    ) -> bool:
        """One email of the run: True when the server accepted it (and the sent marker is stored)."""
        message = email.compose()
        try:
            send_committed(smtp, message, to_addrs=[email.to], commit=_nothing, rollback=_nothing)
        except smtplib.SMTPRecipientsRefused:
            outcome.refused.append(email.key)
            self._put(f"{self._refused}{_digest(email.key)}.json", {"key": email.key})
            return False
        accepted = datetime.now(UTC)
        record = {
            "key": email.key,
            "template": template,
            "message_id": message_id_for(email.key),
            "sent_at": accepted.isoformat(),
            "repeat": repeat,
        }
        self._put(f"{self._sent}{_digest(email.key)}.json", record)
        outcome.sent_at[email.key] = accepted
        if repeat:
            outcome.resent.append(email.key)
        return True


def _nothing(*_: object) -> None:
    """The run's pending record was stored before its first transaction: nothing more before the dot."""
