"""Record histories of cycles that cross a code change: started on the old code, finished on the new.

Not collected by the default run (its name does not start with ``test_``). It proves that a
cycle already running when a new version is deployed finishes on that version, and writes the
histories of such cycles for tests/replay/test_replay.py to replay from then on.

What it does, on a local stack of its own (``devstack.stack.DevStack``: the Temporal dev server
on a SQLite file, so the histories survive the change of worker; SeaweedFS with Object Lock; the
SMTP sink; the worker; the web app), on free ports under a temporary data folder:

1. deploys the OLD tree: the OLD tree's ``isms dev up`` starts the stack, so its worker and web
   app run the OLD tree's code (``PYTHONPATH=$OLD_TREE``, the same Python), and both cycles
   start with the OLD tree's ``isms cycle start`` (the demo organisation's profile and staff as
   the OLD tree ships them);
2. plays two cycles to a midpoint through the real web pages and the links in the real emails:
   ``signing`` - the CEO asks for changes, the lead revises with the OLD ``isms cycle revise``,
   the second version awaits the CEO's signature; ``acknowledging`` - the CEO signs, the campaign
   invites everyone and some people acknowledge;
3. deploys the NEW tree: stops the old worker (SIGTERM, its graceful shutdown) and web app, and
   the NEW tree's ``isms dev up`` starts its own, on the same Temporal database, buckets and
   mailbox;
4. finishes both: the CEO of ``signing`` waits for the reminder, then signs through the link of
   the email the old worker sent; the people of both campaigns acknowledge through the real web
   POSTs (links from emails of the old worker and of the new one, some after the first reminder,
   two never, so their managers get the digest); both campaigns close on the short schedules
   below, and both cycles complete with their register archived;
5. checks that every history holds workflow tasks of the worker it should (the annual reviews
   and the ``acknowledging`` campaign and batch both workers', the ``signing`` campaign and batch
   the new worker's only), writes the histories of each cycle's annual review, campaign and
   batch, and replays each of them on the NEW code (as tests/replay/test_replay.py does).

Run it from the NEW tree (the tree whose code is tested; it must hold this file and its venv),
with the OLD tree checked out in a worktree, and commit the files it writes::

    git -C /work/main worktree add -q --detach /tmp/isms-old 0ffac8c
    cd /work/main && OLD_TREE=/tmp/isms-old HISTORIES_OUT=tests/replay/histories HISTORIES_LABEL=v5 \\
        .venv/bin/pytest tests/replay/record_crossing.py -p no:randomly -n 0
    git -C /work/main worktree remove /tmp/isms-old

It writes ``<label>-crossing-signing-annual-review.json``, ``-campaign.json``, ``-batch.json`` and
the same three for ``acknowledging`` (without ``HISTORIES_OUT``, into pytest's temporary folder).
``NEW_TREE`` may be given; it must be the tree this file runs from (the replay check runs the
code this process imports). The two trees share this Python and its packages, so the OLD tree's
dependencies must be installed in it (true while pyproject.toml's dependencies only grow). It
takes about ten minutes. The stack lives in pytest's temporary folder, or in
``CROSSING_DATA_DIR`` (a folder that does not exist yet) to keep it for a look afterwards; its
logs (both workers append to ``logs/worker.log``) are named when something stops, and the stack
is stopped at the end whatever happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import workflows
from adapters.campaign import campaign_progress
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings, load_settings
from devstack import demo_run
from devstack.demo_run import AFTER_REMINDER, NEVER, _Demo, demo_profile
from devstack.ports import find_free_ports
from devstack.processes import stop
from devstack.stack import DevStack
from documents.pdf_convert import reap_stale_converters
from models.campaign import batch_id_for, campaign_id_for
from models.cycle import CycleStatus, Stage
from tests.e2e.test_dev_stack import PORT_OPTIONS
from tests.replay.test_replay import WORKFLOWS
from tests.workflows.helpers import invited

log = logging.getLogger("isms.record_crossing")

HERE = Path(__file__).resolve().parents[2]
# days cut to seconds, long enough that the change of worker happens inside the ladders: the
# campaign started on the old code sends its first reminder on the new one
SCHEDULES = """
signature_schedule:
  reminders: [PT2M]
  escalate_after: PT6M
  overdue_after: PT10M
