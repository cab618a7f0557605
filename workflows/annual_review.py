"""AnnualReviewWorkflow: one organisation's yearly Clause 5 review, from draft to signature.

Stages: checking -> rendering -> awaiting_signature -> (awaiting_revision -> checking ...)
-> signing -> signed. Orchestration only: every side effect is an activity, every clock is
``workflow.now()``, every wait is a durable timer or a condition; nothing polls.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle

from workflows.acknowledgement import AcknowledgementCampaignWorkflow
from workflows.handlers import async_update
from workflows.role_acceptance import RoleAcceptanceWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.archive import ARCHIVE_OBJECTS_NON_RETRYABLE, ArchiveActivities
    from activities.documents import (
        CHECK_DOCUMENTS_NON_RETRYABLE,
        RENDER_DOCUMENTS_NON_RETRYABLE,
        DocumentActivities,
    )
    from activities.mail import SEND_EMAIL_NON_RETRYABLE, MailActivities
    from activities.signing import SIGN_DOCUMENTS_NON_RETRYABLE, SigningActivities
    from core.contract import Failure, Message, Query, Refusal, Signal, Update, WorkflowType, refusal
    from models.archive import (
        SHOWN_DRAFT_STEM,
        ArchivedDocumentFacts,
        ArchiveInput,
        ArchiveItem,
        ChainRequest,
        ManifestFacts,
    )
    from models.campaign import (
        CampaignInput,
        CampaignResult,
        SignedVersion,
        campaign_id_for,
        signed_version_hash,
    )
    from models.check_report import CheckReportRequest
    from models.cycle import (
        SIGNED_STAGES,
        AnnualReviewInput,
        AnnualReviewResult,
        CycleStatus,
        DecisionKind,
        DecisionReceipt,
        DocumentsViewed,
        RevisionInput,
        RevisionReceipt,
        SignatureDecision,
        Stage,
    )
    from models.documents import (
        CheckDocumentsInput,
        CheckDocumentsResult,
        DraftDocument,
        RenderDocumentsInput,
    )
    from models.findings import Finding, Severity
    from models.links import LinkRole
    from models.mail import LinkRequest, SendEmailInput
    from models.profile import APPOINTMENT_LETTER, APPOINTMENT_LETTER_TITLE, REQUIRED_DOCUMENTS, Audience
    from models.role_acceptance import (
        ROLE_ACCEPTANCE_FOLDER,
        ROLE_REGISTER_CSV,
        ROLE_REGISTER_JSON,
        ROLE_REPORT_HTML,
        AppointmentLetter,
        RoleAcceptanceInput,
        RoleAcceptanceResult,
        role_acceptance_id_for,
    )
    from models.routing import CycleRouting
    from models.signing import (
        AuditEvent,
        SignDocumentsInput,
        SignDocumentsResult,
        SignedDocument,
        Signer,
    )
    from models.storage import StoredObject

SYSTEM = "isms-cycle"
# behaviour changes for cycles already running (workflow.patched ids; never renamed)
SUPERSEDE_ON_REVISION = "supersede-on-revision"
# each signing link carries its email's number and only the newest sent works; a cycle that sent
# links before this keeps accepting all of them (its tokens carry no number)
LINK_SEQUENCE = "link-sequence"
# the signed version's archive holds its Clause 5 check report (clause5-check/v<version>/); a cycle
# whose archive activity was scheduled before this archives none
ARCHIVE_CHECK_REPORT = "archive-check-report"
# after the signed archive, the named role holders and deputies accept their roles (a child beside
# the campaign), and its register is archived with the acknowledgements; cycles signed before it
# run no role acceptance
ROLE_ACCEPTANCE = "role-acceptance"

# rendering, sealing and archiving heartbeat after every step (seconds apart): a worker killed
# mid-way is noticed this soon and the activity retried on another, writing nothing twice
HEARTBEAT = timedelta(seconds=20)
CHECK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=CHECK_DOCUMENTS_NON_RETRYABLE,
)
RENDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=RENDER_DOCUMENTS_NON_RETRYABLE,
)
# SMTP or S3 down for a while: keep trying with backoff, the message goes out when it returns
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=SEND_EMAIL_NON_RETRYABLE,
)
# S3 down for a while: archiving waits and completes when it returns (each retry writes nothing twice)
ARCHIVE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=ARCHIVE_OBJECTS_NON_RETRYABLE,
)
SIGNING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=SIGN_DOCUMENTS_NON_RETRYABLE,
)


def _errors(findings: list[Finding]) -> list[str]:
    return [f"{f.rule} at {f.where}: {f.message}" for f in findings if f.severity is Severity.ERROR]


def _same_name(typed: str, expected: str) -> bool:
    return " ".join(typed.split()).casefold() == " ".join(expected.split()).casefold()


def _folder(name: str) -> str:
    """A document's archive folder: its id (``acceptable-use-policy.pdf`` -> ``acceptable-use-policy``)."""
    return PurePosixPath(name).stem


