"""The organisation the logic tier plays: people, routing, staff, decisions, and how to wait.

Days pass only through ``env.sleep``: the time-skipping server holds its clock while a
workflow task or an activity is in flight, so when a sleep returns everything due before its
end has run. Between sleeps the clock is held too, so waiting here (for a query to show a
stage, for a stand-in to be called) lets the workflow catch up; it never lets days pass.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from core.contract import Refusal, refusal_of
from models.campaign import (
    BATCH_WAVE,
    RUN_EVENTS,
    Acknowledgement,
    AckPage,
    AckReceipt,
    BatchProgress,
    CampaignInput,
    CampaignState,
    Recipient,
    SignedVersion,
    batch_id_for,
    signed_version_hash,
)
from models.cycle import (
    AnnualReviewInput,
    CycleStatus,
    DecisionKind,
    SecondFactor,
    SecondFactorMethod,
    SignatureDecision,
    Stage,
)
from models.findings import Finding, Severity
from models.profile import AcknowledgementSchedule, Audience, RoleAcceptanceSchedule, SignatureSchedule
from models.routing import AckLadder, CycleRouting, Person, RoleLadder, ScheduleSnapshot
from models.staff import Person as StaffPerson
from models.storage import StoredObject
from tests.logic.standins import Mail, StandIns, stored
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow
from workflows.annual_review import AnnualReviewWorkflow

T = TypeVar("T")
DAY = timedelta(days=1)
# the workflow clock moves on by a few milliseconds of real time per step between sleeps
CLOCK_SLACK = timedelta(seconds=30)

ORGANISATION = "Larkspur Analytics Ltd"
CEO = Person(name="Eleanor Marsh", email="eleanor.marsh@larkspur.example", title="Chief Executive")
LEAD = Person(name="Ravi Chandran", email="ravi.chandran@larkspur.example", title="ISMS Manager")
CHAIR = Person(name="Margaret Okafor", email="margaret.okafor@larkspur.example", title="Chair of the Board")
DEPARTMENTS = ("Engineering", "Finance", "Operations", "Sales")


def close_to(actual: datetime, expected: datetime) -> bool:
    """Equal to within the clock's slack (the real time the workflow spends between steps)."""
    return abs(actual - expected) <= CLOCK_SLACK


def routing(
    version: str = "3.0",
    *,
    schedule: SignatureSchedule | None = None,
    acknowledgement: AcknowledgementSchedule | None = None,
    roles: RoleAcceptanceSchedule | None = None,
) -> CycleRouting:
    """What checking the profile finds: the profile's schedules (its defaults unless given; no
    role acceptance unless ``roles`` is given and enabled)."""
    signature = schedule or SignatureSchedule()
    ladder = acknowledgement or AcknowledgementSchedule()
    return CycleRouting(
        organisation=ORGANISATION,
        short_name="larkspur",
        version=version,
        signer=CEO,
        lead=LEAD,
        schedule=ScheduleSnapshot(
            reminders=list(signature.reminders),
            escalate_after=signature.escalate_after,
            escalate_to=[CHAIR],
            overdue_after=signature.overdue_after,
        ),
        acknowledgement=AckLadder(**ladder.model_dump()),
        role_acceptance=(
            RoleLadder(
                reminders=sorted(roles.reminders),
                escalate_after=roles.escalate_after,
                close_after=roles.close_after,
            )
            if roles is not None and roles.enabled
            else None
        ),
    )


def clause5_error() -> Finding:
    return Finding(
        rule="5.2.approved-by-top-management",
        severity=Severity.ERROR,
        where="policy.approved_by",
        message="the approver engineering-lead is not top management",
        fix="name the CEO's role as approved_by",
    )


