"""The staff acknowledgement page: read the signed version, then confirm "I have read and accept".

A GET never changes anything (mail security scanners fetch every link within seconds of
delivery), and neither does fetching the documents. The confirmation is a POST with a CSRF
value, sent to the person's batch workflow with the other acknowledgements this process has
for that batch at the moment, as one ``acknowledge_group`` Update (``web.ack_commit``: group
commit). The group's update id is derived from what it carries, so a retried call is one
update; the same link twice in this process (a double click) shares one place in a group; a
second link for the same person, or a double click that went in another group, is refused
for that person (``Refusal.ALREADY_ACKNOWLEDGED``) and answered with the earlier record. The
page says "recorded" only once the workflow has answered that it is. What a refusal shows
depends on its type, never its wording.

The pages are made from the batch's view (``web.ack_view``), kept for
``ack_page_cache_seconds`` (2 s by default): a page may show the batch as it was up to that
long ago, except that an acknowledgement this process recorded shows at once. The first page
of a batch nobody else asked for within that time is the person's own (the ``page`` query),
not the whole view. So a reminder that makes a link old, a leaver or the close may take that
long to show on a page; a POST from such a page is refused by the workflow (which always
decides on its current state), and the refusal is explained from a fresh view.

A staff link's ``cycle_id`` claim is the batch workflow id (``<cycle id>--ack-0007``). The
server refuses a workflow's 11th concurrent in-flight update, so this process keeps at most
:data:`UPDATES_IN_FLIGHT_PER_WORKFLOW` groups in flight per batch and retries refusals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.workflow_client import UPDATES_IN_FLIGHT_PER_WORKFLOW, BatchHandle, UpdateRefusedError
from core.contract import Refusal
from core.hashing import sha256_bytes
from models.ack_group import AckGroup, AckGroupReceipt, AckOutcome, BatchView, ack_page
from models.campaign import (
    Acknowledgement,
    AckPage,
    AckReceipt,
    cycle_of_batch,
    wrong_answers,
)
from models.links import LinkClaims, LinkProblem, LinkRole
from web import pages
from web.ack_commit import AckCommitter
from web.ack_view import BatchViews
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
        "Acknowledgement links work for a limited time, and this one's time is over.",
        "Ask the ISMS lead to send a new link.",
    ),
    LinkProblem.SUPERSEDED: (
        410,
        "A newer version has been sent",
        "This link is for another version of the documents than the one to acknowledge now.",
        "Use the link in the most recent email.",
    ),
    LinkProblem.WRONG_ROLE: (
        403,
        "This link is not for this page",
        "The link you opened grants access to something else, not to the acknowledgement.",
        "Open the acknowledgement link from your invitation email.",
    ),
    LinkProblem.OLD_LINK: (
        410,
        "A newer email has been sent",
        "This link is from an earlier email about these documents. Only the link in the most "
        "recent email works, so that a forwarded or old email cannot be used.",
        "Use the link in the most recent email.",
    ),
}

__all__ = ["UPDATES_IN_FLIGHT_PER_WORKFLOW", "UpdateGates", "router", "update_gates"]

# each call of the update waits at most this long for the workflow's answer
_UPDATE_RPC_TIMEOUT = timedelta(seconds=20)
_QUERY_RPC_TIMEOUT = timedelta(seconds=10)
_TIME_FORMAT = "%d %B %Y, %H:%M:%S UTC"
# the page's form names each document it showed with its hash ("name=sha256"); no person gets more
_MAX_SHOWN = 100
# a person's tries at the questions: counted here (never taken from the form), per batch and
# person, so a newer link does not start the count again; kept past any campaign's close
ATTEMPTS_KIND = "ack-question-attempts"
_ATTEMPTS_KEPT = timedelta(days=400)
_ANSWER_PREFIX = "answer-"  # form field "answer-<document name>-<number>": the choice's index


class UpdateGates:
    """At most ``limit`` in-flight updates per workflow id from this process.

    One semaphore per workflow id, dropped when nobody holds or waits for it, so the registry
    stays as small as the number of batches being acknowledged at this moment.

    >>> async with gates.hold("isms-review-acme-2026--ack-0001"):
    ...     await handle.execute_update(...)
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._gates: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def hold(self, workflow_id: str) -> AsyncIterator[None]:
        gate, users = self._gates.get(workflow_id, (asyncio.Semaphore(self._limit), 0))
        self._gates[workflow_id] = (gate, users + 1)
        try:
            async with gate:
                yield
        finally:
            gate, users = self._gates[workflow_id]
            if users == 1:
                del self._gates[workflow_id]
            else:
                self._gates[workflow_id] = (gate, users - 1)

    def __len__(self) -> int:
        return len(self._gates)


