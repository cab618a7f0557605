"""The ISMS lead's dashboard: start a cycle, see its stage and history, submit a revision,
follow the acknowledgement campaign (totals, the rate, and a bar per department) and the role
acceptance (who accepted which role, who was reminded, escalated or declined).

For the people :mod:`web.signin` lets in (the profile's ISMS lead and deputy, and
``settings.admins``), each under their own name: every route checks the server-side session
first, before it reads any of a form's body, then reads the form with tight limits and checks
the session's CSRF value. Signing, acknowledgement and auditor links are never accepted here.
Every action is recorded with the signed-in person's email.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from adapters.audit.reader import AuditError
from adapters.audit_access import issue_grant, send_grant_email
from adapters.campaign import campaign_progress
from adapters.cycles import cycle_status, list_cycles, start_cycle, submit_revision
from adapters.role_view import role_lines, role_state
from models.campaign import RATE_TARGET, CampaignProgress, Tally
from models.cycle import CycleStatus, Stage
from web import pages
from web.document_uploads import MAX_DOCUMENT_FILES, place_document_uploads
from web.services import app_services as _services
from web.signin import SESSION_COOKIE, SINGLE_USER_ACTOR, DashboardSession, current_session, desk
from web.signin import router as signin_router

router = APIRouter(prefix="/dashboard")
# sign-in, the emailed link, single sign-on and logout live in web.signin, under /dashboard
router.include_router(signin_router)

__all__ = ["SESSION_COOKIE", "router"]
security_log = logging.getLogger("isms.security")

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# what a start or revision form may hold: the profile, the staff directory and the documents
# (a few more than allowed, so that too many gets the findings page's own wording), and three
# short fields; a field's text is at most 16 KB (file parts are capped where they are read)
FORM_LIMITS = {"max_files": 2 + MAX_DOCUMENT_FILES + 5, "max_fields": 8, "max_part_size": 16 * 1024}


_page = pages.page


def _to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


def _refused() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>Not allowed</title><h1>Not allowed</h1>"
        "<p>This needs a signed-in dashboard session. Nothing was changed. "
        '<a href="/dashboard/login">Sign in</a></p>',
        status_code=403,
    )


async def _signed_in_form(request: Request) -> tuple[DashboardSession, FormData] | Response:
    """The session, then (only then) the form, with its CSRF value checked.

    Without a live session the body is never read: 403 at once.
    """
    session = await current_session(request)
    if session is None:
        return _refused()
    try:
        form = await request.form(**FORM_LIMITS)
    except StarletteHTTPException as exc:
        return pages.notice(
            request, "The form could not be read", f"{exc.detail} Nothing was changed.", status_code=400
        )
    if not session.csrf_matches(form.get("csrf")):
        await form.close()
        return _refused()
    return session, form


def _uploads(form: FormData, name: str) -> list[UploadFile]:
    # request.form() gives Starlette's UploadFile; FastAPI's is the same class with extra docs
    return [cast(UploadFile, item) for item in form.getlist(name) if isinstance(item, StarletteUploadFile)]


def _upload(form: FormData, name: str) -> UploadFile | None:
    found = _uploads(form, name)
    return found[0] if found else None


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _home_context(request: Request, session: DashboardSession) -> dict[str, object]:
    return {
        "signed_in_as": session.email or "the single-user install (shared password)",
        "failed_signins": await desk(request).failures.latest(),
        "csrf": session.csrf,
        "grant": None,
        "organisation": desk(request).allowed.short_name,
    }


async def _home(
    request: Request, session: DashboardSession, *, status_code: int = 200, **overrides: object
) -> Response:
    cycles = await list_cycles(await _services(request).temporal())
    context = {
        **await _home_context(request, session),
        "cycles": cycles,
        "year": datetime.now(UTC).year,
        "outcome": None,
        **overrides,
    }
    return _page(request, "dashboard.html", context, status_code=status_code)


@router.get("", response_model=None)
async def home(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login()
    return await _home(request, session)


@router.post("/auditor-access", response_model=None)
async def grant_auditor_access(request: Request) -> Response:
    """Give an auditor read-only access to the archive (``adapters.audit_access``), recorded as
    issued by the signed-in person, and email them the portal link (never shown on the page)."""
    session = await current_session(request)
    if session is None:
        return _refused()
    try:
        form = await request.form(max_files=0, max_fields=6, max_part_size=1024)
    except StarletteHTTPException as exc:
        return pages.notice(request, "The form could not be read", str(exc.detail), status_code=400)
    if not session.csrf_matches(form.get("csrf")):
        return _refused()
    services = _services(request)
    days_text = _text(form, "days").strip() or "30"
    organisation = _text(form, "organisation").strip()
    auditor = _text(form, "email").strip()
    if not days_text.isdigit() or not organisation:
        problem = "the number of days must be a whole number" if organisation else "name the organisation"
        return await _home(request, session, status_code=422, grant={"ok": False, "message": problem})
    issued_by = session.email or SINGLE_USER_ACTOR
    try:
        issued, link = await asyncio.to_thread(
            issue_grant,
            services.s3,
            services.settings,
            email=auditor,
            organisation=organisation,
            days=int(days_text),
            issued_by=issued_by,
            now=datetime.now(UTC),
        )
    except AuditError as exc:
        return await _home(request, session, status_code=422, grant={"ok": False, "message": str(exc)})
    security_log.info(
        "auditor access granted grant=%s auditor=%s organisation=%s by=%s",
        issued.grant_id,
        issued.email,
        issued.organisation,
        session.actor(request),
    )
    try:
        await asyncio.to_thread(send_grant_email, services.settings, issued, link)
        sent = f"The portal link was emailed to {issued.email}."
    except (OSError, smtplib.SMTPException) as exc:
        sent = (
            f"The email to {issued.email} could not be sent ({type(exc).__name__}): revoke this grant "
            "with isms audit revoke and grant again."
        )
    message = (
        f"{issued.email} has read-only access to {issued.organisation}'s archive until "
        f"{issued.expires_at:%Y-%m-%d %H:%M} UTC (grant {issued.grant_id}). {sent}"
    )
    return await _home(request, session, grant={"ok": True, "message": message})


async def _save_upload(upload: UploadFile, folder: Path, name: str) -> Path | str:
    """The uploaded file on disk, or a message saying why it was not accepted."""
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        return f"{name}: no file was chosen"
    if len(data) > MAX_UPLOAD_BYTES:
        return f"{name}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    suffix = Path(upload.filename or "").suffix.lower() or (".yaml" if name == "profile" else ".csv")
    path = folder / f"{name}{suffix}"
    path.write_bytes(data)
    return path


def _year(text: str) -> int | None:
    """The form's year: empty means this year; otherwise a whole number from 2000 to 2100."""
    if not text.strip():
        return datetime.now(UTC).year
    if not text.strip().isdigit() or not 2000 <= int(text.strip()) <= 2100:
        return None
    return int(text.strip())


