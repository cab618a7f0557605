"""ScheduledReviewWorkflow: what the yearly Temporal Schedule starts.

A Schedule's action has fixed arguments, but each year's cycle needs its own id and year; this
small workflow reads the year from the moment the schedule fired, starts that year's
AnnualReviewWorkflow as a child (id ``isms-review-<org>-<year>``), and waits for it. While it
waits, the schedule's overlap policy (skip) keeps a second one from starting. A cycle already
started by hand for that year is left alone and reported.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.annual_review import AnnualReviewWorkflow

with workflow.unsafe.imports_passed_through():
    from core.contract import WorkflowType
    from models.cycle import AnnualReviewInput, cycle_id_for
    from models.schedule import ScheduledReviewInput, ScheduledReviewResult


@workflow.defn(name=WorkflowType.SCHEDULED_REVIEW)
class ScheduledReviewWorkflow:
    @workflow.run
    async def run(self, data: ScheduledReviewInput) -> ScheduledReviewResult:
        year = workflow.now().year
        cycle_id = cycle_id_for(data.short_name, year)
        review = AnnualReviewInput(
            cycle_id=cycle_id,
            year=year,
            profile=data.profile,
            staff=data.staff,
            started_by=f"schedule (set by {data.set_by})",
            document_files=data.document_files,
        )
        if data.batch_size is not None:
            review.batch_size = data.batch_size
        try:
            child = await workflow.start_child_workflow(
                AnnualReviewWorkflow.run,
                review,
                id=cycle_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("%s already exists: the scheduled start leaves it alone", cycle_id)
            return ScheduledReviewResult(cycle_id=cycle_id, started=False, detail="already started by hand")
        await child
        return ScheduledReviewResult(cycle_id=cycle_id, started=True, detail="completed")
