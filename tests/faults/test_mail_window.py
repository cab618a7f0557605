"""The sender SIGKILLed while the SMTP server holds its reply to the final dot of one email.

That moment is the window a sender cannot close: the server has the whole message and the
sender does not yet know whether it will be delivered. The server here is the real aiosmtpd
sink with one change: for chosen keys it holds the reply to the final dot until the test has
killed the sender, then either drops the message (as a server that fails, or times out, at
that moment does) or keeps it (delivered, though nobody heard the 250). Real processes
throughout: ``python -m worker`` for the campaign, a process running the mail activity for a
single email, the Temporal dev server, SeaweedFS.

Afterwards every email must have arrived at least once, at most once outside the window (a
held message the server kept may arrive twice, with the same Message-ID), and nobody may have
an ``invited_at`` without a message the server accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.mailsink import MaildirSink, read_mailbox
from devstack.ports import find_free_ports
from models.campaign import CampaignInput, batch_id_for
from models.mail import SendEmailInput
from models.routing import AckLadder
from tests.faults.conftest import REPO, WorkerProcesses
from tests.faults.mail_window import repeat_on_record
from tests.faults.test_worker_killed import _retried
from tests.integration.test_mail_activity import CONTEXT
from tests.workflows.campaign_helpers import staff_rows, start_campaign
from tests.workflows.test_campaign import closed, register
from tests.workflows.test_cycle_cli import _environment

PEOPLE = 10
# the campaign closes soon after the retried run (a killed run is noticed after the 20 s
# heartbeat timeout and retried 5 s later); no reminder, digest or summary falls before the close
SCHEDULE = AckLadder(
    reminders=[timedelta(minutes=10)],
    manager_digest_after=timedelta(minutes=10),
    summary_after=timedelta(minutes=10),
    close_after=timedelta(seconds=45),
)


class HoldingSink(MaildirSink):
    """The maildir sink, holding its reply to the final dot of each chosen key's first arrival.

    ``holds`` maps a key to what becomes of the held message: True keeps it (stored on arrival,
    although no 250 reaches the sender), False drops it (never stored).
    """

    def __init__(self, maildir: Path, holds: dict[str, bool]) -> None:
        super().__init__(maildir)
        self._holds = dict(holds)
        self._guard = threading.Lock()
        self.holding: set[str] = set()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content: bytes = envelope.original_content or envelope.content
        key = str(BytesHeaderParser().parsebytes(content).get("X-Isms-Key", ""))
        with self._guard:
            keep = self._holds.pop(key, None)
            if keep is not None:
                self.holding.add(key)
        if keep is None:
            return await super().handle_DATA(server, session, envelope)
        if keep:  # delivered, whatever becomes of the reply
            await super().handle_DATA(server, session, envelope)
        # aiosmtpd cancels this handler when the sender's connection drops: no reply is sent
        await asyncio.to_thread(self.release.wait)
        return "451 4.3.0 the message was not delivered"


@contextlib.contextmanager
def holding_sink(maildir: Path, holds: dict[str, bool]) -> Iterator[tuple[HoldingSink, int]]:
    (port,) = find_free_ports(1)
    handler = HoldingSink(maildir, holds)
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield handler, port
    finally:
        handler.release.set()
        controller.stop()


def arrived(maildir: Path) -> dict[str, list[EmailMessage]]:
    """Every message the server accepted, by key."""
    found: dict[str, list[EmailMessage]] = {}
    for message in read_mailbox(maildir):
        found.setdefault(str(message.get("X-Isms-Key", "")), []).append(message)
    return found


async def until(check: Callable[[], bool], what: str, *, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


def invitation(data: CampaignInput, number: int) -> str:
    return f"{data.cycle_id}/ack/person{number:06d}@larkspur.example/invitation"


async def test_campaign_invitations_survive_a_sigkill_inside_the_window(
    settings: Settings, worker_processes: WorkerProcesses, tmp_path: Path
) -> None:
    """Two campaigns, each one batch; the worker is killed while both hold one invitation's reply.

    In the first campaign the server drops the held invitation; in the second it keeps it.
    """
    client = await connect_temporal(settings)
    maildir = tmp_path / "mailbox"
    rows = staff_rows(PEOPLE, team_size=5)
    _, dropping_data = await start_campaign(client, settings, tmp_path / "a", rows, schedule=SCHEDULE)
    _, keeping_data = await start_campaign(client, settings, tmp_path / "b", rows, schedule=SCHEDULE)
    dropped, kept = invitation(dropping_data, 4), invitation(keeping_data, 7)
    with holding_sink(maildir, {dropped: False, kept: True}) as (sink, port):
        worker_processes.settings = settings.model_copy(update={"smtp_port": port})
        worker = worker_processes.start()
        try:
            await until(lambda: sink.holding == {dropped, kept}, "both held replies", within=120)
            worker_processes.kill(worker)
            sink.release.set()
            worker_processes.start()
            results = [await closed(client, data, within=240) for data in (dropping_data, keeping_data)]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{worker_processes.log_tail()}") from exc
        received = arrived(maildir)

    for data, result, held in zip((dropping_data, keeping_data), results, (dropped, kept), strict=True):
        keys = [invitation(data, n) for n in range(PEOPLE)]
        counts = Counter({key: len(received.get(key, [])) for key in keys})
        assert all(counts[key] >= 1 for key in keys), f"never invited: {[k for k in keys if not counts[k]]}"
        outside = {key: count for key, count in counts.items() if key != kept and count != 1}
        assert not outside, f"sent more than once outside the window: {outside}"
        # the window held one email of the run: the retry names it, and only it, a possible repeat
        assert repeat_on_record(settings, set(keys)) == {held}
        # nobody has an invited_at without a message the server accepted
        for email, person in register(settings, result).items():
            key = f"{data.cycle_id}/ack/{email}/invitation"
            assert person["invited_at"] is not None, f"{email} has no invited_at"
            assert received.get(key), f"{email} has an invited_at but no invitation arrived"
        attempts = await _retried(client, batch_id_for(data.cycle_id, 1))
        assert attempts["send_campaign_mail"] >= 2, attempts  # the kill landed mid-run

    assert len(received[dropped]) == 1  # dropped by the server, sent again by the new worker
    copies = received[kept]
    assert 1 <= len(copies) <= 2  # inside the window: a repeat, recognisable by its Message-ID
    assert len({str(m["Message-ID"]) for m in copies}) == 1


# a sender of one email that can be SIGKILLed: the mail activity, as the worker runs it
SEND_ONE = """
import sys
from temporalio.testing import ActivityEnvironment
from activities.mail import MailActivities
from adapters.s3 import make_s3_client
from core.settings import load_settings
from models.mail import SendEmailInput

