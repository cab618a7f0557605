"""AnnualReviewWorkflow's logic: changes requested, revision rounds, and revisions racing decisions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.contract import Refusal
from models.campaign import FreezeInput
from models.cycle import DecisionKind, DocumentsViewed, RevisionInput, Stage
from models.signing import SignDocumentsInput
from tests.logic.scenario import (
    CEO,
    DAY,
    LEAD,
    Tier,
    clause5_error,
    close_to,
    invited,
    refusal,
    request_changes,
    routing,
    sign,
    staff,
)
from workflows.annual_review import AnnualReviewWorkflow

COMMENT = "Please add the Leeds office to the scope."


async def test_changes_requested_then_the_revision_supersedes_and_its_ladder_starts_again(tier: Tier) -> None:
    standins = tier.standins
    directory = standins.directory(staff(4))
    handle = await tier.start_review(staff_directory=directory)
    first = await tier.wait_status(handle, invited)
    await tier.sleep(4 * DAY)  # the first reminder went out at day 3
    await standins.wait_mail(f"{handle.id}/round-1/reminder-1")

    reminded = await tier.status(handle)  # the CEO answers from the reminder, the newest link
    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, request_changes(reminded, COMMENT))
    assert (receipt.kind, receipt.round) == (DecisionKind.REQUEST_CHANGES, 1)
    waiting = await tier.wait_status(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    assert waiting.last_comment == COMMENT
    assert waiting.waiting_on == "Ravi Chandran (ISMS Manager) to submit a revised profile"
    to_lead = await standins.wait_mail(f"{handle.id}/round-1/changes-requested")
    assert to_lead.to == [LEAD.email]
    assert to_lead.template == "changes_requested"
    assert to_lead.context["comment"] == COMMENT

    # while the lead revises, the CEO is not chased: ten days send nothing
    count = len(standins.mail)
    await tier.sleep(10 * DAY)
    assert len(standins.mail) == count
    message = await refusal(
        handle.execute_update(AnnualReviewWorkflow.decide, sign(first)), Refusal.NOT_AWAITING_SIGNATURE
    )
    assert message == "not awaiting a signature (the cycle is awaiting revision)"

    revised = standins.profile(routing("3.1"), change_lines=["Version 3.0 -> 3.1"])
    accepted = await handle.execute_update(
        AnnualReviewWorkflow.submit_revision, RevisionInput(profile=revised, submitted_by=LEAD.email)
    )
    assert accepted.round == 2
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert second.version == "3.1"
    assert second.version_hash != first.version_hash
    assert second.change_lines == ["Version 3.0 -> 3.1"]
    invitation = await standins.wait_mail(f"{handle.id}/round-2/invitation")
    assert invitation.link is not None
    assert invitation.link.version_hash == second.version_hash
    assert invitation.context["change_lines"] == ["Version 3.0 -> 3.1"]
    assert invitation.context["version"] == "3.1"

    stale = await refusal(handle.execute_update(AnnualReviewWorkflow.decide, sign(first)), Refusal.SUPERSEDED)
    assert stale.startswith("superseded")

    # the ladder counts from the new version's invitation, not from the cycle's start
    await tier.sleep(3 * DAY + timedelta(minutes=5))
    reminder = await standins.wait_mail(f"{handle.id}/round-2/reminder-1")
    assert close_to(reminder.at, invitation.at + 3 * DAY)
    round_one = [k.rsplit("/", 1)[-1] for k in standins.mail_keys() if "/round-1/" in k]
    assert round_one == ["invitation", "reminder-1", "changes-requested"]

    await handle.execute_update(AnnualReviewWorkflow.decide, sign(await tier.status(handle)))
    done = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    assert done.round == 2
    (signing,) = standins.of("sign_documents")
    assert isinstance(signing.data, SignDocumentsInput)
    assert signing.data.version == "3.1"
    assert signing.data.profile == revised
    assert signing.data.shown_documents == {d.name: d.shown_sha256 for d in second.documents}
    checked = [call.data.profile for call in standins.of("check_documents")]
    assert checked[0] != revised
    assert checked[1:] == [revised, revised]  # the update's check, then the round's
    events = [e.event for e in done.events]
    assert events.index("changes requested") < events.index("revised") < events.index("signed")
    (freeze,) = await standins.wait_calls("freeze_directory")
    assert isinstance(freeze.data, FreezeInput)
    assert freeze.data.staff == directory, "a revision without a directory keeps the current one"


async def test_a_revision_while_the_ceo_is_still_deciding_supersedes_the_version(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    first = await tier.wait_status(handle, invited)
    await tier.sleep(DAY)
    joiners = standins.directory(staff(6))
    revised = standins.profile(routing("3.1"))
    receipt = await handle.execute_update(
        AnnualReviewWorkflow.submit_revision,
        RevisionInput(profile=revised, staff=joiners, submitted_by=LEAD.email),
    )
    assert receipt.round == 2
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert second.version == "3.1"
    old = await refusal(handle.execute_update(AnnualReviewWorkflow.decide, sign(first)), Refusal.SUPERSEDED)
    assert old.startswith("superseded")
    sent = (await standins.wait_mail(f"{handle.id}/round-2/invitation")).at

    await tier.sleep(sent + 3 * DAY - await tier.now() + timedelta(minutes=5))
    assert f"{handle.id}/round-1/reminder-1" not in standins.mail_keys(), "the old version was chased"
    reminder = await standins.wait_mail(f"{handle.id}/round-2/reminder-1")
    assert close_to(reminder.at, sent + 3 * DAY)

    await handle.execute_update(AnnualReviewWorkflow.decide, sign(await tier.status(handle)))
    (freeze,) = await standins.wait_calls("freeze_directory")
    assert freeze.data.staff == joiners, "the campaign freezes the revision's directory"


async def test_a_revision_failing_clause5_is_refused_and_changes_nothing(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    first = await tier.wait_status(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, request_changes(first, COMMENT))
    await tier.wait_status(handle, lambda s: s.stage is Stage.AWAITING_REVISION)

    failing = standins.profile(routing("3.1"), findings=[clause5_error()])
    message = await refusal(
        handle.execute_update(
            AnnualReviewWorkflow.submit_revision, RevisionInput(profile=failing, submitted_by=LEAD.email)
        ),
        Refusal.REVISION_FAILS_CLAUSE5,
    )
    assert message == "revision refused: 1 Clause 5 error(s)"
    after = await tier.status(handle)
    assert after.stage is Stage.AWAITING_REVISION
    assert after.round == 1
    assert after.version == "3.0"
    assert after.version_hash == first.version_hash
    assert "revised" not in [e.event for e in after.events]
    assert len(standins.of("render_documents")) == 1

    good = standins.profile(routing("3.1"))
    receipt = await handle.execute_update(
        AnnualReviewWorkflow.submit_revision, RevisionInput(profile=good, submitted_by=LEAD.email)
    )
    assert receipt.round == 2
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert second.version == "3.1"


async def test_a_second_revision_while_the_first_is_checked_is_refused(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    await tier.wait_status(handle, invited)
    first = standins.profile(routing("3.1"))
    async with standins.holding("check_documents") as held:
        submitted = asyncio.create_task(
            handle.execute_update(
                AnnualReviewWorkflow.submit_revision, RevisionInput(profile=first, submitted_by=LEAD.email)
            )
        )
        await asyncio.wait_for(held.entered.wait(), 15)
        second = standins.profile(routing("3.2"))
        message = await refusal(
            handle.execute_update(
                AnnualReviewWorkflow.submit_revision, RevisionInput(profile=second, submitted_by=LEAD.email)
            ),
            Refusal.REVISION_IN_PROGRESS,
        )
        assert message == "a revision is already being processed"
    receipt = await submitted
    assert receipt.round == 2
    status = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert status.version == "3.1"


async def test_the_ceo_signing_while_a_revision_is_checked_wins(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    revised = standins.profile(routing("3.1"))
    async with standins.holding("check_documents") as held:
        submitted = asyncio.create_task(
            handle.execute_update(
                AnnualReviewWorkflow.submit_revision, RevisionInput(profile=revised, submitted_by=LEAD.email)
            )
        )
        await asyncio.wait_for(held.entered.wait(), 15)
        receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
        assert receipt.kind is DecisionKind.SIGN
    message = await refusal(submitted, Refusal.SIGNED_MEANWHILE)
    assert message == "revision refused: the CEO signed the current version meanwhile"
    done = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    assert (done.round, done.version) == (1, "3.0")
    assert standins.of("sign_documents")[0].data.version == "3.0"
    assert "revised" not in [e.event for e in done.events]


async def test_the_old_version_is_superseded_as_soon_as_a_revision_is_accepted(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    first = await tier.wait_status(handle, invited)
    policy = first.documents[0].name

    def opened(document: str, version_hash: str) -> DocumentsViewed:
        return DocumentsViewed(
            person=CEO.email, version_hash=version_hash, document=document, ip="203.0.113.7"
        )

    revised = standins.profile(routing("3.1"))
    async with standins.holding("render_documents") as rendering:
        # the first render went through before the gate: this holds the revision's
        await handle.execute_update(
            AnnualReviewWorkflow.submit_revision, RevisionInput(profile=revised, submitted_by=LEAD.email)
        )
        await asyncio.wait_for(rendering.entered.wait(), 15)
        status = await tier.status(handle)
        assert status.stage is Stage.RENDERING
        assert (status.round, status.version, status.version_hash) == (2, "", ""), (
            "no version is on offer while the revision is rendered"
        )
        assert status.documents == []
        stale = await refusal(
            handle.execute_update(AnnualReviewWorkflow.decide, sign(first)), Refusal.SUPERSEDED
        )
        assert stale == "superseded: this link is for an earlier version of the documents"
        await handle.signal(AnnualReviewWorkflow.documents_viewed, opened(policy, first.version_hash))
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert second.version == "3.1"
    await handle.signal(AnnualReviewWorkflow.documents_viewed, opened(policy, second.version_hash))
    viewed = await tier.wait_status(handle, lambda s: "opened" in [e.event for e in s.events])
    opens = [e for e in viewed.events if e.event == "opened"]
    assert len(opens) == 1, "the open of the superseded version was recorded"
    assert opens[0].at >= second.events[-1].at, "the open recorded is the new version's"
