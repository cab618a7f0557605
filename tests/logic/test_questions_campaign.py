"""Comprehension questions: a document may ask staff a few questions before they acknowledge it.

The signed version names each document's questions (``SignedVersion.questions``). The batch's
page query gives the web app the person's questions; the ``acknowledge`` Update's validator
refuses an acknowledgement whose answers are missing, wrong, or for a document the person has
no questions on (``WrongAnswers``, naming each question), and the record keeps the answers,
the first answers and the number of attempts. A document without questions, and a version
signed before questions existed, acknowledge exactly as before.
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.contract import Refusal
from models.campaign import (
    Acknowledgement,
    AckPage,
    AckReceipt,
    CampaignInput,
    PersonRecord,
    batch_id_for,
)
from models.profile import Audience, Question
from tests.logic.scenario import DAY, Tier, email, hr_staff, signed_documents
from workflows.acknowledgement import AcknowledgementBatchWorkflow

POLICY = "information-security-policy.docx"
SDP = "secure-development-policy.docx"
ENGINEERING = Audience(departments=["Engineering"])
REPORT_TO = Question(
    question="Who do you report a suspected security incident to?",
    choices=["Your line manager only", "The security desk", "Nobody"],
    correct=1,
)
REVIEWS = Question(question="Does every change need a second reviewer?", choices=["Yes", "No"], correct=0)
# the policy for everyone, without questions; the Secure Development Policy for Engineering, two
WITH_QUESTIONS = signed_documents(
    {
        POLICY: ("Information Security Policy", "3.0", Audience()),
        SDP: ("Secure Development Policy", "1.4", ENGINEERING),
    }
).model_copy(update={"questions": {SDP: [REPORT_TO, REVIEWS]}})


async def _page(tier: Tier, data: CampaignInput, person: str) -> AckPage:
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    page: AckPage | None = await handle.query(AcknowledgementBatchWorkflow.page, person)
    assert page is not None
    return page


async def _acknowledge(tier: Tier, data: CampaignInput, person: str, **answers: object) -> AckReceipt:
    """``person`` acknowledges the documents their page shows, with ``answers`` (Acknowledgement fields)."""
    page = await _page(tier, data, person)
    link = uuid.uuid4().hex
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    receipt: AckReceipt = await handle.execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(
            person=person,
            version_hash=data.signed.version_hash,
            link_id=link,
            documents=page.documents,
            ip="198.51.100.9",
            user_agent="logic-tier",
            link_sequence=page.newest_link,
            **answers,
        ),
        id=f"ack-{link}",
    )
    return receipt


async def _wrong(tier: Tier, data: CampaignInput, person: str, **answers: object) -> list[str]:
    """The questions named by the refusal of ``person``'s acknowledgement with ``answers``."""
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await _acknowledge(tier, data, person, **answers)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == Refusal.WRONG_ANSWERS, f"refused as {cause.type!r} ({cause.message})"
    assert cause.non_retryable
    (details,) = cause.details
    assert isinstance(details, list)
    return [str(item) for item in details]


async def test_answers_are_checked_and_recorded_with_the_attempts(tier: Tier) -> None:
    people = hr_staff({"Engineering": 2, "Sales": 1})  # person000-001 engineers, 002 sales
    _, data = await tier.start_campaign(people, signed=WITH_QUESTIONS)
    await tier.standins.wait(lambda: len(tier.standins.mails(lambda m: "invitation" in m.key)) >= 3)

    engineer = await _page(tier, data, email(0))
    assert engineer.questions == {SDP: [REPORT_TO, REVIEWS]}  # for the web app to check a try
    seller = await _page(tier, data, email(2))
    assert seller.questions == {}  # the policy alone: no questions for them

    # no answers, one wrong, one left out, one too many: refused, each question named
    assert await _wrong(tier, data, email(0)) == [f"{SDP}#1", f"{SDP}#2"]
    assert await _wrong(tier, data, email(0), answers={SDP: [0, 0]}) == [f"{SDP}#1"]
    assert await _wrong(tier, data, email(0), answers={SDP: [1]}) == [f"{SDP}#2"]
    assert await _wrong(tier, data, email(0), answers={SDP: [1, 0, 1]}) == [f"{SDP}#extra"]
    assert await _wrong(tier, data, email(0), answers={SDP: [1, 0], POLICY: [0]}) == [f"{POLICY}#extra"]
    # answers for a document the person has no questions on (the seller's policy) are refused too
    assert await _wrong(tier, data, email(2), answers={SDP: [1, 0]}) == [f"{SDP}#extra"]
    assert (await _page(tier, data, email(0))).person.acknowledged_at is None  # type: ignore[union-attr]

    receipt = await _acknowledge(
        tier, data, email(0), answers={SDP: [1, 0]}, attempts=3, first_answers={SDP: [0, 0]}
    )
    assert not receipt.already
    await _acknowledge(tier, data, email(1), answers={SDP: [1, 0]}, attempts=1)  # right first time
    await _acknowledge(tier, data, email(2))  # no questions: as before

    recorded = await _page(tier, data, email(0))
    assert recorded.person is not None
    assert (recorded.person.answers, recorded.person.first_answers, recorded.person.attempts) == (
        {SDP: [1, 0]},
        {SDP: [0, 0]},
        3,
    )

    await tier.sleep(29 * DAY)
    await tier.standins.wait_calls("close_campaign")
    (close,) = tier.standins.of("close_campaign")
    records: dict[str, PersonRecord] = {
        r.email: r for ref in close.data.batches for r in tier.standins.records(ref)
    }
    first_time = records[email(1)]
    assert (first_time.answers, first_time.first_answers, first_time.attempts) == (
        {SDP: [1, 0]},
        {SDP: [1, 0]},
        1,
    )
    no_questions = records[email(2)]
    assert no_questions.acknowledged_at is not None
    assert (no_questions.answers, no_questions.first_answers, no_questions.attempts) == ({}, {}, 0)
    # the close gets the questions with the documents, for the report's pass rates
    assert [(d.name, d.questions) for d in close.data.signed.campaign_documents()] == [
        (POLICY, []),
        (SDP, [REPORT_TO, REVIEWS]),
    ]


async def test_a_version_without_questions_acknowledges_as_before(tier: Tier) -> None:
    # the version as the annual review handed it before questions: no ``questions`` at all
    plain = signed_documents({POLICY: ("Information Security Policy", "3.0", Audience())})
    assert plain.questions == {}
    _, data = await tier.start_campaign(hr_staff({"Engineering": 1}), signed=plain)
    await tier.standins.wait(lambda: tier.standins.mails(lambda m: "invitation" in m.key) or None)
    assert (await _page(tier, data, email(0))).questions == {}
    receipt = await _acknowledge(tier, data, email(0))
    assert receipt.documents == plain.documents
    record = (await _page(tier, data, email(0))).person
    assert record is not None
    assert record.acknowledged_at is not None
    assert (record.answers, record.attempts) == ({}, 0)
