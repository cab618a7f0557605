"""Render the Clause 5 documents (policy and roles) from the profile and the staff directory.

The templates are written by :mod:`doc_templates.build_templates`. Rendering uses a sandboxed
Jinja2 environment with autoescaping and strict undefined variables: profile text is data, never
template code, so ``{{ 7*7 }}`` or ``<b>`` in a role title comes out literally and the document XML
stays well-formed; a placeholder with no value is an error, not a blank.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict

from core.hashing import sha256_file
from doc_templates.build_templates import shade_cell
from models.documents import RenderedDocument
from models.profile import (
    MANDATORY_WORDING,
    MandatoryResponsibility,
    OrganisationProfile,
    RaciLetter,
    Role,
    RoleKind,
)
from models.staff import StaffDirectory

TEMPLATES = Path(__file__).resolve().parents[1] / "doc_templates"
POLICY_TEMPLATE = TEMPLATES / "information_security_policy.docx"
ROLES_TEMPLATE = TEMPLATES / "isms_roles_responsibilities.docx"
POLICY_OUTPUT = "information-security-policy.docx"
ROLES_OUTPUT = "isms-roles-responsibilities.docx"

CLASSIFICATION = "Internal"
NOT_ASSIGNED = "Not assigned"
NONE_TEXT = "\u2014"  # an em dash for an empty field

SubdocBuilder = Callable[[Any], Any]
"""Builds the XML of a subdocument for the template being rendered (``tpl -> RawXml``)."""


def format_date(value: date) -> str:
    """``2026-12-01`` -> ``1 December 2026`` (the form a reader expects in a policy)."""
    return f"{value.day} {value.strftime('%B %Y')}"


# --------------------------------------------------------------------------------------------
# Context models


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class ObjectiveRow(_Row):
    objective: str
    measure: str
    target: str
    owner: str  # the owner role's title


class SubPolicyRow(_Row):
    title: str
    reference: str
    owner: str


class RoleSummaryRow(_Row):
    title: str
    holder: str


class MandatoryAssignment(_Row):
    wording: str
    holders: str  # "Ravi Chandran, ISMS Lead", or "Not assigned"


class VersionRow(_Row):
    version: str
    date: str
    author: str
    summary: str


class RoleDetail(_Row):
    number: str
    id: str
    title: str
    holder: str  # "Name, Job title" or the raw reference
    deputy: str
    reports_to: str
    department: str
    responsibilities: list[str]
    authorities: list[str]
    mandatory_wording: list[str]
    audits: str


class ConflictRow(_Row):
    approve: str
    implement: str
    reason: str
    status: str


class DocumentContext(BaseModel):
    """What both documents share: the title block, header, footer and approval block."""

    model_config = ConfigDict(frozen=True)
    SUBDOC_NAMES: ClassVar[tuple[str, ...]] = ()

    organisation_name: str
    document_title: str
    version: str
    effective_date: str
    classification: str = CLASSIFICATION
    owner_title: str
    approver_name: str
    approver_title: str
    signature_line: str
    approval_date: str
    scope: str
    mandatory: list[MandatoryAssignment]


class PolicyContext(DocumentContext):
    review_due: str
    ceo_statement: str
    ceo_name: str
    ceo_title: str
    purpose: str
    applicable_requirements: list[str]
    continual_improvement: str
    statements: list[str]
    objectives: list[ObjectiveRow]
    objectives_framework: str
    sub_policies: list[SubPolicyRow]
    roles: list[RoleSummaryRow]
    version_history: list[VersionRow]


class RolesContext(DocumentContext):
    SUBDOC_NAMES: ClassVar[tuple[str, ...]] = ("raci_table",)

    roles: list[RoleDetail]
    conflicts: list[ConflictRow]
    auditor_independence: list[str]


# --------------------------------------------------------------------------------------------
# Resolving people


class _People:
    def __init__(self, profile: OrganisationProfile, staff: StaffDirectory) -> None:
        self.profile = profile
        self.staff = staff

    def name(self, reference: str | None) -> str:
        if not reference:
            return NOT_ASSIGNED
        person = self.staff.find(reference)
        return person.name if person else reference

    def name_and_title(self, reference: str | None) -> str:
        if not reference:
            return NOT_ASSIGNED
        person = self.staff.find(reference)
        if person is None:
            return reference
        return f"{person.name}, {person.job_title}" if person.job_title else person.name

    def job_title(self, role: Role | None) -> str:
        if role is None:
            return NOT_ASSIGNED
        person = self.staff.find(role.holder) if role.holder else None
        return person.job_title if person and person.job_title else role.title

    def role_title(self, role_id: str | None) -> str:
        if not role_id:
            return NONE_TEXT
        role = self.profile.role(role_id)
        return role.title if role else role_id

    def role_holder(self, role: Role) -> str:
        if role.kind is RoleKind.GROUP and not role.holder:
            return "Everyone in scope"
        return self.name(role.holder)

    def key(self, role: Role) -> str:
        """Who holds the role, for comparing people across roles."""
        if not role.holder:
            return f"role:{role.id}"
        person = self.staff.find(role.holder)
        return person.email.lower() if person else role.holder.strip().lower()


def _top_management(profile: OrganisationProfile) -> Role | None:
    return profile.role(profile.policy.approved_by) or next(
        (role for role in profile.roles if role.kind is RoleKind.TOP_MANAGEMENT), None
    )


def _mandatory(profile: OrganisationProfile, people: _People) -> list[MandatoryAssignment]:
    rows = []
    for responsibility in MandatoryResponsibility:
        holders = [
            f"{people.role_holder(role)}, {role.title}"
            for role in profile.roles
            if responsibility in role.mandatory_responsibilities
        ]
        rows.append(
            MandatoryAssignment(
                wording=MANDATORY_WORDING[responsibility], holders="; ".join(holders) or NOT_ASSIGNED
            )
        )
    return rows


def _common(
    profile: OrganisationProfile,
    people: _People,
    *,
    document_title: str,
    signature_line: str,
    approval_date: date | None,
) -> dict[str, Any]:
    approver = _top_management(profile)
    return {
        "organisation_name": profile.organisation.name,
        "document_title": document_title,
        "version": profile.policy.version,
        "effective_date": format_date(profile.policy.effective_date),
        "owner_title": people.role_title(profile.policy.owner),
        "approver_name": people.name(approver.holder if approver else None),
        "approver_title": people.job_title(approver),
        "signature_line": signature_line,
        "approval_date": format_date(approval_date) if approval_date else NONE_TEXT,
        "scope": profile.isms_scope,
        "mandatory": _mandatory(profile, people),
    }


def build_policy_context(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    signature_line: str = "Awaiting signature",
    approval_date: date | None = None,
) -> PolicyContext:
    people = _People(profile, staff)
    policy = profile.policy
    ceo = _top_management(profile)
    return PolicyContext(
        **_common(
            profile,
            people,
            document_title=policy.title,
            signature_line=signature_line,
            approval_date=approval_date,
        ),
        review_due=format_date(policy.review_due),
        ceo_statement=policy.ceo_statement,
        ceo_name=people.name(ceo.holder if ceo else None),
        ceo_title=people.job_title(ceo),
        purpose=profile.organisation.purpose,
        applicable_requirements=list(policy.commitments.applicable_requirements),
        continual_improvement=policy.commitments.continual_improvement or NONE_TEXT,
        statements=list(policy.commitments.statements),
        objectives=[
            ObjectiveRow(
                objective=objective.objective,
                measure=objective.measure,
                target=objective.target,
                owner=people.role_title(objective.owner),
            )
            for objective in policy.objectives
        ],
        objectives_framework=policy.objectives_framework or "",
        sub_policies=[
            SubPolicyRow(title=sub.title, reference=sub.reference, owner=people.role_title(sub.owner))
            for sub in policy.sub_policies
        ],
        roles=[RoleSummaryRow(title=role.title, holder=people.role_holder(role)) for role in profile.roles],
        version_history=[
            VersionRow(
                version=entry.version,
                date=format_date(entry.date),
                author=entry.author,
                summary=entry.summary,
            )
            for entry in policy.version_history
        ],
    )


def _raci_people(profile: OrganisationProfile, people: _People, activity: str, letters: set[str]) -> set[str]:
    found = next((item for item in profile.raci if item.activity == activity), None)
    if found is None:
        return set()
    keys = set()
    for role_id, letter in found.assignments.items():
        role = profile.role(role_id)
        if letter.value in letters:
            keys.add(people.key(role) if role else f"role:{role_id}")
    return keys


def _conflicts(profile: OrganisationProfile, people: _People) -> list[ConflictRow]:
    rows = []
    for conflict in profile.conflicting_duties:
        approvers = _raci_people(profile, people, conflict.approve, {"A", "R"})
        implementers = _raci_people(profile, people, conflict.implement, {"R"})
        overlap = approvers & implementers
        status = "Segregated" if not overlap else "Conflict: same person approves and implements"
        rows.append(
            ConflictRow(
                approve=conflict.approve, implement=conflict.implement, reason=conflict.reason, status=status
            )
        )
    return rows


def _auditor_independence(profile: OrganisationProfile, people: _People) -> list[str]:
    statements = []
    for auditor in (role for role in profile.roles if role.kind is RoleKind.INTERNAL_AUDITOR):
        holder = people.name(auditor.holder)
        person = people.staff.find(auditor.holder) if auditor.holder else None
        home = person.department if person else auditor.department
        audited = ", ".join(auditor.audits) or "the areas set out in the audit programme"
        text = f"{holder} ({auditor.title}) audits {audited}."
        if home and home.strip().lower() in {area.strip().lower() for area in auditor.audits}:
            text += (
                f" The auditor's own department ({home}) is in that list: its audit must be "
                "carried out by someone independent of it."
            )
        elif home:
            text += f" The auditor does not audit their own department ({home}) or their own work."
        others = [
            role.title
            for role in profile.roles
            if role.id != auditor.id and role.holder and people.key(role) == people.key(auditor)
        ]
        if others:
            text += f" The auditor also holds: {', '.join(others)}; these areas are audited by someone else."
        statements.append(text)
    if not statements:
        statements.append("No internal auditor role is defined; the internal audit programme must name one.")
    return statements


def build_roles_context(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    *,
    signature_line: str = "Awaiting signature",
    approval_date: date | None = None,
) -> RolesContext:
    people = _People(profile, staff)
    details = []
    for number, role in enumerate(profile.roles, start=1):
        details.append(
            RoleDetail(
                number=f"2.{number}",
                id=role.id,
                title=role.title,
                holder=(
                    "Everyone in scope"
                    if role.kind is RoleKind.GROUP and not role.holder
                    else people.name_and_title(role.holder)
                ),
                deputy=people.name_and_title(role.deputy) if role.deputy else NONE_TEXT,
                reports_to=people.role_title(role.reports_to),
                department=role.department or NONE_TEXT,
                responsibilities=list(role.responsibilities),
                authorities=list(role.authorities),
                mandatory_wording=[MANDATORY_WORDING[item] for item in role.mandatory_responsibilities],
                audits=", ".join(role.audits),
            )
        )
    return RolesContext(
        **_common(
            profile,
            people,
            document_title="ISMS Roles and Responsibilities",
            signature_line=signature_line,
            approval_date=approval_date,
        ),
        roles=details,
        conflicts=_conflicts(profile, people),
        auditor_independence=_auditor_independence(profile, people),
    )


# --------------------------------------------------------------------------------------------
# The RACI matrix (a subdocument: its columns depend on the roles)

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


class RawXml:
    """Body XML for a ``{{p name }}`` tag: what ``tpl.new_subdoc()`` gives, without docxcompose.

    docxtpl's ``Subdoc`` needs the optional ``docxcompose`` package (``docxtpl[subdoc]``), which
    this project does not install. A subdocument made only of paragraphs and tables, with the
    styles of python-docx's default template (which the templates are built from), needs no
    parts merged: its body XML can be inserted as is. ``__html__`` makes autoescaping leave it
    alone, exactly as it does for ``Subdoc``; everything in it was escaped by lxml.
    """

    def __init__(self, xml: str) -> None:
        self.xml = xml

    @classmethod
    def from_body(cls, document: Any) -> RawXml:
        body = document.element.body
        if body.sectPr is not None:
            body.remove(body.sectPr)
        return cls(re.sub(r"</?w:body[^>]*>", "", etree.tostring(body, encoding="unicode")))

    def __html__(self) -> str:
        return self.xml

    def __str__(self) -> str:
        return self.xml


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


# --------------------------------------------------------------------------------------------
# Rendering


def sandboxed_environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)


def undeclared_variables(template: Path, context: BaseModel) -> set[str]:
    """The template's variables that ``context`` (and its subdocuments) does not provide."""
    tpl = DocxTemplate(str(template))
    provided: dict[str, Any] = context.model_dump()
    for name in getattr(context, "SUBDOC_NAMES", ()):
        provided[name] = None
    found: set[str] = tpl.get_undeclared_template_variables(
        jinja_env=sandboxed_environment(), context=provided
    )
    return set(found)