def staff(count: int, *, team_size: int = 8, prefix: str = "person") -> list[Recipient]:
    """``count`` people in teams of ``team_size``; each team's first person manages the rest."""
    people = []
    for number in range(count):
        manager = (number // team_size) * team_size
        people.append(
            Recipient(
                email=f"{prefix}{number:03d}@larkspur.example",
                name=f"{prefix.title()} {number:03d}",
                department=DEPARTMENTS[(number // team_size) % len(DEPARTMENTS)],
                manager_email=None if manager == number else f"{prefix}{manager:03d}@larkspur.example",
                manager_name=None if manager == number else f"{prefix.title()} {manager:03d}",
            )
        )
    return people


def email(number: int, prefix: str = "person") -> str:
    return f"{prefix}{number:03d}@larkspur.example"


def sign(status: CycleStatus, **changes: object) -> SignatureDecision:
    """The CEO signs the version ``status`` shows (``changes`` make a bad decision)."""
    decision = SignatureDecision(
        kind=DecisionKind.SIGN,
        person=CEO.email,
        version_hash=status.version_hash,
        link_id=uuid.uuid4().hex,
        typed_name=CEO.name,
        consent=True,
        ip="203.0.113.7",
        user_agent="logic-tier",
        second_factor=code_factor(CEO.email),
        link_sequence=status.signer_link_sequence,  # the newest link the CEO was sent
    )
    return decision.model_copy(update=changes)


def code_factor(identity: str) -> SecondFactor:
    """The second factor the web app puts into a signature: the emailed code, passed."""
    return SecondFactor(
        method=SecondFactorMethod.EMAILED_CODE,
        identity=identity,
        verified_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        detail="code sent 2026-11-23 08:58:40 UTC, 1 attempt",
    )


def request_changes(status: CycleStatus, comment: str, **changes: object) -> SignatureDecision:
    decision = SignatureDecision(
        kind=DecisionKind.REQUEST_CHANGES,
        person=CEO.email,
        version_hash=status.version_hash,
        link_id=uuid.uuid4().hex,
        comment=comment,
        ip="203.0.113.7",
        user_agent="logic-tier",
        link_sequence=status.signer_link_sequence,
    )
    return decision.model_copy(update=changes)


async def refusal(call: Awaitable[object], kind: Refusal) -> str:
    """The message of the refusal ``call`` ends in, which must be of the contract's type ``kind``
    (the type the pages switch on); it fails the test if the update was accepted."""
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await call
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == kind.value, f"refused as {cause.type!r} ({cause.message}), not as {kind.name}"
    assert refusal_of(cause.type) is kind
    return cause.message


def invited(status: CycleStatus) -> bool:
    """Awaiting the signature with this round's invitation sent (the stage changes first)."""
    sent = [event.event for event in status.events].count("sent")
    return status.stage is Stage.AWAITING_SIGNATURE and sent >= status.round


@dataclass
class Tier:
    """One test's time-skipping server, stand-ins, and task queue with a worker on it."""

    env: WorkflowEnvironment
    standins: StandIns
    task_queue: str

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sleep(self, duration: timedelta) -> None:
        await self.env.sleep(duration)

    async def until(
        self, ask: Callable[[], Awaitable[T]], check: Callable[[T], bool], *, within: float = 15.0
    ) -> T:
        """Ask (a query) until ``check`` holds: the workflow catching up, no time passing."""
        give_up = time.monotonic() + within
        while not check(found := await ask()):
            if time.monotonic() > give_up:
                raise AssertionError(f"gave up waiting; last answer: {found}")
            await asyncio.sleep(0.02)
        return found

    # ------------------------------------------------------------- annual review

    async def start_review(
        self,
        *,
        profile: StoredObject | None = None,
        staff_directory: StoredObject | None = None,
        reason: str | None = None,
        document_files: dict[str, StoredObject] | None = None,
    ) -> WorkflowHandle[AnnualReviewWorkflow, object]:
        cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
        return await self.env.client.start_workflow(
            AnnualReviewWorkflow.run,
            AnnualReviewInput(
                cycle_id=cycle_id,
                year=2026,
                profile=profile or self.standins.profile(routing()),
                staff=staff_directory or self.standins.directory(staff(4)),
                started_by=LEAD.email,
                reason=reason,
                document_files=document_files or {},
            ),
            id=cycle_id,
            task_queue=self.task_queue,
        )

    async def status(self, handle: WorkflowHandle[AnnualReviewWorkflow, object]) -> CycleStatus:
        status: CycleStatus = await handle.query(AnnualReviewWorkflow.status)
        return status

    async def wait_status(
        self,
        handle: WorkflowHandle[AnnualReviewWorkflow, object],
        check: Callable[[CycleStatus], bool],
        *,
        within: float = 15.0,
    ) -> CycleStatus:
        """Ask the status query until ``check`` holds (the workflow catching up; no time passes)."""
        give_up = time.monotonic() + within
        while True:
            try:
                status = await self.status(handle)
            except RPCError as exc:  # a child workflow not started yet
                if exc.status is not RPCStatusCode.NOT_FOUND or time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.02)
                continue
            if check(status):
                return status
            if time.monotonic() > give_up:
                raise AssertionError(
                    f"gave up: stage {status.stage}, events {[e.event for e in status.events]}, "
                    f"problems {status.archive_problems}"
                )
            await asyncio.sleep(0.02)

    # ---------------------------------------------------------------- campaign

    async def start_campaign(
        self,
        people: list[Recipient] | list[StaffPerson],
        *,
        schedule: AckLadder | None = None,
        batch_size: int = 250,
        signed: SignedVersion | None = None,
        batch_wave: int = BATCH_WAVE,
        run_events: int = RUN_EVENTS,
    ) -> tuple[WorkflowHandle[AcknowledgementCampaignWorkflow, object], CampaignInput]:
        """A campaign over ``people`` (Recipients as they are, or the HR export's rows as
        ``Person``), for the two-document version of old unless ``signed`` is given
        (``batch_wave`` and ``run_events``: when its runs continue as new)."""
        cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:8]}"
        documents = {
            "information-security-policy.docx": "a" * 64,
            "isms-roles-and-responsibilities.docx": "b" * 64,
        }
        now = await self.now()
        data = CampaignInput(
            cycle_id=cycle_id,
            organisation=ORGANISATION,
            signed=signed
            or SignedVersion(
                version="3.0",
                version_hash=signed_version_hash(documents),
                documents=documents,
                pdfs={name: stored(f"signed/{name}.pdf", seed=digest) for name, digest in documents.items()},
            ),
            staff=self.standins.directory(people),
            lead=LEAD,
            signer=CEO,
            schedule=schedule or AckLadder(),
            cycle_started_at=now - 3 * DAY,
            signed_at=now,
            batch_size=batch_size,
            batch_wave=batch_wave,
            run_events=run_events,
        )
        handle = await self.env.client.start_workflow(
            AcknowledgementCampaignWorkflow.run,
            data,
            id=f"{cycle_id}--campaign",
            task_queue=self.task_queue,
        )
        return handle, data


