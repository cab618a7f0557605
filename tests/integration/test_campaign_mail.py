"""The campaign's run of emails against the real SMTP sink and S3: a retried run sends nothing twice."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.campaign import CampaignActivities
from activities.mail import INVALID_ADDRESS
from adapters.s3 import make_s3_client
from core.settings import Settings
from core.tokens import read_link
from devstack.mailsink import read_mailbox
from models.campaign import CampaignMailInput, CampaignMailRecipient, FreezeInput
from models.links import LinkClaims, LinkRole
from tests.conftest import SmtpSink
from tests.workflows.campaign_helpers import staff_rows, write_staff
from tests.workflows.helpers import store

SHARED: dict[str, str | int | list[str]] = {
    "organisation": "Larkspur Analytics Ltd",
    "lead_name": "Ravi Chandran",
    "signer_name": "Eleanor Marsh",
    "version": "3.0",
    "documents": ["information-security-policy.docx"],
    "deadline": "21 December 2026",
}


def run(batch_id: str, addresses: list[str]) -> CampaignMailInput:
    return CampaignMailInput(
        batch_id=batch_id,
        template="staff_invitation",
        context=SHARED,
        recipients=[
            CampaignMailRecipient(
                key=f"{batch_id}/ack/{address.casefold()}/invitation",
                to=address,
                context={"person_name": f"Person {number}"},
                link_for=address,
            )
            for number, address in enumerate(addresses)
        ],
        version_hash="a" * 64,
    )


def delivered(sink: SmtpSink, batch_id: str) -> list[str]:
    keys = [str(m.get("X-Isms-Key", "")) for m in read_mailbox(sink.maildir)]
    return [key for key in keys if key.startswith(f"{batch_id}/")]


def test_a_run_stopped_midway_resumes_without_sending_twice(settings: Settings, smtp_sink: SmtpSink) -> None:
    activities = CampaignActivities(
        settings=settings,
        s3=make_s3_client(settings),
        client=Client.__new__(Client),  # never used: no figures are asked for here
    )
    batch_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}--ack-0001"
    good = [f"p{n}@larkspur.example" for n in range(6)]
    # the fourth address is broken: the run stops there, like a worker dying mid-batch
    with pytest.raises(ApplicationError) as stopped:
        ActivityEnvironment().run(
            activities.send_campaign_mail, run(batch_id, [*good[:3], "broken", *good[3:]])
        )
    assert stopped.value.type == INVALID_ADDRESS
    assert len(delivered(smtp_sink, batch_id)) == 3

    result = ActivityEnvironment().run(activities.send_campaign_mail, run(batch_id, good))
    assert result.newly_sent == 3  # only the ones the first run did not reach
    assert set(result.sent_at) == {f"{batch_id}/ack/{a}/invitation" for a in good}
    keys = delivered(smtp_sink, batch_id)
    assert sorted(keys) == sorted(set(keys)), "an email went out twice"
    assert len(keys) == 6

    again = ActivityEnvironment().run(activities.send_campaign_mail, run(batch_id, good))
    assert again.newly_sent == 0
    assert len(delivered(smtp_sink, batch_id)) == 6

    # each email has a personal staff link bound to the batch, the person and the version
    message = next(
        m
        for m in read_mailbox(smtp_sink.maildir)
        if str(m["X-Isms-Key"]) == f"{batch_id}/ack/p4@larkspur.example/invitation"
    )
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Person 4" in text
    token = text.split("/ack/", 1)[1].split()[0]
    claims = read_link(
        settings.link_secret.get_secret_value(), token, expected_role=LinkRole.STAFF, now=datetime.now(UTC)
    )
    assert isinstance(claims, LinkClaims)
    assert (claims.cycle_id, claims.person, claims.version_hash) == (
        batch_id,
        "p4@larkspur.example",
        "a" * 64,
    )


def test_campaign_objects_carry_their_sha256_like_every_stored_file(
    settings: Settings, tmp_path: Path
) -> None:
    s3 = make_s3_client(settings)
    activities = CampaignActivities(settings=settings, s3=s3, client=Client.__new__(Client))
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    staff = store(settings, write_staff(tmp_path, staff_rows(12, team_size=4)))
    frozen = ActivityEnvironment().run(
        activities.freeze_directory,
        FreezeInput(cycle_id=cycle_id, staff=staff, as_of=date(2026, 12, 1), batch_size=5),
    )
    assert len(frozen.batches) >= 3
    for stored in [*frozen.batches, frozen.index]:
        head = s3.head_object(Bucket=stored.bucket, Key=stored.key)
        assert head["Metadata"]["sha256"] == stored.sha256
        assert head["ContentLength"] == stored.size
    # a retried freeze finds the same bytes in place and writes nothing new
    again = ActivityEnvironment().run(
        activities.freeze_directory,
        FreezeInput(cycle_id=cycle_id, staff=staff, as_of=date(2026, 12, 1), batch_size=5),
    )
    assert again == frozen
