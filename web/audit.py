"""The auditor's portal: one organisation's evidence archive, read-only, from the emailed link.

The link is ``<public_base_url>/audit/<token>`` (``isms audit grant``). Every request checks the
token and its grant record again, so a withdrawn grant stops working at the next click. The
grant record is read with the application's S3 identity (it lives in the drafts bucket); the
archive is read, and its download links presigned, with the read-only identity
(``Services.auditor_s3``). Nothing here writes anything.

Only objects that one of the year's chained manifests lists below ``<org>/<year>/`` are ever
offered for download, never an arbitrary key. The evidence pack is built once per archive state
(the heads of the year's chains of manifests) and kept in the web app's state folder, so a GET
serves the same zip until something is archived into a chain. Verify is a POST so that mail
security scanners, which fetch every link in a message, never start it; it changes nothing, so
it needs no CSRF value.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated
from urllib.parse import quote, urlencode

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from adapters.audit import (
    ArchiveReader,
    AuditError,
    IntegrityMismatchError,
    build_pack,
    evidence_item,
    verify_archive,
)
from adapters.audit.reader import in_prefix
from adapters.audit_access import check_auditor, legal_hold_marked
from models.archive import ArchivedDocumentFacts, ArchivedObject
from models.audit import ArchivedCycle, AuditGrant, Verdict
from models.links import LinkProblem
from web import pages
from web.security import file_headers
from web.services import Services, app_services

router = APIRouter(prefix="/audit")
log = logging.getLogger(__name__)

# how long a presigned download link works: long enough to start the download, no longer
DOWNLOAD_LINK_SECONDS = 300
_MAX_KEY_LENGTH = 1024  # S3's own limit on a key

_PROBLEMS: dict[LinkProblem, tuple[int, str, str, str]] = {
    LinkProblem.TAMPERED: (
        400,
        "This link is not valid",
        "The link is incomplete or has been changed. Links work only exactly as they were sent.",
        "Open the link from the email again, or ask the ISMS lead for a new one.",
    ),
    LinkProblem.EXPIRED: (
        410,
        "This link has expired",
        "Access to the evidence archive was granted for a limited time, and that time is over.",
        "Ask the ISMS lead to grant access again.",
    ),
    LinkProblem.REVOKED: (
        403,
        "This access has been withdrawn",
        "The ISMS lead has withdrawn the access this link gave to the evidence archive.",
        "If you still need it, ask the ISMS lead.",
    ),
    LinkProblem.WRONG_ROLE: (
        403,
        "This link is not for this page",
        "The link you opened grants access to something else, not to the evidence archive.",
        "Open the auditor's link from your access email.",
    ),
    LinkProblem.SUPERSEDED: (  # auditor links name no document version; kept so every problem has a page
        410,
        "This link has been replaced",
        "A newer link has been sent for the evidence archive.",
        "Use the link in the most recent email.",
    ),
}


# ------------------------------------------------------------------------------ helpers


def _reader(services: Services) -> ArchiveReader:
    return ArchiveReader(services.auditor_s3, services.settings.archive_bucket)


def _base_path(token: str) -> str:
    return f"/audit/{quote(token, safe='')}"


def _day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%d %B %Y") if moment else "-"


def _unavailable(request: Request, exc: Exception) -> HTMLResponse:
    log.warning("the auditor's portal cannot read the archive: %s", exc)
    response = pages.notice(
        request,
        "The archive cannot be read just now",
        "The evidence archive did not answer. Try again in a moment.",
        status_code=503,
    )
    response.headers["Retry-After"] = "30"
    return response


def _not_archived(request: Request, year_text: str) -> HTMLResponse:
    return pages.notice(
        request,
        "Nothing archived for that year",
        f"There is no archived review for {year_text[:10]} in this organisation's evidence archive.",
        status_code=404,
        advice="Go back to the list of archived years from the link in your email.",
    )


async def _grant(request: Request, token: str) -> AuditGrant | HTMLResponse:
    """The grant behind ``token`` when it works now, else the plain page saying why."""
    services = app_services(request)
    try:
        found = await asyncio.to_thread(
            check_auditor, services.s3, services.settings, token, now=datetime.now(UTC)
        )
    except (ClientError, BotoCoreError) as exc:
        return _unavailable(request, exc)
    if isinstance(found, LinkProblem):
        return pages.problem_page(request, _PROBLEMS, found)
    return found


OpenYear = tuple[AuditGrant, int, list[ArchivedCycle]]


async def _open_year(request: Request, token: str, year_text: str) -> OpenYear | HTMLResponse:
    """The grant, the year and its archived cycles, or the page saying why not (404: not archived)."""
    grant = await _grant(request, token)
    if isinstance(grant, HTMLResponse):
        return grant
    if not (year_text.isascii() and year_text.isdigit() and len(year_text) == 4):
        return _not_archived(request, year_text)
    year = int(year_text)
    try:
        cycles = await asyncio.to_thread(_reader(app_services(request)).cycles, grant.organisation, year)
    except (AuditError, ClientError, BotoCoreError) as exc:
        return _unavailable(request, exc)
    if not cycles:
        return _not_archived(request, year_text)
    return grant, year, cycles


def _context(grant: AuditGrant, token: str, **values: object) -> dict[str, object]:
    return {
        "organisation": grant.organisation,
        "grant": {"email": grant.email, "issued_by": grant.issued_by, "until": _day(grant.expires_at)},
        "base_path": _base_path(token),
        **values,
    }


def _cycle_summary(cycle: ArchivedCycle, legal_hold: bool | None) -> dict[str, object]:
    facts = cycle.facts
    acknowledged = (
        f"{facts.acknowledged} of {facts.in_scope} ({facts.rate_text})"
        if facts.in_scope is not None and facts.acknowledged is not None
        else "not archived yet"
    )
    return {
        "cycle_id": cycle.cycle_id,
        "version": facts.version or "-",
        "signer": facts.signer or "-",
        "signed_at": facts.signed_at.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC")
        if facts.signed_at
        else "-",
        "reason": facts.reason,
        "acknowledged": acknowledged,
        "retain_until": _day(cycle.retain_until),
        "legal_hold": legal_hold,
    }


def _file_row(
    obj: ArchivedObject, cycle: ArchivedCycle, base_path: str, facts: ArchivedDocumentFacts | None = None
) -> dict[str, object]:
    name = obj.key.removeprefix(f"{cycle.organisation}/{cycle.year}/")
    query = urlencode({"key": obj.key, "version": obj.version_id})
    return {
        "name": name,
        "filename": PurePosixPath(obj.key).name,
        "version_id": obj.version_id,
        "size": obj.size,
        "sha256": obj.sha256,
        "retain_until": _day(obj.retain_until),
        "evidence": evidence_item(name, facts),
        "href": f"{base_path}/{cycle.year}/download?{query}",
    }


def _cycle_detail(cycle: ArchivedCycle, base_path: str) -> dict[str, object]:
    return {
        **_cycle_summary(cycle, None),
        "versions": [
            {
                "document": version.document,
                "version": version.version,
                "files": [_file_row(f, cycle, base_path, version.facts) for f in version.files],
            }
            for version in cycle.versions
        ],
        "acknowledgements": [_file_row(o, cycle, base_path) for o in cycle.acknowledgements],
        "other": [_file_row(o, cycle, base_path) for o in cycle.other],
        "manifests": [_file_row(o, cycle, base_path) for o in cycle.manifests],
    }


def _overview(services: Services, organisation: str) -> list[tuple[int, list[dict[str, object]]]]:
    """Each archived year with its cycles' summaries (blocking: call it from a thread)."""
    reader = _reader(services)
    found: list[tuple[int, list[dict[str, object]]]] = []
    for year in reader.years(organisation):
        cycles = reader.cycles(organisation, year)
        if cycles:
            found.append(
                (
                    year,
                    [
                        _cycle_summary(c, legal_hold_marked(services.s3, services.settings, c.cycle_id))
                        for c in cycles
                    ],
                )
            )
    return found


