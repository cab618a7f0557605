"""The CEO's signing page: review every document of the version, then sign the set or request changes.

A GET never changes anything (mail security scanners fetch every link within seconds of
delivery). The documents count as opened only when the page's own script fetches them with
its viewer header and CSRF value; the decision is a POST, sent to the workflow as the
``decide`` Update whose id is derived from the link, so a double click is recorded once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import CycleHandle, UpdateRefusedError
from core.contract import Refusal
from core.tokens import read_link
from models.cycle import (
    CONSENT_TEXT,
    SIGNED_STAGES,
    CycleStatus,
    DecisionKind,
    DecisionReceipt,
    DocumentsViewed,
    SignatureDecision,
    Stage,
)
from models.documents import DraftDocument
from models.links import LinkClaims, LinkProblem, LinkRole
from web import pages
from web.security import (
    client_ip,
    csrf_matches,
    file_headers,
    new_csrf_token,
    set_csrf_cookie,
    user_agent,
)
from web.services import app_services

router = APIRouter()
MAX_NAMED = 100  # documents a request for changes may name (a version has far fewer)
log = logging.getLogger(__name__)

_PROBLEMS: dict[LinkProblem, tuple[int, str, str, str]] = {
    LinkProblem.TAMPERED: (
        400,
        "This link is not valid",
        "The link is incomplete or has been changed. Links work only exactly as they were sent.",
        "Open the link from the email again, or ask the ISMS lead to send a new one.",
    ),
    LinkProblem.EXPIRED: (
        410,
        "This link has expired",
        "Signing links work for a limited time, and this one's time is over.",
        "Ask the ISMS lead to send a new link.",
    ),
    LinkProblem.SUPERSEDED: (
        410,
        "A newer version has been sent",
        "This link is for an earlier version of the documents, which has been replaced.",
        "Use the link in the most recent email.",
    ),
    LinkProblem.WRONG_ROLE: (
        403,
        "This link is not for this page",
        "The link you opened grants access to something else, not to signing.",
        "Open the signing link from the CEO's invitation email.",
    ),
}

# refusals that say the link cannot be acted on any more: nothing was recorded, and the form is
# of no use; every other refusal (consent, the typed name, a comment) shows the form again
_FINAL_REFUSALS = frozenset({Refusal.ALREADY_SIGNED, Refusal.SUPERSEDED, Refusal.NOT_AWAITING_SIGNATURE})


def _claims(request: Request, token: str) -> LinkClaims | LinkProblem:
    settings = app_services(request).settings
    return read_link(
        settings.link_secret.get_secret_value(), token, expected_role=LinkRole.SIGNER, now=datetime.now(UTC)
    )


async def _cycle(request: Request, cycle_id: str) -> tuple[CycleHandle, CycleStatus | None]:
    handle = CycleHandle(await app_services(request).temporal(), cycle_id)
    try:
        status = await handle.status()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return handle, None
        raise
    return handle, status


def _state_notice(request: Request, claims: LinkClaims, status: CycleStatus | None) -> HTMLResponse | None:
    """A page for a link that is genuine but cannot be acted on now, or None when it can."""
    if status is None:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
    if status.stage in SIGNED_STAGES:
        return pages.notice(
            request,
            "Already signed",
            f"Version {status.version} of the documents has been signed; there is nothing more to do here.",
        )
    if claims.version_hash != status.version_hash:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.SUPERSEDED)
    if claims.sequence < status.signer_link_sequence:  # an earlier email's link: a newer one was sent
        return pages.notice(
            request,
            "A newer email has been sent",
            "This link is from an earlier email about these documents. Only the link in the most "
            "recent email works, so that a forwarded or old email cannot be used.",
            status_code=410,
            advice="Use the link in the most recent email.",
        )
    if status.stage is not Stage.AWAITING_SIGNATURE:
        return pages.notice(
            request,
            "Not waiting for your signature",
            f"The review is at the stage: {status.stage.value.replace('_', ' ')}. "
            "You will receive a new email when the documents are ready for you.",
        )
    return None


def _title(document: DraftDocument) -> str:
    return document.title or document.name


def _document_view(document: DraftDocument) -> dict[str, object]:
    """One document as the page shows it: title, who acknowledges it, what its SHA-256 is of."""
    return {
        "document": document,
        "id": document.id,
        "title": _title(document),
        "audience": document.audience.describe() if document.acknowledges else "none: not asked of staff",
        "shown_what": "of the Word document"
        if document.docx is not None
        else "of the PDF itself: a finished PDF is signed as it is",
    }


def _signing_page(
    request: Request,
    token: str,
    status: CycleStatus,
    *,
    error: str = "",
    typed_name: str = "",
    comment: str = "",
    named: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    csrf = new_csrf_token()
    base_path = f"/sign/{token}"
    waiting = status.waiting_on
    response = pages.page(
        request,
        "sign.html",
        {
            "status": status,
            "signer_name": waiting.split(" (")[0] if waiting else "",
            "lead_name": "the ISMS lead",
            "consent_text": CONSENT_TEXT,
            "csrf": csrf,
            "base_path": base_path,
            "error": error,
            "typed_name": typed_name,
            "comment": comment,
            "documents": [_document_view(document) for document in status.documents],
            "signed_count": sum(1 for document in status.documents if document.signs),
            "named": set(named or []),
        },
        status_code=status_code,
    )
    set_csrf_cookie(
        response,
        csrf,
        path=base_path,
        secure=app_services(request).settings.public_base_url.startswith("https"),
    )
    return response


OpenLink = tuple[LinkClaims, CycleHandle, CycleStatus]


async def _open_link(request: Request, token: str) -> OpenLink | HTMLResponse:
    """The link's claims and its cycle when the link can be acted on now, else the page saying why."""
    claims = _claims(request, token)
    if isinstance(claims, LinkProblem):
        return pages.problem_page(request, _PROBLEMS, claims)
    handle, status = await _cycle(request, claims.cycle_id)
    notice = _state_notice(request, claims, status)
    if notice is not None or status is None:
        return notice or pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
    return claims, handle, status


