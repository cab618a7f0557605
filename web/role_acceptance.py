"""A role holder's page: read the roles (and, for the ISMS lead, the appointment letter), then
accept them, or decline with a reason.

A GET never changes anything (mail scanners fetch every link), and neither does fetching the
letter. The answer is a POST with a CSRF value, sent to the cycle's ``RoleAcceptanceWorkflow``
as the ``answer_role`` Update with an id made of the link and the kind of answer, so a double
click or a retried request is one update; the workflow's validator has the last word (a
closed request, another version, an older link, a repeat, other roles than the person's own)
and what a refusal shows depends on its type, never its wording.

A role link's ``cycle_id`` claim is the cycle id; the workflow is ``<cycle id>-roles``
(``models.role_acceptance.role_acceptance_id_for``). At most
:data:`~adapters.workflow_client.UPDATES_IN_FLIGHT_PER_WORKFLOW` updates are kept in flight
per workflow from this process (the server refuses the 11th).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import RoleHandle, UpdateRefusedError
from core.contract import Refusal
from core.hashing import sha256_bytes
from models.links import LinkClaims, LinkProblem, LinkRole
from models.role_acceptance import (
    MAX_COMMENT,
    ROLE_ACCEPTANCE_TEXT,
    ROLE_LINK_PATH,
    Capacity,
    RoleAnswer,
    RoleAnswerKind,
    RoleAssignment,
    RolePage,
    RoleReceipt,
)
from web import pages
from web.acknowledge import UpdateGates, update_gates
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
log = logging.getLogger(__name__)

__all__ = ["role_key", "role_page_context", "router"]

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
        "Role acceptance links work for a limited time, and this one's time is over.",
        "Ask the ISMS lead what to do now.",
    ),
    LinkProblem.SUPERSEDED: (
        410,
        "A newer version has been sent",
        "This link is for another version of the roles than the one to accept now.",
        "Use the link in the most recent email.",
    ),
    LinkProblem.WRONG_ROLE: (
        403,
        "This link is not for this page",
        "The link you opened grants access to something else, not to accepting a role.",
        "Open the role acceptance link from your invitation email.",
    ),
    LinkProblem.OLD_LINK: (
        410,
        "A newer email has been sent",
        "This link is from an earlier email about your roles. Only the link in the most recent "
        "email works, so that a forwarded or old email cannot be used.",
        "Use the link in the most recent email.",
    ),
}

_UPDATE_RPC_TIMEOUT = timedelta(seconds=20)
_QUERY_RPC_TIMEOUT = timedelta(seconds=10)
_TIME_FORMAT = "%d %B %Y, %H:%M:%S UTC"
# a person holds a handful of roles; a form naming more is not the page's
_MAX_ROLES = 50
_BASE = f"/{ROLE_LINK_PATH}"


def role_key(assignment: RoleAssignment) -> str:
    """How the page names a role it showed, and the workflow checks it: ``<role id>:<capacity>``."""
    return f"{assignment.role_id}:{assignment.capacity.value}"


def _gates(request: Request) -> UpdateGates:
    return update_gates(request, "role")


def _busy(request: Request) -> HTMLResponse:
    return pages.busy(request, "role acceptance")


def _claims(request: Request, token: str) -> LinkClaims | LinkProblem:
    return pages.link_claims(request, token, LinkRole.ROLE)


def _closed(page: RolePage) -> bool:
    # the workflow marks itself closed a moment after the deadline; its validator uses the deadline
    return page.closed or datetime.now(UTC) >= page.deadline


def _not_asked(request: Request) -> HTMLResponse:
    return pages.notice(
        request,
        "No role to accept",
        "The person this link was sent to is not asked to accept a role in this cycle.",
        status_code=403,
        advice="If you think you should be, ask the ISMS lead.",
    )


def _state_notice(request: Request, claims: LinkClaims, page: RolePage | None) -> HTMLResponse | None:
    """The page for a genuine link that cannot be acted on (not asked, another version, older link)."""
    if page is None:
        return _not_asked(request)
    if claims.version_hash != page.version_hash:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.SUPERSEDED)
    if claims.sequence < page.newest_link:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.OLD_LINK)
    return None


OpenLink = tuple[LinkClaims, RoleHandle, RolePage]


async def _open_link(request: Request, token: str) -> OpenLink | HTMLResponse:
    """The link's claims, its workflow and the person's page when the link is genuine and the
    person is asked for this version, else the page saying why. Changes nothing."""
    claims = _claims(request, token)
    if isinstance(claims, LinkProblem):
        return pages.problem_page(request, _PROBLEMS, claims)
    roles = RoleHandle.of(await app_services(request).temporal(), claims.cycle_id)
    try:
        page = await roles.page(claims.person, rpc_timeout=_QUERY_RPC_TIMEOUT)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:  # signed by us, yet no such workflow
            return pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
        return _busy(request)
    except WorkflowQueryFailedError:
        return _busy(request)
    notice = _state_notice(request, claims, page)
    if notice is not None or page is None:
        return notice or _not_asked(request)
    return claims, roles, page


def _closed_notice(request: Request, page: RolePage) -> HTMLResponse:
    return pages.notice(
        request,
        "Role acceptance has closed",
        f"Role acceptance for version {page.version} was open until "
        f"{page.deadline.strftime(_TIME_FORMAT)}, and your answer was not received by then.",
        status_code=410,
        advice="Ask the ISMS lead what to do now.",
    )


def _earlier_receipt(page: RolePage) -> RoleReceipt | None:
    """The person's recorded acceptance, as a receipt saying it was recorded before."""
    if page.accepted is None:
        return None
    return page.accepted.model_copy(update={"already": True})


