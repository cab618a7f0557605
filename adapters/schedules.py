"""The yearly Temporal Schedule of an organisation's annual review: set, show, pause, resume.

One schedule per organisation, id ``isms-annual-review-<org>``. It fires once a year on the
given month and day (hour and time zone configurable) and starts ScheduledReviewWorkflow,
which starts that year's AnnualReviewWorkflow. Overlap policy SKIP: while a year's cycle still
runs, a firing is skipped rather than queued.
"""

from __future__ import annotations

import calendar
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from core.contract import WorkflowType
from core.settings import Settings
from models.schedule import ScheduledReviewInput, ScheduleInfo

SCHEDULED_WORKFLOW = WorkflowType.SCHEDULED_REVIEW
PREFIX = "isms-annual-review-"


class ScheduleError(Exception):
    """A schedule request that cannot be done; the message says why."""


def schedule_id_for(short_name: str) -> str:
    return f"{PREFIX}{short_name}"


def check_date(month: int, day: int, hour: int, time_zone: str) -> None:
    """Refuse a date that never comes (31 April) or a zone that does not exist, before anything changes."""
    if not 1 <= month <= 12:
        raise ScheduleError(f"--month must be 1-12, got {month}")
    longest = calendar.monthrange(2024, month)[1]  # a leap year: 29 February is allowed
    if not 1 <= day <= longest:
        raise ScheduleError(f"--day must be 1-{longest} for {calendar.month_name[month]}, got {day}")
    if month == 2 and day == 29:
        raise ScheduleError("29 February comes only in leap years: choose 28 February or 1 March")
    if not 0 <= hour <= 23:
        raise ScheduleError(f"--hour must be 0-23, got {hour}")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {time_zone!r} (use an IANA name like Europe/London)"
        ) from None


def _schedule(
    settings: Settings, data: ScheduledReviewInput, *, month: int, day: int, hour: int, time_zone: str
) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SCHEDULED_WORKFLOW,
            data,
            id=f"isms-scheduled-review-{data.short_name}",
            task_queue=settings.temporal_task_queue,
            execution_timeout=timedelta(days=300),  # a cycle never runs into the next year's
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    month=[ScheduleRange(month)],
                    day_of_month=[ScheduleRange(day)],
                    hour=[ScheduleRange(hour)],
                    comment="the yearly ISO 27001 Clause 5 review",
                )
            ],
            time_zone_name=time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=7)),
        state=ScheduleState(note=f"set by {data.set_by}"),
    )


async def set_schedule(
    client: Client,
    settings: Settings,
    data: ScheduledReviewInput,
    *,
    month: int,
    day: int,
    hour: int = 9,
    time_zone: str = "UTC",
) -> tuple[str, bool]:
    """Create the organisation's schedule, or update it in place; returns (id, created)."""
    check_date(month, day, hour, time_zone)
    wanted = _schedule(settings, data, month=month, day=day, hour=hour, time_zone=time_zone)
    schedule_id = schedule_id_for(data.short_name)
    try:
        await client.create_schedule(schedule_id, wanted)
        return schedule_id, True
    except ScheduleAlreadyRunningError:
        pass

    def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
        # keep a pause the lead set; change what runs and when
        state = current.description.schedule.state
        wanted.state = ScheduleState(paused=state.paused, note=state.note or wanted.state.note)
        return ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(schedule_id).update(replace)
    return schedule_id, False


async def _describe(client: Client, schedule_id: str) -> ScheduleDescription:
    try:
        return await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise ScheduleError(f"no schedule {schedule_id}; create it with `isms schedule set`") from None
        raise


async def schedule_ids(client: Client) -> list[str]:
    found = []
    async for entry in await client.list_schedules():
        if entry.id.startswith(PREFIX):
            found.append(entry.id)
    return sorted(found)


async def resolve_schedule(client: Client, organisation: str | None) -> str:
    """The schedule of ``organisation``, or the only one there is."""
    if organisation:
        return schedule_id_for(organisation)
    found = await schedule_ids(client)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ScheduleError("no yearly schedule is set; create one with `isms schedule set`")
    names = ", ".join(s.removeprefix(PREFIX) for s in found)
    raise ScheduleError(f"several organisations have a schedule ({names}): name one with --org")


async def show_schedule(client: Client, schedule_id: str) -> ScheduleInfo:
    description = await _describe(client, schedule_id)
    schedule = description.schedule
    spec = schedule.spec
    calendar_spec = spec.calendars[0] if spec.calendars else None
    action = schedule.action
    data = None
    if isinstance(action, ScheduleActionStartWorkflow) and action.args:
        data = await client.data_converter.decode(action.args, [ScheduledReviewInput])
    recent = [
        getattr(a.action, "workflow_id", "") for a in description.info.recent_actions if a.action is not None
    ]
    return ScheduleInfo(
        schedule_id=schedule_id,
        organisation=schedule_id.removeprefix(PREFIX),
        month=calendar_spec.month[0].start if calendar_spec else 0,
        day=calendar_spec.day_of_month[0].start if calendar_spec else 0,
        hour=calendar_spec.hour[0].start if calendar_spec else 0,
        time_zone=spec.time_zone_name or "UTC",
        paused=schedule.state.paused,
        note=schedule.state.note or "",
        next_runs=list(description.info.next_action_times[:3]),
        recent_runs=[r for r in recent if r],
        skipped_overlap=description.info.num_actions_skipped_overlap,
        profile_sha256=data[0].profile.sha256 if data else "",
        staff_sha256=data[0].staff.sha256 if data else "",
        document_files={doc: stored.sha256 for doc, stored in data[0].document_files.items()} if data else {},
    )


async def pause_schedule(client: Client, schedule_id: str, *, pause: bool, note: str) -> None:
    await _describe(client, schedule_id)  # a clear error for a schedule that does not exist
    handle = client.get_schedule_handle(schedule_id)
    if pause:
        await handle.pause(note=note)
    else:
        await handle.unpause(note=note)
