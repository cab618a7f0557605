"""Write the docxtpl templates of the Clause 5 documents with python-docx.

Run ``python -m doc_templates.build_templates`` after changing this file; it (re)writes

* ``information_security_policy.docx`` (Clause 5.2), rendered from a ``PolicyContext``;
* ``isms_roles_responsibilities.docx`` (Clause 5.3), rendered from a ``RolesContext``;
* ``isms_lead_appointment.docx`` (Clause 5.3; evidence item 6), the CEO's letter appointing the
  ISMS lead, rendered from an ``AppointmentContext``;

into this folder. The placeholders use docxtpl's syntax: ``{{ x }}`` for a value, ``{%p ... %}``
for a tag that stands for a whole paragraph (loops over paragraphs), ``{%tr ... %}`` for a tag that
stands for a whole table row (loops over rows) and ``{{p raci_table }}`` for the RACI matrix, a
subdocument built in code because its columns depend on the roles (see ``documents.raci``).

Every placeholder sits in a run of its own, so Word never splits it across runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor, Twips
from docx.table import Table
from docx.text.paragraph import Paragraph

from documents.styling import shade_cell

HERE = Path(__file__).resolve().parent
POLICY_TEMPLATE = HERE / "information_security_policy.docx"
ROLES_TEMPLATE = HERE / "isms_roles_responsibilities.docx"
LETTER_TEMPLATE = HERE / "isms_lead_appointment.docx"

ACCENT = RGBColor(0x1F, 0x38, 0x64)  # dark blue
MUTED = RGBColor(0x59, 0x59, 0x59)
HEADER_FILL = "1F3864"
LABEL_FILL = "E8EDF5"
FONT = "Calibri"

# --------------------------------------------------------------------------------------------
# Page set-up and styles


def _new_document(title: str) -> Any:
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.3)
    section.top_margin, section.bottom_margin = Cm(2.5), Cm(2.2)
    section.header_distance = section.footer_distance = Cm(1.2)

    styles = doc.styles
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.15
    for name, size, before in (("Heading 1", 14, 18), ("Heading 2", 12, 12), ("Heading 3", 11, 10)):
        style = styles[name]
        style.font.name = FONT
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.color.rgb = ACCENT
        style.element.rPr.rFonts.set(qn("w:asciiTheme"), "")  # let the explicit font win
        style.paragraph_format.space_before = Pt(before)
        style.paragraph_format.space_after = Pt(6)
        style.paragraph_format.keep_with_next = True
    title_style = styles["Title"]
    title_style.font.name = FONT
    title_style.font.size = Pt(24)
    title_style.font.color.rgb = ACCENT
    styles["List Bullet"].font.name = FONT
    styles["List Bullet"].paragraph_format.space_after = Pt(3)

    doc.core_properties.title = title
    doc.core_properties.author = "isms-cycle"
    doc.core_properties.subject = "ISO/IEC 27001 Clause 5"
    return doc


def _border_bottom(paragraph: Paragraph, color: str = "1F3864", size: int = 8) -> None:
    p_pr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", str(size)), ("w:space", "4"), ("w:color", color)):
        bottom.set(qn(key), value)
    borders.append(bottom)
    p_pr.append(borders)


def _field(paragraph: Paragraph, instruction: str, placeholder: str, size: Pt) -> None:
    """A Word field (PAGE, NUMPAGES) that Word and LibreOffice compute when laying out."""

    def run_with(element: Any) -> None:
        run = paragraph.add_run()
        run.font.size = size
        run.font.color.rgb = MUTED
        run._r.append(element)

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run_with(instr)
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    run_with(separate)
    text = paragraph.add_run(placeholder)
    text.font.size = size
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def _runs(paragraph: Paragraph, *parts: str, size: Pt | None = None, bold: bool = False) -> Paragraph:
    """Add each part as a run of its own (so a ``{{ placeholder }}`` is never split)."""
    for part in parts:
        run = paragraph.add_run(part)
        run.bold = bold
        if size is not None:
            run.font.size = size
    return paragraph


def _right_tab(paragraph: Paragraph, position: int) -> None:
    """One right-aligned tab at the margin; the Header/Footer styles' Letter-size stops cleared."""
    stops = paragraph.paragraph_format.tab_stops
    for inherited in (4680, 9360):
        stops.add_tab_stop(Twips(inherited), WD_TAB_ALIGNMENT.CLEAR)
    stops.add_tab_stop(position, WD_TAB_ALIGNMENT.RIGHT)


