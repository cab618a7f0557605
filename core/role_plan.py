"""Who is asked to accept which role once the CEO has signed: a pure function of the signed inputs.

Every role of the profile with a holder or a deputy found in the staff directory (by email or
employee id) gives that person an assignment, with the role's responsibilities (the Clause 5.3
wording it carries first, as the roles document prints it), its authorities and its reporting
line. A person who holds or deputises several roles is asked once, with all of them, in the
profile's order. Left out:

* the signer's own holdings: their signature on the version is their acceptance (a deputy of
  top management is someone else, and still accepts);
* GROUP roles ("All staff"): nobody in particular holds them;
* a holder or deputy the directory does not know: there is nobody to write to (the Clause 5
  check already reports the reference as a finding); :func:`unknown_references` names them.

>>> holders = plan_role_holders(profile, staff, signer_email="ceo@x.example")
>>> [(h.email, [a.described for a in h.assignments], h.lead) for h in holders]
[('ravi@x.example', ['ISMS Lead'], True),
 ('sofia@x.example', ['ISMS Lead (deputy)', 'Engineering Lead'], False)]
"""

from __future__ import annotations

from collections.abc import Iterator

from models.profile import MANDATORY_WORDING, OrganisationProfile, Role, RoleKind
from models.role_acceptance import Capacity, RoleAssignment, RoleHolder
from models.staff import Person, StaffDirectory


def _references(role: Role) -> Iterator[tuple[Capacity, str]]:
    if role.kind is RoleKind.GROUP:
        return
    if role.holder:
        yield Capacity.HOLDER, role.holder
    if role.deputy:
        yield Capacity.DEPUTY, role.deputy


def _assignment(
    role: Role, capacity: Capacity, profile: OrganisationProfile, staff: StaffDirectory
) -> RoleAssignment:
    above = profile.role(role.reports_to) if role.reports_to else None
    above_holder = staff.find(above.holder) if above is not None and above.holder else None
    if above is not None:
        reports_to: str | None = above.title
    else:
        # an unknown role id is a Clause 5 finding; the person still sees what the profile says
        reports_to = role.reports_to
    return RoleAssignment(
        role_id=role.id,
        title=role.title,
        capacity=capacity,
        department=role.department,
        reports_to=reports_to,
        reports_to_holder=above_holder.name if above_holder is not None else None,
        responsibilities=[
            *(MANDATORY_WORDING[item] for item in role.mandatory_responsibilities),
            *role.responsibilities,
        ],
        authorities=list(role.authorities),
    )


def plan_role_holders(
    profile: OrganisationProfile, staff: StaffDirectory, *, signer_email: str
) -> list[RoleHolder]:
    """Everyone asked to accept a role, in the order the profile first names them."""
    signer = signer_email.strip().lower()
    people: dict[str, tuple[Person, list[RoleAssignment], bool]] = {}
    for role in profile.roles:
        for capacity, reference in _references(role):
            person = staff.find(reference)
            if person is None:
                continue
            email = person.email.lower()
            if email == signer:
                continue
            _, assignments, lead = people.setdefault(email, (person, [], False))
            assignments.append(_assignment(role, capacity, profile, staff))
            if role.kind is RoleKind.ISMS_LEAD and capacity is Capacity.HOLDER and not lead:
                people[email] = (person, assignments, True)
    return [
        RoleHolder(
            email=person.email,
            name=person.name,
            department=person.department,
            assignments=assignments,
            lead=lead,
        )
        for person, assignments, lead in people.values()
    ]


def unknown_references(profile: OrganisationProfile, staff: StaffDirectory) -> list[str]:
    """``"<role id>.<holder|deputy>: <reference>"`` for each holder or deputy the directory lacks."""
    return [
        f"{role.id}.{capacity.value}: {reference}"
        for role in profile.roles
        for capacity, reference in _references(role)
        if staff.find(reference) is None
    ]
