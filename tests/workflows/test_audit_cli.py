"""`isms audit ...` as the ISMS lead and an auditor run it, on a real archived cycle.

Each test archives a cycle the way the workflow does (tests/audit_helpers.py: sealed PDFs,
manifests, COMPLIANCE retention in SeaweedFS, a bucket of the test's own) and runs the real
``isms`` executable against it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from urllib.parse import unquote

import pytest

from adapters.audit_access import check_auditor, list_grants
from adapters.s3 import make_s3_client
from core.settings import Settings
from models.archive import ArchivedObject
from models.audit import AuditGrant
from models.links import LinkProblem
from tests.audit_helpers import OWN_DOCUMENTS, SIGNER, ArchivedYear, archive_cycle
from tests.workflows.test_cycle_cli import ISMS, _environment

POLICY = "information-security-policy"


def _isms(settings: Settings, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [ISMS, *args],
        env=_environment(settings),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def lead_settings(settings: Settings) -> Settings:
    """The test's settings with grants of their own: the drafts bucket is shared by every test."""
    return settings.model_copy(update={"drafts_prefix": f"drafts-{secrets.token_hex(4)}/"})


def _archived_objects(year: ArchivedYear) -> list[ArchivedObject]:
    return [o for result in year.results for o in [*result.objects, result.manifest]]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _put(settings: Settings, key: str, body: bytes) -> str:
    """Write ``body`` under ``key`` with the application's identity (a new version, never in place)."""
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    response = make_s3_client(settings).put_object(
        Bucket=settings.archive_bucket, Key=key, Body=body, ChecksumSHA256=checksum
    )
    return response["VersionId"]


