"""RoleAcceptanceWorkflow on the time-skipping server: the ladder, the answers, the refusals.

Four people are asked: the ISMS lead (holder, with the appointment letter), a risk owner, an
asset owner and the lead's deputy. The ladder is the profile's default, counted from the
signature: reminders on days 3 and 7, the escalation on day 10, the close on day 28.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowHandle

from adapters.workflow_client import RoleHandle, UpdateRefusedError
from core.contract import Message, Refusal
from core.email_templates import render_email_template
from models.links import LinkRole
from models.role_acceptance import (
    ROLE_ACCEPTANCE_TEXT,
    ROLE_LINK_PATH,
    AppointmentLetter,
    Capacity,
    RoleAcceptanceInput,
    RoleAcceptanceResult,
    RoleAcceptanceState,
    RoleAnswer,
    RoleAnswerKind,
    RoleAssignment,
    RoleHolder,
    RolePage,
    RoleReceipt,
    role_acceptance_id_for,
)
from models.routing import Person, RoleLadder
from tests.logic.scenario import CEO, DAY, LEAD, ORGANISATION, Tier, close_to, refusal
from tests.logic.standins import Mail, stored
from workflows.role_acceptance import RoleAcceptanceWorkflow

VERSION_HASH = "f" * 64
LETTER = AppointmentLetter(
    name="isms-lead-appointment.docx",
    title="Appointment of the ISMS lead",
    sha256="c" * 64,
    pdf=stored("signed/isms-lead-appointment.pdf", seed="letter"),
)
PRIYA = Person(name="Priya Natarajan", email="priya.natarajan@larkspur.example")
TOM = Person(name="Tom Okafor", email="tom.okafor@larkspur.example")
SAM = Person(name="Sam Hughes", email="Sam.Hughes@larkspur.example")  # a capital: keys casefold


def _role(role_id: str, title: str, capacity: Capacity = Capacity.HOLDER) -> RoleAssignment:
    return RoleAssignment(
        role_id=role_id,
        title=title,
        capacity=capacity,
        department="Security",
        reports_to="Chief Executive",
        reports_to_holder=CEO.name,
        responsibilities=[f"{title}: keeps the ISMS running"],
        authorities=[f"{title}: may stop a change"],
    )


HOLDERS = [
    RoleHolder(
        email=LEAD.email,
        name=LEAD.name,
        department="Security",
        lead=True,
        assignments=[_role("isms-lead", "ISMS Manager")],
    ),
    RoleHolder(
        email=PRIYA.email,
        name=PRIYA.name,
        department="Finance",
        assignments=[
            _role("risk-owner", "Risk Owner"),
            _role("dpo", "Data Protection Officer", Capacity.DEPUTY),
        ],
    ),
    RoleHolder(
        email=TOM.email,
        name=TOM.name,
        department="Operations",
        assignments=[_role("asset-owner", "Asset Owner")],
    ),
    RoleHolder(
        email=SAM.email,
        name=SAM.name,
        department="Security",
        assignments=[_role("isms-lead", "ISMS Manager", Capacity.DEPUTY)],
    ),
    # the CEO holds a role too: their signature is their acceptance, so the plan leaves them out
    RoleHolder(email=CEO.email, name=CEO.name, assignments=[_role("top-management", "Chief Executive")]),
]
ROLES = {
    LEAD.email: ["isms-lead:holder"],
    PRIYA.email: ["risk-owner:holder", "dpo:deputy"],
    TOM.email: ["asset-owner:holder"],
    SAM.email: ["isms-lead:deputy"],
}


async def _start(
    tier: Tier, *, letter: AppointmentLetter | None = LETTER
) -> tuple[WorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult], RoleAcceptanceInput]:
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
    profile = stored(f"profiles/{cycle_id}.yaml", content_type="application/yaml")
    tier.standins.role_holders(profile, HOLDERS)
    data = RoleAcceptanceInput(
        cycle_id=cycle_id,
        organisation=ORGANISATION,
        version="3.0",
        version_hash=VERSION_HASH,
        profile=profile,
        staff=stored(f"staff/{cycle_id}.csv", content_type="text/csv"),
        signer=CEO,
        lead=LEAD,
        ladder=RoleLadder(),
        signed_at=await tier.now(),
        letter=letter,
    )
    handle = await tier.env.client.start_workflow(
        RoleAcceptanceWorkflow.run, data, id=role_acceptance_id_for(cycle_id), task_queue=tier.task_queue
    )
    return handle, data


async def _page(
    handle: WorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult], person: str
) -> RolePage:
    page = await handle.query(RoleAcceptanceWorkflow.role_page, person)
    assert page is not None, person
    return page


async def _state(handle: WorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult]) -> RoleAcceptanceState:
    state: RoleAcceptanceState = await handle.query(RoleAcceptanceWorkflow.role_state)
    return state


def _answer(
    person: str,
    *,
    kind: RoleAnswerKind = RoleAnswerKind.ACCEPT,
    sequence: int = 0,
    **changes: object,
) -> RoleAnswer:
    """``person``'s answer as their page (newest link ``sequence``) would send it."""
    answer = RoleAnswer(
        person=person,
        version_hash=VERSION_HASH,
        link_id=uuid.uuid4().hex,
        link_sequence=sequence,
        kind=kind,
        roles=ROLES[person],
        letter_sha256=LETTER.sha256 if person == LEAD.email else None,
        comment="I am leaving the risk committee" if kind is RoleAnswerKind.DECLINE else "",
        ip="198.51.100.23",
        user_agent="Mozilla/5.0 (logic tier)",
    )
    return answer.model_copy(update=changes)


