"""Check a .docx template before a cycle uses it: what it asks for, and what would go wrong.

The template is read the way the render engine (:mod:`documents.render`) reads it: docxtpl's
own clean-up of the Word XML, then the sandboxed Jinja2 environment. Every problem names its
place in the document (paragraph 12 and its text, table 2 row 3 cell 1, the header...) and the
fix::

    check = check_template(Path("our-policy.docx"), PolicyContext)
    check.placeholders     # every value the template uses: organisation_name, roles[].title, ...
    check.problems         # unknown placeholders (with the closest known name), Jinja syntax errors,
                           # what the sandbox refuses, a file that is not a Word document
    check.ok

Without real values the check knows the context's field names and types (a row's fields, a
list, text). With ``render_with`` it also renders the template with the organisation's real
context, in a temporary folder, and reports what fails only then.
"""

from __future__ import annotations

import bisect
import difflib
import re
import tempfile
import typing
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    SandboxedEnvironment,
)
from lxml import etree  # type: ignore[import-untyped]
from pydantic import BaseModel

from documents.context import (
    AppointmentContext,
    DocumentContext,
    PolicyContext,
    RolesContext,
    build_appointment_context,
    build_policy_context,
    build_roles_context,
)
from documents.render import TEMPLATES, SubdocBuilder, render_docx, sandboxed_environment
from models.profile import (
    APPOINTMENT_LETTER,
    POLICY_DOCUMENT,
    ROLES_DOCUMENT,
    DocumentEntry,
    OrganisationProfile,
)
from models.staff import StaffDirectory

BUILTIN_TEMPLATES: dict[str, Path] = {
    POLICY_DOCUMENT: TEMPLATES / "information_security_policy.docx",
    ROLES_DOCUMENT: TEMPLATES / "isms_roles_responsibilities.docx",
    APPOINTMENT_LETTER: TEMPLATES / "isms_lead_appointment.docx",
}
"""The built-in template of each of the two documents Clause 5 requires, and of the ISMS lead's
appointment letter."""

REFERENCE_HINT = "`isms templates reference` lists every value"
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # far above any real document; refuses a zip bomb

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_HEADER = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
_FOOTER = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"
_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
# the core properties docxtpl renders too (DocxTemplate.render_properties)
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
_MARK = "ismsparagraph"  # an attribute put on every w:p, so a line of the Jinja source names its paragraph
_UNSAFE_NAMES = frozenset(
    {"mro"}
    | UNSAFE_FUNCTION_ATTRIBUTES
    | UNSAFE_METHOD_ATTRIBUTES
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
)


def context_model_for(document_id: str) -> type[DocumentContext]:
    """The context a generated document gets: the roles document and the ISMS lead's appointment
    letter their own, every other the policy's."""
    if document_id == ROLES_DOCUMENT:
        return RolesContext
    if document_id == APPOINTMENT_LETTER:
        return AppointmentContext
    return PolicyContext


# --------------------------------------------------------------------------------------------
# Results


class ProblemKind(StrEnum):
    UNREADABLE = "unreadable"  # not a .docx, a damaged zip, no main document
    SYNTAX = "syntax"  # Jinja cannot parse it
    UNKNOWN = "unknown-placeholder"  # a value (or a row's field, a filter) the context does not have
    SANDBOX = "sandbox"  # something the sandboxed engine refuses
    RENDER = "render"  # fails only when rendered with the real values


class Severity(StrEnum):
    ERROR = "error"  # the template cannot be used
    WARNING = "warning"  # it renders, but probably not as meant


class Place(BaseModel):
    """Where in the document: a paragraph (its number and text), a table cell, a header..."""

    part: str = "body"  # "body", "header", "footer of section 2", "footnotes", "document properties"
    paragraph: int | None = None  # the paragraph's number outside tables (1 is the first)
    table: int | None = None  # the table's number in the part, counted from 1
    row: int | None = None
    cell: int | None = None
    text_box: bool = False
    text: str = ""  # the paragraph's text as written in Word (shortened)

    def describe(self) -> str:
        if self.table is not None:
            where = f"table {self.table} row {self.row} cell {self.cell}"
        elif self.paragraph is not None:
            where = f"paragraph {self.paragraph}"
        else:
            where = ""
        if self.text_box:
            where = f"a text box in {where}"
        if self.part != "body":
            where = f"{self.part}, {where}" if where else self.part
        return f"{where} {_quoted(self.text)}" if self.text else where


class TemplateProblem(BaseModel):
    kind: ProblemKind
    severity: Severity = Severity.ERROR
    message: str
    fix: str
    place: Place | None = None
    placeholder: str | None = None  # the placeholder concerned, as a path ("roles[].titel")
    suggestion: str | None = None  # the closest name the context has

    def describe(self) -> str:
        return f"{self.place.describe()}: {self.message}" if self.place else self.message