def _header_footer(doc: Any) -> None:
    section = doc.sections[0]
    usable = section.page_width - section.left_margin - section.right_margin
    small = Pt(8.5)

    header = section.header.paragraphs[0]
    _right_tab(header, usable)
    for part in (
        "{{ organisation_name }}",
        "  |  ",
        "{{ document_title }}",
        "\t",
        "Version ",
        "{{ version }}",
    ):
        run = header.add_run(part)
        run.font.size = small
        run.font.color.rgb = MUTED
    _border_bottom(header, "A6A6A6", 4)

    footer = section.footer.paragraphs[0]
    _right_tab(footer, usable)
    for part in ("Classification: ", "{{ classification }}", "  |  Uncontrolled when printed", "\tPage "):
        run = footer.add_run(part)
        run.font.size = small
        run.font.color.rgb = MUTED
    _field(footer, "PAGE", "1", small)
    run = footer.add_run(" of ")
    run.font.size = small
    run.font.color.rgb = MUTED
    _field(footer, "NUMPAGES", "1", small)


# --------------------------------------------------------------------------------------------
# Building blocks


def _title_block(doc: Any, rows: Sequence[tuple[str, str]]) -> None:
    org = doc.add_paragraph()
    run = org.add_run("{{ organisation_name }}")
    run.font.size = Pt(13)
    run.font.bold = True
    run.font.color.rgb = MUTED
    org.paragraph_format.space_after = Pt(2)
    title = doc.add_paragraph(style="Title")
    title.add_run("{{ document_title }}")
    _border_bottom(title, HEADER_FILL, 12)
    title.paragraph_format.space_after = Pt(12)
    _key_value_table(doc, rows)
    doc.add_paragraph()


def _key_value_table(doc: Any, rows: Sequence[tuple[str, str]], label_width: float = 4.5) -> Table:
    table: Table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    for label, value in rows:
        cells = table.add_row().cells  # type: ignore[no-untyped-call]
        cells[0].width, cells[1].width = Cm(label_width), Cm(16.4 - label_width)
        shade_cell(cells[0], LABEL_FILL)
        _runs(cells[0].paragraphs[0], label, bold=True, size=Pt(10))
        _runs(cells[1].paragraphs[0], *_split_placeholders(value), size=Pt(10))
        for cell in cells:
            cell.paragraphs[0].paragraph_format.space_after = Pt(0)
    _set_widths(table, [label_width, 16.4 - label_width])
    _keep_together(table)
    return table


def _set_widths(table: Table, widths_cm: Sequence[float]) -> None:
    """Fixed column widths Word and LibreOffice both honour (grid, cells) and roomier cells."""
    table.autofit = False
    grid = table._tbl.tblGrid
    for col, width in zip(grid.findall(qn("w:gridCol")), widths_cm, strict=True):
        col.set(qn("w:w"), str(int(Cm(width).twips)))
    for row in table.rows:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)
    margins = OxmlElement("w:tblCellMar")
    for side, size in (("top", 45), ("left", 100), ("bottom", 45), ("right", 100)):
        element = OxmlElement(f"w:{side}")
        element.set(qn("w:w"), str(size))
        element.set(qn("w:type"), "dxa")
        margins.append(element)
    table._tbl.tblPr.append(margins)


def _keep_together(table: Table) -> None:
    """Keep the table on one page where it fits, and with the paragraph that introduces it."""
    previous = table._tbl.getprevious()
    if previous is not None and previous.tag == qn("w:p"):
        Paragraph(previous, table._parent).paragraph_format.keep_with_next = True
    for row in table.rows[:-1]:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.keep_with_next = True


