"""Stand-in activities for the logic tier, registered under the real activity names.

The real workflows run on the time-skipping server; every activity they call is answered
here, in memory, from what the test set up (a profile's Clause 5 result, a staff directory).
Each stand-in records what the workflow asked for and when, by the workflow clock: an
activity's scheduled time is the server's (skipped) time at which the workflow asked.

Objects the workflows carry (``StoredObject``) are references to this module's memory: a
profile's key names its check result, a directory's key names its people.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.campaign import RECORDS_PENDING
from core.batches import documents_for, in_scope, with_documents
from core.contract import Failure
from core.register import tally_documents
from models.archive import ArchivedObject, ArchiveInput, ArchiveResult
from models.campaign import (
    BatchProgress,
    BatchWaveInput,
    CampaignMailInput,
    CampaignMailResult,
    CampaignProgress,
    CampaignResult,
    CampaignState,
    CloseInput,
    FreezeInput,
    FrozenDirectory,
    PersonRecord,
    PlanChangeInput,
    PlannedChange,
    Recipient,
    StoreRecordsInput,
    Tally,
    batch_id_for,
    campaign_id_for,
)
from models.documents import (
    CheckDocumentsInput,
    CheckDocumentsResult,
    DraftDocument,
    RenderDocumentsInput,
    RenderDocumentsResult,
)
from models.findings import Finding, Severity
from models.mail import LinkRequest, SendEmailInput, SendEmailResult
from models.profile import DocumentEntry, DocumentKind
from models.role_acceptance import (
    RoleAcceptanceResult,
    RoleHolder,
    RolePlanInput,
    RoleRecord,
    RoleRegisterInput,
    RoleTally,
)
from models.routing import CycleRouting
from models.signing import SignDocumentsInput, SignDocumentsResult, SignedDocument
from models.staff import Person
from models.storage import StoredObject
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow

# every activity name the workflows in workflows/ call (activities/*.py define them)
ACTIVITY_NAMES = (
    "check_documents",
    "render_documents",
    "send_email",
    "sign_documents",
    "archive_objects",
    "freeze_directory",
    "list_batches",
    "load_batch",
    "plan_staff_change",
    "send_campaign_mail",
    "store_batch_records",
    "close_campaign",
    "campaign_figures",
    "plan_role_acceptance",
    "close_role_acceptance",
)
DOCUMENTS = ("information-security-policy.docx", "isms-roles-and-responsibilities.docx")
BUCKET = "logic-tier"
T = TypeVar("T")


def _sha(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def stored(key: str, *, content_type: str = "application/octet-stream", seed: str = "") -> StoredObject:
    """A reference to an object that exists only in the stand-ins' memory."""
    return StoredObject(
        bucket=BUCKET, key=key, sha256=_sha(key, seed), size=len(key) + 100, content_type=content_type
    )


def _key(email: str) -> str:
    return email.strip().casefold()


@dataclass(frozen=True)
class Call:
    """One activity call: its name, its input, and the workflow time it was asked for."""

    name: str
    data: Any
    at: datetime


@dataclass(frozen=True)
class Mail:
    """One email the workflows asked for (a ``send_email`` call, or one campaign recipient)."""

    key: str
    template: str
    to: list[str]
    context: dict[str, Any]
    at: datetime
    link: LinkRequest | None = None  # send_email: the personal link to mint
    link_for: str | None = None  # send_campaign_mail: the person whose staff link to mint
    batch_id: str | None = None
    version_hash: str | None = None