def _assignments(page_assignments: list[RoleAssignment]) -> list[dict[str, object]]:
    """Each role as the page shows it."""
    return [
        {
            "key": role_key(assignment),
            "title": assignment.title,
            "deputy": assignment.capacity is Capacity.DEPUTY,
            "department": assignment.department,
            "reports_to": (
                f"{assignment.reports_to} ({assignment.reports_to_holder})"
                if assignment.reports_to and assignment.reports_to_holder
                else assignment.reports_to
            ),
            "responsibilities": assignment.responsibilities,
            "authorities": assignment.authorities,
        }
        for assignment in page_assignments
    ]


def role_page_context(
    page: RolePage, *, base_path: str, csrf: str, problem: str = "", comment: str = ""
) -> dict[str, object]:
    """What ``role.html`` shows for ``page`` (the form posts to ``base_path``)."""
    return {
        "page": page,
        "roles": _assignments(page.assignments),
        "deadline": page.deadline.strftime(_TIME_FORMAT),
        "signed_on": page.signed_at.strftime("%d %B %Y"),
        "statement": ROLE_ACCEPTANCE_TEXT,
        "csrf": csrf,
        "base_path": base_path,
        "problem": problem,
        "comment": comment,
        "max_comment": MAX_COMMENT,
        "declined_at": page.declined_at.strftime(_TIME_FORMAT) if page.declined_at else "",
    }