_OLD_PACK_SECONDS = 600
# one build at a time per organisation and year: a second GET waits and then serves the same zip
_PACK_LOCKS: dict[tuple[str, int], asyncio.Lock] = {}


def _pack_folder(services: Services) -> Path:
    folder = services.settings.web_state_dir / "packs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _cached_pack(services: Services, organisation: str, year: int) -> Path:
    """The year's evidence pack for the archive as it is now: built if this state has none yet.

    Keyed by the chains' state (:meth:`YearChains.state`): a new manifest on a chain makes a new
    pack; nothing written outside the chains does. Packs of earlier states are removed.
    Blocking: call it from a thread.
    """
    reader = _reader(services)
    chains = reader.chains(organisation, year)
    folder = _pack_folder(services)
    target = folder / f"evidence-{organisation}-{year}-{chains.state()[:32]}.zip"
    if not target.exists():
        build_pack(reader, organisation, year, target, chains=chains)
    for old in folder.glob(f"evidence-{organisation}-{year}-*.zip"):
        # kept a while: a response may still be about to send it
        if old != target and time.time() - old.stat().st_mtime > _OLD_PACK_SECONDS:
            old.unlink(missing_ok=True)
    return target


# ------------------------------------------------------------------------------- routes


@router.get("/{token}", response_class=HTMLResponse)
async def archive_index(request: Request, token: str) -> HTMLResponse:
    """The organisation's archived years and, per year, its cycles."""
    grant = await _grant(request, token)
    if isinstance(grant, HTMLResponse):
        return grant
    try:
        years = await asyncio.to_thread(_overview, app_services(request), grant.organisation)
    except (AuditError, ClientError, BotoCoreError) as exc:
        return _unavailable(request, exc)
    return pages.page(request, "audit_index.html", _context(grant, token, years=years))