# ------------------------------------------------------------------- campaign steps


def signed_documents(
    documents: dict[str, tuple[str, str, Audience]], *, version: str = "3.0"
) -> SignedVersion:
    """A signed version of ``documents`` (name -> title, version, audience), each PDF's hash made
    from its name: what the annual review hands a campaign since the documents section."""
    hashes = {name: _digest(name) for name in documents}
    return SignedVersion(
        version=version,
        version_hash=signed_version_hash(hashes),
        documents=hashes,
        pdfs={name: stored(f"signed/{name}.pdf", seed=digest) for name, digest in hashes.items()},
        titles={name: title for name, (title, _, _) in documents.items()},
        versions={name: own for name, (_, own, _) in documents.items()},
        audiences={name: audience for name, (_, _, audience) in documents.items()},
    )


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def hr_staff(departments: dict[str, int]) -> list[StaffPerson]:
    """People of the HR export, ``count`` per department in the order given, numbered on
    (``email(n)``, as :func:`staff` names them); no line managers."""
    people: list[StaffPerson] = []
    for department, count in departments.items():
        for _ in range(count):
            number = len(people)
            people.append(
                StaffPerson(
                    employee_id=f"E{number:04d}",
                    name=f"Person {number:03d}",
                    email=email(number),
                    department=department,
                    job_title="Analyst",
                    manager_email=None,
                    start_date=None,
                    end_date=None,
                    in_scope=True,
                )
            )
    return people


async def acknowledge(
    tier: Tier,
    data: CampaignInput,
    person: str,
    *,
    batch: int = 1,
    documents: dict[str, str] | None = None,
) -> AckReceipt:
    """``person`` acknowledges, as shown ``documents`` (default: every document of the version)."""
    link = uuid.uuid4().hex
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, batch))
    # the person uses the newest link they were sent (an older one is refused: OldLink)
    page: AckPage | None = await handle.query(AcknowledgementBatchWorkflow.page, person)
    receipt: AckReceipt = await handle.execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(
            person=person,
            version_hash=data.signed.version_hash,
            link_id=link,
            documents=data.signed.documents if documents is None else documents,
            ip="198.51.100.9",
            user_agent="logic-tier",
            link_sequence=page.newest_link if page else 0,
        ),
        id=f"ack-{link}",
    )
    return receipt


async def progress(tier: Tier, data: CampaignInput, batch: int = 1) -> BatchProgress:
    handle = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, batch))
    figures: BatchProgress = await handle.query(AcknowledgementBatchWorkflow.progress)
    return figures


async def state(handle: WorkflowHandle[AcknowledgementCampaignWorkflow, object]) -> CampaignState:
    found: CampaignState = await handle.query(AcknowledgementCampaignWorkflow.state)
    return found


def step(tier: Tier, name: str) -> list[Mail]:
    """The emails of one ladder step (``invitation``, ``reminder-1``, ...), in the order asked."""
    return tier.standins.mails(lambda m: m.key.endswith(f"/{name}"))


async def invitations(tier: Tier, count: int) -> list[Mail]:
    return await tier.standins.wait(
        lambda: found if len(found := step(tier, "invitation")) >= count else None,
        what=f"{count} invitations",
    )
