"""The CEO's signing page: review every document of the version, then sign the set or request changes.

A GET never changes anything (mail security scanners fetch every link within seconds of
delivery). The documents count as opened only when the page's own script fetches them with
its viewer header and CSRF value; the decision is a POST, sent to the workflow as the
``decide`` Update whose id is derived from the link, so a double click is recorded once.

A signature needs a second factor besides the link (a forwarded email must not be enough):
"Send me a code" emails a one-time code to the link's person (``web.signer_codes``), the
code typed back marks the link verified for 30 minutes (``web.state.mark_signer_verified``),
and only then does the page offer the Sign form; with single sign-on configured, the signer
may instead sign in at ``/sign/{token}/sso`` (``web.signer_sso``). The signing POST puts the
verified ``SecondFactor`` into the decision, and the workflow refuses a signature without one.
A request for changes needs no second factor. The name to type is never printed on the page.

Every PDF is checked against the SHA-256 the version recorded for it before it is served.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import CycleHandle, UpdateRefusedError
from core.contract import Refusal
from core.hashing import sha256_bytes
from models.cycle import (
    CONSENT_TEXT,
    SIGNED_STAGES,
    CycleStatus,
    DecisionKind,
    DecisionReceipt,
    DocumentsViewed,
    SecondFactor,
    SecondFactorMethod,
    SignatureDecision,
    Stage,
)
from models.documents import DraftDocument
from models.links import LinkClaims, LinkProblem, LinkRole
from web import pages, signer_codes
from web.security import (
    client_ip,
    csrf_matches,
    file_headers,
    new_csrf_token,
    set_csrf_cookie,
    user_agent,
)
from web.services import app_services
from web.state import SIGNER_BROWSER_COOKIE, mark_signer_verified, new_browser_binding, signer_verified

router = APIRouter()
MAX_NAMED = 100  # documents a request for changes may name (a version has far fewer)
log = logging.getLogger(__name__)

# what each unusable signing link gets (also the signer's single sign-on, web.signer_sso)
SIGNING_LINK_PROBLEMS: pages.ProblemTexts = {
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
    LinkProblem.OLD_LINK: (
        410,
        "A newer email has been sent",
        "This link is from an earlier email about these documents. Only the link in the most "
        "recent email works, so that a forwarded or old email cannot be used.",
        "Use the link in the most recent email.",
    ),
    LinkProblem.REVOKED: (410, "This link no longer works", "", "Use the link in the most recent email."),
}
_PROBLEMS = SIGNING_LINK_PROBLEMS

# refusals that say the link cannot be acted on any more: nothing was recorded, and the form is
# of no use; every other refusal (consent, the typed name, a comment) shows the form again
_FINAL_REFUSALS = frozenset(
    {Refusal.ALREADY_SIGNED, Refusal.SUPERSEDED, Refusal.NOT_AWAITING_SIGNATURE, Refusal.OLD_LINK}
)
# the workflow's words would name the signer (the name to type): the page says this instead
NAME_MISMATCH_TEXT = "the typed name does not match the signer's name on record"
CONFIRM_FIRST_TEXT = (
    "confirm it is you before signing: ask for a one-time code below and enter it"
    " (or use single sign-on, where offered)"
)


def _claims(request: Request, token: str) -> LinkClaims | LinkProblem:
    return pages.link_claims(request, token, LinkRole.SIGNER)


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
        return pages.problem_page(request, _PROBLEMS, LinkProblem.OLD_LINK)
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


async def _signing_page(
    request: Request,
    token: str,
    claims: LinkClaims,
    status: CycleStatus,
    *,
    error: str = "",
    code_error: str = "",
    typed_name: str = "",
    comment: str = "",
    named: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    csrf = new_csrf_token()
    base_path = f"/sign/{token}"
    services = app_services(request)
    now = datetime.now(UTC)
    factor = await _verified_in_this_browser(request, claims)
    pending = None if factor else await signer_codes.pending_code(services.state, claims.token_id, now=now)
    response = pages.page(
        request,
        "sign.html",
        {
            "status": status,
            "second_factor": factor,
            "factor_text": _factor_text(factor) if factor else "",
            "pending": pending,
            "pending_expires": pending.expires_at.strftime("%H:%M UTC") if pending else "",
            "code_to": signer_codes.masked_address(claims.person),
            "code_error": code_error,
            "sso": services.settings.oidc_enabled,
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


def _factor_text(factor: SecondFactor) -> str:
    """The page's line for a passed second factor (the address masked, like everywhere on it)."""
    at = factor.verified_at.strftime("%H:%M UTC")
    if factor.method is SecondFactorMethod.EMAILED_CODE:
        return f"with the one-time code emailed to {signer_codes.masked_address(factor.identity)}, at {at}"
    return f"with single sign-on as {signer_codes.masked_address(factor.identity)}, at {at}"


async def remember_verified_browser(
    request: Request, response: Response, token: str, claims: LinkClaims, factor: SecondFactor
) -> Response:
    """Record the passed second factor for this link *and this browser*: a random value goes into
    an HttpOnly cookie scoped to the link's pages, and only its digest into the store, so a
    forwarded link opened in another browser within the half hour cannot sign. Lax, not Strict:
    after single sign-on the browser arrives from the provider's site."""
    services = app_services(request)
    binding = new_browser_binding()
    now = datetime.now(UTC)
    await mark_signer_verified(
        services.state, claims.token_id, factor, browser=binding, expires_at=now + signer_codes.VERIFIED_FOR
    )
    response.set_cookie(
        SIGNER_BROWSER_COOKIE,
        binding,
        max_age=int(signer_codes.VERIFIED_FOR.total_seconds()),
        path=f"/sign/{token}",
        httponly=True,
        samesite="lax",
        secure=services.settings.public_base_url.startswith("https"),
    )
    return response