class Placeholder(BaseModel):
    """A value the template uses: ``organisation_name``, ``roles[].title`` (a field of each role)."""

    name: str
    known: bool
    places: list[Place]


class TemplateCheck(BaseModel):
    template: str
    context: str  # the context model's name
    subdocuments: list[str]
    placeholders: list[Placeholder]
    problems: list[TemplateProblem]
    rendered: bool = False  # rendered with real values as well

    @property
    def errors(self) -> list[TemplateProblem]:
        return [problem for problem in self.problems if problem.severity is Severity.ERROR]

    @property
    def readable(self) -> bool:
        return not any(problem.kind is ProblemKind.UNREADABLE for problem in self.problems)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class RealContext:
    """The values a template gets in the cycle: its context and its subdocuments' builders."""

    context: BaseModel
    subdocs: Mapping[str, SubdocBuilder] = field(default_factory=dict)


def real_context(profile: OrganisationProfile, staff: StaffDirectory, entry: DocumentEntry) -> RealContext:
    """The values ``entry``'s template gets in the cycle: its context, with its own title and version."""
    from documents.raci import raci_subdoc

    context: DocumentContext
    subdocs: dict[str, SubdocBuilder] = {}
    if entry.id == ROLES_DOCUMENT:
        context = build_roles_context(profile, staff)
        subdocs["raci_table"] = raci_subdoc(profile)
    elif entry.id == APPOINTMENT_LETTER:
        context = build_appointment_context(profile, staff)
    else:
        context = build_policy_context(profile, staff)
    update = {"document_title": entry.title} if entry.title else {}
    if entry.version:
        update["version"] = entry.version
    return RealContext(context.model_copy(update=update), subdocs)


# --------------------------------------------------------------------------------------------
# Reading the file


