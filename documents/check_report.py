"""The Clause 5 check report as files: JSON for tools, a readable page for the auditor.

Both are pure functions of the report (no clock, no randomness), so a retried archive writes
the same bytes under the same keys.

>>> html = check_report_html(check_report(profile, staff, today=date(2026, 11, 23)))
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import jinja2

from models.check_report import Clause5CheckReport

TEMPLATE = "check_report.html"


@cache
def _template() -> jinja2.Template:
    source = files("doc_templates").joinpath(TEMPLATE).read_text(encoding="utf-8")
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return environment.from_string(source)


def check_report_json(report: Clause5CheckReport) -> bytes:
    """The report as indented JSON (UTF-8)."""
    return (report.model_dump_json(indent=2) + "\n").encode()


def check_report_html(report: Clause5CheckReport) -> bytes:
    """The report as one self-contained HTML page (UTF-8); every value the profile supplied is escaped."""
    return _template().render(report=report).encode()