async def _verified_in_this_browser(request: Request, claims: LinkClaims) -> SecondFactor | None:
    return await signer_verified(
        app_services(request).state, claims.token_id, browser=request.cookies.get(SIGNER_BROWSER_COOKIE)
    )


def _reload_page(request: Request) -> HTMLResponse:
    return pages.notice(
        request,
        "Please reload the page",
        "The form was not sent from the signing page you opened (or the page is too old). "
        "Open the link again and submit from there.",
        status_code=403,
    )


@router.get("/sign/{token}", response_class=HTMLResponse)
async def signing_page(request: Request, token: str) -> HTMLResponse:
    """Show the documents and the forms. Records nothing."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    return await _signing_page(request, token, opened[0], opened[2])


@router.post("/sign/{token}/code", response_class=HTMLResponse)
async def send_signer_code(request: Request, token: str, csrf: Annotated[str, Form()] = "") -> Response:
    """Email a new one-time code to the link's person (replacing any earlier one)."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    claims, _, status = opened
    if not csrf_matches(request, csrf):
        return _reload_page(request)
    services = app_services(request)
    now = datetime.now(UTC)
    issued = await signer_codes.issue_code(
        services.state, key=services.settings.session_key(), link_id=claims.token_id, now=now
    )
    if isinstance(issued, signer_codes.SendRefused):
        return await _signing_page(request, token, claims, status, code_error=issued.reason, status_code=429)
    waiting = status.waiting_on
    message = signer_codes.code_email(
        services.settings,
        cycle_id=claims.cycle_id,
        to=claims.person,
        organisation=status.organisation,
        signer_name=waiting.split(" (")[0] if waiting else claims.person,
        version=status.version,
        code=issued,
        expires_at=now + signer_codes.CODE_LIFETIME,
    )
    try:
        await signer_codes.send_code_email(services.settings, message, to=claims.person)
    except (smtplib.SMTPException, OSError) as exc:
        await signer_codes.withdraw_code(services.state, claims.token_id)
        log.warning("the signer's code for %s could not be emailed: %s", claims.cycle_id, type(exc).__name__)
        return await _signing_page(
            request,
            token,
            claims,
            status,
            code_error="The code could not be emailed just now; nothing was sent. Try again in a minute.",
            status_code=503,
        )
    log.info("a one-time code was emailed to the signer of %s", claims.cycle_id)
    # back to the page (a reload does not send another code), at the code field
    return RedirectResponse(f"/sign/{token}#confirm", status_code=303)


@router.post("/sign/{token}/code/verify", response_class=HTMLResponse)
async def verify_signer_code(
    request: Request,
    token: str,
    csrf: Annotated[str, Form()] = "",
    code: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Check the typed code; the right one marks this link verified, then the Sign form shows."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    claims, _, status = opened
    if not csrf_matches(request, csrf):
        return _reload_page(request)
    services = app_services(request)
    now = datetime.now(UTC)
    checked = await signer_codes.check_code(
        services.state,
        key=services.settings.session_key(),
        link_id=claims.token_id,
        submitted=code,
        identity=claims.person,
        now=now,
    )
    if checked.outcome is signer_codes.CodeOutcome.VERIFIED and checked.factor is not None:
        log.info("the signer of %s passed the emailed code", claims.cycle_id)
        return await remember_verified_browser(
            request, RedirectResponse(f"/sign/{token}#sign", status_code=303), token, claims, checked.factor
        )
    log.info("a wrong or stale signer code for %s: %s", claims.cycle_id, checked.outcome.value)
    problems = {
        signer_codes.CodeOutcome.MALFORMED: "The code is the 6 digits from the email; "
        f"what was entered is not. {checked.attempts_left} attempts left.",
        signer_codes.CodeOutcome.WRONG: f"That code is not right. {checked.attempts_left} "
        f"attempt{'s' if checked.attempts_left != 1 else ''} left.",
        signer_codes.CodeOutcome.LOCKED: "That code is not right, and it was the last attempt: the code "
        "no longer works. Ask for a new code.",
        signer_codes.CodeOutcome.NO_CODE: "There is no code waiting for this link (it expired after "
        "10 minutes, was used, or a newer one was sent). Ask for a new code.",
    }
    return await _signing_page(
        request, token, claims, status, code_error=problems[checked.outcome], status_code=422
    )


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
    if sha256_bytes(body) != document.pdf.sha256:
        # never show the signer a file other than the one the version recorded (and stamps)
        log.warning(
            "refused to serve %s of %s: its SHA-256 differs from the one recorded for the version",
            name,
            handle.id,
        )
        return pages.notice(
            request,
            "This document has changed since it was sent",
            "The stored file does not match the SHA-256 fingerprint recorded for this version, so it "
            "is not shown.",
            status_code=409,
            advice="Do not sign; please tell the ISMS lead.",
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
        return _reload_page(request)
    try:
        kind = DecisionKind(action)
    except ValueError:
        return pages.notice(
            request, "Unknown action", "Use the Sign or Request changes button.", status_code=400
        )
    factor = None
    if kind is DecisionKind.SIGN:
        factor = await _verified_in_this_browser(request, claims)
        if factor is None:
            return await _signing_page(
                request,
                token,
                claims,
                status,
                error=_sentence(CONFIRM_FIRST_TEXT),
                typed_name=typed_name,
                status_code=403,
            )
    decision = SignatureDecision(
        kind=kind,
        second_factor=factor,
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
        if refused.kind is Refusal.NAME_MISMATCH:
            reason = NAME_MISMATCH_TEXT
        return await _signing_page(
            request,
            token,
            claims,
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
