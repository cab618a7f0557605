"""Live campaign figures, read by query from the campaign workflow and each of its batches.

No batch reports its figures to the campaign (at 100,000 people that would be more signals
than a run may take); the figures are summed here from the batches' ``progress`` queries, a
bounded number at a time. Used by ``isms cycle status/watch``, the dashboard, and the
campaign's own summary email.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import BatchHandle, CampaignHandle, RpcRetry, retry_rpc
from models.campaign import (
    BatchProgress,
    CampaignProgress,
    CampaignStage,
    CampaignState,
    Tally,
)

QUERY_CONCURRENCY = 16
QUERY_TIMEOUT = timedelta(seconds=10)
# a busy worker can miss a query's deadline: ask again (at once) before giving up
QUERY_RETRY = RpcRetry(
    attempts=3, first_delay=0.0, retryable=(RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
)


async def campaign_state(client: Client, cycle_id: str) -> CampaignState | None:
    """The campaign's own state, or None when the cycle has no campaign (yet)."""
    try:
        state = await CampaignHandle(client, cycle_id).state()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return state


async def batch_progress(client: Client, cycle_id: str, batch: int) -> BatchProgress:
    batch_handle = BatchHandle.of(client, cycle_id, batch)
    return await retry_rpc(
        lambda: batch_handle.progress(rpc_timeout=QUERY_TIMEOUT), policy=QUERY_RETRY, what="progress query"
    )


def combine(state: CampaignState, batches: list[BatchProgress]) -> CampaignProgress:
    """The campaign's figures: the sum of its batches' (pure); per document in the version's order."""
    progress = CampaignProgress(
        cycle_id=state.cycle_id,
        stage=state.stage,
        started_at=state.started_at,
        deadline=state.deadline,
        batches=state.batches,
        result=state.result,
        documents=state.documents,
        by_document={document.name: Tally() for document in state.documents},
        no_documents=state.no_documents,
    )
    for batch in batches:
        progress.invited += batch.invited
        progress.left += batch.left
        progress.tally.add(batch.tally)
        for department, tally in batch.by_department.items():
            progress.by_department.setdefault(department, Tally()).add(tally)
        for name, tally in batch.by_document.items():
            progress.by_document.setdefault(name, Tally()).add(tally)
    progress.by_department = dict(sorted(progress.by_department.items()))
    return progress


async def campaign_progress(client: Client, cycle_id: str) -> CampaignProgress | None:
    """Figures for the campaign of ``cycle_id``; None when it has none.

    Once closed, the figures are the final ones recorded in the register, and no batch is
    queried. Before the batches exist, the figures are zero.
    """
    state = await campaign_state(client, cycle_id)
    if state is None:
        return None
    if state.stage is CampaignStage.CLOSED and state.result is not None:
        progress = combine(state, [])
        progress.tally = state.result.tally
        progress.by_department = state.result.by_department
        # empty for a campaign closed before the register counted per document: nothing to show
        progress.by_document = state.result.by_document
        progress.invited, progress.left = state.result.invited, state.result.left
        return progress
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def one(batch: int) -> BatchProgress | None:
        async with gate:
            try:
                return await batch_progress(client, cycle_id, batch)
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:  # not started yet
                    return None
                raise

    found = await asyncio.gather(*(one(batch) for batch in range(1, state.batches + 1)))
    return combine(state, [batch for batch in found if batch is not None])
