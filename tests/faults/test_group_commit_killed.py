"""Group commit under SIGKILL: the web app, or the worker, dies with acknowledgements in flight.

Real processes where it matters: ``python -m web`` (killed with SIGKILL while groups are in
flight or waiting), ``python -m worker`` (killed while a group update is in flight, a new one
finishing it), the Temporal dev server, SeaweedFS, the SMTP sink. Afterwards every request
that was answered "recorded" is in the batch's register lines with the moment its page
showed; everyone else's link shows either the receipt (their group reached the batch, its
answer did not reach them) or the button; and pressing it then records each person once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle

from adapters.campaign import batch_progress
from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.ports import find_free_ports
from documents.pdf_convert import PdfConverter
from models.campaign import AckPage, CampaignInput, PersonRecord, batch_id_for
from models.routing import AckLadder
from tests.faults.conftest import REPO, ProcessGroup, WorkerProcesses
from tests.workflows.campaign_helpers import staff_link, staff_rows, start_campaign, wait_until
from tests.workflows.test_cycle_cli import _environment
from web.ack_commit import AckCommitter
from web.app import create_app
from worker import build_worker
from workflows.acknowledgement import AcknowledgementBatchWorkflow

RECORDED = "Thank you: your acknowledgement is recorded"
ALREADY = "was already recorded at"
BUTTON = ">I have read and accept</button>"
# nothing falls due while the test runs: every link stays the newest, the batch stays open
QUIET = AckLadder(
    reminders=[timedelta(hours=1)],
    manager_digest_after=timedelta(hours=2),
    summary_after=timedelta(hours=3),
    close_after=timedelta(hours=4),
)


@dataclass
class WebProcess(ProcessGroup):
    """``python -m web`` on a port of its own, killable with SIGKILL."""

    log_prefix = "web"

    def _spawn(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"web-{len(self.started) + 1}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "web"],
            cwd=REPO,
            env=_environment(self.settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.started.append(process)
        return process

    async def start(self) -> subprocess.Popen[bytes]:
        """A new web process, once it answers its health check."""
        process = self._spawn()
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.settings.public_base_url) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return process
                assert process.poll() is None, self.log_tail()
                assert time.monotonic() < deadline, self.log_tail()
                await asyncio.sleep(0.1)


@pytest.fixture
def web_processes(settings: Settings, tmp_path: Path) -> Iterator[WebProcess]:
    (port,) = find_free_ports(1)
    served = settings.model_copy(
        update={
            "web_host": "127.0.0.1",
            "web_port": port,
            "public_base_url": f"http://127.0.0.1:{port}",
            # groups of at most 8, so several are in flight or waiting when the kill comes
            "ack_group_window_ms": 100,
            "ack_group_max": 8,
        }
    )
    processes = WebProcess(settings=served, logs=tmp_path)
    yield processes
    processes.stop_all()


@dataclass
class Campaign:
    handle: WorkflowHandle
    data: CampaignInput
    emails: list[str]

    @property
    def batch(self) -> str:
        return batch_id_for(self.data.cycle_id, 1)


async def _campaign(client: Client, settings: Settings, folder: Path, people: int) -> Campaign:
    rows = staff_rows(people)
    handle, data = await start_campaign(client, settings, folder, rows, schedule=QUIET)
    await wait_until(client, data.cycle_id, lambda p: p.batches == 1 and p.invited == people, within=120)
    return Campaign(handle=handle, data=data, emails=[row["email"] for row in rows])


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def _recorded_at(page: str) -> str:
    match = re.search(r"<tr><th>Recorded at</th><td[^>]*>([^<]*)</td></tr>", page)
    assert match, "no time recorded on the page"
    return unescape(match.group(1))


async def _records(client: Client, campaign: Campaign) -> dict[str, PersonRecord]:
    """The batch's register lines (what it stores at the close), person by person."""
    handle = client.get_workflow_handle(campaign.batch)
    records: dict[str, PersonRecord] = {}
    for email in campaign.emails:
        page: AckPage | None = await handle.query(AcknowledgementBatchWorkflow.page, email)
        assert page is not None
        assert page.person is not None
        records[email] = page.person
    return records


def _shown(record: PersonRecord) -> str:
    assert record.acknowledged_at is not None
    return record.acknowledged_at.strftime("%d %B %Y, %H:%M:%S UTC")


async def _post_all(
    http: httpx.AsyncClient, tokens: dict[str, str], forms: dict[str, dict[str, str]]
) -> dict[str, asyncio.Task[httpx.Response]]:
    return {
        email: asyncio.create_task(http.post(f"/ack/{token}", data=forms[email], timeout=60))
        for email, token in tokens.items()
    }