def render_docx(
    template: Path,
    context: BaseModel,
    out: Path,
    *,
    subdocs: Mapping[str, SubdocBuilder] | None = None,
) -> Path:
    """Render ``template`` with ``context`` into ``out``, atomically (a reader never sees half a file)."""
    tpl = DocxTemplate(str(template))
    values: dict[str, Any] = context.model_dump()
    for name, builder in (subdocs or {}).items():
        values[name] = builder(tpl)
    tpl.render(values, jinja_env=sandboxed_environment(), autoescape=True)
    rendered = io.BytesIO()
    tpl.save(rendered)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    try:
        Path(temporary).write_bytes(normalise_docx(rendered.getvalue()))
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out


# Every zip entry gets this timestamp: the same content then gives the same bytes and SHA-256,
# which archive keys by content hash and idempotent retries rely on.
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def normalise_docx(data: bytes) -> bytes:
    """Rewrite a .docx (a zip) with fixed entry timestamps, keeping entry order and content."""
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry.filename))
    return output.getvalue()


def render_documents(
    profile: OrganisationProfile,
    staff: StaffDirectory,
    out_dir: Path,
    *,
    signature_line: str = "Awaiting signature",
    approval_date: date | None = None,
) -> list[RenderedDocument]:
    """Render the policy and the roles document into ``out_dir``."""
    jobs: list[tuple[str, Path, BaseModel, dict[str, SubdocBuilder]]] = [
        (
            POLICY_OUTPUT,
            POLICY_TEMPLATE,
            build_policy_context(profile, staff, signature_line=signature_line, approval_date=approval_date),
            {},
        ),
        (
            ROLES_OUTPUT,
            ROLES_TEMPLATE,
            build_roles_context(profile, staff, signature_line=signature_line, approval_date=approval_date),
            {"raci_table": raci_subdoc(profile)},
        ),
    ]
    rendered = []
    for name, template, context, subdocs in jobs:
        path = render_docx(template, context, out_dir / name, subdocs=subdocs)
        rendered.append(
            RenderedDocument(
                name=name,
                path=path,
                sha256=sha256_file(path),
                template_sha256=sha256_file(template),
                version=profile.policy.version,
                date=profile.policy.effective_date,
            )
        )
    return rendered