def test_grant_list_and_revoke_auditor_access(lead_settings: Settings, tmp_path: Path) -> None:
    settings = lead_settings
    s3 = make_s3_client(settings)

    code, _, err = _isms(settings, "audit", "grant", "--email", "auditor@certifier.example")
    assert code == 2
    assert "nothing is archived" in err
    assert "no organisation to grant" in err

    year = archive_cycle(settings, tmp_path / "cycle")
    refused = {
        "not an email address: 'not-an-address'": ("--email", "not-an-address"),
        "--days must be between 1 and 365, got 0": ("--email", "auditor@certifier.example", "--days", "0"),
        "no archive for organisation 'orgnobody'": (
            "--email",
            "auditor@certifier.example",
            "--org",
            "orgnobody",
        ),
    }
    for message, args in refused.items():
        code, out, err = _isms(settings, "audit", "grant", *args)
        assert code == 2, (args, err)
        assert message in err
        assert err.startswith("error:"), err
        assert err.count("\n") == 1, err  # one plain line
        assert out == ""
    assert list_grants(s3, settings) == []

    before = datetime.now(UTC)
    code, out, err = _isms(
        settings, "audit", "grant", "--email", "auditor@certifier.example", "--days", "30", "--json"
    )
    assert code == 0, err
    granted = json.loads(out)
    assert granted["organisation"] == year.organisation  # the only one archived
    assert granted["state"] == "active"
    expires = datetime.fromisoformat(granted["expires_at"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)
    token = unquote(granted["link"].rsplit("/", 1)[1])
    assert granted["link"].startswith(f"{settings.public_base_url}/audit/")
    allowed = check_auditor(s3, settings, token, now=datetime.now(UTC))
    assert isinstance(allowed, AuditGrant)
    assert (allowed.grant_id, allowed.email) == (granted["grant_id"], "auditor@certifier.example")

    code, out, err = _isms(settings, "audit", "grant", "--email", "second@certifier.example", "--by", "ravi")
    assert code == 0, err
    assert "Link      http" in out
    assert "The link is the secret" in out

    code, out, err = _isms(settings, "audit", "grants", "--json")
    assert code == 0, err
    listed = {g["email"]: g for g in json.loads(out)}
    assert listed.keys() == {"auditor@certifier.example", "second@certifier.example"}
    assert {g["state"] for g in listed.values()} == {"active"}
    assert listed["second@certifier.example"]["issued_by"] == "ravi"
    assert listed["auditor@certifier.example"]["grant_id"] == granted["grant_id"]

    code, _, err = _isms(settings, "audit", "revoke", "--grant", "no-such-grant")
    assert code == 2
    assert "no grant 'no-such-grant'" in err
    code, _, err = _isms(settings, "audit", "revoke")
    assert code == 2
    assert "name exactly one of --email or --grant" in err

    code, out, err = _isms(settings, "audit", "revoke", "--email", "auditor@certifier.example")
    assert code == 0, err
    assert "Revoked 1 grant" in out
    assert granted["grant_id"] in out
    assert check_auditor(s3, settings, token, now=datetime.now(UTC)) is LinkProblem.REVOKED
    code, out, _ = _isms(settings, "audit", "revoke", "--grant", granted["grant_id"])
    assert code == 0
    assert "already been revoked" in out

    code, out, err = _isms(settings, "audit", "grants", "--json")
    assert code == 0, err
    states = {g["email"]: g["state"] for g in json.loads(out)}
    assert states == {"auditor@certifier.example": "revoked", "second@certifier.example": "active"}
    code, out, _ = _isms(settings, "audit", "grants")
    assert "revoked" in out
    assert "active" in out

    # a second organisation in the archive: --org is then required, and the error names both
    _put(settings, "orgsecond/2026/readme.txt", b"another organisation")
    code, _, err = _isms(settings, "audit", "grant", "--email", "third@certifier.example")
    assert code == 2
    assert f"choose one with --org ({year.organisation}, orgsecond)" in err
    assert len(list_grants(s3, settings)) == 2


def test_list_and_get_with_hash_checks(settings: Settings, tmp_path: Path) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    archived = _archived_objects(year)

    code, out, err = _isms(settings, "audit", "list", "--json")
    assert code == 0, err
    [cycle] = json.loads(out)
    assert cycle["cycle_id"] == year.cycle_id
    assert (cycle["organisation"], cycle["year"], cycle["version"]) == (year.organisation, 2026, "3.0")
    assert cycle["signer"] == f"{SIGNER.name}, {SIGNER.title} <{SIGNER.email}>"
    assert cycle["acknowledgement"] == "1 of 2 (50.0%)"
    assert cycle["documents"] == [POLICY, "isms-roles-responsibilities"]
    assert datetime.fromisoformat(cycle["retain_until"]) == min(o.retain_until for o in archived)
    assert datetime.fromisoformat(cycle["retain_until"]) > datetime.now(UTC) + timedelta(days=365 * 6)

    code, out, _ = _isms(settings, "audit", "list", "--year", "2025", "--json")
    assert code == 0
    assert json.loads(out) == []
    code, out, _ = _isms(settings, "audit", "list", "--year", "2026", "--org", year.organisation, "--json")
    assert [c["cycle_id"] for c in json.loads(out)] == [year.cycle_id]
    code, out, err = _isms(settings, "audit", "list")
    assert code == 0, err
    assert year.cycle_id in out
    assert "1 of 2 (50.0%)" in out
    assert SIGNER.name in out
    code, _, err = _isms(settings, "audit", "list", "--org", "orgnobody")
    assert code == 2
    assert f"archived organisations: {year.organisation}" in err

    out_dir = tmp_path / "evidence"
    code, out, err = _isms(
        settings, "audit", "get", year.organisation, "2026", POLICY, "--out", str(out_dir), "--json"
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["version"] == "3.0"
    names = {Path(f["path"]).name for f in got["files"]}
    assert names == {
        "document.pdf",
        "document.docx",
        "certificate.pdf",
        "evidence.json",
        "seal-certificate.pem",
    }
    by_key = {o.key: o for o in archived}
    for written in got["files"]:
        path = Path(written["path"])
        assert path.parent == out_dir / POLICY / "v3.0"
        assert _sha256(path.read_bytes()) == by_key[written["key"]].sha256, path

    code, _, err = _isms(settings, "audit", "get", year.organisation, "2026", "policy", "--out", str(out_dir))
    assert code == 2
    assert f"archived documents: {POLICY}, isms-roles-responsibilities" in err
    code, _, err = _isms(
        settings, "audit", "get", year.organisation, "2026", POLICY, "--version", "9.9", "--out", str(out_dir)
    )
    assert code == 2
    assert "no archived version '9.9'; archived versions: 3.0" in err
    code, _, err = _isms(settings, "audit", "get", year.organisation, "2019", POLICY, "--out", str(out_dir))
    assert code == 2
    assert "nothing archived for" in err
    assert "archived years: 2026" in err

    # the downloaded folder verifies, until one byte of the policy PDF changes
    code, out, err = _isms(settings, "audit", "verify", year.organisation, "2026", "--copy", str(out_dir))
    assert code == 0, out + err
    assert sum(line.startswith("PASS  ") for line in out.splitlines()) == 5
    pdf = out_dir / POLICY / "v3.0" / "document.pdf"
    body = bytearray(pdf.read_bytes())
    body[len(body) // 2] ^= 0x01
    pdf.write_bytes(bytes(body))
    code, out, _ = _isms(settings, "audit", "verify", year.organisation, "2026", "--copy", str(out_dir))
    assert code == 1
    failing = [line for line in out.splitlines() if line.startswith("FAIL  ")]
    assert len(failing) == 1
    assert f"{POLICY}/v3.0/document.pdf" in failing[0]
    assert "altered" in failing[0]
    assert out.splitlines()[-1].startswith("Verdict: FAIL")


def test_verify_names_a_later_write_and_warns_of_a_delete_marker(settings: Settings, tmp_path: Path) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    archived = _archived_objects(year)
    org = year.organisation

    code, out, err = _isms(settings, "audit", "verify", org, "2026", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"] == "PASS"
    assert {(o["key"], o["version_id"]) for o in report["objects"]} == {
        (o.key, o.version_id) for o in archived
    }
    assert {o["verdict"] for o in report["objects"]} == {"PASS"}
    assert f"[1/{len(archived)}]" in err  # progress goes to stderr, so stdout is only the JSON
    code, out, _ = _isms(settings, "audit", "verify", org, "2026")
    assert code == 0
    assert sum(line.startswith("PASS  ") for line in out.splitlines()) == len(archived)
    assert out.splitlines()[-1].startswith(f"Verdict: PASS  {len(archived)} PASS, 0 WARN, 0 FAIL")

    register = next(o for o in archived if o.key.endswith("register.csv"))
    deleted = make_s3_client(settings).delete_object(Bucket=settings.archive_bucket, Key=register.key)
    assert deleted.get("DeleteMarker") is True
    code, out, err = _isms(settings, "audit", "verify", org, "2026", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"] == "PASS"
    passed = {(o["key"], o["version_id"]) for o in report["objects"] if o["verdict"] == "PASS"}
    assert passed == {(o.key, o.version_id) for o in archived}
    assert [o["key"] for o in report["objects"] if o["verdict"] == "WARN"] == [register.key]
    code, out, _ = _isms(settings, "audit", "verify", org, "2026")
    assert code == 0
    [warning] = [line for line in out.splitlines() if line.startswith("WARN  ")]
    assert register.key in warning
    assert "delete marker" in warning

    policy = next(o for o in archived if o.key.endswith(f"{POLICY}/v3.0/document.pdf"))
    forged = _put(settings, policy.key, b"%PDF-1.4 forged")
    assert forged != policy.version_id
    code, out, _ = _isms(settings, "audit", "verify", org, "2026")
    assert code == 1
    [failing] = [line for line in out.splitlines() if line.startswith("FAIL  ")]
    assert policy.key in failing
    assert forged in failing
    assert "later write under an archived key" in failing
    assert out.splitlines()[-1].startswith("Verdict: FAIL")
    code, out, _ = _isms(settings, "audit", "verify", org, "2026", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["verdict"] == "FAIL"
    assert [(o["key"], o["version_id"]) for o in report["objects"] if o["verdict"] == "FAIL"] == [
        (policy.key, forged)
    ]

    code, out, err = _isms(settings, "audit", "verify", org, "2019")
    assert code == 2
    assert out == ""
    assert "archived years: 2026" in err


def test_pack_maps_every_file_to_clause_5(settings: Settings, tmp_path: Path) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    archived = {o.key.removeprefix(f"{year.organisation}/2026/"): o for o in _archived_objects(year)}
    pack = tmp_path / "out" / "pack.zip"

    # beside the archived objects, the pack carries the organisation's seal pin (for offline checks)
    extra = {"seal-certificate.json", "seal-certificate.pem"}
    code, out, err = _isms(settings, "audit", "pack", year.organisation, "2026", "--out", str(pack))
    assert code == 0, err
    assert f"Wrote {pack}: {len(archived) + len(extra)} files" in out
    with zipfile.ZipFile(pack) as opened:
        files = {info.filename: opened.read(info) for info in opened.infolist()}
    index = json.loads(files["index.json"])
    entries = index["entries"]
    assert {e["path"] for e in entries} == set(archived) | extra
    assert set(files) == set(archived) | extra | {"index.json", "index.html"}
    html = files["index.html"].decode()
    for entry in entries:
        assert _sha256(files[entry["path"]]) == entry["sha256"]
        if entry["path"] in archived:
            assert entry["sha256"] == archived[entry["path"]].sha256
            assert entry["version_id"] == archived[entry["path"]].version_id
        assert entry["evidence"].split(":")[0].split(" ")[0] in ("5.1", "5.2", "5.3", "7.5.3"), entry
        assert f"<td><code>{escape(entry['path'])}</code></td><td>{escape(entry['evidence'])}</td>" in html
    assert entries[0]["path"] in out  # the index is printed too

    code, out, err = _isms(settings, "audit", "verify", year.organisation, "2026", "--copy", str(pack))
    assert code == 0, out + err
    code, _, err = _isms(settings, "audit", "pack", "orgnobody", "2026", "--out", str(tmp_path / "x.zip"))
    assert code == 2
    assert "no organisation 'orgnobody'" in err
    assert not (tmp_path / "x.zip").exists()


def test_legal_hold_on_and_off(settings: Settings, tmp_path: Path) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    archived = _archived_objects(year)
    s3 = make_s3_client(settings)

    def holds() -> set[str]:
        return {
            s3.head_object(Bucket=settings.archive_bucket, Key=o.key, VersionId=o.version_id).get(
                "ObjectLockLegalHoldStatus", "OFF"
            )
            for o in archived
        }

    assert holds() == {"OFF"}
    code, out, err = _isms(settings, "audit", "hold", year.cycle_id, "--on")
    assert code == 0, err
    assert f"Legal hold placed on {len(archived)} archived object versions of {year.cycle_id}" in out
    assert holds() == {"ON"}

    code, out, err = _isms(settings, "audit", "hold", year.cycle_id, "--off", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "cycle_id": year.cycle_id,
        "legal_hold": False,
        "object_versions": len(archived),
    }
    assert holds() == {"OFF"}

    code, _, err = _isms(settings, "audit", "hold", "isms-review-nobody-2026", "--on")
    assert code == 2
    assert "no archived cycle 'isms-review-nobody-2026'" in err
    code, _, err = _isms(settings, "audit", "hold", year.cycle_id)
    assert code == 2
    assert "--on" in err
    assert "--off" in err
    assert holds() == {"OFF"}


def test_verify_pack_get_and_list_cover_every_document_of_the_version(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", documents=OWN_DOCUMENTS)
    org = year.organisation
    ids = [document.id for document in OWN_DOCUMENTS]

    code, out, err = _isms(settings, "audit", "verify", org, "2026")
    assert code == 0, err + out
    documents = out.split("Documents", 1)[1].split("Objects", 1)[0]
    for document in OWN_DOCUMENTS:
        line = next(line for line in documents.splitlines() if f"{org}/2026/{document.id}/v3.0/" in line)
        assert line.startswith("PASS"), line
        assert document.title in line
    assert "4 of 4 documents complete" in out
    code, out, err = _isms(settings, "audit", "verify", org, "2026", "--json")
    assert code == 0, err
    verified = json.loads(out)
    assert [d["key"] for d in verified["documents"]] == [f"{org}/2026/{doc_id}/v3.0/" for doc_id in ids]
    assert {d["verdict"] for d in verified["documents"]} == {"PASS"}

    code, out, err = _isms(settings, "audit", "pack", org, "2026", "--out", str(tmp_path), "--json")
    assert code == 0, err
    packed = json.loads(out)["index"]["documents"]
    pdfs = {
        o.key.split("/", 2)[2]: o.sha256 for o in year.results[0].objects if o.key.endswith("document.pdf")
    }
    assert {(d["id"], d["title"], d["version"], d["sha256"]) for d in packed} == {
        (doc.id, doc.title, doc.version or "3.0", pdfs[f"{doc.id}/v3.0/document.pdf"])
        for doc in OWN_DOCUMENTS
    }
    code, out, err = _isms(settings, "audit", "pack", org, "2026", "--out", str(tmp_path / "again.zip"))
    assert code == 0, err
    listed = out.split("Documents in the pack", 1)[1]
    for document in OWN_DOCUMENTS:
        assert document.title in listed
        assert pdfs[f"{document.id}/v3.0/document.pdf"][:16] in listed

    code, out, err = _isms(
        settings,
        "audit",
        "get",
        org,
        "2026",
        "acceptable-use-policy",
        "--out",
        str(tmp_path / "aup"),
        "--json",
    )
    assert code == 0, err
    got = sorted(Path(f["path"]).name for f in json.loads(out)["files"])
    # no .docx; the static PDF as the signer was shown it beside the sealed one
    assert got == [
        "certificate.pdf",
        "document.pdf",
        "draft-shown.pdf",
        "evidence.json",
        "seal-certificate.pem",
    ]

    code, out, err = _isms(settings, "audit", "list", "--org", org, "--json")
    assert code == 0, err
    (cycle,) = json.loads(out)
    assert cycle["documents"] == ids
    titles = {v["document"]: (v["title"], v["document_version"]) for v in cycle["versions"]}
    assert titles["acceptable-use-policy"] == ("Acceptable Use Policy", "2.1")
    assert titles["information-security-policy"] == ("Information Security Policy", "3.0")