def _split_placeholders(text: str) -> list[str]:
    """``"{{ a }}, {{ b }}"`` -> ``["{{ a }}", ", ", "{{ b }}"]``: one run per placeholder."""
    parts: list[str] = []
    rest = text
    while "{{" in rest:
        start = rest.index("{{")
        end = rest.index("}}", start) + 2
        if start:
            parts.append(rest[:start])
        parts.append(rest[start:end])
        rest = rest[end:]
    if rest:
        parts.append(rest)
    return parts


def _loop_table(doc: Any, headers: Sequence[tuple[str, float]], loop: str, cells: Sequence[str]) -> Table:
    """A table with a shaded header row and one row per item of ``loop`` (``{%tr for ... %}``)."""
    table: Table = doc.add_table(rows=4, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    header, opening, body, closing = table.rows
    tr_pr = header._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    tr_pr.append(repeat)
    for index, (label, width) in enumerate(headers):
        for row in table.rows:
            row.cells[index].width = Cm(width)
        cell = header.cells[index]
        shade_cell(cell, HEADER_FILL)
        run = cell.paragraphs[0].add_run(label)
        run.bold = True
        run.font.size = Pt(9.5)
        run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
        _runs(body.cells[index].paragraphs[0], *_split_placeholders(cells[index]), size=Pt(9.5))
    opening.cells[0].paragraphs[0].add_run(f"{{%tr for {loop} %}}")
    closing.cells[0].paragraphs[0].add_run("{%tr endfor %}")
    for row in table.rows:
        for cell in row.cells:
            cell.paragraphs[0].paragraph_format.space_after = Pt(0)
    _set_widths(table, [width for _, width in headers])
    _keep_together(table)
    return table


def _tag(doc: Any, tag: str) -> None:
    """A paragraph that is only a docxtpl ``{%p ... %}`` tag (it disappears when rendered)."""
    doc.add_paragraph().add_run(f"{{%p {tag} %}}")


def _loop(doc: Any, loop: str, body: Callable[[], object]) -> None:
    _tag(doc, f"for {loop}")
    body()
    _tag(doc, "endfor")


def _bullet(doc: Any, *parts: str, bold_first: bool = False) -> Paragraph:
    paragraph: Paragraph = doc.add_paragraph(style="List Bullet")
    for index, part in enumerate(parts):
        run = paragraph.add_run(part)
        run.bold = bold_first and index == 0
    return paragraph


def _text(doc: Any, *parts: str, style: str | None = None, italic: bool = False) -> Paragraph:
    paragraph: Paragraph = doc.add_paragraph(style=style)
    for part in _split_placeholders("".join(parts)):
        run = paragraph.add_run(part)
        run.italic = italic
    return paragraph


def _approval_block(doc: Any, heading: str) -> None:
    doc.add_heading(heading, level=1)
    _text(
        doc,
        "This document is approved by top management and takes effect on {{ effective_date }}.",
    )
    table = _key_value_table(
        doc,
        [
            ("Approved by", "{{ approver_name }}, {{ approver_title }}"),
            ("Signature", "{{ signature_line }}"),
            ("Date", "{{ approval_date }}"),
        ],
    )
    for row in table.rows:
        row.height = Cm(1.0)


# --------------------------------------------------------------------------------------------
# Information Security Policy (Clause 5.2)


def build_policy(path: Path = POLICY_TEMPLATE) -> Path:
    doc = _new_document("Information Security Policy")
    _header_footer(doc)
    _title_block(
        doc,
        [
            ("Version", "{{ version }}"),
            ("Effective date", "{{ effective_date }}"),
            ("Classification", "{{ classification }}"),
            ("Document owner", "{{ owner_title }}"),
            ("Approved by", "{{ approver_name }}, {{ approver_title }}"),
            ("Next review due", "{{ review_due }}"),
        ],
    )

    doc.add_heading("Statement from the Chief Executive", level=1)
    quote = _text(doc, "\u201c{{ ceo_statement }}\u201d", italic=True)
    quote.paragraph_format.left_indent = Cm(0.8)
    quote.paragraph_format.right_indent = Cm(0.8)
    signed = _text(doc, "{{ ceo_name }}")
    signed.paragraph_format.left_indent = Cm(0.8)
    signed.paragraph_format.space_after = Pt(0)
    signed.runs[0].bold = True
    title = _text(doc, "{{ ceo_title }}, {{ organisation_name }}")
    title.paragraph_format.left_indent = Cm(0.8)

    doc.add_heading("1  Purpose", level=1)
    _text(doc, "{{ purpose }}")
    _text(
        doc,
        "This policy sets out how {{ organisation_name }} protects the confidentiality, integrity and "
        "availability of the information in its care, and provides the framework for setting "
        "information security objectives, as required by ISO/IEC 27001 Clause 5.2.",
    )

    doc.add_heading("2  Scope", level=1)
    _text(doc, "{{ scope }}")
    _text(
        doc,
        "The policy applies to all employees, contractors and third parties who access "
        "information or systems within this scope.",
    )

    doc.add_heading("3  Policy commitments", level=1)
    doc.add_heading("3.1  Applicable requirements", level=2)
    _text(doc, "{{ organisation_name }} commits to satisfy the requirements that apply to it, including:")
    _loop(doc, "requirement in applicable_requirements", lambda: _bullet(doc, "{{ requirement }}"))
    doc.add_heading("3.2  Continual improvement", level=2)
    _text(doc, "{{ continual_improvement }}")
    doc.add_heading("3.3  Policy statements", level=2)
    _loop(doc, "statement in statements", lambda: _bullet(doc, "{{ statement }}"))

    doc.add_heading("4  Information security objectives", level=1)
    _text(
        doc,
        "Objectives are consistent with this policy, measurable, monitored and reviewed at each "
        "management review.",
    ).paragraph_format.keep_with_next = True
    _tag(doc, "if objectives_framework")
    _text(doc, "{{ objectives_framework }}")
    _tag(doc, "endif")
    _loop_table(
        doc,
        [("Objective", 4.6), ("Measure", 4.4), ("Target", 3.8), ("Owner", 3.6)],
        "objective in objectives",
        [
            "{{ objective.objective }}",
            "{{ objective.measure }}",
            "{{ objective.target }}",
            "{{ objective.owner }}",
        ],
    )

    doc.add_heading("5  Topic-specific policies", level=1)
    _text(doc, "This policy is supported by the following topic-specific policies and procedures:")
    _loop_table(
        doc,
        [("Title", 8.0), ("Reference", 3.6), ("Owner", 4.8)],
        "sub_policy in sub_policies",
        ["{{ sub_policy.title }}", "{{ sub_policy.reference }}", "{{ sub_policy.owner }}"],
    )

    doc.add_heading("6  Roles and responsibilities", level=1)
    _text(
        doc,
        "Responsibilities for information security are assigned in the ISMS Roles and "
        "Responsibilities document. In summary:",
    )
    _loop_table(
        doc,
        [("Role", 9.0), ("Holder", 7.4)],
        "role in roles",
        ["{{ role.title }}", "{{ role.holder }}"],
    )
    _text(doc, "")
    _text(
        doc, "Top management has assigned the responsibilities required by ISO/IEC 27001 Clause 5.3:"
    ).paragraph_format.keep_with_next = True
    _loop(
        doc,
        "assignment in mandatory",
        lambda: _bullet(doc, "{{ assignment.wording }}", ": ", "{{ assignment.holders }}"),
    )

    doc.add_heading("7  Review and version history", level=1)
    _text(
        doc,
        "The {{ owner_title }} reviews this policy at least once a year and whenever significant "
        "change occurs. The next review is due by {{ review_due }}.",
    )
    _loop_table(
        doc,
        [("Version", 2.0), ("Date", 3.0), ("Author", 3.8), ("Summary of changes", 7.6)],
        "entry in version_history",
        ["{{ entry.version }}", "{{ entry.date }}", "{{ entry.author }}", "{{ entry.summary }}"],
    )

    _approval_block(doc, "8  Approval")
    doc.save(str(path))
    return path


# --------------------------------------------------------------------------------------------
# ISMS Roles and Responsibilities (Clause 5.3)


def build_roles(path: Path = ROLES_TEMPLATE) -> Path:
    doc = _new_document("ISMS Roles and Responsibilities")
    _header_footer(doc)
    _title_block(
        doc,
        [
            ("Version", "{{ version }}"),
            ("Effective date", "{{ effective_date }}"),
            ("Classification", "{{ classification }}"),
            ("Document owner", "{{ owner_title }}"),
            ("Approved by", "{{ approver_name }}, {{ approver_title }}"),
        ],
    )

    doc.add_heading("1  Introduction", level=1)
    _text(
        doc,
        "This document records the roles, responsibilities and authorities relevant to information "
        "security at {{ organisation_name }}, as assigned and communicated by top management in "
        "accordance with ISO/IEC 27001 Clause 5.3. It applies to the scope of the information "
        "security management system (ISMS):",
    )
    scope = _text(doc, "{{ scope }}", italic=True)
    scope.paragraph_format.left_indent = Cm(0.8)
    _text(
        doc,
        "Responsibilities marked \u2605 are the responsibilities that Clause 5.3 requires top "
        "management to assign.",
    )

    doc.add_heading("2  Roles", level=1)

    def role_section() -> None:
        heading = doc.add_heading(level=2)
        heading.add_run("{{ role.number }}")
        heading.add_run("  ")
        heading.add_run("{{ role.title }}")
        _key_value_table(
            doc,
            [
                ("Holder", "{{ role.holder }}"),
                ("Deputy", "{{ role.deputy }}"),
                ("Reports to", "{{ role.reports_to }}"),
                ("Department", "{{ role.department }}"),
            ],
            label_width=3.5,
        )
        _tag(doc, "if role.mandatory_wording")
        label = _text(doc, "Mandatory responsibilities (Clause 5.3)")
        label.runs[0].bold = True
        label.paragraph_format.space_before = Pt(8)
        label.paragraph_format.keep_with_next = True
        _loop(doc, "wording in role.mandatory_wording", lambda: _bullet(doc, "\u2605 ", "{{ wording }}"))
        _tag(doc, "endif")
        _tag(doc, "if role.responsibilities")
        label = _text(doc, "Responsibilities")
        label.runs[0].bold = True
        label.paragraph_format.space_before = Pt(8)
        label.paragraph_format.keep_with_next = True
        _loop(doc, "duty in role.responsibilities", lambda: _bullet(doc, "{{ duty }}"))
        _tag(doc, "endif")
        _tag(doc, "if role.authorities")
        label = _text(doc, "Authorities")
        label.runs[0].bold = True
        label.paragraph_format.keep_with_next = True
        _loop(doc, "authority in role.authorities", lambda: _bullet(doc, "{{ authority }}"))
        _tag(doc, "endif")
        _tag(doc, "if role.audits")
        label = _text(doc, "Audits")
        label.runs[0].bold = True
        _text(doc, "{{ role.audits }}")
        _tag(doc, "endif")

    _loop(doc, "role in roles", role_section)

    doc.add_heading("3  Mandatory responsibilities (Clause 5.3)", level=1)
    _text(doc, "Top management has assigned the two responsibilities required by Clause 5.3 as follows:")
    _loop_table(
        doc,
        [("Responsibility", 9.4), ("Assigned to", 7.0)],
        "assignment in mandatory",
        ["{{ assignment.wording }}", "{{ assignment.holders }}"],
    )

    doc.add_heading("4  Responsibility assignment (RACI) matrix", level=1)
    _text(
        doc,
        "The matrix below shows, for each ISMS activity, who is Responsible (R), Accountable (A), "
        "Consulted (C) and Informed (I).",
    )
    doc.add_paragraph().add_run("{{p raci_table }}")

    doc.add_heading("5  Segregation of duties", level=1)
    _text(
        doc,
        "Conflicting duties are separated so that no one person can both approve and carry out the "
        "same activity, reducing the risk of unauthorised or unintended change.",
    )
    _loop_table(
        doc,
        [("Approval activity", 4.2), ("Implementing activity", 4.2), ("Reason", 5.0), ("Status", 3.0)],
        "conflict in conflicts",
        [
            "{{ conflict.approve }}",
            "{{ conflict.implement }}",
            "{{ conflict.reason }}",
            "{{ conflict.status }}",
        ],
    )
    _text(doc, "")
    doc.add_heading("Independence of internal audit", level=2)
    _loop(doc, "statement in auditor_independence", lambda: _bullet(doc, "{{ statement }}"))

    _approval_block(doc, "6  Approval")
    doc.save(str(path))
    return path


# --------------------------------------------------------------------------------------------
# Appointment of the ISMS lead (Clause 5.3; evidence item 6)


def build_letter(path: Path = LETTER_TEMPLATE) -> Path:
    doc = _new_document("Appointment of the ISMS lead")
    _header_footer(doc)
    _title_block(
        doc,
        [
            ("Version", "{{ version }}"),
            ("Effective date", "{{ effective_date }}"),
            ("Classification", "{{ classification }}"),
            ("Appointed", "{{ lead_name }}, {{ lead_job_title }}"),
            ("Role", "{{ role_title }}"),
            ("Appointed by", "{{ approver_name }}, {{ approver_title }}"),
        ],
    )

    _text(doc, "To: {{ lead_name }} <{{ lead_email }}>, {{ lead_department }}")
    _text(doc, "Dear {{ lead_name }},")
    doc.add_heading("1  Appointment", level=1)
    _text(
        doc,
        "With effect from {{ effective_date }}, {{ organisation_name }} appoints you as "
        "{{ role_title }}: the person responsible for the information security management system "
        "(ISMS), as top management assigns that responsibility under ISO/IEC 27001 Clause 5.3. "
        "The appointment covers the scope of the ISMS:",
    )
    scope = _text(doc, "{{ scope }}", italic=True)
    scope.paragraph_format.left_indent = Cm(0.8)
    _text(doc, "The area the role owns: {{ role_department }}.")

    doc.add_heading("2  Responsibilities", level=1)
    _tag(doc, "if mandatory_wording")
    label = _text(doc, "Assigned to you as Clause 5.3 requires:")
    label.paragraph_format.keep_with_next = True
    _loop(doc, "wording in mandatory_wording", lambda: _bullet(doc, "\u2605 ", "{{ wording }}"))
    _tag(doc, "endif")
    _tag(doc, "if responsibilities")
    label = _text(doc, "The responsibilities of the role:")
    label.paragraph_format.keep_with_next = True
    _loop(doc, "duty in responsibilities", lambda: _bullet(doc, "{{ duty }}"))
    _tag(doc, "endif")

    doc.add_heading("3  Authorities", level=1)
    _tag(doc, "if authorities")
    label = _text(doc, "The authorities of the role, which you hold to carry out these responsibilities:")
    label.paragraph_format.keep_with_next = True
    _loop(doc, "authority in authorities", lambda: _bullet(doc, "{{ authority }}"))
    _tag(doc, "endif")
    _text(
        doc,
        "Top management provides the resources the ISMS needs and supports you in using these authorities.",
    )

    doc.add_heading("4  Reporting line", level=1)
    _text(
        doc,
        "You report on the performance of the ISMS to the {{ reports_to }} ({{ reports_to_name }}), "
        "who receives your reports for top management.",
    )

    doc.add_heading("5  Deputy", level=1)
    _tag(doc, "if has_deputy")
    _text(
        doc,
        "{{ deputy_name }} ({{ deputy_job_title }}, {{ deputy_email }}) deputises for you in your "
        "absence, with the same responsibilities and authorities for as long as they act for you.",
    )
    _tag(doc, "else")
    _text(doc, "{{ deputy_name }}; top management names one when the role needs it.")
    _tag(doc, "endif")

    doc.add_heading("6  Acceptance", level=1)
    _text(
        doc,
        "Please accept this appointment through your own role acceptance request, sent to you once "
        "this letter is signed. Your acceptance is recorded with the time, the signed version and "
        "the SHA-256 of this letter, and kept with the ISMS records of {{ organisation_name }}.",
    )

    _approval_block(doc, "7  Signature")
    doc.save(str(path))
    return path


def main() -> None:
    build_policy()
    build_roles()
    build_letter()


if __name__ == "__main__":
    main()
