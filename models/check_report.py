"""The Clause 5 check of a version as evidence: every rule evaluated, its findings, the pairs checked.

``core.clause5.check_report`` makes it from the profile and the staff directory; the archive
keeps it beside the signed version as ``clause5-check/v<version>/report.{json,html}``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from models.findings import Finding
from models.storage import StoredObject

CHECK_REPORT_FORMAT = "isms-cycle/clause5-check/1"
CHECK_REPORT_FOLDER = "clause5-check"


class RuleOutcome(StrEnum):
    PASSED = "passed"
    WARNING = "warning"
    ERROR = "error"


class EvaluatedRule(BaseModel):
    """One rule of the check: what it asks, the checklist rows it answers, and how it came out."""

    rule: str
    asks: str
    answers: list[str] = Field(default_factory=list)  # e.g. "Clause 5.3 checklist row 3"
    outcome: RuleOutcome
    findings: int = 0


class SegregationPair(BaseModel):
    """A pair of duties that must not meet in one person, and who holds each side."""

    approve: str
    implement: str
    reason: str
    approvers: list[str]  # names of the people who approve (A or R)
    implementers: list[str]  # names of the people who implement (R)
    result: str  # "no conflict", or "conflict: <names>"


class ReportingLine(BaseModel):
    """The ISMS lead's reporting line, role by role, up to top management (or where it breaks)."""

    lead_role: str
    chain: list[str]  # role titles from the lead upwards
    reaches_top_management: bool
    result: str


class Clause5CheckReport(BaseModel):
    format: str = CHECK_REPORT_FORMAT
    organisation: str
    version: str
    checked_on: date
    blocking: bool
    findings: list[Finding]
    rules: list[EvaluatedRule]
    segregation_of_duties: list[SegregationPair]
    reporting_lines: list[ReportingLine]


class CheckReportRequest(BaseModel):
    """What the archive needs to write the check report of a signed version: its inputs and day.

    The profile and the staff directory are references to the drafts bucket (the ones the
    signed version was checked and rendered from), ``as_of`` the day of that check.
    """

    profile: StoredObject
    staff: StoredObject
    as_of: date
