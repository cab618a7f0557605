"""A four-document cycle on the real stack, for the pages that show N documents.

The worker is the product's (workflows, mail, archive, campaign activities on the dev server,
S3, the SMTP sink), with two document activities wrapped so that a version of the four
documents of :data:`tests.workflows.helpers.OWN_DOCUMENTS` exists whatever the render and
signing activities of this checkout do:

- ``render_documents`` runs the real render, then adds each document of the profile it did not
  render (the static Acceptable Use Policy is the uploaded PDF itself, as the cycle carries it;
  a generated one is a copy of the rendered policy under its own name) and the titles, kinds
  and audiences of the profile's entries where the render left them out. A render that already
  makes every document is passed through unchanged.
- ``sign_documents`` records what the workflow asked (the set the CEO signed) and returns the
  drafts as the signed version, without sealing: what is under test here is what the pages and
  the workflow do with N documents, not the seal (tests/integration/test_signing.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.archive import ArchiveActivities
from activities.campaign import CampaignActivities
from activities.documents import DocumentActivities
from activities.mail import MailActivities
from adapters.drafts import draft_key
from adapters.s3 import get_file, make_s3_client, put_bytes
from adapters.temporal import connect_temporal
from core.profile_io import load_profile
from core.settings import Settings
from devstack.ports import find_free_ports
from documents.pdf_convert import PdfConverter
from documents.signing_identity import load_or_create_signing_identity
from models.documents import DraftDocument, RenderDocumentsInput, RenderDocumentsResult
from models.profile import DocumentKind
from models.signing import SignDocumentsInput, SignDocumentsResult, SignedDocument
from models.storage import StoredObject
from web.app import create_app
from worker import WORKFLOWS


@dataclass
class FourDocuments:
    """What the wrapped activities saw: every ``sign_documents`` input, in order."""

    signed: list[SignDocumentsInput] = field(default_factory=list)


class _Wrapped:
    def __init__(self, settings: Settings, documents: DocumentActivities, seen: FourDocuments) -> None:
        self._settings = settings
        self._s3 = make_s3_client(settings)
        self._documents = documents
        self._seen = seen
        self._rendered: dict[str, list[DraftDocument]] = {}  # cycle id -> the last version rendered

    def _copy(self, cycle_id: str, source: DraftDocument, name: str, suffix: str) -> StoredObject:
        stored = source.docx if suffix == ".docx" else source.pdf
        assert stored is not None
        body = self._s3.get_object(Bucket=stored.bucket, Key=stored.key)["Body"].read()
        key = draft_key(
            self._settings, cycle_id=cycle_id, sha256=stored.sha256, name=Path(name).stem + suffix
        )
        return put_bytes(
            self._s3, bucket=stored.bucket, key=key, payload=body, content_type=stored.content_type
        )

    @activity.defn(name="render_documents")
    def render_documents(self, data: RenderDocumentsInput) -> RenderDocumentsResult:
        result = self._documents.render_documents(data)
        with tempfile.TemporaryDirectory(prefix="four-documents-") as folder:
            profile = load_profile(get_file(self._s3, data.profile, Path(folder) / "profile.yaml"))
        rendered = {document.name: document for document in result.documents}
        policy = result.documents[0]
        drafts: list[DraftDocument] = []
        for entry in profile.cycle_documents():
            draft = rendered.get(entry.name)
            if draft is None and entry.kind is DocumentKind.STATIC:
                pdf = data.document_files[entry.id]
                draft = DraftDocument(
                    name=entry.name,
                    version=entry.version or pdf.sha256[:12],
                    template_sha256=pdf.sha256,
                    docx=None,
                    pdf=pdf,
                )
            elif draft is None:
                draft = DraftDocument(
                    name=entry.name,
                    version=entry.version or policy.version,
                    template_sha256=data.document_files[entry.id].sha256,
                    docx=self._copy(data.cycle_id, policy, entry.name, ".docx"),
                    pdf=self._copy(data.cycle_id, policy, entry.name, ".pdf"),
                )
            drafts.append(
                draft.model_copy(
                    update={
                        "title": draft.title or entry.title or entry.id.replace("-", " ").title(),
                        "kind": entry.kind,
                        "audience": entry.audience,
                        "signs": entry.signs,
                        "acknowledges": entry.acknowledges,
                    }
                )
            )
        self._rendered[data.cycle_id] = drafts
        return result.model_copy(update={"documents": drafts})

    @activity.defn(name="sign_documents")
    def sign_documents(self, data: SignDocumentsInput) -> SignDocumentsResult:
        self._seen.signed.append(data)
        drafts = {d.name: d for d in self._rendered[data.cycle_id]}
        evidence = put_bytes(
            self._s3,
            bucket=self._settings.drafts_bucket,
            key=draft_key(self._settings, cycle_id=data.cycle_id, sha256="0" * 64, name="evidence.json"),
            payload=json.dumps({"shown_documents": data.shown_documents}).encode(),
            content_type="application/json",
        )
        first = next(iter(drafts.values()))
        return SignDocumentsResult(
            documents=[
                SignedDocument(name=name, draft_sha256=digest, docx=drafts[name].docx, pdf=drafts[name].pdf)
                for name, digest in data.shown_documents.items()
            ],
            certificate=first.pdf,
            evidence=evidence,
        )


@pytest.fixture
async def four_documents(
    settings: Settings, pdf_converter: PdfConverter
) -> AsyncIterator[tuple[Client, Settings, FourDocuments]]:
    """The product's worker on this test's queue with the two wrapped document activities, and
    the web app under uvicorn where the settings' public URL says (links in emails work)."""
    (port,) = find_free_ports(1)
    settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    client = await connect_temporal(settings)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, client=client), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.05)
    s3 = make_s3_client(settings)
    seen = FourDocuments()
    documents = DocumentActivities(settings=settings, s3=s3, converter=pdf_converter)
    wrapped = _Wrapped(settings, documents, seen)
    mail = MailActivities(settings=settings, s3=s3)
    campaign = CampaignActivities(settings=settings, s3=s3, client=client)
    seal = load_or_create_signing_identity(settings)
    archive = ArchiveActivities(settings=settings, s3=s3, seal_certificate_pem=seal.certificate_pem())
    async with Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[
            documents.check_documents,
            wrapped.render_documents,
            mail.send_email,
            wrapped.sign_documents,
            archive.archive_objects,
            campaign.freeze_directory,
            campaign.load_batch,
            campaign.plan_staff_change,
            campaign.send_campaign_mail,
            campaign.store_batch_records,
            campaign.close_campaign,
            campaign.campaign_figures,
        ],
        activity_executor=concurrent.futures.ThreadPoolExecutor(max_workers=4),
    ):
        yield client, settings, seen
    server.should_exit = True
    await serving
