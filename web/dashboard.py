"""The ISMS lead's dashboard: start a cycle, see its stage and history, submit a revision,
follow the acknowledgement campaign (totals, the rate, and a bar per department).

For the ISMS lead alone: signing in takes the credential from settings
(``ISMS_DASHBOARD_PASSWORD``) and sets a signed, HttpOnly, SameSite=Strict session cookie
scoped to /dashboard. Signing, acknowledgement and auditor links are never accepted here,
and every POST checks both the session and its CSRF value.
"""

from __future__ import annotations

import hmac
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.campaign import campaign_progress
from adapters.cycles import cycle_status, list_cycles, start_cycle, submit_revision
from models.campaign import RATE_TARGET, CampaignProgress, Tally
from models.cycle import CycleStatus, Stage
from web import pages
from web.document_uploads import place_document_uploads
from web.security import client_ip
from web.services import app_services as _services

router = APIRouter(prefix="/dashboard")

SESSION_COOKIE = "isms_session"
SESSION_HOURS = 8
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_SALT = "isms-cycle.dashboard-session"


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_services(request).settings.link_secret.get_secret_value(), salt=_SALT)


def _session_csrf(request: Request) -> str | None:
    """The session's CSRF value when the lead is signed in, else None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        data = _serializer(request).loads(cookie, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("role") != "lead" or not isinstance(data.get("csrf"), str):
        return None
    csrf: str = data["csrf"]
    return csrf


def _authorised_post(request: Request, submitted: str) -> bool:
    expected = _session_csrf(request)
    return expected is not None and hmac.compare_digest(expected.encode(), submitted.encode())


_page = pages.page


def _to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


def _refused() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>Not allowed</title><h1>Not allowed</h1>"
        "<p>This needs the ISMS lead's dashboard session. Nothing was changed. "
        '<a href="/dashboard/login">Sign in</a></p>',
        status_code=403,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    configured = _services(request).settings.dashboard_password is not None
    return _page(request, "dashboard_login.html", {"error": "", "configured": configured})


@router.post("/login", response_model=None)
async def login(request: Request, password: Annotated[str, Form(max_length=500)] = "") -> Response:
    settings = _services(request).settings
    expected = settings.dashboard_password
    if expected is None:
        return _page(request, "dashboard_login.html", {"error": "", "configured": False}, status_code=403)
    if not hmac.compare_digest(password.encode(), expected.get_secret_value().encode()):
        return _page(
            request,
            "dashboard_login.html",
            {"error": "That is not the dashboard password.", "configured": True},
            status_code=401,
        )
    token = _serializer(request).dumps({"role": "lead", "csrf": secrets.token_urlsafe(32)})
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=settings.public_base_url.startswith("https"),
    )
    return response


@router.post("/logout")
async def logout() -> RedirectResponse:
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


@router.get("", response_model=None)
async def home(request: Request) -> Response:
    csrf = _session_csrf(request)
    if csrf is None:
        return _to_login()
    cycles = await list_cycles(await _services(request).temporal())
    return _page(
        request,
        "dashboard.html",
        {"cycles": cycles, "csrf": csrf, "year": datetime.now(UTC).year, "outcome": None},
    )


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


@router.post("/cycles", response_model=None)
async def start(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    year: Annotated[int, Form(ge=2000, le=2100)] = 0,
    reason: Annotated[str, Form(max_length=500)] = "",
    profile: Annotated[UploadFile | None, File()] = None,
    staff: Annotated[UploadFile | None, File()] = None,
    documents: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Start a cycle from uploaded files: checked first; refused with the findings.

    ``documents`` are the files the profile's documents section names (templates, static
    documents), matched to its entries by file name (:mod:`web.document_uploads`).
    """
    if not _authorised_post(request, csrf):
        return _refused()
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
            placed = await place_document_uploads(paths["profile"], documents, Path(folder))
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
                year=year or datetime.now(UTC).year,
                started_by=f"ISMS lead via dashboard ({client_ip(request) or 'unknown address'})",
                reason=reason.strip() or None,
            )
            if outcome.ok:
                return RedirectResponse(f"/dashboard/cycles/{outcome.cycle_id}", status_code=303)
            outcome_view = {"ok": False, "message": outcome.message, "problems": outcome.problems}
    cycles = await list_cycles(client)
    return _page(
        request,
        "dashboard.html",
        {"cycles": cycles, "csrf": csrf, "year": datetime.now(UTC).year, "outcome": outcome_view},
        status_code=422,
    )


@router.get("/cycles/{cycle_id}", response_model=None)
async def cycle_page(request: Request, cycle_id: str) -> Response:
    csrf = _session_csrf(request)
    if csrf is None:
        return _to_login()
    client = await _services(request).temporal()
    found = await cycle_status(client, cycle_id)
    campaign, campaign_error = await _campaign_figures(client, cycle_id)
    if found is None and campaign is None:
        return _page(request, "problem.html", _missing(cycle_id), status_code=404)
    return _page(
        request,
        "dashboard_cycle.html",
        _cycle_context(cycle_id, found, csrf, None, campaign=campaign, campaign_error=campaign_error),
    )


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
async def revise(
    request: Request,
    cycle_id: str,
    csrf: Annotated[str, Form()] = "",
    profile: Annotated[UploadFile | None, File()] = None,
    staff: Annotated[UploadFile | None, File()] = None,
    documents: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Submit a revised profile (and optionally a new directory); the cycle checks it first.

    The revised profile's own files come with it (``documents``, matched by file name): they
    replace the cycle's, so every file the revised profile names must be chosen again.
    """
    if not _authorised_post(request, csrf):
        return _refused()
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
                submitted_by=f"ISMS lead via dashboard ({client_ip(request) or 'unknown address'})",
            )
            outcome_view = {"ok": outcome.ok, "message": outcome.message, "problems": outcome.problems}
    found = await cycle_status(client, cycle_id)
    campaign, campaign_error = await _campaign_figures(client, cycle_id)
    if found is None and campaign is None:
        return _page(request, "problem.html", _missing(cycle_id), status_code=404)
    return _page(
        request,
        "dashboard_cycle.html",
        _cycle_context(cycle_id, found, csrf, outcome_view, campaign=campaign, campaign_error=campaign_error),
        status_code=200 if outcome_view["ok"] else 422,
    )
