"""`isms docs render` end to end: both .docx and both PDFs, read back as a person would see them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from docx import Document
from typer.testing import CliRunner

from cli.main import app
from core.hashing import sha256_file
from core.profile_io import load_profile, load_staff

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"


def _pdf_text(path: Path) -> str:
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(text.stdout.split())


def test_render_writes_docx_and_pdf_with_organisation_ceo_holders_and_raci(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "docs",
            "render",
            str(DEMO / "profile.yaml"),
            "--staff",
            str(DEMO / "staff.csv"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    profile = load_profile(DEMO / "profile.yaml")
    staff = load_staff(DEMO / "staff.csv")
    holders = {person.name for role in profile.roles if role.holder and (person := staff.find(role.holder))}
    assert "Eleanor Marsh" in holders

    for document in manifest["documents"]:
        pdf = Path(document["pdf_path"])
        assert pdf.read_bytes().startswith(b"%PDF-")
        assert sha256_file(pdf) == document["pdf_sha256"]
        text = _pdf_text(pdf)
        assert "Larkspur Analytics Ltd" in text
        # the appointment letter names the ISMS lead (and deputy) and the signer; the others every holder
        named = {"Ravi Chandran", "Eleanor Marsh"} if pdf.name == "isms-lead-appointment.pdf" else holders
        missing = {name for name in named if name not in text}
        assert not missing, f"{pdf.name} lacks {missing}"

    roles_docx = Document(str(out / "isms-roles-responsibilities.docx"))
    raci = next(t for t in roles_docx.tables if t.rows[0].cells[0].text.strip() == "Activity")
    assert [row.cells[0].text.strip() for row in raci.rows[1:]] == [a.activity for a in profile.raci]
    roles_pdf = _pdf_text(out / "isms-roles-responsibilities.pdf")
    assert "RACI" in roles_pdf
    assert all(activity.activity.split()[0] in roles_pdf for activity in profile.raci)
