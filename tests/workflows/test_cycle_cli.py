"""`isms cycle start / status / revise` as a person runs them, against the dev server and a worker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.s3 import make_s3_client
from core.hashing import sha256_file
from core.settings import Settings
from devstack.synthetic import tiny_pdf
from models.cycle import AnnualReviewInput, DecisionKind, SignatureDecision, Stage
from tests.workflows.helpers import CEO, DEMO, current_demo_profile, invited, own_documents_profile, wait_for
from workflows.annual_review import AnnualReviewWorkflow

ISMS = str(Path(sys.executable).parent / "isms")


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISMS_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if hasattr(getattr(settings, name), "get_secret_value"):
            value = getattr(settings, name).get_secret_value()
        env[f"ISMS_{name.upper()}"] = str(value)
    env["ISMS_SETTINGS_FILE"] = str(Path(__file__).parents[1] / "data" / "empty.env")
    env["COLUMNS"] = "240"  # Rich wraps at the terminal width: keep long paths from splitting messages
    return env


async def _isms(settings: Settings, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        ISMS,
        *args,
        env=_environment(settings),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_start_status_and_revise_from_the_command_line(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    profile = current_demo_profile(tmp_path)
    staff = str(DEMO / "staff.csv")

    last_year = current_demo_profile(
        tmp_path / "last-year",
        text=(DEMO / "profile.yaml")
        .read_text()
        .replace('version: "3.0"', 'version: "2.0"')
        .replace("holder: sofia.alvarez@larkspur.example", "holder: liam.hughes@larkspur.example"),
    )
    code, _, err = await _isms(
        settings,
        "docs",
        "render",
        str(last_year),
        "--staff",
        staff,
        "--out",
        str(tmp_path / "v2"),
        "--no-pdf",
    )
    assert code == 0, err
    manifest = str(tmp_path / "v2" / "render-manifest.json")

    start = ["cycle", "start", str(profile), "--staff", staff, "--year", "2041"]
    code, _, err = await _isms(settings, *start, "--previous-manifest", str(profile))
    assert code == 2
    assert "is not a render-manifest.json" in err

    code, out, err = await _isms(settings, *start, "--previous-manifest", manifest, "--json")
    assert code == 0, err
    started = json.loads(out)
    cycle_id = started["cycle_id"]
    assert cycle_id == "isms-review-larkspur-2041"

    code, _, err = await _isms(settings, "cycle", "start", str(profile), "--staff", staff, "--year", "2041")
    assert code == 3
    assert "already exists: nothing was changed" in err

    handle = client.get_workflow_handle(cycle_id)
    status = await wait_for(handle, invited)
    code, out, err = await _isms(settings, "cycle", "status", cycle_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["stage"] == "awaiting_signature"
    assert shown["version"] == "3.0"
    assert shown["waiting_on"].startswith("Eleanor Marsh")
    assert [e["event"] for e in shown["events"]] == ["created", "rendered", "sent"]
    assert shown["change_lines"][0] == "Version 2.0 -> 3.0"
    assert any(line.startswith("Engineering Lead: holder Liam Hughes") for line in shown["change_lines"])

    code, out, _ = await _isms(settings, "cycle", "status", cycle_id)
    assert "Waiting   Eleanor Marsh" in out

    await handle.execute_update(
        AnnualReviewWorkflow.decide,
        SignatureDecision(
            kind=DecisionKind.REQUEST_CHANGES,
            person=CEO,
            version_hash=status.version_hash,
            link_id="cli",
            comment="Name the Leeds office",
        ),
    )
    await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    failing = tmp_path / "failing.yaml"
    failing.write_text(profile.read_text().replace("approved_by: ceo", "approved_by: engineering-lead"))
    code, _, err = await _isms(settings, "cycle", "revise", cycle_id, str(failing))
    assert code == 1
    assert "5.2.approved-by-top-management" in err
    assert (await wait_for(handle, lambda s: True)).stage is Stage.AWAITING_REVISION

    revised = current_demo_profile(
        tmp_path, text=(DEMO / "profile.yaml").read_text().replace('version: "3.0"', 'version: "3.1"')
    )
    code, out, err = await _isms(settings, "cycle", "revise", cycle_id, str(revised))
    assert code == 0, err
    assert "Revision accepted: round 2" in out
    await wait_for(handle, lambda s: invited(s) and s.version == "3.1")

    code, _, err = await _isms(settings, "cycle", "status", "isms-review-nobody-2041")
    assert code == 1
    assert "no cycle isms-review-nobody-2041" in err
    await handle.terminate("test over")


async def _started_input(client: Client, cycle_id: str) -> AnnualReviewInput:
    history = await client.get_workflow_handle(cycle_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (data,) = await client.data_converter.decode(started.input.payloads, [AnnualReviewInput])
    assert isinstance(data, AnnualReviewInput)
    return data


async def test_start_and_revise_upload_the_profiles_own_files(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    staff = str(DEMO / "staff.csv")
    folder = tmp_path / "own"
    profile = own_documents_profile(folder)
    expected = {
        "information-security-policy": (
            "templates/policy.docx",
            sha256_file(folder / "templates" / "policy.docx"),
        ),
        "acceptable-use-policy": ("policies/aup.pdf", sha256_file(folder / "policies" / "aup.pdf")),
        "secure-development-policy": ("templates/sdp.docx", sha256_file(folder / "templates" / "sdp.docx")),
    }

    code, out, err = await _isms(
        settings, "cycle", "start", str(profile), "--staff", staff, "--year", "2042", "--json"
    )
    assert code == 0, err
    started = json.loads(out)
    files = {f["id"]: f for f in started["document_files"]}
    assert {doc: (f["file"], f["sha256"]) for doc, f in files.items()} == expected
    s3 = make_s3_client(settings)
    for file in files.values():  # stored in the drafts bucket under its SHA-256
        head = s3.head_object(Bucket=settings.drafts_bucket, Key=file["key"])
        assert head["Metadata"]["sha256"] == file["sha256"]
        assert file["key"].endswith(f"inputs/{file['sha256']}{Path(file['file']).suffix}")
    carried = (await _started_input(client, started["cycle_id"])).document_files
    assert {doc: stored.sha256 for doc, stored in carried.items()} == {d: e[1] for d, e in expected.items()}

    # without --json: one line per file, its id, the file and the start of its SHA-256
    code, out, err = await _isms(settings, "cycle", "start", str(profile), "--staff", staff, "--year", "2043")
    assert code == 0, err
    for doc, (file, digest) in expected.items():
        line = next(line for line in out.splitlines() if doc in line)
        assert file in line
        assert digest[:16] in line
    await client.get_workflow_handle("isms-review-larkspur-2043").terminate("test over")

    # a revision uploads the revised profile's files: the AUP changed, the others did not
    handle = client.get_workflow_handle(started["cycle_id"])
    status = await wait_for(handle, invited)
    await handle.execute_update(
        AnnualReviewWorkflow.decide,
        SignatureDecision(
            kind=DecisionKind.REQUEST_CHANGES,
            person=CEO,
            version_hash=status.version_hash,
            link_id="cli-own-files",
            comment="Use the new AUP",
        ),
    )
    await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    (folder / "policies" / "aup.pdf").write_bytes(tiny_pdf("Acceptable Use Policy 2.2"))
    code, out, err = await _isms(settings, "cycle", "revise", started["cycle_id"], str(profile), "--json")
    assert code == 0, err
    revised = {f["id"]: f["sha256"] for f in json.loads(out)["document_files"]}
    assert revised["acceptable-use-policy"] == sha256_file(folder / "policies" / "aup.pdf")
    assert revised["acceptable-use-policy"] != expected["acceptable-use-policy"][1]
    assert revised["secure-development-policy"] == expected["secure-development-policy"][1]
    await wait_for(handle, lambda s: invited(s) and s.round == 2)
    await handle.terminate("test over")


async def test_a_file_the_profile_names_but_is_not_there_starts_nothing(
    review: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = review
    folder = tmp_path / "own"
    profile = own_documents_profile(folder)
    (folder / "policies" / "aup.pdf").unlink()
    code, _, err = await _isms(
        settings, "cycle", "start", str(profile), "--staff", str(DEMO / "staff.csv"), "--year", "2044"
    )
    assert code != 0
    assert "acceptable-use-policy" in err
    assert "policies/aup.pdf" in err
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle("isms-review-larkspur-2044").describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND
