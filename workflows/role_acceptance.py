"""Role acceptance: each named role holder and deputy accepts their own roles after the signature.

``RoleAcceptanceWorkflow`` (one per cycle, id ``role_acceptance_id_for(cycle_id)``, a child of
the annual review beside the all-staff campaign) asks who is asked (``plan_role_acceptance``),
emails each person their own link naming their roles, and waits for the ``answer_role`` Update.
Its ladder counts from the moment of signature (``signed_at``): a reminder at each of
``ladder.reminders`` to whoever has neither accepted nor declined since their last email; at
``ladder.escalate_after`` one email to the CEO and the ISMS lead naming everyone who has not
accepted; at ``ladder.close_after`` the register is closed (``close_role_acceptance``) and its
result returned. A decline is recorded with its reason and the CEO and the ISMS lead are told at
once; the person may still accept later.

Each email with a link is numbered per person (0 the invitation, then 1, 2, ...); once one is
recorded as sent, the person's earlier links no longer work (``Refusal.OLD_LINK``). Tokens are
minted inside the mail activity from a ``LinkRequest``: none is in this history.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.retries import activity_retry, mail_retry

with workflow.unsafe.imports_passed_through():
    from activities.mail import SEND_EMAIL_NON_RETRYABLE, MailActivities
    from activities.role_acceptance import (
        CLOSE_ROLE_ACCEPTANCE_NON_RETRYABLE,
        PLAN_ROLE_ACCEPTANCE_NON_RETRYABLE,
        RoleAcceptanceActivities,
    )
    from core.contract import Message, Query, Refusal, Update, WorkflowType, refusal
    from models.links import LinkRole
    from models.mail import LinkRequest, SendEmailInput
    from models.role_acceptance import (
        ROLE_ACCEPTANCE_TEXT,
        ROLE_LINK_PATH,
        RoleAcceptanceInput,
        RoleAcceptanceResult,
        RoleAcceptanceState,
        RoleAnswer,
        RoleAnswerKind,
        RolePage,
        RolePlanInput,
        RoleReceipt,
        RoleRecord,
        RoleRegisterInput,
        RoleTally,
    )


PLAN_RETRY = activity_retry(PLAN_ROLE_ACCEPTANCE_NON_RETRYABLE)
CLOSE_RETRY = activity_retry(CLOSE_ROLE_ACCEPTANCE_NON_RETRYABLE)
MAIL_RETRY = mail_retry(SEND_EMAIL_NON_RETRYABLE)
MAIL_TIMEOUT = timedelta(minutes=2)
ESCALATION = "escalation"


def _key(email: str) -> str:
    return email.strip().casefold()


def _when(moment: datetime) -> str:
    return moment.strftime("%d %B %Y")


def role_ids(record: RoleRecord) -> set[str]:
    """What a page shows of a person's roles, as the answer names them: ``<role_id>:<capacity>``."""
    return {f"{a.role_id}:{a.capacity.value}" for a in record.assignments}


def role_lines(record: RoleRecord) -> list[str]:
    """One line per role for an email: ``ISMS Manager (deputy), Security, reports to CEO (Eleanor Marsh)``."""
    lines = []
    for assignment in record.assignments:
        parts = [assignment.described]
        if assignment.department:
            parts.append(assignment.department)
        if assignment.reports_to:
            holder = f" ({assignment.reports_to_holder})" if assignment.reports_to_holder else ""
            parts.append(f"reports to {assignment.reports_to}{holder}")
        lines.append(", ".join(parts))
    return lines


def role_tally(records: list[RoleRecord]) -> RoleTally:
    """The figures: accepted, declined (and not accepted since), neither, and named to the CEO."""
    tally = RoleTally(total=len(records))
    for record in records:
        if record.accepted_at is not None:
            tally.accepted += 1
            continue
        if record.declined_at is not None:
            tally.declined += 1
        else:
            tally.outstanding += 1
        if record.escalated_at is not None:
            tally.escalated += 1
    return tally


@dataclass(frozen=True)
class _Notice:
    """A decline to tell the CEO and the ISMS lead about (sent by the main loop, not the update)."""

    person: str  # casefolded email
    number: int  # the person's 1st, 2nd, ... decline


