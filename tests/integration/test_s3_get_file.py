"""``get_file`` downloads in the calling thread, on the real S3 (SeaweedFS).

An activity's cancel is raised asynchronously in the thread that runs it; a download that
started threads of its own could have the cancel land in one being started, leaving the
activity waiting for it for ever (a worker's shutdown then never ends). So the download must
start no thread at all: counted here by wrapping ``threading.Thread.start`` (the original
still runs; Python 3.11 has no audit event for a new thread).
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest

from adapters.s3 import IntegrityError, get_file, make_s3_client, put_bytes
from core.settings import Settings

_watching = threading.local()
_started: list[str] = []


@pytest.fixture(autouse=True)
def _count_thread_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        if getattr(_watching, "on", False):  # only threads started by this test's own thread
            _started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)


def _download(settings: Settings, payload: bytes, target: Path) -> Path:
    s3 = make_s3_client(settings)
    stored = put_bytes(
        s3,
        bucket=settings.drafts_bucket,
        key=f"tests/get-file/{secrets.token_hex(8)}.bin",
        payload=payload,
        content_type="application/octet-stream",
    )
    _started.clear()
    _watching.on = True
    try:
        return get_file(s3, stored, target)
    finally:
        _watching.on = False


def test_a_download_of_several_parts_starts_no_thread(settings: Settings, tmp_path: Path) -> None:
    payload = secrets.token_bytes(20 * 1024 * 1024)  # above boto3's multipart threshold (8 MB)
    path = _download(settings, payload, tmp_path / "big.bin")
    assert path.read_bytes() == payload
    assert _started == []


def test_the_hook_sees_threads_that_are_started(tmp_path: Path) -> None:
    """The counting itself works: a thread started while watching is seen."""
    _started.clear()
    _watching.on = True
    try:
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
    finally:
        _watching.on = False
    assert len(_started) == 1


def test_a_changed_object_is_still_refused(settings: Settings, tmp_path: Path) -> None:
    s3 = make_s3_client(settings)
    stored = put_bytes(
        s3,
        bucket=settings.drafts_bucket,
        key=f"tests/get-file/{secrets.token_hex(8)}.bin",
        payload=b"the bytes that were stored",
        content_type="application/octet-stream",
    )
    s3.put_object(Bucket=stored.bucket, Key=stored.key, Body=b"other bytes")
    with pytest.raises(IntegrityError):
        get_file(s3, stored, tmp_path / "changed.bin")
    assert not (tmp_path / "changed.bin").exists()