@router.post("/cycles", response_model=None)
async def start(request: Request) -> Response:
    """Start a cycle from uploaded files: checked first; refused with the findings.

    The form's ``documents`` are the files the profile's documents section names (templates,
    static documents), matched to its entries by file name (:mod:`web.document_uploads`).
    """
    checked = await _signed_in_form(request)
    if isinstance(checked, Response):
        return checked
    session, form = checked
    try:
        return await _start(request, session, form)
    finally:
        await form.close()  # the uploads' spooled files


async def _start(request: Request, session: DashboardSession, form: FormData) -> Response:
    year = _year(_text(form, "year"))
    reason = _text(form, "reason")
    if year is None or len(reason) > 500:
        problem = (
            "The year must be a whole number from 2000 to 2100."
            if year is None
            else ("The reason for an ad-hoc review must be at most 500 characters.")
        )
        return pages.notice(
            request, "The form could not be read", f"{problem} Nothing was started.", status_code=400
        )
    profile, staff = _upload(form, "profile"), _upload(form, "staff")
    services = _services(request)
    client = await services.temporal()
    with tempfile.TemporaryDirectory(prefix="isms-upload-") as folder:
        problems = []
        paths: dict[str, Path] = {}
        for name, upload in (("profile", profile), ("staff", staff)):
            saved = (
                await _save_upload(upload, Path(folder), name) if upload else f"{name}: no file was chosen"
            )
            if isinstance(saved, str):
                problems.append(saved)
            else:
                paths[name] = saved
        if not problems:
            placed = await place_document_uploads(paths["profile"], _uploads(form, "documents"), Path(folder))
            if isinstance(placed, list):
                problems = placed
            else:
                paths["profile"] = placed
        if problems:
            outcome_view = {"ok": False, "message": "Nothing was started.", "problems": problems}
        else:
            outcome = await start_cycle(
                client,
                services.settings,
                services.s3,
                profile=paths["profile"],
                staff=paths["staff"],
                year=year,
                started_by=session.actor(request),
                reason=reason.strip() or None,
            )
            if outcome.ok:
                return RedirectResponse(f"/dashboard/cycles/{outcome.cycle_id}", status_code=303)
            outcome_view = {"ok": False, "message": outcome.message, "problems": outcome.problems}
    return await _home(request, session, status_code=422, outcome=outcome_view)