def update_gates(request: Request, name: str) -> UpdateGates:
    """The app's update gates called ``name`` (one set per kind of page), made on first use (no
    await in between: no race)."""
    key = f"{name}_update_gates"
    gates: UpdateGates | None = getattr(request.app.state, key, None)
    if gates is None:
        gates = UpdateGates(UPDATES_IN_FLIGHT_PER_WORKFLOW)
        setattr(request.app.state, key, gates)
    return gates


def _gates(request: Request) -> UpdateGates:
    return update_gates(request, "ack")


def _committer(request: Request) -> AckCommitter:
    """The app's group committer, made on first use (no await in between: no race)."""
    committer: AckCommitter | None = getattr(request.app.state, "ack_committer", None)
    if committer is None:
        services, gates = app_services(request), _gates(request)

        async def send(batch_id: str, group: AckGroup, update_id: str) -> AckGroupReceipt:
            # retried when the server refuses it for load; the same update id makes every retry
            # the same update
            handle = BatchHandle(await services.temporal(), batch_id)
            return await handle.acknowledge_group(
                group, update_id=update_id, rpc_timeout=_UPDATE_RPC_TIMEOUT, hold=lambda: gates.hold(batch_id)
            )

        settings = services.settings
        committer = AckCommitter(
            send=send, window=settings.ack_group_window_ms / 1000, most=settings.ack_group_max
        )
        request.app.state.ack_committer = committer
    return committer


def _views(request: Request) -> BatchViews:
    """The app's kept batch views, made on first use."""
    views: BatchViews | None = getattr(request.app.state, "ack_views", None)
    if views is None:
        views = BatchViews(app_services(request).settings.ack_page_cache_seconds)
        request.app.state.ack_views = views
    return views


def _busy(request: Request) -> HTMLResponse:
    return pages.busy(request, "acknowledgement")


def _claims(request: Request, token: str) -> LinkClaims | LinkProblem:
    return pages.link_claims(request, token, LinkRole.STAFF)


def _closed(page: AckPage) -> bool:
    # the batch marks itself closed a moment after the deadline; its validator uses the deadline
    return page.closed or datetime.now(UTC) >= page.deadline


async def _query_page(
    request: Request, handle: BatchHandle, email: str, *, fresh: bool = False
) -> AckPage | None:
    """The person's page from the batch's view (kept, or ``fresh`` from the ``batch_view``
    query); raises RPCError (NOT_FOUND for no such batch) when it cannot have it."""

    async def query() -> BatchView | None:
        return await handle.view(rpc_timeout=_QUERY_RPC_TIMEOUT)

    async def one() -> AckPage | None:
        return await handle.page(email, rpc_timeout=_QUERY_RPC_TIMEOUT)

    views = _views(request)
    page = await views.page(handle.id, email, one=one, every=query, fresh=fresh)
    if page is not None and not fresh and (page.person is None or page.person.left_at is not None):
        # a joiner (or a returning leaver) may be newer than the view kept: ask before saying no
        view = await views.get(handle.id, query, fresh=True)
        page = ack_page(view, email) if view is not None else None
    return page


OpenLink = tuple[LinkClaims, BatchHandle, AckPage]


def _state_notice(request: Request, claims: LinkClaims, page: AckPage | None) -> HTMLResponse | None:
    """The page for a genuine link that cannot be acted on (starting, not in it, left, superseded,
    or from an earlier email than the newest sent to the person)."""
    if page is None:
        response = pages.notice(
            request,
            "The acknowledgement is starting",
            "The campaign is still being set up. Try again in a minute.",
            status_code=503,
        )
        response.headers["Retry-After"] = "60"
        return response
    person = page.person
    if person is None:
        return pages.notice(
            request,
            "This link is not for this campaign",
            "The person this link was sent to is not among the people asked to acknowledge here.",
            status_code=403,
            advice=f"If you think you should be, ask {page.lead_name}, the ISMS lead.",
        )
    if person.left_at is not None:
        return pages.notice(
            request,
            "This link no longer works",
            "You are no longer in scope of the information security management system, "
            "so there is nothing for you to acknowledge.",
            status_code=410,
            advice=f"If this is a mistake, ask {page.lead_name}, the ISMS lead.",
        )
    if claims.version_hash != page.version_hash:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.SUPERSEDED)
    if claims.sequence < page.newest_link:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.OLD_LINK)
    return None


