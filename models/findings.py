"""A Clause 5 finding: which rule, where in the profile, what is wrong and how to fix it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Severity(StrEnum):
    ERROR = "error"  # blocks signature
    WARNING = "warning"


class Finding(BaseModel):
    rule: str
    severity: Severity
    where: str
    message: str
    fix: str
