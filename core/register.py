"""The acknowledgement register and the cycle report, built from the campaign's person records.

Pure functions: no I/O, no clock. The same records always give the same bytes, so a register
archived under retention can be rebuilt and compared.

Times are written as ISO 8601 in UTC to the second with a ``Z`` suffix, e.g.
``2026-11-24T09:30:00Z``, in both the CSV and the JSON register (a naive datetime is taken
to be UTC already; sub-second digits are dropped).

>>> from datetime import UTC, datetime
>>> from models.campaign import PersonRecord
>>> records = [
...     PersonRecord(email="ada@x.example", name="Ada", department="R&D",
...                  acknowledged_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC)),
...     PersonRecord(email="bob@x.example", name="Bob", department="R&D"),
... ]
>>> overall, by_department = tally_records(records)
>>> (overall.total, overall.acknowledged, overall.outstanding)
(2, 1, 1)
>>> format_rate(overall)
'50.0%'

Per document (a cycle whose documents each go to their own audience), a person counts for a
document when it is among theirs (``PersonRecord.acknowledges``; None: every document)::

>>> tally_documents(records, documents)    # {"acceptable-use-policy.pdf": Tally(...), ...}
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any

import markdown

from models.campaign import (
    AcknowledgedDocument,
    CampaignDocument,
    CampaignReport,
    PersonRecord,
    QuestionFigures,
    Tally,
)

CSV_COLUMNS = (
    "email",
    "name",
    "department",
    "manager_email",
    "manager_name",
    "status",
    "joined",
    "invited_at",
    "reminded_at",
    "escalated_at",
    "acknowledged_at",
    "ip",
    "user_agent",
    "version_hash",
    "left_at",
    "documents",
    "acknowledges",
    "acknowledged_documents",
    "attempts",
    "answers",
    "first_answers",
)
NO_LINE_MANAGER = "No line manager"

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_time(value: datetime) -> str:
    """ISO 8601 UTC to the second with a ``Z``: the one time format of the register."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _optional_time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _status(record: PersonRecord) -> str:
    if record.left_at is not None:
        return "left"
    return "acknowledged" if record.acknowledged_at is not None else "outstanding"


def _sort_key(record: PersonRecord) -> tuple[str, str, str, str, str, str]:
    # case-insensitive first; the exact strings break ties so the order never depends on input order
    return (
        record.department.casefold(),
        record.name.casefold(),
        record.email.casefold(),
        record.department,
        record.name,
        record.email,
    )


def _sorted(records: Iterable[PersonRecord]) -> list[PersonRecord]:
    return sorted(records, key=_sort_key)


def tally_records(records: Iterable[PersonRecord], *, closed: bool = False) -> tuple[Tally, dict[str, Tally]]:
    """The overall figures and the figures per department (sorted by department).

    Leavers (``left_at`` set) are left out entirely. Overdue means outstanding and already
    escalated to the line manager; once the campaign is ``closed`` every outstanding person is.
    """
    overall = Tally()
    by_department: dict[str, Tally] = {}
    for record in records:
        if record.left_at is not None:
            continue
        acknowledged = record.acknowledged_at is not None
        overdue = not acknowledged and (closed or record.escalated_at is not None)
        one = Tally(
            total=1,
            acknowledged=int(acknowledged),
            outstanding=int(not acknowledged),
            overdue=int(overdue),
        )
        overall.add(one)
        by_department.setdefault(record.department, Tally()).add(one)
    ordered = {name: by_department[name] for name in sorted(by_department, key=lambda d: (d.casefold(), d))}
    return overall, ordered


def _counts_for(record: PersonRecord, document: CampaignDocument) -> bool:
    return record.acknowledges is None or document.name in record.acknowledges


def tally_documents(
    records: Iterable[PersonRecord], documents: Sequence[CampaignDocument], *, closed: bool = False
) -> dict[str, Tally]:
    """Per document (by name, in ``documents``' order): the people in its audience, leavers
    left out, and how many acknowledged it; overdue as in :func:`tally_records`."""
    by_document = {document.name: Tally() for document in documents}
    for record in records:
        if record.left_at is not None:
            continue
        acknowledged = record.acknowledged_at is not None
        one = Tally(
            total=1,
            acknowledged=int(acknowledged),
            outstanding=int(not acknowledged),
            overdue=int(not acknowledged and (closed or record.escalated_at is not None)),
        )
        for document in documents:
            if _counts_for(record, document):
                by_document[document.name].add(one)
    return by_document


