"""Who signs, who leads the ISMS, and when to chase: what the workflow needs from the profile."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field


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


class AckLadder(BaseModel):
    """The profile's acknowledgement schedule, as the workflows use it (see models.campaign)."""

    reminders: list[timedelta] = Field(default_factory=lambda: [timedelta(days=5), timedelta(days=10)])
    manager_digest_after: timedelta = timedelta(days=14)
    summary_after: timedelta = timedelta(days=21)
    close_after: timedelta = timedelta(days=28)


class RoleLadder(BaseModel):
    """The profile's role acceptance schedule, as the workflows use it (see models.role_acceptance)."""

    reminders: list[timedelta] = Field(default_factory=lambda: [timedelta(days=3), timedelta(days=7)])
    escalate_after: timedelta = timedelta(days=10)
    close_after: timedelta = timedelta(days=28)


class CycleRouting(BaseModel):
    """Who signs, who leads, and when to chase: read from the profile by an activity."""

    organisation: str
    short_name: str
    version: str
    signer: Person
    lead: Person
    schedule: ScheduleSnapshot
    # the acknowledgement ladder; the default keeps histories from before it existed readable
    acknowledgement: AckLadder = Field(default_factory=lambda: AckLadder())
    # role acceptance after the signature; None: off in the profile (or read before it existed)
    role_acceptance: RoleLadder | None = None
    # publish and archive a public policy statement after the signature (profile public_statement)
    public_statement: bool = False
