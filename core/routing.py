"""Read the routing of a cycle from the profile: the signer, the ISMS lead, the schedule."""

from __future__ import annotations

from models.profile import OrganisationProfile, RoleKind
from models.routing import AckLadder, CycleRouting, Person, RoleLadder, ScheduleSnapshot
from models.staff import StaffDirectory


def _person(staff: StaffDirectory, reference: str | None, title: str) -> Person | None:
    found = staff.find(reference) if reference else None
    return Person(name=found.name, email=found.email, title=title) if found else None


def cycle_routing(profile: OrganisationProfile, staff: StaffDirectory) -> CycleRouting | None:
    """The routing, or None when the approver or the ISMS lead cannot be found in the directory."""
    approver = profile.role(profile.policy.approved_by)
    lead_role = next((role for role in profile.roles if role.kind is RoleKind.ISMS_LEAD), None)
    if approver is None or lead_role is None:
        return None
    signer = _person(staff, approver.holder, approver.title)
    lead = _person(staff, lead_role.holder, lead_role.title)
    if signer is None or lead is None:
        return None
    schedule = profile.signature_schedule
    ladder = profile.acknowledgement_schedule
    roles = profile.role_acceptance
    escalate_to = [p for ref in schedule.escalate_to if (p := _person(staff, ref, "")) is not None]
    return CycleRouting(
        organisation=profile.organisation.name,
        short_name=profile.organisation.short_name,
        version=profile.policy.version,
        signer=signer,
        lead=lead,
        schedule=ScheduleSnapshot(
            reminders=sorted(schedule.reminders),
            escalate_after=schedule.escalate_after,
            escalate_to=escalate_to,
            overdue_after=schedule.overdue_after,
        ),
        acknowledgement=AckLadder(
            reminders=sorted(ladder.reminders),
            manager_digest_after=ladder.manager_digest_after,
            summary_after=ladder.summary_after,
            close_after=ladder.close_after,
        ),
        role_acceptance=(
            RoleLadder(
                reminders=sorted(roles.reminders),
                escalate_after=roles.escalate_after,
                close_after=roles.close_after,
            )
            if roles.enabled
            else None
        ),
        public_statement=profile.public_statement.enabled,
    )
