"""``GET /statement``: the public policy statement of the newest signed version (no token).

Clause 5 evidence item 5 (external availability). Anyone may read it: nothing here needs a
link, sets a cookie or writes anything. The statement is read from the archive with the
read-only auditor identity (``Services.auditor_s3``), from the signed version's manifest on its
cycle's chain (in its earliest version, as verify reads it), and served only when its bytes
have the SHA-256 that manifest records (``facts.public_statement_sha256``).

Cacheable: ``Cache-Control: public, max-age=300`` and an ``ETag`` (the SHA-256), ``304`` for a
matching ``If-None-Match``. The app keeps what it found for :data:`CACHE_SECONDS`, so a page
many people open does not list the archive each time; a newly signed version appears within
that. When the newest signed version has no statement (none was ever published, or the
profile stopped publishing one) the answer is a plain 404 page, never an older version's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from adapters.audit.chain import SIGNED_STAGE_PREFIX
from adapters.audit.reader import ArchiveReader, AuditError, in_prefix
from core.profile_io import UnreadableInputError, load_profile
from models.archive import (
    PUBLIC_STATEMENT_FOLDER,
    PUBLIC_STATEMENT_PATH,
    PUBLIC_STATEMENT_STEM,
    ArchivedObject,
)
from web import pages
from web.services import Services, app_services

log = logging.getLogger("isms.web.statement")
router = APIRouter()

CACHE_SECONDS: Final = 60.0  # how long the app keeps what it found in the archive
MAX_AGE: Final = 300  # how long browsers and proxies may keep the statement
# the statement page carries its own styles and nothing else: no script, no image, no form
PAGE_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_TYPES: Final = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf"}


@dataclass(frozen=True)
class PublishedStatement:
    """The statement as archived: its bytes (checked), what they are, and the version they name."""

    body: bytes
    sha256: str
    content_type: str
    filename: str  # statement.html or statement.pdf
    version: str
    signed_at: datetime | None
    organisation: str


@dataclass
class _Cached:
    found: PublishedStatement | None
    at: float


def _statement_object(
    objects: list[ArchivedObject], sha256: str, organisation: str, year: int
) -> ArchivedObject:
    for obj in objects:
        name = PurePosixPath(obj.key.removeprefix(f"{organisation}/{year}/"))
        if (
            in_prefix(obj.key, organisation, year)
            and name.parts[:1] == (PUBLIC_STATEMENT_FOLDER,)
            and name.stem == PUBLIC_STATEMENT_STEM
            and name.suffix in _TYPES
            and obj.sha256 == sha256
        ):
            return obj
    raise AuditError(f"the manifest names a public statement of SHA-256 {sha256} but lists no such object")


def newest_statement(
    reader: ArchiveReader, organisations: list[str] | None = None
) -> PublishedStatement | None:
    """The statement of the newest signed version among ``organisations`` (all archived: None).

    None when that version published none. Raises :class:`AuditError` when the archive cannot
    be read or the statement's bytes are not the ones its manifest records (blocking: S3 calls).
    """
    newest = None
    for organisation in organisations if organisations is not None else reader.organisations():
        for year in reader.years(organisation):
            for member in reader.chains(organisation, year).members():
                manifest = member.manifest
                if not manifest.stage.startswith(SIGNED_STAGE_PREFIX) or manifest.facts.signed_at is None:
                    continue
                moment = manifest.facts.signed_at
                if newest is None or moment > newest[0]:
                    newest = (moment, organisation, year, manifest)
    if newest is None:
        return None
    _, organisation, year, manifest = newest
    sha256 = manifest.facts.public_statement_sha256
    if sha256 is None:
        return None
    obj = _statement_object(manifest.objects, sha256, organisation, year)
    body = reader.read_checked(obj)  # IntegrityMismatchError (an AuditError) when it differs
    name = PurePosixPath(obj.key).name
    return PublishedStatement(
        body=body,
        sha256=sha256,
        content_type=_TYPES[PurePosixPath(obj.key).suffix],
        filename=name,
        version=manifest.facts.version,
        signed_at=manifest.facts.signed_at,
        organisation=organisation,
    )


def _organisations(services: Services) -> list[str] | None:
    """The dashboard's organisation when a profile is configured (its statement only); else all."""
    if services.settings.profile_file is None:
        return None
    try:
        return [load_profile(services.settings.profile_file).organisation.short_name]
    except UnreadableInputError:
        log.warning("ISMS_PROFILE_FILE cannot be read: the statement is looked for in every organisation")
        return None


def _cache(request: Request) -> dict[str, _Cached]:
    cache: dict[str, _Cached] | None = getattr(request.app.state, "public_statement_cache", None)
    if cache is None:
        cache = {}
        request.app.state.public_statement_cache = cache
    return cache


async def _published(request: Request) -> PublishedStatement | None:
    cache = _cache(request)
    held = cache.get("newest")
    now = time.monotonic()
    if held is not None and now - held.at < CACHE_SECONDS:
        return held.found
    services = app_services(request)
    reader = ArchiveReader(services.auditor_s3, services.settings.archive_bucket)
    organisations = await asyncio.to_thread(_organisations, services)
    found = await asyncio.to_thread(newest_statement, reader, organisations)
    cache["newest"] = _Cached(found, now)
    return found


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _not_published(request: Request) -> HTMLResponse:
    return pages.notice(
        request,
        "No statement has been published yet",
        "The information security policy statement appears here once top management has signed the policy.",
        status_code=404,
    )


@router.api_route(PUBLIC_STATEMENT_PATH, methods=["GET", "HEAD"], response_model=None)
async def public_statement(request: Request) -> Response:
    """The newest signed version's statement, exactly as archived; 304 when the client holds it."""
    try:
        found = await _published(request)
    except (AuditError, ClientError, BotoCoreError) as exc:
        log.warning("the public statement cannot be read from the archive: %s", exc)
        response = pages.notice(
            request,
            "The statement cannot be shown just now",
            "The archive it is kept in did not answer, or did not hold what it recorded. Try again later.",
            status_code=503,
        )
        response.headers["Retry-After"] = "60"
        return response
    if found is None:
        return _not_published(request)
    etag = f'"{found.sha256}"'
    headers = {
        "Cache-Control": f"public, max-age={MAX_AGE}",
        "ETag": etag,
        "Content-Security-Policy": PAGE_POLICY,
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if found.content_type == "application/pdf":
        headers["Content-Disposition"] = f'inline; filename="{found.filename}"'
    return Response(content=found.body, media_type=found.content_type, headers=headers)
