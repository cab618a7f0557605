"""ScheduledReviewWorkflow's logic: the year's cycle under its own id, and a cycle started by hand left alone."""

from __future__ import annotations

import uuid

from temporalio.client import WorkflowHandle

from models.cycle import AnnualReviewInput, cycle_id_for
from models.schedule import ScheduledReviewInput, ScheduledReviewResult
from tests.logic.scenario import LEAD, Tier, invited, routing, staff
from workflows.annual_review import AnnualReviewWorkflow
from workflows.scheduled import ScheduledReviewWorkflow


async def test_the_schedule_starts_the_years_cycle_and_waits_for_it(tier: Tier) -> None:
    short_name = f"larkspur-{uuid.uuid4().hex[:6]}"
    year = (await tier.now()).year
    schedule = await tier.env.client.start_workflow(
        ScheduledReviewWorkflow.run,
        ScheduledReviewInput(
            short_name=short_name,
            profile=tier.standins.profile(routing()),
            staff=tier.standins.directory(staff(3)),
            set_by=LEAD.email,
            batch_size=7,
        ),
        id=f"scheduled-{uuid.uuid4().hex[:8]}",
        task_queue=tier.task_queue,
    )
    cycle: WorkflowHandle[AnnualReviewWorkflow, object] = tier.env.client.get_workflow_handle(
        cycle_id_for(short_name, year)
    )
    status = await tier.wait_status(cycle, invited)
    assert status.cycle_id == f"isms-review-{short_name}-{year}"
    assert status.events[0].actor == f"schedule (set by {LEAD.email})"
    history = await cycle.fetch_history()
    (payload,) = history.events[0].workflow_execution_started_event_attributes.input.payloads
    started = AnnualReviewInput.model_validate_json(payload.data)
    assert (started.year, started.batch_size) == (year, 7)
    # the schedule's workflow is still waiting for its cycle: that is what makes SKIP skip
    description = await schedule.describe()
    assert description.status is not None
    assert description.status.name == "RUNNING"


async def test_a_cycle_started_by_hand_that_year_is_left_alone(tier: Tier) -> None:
    short_name = f"larkspur-{uuid.uuid4().hex[:6]}"
    year = (await tier.now()).year
    profile, directory = tier.standins.profile(routing()), tier.standins.directory(staff(3))
    by_hand = await tier.env.client.start_workflow(
        AnnualReviewWorkflow.run,
        AnnualReviewInput(
            cycle_id=cycle_id_for(short_name, year),
            year=year,
            profile=profile,
            staff=directory,
            started_by=LEAD.email,
        ),
        id=cycle_id_for(short_name, year),
        task_queue=tier.task_queue,
    )
    await tier.wait_status(by_hand, invited)
    result = await tier.env.client.execute_workflow(
        ScheduledReviewWorkflow.run,
        ScheduledReviewInput(short_name=short_name, profile=profile, staff=directory, set_by=LEAD.email),
        id=f"scheduled-{uuid.uuid4().hex[:8]}",
        task_queue=tier.task_queue,
    )
    assert isinstance(result, ScheduledReviewResult)
    assert result == ScheduledReviewResult(
        cycle_id=cycle_id_for(short_name, year), started=False, detail="already started by hand"
    )
    status = await tier.status(by_hand)
    assert status.events[0].actor == LEAD.email
    assert len(tier.standins.of("check_documents")) == 1, "the scheduled start checked nothing"
