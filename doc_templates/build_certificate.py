"""Write the docxtpl template of the certificate of completion with python-docx.

Run ``python -m doc_templates.build_certificate`` after changing this file; it (re)writes
``certificate_of_completion.docx`` into this folder, rendered from a ``CertificateContext``
(see ``documents.certificate``). It has the look of the Clause 5 documents: the page set-up,
styles, header, footer and tables come from :mod:`doc_templates.build_templates`.

The certificate lists who signed which version, when and from where, the consent they gave,
every document of the set (its id, version and kind, whether it is signed or only distributed,
the SHA-256 of the draft shown and of the sealed PDF), and the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from doc_templates.build_templates import (
    HEADER_FILL,
    MUTED,
    _header_footer,
    _keep_together,
    _key_value_table,
    _loop_table,
    _new_document,
    _runs,
    _set_widths,
    _text,
    _title_block,
)
from documents.styling import shade_cell

HERE = Path(__file__).resolve().parent
CERTIFICATE_TEMPLATE = HERE / "certificate_of_completion.docx"

MONO = "DejaVu Sans Mono"  # shipped with LibreOffice on Debian; Word falls back to a monospace font
HASH_SIZE = Pt(7.5)


def _mono(paragraph: Paragraph, placeholder: str, *, label: str) -> None:
    """``label`` in small muted text, then a SHA-256 placeholder in a monospace run of its own."""
    paragraph.paragraph_format.space_after = Pt(1)
    run = paragraph.add_run(label)
    run.font.size = Pt(8)
    run.font.color.rgb = MUTED
    run = paragraph.add_run(placeholder)
    run.font.size = HASH_SIZE
    run.font.name = MONO


def _small(paragraph: Paragraph, text: str) -> None:
    run = paragraph.add_run(text)
    run.font.size = Pt(8)
    run.font.color.rgb = MUTED


def _documents_table(doc: Any) -> Table:
    """One row per document: title, id, version, kind and whether signed; the two SHA-256 values.

    The hashes keep the wide column to themselves, so each fits on one line.
    """
    widths = (5.4, 11.0)
    table: Table = doc.add_table(rows=4, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    header, opening, body, closing = table.rows
    for cell, label in zip(header.cells, ("Document", "SHA-256"), strict=True):
        shade_cell(cell, HEADER_FILL)
        run = cell.paragraphs[0].add_run(label)
        run.bold = True
        run.font.size = Pt(9.5)
        run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    opening.cells[0].paragraphs[0].add_run("{%tr for document in documents %}")
    title, hashes = body.cells
    _runs(title.paragraphs[0], "{{ document.title }}", size=Pt(9.5), bold=True)
    _small(
        title.add_paragraph(),
        "{{ document.id }} \u00b7 version {{ document.version }} \u00b7 {{ document.kind }}",
    )
    _small(title.add_paragraph(), "{{ document.name }}")
    _runs(title.add_paragraph(), "{{ document.status }}", size=Pt(8), bold=True)
    _mono(hashes.paragraphs[0], "{{ document.draft_sha256 }}", label="Draft shown to the signer\n")
    _mono(hashes.add_paragraph(), "{{ document.pdf_sha256 }}", label="Sealed PDF\n")
    closing.cells[0].paragraphs[0].add_run("{%tr endfor %}")
    for row in table.rows:
        for cell in row.cells:
            cell.paragraphs[-1].paragraph_format.space_after = Pt(0)
    _set_widths(table, widths)
    _keep_together(table)
    return table


def _hash_row(table: Table, label: str, placeholder: str) -> None:
    """A key-value row whose value is a SHA-256 (monospace, so all 64 digits fit on one line)."""
    cells = table.add_row().cells  # type: ignore[no-untyped-call]
    shade_cell(cells[0], "E8EDF5")
    _runs(cells[0].paragraphs[0], label, bold=True, size=Pt(10))
    run = cells[1].paragraphs[0].add_run(placeholder)
    run.font.size = Pt(8)
    run.font.name = MONO
    for cell in cells:
        cell.paragraphs[0].paragraph_format.space_after = Pt(0)


def _section_intro(doc: Any, text: str) -> Paragraph:
    paragraph = _text(doc, text)
    paragraph.paragraph_format.keep_with_next = True
    return paragraph


def _font_size(table: Table, size: Pt) -> None:
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = size


def _fix_widths(table: Table, widths: Sequence[float]) -> None:
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = Cm(width)


def build_certificate(path: Path = CERTIFICATE_TEMPLATE) -> Path:
    doc = _new_document("Certificate of Completion")
    _header_footer(doc)
    _title_block(
        doc,
        [
            ("Organisation", "{{ organisation_name }}"),
            ("Review cycle", "{{ cycle_id }}"),
            ("Document version", "{{ version }}"),
            ("Completed", "{{ signed_at }}"),
        ],
    )
    _text(
        doc,
        "This certificate records the electronic approval of version {{ version }} of the ISMS "
        "documents of {{ organisation_name }} listed in section 3: who approved them, what they were "
        "shown, the consent they gave, when and from where, and every step of the signing process.",
    )

    doc.add_heading("1  Signer", level=1)
    _key_value_table(
        doc,
        [
            ("Name (as typed)", "{{ signer_name }}"),
            ("Title", "{{ signer_title }}"),
            ("Email", "{{ signer_email }}"),
            ("Signed at", "{{ signed_at }}"),
            ("Second factor", "{{ second_factor }}"),
            ("IP address", "{{ ip }}"),
            ("User agent", "{{ user_agent }}"),
        ],
    )

    doc.add_heading("2  Consent", level=1)
    _section_intro(doc, "Before signing, the signer confirmed the following statement:")
    consent = _text(doc, "\u201c{{ consent_text }}\u201d", italic=True)
    consent.paragraph_format.left_indent = Cm(0.8)
    consent.paragraph_format.right_indent = Cm(0.8)

    doc.add_heading("3  Documents", level=1)
    _section_intro(
        doc,
        "The signer was shown the drafts identified below. Each one marked as signed was approved: "
        "a document made from a template was stamped with the signature statement, a static "
        "document was carried unchanged; each was converted to PDF where needed and sealed. A "
        "document marked as distributed, not signed, carries the organisation's seal alone.",
    )
    _documents_table(doc)

    doc.add_heading("4  Audit trail", level=1)
    _section_intro(doc, "Times are in UTC, as recorded by the server.")
    trail = _loop_table(
        doc,
        [
            ("Time (UTC)", 2.3),
            ("Event", 2.0),
            ("Actor", 3.5),
            ("Detail", 3.2),
            ("IP address", 2.3),
            ("User agent", 3.1),
        ],
        "event in audit_trail",
        [
            "{{ event.at }}",
            "{{ event.event }}",
            "{{ event.actor }}",
            "{{ event.detail }}",
            "{{ event.ip }}",
            "{{ event.user_agent }}",
        ],
    )
    _font_size(trail, Pt(8))  # six columns: smaller type keeps user agents to a few lines

    doc.add_heading("5  Electronic seal", level=1)
    _section_intro(
        doc,
        "Each PDF above and this certificate carry a PAdES electronic seal made with the certificate "
        "below. Changing any byte of a sealed file invalidates its seal. The same facts are kept, "
        "machine-readable, in evidence.json beside the documents.",
    )
    table = _key_value_table(doc, [("Sealed by", "{{ seal_subject }}")])
    _hash_row(table, "Certificate SHA-256", "{{ seal_fingerprint }}")
    _fix_widths(table, (4.5, 11.9))
    _keep_together(table)

    doc.save(str(path))
    return path


def main() -> None:
    build_certificate()


if __name__ == "__main__":
    main()