def _quoted(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return f'"{text if len(text) <= limit else text[: limit - 1] + "…"}"'


_SAVE_AS_DOCX = "open it in Word (or LibreOffice) and save it as a Word Document (.docx)"


def file_problem(path: Path, *, what: str = "the template") -> TemplateProblem | None:
    """Why ``path`` is not a Word document python-docx and docxtpl can open, or None.

    Tells apart a PDF, an old .doc or a password-protected file, RTF, text renamed .docx, a
    damaged zip, another Office file (.xlsx, .pptx, .odt), a Word template or macro file, and a
    zip without ``word/document.xml``.
    """

    def unreadable(message: str, fix: str = _SAVE_AS_DOCX) -> TemplateProblem:
        return TemplateProblem(kind=ProblemKind.UNREADABLE, message=f"{what} {message}", fix=fix)

    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except IsADirectoryError:
        return unreadable(f"{path} is a folder, not a file", "name the .docx file itself")
    except FileNotFoundError:
        return unreadable(f"{path} does not exist", "put the file there, or correct the path")
    except OSError as exc:
        return unreadable(f"{path} cannot be read: {exc.strerror or exc}", "make the file readable")
    if head.startswith(b"%PDF"):
        return unreadable("is a PDF, not a Word document (only a .docx can hold placeholders)")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return unreadable(
            "is an old Word 97-2003 file (.doc) or a password-protected document",
            "save it in Word as a Word Document (.docx), without a password",
        )
    if head.startswith(b"{\\rtf"):
        return unreadable("is a Rich Text (RTF) file, not a Word document")
    if not zipfile.is_zipfile(path):
        if head.startswith(b"PK"):
            return unreadable(
                "is a damaged .docx (the zip cannot be read)", "save it again from Word, or restore a copy"
            )
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3:  # not just a character cut at the end of what was read
                return unreadable("is not a Word document (a .docx is a zip file; this one is not)")
        return unreadable("is a text file, not a Word document (a .docx is a zip file)")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
                return unreadable(
                    f"unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB",
                    "use a smaller document (compress its images)",
                )
            damaged = archive.testzip()
            names = {entry.filename for entry in entries}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        return unreadable(f"is a damaged .docx ({exc})", "save it again from Word, or restore a copy")
    if damaged is not None:
        return unreadable(
            f"is a damaged .docx ({damaged} is corrupt)", "save it again from Word, or restore a copy"
        )
    if "word/document.xml" not in names:
        for marker, kind in (
            ("xl/workbook.xml", "an Excel workbook"),
            ("ppt/presentation.xml", "a PowerPoint presentation"),
            ("content.xml", "an OpenDocument file"),
        ):
            if marker in names:
                return unreadable(f"is {kind}, not a Word document")
        return unreadable("is a zip without word/document.xml: not a Word document")
    from docx import Document  # a Word document's parts, as docxtpl will open them

    try:
        Document(str(path))
    except ValueError as exc:
        text = str(exc)
        if "template.main" in text:
            return unreadable("is a Word template (.dotx) renamed .docx", _SAVE_AS_DOCX)
        if "macroEnabled" in text:
            return unreadable("is a macro-enabled Word document (.docm)", _SAVE_AS_DOCX + " without macros")
        return unreadable(f"cannot be opened as a Word document ({text})")
    except Exception as exc:  # a malformed part: python-docx raises KeyError, lxml errors...
        return unreadable(f"cannot be opened as a Word document ({type(exc).__name__}: {exc})")
    return None


# --------------------------------------------------------------------------------------------
# The template's parts as the sandboxed engine sees them


@dataclass
class _Source:
    """One part's Jinja source, laid out so that each line start names its place."""

    part: str
    text: str
    line_starts: list[int]  # the first line of each segment (1-based, ascending)
    segment_places: list[Place | None]
    places: list[Place]  # every paragraph of the part, in order

    def place_at(self, lineno: int | None) -> Place | None:
        if lineno is None or not self.segment_places:
            return None
        index = bisect.bisect_right(self.line_starts, lineno) - 1
        return self.segment_places[max(index, 0)]


def _cells_of(parent: Any, tag: str, owner_tag: str) -> list[Any]:
    """``tag`` elements under ``parent`` whose nearest ``owner_tag`` ancestor is ``parent``."""
    return [child for child in parent.iter(tag) if next(child.iterancestors(owner_tag), None) is parent]


def _paragraph_places(root: Any, part: str) -> list[Place]:
    tables = {table: number for number, table in enumerate(root.iter(f"{_W}tbl"), start=1)}
    rows: dict[Any, list[Any]] = {}
    cells: dict[Any, list[Any]] = {}
    by_paragraph: dict[Any, Place] = {}
    places: list[Place] = []
    number = 0
    for paragraph in root.iter(f"{_W}p"):
        text = "".join(node.text or "" for node in paragraph.iter(f"{_W}t"))
        outer = next(paragraph.iterancestors(f"{_W}p"), None)
        cell = next(paragraph.iterancestors(f"{_W}tc"), None)
        if outer is not None and outer in by_paragraph:
            place = by_paragraph[outer].model_copy(update={"text_box": True, "text": text})
        elif cell is not None:
            row = next(cell.iterancestors(f"{_W}tr"))
            table = next(row.iterancestors(f"{_W}tbl"))
            table_rows = rows.setdefault(table, _cells_of(table, f"{_W}tr", f"{_W}tbl"))
            row_cells = cells.setdefault(row, _cells_of(row, f"{_W}tc", f"{_W}tr"))
            place = Place(
                part=part,
                table=tables[table],
                row=table_rows.index(row) + 1,
                cell=row_cells.index(cell) + 1,
                text=text,
            )
        else:
            number += 1
            place = Place(part=part, paragraph=number, text=text)
        by_paragraph[paragraph] = place
        places.append(place)
    return places


_BOUNDARY = re.compile(rf'<w:p\b[^>]*?\b{_MARK}="(\d+)"[^>]*?(/?)>|</w:p>|\{{\{{|\{{%|\{{#')
_CLOSER = {"{{": "}}", "{%": "%}", "{#": "#}"}
_DOCXTPL_PREFIX = re.compile(r"^[-+]?\s*(?:p|tr|tc|r)\s+")


def _normalised(text: str) -> str:
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    return " ".join(text.split())


def _tag_core(source: str, start: int) -> str:
    """``{%tr for role in roles %}`` at ``start`` -> ``for role in roles``."""
    opener = source[start : start + 2]
    end = source.find(_CLOSER[opener], start + 2)
    inner = source[start + 2 : end if end != -1 else start + 80]
    inner = re.sub(r"<[^>]*>", "", inner).strip().rstrip("-+").strip()
    return _normalised(_DOCXTPL_PREFIX.sub("", inner))


def _removed_paragraph(places: list[Place], after: int, before: int, core: str) -> Place | None:
    """The paragraph docxtpl removed around a ``{%p`` / ``{%tr`` / ``{{p`` tag (it keeps only the tag)."""
    candidates = list(range(after + 1, before))
    for index in candidates:
        if core and core in _normalised(places[index].text):
            return places[index]
    if candidates:
        return places[candidates[0]]
    return places[after] if 0 <= after < len(places) else None


def _xml_source(tpl: Any, root: Any, part: str) -> _Source:
    marked = deepcopy(root)
    places = _paragraph_places(marked, part)
    for index, paragraph in enumerate(marked.iter(f"{_W}p")):
        paragraph.set(_MARK, str(index))
    patched: str = tpl.patch_xml(etree.tostring(marked, encoding="unicode"))
    matches = list(_BOUNDARY.finditer(patched))
    markers = [(match.start(), int(match.group(1))) for match in matches if match.group(1) is not None]
    marker_starts = [position for position, _ in markers]
    segments: list[str] = []
    segment_places: list[Place | None] = []
    stack: list[int] = []
    last_seen = -1
    cut = 0
    current: Place | None = None
    for match in matches:
        if match.group(0) == "</w:p>":
            if stack:
                stack.pop()
            continue
        segments.append(patched[cut : match.start()])
        segment_places.append(current)
        cut = match.start()
        if match.group(1) is not None:
            last_seen = int(match.group(1))
            current = places[last_seen]
            if match.group(2) != "/":
                stack.append(last_seen)
        elif stack:
            current = places[stack[-1]]
        else:
            following = bisect.bisect_right(marker_starts, match.start())
            before = markers[following][1] if following < len(markers) else len(places)
            current = _removed_paragraph(places, last_seen, before, _tag_core(patched, match.start()))
    segments.append(patched[cut:])
    segment_places.append(current)
    line_starts = []
    line = 1
    for segment in segments:
        line_starts.append(line)
        line += segment.count("\n") + 1
    return _Source(
        part=part,
        text="\n".join(segments),
        line_starts=line_starts,
        segment_places=segment_places,
        places=places,
    )


def _part_labels(document: Any) -> dict[str, str]:
    """Each header/footer relationship id -> how a reader names it ("first-page header of section 2")."""
    sections = list(document.element.body.iter(f"{_W}sectPr"))
    labels: dict[str, str] = {}
    for number, section in enumerate(sections, start=1):
        for kind in ("header", "footer"):
            for reference in section.findall(f"{_W}{kind}Reference"):
                variant = {"first": "first-page ", "even": "even-page "}.get(reference.get(f"{_W}type"), "")
                label = f"{variant}{kind}" + (f" of section {number}" if len(sections) > 1 else "")
                labels.setdefault(reference.get(f"{_R}id"), label)
    return labels


def _sources(path: Path) -> Iterator[_Source]:
    """Every part docxtpl renders: the body, headers, footers, footnotes, document properties."""
    from docx import Document
    from docx.oxml import parse_xml
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(str(path))
    document = Document(str(path))
    yield _xml_source(tpl, document.element.body, "body")
    labels = _part_labels(document)
    for uri, kind in ((_HEADER, "header"), (_FOOTER, "footer")):
        for rel_id, relationship in document.part.rels.items():
            if relationship.reltype == uri and relationship.target_part.blob:
                label = labels.get(rel_id, f"{kind} ({Path(str(relationship.target_part.partname)).name})")
                yield _xml_source(tpl, parse_xml(relationship.target_part.blob), label)
    for part in document.part.package.parts:
        if part.content_type == _FOOTNOTES:
            yield _xml_source(tpl, parse_xml(part.blob), "footnotes")
    for name in _PROPERTIES:
        value = getattr(document.core_properties, name) or ""
        if any(opener in value for opener in _CLOSER):
            place = Place(part="document properties", text=f"{name}: {value}")
            yield _Source(
                part="document properties",
                text=value,
                line_starts=[1],
                segment_places=[place],
                places=[place],
            )


# --------------------------------------------------------------------------------------------
# What the template uses, against what the context provides


@dataclass(frozen=True)
class _Value:
    """What an expression is, as far as the context's types tell: a path and its annotation."""

    path: str | None  # "roles[].title"; None for a value the template made itself
    annotation: Any = None  # None: unknown (no check)
    refused: bool = False  # the sandbox refuses it (reported once, not again for what follows)
    written: str = ""  # as the template writes it: "role.title"


def _item_type(annotation: Any) -> Any:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation) or (None,)
        return item
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def type_name(annotation: Any) -> str:
    """A type as a template author reads it: text, list of text, list of RoleDetail."""
    if annotation is str:
        return "text"
    if annotation is bool:
        return "yes/no"
    if annotation is int:
        return "number"
    item = _item_type(annotation)
    if item is not None:
        return f"list of {type_name(item)}"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def _closest(wanted: str, known: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(wanted, sorted(set(known)), n=1, cutoff=0.6)
    return found[0] if found else None


class _Analysis:
    """Walks one part's Jinja AST: placeholders with their places, unknown names, sandbox refusals."""

    def __init__(
        self,
        env: SandboxedEnvironment,
        model: type[DocumentContext],
        subdocs: Sequence[str],
        source: _Source,
        undeclared: set[str],
    ) -> None:
        self.env = env
        self.model = model
        self.subdocs = tuple(subdocs)
        self.source = source
        self.undeclared = undeclared
        self.used: dict[str, list[Place]] = {}
        self.unknown: set[str] = set()
        self.problems: list[TemplateProblem] = []

    # -- recording

    def _place(self, node: nodes.Node) -> Place | None:
        return self.source.place_at(getattr(node, "lineno", None))

    def _use(self, path: str, node: nodes.Node, *, known: bool = True) -> None:
        places = self.used.setdefault(path, [])
        place = self._place(node)
        if place is not None and place not in places:
            places.append(place)
        if not known:
            self.unknown.add(path)

    def _problem(self, node: nodes.Node, **fields: Any) -> None:
        problem = TemplateProblem(place=self._place(node), **fields)
        if problem not in self.problems:
            self.problems.append(problem)

    # -- resolving expressions

    def _name(self, node: nodes.Name, scope: dict[str, _Value]) -> _Value:
        if node.name in scope:
            return replace(scope[node.name], written=node.name)
        fields = self.model.model_fields
        if node.name in fields:
            self._use(node.name, node)
            return _Value(node.name, fields[node.name].annotation, written=node.name)
        if node.name in self.subdocs:
            self._use(node.name, node)
            return _Value(node.name, written=node.name)
        if node.name in self.undeclared and node.name not in self.env.globals:
            self._use(node.name, node, known=False)
            suggestion = _closest(node.name, [*fields, *self.subdocs])
            self._problem(
                node,
                kind=ProblemKind.UNKNOWN,
                message=f"`{node.name}` is not a value the {self.model.__name__} provides",
                fix=(
                    f"write `{suggestion}` (the closest name it has)"
                    if suggestion
                    else f"remove it, or use a value the {self.model.__name__} has ({REFERENCE_HINT})"
                ),
                placeholder=node.name,
                suggestion=suggestion,
            )
        return _Value(None)

    def _attribute(self, node: nodes.Node, parent: _Value, attribute: str) -> _Value:
        if parent.path is None or parent.annotation is None:
            return _Value(None)
        path = f"{parent.path}.{attribute}"
        written = f"{parent.written}.{attribute}"
        annotation = parent.annotation
        if _is_model(annotation):
            fields = annotation.model_fields
            if attribute in fields:
                self._use(path, node)
                return _Value(path, fields[attribute].annotation, written=written)
            suggestion = _closest(attribute, list(fields))
            of = f" (an item of {parent.path.removesuffix('[]')})" if parent.path.endswith("[]") else ""
            self._use(path, node, known=False)
            self._problem(
                node,
                kind=ProblemKind.UNKNOWN,
                message=f"`{written}`: a {annotation.__name__}{of} has no `{attribute}` "
                f"(its fields: {', '.join(fields)})",
                fix=(
                    f"write `{parent.written}.{suggestion}`"
                    if suggestion
                    else f"use one of its fields ({REFERENCE_HINT})"
                ),
                placeholder=path,
                suggestion=f"{parent.written}.{suggestion}" if suggestion else None,
            )
        elif _item_type(annotation) is not None:
            item = _item_type(annotation)
            valid = _is_model(item) and attribute in item.model_fields
            self._use(path, node, known=False)
            self._problem(
                node,
                kind=ProblemKind.UNKNOWN,
                message=f"`{parent.written}` is a list ({type_name(annotation)}): it has no `{attribute}` "
                "of its own",
                fix=(
                    f"loop over it: {{% for item in {parent.written} %}}{{{{ item.{attribute} }}}}"
                    "{% endfor %}"
                    if valid
                    else f"loop over it and use its items ({REFERENCE_HINT})"
                ),
                placeholder=path,
            )
        elif annotation is str and not hasattr(str, attribute):
            self._use(path, node, known=False)
            self._problem(
                node,
                kind=ProblemKind.UNKNOWN,
                message=f"`{parent.written}` is text: it has no `{attribute}`",
                fix=f"write `{{{{ {parent.written} }}}}`",
                placeholder=path,
            )
        return _Value(None)

    def _refuse_attribute(self, node: nodes.Node, attribute: str) -> bool:
        if attribute.startswith("_") or attribute in _UNSAFE_NAMES:
            self._problem(
                node,
                kind=ProblemKind.SANDBOX,
                message=f"reads the attribute `{attribute}`: the sandbox refuses Python internals "
                "(names starting with an underscore, mro, frames and code)",
                fix=f"remove it: a template shows the context's values only ({REFERENCE_HINT})",
                placeholder=attribute,
            )
            return True
        return False

    def value(self, node: nodes.Node, scope: dict[str, _Value]) -> _Value:
        """What ``node`` evaluates to (recording what it reads), walking its sub-expressions."""
        if isinstance(node, nodes.Name):
            return self._name(node, scope) if node.ctx == "load" else _Value(None)
        if isinstance(node, nodes.Getattr):
            parent = self.value(node.node, scope)
            if parent.refused or self._refuse_attribute(node, node.attr):
                return _Value(None, refused=True)
            return self._attribute(node, parent, node.attr)
        if isinstance(node, nodes.Getitem):
            parent = self.value(node.node, scope)
            self.walk(node.arg, scope)
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if parent.refused:
                return parent
            if isinstance(key, str):
                if self._refuse_attribute(node, key):
                    return _Value(None, refused=True)
                return self._attribute(node, parent, key)
            item = _item_type(parent.annotation)
            if isinstance(key, int) and parent.path is not None and item is not None:
                return _Value(f"{parent.path}[]", item, written=f"{parent.written}[{key}]")
            return _Value(None)
        self.walk(node, scope)
        return _Value(None)

    # -- statements

    def _bind(self, target: nodes.Node, value: _Value, scope: dict[str, _Value]) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = value
        else:
            for name in target.find_all(nodes.Name):
                scope[name.name] = _Value(None)

    def walk(self, node: nodes.Node, scope: dict[str, _Value]) -> None:
        if isinstance(node, nodes.For):
            iterated = self.value(node.iter, scope)
            inner = dict(scope)
            item = _item_type(iterated.annotation)
            self._bind(
                node.target,
                _Value(f"{iterated.path}[]", item) if iterated.path and item is not None else _Value(None),
                inner,
            )
            inner["loop"] = _Value(None)
            for child in [node.test, *node.body] if node.test else node.body:
                self.walk(child, inner)
            for child in node.else_:
                self.walk(child, scope)
            return
        if isinstance(node, nodes.Assign):
            self._bind(node.target, self.value(node.node, scope), scope)
            return
        if isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=False):
                self._bind(target, self.value(value, scope), inner)
            for child in node.body:
                self.walk(child, inner)
            return
        if isinstance(node, nodes.Macro | nodes.CallBlock):
            inner = dict(scope)
            for argument in node.args:
                inner[argument.name] = _Value(None)
            for default in node.defaults:
                self.walk(default, scope)
            if isinstance(node, nodes.CallBlock):
                self.walk(node.call, scope)
            for child in node.body:
                self.walk(child, inner)
            return
        if isinstance(node, nodes.AssignBlock):
            for child in node.body:
                self.walk(child, scope)
            self._bind(node.target, _Value(None), scope)
            return
        if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            self._problem(
                node,
                kind=ProblemKind.SANDBOX,
                message="loads another template (include, import or extends): a document template "
                "is one file and the engine loads nothing else",
                fix="copy the text you need into this template",
            )
            return
        if (
            isinstance(node, nodes.Filter)
            and node.name == "attr"
            and node.args
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
        ):
            self._refuse_attribute(node, node.args[0].value)  # |attr("__class__") reads an attribute too
        if isinstance(node, nodes.Filter | nodes.Test) and node.name is not None:
            known = self.env.filters if isinstance(node, nodes.Filter) else self.env.tests
            if node.name not in known:
                kind = "filter" if isinstance(node, nodes.Filter) else "test"
                suggestion = _closest(node.name, list(known))
                self._problem(
                    node,
                    kind=ProblemKind.UNKNOWN,
                    message=f"there is no {kind} named `{node.name}`",
                    fix=f"write `{suggestion}`" if suggestion else f"remove the {kind}",
                    placeholder=node.name,
                    suggestion=suggestion,
                )
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            self.value(node, scope)
            return
        for child in node.iter_child_nodes():
            self.walk(child, scope)