async def _send(
    handle: WorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult],
    answer: RoleAnswer,
    *,
    update_id: str = "",
) -> RoleReceipt:
    receipt: RoleReceipt = await handle.execute_update(
        RoleAcceptanceWorkflow.answer_role,
        answer,
        id=update_id or f"role-{answer.link_id}-{answer.kind.value}",
    )
    return receipt


async def _answer_newest(
    handle: WorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult],
    person: str,
    kind: RoleAnswerKind = RoleAnswerKind.ACCEPT,
) -> RoleReceipt:
    page = await _page(handle, person)
    return await _send(handle, _answer(person, kind=kind, sequence=page.newest_link))


async def _all_invited(
    tier: Tier, handle: WorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult]
) -> RoleAcceptanceState:
    """The state once the workflow has recorded all four invitations as sent."""
    return await tier.until(
        lambda: _state(handle), lambda s: len(s.records) == 4 and all(r.invited_at for r in s.records)
    )


def _mails(tier: Tier, cycle_id: str, step: str) -> dict[str, Mail]:
    """The role emails of one step (invitation, reminder-1, ...) by addressee (casefolded)."""
    prefix = f"{cycle_id}/roles/"
    return {
        m.key.removeprefix(prefix).rsplit("/", 1)[0]: m
        for m in tier.standins.mails(lambda m: m.key.startswith(prefix) and m.key.endswith(f"/{step}"))
    }