settings = load_settings()
mail = MailActivities(settings=settings, s3=make_s3_client(settings))
ActivityEnvironment().run(mail.send_email, SendEmailInput.model_validate_json(sys.argv[1]))
"""


@pytest.mark.parametrize("server_keeps_it", [False, True], ids=["dropped", "kept"])
async def test_a_single_email_survives_a_sigkill_inside_the_window(
    settings: Settings, tmp_path: Path, server_keeps_it: bool
) -> None:
    key = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}/round-1/overdue"
    request = SendEmailInput(
        key=key,
        template="cycle_overdue",
        to=["ravi.chandran@larkspur.example"],
        context=CONTEXT,
    )
    maildir = tmp_path / "mailbox"
    with holding_sink(maildir, {key: server_keeps_it}) as (sink, port):
        held = settings.model_copy(update={"smtp_port": port})
        sender = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SEND_ONE,
            request.model_dump_json(),
            cwd=REPO,
            env=_environment(held),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            await until(
                lambda: key in sink.holding or sender.returncode is not None, "the held reply", within=60
            )
            assert sender.returncode is None, "the sender ended before the final dot"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sender.pid, signal.SIGKILL)
            await asyncio.wait_for(sender.wait(), 10)
        sink.release.set()
        await asyncio.sleep(0.2)  # the held message is kept or dropped
        # the retry, as Temporal would run it on another worker
        retry = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SEND_ONE,
            request.model_dump_json(),
            cwd=REPO,
            env=_environment(held),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(retry.communicate(), 60)
        assert retry.returncode == 0, output.decode()
        copies = arrived(maildir).get(key, [])

    assert copies, "the email was never delivered"
    assert len(copies) == (2 if server_keeps_it else 1), len(copies)
    assert len({str(m["Message-ID"]) for m in copies}) == 1
    assert repeat_on_record(settings, {key}) == {key}  # the retry knew it might repeat
