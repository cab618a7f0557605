"""The isms-cycle worker: registers every workflow and activity on the task queue and runs.

    ISMS_SETTINGS_FILE=.isms-data/isms.env python -m worker

It refuses to start when the archive bucket has no Object Lock: evidence written there
could be changed or deleted, which is worse than not archiving at all; and without the
proof key (ISMS_PROOF_SECRET): it could not tell the web app's decisions and
acknowledgements from ones sent straight to Temporal.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import socket
import sys
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities.archive import ArchiveActivities
from activities.campaign import CampaignActivities
from activities.documents import DocumentActivities
from activities.health import HealthActivities
from activities.mail import MailActivities
from activities.role_acceptance import RoleAcceptanceActivities
from activities.signing import SigningActivities
from adapters.process_memory import return_freed_memory_every
from adapters.s3 import (
    ObjectLockNotEnabledError,
    make_archive_s3_client,
    make_s3_client,
    verify_archive_bucket,
)
from adapters.temporal import TemporalTlsError, connect_temporal
from adapters.update_proof import UpdateProofCheck
from core.log_redaction import configure_logging
from core.settings import Settings, SettingsError, load_settings
from documents.pdf_convert import PdfConverter, PdfConverterPool, reap_stale_converters
from documents.signing_identity import SigningIdentity, load_or_create_signing_identity
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow
from workflows.annual_review import AnnualReviewWorkflow
from workflows.role_acceptance import RoleAcceptanceWorkflow
from workflows.scheduled import ScheduledReviewWorkflow
from workflows.stack_check import StackCheckWorkflow

logger = logging.getLogger("isms.worker")

WORKFLOWS: list[type] = [
    AnnualReviewWorkflow,
    AcknowledgementCampaignWorkflow,
    AcknowledgementBatchWorkflow,
    RoleAcceptanceWorkflow,
    ScheduledReviewWorkflow,
    StackCheckWorkflow,
]
# threads for blocking activities; LibreOffice converts one document at a time per converter anyway
ACTIVITY_THREADS = 8
GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def worker_identity() -> str:
    return f"isms-worker@{socket.gethostname()}:{os.getpid()}"


def build_worker(
    client: Client,
    settings: Settings,
    *,
    converter: PdfConverter | PdfConverterPool,
    signing_identity: SigningIdentity | None = None,
    identity: str | None = None,
    executor: concurrent.futures.ThreadPoolExecutor | None = None,
    graceful_shutdown: timedelta = GRACEFUL_SHUTDOWN,
) -> Worker:
    """A worker with every workflow and activity of the product, on the configured queue.

    The caller owns ``converter`` (a warm LibreOffice) and closes it after the worker stops.
    ``signing_identity`` defaults to the configured key, or the self-signed pair in signing_dir.
    The blocking activities (rendering, LibreOffice, pyHanko, boto3, SMTP) are plain functions
    run on ``executor``'s threads, where heartbeats from the activity thread are supported.
    Every update and signal a person's action arrives in must carry the web app's proof
    (``UpdateProofCheck``); raises ``SettingsError`` when the settings have no proof key.
    """
    proof_check = UpdateProofCheck(settings.proof_key())
    s3 = make_s3_client(settings)
    health = HealthActivities(settings=settings, s3=s3, worker_identity=identity or worker_identity())
    documents = DocumentActivities(settings=settings, s3=s3, converter=converter)
    mail = MailActivities(settings=settings, s3=s3)
    campaign = CampaignActivities(settings=settings, s3=s3, client=client)
    roles = RoleAcceptanceActivities(settings=settings, s3=s3)
    seal = signing_identity or load_or_create_signing_identity(settings)
    signing = SigningActivities(settings=settings, s3=s3, converter=converter, identity=seal)
    # the archive is written on an identity of its own (ISMS_S3_ARCHIVE_*): the main one only reads it
    archive_s3 = make_archive_s3_client(settings)
    archive = ArchiveActivities(settings=settings, s3=archive_s3, seal_certificate_pem=seal.certificate_pem())
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[
            health.check_dependencies,
            documents.check_documents,
            documents.render_documents,
            mail.send_email,
            signing.sign_documents,
            archive.archive_objects,
            campaign.freeze_directory,
            campaign.list_batches,
            campaign.load_batch,
            campaign.plan_staff_change,
            campaign.send_campaign_mail,
            campaign.store_batch_records,
            campaign.close_campaign,
            campaign.campaign_figures,
            roles.plan_role_acceptance,
            roles.close_role_acceptance,
        ],
        identity=identity,
        interceptors=[proof_check],
        activity_executor=executor or concurrent.futures.ThreadPoolExecutor(max_workers=ACTIVITY_THREADS),
        max_concurrent_activities=ACTIVITY_THREADS,
        # on shutdown, running activities (a run of emails, a seal) get this long to finish
        # before they are cancelled: a cancel lands inside the thread, wherever it is
        graceful_shutdown_timeout=graceful_shutdown,
        # the sticky cache: workflows kept in memory between tasks (a batch holds its few hundred
        # people's records); past the bound the least recently used is evicted and, on its next
        # task, replayed from its history
        max_cached_workflows=settings.worker_max_cached_workflows,
    )


async def run_worker(settings: Settings) -> None:
    """Reap converters of dead workers, check the archive bucket, connect, run until SIGTERM or SIGINT."""
    # a worker killed before its LibreOffice got its parent-death signal armed leaves it running
    await asyncio.to_thread(reap_stale_converters)
    # checked as the identity that writes it: a wrong archive key stops the worker here, not mid-cycle
    await asyncio.to_thread(verify_archive_bucket, make_archive_s3_client(settings), settings.archive_bucket)
    identity = worker_identity()
    client = await connect_temporal(settings, identity=identity)
    # started lazily on the first conversion, so a worker that only checks stays light
    converter = PdfConverter()
    executor = concurrent.futures.ThreadPoolExecutor(ACTIVITY_THREADS, thread_name_prefix="activity")
    worker = build_worker(client, settings, converter=converter, identity=identity, executor=executor)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info(
        "worker %s polling task queue %r on %s (namespace %s)",
        identity,
        settings.temporal_task_queue,
        settings.temporal_address,
        settings.temporal_namespace,
    )
    # batches evicted and runs of emails done leave freed memory in glibc's arenas: hand it back
    trimming = asyncio.create_task(return_freed_memory_every(settings.worker_memory_trim_seconds, stop))
    try:
        async with worker:
            await stop.wait()
            logger.info("shutting down: finishing running activities")
    finally:
        stop.set()  # also when the worker failed: the trimming ends with it
        await trimming
        executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(converter.close)


def main() -> None:
    configure_logging()  # link tokens never reach the worker's log either
    try:
        settings = load_settings()
        settings.proof_key()  # before anything starts: a worker without it cannot check a proof
    except SettingsError as exc:
        for problem in exc.problems:
            logger.error("invalid settings (%s): %s", exc.source, problem)
        sys.exit(2)
    try:
        asyncio.run(run_worker(settings))
    except ObjectLockNotEnabledError as exc:
        logger.error("refusing to start: %s", exc)
        sys.exit(3)
    except TemporalTlsError as exc:
        logger.error("refusing to start: %s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