@router.get("/sign/{token}", response_class=HTMLResponse)
async def signing_page(request: Request, token: str) -> HTMLResponse:
    """Show the documents and the two forms. Records nothing."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    return _signing_page(request, token, opened[2])


@router.get("/sign/{token}/documents/{name}")
async def signing_document(request: Request, token: str, name: str) -> Response:
    """The PDF of one document. Counts as opened only when fetched by the signing page's script."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    claims, handle, status = opened
    document = next((d for d in status.documents if d.name == name), None)
    if document is None:
        return pages.notice(
            request, "No such document", "This version has no document of that name.", status_code=404
        )
    s3 = app_services(request).s3
    body = await asyncio.to_thread(
        lambda: s3.get_object(Bucket=document.pdf.bucket, Key=document.pdf.key)["Body"].read()
    )
    if request.headers.get("x-isms-viewer") == "1" and csrf_matches(
        request, request.headers.get("x-isms-csrf")
    ):
        await handle.documents_viewed(
            DocumentsViewed(
                person=claims.person,
                version_hash=claims.version_hash or "",
                document=name,
                ip=client_ip(request),
                user_agent=user_agent(request),
            ),
        )
    filename = f"{document.id}.pdf"
    headers = file_headers(inline_name=filename)
    if request.query_params.get("download") == "1":  # the page's "Download it" link
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(body, media_type="application/pdf", headers=headers)


