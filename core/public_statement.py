"""The public policy statement: a short page built from the signed version's profile.

Clause 5 evidence item 5 (external availability). The archive activity builds it after the
CEO signs (``public-statement/v<version>/statement.html``) unless the profile names the
organisation's own PDF (``public_statement.file``); the web app serves the newest signed one at
``PUBLIC_STATEMENT_PATH`` without a token.

A pure function of its inputs (no clock, no randomness), so a retried archive writes the same
bytes under the same key::

    page = statement_html(statement_context(profile, request, url="https://isms.example.com/statement"))
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Final

import jinja2
from pydantic import BaseModel, Field

from models.archive import PublicStatementRequest
from models.profile import OrganisationProfile

TEMPLATE: Final = "public_statement.html"
# the key of the organisation's own statement PDF among a cycle's document files (not a slug, so
# no document id can take it)
PUBLIC_STATEMENT_FILE: Final = "public_statement.file"
# workflow.patched id: the signed version's archive holds the public statement (never renamed)
ARCHIVE_PUBLIC_STATEMENT: Final = "archive-public-statement"


class PublicStatementContext(BaseModel):
    """Everything ``doc_templates/public_statement.html`` shows; every value is escaped there."""

    organisation: str
    purpose: str
    scope: str
    summary: list[str] = Field(default_factory=list)  # paragraphs: the profile's, or built from the policy
    commitments: list[str] = Field(default_factory=list)  # empty when the profile gave a summary
    policy_title: str
    version: str
    approved_by: str  # "Eleanor Marsh, Chief Executive Officer"
    approved_on: date
    policy_sha256: str
    url: str


def _paragraphs(text: str) -> list[str]:
    return [" ".join(part.split()) for part in text.split("\n\n") if part.strip()]


def statement_context(
    profile: OrganisationProfile, request: PublicStatementRequest, *, url: str
) -> PublicStatementContext:
    """The statement of the signed version: the profile's summary, or the CEO's statement and the
    policy's commitments; approved by the signer on the day of signature (UTC)."""
    policy = profile.policy
    commitments: list[str] = []
    if profile.public_statement.summary is not None:
        summary = _paragraphs(profile.public_statement.summary)
    else:
        summary = _paragraphs(policy.ceo_statement)
        commitments = [" ".join(s.split()) for s in policy.commitments.statements]
        if policy.commitments.continual_improvement:
            commitments.append(" ".join(policy.commitments.continual_improvement.split()))
        if policy.commitments.applicable_requirements:
            commitments.append(
                "To satisfy the requirements that apply to us: "
                + "; ".join(policy.commitments.applicable_requirements)
                + "."
            )
    return PublicStatementContext(
        organisation=profile.organisation.name,
        purpose=" ".join(profile.organisation.purpose.split()),
        scope=" ".join(profile.isms_scope.split()),
        summary=summary,
        commitments=commitments,
        policy_title=policy.title,
        version=request.version,
        approved_by=request.signer,
        approved_on=request.signed_at.date(),
        policy_sha256=request.policy_sha256,
        url=url,
    )


@cache
def _template() -> jinja2.Template:
    source = files("doc_templates").joinpath(TEMPLATE).read_text(encoding="utf-8")
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return environment.from_string(source)


def statement_html(context: PublicStatementContext) -> bytes:
    """The statement as one self-contained page (UTF-8, no scripts, no external resources)."""
    return _template().render(s=context).encode()


def statement_url(public_base_url: str, path: str) -> str:
    """Where the statement is published: the web app's public address and ``path``."""
    return public_base_url.rstrip("/") + path


def statement_file(profile: OrganisationProfile, base: Path) -> Path | None:
    """The organisation's own statement PDF (relative to ``base``, the profile's folder), or None
    when the statement is off or generated. The path may not exist: the caller says so."""
    statement = profile.public_statement
    if not statement.enabled or statement.file is None:
        return None
    try:
        path = Path(statement.file).expanduser()
    except RuntimeError:  # an unknown ~user: a path that is not there
        return Path(statement.file)
    return path if path.is_absolute() else base / path


def statement_pin_problem(profile: OrganisationProfile, digest: str) -> tuple[str, str] | None:
    """Why the statement PDF whose SHA-256 is ``digest`` is not the one the profile pins: (what, fix)."""
    statement = profile.public_statement
    if statement.sha256 is None or statement.sha256.lower() == digest:
        return None
    return (
        f"public_statement.file: {statement.file} changed since it was pinned (its SHA-256 is now "
        f"{digest}; public_statement.sha256 pins {statement.sha256.lower()})",
        f"restore the pinned file, or pin the new hash (sha256: {digest}) if the change is meant",
    )
