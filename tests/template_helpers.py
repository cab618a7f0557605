"""Make the files an ISMS lead brings, as a user makes them: Word documents written with
python-docx, PDFs, broken files, and a profile whose documents section names them."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import yaml
from docx import Document
from pyhanko.pdf_utils import generic, writer

DEMO = Path(__file__).resolve().parents[1] / "devstack" / "demo"
PROFILE, STAFF = DEMO / "profile.yaml", DEMO / "staff.csv"


def make_docx(
    path: Path,
    paragraphs: Sequence[str] = (),
    *,
    table: Sequence[Sequence[str]] = (),
    header: str | None = None,
    footer: str | None = None,
    title: str | None = None,
) -> Path:
    """A Word document: ``paragraphs``, then a table, with a header, footer and title property."""
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, cells in enumerate(table):
            for column, text in enumerate(cells):
                grid.cell(row, column).text = text
    section = document.sections[0]
    if header is not None:
        section.header.paragraphs[0].text = header
    if footer is not None:
        section.footer.paragraphs[0].text = footer
    if title is not None:
        document.core_properties.title = title
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def make_pdf(path: Path, *, password: str | None = None) -> Path:
    """A one-page PDF (empty page), optionally encrypted with ``password``."""
    pdf = writer.PdfFileWriter()
    contents = pdf.add_object(
        generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (Acceptable use) Tj ET")
    )
    pdf.insert_page(writer.PageObject(contents=contents, media_box=generic.ArrayObject([0, 0, 595, 842])))
    if password is not None:
        pdf.encrypt(password, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pdf.write(handle)
    return path


def rewrite_zip(
    source: Path, target: Path, *, drop: str | None = None, replace: dict[str, bytes] | None = None
) -> Path:
    """``source`` (a .docx) written again as ``target`` without ``drop`` and with ``replace``d entries."""
    output = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as new:
        for entry in old.infolist():
            if entry.filename == drop:
                continue
            new.writestr(entry.filename, (replace or {}).get(entry.filename, old.read(entry.filename)))
    target.write_bytes(output.getvalue())
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def profile_with_documents(
    folder: Path, documents: list[dict[str, object]], *, text: str | None = None
) -> Path:
    """The demo profile with ``documents`` as its documents section, written into ``folder``."""
    data = yaml.safe_load(text if text is not None else PROFILE.read_text())
    data["documents"] = documents
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path
