"""AnnualReviewWorkflow's logic: the sign path, the signature ladder, stages and the status query."""

from __future__ import annotations

from datetime import timedelta

from models.cycle import DecisionKind, DocumentsViewed, RevisionInput, Stage
from models.documents import CheckDocumentsInput, RenderDocumentsInput
from models.links import LinkRole
from models.profile import SignatureSchedule
from models.signing import SignDocumentsInput
from tests.logic.scenario import (
    CEO,
    CHAIR,
    DAY,
    LEAD,
    Tier,
    close_to,
    invited,
    routing,
    sign,
)
from workflows.annual_review import AnnualReviewWorkflow


async def test_sign_path_asks_for_what_the_version_needs(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    started = status.events[0].at

    assert [call.name for call in standins.calls] == ["check_documents", "render_documents", "send_email"]
    check = standins.of("check_documents")[0].data
    assert isinstance(check, CheckDocumentsInput)
    render = standins.of("render_documents")[0].data
    assert isinstance(render, RenderDocumentsInput)
    assert render.cycle_id == handle.id
    assert render.profile == check.profile
    assert status.version == "3.0"
    assert status.round == 1
    assert status.organisation == "Larkspur Analytics Ltd"
    assert status.waiting_on == "Eleanor Marsh (Chief Executive) to sign or request changes"
    assert len(status.version_hash) == 64
    assert len(status.documents) == 2

    invitation = await standins.wait_mail(f"{handle.id}/round-1/invitation")
    assert invitation.template == "ceo_invitation"
    assert invitation.to == [CEO.email]
    assert invitation.link is not None
    assert invitation.link.role is LinkRole.SIGNER
    assert invitation.link.person == CEO.email
    assert invitation.link.version_hash == status.version_hash
    assert invitation.context["deadline"] == (started + 14 * DAY).strftime("%d %B %Y")
    assert invitation.context["documents"] == [d.name for d in status.documents]

    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    assert (receipt.kind, receipt.version, receipt.round) == (DecisionKind.SIGN, "3.0", 1)
    signed = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    (call,) = standins.of("sign_documents")
    request = call.data
    assert isinstance(request, SignDocumentsInput)
    assert request.signer.name == CEO.name
    assert request.signer.email == CEO.email
    assert request.version == "3.0"
    assert request.shown_documents == {d.name: d.shown_sha256 for d in status.documents}
    assert request.ip == "203.0.113.7"
    assert [event.event for event in request.audit_trail] == ["created", "rendered", "sent", "signed"]
    confirmation = await standins.wait_mail(f"{handle.id}/round-1/signed")
    assert confirmation.to == [CEO.email, LEAD.email]
    assert [e.event for e in signed.events] == [
        "created",
        "rendered",
        "sent",
        "signed",
        "sealed",
        "archived",
        "campaign started",
    ]
    assert signed.signed is not None
    assert signed.waiting_on == "everyone in scope to acknowledge the signed version"
    # nothing was chased: the decision came before the first reminder
    assert not [key for key in standins.mail_keys() if "reminder" in key or "escalation" in key]


async def test_signature_ladder_reminds_escalates_and_marks_overdue_on_time(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    sent = (await standins.wait_mail(f"{handle.id}/round-1/invitation")).at

    await tier.sleep(3 * DAY - (await tier.now() - sent) - timedelta(minutes=5))
    assert [m.key for m in standins.mail] == [f"{handle.id}/round-1/invitation"], "reminded before 3 days"
    assert not (await tier.status(handle)).overdue

    expected = [
        (3, "reminder-1", "ceo_reminder", [CEO.email]),
        (7, "reminder-2", "ceo_reminder", [CEO.email]),
        (10, "escalation", "signature_escalation", [LEAD.email, CHAIR.email]),
        (14, "overdue", "cycle_overdue", [LEAD.email, CEO.email]),
    ]
    for days, step, template, recipients in expected:
        await tier.sleep(sent + days * DAY - await tier.now() + timedelta(minutes=5))
        mail = await standins.wait_mail(f"{handle.id}/round-1/{step}")
        assert close_to(mail.at, sent + days * DAY), f"{step} at {mail.at - sent} after sending"
        assert mail.template == template
        assert mail.to == recipients
    reminders = standins.mails(lambda m: m.template == "ceo_reminder")
    assert [m.context["reminder_number"] for m in reminders] == [1, 2]
    assert all(m.link is not None and m.link.role is LinkRole.SIGNER for m in reminders)
    assert standins.mails(lambda m: m.key.endswith("/escalation"))[0].context["days_waiting"] == 10
    assert standins.mails(lambda m: m.key.endswith("/overdue"))[0].context["days_waiting"] == 14

    status = await tier.wait_status(handle, lambda s: s.overdue)
    assert [e.event for e in status.events][-4:] == ["reminded", "reminded", "escalated", "overdue"]
    assert status.stage is Stage.AWAITING_SIGNATURE
    # after overdue the cycle only waits: a month more sends nothing
    count = len(standins.mail)
    await tier.sleep(30 * DAY)
    assert len(standins.mail) == count
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    await standins.wait_mail(f"{handle.id}/round-1/signed")
    assert [
        k.removeprefix(f"{handle.id}/") for k in standins.mail_keys() if k.startswith(f"{handle.id}/round")
    ] == [
        "round-1/invitation",
        "round-1/reminder-1",
        "round-1/reminder-2",
        "round-1/escalation",
        "round-1/overdue",
        "round-1/signed",
    ]


async def test_a_profile_schedule_orders_its_steps_by_delay(tier: Tier) -> None:
    """Days or ISO 8601 durations, in any order: each step fires at its own delay."""
    schedule = SignatureSchedule.model_validate(
        {"reminders": ["PT12H", 4], "escalate_after": 2, "overdue_after": "P3D"}
    )
    handle = await tier.start_review(profile=tier.standins.profile(routing(schedule=schedule)))
    await tier.wait_status(handle, invited)
    sent = (await tier.standins.wait_mail(f"{handle.id}/round-1/invitation")).at
    await tier.sleep(5 * DAY)
    steps = [(m.key.rsplit("/", 1)[-1], m.at - sent) for m in tier.standins.mail[1:]]
    assert [name for name, _ in steps] == ["reminder-1", "escalation", "overdue", "reminder-2"]
    for (name, after), expected in zip(steps, [timedelta(hours=12), 2 * DAY, 3 * DAY, 4 * DAY], strict=True):
        assert close_to(sent + after, sent + expected), f"{name} after {after}"


async def test_documents_viewed_is_recorded_once_per_person_version_and_document(tier: Tier) -> None:
    handle = await tier.start_review()
    status = await tier.wait_status(handle, invited)
    document = status.documents[0].name
    for _ in range(3):
        await handle.signal(
            AnnualReviewWorkflow.documents_viewed,
            DocumentsViewed(
                person=CEO.email, version_hash=status.version_hash, document=document, ip="203.0.113.7"
            ),
        )
    await handle.signal(
        AnnualReviewWorkflow.documents_viewed,
        DocumentsViewed(person=CEO.email, version_hash="0" * 64, document=document),
    )
    await handle.signal(
        AnnualReviewWorkflow.documents_viewed,
        DocumentsViewed(
            person=CEO.email, version_hash=status.version_hash, document=status.documents[1].name
        ),
    )
    later = await tier.wait_status(handle, lambda s: [e.event for e in s.events].count("opened") >= 2)
    opened = [e for e in later.events if e.event == "opened"]
    assert [e.detail for e in opened] == [document, status.documents[1].name]
    assert opened[0].ip == "203.0.113.7"


async def test_each_rounds_ladder_decides_its_own_overdue(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review()
    await tier.wait_status(handle, invited)
    await tier.sleep(14 * DAY + timedelta(minutes=5))
    late = await tier.wait_status(handle, lambda s: s.overdue)
    assert late.round == 1

    revised = standins.profile(routing("3.1"))
    await handle.execute_update(
        AnnualReviewWorkflow.submit_revision, RevisionInput(profile=revised, submitted_by=LEAD.email)
    )
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert not second.overdue, "the new version was only just sent: it is not overdue"
    assert [e.event for e in second.events].count("overdue") == 1, "the audit trail keeps round 1's"
    sent = (await standins.wait_mail(f"{handle.id}/round-2/invitation")).at

    await tier.sleep(sent + 14 * DAY - await tier.now() - timedelta(hours=1))
    assert not (await tier.status(handle)).overdue
    await tier.sleep(timedelta(hours=2))
    again = await tier.wait_status(handle, lambda s: s.overdue)
    assert [e.event for e in again.events].count("overdue") == 2
    overdue = await standins.wait_mail(f"{handle.id}/round-2/overdue")
    assert close_to(overdue.at, sent + 14 * DAY)