acknowledgement_schedule:
  reminders: [PT90S, PT150S]
  manager_digest_after: PT170S
  summary_after: PT180S
  close_after: PT200S
"""
# a worker's graceful shutdown is 30 s (worker.GRACEFUL_SHUTDOWN): a deployment waits that long
WORKER_GRACE_SECONDS = 40.0


def _tree(variable: str, default: Path | None = None) -> Path:
    value = os.environ.get(variable)
    if not value:
        if default is None:
            pytest.fail(
                f"{variable} is not set: name a source tree of isms-cycle, e.g. a worktree at the old "
                "commit (see this file's docstring)",
                pytrace=False,
            )
        return default
    tree = Path(value).resolve()
    if not (tree / "workflows" / "annual_review.py").is_file():
        pytest.fail(f"{variable}={value} is not a source tree of isms-cycle (no workflows/annual_review.py)")
    return tree


def _where(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """The OLD tree, the NEW tree (the code this process runs), where the histories go, the stack's folder."""
    old = _tree("OLD_TREE")
    new = _tree("NEW_TREE", HERE)
    code = Path(workflows.__file__).resolve().parents[1]
    assert code == new, f"run this file from NEW_TREE ({new}); it imports the code of {code}"
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path / "histories")).resolve()
    data_dir = Path(os.environ.get("CROSSING_DATA_DIR", tmp_path / "isms-data")).resolve()
    if data_dir.exists():
        pytest.fail(f"CROSSING_DATA_DIR={data_dir} exists: name a new folder (the stack starts empty)")
    return old, new, out, data_dir


def _isms(tree: Path, *args: str, cwd: Path, settings_file: Path | None = None) -> str:
    """``tree``'s ``isms`` command (``python -m`` puts ``cwd`` first on the path: no code there, so
    PYTHONPATH alone names the code); its output. Fails with its output when it fails."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ISMS_")}
    env["PYTHONPATH"] = str(tree)
    if settings_file is not None:
        env["ISMS_SETTINGS_FILE"] = str(settings_file)
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    command = f"isms {' '.join(args)} ({tree})"
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout


def _deploy(stack: DevStack, tree: Path, ports: list[int], cwd: Path) -> int:
    """``tree``'s ``isms dev up``: starts what of the stack is not running (the worker and the web
    app, after the first time) from ``tree``'s code; the new worker's pid."""
    options = [part for option, port in zip(PORT_OPTIONS, ports, strict=True) for part in (option, str(port))]
    up = json.loads(_isms(tree, "dev", "up", "--data-dir", str(stack.data_dir), *options, "--json", cwd=cwd))
    for component in up["components"]:
        log.info("%s: %s pid %s: %s", tree.name, component["name"], component["pid"], component["detail"])
    state = stack.load_state()
    assert state is not None
    for name in ("worker", "web"):
        environ = Path(f"/proc/{state.processes[name].pid}/environ").read_bytes().split(b"\0")
        assert f"PYTHONPATH={tree}".encode() in environ, f"the {name} does not run {tree}"
    return state.processes["worker"].pid


def _retire(stack: DevStack) -> None:
    """Stop the worker and the web app the way a deployment does: SIGTERM, then their shutdown."""
    state = stack.load_state()
    assert state is not None
    for name, grace in (("web", 10.0), ("worker", WORKER_GRACE_SECONDS)):
        outcome = stop(state.processes[name], grace_seconds=grace)
        log.info("old %s: %s", name, outcome)
        assert outcome == "stopped", f"the old {name} did not stop on SIGTERM ({outcome})"
    for reaped in reap_stale_converters():
        log.info("libreoffice left by %s removed", reaped.owner_pid)


def _worker_pids(history: WorkflowHistory) -> set[int]:
    """The pids of the workers that completed this run's workflow tasks (identity ``isms-worker@host:pid``)."""
    return {
        int(event.workflow_task_completed_event_attributes.identity.rsplit(":", 1)[1])
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    }