@router.get("/cycles/{cycle_id}", response_model=None)
async def cycle_page(request: Request, cycle_id: str) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login()
    csrf = session.csrf
    client = await _services(request).temporal()
    found = await cycle_status(client, cycle_id)
    campaign, campaign_error = await _campaign_figures(client, cycle_id)
    if found is None and campaign is None:
        return _page(request, "problem.html", _missing(cycle_id), status_code=404)
    context = _cycle_context(cycle_id, found, csrf, None, campaign=campaign, campaign_error=campaign_error)
    context.update(await _role_figures(client, cycle_id))
    return _page(request, "dashboard_cycle.html", context)


def _missing(cycle_id: str) -> dict[str, object]:
    return {
        "heading": "No such cycle",
        "explanation": f"There is no cycle {cycle_id}.",
        "advice": "",
        "tone": "warn",
    }


async def _campaign_figures(client: Client, cycle_id: str) -> tuple[CampaignProgress | None, str]:
    """The campaign's figures (by query, as ``isms cycle status`` reads them), or why not."""
    try:
        return await campaign_progress(client, cycle_id), ""
    except RPCError as exc:  # the rest of the page is still worth showing
        return None, f"The campaign's figures cannot be read just now ({exc.message})."


async def _role_figures(client: Client, cycle_id: str) -> dict[str, object]:
    """The role acceptance's figures and lines (``role_state`` query), or why they are missing."""
    try:
        state = await role_state(client, cycle_id)
    except (RPCError, WorkflowQueryFailedError) as exc:  # the rest of the page is still worth showing
        return {"roles": None, "roles_error": f"Role acceptance cannot be read just now ({exc})."}
    return {"roles": role_lines(state) if state is not None else None, "roles_error": ""}


