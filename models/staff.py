"""The staff directory, as exported by an HR system (one row a person)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

REQUIRED_COLUMNS = (
    "employee_id",
    "name",
    "email",
    "department",
    "job_title",
    "manager_email",
    "start_date",
    "end_date",
    "in_scope",
)


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    employee_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str = Field(min_length=3)
    department: str
    job_title: str
    manager_email: str | None
    start_date: date | None
    end_date: date | None
    in_scope: bool
    # the HR export's other columns (header lowercased, values as written): audiences select on them
    columns: dict[str, str] = Field(default_factory=dict)

    def column(self, name: str) -> str | None:
        """The value of column ``name`` (case-insensitive): a required column or another one."""
        key = name.strip().lower()
        if key in REQUIRED_COLUMNS:
            value = getattr(self, key)
            return None if value is None else str(value)
        return self.columns.get(key)

    def is_current(self, on: date) -> bool:
        """Employed on ``on``: started (or no start date) and not past the end date."""
        started = self.start_date is None or self.start_date <= on
        return started and (self.end_date is None or self.end_date >= on)


class StaffDirectory(BaseModel):
    model_config = ConfigDict(frozen=True)

    people: list[Person]

    def find(self, reference: str) -> Person | None:
        """The person whose email (case-insensitive) or employee id is ``reference``."""
        wanted = reference.strip().lower()
        for person in self.people:
            if person.email.lower() == wanted or person.employee_id.lower() == wanted:
                return person
        return None
