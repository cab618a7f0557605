"""`isms audit verify --copy PACK` needs nothing but the pack: no settings, no S3, no Temporal.

Each test archives a cycle in the real SeaweedFS Object Lock archive (tests/audit_helpers.py:
real seals, the real archive activity, chained manifests, the pinned seal certificate), packs
it with `build_pack`, then runs `isms audit verify --copy` as a subprocess with an empty
environment (no ISMS_ variable, a working directory with no .isms-data) on the pack or a
changed copy of it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.audit import ArchiveReader, build_pack
from adapters.s3 import make_auditor_s3_client
from core.settings import Settings
from models.archive import SealPin
from tests.audit_helpers import OWN_DOCUMENTS, archive_cycle

ISMS = Path(sys.executable).with_name("isms")


@pytest.fixture
def pack(tmp_path: Path, settings: Settings) -> Path:
    """A real pack of a real archive: four documents, the signed version and the acknowledgements."""
    folder = tmp_path / "offline-pack"
    year = archive_cycle(settings, folder / "cycle", documents=OWN_DOCUMENTS)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    target = folder / "pack.zip"
    build_pack(reader, year.organisation, year.year, target)
    return target


def verify_offline(copy: Path, where: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """`isms audit verify --copy COPY --json` in an empty environment and folder: code, JSON, stderr."""
    where.mkdir(parents=True, exist_ok=True)
    # only what a shell needs to start a program: no ISMS_ variable, no HOME with a settings file
    environment = {"PATH": os.defpath, "HOME": str(where), "LANG": "C.UTF-8"}
    done = subprocess.run(
        [str(ISMS), "audit", "verify", *args, "--copy", str(copy), "--json"],
        cwd=where,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert not (where / ".isms-data").exists()
    payload = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, payload, done.stderr


def failed(payload: dict[str, Any]) -> dict[str, list[str]]:
    checks = [*payload["objects"], *payload["documents"]]
    return {c["key"]: c["problems"] for c in checks if c["verdict"] == "FAIL"}


def changed_copy(pack: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """A copy of the pack with each file passed through ``change`` (None leaves it out)."""
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            body = change(info.filename, source.read(info))
            if body is not None:
                copy.writestr(info.filename, body)
    return target


def other_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Larkspur document sealing")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_a_real_pack_passes_with_nothing_but_the_pack(pack: Path, tmp_path: Path) -> None:
    code, payload, stderr = verify_offline(pack, tmp_path / "empty")
    assert code == 0, (stderr, failed(payload))
    assert payload["verdict"] == "PASS"
    keys = {c["key"]: c for c in payload["objects"]}
    pdfs = [k for k in keys if k.endswith("/document.pdf")]
    assert len(pdfs) == 4
    for key in pdfs:
        assert any(
            "PAdES seal valid and intact against the pinned seal certificate" in p
            for p in keys[key]["passed"]
        )
    assert keys["seal-certificate.json"]["verdict"] == "PASS"
    assert payload["manifests"] == ["manifests/signed-v3.0.json", "manifests/acknowledgements-v3.0.json"]
    times = payload["times"]
    assert {t["fact"] for t in times} >= {f"{k} was sealed" for k in pdfs}
    assert all("organisation's own clock" in t["clock"] for t in times)
    assert payload["seal_certificate_sha256"]

    # and the human-readable form says which clock
    done = subprocess.run(
        [str(ISMS), "audit", "verify", "--copy", str(pack)],
        cwd=tmp_path / "empty",
        env={"PATH": os.defpath, "HOME": str(tmp_path), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "rest on the organisation's own clock" in done.stdout
    assert "Verdict: PASS" in done.stdout


def test_a_swapped_seal_certificate_fails_naming_it(pack: Path, tmp_path: Path) -> None:
    swapped_pem = other_certificate()

    def swap(name: str, body: bytes) -> bytes:
        if name == "seal-certificate.json":
            pin = SealPin.model_validate_json(body)
            from adapters.archive import certificate_fingerprint

            fingerprint = certificate_fingerprint(swapped_pem)
            return (
                pin.model_copy(
                    update={"certificate_pem": swapped_pem.decode(), "certificate_sha256": fingerprint}
                )
                .model_dump_json()
                .encode()
            )
        if name == "seal-certificate.pem":
            return swapped_pem
        return body

    code, payload, _ = verify_offline(changed_copy(pack, tmp_path / "swapped.zip", swap), tmp_path / "run")
    assert code == 1
    problems = failed(payload)
    certificates = [k for k in problems if k.endswith("/seal-certificate.pem")]
    assert len(certificates) == 4
    assert all("the seal certificate was swapped" in " ".join(problems[k]) for k in certificates)
    pdfs = [k for k in problems if k.endswith("/document.pdf")]
    assert len(pdfs) == 4
    assert all("PAdES seal not valid against the pinned seal certificate" in problems[k][0] for k in pdfs)
    assert "manifests/signed-v3.0.json" in problems  # archived with another certificate than the pin


def test_a_manifest_removed_from_the_chain_fails_naming_the_gap(pack: Path, tmp_path: Path) -> None:
    gap = changed_copy(
        pack, tmp_path / "gap.zip", lambda name, body: None if name == "manifests/signed-v3.0.json" else body
    )
    code, payload, _ = verify_offline(gap, tmp_path / "run")
    assert code == 1
    problems = failed(payload)
    assert any(
        "a gap in the chain" in p and "manifests/signed-v3.0.json" in p
        for p in problems["manifests/acknowledgements-v3.0.json"]
    ), problems

    # the last manifest cut off: the chain no longer ends where the pack's index says it did
    cut = changed_copy(
        pack,
        tmp_path / "cut.zip",
        lambda name, body: None if name == "manifests/acknowledgements-v3.0.json" else body,
    )
    code, payload, _ = verify_offline(cut, tmp_path / "run")
    assert code == 1
    problems = failed(payload)
    assert any("a manifest was removed or added" in p for p in problems["index.json"])
    assert "acknowledgements/v3.0/register.csv" in problems  # listed by no manifest left


def test_a_tampered_file_fails_naming_it(pack: Path, tmp_path: Path) -> None:
    target = "secure-development-policy/v3.0/document.pdf"
    tampered = changed_copy(
        pack,
        tmp_path / "tampered.zip",
        lambda name, body: body.replace(b"3.0", b"3.1") if name == target else body,
    )
    code, payload, _ = verify_offline(tampered, tmp_path / "run")
    assert code == 1
    problems = failed(payload)
    assert target in problems
    assert "altered" in problems[target][0]
    assert set(problems) <= {target, "secure-development-policy/v3.0/"}


def test_a_file_that_is_not_a_pack_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.zip"
    junk.write_text("not a zip at all")
    code, payload, stderr = verify_offline(junk, tmp_path / "run")
    assert code == 2
    assert payload == {}
    assert "is not an evidence pack: not a readable zip" in stderr
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("hello.txt", "hi")
    code, _, stderr = verify_offline(empty, tmp_path / "run")
    assert code == 2
    assert "has no index.json" in stderr


def test_an_old_pack_without_the_pin_passes_with_a_plain_warning(pack: Path, tmp_path: Path) -> None:
    old = changed_copy(
        pack,
        tmp_path / "old.zip",
        lambda name, body: None if name in ("seal-certificate.json", "seal-certificate.pem") else body,
    )
    code, payload, stderr = verify_offline(old, tmp_path / "run")
    assert code == 0, (stderr, failed(payload))
    (pin,) = [c for c in payload["objects"] if c["key"] == "seal-certificate.json"]
    assert pin["verdict"] == "WARN"
    assert "no pinned seal certificate" in pin["problems"][0]
    pdfs = [c for c in payload["objects"] if c["key"].endswith("/document.pdf")]
    assert all("against the seal-certificate.pem beside it" in " ".join(c["passed"]) for c in pdfs)


def test_an_unzipped_pack_verifies_and_another_organisations_year_is_refused(
    pack: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(pack) as archive:
        archive.extractall(folder)
        organisation = json.loads(archive.read("index.json"))["organisation"]
    code, payload, stderr = verify_offline(folder, tmp_path / "run", organisation, "2026")
    assert code == 0, (stderr, failed(payload))
    code, _, stderr = verify_offline(folder, tmp_path / "run", organisation, "2025")
    assert code == 2
    assert f"is the evidence pack of {organisation} 2026, not of {organisation} 2025" in stderr
