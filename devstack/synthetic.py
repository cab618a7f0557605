"""Synthetic stand-ins for the campaign tests and benchmark: a staff directory, a small valid PDF.

>>> rows = staff_rows(20)                 # person000000 ... person000019, teams of 8
>>> Path("staff.csv").write_bytes(staff_csv(rows))
"""

from __future__ import annotations

import csv
import io

from models.staff import REQUIRED_COLUMNS

DEPARTMENTS = ("Engineering", "Finance", "Operations", "Sales")
DOMAIN = "larkspur.example"


def staff_rows(count: int, *, team_size: int = 8, prefix: str = "person") -> list[dict[str, str]]:
    """``count`` people in scope, as rows of the HR export: teams of ``team_size`` under managers
    who are people too (the first of each team), departments in turn by team.

    Person ``n`` is ``<prefix><n:06d>@larkspur.example``, so a test can name anyone by number.
    """
    rows = []
    for number in range(count):
        manager = (number // team_size) * team_size
        rows.append(
            {
                "employee_id": f"{prefix.upper()}{number:06d}",
                "name": f"{prefix.title()} {number:06d}",
                "email": f"{prefix}{number:06d}@{DOMAIN}",
                "department": DEPARTMENTS[(number // team_size) % len(DEPARTMENTS)],
                "job_title": "Analyst",
                "manager_email": "" if manager == number else f"{prefix}{manager:06d}@{DOMAIN}",
                "start_date": "2020-01-01",
                "end_date": "",
                "in_scope": "yes",
            }
        )
    return rows


def staff_csv(rows: list[dict[str, str]]) -> bytes:
    """``rows`` as a staff directory CSV with the required columns, header first."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(REQUIRED_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def tiny_pdf(text: str) -> bytes:
    """A small valid one-page PDF showing ``text`` (ASCII), built with correct xref offsets."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
