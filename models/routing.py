"""Who signs, who leads the ISMS, and when to chase: what the workflow needs from the profile."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel


class Person(BaseModel):
    name: str
    email: str
    title: str = ""


class ScheduleSnapshot(BaseModel):
    """The profile's signature schedule, as the workflow uses it."""

    reminders: list[timedelta]
    escalate_after: timedelta
    escalate_to: list[Person]
    overdue_after: timedelta


class CycleRouting(BaseModel):
    """Who signs, who leads, and when to chase: read from the profile by an activity."""

    organisation: str
    short_name: str
    version: str
    signer: Person
    lead: Person
    schedule: ScheduleSnapshot