async def test_invitations_answers_reminders_escalation_and_the_register(tier: Tier) -> None:
    standins = tier.standins
    handle, data = await _start(tier)
    cycle = data.cycle_id
    signed_at = data.signed_at
    await _all_invited(tier, handle)
    invitations = _mails(tier, cycle, "invitation")
    # the signer is not asked: their signature is their acceptance
    assert sorted(invitations) == sorted(p.casefold() for p in ROLES)
    (plan,) = standins.of("plan_role_acceptance")
    assert plan.data.signer_email == CEO.email
    assert plan.data.profile == data.profile
    for person, mail in invitations.items():
        assert mail.template == "role_invitation"
        assert [to.casefold() for to in mail.to] == [person]
        assert mail.link is not None
        assert (mail.link.role, mail.link.path, mail.link.sequence) == (LinkRole.ROLE, ROLE_LINK_PATH, 0)
        assert (mail.link.cycle_id, mail.link.version_hash) == (cycle, VERSION_HASH)
        assert mail.link.person.casefold() == person
        assert "link" not in mail.context  # the token is minted inside the mail activity
        assert close_to(mail.at, signed_at)
    assert invitations[PRIYA.email].context["roles"] == [
        "Risk Owner, Security, reports to Chief Executive (Eleanor Marsh)",
        "Data Protection Officer (deputy), Security, reports to Chief Executive (Eleanor Marsh)",
    ]
    assert invitations[LEAD.email].context["letter"] == f"{LETTER.title} (SHA-256 {LETTER.sha256})"
    assert invitations[TOM.email].context["letter"] == ""
    lead_page = await _page(handle, LEAD.email)
    assert lead_page.letter == LETTER
    assert lead_page.deadline == signed_at + 28 * DAY
    assert (await _page(handle, PRIYA.email)).letter is None  # the letter is the lead's alone
    assert await handle.query(RoleAcceptanceWorkflow.role_page, CEO.email) is None

    # day 1: the lead accepts; Priya declines with a reason (the CEO and the lead are told at once)
    await tier.sleep(DAY)
    accepted = await _answer_newest(handle, LEAD.email)
    assert (accepted.kind, accepted.letter_sha256, accepted.version_hash) == (
        RoleAnswerKind.ACCEPT,
        LETTER.sha256,
        VERSION_HASH,
    )
    assert (accepted.ip, accepted.user_agent, accepted.statement) == (
        "198.51.100.23",
        "Mozilla/5.0 (logic tier)",
        ROLE_ACCEPTANCE_TEXT,
    )
    declined = await _answer_newest(handle, PRIYA.email, RoleAnswerKind.DECLINE)
    assert declined.kind is RoleAnswerKind.DECLINE
    assert declined.statement == ""
    notice = await standins.wait_mail(f"{cycle}/roles/{PRIYA.email}/declined-1")
    assert (notice.template, notice.to) == ("role_declined", [CEO.email, LEAD.email])
    assert notice.context["comment"] == "I am leaving the risk committee"
    assert notice.link is None
    assert close_to(notice.at, signed_at + DAY)

    # day 3: the first reminder, to those who neither accepted nor declined since the invitation
    await tier.sleep(2 * DAY + DAY / 2)
    first = _mails(tier, cycle, "reminder-1")
    assert sorted(first) == sorted([TOM.email, SAM.email.casefold()])
    for mail in first.values():
        assert mail.template == "role_reminder"
        assert mail.context["reminder_number"] == 1
        assert mail.link is not None
        assert mail.link.sequence == 1
        assert close_to(mail.at, signed_at + 3 * DAY)
    # Sam's invitation link is old now; the reminder's works
    await refusal(_send(handle, _answer(SAM.email, sequence=0)), Refusal.OLD_LINK)
    await _send(handle, _answer(SAM.email, sequence=1))

    # day 7: the second reminder asks Priya again (her decline came before the first reminder)
    await tier.sleep(4 * DAY)
    second = _mails(tier, cycle, "reminder-2")
    assert sorted(second) == sorted([TOM.email, PRIYA.email])
    sequences = {person: mail.link.sequence if mail.link else None for person, mail in second.items()}
    assert sequences == {PRIYA.email: 1, TOM.email: 2}  # Priya's second email, Tom's third
    await tier.sleep(DAY)
    later = await _answer_newest(handle, PRIYA.email)  # she accepts after all
    assert later.kind is RoleAnswerKind.ACCEPT

    # day 10: one email to the CEO and the lead naming exactly who has not accepted: Tom
    await tier.sleep(2 * DAY + DAY / 2)
    escalation = await standins.wait_mail(f"{cycle}/roles/escalation")
    assert (escalation.template, escalation.to, escalation.link) == (
        "role_escalation",
        [CEO.email, LEAD.email],
        None,
    )
    assert close_to(escalation.at, signed_at + 10 * DAY)
    assert escalation.context["outstanding_count"] == 1
    (line,) = escalation.context["people"]
    assert line.startswith(f"{TOM.name} <{TOM.email}>: Asset Owner, Security, reports to Chief Executive")
    assert "invited " in line
    assert "reminded " in line
    assert line.count(", ") >= 2
    state = await _state(handle)
    assert (state.tally.accepted, state.tally.outstanding, state.tally.escalated) == (3, 1, 1)

    # day 28: closed; the register holds who answered what, when, from where
    await tier.sleep(18 * DAY)
    result = await handle.result()
    (close,) = standins.of("close_role_acceptance")
    assert close_to(close.data.closed_at, signed_at + 28 * DAY)
    assert (result.tally.total, result.tally.accepted, result.tally.outstanding, result.tally.escalated) == (
        4,
        3,
        1,
        1,
    )
    records = {record.email.casefold(): record for record in standins.role_records(result.register_json)}
    assert sorted(records) == sorted(p.casefold() for p in ROLES)
    lead = records[LEAD.email]
    assert lead.accepted_at is not None
    assert close_to(lead.accepted_at, signed_at + DAY)
    assert (lead.ip, lead.user_agent, lead.version_hash, lead.letter_sha256, lead.statement) == (
        "198.51.100.23",
        "Mozilla/5.0 (logic tier)",
        VERSION_HASH,
        LETTER.sha256,
        ROLE_ACCEPTANCE_TEXT,
    )
    priya = records[PRIYA.email]
    assert priya.declined_at is not None
    assert close_to(priya.declined_at, signed_at + DAY)
    assert priya.accepted_at is not None
    assert close_to(priya.accepted_at, signed_at + 8 * DAY + DAY / 2)
    assert priya.decline_comment == "I am leaving the risk committee"
    assert priya.letter_sha256 is None
    assert len(priya.reminded_at) == 1
    tom = records[TOM.email]
    assert tom.accepted_at is None
    assert tom.escalated_at is not None
    assert close_to(tom.escalated_at, signed_at + 10 * DAY)
    assert [
        close_to(at, signed_at + days * DAY) for at, days in zip(tom.reminded_at, (3, 7), strict=True)
    ] == [
        True,
        True,
    ]
    assert tom.invited_at is not None
    assert close_to(tom.invited_at, signed_at)
    sam = records[SAM.email.casefold()]
    assert sam.accepted_at is not None
    assert sam.email == SAM.email
    assert sam.escalated_at is None
    # no other email went: invitations, one decline, two reminder rounds, one escalation
    keys = [k for k in standins.mail_keys() if k.startswith(f"{cycle}/roles/")]
    assert len(keys) == 4 + 1 + 2 + 2 + 1, keys
    # each email's context is what its template declares: the real mail activity renders it
    for mail in standins.mails(lambda m: m.key.startswith(f"{cycle}/roles/")):
        minted = {"link": "https://isms.example/role/TOKEN", "link_expires": "30 December 2026"}
        rendered = render_email_template(
            template_name=mail.template, context={**mail.context, **(minted if mail.link else {})}
        )
        assert ORGANISATION in rendered.subject
        if mail.template == "role_escalation":
            assert f"{TOM.name} &lt;{TOM.email}&gt;" in rendered.html
            assert "isms cycle roles " + cycle in rendered.text


