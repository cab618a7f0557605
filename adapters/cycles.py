"""Start a cycle, submit a revision, read a cycle's status: shared by the CLI and the dashboard.

Workflows are addressed by name and id, so neither door imports workflow or activity code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.document_files import DocumentFile, DocumentFilesError, store_document_files
from adapters.drafts import store_input
from adapters.previous_render import find_previous_render_manifest
from adapters.workflow_client import CycleHandle, UpdateRefusedError
from core.clause5 import blocking, check_profile
from core.contract import Refusal, WorkflowType
from core.profile_io import UnreadableInputError, load_profile, load_staff
from core.settings import Settings
from documents.catalogue import document_findings
from models.cycle import AnnualReviewInput, CycleStatus, RevisionInput, RevisionReceipt, cycle_id_for
from models.documents import RenderManifest
from models.findings import Finding, Severity

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

WORKFLOW = WorkflowType.ANNUAL_REVIEW


@dataclass
class Outcome:
    """What happened: ``ok``, or why not (``problems`` are lines a person can act on)."""

    ok: bool
    cycle_id: str = ""
    message: str = ""
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    exists: bool = False
    unreadable: bool = False
    previous: str = ""  # where the change summary's base came from ("" when there is none)
    refusal: Refusal | None = None  # the workflow's refusal, when it refused
    document_files: list[DocumentFile] = field(default_factory=list)  # the profile's own files, uploaded


def _files_refused(problems: list[str], what: str) -> Outcome:
    count = len(problems)
    return Outcome(
        ok=False,
        message=f"{count} of the profile's document file(s) cannot be used: nothing was {what}",
        problems=problems,
        unreadable=True,
    )


def check_files(profile: Path, staff: Path, *, today: datetime | None = None) -> Outcome:
    """Read and check both files: unreadable input, Clause 5 errors, or ok with the org's short name.

    Clause 5 errors include the documents section's (:func:`documents.catalogue.document_findings`,
    paths relative to the profile's folder): a broken template or a missing file stops the start.
    """
    try:
        loaded = load_profile(profile)
        directory = load_staff(staff)
    except UnreadableInputError as exc:
        return Outcome(
            ok=False, message="unreadable input", problems=[str(p) for p in exc.problems], unreadable=True
        )
    as_of = (today or datetime.now(UTC)).date()
    findings = check_profile(loaded, directory, today=as_of)
    # a broken template, a missing or changed file, an audience of nobody: refused here, never mid-cycle
    findings += document_findings(loaded, directory, profile.parent, today=as_of)
    if blocking(findings):
        errors = [f for f in findings if f.severity is Severity.ERROR]
        return Outcome(
            ok=False,
            message=f"the documents fail Clause 5 ({len(errors)} error(s)): nothing was started",
            problems=[f"{f.rule} at {f.where}: {f.message} (fix: {f.fix})" for f in errors],
            findings=findings,
        )
    return Outcome(ok=True, cycle_id=loaded.organisation.short_name, findings=findings)


async def start_cycle(
    client: Client,
    settings: Settings,
    s3: S3Client,
    *,
    profile: Path,
    staff: Path,
    year: int,
    started_by: str,
    reason: str | None = None,
    previous_manifest: Path | None = None,
) -> Outcome:
    """Check, upload the inputs by content hash, and start AnnualReviewWorkflow.

    The files the profile's documents section names (templates, static documents; relative to
    the profile file) are uploaded too, and the cycle carries them by document id; a missing
    one, or one whose pinned SHA-256 no longer matches, refuses the start naming it.

    ``previous_manifest`` is last year's ``render-manifest.json``: the CEO is then shown what
    changed in text, roles and holders. Without it the render activity compares with the one
    archived with the organisation's last signed version of an earlier year (as it does for a
    cycle the yearly Schedule starts); ``previous`` then names that one. A cycle whose id exists
    is reported (``exists``) and left unchanged.
    """
    # parsing a large HR export blocks: keep it off the event loop (the web app calls this too)
    checked = await asyncio.to_thread(check_files, profile, staff)
    if not checked.ok:
        return checked
    suffix = datetime.now(UTC).strftime("adhoc-%Y%m%d%H%M") if reason else None
    cycle_id = cycle_id_for(checked.cycle_id, year, ad_hoc=suffix)
    if previous_manifest is not None:
        try:
            RenderManifest.model_validate_json(await asyncio.to_thread(previous_manifest.read_text))
        except (OSError, ValueError) as exc:
            return Outcome(
                ok=False, message=f"{previous_manifest} is not a render-manifest.json: {exc}", unreadable=True
            )
    try:
        files = await asyncio.to_thread(store_document_files, s3, settings, profile)
    except DocumentFilesError as exc:
        return _files_refused(exc.problems, "started")
    stored_profile, stored_staff = await asyncio.gather(
        asyncio.to_thread(store_input, s3, settings, profile),
        asyncio.to_thread(store_input, s3, settings, staff),
    )
    stored_previous = (
        await asyncio.to_thread(store_input, s3, settings, previous_manifest) if previous_manifest else None
    )
    previous = str(previous_manifest) if previous_manifest else ""
    if stored_previous is None:  # the render activity fetches it; this only names it
        found = await asyncio.to_thread(
            find_previous_render_manifest, s3, settings.archive_bucket, checked.cycle_id, year
        )
        previous = f"s3://{settings.archive_bucket}/{found.key}" if found else ""
    try:
        await client.start_workflow(
            WORKFLOW,
            AnnualReviewInput(
                cycle_id=cycle_id,
                year=year,
                profile=stored_profile,
                staff=stored_staff,
                started_by=started_by,
                reason=reason,
                previous_manifest=stored_previous,
                document_files={file.id: file.stored for file in files},
            ),
            id=cycle_id,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            # a cycle that failed (its documents were refused, say) may be started again
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        return Outcome(
            ok=False,
            cycle_id=cycle_id,
            exists=True,
            message=f"cycle {cycle_id} already exists: nothing was changed",
        )
    return Outcome(
        ok=True,
        cycle_id=cycle_id,
        message=f"started {cycle_id}",
        findings=checked.findings,
        previous=previous,
        document_files=files,
    )


async def submit_revision(
    client: Client,
    settings: Settings,
    s3: S3Client,
    *,
    cycle_id: str,
    profile: Path,
    staff: Path | None,
    submitted_by: str,
) -> tuple[Outcome, RevisionReceipt | None]:
    """Upload the revised inputs and hand them to the cycle, which checks them before accepting.

    Every file the revised profile names is uploaded with it (relative to the revised profile):
    the revision's files replace the cycle's, so a file it no longer names is not used again.
    """
    try:
        files = await asyncio.to_thread(store_document_files, s3, settings, profile)
    except UnreadableInputError as exc:
        return Outcome(
            ok=False,
            cycle_id=cycle_id,
            message="unreadable input",
            problems=[str(p) for p in exc.problems],
            unreadable=True,
        ), None
    except DocumentFilesError as exc:
        refused = _files_refused(exc.problems, "submitted")
        refused.cycle_id = cycle_id
        return refused, None
    stored_profile = await asyncio.to_thread(store_input, s3, settings, profile)
    stored_staff = await asyncio.to_thread(store_input, s3, settings, staff) if staff else None
    try:
        receipt = await CycleHandle(client, cycle_id).submit_revision(
            RevisionInput(
                profile=stored_profile,
                staff=stored_staff,
                submitted_by=submitted_by,
                document_files={file.id: file.stored for file in files},
            )
        )
    except UpdateRefusedError as refused:
        return Outcome(
            ok=False,
            cycle_id=cycle_id,
            message=refused.message,
            problems=refused.details,
            refusal=refused.kind,
        ), None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return Outcome(ok=False, cycle_id=cycle_id, message=f"no cycle {cycle_id}"), None
        raise
    return Outcome(
        ok=True, cycle_id=cycle_id, message=f"revision accepted: round {receipt.round}", document_files=files
    ), receipt


async def cycle_status(client: Client, cycle_id: str) -> tuple[CycleStatus, str] | None:
    """The cycle's status and its workflow run state (running, completed, failed...), or None."""
    review = CycleHandle(client, cycle_id)
    try:
        description = await review.handle.describe()
        status = await review.status()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return status, description.status.name.lower() if description.status else "unknown"


async def list_cycles(client: Client, *, limit: int = 100) -> list[tuple[str, str, datetime]]:
    """(cycle id, run state, started at) of the most recent cycles."""
    found = []
    async for execution in client.list_workflows(f"WorkflowType = '{WORKFLOW.value}'", limit=limit):
        state = execution.status.name.lower() if execution.status else "unknown"
        found.append((execution.id, state, execution.start_time))
    return found
