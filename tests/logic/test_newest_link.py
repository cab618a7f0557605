"""Only the newest link sent to a person works: the signer's and each acknowledging person's.

Each email with a link carries its number (``LinkRequest.sequence`` for the CEO's,
``CampaignMailRecipient.link_sequence`` for staff); once one is recorded as sent, an update
through an earlier email's link is refused as ``OldLink`` and records nothing, while the link of
an email still being sent already works (the rule is "at least the newest recorded").
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from core.contract import Message, Refusal
from models.campaign import Acknowledgement, AckPage, AckReceipt, CampaignInput, batch_id_for
from models.cycle import DecisionKind, RevisionInput, Stage
from models.mail import SendEmailInput
from tests.logic.scenario import (
    DAY,
    LEAD,
    Tier,
    email,
    invitations,
    invited,
    progress,
    refusal,
    request_changes,
    routing,
    sign,
    staff,
    step,
)
from workflows.acknowledgement import AcknowledgementBatchWorkflow
from workflows.annual_review import AnnualReviewWorkflow

MARGIN = timedelta(minutes=5)


def _sequence(mail_link: object) -> int:
    assert mail_link is not None, "the email carries no link"
    sequence = getattr(mail_link, "sequence", None)
    assert isinstance(sequence, int)
    return sequence


# ------------------------------------------------------------------------ the signer


async def test_the_invitation_link_stops_working_once_a_reminder_is_sent(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    invitation = await standins.wait_mail(f"{handle.id}/round-1/invitation")
    assert _sequence(invitation.link) == 0
    assert status.signer_link_sequence == 0

    await tier.sleep(invitation.at + 3 * DAY - await tier.now() + MARGIN)
    reminder = await standins.wait_mail(f"{handle.id}/round-1/reminder-1")
    assert _sequence(reminder.link) == 1
    reminded = await tier.wait_status(handle, lambda s: s.signer_link_sequence == 1)
    events = [e.event for e in reminded.events]
    assert events == ["created", "rendered", "sent", "reminded"]

    # the invitation's link: neither a signature nor a request for changes is taken
    for old in (sign(reminded, link_sequence=0), request_changes(reminded, "Add Leeds", link_sequence=0)):
        message = await refusal(handle.execute_update(AnnualReviewWorkflow.decide, old), Refusal.OLD_LINK)
        assert message == Message.OLD_LINK
    after = await tier.status(handle)
    assert after.stage is Stage.AWAITING_SIGNATURE
    assert [e.event for e in after.events] == events, "a refused old link recorded something"

    # the reminder's link works
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(reminded, link_sequence=1))
    assert receipt.kind is DecisionKind.SIGN
    await standins.wait_calls("sign_documents")

    # the second reminder's number would have been 2: the ladder numbers every email with a link
    await tier.sleep(5 * DAY)
    signer_links = [_sequence(m.link) for m in standins.mails(lambda m: m.link is not None)]
    assert signer_links == [0, 1], "a link was sent after the signature"


async def test_the_link_of_an_email_still_being_sent_already_works(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    async with standins.holding("send_email") as sending:
        # day 3: the reminder's send starts and is held before it is recorded as sent
        sleeping = asyncio.create_task(tier.sleep(3 * DAY + MARGIN))
        await asyncio.wait_for(sending.entered.wait(), 15)
        (call,) = [c for c in standins.of("send_email") if c.data.key.endswith("/reminder-1")]
        assert isinstance(call.data, SendEmailInput)
        assert _sequence(call.data.link) == 1
        assert (await tier.status(handle)).signer_link_sequence == 0, "recorded before it was sent"
        # the CEO got the reminder a moment before the server confirmed it: its link works
        receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(status, link_sequence=1))
        assert receipt.kind is DecisionKind.SIGN
    await sleeping
    await standins.wait_calls("sign_documents")


async def test_a_revision_numbers_on_so_no_earlier_round_link_works(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    first = await tier.wait_status(handle, invited)
    await tier.sleep(3 * DAY + MARGIN)
    await standins.wait_mail(f"{handle.id}/round-1/reminder-1")
    reminded = await tier.wait_status(handle, lambda s: s.signer_link_sequence == 1)
    await handle.execute_update(
        AnnualReviewWorkflow.decide, request_changes(reminded, "Add Leeds", link_sequence=1)
    )
    await tier.wait_status(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    await handle.execute_update(
        AnnualReviewWorkflow.submit_revision,
        RevisionInput(profile=standins.profile(routing("3.1")), submitted_by=LEAD.email),
    )
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    invitation = await standins.wait_mail(f"{handle.id}/round-2/invitation")
    # counted over the cycle, not per version: above every link of round 1
    assert _sequence(invitation.link) == 2
    assert second.signer_link_sequence == 2

    # a link for the earlier version keeps its own answer: superseded
    await refusal(
        handle.execute_update(AnnualReviewWorkflow.decide, sign(first, link_sequence=1)), Refusal.SUPERSEDED
    )
    # had the revision rendered the very same bytes (the same version hash), the round-1
    # reminder's link would still be an old one
    await refusal(
        handle.execute_update(AnnualReviewWorkflow.decide, sign(second, link_sequence=1)), Refusal.OLD_LINK
    )
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(second, link_sequence=2))
    assert (receipt.kind, receipt.round) == (DecisionKind.SIGN, 2)


# ---------------------------------------------------------------------------- staff


async def _page(tier: Tier, data: CampaignInput, person: str) -> AckPage | None:
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    page: AckPage | None = await handle.query(AcknowledgementBatchWorkflow.page, person)
    return page


async def _newest(tier: Tier, data: CampaignInput, person: str) -> int:
    page = await _page(tier, data, person)
    assert page is not None
    return page.newest_link


def _acknowledge(
    tier: Tier, data: CampaignInput, person: str, link_sequence: int
) -> asyncio.Future[AckReceipt]:
    link = uuid.uuid4().hex
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    return asyncio.ensure_future(
        handle.execute_update(
            AcknowledgementBatchWorkflow.acknowledge,
            Acknowledgement(
                person=person,
                version_hash=data.signed.version_hash,
                link_id=link,
                documents=data.signed.documents,
                ip="198.51.100.9",
                user_agent="logic-tier",
                link_sequence=link_sequence,
            ),
            id=f"ack-{link}",
        )
    )


def _recipients_sequences(tier: Tier, step_name: str) -> dict[str, int]:
    """Each recipient of a ladder step's emails (as the batch asked for them), and its link's number."""
    found: dict[str, int] = {}
    for call in tier.standins.of("send_campaign_mail"):
        for recipient in call.data.recipients:
            if recipient.key.endswith(f"/{step_name}"):
                assert recipient.link_for == recipient.to
                found[recipient.to] = recipient.link_sequence
    return found


async def test_a_persons_invitation_link_stops_working_once_reminded(tier: Tier) -> None:
    _, data = await tier.start_campaign(staff(3))
    await invitations(tier, 3)
    assert _recipients_sequences(tier, "invitation") == {email(n): 0 for n in range(3)}
    assert all([await _newest(tier, data, email(n)) == 0 for n in range(3)])
    early = await _acknowledge(tier, data, email(1), 0)  # before any reminder, the invitation's works
    assert early.person == email(1)

    await tier.sleep(5 * DAY + MARGIN)
    await tier.standins.wait(lambda: len(step(tier, "reminder-1")) == 2 or None, what="two reminders")
    # only the two still outstanding are reminded, each with the next number
    assert _recipients_sequences(tier, "reminder-1") == {email(0): 1, email(2): 1}
    await tier.until(lambda: _newest(tier, data, email(0)), lambda newest: newest == 1)
    assert await _newest(tier, data, email(1)) == 0  # not reminded: their invitation stays the newest

    message = await refusal(_acknowledge(tier, data, email(0), 0), Refusal.OLD_LINK)
    assert message == Message.OLD_LINK
    figures = await progress(tier, data)
    assert (figures.tally.acknowledged, figures.tally.outstanding) == (1, 2), (
        "the old link recorded something"
    )
    page = await _page(tier, data, email(0))
    assert page is not None
    assert page.person is not None
    assert page.person.acknowledged_at is None

    receipt = await _acknowledge(tier, data, email(0), 1)  # the reminder's link
    assert receipt.person == email(0)
    assert not receipt.already

    await tier.sleep(5 * DAY)
    await tier.standins.wait(lambda: step(tier, "reminder-2") or None, what="the second reminder")
    assert _recipients_sequences(tier, "reminder-2") == {email(2): 2}
    await tier.until(lambda: _newest(tier, data, email(2)), lambda newest: newest == 2)
    await refusal(_acknowledge(tier, data, email(2), 1), Refusal.OLD_LINK)
    assert (await _acknowledge(tier, data, email(2), 2)).person == email(2)


async def test_a_persons_reminder_link_works_while_the_reminder_is_still_being_sent(tier: Tier) -> None:
    _, data = await tier.start_campaign(staff(2))
    await invitations(tier, 2)
    async with tier.standins.holding("send_campaign_mail") as sending:
        # day 5: the reminders' send starts and is held before the batch records it as sent
        sleeping = asyncio.create_task(tier.sleep(5 * DAY + MARGIN))
        await asyncio.wait_for(sending.entered.wait(), 15)
        assert _recipients_sequences(tier, "reminder-1") == {email(0): 1, email(1): 1}
        assert await _newest(tier, data, email(0)) == 0, "recorded before it was sent"
        receipt = await _acknowledge(tier, data, email(0), 1)  # the reminder's link, a moment early
        assert receipt.person == email(0)
        # and until it is recorded, the invitation's link still works too
        assert (await _acknowledge(tier, data, email(1), 0)).person == email(1)
    await sleeping
    figures = await progress(tier, data)
    assert figures.tally.acknowledged == 2
