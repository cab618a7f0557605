"""Who a document is for: an :class:`~models.profile.Audience` applied to the staff directory.

Pure: the Clause 5 check names an audience that selects nobody or names what the directory
does not have; the campaign asks, person by person, which documents each one acknowledges::

    selects(entry.audience, person)                    # True / False
    audience_problems(entry.audience, staff, on=today)  # ["names department 'Enginering', ..."]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date

from models.profile import Audience
from models.staff import Person, StaffDirectory


def _folded(values: Iterable[str]) -> set[str]:
    return {value.strip().casefold() for value in values}


def selects(audience: Audience, person: Person) -> bool:
    """Whether ``audience`` takes in ``person`` (everyone, or any selector that matches)."""
    if audience.everyone:
        return True
    if person.department.strip().casefold() in _folded(audience.departments):
        return True
    if person.job_title.strip().casefold() in _folded(audience.job_titles):
        return True
    if _folded(audience.people) & {person.email.casefold(), person.employee_id.casefold()}:
        return True
    for column, values in audience.columns.items():
        value = person.column(column)
        if value is not None and value.strip().casefold() in _folded(values):
            return True
    return False


def _closest(wanted: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(wanted, sorted(set(known)), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def audience_problems(audience: Audience, staff: StaffDirectory, *, on: date) -> list[str]:
    """What is wrong with ``audience`` against ``staff``: unknown names, or nobody in scope selected."""
    people = [person for person in staff.people if person.in_scope and person.is_current(on)]
    problems: list[str] = []
    departments = {person.department for person in staff.people}
    known_departments = _folded(departments)
    for department in audience.departments:
        if department.strip().casefold() not in known_departments:
            problems.append(
                f"names department {department!r}, which nobody in the staff directory is in"
                + _closest(department, departments)
            )
    titles = {person.job_title for person in staff.people}
    known_titles = _folded(titles)
    for title in audience.job_titles:
        if title.strip().casefold() not in known_titles:
            problems.append(
                f"names job title {title!r}, which nobody in the staff directory has"
                + _closest(title, titles)
            )
    for reference in audience.people:
        if staff.find(reference) is None:
            problems.append(f"names {reference!r}, who is not in the staff directory")
    columns = {name for person in staff.people for name in person.columns}
    for column in audience.columns:
        key = column.strip().lower()
        if not any(person.column(key) is not None for person in staff.people):
            problems.append(
                f"selects on column {column!r}, which the staff directory does not have"
                + _closest(key, columns)
            )
    if not problems and not any(selects(audience, person) for person in people):
        problems.append(f"selects nobody in scope ({audience.describe()})")
    return problems