@dataclass
class Gate:
    """Holds one activity until released, so a test can look at the workflow meanwhile."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ProfileFacts:
    result: CheckDocumentsResult
    change_lines: list[str]
    # the profile's documents section (None: the two documents of DOCUMENTS, on built-in templates)
    documents: list[DocumentEntry] | None = None


def _draft_name(name: str, suffix: str) -> str:
    return f"{name.rsplit('.', 1)[0]}{suffix}"


class StandIns:
    """The activities of the product, answered from memory and recorded."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls: list[Call] = []
        self.mail: list[Mail] = []
        self.refuse_archive: dict[str, str] = {}  # stage -> the refusal's message
        self.refuse_recipients: set[str] = set()  # campaign recipients the "server" refuses
        self._profiles: dict[str, ProfileFacts] = {}
        self._memory: dict[str, Any] = {}
        self._gates: dict[str, Gate] = {}
        # (batch id, key) -> first sent: the real activity's markers live under the batch's prefix
        self._sent: dict[tuple[str, str], datetime] = {}
        self._changed = asyncio.Condition()
        self._role_holders: dict[str, list[RoleHolder]] = {}  # profile key -> who accepts which role
        self.unreadable_role_plan = False  # plan_role_acceptance fails as the real one on a bad input

    # ------------------------------------------------------------------ setting up

    def profile(
        self,
        routing: CycleRouting,
        *,
        findings: list[Finding] | None = None,
        change_lines: list[str] | None = None,
        documents: list[DocumentEntry] | None = None,
    ) -> StoredObject:
        """A stored profile whose check returns ``routing`` (blocking when ``findings`` hold an error).

        ``documents`` is its documents section: the render makes one draft of each (a static PDF
        without a .docx), and the check fails (UnreadableInput, naming each) when a file it
        names is not in the ``document_files`` the workflow passed, as the real check does.
        """
        findings = findings or []
        key = f"profiles/{routing.version}-{len(self._profiles)}.yaml"
        blocking = any(f.severity is Severity.ERROR for f in findings)
        result = CheckDocumentsResult(
            organisation=routing.organisation,
            version=routing.version,
            findings=findings,
            blocking=blocking,
            routing=routing,
        )
        self._profiles[key] = ProfileFacts(
            result=result, change_lines=change_lines or [], documents=documents
        )
        return stored(key, content_type="application/yaml")

    def directory(
        self, people: list[Recipient] | list[Person], *, problems: list[str] | None = None
    ) -> StoredObject:
        """A stored staff directory (or joiners file) holding ``people``.

        Recipients are taken as they are (everyone in scope, each with their documents set);
        people of the HR export (``Person``) go through the campaign's own rules: who is in
        scope on the day, and which documents each one's audiences give them.
        """
        key = f"staff/{len(self._memory)}.csv"
        self._memory[key] = (list(people), list(problems or []))
        return stored(key, content_type="text/csv", seed=",".join(p.email for p in people))

    def role_holders(self, profile: StoredObject, holders: list[RoleHolder]) -> None:
        """Who ``plan_role_acceptance`` finds in ``profile`` (none set: no one)."""
        self._role_holders[profile.key] = list(holders)

    def role_records(self, ref: StoredObject) -> list[RoleRecord]:
        """The records a closed role register was written from."""
        records: list[RoleRecord] = self._memory[ref.key]
        return records

    def document_file(self, name: str, *, seed: str = "") -> StoredObject:
        """A stored template or static file (``name`` is its file name, e.g. ``aup.pdf``)."""
        kind = "application/pdf" if name.endswith(".pdf") else "application/octet-stream"
        return stored(f"inputs/{name}", content_type=kind, seed=seed)

    @asynccontextmanager
    async def holding(self, name: str) -> AsyncIterator[Gate]:
        """Hold activity ``name`` when it next starts; released on leaving the block."""
        gate = Gate()
        self._gates[name] = gate
        try:
            yield gate
        finally:
            gate.released.set()
            self._gates.pop(name, None)

    # ---------------------------------------------------------------- reading back

    def of(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]

    def mail_keys(self) -> list[str]:
        return [mail.key for mail in self.mail]

    def mails(self, where: Callable[[Mail], bool] = lambda _: True) -> list[Mail]:
        return [mail for mail in self.mail if where(mail)]

    def records(self, ref: StoredObject) -> list[PersonRecord]:
        records: list[PersonRecord] = self._memory[ref.key]
        return records

    async def wait(self, check: Callable[[], T | None], *, within: float = 15.0, what: str = "") -> T:
        """Wait (for the workflow to get there, not for time to pass) until ``check()`` is truthy."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(check), within)
            except TimeoutError:
                raise AssertionError(
                    f"gave up waiting for {what or check}; activities called: "
                    f"{[c.name for c in self.calls]}; mail keys: {self.mail_keys()}"
                ) from None
        found = check()
        assert found
        return found

    async def wait_mail(self, key: str, *, within: float = 15.0) -> Mail:
        def found() -> Mail | None:
            return next((mail for mail in self.mail if mail.key == key), None)

        return await self.wait(found, within=within, what=f"email {key}")

    async def wait_calls(self, name: str, count: int = 1, *, within: float = 15.0) -> list[Call]:
        def found() -> list[Call] | None:
            calls = self.of(name)
            return calls if len(calls) >= count else None

        return await self.wait(found, within=within, what=f"{count} call(s) of {name}")

    async def poke(self) -> None:
        """Wake waiters whose condition depends on something other than a call (a query)."""
        async with self._changed:
            self._changed.notify_all()

    # -------------------------------------------------------------------- internals

    async def _enter(self, name: str, data: Any) -> datetime:
        at = activity.info().current_attempt_scheduled_time
        async with self._changed:
            self.calls.append(Call(name=name, data=data, at=at))
            self._changed.notify_all()
        gate = self._gates.get(name)
        if gate is not None and not gate.entered.is_set():
            gate.entered.set()
            await gate.released.wait()
        return at

    async def _sent_mail(self, mails: list[Mail]) -> None:
        async with self._changed:
            self.mail += mails
            self._changed.notify_all()

    def activities(self) -> list[Callable[..., Any]]:
        found: list[Callable[..., Any]] = [
            self.check_documents,
            self.render_documents,
            self.send_email,
            self.sign_documents,
            self.archive_objects,
            self.freeze_directory,
            self.list_batches,
            self.load_batch,
            self.plan_staff_change,
            self.send_campaign_mail,
            self.store_batch_records,
            self.close_campaign,
            self.campaign_figures,
            self.plan_role_acceptance,
            self.close_role_acceptance,
        ]
        return found

    # -------------------------------------------------------------- the documents

    @activity.defn(name="check_documents")
    async def check_documents(self, data: CheckDocumentsInput) -> CheckDocumentsResult:
        await self._enter("check_documents", data)
        facts = self._profiles.get(data.profile.key)
        if facts is None:
            raise ApplicationError(f"no such profile {data.profile.key}", non_retryable=True)
        missing = [
            f"{entry.id}: the profile names {entry.source!r}, which was not uploaded with it"
            for entry in facts.documents or []
            if entry.source is not None and entry.id not in data.document_files
        ]
        if missing:  # as the real check: the inputs are incomplete, which retrying cannot fix
            raise ApplicationError(
                f"{len(missing)} document file(s) the profile names were not stored with the cycle",
                *missing,
                type=Failure.UNREADABLE_INPUT,
                non_retryable=True,
            )
        return facts.result

    @activity.defn(name="render_documents")
    async def render_documents(self, data: RenderDocumentsInput) -> RenderDocumentsResult:
        await self._enter("render_documents", data)
        facts = self._profiles[data.profile.key]
        version = facts.result.version
        folder = f"drafts/{data.cycle_id}/{data.profile.sha256[:12]}"
        if facts.documents is not None:
            documents = [self._draft(entry, data, folder, version) for entry in facts.documents]
        else:
            documents = [
                DraftDocument(
                    name=name,
                    version=version,
                    template_sha256=_sha("template", name),
                    docx=stored(f"{folder}/{name}", seed=data.profile.sha256),
                    pdf=stored(f"{folder}/{name.replace('.docx', '.pdf')}", seed=data.profile.sha256),
                )
                for name in DOCUMENTS
            ]
        return RenderDocumentsResult(
            documents=documents,
            manifest=stored(f"{folder}/render-manifest.json", seed=data.profile.sha256),
            change_lines=facts.change_lines,
        )

    @staticmethod
    def _draft(entry: DocumentEntry, data: RenderDocumentsInput, folder: str, version: str) -> DraftDocument:
        """One document of a documents section, drafted from its file when it names one."""
        source = data.document_files.get(entry.id)
        seed = f"{data.profile.sha256}/{source.sha256 if source else 'built-in'}"
        static_pdf = entry.name.endswith(".pdf")
        return DraftDocument(
            name=entry.name,
            version=entry.version
            or (source.sha256[:12] if entry.kind is DocumentKind.STATIC and source else version),
            template_sha256=source.sha256 if source else _sha("template", entry.name),
            docx=None if static_pdf else stored(f"{folder}/{entry.name}", seed=seed),
            pdf=source
            if static_pdf and source
            else stored(f"{folder}/{_draft_name(entry.name, '.pdf')}", seed=seed),
            title=entry.title or entry.id,
            kind=entry.kind,
            audience=entry.audience,
            signs=entry.signs,
            acknowledges=entry.acknowledges,
        )

    @activity.defn(name="sign_documents")
    async def sign_documents(self, data: SignDocumentsInput) -> SignDocumentsResult:
        await self._enter("sign_documents", data)
        folder = f"signed/{data.cycle_id}/v{data.version}"
        return SignDocumentsResult(
            documents=[
                SignedDocument(
                    name=name,
                    draft_sha256=draft,
                    docx=None if name.endswith(".pdf") else stored(f"{folder}/{name}", seed=draft),
                    pdf=stored(f"{folder}/{_draft_name(name, '.pdf')}", seed=draft),
                )
                for name, draft in sorted(data.shown_documents.items())
            ],
            certificate=stored(f"{folder}/certificate.pdf"),
            evidence=stored(f"{folder}/evidence.json"),
        )

    @activity.defn(name="archive_objects")
    async def archive_objects(self, data: ArchiveInput) -> ArchiveResult:
        at = await self._enter("archive_objects", data)
        refusal = self.refuse_archive.get(data.stage)
        if refusal is not None:
            raise ApplicationError(refusal, type="ArchiveConflict", non_retryable=True)
        until = at + timedelta(days=7 * 365)

        def archived(name: str, source: StoredObject) -> ArchivedObject:
            return ArchivedObject(
                key=f"{data.organisation}/{data.year}/{name}",
                version_id=_sha("version", name)[:16],
                sha256=source.sha256,
                size=source.size,
                content_type=source.content_type,
                retain_until=until,
            )

        manifest = stored(f"manifests/{data.stage}.json")
        return ArchiveResult(
            manifest=archived(f"manifests/{data.stage}.json", manifest),
            objects=[archived(item.name, item.source) for item in data.items],
        )

    # ------------------------------------------------------------------------ mail

    @activity.defn(name="send_email")
    async def send_email(self, data: SendEmailInput) -> SendEmailResult:
        at = await self._enter("send_email", data)
        await self._sent_mail(
            [
                Mail(
                    key=data.key,
                    template=data.template,
                    to=list(data.to),
                    context=dict(data.context),
                    at=at,
                    link=data.link,
                )
            ]
        )
        return SendEmailResult(key=data.key, message_id=f"<{_sha(data.key)[:20]}@logic.test>", sent=True)

    @activity.defn(name="send_campaign_mail")
    async def send_campaign_mail(self, data: CampaignMailInput) -> CampaignMailResult:
        """Each key is sent once per batch for good, as the real activity's markers ensure."""
        at = await self._enter("send_campaign_mail", data)
        result = CampaignMailResult(sent_at={}, newly_sent=0)
        mails: list[Mail] = []
        for recipient in data.recipients:
            marker = (data.batch_id, recipient.key)
            if marker in self._sent:
                result.sent_at[recipient.key] = self._sent[marker]
                continue
            if _key(recipient.to) in self.refuse_recipients:
                result.refused.append(recipient.key)
                continue
            self._sent[marker] = at
            result.sent_at[recipient.key] = at
            result.newly_sent += 1
            mails.append(
                Mail(
                    key=recipient.key,
                    template=data.template,
                    to=[recipient.to],
                    context={**data.context, **recipient.context},
                    at=at,
                    link_for=recipient.link_for,
                    batch_id=data.batch_id,
                    version_hash=data.version_hash,
                )
            )
        await self._sent_mail(mails)
        return result

    # -------------------------------------------------------------------- campaign

    def _people(self, ref: StoredObject) -> tuple[list[Recipient], list[str]]:
        people: tuple[list[Recipient], list[str]] = self._memory[ref.key]
        return people

    def _persons(self, ref: StoredObject) -> list[Person] | None:
        """The directory's people when it holds the HR export's rows (``Person``), else None."""
        people: list[object] = self._memory[ref.key][0]
        if people and all(isinstance(person, Person) for person in people):
            return [person for person in people if isinstance(person, Person)]
        return None

    @activity.defn(name="freeze_directory")
    async def freeze_directory(self, data: FreezeInput) -> FrozenDirectory:
        """The directory in batches of ``batch_size`` in its order (a manager's team kept together
        by the caller's ordering), with the index ``plan_staff_change`` reads."""
        await self._enter("freeze_directory", data)
        people, _ = self._people(data.staff)
        no_documents = 0
        persons = self._persons(data.staff)
        if persons is not None:  # the real rules: in scope on the day, each one's documents
            people, nothing = with_documents(in_scope(persons, as_of=data.as_of, audiences=data.audiences))
            no_documents = len(nothing)
        chunks = [people[i : i + data.batch_size] for i in range(0, len(people), data.batch_size)]
        batches: list[StoredObject] = []
        where: dict[str, int] = {}
        managers: dict[str, int] = {}
        for number, chunk in enumerate(chunks, start=1):
            ref = stored(f"campaign/{data.cycle_id}/batches/{number:04d}.json")
            self._memory[ref.key] = list(chunk)
            batches.append(ref)
            for person in chunk:
                where[_key(person.email)] = number
                if person.manager_email:
                    managers.setdefault(_key(person.manager_email), number)
        index = stored(f"campaign/{data.cycle_id}/index.json")
        self._memory[index.key] = {"people": where, "managers": managers}
        if data.by_reference:  # the list stays in memory, read a wave at a time (list_batches)
            listed = stored(f"campaign/{data.cycle_id}/batches.json")
            self._memory[listed.key] = batches
            return FrozenDirectory(
                index=index,
                people=len(people),
                excluded=0,
                no_documents=no_documents,
                batch_list=listed,
                batch_count=len(batches),
            )
        return FrozenDirectory(
            batches=batches, index=index, people=len(people), excluded=0, no_documents=no_documents
        )

    @activity.defn(name="list_batches")
    async def list_batches(self, data: BatchWaveInput) -> list[StoredObject]:
        await self._enter("list_batches", data)
        listed: list[StoredObject] = self._memory[data.batch_list.key]
        return listed[data.first - 1 : data.first - 1 + data.count]

    @activity.defn(name="load_batch")
    async def load_batch(self, people: StoredObject) -> list[Recipient]:
        await self._enter("load_batch", people)
        batch: list[Recipient] = self._memory[people.key]
        return batch

    @activity.defn(name="plan_staff_change")
    async def plan_staff_change(self, data: PlanChangeInput) -> PlannedChange:
        """Joiners to their manager's batch (else batch 1), leavers to theirs; problems refuse all."""
        await self._enter("plan_staff_change", data)
        index = self._memory[data.index.key]
        where: dict[str, int] = {**index["people"], **data.joined}
        joiners, problems = self._people(data.change.add) if data.change.add else ([], [])
        persons = self._persons(data.change.add) if data.change.add else None
        if persons is not None:  # each joiner's documents by the version's audiences
            joiners = [
                Recipient(
                    email=person.email,
                    name=person.name,
                    department=person.department,
                    manager_email=person.manager_email,
                    acknowledges=documents_for(person, data.audiences),
                )
                for person in persons
            ]
        plan = PlannedChange(problems=list(problems))
        if plan.problems:
            return plan
        for person in joiners:
            email = _key(person.email)
            if email in where and email not in data.left:
                plan.already_in.append(person.email)
                continue
            if person.acknowledges == []:
                plan.no_documents.append(person.email)
                continue
            manager = _key(person.manager_email) if person.manager_email else ""
            batch = where.get(email) or index["managers"].get(manager) or where.get(manager) or 1
            where[email] = batch
            plan.joiners.setdefault(batch, []).append(person)
        for email in data.change.remove:
            if _key(email) in where and _key(email) not in data.left:
                plan.leavers.setdefault(where[_key(email)], []).append(email)
            else:
                plan.unknown.append(email)
        return plan

    @activity.defn(name="store_batch_records")
    async def store_batch_records(self, data: StoreRecordsInput) -> StoredObject:
        await self._enter("store_batch_records", data)
        ref = stored(f"campaign/{data.cycle_id}/records/{data.batch:04d}.json")
        async with self._changed:  # a close waiting for this batch's records sees them
            self._memory[ref.key] = list(data.records)
            self._changed.notify_all()
        return ref

    def _records_by_number(self, data: CloseInput) -> list[StoredObject]:
        """The records batches 1 to ``data.batch_count`` stored at their close; while one has
        not, a retryable failure, as the real close's after its wait (the retry comes after a
        backoff, in which the server's clock may move on: an activity in progress holds it)."""
        refs = [
            stored(f"campaign/{data.cycle_id}/records/{n:04d}.json") for n in range(1, data.batch_count + 1)
        ]
        missing = [ref.key for ref in refs if ref.key not in self._memory]
        if missing:
            raise ApplicationError(
                f"{len(missing)} batch(es) have not stored their records yet", type=RECORDS_PENDING
            )
        return refs

    @activity.defn(name="close_campaign")
    async def close_campaign(self, data: CloseInput) -> CampaignResult:
        """The register's figures from the batches' records (who left is out of them).

        A close that names only the count of batches is recorded with the records it read in
        ``batches``, so a test reads them the same way whichever the campaign asked for.
        """
        if data.batch_count:
            data = data.model_copy(update={"batches": self._records_by_number(data)})
        await self._enter("close_campaign", data)
        records = [record for ref in data.batches for record in self.records(ref)]
        tally = Tally()
        for record in records:
            if record.left_at is None:
                acknowledged = record.acknowledged_at is not None
                tally.add(Tally(total=1, acknowledged=int(acknowledged), outstanding=int(not acknowledged)))
        tally.overdue = tally.outstanding
        folder = f"campaign/{data.cycle_id}"
        return CampaignResult(
            register_csv=stored(f"{folder}/register.csv", content_type="text/csv"),
            register_json=stored(f"{folder}/register.json", content_type="application/json"),
            report=stored(f"{folder}/report.html", content_type="text/html"),
            report_markdown=stored(f"{folder}/report.md", content_type="text/markdown"),
            tally=tally,
            target_met=tally.rate >= 0.95,
            invited=sum(1 for record in records if record.invited_at is not None),
            joined=sum(1 for record in records if record.joined),
            left=sum(1 for record in records if record.left_at is not None),
            by_document=tally_documents(records, data.signed.campaign_documents(), closed=True),
        )

    @activity.defn(name="campaign_figures")
    async def campaign_figures(self, cycle_id: str) -> CampaignProgress:
        """The live figures, asked of the campaign and its batches by query (as the real one does)."""
        await self._enter("campaign_figures", cycle_id)
        campaign = self.client.get_workflow_handle(campaign_id_for(cycle_id))
        state: CampaignState = await campaign.query(AcknowledgementCampaignWorkflow.state)
        progress = CampaignProgress(
            cycle_id=cycle_id,
            stage=state.stage,
            batches=state.batches,
            documents=state.documents,
            no_documents=state.no_documents,
        )
        for number in range(1, state.batches + 1):
            batch = self.client.get_workflow_handle(batch_id_for(cycle_id, number))
            figures: BatchProgress = await batch.query(AcknowledgementBatchWorkflow.progress)
            progress.invited += figures.invited
            progress.left += figures.left
            progress.tally.add(figures.tally)
            for department, tally in figures.by_department.items():
                progress.by_department.setdefault(department, Tally()).add(tally)
            for name, tally in figures.by_document.items():
                progress.by_document.setdefault(name, Tally()).add(tally)
        return progress

    # ------------------------------------------------------------ role acceptance

    @activity.defn(name="plan_role_acceptance")
    async def plan_role_acceptance(self, data: RolePlanInput) -> list[RoleHolder]:
        """The holders the test set for the profile, the signer left out as the real plan does."""
        await self._enter("plan_role_acceptance", data)
        if self.unreadable_role_plan:
            raise ApplicationError(
                "the staff directory cannot be read", type=Failure.UNREADABLE_INPUT, non_retryable=True
            )
        holders = self._role_holders.get(data.profile.key, [])
        return [holder for holder in holders if _key(holder.email) != _key(data.signer_email)]

    @activity.defn(name="close_role_acceptance")
    async def close_role_acceptance(self, data: RoleRegisterInput) -> RoleAcceptanceResult:
        """The register's references (its records kept in memory) and its figures."""
        await self._enter("close_role_acceptance", data)
        folder = f"{data.cycle_id}/role-acceptance"
        register_json = stored(f"{folder}/register.json", content_type="application/json")
        self._memory[register_json.key] = list(data.records)
        accepted = sum(1 for record in data.records if record.accepted_at is not None)
        declined = sum(
            1 for record in data.records if record.accepted_at is None and record.declined_at is not None
        )
        escalated = sum(
            1 for record in data.records if record.accepted_at is None and record.escalated_at is not None
        )
        total = len(data.records)
        return RoleAcceptanceResult(
            register_csv=stored(f"{folder}/register.csv", content_type="text/csv"),
            register_json=register_json,
            report=stored(f"{folder}/report.html", content_type="text/html"),
            tally=RoleTally(
                total=total,
                accepted=accepted,
                declined=declined,
                outstanding=total - accepted - declined,
                escalated=escalated,
            ),
        )
