"""The role acceptance register and its report, built from the workflow's records at the close.

Pure functions: no I/O, no clock. The same records always give the same bytes, so a register
archived under retention can be rebuilt and compared. Times are ISO 8601 UTC to the second
with a ``Z`` (:func:`core.register.format_time`), as in the acknowledgement register.

>>> tally_roles(records).rate_text
'2 of 3 accepted'
>>> role_register_csv(records)  # one line per person and role
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2

from core.register import format_time
from models.role_acceptance import ROLE_ACCEPTANCE_TEXT, RoleRecord, RoleRegisterInput, RoleTally

ROLE_CSV_COLUMNS = (
    "email",
    "name",
    "department",
    "role_id",
    "role",
    "capacity",
    "status",
    "invited_at",
    "reminded_at",
    "escalated_at",
    "accepted_at",
    "declined_at",
    "decline_reason",
    "ip",
    "user_agent",
    "version_hash",
    "letter_sha256",
)
REPORT_TEMPLATE = "role_report.html"

# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection"),
# as in core.register: names, reasons and user agents come from people, not from us.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


class RoleStatus:
    ACCEPTED = "accepted"
    DECLINED = "declined"
    OUTSTANDING = "outstanding"


def role_status(record: RoleRecord) -> str:
    """``accepted``, ``declined`` (the latest decline, not accepted since), or ``outstanding``.

    Whichever answer came last counts: an acceptance after a decline is an acceptance, a
    decline after an acceptance withdraws it (the register keeps both times).
    """
    accepted, declined = record.accepted_at, record.declined_at
    if accepted is not None and (declined is None or accepted >= declined):
        return RoleStatus.ACCEPTED
    if declined is not None:
        return RoleStatus.DECLINED
    return RoleStatus.OUTSTANDING


def tally_roles(records: Iterable[RoleRecord]) -> RoleTally:
    """The figures: people (not roles) asked, accepted, declined, outstanding, escalated."""
    tally = RoleTally()
    for record in records:
        status = role_status(record)
        tally.total += 1
        tally.accepted += status == RoleStatus.ACCEPTED
        tally.declined += status == RoleStatus.DECLINED
        tally.outstanding += status == RoleStatus.OUTSTANDING
        tally.escalated += record.escalated_at is not None and status != RoleStatus.ACCEPTED
    return tally


def _sorted(records: Iterable[RoleRecord]) -> list[RoleRecord]:
    return sorted(records, key=lambda r: (r.department.casefold(), r.name.casefold(), r.email.casefold()))


def _time(value: datetime | None) -> str:
    return "" if value is None else format_time(value)


def _safe(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def role_register_csv(records: Iterable[RoleRecord]) -> bytes:
    """The register as UTF-8 CSV (CRLF line ends): one row per person and role they were asked to accept.

    Columns are :data:`ROLE_CSV_COLUMNS`; rows sorted by department, name and email ignoring case,
    each person's roles in the profile's order. ``reminded_at`` joins every reminder time with
    ``"; "``; ``declined_at``/``decline_reason`` are the latest decline (kept after a later
    acceptance); ``letter_sha256`` is the appointment letter the ISMS lead accepted. A cell a
    spreadsheet would read as a formula gets a leading apostrophe.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ROLE_CSV_COLUMNS)
    for record in _sorted(records):
        for assignment in record.assignments:
            cells = [
                record.email,
                record.name,
                record.department,
                assignment.role_id,
                assignment.title,
                assignment.capacity.value,
                role_status(record),
                _time(record.invited_at),
                "; ".join(format_time(when) for when in record.reminded_at),
                _time(record.escalated_at),
                _time(record.accepted_at),
                _time(record.declined_at),
                record.decline_comment,
                record.ip or "",
                record.user_agent or "",
                record.version_hash or "",
                record.letter_sha256 or "",
            ]
            writer.writerow([_safe(cell) for cell in cells])
    return buffer.getvalue().encode("utf-8")


def role_register_json(data: RoleRegisterInput) -> bytes:
    """The register as indented JSON: the cycle, the version, the figures and the records as they are."""
    records = _sorted(data.records)
    document: dict[str, Any] = {
        "cycle_id": data.cycle_id,
        "organisation": data.organisation,
        "version": data.version,
        "version_hash": data.version_hash,
        "signer": data.signer.model_dump(mode="json"),
        "lead": data.lead.model_dump(mode="json"),
        "signed_at": format_time(data.signed_at),
        "closed_at": format_time(data.closed_at),
        "statement": ROLE_ACCEPTANCE_TEXT,
        "tally": tally_roles(records).model_dump(mode="json"),
        "records": [{**record.model_dump(mode="json"), "status": role_status(record)} for record in records],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@cache
def _template() -> jinja2.Template:
    source = files("doc_templates").joinpath(REPORT_TEMPLATE).read_text(encoding="utf-8")
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    environment.filters["when"] = lambda value: "" if value is None else format_time(value)
    return environment.from_string(source)


def role_report_html(data: RoleRegisterInput) -> bytes:
    """The readable report (one self-contained page, UTF-8): the figures, who accepted what and when,
    who did not (invited, reminded, escalated), and the declines with their reasons."""
    records = _sorted(data.records)
    by_status: dict[str, list[RoleRecord]] = {
        RoleStatus.ACCEPTED: [],
        RoleStatus.DECLINED: [],
        RoleStatus.OUTSTANDING: [],
    }
    for record in records:
        by_status[role_status(record)].append(record)
    declines = [record for record in records if record.declined_at is not None]
    return (
        _template()
        .render(
            data=data,
            tally=tally_roles(records),
            accepted=by_status[RoleStatus.ACCEPTED],
            not_accepted=by_status[RoleStatus.DECLINED] + by_status[RoleStatus.OUTSTANDING],
            declines=declines,
            statement=ROLE_ACCEPTANCE_TEXT,
        )
        .encode("utf-8")
    )