def acknowledged_documents(record: PersonRecord) -> list[AcknowledgedDocument]:
    """What ``record``'s person acknowledged, document by document (id, version, SHA-256).

    A record from before the register kept versions has only the hashes: those are given
    with an empty version.
    """
    if record.acknowledged_documents or record.acknowledged_at is None:
        return list(record.acknowledged_documents)
    return [
        AcknowledgedDocument(id=PurePosixPath(name).stem, name=name, version="", sha256=digest)
        for name, digest in sorted(record.documents.items())
    ]


def _acknowledges_cell(record: PersonRecord) -> str:
    if record.acknowledges is None:
        return ""  # every document of the version (a cycle from before audiences)
    return "; ".join(PurePosixPath(name).stem for name in record.acknowledges)


def _acknowledged_cell(record: PersonRecord) -> str:
    return "; ".join(
        f"{document.id}@{document.version}={document.sha256}" for document in acknowledged_documents(record)
    )


def format_rate(tally: Tally) -> str:
    """The acknowledgement rate as a percentage with one decimal, rounded down: never overstated.

    Rounding down keeps a rate just below the target from showing as the target (94.96% is
    "94.9%", not "95.0%"). No one in scope reads as "100.0%", as :attr:`Tally.rate` does.
    """
    return tally.rate_text


