"""AnnualReviewWorkflow on the Temporal dev server with the real worker and real services.

Real SeaweedFS, real SMTP sink, real LibreOffice. Only the reminder ladder's test runs on the
time-skipping server (``review_skipping``), where its 14 days pass in seconds. Emails are
asserted on as they reach the sink (by their X-Isms-Key header).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.cycle import AnnualReviewResult, DecisionKind, RevisionInput, SignatureDecision, Stage
from tests.conftest import SmtpSink
from tests.workflows.helpers import (
    CEO,
    DEMO,
    LEAD,
    current_demo_profile,
    current_status,
    finish,
    invited,
    mails,
    sign,
    start,
    store,
    wait_for,
    wait_for_mail,
)
from workflows.annual_review import AnnualReviewWorkflow


async def test_sign_path_seals_and_confirms(review: tuple[Client, Settings], smtp_sink: SmtpSink) -> None:
    client, settings = review
    handle = await start(client, settings)
    status = await wait_for(handle, invited)
    assert status.version == "3.0"
    assert status.waiting_on.startswith("Eleanor Marsh")
    invitation = await wait_for_mail(smtp_sink, handle.id, "round-1/invitation")
    assert invitation["To"] == CEO
    text = invitation.get_body(preferencelist=("plain",))
    assert text is not None
    assert f"{settings.public_base_url}/sign/" in text.get_content()

    refused = SignatureDecision(**{**sign(status).model_dump(), "typed_name": "E. Marsh"})
    with pytest.raises(WorkflowUpdateFailedError, match="update failed"):
        await handle.execute_update(AnnualReviewWorkflow.decide, refused)

    receipt = await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    assert receipt.kind is DecisionKind.SIGN
    result: AnnualReviewResult = await finish(handle)
    assert result.rounds == 1
    assert [d.name for d in result.signed.documents] == [d.name for d in status.documents]
    assert [d.draft_sha256 for d in result.signed.documents] == [d.shown_sha256 for d in status.documents]

    final = await current_status(handle)
    assert final.stage is Stage.ACKNOWLEDGING
    assert [e.event for e in final.events] == [
        "created",
        "rendered",
        "sent",
        "signed",
        "sealed",
        "archived",
        "role acceptance started",
        "campaign started",
    ]
    confirmation = await wait_for_mail(smtp_sink, handle.id, "round-1/signed")
    assert {CEO, LEAD} <= {a.strip() for a in str(confirmation["To"]).split(",")}
    # the signed version goes to everyone in scope: each gets an invitation with a staff link
    staff_invitation = await wait_for_mail(smtp_sink, handle.id, f"ack/{LEAD}/invitation")
    body = staff_invitation.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"{settings.public_base_url}/ack/" in body.get_content()


async def test_reminders_escalation_and_overdue_on_time(
    review_skipping: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink
) -> None:
    env, settings = review_skipping
    handle = await start(env.client, settings)
    status = await wait_for(handle, invited)
    await wait_for_mail(smtp_sink, handle.id, "round-1/invitation")

    await env.sleep(timedelta(days=2, hours=23))
    await asyncio.sleep(1)
    assert "round-1/reminder-1" not in mails(smtp_sink, handle.id), "reminded before 3 days"

    expected = [
        (timedelta(hours=2), "round-1/reminder-1", [CEO]),  # day 3
        (timedelta(days=4), "round-1/reminder-2", [CEO]),  # day 7
        (timedelta(days=3), "round-1/escalation", [LEAD]),  # day 10
        (timedelta(days=4), "round-1/overdue", [LEAD, CEO]),  # day 14
    ]
    for advance, key, recipients in expected:
        await env.sleep(advance)
        message = await wait_for_mail(smtp_sink, handle.id, key)
        assert [a.strip() for a in str(message["To"]).split(",")] == recipients

    status = await wait_for(handle, lambda s: s.overdue)
    assert [e.event for e in status.events][-4:] == ["reminded", "reminded", "escalated", "overdue"]
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    await finish(handle)
    assert {key for key in mails(smtp_sink, handle.id) if key.startswith("round-")} == {
        "round-1/invitation",
        "round-1/reminder-1",
        "round-1/reminder-2",
        "round-1/escalation",
        "round-1/overdue",
        "round-1/signed",
    }


async def test_changes_requested_then_revised_version_signed(
    review: tuple[Client, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    client, settings = review
    handle = await start(client, settings)
    first = await wait_for(handle, invited)

    comment = "Please add the Leeds office to the scope."
    request = SignatureDecision(
        kind=DecisionKind.REQUEST_CHANGES,
        person=CEO,
        version_hash=first.version_hash,
        link_id="x",
        comment=comment,
    )
    await handle.execute_update(AnnualReviewWorkflow.decide, request)
    waiting = await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    assert waiting.last_comment == comment
    assert waiting.waiting_on.startswith("Ravi Chandran")
    to_lead = await wait_for_mail(smtp_sink, handle.id, "round-1/changes-requested")
    assert to_lead["To"] == LEAD
    body = to_lead.get_body(preferencelist=("plain",))
    assert body is not None
    assert comment in body.get_content()

    failing = tmp_path / "failing.yaml"
    failing.write_text(
        (DEMO / "profile.yaml").read_text().replace("approved_by: ceo", "approved_by: engineering-lead")
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            AnnualReviewWorkflow.submit_revision,
            RevisionInput(profile=store(settings, failing), submitted_by=LEAD),
        )
    assert "Clause 5" in str(refused.value.cause)

    revised = current_demo_profile(
        tmp_path,
        text=(DEMO / "profile.yaml")
        .read_text()
        .replace('version: "3.0"', 'version: "3.1"')
        .replace("offices, cloud infrastructure", "offices (London and Leeds), cloud infrastructure"),
    )
    receipt = await handle.execute_update(
        AnnualReviewWorkflow.submit_revision,
        RevisionInput(profile=store(settings, revised), submitted_by=LEAD),
    )
    assert receipt.round == 2
    second = await wait_for(handle, lambda s: invited(s) and s.round == 2)
    assert second.version == "3.1"
    assert second.version_hash != first.version_hash
    await wait_for_mail(smtp_sink, handle.id, "round-2/invitation")

    with pytest.raises(WorkflowUpdateFailedError) as stale:
        await handle.execute_update(
            AnnualReviewWorkflow.decide, sign(second, version_hash=first.version_hash)
        )
    assert "superseded" in str(stale.value.cause)

    await handle.execute_update(AnnualReviewWorkflow.decide, sign(second))
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await handle.execute_update(AnnualReviewWorkflow.decide, sign(second))
    assert "already signed" in str(twice.value.cause)

    result: AnnualReviewResult = await finish(handle)
    assert result.rounds == 2
    assert result.version == "3.1"
