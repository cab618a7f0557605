"""What an emailed link grants: one person, one role, one cycle, one document version."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class LinkRole(StrEnum):
    SIGNER = "signer"  # the CEO deciding on a document version
    STAFF = "staff"  # a person acknowledging the signed version
    LEAD = "lead"  # the ISMS lead's one-time sign-in to the dashboard
    AUDITOR = "auditor"  # read-only access to the archive
    ROLE = "role"  # a role holder or deputy accepting their role (models.role_acceptance)


class LinkClaims(BaseModel):
    cycle_id: str
    person: str  # email address
    role: LinkRole
    version_hash: str | None  # SHA-256 naming the document version the link is for
    nonce: str  # at least 128 bits of randomness, base64url
    expires_at: datetime  # UTC
    # which email of the person's this link came in (0 the first, then 1, 2, ... per reminder):
    # only the newest link sent to a person works; tokens made before this field read as 0
    sequence: int = 0

    @property
    def token_id(self) -> str:
        """A stable id for this link (update ids, idempotency keys); not the secret token."""
        return self.nonce


class LinkProblem(StrEnum):
    """Why a link does not work; each has its own plain explanatory page."""

    TAMPERED = "tampered"  # signature invalid, or not a token at all
    EXPIRED = "expired"
    WRONG_ROLE = "wrong_role"
    SUPERSEDED = "superseded"  # a newer version was routed; this link is for an old one
    REVOKED = "revoked"  # the ISMS lead withdrew the access (auditor links)
    OLD_LINK = "old_link"  # a newer email to the same person carries the link that works now