@workflow.defn(name=WorkflowType.ROLE_ACCEPTANCE)
class RoleAcceptanceWorkflow:
    """Invitations, reminders, one escalation, declines told at once, and the register at the close.

    Waits for: ``answer_role`` Updates (accept, or decline with a reason), and the ladder's
    durable timers, all counted from ``signed_at``: each reminder, the escalation and the close.
    """

    @workflow.init
    def __init__(self, data: RoleAcceptanceInput) -> None:
        self._input = data
        self._started_at = workflow.now()
        self._deadline = data.signed_at + data.ladder.close_after
        self._records: dict[str, RoleRecord] = {}
        self._receipts: dict[str, RoleReceipt] = {}  # the acceptance recorded, per person
        # per person: the sequence of the newest link recorded as sent (none recorded: any works)
        self._newest_links: dict[str, int] = {}
        self._last_reminder: datetime | None = None  # when the latest reminder step ran
        self._declines: dict[str, int] = {}
        self._notices: list[_Notice] = []
        self._loaded = False  # the people are in: before that, no page and no answer
        self._closed = False

    @workflow.run
    async def run(self, data: RoleAcceptanceInput) -> RoleAcceptanceResult:
        holders = await workflow.execute_activity_method(
            RoleAcceptanceActivities.plan_role_acceptance,
            RolePlanInput(
                cycle_id=data.cycle_id, profile=data.profile, staff=data.staff, signer_email=data.signer.email
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=PLAN_RETRY,
        )
        for holder in holders:
            self._records[_key(holder.email)] = RoleRecord(
                email=holder.email,
                name=holder.name,
                department=holder.department,
                assignments=holder.assignments,
                lead=holder.lead,
            )
        self._loaded = True
        for person in list(self._records):
            await self._send_link(person, "invitation")

        steps = self._steps()
        done: set[str] = set()
        while self._records:  # no one to ask: the (empty) register is closed at once
            now = workflow.now()
            if now >= self._deadline:
                break
            due = min([at for at, step in steps if step not in done] + [self._deadline])
            if due > now:
                with contextlib.suppress(TimeoutError):  # a step is due
                    await workflow.wait_condition(lambda: bool(self._notices), timeout=due - now)
            await self._send_notices()
            for at, step in steps:
                if step in done or at > workflow.now():
                    continue
                done.add(step)
                if step == ESCALATION:
                    await self._escalate()
                else:
                    await self._remind(int(step.removeprefix("reminder-")))

        self._closed = True
        await self._send_notices()  # a decline recorded just before the close
        result = await workflow.execute_activity_method(
            RoleAcceptanceActivities.close_role_acceptance,
            RoleRegisterInput(
                cycle_id=data.cycle_id,
                organisation=data.organisation,
                version=data.version,
                version_hash=data.version_hash,
                signer=data.signer,
                lead=data.lead,
                signed_at=data.signed_at,
                closed_at=workflow.now(),
                records=list(self._records.values()),
            ),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=CLOSE_RETRY,
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    # ---------------------------------------------------------------------- the ladder

    def _steps(self) -> list[tuple[datetime, str]]:
        """Each step's moment (from the signature) and name, in order; none at or after the close."""
        ladder, signed_at = self._input.ladder, self._input.signed_at
        steps = [(signed_at + delay, f"reminder-{n}") for n, delay in enumerate(ladder.reminders, start=1)]
        steps.append((signed_at + ladder.escalate_after, ESCALATION))
        return sorted(step for step in steps if step[0] < self._deadline)

    def _answered_since_last_reminder(self, record: RoleRecord) -> bool:
        """Accepted, or declined since the last reminder (the invitation, before the first one):
        a decline is an answer for now; the next reminder after it asks again."""
        if record.accepted_at is not None:
            return True
        since = self._last_reminder or record.invited_at
        return record.declined_at is not None and since is not None and record.declined_at >= since

    async def _remind(self, number: int) -> None:
        for person, record in list(self._records.items()):
            if record.invited_at is None or self._answered_since_last_reminder(record):
                continue
            await self._send_link(person, f"reminder-{number}", reminder_number=number)
        self._last_reminder = workflow.now()

    async def _escalate(self) -> None:
        """One email to the CEO and the ISMS lead naming everyone who has not accepted."""
        data = self._input
        outstanding = [r for r in self._records.values() if r.accepted_at is None]
        if not outstanding:
            return
        lines = []
        for record in outstanding:
            invited = _when(record.invited_at) if record.invited_at else "not reached by email"
            reminded = ", ".join(_when(at) for at in record.reminded_at) or "not reminded"
            line = (
                f"{record.name} <{record.email}>: {'; '.join(role_lines(record))}"
                f" (invited {invited}; reminded {reminded})"
            )
            if record.declined_at is not None:
                line += f"; declined on {_when(record.declined_at)}: {record.decline_comment}"
            lines.append(line)
        sent = await self._mail(
            key=f"{data.cycle_id}/roles/{ESCALATION}",
            template="role_escalation",
            to=self._management(),
            context={"people": lines, "outstanding_count": len(outstanding)},
        )
        if sent:
            for record in outstanding:
                record.escalated_at = workflow.now()

    async def _send_notices(self) -> None:
        """Tell the CEO and the ISMS lead of each decline recorded since the last look."""
        data = self._input
        while self._notices:
            notice = self._notices.pop(0)
            record = self._records[notice.person]
            await self._mail(
                key=f"{data.cycle_id}/roles/{notice.person}/declined-{notice.number}",
                template="role_declined",
                to=self._management(),
                context={
                    "person_name": record.name,
                    "person_email": record.email,
                    "roles": role_lines(record),
                    "comment": record.decline_comment,
                },
            )

    def _management(self) -> list[str]:
        data = self._input
        return list(dict.fromkeys([data.signer.email, data.lead.email]))

    # --------------------------------------------------------------------------- mail

    def _common(self) -> dict[str, str | int | list[str]]:
        data = self._input
        return {
            "organisation": data.organisation,
            "cycle_id": data.cycle_id,
            "version": data.version,
            "signer_name": data.signer.name,
            "lead_name": data.lead.name,
            "deadline": _when(self._deadline),
        }

    async def _send_link(self, person: str, step: str, *, reminder_number: int = 0) -> None:
        """One person's email with their own link (``step``: invitation, reminder-1, ...)."""
        data = self._input
        record = self._records[person]
        newest = self._newest_links.get(person)
        sequence = 0 if newest is None else newest + 1
        context: dict[str, str | int | list[str]] = {
            "person_name": record.name,
            "roles": role_lines(record),
            "letter": (
                f"{data.letter.title} (SHA-256 {data.letter.sha256})"
                if record.lead and data.letter is not None
                else ""
            ),
        }
        if reminder_number:
            context["reminder_number"] = reminder_number
        sent = await self._mail(
            key=f"{data.cycle_id}/roles/{person}/{step}",
            template="role_reminder" if reminder_number else "role_invitation",
            to=[record.email],
            context=context,
            link=LinkRequest(
                cycle_id=data.cycle_id,
                person=record.email,
                role=LinkRole.ROLE,
                version_hash=data.version_hash,
                path=ROLE_LINK_PATH,
                sequence=sequence,
            ),
        )
        if not sent:
            return
        # sent: from now on only this email's link (or a later one) works
        self._newest_links[person] = sequence
        if reminder_number:
            record.reminded_at.append(workflow.now())
        else:
            record.invited_at = workflow.now()

    async def _mail(
        self,
        *,
        key: str,
        template: str,
        to: list[str],
        context: dict[str, str | int | list[str]],
        link: LinkRequest | None = None,
    ) -> bool:
        """Send one email (its key names it for good); False when the server refused it for good
        (a refused address): recorded in the log, and the ladder goes on for everyone else."""
        try:
            await workflow.execute_activity_method(
                MailActivities.send_email,
                SendEmailInput(
                    key=key, template=template, to=to, context={**self._common(), **context}, link=link
                ),
                start_to_close_timeout=MAIL_TIMEOUT,
                retry_policy=MAIL_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("role acceptance email %s not sent: %s", key, exc.cause or exc)
            return False
        return True

    # -------------------------------------------------------------------- the answers

    @workflow.update(name=Update.ANSWER_ROLE)
    def answer_role(self, answer: RoleAnswer) -> RoleReceipt:
        """Record an acceptance (once), or a decline with its reason (told to the CEO and the lead).

        The web app sends it with an update id made of the link's id and the kind, so a double
        click is one update: Temporal returns the first receipt for a repeated id.
        """
        person = _key(answer.person)
        record = self._records[person]
        now = workflow.now()
        if answer.kind is RoleAnswerKind.DECLINE:
            record.declined_at = now
            record.decline_comment = answer.comment.strip()
            number = self._declines.get(person, 0) + 1
            self._declines[person] = number
            self._notices.append(_Notice(person=person, number=number))
            return self._receipt(
                record, RoleAnswerKind.DECLINE, now, ip=answer.ip, user_agent=answer.user_agent
            )
        already = person in self._receipts
        if not already:
            record.accepted_at = now
            record.ip, record.user_agent = answer.ip, answer.user_agent
            record.version_hash = answer.version_hash
            record.letter_sha256 = answer.letter_sha256 if record.lead else None
            record.statement = ROLE_ACCEPTANCE_TEXT
            self._receipts[person] = self._receipt(
                record, RoleAnswerKind.ACCEPT, now, ip=answer.ip, user_agent=answer.user_agent
            )
        receipt = self._receipts[person]
        return receipt.model_copy(update={"already": True}) if already else receipt

    def _receipt(
        self,
        record: RoleRecord,
        kind: RoleAnswerKind,
        at: datetime,
        *,
        ip: str | None,
        user_agent: str | None,
    ) -> RoleReceipt:
        data = self._input
        accepted = kind is RoleAnswerKind.ACCEPT
        return RoleReceipt(
            organisation=data.organisation,
            person=record.email,
            name=record.name,
            kind=kind,
            at=at,
            version=data.version,
            version_hash=data.version_hash,
            assignments=list(record.assignments),
            letter_sha256=record.letter_sha256 if accepted else None,
            ip=ip,
            user_agent=user_agent,
            statement=ROLE_ACCEPTANCE_TEXT if accepted else "",
        )

    @answer_role.validator
    def _validate_answer(self, answer: RoleAnswer) -> None:
        data = self._input
        if not self._loaded:
            raise refusal(Refusal.NOT_STARTED)
        if self._closed or workflow.now() >= self._deadline:
            raise refusal(Refusal.CLOSED, Message.CLOSED_ROLES)
        record = self._records.get(_key(answer.person))
        if record is None:
            raise refusal(Refusal.NOT_A_ROLE_HOLDER)
        if answer.version_hash != data.version_hash:
            raise refusal(Refusal.SUPERSEDED, Message.SUPERSEDED_ACKNOWLEDGEMENT)
        if answer.link_sequence < self._newest_links.get(_key(answer.person), 0):
            # an earlier email's link; one whose email is still being sent is above the newest
            raise refusal(Refusal.OLD_LINK)
        if record.accepted_at is not None:
            raise refusal(Refusal.ALREADY_ACCEPTED)
        expected = role_ids(record)
        letter = data.letter.sha256 if record.lead and data.letter is not None else None
        if (
            set(answer.roles) != expected
            or len(answer.roles) != len(expected)
            or (answer.letter_sha256 or None) != letter
        ):
            # exactly the roles (and, for the ISMS lead, the letter) the page showed this person
            raise refusal(Refusal.WRONG_ROLES, Message.WRONG_ROLES, sorted(expected))
        if answer.kind is RoleAnswerKind.DECLINE and not answer.comment.strip():
            raise refusal(Refusal.REASON_REQUIRED)

    # -------------------------------------------------------------------- the queries

    @workflow.query(name=Query.ROLE_PAGE)
    def role_page(self, email: str) -> RolePage | None:
        """What the person's page shows; None before the plan is in, or for someone not asked."""
        data = self._input
        record = self._records.get(_key(email)) if self._loaded else None
        if record is None:
            return None
        return RolePage(
            organisation=data.organisation,
            person=record.email,
            name=record.name,
            version=data.version,
            version_hash=data.version_hash,
            signer_name=data.signer.name,
            signer_title=data.signer.title,
            signed_at=data.signed_at,
            deadline=self._deadline,
            assignments=list(record.assignments),
            letter=data.letter if record.lead else None,
            accepted=self._receipts.get(_key(email)),
            declined_at=record.declined_at,
            decline_comment=record.decline_comment,
            newest_link=self._newest_links.get(_key(email), 0),
            closed=self._closed,
        )

    @workflow.query(name=Query.ROLE_STATE)
    def role_state(self) -> RoleAcceptanceState:
        records = list(self._records.values())
        return RoleAcceptanceState(
            cycle_id=self._input.cycle_id,
            version=self._input.version,
            started_at=self._started_at,
            deadline=self._deadline,
            closed=self._closed,
            tally=role_tally(records),
            records=records,
        )
