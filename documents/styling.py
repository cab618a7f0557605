"""Word styling shared by the rendered documents and the template build scripts.

The build scripts in ``doc_templates/`` sit above the library and import from here, never the
other way round::

    shade_cell(table.rows[0].cells[0], "1F3864")   # a dark blue header cell
"""

from __future__ import annotations

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.table import _Cell


def shade_cell(cell: _Cell, fill: str) -> None:
    """Give ``cell`` a solid background of ``fill`` (hex RGB, no ``#``)."""
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tc_pr.append(shd)
