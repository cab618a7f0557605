"""The auditor's independent check agrees with `isms audit verify --copy`: docs/auditor-guide.md.

The guide tells an auditor to check each sealed PDF of the pack with pyHanko's own command line
and the certificate pinned in the pack, nothing of ours:

    pyhanko sign validate --trust seal-certificate.pem --trust-replace <file>.pdf

These tests run that command (a subprocess, in an empty environment) on the files of a real
pack from a real archive, and `isms audit verify --copy` on the same pack: both say valid; in a
copy with a tampered PDF both say not valid; with the pinned certificate swapped, both refuse
every seal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from adapters.archive import certificate_fingerprint
from models.archive import SealPin
from tests.integration.test_offline_verify import (
    changed_copy,
    failed,
    other_certificate,
    pack,  # noqa: F401 (the fixture)
    verify_offline,
)

PYHANKO = Path(sys.executable).with_name("pyhanko")
GUIDE = Path(__file__).parents[2] / "docs" / "auditor-guide.md"
COMMAND = ["sign", "validate", "--trust", "seal-certificate.pem", "--trust-replace"]


def pyhanko_says(folder: Path, pdf: str) -> tuple[bool, str]:
    """Run the guide's command on ``pdf`` in the unzipped pack ``folder``: (valid, what it printed)."""
    done = subprocess.run(
        [str(PYHANKO), *COMMAND, pdf],
        cwd=folder,
        env={"PATH": os.defpath, "HOME": str(folder), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = done.stdout.strip()
    # pyHanko's one line per signature: <field>:<fingerprint>:INTACT:TRUSTED,UNTOUCHED when all holds
    valid = done.returncode == 0 and said.endswith(":INTACT:TRUSTED,UNTOUCHED")
    assert valid or done.returncode != 0, said  # a non-valid line comes with a non-zero exit
    return valid, said + done.stderr


def unzipped(zip_path: Path, folder: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    return folder


def sealed_pdfs(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*.pdf")
        if not p.name.startswith("draft-shown")
    )


def test_the_guide_gives_the_command_this_test_runs() -> None:
    assert "pyhanko sign validate --trust seal-certificate.pem --trust-replace" in GUIDE.read_text()


def test_pyhanko_and_verify_agree_on_a_real_pack_and_on_a_tampered_pdf(pack: Path, tmp_path: Path) -> None:  # noqa: F811
    folder = unzipped(pack, tmp_path / "pack")
    pdfs = sealed_pdfs(folder)
    assert len(pdfs) == 8  # four documents and their certificates of completion
    for pdf in pdfs:
        valid, said = pyhanko_says(folder, pdf)
        assert valid, (pdf, said)
    code, payload, _ = verify_offline(pack, tmp_path / "run")
    assert (code, payload["verdict"]) == (0, "PASS")

    target = "information-security-policy/v3.0/document.pdf"
    tampered = changed_copy(
        pack, tmp_path / "tampered.zip", lambda n, b: b.replace(b"3.0", b"3.1") if n == target else b
    )
    folder = unzipped(tampered, tmp_path / "tampered")
    valid, said = pyhanko_says(folder, target)
    assert not valid, said
    assert "INVALID" in said, said
    for pdf in pdfs:
        if pdf != target:
            assert pyhanko_says(folder, pdf)[0], pdf
    code, payload, _ = verify_offline(tampered, tmp_path / "run")
    assert code == 1
    assert target in failed(payload)


def test_with_a_swapped_pinned_certificate_both_refuse_every_seal(pack: Path, tmp_path: Path) -> None:  # noqa: F811
    swapped_pem = other_certificate()

    def swap(name: str, body: bytes) -> bytes:
        if name == "seal-certificate.pem":
            return swapped_pem
        if name == "seal-certificate.json":
            pin = SealPin.model_validate_json(body)
            update = {
                "certificate_pem": swapped_pem.decode(),
                "certificate_sha256": certificate_fingerprint(swapped_pem),
            }
            return pin.model_copy(update=update).model_dump_json().encode()
        return body

    swapped = changed_copy(pack, tmp_path / "swapped.zip", swap)
    folder = unzipped(swapped, tmp_path / "swapped")
    for pdf in sealed_pdfs(folder):
        valid, said = pyhanko_says(folder, pdf)
        assert not valid, (pdf, said)
    code, payload, _ = verify_offline(swapped, tmp_path / "run")
    assert code == 1
    problems = failed(payload)
    assert {p for p in sealed_pdfs(folder)} <= set(problems)
