"""Temporal access alone records nothing: the worker refuses a decision, an acknowledgement or
an opened document that does not carry the web app's proof.

Black box: the product's worker (``worker.build_worker``) on the real Temporal dev server,
with real SeaweedFS, SMTP sink and LibreOffice. The attacker is a plain client that reaches
Temporal's port (no proof key, as any process but the web app and the worker is): it sends
the CEO's signature and a person's acknowledgement straight to the workflows, with no proof,
with a proof made with another key, with one made for another cycle, and with a valid proof
copied onto a changed decision. Each is refused as ``NoProof`` and leaves the workflow as it
was (its status query and its history); the client that proves as the web app does (the one
``connect_temporal`` gives a process holding the key) is then accepted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from adapters.campaign import campaign_state
from adapters.temporal import DATA_CONVERTER, connect_temporal
from core.contract import Refusal, Update
from core.proof import with_proof
from core.settings import Settings
from documents.pdf_convert import PdfConverter
from models.ack_group import AckGroup
from models.campaign import Acknowledgement, CampaignStage, batch_id_for, signed_version_hash
from models.cycle import DocumentsViewed, SignatureDecision
from tests.workflows.helpers import CEO, current_status, finish, invited, sign, start, wait_for
from worker import build_worker
from workflows.acknowledgement import AcknowledgementBatchWorkflow
from workflows.annual_review import AnnualReviewWorkflow

OTHER_KEY = b"not-the-web-app-s-key-" + b"k" * 32
PERSON = "ravi.chandran@larkspur.example"  # in the demo staff directory


@dataclass(frozen=True)
class Stack:
    web: Client  # proves as the web app does (connect_temporal with the proof key)
    plain: Client  # reaches Temporal's port, holds no proof key
    settings: Settings


@pytest.fixture
async def stack(settings: Settings, pdf_converter: PdfConverter) -> AsyncIterator[Stack]:
    web = await connect_temporal(settings)
    plain = await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, data_converter=DATA_CONVERTER
    )
    async with build_worker(web, settings, converter=pdf_converter):
        yield Stack(web=web, plain=plain, settings=settings)


async def refused_as(call: Awaitable[object]) -> str:
    """The refusal type ``call`` ends in (it fails the test if the update was accepted)."""
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await call
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), cause
    return str(cause.type)


async def accepted_updates(handle: WorkflowHandle) -> int:
    history = await handle.fetch_history()
    return sum(
        1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )


async def test_a_decision_straight_to_temporal_is_refused_and_changes_nothing(stack: Stack) -> None:
    handle = await start(stack.web, stack.settings)
    status = await wait_for(handle, invited)
    key = stack.settings.proof_key()
    decision = sign(status)
    as_attacker = stack.plain.get_workflow_handle(handle.id)
    before, updates_before = await current_status(handle), await accepted_updates(handle)

    attempts: dict[str, SignatureDecision] = {
        "no proof": decision,
        "a proof made with another key": with_proof(
            OTHER_KEY, workflow_id=handle.id, update=Update.DECIDE, payload=decision
        ),
        "a proof made for another cycle": with_proof(
            key,
            workflow_id=f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}",
            update=Update.DECIDE,
            payload=decision,
        ),
        "a proof made for another update": with_proof(
            key, workflow_id=handle.id, update=Update.SUBMIT_REVISION, payload=decision
        ),
    }
    # a valid proof, copied onto the same decision from another address, or by another person
    proven = with_proof(key, workflow_id=handle.id, update=Update.DECIDE, payload=decision)
    attempts["a valid proof on another address"] = proven.model_copy(update={"ip": "198.51.100.66"})
    attempts["a valid proof on another person"] = proven.model_copy(
        update={"person": "mallory@larkspur.example"}
    )
    attempts["a valid proof on another typed name"] = proven.model_copy(update={"typed_name": "Someone Else"})

    seen = {
        what: await refused_as(as_attacker.execute_update(AnnualReviewWorkflow.decide, attempt))
        for what, attempt in attempts.items()
    }
    assert seen == dict.fromkeys(attempts, Refusal.NO_PROOF.value)

    # nothing changed: the status a page reads, and the history (no update was ever accepted)
    after = await current_status(handle)
    assert after == before
    assert await accepted_updates(handle) == updates_before == 0

    # the web app's client proves, and the same decision is recorded
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, decision)
    assert receipt.round == status.round
    assert await accepted_updates(handle) == 1
    recorded = await current_status(handle)
    assert [e.event for e in recorded.events][-1] == "signed"


async def test_an_opened_document_without_proof_is_not_recorded(stack: Stack) -> None:
    handle = await start(stack.web, stack.settings)
    status = await wait_for(handle, invited)
    forged_document, proven_document = status.documents[0].name, status.documents[1].name
    viewed = DocumentsViewed(
        person=CEO, version_hash=status.version_hash, document=forged_document, ip="203.0.113.9"
    )
    as_attacker = stack.plain.get_workflow_handle(handle.id)
    await as_attacker.signal(AnnualReviewWorkflow.documents_viewed, viewed)
    forged = with_proof(OTHER_KEY, workflow_id=handle.id, update="documents_viewed", payload=viewed)
    await as_attacker.signal(AnnualReviewWorkflow.documents_viewed, forged)
    # sent after the others and handled in order: once it shows, the two before it were dropped
    await handle.signal(
        AnnualReviewWorkflow.documents_viewed, viewed.model_copy(update={"document": proven_document})
    )
    recorded = await wait_for(handle, lambda s: "opened" in [e.event for e in s.events])
    opened = [e.detail for e in recorded.events if e.event == "opened"]
    assert opened == [proven_document]
    # a dropped signal does not fail the workflow
    description = await handle.describe()
    assert description.status is not None
    assert description.status.name == "RUNNING"


async def test_an_acknowledgement_straight_to_temporal_is_refused(stack: Stack) -> None:
    handle = await start(stack.web, stack.settings)
    status = await wait_for(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    result = await finish(handle)
    documents = {d.name: d.pdf.sha256 for d in result.signed.documents}
    acknowledged = {draft.name for draft in status.documents if draft.acknowledges}  # not the letter
    ack = Acknowledgement(
        person=PERSON,
        version_hash=signed_version_hash(documents),
        link_id=uuid.uuid4().hex,
        documents={name: sha256 for name, sha256 in documents.items() if name in acknowledged},
        ip="198.51.100.9",
        user_agent="pytest",
    )
    batch_id = batch_id_for(handle.id, await _batch_holding(stack.web, handle.id, PERSON))

    as_attacker = stack.plain.get_workflow_handle(batch_id)
    assert (
        await refused_as(
            as_attacker.execute_update(AcknowledgementBatchWorkflow.acknowledge, ack, id="forged-1")
        )
        == Refusal.NO_PROOF.value
    )
    proven = with_proof(
        stack.settings.proof_key(), workflow_id=batch_id, update=Update.ACKNOWLEDGE, payload=ack
    )
    copied = proven.model_copy(update={"person": "sofia.alvarez@larkspur.example"})
    assert (
        await refused_as(
            as_attacker.execute_update(AcknowledgementBatchWorkflow.acknowledge, copied, id="forged-2")
        )
        == Refusal.NO_PROOF.value
    )
    # a group of acknowledgements is proven as one argument, the same way
    group = AckGroup(acks=[ack])
    assert (
        await refused_as(
            as_attacker.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, group, id="forged-3")
        )
        == Refusal.NO_PROOF.value
    )
    proven_group = with_proof(
        stack.settings.proof_key(), workflow_id=batch_id, update=Update.ACKNOWLEDGE_GROUP, payload=group
    )
    changed = proven_group.model_copy(update={"acks": [copied.model_copy(update={"proof": ""})]})
    assert (
        await refused_as(
            as_attacker.execute_update(AcknowledgementBatchWorkflow.acknowledge_group, changed, id="forged-4")
        )
        == Refusal.NO_PROOF.value
    )
    page = await stack.web.get_workflow_handle(batch_id).query(AcknowledgementBatchWorkflow.page, PERSON)
    assert page is not None
    assert page.person is not None
    assert page.person.acknowledged_at is None
    assert await accepted_updates(stack.web.get_workflow_handle(batch_id)) == 0

    receipt = await stack.web.get_workflow_handle(batch_id).execute_update(
        AcknowledgementBatchWorkflow.acknowledge, ack, id="web-1"
    )
    assert receipt.person == PERSON
    assert not receipt.already
    # the web app's client proves a group too: taken, and this person's answer is the record
    answered = await stack.web.get_workflow_handle(batch_id).execute_update(
        AcknowledgementBatchWorkflow.acknowledge_group, group, id="web-2"
    )
    (outcome,) = answered.outcomes
    assert outcome.refused is not None
    assert outcome.refused.kind is Refusal.ALREADY_ACKNOWLEDGED
    assert outcome.earlier is not None
    assert outcome.earlier.acknowledged_at == receipt.acknowledged_at


async def _batch_holding(client: Client, cycle_id: str, email: str, *, within: float = 120) -> int:
    """The batch whose page query knows ``email``, once the campaign runs and its batches loaded."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        campaign = await campaign_state(client, cycle_id)
        if campaign is not None and campaign.stage is CampaignStage.RUNNING:
            for batch in range(1, campaign.batches + 1):
                page = await client.get_workflow_handle(batch_id_for(cycle_id, batch)).query(
                    AcknowledgementBatchWorkflow.page, email
                )
                if page is not None and page.person is not None:
                    return batch
        await asyncio.sleep(0.2)
    raise AssertionError(f"{email} is in no batch of a running campaign")
