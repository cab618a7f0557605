"""The acknowledgement campaign: every person in scope confirms the signed version.

``AcknowledgementCampaignWorkflow`` (one per cycle) freezes the directory into batches, starts
one ``AcknowledgementBatchWorkflow`` per batch, sends the ISMS lead and the CEO a summary,
takes joiners and leavers, and at the deadline writes the register and the report. Each batch
invites its people, runs the ladder on durable timers (reminders to the person, one digest per
line manager) and records acknowledgements, arriving as the ``acknowledge`` Update.

Histories stay bounded at any size of organisation: the campaign's grows with the number of
batches (a few events each), a batch's with its few hundred people. Figures are read by query
(``adapters.campaign``), never sent up as signals.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.handlers import async_update
from workflows.retries import activity_retry, mail_retry

with workflow.unsafe.imports_passed_through():
    from activities.campaign import (
        CAMPAIGN_FIGURES_NON_RETRYABLE,
        CLOSE_CAMPAIGN_NON_RETRYABLE,
        FREEZE_DIRECTORY_NON_RETRYABLE,
        LOAD_BATCH_NON_RETRYABLE,
        PLAN_STAFF_CHANGE_NON_RETRYABLE,
        SEND_CAMPAIGN_MAIL_NON_RETRYABLE,
        STORE_BATCH_RECORDS_NON_RETRYABLE,
        CampaignActivities,
    )
    from activities.mail import SEND_EMAIL_NON_RETRYABLE, MailActivities
    from core.contract import Message, Query, Refusal, Signal, Update, WorkflowType, refusal, refusal_of
    from models.ack_group import (
        ACK_GROUP_MAX,
        AckGroup,
        AckGroupReceipt,
        AckOutcome,
        AckRefusal,
        BatchView,
        ViewPerson,
        ack_page,
    )
    from models.campaign import (
        RATE_TARGET,
        AcknowledgedDocument,
        Acknowledgement,
        AckPage,
        AckReceipt,
        BatchChange,
        BatchInput,
        BatchProgress,
        BatchResult,
        CampaignInput,
        CampaignMailInput,
        CampaignMailRecipient,
        CampaignResult,
        CampaignStage,
        CampaignState,
        CloseInput,
        FreezeInput,
        FrozenDirectory,
        PersonRecord,
        PlanChangeInput,
        PlannedChange,
        Recipient,
        SignedVersion,
        StaffChange,
        StaffChangeReceipt,
        StoreRecordsInput,
        Tally,
        batch_id_for,
        wrong_answers,
    )
    from models.mail import SendEmailInput
    from models.profile import Question

# the campaign in runs (AcknowledgementCampaignWorkflow)
with workflow.unsafe.imports_passed_through():
    from activities.campaign import LIST_BATCHES_NON_RETRYABLE
    from models.campaign import BatchWaveInput, CampaignCarry
    from models.storage import StoredObject


LOAD_BATCH_RETRY = activity_retry(LOAD_BATCH_NON_RETRYABLE)
STORE_RECORDS_RETRY = activity_retry(STORE_BATCH_RECORDS_NON_RETRYABLE)
FREEZE_RETRY = activity_retry(FREEZE_DIRECTORY_NON_RETRYABLE)
PLAN_CHANGE_RETRY = activity_retry(PLAN_STAFF_CHANGE_NON_RETRYABLE)
FIGURES_RETRY = activity_retry(CAMPAIGN_FIGURES_NON_RETRYABLE)
CLOSE_RETRY = activity_retry(CLOSE_CAMPAIGN_NON_RETRYABLE)
LIST_BATCHES_RETRY = activity_retry(LIST_BATCHES_NON_RETRYABLE)
CAMPAIGN_MAIL_RETRY = mail_retry(SEND_CAMPAIGN_MAIL_NON_RETRYABLE)
MAIL_RETRY = mail_retry(SEND_EMAIL_NON_RETRYABLE)
MAIL_TIMEOUT = timedelta(minutes=30)
# a worker that dies mid-run is noticed this soon (each email heartbeats), and the run resumes elsewhere
MAIL_HEARTBEAT = timedelta(seconds=20)
# behaviour changes for batches already running (workflow.patched ids; never renamed)
DIGEST_KEY_PER_BATCH = "digest-key-per-batch"
RETURNING_LEAVER_OWN_MEMBERSHIP = "returning-leaver-own-membership"
# each staff link carries its email's number and only the newest sent works; a batch that sent
# links before this keeps accepting all of them (its tokens carry no number)
LINK_SEQUENCE = "link-sequence"
# the campaign starts its batches in waves and continues as new (runs bounded whatever its size)
CAMPAIGN_RUNS = "campaign-runs"
CLOSE_GRACE = timedelta(seconds=2)  # from the deadline to the close of a campaign in runs


def _key(email: str) -> str:
    return email.strip().casefold()


def _when(moment: datetime) -> str:
    return moment.strftime("%d %B %Y")


def _percent(tally: Tally) -> str:
    return tally.rate_text


def _document_line(signed: SignedVersion, name: str) -> str:
    """How an email names one document: ``Acceptable Use Policy, version 2.1 (SHA-256 ...)``."""
    return f"{signed.title_of(name)}, version {signed.version_of(name)} (SHA-256 {signed.documents[name]})"


@dataclass
class _Cohort:
    """People invited together (the first batch, or joiners): their ladder counts from then."""

    number: int
    invited_at: datetime
    people: list[str]  # casefolded emails
    done: set[str] = field(default_factory=set)  # ladder steps already run


@dataclass(slots=True)
class _Person:
    """One person of a batch as the workflow keeps them, a few hundred bytes each.

    The register line (``PersonRecord``) without what the signed version holds: the hashes,
    titles and versions of the documents acknowledged are the version's own (the validator lets
    through no others), so they are filled in only where a line leaves the workflow
    (:meth:`AcknowledgementBatchWorkflow._line`). Strings many people share (a department, a
    manager, a browser) are one object for all of them.
    """

    key: str  # the casefolded email (the same object as ``email`` when they are equal)
    email: str
    name: str
    department: str
    manager_email: str | None
    manager_name: str | None
    acknowledges: tuple[str, ...] | None  # Recipient.acknowledges, one tuple per distinct set
    joined: bool = False
    invited_at: datetime | None = None
    reminded_at: tuple[datetime, ...] = ()
    escalated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    left_at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None
    version_hash: str | None = None
    # the hashes as the page showed them, only when they are not the version's hashes of the
    # person's documents in the version's order (None: those, or nothing acknowledged yet)
    shown: dict[str, str] | None = None
    # the questions' answers (PersonRecord.answers, first_answers, attempts): None without questions
    answers: dict[str, list[int]] | None = None
    first_answers: dict[str, list[int]] | None = None  # None: the same as ``answers``
    attempts: int = 0


# Outside the sandbox in the worker: a campaign keeps hundreds of batches in the sticky cache,
# and each sandboxed one carries its own copy of this module (about 200 kB) and pays the
# sandbox's checks on every task (about a tenth of a single acknowledgement's worker CPU). The
# logic tier runs it inside the sandbox (tests/logic/conftest.py), so a call the sandbox
# forbids (the clock, randomness, I/O) still fails a test there.
@workflow.defn(name=WorkflowType.BATCH, sandboxed=False)
class AcknowledgementBatchWorkflow:
    """A few hundred people: invitations, reminders, manager digests, acknowledgements.

    Each email with a link is numbered per person (0 the invitation, then 1, 2, ...); once one
    is recorded as sent, the person's earlier links no longer work. Closes itself at the
    deadline and returns its register lines (stored in S3).
    """

    @workflow.init
    def __init__(self, data: BatchInput) -> None:
        self._input = data
        self._records: dict[str, _Person] = {}
        # one object for each string many people share (departments, managers, browsers)
        self._shared: dict[str, str] = {}
        self._sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        # the documents each set of ``acknowledges`` stands for (SignedVersion.names_for)
        self._names_of: dict[tuple[str, ...] | None, list[str]] = {}
        self._cohorts: list[_Cohort] = []
        self._changes: list[BatchChange] = []
        # a returning leaver's membership number (2 for the first return): keys of its own
        self._memberships: dict[str, int] = {}
        # per person (casefolded email): the sequence of the newest link recorded as sent; an
        # acknowledgement through a link with a lower one is refused (none recorded: any works)
        self._newest_links: dict[str, int] = {}
        self._loaded = False  # the people are in: before that, no page and no acknowledgement
        self._closed = False
        # bumped with every change to what the pages show (BatchView.revision)
        self._revision = 0

    @workflow.run
    async def run(self, data: BatchInput) -> BatchResult:
        await self._load(data)
        self._loaded = True
        self._revision += 1
        await self._invite(list(self._records))

        while True:
            now = workflow.now()
            due = self._next_due()
            if now >= data.deadline:
                break
            with contextlib.suppress(TimeoutError):  # a step is due
                await workflow.wait_condition(
                    lambda: bool(self._changes), timeout=min(due, data.deadline) - now
                )
            while self._changes:
                await self._apply(self._changes.pop(0))
            await self._run_due_steps()

        self._closed = True
        self._revision += 1
        records = [self._line(person) for person in self._records.values()]
        stored = await workflow.execute_activity_method(
            CampaignActivities.store_batch_records,
            StoreRecordsInput(cycle_id=data.cycle_id, batch=data.batch, records=records),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=STORE_RECORDS_RETRY,
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BatchResult(batch=data.batch, records=stored, tally=self._tally()[0])

    async def _load(self, data: BatchInput) -> None:
        """The batch's people, kept as ``_Person``s (the list loaded is let go on return)."""
        people = await workflow.execute_activity_method(
            CampaignActivities.load_batch,
            data.people,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=LOAD_BATCH_RETRY,
        )
        for person in people:
            kept = self._person(person, manager_name=person.manager_name)
            self._records[kept.key] = kept

    def _share(self, text: str | None) -> str | None:
        """``text`` as one object for every equal string of the batch (a dict of the workflow's
        own: ``sys.intern`` would do too, the sandbox lets it through, but it is process-wide)."""
        return None if text is None else self._shared.setdefault(text, text)

    def _person(self, person: Recipient, *, manager_name: str | None, joined: bool = False) -> _Person:
        key = _key(person.email)
        documents = None if person.acknowledges is None else tuple(person.acknowledges)
        return _Person(
            key=key,
            email=key if person.email == key else person.email,
            name=person.name,
            department=self._shared.setdefault(person.department, person.department),
            manager_email=self._share(person.manager_email),
            manager_name=self._share(manager_name),
            acknowledges=None if documents is None else self._sets.setdefault(documents, documents),
            joined=joined,
        )

    def _documents(self, person: _Person) -> dict[str, str]:
        """The hashes recorded with the person's acknowledgement ({} until they acknowledge)."""
        if person.acknowledged_at is None:
            return {}
        if person.shown is not None:
            return dict(person.shown)
        signed = self._input.signed
        return {name: signed.documents[name] for name in self._names(person)}

    def _line(self, person: _Person) -> PersonRecord:
        """The person's register line, as it leaves the workflow (records, pages)."""
        signed = self._input.signed
        documents = self._documents(person)
        questions = person.answers is not None
        return PersonRecord(
            email=person.email,
            name=person.name,
            department=person.department,
            manager_email=person.manager_email,
            manager_name=person.manager_name,
            joined=person.joined,
            invited_at=person.invited_at,
            reminded_at=list(person.reminded_at),
            escalated_at=person.escalated_at,
            acknowledged_at=person.acknowledged_at,
            ip=person.ip,
            user_agent=person.user_agent,
            version_hash=person.version_hash,
            documents=documents,
            left_at=person.left_at,
            acknowledges=None if person.acknowledges is None else list(person.acknowledges),
            acknowledged_documents=[
                AcknowledgedDocument(
                    id=PurePosixPath(name).stem,
                    name=name,
                    title=signed.title_of(name),
                    version=signed.version_of(name),
                    sha256=documents[name],
                )
                for name in self._names(person)
                if name in documents
            ],
            answers=dict(person.answers) if person.answers is not None else {},
            first_answers=dict(person.first_answers or person.answers or {}) if questions else {},
            attempts=person.attempts,
        )

    # ---------------------------------------------------------------------- the ladder

    def _steps(self) -> list[tuple[timedelta, str]]:
        ladder = self._input.schedule
        steps = [(delay, f"reminder-{n}") for n, delay in enumerate(ladder.reminders, start=1)]
        return sorted([*steps, (ladder.manager_digest_after, "digest")])

    def _next_due(self) -> datetime:
        due = self._input.deadline
        for cohort in self._cohorts:
            for delay, step in self._steps():
                if step not in cohort.done:
                    due = min(due, cohort.invited_at + delay)
        return due

    async def _run_due_steps(self) -> None:
        for cohort in self._cohorts:
            for delay, step in self._steps():
                at = cohort.invited_at + delay
                if step in cohort.done or at > workflow.now():
                    continue
                cohort.done.add(step)
                if at >= self._input.deadline:
                    continue  # a late joiner's step that would fall after the close
                if step == "digest":
                    await self._digest(cohort)
                else:
                    await self._remind(cohort, int(step.removeprefix("reminder-")))

    def _names(self, person: _Person) -> list[str]:
        """The documents the person acknowledges, in the version's order (do not change it)."""
        names = self._names_of.get(person.acknowledges)
        if names is None:
            acknowledges = None if person.acknowledges is None else list(person.acknowledges)
            names = self._names_of[person.acknowledges] = self._input.signed.names_for(acknowledges)
        return names

    def _questions(self, person: _Person | None) -> dict[str, list[Question]]:
        """The questions of the person's documents, by document name (none: {})."""
        if person is None:
            return {}
        asked = self._input.signed.questions
        return {name: asked[name] for name in self._names(person) if asked.get(name)}

    def _own_documents(self) -> bool:
        # a version signed before the documents section: one shared list of every document,
        # as the emails always had; since then each person's email lists their own documents
        return self._input.signed.audiences is not None

    def _shared_documents(self) -> dict[str, list[str]]:
        return {} if self._own_documents() else {"documents": sorted(self._input.signed.documents)}

    def _outstanding(self, emails: list[str]) -> list[_Person]:
        records = (self._records[email] for email in emails)
        return [r for r in records if r.acknowledged_at is None and r.left_at is None]

    def _common(self) -> dict[str, str | int | list[str]]:
        data = self._input
        return {
            "organisation": data.organisation,
            "lead_name": data.lead.name,
            "version": data.signed.version,
            "deadline": _when(data.deadline),
        }

    async def _send(
        self, template: str, recipients: list[CampaignMailRecipient], **extra: str | int | list[str]
    ) -> dict[str, datetime]:
        """Send one step's emails; returns the keys sent (now or by an earlier attempt).

        The register dates them by the workflow's clock when the step completes, the same
        clock as the acknowledgements and the ladder.
        """
        data = self._input
        if not recipients:
            return {}
        context = {**self._common(), **extra}
        result = await workflow.execute_activity_method(
            CampaignActivities.send_campaign_mail,
            CampaignMailInput(
                batch_id=batch_id_for(data.cycle_id, data.batch),
                template=template,
                context=context,
                recipients=recipients,
                version_hash=data.signed.version_hash,
            ),
            start_to_close_timeout=MAIL_TIMEOUT,
            heartbeat_timeout=MAIL_HEARTBEAT,
            retry_policy=CAMPAIGN_MAIL_RETRY,
        )
        return result.sent_at

    def _person_mail(self, record: _Person, step: str) -> CampaignMailRecipient:
        data = self._input
        person = record.key
        membership = self._memberships.get(person, 1)
        # a returning leaver's emails are new emails: the first membership's keys are used up
        who = person if membership == 1 else f"{person}/membership-{membership}"
        context: dict[str, str | int | list[str]] = {"person_name": record.name}
        if self._own_documents():
            context["documents"] = [_document_line(data.signed, name) for name in self._names(record)]
        return CampaignMailRecipient(
            key=f"{data.cycle_id}/ack/{who}/{step}",
            to=record.email,
            context=context,
            link_for=record.email,
            link_sequence=self._next_link(person),
        )

    def _next_link(self, person: str) -> int:
        """The sequence the person's next link gets: one above the newest recorded, 0 for the first
        (always 0 in a batch that sent links before links were numbered)."""
        if not workflow.patched(LINK_SEQUENCE):
            return 0
        newest = self._newest_links.get(person)
        return 0 if newest is None else newest + 1

    def _record_link(self, person: str, recipient: CampaignMailRecipient) -> None:
        """The email to ``person`` (casefolded, the key of their ``_Person``) is sent: from now on
        only its link (or a later one) works."""
        if recipient.link_for is None:
            return
        self._newest_links[person] = max(self._newest_links.get(person, 0), recipient.link_sequence)
        self._revision += 1

    async def _invite(self, emails: list[str]) -> None:
        data = self._input
        cohort = _Cohort(number=len(self._cohorts), invited_at=workflow.now(), people=emails)
        self._cohorts.append(cohort)
        recipients = [self._person_mail(self._records[e], "invitation") for e in emails]
        mails = {recipient.key: (e, recipient) for e, recipient in zip(emails, recipients, strict=True)}
        sent = await self._send(
            "staff_invitation", recipients, signer_name=data.signer_name, **self._shared_documents()
        )
        now = workflow.now()
        for key in sent:
            email, recipient = mails[key]
            self._records[email].invited_at = now
            self._record_link(email, recipient)

    async def _remind(self, cohort: _Cohort, number: int) -> None:
        outstanding = self._outstanding(cohort.people)
        step = f"reminder-{number}"
        recipients = [self._person_mail(r, step) for r in outstanding]
        mails = {recipient.key: (r, recipient) for r, recipient in zip(outstanding, recipients, strict=True)}
        sent = await self._send(
            "staff_reminder", recipients, reminder_number=number, **self._shared_documents()
        )
        now = workflow.now()
        for key in sent:
            record, recipient = mails[key]
            record.reminded_at = (*record.reminded_at, now)
            self._record_link(record.key, recipient)

    async def _digest(self, cohort: _Cohort) -> None:
        data = self._input
        teams: dict[str, list[_Person]] = {}
        for record in self._outstanding(cohort.people):
            if record.manager_email:
                teams.setdefault(_key(record.manager_email), []).append(record)
        # a manager whose team spans batches gets one digest from each: each needs a key (and a
        # Message-ID) of its own; batches that ran digests before this keep their keys on replay
        where = f"batch-{data.batch}/" if teams and workflow.patched(DIGEST_KEY_PER_BATCH) else ""
        by_key = {
            f"{data.cycle_id}/ack/digest/{manager}/{where}cohort-{cohort.number}": team
            for manager, team in teams.items()
        }
        recipients = [
            CampaignMailRecipient(
                key=key,
                to=team[0].manager_email or "",
                context={
                    "manager_name": team[0].manager_name or team[0].manager_email or "",
                    "people": [f"{r.name} <{r.email}> ({r.department})" for r in team],
                    "outstanding_count": len(team),
                },
            )
            for key, team in sorted(by_key.items())
        ]
        sent = await self._send("manager_digest", recipients)
        now = workflow.now()
        for key in sent:
            for record in by_key[key]:
                record.escalated_at = now

    async def _apply(self, change: BatchChange) -> None:
        now = workflow.now()
        self._revision += 1
        for email in change.leavers:
            record = self._records.get(_key(email))
            if record is not None and record.left_at is None:
                record.left_at = now
        joiners = []
        for person in change.joiners:
            key = _key(person.email)
            existing = self._records.get(key)
            if existing is not None and existing.left_at is None:
                continue
            if existing is not None and workflow.patched(RETURNING_LEAVER_OWN_MEMBERSHIP):
                # a leaver who comes back starts a membership of their own: new keys (so the
                # invitation and reminders really go out) and only the new cohort's ladder
                self._memberships[key] = self._memberships.get(key, 1) + 1
                for cohort in self._cohorts:
                    if key in cohort.people:
                        cohort.people.remove(key)
            manager = self._records.get(_key(person.manager_email)) if person.manager_email else None
            self._records[key] = self._person(
                person, manager_name=person.manager_name or (manager.name if manager else None), joined=True
            )
            joiners.append(key)
        if joiners:
            await self._invite(joiners)

    # -------------------------------------------------------------------- the figures

    def _tally(self) -> tuple[Tally, dict[str, Tally]]:
        overall, departments = Tally(), dict[str, Tally]()
        for record in self._records.values():
            if record.left_at is not None:
                continue
            one = Tally(total=1)
            if record.acknowledged_at is not None:
                one.acknowledged = 1
            else:
                one.outstanding = 1
                one.overdue = int(self._closed or record.escalated_at is not None)
            overall.add(one)
            departments.setdefault(record.department, Tally()).add(one)
        return overall, departments

    def _document_tally(self) -> dict[str, Tally]:
        """Per document: the people in its audience (leavers excluded) and where each one stands."""
        documents = {name: Tally() for name in self._input.signed.acknowledged_names()}
        for record in self._records.values():
            if record.left_at is not None:
                continue
            acknowledged = record.acknowledged_at is not None
            overdue = not acknowledged and (self._closed or record.escalated_at is not None)
            for name in self._names(record):
                documents[name].add(
                    Tally(
                        total=1,
                        acknowledged=int(acknowledged),
                        outstanding=int(not acknowledged),
                        overdue=int(overdue),
                    )
                )
        return documents

    @workflow.query(name=Query.PROGRESS)
    def progress(self) -> BatchProgress:
        data = self._input
        tally, departments = self._tally()
        return BatchProgress(
            batch=data.batch,
            invited=sum(1 for r in self._records.values() if r.invited_at is not None),
            left=sum(1 for r in self._records.values() if r.left_at is not None),
            closed=self._closed,
            tally=tally,
            by_department=departments,
            by_document=self._document_tally(),
        )

    @workflow.query(name=Query.PAGE)
    def page(self, email: str) -> AckPage | None:
        """What a person's acknowledgement page shows, or None before the batch has started.

        Made from the batch's view by the same function as the web app's copy of it
        (``models.ack_group.ack_page``); the person is their whole register line here.
        """
        if not self._loaded:
            return None
        record = self._records.get(_key(email))
        page = ack_page(self._view([_key(email)]), email)
        return page.model_copy(update={"person": self._line(record) if record is not None else None})

    @workflow.query(name=Query.BATCH_VIEW)
    def batch_view(self) -> BatchView | None:
        """What every page of the batch shows, for everyone in it; None before it has started."""
        return self._view(list(self._records)) if self._loaded else None

    def _view(self, people: list[str]) -> BatchView:
        data = self._input
        return BatchView(
            organisation=data.organisation,
            lead_name=data.lead.name,
            signed=data.signed,
            deadline=data.deadline,
            closed=self._closed,
            revision=self._revision,
            people={
                key: self._view_person(self._records[key], self._newest_links.get(key, 0))
                for key in people
                if key in self._records
            },
        )

    def _view_person(self, person: _Person, newest_link: int) -> ViewPerson:
        """What ``ViewPerson.of`` makes of the person's register line, without making the line."""
        return ViewPerson(
            email=person.email,
            name=person.name,
            acknowledges=None if person.acknowledges is None else list(person.acknowledges),
            acknowledged_at=person.acknowledged_at,
            left_at=person.left_at,
            ip=person.ip,
            user_agent=person.user_agent,
            version_hash=person.version_hash,
            documents=self._documents(person),
            newest_link=newest_link,
        )

    # ------------------------------------------------------------ updates and signals

    @workflow.update(name=Update.ACKNOWLEDGE)
    def acknowledge(self, ack: Acknowledgement) -> AckReceipt:
        """Record "I have read and accept" once; a repeat returns the first record."""
        return self._record_acknowledgement(ack)

    @acknowledge.validator
    def _validate_acknowledgement(self, ack: Acknowledgement) -> None:
        refused = self._acknowledgement_refusal(ack)
        if refused is not None:
            raise refused

    @workflow.update(name=Update.ACKNOWLEDGE_GROUP)
    def acknowledge_group(self, group: AckGroup) -> AckGroupReceipt:
        """Several people's acknowledgements at once (group commit by the web app): each one
        is recorded, or refused as the ``acknowledge`` update would refuse it (nothing recorded
        for that one, and why), and answered in the group's order."""
        outcomes: list[AckOutcome] = []
        for ack in group.acks:
            refused = self._acknowledgement_refusal(ack)
            if refused is None:
                outcomes.append(AckOutcome(receipt=self._record_acknowledgement(ack)))
                continue
            kind = refusal_of(refused.type)
            assert kind is not None  # every refusal of an acknowledgement is typed
            record = self._records.get(_key(ack.person))
            earlier = (
                self._receipt(record, already=True)
                if kind is Refusal.ALREADY_ACKNOWLEDGED and record is not None
                else None
            )
            details = [
                str(line)
                for detail in refused.details
                for line in (detail if isinstance(detail, list) else [detail])
            ]
            outcomes.append(
                AckOutcome(
                    refused=AckRefusal(kind=kind, message=refused.message, details=details), earlier=earlier
                )
            )
        return AckGroupReceipt(outcomes=outcomes)

    @acknowledge_group.validator
    def _validate_group(self, group: AckGroup) -> None:
        # the whole group is refused only for what concerns the whole batch, or a malformed group;
        # anything about one person is that person's outcome
        if not self._loaded:
            raise refusal(Refusal.NOT_STARTED)
        if self._closed or workflow.now() >= self._input.deadline:
            raise refusal(Refusal.CLOSED)
        people = [_key(ack.person) for ack in group.acks]
        if not people or len(people) > ACK_GROUP_MAX or len(set(people)) != len(people):
            raise refusal(Refusal.ACK_GROUP_MALFORMED, Message.ACK_GROUP_MALFORMED.format(most=ACK_GROUP_MAX))

    def _record_acknowledgement(self, ack: Acknowledgement) -> AckReceipt:
        """Record ``ack`` (already checked) unless the person's acknowledgement is recorded."""
        signed = self._input.signed
        record = self._records[_key(ack.person)]
        already = record.acknowledged_at is not None
        if not already:
            self._revision += 1
            record.acknowledged_at = workflow.now()
            record.ip, record.user_agent = self._share(ack.ip), self._share(ack.user_agent)
            record.version_hash = self._share(ack.version_hash)
            if self._questions(record):  # the validator let through only right answers
                record.answers = dict(ack.answers)
                record.first_answers = dict(ack.first_answers) or None
                record.attempts = max(ack.attempts, 1)
            # the validator let through only this person's documents, as shown (or none shown):
            # kept only when they are not the version's, in its order (they are, once validated)
            own = [(name, signed.documents[name]) for name in self._names(record)]
            if ack.documents and list(ack.documents.items()) != own:
                record.shown = dict(ack.documents)
        return self._receipt(record, already=already)

    def _receipt(self, record: _Person, *, already: bool) -> AckReceipt:
        data = self._input
        signed = data.signed
        assert record.acknowledged_at is not None and record.version_hash is not None
        documents = self._documents(record)
        return AckReceipt(
            organisation=data.organisation,
            lead_name=data.lead.name,
            person=record.email,
            name=record.name,
            acknowledged_at=record.acknowledged_at,
            version=data.signed.version,
            version_hash=record.version_hash,
            documents=documents,
            ip=record.ip,
            user_agent=record.user_agent,
            already=already,
            titles={name: signed.titles[name] for name in documents if name in signed.titles},
            versions={name: signed.versions[name] for name in documents if name in signed.versions},
            statement=signed.statement_for(list(documents)),
        )

    def _acknowledgement_refusal(self, ack: Acknowledgement) -> ApplicationError | None:
        """Why ``ack`` cannot be recorded (the refusal to raise, or to answer in a group), or
        None when it can."""
        data = self._input
        if not self._loaded:
            return refusal(Refusal.NOT_STARTED)
        if self._closed or workflow.now() >= data.deadline:
            return refusal(Refusal.CLOSED)
        signed = data.signed
        if ack.version_hash != signed.version_hash or any(
            name in signed.documents and digest != signed.documents[name]
            for name, digest in ack.documents.items()
        ):  # the page showed other bytes than this version's
            return refusal(Refusal.SUPERSEDED, Message.SUPERSEDED_ACKNOWLEDGEMENT)
        record = self._records.get(_key(ack.person))
        if record is None:
            return refusal(Refusal.NOT_IN_CAMPAIGN)
        if record.left_at is not None:
            return refusal(Refusal.LEFT)
        # only the newest link sent to the person works: one from an earlier email (the invitation
        # once a reminder has gone) is refused; a link whose email is still being sent has a
        # sequence above the newest recorded, so it works at once
        if ack.link_sequence < self._newest_links.get(_key(ack.person), 0):
            return refusal(Refusal.OLD_LINK)
        if record.acknowledged_at is not None:
            return refusal(Refusal.ALREADY_ACKNOWLEDGED)
        expected = self._names(record)
        if ack.documents and set(ack.documents) != set(expected):
            # exactly this person's documents, no fewer and no more (none shown: theirs are recorded)
            return refusal(
                Refusal.WRONG_DOCUMENTS,
                Message.WRONG_DOCUMENTS.format(count=len(expected)),
                sorted(expected),
            )
        wrong = wrong_answers(self._questions(record), ack.answers)
        if wrong:
            # nothing is recorded until every question of the person's documents is answered right
            # details: one list, each question as "<document name>#<number>"
            return refusal(
                Refusal.WRONG_ANSWERS, f"not recorded: {len(wrong)} answer(s) missing or wrong", wrong
            )
        return None

    @workflow.signal(name=Signal.STAFF_CHANGED)
    def staff_changed(self, change: BatchChange) -> None:
        """Joiners to invite and leavers to exclude (sent by the campaign)."""
        self._changes.append(change)


