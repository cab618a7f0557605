"""The workflow's side of the signer's second factor: a signature without one is refused.

The web app adds the ``SecondFactor`` the signer passed (the emailed code, or single sign-on)
to the decision; the validator refuses a SIGN decision without one, or with one naming someone
other than the signer, before any other check of a signature (so a caller without it does not
even learn the name to type). A request for changes needs none.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.contract import Message, Refusal
from models.cycle import DecisionKind, SecondFactor, SecondFactorMethod, SignatureDecision, Stage
from tests.logic.scenario import CEO, LEAD, Tier, code_factor, invited, refusal, request_changes, sign
from workflows.annual_review import AnnualReviewWorkflow


@pytest.mark.parametrize(
    "changes",
    [
        {"second_factor": None},
        # and a wrong name as well: the refusal still names the missing factor, not the name
        {"second_factor": None, "typed_name": "Someone Else"},
        {"second_factor": code_factor(LEAD.email)},  # a code that went to someone else
        {
            "second_factor": SecondFactor(
                method=SecondFactorMethod.SSO,
                identity="attacker@elsewhere.example",
                verified_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
                detail="issuer https://idp.elsewhere.example",
            )
        },
    ],
    ids=["none", "none-and-wrong-name", "code-to-the-lead", "sso-as-another"],
)
async def test_a_signature_without_the_signers_second_factor_is_refused_and_changes_nothing(
    tier: Tier, changes: dict[str, object]
) -> None:
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    message = await refusal(
        handle.execute_update(AnnualReviewWorkflow.decide, sign(status, **changes)),
        Refusal.SECOND_FACTOR_REQUIRED,
    )
    assert message == Message.SECOND_FACTOR_REQUIRED
    assert CEO.name not in message
    after = await tier.status(handle)
    assert after.stage is Stage.AWAITING_SIGNATURE
    assert [e.event for e in after.events] == ["created", "rendered", "sent"]
    assert tier.standins.of("sign_documents") == []
    # nothing was used up: the signature with the factor is taken afterwards
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    assert receipt.kind is DecisionKind.SIGN
    await tier.standins.wait_calls("sign_documents")


async def test_single_sign_on_as_the_signer_is_a_second_factor(tier: Tier) -> None:
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    sso = SecondFactor(
        method=SecondFactorMethod.SSO,
        identity=CEO.email.upper(),  # the provider's spelling of the address: compared casefolded
        verified_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        detail="issuer https://idp.larkspur.example",
    )
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(status, second_factor=sso))
    assert receipt.kind is DecisionKind.SIGN


async def test_a_request_for_changes_needs_no_second_factor(tier: Tier) -> None:
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    decision: SignatureDecision = request_changes(status, "Add the Leeds office.")
    assert decision.second_factor is None
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, decision)
    assert receipt.kind is DecisionKind.REQUEST_CHANGES
    await tier.wait_status(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
