"""`isms cycle staff / status / watch` on an acknowledgement campaign, as a person runs them.

The campaigns are started on their own (``campaign_helpers.start_campaign``), so their cycle
has no annual review workflow: status and watch show the campaign all the same.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client

from adapters.campaign import campaign_progress
from core.settings import Settings
from models.campaign import Acknowledgement, CampaignStage, batch_id_for
from models.profile import Audience
from tests.workflows.campaign_helpers import (
    batch_of,
    ladder,
    signed_version,
    staff_rows,
    start_campaign,
    wait_until,
    write_staff,
)
from tests.workflows.test_cycle_cli import ISMS, _environment, _isms
from workflows.acknowledgement import AcknowledgementBatchWorkflow


def _joiner(prefix: str = "joiner", **changes: str) -> dict[str, str]:
    row = staff_rows(1, prefix=prefix)[0]
    # the joiner works for person000008 (the Finance team's manager)
    row.update(department="Finance", manager_email="person000008@larkspur.example")
    row.update(changes)
    return row


async def test_staff_changes_and_status_from_the_command_line(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    handle, data = await start_campaign(client, settings, tmp_path, staff_rows(24))
    cycle_id = data.cycle_id
    await wait_until(client, cycle_id, lambda p: p.stage is CampaignStage.RUNNING and p.tally.total == 24)

    code, out, err = await _isms(settings, "cycle", "status", cycle_id)
    assert code == 0, err
    assert "No annual review workflow for this cycle" in out
    assert "Acknowledged  0 of 24 (0.0%)" in out
    assert "By department" in out
    assert "Engineering" in out

    joiners = write_staff(tmp_path / "in", [_joiner()], name="joiners.csv")
    leaver = "person000003@larkspur.example"
    code, out, err = await _isms(
        settings, "cycle", "staff", cycle_id, "--add", str(joiners), "--remove", leaver
    )
    assert code == 0, err
    assert "Added" in out
    assert "joiner000000@larkspur.example" in out
    assert "Removed" in out
    assert leaver in out

    # the batch applies the change after the Update returns: wait for it before reading
    await wait_until(client, cycle_id, lambda p: p.left == 1 and p.invited == 25)
    code, out, err = await _isms(settings, "cycle", "status", cycle_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["workflow_status"] == "not found"
    campaign = shown["campaign"]
    assert campaign["stage"] == "running"
    assert campaign["tally"]["total"] == 24  # one joined, one left
    assert campaign["left"] == 1
    assert campaign["invited"] == 25
    assert campaign["by_department"]["Finance"]["total"] == 9  # a team of 8 and the joiner
    assert campaign["by_department"]["Engineering"]["total"] == 7  # the leaver is not counted
    before = campaign

    # a joiner out of scope: the campaign refuses the whole change
    outsider = write_staff(tmp_path / "out", [_joiner("outsider", in_scope="no")], name="joiners.csv")
    code, out, err = await _isms(
        settings,
        "cycle",
        "staff",
        cycle_id,
        "--add",
        str(outsider),
        "--remove",
        "person000004@larkspur.example",
    )
    assert code == 2
    assert "outsider000000@larkspur.example: in_scope is no" in err
    assert "nothing was changed" in err

    # a file without the directory's columns: refused before anything is sent
    broken = tmp_path / "broken.csv"
    broken.write_text("name,email\nNew Person,new.person@larkspur.example\n")
    code, out, _ = await _isms(settings, "cycle", "staff", cycle_id, "--add", str(broken), "--json")
    assert code == 2
    refused = json.loads(out)
    assert refused["ok"] is False
    assert any("missing column(s)" in problem for problem in refused["problems"])
    code, out, err = await _isms(settings, "cycle", "staff", cycle_id, "--add", str(broken))
    assert code == 2
    assert "missing column(s)" in err
    assert "nothing was sent" in err

    code, _, err = await _isms(settings, "cycle", "staff", cycle_id, "--add", str(tmp_path / "absent.csv"))
    assert code == 2
    assert "absent.csv" in err
    code, _, err = await _isms(settings, "cycle", "staff", cycle_id)
    assert code == 2
    assert "nothing to change" in err

    await asyncio.sleep(1)  # anything wrongly applied would show by now
    code, out, err = await _isms(settings, "cycle", "status", cycle_id, "--json")
    assert code == 0, err
    assert json.loads(out)["campaign"] == before

    code, out, err = await _isms(settings, "cycle", "staff", cycle_id, "--remove", "nobody@x", "--json")
    assert code == 0, err
    receipt = json.loads(out)
    assert receipt["unknown"] == ["nobody@x"]
    assert receipt["added"] == receipt["removed"] == receipt["already_in"] == []
    code, out, err = await _isms(settings, "cycle", "staff", cycle_id, "--remove", "nobody@x", "ghost@y")
    assert code == 0, err
    assert "Unknown" in out
    assert "nobody@x" in out
    assert "ghost@y" in out

    code, _, err = await _isms(settings, "cycle", "staff", "isms-review-nobody-2041", "--remove", leaver)
    assert code == 1
    assert "no acknowledgement campaign for isms-review-nobody-2041" in err
    code, _, err = await _isms(settings, "cycle", "status", "isms-review-nobody-2041")
    assert code == 1
    assert "no cycle isms-review-nobody-2041" in err
    await handle.terminate("test over")


async def _spawn(settings: Settings, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        ISMS,
        *args,
        env={**_environment(settings), **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_watch_follows_a_campaign_to_its_close(review: tuple[Client, Settings], tmp_path: Path) -> None:
    client, settings = review
    people = staff_rows(3)
    handle, data = await start_campaign(
        client, settings, tmp_path, people, schedule=ladder(timedelta(seconds=1))
    )
    cycle_id = data.cycle_id
    watching = await _spawn(settings, "cycle", "watch", cycle_id, "--interval", "0.5", "--until-closed")

    assert watching.stdout is not None
    seen = ""
    while "running: acknowledged 0 of 3" not in seen:  # the watch has shown the first figures
        seen += (await asyncio.wait_for(watching.stdout.readline(), 30)).decode()
    email = people[1]["email"]
    batch = await batch_of(client, cycle_id, email, 1)
    await client.get_workflow_handle(batch_id_for(cycle_id, batch)).execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(person=email, version_hash=data.signed.version_hash, link_id="watch-test"),
    )

    watched, watch_err = await asyncio.wait_for(watching.communicate(), 90)
    text = seen + watched.decode()
    assert watching.returncode == 0, watch_err.decode()
    # not a terminal: one plain line each time the figures change
    assert "running: acknowledged 0 of 3 (0.0%), outstanding 3" in text
    assert "running: acknowledged 1 of 3 (33.3%), outstanding 2" in text
    assert "Campaign closed: acknowledged 1 of 3 (33.3%), outstanding 2, overdue 2" in text
    result = await handle.result()
    assert f"Register  s3://{result.register_csv.bucket}/{result.register_csv.key}" in text
    assert f"Report    s3://{result.report.bucket}/{result.report.key}" in text
    assert "Traceback" not in watch_err.decode()

    # once closed: the same figures from status, and no more staff changes
    code, out, err = await _isms(settings, "cycle", "status", cycle_id, "--json")
    assert code == 0, err
    campaign = json.loads(out)["campaign"]
    assert campaign["stage"] == "closed"
    assert campaign["tally"] == {"total": 3, "acknowledged": 1, "outstanding": 2, "overdue": 2}
    assert campaign["result"]["register_csv"]["key"] == result.register_csv.key
    code, _, err = await _isms(settings, "cycle", "staff", cycle_id, "--remove", people[0]["email"])
    assert code == 2
    assert "the campaign has closed" in err


async def test_watch_waits_for_a_campaign_and_stops_on_ctrl_c(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    _, settings = review
    watching = await _spawn(settings, "cycle", "watch", "isms-review-nobody-2042", "--interval", "0.2")
    assert watching.stdout is not None
    first = await asyncio.wait_for(watching.stdout.readline(), 30)
    assert "no cycle isms-review-nobody-2042 and no acknowledgement campaign yet: waiting" in first.decode()
    await asyncio.sleep(1)  # it keeps waiting, and says so once
    assert watching.returncode is None
    watching.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(watching.communicate(), 30)
    assert watching.returncode == 130
    assert "stopped watching" in err.decode()
    assert "Traceback" not in err.decode()
    assert "waiting" not in out.decode()


async def test_watch_stops_when_everyone_has_acknowledged(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    people = staff_rows(2)
    handle, data = await start_campaign(client, settings, tmp_path, people)
    await wait_until(client, data.cycle_id, lambda p: p.stage is CampaignStage.RUNNING and p.invited == 2)
    for row in people:
        await client.get_workflow_handle(batch_id_for(data.cycle_id, 1)).execute_update(
            AcknowledgementBatchWorkflow.acknowledge,
            Acknowledgement(person=row["email"], version_hash=data.signed.version_hash, link_id="watch"),
        )
    code, out, err = await _isms(settings, "cycle", "watch", data.cycle_id, "--interval", "0.2")
    assert code == 0, err
    assert "running: acknowledged 2 of 2 (100.0%), outstanding 0" in out
    assert "Everyone in scope has acknowledged (2)" in out
    # as on a terminal (Rich's own switch): the live bar, then the same ending
    live = await _spawn(
        settings, "cycle", "watch", data.cycle_id, "--interval", "0.2", TTY_INTERACTIVE="1", COLUMNS="100"
    )
    raw, live_err = await asyncio.wait_for(live.communicate(), 60)
    assert live.returncode == 0, live_err.decode()
    assert "2/2" in raw.decode()
    assert "100.0%" in raw.decode()
    assert "Everyone in scope has acknowledged (2)" in raw.decode()
    progress = await campaign_progress(client, data.cycle_id)
    assert progress is not None
    assert progress.stage is CampaignStage.RUNNING  # watching changed nothing
    await handle.terminate("test over")


async def test_status_shows_each_documents_figures_and_a_joiner_with_no_document(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    signed = signed_version(
        settings,
        tmp_path / "signed",
        documents={
            "acceptable-use-policy.pdf": (
                "Acceptable Use Policy",
                "2024.2",
                Audience(departments=["Engineering", "Operations"]),
            ),
            "secure-development-policy.docx": (
                "Secure Development Policy",
                "1.4",
                Audience(departments=["Engineering"]),
            ),
        },
    )
    rows = staff_rows(20)  # Engineering 8, Finance 8 (no document for them), Operations 4
    handle, data = await start_campaign(client, settings, tmp_path, rows, signed=signed)
    cycle_id = data.cycle_id
    await wait_until(client, cycle_id, lambda p: p.stage is CampaignStage.RUNNING and p.invited == 12)
    await client.get_workflow_handle(batch_id_for(cycle_id, 1)).execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(person=rows[0]["email"], version_hash=data.signed.version_hash, link_id="cli-docs"),
    )
    await wait_until(client, cycle_id, lambda p: p.tally.acknowledged == 1)

    code, out, err = await _isms(settings, "cycle", "status", cycle_id)
    assert code == 0, err
    assert "Acknowledged  1 of 12 (8.3%)" in out
    assert "No document   8 in scope with no document for them" in out
    assert "By document" in out
    assert "Secure Development" in out
    code, out, err = await _isms(settings, "cycle", "status", cycle_id, "--json")
    assert code == 0, err
    campaign = json.loads(out)["campaign"]
    assert campaign["no_documents"] == 8
    assert [(d["title"], d["version"], d["audience"]) for d in campaign["documents"]] == [
        ("Acceptable Use Policy", "2024.2", "Engineering, Operations"),
        ("Secure Development Policy", "1.4", "Engineering"),
    ]
    figures = {name: (t["total"], t["acknowledged"]) for name, t in campaign["by_document"].items()}
    assert figures == {"acceptable-use-policy.pdf": (12, 1), "secure-development-policy.docx": (8, 1)}

    joiners = write_staff(tmp_path / "in", [_joiner()], name="joiners.csv")  # in Finance
    code, out, err = await _isms(settings, "cycle", "staff", cycle_id, "--add", str(joiners))
    assert code == 0, err
    assert "No document" in out
    assert "joiner000000@larkspur.example" in out
    assert "Added" not in out
    await handle.terminate("test over")
