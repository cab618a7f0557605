"""Send email at least once per key, in a window with a name: pending before the dot, sent after the 250.

For every email, named for good by its key (cycle, person, purpose, step; never the attempt):

1. a *pending* marker is stored in S3 before the final dot of the SMTP transaction;
2. the final dot; the server's 250 means it has taken the message;
3. a *sent* record is stored, with the time of that 250.

A retry skips every key with a sent record and sends every other key again, with the same
Message-ID (derived from the key). Nothing records an email as sent before the server accepted
it, so no crash can lose one. The window is between 1 and 3: a sender killed there, or a server
that kept the message but whose 250 never arrived, leads to a repeat, which the Message-ID
makes recognisable and the pending marker names (``repeat``/``resent`` in the results).

Single emails (``<prefix>mail/pending/`` and ``<prefix>mail/sent/<sha256 of key>.json``) write
both markers per message. A campaign run writes one pending record naming every email it is
about to send before its first transaction (``<prefix>mail/campaign-pending/<batch>/``), a
sent record per email after its 250, and at its end one record of every email it knows sent
(``<prefix>mail/campaign-runs/<batch>/``) before it deletes its pending record. Emails go out
one after another, each final dot after the previous one's sent record is stored, so a killed
run has at most one email in the window: the first of its pending record without a sent or
refusal record. Only that one is named a possible repeat when the retry sends it again.

The sent records of the runs a process has in flight at once (one per activity thread) are
stored together (group commit, :class:`SentJournal`): a run whose email was accepted while
another run's records were being stored waits for the next write, which takes every record
that arrived meanwhile. Each run still waits for its own record before its next final dot, so
the window is the same; the number of PUTs per email falls with the number of runs in flight.
Those writes (``<prefix>mail/campaign-journal/<process>/``) are found through the pending
records that name them; once every run with a record in one has stored its end-of-run
record, the write is deleted. A repeat (an email sent again after a killed attempt) gets a
sent marker of its own, ``<prefix>mail/campaign/<batch>/<sha256 of key>.json`` with
``"repeat": true``: the layout every run wrote before group commit, still read.
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.s3 import object_exists, read_object
from adapters.smtp import send_committed, smtp_session
from core.hashing import sha256_bytes
from core.mail_message import message_id_for
from core.settings import Settings
from models.campaign import CampaignMailResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HEARTBEAT_EVERY = 25  # emails of a campaign run between heartbeats
# how long a journal write waits for a record of every run in flight before it goes without them
GATHER_SECONDS = 0.02

logger = logging.getLogger(__name__)


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


@dataclass
class _Record:
    """One accepted email waiting for the journal; ``done`` once a write has taken it (or failed)."""

    run: str
    entry: dict[str, Any]
    done: bool = False
    error: BaseException | None = None


class SentJournal:
    """The sent records of every campaign run in one process, stored together (group commit).

    :meth:`record` returns once the record is in S3. A thread that finds no write in progress
    stores every record waiting, its own included; the others wait for it, and one of those
    left over stores the next lot. Each write is an object of its own under this journal's
    prefix (one journal per process and bucket, :func:`journal_for`), kept until every run
    with a record in it has called :meth:`settle`.
    """

    def __init__(self, s3: S3Client, *, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.prefix = f"{prefix}campaign-journal/{uuid.uuid4().hex}/"
        self._ready = threading.Condition()
        self._waiting: list[_Record] = []
        self._writing = False
        self._gathering = False
        self._writes = 0
        self._active = 0  # runs in flight
        self._runs_in: dict[str, set[str]] = {}  # object key -> runs not yet settled
        self._objects_of: dict[str, set[str]] = {}  # run -> object keys holding its records

    def record(self, run: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` (one accepted email of ``run``); raises what S3 raised for its write."""
        mine = _Record(run, entry)
        with self._ready:
            self._waiting.append(mine)
            if self._gathering:  # the writer waits for records like this one
                self._ready.notify_all()
            while not mine.done:
                if self._writing:
                    self._ready.wait()
                    continue
                self._writing = True
                self._gather()
                batch, self._waiting = self._waiting, []
                self._writes += 1
                key = f"{self.prefix}{self._writes:09d}.json"
                self._ready.release()
                error: BaseException | None = None
                try:
                    body = json.dumps({"records": [item.entry for item in batch]}, separators=(",", ":"))
                    self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode())
                except BaseException as exc:  # every record of this write is then not stored
                    error = exc
                finally:
                    self._ready.acquire()
                    self._writing = False
                if error is None:
                    runs = {item.run for item in batch}
                    self._runs_in[key] = runs
                    for run_id in runs:
                        self._objects_of.setdefault(run_id, set()).add(key)
                for item in batch:
                    item.done, item.error = True, error
                self._ready.notify_all()
        if mine.error is not None:
            raise mine.error

    def _gather(self) -> None:
        """Wait a moment (holding the lock's condition) for the other runs in flight to have a record."""
        deadline = time.monotonic() + GATHER_SECONDS
        self._gathering = True
        try:
            while len(self._waiting) < self._active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._ready.wait(remaining)
        finally:
            self._gathering = False

    @contextmanager
    def run(self) -> Iterator[str]:
        """A run's id, counted as in flight (a write waits for its record a moment) until it ends."""
        with self._ready:
            self._active += 1
        try:
            yield uuid.uuid4().hex
        finally:
            with self._ready:
                self._active -= 1
                if self._gathering:  # one run fewer to wait for
                    self._ready.notify_all()

    def settle(self, run: str) -> None:
        """``run`` has stored its end-of-run record: delete the writes no unsettled run needs."""
        with self._ready:
            unneeded = []
            for key in self._objects_of.pop(run, set()):
                runs = self._runs_in[key]
                runs.discard(run)
                if not runs:
                    del self._runs_in[key]
                    unneeded.append(key)
        # a write left behind is only read again if a pending record names this journal
        for start in range(0, len(unneeded), 1000):  # DeleteObjects takes up to 1,000 keys
            objects: Any = [{"Key": key} for key in sorted(unneeded[start : start + 1000])]
            try:
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                logger.warning("could not delete %d settled journal write(s): %s", len(objects), exc)