# --------------------------------------------------------------------------------------------
# Syntax


_VARIABLE_TAG = re.compile(r"\{\{(?:(?!\{\{|\}\}).)*\}\}", flags=re.DOTALL)
_UNCLOSED = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")


def _delimiter_problems(source: _Source) -> list[TemplateProblem]:
    """Per paragraph: a ``{{`` never closed in it, or a ``}}`` that closes nothing."""
    problems = []
    for place in source.places:
        opened: str | None = None
        for match in _UNCLOSED.finditer(place.text):
            delimiter = match.group(0)
            if delimiter in _CLOSER:
                if opened is None:
                    opened = delimiter
            elif opened is not None and _CLOSER[opened] == delimiter:
                opened = None
            elif opened is None and delimiter == "}}":
                problems.append(
                    TemplateProblem(
                        kind=ProblemKind.SYNTAX,
                        severity=Severity.WARNING,
                        message="`}}` closes nothing: it will be printed as it is",
                        fix="a placeholder is written {{ name }}: check the opening braces",
                        place=place,
                    )
                )
        if opened is not None:
            problems.append(
                TemplateProblem(
                    kind=ProblemKind.SYNTAX,
                    message=f"`{opened}` is not closed with `{_CLOSER[opened]}` in this paragraph",
                    fix=f"close it with `{_CLOSER[opened]}` in the same paragraph "
                    "(a placeholder cannot span paragraphs)",
                    place=place,
                )
            )
    return problems


