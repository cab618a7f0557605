"""The yearly schedule on the real Temporal dev server: set, update, pause, fire, skip an overlap."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client

from adapters.cycles import start_cycle
from adapters.s3 import make_s3_client
from adapters.schedules import ScheduleError, pause_schedule, set_schedule, show_schedule
from core.hashing import sha256_file
from core.settings import Settings
from models.cycle import AnnualReviewInput, Stage, cycle_id_for
from models.schedule import ScheduledReviewInput
from tests.workflows.helpers import (
    DEMO,
    current_demo_profile,
    current_status,
    invited,
    own_documents_profile,
    store,
    wait_for,
)
from tests.workflows.test_cycle_cli import _isms


def _profile(folder: Path, short_name: str) -> Path:
    text = (DEMO / "profile.yaml").read_text().replace("short_name: larkspur", f"short_name: {short_name}")
    return current_demo_profile(folder, text=text)


async def test_schedule_set_update_pause_fire_and_skip_while_running(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    short_name = f"sched{secrets.token_hex(3)}"
    data = ScheduledReviewInput(
        short_name=short_name,
        profile=store(settings, _profile(tmp_path, short_name)),
        staff=store(settings, DEMO / "staff.csv"),
        set_by="ravi",
    )
    schedule_id, created = await set_schedule(client, settings, data, month=11, day=20, hour=9)
    assert created
    info = await show_schedule(client, schedule_id)
    assert (info.month, info.day, info.hour, info.paused) == (11, 20, 9, False)
    assert info.next_runs
    assert (info.next_runs[0].month, info.next_runs[0].day) == (11, 20)
    assert info.profile_sha256 == data.profile.sha256

    again, created = await set_schedule(
        client, settings, data, month=3, day=1, hour=7, time_zone="Europe/London"
    )
    assert (again, created) == (schedule_id, False)
    await pause_schedule(client, schedule_id, pause=True, note="audit season")
    info = await show_schedule(client, schedule_id)
    assert (info.month, info.day, info.time_zone, info.paused, info.note) == (
        3,
        1,
        "Europe/London",
        True,
        "audit season",
    )
    await set_schedule(client, settings, data, month=3, day=2)  # an update keeps the pause
    assert (await show_schedule(client, schedule_id)).paused
    await pause_schedule(client, schedule_id, pause=False, note="back on")
    assert not (await show_schedule(client, schedule_id)).paused

    with pytest.raises(ScheduleError, match="--day must be 1-30"):
        await set_schedule(client, settings, data, month=4, day=31)
    assert (await show_schedule(client, schedule_id)).day == 2  # the refused change changed nothing

    handle = client.get_schedule_handle(schedule_id)
    await handle.trigger()  # what the yearly firing does
    cycle = client.get_workflow_handle(cycle_id_for(short_name, datetime.now(UTC).year))
    deadline = time.monotonic() + 60
    while True:
        try:
            status = await current_status(cycle)
            break
        except Exception:  # not started yet
            assert time.monotonic() < deadline, "the schedule did not start the year's cycle"
            await asyncio.sleep(0.5)
    status = await wait_for(cycle, invited, within=120)
    assert status.stage is Stage.AWAITING_SIGNATURE
    assert status.events[0].actor == "schedule (set by ravi)"

    await handle.trigger()  # the cycle still runs: the schedule skips, it does not queue a second
    deadline = time.monotonic() + 30
    while (await show_schedule(client, schedule_id)).skipped_overlap < 1:
        assert time.monotonic() < deadline, "the overlapping firing was not skipped"
        await asyncio.sleep(0.5)
    await handle.delete()
    await cycle.terminate("test over")


async def test_schedule_from_the_command_line(review: tuple[Client, Settings], tmp_path: Path) -> None:
    client, settings = review
    short_name = f"sched{secrets.token_hex(3)}"
    profile = _profile(tmp_path, short_name)
    staff = str(DEMO / "staff.csv")
    code, out, err = await _isms(
        settings, "schedule", "set", str(profile), "--staff", staff, "--month", "11", "--day", "25", "--json"
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["created"] is True
    assert (shown["organisation"], shown["month"], shown["day"]) == (short_name, 11, 25)

    code, out, err = await _isms(
        settings, "schedule", "set", str(profile), "--staff", staff, "--month", "2", "--day", "30"
    )
    assert code == 2
    assert "--day must be 1-29 for February" in err
    code, out, err = await _isms(settings, "schedule", "pause", "--org", short_name, "--note", "audit")
    assert code == 0, err
    code, out, err = await _isms(settings, "schedule", "show", "--org", short_name, "--json")
    assert code == 0, err
    assert json.loads(out)["paused"] is True
    assert json.loads(out)["day"] == 25
    code, out, err = await _isms(settings, "schedule", "resume", "--org", short_name)
    assert code == 0, err
    assert "resumed" in out
    code, out, err = await _isms(settings, "schedule", "show", "--org", "nosuchorg")
    assert code == 1
    assert "no schedule isms-annual-review-nosuchorg" in err
    await client.get_schedule_handle(f"isms-annual-review-{short_name}").delete()


async def test_an_ad_hoc_review_outside_the_schedule_is_recorded_as_such(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    short_name = f"adhoc{secrets.token_hex(3)}"
    reason = "significant change: acquired Nimbus Ltd"
    outcome = await start_cycle(
        client,
        settings,
        make_s3_client(settings),
        profile=_profile(tmp_path, short_name),
        staff=DEMO / "staff.csv",
        year=datetime.now(UTC).year,
        started_by="ravi",
        reason=reason,
    )
    assert outcome.ok, outcome.message
    assert outcome.cycle_id.startswith(f"isms-review-{short_name}-{datetime.now(UTC).year}-adhoc-")
    handle = client.get_workflow_handle(outcome.cycle_id)
    status = await wait_for(handle, invited, within=120)
    assert (status.events[0].event, status.events[0].detail) == ("created", reason)
    await handle.terminate("test over")


async def test_the_schedule_carries_the_profiles_own_files_into_each_years_cycle(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    short_name = f"sched{secrets.token_hex(3)}"
    text = (DEMO / "profile.yaml").read_text().replace("short_name: larkspur", f"short_name: {short_name}")
    profile = own_documents_profile(tmp_path, text=text)
    staff = str(DEMO / "staff.csv")
    code, out, err = await _isms(
        settings, "schedule", "set", str(profile), "--staff", staff, "--month", "11", "--day", "25", "--json"
    )
    assert code == 0, err
    expected = {
        "information-security-policy": sha256_file(tmp_path / "templates" / "policy.docx"),
        "acceptable-use-policy": sha256_file(tmp_path / "policies" / "aup.pdf"),
        "secure-development-policy": sha256_file(tmp_path / "templates" / "sdp.docx"),
    }
    assert json.loads(out)["document_files"] == expected
    code, out, err = await _isms(settings, "schedule", "show", "--org", short_name)
    assert code == 0, err
    assert f"acceptable-use-policy sha256 {expected['acceptable-use-policy'][:16]}" in out

    schedule = client.get_schedule_handle(f"isms-annual-review-{short_name}")
    await schedule.trigger()
    cycle = client.get_workflow_handle(cycle_id_for(short_name, datetime.now(UTC).year))
    deadline = time.monotonic() + 60
    while True:
        try:
            history = await cycle.fetch_history()
            break
        except Exception:  # not started yet
            assert time.monotonic() < deadline, "the schedule did not start the year's cycle"
            await asyncio.sleep(0.5)
    started = history.events[0].workflow_execution_started_event_attributes
    (data,) = await client.data_converter.decode(started.input.payloads, [AnnualReviewInput])
    assert {doc: stored.sha256 for doc, stored in data.document_files.items()} == expected
    await schedule.delete()
    await cycle.terminate("test over")

    # a file the profile names but that is not there: the schedule is not set
    (tmp_path / "policies" / "aup.pdf").unlink()
    code, _, err = await _isms(
        settings, "schedule", "set", str(profile), "--staff", staff, "--month", "11", "--day", "25"
    )
    assert code == 2
    assert "acceptable-use-policy" in err
    assert "policies/aup.pdf" in err
