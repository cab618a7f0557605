"""References to stored objects: workflows carry these, never the bytes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StoredObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    sha256: str
    size: int
    content_type: str
