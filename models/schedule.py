"""The yearly schedule: what it starts each year, and what `isms schedule show` reports."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.storage import StoredObject


class ScheduledReviewInput(BaseModel):
    """Fixed when the schedule is set; the year comes from the moment the schedule fires."""

    short_name: str
    profile: StoredObject
    staff: StoredObject
    set_by: str
    batch_size: int | None = Field(None, ge=1, le=1000)
    # the files the profile's documents section names, by document id (see AnnualReviewInput)
    document_files: dict[str, StoredObject] = Field(default_factory=dict)


class ScheduledReviewResult(BaseModel):
    cycle_id: str
    started: bool  # False: a cycle with this id already existed (started by hand), left alone
    detail: str = ""


class ScheduleInfo(BaseModel):
    schedule_id: str
    organisation: str
    month: int
    day: int
    hour: int
    time_zone: str
    paused: bool
    note: str = ""
    next_runs: list[datetime] = Field(default_factory=list)
    recent_runs: list[str] = Field(default_factory=list)  # workflow ids of recent actions
    skipped_overlap: int = 0
    profile_sha256: str = ""
    staff_sha256: str = ""
    document_files: dict[str, str] = Field(default_factory=dict)  # document id -> SHA-256 of its file