async def _reopen_and_finish(
    http: httpx.AsyncClient,
    client: Client,
    campaign: Campaign,
    tokens: dict[str, str],
    answered: dict[str, str],
) -> None:
    """Every "recorded" answer is in the register with its moment; every other link shows the
    receipt or the button; pressing the button records the rest, each person once."""
    records = await _records(client, campaign)
    for email, moment in answered.items():
        assert records[email].acknowledged_at is not None, f"{email} was told recorded, yet is not"
        assert _shown(records[email]) == moment
    for email, token in tokens.items():
        page = await http.get(f"/ack/{token}")
        assert page.status_code == 200, page.text
        if records[email].acknowledged_at is not None:
            assert ALREADY in page.text, f"{email}: recorded, but the page shows no receipt"
            assert _recorded_at(page.text) == _shown(records[email])
            continue
        assert BUTTON in page.text, f"{email}: not recorded, and no button"
        done = await http.post(f"/ack/{token}", data={"csrf": _csrf(page.text)}, timeout=60)
        assert done.status_code == 200, done.text
        assert RECORDED in done.text
    final = await _records(client, campaign)
    assert all(record.acknowledged_at is not None for record in final.values())
    for email, record in records.items():  # recorded before: the same record, never a second one
        if record.acknowledged_at is not None:
            assert final[email].acknowledged_at == record.acknowledged_at
    progress = await batch_progress(client, campaign.data.cycle_id, 1)
    assert (progress.tally.acknowledged, progress.tally.outstanding) == (len(tokens), 0)


@pytest.fixture
async def client(settings: Settings) -> Client:
    return await connect_temporal(settings)


async def test_sigkill_of_the_web_app_with_groups_in_flight(
    settings: Settings,
    client: Client,
    web_processes: WebProcess,
    pdf_converter: PdfConverter,
    tmp_path: Path,
) -> None:
    served = web_processes.settings
    async with build_worker(client, settings, converter=pdf_converter):
        campaign = await _campaign(client, settings, tmp_path, 60)
        try:
            tokens = {email: staff_link(served, campaign.data, email, 1) for email in campaign.emails}
            web = await web_processes.start()
            async with httpx.AsyncClient(base_url=served.public_base_url) as http:
                forms = {e: {"csrf": _csrf((await http.get(f"/ack/{t}")).text)} for e, t in tokens.items()}
                posts = await _post_all(http, tokens, forms)
                deadline = time.monotonic() + 60
                while sum(task.done() for task in posts.values()) < 5:  # the first groups are back
                    assert time.monotonic() < deadline, "no group came back"
                    await asyncio.sleep(0.005)
                web_processes.kill(web)
                responses = dict(
                    zip(posts, await asyncio.gather(*posts.values(), return_exceptions=True), strict=True)
                )
            answered = {
                email: _recorded_at(response.text)
                for email, response in responses.items()
                if isinstance(response, httpx.Response) and RECORDED in response.text
            }
            unanswered = [e for e, r in responses.items() if not isinstance(r, httpx.Response)]
            assert answered, "no request was answered before the kill"
            assert unanswered, "every request was answered before the kill: it landed too late"
            assert all(
                isinstance(r, httpx.Response) and r.status_code == 200
                for e, r in responses.items()
                if e in answered
            )

            await web_processes.start()  # a new web process: the people open their links again
            async with httpx.AsyncClient(base_url=served.public_base_url) as http:
                await _reopen_and_finish(http, client, campaign, tokens, answered)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{web_processes.log_tail()}") from exc
        finally:
            await campaign.handle.terminate("test over")


async def test_sigkill_of_the_worker_with_a_group_update_in_flight(
    settings: Settings, client: Client, worker_processes: WorkerProcesses, tmp_path: Path
) -> None:
    worker = worker_processes.start()
    campaign = await _campaign(client, settings, tmp_path, 30)
    app = create_app(settings, client=client)
    try:
        tokens = {email: staff_link(settings, campaign.data, email, 1) for email in campaign.emails}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://isms.test"
        ) as http:
            forms = {e: {"csrf": _csrf((await http.get(f"/ack/{t}")).text)} for e, t in tokens.items()}
            posts = await _post_all(http, tokens, forms)
            committer: AckCommitter | None = None
            deadline = time.monotonic() + 30
            while committer is None or not committer.in_flight(campaign.batch):
                assert time.monotonic() < deadline, "no group update went out"
                await asyncio.sleep(0.001)
                committer = getattr(app.state, "ack_committer", None)
            worker_processes.kill(worker)  # a group update is on its way to the batch
            in_flight_at_kill = sum(not task.done() for task in posts.values())
            worker_processes.start()  # the new worker takes the batch's workflow task over
            responses = dict(zip(posts, await asyncio.gather(*posts.values()), strict=True))
            answered = {
                email: _recorded_at(response.text)
                for email, response in responses.items()
                if RECORDED in response.text
            }
            others = [r for r in responses.values() if RECORDED not in r.text]
            # a request whose group was not confirmed in time gets the plain 503, never "recorded"
            assert all(r.status_code == 503 and "could not be confirmed" in r.text for r in others), [
                r.text for r in others
            ]
            assert in_flight_at_kill > 0
            await _reopen_and_finish(http, client, campaign, tokens, answered)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker_processes.log_tail()}") from exc
    finally:
        await campaign.handle.terminate("test over")
