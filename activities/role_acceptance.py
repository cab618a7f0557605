"""Role acceptance's side effects: who is asked to accept which role, and the closed register.

* ``plan_role_acceptance`` reads the signed version's profile and staff directory and returns
  every person who holds or deputises a role (except the signer), with each role's
  responsibilities, authorities and reporting line (a handful of people: small enough for history).
* ``close_role_acceptance`` writes the register (CSV, JSON) and the readable report to the
  drafts bucket at the deadline; the annual review archives them with the acknowledgements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from core.contract import Failure
from core.settings import Settings
from models.role_acceptance import RoleAcceptanceResult, RoleHolder, RolePlanInput, RoleRegisterInput

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# what each activity raises that retrying cannot fix (the workflow's retry policies name them)
PLAN_ROLE_ACCEPTANCE_NON_RETRYABLE: list[str] = [Failure.UNREADABLE_INPUT]
CLOSE_ROLE_ACCEPTANCE_NON_RETRYABLE: list[str] = []


class RoleAcceptanceActivities:
    def __init__(self, *, settings: Settings, s3: S3Client) -> None:
        self._settings = settings
        self._s3 = s3

    @activity.defn
    def plan_role_acceptance(self, data: RolePlanInput) -> list[RoleHolder]:
        raise NotImplementedError  # the roleacts branch writes it

    @activity.defn
    def close_role_acceptance(self, data: RoleRegisterInput) -> RoleAcceptanceResult:
        raise NotImplementedError  # the roleacts branch writes it