_journals: dict[tuple[int, str, str], SentJournal] = {}
_journals_lock = threading.Lock()


def journal_for(s3: S3Client, settings: Settings) -> SentJournal:
    """The process's journal for this S3 client and drafts bucket (shared by every thread)."""
    name = (id(s3), settings.drafts_bucket, settings.drafts_prefix)
    with _journals_lock:
        journal = _journals.get(name)
        if journal is None:  # the journal holds the client, so its id is not reused meanwhile
            journal = SentJournal(s3, bucket=settings.drafts_bucket, prefix=f"{settings.drafts_prefix}mail/")
            _journals[name] = journal
        return journal


_Sent = dict[str, tuple[str, datetime]]  # digest of a key -> the key (when known), its 250's time


class RunMarkers(_Markers):
    """The markers of one batch's campaign runs (every step of the batch shares them)."""

    def __init__(self, s3: S3Client, settings: Settings, batch_id: str) -> None:
        super().__init__(s3, settings)
        self._batch = batch_id
        self._sent = f"{self._prefix}campaign/{batch_id}/"
        self._runs = f"{self._prefix}campaign-runs/{batch_id}/"
        self._pending = f"{self._prefix}campaign-pending/{batch_id}/"
        self._refused = f"{self._prefix}campaign-refused/{batch_id}/"
        self._journal = journal_for(s3, settings)

    def _listed(self, prefix: str) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = item["LastModified"].astimezone(UTC)
        return found

    def _read_json(self, key: str) -> Any:
        body = read_object(self._s3, self._bucket, key)
        return None if body is None else json.loads(body)

    def _load(self) -> tuple[_Sent, dict[str, list[str]], set[str]]:
        """What is on record for this batch.

        Returns the sent emails (digest -> key and the time of its 250), the pending records a
        killed attempt left (record -> email keys), and the digests recorded only in a journal
        (which this run's end-of-run record must then carry, as the pending record naming the
        journal goes).
        """
        sent: _Sent = {}
        for key, at in self._listed(self._sent).items():  # one marker per email
            sent[key.rsplit("/", 1)[-1].removesuffix(".json")] = ("", at)
        for record_key in self._listed(self._runs):  # one record per finished run
            record = self._read_json(record_key)
            for email_key, at in (record or {}).get("sent", {}).items():
                sent[_digest(email_key)] = (email_key, datetime.fromisoformat(at))
        pending: dict[str, list[str]] = {}
        journals: set[str] = set()
        for record_key in self._listed(self._pending):
            record = self._read_json(record_key)
            if record is not None:
                pending[record_key] = list(record["keys"])
                if record.get("journal"):
                    journals.add(record["journal"])
        only_journal: set[str] = set()
        for journal in sorted(journals):
            for write_key in self._listed(journal):
                write = self._read_json(write_key)
                for entry in (write or {}).get("records", []):
                    digest = _digest(entry["key"])
                    if entry.get("batch") == self._batch and digest not in sent:
                        sent[digest] = (entry["key"], datetime.fromisoformat(entry["sent_at"]))
                        only_journal.add(digest)
        return sent, pending, only_journal

    def _in_flight(self, sent: _Sent, left_behind: dict[str, list[str]]) -> set[str]:
        """The keys a killed attempt may have delivered: in each pending record, the first one unsettled.

        A run sends in order, and an email's final dot comes only after the previous one's sent
        record (or refusal) is stored: so the emails after the first unsettled one never reached
        the server.
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
        """Send each email that has no sent record, over one SMTP connection.

        A recipient the server refuses is reported in ``refused`` and does not stop the run;
        an error from ``compose``, SMTP or S3 raises (a retry resumes after the sent records).
        """
        sent, left_behind, only_journal = self._load()
        pending = self._in_flight(sent, left_behind)
        outcome = CampaignMailResult(sent_at={}, newly_sent=0)
        todo: list[Outgoing] = []
        for email in emails:
            digest = _digest(email.key)
            if (found := sent.get(digest)) is not None:
                outcome.sent_at[email.key] = found[1]
            else:
                todo.append(email)
        if not todo:
            return outcome
        # one pending record for the whole run, before its first final dot
        with self._journal.run() as run:
            record_key = f"{self._pending}{run}.json"
            keys = [email.key for email in todo]
            self._put(record_key, {"template": template, "keys": keys, "journal": self._journal.prefix})
            with smtp_session(settings) as smtp:
                for position, email in enumerate(todo, start=1):
                    repeat = email.key in pending
                    if self._send(smtp, email, run=run, template=template, repeat=repeat, outcome=outcome):
                        outcome.newly_sent += 1
                    if position % HEARTBEAT_EVERY == 1:  # the first, then every 25th
                        heartbeat(position)
            # what this run sent, and what only a journal named by a pending record knows
            carried = {_digest(key) for key in keys} | only_journal
            record = {
                key: at.isoformat()
                for key, at in outcome.sent_at.items()
                if _digest(key) in carried and key not in outcome.resent
            }
            for digest in only_journal:  # sent by a killed attempt, though no longer asked for
                email_key, at = sent[digest]
                record.setdefault(email_key, at.isoformat())
            self._put(f"{self._runs}{run}.json", {"template": template, "sent": record})
            # every email of the run is now sent or refused, and so is every one a killed attempt left
            settled = set(outcome.sent_at) | set(outcome.refused)
            for done in [record_key, *(key for key, keys in left_behind.items() if settled.issuperset(keys))]:
                self._delete(done)
            self._journal.settle(run)
        return outcome

    def _send(
        self,
        smtp: smtplib.SMTP,
        email: Outgoing,
        *,
        run: str,
        template: str,
        repeat: bool,
        outcome: CampaignMailResult,
    ) -> bool:
        """One email of the run: True when the server accepted it (and its sent record is stored)."""
        message = email.compose()
        try:
            send_committed(smtp, message, to_addrs=[email.to], commit=None, rollback=_nothing)
        except smtplib.SMTPRecipientsRefused:
            outcome.refused.append(email.key)
            self._put(f"{self._refused}{_digest(email.key)}.json", {"key": email.key})
            return False
        accepted = datetime.now(UTC)
        if repeat:  # rare (after a kill): a marker of its own, which says so
            record = {
                "key": email.key,
                "template": template,
                "message_id": message_id_for(email.key),
                "sent_at": accepted.isoformat(),
                "repeat": True,
            }
            self._put(f"{self._sent}{_digest(email.key)}.json", record)
            outcome.resent.append(email.key)
        else:
            entry = {"batch": self._batch, "key": email.key, "sent_at": accepted.isoformat()}
            self._journal.record(run, entry)
        outcome.sent_at[email.key] = accepted
        return True


def _nothing(*_: object) -> None:
    """A refusal at the final dot: the run's pending record stays until the run ends."""
