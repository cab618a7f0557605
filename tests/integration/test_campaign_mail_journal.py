"""Campaign runs sharing one journal (group commit of sent records), against real S3 and the SMTP sink.

Several batches send at once from one process, as the worker's activity threads do; a journal
write that fails after a 250 stands for a worker killed inside the window; a retry from another
process (another S3 client, so another journal) finds what the first one recorded.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from botocore.exceptions import EndpointConnectionError
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.campaign import CampaignActivities
from adapters.mail_delivery import journal_for
from adapters.s3 import make_s3_client
from core.settings import Settings
from devstack.mailsink import read_mailbox
from models.campaign import CampaignMailInput, CampaignMailResult
from tests.conftest import S3Server, SmtpSink
from tests.faults.mail_window import repeat_on_record
from tests.integration.test_campaign_mail import run


class JournalWritesFail:
    """An S3 client whose ``fail_at``-th journal write raises, as a connection lost mid-write
    (0: none does); it counts the journal writes."""

    def __init__(self, real: Any, *, fail_at: int) -> None:
        self._real = real
        self._fail_at = fail_at
        self.journal_writes = 0

    def put_object(self, **request: Any) -> Any:
        if "/campaign-journal/" in request["Key"]:
            self.journal_writes += 1
            if self.journal_writes == self._fail_at:
                raise EndpointConnectionError(endpoint_url="http://s3.invalid")
        return self._real.put_object(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def new_worker(settings: Settings, s3: Any = None) -> CampaignActivities:
    """The campaign activities as a worker process holds them (its own S3 client, so its own journal)."""
    return CampaignActivities(
        settings=settings,
        s3=s3 if s3 is not None else make_s3_client(settings),
        client=Client.__new__(Client),  # never used: no figures are asked for here
    )


def send(activities: CampaignActivities, data: CampaignMailInput) -> CampaignMailResult:
    return ActivityEnvironment().run(activities.send_campaign_mail, data)


def arrivals(sink: SmtpSink, prefix: str) -> list[str]:
    keys = (str(m.get("X-Isms-Key", "")) for m in read_mailbox(sink.maildir))
    return [key for key in keys if key.startswith(prefix)]


def journal_objects(settings: Settings, prefix: str) -> list[str]:
    s3 = make_s3_client(settings)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=settings.drafts_bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def batch_inputs(cycle: str, batches: int, people: int) -> list[CampaignMailInput]:
    return [
        run(f"{cycle}--ack-{number:04d}", [f"b{number}p{n}@larkspur.example" for n in range(people)])
        for number in range(1, batches + 1)
    ]


def test_batches_sending_at_once_each_send_every_email_once_and_leave_no_journal(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    s3 = JournalWritesFail(make_s3_client(settings), fail_at=0)  # counts, never fails
    activities = new_worker(settings, s3)
    cycle = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    inputs = batch_inputs(cycle, batches=4, people=12)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda data: send(activities, data), inputs))
    assert [result.newly_sent for result in results] == [12] * 4
    assert s3.journal_writes < 48  # writes carried records of several runs
    keys = arrivals(smtp_sink, cycle)
    assert len(keys) == 48
    assert len(set(keys)) == 48
    # every run stored its end-of-run record, so no journal write is needed any more
    assert journal_objects(settings, journal_for(cast(Any, s3), settings).prefix) == []

    # another process later (a retried step, say): everything is on record, nothing is sent
    again = new_worker(settings)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda data: send(again, data), inputs))
    assert [result.newly_sent for result in results] == [0] * 4
    assert [len(result.sent_at) for result in results] == [12] * 4
    assert len(arrivals(smtp_sink, cycle)) == 48


def test_a_run_stopped_inside_the_window_repeats_that_email_alone_and_names_it(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    cycle = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    (data,) = batch_inputs(cycle, batches=1, people=6)
    failing = JournalWritesFail(make_s3_client(settings), fail_at=3)
    # the third email's 250 arrives, its sent record cannot be stored: the run stops there,
    # as a worker killed between the final dot and the record does
    with pytest.raises(EndpointConnectionError):
        send(new_worker(settings, failing), data)
    first = arrivals(smtp_sink, cycle)
    assert len(first) == 3
    third = data.recipients[2].key

    # the retry runs in another process, with a journal of its own
    retried = send(new_worker(settings), data)
    assert retried.newly_sent == 4  # the third again, then the three the first run never reached
    assert retried.resent == [third]
    assert set(retried.sent_at) == {recipient.key for recipient in data.recipients}
    keys = arrivals(smtp_sink, cycle)
    assert sorted(keys) == sorted([*(r.key for r in data.recipients), third])
    assert repeat_on_record(settings, {third}) == {third}  # the repeat's marker says so
    assert repeat_on_record(settings, {data.recipients[0].key}) == set()

    # a third attempt (its result lost, say) after the retry removed the pending record that
    # named the first journal: the retry's end-of-run record carries what that journal knew
    third_attempt = send(new_worker(settings), data)
    assert third_attempt.newly_sent == 0
    assert set(third_attempt.sent_at) == set(retried.sent_at)
    assert len(arrivals(smtp_sink, cycle)) == 7


def test_a_run_stopped_by_a_broken_address_resumes_from_another_process(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    cycle = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    batch_id = f"{cycle}--ack-0001"
    good = [f"p{n}@larkspur.example" for n in range(5)]
    with pytest.raises(Exception, match="not a single email address"):
        send(new_worker(settings), run(batch_id, [*good[:2], "broken", *good[2:]]))
    assert len(arrivals(smtp_sink, cycle)) == 2
    # the first run's records are in its process's journal alone (no end-of-run record)
    resumed = send(new_worker(settings), run(batch_id, good))
    assert resumed.newly_sent == 3
    assert resumed.resent == []
    again = send(new_worker(settings), run(batch_id, good))
    assert again.newly_sent == 0
    keys = arrivals(smtp_sink, cycle)
    assert sorted(keys) == sorted(set(keys))
    assert len(keys) == 5


def test_the_workers_own_identity_deletes_the_settled_journal_writes(
    settings: Settings, smtp_sink: SmtpSink, s3_server: S3Server
) -> None:
    worker = settings.model_copy(
        update={
            "s3_access_key_id": s3_server.worker.access_key_id,
            "s3_secret_access_key": SecretStr(s3_server.worker.secret_access_key),
        }
    )
    s3 = make_s3_client(worker)
    activities = new_worker(worker, s3)
    cycle = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda data: send(activities, data), batch_inputs(cycle, batches=2, people=5))
        )
    assert [result.newly_sent for result in results] == [5, 5]
    # DeleteObjects is allowed to the worker's identity (drafts Write): nothing is left behind
    assert journal_objects(settings, journal_for(s3, worker).prefix) == []
