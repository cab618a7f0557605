"""The sixteen audit questions the evidence pack answers, and the pack index that carries them.

The six "Clause 5: what evidence is required" items of ``seeds/000`` and the ten rows of the
"Clause 5.3 Audit Checklist" of ``seeds/001``: each with the pack's files that answer it, or a
plain line saying it is outside this tool's scope. Every item now has files this tool makes or an
"outside this tool's scope" line; ``NOT_YET_PRODUCED`` stays so that packs built by older
versions still read.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from models.audit import PackIndex


class ItemStatus(StrEnum):
    ANSWERED = "answered"  # files of this pack answer it
    PARTLY = "partly"  # files answer part of it; ``note`` says what lies outside this tool
    OUTSIDE_SCOPE = "outside_scope"  # "outside this tool's scope: ..."
    NOT_YET_PRODUCED = "not_yet_produced"  # "not yet produced by this tool: ..." (older packs only)
    NOT_IN_PACK = "not_in_pack"  # this tool makes it, but this pack holds no such file (yet)


class AuditItem(BaseModel):
    id: str  # "evidence-1" .. "evidence-6", "checklist-1" .. "checklist-10"
    source: str  # which guide, which list
    name: str  # the item's name as the guide gives it
    status: ItemStatus
    files: list[str] = Field(default_factory=list)  # paths inside the pack
    note: str = ""  # what the files show, or why no file answers


class ItemisedPackIndex(PackIndex):
    """The pack index with the audit items (a subclass so older readers of PackIndex still work)."""

    items: list[AuditItem] = Field(default_factory=list)