_BLOCKS_WITH_END = {"for", "if", "macro", "call", "filter", "block", "with", "autoescape", "raw", "trans"}


def _open_block(env: SandboxedEnvironment, source: _Source, before_line: int) -> tuple[str, int] | None:
    """The innermost block still open at ``before_line`` (its tag and line), from the token stream."""
    stack: list[tuple[str, int]] = []
    tokens = env.lex(source.text)
    try:
        pending: tuple[str, int] | None = None
        waiting_for_name = False
        for lineno, kind, value in tokens:
            if lineno > before_line:
                break
            if kind == "block_begin":
                waiting_for_name = True
                continue
            if waiting_for_name and kind == "name":
                waiting_for_name = False
                if value in _BLOCKS_WITH_END or value == "set":
                    pending = (value, lineno)
                elif value.startswith("end") and stack and stack[-1][0] == value[3:]:
                    stack.pop()
                continue
            if pending is not None and pending[0] == "set" and kind == "operator" and value == "=":
                pending = None  # {% set x = ... %}: not a block
            if kind == "block_end" and pending is not None:
                stack.append(pending)
                pending = None
    except jinja2.TemplateSyntaxError:
        pass
    return stack[-1] if stack else None


def _syntax_problems(
    env: SandboxedEnvironment, source: _Source
) -> tuple[nodes.Template | None, list[TemplateProblem]]:
    """The parsed part, or None with its syntax errors (each variable tag on its own, then the whole)."""
    try:
        return env.parse(source.text), []
    except jinja2.TemplateSyntaxError as whole:
        problems: list[TemplateProblem] = []
        for match in _VARIABLE_TAG.finditer(source.text):
            try:
                env.parse(match.group(0))
            except jinja2.TemplateSyntaxError as exc:
                line = source.text.count("\n", 0, match.start()) + 1
                problems.append(_syntax_problem(exc, source.place_at(line), expression=match.group(0)))
        place = source.place_at(whole.lineno)
        if any(problem.place == place for problem in problems):
            return None, problems
        problem = _syntax_problem(whole, place)
        message = (whole.message or "").lower()
        opened = _open_block(env, source, whole.lineno or 0)
        if opened is not None and "end of template" in message:
            problem = problem.model_copy(
                update={
                    "place": source.place_at(opened[1]),
                    "message": f"`{{% {opened[0]} %}}` is never closed",
                    "fix": f"add `{{% end{opened[0]} %}}` where the {opened[0]} block ends",
                }
            )
        elif opened is not None and "unknown tag" in message:
            problem = problem.model_copy(
                update={
                    "message": f"{problem.message} (the open block is `{{% {opened[0]} %}}` in "
                    f"{_describe(source.place_at(opened[1]))})"
                }
            )
        return None, [*problems, problem]