async def test_every_refusal_records_nothing(tier: Tier) -> None:
    standins = tier.standins
    async with standins.holding("plan_role_acceptance") as planning:
        handle, _ = await _start(tier)
        await planning.entered.wait()
        await refusal(_send(handle, _answer(TOM.email)), Refusal.NOT_STARTED)
        assert await handle.query(RoleAcceptanceWorkflow.role_page, TOM.email) is None
    before = await _all_invited(tier, handle)

    await refusal(
        _send(handle, _answer(TOM.email).model_copy(update={"person": "someone@larkspur.example"})),
        Refusal.NOT_A_ROLE_HOLDER,
    )
    await refusal(
        _send(handle, _answer(TOM.email).model_copy(update={"person": CEO.email})), Refusal.NOT_A_ROLE_HOLDER
    )
    await refusal(_send(handle, _answer(TOM.email, version_hash="e" * 64)), Refusal.SUPERSEDED)
    # the roles shown must be exactly the person's own
    await refusal(_send(handle, _answer(PRIYA.email, roles=["risk-owner:holder"])), Refusal.WRONG_ROLES)
    await refusal(
        _send(handle, _answer(PRIYA.email, roles=[*ROLES[PRIYA.email], "asset-owner:holder"])),
        Refusal.WRONG_ROLES,
    )
    await refusal(
        _send(handle, _answer(PRIYA.email, roles=["risk-owner:deputy", "dpo:deputy"])), Refusal.WRONG_ROLES
    )
    # the lead confirms the letter's hash; nobody else gives one
    await refusal(_send(handle, _answer(LEAD.email, letter_sha256=None)), Refusal.WRONG_ROLES)
    await refusal(_send(handle, _answer(LEAD.email, letter_sha256="d" * 64)), Refusal.WRONG_ROLES)
    await refusal(_send(handle, _answer(TOM.email, letter_sha256=LETTER.sha256)), Refusal.WRONG_ROLES)
    message = await refusal(
        _send(handle, _answer(TOM.email, kind=RoleAnswerKind.DECLINE, comment="  \n ")),
        Refusal.REASON_REQUIRED,
    )
    assert message == Message.REASON_REQUIRED
    after = await _state(handle)
    assert after.records == before.records  # nothing recorded
    assert not [k for k in standins.mail_keys() if "/declined-" in k]

    # an accept: a retried update (same id) gets the first receipt; another accept is refused
    answer = _answer(TOM.email)
    first = await _send(handle, answer, update_id="role-tom-accept")
    again = await _send(handle, answer.model_copy(update={"ip": "192.0.2.1"}), update_id="role-tom-accept")
    assert again == first
    await refusal(_send(handle, _answer(TOM.email)), Refusal.ALREADY_ACCEPTED)
    await refusal(_send(handle, _answer(TOM.email, kind=RoleAnswerKind.DECLINE)), Refusal.ALREADY_ACCEPTED)
    page = await _page(handle, TOM.email)
    assert page.accepted == first
    assert page.accepted.ip == "198.51.100.23"

    # after the deadline, while the register is being written: closed
    async with standins.holding("close_role_acceptance") as closing:
        # the clock stops at the close while the held activity runs: the sleep ends once it is let go
        passing = asyncio.create_task(tier.sleep(29 * DAY))
        await asyncio.wait_for(closing.entered.wait(), 15)
        message = await refusal(_send(handle, _answer(SAM.email, sequence=2)), Refusal.CLOSED)
        assert message == Message.CLOSED_ROLES
        assert (await _page(handle, SAM.email)).closed
    await passing
    result = await handle.result()
    assert (result.tally.total, result.tally.accepted) == (4, 1)


