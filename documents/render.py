"""The render engine: a docxtpl template and a context model in, a deterministic .docx out.

Rendering uses a sandboxed Jinja2 environment with autoescaping and strict undefined variables:
profile text is data, never template code, so ``{{ 7*7 }}`` or ``<b>`` in a role title comes out
literally and the document XML stays well-formed; a placeholder with no value is an error, not a
blank. The same context gives the same bytes (fixed zip timestamps)::

    render_docx(TEMPLATES / "information_security_policy.docx", context, Path("out/policy.docx"))
    undeclared_variables(TEMPLATES / "information_security_policy.docx", context)   # set()

What goes into each document is :mod:`documents.context` (and :mod:`documents.raci` for the
RACI table); which documents a cycle has is :mod:`documents.pipeline`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree  # type: ignore[import-untyped]
from pydantic import BaseModel

from core.files import write_atomic

TEMPLATES = Path(__file__).resolve().parents[1] / "doc_templates"
"""The folder of the .docx templates (written by the build scripts in ``doc_templates/``)."""

SubdocBuilder = Callable[[Any], Any]
"""Builds the XML of a subdocument for the template being rendered (``tpl -> RawXml``)."""


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
    return write_atomic(out, normalise_docx(rendered.getvalue()))


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