class Crossing:
    """The two cycles, on one stack whose worker changes from the OLD tree's to the NEW tree's."""

    def __init__(self, stack: DevStack, settings: Settings, client: Client, old: Path, folder: Path) -> None:
        self.stack, self.settings, self.client, self.old = stack, settings, client, old
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.s3 = make_s3_client(settings)
        self.today = datetime.now(UTC).date()
        self.year = datetime.now(UTC).year
        self.signing = _Demo(stack, settings, client, lambda line: log.info("signing: %s", line))
        self.acknowledging = _Demo(stack, settings, client, lambda line: log.info("acknowledging: %s", line))
        self.people: list[str] = []
        self.acknowledged_before: list[str] = []

    def _profile(self, short_name: str, *, version: str = "3.0", leeds: bool = False) -> Path:
        return demo_profile(
            self.folder / short_name,
            short_name=short_name,
            today=self.today,
            version=version,
            leeds=leeds,
            schedules=SCHEDULES,
        )

    async def _start(self, demo: _Demo, short_name: str) -> None:
        staff = self.old / "devstack" / "demo" / "staff.csv"
        args = [
            "cycle",
            "start",
            str(self._profile(short_name)),
            "--staff",
            str(staff),
            "--year",
            str(self.year),
        ]
        out = await asyncio.to_thread(self._old_isms, *args, "--json")
        demo.cycle_id = json.loads(out)["cycle_id"]

    def _old_isms(self, *args: str) -> str:
        return _isms(self.old, *args, cwd=self.folder, settings_file=self.stack.settings_file)

    def _prompt(self) -> list[str]:
        return [p for p in self.people if p not in NEVER and p not in AFTER_REMINDER]

    # on the old code ---------------------------------------------------------------------

    async def signing_to_its_midpoint(self) -> None:
        """Asked for changes, revised, the second version awaiting the CEO's signature."""
        demo = self.signing
        await self._start(demo, "crossing-signing")
        await demo.ceo("round-1/invitation", action="request_changes")
        await demo.status_until(lambda s: s.stage is Stage.AWAITING_REVISION, "the request for changes")
        revised = self._profile("crossing-signing", version="3.1", leeds=True)
        await asyncio.to_thread(self._old_isms, "cycle", "revise", demo.cycle_id, str(revised))
        await demo.status_until(lambda s: invited(s) and s.round == 2, "the second invitation", within=300)

    async def acknowledging_to_its_midpoint(self) -> None:
        """Signed, the campaign running, half of the prompt people acknowledged."""
        demo = self.acknowledging
        await self._start(demo, "crossing-acknowledging")
        await demo.ceo("round-1/invitation", action="sign")
        await demo.status_until(lambda s: s.stage is Stage.ACKNOWLEDGING, "the campaign", within=300)
        self.people = await demo.invited(self.s3)
        prompt = self._prompt()
        self.acknowledged_before = prompt[: len(prompt) // 2]
        for email in self.acknowledged_before:
            await demo.acknowledge(email, f"ack/{email}/invitation")
        progress = await campaign_progress(self.client, demo.cycle_id)
        assert progress is not None
        assert progress.tally.acknowledged == len(self.acknowledged_before), progress.tally

    async def check_the_midpoints(self) -> None:
        """Both cycles are where the crossing is meant to find them (else the machine was too slow)."""
        signing = await self.signing.status_until(lambda s: True, "the signing cycle")
        assert signing.stage is Stage.AWAITING_SIGNATURE, signing.stage
        assert signing.round == 2, signing.round
        acknowledging = await self.acknowledging.status_until(lambda s: True, "the acknowledging cycle")
        assert acknowledging.stage is Stage.ACKNOWLEDGING, acknowledging.stage
        reminded = [key for key in self.acknowledging.mails() if key.endswith("/reminder-1")]
        if reminded:  # still a crossing, but the first reminder went out on the old code
            log.warning("the campaign's first reminders went out before the crossing: %s", reminded)

    # on the new code ---------------------------------------------------------------------

    async def finish_signing(self) -> CycleStatus:
        demo = self.signing
        await demo.mail("round-2/reminder-1", within=300)  # the old code's timer, fired by either worker
        await demo.ceo("round-2/invitation", action="sign")  # the link the old worker minted
        await demo.status_until(lambda s: len(s.archive) >= 1, "the seal and the archive", within=300)
        await demo.status_until(lambda s: s.stage in (Stage.ACKNOWLEDGING, Stage.CLOSED), "the campaign")
        people = await demo.invited(self.s3)
        assert people == self.people, "the two cycles invite the same people"
        for email in self._prompt():
            await demo.acknowledge(email, f"ack/{email}/invitation")
        for email in AFTER_REMINDER:
            await demo.acknowledge(email, f"ack/{email}/reminder-1")
        return await self._closed(demo)

    async def finish_acknowledging(self) -> CycleStatus:
        demo = self.acknowledging
        for email in self._prompt()[len(self.acknowledged_before) :]:
            await demo.acknowledge(email, f"ack/{email}/invitation")  # links the old worker minted
        for email in AFTER_REMINDER:
            await demo.acknowledge(email, f"ack/{email}/reminder-1")
        return await self._closed(demo)

    async def _closed(self, demo: _Demo) -> CycleStatus:
        await demo.first_mail(lambda key: "/digest/" in key, "the managers' digest", within=300)
        status = await demo.status_until(
            lambda s: s.stage is Stage.CLOSED and len(s.archive) >= 2, "the campaign to close", within=400
        )
        await self.client.get_workflow_handle(demo.cycle_id).result()  # the run completed
        assert status.campaign is not None
        tally = status.campaign.tally
        assert (tally.acknowledged, tally.total) == (len(self.people) - len(NEVER), len(self.people))
        assert not status.archive_problems, status.archive_problems
        return status


async def _replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, (
        f"{path.name} does not replay on the new code: {result.replay_failure}"
    )


@pytest.mark.timeout(1800)
async def test_record_cycles_crossing_a_code_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old, new, out, data_dir = _where(tmp_path)
    label = os.environ.get("HISTORIES_LABEL", "current")
    # the cycles start from the profile and staff the OLD tree ships (the new one may differ)
    monkeypatch.setattr(demo_run, "DEMO_DIR", old / "devstack" / "demo")
    caplog.set_level(logging.WARNING, logger="httpx")  # its request lines would show every link
    caplog.set_level(logging.INFO, logger=log.name)

    stack = DevStack(data_dir)
    ports = find_free_ports(len(PORT_OPTIONS))
    try:
        old_worker = await asyncio.to_thread(_deploy, stack, old, ports, tmp_path)
        settings = load_settings(settings_file=stack.settings_file)
        client = await connect_temporal(settings)
        crossing = Crossing(stack, settings, client, old, tmp_path / "profiles")
        await crossing.signing_to_its_midpoint()
        await crossing.acknowledging_to_its_midpoint()
        await crossing.check_the_midpoints()

        await asyncio.to_thread(_retire, stack)
        new_worker = await asyncio.to_thread(_deploy, stack, new, ports, tmp_path)
        log.info("deployed the new code: worker %s replaced %s", new_worker, old_worker)
        await asyncio.gather(crossing.finish_signing(), crossing.finish_acknowledging())

        await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
        both, new_only = {old_worker, new_worker}, {new_worker}
        for story, demo, campaign_workers in (
            ("signing", crossing.signing, new_only),
            ("acknowledging", crossing.acknowledging, both),
        ):
            for kind, workflow_id, workers in (
                ("annual-review", demo.cycle_id, both),
                ("campaign", campaign_id_for(demo.cycle_id), campaign_workers),
                ("batch", batch_id_for(demo.cycle_id, 1), campaign_workers),
            ):
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                assert _worker_pids(history) == workers, f"{workflow_id}: tasks of {_worker_pids(history)}"
                path = out / f"{label}-crossing-{story}-{kind}.json"
                await asyncio.to_thread(path.write_text, history.to_json())
                await _replays(path)
                log.info("wrote %s (replays on the new code)", path)
    except BaseException:
        log.error("the stack's logs: %s", stack.logs_dir)
        raise
    finally:
        await asyncio.to_thread(stack.down)
