"""Every committed history replays on today's workflow code.

A change to a workflow that would break cycles already running (a new activity, timer or
child in a different place) makes this fail; such changes go behind ``workflow.patched``.
The histories were recorded with tests/workflows/record_histories.py from the released code of
each version named in the file name (see the README there). They replay with the interceptor
every worker runs (``adapters.update_proof.UpdateProofCheck``): its signal check is a
``workflow.patched`` branch, so a history made since has its marker and needs it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from adapters.update_proof import UpdateProofCheck
from tests.conftest import TEST_PROOF_KEY
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow
from workflows.annual_review import AnnualReviewWorkflow
from workflows.role_acceptance import RoleAcceptanceWorkflow
from workflows.stack_check import StackCheckWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
WORKFLOWS = [
    AnnualReviewWorkflow,
    AcknowledgementCampaignWorkflow,
    AcknowledgementBatchWorkflow,
    RoleAcceptanceWorkflow,
    StackCheckWorkflow,
]


def test_there_are_histories_of_every_workflow() -> None:
    kinds = {path.stem.rsplit("-", 1)[-1] for path in HISTORIES}
    assert {"review", "campaign", "batch", "roles"} <= kinds, f"recorded: {[p.name for p in HISTORIES]}"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_the_current_code(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        interceptors=[UpdateProofCheck(TEST_PROOF_KEY)],  # as build_worker installs it
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