@router.post("/sign/{token}", response_class=HTMLResponse)
async def record_decision(
    request: Request,
    token: str,
    action: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    typed_name: Annotated[str, Form(max_length=200)] = "",
    consent: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=5000)] = "",
    documents: Annotated[list[str] | None, Form(max_length=MAX_NAMED)] = None,
) -> HTMLResponse:
    """Sign, or request changes (naming some of the documents, if the CEO ticks them): sent to
    the workflow, which has the last word (it refuses a name the version does not have)."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    claims, handle, status = opened
    if not csrf_matches(request, csrf):
        return pages.notice(
            request,
            "Please reload the page",
            "The form was not sent from the signing page you opened (or the page is too old). "
            "Open the link again and submit from there.",
            status_code=403,
        )
    try:
        kind = DecisionKind(action)
    except ValueError:
        return pages.notice(
            request, "Unknown action", "Use the Sign or Request changes button.", status_code=400
        )
    decision = SignatureDecision(
        kind=kind,
        person=claims.person,
        version_hash=claims.version_hash or "",
        link_id=claims.token_id,
        typed_name=typed_name.strip(),
        consent=consent == "yes",
        comment=comment.strip(),
        # a signature covers the whole set: only a request for changes names documents
        documents=[name[:200] for name in documents or []] if kind is DecisionKind.REQUEST_CHANGES else [],
        ip=client_ip(request),
        user_agent=user_agent(request),
        link_sequence=claims.sequence,
    )
    try:
        # the same id makes a double click, or a retry after a refusal for load, one update
        receipt = await handle.decide(decision, update_id=f"decide-{claims.token_id}-{kind.value}")
    except UpdateRefusedError as refused:
        log.info("decision refused by %s: %s", handle.id, refused.error_type)
        reason = refused.message
        if refused.kind in _FINAL_REFUSALS:
            return pages.notice(request, "Nothing was recorded", _sentence(reason), status_code=409)
        return _signing_page(
            request,
            token,
            status,
            error=reason,
            typed_name=typed_name,
            comment=comment,
            named=decision.documents,
            status_code=422,
        )
    except RPCError:
        return pages.notice(
            request,
            "Please try again",
            "The review service is busy and nothing was recorded. Submit the form again in a moment.",
            status_code=503,
        )
    return _recorded(request, status, decision, receipt)


def _sentence(reason: str) -> str:
    return reason[0].upper() + reason[1:] + "." if reason else "The request was refused."


def _recorded(
    request: Request, status: CycleStatus, decision: SignatureDecision, receipt: DecisionReceipt
) -> HTMLResponse:
    at = receipt.recorded_at.strftime("%d %B %Y, %H:%M:%S UTC")
    facts: list[tuple[str, str]] = [
        ("Decision", "Signed" if decision.kind is DecisionKind.SIGN else "Changes requested"),
        ("By", f"{decision.typed_name or decision.person} <{decision.person}>"),
        ("Recorded at", at),
        ("Version", receipt.version),
        ("From", f"{decision.ip or 'unknown address'}; {decision.user_agent or 'unknown browser'}"),
    ]
    facts += [(f"SHA-256 of {_title(d)} ({d.name})", d.shown_sha256) for d in status.documents]
    if decision.kind is DecisionKind.SIGN:
        return pages.page(
            request,
            "recorded.html",
            {
                "organisation": status.organisation,
                "heading": "Thank you: your signature is recorded",
                "summary": f"You signed version {receipt.version} electronically. "
                f"Your consent: {decision.consent_text}",
                "facts": facts,
                "next_step": "The documents are now being sealed with the organisation's signature; you "
                "and the ISMS lead will receive a confirmation email with their fingerprints.",
            },
        )
    if decision.documents:
        titles = {d.name: _title(d) for d in status.documents}
        facts.append(("About", ", ".join(titles.get(name, name) for name in decision.documents)))
    facts.append(("Comment", decision.comment))
    return pages.page(
        request,
        "recorded.html",
        {
            "organisation": status.organisation,
            "heading": "Your request for changes is recorded",
            "summary": "The ISMS lead has been asked to revise the documents; you will receive a new link "
            "for the revised version. This link no longer works once it is sent.",
            "facts": facts,
            "next_step": "No signature was recorded.",
        },
    )