def _describe(place: Place | None) -> str:
    return place.describe() if place else "the document"


def _syntax_problem(
    exc: jinja2.TemplateSyntaxError, place: Place | None, *, expression: str = ""
) -> TemplateProblem:
    message = (exc.message or str(exc)).strip()
    shown = f"`{_normalised(re.sub(r'<[^>]*>', '', expression))}`: " if expression else ""
    return TemplateProblem(
        kind=ProblemKind.UNKNOWN if isinstance(exc, jinja2.TemplateAssertionError) else ProblemKind.SYNTAX,
        message=f"{shown}{message}",
        fix="correct the tag: {{ value }}, {% for item in list %}…{% endfor %}, {% if … %}…{% endif %}",
        place=place,
    )


# --------------------------------------------------------------------------------------------
# The check


def check_template(
    path: Path,
    model: type[DocumentContext],
    *,
    subdocs: Sequence[str] | None = None,
    render_with: RealContext | None = None,
) -> TemplateCheck:
    """Every placeholder of ``path`` and every problem, against ``model`` (and real values, if given).

    ``subdocs`` are the names filled with a subdocument (default: the model's ``SUBDOC_NAMES``,
    ``raci_table`` for the roles context): each must stand in a paragraph of its own, ``{{p name }}``.
    """
    names = tuple(model.SUBDOC_NAMES if subdocs is None else subdocs)

    def result(
        placeholders: list[Placeholder], problems: list[TemplateProblem], rendered: bool
    ) -> TemplateCheck:
        return TemplateCheck(
            template=str(path),
            context=model.__name__,
            subdocuments=list(names),
            placeholders=placeholders,
            problems=problems,
            rendered=rendered,
        )

    unreadable = file_problem(path)
    if unreadable is not None:
        return result([], [unreadable], False)
    env = sandboxed_environment()
    try:
        sources = list(_sources(path))
    except Exception as exc:  # a part python-docx opened but cannot parse
        return result(
            [],
            [
                TemplateProblem(
                    kind=ProblemKind.UNREADABLE,
                    message=f"the template cannot be read ({type(exc).__name__}: {exc})",
                    fix=_SAVE_AS_DOCX,
                )
            ],
            False,
        )
    problems: list[TemplateProblem] = []
    used: dict[str, list[Place]] = {}
    unknown: set[str] = set()
    parsed_all = True
    for source in sources:
        delimiters = _delimiter_problems(source)
        problems += delimiters + _subdoc_problems(source, names)
        parsed, syntax = _syntax_problems(env, source)
        # docxtpl joins an unclosed tag with what follows: what Jinja then says adds only confusion
        unclosed = [problem.place for problem in delimiters if problem.severity is Severity.ERROR]
        problems += [
            problem for problem in syntax if problem not in problems and problem.place not in unclosed
        ]
        if parsed is None:
            parsed_all = False
            continue
        analysis = _Analysis(env, model, names, source, _undeclared(env, parsed))
        analysis.walk(parsed, {})
        problems += [problem for problem in analysis.problems if problem not in problems]
        try:
            env.compile(parsed)
        except jinja2.TemplateSyntaxError as exc:  # what the walk does not know of: a compile-time error
            place = source.place_at(exc.lineno)
            if not any(
                problem.place == place and problem.kind is ProblemKind.UNKNOWN for problem in problems
            ):
                problems.append(_syntax_problem(exc, place))
        unknown |= analysis.unknown
        for name, places in analysis.used.items():
            used.setdefault(name, []).extend(place for place in places if place not in used[name])
    placeholders = [
        Placeholder(name=name, known=name not in unknown, places=used[name]) for name in sorted(used)
    ]
    rendered = False
    if render_with is not None and parsed_all and not any(p.severity is Severity.ERROR for p in problems):
        problems += _render_problems(env, path, sources, render_with)
        rendered = True
    return result(placeholders, problems, rendered)