@router.get("/{token}/{year}", response_class=HTMLResponse)
async def archive_year(request: Request, token: str, year: str) -> HTMLResponse:
    """One year: each cycle's documents, versions and files, the acknowledgements, the manifests."""
    opened = await _open_year(request, token, year)
    if isinstance(opened, HTMLResponse):
        return opened
    grant, found_year, cycles = opened
    base_path = _base_path(token)
    return pages.page(
        request,
        "audit_year.html",
        _context(grant, token, year=found_year, cycles=[_cycle_detail(c, base_path) for c in cycles]),
    )


@router.get("/{token}/{year}/download", response_model=None)
async def download(
    request: Request,
    token: str,
    year: str,
    key: Annotated[str, Query(max_length=_MAX_KEY_LENGTH)] = "",
    version: Annotated[str, Query(max_length=_MAX_KEY_LENGTH)] = "",
) -> Response:
    """A short-lived link to exactly one archived version; only for objects the year's manifests list."""
    opened = await _open_year(request, token, year)
    if isinstance(opened, HTMLResponse):
        return opened
    grant, found_year, cycles = opened
    chosen = next(
        (o for c in cycles for o in c.objects() if o.key == key and o.version_id == version),
        None,
    )
    if chosen is None or not in_prefix(chosen.key, grant.organisation, found_year):
        return pages.notice(
            request,
            "No such archived file",
            "That file is not among the archived evidence of this year.",
            status_code=404,
            advice="Use the Download links on the year's page.",
        )
    url = _reader(app_services(request)).presigned_url(
        chosen, filename=PurePosixPath(chosen.key).name, expires_seconds=DOWNLOAD_LINK_SECONDS
    )
    response = RedirectResponse(url, status_code=303, headers=file_headers())
    response.headers["Referrer-Policy"] = "no-referrer"  # the portal's URL carries the token
    return response


@router.post("/{token}/{year}/verify", response_class=HTMLResponse)
async def verify(request: Request, token: str, year: str) -> HTMLResponse:
    """Check every archived object of the year against its manifest, and show what was found."""
    opened = await _open_year(request, token, year)
    if isinstance(opened, HTMLResponse):
        return opened
    grant, found_year, _ = opened
    reader = _reader(app_services(request))
    try:
        report = await asyncio.to_thread(
            verify_archive, reader, grant.organisation, found_year, now=datetime.now(UTC)
        )
    except (AuditError, ClientError, BotoCoreError) as exc:
        return _unavailable(request, exc)
    return pages.page(
        request,
        "audit_verify.html",
        _context(
            grant,
            token,
            year=found_year,
            report=report,
            verdict=report.verdict.value,
            counts={v.value: report.count(v) for v in Verdict},
            checked_at=report.checked_at.astimezone(UTC).strftime("%d %B %Y, %H:%M:%S UTC"),
        ),
    )


@router.get("/{token}/{year}/pack", response_model=None)
async def evidence_pack(request: Request, token: str, year: str) -> Response:
    """The evidence pack: every archived object of the year (hash-checked), its manifests, an index."""
    opened = await _open_year(request, token, year)
    if isinstance(opened, HTMLResponse):
        return opened
    grant, found_year, _ = opened
    filename = f"evidence-{grant.organisation}-{found_year}.zip"
    services = app_services(request)
    lock = _PACK_LOCKS.setdefault((grant.organisation, found_year), asyncio.Lock())
    try:
        async with lock:
            pack = await asyncio.to_thread(_cached_pack, services, grant.organisation, found_year)
    except IntegrityMismatchError as exc:
        log.warning("evidence pack refused: %s", exc)
        return pages.notice(
            request,
            "The evidence pack was not built",
            "An archived file does not match the SHA-256 its manifest recorded.",
            status_code=409,
            advice="Use Verify on the year's page to see which one.",
        )
    except (AuditError, ClientError, BotoCoreError) as exc:
        return _unavailable(request, exc)
    return FileResponse(pack, media_type="application/zip", filename=filename, headers=file_headers())
