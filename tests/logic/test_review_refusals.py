"""AnnualReviewWorkflow's refusals: each one says why, and none of them changes anything."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from core.contract import Refusal
from models.cycle import CycleStatus, DecisionKind, RevisionInput, SignatureDecision, Stage
from tests.logic.scenario import (
    CEO,
    LEAD,
    Tier,
    clause5_error,
    invited,
    refusal,
    request_changes,
    routing,
    sign,
)
from workflows.annual_review import AnnualReviewWorkflow


def _wrong_person(status: CycleStatus) -> SignatureDecision:
    return sign(status, person=LEAD.email)


def _no_consent(status: CycleStatus) -> SignatureDecision:
    return sign(status, consent=False)


def _initials(status: CycleStatus) -> SignatureDecision:
    return sign(status, typed_name="E. Marsh")


def _empty_comment(status: CycleStatus) -> SignatureDecision:
    return request_changes(status, "   \n ")


def _earlier_version(status: CycleStatus) -> SignatureDecision:
    return sign(status, version_hash="0" * 64)


@pytest.mark.parametrize(
    ("bad", "kind", "expected"),
    [
        (_wrong_person, Refusal.NOT_THE_SIGNER, "this link is not for the person who signs"),
        (_no_consent, Refusal.CONSENT_REQUIRED, "consent to sign electronically is required"),
        (_initials, Refusal.NAME_MISMATCH, f"the typed name must be the signer's full name ({CEO.name})"),
        (
            _empty_comment,
            Refusal.COMMENT_REQUIRED,
            "a request for changes needs a comment saying what to change",
        ),
        (
            _earlier_version,
            Refusal.SUPERSEDED,
            "superseded: this link is for an earlier version of the documents",
        ),
    ],
    ids=["wrong-person", "no-consent", "wrong-typed-name", "empty-comment", "superseded"],
)
async def test_a_bad_decision_is_refused_and_the_signature_still_awaited(
    tier: Tier, bad: Callable[[CycleStatus], SignatureDecision], kind: Refusal, expected: str
) -> None:
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    message = await refusal(handle.execute_update(AnnualReviewWorkflow.decide, bad(status)), kind)
    assert message == expected
    after = await tier.status(handle)
    assert after.stage is Stage.AWAITING_SIGNATURE
    assert [e.event for e in after.events] == ["created", "rendered", "sent"]
    # the refusal used nothing up: the right decision is taken afterwards
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    assert receipt.kind is DecisionKind.SIGN
    await tier.standins.wait_calls("sign_documents")


async def test_the_typed_name_is_compared_without_case_or_extra_spaces(tier: Tier) -> None:
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    receipt = await handle.execute_update(
        AnnualReviewWorkflow.decide, sign(status, typed_name="  eleanor   MARSH ", person=CEO.email.upper())
    )
    assert receipt.kind is DecisionKind.SIGN
    (call,) = await tier.standins.wait_calls("sign_documents")
    assert call.data.signer.name == "  eleanor   MARSH "  # recorded as typed


async def test_a_second_decision_after_signing_is_refused(tier: Tier) -> None:
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    twice = await refusal(
        handle.execute_update(AnnualReviewWorkflow.decide, sign(status)), Refusal.ALREADY_SIGNED
    )
    assert twice == "already signed: version 3.0 was signed"
    changes = await refusal(
        handle.execute_update(AnnualReviewWorkflow.decide, request_changes(status, "late")),
        Refusal.ALREADY_SIGNED,
    )
    assert changes == "already signed: version 3.0 was signed"
    done = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    assert [e.event for e in done.events].count("signed") == 1
    assert len(tier.standins.of("sign_documents")) == 1
    late = await refusal(
        handle.execute_update(
            AnnualReviewWorkflow.submit_revision,
            RevisionInput(profile=tier.standins.profile(routing("3.1")), submitted_by=LEAD.email),
        ),
        Refusal.REVISION_NOT_NOW,
    )
    assert late == "a revision cannot be taken now (the cycle is acknowledging)"


async def test_nothing_is_taken_while_the_documents_are_checked_or_rendered(tier: Tier) -> None:
    standins = tier.standins
    revision = RevisionInput(profile=standins.profile(routing("3.1")), submitted_by=LEAD.email)
    async with standins.holding("check_documents") as checking:
        handle = await tier.start_review()
        await asyncio.wait_for(checking.entered.wait(), 15)
        status = await tier.status(handle)
        assert status.stage is Stage.CHECKING
        assert status.waiting_on == ""
        message = await refusal(
            handle.execute_update(AnnualReviewWorkflow.submit_revision, revision), Refusal.REVISION_NOT_NOW
        )
        assert message == "a revision cannot be taken now (the cycle is checking)"
        async with standins.holding("render_documents") as rendering:
            checking.released.set()
            await asyncio.wait_for(rendering.entered.wait(), 15)
            status = await tier.status(handle)
            assert status.stage is Stage.RENDERING
            assert status.version_hash == ""
            early = await refusal(
                handle.execute_update(AnnualReviewWorkflow.decide, sign(status)),
                Refusal.NOT_AWAITING_SIGNATURE,
            )
            assert early == "not awaiting a signature (the cycle is rendering)"
            message = await refusal(
                handle.execute_update(AnnualReviewWorkflow.submit_revision, revision),
                Refusal.REVISION_NOT_NOW,
            )
            assert message == "a revision cannot be taken now (the cycle is rendering)"
    status = await tier.wait_status(handle, invited)
    assert status.round == 1
    assert [e.event for e in status.events] == ["created", "rendered", "sent"]


async def test_a_profile_failing_clause5_fails_the_cycle_before_anything_is_sent(tier: Tier) -> None:
    error = clause5_error()
    failing = tier.standins.profile(routing(), findings=[error])
    handle = await tier.start_review(profile=failing)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "the documents fail Clause 5 and cannot go for signature"
    assert cause.details == ([f"{error.rule} at {error.where}: {error.message}"],)
    assert [call.name for call in tier.standins.calls] == ["check_documents"]
    assert tier.standins.mail == []