async def _open_link(request: Request, token: str) -> OpenLink | HTMLResponse:
    """The link's claims, its batch and the person's page when the link is genuine and its
    person is in scope for this version, else the page saying why. Changes nothing."""
    claims = _claims(request, token)
    if isinstance(claims, LinkProblem):
        return pages.problem_page(request, _PROBLEMS, claims)
    if cycle_of_batch(claims.cycle_id) is None:  # signed by us, yet names no batch
        return pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
    handle = BatchHandle(await app_services(request).temporal(), claims.cycle_id)
    try:
        page = await _query_page(request, handle, claims.person)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
        return _busy(request)
    except WorkflowQueryFailedError:
        return _busy(request)
    notice = _state_notice(request, claims, page)
    if notice is not None or page is None:
        return notice or _busy(request)
    return claims, handle, page


def _closed_notice(request: Request, page: AckPage) -> HTMLResponse:
    return pages.notice(
        request,
        "The campaign has closed",
        f"Acknowledgements of version {page.version} were accepted until "
        f"{page.deadline.strftime(_TIME_FORMAT)}, and yours was not received by then.",
        status_code=410,
        advice=f"Ask {page.lead_name}, the ISMS lead, what to do now.",
    )


def _earlier_receipt(page: AckPage) -> AckReceipt | None:
    """The person's recorded acknowledgement, as a receipt, or None when there is none."""
    record = page.person
    if record is None or record.acknowledged_at is None:
        return None
    return AckReceipt(
        organisation=page.organisation,
        lead_name=page.lead_name,
        person=record.email,
        name=record.name,
        acknowledged_at=record.acknowledged_at,
        version=page.version,
        version_hash=record.version_hash or page.version_hash,
        documents=record.documents or page.documents,
        ip=record.ip,
        user_agent=record.user_agent,
        already=True,
        titles=page.titles,
        versions=page.versions,
        statement=page.statement,
    )


def _documents(page: AckPage) -> list[dict[str, str]]:
    """The person's documents as the page lists them: name, title, version, SHA-256."""
    return [
        {
            "name": name,
            "title": page.titles.get(name) or name,
            "version": page.versions.get(name) or page.version,
            "sha256": digest,
        }
        for name, digest in page.documents.items()
    ]


def _questions(page: AckPage, picked: dict[str, list[int]], wrong: list[str]) -> list[dict[str, object]]:
    """The person's questions as the page asks them (never with the right answer)."""
    asked: list[dict[str, object]] = []
    for name, questions in page.questions.items():
        given = picked.get(name, [])
        for number, question in enumerate(questions, start=1):
            asked.append(
                {
                    "id": f"q-{len(asked) + 1}",
                    "field": f"{_ANSWER_PREFIX}{name}-{number}",
                    "document": page.titles.get(name) or name,
                    "number": number,
                    "text": question.question,
                    "choices": list(enumerate(question.choices)),
                    "picked": given[number - 1] if number <= len(given) else None,
                    "wrong": f"{name}#{number}" in wrong,
                }
            )
    return asked