@workflow.defn(name=WorkflowType.CAMPAIGN)
class AcknowledgementCampaignWorkflow:
    """The whole campaign: batches, the summary to the lead and the CEO, joiners and leavers, close.

    It runs as a chain of runs, each continuing as new before its history grows long: the
    first freezes the directory (the list of batches stays in S3), each run starts at most
    ``batch_wave`` batches (abandoned children, so they outlive the run that started them),
    and a run that has been waiting long enough (staff changes add to its history) hands on
    to the next. Each run carries only ``CampaignCarry``; at the deadline the close reads the
    records every batch stored under its number. A campaign started before this
    (``CAMPAIGN_RUNS``) starts every batch at once and closes from their results.
    """

    @workflow.init
    def __init__(self, data: CampaignInput) -> None:
        self._input = data
        self._state = CampaignState(cycle_id="", stage=CampaignStage.DISPATCHING)
        self._frozen: FrozenDirectory | None = None
        self._joined: dict[str, int] = {}
        self._left: list[str] = []
        self._no_document_joiners: set[str] = set()  # joiners in scope no document is for
        self._changing = False
        self._carry = data.carried
        if data.carried is not None:  # a run continued from another: the state query answers at once
            carry = data.carried
            self._frozen = carry.frozen
            self._joined = dict(carry.joined)
            self._left = list(carry.left)
            self._no_document_joiners = set(carry.no_document_joiners)
            self._state = self._new_state(carry.started_at, carry.deadline)
            self._state.stage = (
                CampaignStage.DISPATCHING if carry.next_batch <= carry.frozen.count else CampaignStage.RUNNING
            )
            self._state.batches = carry.frozen.count
            self._state.no_documents = carry.frozen.no_documents + len(self._no_document_joiners)
            self._state.runs = carry.runs

    def _new_state(self, started: datetime, deadline: datetime) -> CampaignState:
        data = self._input
        return CampaignState(
            cycle_id=data.cycle_id,
            stage=CampaignStage.DISPATCHING,
            started_at=started,
            deadline=deadline,
            version=data.signed.version,
            version_hash=data.signed.version_hash,
            documents=data.signed.campaign_documents(),
        )

    @workflow.run
    async def run(self, data: CampaignInput) -> CampaignResult:
        if workflow.patched(CAMPAIGN_RUNS):
            return await self._run_in_waves(data)
        return await self._run_all_at_once(data)

    async def _run_all_at_once(self, data: CampaignInput) -> CampaignResult:
        """A campaign started before CAMPAIGN_RUNS: one run, every batch a child awaited at the close."""
        started = workflow.now()
        deadline = started + data.schedule.close_after
        self._state = self._new_state(started, deadline)
        frozen = await self._freeze(started, by_reference=False)
        self._frozen = frozen
        self._state.batches = len(frozen.batches)
        self._state.no_documents = frozen.no_documents
        children = await asyncio.gather(
            *(
                workflow.start_child_workflow(
                    AcknowledgementBatchWorkflow.run,
                    self._batch_input(number, people, started, deadline),
                    id=batch_id_for(data.cycle_id, number),
                )
                for number, people in enumerate(frozen.batches, start=1)
            )
        )
        self._state.stage = CampaignStage.RUNNING

        if data.schedule.summary_after < data.schedule.close_after:
            await workflow.sleep(max(started + data.schedule.summary_after - workflow.now(), timedelta(0)))
            await self._summary(deadline)
        await workflow.sleep(max(deadline - workflow.now(), timedelta(0)))
        self._state.stage = CampaignStage.CLOSING  # no staff change is taken from here on
        await workflow.wait_condition(lambda: not self._changing)
        results: list[BatchResult] = list(await asyncio.gather(*children))
        return await self._close(
            started,
            workflow.now(),
            batches=[r.records for r in sorted(results, key=lambda r: r.batch)],
            batch_count=0,
        )

    async def _freeze(self, started: datetime, *, by_reference: bool) -> FrozenDirectory:
        """The directory as of the campaign's start, packed in batches (in the result, or, with
        ``by_reference``, as a list stored in S3 that the waves read)."""
        data = self._input
        return await workflow.execute_activity_method(
            CampaignActivities.freeze_directory,
            FreezeInput(
                cycle_id=data.cycle_id,
                staff=data.staff,
                as_of=started.date(),
                batch_size=data.batch_size,
                audiences=data.signed.audiences,
                by_reference=by_reference,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=FREEZE_RETRY,
        )

    def _batch_input(
        self, number: int, people: StoredObject, started: datetime, deadline: datetime
    ) -> BatchInput:
        data = self._input
        return BatchInput(
            cycle_id=data.cycle_id,
            batch=number,
            organisation=data.organisation,
            signed=data.signed,
            signer_name=data.signer.name,
            people=people,
            lead=data.lead,
            schedule=data.schedule,
            started_at=started,
            deadline=deadline,
        )

    async def _run_in_waves(self, data: CampaignInput) -> CampaignResult:
        """One run of the campaign: the freeze (first run), a wave of batches, the wait, the close.

        Continues as new after each wave while batches remain to start, and while waiting once
        the run's history reaches ``data.run_events`` (or the server suggests it); from the
        deadline on it does not, and closes.
        """
        carry = self._carry
        if carry is None:  # the first run
            started = workflow.now()
            deadline = started + data.schedule.close_after
            self._state = self._new_state(started, deadline)
            frozen = await self._freeze(started, by_reference=True)
            carry = self._carry = CampaignCarry(started_at=started, deadline=deadline, frozen=frozen)
            self._frozen = frozen
            self._state.batches = frozen.count
            self._state.no_documents = frozen.no_documents
        started, deadline, total = carry.started_at, carry.deadline, carry.frozen.count
        if carry.next_batch <= total:
            await self._start_wave(carry)
            if carry.next_batch <= total or self._run_is_long():
                await self._continue_as_new(carry)
        self._state.stage = CampaignStage.RUNNING

        summary_at = (
            started + data.schedule.summary_after
            if data.schedule.summary_after < data.schedule.close_after
            else None
        )
        while workflow.now() < deadline:
            if summary_at is not None and not carry.summary_sent and workflow.now() >= summary_at:
                await self._summary(deadline)
                carry.summary_sent = True
                continue
            wake = deadline if summary_at is None or carry.summary_sent else min(summary_at, deadline)
            with contextlib.suppress(TimeoutError):  # the summary or the close is due
                await workflow.wait_condition(self._run_is_long, timeout=wake - workflow.now())
            if self._run_is_long() and workflow.now() < deadline:
                await self._continue_as_new(carry)
        self._state.stage = CampaignStage.CLOSING  # no staff change is taken from here on
        closed_at = workflow.now()
        await workflow.wait_condition(lambda: not self._changing)
        # the batches close at the same deadline, each on its own timer: give them time to
        # store their records before the close looks for them (it waits for any still missing)
        await workflow.sleep(CLOSE_GRACE)
        return await self._close(started, closed_at, batches=[], batch_count=total)

    async def _start_wave(self, carry: CampaignCarry) -> None:
        """Start the next ``batch_wave`` batches as children the campaign's later runs leave running."""
        data, frozen = self._input, carry.frozen
        assert frozen.batch_list is not None
        first = carry.next_batch
        count = min(data.batch_wave, frozen.count - first + 1)
        people = await workflow.execute_activity_method(
            CampaignActivities.list_batches,
            BatchWaveInput(batch_list=frozen.batch_list, first=first, count=count),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=LIST_BATCHES_RETRY,
        )
        await asyncio.gather(
            *(
                workflow.start_child_workflow(
                    AcknowledgementBatchWorkflow.run,
                    self._batch_input(number, batch, carry.started_at, carry.deadline),
                    id=batch_id_for(data.cycle_id, number),
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
                for number, batch in enumerate(people, start=first)
            )
        )
        carry.next_batch = first + count

    def _run_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() >= self._input.run_events
        )

    async def _continue_as_new(self, carry: CampaignCarry) -> None:
        """Hand the campaign to a new run once no staff change is in progress here."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        following = carry.model_copy(
            update={
                "joined": dict(self._joined),
                "left": list(self._left),
                "no_document_joiners": sorted(self._no_document_joiners),
                "runs": carry.runs + 1,
            }
        )
        workflow.continue_as_new(self._input.model_copy(update={"carried": following}))

    async def _close(
        self, started: datetime, closed_at: datetime, *, batches: list[StoredObject], batch_count: int
    ) -> CampaignResult:
        """The register and the report, the closing email to the lead and the CEO."""
        data = self._input
        result = await workflow.execute_activity_method(
            CampaignActivities.close_campaign,
            CloseInput(
                cycle_id=data.cycle_id,
                organisation=data.organisation,
                signed=data.signed,
                cycle_started_at=data.cycle_started_at,
                signed_at=data.signed_at,
                campaign_started_at=started,
                closed_at=closed_at,
                batches=batches,
                no_documents=self._state.no_documents,
                batch_count=batch_count,
            ),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=5),
            retry_policy=CLOSE_RETRY,
        )
        await self._mail(
            "closed",
            "campaign_closed",
            {
                "acknowledged": result.tally.acknowledged,
                "total": result.tally.total,
                "rate": _percent(result.tally),
                "target": f"{RATE_TARGET:.0%}",
                "outcome": "target met" if result.target_met else "target NOT met",
                "non_responders": result.tally.outstanding,
                "cycle_id": data.cycle_id,
                "register_key": f"s3://{result.register_csv.bucket}/{result.register_csv.key}",
                "report_key": f"s3://{result.report.bucket}/{result.report.key}",
            },
        )
        self._state.result = result
        self._state.stage = CampaignStage.CLOSED
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _summary(self, deadline: datetime) -> None:
        data = self._input
        figures = await workflow.execute_activity_method(
            CampaignActivities.campaign_figures,
            data.cycle_id,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=FIGURES_RETRY,
        )
        await self._mail(
            "summary",
            "campaign_summary",
            {
                "acknowledged": figures.tally.acknowledged,
                "total": figures.tally.total,
                "rate": _percent(figures.tally),
                "departments": [
                    f"{name}: {t.acknowledged} of {t.total} ({_percent(t)})"
                    for name, t in figures.by_department.items()
                ],
                "deadline": _when(deadline),
                "cycle_id": data.cycle_id,
            },
        )

    async def _mail(self, purpose: str, template: str, context: dict[str, str | int | list[str]]) -> None:
        data = self._input
        await workflow.execute_activity_method(
            MailActivities.send_email,
            SendEmailInput(
                key=f"{data.cycle_id}/ack/{purpose}",
                template=template,
                to=[data.lead.email, data.signer.email],
                context={"organisation": data.organisation, "version": data.signed.version, **context},
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=MAIL_RETRY,
        )

    @workflow.query(name=Query.STATE)
    def state(self) -> CampaignState:
        return self._state

    @async_update(Update.CHANGE_STAFF)
    async def change_staff(self, change: StaffChange) -> StaffChangeReceipt:
        """Joiners are invited by their manager's batch; leavers drop out of the figures.

        Each batch concerned gets its part as a ``staff_changed`` signal. Signals to several
        workflows are not one transaction: they go out together, and the campaign records a
        batch's part (who joined it, who left it) only once that batch's signal is delivered.
        If one is not (that batch has ended, say), the parts delivered stay recorded and the
        update is refused as ``STAFF_CHANGE_PARTLY_APPLIED``, naming what took and what did
        not; the same change sent again applies only what is missing, since the planner counts
        everyone recorded as already in (or already gone).
        """
        data, frozen = self._input, self._frozen
        assert frozen is not None
        await workflow.wait_condition(lambda: not self._changing)  # one change at a time
        self._changing = True
        try:
            plan = await workflow.execute_activity_method(
                CampaignActivities.plan_staff_change,
                PlanChangeInput(
                    cycle_id=data.cycle_id,
                    index=frozen.index,
                    change=change,
                    joined=dict(self._joined),
                    left=list(self._left),
                    as_of=workflow.now().date(),
                    audiences=data.signed.audiences,
                ),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=PLAN_CHANGE_RETRY,
            )
            if plan.problems:
                raise refusal(
                    Refusal.STAFF_CHANGE_REFUSED,
                    Message.STAFF_CHANGE_REFUSED.format(count=len(plan.problems)),
                    plan.problems,
                )
            if self._state.deadline is not None and workflow.now() >= self._state.deadline:
                raise refusal(Refusal.CAMPAIGN_CLOSED, Message.CAMPAIGN_CLOSED_MEANWHILE)
            self._no_document_joiners |= {_key(email) for email in plan.no_documents}
            self._state.no_documents = (self._frozen.no_documents if self._frozen else 0) + len(
                self._no_document_joiners
            )
            batches = sorted(set(plan.joiners) | set(plan.leavers))
            delivered = await asyncio.gather(
                *(self._send_change(batch, plan) for batch in batches), return_exceptions=True
            )
            missed: list[str] = []
            for batch, outcome in zip(batches, delivered, strict=True):
                if isinstance(outcome, BaseException):
                    missed.append(f"batch {batch}: not delivered ({outcome}); nothing changed there")
                else:
                    self._record_change(batch, plan)
            if missed:
                taken = [
                    f"batch {batch}: {self._describe_part(batch, plan)}"
                    for batch, outcome in zip(batches, delivered, strict=True)
                    if not isinstance(outcome, BaseException)
                ]
                raise refusal(
                    Refusal.STAFF_CHANGE_PARTLY_APPLIED,
                    Message.STAFF_CHANGE_PARTLY_APPLIED.format(applied=len(taken), total=len(batches)),
                    [*taken, *missed],
                )
        finally:
            self._changing = False
        return StaffChangeReceipt(
            added=[p.email for people in plan.joiners.values() for p in people],
            removed=[email for emails in plan.leavers.values() for email in emails],
            already_in=plan.already_in,
            unknown=plan.unknown,
            no_documents=plan.no_documents,
        )

    async def _send_change(self, batch: int, plan: PlannedChange) -> None:
        handle = workflow.get_external_workflow_handle(batch_id_for(self._input.cycle_id, batch))
        await handle.signal(
            AcknowledgementBatchWorkflow.staff_changed,
            BatchChange(joiners=plan.joiners.get(batch, []), leavers=plan.leavers.get(batch, [])),
        )

    def _record_change(self, batch: int, plan: PlannedChange) -> None:
        """The campaign's record of who joined and who left: only what a batch has received."""
        for person in plan.joiners.get(batch, []):
            self._joined[_key(person.email)] = batch
            if _key(person.email) in self._left:
                self._left.remove(_key(person.email))
        self._left += [_key(email) for email in plan.leavers.get(batch, [])]

    @staticmethod
    def _describe_part(batch: int, plan: PlannedChange) -> str:
        joined = [person.email for person in plan.joiners.get(batch, [])]
        left = plan.leavers.get(batch, [])
        return f"{len(joined)} joiner(s) invited, {len(left)} leaver(s) removed"

    @change_staff.validator
    def _validate_change(self, change: StaffChange) -> None:
        if self._state.stage is CampaignStage.DISPATCHING:
            raise refusal(Refusal.CAMPAIGN_STARTING)
        if self._state.stage is not CampaignStage.RUNNING or (
            self._state.deadline is not None and workflow.now() >= self._state.deadline
        ):
            raise refusal(Refusal.CAMPAIGN_CLOSED)
        if self._changing:
            raise refusal(Refusal.CHANGE_IN_PROGRESS)
        if change.add is None and not change.remove:
            raise refusal(Refusal.NOTHING_TO_CHANGE)