def _role_page(
    request: Request,
    token: str,
    page: RolePage,
    *,
    problem: str = "",
    comment: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    csrf = new_csrf_token()
    base_path = f"{_BASE}/{token}"
    response = pages.page(
        request,
        "role.html",
        role_page_context(page, base_path=base_path, csrf=csrf, problem=problem, comment=comment),
        status_code=status_code,
    )
    set_csrf_cookie(
        response,
        csrf,
        path=base_path,
        secure=app_services(request).settings.public_base_url.startswith("https"),
    )
    return response


def _recorded(request: Request, receipt: RoleReceipt) -> HTMLResponse:
    at = receipt.at.astimezone(UTC).strftime(_TIME_FORMAT)
    accepted = receipt.kind is RoleAnswerKind.ACCEPT
    facts: list[tuple[str, str]] = [
        ("Name", f"{receipt.name} <{receipt.person}>"),
        ("Answer", "accepted" if accepted else "declined"),
        ("Recorded at", at),
        ("Version", receipt.version),
        ("SHA-256 of the version", receipt.version_hash),
    ]
    facts += [("Role", assignment.described) for assignment in receipt.assignments]
    if receipt.letter_sha256:
        facts.append(("SHA-256 of the appointment letter", receipt.letter_sha256))
    if accepted:
        facts.append(("Statement", receipt.statement))
    facts.append(("From", f"{receipt.ip or 'unknown address'}; {receipt.user_agent or 'unknown browser'}"))
    if accepted and receipt.already:
        heading = "Already accepted"
        summary = (
            f"Your acceptance of your roles in version {receipt.version} was already recorded at {at}; "
            "nothing new was recorded. This is what was recorded then."
        )
    elif accepted:
        heading = "Thank you: your acceptance is recorded"
        summary = f"You accepted your roles as version {receipt.version} sets them out."
    else:
        heading = "Your answer is recorded: you declined"
        summary = (
            "The CEO and the ISMS lead have been told, with your reason. If the matter is settled, "
            "you can still accept from the link in your most recent email."
        )
    return pages.page(
        request,
        "recorded.html",
        {
            "organisation": receipt.organisation,
            "heading": heading,
            "summary": summary,
            "facts": facts,
            "next_step": "Keep this page if you want a record; the ISMS lead can answer any question "
            "about your roles.",
        },
    )


@router.get(_BASE + "/{token}", response_class=HTMLResponse)
async def role_page(request: Request, token: str) -> HTMLResponse:
    """Show the person's roles (and the ISMS lead's letter), the statement and the two answers."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    page = opened[2]
    earlier = _earlier_receipt(page)
    if earlier is not None:
        return _recorded(request, earlier)
    if _closed(page):
        return _closed_notice(request, page)
    return _role_page(request, token, page)


@router.get(_BASE + "/{token}/letter")
async def appointment_letter(request: Request, token: str) -> Response:
    """The ISMS lead's sealed appointment letter, shown inline when its SHA-256 is the page's."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    page = opened[2]
    if _earlier_receipt(page) is None and _closed(page):
        return _closed_notice(request, page)
    letter = page.letter
    if letter is None:
        return pages.notice(
            request,
            "No appointment letter",
            "Your roles come without an appointment letter; only the ISMS lead's do.",
            status_code=404,
        )
    s3 = app_services(request).s3
    body = await asyncio.to_thread(
        lambda: s3.get_object(Bucket=letter.pdf.bucket, Key=letter.pdf.key)["Body"].read()
    )
    if sha256_bytes(body) != letter.sha256:
        # never show a letter whose fingerprint differs from the one the person is accepting
        log.warning("appointment letter of %s does not match its SHA-256", opened[1].id)
        return pages.notice(
            request,
            "The letter cannot be shown",
            "The stored file does not match its recorded SHA-256 fingerprint.",
            status_code=500,
            advice="Please tell the CEO's office or the ISMS deputy.",
        )
    filename = letter.name.removesuffix(".docx") + ".pdf"
    headers = file_headers(inline_name=filename, frame="SAMEORIGIN")  # only the role page frames it
    return Response(body, media_type="application/pdf", headers=headers)


def _shown_roles(roles: list[str]) -> list[str] | None:
    """The roles the page listed, or None when the form is not the page's."""
    if len(roles) > _MAX_ROLES or len(set(roles)) != len(roles):
        return None
    for key in roles:
        role_id, separator, capacity = key.rpartition(":")
        if not separator or not role_id or capacity not in {c.value for c in Capacity}:
            return None
    return roles


@router.post(_BASE + "/{token}", response_class=HTMLResponse)
async def answer_role(
    request: Request,
    token: str,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    letter_sha256: Annotated[str, Form(max_length=64)] = "",
    comment: Annotated[str, Form(max_length=MAX_COMMENT)] = "",
) -> HTMLResponse:
    """Record an acceptance (or a decline with its reason): sent to the workflow, which decides.

    No query first for an acceptance: the Update's validator refuses a closed request, another
    version, an older link, a repeat and other roles than the person's own, so one call does it
    (a refusal then reads the page to explain).
    """
    claims = _claims(request, token)
    if isinstance(claims, LinkProblem):
        return pages.problem_page(request, _PROBLEMS, claims)
    if not csrf_matches(request, csrf):
        opened = await _open_link(request, token)  # a link that does not work: say why first
        if isinstance(opened, HTMLResponse):
            return opened
        return pages.notice(
            request,
            "Please reload the page",
            "The form was not sent from the role page you opened (or the page is too old). "
            "Open the link again and answer from there.",
            status_code=403,
        )
    shown = _shown_roles(roles or [])
    if kind not in {k.value for k in RoleAnswerKind} or shown is None:
        return pages.notice(
            request,
            "Please reload the page",
            "The form did not come from the role page as it was sent. Open the link again and "
            "answer from there.",
            status_code=400,
        )
    answer_kind = RoleAnswerKind(kind)
    reason = comment.strip()
    if answer_kind is RoleAnswerKind.DECLINE and not reason:
        # said here, before the workflow is asked: the page again, with the form to fill in
        opened = await _open_link(request, token)
        if isinstance(opened, HTMLResponse):
            return opened
        return _role_page(
            request,
            token,
            opened[2],
            problem="Nothing was recorded: declining needs a reason, for the CEO and the ISMS lead. "
            "Please say why in the box below.",
            status_code=422,
        )
    workflow = RoleHandle.of(await app_services(request).temporal(), claims.cycle_id)
    answer = RoleAnswer(
        person=claims.person,
        version_hash=claims.version_hash or "",
        link_id=claims.token_id,
        link_sequence=claims.sequence,
        kind=answer_kind,
        roles=shown,
        letter_sha256=letter_sha256 or None,
        comment=reason if answer_kind is RoleAnswerKind.DECLINE else "",
        ip=client_ip(request),
        user_agent=user_agent(request),
    )
    try:
        # the same id for every retry and every double click of this link's answer of this kind
        # (a decline's id also names its reason: declining again with another reason is news)
        update_id = f"role-{claims.token_id}-{answer_kind.value}"
        if answer_kind is RoleAnswerKind.DECLINE:
            update_id += "-" + sha256_bytes(reason.encode())[:16]
        receipt = await workflow.answer(
            answer,
            update_id=update_id,
            rpc_timeout=_UPDATE_RPC_TIMEOUT,
            hold=lambda: _gates(request).hold(workflow.id),
        )
    except UpdateRefusedError as refused:
        return await _refused(request, workflow, claims, refused, token=token, comment=reason)
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        return pages.notice(
            request,
            "Your answer could not be confirmed",
            "The role acceptance service did not answer in time, so we cannot tell yet whether "
            "your answer was recorded.",
            status_code=503,
            advice="Open the link again in a few minutes: it shows your acceptance if it was recorded.",
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
        return _busy(request)
    return _recorded(request, receipt)


_REFUSAL_STATUS: dict[Refusal, int] = {
    Refusal.NOT_A_ROLE_HOLDER: 403,
    Refusal.NOT_STARTED: 503,
    Refusal.REASON_REQUIRED: 422,
}


async def _refused(
    request: Request,
    workflow: RoleHandle,
    claims: LinkClaims,
    refused: UpdateRefusedError,
    *,
    token: str,
    comment: str,
) -> HTMLResponse:
    """The page for an answer the workflow refused: read the page to explain."""
    log.info("role answer refused by %s: %s", workflow.id, refused.error_type)
    try:
        page = await workflow.page(claims.person, rpc_timeout=_QUERY_RPC_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        page = None
    if refused.kind is Refusal.ALREADY_ACCEPTED:
        earlier = _earlier_receipt(page) if page is not None else None
        if earlier is not None:
            return _recorded(request, earlier)
        return pages.notice(request, "Already accepted", "Your acceptance was already recorded.")
    if refused.kind is Refusal.NOT_A_ROLE_HOLDER:
        return _not_asked(request)
    if refused.kind is Refusal.CLOSED and page is not None:
        return _closed_notice(request, page)
    notice = _state_notice(request, claims, page) if page is not None else None
    if notice is not None:
        return notice
    if refused.kind is Refusal.SUPERSEDED:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.SUPERSEDED)
    if refused.kind is Refusal.OLD_LINK:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.OLD_LINK)
    if refused.kind is Refusal.REASON_REQUIRED and page is not None:
        return _role_page(
            request,
            token,
            page,
            problem="Nothing was recorded: declining needs a reason, for the CEO and the ISMS lead.",
            comment=comment,
            status_code=422,
        )
    if refused.kind is Refusal.WRONG_ROLES:
        return pages.notice(
            request,
            "Nothing was recorded",
            "The roles you answered for are not the ones you are asked to accept (or the "
            "appointment letter is not the one signed).",
            status_code=409,
            advice="Open the link again and answer from the page it shows: it lists exactly your roles.",
        )
    message = refused.message
    status_code = _REFUSAL_STATUS.get(refused.kind, 409) if refused.kind is not None else 409
    return pages.notice(
        request,
        "Nothing was recorded",
        message[0].upper() + message[1:] + "." if message else "The answer was refused.",
        status_code=status_code,
    )