def _neutralise(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def _documents_cell(documents: dict[str, str]) -> str:
    return "; ".join(f"{name}={digest}" for name, digest in sorted(documents.items()))


def _answers_cell(answers: dict[str, list[int]]) -> str:
    # each document's answers, the index of the choice picked per question counting from 0
    return "; ".join(
        f"{PurePosixPath(name).stem}=" + ",".join(str(answer) for answer in given)
        for name, given in answers.items()
    )


def _answers_json(answers: dict[str, list[int]]) -> dict[str, list[int]]:
    return {PurePosixPath(name).stem: list(given) for name, given in answers.items()}


def _csv_row(record: PersonRecord) -> list[str]:
    cells = [
        record.email,
        record.name,
        record.department,
        record.manager_email or "",
        record.manager_name or "",
        _status(record),
        "yes" if record.joined else "no",
        _optional_time(record.invited_at) or "",
        "; ".join(format_time(when) for when in record.reminded_at),
        _optional_time(record.escalated_at) or "",
        _optional_time(record.acknowledged_at) or "",
        record.ip or "",
        record.user_agent or "",
        record.version_hash or "",
        _optional_time(record.left_at) or "",
        _documents_cell(record.documents),
        _acknowledges_cell(record),
        _acknowledged_cell(record),
        str(record.attempts) if record.attempts else "",
        _answers_cell(record.answers),
        _answers_cell(record.first_answers),
    ]
    return [_neutralise(cell) for cell in cells]


def register_csv(records: Iterable[PersonRecord]) -> bytes:
    """The register as UTF-8 CSV (no byte order mark, CRLF line ends), one row per person.

    Columns are :data:`CSV_COLUMNS`; rows are sorted by department, name and email, ignoring
    case. ``reminded_at`` holds every reminder time joined by ``"; "`` and ``documents`` the
    hashes shown when acknowledging as ``"name=sha256; name=sha256"``; ``acknowledges`` the ids
    of the documents the person is asked to acknowledge (empty: every document of the version)
    and ``acknowledged_documents`` what they acknowledged as ``"id@version=sha256; ..."``; for
    documents with questions, ``attempts`` (how many tries it took), ``answers`` (the right answers
    given) and ``first_answers`` (the first try) as ``"id=1,0; ..."``, each the index of the choice
    picked counting from 0 (empty: no questions). A cell that a
    spreadsheet would read as a formula (it starts with ``= + - @``, a tab or a line break)
    gets a leading apostrophe: names and user agents come from people, not from us.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(record) for record in _sorted(records))
    return buffer.getvalue().encode("utf-8")


def _record_json(record: PersonRecord) -> dict[str, Any]:
    return {
        "email": record.email,
        "name": record.name,
        "department": record.department,
        "manager_email": record.manager_email,
        "manager_name": record.manager_name,
        "status": _status(record),
        "joined": record.joined,
        "invited_at": _optional_time(record.invited_at),
        "reminded_at": [format_time(when) for when in record.reminded_at],
        "escalated_at": _optional_time(record.escalated_at),
        "acknowledged_at": _optional_time(record.acknowledged_at),
        "ip": record.ip,
        "user_agent": record.user_agent,
        "version_hash": record.version_hash,
        "documents": dict(record.documents),
        "left_at": _optional_time(record.left_at),
        "acknowledges": (
            None if record.acknowledges is None else [PurePosixPath(n).stem for n in record.acknowledges]
        ),
        "acknowledged_documents": [
            document.model_dump(include={"id", "title", "version", "sha256"})
            for document in acknowledged_documents(record)
        ],
        "attempts": record.attempts,
        "answers": _answers_json(record.answers),
        "first_answers": _answers_json(record.first_answers),
    }


def register_json(
    records: Iterable[PersonRecord],
    *,
    cycle_id: str,
    version: str,
    version_hash: str,
    closed: bool = False,
    documents: Sequence[CampaignDocument] = (),
) -> bytes:
    """The register as a JSON document (UTF-8, sorted keys, two-space indent, final newline).

    ``people`` is in the CSV's order; ``totals`` is the overall tally (see :func:`tally_records`,
    ``closed`` as there) with ``by_department`` and ``by_document`` (by document id, see
    :func:`tally_documents`); ``documents`` lists what staff acknowledge (id, title, version,
    SHA-256, audience). Values are kept as they are: JSON is not read as formulas, so nothing is
    neutralised here.
    """
    ordered = _sorted(records)
    overall, by_department = tally_records(ordered, closed=closed)
    by_document = tally_documents(ordered, documents, closed=closed)
    document = {
        "cycle_id": cycle_id,
        "version": version,
        "version_hash": version_hash,
        "generated_from": "isms-cycle",
        "documents": [
            {**item.model_dump(include={"title", "version", "sha256", "audience"}), "id": item.id}
            for item in documents
        ],
        "people": [_record_json(record) for record in ordered],
        "totals": {
            **overall.model_dump(),
            "by_department": {name: tally.model_dump() for name, tally in by_department.items()},
            "by_document": {item.id: by_document[item.name].model_dump() for item in documents},
        },
    }
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _person(name: str, email: str) -> str:
    return f"{name} <{email}>"


def _manager(record: PersonRecord) -> str:
    if record.manager_email and record.manager_name:
        return _person(record.manager_name, record.manager_email)
    return record.manager_email or record.manager_name or NO_LINE_MANAGER


def _manager_order(key: str) -> tuple[bool, str, str]:
    return (key == NO_LINE_MANAGER, key.casefold(), key)  # people without a manager come last


def build_report(
    records: Sequence[PersonRecord],
    *,
    organisation: str,
    cycle_id: str,
    version: str,
    version_hash: str,
    cycle_started_at: datetime,
    signed_at: datetime,
    campaign_started_at: datetime,
    closed_at: datetime,
    documents: Sequence[CampaignDocument] = (),
    no_documents: int = 0,
) -> CampaignReport:
    """The figures of a closed campaign: every outstanding person counts as overdue.

    ``by_document`` gives each of ``documents`` (what staff acknowledge) acknowledged of the
    people in its audience.

    ``non_responders_by_manager`` maps ``"Manager Name <manager@x>"`` (or
    :data:`NO_LINE_MANAGER`) to the sorted ``"Name <email>"`` of their people who did not
    acknowledge; leavers are counted apart and joiners are those who joined and did not leave.
    """
    overall, by_department = tally_records(records, closed=True)
    grouped: dict[str, list[str]] = {}
    for record in records:
        if record.left_at is None and record.acknowledged_at is None:
            grouped.setdefault(_manager(record), []).append(_person(record.name, record.email))
    non_responders = {
        key: sorted(grouped[key], key=lambda person: (person.casefold(), person))
        for key in sorted(grouped, key=_manager_order)
    }
    return CampaignReport(
        organisation=organisation,
        cycle_id=cycle_id,
        version=version,
        version_hash=version_hash,
        cycle_started_at=cycle_started_at,
        signed_at=signed_at,
        campaign_started_at=campaign_started_at,
        closed_at=closed_at,
        tally=overall,
        by_department=by_department,
        non_responders_by_manager=non_responders,
        leavers=sum(1 for record in records if record.left_at is not None),
        joiners=sum(1 for record in records if record.joined and record.left_at is None),
        documents=list(documents),
        by_document=tally_documents(records, documents, closed=True),
        no_documents=no_documents,
        questions=question_figures(records, documents),
    )


def question_figures(
    records: Iterable[PersonRecord], documents: Sequence[CampaignDocument]
) -> list[QuestionFigures]:
    """Each question of ``documents``: of the people who acknowledged its document with answers
    (leavers included: they answered), how many got it right on their first try."""
    figures = [
        QuestionFigures(document=item.name, number=number, question=question.question)
        for item in documents
        for number, question in enumerate(item.questions, start=1)
    ]
    correct = {
        (item.name, number): question.correct
        for item in documents
        for number, question in enumerate(item.questions, start=1)
    }
    for record in records:
        for figure in figures:
            if record.acknowledged_at is None or figure.document not in record.answers:
                continue
            first = record.first_answers.get(figure.document) or record.answers[figure.document]
            figure.answered += 1
            figure.attempts += max(record.attempts, 1)
            right = (
                figure.number <= len(first)
                and first[figure.number - 1] == correct[(figure.document, figure.number)]
            )
            figure.right_first_time += int(right)
    return figures


def shortfall(tally: Tally, target: float) -> int:
    """How many more acknowledgements would reach ``target`` (0 when it is met).

    Worked in exact fractions, so 100 in scope at 95% needs exactly 95: 90 acknowledged is
    short by 5.
    """
    needed = math.ceil(Fraction(str(target)) * tally.total)
    return max(0, needed - tally.acknowledged)


# Backslash escapes for the characters Markdown reads as markup; the backslash itself and the
# table separator become character references (Python-Markdown's tables split ``\\|`` as a
# cell break), and ``< > &`` become entities so no HTML can be written through a value.
_MARKDOWN_ESCAPES = {char: "\\" + char for char in "`*_{}[]()#+!"} | {
    "\\": "&#92;",
    "|": "&#124;",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
}
_ORDERED_LIST_START = re.compile(r"^(\d+)\.(?= |$)")


def escape_markdown(value: str) -> str:
    """``value`` as inert inline Markdown on one line: it reads as itself, never as markup or HTML.

    Control characters are dropped (Python-Markdown uses some internally) and whitespace runs,
    line breaks included, become one space.
    """
    text = "".join(char for char in value if unicodedata.category(char) != "Cc" or char.isspace())
    text = " ".join(text.split())
    escaped = "".join(_MARKDOWN_ESCAPES.get(char, char) for char in text)
    if escaped.startswith("-"):  # a list item or a rule at the start of a line
        escaped = "\\" + escaped
    return _ORDERED_LIST_START.sub(r"\1\\.", escaped)  # "1." would start an ordered list


def _when(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo is not None else value
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year} {value:%H:%M} UTC"


def format_duration(duration: timedelta) -> str:
    """A duration in whole days and hours for people: "3 days 4 hours", "1 day", "less than an hour"."""
    hours = max(0, int(duration.total_seconds() // 3600))
    days, hours = divmod(hours, 24)
    parts = []
    if days:
        parts.append("1 day" if days == 1 else f"{days} days")
    if hours:
        parts.append("1 hour" if hours == 1 else f"{hours} hours")
    return " ".join(parts) if parts else "less than an hour"


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def _target(target: float) -> str:
    return f"{target * 100:g}%"


def report_markdown(report: CampaignReport) -> str:
    """The cycle report in Markdown; every value taken from people or the profile is escaped.

    It gives the version and its hash, the time the CEO took to sign, the campaign's dates, the
    acknowledgement rate against ``report.target`` ("target met" or "target NOT met (short by N
    people)"), a table per department, one per document (acknowledged of its audience) when the
    report names its documents, the non-responders by line manager and the number of joiners
    and leavers.
    """
    tally = report.tally
    missing = shortfall(tally, report.target)
    outcome = "target met" if missing == 0 else f"target NOT met (short by {_people(missing)})"
    lines = [
        f"# {escape_markdown(report.organisation)}: ISMS cycle report {escape_markdown(report.cycle_id)}",
        "",
        f"**Version:** {escape_markdown(report.version)}",
        "",
        f"**Version hash (SHA-256):** {escape_markdown(report.version_hash)}",
        "",
        f"**Time to sign:** {format_duration(report.signed_at - report.cycle_started_at)} "
        f"(cycle started {_when(report.cycle_started_at)}, signed {_when(report.signed_at)})",
        "",
        f"**Campaign:** started {_when(report.campaign_started_at)}, closed {_when(report.closed_at)}",
        "",
        "## Acknowledgements",
        "",
        f"**{format_rate(tally)}** acknowledged: {tally.acknowledged} of {tally.total} people in scope, "
        f"against a target of {_target(report.target)}: **{outcome}**.",
        "",
        f"Did not acknowledge by the close: {tally.outstanding}.",
        "",
        *(
            [
                f"In scope with no document for them (not invited, not counted): {report.no_documents}.",
                "",
            ]
            if report.no_documents
            else []
        ),
        "## By department",
        "",
        "| Department | In scope | Acknowledged | Outstanding | Rate |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for department in sorted(report.by_department, key=lambda name: (name.casefold(), name)):
        figures = report.by_department[department]
        lines.append(
            f"| {escape_markdown(department) or '(none)'} | {figures.total} | {figures.acknowledged} "
            f"| {figures.outstanding} | {format_rate(figures)} |"
        )
    if report.documents:
        lines += [
            "",
            "## By document",
            "",
            "| Document | Version | Audience | In its audience | Acknowledged | Outstanding | Rate |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for item in report.documents:
            figures = report.by_document.get(item.name, Tally())
            title = f"{escape_markdown(item.title)} ({escape_markdown(item.id)})"
            lines.append(
                f"| {title} | {escape_markdown(item.version)} | {escape_markdown(item.audience)} "
                f"| {figures.total} | {figures.acknowledged} "
                f"| {figures.outstanding} | {format_rate(figures)} |"
            )
    if report.questions:
        titles = {item.name: item.title for item in report.documents}
        lines += [
            "",
            "## Comprehension questions",
            "",
            "Everyone recorded answered every question of their documents right; the pass rate is "
            "of those who got it right on their first try.",
            "",
            "| Document | Question | Answered | Right first time | First-attempt pass rate |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for figure in report.questions:
            lines.append(
                f"| {escape_markdown(titles.get(figure.document, figure.document))} "
                f"| {figure.number}. {escape_markdown(figure.question)} | {figure.answered} "
                f"| {figure.right_first_time} | {figure.rate_text} |"
            )
    lines += ["", "## Non-responders by line manager", ""]
    if not report.non_responders_by_manager:
        lines += ["Everyone in scope acknowledged.", ""]
    for manager in sorted(report.non_responders_by_manager, key=_manager_order):
        people = report.non_responders_by_manager[manager]
        lines += [f"### {escape_markdown(manager)} ({len(people)})", ""]
        lines += [f"- {escape_markdown(person)}" for person in people]
        lines.append("")
    lines += [
        "## Joiners and leavers",
        "",
        f"- Joined during the campaign: {report.joiners}",
        f"- Left during the campaign (not counted in the figures): {report.leavers}",
        "",
    ]
    return "\n".join(lines)


_PAGE_STYLE = """\
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#24292f;\
max-width:900px;margin:2em auto;padding:0 1em;line-height:1.5}
h1,h2,h3{color:#1f3a5f}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #c8d1dc;padding:4px 10px}
th{background:#f0f2f5;text-align:left}
@media print{body{margin:0;max-width:none}}"""


def report_html(report: CampaignReport) -> str:
    """The cycle report as a standalone HTML page, converted from :func:`report_markdown`.

    Values reach the page only as escaped text: the Markdown already escapes them, and the
    page title is HTML-escaped on its own.
    """
    body = markdown.markdown(report_markdown(report), extensions=["tables"], output_format="html")
    title = html.escape(f"{report.organisation}: ISMS cycle report {report.cycle_id}", quote=True)
    return (
        "<!doctype html>\n"
        '<html lang="en-GB">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f"<style>\n{_PAGE_STYLE}\n</style>\n"
        "</head>\n"
        "<body>\n"
        f"{body}\n"
        "</body>\n"
        "</html>\n"
    )