def _acknowledgement_stage(version: str) -> str:
    """The stage (and manifest name) of a version's acknowledgement register."""
    return f"acknowledgements-v{version}"


def _audiences(drafts: list[DraftDocument]) -> dict[str, Audience] | None:
    """Who acknowledges which document: each document staff acknowledge, with its audience.

    None for a version shaped as every version was before the documents section (rendered
    without titles, or exactly the two built-in documents, both for everyone in scope): the
    campaign then runs as it always did, one shared list of documents and the same wording.
    """
    before_titles = all(not draft.title for draft in drafts)
    built_in = sorted(draft.name for draft in drafts) == sorted(f"{doc}.docx" for doc in REQUIRED_DOCUMENTS)
    if before_titles or (built_in and all(d.acknowledges and d.audience.everyone for d in drafts)):
        return None
    return {draft.name: draft.audience for draft in drafts if draft.acknowledges}


def _described(document: DraftDocument) -> str:
    """A document for people: its title and file name, or the name alone (a render from before titles)."""
    return f"{document.title} ({document.name})" if document.title else document.name


@workflow.defn(name=WorkflowType.ANNUAL_REVIEW)
class AnnualReviewWorkflow:
    """Checks and renders the documents, routes them to the CEO, chases, and seals the signature.

    Waits for: the CEO's decision (the ``decide`` Update: sign, or request changes with a
    comment) and, after a request for changes, the ISMS lead's revision (the
    ``submit_revision`` Update). While the CEO has not decided, the profile's signature
    schedule runs on durable timers counted from the moment each version was sent:
    reminders to the CEO, escalation to the ISMS lead and named deputies, and the cycle
    marked overdue. A revision may also arrive while the CEO is still deciding: the new
    version supersedes the old one and the old links stop working. Each signing link carries
    its email's number (the invitation 0, each later one more, over the whole cycle): once an
    email is sent, the links of the earlier ones no longer work.
    """

    @workflow.init
    def __init__(self, data: AnnualReviewInput) -> None:
        self._input = data
        self._status = CycleStatus(cycle_id=data.cycle_id, stage=Stage.CHECKING)
        self._routing: CycleRouting | None = None
        self._round_started: datetime | None = None
        self._profile: StoredObject | None = None  # the inputs of the current version
        self._staff: StoredObject | None = None
        self._document_files: dict[str, StoredObject] = dict(data.document_files)
        self._decision: SignatureDecision | None = None
        self._decided_at: datetime | None = None
        self._revision: RevisionInput | None = None
        self._revision_checking = False
        self._viewed: set[tuple[str, str, str]] = set()
        self._render_manifest: StoredObject | None = None  # the current version's render-manifest.json
        self._checked_on: date | None = None  # the day the current version was last checked
        # signing links sent to the signer so far, over the whole cycle: the next one's sequence
        # (counted across versions, so even a revision that renders the same bytes leaves the
        # earlier links old)
        self._signer_links = 0
        self._campaign_running = False
        self._roles_running = False

    # ---------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, data: AnnualReviewInput) -> AnnualReviewResult:
        self._event("created", data.started_by, data.reason or f"annual review {data.year}")
        self._profile, self._staff = data.profile, data.staff
        while True:
            self._status.round += 1
            self._status.overdue = False  # each round's ladder decides; the audit trail keeps the past
            await self._check_and_render(self._profile, self._staff)
            revision = await self._route_for_signature()
            if revision is None:
                decision = self._decision
                assert decision is not None
                if decision.kind is DecisionKind.SIGN:
                    break
                revision = await self._wait_for_revision(decision)
            self._profile = revision.profile
            self._staff = revision.staff or self._staff
            self._document_files = self._files_of(revision)

        signed = await self._sign()
        archived_signed = False
        if workflow.patched("archive-signed"):  # cycles signed before the archive existed skip this
            await self._archive(self._signed_archive(signed))
            archived_signed = True
        # the role acceptance runs beside the campaign: its close is recorded when it comes
        roles: asyncio.Task[RoleAcceptanceResult | None] | None = None
        routing = self._routing
        wanted = archived_signed and routing is not None and routing.role_acceptance is not None
        if wanted and workflow.patched(ROLE_ACCEPTANCE):  # cycles signed before it existed start none
            child = await self._start_role_acceptance(signed)
            roles = asyncio.create_task(self._role_acceptance_result(child))
        campaign = None
        if workflow.patched("acknowledgement-campaign"):  # cycles signed before it existed end here
            campaign = await self._campaign(signed)
        role_result = await roles if roles is not None else None
        if campaign is not None and workflow.patched("archive-acknowledgements"):
            if not archived_signed:  # a cycle signed before the archive existed: its documents first
                await self._archive(self._signed_archive(signed))
            await self._archive(self._acknowledgement_archive(campaign, role_result))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return AnnualReviewResult(
            cycle_id=data.cycle_id,
            version=self._status.version,
            rounds=self._status.round,
            signed=signed,
            campaign=campaign,
            role_acceptance=role_result,
            archive=list(self._status.archive),
        )

    async def _check_and_render(self, profile: StoredObject, staff: StoredObject) -> None:
        self._set_stage(Stage.CHECKING)
        check = await self._check(profile, staff, self._document_files)
        if check.blocking or check.routing is None:
            raise ApplicationError(
                "the documents fail Clause 5 and cannot go for signature",
                _errors(check.findings)
                or ["the profile names no signer or ISMS lead found in the staff directory"],
                type=Failure.CLAUSE5_ERRORS,
                non_retryable=True,
            )
        self._routing = check.routing
        self._status.organisation = check.organisation
        self._set_stage(Stage.RENDERING)
        render = await workflow.execute_activity_method(
            DocumentActivities.render_documents,
            RenderDocumentsInput(
                cycle_id=self._input.cycle_id,
                profile=profile,
                staff=staff,
                as_of=workflow.now().date(),
                document_files=self._document_files,
                previous_manifest=self._input.previous_manifest,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RENDER_RETRY,
        )
        self._status.version = check.version
        self._status.version_hash = render.manifest.sha256
        self._render_manifest = render.manifest
        self._status.documents = render.documents
        self._status.change_lines = render.change_lines
        self._event("rendered", SYSTEM, f"version {check.version}, round {self._status.round}")

    async def _check(
        self, profile: StoredObject, staff: StoredObject, files: dict[str, StoredObject]
    ) -> CheckDocumentsResult:
        self._checked_on = workflow.now().date()
        result = await workflow.execute_activity_method(
            DocumentActivities.check_documents,
            CheckDocumentsInput(profile=profile, staff=staff, as_of=self._checked_on, document_files=files),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=CHECK_RETRY,
        )
        self._status.findings = result.findings
        return result

    # ------------------------------------------------------------------ signature round

    async def _route_for_signature(self) -> RevisionInput | None:
        """Invite the CEO and chase until a decision (returns None) or a revision (returns it)."""
        routing = self._routing
        assert routing is not None
        self._decision = None
        self._revision = None
        self._round_started = workflow.now()
        self._set_stage(Stage.AWAITING_SIGNATURE)
        deadline = self._round_started + routing.schedule.overdue_after
        await self._mail(
            "invitation",
            "ceo_invitation",
            [routing.signer.email],
            {
                "deadline": deadline.strftime("%d %B %Y"),
                "change_lines": self._status.change_lines or ["First version routed by isms-cycle"],
            },
            link=True,
        )
        self._event("sent", routing.signer.email, f"signing invitation for version {self._status.version}")

        schedule = routing.schedule
        chase: list[tuple[timedelta, str, int]] = [
            (delay, "reminder", number) for number, delay in enumerate(schedule.reminders, start=1)
        ]
        chase += [(schedule.escalate_after, "escalation", 0), (schedule.overdue_after, "overdue", 0)]
        for delay, kind, number in sorted(chase, key=lambda step: step[0]):
            remaining = self._round_started + delay - workflow.now()
            try:
                # the timer's meaning: no decision within `delay` of sending means we chase
                await workflow.wait_condition(self._decided_or_revised, timeout=max(remaining, timedelta(0)))
                return self._revision
            except TimeoutError:
                pass
            if self._decided_or_revised():
                return self._revision
            await self._chase(kind, number, deadline)
        await workflow.wait_condition(self._decided_or_revised)
        return self._revision

    def _decided_or_revised(self) -> bool:
        return self._decision is not None or self._revision is not None

    async def _chase(self, kind: str, number: int, deadline: datetime) -> None:
        routing = self._routing
        assert routing is not None and self._round_started is not None
        days = (workflow.now() - self._round_started).days
        if kind == "reminder":
            await self._mail(
                f"reminder-{number}",
                "ceo_reminder",
                [routing.signer.email],
                {"reminder_number": number, "deadline": deadline.strftime("%d %B %Y")},
                link=True,
            )
            self._event("reminded", routing.signer.email, f"reminder {number}")
        elif kind == "escalation":
            recipients = [routing.lead.email] + [p.email for p in routing.schedule.escalate_to]
            await self._mail(
                "escalation",
                "signature_escalation",
                recipients,
                {"days_waiting": days, "deadline": deadline.strftime("%d %B %Y")},
            )
            self._event("escalated", ", ".join(recipients), f"no decision after {days} day(s)")
        else:
            self._status.overdue = True
            await self._mail(
                "overdue",
                "cycle_overdue",
                [routing.lead.email, routing.signer.email],
                {"days_waiting": days, "deadline": deadline.strftime("%d %B %Y")},
            )
            self._event("overdue", SYSTEM, f"no decision after {days} day(s)")

    async def _wait_for_revision(self, decision: SignatureDecision) -> RevisionInput:
        routing = self._routing
        assert routing is not None
        self._set_stage(Stage.AWAITING_REVISION)
        self._status.last_comment = decision.comment
        self._status.last_comment_documents = list(decision.documents)
        named = {document.name: document for document in self._status.documents}
        await self._mail(
            "changes-requested",
            "changes_requested",
            [routing.lead.email],
            {
                "comment": decision.comment,
                "named_documents": [_described(named[name]) for name in decision.documents if name in named],
            },
        )
        await workflow.wait_condition(lambda: self._revision is not None)
        assert self._revision is not None
        return self._revision

    async def _sign(self) -> SignDocumentsResult:
        routing, decision, data = self._routing, self._decision, self._input
        assert routing is not None and decision is not None
        assert self._profile is not None and self._staff is not None and self._decided_at is not None
        self._set_stage(Stage.SIGNING)
        signed = await workflow.execute_activity_method(
            SigningActivities.sign_documents,
            SignDocumentsInput(
                cycle_id=data.cycle_id,
                version=self._status.version,
                profile=self._profile,
                staff=self._staff,
                signer=Signer(
                    name=decision.typed_name, title=routing.signer.title, email=routing.signer.email
                ),
                signed_at=self._decided_at,
                consent_text=decision.consent_text,
                ip=decision.ip,
                user_agent=decision.user_agent,
                second_factor=decision.second_factor,
                shown_documents={d.name: d.shown_sha256 for d in self._status.documents},
                audit_trail=list(self._status.events),
                document_files=self._document_files,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=SIGNING_RETRY,
        )
        self._status.signed = signed
        self._set_stage(Stage.SIGNED)
        self._event(
            "sealed", SYSTEM, f"version {self._status.version}: PAdES seal and certificate of completion"
        )
        await self._mail(
            "signed",
            "signed_confirmation",
            [routing.signer.email, routing.lead.email],
            {
                "signed_by": decision.typed_name,
                "hashes": [f"{d.name}: {d.pdf.sha256}" for d in signed.documents],
            },
        )
        return signed

    def _signed_hashes(self, signed: SignDocumentsResult) -> dict[str, str]:
        """Each signed document's sealed PDF hash, in the version's order (the signed version's hash
        is made of these: ``signed_version_hash``)."""
        return {d.name: d.pdf.sha256 for d in self._in_version_order(signed.documents)}

    async def _start_role_acceptance(
        self, signed: SignDocumentsResult
    ) -> ChildWorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult]:
        """The named role holders and deputies accept their roles (a child beside the campaign);
        the ISMS lead's request carries the appointment letter, when the version has one."""
        routing, data = self._routing, self._input
        assert routing is not None and routing.role_acceptance is not None
        assert self._profile is not None and self._staff is not None and self._decided_at is not None
        letter = None
        name = f"{APPOINTMENT_LETTER}.docx"
        drafts = {d.name: d for d in self._status.documents}
        for document in signed.documents:
            if document.name == name:
                draft = drafts.get(name)
                letter = AppointmentLetter(
                    name=name,
                    title=(draft.title if draft is not None else "") or APPOINTMENT_LETTER_TITLE,
                    sha256=document.pdf.sha256,
                    pdf=document.pdf,
                )
        self._roles_running = True
        handle = await workflow.start_child_workflow(
            RoleAcceptanceWorkflow.run,
            RoleAcceptanceInput(
                cycle_id=data.cycle_id,
                organisation=routing.organisation,
                version=self._status.version,
                version_hash=signed_version_hash(self._signed_hashes(signed)),
                profile=self._profile,
                staff=self._staff,
                signer=routing.signer,
                lead=routing.lead,
                ladder=routing.role_acceptance,
                signed_at=self._decided_at,
                letter=letter,
            ),
            id=role_acceptance_id_for(data.cycle_id),
        )
        self._event(
            "role acceptance started", SYSTEM, "each named role holder and deputy accepts their roles"
        )
        self._set_stage(Stage.ACKNOWLEDGING)
        return handle

    async def _role_acceptance_result(
        self, handle: ChildWorkflowHandle[RoleAcceptanceWorkflow, RoleAcceptanceResult]
    ) -> RoleAcceptanceResult | None:
        """Wait for the role acceptance to close; a failed one is recorded and the cycle goes on
        (the acknowledgements are archived without its register)."""
        result: RoleAcceptanceResult | None = None
        try:
            result = await handle
        except ChildWorkflowError as exc:
            cause = exc.cause.message if isinstance(exc.cause, ApplicationError) else str(exc.cause or exc)
            self._status.archive_problems.append(f"role acceptance: {cause}")
            self._event("role acceptance failed", SYSTEM, cause)
        if result is not None:
            self._status.role_acceptance = result
            self._event("role acceptance closed", SYSTEM, result.tally.rate_text)
        self._roles_running = False
        self._set_stage(Stage.CLOSED if not self._campaign_running else Stage.ACKNOWLEDGING)
        return result

    async def _campaign(self, signed: SignDocumentsResult) -> CampaignResult:
        """Every person in scope acknowledges the signed version (a child workflow and its batches)."""
        routing, data = self._routing, self._input
        assert routing is not None and self._staff is not None
        assert self._decided_at is not None
        ordered = self._in_version_order(signed.documents)
        documents = self._signed_hashes(signed)
        drafts = {d.name: d for d in self._status.documents}
        # what staff are shown of each document, and who acknowledges which (from the version's
        # render: a document that staff do not acknowledge is not in ``audiences``)
        titles = {name: drafts[name].title for name in documents if name in drafts and drafts[name].title}
        versions = {name: drafts[name].version for name in documents if name in drafts}
        audiences = _audiences([drafts[name] for name in documents if name in drafts])
        self._campaign_running = True
        self._set_stage(Stage.ACKNOWLEDGING)
        self._event("campaign started", SYSTEM, "acknowledgement of the signed version by everyone in scope")
        result = await workflow.execute_child_workflow(
            AcknowledgementCampaignWorkflow.run,
            CampaignInput(
                cycle_id=data.cycle_id,
                organisation=routing.organisation,
                signed=SignedVersion(
                    version=self._status.version,
                    version_hash=signed_version_hash(documents),
                    documents=documents,
                    pdfs={d.name: d.pdf for d in ordered},
                    titles=titles,
                    versions=versions,
                    audiences=audiences,
                    questions={
                        name: drafts[name].questions
                        for name in documents
                        if name in drafts and drafts[name].questions
                    },
                ),
                staff=self._staff,
                lead=routing.lead,
                signer=routing.signer,
                schedule=routing.acknowledgement,
                cycle_started_at=workflow.info().start_time,
                signed_at=self._decided_at,
                batch_size=data.batch_size,
            ),
            id=campaign_id_for(data.cycle_id),
        )
        self._status.campaign = result
        self._campaign_running = False
        # the role acceptance may still be running: the cycle closes once both have
        self._set_stage(Stage.ACKNOWLEDGING if self._roles_running else Stage.CLOSED)
        self._event(
            "campaign closed",
            SYSTEM,
            f"{result.tally.acknowledged} of {result.tally.total} acknowledged ({result.tally.rate:.1%})",
        )
        return result

    # --------------------------------------------------------------------------- archive

    def _signed_archive(self, signed: SignDocumentsResult) -> ArchiveInput:
        """Each document's signed .docx (none for a static PDF) and sealed PDF, the draft the signer
        was shown, the certificate of completion and evidence.json, in a folder per document id;
        the manifest's facts list every document with its title, version, kind and hashes. The
        manifest begins the cycle's chain; the acknowledgements' manifest follows it."""
        routing, data, decision = self._routing, self._input, self._decision
        assert routing is not None and decision is not None
        version = self._status.version
        drafts = {d.name: d for d in self._status.documents}
        items: list[ArchiveItem] = []
        folders: list[str] = []
        facts: list[ArchivedDocumentFacts] = []
        for document in self._in_version_order(signed.documents):
            folder = f"{_folder(document.name)}/v{version}"
            folders.append(folder)
            if document.docx is not None:
                items.append(ArchiveItem(source=document.docx, name=f"{folder}/document.docx"))
            items += [
                ArchiveItem(source=document.pdf, name=f"{folder}/document.pdf"),
                ArchiveItem(source=signed.certificate, name=f"{folder}/certificate.pdf"),
                ArchiveItem(source=signed.evidence, name=f"{folder}/evidence.json"),
            ]
            draft = drafts.get(document.name)
            # what the signer saw (its SHA-256 is stamped into the signed document), so it can be
            # recomputed years later: the draft .docx, or the PDF of a static PDF
            shown, shown_file = None, None
            if draft is not None:
                shown = draft.docx if draft.docx is not None else draft.pdf
                shown_file = f"{SHOWN_DRAFT_STEM}{'.pdf' if draft.docx is None else '.docx'}"
                items.append(ArchiveItem(source=shown, name=f"{folder}/{shown_file}"))
            facts.append(
                ArchivedDocumentFacts(
                    id=_folder(document.name),
                    title=draft.title if draft else "",
                    version=draft.version if draft else version,
                    kind=draft.kind.value if draft else "generated",
                    signed=draft.signs if draft else True,
                    acknowledges=draft.acknowledges if draft else True,
                    audience=draft.audience.describe() if draft else "everyone in scope",
                    pdf_sha256=document.pdf.sha256,
                    docx_sha256=document.docx.sha256 if document.docx is not None else None,
                    shown_file=shown_file,
                    shown_sha256=shown.sha256 if shown is not None else None,
                )
            )
        if self._render_manifest is not None:  # next year's change summary is made against it
            items.append(ArchiveItem(source=self._render_manifest, name=f"render-manifest/v{version}.json"))
        check_report = None
        profile, staff, checked_on = self._profile, self._staff, self._checked_on
        # the version's Clause 5 check, archived beside it (patched only once there is one)
        ready = profile is not None and staff is not None and checked_on is not None
        if ready and workflow.patched(ARCHIVE_CHECK_REPORT):
            assert profile is not None and staff is not None and checked_on is not None
            check_report = CheckReportRequest(profile=profile, staff=staff, as_of=checked_on)
        return ArchiveInput(
            cycle_id=data.cycle_id,
            organisation=routing.short_name,
            year=data.year,
            stage=f"signed-v{version}",
            items=items,
            seal_certificate_in=folders,
            facts=ManifestFacts(
                version=version,
                documents=[folder.split("/")[0] for folder in folders],
                document_facts=facts,
                signer=f"{decision.typed_name}, {routing.signer.title} <{routing.signer.email}>",
                signed_at=self._decided_at,
                reason=data.reason or f"annual review {data.year}",
            ),
            chain=self._chain_request(next_stage=_acknowledgement_stage(version)),
            check_report=check_report,
        )

    def _acknowledgement_archive(
        self, campaign: CampaignResult, roles: RoleAcceptanceResult | None = None
    ) -> ArchiveInput:
        """The acknowledgement register and the cycle report, and the role acceptance register
        (``role-acceptance/v<version>/``) when there is one; its manifest closes the cycle's chain."""
        routing, data = self._routing, self._input
        assert routing is not None
        folder = f"acknowledgements/v{self._status.version}"
        items = [
            ArchiveItem(source=campaign.register_csv, name=f"{folder}/register.csv"),
            ArchiveItem(source=campaign.register_json, name=f"{folder}/register.json"),
            ArchiveItem(source=campaign.report, name=f"{folder}/report.html"),
            ArchiveItem(source=campaign.report_markdown, name=f"{folder}/report.md"),
        ]
        if roles is not None:
            role_folder = f"{ROLE_ACCEPTANCE_FOLDER}/v{self._status.version}"
            items += [
                ArchiveItem(source=roles.register_csv, name=f"{role_folder}/{ROLE_REGISTER_CSV}"),
                ArchiveItem(source=roles.register_json, name=f"{role_folder}/{ROLE_REGISTER_JSON}"),
                ArchiveItem(source=roles.report, name=f"{role_folder}/{ROLE_REPORT_HTML}"),
            ]
        return ArchiveInput(
            cycle_id=data.cycle_id,
            organisation=routing.short_name,
            year=data.year,
            stage=_acknowledgement_stage(self._status.version),
            items=items,
            facts=ManifestFacts(
                version=self._status.version,
                in_scope=campaign.tally.total,
                acknowledged=campaign.tally.acknowledged,
                rate_text=campaign.tally.rate_text,
                roles_in_scope=roles.tally.total if roles is not None else None,
                roles_accepted=roles.tally.accepted if roles is not None else None,
            ),
            chain=self._chain_request(next_stage=None),
        )

    def _chain_request(self, *, next_stage: str | None) -> ChainRequest:
        """The next manifest's place in the cycle's chain: after the last one archived (if any)."""
        archived = self._status.archive
        return ChainRequest(
            previous=archived[-1].manifest if archived else None,
            position=len(archived),
            next_stage=next_stage,
        )

    def _in_version_order(self, documents: list[SignedDocument]) -> list[SignedDocument]:
        """The signed documents in the order the version lists them (the profile's order)."""
        order = {draft.name: number for number, draft in enumerate(self._status.documents)}
        return sorted(documents, key=lambda document: order.get(document.name, len(order)))

    async def _archive(self, request: ArchiveInput) -> None:
        """Archive under COMPLIANCE retention; a refusal (a different object already under a key)
        is recorded for the lead to see and does not undo the signature or stop the cycle."""
        try:
            result = await workflow.execute_activity_method(
                ArchiveActivities.archive_objects,
                request,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=ARCHIVE_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause.message if isinstance(exc.cause, ApplicationError) else str(exc)
            self._status.archive_problems.append(f"{request.stage}: {cause}")
            self._event("archive refused", SYSTEM, f"{request.stage}: {cause}")
            return
        self._status.archive.append(result)
        self._event(
            "archived",
            SYSTEM,
            f"{request.stage}: {len(result.objects)} object(s) and {result.manifest.key} under retention "
            f"until {result.manifest.retain_until:%Y-%m-%d}",
        )

    # --------------------------------------------------------------------------- helpers

    def _set_stage(self, stage: Stage) -> None:
        self._status.stage = stage
        routing = self._routing
        if stage is Stage.AWAITING_SIGNATURE and routing is not None:
            self._status.waiting_on = (
                f"{routing.signer.name} ({routing.signer.title}) to sign or request changes"
            )
        elif stage is Stage.AWAITING_REVISION and routing is not None:
            self._status.waiting_on = (
                f"{routing.lead.name} ({routing.lead.title}) to submit a revised profile"
            )
        elif stage is Stage.ACKNOWLEDGING:
            waiting = []
            # before the role acceptance existed the campaign was all there was (flags both False)
            if self._campaign_running or not self._roles_running:
                waiting.append("everyone in scope to acknowledge the signed version")
            if self._roles_running:
                waiting.append("the named role holders and deputies to accept their roles")
            self._status.waiting_on = " and ".join(waiting)
        else:
            self._status.waiting_on = ""

    def _event(
        self,
        event: str,
        actor: str,
        detail: str = "",
        *,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        self._status.events.append(
            AuditEvent(
                at=workflow.now(), event=event, actor=actor, detail=detail, ip=ip, user_agent=user_agent
            )
        )

    async def _mail(
        self,
        purpose: str,
        template: str,
        to: list[str],
        context: dict[str, str | int | list[str]],
        *,
        link: bool = False,
    ) -> None:
        routing, data = self._routing, self._input
        assert routing is not None
        # the key names the message for good: never the attempt number
        key = f"{data.cycle_id}/round-{self._status.round}/{purpose}"
        sequence = self._signer_links if link and workflow.patched(LINK_SEQUENCE) else None
        common: dict[str, str | int | list[str]] = {
            "organisation": routing.organisation,
            "cycle_id": data.cycle_id,
            "version": self._status.version,
            "documents": [document.name for document in self._status.documents],
            "signer_name": routing.signer.name,
            "lead_name": routing.lead.name,
        }
        await workflow.execute_activity_method(
            MailActivities.send_email,
            SendEmailInput(
                key=key,
                template=template,
                to=to,
                context={**common, **context},
                link=LinkRequest(
                    cycle_id=data.cycle_id,
                    person=routing.signer.email,
                    role=LinkRole.SIGNER,
                    version_hash=self._status.version_hash,
                    path="sign",
                    sequence=sequence or 0,
                )
                if link
                else None,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=MAIL_RETRY,
        )
        if sequence is not None:
            # sent: from now on only this email's link works (until then the one before it did,
            # and this one already did: the validator accepts any sequence from the newest up)
            self._signer_links = sequence + 1
            self._status.signer_link_sequence = sequence

    # ----------------------------------------------------------------- updates, signals

    @async_update(Update.DECIDE)
    async def decide(self, decision: SignatureDecision) -> DecisionReceipt:
        """The CEO signs or requests changes. The web app sends it with the link's id as update id.

        A signature covers every document of the version at once; a request for changes may
        name the documents it is about (the validator refuses a name the version does not have).
        """
        decision = decision.model_copy(update={"documents": list(dict.fromkeys(decision.documents))})
        self._decision = decision
        self._decided_at = workflow.now()
        if decision.kind is DecisionKind.SIGN:
            self._event(
                "signed", decision.person, decision.typed_name, ip=decision.ip, user_agent=decision.user_agent
            )
        else:
            about = f" (about: {', '.join(decision.documents)})" if decision.documents else ""
            self._event(
                "changes requested",
                decision.person,
                decision.comment + about,
                ip=decision.ip,
                user_agent=decision.user_agent,
            )
        return DecisionReceipt(
            kind=decision.kind,
            version=self._status.version,
            round=self._status.round,
            recorded_at=workflow.now(),
        )

    @decide.validator
    def _validate_decision(self, decision: SignatureDecision) -> None:
        stage, routing = self._status.stage, self._routing
        if stage in SIGNED_STAGES:
            raise refusal(
                Refusal.ALREADY_SIGNED, Message.ALREADY_SIGNED_VERSION.format(version=self._status.version)
            )
        if decision.version_hash != self._status.version_hash:
            raise refusal(Refusal.SUPERSEDED, Message.SUPERSEDED_SIGNING)
        if stage is not Stage.AWAITING_SIGNATURE or self._decision is not None or self._revision is not None:
            raise refusal(
                Refusal.NOT_AWAITING_SIGNATURE,
                Message.NOT_AWAITING_SIGNATURE.format(stage=stage.value.replace("_", " ")),
            )
        if routing is None or decision.person.casefold() != routing.signer.email.casefold():
            raise refusal(Refusal.NOT_THE_SIGNER)
        self._refuse_an_old_link(decision)
        known = [document.name for document in self._status.documents]
        unknown = [name for name in decision.documents if name not in known]
        if unknown:
            raise refusal(
                Refusal.UNKNOWN_DOCUMENT,
                Message.UNKNOWN_DOCUMENT.format(names=", ".join(unknown), known=", ".join(known)),
            )
        if decision.kind is DecisionKind.SIGN:
            # first: a caller without the signer's second factor learns nothing else (the name)
            factor = decision.second_factor
            if factor is None or factor.identity.strip().casefold() != routing.signer.email.casefold():
                raise refusal(Refusal.SECOND_FACTOR_REQUIRED)
            if not decision.consent:
                raise refusal(Refusal.CONSENT_REQUIRED)
            if not _same_name(decision.typed_name, routing.signer.name):
                raise refusal(Refusal.NAME_MISMATCH, Message.NAME_MISMATCH.format(name=routing.signer.name))
        elif not decision.comment.strip():
            raise refusal(Refusal.COMMENT_REQUIRED)

    def _refuse_an_old_link(self, decision: SignatureDecision) -> None:
        """Only the newest signing link sent to the signer works: a link from an earlier email
        (the invitation once a reminder has gone) is refused. A link whose email is still being
        sent has a sequence above the newest recorded, so it works at once."""
        if decision.link_sequence < self._status.signer_link_sequence:
            raise refusal(Refusal.OLD_LINK)

    @async_update(Update.SUBMIT_REVISION)
    async def submit_revision(self, revision: RevisionInput) -> RevisionReceipt:
        """The ISMS lead's revised profile: checked at once, refused with the findings if it fails."""
        self._revision_checking = True
        try:
            staff = revision.staff or self._staff
            assert staff is not None
            result = await self._check(revision.profile, staff, self._files_of(revision))
        finally:
            self._revision_checking = False
        if result.blocking or result.routing is None:
            errors = _errors(result.findings)
            raise refusal(
                Refusal.REVISION_FAILS_CLAUSE5,
                Message.REVISION_FAILS_CLAUSE5.format(count=len(errors)),
                errors,
            )
        if (
            self._status.stage not in (Stage.AWAITING_SIGNATURE, Stage.AWAITING_REVISION)
            or self._decision_signed()
        ):
            raise refusal(Refusal.SIGNED_MEANWHILE)
        if workflow.patched(SUPERSEDE_ON_REVISION):
            self._supersede()
        self._revision = revision
        self._event("revised", revision.submitted_by, f"revision for round {self._status.round + 1}")
        return RevisionReceipt(round=self._status.round + 1, accepted_at=workflow.now())

    @submit_revision.validator
    def _validate_revision(self, revision: RevisionInput) -> None:
        if self._status.stage not in (Stage.AWAITING_SIGNATURE, Stage.AWAITING_REVISION):
            raise refusal(
                Refusal.REVISION_NOT_NOW,
                Message.REVISION_NOT_NOW.format(stage=self._status.stage.value.replace("_", " ")),
            )
        if self._decision_signed():
            raise refusal(Refusal.ALREADY_SIGNED, Message.ALREADY_SIGNED_CURRENT)
        if self._revision is not None or self._revision_checking:
            raise refusal(Refusal.REVISION_IN_PROGRESS)

    def _files_of(self, revision: RevisionInput) -> dict[str, StoredObject]:
        """The document files the revised version is made from: the revision's, replacing the set.

        A revision is a new version of every input, and the doors (``isms cycle revise``, the
        dashboard) upload every file the revised profile names (refusing one that is missing),
        so its ``document_files`` are the whole set: a file the revised profile no longer names
        goes with the old version. Keeping the current files for ids the revision leaves out
        would be wrong twice over: a revised profile that puts a document back on the built-in
        template would be rendered from the organisation's old file, and a revised profile that
        names a changed file its client did not upload (a client from before the documents
        section sends none) would be signed with last round's bytes without anyone seeing it.
        Replaced, such a revision is refused by the check with the missing file named, and the
        current version stays on offer.
        """
        return dict(revision.document_files)

    def _supersede(self) -> None:
        """The version on offer is superseded the moment a revision is accepted: until the
        revision is rendered no version is on offer, so the old links are refused as superseded
        and an open of the old documents is not recorded."""
        self._status.version = ""
        self._status.version_hash = ""
        self._status.documents = []
        self._status.change_lines = []

    def _decision_signed(self) -> bool:
        return self._decision is not None and self._decision.kind is DecisionKind.SIGN

    @workflow.signal(name=Signal.DOCUMENTS_VIEWED)
    def documents_viewed(self, viewed: DocumentsViewed) -> None:
        """A person's browser fetched a document (recorded once per person, version and document)."""
        key = (viewed.person.casefold(), viewed.version_hash, viewed.document)
        if key in self._viewed or viewed.version_hash != self._status.version_hash:
            return
        self._viewed.add(key)
        self._event("opened", viewed.person, viewed.document, ip=viewed.ip, user_agent=viewed.user_agent)

    @workflow.query(name=Query.STATUS)
    def status(self) -> CycleStatus:
        return self._status
