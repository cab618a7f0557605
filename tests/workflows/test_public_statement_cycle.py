"""A real cycle publishes its public policy statement: archived with the signed version, served.

Real worker on the Temporal dev server, real SeaweedFS with Object Lock, LibreOffice and
pyHanko: the CEO signs, the archive holds ``public-statement/v3.0/statement.html`` (or the
organisation's own ``statement.pdf``, carried with the cycle's files) with its URL and SHA-256
in the signed version's manifest, and the web app's ``/statement`` serves exactly those bytes.
A start whose statement PDF is not the pinned one is refused naming ``public_statement.file``.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client

from adapters.audit import ArchiveReader
from adapters.cycles import start_cycle
from adapters.document_files import store_document_files
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.hashing import sha256_bytes
from core.public_statement import PUBLIC_STATEMENT_FILE
from core.settings import Settings
from devstack.synthetic import tiny_pdf
from models.archive import ArchivedObject
from models.cycle import AnnualReviewInput
from models.storage import StoredObject
from tests.workflows.helpers import DEMO, LEAD, current_demo_profile, finish, invited, sign, store, wait_for
from web.app import create_app
from workflows.annual_review import AnnualReviewWorkflow

STATEMENT_ON = "\npublic_statement:\n  enabled: true\n"


async def _signed_cycle(
    client: Client, settings: Settings, profile: Path, files: dict[str, StoredObject] | None = None
) -> tuple[str, dict[str, ArchivedObject]]:
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        AnnualReviewWorkflow.run,
        AnnualReviewInput(
            cycle_id=cycle_id,
            year=2026,
            profile=store(settings, profile),
            staff=store(settings, DEMO / "staff.csv"),
            started_by=LEAD,
            document_files=files or {},
        ),
        id=cycle_id,
        task_queue=settings.temporal_task_queue,
    )
    status = await wait_for(handle, invited, within=180)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    await finish(handle, within=180)
    status = await wait_for(handle, lambda s: len(s.archive) >= 1, within=180)
    signed = status.archive[0]
    return cycle_id, {o.key.removeprefix("larkspur/2026/"): o for o in signed.objects}


async def _served(settings: Settings, profile: Path) -> httpx.Response:
    app = create_app(settings.model_copy(update={"profile_file": profile}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://isms.test") as http:
        return await http.get("/statement")


async def test_a_signed_cycle_publishes_the_generated_statement(review: tuple[Client, Settings]) -> None:
    client, settings = review
    profile = current_demo_profile(
        Path(tempfile.mkdtemp(prefix="statement-")), text=(DEMO / "profile.yaml").read_text() + STATEMENT_ON
    )
    before = await _served(settings, profile)
    assert before.status_code == 404

    _, objects = await _signed_cycle(client, settings, profile)
    statement = objects["public-statement/v3.0/statement.html"]
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    manifest = next(m for m, _ in reader.manifests("larkspur", 2026) if m.stage == "signed-v3.0")
    assert manifest.facts.public_statement_url == f"{str(settings.public_base_url).rstrip('/')}/statement"
    assert manifest.facts.public_statement_sha256 == statement.sha256

    response = await _served(settings, profile)
    assert response.status_code == 200
    assert sha256_bytes(response.content) == statement.sha256
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["etag"] == f'"{statement.sha256}"'
    assert "approved by Eleanor Marsh, Chief Executive Officer (Top Management Sponsor) on" in response.text
    assert objects["information-security-policy/v3.0/document.pdf"].sha256 in response.text


async def test_the_organisations_own_pdf_travels_with_the_cycle_and_is_published(
    review: tuple[Client, Settings],
) -> None:
    client, settings = review
    folder = Path(tempfile.mkdtemp(prefix="statement-own-"))
    (folder / "public").mkdir()
    own = tiny_pdf("Larkspur publishes this statement itself")
    (folder / "public" / "statement.pdf").write_bytes(own)
    text = (
        (DEMO / "profile.yaml").read_text()
        + STATEMENT_ON
        + f"  file: public/statement.pdf\n  sha256: {sha256_bytes(own)}\n"
    )
    profile = current_demo_profile(folder, text=text)
    files = store_document_files(make_s3_client(settings), settings, profile)
    assert [(f.id, f.file, f.stored.sha256) for f in files] == [
        (PUBLIC_STATEMENT_FILE, "public/statement.pdf", sha256_bytes(own))
    ]
    _, objects = await _signed_cycle(client, settings, profile, {f.id: f.stored for f in files})
    assert objects["public-statement/v3.0/statement.pdf"].sha256 == sha256_bytes(own)
    assert "public-statement/v3.0/statement.html" not in objects
    response = await _served(settings, profile)
    assert response.status_code == 200
    assert response.content == own
    assert response.headers["content-type"] == "application/pdf"


async def test_a_statement_pdf_that_is_not_the_pinned_one_refuses_the_start(
    review: tuple[Client, Settings],
) -> None:
    client, settings = review
    folder = Path(tempfile.mkdtemp(prefix="statement-pin-"))
    (folder / "public").mkdir()
    (folder / "public" / "statement.pdf").write_bytes(tiny_pdf("changed after it was pinned"))
    text = (
        (DEMO / "profile.yaml").read_text()
        + STATEMENT_ON
        + f"  file: public/statement.pdf\n  sha256: {'a' * 64}\n"
    )
    profile = current_demo_profile(folder, text=text)
    outcome = await start_cycle(
        client,
        settings,
        make_s3_client(settings),
        profile=profile,
        staff=DEMO / "staff.csv",
        year=2026,
        started_by=LEAD,
    )
    assert not outcome.ok
    assert outcome.message.endswith("nothing was started")
    assert len(outcome.problems) == 1
    assert (
        "at public_statement.file: public_statement.file: public/statement.pdf changed since it was pinned"
        in (outcome.problems[0])
    )
