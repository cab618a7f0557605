"""The signing page with four documents, through the real web app (uvicorn) and a running cycle.

The cycle is started by the real door (``adapters.cycles.start_cycle``, which uploads the
profile's own files) and run by the product's worker; its version is the four documents of
tests/workflows/helpers.py's OWN_DOCUMENTS. The page shows every document with its title,
version, SHA-256 and audience, serves each by its name, the CEO signs the set in one decision
(every PDF sealed), and a request for changes may name documents.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from adapters.cycles import start_cycle
from adapters.s3 import get_file, make_s3_client
from core.seal_check import verify_pdf_signature
from core.settings import Settings
from core.tokens import issue_link
from documents.signing_identity import load_or_create_signing_identity
from models.cycle import SIGNED_STAGES, CycleStatus, Stage
from models.links import LinkRole
from models.signing import SigningEvidence
from tests.conftest import SmtpSink
from tests.workflows.helpers import (
    CEO,
    DEMO,
    LEAD,
    OWN_DOCUMENT_NAMES,
    current_status,
    invited,
    own_documents_profile,
    pass_second_factor,
    wait_for,
    wait_for_mail,
)
from tests.workflows.test_cycle_cli import _isms

AUP, SDP = OWN_DOCUMENT_NAMES[2], OWN_DOCUMENT_NAMES[3]


async def start_four(client: Client, settings: Settings, folder: Path, *, year: int) -> WorkflowHandle:
    """A cycle of the four documents, started as the lead starts one (files uploaded by the door)."""
    outcome = await start_cycle(
        client,
        settings,
        make_s3_client(settings),
        profile=own_documents_profile(folder),
        staff=DEMO / "staff.csv",
        year=year,
        started_by=LEAD,
    )
    assert outcome.ok, (outcome.message, outcome.problems)
    assert len(outcome.document_files) == 3
    return client.get_workflow_handle(outcome.cycle_id)


def link(settings: Settings, status: CycleStatus) -> str:
    return issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id=status.cycle_id,
        person=CEO,
        role=LinkRole.SIGNER,
        version_hash=status.version_hash,
        ttl=timedelta(days=21),
        now=datetime.now(UTC),
    )


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def _section(page: str, name: str) -> str:
    start = page.index(f'data-document="{name}"')
    return page[start : page.index("</section>", start)]


async def _done(handle: WorkflowHandle) -> None:
    if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
        await handle.terminate("test over")


async def test_every_document_is_shown_with_its_title_version_sha256_and_audience_and_served_by_name(
    served: tuple[Client, Settings], tmp_path: Path
) -> None:
    client, settings = served
    handle = await start_four(client, settings, tmp_path / "own", year=2051)
    status = await wait_for(handle, invited, within=120)
    assert [d.name for d in status.documents] == OWN_DOCUMENT_NAMES
    token = link(settings, status)
    s3 = make_s3_client(settings)
    async with httpx.AsyncClient(base_url=settings.public_base_url) as web:
        page = (await web.get(f"/sign/{token}")).text
        assert "Review and sign version 3.0" in page
        assert "approve the 4 documents" in page
        assert "your signature covers the 3 marked" in page
        for document in status.documents:
            section = _section(page, document.name)
            assert f">{document.title}</h2>" in section
            assert f"<dd>{document.version}</dd>" in section
            assert document.shown_sha256 in section
            assert document.pdf.sha256 in section
            response = await web.get(f"/sign/{token}/documents/{document.name}")
            assert response.status_code == 200, document.name
            assert response.headers["content-type"] == "application/pdf"
            assert response.headers["content-disposition"] == f'inline; filename="{document.id}.pdf"'
            assert (
                response.content
                == s3.get_object(Bucket=document.pdf.bucket, Key=document.pdf.key)["Body"].read()
            )
            download = await web.get(f"/sign/{token}/documents/{document.name}?download=1")
            assert download.headers["content-disposition"] == f'attachment; filename="{document.id}.pdf"'
        aup = _section(page, AUP)
        assert "for information" not in _section(page, OWN_DOCUMENT_NAMES[0])
        assert "does not cover it" in aup
        assert "of the PDF itself" in aup  # a static PDF: the SHA-256 signed is the PDF's
        assert "SHA-256 of the PDF shown" not in aup
        assert "<dd>2.1</dd>" in aup
        assert "<dd>everyone in scope</dd>" in aup
        assert "<dd>Engineering</dd>" in _section(page, SDP)
        assert (await web.get(f"/sign/{token}/documents/{AUP}")).content == (
            tmp_path / "own" / "policies" / "aup.pdf"
        ).read_bytes()  # carried through the cycle unchanged

        for unknown in ("acceptable-use-policy.docx", "nothing.pdf", "information-security-policy.pdf"):
            missing = await web.get(f"/sign/{token}/documents/{unknown}")
            assert missing.status_code == 404, unknown
            assert "No such document" in missing.text
            assert "Nothing has been recorded or changed." in missing.text
    # the GETs (a scanner's, or a person's without the page's script) record nothing
    assert [e.event for e in (await current_status(handle)).events] == ["created", "rendered", "sent"]
    await _done(handle)


async def test_a_request_for_changes_names_documents_and_the_lead_is_told_which(
    served: tuple[Client, Settings], tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    client, settings = served
    handle = await start_four(client, settings, tmp_path / "own", year=2052)
    status = await wait_for(handle, invited, within=120)
    token = link(settings, status)
    async with httpx.AsyncClient(base_url=settings.public_base_url) as web:
        page = await web.get(f"/sign/{token}")
        for document in status.documents:  # one box per document in the request-for-changes form
            assert f'name="documents" value="{document.name}"' in page.text
        form = {"action": "request_changes", "comment": "Tighten both", "csrf": _csrf(page.text)}
        wrong = await web.post(f"/sign/{token}", data={**form, "documents": [AUP, "old-aup.pdf"]})
        assert wrong.status_code == 422
        assert "the version has no document old-aup.pdf" in wrong.text
        assert f'name="documents" value="{AUP}" checked' in wrong.text  # the ticks are kept
        assert (await current_status(handle)).stage is Stage.AWAITING_SIGNATURE

        recorded = await web.post(
            f"/sign/{token}", data={**form, "csrf": _csrf(wrong.text), "documents": [AUP, SDP]}
        )
        assert recorded.status_code == 200, recorded.text
        assert "Your request for changes is recorded" in recorded.text
        assert "<td>Acceptable Use Policy, Secure Development Policy</td>" in recorded.text
    waiting = await wait_for(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    assert waiting.last_comment_documents == [AUP, SDP]
    email = await wait_for_mail(smtp_sink, handle.id, "round-1/changes-requested")
    text = email.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert "- Acceptable Use Policy (acceptable-use-policy.pdf)" in content
    assert "- Secure Development Policy (secure-development-policy.docx)" in content
    code, out, err = await _isms(settings, "cycle", "status", handle.id)
    assert code == 0, err
    assert f"About     {AUP}, {SDP}" in out
    await _done(handle)


async def test_the_ceo_signs_the_set_in_one_decision(
    served: tuple[Client, Settings], tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    client, settings = served
    handle = await start_four(client, settings, tmp_path / "own", year=2053)
    status = await wait_for(handle, invited, within=120)
    token = link(settings, status)
    async with httpx.AsyncClient(base_url=settings.public_base_url) as web:
        page = await pass_second_factor(web, token, smtp_sink, handle.id)
        assert "Your signature covers all 3 documents marked signed by you" in page
        recorded = await web.post(
            f"/sign/{token}",
            data={
                "action": "sign",
                "typed_name": "Eleanor Marsh",
                "consent": "yes",
                "csrf": _csrf(page),
                "documents": [AUP],  # ignored: a signature covers the set
            },
        )
        assert recorded.status_code == 200, recorded.text
        assert "your signature is recorded" in recorded.text
        for document in status.documents:
            assert f"SHA-256 of {document.title} ({document.name})" in recorded.text
            assert document.shown_sha256 in recorded.text
    signed = await wait_for(handle, lambda s: s.stage in SIGNED_STAGES and len(s.archive) == 1, within=180)
    assert signed.signed is not None
    assert [d.name for d in signed.signed.documents] == OWN_DOCUMENT_NAMES
    # one signature, over the set: evidence.json records every document the CEO was shown
    s3 = make_s3_client(settings)
    body = s3.get_object(Bucket=signed.signed.evidence.bucket, Key=signed.signed.evidence.key)["Body"].read()
    evidence = SigningEvidence.model_validate_json(body)
    assert evidence.shown_documents == {d.name: d.shown_sha256 for d in status.documents}
    assert [(d.name, d.signed) for d in evidence.documents] == [
        (name, name != AUP) for name in OWN_DOCUMENT_NAMES
    ]
    assert [e.event for e in signed.events].count("signed") == 1
    trust = [load_or_create_signing_identity(settings).certificate]
    for sealed in signed.signed.documents:  # every PDF sealed, the one the CEO does not sign too
        pdf = get_file(s3, sealed.pdf, tmp_path / f"{sealed.id}.pdf")
        check = await asyncio.to_thread(verify_pdf_signature, pdf, trust=trust)
        assert check.valid, (sealed.name, check.detail)
        assert check.intact, sealed.name
    archived = {o.key.split("/", 2)[2] for o in signed.archive[0].objects}
    assert "acceptable-use-policy/v3.0/document.pdf" in archived
    assert "acceptable-use-policy/v3.0/document.docx" not in archived
    assert "secure-development-policy/v3.0/document.docx" in archived
    await _done(handle)
