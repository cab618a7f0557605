"""The web app's proof on every decision, acknowledgement and opened document, checked by the worker.

Anyone who can reach Temporal's port can send an update or a signal with any argument it
likes. The argument models a person's action arrives in (``SignatureDecision``,
``Acknowledgement``, ``DocumentsViewed``) carry a ``proof`` field (:mod:`core.proof`): an
HMAC, with a key only the web app and the worker hold, over the argument, the workflow it
is sent to and the update's or signal's name.

- :class:`UpdateProofSigner` (a client interceptor) sets that proof on every outgoing update
  and signal whose single argument has a ``proof`` field. :func:`adapters.temporal.connect_temporal`
  installs it in a process whose settings hold the proof key (the web app and the worker;
  the command line is never given the key), and :func:`proving_client` adds it to a client
  made elsewhere (the web app's tests pass their own).
- :class:`UpdateProofCheck` (a worker interceptor) refuses such an update from the validator
  step, before the workflow's own validator runs (``Refusal.NO_PROOF``: nothing is recorded,
  and nothing of the workflow's state is revealed by its refusals), and drops such a signal
  with a warning. It verifies against the id of the workflow receiving the message, so a
  proof made for one cycle does not open another.

The check needs the update to have a validator: the SDK runs none for an update without
one (``tests/unit/test_proof_interceptors.py`` keeps every such update with one). Validators
do not run on replay, so histories recorded before proofs existed replay unchanged; signals
are checked only where the workflow's history has the :data:`SIGNAL_PROOF_PATCH` marker, so
an opened-document signal recorded before proofs existed replays as it was received.

>>> client = await connect_temporal(settings)  # proves, when settings.proof_secret is set
>>> worker = Worker(client, ..., interceptors=[UpdateProofCheck(settings.proof_key())])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import temporalio.client
import temporalio.worker
from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import (
    Client,
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)
from temporalio.worker import (
    HandleSignalInput,
    HandleUpdateInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from core.contract import Refusal, refusal
from core.proof import PROOF_FIELD, proof_valid, with_proof

# the marker in a workflow's history from which on its signals' proofs are checked
SIGNAL_PROOF_PATCH = "signal-proof-checked"


def carries_proof(value: object) -> bool:
    """Whether ``value`` is a model the web app must prove (it has a ``proof`` field)."""
    return isinstance(value, BaseModel) and PROOF_FIELD in type(value).model_fields


def _proven_args(key: bytes, *, workflow_id: str, name: str, args: Sequence[Any]) -> Sequence[Any]:
    """``args`` with the proof set, when they are one argument that carries one; else as they are."""
    if len(args) != 1 or not carries_proof(args[0]):
        return args
    return [with_proof(key, workflow_id=workflow_id, update=name, payload=args[0])]


class _ProvingOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, key: bytes) -> None:
        super().__init__(next)
        self._key = key

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        input.args = _proven_args(self._key, workflow_id=input.id, name=input.update, args=input.args)
        return await super().start_workflow_update(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        input.args = _proven_args(self._key, workflow_id=input.id, name=input.signal, args=input.args)
        await super().signal_workflow(input)

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        # signal-with-start: the signal goes to the workflow of the id being started
        if input.start_signal:
            input.start_signal_args = _proven_args(
                self._key, workflow_id=input.id, name=input.start_signal, args=input.start_signal_args
            )
        return await super().start_workflow(input)

    async def start_update_with_start_workflow(
        self,
        input: StartWorkflowUpdateWithStartInput,
    ) -> WorkflowUpdateHandle[Any]:
        update = input.update_workflow_input
        update.args = _proven_args(
            self._key, workflow_id=input.start_workflow_input.id, name=update.update, args=update.args
        )
        return await super().start_update_with_start_workflow(input)


class UpdateProofSigner(temporalio.client.Interceptor):
    """Client interceptor: sets the proof of every update and signal whose argument has a ``proof``."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the proof key is empty")
        self._key = key

    def signs_with(self, key: bytes) -> bool:
        return self._key == key

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _ProvingOutbound(next, self._key)


def proving_client(client: Client, key: bytes) -> Client:
    """``client`` if it already proves with ``key``; else a client on the same connection that does.

    Any other interceptor of ``client`` is kept (the time-skipping server's, for one).
    """
    config = client.config()
    interceptors = list(config["interceptors"])
    if any(isinstance(found, UpdateProofSigner) and found.signs_with(key) for found in interceptors):
        return client
    # the last in the list runs last, just before the call is sent: the proof covers the arguments
    # as they leave, after any other interceptor changed them (and overrides another key's proof)
    config["interceptors"] = [*interceptors, UpdateProofSigner(key)]
    return Client(**config)


def unproven(key: bytes, *, workflow_id: str, name: str, args: Sequence[Any]) -> bool:
    """Whether a message must carry a proof (an argument has a ``proof`` field) and has no valid one.

    A message with more than one argument where one must be proven is refused whole: the web
    app never sends one, and a second argument would be outside what the proof covers.
    """
    if not any(carries_proof(arg) for arg in args):
        return False
    if len(args) != 1:
        return True
    return not proof_valid(key, workflow_id=workflow_id, update=name, payload=args[0])


def _checking_inbound(key: bytes) -> type[WorkflowInboundInterceptor]:
    """The workflow inbound interceptor class for ``key`` (the SDK makes one per workflow run).

    The class is made here, outside the workflow sandbox, and runs with this module's imports
    (``core.proof`` is pure: no clock, no I/O, so the check is deterministic).
    """

    class ProofCheckingInbound(WorkflowInboundInterceptor):
        def handle_update_validator(self, input: HandleUpdateInput) -> None:
            # before the workflow's own validator: an unproven caller learns nothing of its state
            info = workflow.info()
            if unproven(key, workflow_id=info.workflow_id, name=input.update, args=input.args):
                workflow.logger.warning(
                    "refused the %s update %s: it has no valid proof from the web app", input.update, input.id
                )
                raise refusal(Refusal.NO_PROOF)
            super().handle_update_validator(input)

        async def handle_signal(self, input: HandleSignalInput) -> None:
            # a signal handler that raises would fail the workflow: an unproven signal is dropped
            if any(carries_proof(arg) for arg in input.args) and workflow.patched(SIGNAL_PROOF_PATCH):
                info = workflow.info()
                if unproven(key, workflow_id=info.workflow_id, name=input.signal, args=input.args):
                    # workflow.logger says nothing while replaying
                    workflow.logger.warning(
                        "ignored a %s signal: it has no valid proof from the web app", input.signal
                    )
                    return
            await super().handle_signal(input)

    return ProofCheckingInbound


class UpdateProofCheck(temporalio.worker.Interceptor):
    """Worker interceptor: refuses unproven updates (``NoProof``) and drops unproven signals."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the proof key is empty")
        self._inbound = _checking_inbound(key)

    def workflow_interceptor_class(
        self,
        input: WorkflowInterceptorClassInput,
    ) -> type[WorkflowInboundInterceptor]:
        return self._inbound
