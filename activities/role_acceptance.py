"""Role acceptance's side effects: who is asked to accept which role, and the closed register.

* ``plan_role_acceptance`` reads the signed version's profile and staff directory and returns
  every person who holds or deputises a role (except the signer), with each role's
  responsibilities, authorities and reporting line (a handful of people: small enough for history).
* ``close_role_acceptance`` writes the register (CSV, JSON) and the readable report to the
  drafts bucket at the deadline; the annual review archives them with the acknowledgements.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity

from activities.inputs import load_stored_inputs
from adapters.s3 import put_bytes
from core.contract import Failure
from core.role_plan import plan_role_holders, unknown_references
from core.role_register import role_register_csv, role_register_json, role_report_html, tally_roles
from core.settings import Settings
from models.role_acceptance import (
    ROLE_ACCEPTANCE_FOLDER,
    ROLE_REGISTER_CSV,
    ROLE_REGISTER_JSON,
    ROLE_REPORT_HTML,
    RoleAcceptanceResult,
    RoleHolder,
    RolePlanInput,
    RoleRegisterInput,
)
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# what each activity raises that retrying cannot fix (the workflow's retry policies name them)
PLAN_ROLE_ACCEPTANCE_NON_RETRYABLE: list[str] = [Failure.UNREADABLE_INPUT, Failure.INTEGRITY]
CLOSE_ROLE_ACCEPTANCE_NON_RETRYABLE: list[str] = []


class RoleAcceptanceActivities:
    def __init__(self, *, settings: Settings, s3: S3Client) -> None:
        self._settings = settings
        self._s3 = s3

    def _store(self, cycle_id: str, name: str, payload: bytes, content_type: str) -> StoredObject:
        key = f"{self._settings.drafts_prefix}{cycle_id}/{ROLE_ACCEPTANCE_FOLDER}/{name}"
        return put_bytes(
            self._s3, bucket=self._settings.drafts_bucket, key=key, payload=payload, content_type=content_type
        )

    @activity.defn
    def plan_role_acceptance(self, data: RolePlanInput) -> list[RoleHolder]:
        """Everyone who holds or deputises a role of the signed version, except the signer.

        Raises ``UNREADABLE_INPUT`` (non-retryable) for a profile or staff file that cannot be
        read, ``INTEGRITY`` for one whose bytes are not those recorded at the start.
        """
        with tempfile.TemporaryDirectory(prefix="isms-roles-") as folder:
            profile, staff = load_stored_inputs(self._s3, data.profile, data.staff, Path(folder))
        holders = plan_role_holders(profile, staff, signer_email=data.signer_email)
        missing = unknown_references(profile, staff)
        if missing:
            # the Clause 5 check reports these as findings; here they only explain a shorter list
            activity.logger.warning(
                "role acceptance %s: %d holder/deputy reference(s) not in the staff directory: %s",
                data.cycle_id,
                len(missing),
                "; ".join(missing),
            )
        activity.logger.info(
            "role acceptance %s: %d people to ask (%d roles)",
            data.cycle_id,
            len(holders),
            sum(len(holder.assignments) for holder in holders),
        )
        return holders

    @activity.defn
    def close_role_acceptance(self, data: RoleRegisterInput) -> RoleAcceptanceResult:
        """The register (CSV, JSON) and the readable report, in the drafts bucket below
        ``<drafts prefix><cycle>/role-acceptance/``; the same records give the same bytes."""
        result = RoleAcceptanceResult(
            register_csv=self._store(
                data.cycle_id, ROLE_REGISTER_CSV, role_register_csv(data.records), "text/csv"
            ),
            register_json=self._store(
                data.cycle_id, ROLE_REGISTER_JSON, role_register_json(data), "application/json"
            ),
            report=self._store(
                data.cycle_id, ROLE_REPORT_HTML, role_report_html(data), "text/html; charset=utf-8"
            ),
            tally=tally_roles(data.records),
        )
        activity.logger.info("role acceptance %s closed: %s", data.cycle_id, result.tally.rate_text)
        return result
