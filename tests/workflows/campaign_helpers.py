"""Helpers for acknowledgement campaign tests: synthetic staff, a signed version, a campaign.

A campaign is started directly (``AcknowledgementCampaignWorkflow``) with a synthetic staff
directory and two small real PDFs standing in for the sealed documents, so these tests do
not pay for rendering and sealing; the annual review tests cover the path from signature.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from adapters.campaign import campaign_progress, campaign_state
from core.settings import Settings
from core.tokens import issue_link
from devstack.synthetic import staff_csv, tiny_pdf
from devstack.synthetic import staff_rows as staff_rows  # the campaign tests import it from here
from models.campaign import (
    BATCH_WAVE,
    Acknowledgement,
    CampaignInput,
    CampaignProgress,
    CampaignResult,
    CampaignState,
    SignedVersion,
    batch_id_for,
    signed_version_hash,
)
from models.links import LinkRole
from models.profile import Audience
from models.routing import AckLadder, Person
from models.signing import SignDocumentsResult
from models.storage import StoredObject
from tests.workflows.helpers import store
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow

LEAD = Person(name="Ravi Chandran", email="ravi.chandran@larkspur.example", title="ISMS Manager")
CEO = Person(name="Eleanor Marsh", email="eleanor.marsh@larkspur.example", title="Chief Executive")


def write_staff(folder: Path, rows: list[dict[str, str]], name: str = "staff.csv") -> Path:
    """``rows`` (see :func:`devstack.synthetic.staff_rows`) as ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(staff_csv(rows))
    return path


def signed_version(
    settings: Settings,
    folder: Path,
    *,
    version: str = "3.0",
    documents: dict[str, tuple[str, str, Audience]] | None = None,
) -> SignedVersion:
    """Small PDFs in the drafts bucket, standing in for the sealed documents: the two of a
    version signed before the documents section, or ``documents`` (name -> title, version,
    audience), each to its audience."""
    folder.mkdir(parents=True, exist_ok=True)
    names = (
        list(documents)
        if documents
        else ["information-security-policy.docx", "isms-roles-and-responsibilities.docx"]
    )
    pdfs: dict[str, StoredObject] = {}
    for name in names:
        path = folder / (Path(name).stem + ".pdf")
        path.write_bytes(tiny_pdf(f"{name} version {version} {uuid.uuid4().hex[:6]}"))
        pdfs[name] = store(settings, path)
    hashes = {name: pdf.sha256 for name, pdf in pdfs.items()}
    signed = SignedVersion(
        version=version, version_hash=signed_version_hash(hashes), documents=hashes, pdfs=pdfs
    )
    if documents:
        signed.titles = {name: title for name, (title, _, _) in documents.items()}
        signed.versions = {name: own for name, (_, own, _) in documents.items()}
        signed.audiences = {name: audience for name, (_, _, audience) in documents.items()}
    return signed


def ladder(scale: timedelta = timedelta(days=1)) -> AckLadder:
    """The default ladder (reminders at 5 and 10, digest at 14, summary at 21, close at 28) in ``scale`` units."""
    return AckLadder(
        reminders=[5 * scale, 10 * scale],
        manager_digest_after=14 * scale,
        summary_after=21 * scale,
        close_after=28 * scale,
    )


async def start_campaign(
    client: Client,
    settings: Settings,
    folder: Path,
    rows: list[dict[str, str]],
    *,
    schedule: AckLadder | None = None,
    batch_size: int = 250,
    signed: SignedVersion | None = None,
    batch_wave: int = BATCH_WAVE,
) -> tuple[WorkflowHandle[AcknowledgementCampaignWorkflow, CampaignResult], CampaignInput]:
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    data = CampaignInput(
        cycle_id=cycle_id,
        organisation="Larkspur Analytics Ltd",
        signed=signed or signed_version(settings, folder),
        staff=store(settings, write_staff(folder, rows)),
        lead=LEAD,
        signer=CEO,
        schedule=schedule or ladder(),
        cycle_started_at=now - timedelta(days=3),
        signed_at=now,
        batch_size=batch_size,
        batch_wave=batch_wave,
    )
    handle = await client.start_workflow(
        AcknowledgementCampaignWorkflow.run,
        data,
        id=f"{cycle_id}--campaign",
        task_queue=settings.temporal_task_queue,
    )
    return handle, data


def staff_link(settings: Settings, data: CampaignInput, email: str, batch: int, **claims: object) -> str:
    """A staff link as the mail activity would mint it (override claims to make bad ones)."""
    values: dict[str, object] = {
        "cycle_id": batch_id_for(data.cycle_id, batch),
        "person": email,
        "role": LinkRole.STAFF,
        "version_hash": data.signed.version_hash,
        "ttl": timedelta(days=30),
        "now": datetime.now(UTC),
    }
    values.update(claims)
    return issue_link(settings.link_secret.get_secret_value(), **values)  # type: ignore[arg-type]


async def wait_until(
    client: Client, cycle_id: str, check: Callable[[CampaignProgress], bool], *, within: float = 60
) -> CampaignProgress:
    """Poll the campaign's figures (real time) until ``check(progress)`` holds."""
    deadline = time.monotonic() + within
    last: CampaignProgress | None = None
    while time.monotonic() < deadline:
        try:
            last = await campaign_progress(client, cycle_id)
        except RPCError:  # a query that missed its deadline on a busy worker: ask again
            await asyncio.sleep(0.5)
            continue
        if last is not None and check(last):
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"gave up waiting; last figures: {last}")


async def state(client: Client, cycle_id: str) -> CampaignState:
    found = await campaign_state(client, cycle_id)
    assert found is not None
    return found


async def batch_of(client: Client, cycle_id: str, email: str, batches: int) -> int:
    """The batch holding ``email`` (asked of each batch's page query)."""
    for batch in range(1, batches + 1):
        handle = client.get_workflow_handle(batch_id_for(cycle_id, batch))
        page = await handle.query(AcknowledgementBatchWorkflow.page, email)
        if page is not None and page.person is not None:
            return batch
    raise AssertionError(f"{email} is in no batch")


async def acknowledge_signed(
    client: Client, cycle_id: str, batch: int, email: str, signed: SignDocumentsResult
) -> None:
    """``email`` acknowledges the cycle's sealed version, as the web app's Update does: the
    documents their page shows (not the ISMS lead's appointment letter, which staff do not
    acknowledge), bound to the version's hash over every sealed document."""
    all_documents = {d.name: d.pdf.sha256 for d in signed.documents}
    handle = client.get_workflow_handle(batch_id_for(cycle_id, batch))
    page = await handle.query(AcknowledgementBatchWorkflow.page, email)
    assert page is not None, f"{email} has no page in batch {batch}"
    link_id = uuid.uuid4().hex
    await handle.execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(
            person=email,
            version_hash=signed_version_hash(all_documents),
            link_id=link_id,
            documents=page.documents,
            link_sequence=page.newest_link,
            ip="198.51.100.9",
            user_agent="pytest",
        ),
        id=f"ack-{link_id}",
    )
