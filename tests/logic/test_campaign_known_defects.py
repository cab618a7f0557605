"""Defects of today's campaign workflows found by the logic tier, pinned as strict expected failures.

Each test states what should hold. ``strict=True``: the day the workflow is fixed, the test
passes, the run fails on the XPASS, and the marker must go. Nothing here counts as passing.
"""

from __future__ import annotations

import pytest

from models.campaign import Recipient, StaffChange
from tests.logic.scenario import DAY, LEAD, Tier, email, invitations, staff
from workflows.acknowledgement import AcknowledgementCampaignWorkflow


@pytest.mark.xfail(
    strict=True,
    reason="a team split over two batches gets two digests under one key (one Message-ID): "
    "the digest key has no batch in it",
)
async def test_each_digest_has_a_key_of_its_own_when_a_team_spans_batches(tier: Tier) -> None:
    # ten people under one manager, in batches of eight: the team is split, so two digests
    people = staff(11, team_size=11)
    await tier.start_campaign(people, batch_size=8)
    await invitations(tier, 11)
    await tier.sleep(15 * DAY)
    digests = tier.standins.mails(lambda m: m.template == "manager_digest")
    listed = [person for digest in digests for person in digest.context["people"]]
    assert len(listed) == 10, "every outstanding person of the team is in a digest"
    assert len(digests) == 2
    keys = [digest.key for digest in digests]
    assert len(set(keys)) == len(keys), f"two different digests under one key: {keys}"


@pytest.mark.xfail(
    strict=True,
    reason="a leaver who rejoins is recorded as invited and reminded again although no email "
    "goes out (the keys were used by the first membership)",
)
async def test_a_returning_leaver_is_recorded_as_reminded_only_when_an_email_went_out(tier: Tier) -> None:
    handle, data = await tier.start_campaign(staff(4))
    await invitations(tier, 4)
    await tier.sleep(DAY)
    await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff, StaffChange(remove=[email(1)], requested_by=LEAD.email)
    )
    await tier.sleep(DAY)
    back = Recipient(email=email(1), name="Person 001", department="Engineering", manager_email=email(0))
    await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=tier.standins.directory([back]), requested_by=LEAD.email),
    )
    await tier.sleep(27 * DAY)
    await handle.result()
    prefix = f"{data.cycle_id}/ack/{email(1)}/reminder-"
    reminders_sent = tier.standins.mails(lambda m: m.key.startswith(prefix))
    (close,) = tier.standins.of("close_campaign")
    (line,) = [r for ref in close.data.batches for r in tier.standins.records(ref) if r.email == email(1)]
    assert len(line.reminded_at) == len(reminders_sent), (
        f"register: {len(line.reminded_at)} reminders; emails sent: {len(reminders_sent)}"
    )
