"""SentJournal, the group commit of campaign runs' sent records, on an in-memory bucket.

The runs against real S3 and the SMTP sink are in tests/integration/test_campaign_mail_journal.py;
here the threads are timed by the stand-in, so grouping and its failures are deterministic.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from adapters.mail_delivery import SentJournal


class SlowBucket:
    """put_object, delete_objects and list of a dict, each PUT taking ``delay`` seconds."""

    def __init__(self, *, delay: float = 0.0, fail_puts: int = 0) -> None:
        self.objects: dict[str, bytes] = {}
        self.delay = delay
        self.fail_puts = fail_puts  # this many PUTs raise, then they succeed
        self.puts = 0
        self.lock = threading.Lock()

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:  # noqa: N803
        time.sleep(self.delay)
        with self.lock:
            self.puts += 1
            if self.fail_puts:
                self.fail_puts -= 1
                raise OSError("the S3 write failed")
            self.objects[Key] = Body
        return {}

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        with self.lock:
            for item in Delete["Objects"]:
                self.objects.pop(item["Key"], None)
        return {}

    def records(self) -> list[dict[str, Any]]:
        return [entry for body in self.objects.values() for entry in json.loads(body)["records"]]


def journal(bucket: SlowBucket) -> SentJournal:
    return SentJournal(bucket, bucket="drafts", prefix="drafts/mail/")  # type: ignore[arg-type]


def test_records_of_runs_in_flight_at_once_share_one_write() -> None:
    bucket = SlowBucket(delay=0.05)
    sent = journal(bucket)
    runs = 6
    together = threading.Barrier(runs)

    def one_run(number: int) -> None:
        with sent.run() as run:
            together.wait()  # every run in flight before the first record
            sent.record(run, {"batch": f"b{number}", "key": f"k{number}", "sent_at": "t"})

    threads = [threading.Thread(target=one_run, args=(n,)) for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(entry["key"] for entry in bucket.records()) == [f"k{n}" for n in range(runs)]
    # the first write waits (GATHER_SECONDS) for a record of every run in flight
    assert bucket.puts == 1, bucket.puts
    assert all(key.startswith(sent.prefix) for key in bucket.objects)


def test_record_returns_only_once_its_write_is_stored() -> None:
    bucket = SlowBucket(delay=0.05)
    sent = journal(bucket)
    with sent.run() as run:
        sent.record(run, {"batch": "b", "key": "k1", "sent_at": "t"})
        assert [entry["key"] for entry in bucket.records()] == ["k1"]


def test_a_failed_write_fails_every_run_whose_record_it_carried() -> None:
    bucket = SlowBucket(delay=0.05, fail_puts=1)
    sent = journal(bucket)
    runs = 3
    together = threading.Barrier(runs)
    errors: list[BaseException] = []

    def one_run(number: int) -> None:
        with sent.run() as run:
            together.wait()
            try:
                sent.record(run, {"batch": "b", "key": f"k{number}", "sent_at": "t"})
            except OSError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=one_run, args=(n,)) for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == runs  # one write carried all three records, and it failed
    assert bucket.records() == []
    with sent.run() as run:  # the journal goes on: the next write is stored
        sent.record(run, {"batch": "b", "key": "k9", "sent_at": "t"})
    assert [entry["key"] for entry in bucket.records()] == ["k9"]


def test_a_write_is_deleted_once_every_run_with_a_record_in_it_has_settled() -> None:
    bucket = SlowBucket()
    sent = journal(bucket)
    together = threading.Barrier(2)
    with sent.run() as first, sent.run() as second:

        def record(run: str, key: str) -> None:
            together.wait()
            sent.record(run, {"batch": "b", "key": key, "sent_at": "t"})

        other = threading.Thread(target=record, args=(second, "k2"))
        other.start()
        record(first, "k1")
        other.join()
        assert bucket.puts == 1  # one write holds a record of each run
        sent.settle(first)
        # still needed for the second run: killed now, its retry reads it through its pending record
        assert sorted(entry["key"] for entry in bucket.records()) == ["k1", "k2"]
        sent.settle(second)
    assert bucket.objects == {}


@pytest.mark.parametrize("runs", [1, 3])
def test_a_run_alone_in_flight_does_not_wait_for_others(runs: int) -> None:
    bucket = SlowBucket()
    sent = journal(bucket)
    with sent.run() as run:
        started = time.monotonic()
        for number in range(runs):
            sent.record(run, {"batch": "b", "key": f"k{number}", "sent_at": "t"})
        # the run's own record is every record the write waits for
        assert time.monotonic() - started < 0.015 * runs
    assert bucket.puts == runs