def _subdoc_problems(source: _Source, names: Sequence[str]) -> list[TemplateProblem]:
    problems = []
    for name in names:
        inline = re.compile(r"\{\{(?!p\s)\s*" + re.escape(name) + r"\b")
        for place in source.places:
            if inline.search(_normalised(place.text)):
                problems.append(
                    TemplateProblem(
                        kind=ProblemKind.SYNTAX,
                        message=f"`{name}` is a table: inside a line of text it breaks the document",
                        fix=f"put it in a paragraph of its own, written {{{{p {name} }}}}",
                        place=place,
                        placeholder=name,
                    )
                )
    return problems


def _undeclared(env: SandboxedEnvironment, parsed: nodes.Template) -> set[str]:
    """The names ``parsed`` reads from its context (an unknown filter or test reported elsewhere)."""
    lenient = env.overlay()
    lenient.filters, lenient.tests = dict(env.filters), dict(env.tests)
    for node in parsed.find_all(nodes.Filter):
        lenient.filters.setdefault(node.name, lambda value, *args, **kwargs: value)
    for test in parsed.find_all(nodes.Test):
        lenient.tests.setdefault(test.name, lambda value, *args, **kwargs: True)
    parsed.set_environment(lenient)
    try:
        return meta.find_undeclared_variables(parsed)
    finally:
        parsed.set_environment(env)


