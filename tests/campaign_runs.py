"""Reading a campaign's chain of runs: every run's history, from the first to the last.

The campaign continues as new (``AcknowledgementCampaignWorkflow``); each run's history ends
with the id of the next run, so the chain is followed from the first run's id.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHistory

# Temporal warns past 10,240 events in one run's history and fails the run at 51,200
RUN_HISTORY_LIMIT = 10_000


async def run_histories(client: Client, workflow_id: str, first_run_id: str) -> list[WorkflowHistory]:
    """The history of every run of ``workflow_id`` from ``first_run_id`` on, in order."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return histories


def started_children(histories: list[WorkflowHistory]) -> list[str]:
    """The workflow ids of every child the runs started, in order (a repeat would show twice)."""
    return [
        event.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for history in histories
        for event in history.events
        if event.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]