async def test_a_version_without_a_letter_asks_the_lead_for_none(tier: Tier) -> None:
    handle, data = await _start(tier, letter=None)
    await _all_invited(tier, handle)
    assert _mails(tier, data.cycle_id, "invitation")[LEAD.email].context["letter"] == ""
    assert (await _page(handle, LEAD.email)).letter is None
    await refusal(_send(handle, _answer(LEAD.email)), Refusal.WRONG_ROLES)  # a letter hash, but there is none
    receipt = await _send(handle, _answer(LEAD.email, letter_sha256=None))
    assert receipt.letter_sha256 is None


async def test_the_role_handle_reads_the_page_and_state_and_answers_once(tier: Tier) -> None:
    handle, data = await _start(tier)
    await _all_invited(tier, handle)
    roles = RoleHandle.of(tier.env.client, data.cycle_id)
    assert roles.id == handle.id
    page = await roles.page(PRIYA.email)
    assert page is not None
    assert [a.role_id for a in page.assignments] == ["risk-owner", "dpo"]
    assert await roles.page("nobody@larkspur.example") is None
    answer = _answer(PRIYA.email)
    first = await roles.answer(answer, update_id="role-priya-accept")
    again = await roles.answer(answer, update_id="role-priya-accept")  # a double click: the same update
    assert again == first
    with pytest.raises(UpdateRefusedError) as refused:
        await roles.answer(_answer(PRIYA.email), update_id="role-priya-accept-2")
    assert refused.value.kind is Refusal.ALREADY_ACCEPTED
    state = await roles.state()
    assert (state.cycle_id, state.version, state.closed) == (data.cycle_id, "3.0", False)
    assert (state.tally.total, state.tally.accepted, state.tally.outstanding) == (4, 1, 3)
    assert state.tally.rate_text == "1 of 4 accepted"
