"""Record the histories the replay test replays: one whole cycle, every workflow of it.

Not collected by the default run (its name does not start with ``test_``). Run it explicitly,
with the code whose histories you want to keep (for example a release tag checked out in a
worktree), and commit the files it writes:

    HISTORIES_OUT=tests/replay/histories HISTORIES_LABEL=v2-archive \
        .venv/bin/pytest tests/workflows/record_histories.py -p no:randomly

The story: the CEO asks for changes, the lead revises, the CEO signs; one person acknowledges;
the campaign runs its whole ladder to the close. Only APIs that every recorded version has are
used here, so the same file records older code too.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.campaign import Acknowledgement, batch_id_for, signed_version_hash
from models.cycle import DecisionKind, RevisionInput, SignatureDecision, Stage
from tests.conftest import SmtpSink
from tests.workflows.helpers import (
    CEO,
    DEMO,
    LEAD,
    current_demo_profile,
    invited,
    sign,
    start,
    store,
    wait_for,
    wait_for_mail,
)
from tests.workflows.test_campaign import batch_index
from workflows.acknowledgement import AcknowledgementBatchWorkflow
from workflows.annual_review import AnnualReviewWorkflow


async def test_record_a_whole_cycle(
    review_skipping: tuple[WorkflowEnvironment, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    out = Path(os.environ.get("HISTORIES_OUT", tmp_path))
    label = os.environ.get("HISTORIES_LABEL", "current")
    env, settings = review_skipping
    handle = await start(env.client, settings)
    first = await wait_for(handle, invited)
    await handle.execute_update(
        AnnualReviewWorkflow.decide,
        SignatureDecision(
            kind=DecisionKind.REQUEST_CHANGES,
            person=CEO,
            version_hash=first.version_hash,
            link_id=uuid.uuid4().hex,
            comment="Please add the Leeds office to the scope.",
        ),
    )
    await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    revised = current_demo_profile(
        tmp_path, text=(DEMO / "profile.yaml").read_text().replace('version: "3.0"', 'version: "3.1"')
    )
    await handle.execute_update(
        AnnualReviewWorkflow.submit_revision,
        RevisionInput(profile=store(settings, revised), submitted_by=LEAD),
    )
    second = await wait_for(handle, lambda s: invited(s) and s.round == 2)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(second))
    status = await wait_for(handle, lambda s: s.stage is Stage.ACKNOWLEDGING, within=180)
    assert status.signed is not None
    documents = {d.name: d.pdf.sha256 for d in status.signed.documents}
    await wait_for_mail(smtp_sink, handle.id, f"ack/{LEAD}/invitation", within=120)  # the batch has started
    batch = batch_index(settings, handle.id)[LEAD]
    link_id = uuid.uuid4().hex
    await env.client.get_workflow_handle(batch_id_for(handle.id, batch)).execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(
            person=LEAD,
            version_hash=signed_version_hash(documents),
            link_id=link_id,
            documents=documents,
            ip="198.51.100.9",
            user_agent="recorder",
        ),
        id=f"ack-{link_id}",
    )
    for _ in range(5):
        await env.sleep(timedelta(days=7))
        await asyncio.sleep(1)
    await wait_for(handle, lambda s: s.stage is Stage.CLOSED, within=180)
    await handle.result()

    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    workflows = {
        "annual-review": handle.id,
        "campaign": f"{handle.id}--campaign",
        "batch": batch_id_for(handle.id, batch),
    }
    for name, workflow_id in workflows.items():
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        await asyncio.to_thread((out / f"{label}-{name}.json").write_text, history.to_json())
