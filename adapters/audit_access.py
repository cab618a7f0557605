"""Auditor access: read-only, one organisation, expiring, revocable; and the lead's legal hold.

A grant is an AUDITOR link token (core.tokens: HMAC, 128-bit nonce, expiry) whose ``cycle_id``
claim is the organisation's short name, plus a record in the drafts bucket under
``<drafts prefix>audit/grants/<grant id>.json``. The token alone is not enough: the record
must exist and not be revoked, so ``isms audit revoke`` takes effect at the next request.

A legal hold on a cycle sets S3 Object Lock legal hold ON on every archived version of the
cycle, and leaves a marker (``audit/holds/<cycle id>.json``) so that objects archived later for
the same cycle (the register, when the campaign closes) are held too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING

from adapters.audit.reader import ArchiveReader, AuditError
from adapters.s3 import object_exists, read_object
from adapters.smtp import open_smtp
from core.email_templates import render_email_template
from core.mail_message import build_message
from core.settings import Settings
from core.tokens import issue_link, link_url, read_link
from models.archive import ArchivedObject
from models.audit import AuditGrant
from models.links import LinkClaims, LinkProblem, LinkRole

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_GRANT_DAYS = 365
AUDIT_PATH = "audit"


def _grant_key(settings: Settings, grant_id: str) -> str:
    return f"{settings.drafts_prefix}audit/grants/{grant_id}.json"


def hold_key(settings: Settings, cycle_id: str) -> str:
    return f"{settings.drafts_prefix}audit/holds/{cycle_id}.json"


def _checked_email(email: str) -> str:
    _, address = parseaddr(email)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or " " in address or address != email.strip():
        raise AuditError(f"not an email address: {email!r}")
    return address


def issue_grant(
    s3: S3Client,
    settings: Settings,
    *,
    email: str,
    organisation: str,
    days: int,
    issued_by: str,
    now: datetime,
) -> tuple[AuditGrant, str]:
    """Record a grant and return it with the portal link to send the auditor."""
    address = _checked_email(email)
    if not 1 <= days <= MAX_GRANT_DAYS:
        raise AuditError(f"--days must be between 1 and {MAX_GRANT_DAYS}, got {days}")
    reader = ArchiveReader(s3, settings.archive_bucket)
    known = reader.organisations()
    if organisation not in known:
        raise AuditError(
            f"no archive for organisation {organisation!r}; "
            f"archived organisations: {', '.join(known) or 'none yet'}"
        )
    token = issue_link(
        settings.link_secret.get_secret_value(),
        cycle_id=organisation,
        person=address,
        role=LinkRole.AUDITOR,
        version_hash=None,
        ttl=timedelta(days=days),
        now=now,
    )
    claims = read_link(
        settings.link_secret.get_secret_value(), token, expected_role=LinkRole.AUDITOR, now=now
    )
    assert isinstance(claims, LinkClaims)
    grant = AuditGrant(
        grant_id=claims.nonce,
        email=address,
        organisation=organisation,
        issued_by=issued_by,
        issued_at=now,
        expires_at=claims.expires_at,
    )
    _save(s3, settings, grant)
    return grant, link_url(settings.public_base_url, AUDIT_PATH, token)


def _put_record(s3: S3Client, settings: Settings, key: str, body: bytes) -> None:
    """Write a grant or hold record to the drafts bucket (records change: no content-hash key)."""
    s3.put_object(Bucket=settings.drafts_bucket, Key=key, Body=body, ContentType="application/json")


def _save(s3: S3Client, settings: Settings, grant: AuditGrant) -> None:
    _put_record(s3, settings, _grant_key(settings, grant.grant_id), grant.model_dump_json(indent=2).encode())


def load_grant(s3: S3Client, settings: Settings, grant_id: str) -> AuditGrant | None:
    body = read_object(s3, settings.drafts_bucket, _grant_key(settings, grant_id))
    return None if body is None else AuditGrant.model_validate_json(body)


def list_grants(s3: S3Client, settings: Settings) -> list[AuditGrant]:
    prefix = f"{settings.drafts_prefix}audit/grants/"
    grants: list[AuditGrant] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.drafts_bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            grant_id = entry["Key"].removeprefix(prefix).removesuffix(".json")
            found = load_grant(s3, settings, grant_id)
            if found is not None:
                grants.append(found)
    return sorted(grants, key=lambda g: g.issued_at)


def revoke_grants(
    s3: S3Client, settings: Settings, *, now: datetime, email: str | None = None, grant_id: str | None = None
) -> list[AuditGrant]:
    """Revoke the active grants of ``email`` (all of them) or the one ``grant_id``; returns those revoked."""
    if (email is None) == (grant_id is None):
        raise AuditError("name exactly one of --email or --grant")
    if grant_id is not None:
        found = load_grant(s3, settings, grant_id)
        if found is None:
            raise AuditError(f"no grant {grant_id!r}; `isms audit grants` lists them")
        chosen = [found]
    else:
        chosen = [g for g in list_grants(s3, settings) if g.email.casefold() == (email or "").casefold()]
        if not chosen:
            raise AuditError(f"no grant for {email}; `isms audit grants` lists them")
    revoked = []
    for grant in chosen:
        if grant.revoked_at is None:
            grant = grant.model_copy(update={"revoked_at": now})
            _save(s3, settings, grant)
            revoked.append(grant)
    return revoked


def check_auditor(s3: S3Client, settings: Settings, token: str, *, now: datetime) -> AuditGrant | LinkProblem:
    """The grant behind an auditor token, or why it does not work (tampered, expired, revoked...)."""
    claims = read_link(
        settings.link_secret.get_secret_value(), token, expected_role=LinkRole.AUDITOR, now=now
    )
    if isinstance(claims, LinkProblem):
        return claims
    grant = load_grant(s3, settings, claims.nonce)
    if grant is None or grant.organisation != claims.cycle_id or grant.email != claims.person:
        return LinkProblem.REVOKED  # a genuine token whose grant record is gone counts as withdrawn
    if grant.revoked_at is not None:
        return LinkProblem.REVOKED
    return grant


def legal_hold_marked(s3: S3Client, settings: Settings, cycle_id: str) -> bool:
    return object_exists(s3, settings.drafts_bucket, hold_key(settings, cycle_id))


def set_legal_hold(
    s3: S3Client, settings: Settings, cycle_id: str, *, on: bool, actor: str, now: datetime
) -> int:
    """Place (``on``) or release the legal hold on every archived version of a cycle; returns how many."""
    cycle = ArchiveReader(s3, settings.archive_bucket).find_cycle(cycle_id)
    key = hold_key(settings, cycle_id)
    if on:  # marker first: anything archived for the cycle from now on is held as well
        record = {"cycle_id": cycle_id, "placed_by": actor, "placed_at": now.isoformat()}
        _put_record(s3, settings, key, json.dumps(record).encode())
    count = apply_legal_hold(s3, settings.archive_bucket, cycle.objects(), on=on)
    if not on:
        s3.delete_object(Bucket=settings.drafts_bucket, Key=key)
    return count


def apply_legal_hold(s3: S3Client, bucket: str, objects: Iterable[ArchivedObject], *, on: bool) -> int:
    """Set the S3 legal hold of each archived version ON (or OFF); returns how many versions."""
    count = 0
    for obj in objects:
        s3.put_object_legal_hold(
            Bucket=bucket,
            Key=obj.key,
            VersionId=obj.version_id,
            LegalHold={"Status": "ON" if on else "OFF"},
        )
        count += 1
    return count


def send_grant_email(settings: Settings, grant: AuditGrant, link: str) -> None:
    """Email the portal link to the auditor (one message, key ``audit-grant/<grant id>``)."""
    rendered = render_email_template(
        template_name="auditor_access",
        context={
            "organisation": grant.organisation,
            "issued_by": grant.issued_by,
            "link": link,
            "link_expires": grant.expires_at.strftime("%d %B %Y, %H:%M UTC"),
        },
    )
    message = build_message(
        settings, key=f"audit-grant/{grant.grant_id}", to=[grant.email], rendered=rendered
    )
    with open_smtp(settings) as smtp:
        smtp.send_message(message, to_addrs=[grant.email])