def _share(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a CSS width, rounded down to a tenth so bars never overflow."""
    return f"{part * 1000 // whole / 10}%" if whole else "0%"


def _bar(name: str, tally: Tally) -> dict[str, object]:
    """One horizontal bar: acknowledged, outstanding not yet overdue, and overdue, as widths."""
    waiting = tally.outstanding - tally.overdue
    return {
        "name": name,
        "tally": tally,
        "rate": tally.rate_text,
        "acknowledged_width": _share(tally.acknowledged, tally.total),
        "waiting_width": _share(waiting, tally.total),
        "overdue_width": _share(tally.overdue, tally.total),
        "label": (
            f"{name}: {tally.acknowledged} of {tally.total} acknowledged, {tally.outstanding} "
            f"outstanding ({tally.overdue} overdue)"
        ),
    }


def _campaign_context(progress: CampaignProgress | None) -> dict[str, object] | None:
    if progress is None:
        return None
    result = progress.result
    return {
        "progress": progress,
        "stage": progress.stage.value,
        "closed": result is not None,
        "overall": _bar("Everyone in scope", progress.tally),
        "departments": [_bar(name, tally) for name, tally in progress.by_department.items()],
        # per document (what staff acknowledge): acknowledged of the people in its audience
        "documents": [
            {
                **_bar(document.title, progress.by_document.get(document.name, Tally())),
                "document": document,
            }
            for document in progress.documents
            if document.name in progress.by_document
        ],
        "no_documents": progress.no_documents,
        "target": f"{RATE_TARGET:.0%}",
        "deadline": progress.deadline.strftime("%Y-%m-%d %H:%M UTC") if progress.deadline else "-",
        "stored": (
            [
                ("Register (CSV)", f"s3://{result.register_csv.bucket}/{result.register_csv.key}"),
                ("Register (JSON)", f"s3://{result.register_json.bucket}/{result.register_json.key}"),
                ("Report (HTML)", f"s3://{result.report.bucket}/{result.report.key}"),
                ("Report (Markdown)", f"s3://{result.report_markdown.bucket}/{result.report_markdown.key}"),
            ]
            if result is not None
            else []
        ),
        "target_met": result.target_met if result is not None else None,
    }


def _cycle_context(
    cycle_id: str,
    found: tuple[CycleStatus, str] | None,
    csrf: str,
    outcome: dict[str, object] | None,
    *,
    campaign: CampaignProgress | None,
    campaign_error: str,
) -> dict[str, object]:
    status, run_state = found if found is not None else (None, "")
    revisable = status is not None and status.stage in (Stage.AWAITING_SIGNATURE, Stage.AWAITING_REVISION)
    return {
        "cycle_id": cycle_id,
        "status": status,
        "run_state": run_state,
        "csrf": csrf,
        "outcome": outcome,
        "revisable": revisable,
        "campaign": _campaign_context(campaign),
        "campaign_error": campaign_error,
    }


@router.post("/cycles/{cycle_id}/revision", response_model=None)
async def revise(request: Request, cycle_id: str) -> Response:
    """Submit a revised profile (and optionally a new directory); the cycle checks it first.

    The revised profile's own files come with it (``documents``, matched by file name): they
    replace the cycle's, so every file the revised profile names must be chosen again.
    """
    checked = await _signed_in_form(request)
    if isinstance(checked, Response):
        return checked
    session, form = checked
    try:
        return await _revise(request, cycle_id, session, form)
    finally:
        await form.close()  # the uploads' spooled files


async def _revise(request: Request, cycle_id: str, session: DashboardSession, form: FormData) -> Response:
    csrf = session.csrf
    profile, staff, documents = _upload(form, "profile"), _upload(form, "staff"), _uploads(form, "documents")
    services = _services(request)
    client = await services.temporal()
    with tempfile.TemporaryDirectory(prefix="isms-upload-") as folder:
        saved_profile = (
            await _save_upload(profile, Path(folder), "profile") if profile else "profile: no file"
        )
        saved_staff = await _save_upload(staff, Path(folder), "staff") if staff and staff.filename else None
        problems = [p for p in (saved_profile, saved_staff) if isinstance(p, str)]
        if not isinstance(saved_profile, str):
            placed = await place_document_uploads(saved_profile, documents, Path(folder))
            if isinstance(placed, list):
                problems += placed
            else:
                saved_profile = placed
        if problems or isinstance(saved_profile, str) or isinstance(saved_staff, str):
            outcome_view: dict[str, object] = {
                "ok": False,
                "message": "Nothing was submitted.",
                "problems": problems,
            }
        else:
            outcome, _ = await submit_revision(
                client,
                services.settings,
                services.s3,
                cycle_id=cycle_id,
                profile=saved_profile,
                staff=saved_staff,
                submitted_by=session.actor(request),
            )
            outcome_view = {"ok": outcome.ok, "message": outcome.message, "problems": outcome.problems}
    found = await cycle_status(client, cycle_id)
    campaign, campaign_error = await _campaign_figures(client, cycle_id)
    if found is None and campaign is None:
        return _page(request, "problem.html", _missing(cycle_id), status_code=404)
    context = _cycle_context(
        cycle_id, found, csrf, outcome_view, campaign=campaign, campaign_error=campaign_error
    )
    context.update(await _role_figures(client, cycle_id))
    return _page(request, "dashboard_cycle.html", context, status_code=200 if outcome_view["ok"] else 422)
