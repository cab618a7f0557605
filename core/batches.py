"""The campaign's directory logic: who is in scope, packing by line manager, placing joiners and leavers.

Pure functions over the staff directory and the frozen index (no S3, no Temporal):

>>> included = in_scope(people, as_of=date(2026, 12, 1), audiences=signed.audiences)
>>> invited, no_document = with_documents(included)   # a person no document is for is not invited
>>> batches = pack_batches(invited, 250)
>>> index = batch_index(batches)    # {"people": {email: batch}, "managers": {...}, "sizes": [...]}
>>> plan = plan_change(index, joiners, remove=[...], joined={}, left=[], as_of=...)
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from datetime import date
from typing import Any

from core.audience import selects
from models.campaign import PlannedChange, Recipient
from models.profile import Audience
from models.staff import Person

MAX_JOINERS_PER_CHANGE = 5000


def email_key(email: str) -> str:
    """An address as the campaign compares and stores it."""
    return email.strip().casefold()


def documents_for(person: Person, audiences: dict[str, Audience] | None) -> list[str] | None:
    """The names of the documents ``person`` acknowledges: each one whose audience selects them,
    in the version's order; None when the version has no audiences (every document, as before)."""
    if audiences is None:
        return None
    return [name for name, audience in audiences.items() if selects(audience, person)]


def in_scope(
    people: list[Person], *, as_of: date, audiences: dict[str, Audience] | None = None
) -> list[Recipient]:
    """Everyone in scope and employed on ``as_of``, with their manager's name where known and
    the documents they acknowledge (:func:`documents_for`)."""
    names = {email_key(p.email): p.name for p in people}
    return [
        Recipient(
            email=p.email,
            name=p.name,
            department=p.department or "(no department)",
            manager_email=p.manager_email,
            manager_name=names.get(email_key(p.manager_email)) if p.manager_email else None,
            acknowledges=documents_for(p, audiences),
        )
        for p in people
        if p.in_scope and p.is_current(as_of)
    ]


def with_documents(people: list[Recipient]) -> tuple[list[Recipient], list[Recipient]]:
    """Those with a document to acknowledge (invited), and those in scope no document is for."""
    invited = [person for person in people if person.acknowledges is None or person.acknowledges]
    nothing = [person for person in people if person.acknowledges is not None and not person.acknowledges]
    return invited, nothing


def pack_batches(people: list[Recipient], batch_size: int) -> list[list[Recipient]]:
    """Pack people into batches of at most ``batch_size``, keeping each manager's team together.

    First fit decreasing: the largest teams first, each into the batch with the most room
    that can take it whole, else a new batch. People without a manager fill gaps one by one.
    Deterministic for the same input.
    """
    teams: dict[str, list[Recipient]] = defaultdict(list)
    loose: list[Recipient] = []
    for person in sorted(people, key=lambda p: email_key(p.email)):
        if person.manager_email:
            teams[email_key(person.manager_email)].append(person)
        else:
            loose.append(person)
    groups: list[list[Recipient]] = []
    for manager in sorted(teams, key=lambda m: (-len(teams[m]), m)):
        team = teams[manager]
        groups += [team[i : i + batch_size] for i in range(0, len(team), batch_size)]
    groups += [[person] for person in loose]

    batches: list[list[Recipient]] = []
    room: list[tuple[int, int]] = []  # a heap of (-free places, batch index)
    for group in groups:
        if room and -room[0][0] >= len(group):
            free, index = heapq.heappop(room)
            batches[index].extend(group)
            heapq.heappush(room, (free + len(group), index))
        else:
            batches.append(list(group))
            heapq.heappush(room, (-(batch_size - len(group)), len(batches) - 1))
    return batches


def batch_index(batches: list[list[Recipient]]) -> dict[str, Any]:
    """Where each person and each manager's first team is (batches numbered from 1), and the sizes."""
    where: dict[str, int] = {}
    managers: dict[str, int] = {}
    for number, batch in enumerate(batches, start=1):
        for person in batch:
            where[email_key(person.email)] = number
            if person.manager_email:
                managers.setdefault(email_key(person.manager_email), number)
    return {"people": where, "managers": managers, "sizes": [len(batch) for batch in batches]}


def _problems(joiners: list[Person], *, leaving: set[str], as_of: date) -> list[str]:
    problems = []
    if len(joiners) > MAX_JOINERS_PER_CHANGE:
        problems.append(f"{len(joiners)} joiners in one change; at most {MAX_JOINERS_PER_CHANGE} at a time")
    for person in joiners:
        if not person.in_scope:
            problems.append(f"{person.email}: in_scope is no; only people in scope can be added")
        elif person.end_date is not None and person.end_date < as_of:
            problems.append(f"{person.email}: end_date {person.end_date} is in the past")
        elif email_key(person.email) in leaving:
            problems.append(f"{person.email}: both added and removed in the same change")
    return problems


def plan_change(
    index: dict[str, Any],
    joiners: list[Person],
    *,
    remove: list[str],
    joined: dict[str, int],
    left: list[str],
    as_of: date,
    audiences: dict[str, Audience] | None = None,
) -> PlannedChange:
    """Place joiners (their old batch, else the manager's, else the smallest) and find each leaver's.

    ``joined`` and ``left`` are the changes made earlier in the campaign. Any unusable joiner
    row makes the plan a list of problems and nothing else, so a bad file changes nothing. A
    joiner gets the documents whose audience selects them (``audiences``, as at the freeze); a
    joiner no document is for is named in ``no_documents`` and not invited.
    """
    where: dict[str, int] = {**index["people"], **joined}
    managers: dict[str, int] = index["managers"]
    sizes: list[int] = list(index["sizes"])
    for batch in joined.values():
        sizes[batch - 1] += 1
    gone = set(left)
    plan = PlannedChange(
        problems=_problems(joiners, leaving={email_key(email) for email in remove}, as_of=as_of)
    )
    if plan.problems:
        return plan
    for person in joiners:
        email = email_key(person.email)
        if email in where and email not in gone:
            plan.already_in.append(person.email)
            continue
        acknowledges = documents_for(person, audiences)
        if acknowledges is not None and not acknowledges:
            plan.no_documents.append(person.email)
            continue
        manager = email_key(person.manager_email) if person.manager_email else None
        found = where.get(email)  # someone who left and comes back returns to their batch
        if found is None and manager:
            found = managers.get(manager)
        if found is None:
            found = min(range(1, len(sizes) + 1), key=lambda b: (sizes[b - 1], b))
        sizes[found - 1] += 1
        where[email] = found
        plan.joiners.setdefault(found, []).append(
            Recipient(
                email=person.email,
                name=person.name,
                department=person.department or "(no department)",
                manager_email=person.manager_email,
                manager_name=None,
                acknowledges=acknowledges,
            )
        )
    for email in remove:
        key = email_key(email)
        if key in where and key not in gone:
            plan.leavers.setdefault(where[key], []).append(email.strip())
        else:
            plan.unknown.append(email)
    return plan