def _acknowledgement_page(
    request: Request,
    token: str,
    page: AckPage,
    *,
    picked: dict[str, list[int]] | None = None,
    wrong: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    csrf = new_csrf_token()
    base_path = f"/ack/{token}"
    questions = _questions(page, picked or {}, wrong or [])
    response = pages.page(
        request,
        "acknowledge.html",
        {
            "questions": questions,
            "wrong": [question for question in questions if question["wrong"]],
            "page": page,
            "person_name": page.person.name if page.person else "",
            "deadline": page.deadline.strftime(_TIME_FORMAT),
            "documents": _documents(page),
            "statement": page.statement,
            "csrf": csrf,
            "base_path": base_path,
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


def _recorded(request: Request, receipt: AckReceipt) -> HTMLResponse:
    at = receipt.acknowledged_at.astimezone(UTC).strftime(_TIME_FORMAT)
    facts: list[tuple[str, str]] = [
        ("Name", f"{receipt.name} <{receipt.person}>"),
        ("Recorded at", at),
        ("Version", receipt.version),
        ("Statement", receipt.statement),
    ]
    for name, digest in sorted(receipt.documents.items()):
        if name in receipt.titles:  # a version with titles: which document, in which version
            version = receipt.versions.get(name) or receipt.version
            facts.append(("Document", f"{receipt.titles[name]}, version {version} ({name})"))
        facts.append((f"SHA-256 of {name}", digest))
    facts.append(("From", f"{receipt.ip or 'unknown address'}; {receipt.user_agent or 'unknown browser'}"))
    if receipt.already:
        heading = "Already acknowledged"
        summary = (
            f"Your acknowledgement of version {receipt.version} was already recorded at {at}; "
            "nothing new was recorded. This is what was recorded then."
        )
    else:
        heading = "Thank you: your acknowledgement is recorded"
        summary = f"You confirmed that you have read and accept version {receipt.version}."
    return pages.page(
        request,
        "recorded.html",
        {
            "organisation": receipt.organisation,
            "heading": heading,
            "summary": summary,
            "facts": facts,
            "next_step": f"There is nothing more to do. Keep this page if you want a record; "
            f"{receipt.lead_name or 'The ISMS lead'}, the ISMS lead, can answer any question about "
            "the documents.",
        },
    )


@router.get("/ack/{token}", response_class=HTMLResponse)
async def acknowledgement_page(request: Request, token: str) -> HTMLResponse:
    """Show the documents, their fingerprints and the button. Records nothing."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    page = opened[2]
    earlier = _earlier_receipt(page)
    if earlier is not None:
        return _recorded(request, earlier)
    if _closed(page):
        return _closed_notice(request, page)
    return _acknowledgement_page(request, token, page)


@router.get("/ack/{token}/documents/{name}")
async def acknowledgement_document(request: Request, token: str, name: str) -> Response:
    """The sealed PDF of one document, shown inline. Records nothing."""
    opened = await _open_link(request, token)
    if isinstance(opened, HTMLResponse):
        return opened
    page = opened[2]
    if _earlier_receipt(page) is None and _closed(page):
        return _closed_notice(request, page)
    if name in page.withheld:
        # a document of this version, but not one of this person's: their link does not open it
        return pages.notice(
            request,
            "This document is not for you",
            "This document is not among the ones you are asked to acknowledge, so your link does not "
            "open it.",
            status_code=403,
            advice=f"If you think it should be, ask {page.lead_name}, the ISMS lead.",
        )
    stored = page.pdfs.get(name)
    if stored is None:
        return pages.notice(
            request, "No such document", "This version has no document of that name.", status_code=404
        )
    s3 = app_services(request).s3
    body = await asyncio.to_thread(lambda: s3.get_object(Bucket=stored.bucket, Key=stored.key)["Body"].read())
    if sha256_bytes(body) != page.documents.get(name, stored.sha256):
        # never show a file whose fingerprint differs from the one the person is accepting
        return pages.notice(
            request,
            "This document cannot be shown",
            "The stored file does not match its recorded SHA-256 fingerprint.",
            status_code=500,
            advice=f"Please tell {page.lead_name}, the ISMS lead.",
        )
    filename = name.removesuffix(".docx") + ".pdf"
    # only the acknowledgement page may frame it
    headers = file_headers(inline_name=filename, frame="SAMEORIGIN")
    return Response(body, media_type="application/pdf", headers=headers)


@router.post("/ack/{token}", response_class=HTMLResponse)
async def record_acknowledgement(
    request: Request,
    token: str,
    csrf: Annotated[str, Form()] = "",
    shown: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """Record "I have read and accept": sent to the batch workflow, which has the last word.

    No query first: the Update's validator refuses a closed campaign, another version, a leaver,
    a repeat and a set of documents that is not the person's own (``shown``: each document the
    page listed, as ``name=sha256``), so one call to Temporal does it (a refusal then reads the
    page to explain).
    """
    claims = _claims(request, token)
    if isinstance(claims, LinkProblem):
        return pages.problem_page(request, _PROBLEMS, claims)
    if cycle_of_batch(claims.cycle_id) is None:  # signed by us, yet names no batch
        return pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
    if not csrf_matches(request, csrf):
        opened = await _open_link(request, token)  # a link that does not work: say why first
        if isinstance(opened, HTMLResponse):
            return opened
        return pages.notice(
            request,
            "Please reload the page",
            "The form was not sent from the acknowledgement page you opened (or the page is too old). "
            "Open the link again and confirm from there.",
            status_code=403,
        )
    documents = _shown_documents(shown or [])
    if documents is None:
        return pages.notice(
            request,
            "Please reload the page",
            "The form did not come from the acknowledgement page as it was sent. "
            "Open the link again and confirm from there.",
            status_code=400,
        )
    answers = _given_answers(await request.form())
    if answers is None:
        return pages.notice(
            request,
            "Please reload the page",
            "The answers did not come from the acknowledgement page as it was sent. "
            "Open the link again and answer from there.",
            status_code=400,
        )
    handle = BatchHandle(await app_services(request).temporal(), claims.cycle_id)
    attempts, first_answers = 0, dict[str, list[int]]()
    if answers:  # the page asked questions: check this try here, count it, and say which are wrong
        opened = await _open_link(request, token)
        if isinstance(opened, HTMLResponse):
            return opened
        page = opened[2]
        earlier = _earlier_receipt(page)
        if earlier is not None:
            return _recorded(request, earlier)
        if _closed(page):
            return _closed_notice(request, page)
        attempts, first_answers = await _count_attempt(request, claims, answers)
        wrong = wrong_answers(page.questions, answers)
        if wrong:
            return _acknowledgement_page(request, token, page, picked=answers, wrong=wrong, status_code=422)
    acknowledgement = Acknowledgement(  # nothing shown: the workflow records the person's documents
        person=claims.person,
        version_hash=claims.version_hash or "",
        link_id=claims.token_id,
        documents=documents,
        ip=client_ip(request),
        user_agent=user_agent(request),
        link_sequence=claims.sequence,
        answers=answers,
        attempts=attempts,
        first_answers=first_answers,
    )
    try:
        # with the others this process has for the batch now, as one update (web.ack_commit)
        outcome = await _committer(request).commit(handle.id, acknowledgement)
    except UpdateRefusedError as refused:  # the whole group: the batch took none of it
        return await _refused(request, handle, claims, refused, token=token)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return pages.problem_page(request, _PROBLEMS, LinkProblem.TAMPERED)
        return _busy(request)
    except Exception as exc:  # WorkflowUpdateRPCTimeoutOrCancelledError, or any other failure
        # a timeout, or the group failed otherwise: it may or may not have been recorded
        log.warning("acknowledgement group to %s not confirmed: %s", handle.id, type(exc).__name__)
        return _unconfirmed(request)
    return await _outcome_page(request, handle, claims, outcome, token=token)


def _unconfirmed(request: Request) -> HTMLResponse:
    return pages.notice(
        request,
        "Your acknowledgement could not be confirmed",
        "The acknowledgement service did not answer in time, so we cannot tell yet whether it was recorded.",
        status_code=503,
        advice="Open the link again in a few minutes: it will show your acknowledgement if it "
        "was recorded, or the button if it was not.",
    )


async def _outcome_page(
    request: Request, handle: BatchHandle, claims: LinkClaims, outcome: AckOutcome, *, token: str
) -> HTMLResponse:
    """The page for one acknowledgement's outcome in its group: recorded, or why not."""
    views = _views(request)
    if outcome.receipt is not None:
        views.recorded(handle.id, outcome.receipt)  # this person's next page shows it at once
        return _recorded(request, outcome.receipt)
    if outcome.earlier is not None:  # another link or another group got there first
        views.recorded(handle.id, outcome.earlier)
        return _recorded(request, outcome.earlier)
    refused = outcome.refused
    if refused is None:
        return _unconfirmed(request)  # never sent by the workflow: neither recorded nor refused
    error = UpdateRefusedError(refused.kind, refused.kind.value, refused.message, refused.details)
    return await _refused(request, handle, claims, error, token=token)


def _given_answers(form: object) -> dict[str, list[int]] | None:
    """The answers the form sent (``answer-<name>-<number>`` = choice index), in question order,
    or None when they are not the page's (a gap, a repeat, a value that is not an index)."""
    items = form.multi_items() if hasattr(form, "multi_items") else []
    by_document: dict[str, dict[int, int]] = {}
    for field, value in items:
        if not isinstance(field, str) or not field.startswith(_ANSWER_PREFIX):
            continue
        name, separator, number = field.removeprefix(_ANSWER_PREFIX).rpartition("-")
        if not separator or not name or not number.isdigit() or not isinstance(value, str):
            return None
        if not value.isdigit() or len(value) > 2 or int(number) in by_document.get(name, {}):
            return None
        by_document.setdefault(name, {})[int(number)] = int(value)
    answers: dict[str, list[int]] = {}
    for name, given in by_document.items():
        if sorted(given) != list(range(1, len(given) + 1)) or len(given) > 10:
            return None
        answers[name] = [given[number] for number in sorted(given)]
    return answers


async def _count_attempt(
    request: Request, claims: LinkClaims, answers: dict[str, list[int]]
) -> tuple[int, dict[str, list[int]]]:
    """Count one try at the questions (atomically, in the web app's own state); returns the
    number of tries so far, this one included, and the answers of the first."""
    now = datetime.now(UTC)

    def one_more(current: dict[str, object] | None) -> tuple[dict[str, object], datetime]:
        count = int(str(current.get("attempts", 0))) if current else 0
        first = current.get("first") if current else None
        return {"attempts": count + 1, "first": first if first is not None else answers}, now + _ATTEMPTS_KEPT

    state = await app_services(request).state.change(
        ATTEMPTS_KIND, f"{claims.cycle_id}/{claims.person.casefold()}", one_more, now=now
    )
    assert state is not None
    first = state["first"]
    assert isinstance(first, dict)
    return int(state["attempts"]), {str(name): [int(a) for a in given] for name, given in first.items()}


def _shown_documents(shown: list[str]) -> dict[str, str] | None:
    """The documents the page listed (``name=sha256`` each), or None when the form is not the page's."""
    if len(shown) > _MAX_SHOWN:
        return None
    documents: dict[str, str] = {}
    for item in shown:
        name, separator, digest = item.rpartition("=")
        if not separator or not name or name in documents or len(digest) != 64:
            return None
        documents[name] = digest
    return documents


# the HTTP status of a refusal's plain page, when nothing better explains it
_REFUSAL_STATUS: dict[Refusal, int] = {
    Refusal.LEFT: 410,
    Refusal.NOT_IN_CAMPAIGN: 403,
    Refusal.NOT_STARTED: 503,
}


async def _refused(
    request: Request, handle: BatchHandle, claims: LinkClaims, refused: UpdateRefusedError, *, token: str
) -> HTMLResponse:
    """The page for an acknowledgement the workflow's validator refused: read the page to explain."""
    log.info("acknowledgement refused by %s: %s", handle.id, refused.error_type)
    try:
        page = await _query_page(request, handle, claims.person, fresh=True)
    except (RPCError, WorkflowQueryFailedError):
        page = None
    if refused.kind is Refusal.ALREADY_ACKNOWLEDGED:
        # another link (or another tab) got there first: show what that request recorded
        earlier = _earlier_receipt(page) if page is not None else None
        if earlier is not None:
            return _recorded(request, earlier)
        return pages.notice(request, "Already acknowledged", "Your acknowledgement was already recorded.")
    if refused.kind is Refusal.WRONG_ANSWERS and page is not None and page.person is not None:
        # the form had no answers (or other ones than the page asked): ask the questions again
        wrong = [line for line in refused.details if "#" in line]
        return _acknowledgement_page(request, token, page, wrong=wrong, status_code=422)
    if refused.kind is Refusal.CLOSED and page is not None:
        return _closed_notice(request, page)
    notice = _state_notice(request, claims, page) if page is not None else None
    if notice is not None:
        return notice
    if refused.kind is Refusal.SUPERSEDED:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.SUPERSEDED)
    if refused.kind is Refusal.OLD_LINK:
        return pages.problem_page(request, _PROBLEMS, LinkProblem.OLD_LINK)
    if refused.kind is Refusal.WRONG_DOCUMENTS:
        titles = ", ".join(page.titles.get(name, name) for name in page.documents) if page else ""
        return pages.notice(
            request,
            "Nothing was recorded",
            "The documents you confirmed are not the ones you are asked to acknowledge"
            + (f" ({titles})." if titles else "."),
            status_code=409,
            advice="Open the link again and confirm from the page it shows: it lists exactly your documents.",
        )
    reason = refused.message
    status_code = _REFUSAL_STATUS.get(refused.kind, 409) if refused.kind is not None else 409
    return pages.notice(
        request,
        "Nothing was recorded",
        reason[0].upper() + reason[1:] + "." if reason else "The acknowledgement was refused.",
        status_code=status_code,
    )