def _template_line(exc: BaseException) -> int | None:
    """The template line a rendering error happened on (Jinja puts it in the traceback)."""
    line = None
    trace: TracebackType | None = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _render_problems(
    env: SandboxedEnvironment, path: Path, sources: list[_Source], real: RealContext
) -> list[TemplateProblem]:
    """Render each part with the real values (to name the place), then the whole document."""
    from docxtpl import DocxTemplate

    def failed(exc: BaseException, place: Place | None) -> TemplateProblem:
        if isinstance(exc, jinja2.exceptions.SecurityError) or (
            isinstance(exc, OverflowError) and "sandbox" in str(exc)
        ):
            kind, fix = (
                ProblemKind.SANDBOX,
                f"remove it: a template shows the context's values only ({REFERENCE_HINT})",
            )
        else:
            kind, fix = ProblemKind.RENDER, f"correct the placeholder ({REFERENCE_HINT})"
        return TemplateProblem(
            kind=kind, message=f"rendering fails with the real values: {exc}", fix=fix, place=place
        )

    values: dict[str, Any] = real.context.model_dump()
    tpl = DocxTemplate(str(path))
    try:
        for name, builder in real.subdocs.items():
            values[name] = builder(tpl)
    except Exception as exc:
        return [failed(exc, None)]
    problems = []
    for source in sources:
        try:
            env.from_string(source.text).render(values)
        except Exception as exc:  # UndefinedError, SecurityError, TypeError from a filter...
            problems.append(failed(exc, source.place_at(_template_line(exc))))
    if problems:
        return problems
    with tempfile.TemporaryDirectory(prefix="isms-template-check-") as folder:
        try:
            render_docx(path, real.context, Path(folder) / "rendered.docx", subdocs=real.subdocs)
        except Exception as exc:
            return [failed(exc, None)]
    return []
