"""Opened-document signals of histories made before proofs still reach the workflow on replay.

(Every committed history replays with the proof check installed: ``tests/replay``.)

The histories were recorded before proofs existed: their decisions and acknowledgements carry
none, and so do their opened-document signals. Validators do not run on replay, and the
signal check waits for its patch marker, so each replays exactly as it was received (an
opened document recorded then stays recorded).
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import (
    HandleSignalInput,
    Interceptor,
    Replayer,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from adapters.temporal import DATA_CONVERTER
from adapters.update_proof import SIGNAL_PROOF_PATCH, UpdateProofCheck
from core.contract import Signal
from tests.conftest import TEST_PROOF_KEY
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parents[1] / "replay" / "histories").glob("*.json"))


def _patched(path: Path, patch_id: str) -> bool:
    """Whether the history recorded the ``patch_id`` marker (the code it was made with had it)."""
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                if json.loads(base64.b64decode(payload["data"])).get("id") == patch_id:
                    return True
    return False


# the histories made before the signal check: their signals carry no proof and must all pass.
# (Histories made after it carry proofs bound to their workflow's id, which a committed history
# file does not keep; the integration tests prove that path on a live worker.)
WITH_SIGNALS = [
    path
    for path in HISTORIES
    if "documents_viewed" in path.read_text() and not _patched(path, SIGNAL_PROOF_PATCH)
]


def test_some_histories_have_opened_document_signals() -> None:
    assert WITH_SIGNALS, "no committed history has a documents_viewed signal to replay"


class _SignalsThatPass(Interceptor):
    """Inside the proof check: counts the opened-document signals the check let through."""

    def __init__(self) -> None:
        self.passed = 0

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        counter = self

        class Counting(WorkflowInboundInterceptor):
            async def handle_signal(self, input: HandleSignalInput) -> None:
                if input.signal == Signal.DOCUMENTS_VIEWED:
                    counter.passed += 1
                await super().handle_signal(input)

        return Counting


@pytest.mark.parametrize("path", WITH_SIGNALS, ids=[p.stem for p in WITH_SIGNALS])
async def test_opened_documents_recorded_before_proofs_reach_the_workflow_on_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    sent = sum(
        1
        for event in history.events
        if event.HasField("workflow_execution_signaled_event_attributes")
        and event.workflow_execution_signaled_event_attributes.signal_name == Signal.DOCUMENTS_VIEWED
    )
    counting = _SignalsThatPass()
    # the first interceptor is the outermost: the counter sees what the proof check passes on
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=DATA_CONVERTER,
        interceptors=[UpdateProofCheck(TEST_PROOF_KEY), counting],
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
    assert sent > 0
    assert counting.passed == sent
