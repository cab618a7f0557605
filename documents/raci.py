"""The RACI matrix of the roles document: a Word table built in code, because its columns are the roles.

It is a subdocument for the ``{{p raci_table }}`` tag of the roles template::

    render_docx(ROLES_TEMPLATE, context, out, subdocs={"raci_table": raci_subdoc(profile)})
"""

from __future__ import annotations

from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from documents.render import RawXml, SubdocBuilder
from documents.styling import shade_cell
from models.profile import OrganisationProfile, RaciLetter

_RACI_FILL = {"R": "C6E0B4", "A": "F8CBAD", "C": "FFE699", "I": "DDEBF7"}
_LEGEND = (
    ("R", "Responsible: carries out the activity"),
    ("A", "Accountable: answers for the outcome and signs it off (one per activity)"),
    ("C", "Consulted: gives input before the work is done"),
    ("I", "Informed: told of the outcome"),
)


def _cell_text(cell: Any, text: str, *, size: float, bold: bool = False, white: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    paragraph.paragraph_format.space_before = Pt(0)
    run = paragraph.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)
    if white:
        run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)


def raci_columns(profile: OrganisationProfile) -> list[tuple[str, str]]:
    """(role id, column title): every role, then any id the RACI uses that is not a role."""
    columns = [(role.id, role.title) for role in profile.roles]
    known = {role.id for role in profile.roles}
    for item in profile.raci:
        for role_id in item.assignments:
            if role_id not in known:
                known.add(role_id)
                columns.append((role_id, role_id))
    return columns


def raci_subdoc(profile: OrganisationProfile) -> SubdocBuilder:
    """A builder of the RACI matrix as a Word table, with its legend below it."""

    def build(tpl: Any) -> RawXml:
        subdoc = Document()
        columns = raci_columns(profile)
        table = subdoc.add_table(rows=1, cols=len(columns) + 1)
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        usable = 16.4
        first = 4.0
        other = (usable - first) / max(len(columns), 1)
        size = 8.0 if len(columns) > 5 else 9.0
        header = table.rows[0]
        header._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
        for index, title in enumerate(["Activity", *(title for _, title in columns)]):
            cell = header.cells[index]
            cell.width = Cm(first if index == 0 else other)
            shade_cell(cell, "1F3864")
            _cell_text(cell, title, size=size - 0.5, bold=True, white=True)
        for item in profile.raci:
            row = table.add_row()
            row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
            cells = row.cells
            cells[0].width = Cm(first)
            _cell_text(cells[0], item.activity, size=size)
            for index, (role_id, _) in enumerate(columns, start=1):
                cell = cells[index]
                cell.width = Cm(other)
                letter: RaciLetter | None = item.assignments.get(role_id)
                if letter is not None:
                    shade_cell(cell, _RACI_FILL[letter.value])
                    _cell_text(cell, letter.value, size=size + 1, bold=True)
                    cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        widths = [first] + [other] * len(columns)
        table.autofit = False
        for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths, strict=True):
            col.set(qn("w:w"), str(int(Cm(width).twips)))
        legend = subdoc.add_paragraph()
        legend.paragraph_format.space_before = Pt(6)
        for index, (letter_text, meaning) in enumerate(_LEGEND):
            run = legend.add_run(letter_text)
            run.bold = True
            run.font.size = Pt(8.5)
            run = legend.add_run(f" {meaning}" + ("   " if index < len(_LEGEND) - 1 else ""))
            run.font.size = Pt(8.5)
        return RawXml.from_body(subdoc)

    return build
