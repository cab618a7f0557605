"""Typed calls to the workflows: the one place that knows how to query, signal and update them.

The web app, the command line, ``adapters.cycles``/``adapters.campaign`` and the demo call the
workflows through these helpers, by the names in ``core.contract`` and with the models of
``models/`` as arguments and results; none of them imports workflow code. A refused update
arrives as :class:`UpdateRefusedError`, whose ``kind`` (a :class:`~core.contract.Refusal`) is what
callers switch on.

Every update, which the server may refuse for load (``RESOURCE_EXHAUSTED``: a workflow's 11th
in-flight update; ``UNAVAILABLE``: a frontend restarting) goes through :func:`retry_rpc`, the
one retry policy; an update keeps its id across attempts, so a retry is the same update.

>>> roles = RoleHandle.of(client, cycle_id)
>>> receipt = await roles.answer(answer, update_id=f"role-{link_id}-accept")
>>> review = CycleHandle(client, cycle_id)
>>> status = await review.status()
>>> try:
...     receipt = await review.decide(decision, update_id=f"decide-{link_id}-sign")
... except UpdateRefusedError as refused:
...     if refused.kind is Refusal.ALREADY_SIGNED: ...
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.contract import Query, Refusal, Signal, Update, refusal_of
from models.ack_group import AckGroup, AckGroupReceipt, BatchView
from models.campaign import (
    Acknowledgement,
    AckPage,
    AckReceipt,
    BatchChange,
    BatchProgress,
    CampaignState,
    StaffChange,
    StaffChangeReceipt,
    batch_id_for,
    campaign_id_for,
)
from models.cycle import (
    CycleStatus,
    DecisionReceipt,
    DocumentsViewed,
    RevisionInput,
    RevisionReceipt,
    SignatureDecision,
)
from models.role_acceptance import (
    RoleAcceptanceState,
    RoleAnswer,
    RolePage,
    RoleReceipt,
    role_acceptance_id_for,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

# the server refuses a workflow's 11th concurrent update: callers stay below it
UPDATES_IN_FLIGHT_PER_WORKFLOW = 8


@dataclass(frozen=True)
class RpcRetry:
    """How often and how patiently a call the server refused for load is tried again."""

    attempts: int = 6
    first_delay: float = 0.1  # seconds; doubled each time, with up to as much again of jitter
    retryable: tuple[RPCStatusCode, ...] = (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE)


RPC_RETRY = RpcRetry()


async def retry_rpc(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RpcRetry = RPC_RETRY,
    hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    what: str = "call",
) -> T:
    """``call()``, tried again after a refusal for load; ``hold`` (a gate, say) wraps each attempt.

    Any other error, or the last refusal, is raised as it came.
    """
    for attempt in range(policy.attempts):
        try:
            async with hold() if hold is not None else nullcontext():
                return await call()
        except RPCError as exc:
            if exc.status not in policy.retryable or attempt == policy.attempts - 1:
                raise
            log.info("%s refused (%s), retrying", what, exc.status.name)
        # jitter, so requests refused together do not all come back together
        await asyncio.sleep(policy.first_delay * 2**attempt * (1 + random.random()))  # noqa: S311
    raise AssertionError("unreachable")


def _lines(details: Sequence[object]) -> list[str]:
    """A refusal's details as lines: a list detail (the findings, the unusable rows) gives one each."""
    lines: list[str] = []
    for detail in details:
        if isinstance(detail, list | tuple):
            lines += [str(item) for item in detail]
        else:
            lines.append(str(detail))
    return lines


class UpdateRefusedError(Exception):
    """An update the workflow refused (its validator or handler raised): nothing was recorded,
    unless ``kind`` is ``STAFF_CHANGE_PARTLY_APPLIED``.

    ``kind`` is the contract's refusal, or None for an error that is not one (a failed
    activity inside the handler, say); ``error_type`` is the error's type as it came.
    """

    def __init__(self, kind: Refusal | None, error_type: str, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.kind = kind
        self.error_type = error_type
        self.message = message
        self.details = details

    @classmethod
    def from_failure(cls, exc: WorkflowUpdateFailedError) -> UpdateRefusedError:
        cause: BaseException | None = exc.cause
        # an update whose activity failed (an unreadable joiners file): the reason is one level down
        if isinstance(cause, ActivityError) and cause.cause is not None:
            cause = cause.cause
        if isinstance(cause, ApplicationError):
            return cls(
                refusal_of(cause.type),
                cause.type or "",
                cause.message,
                _lines(cause.details),
            )
        return cls(None, type(cause).__name__, str(cause), [])


async def _update(
    handle: WorkflowHandle[object, object],
    name: Update,
    argument: object,
    result_type: type[T],
    *,
    update_id: str | None = None,
    rpc_timeout: timedelta | None = None,
    hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
) -> T:
    # one id for every attempt: a retry after a lost answer is the same update, not a second one
    same_id = update_id or str(uuid.uuid4())

    async def call() -> T:
        result: T = await handle.execute_update(
            name.value, argument, id=same_id, result_type=result_type, rpc_timeout=rpc_timeout
        )
        return result

    try:
        return await retry_rpc(call, hold=hold, what=f"update {name.value} on {handle.id}")
    except WorkflowUpdateFailedError as exc:
        raise UpdateRefusedError.from_failure(exc) from exc


class CycleHandle:
    """An ``AnnualReviewWorkflow`` by id (the cycle id)."""

    def __init__(self, client: Client, cycle_id: str) -> None:
        self.id = cycle_id
        self.handle: WorkflowHandle[object, object] = client.get_workflow_handle(cycle_id)

    async def status(self) -> CycleStatus:
        """The ``status`` query; RPCError NOT_FOUND when there is no such cycle."""
        status: CycleStatus = await self.handle.query(Query.STATUS.value, result_type=CycleStatus)
        return status

    async def decide(self, decision: SignatureDecision, *, update_id: str) -> DecisionReceipt:
        """The CEO signs or requests changes (``decide``); the same id makes a retry the same update."""
        return await _update(self.handle, Update.DECIDE, decision, DecisionReceipt, update_id=update_id)

    async def submit_revision(self, revision: RevisionInput) -> RevisionReceipt:
        """The lead's revised profile (``submit_revision``), checked by the cycle before it is taken."""
        return await _update(self.handle, Update.SUBMIT_REVISION, revision, RevisionReceipt)

    async def documents_viewed(self, viewed: DocumentsViewed) -> None:
        """A document was opened by the page's own script (``documents_viewed`` signal)."""
        await self.handle.signal(Signal.DOCUMENTS_VIEWED.value, viewed)


class BatchHandle:
    """An ``AcknowledgementBatchWorkflow`` by id (``<cycle id>--ack-0007``)."""

    def __init__(self, client: Client, batch_workflow_id: str) -> None:
        self.id = batch_workflow_id
        self.handle: WorkflowHandle[object, object] = client.get_workflow_handle(batch_workflow_id)

    @classmethod
    def of(cls, client: Client, cycle_id: str, batch: int) -> BatchHandle:
        return cls(client, batch_id_for(cycle_id, batch))

    async def page(self, email: str, *, rpc_timeout: timedelta | None = None) -> AckPage | None:
        """What the person's page shows (``page`` query), or None before the batch has started."""
        page: AckPage | None = await self.handle.query(
            Query.PAGE.value, email, result_type=AckPage, rpc_timeout=rpc_timeout
        )
        return page

    async def view(self, *, rpc_timeout: timedelta | None = None) -> BatchView | None:
        """What every page of the batch shows (``batch_view`` query), or None before it has started."""
        view: BatchView | None = await self.handle.query(
            Query.BATCH_VIEW.value, result_type=BatchView, rpc_timeout=rpc_timeout
        )
        return view

    async def progress(self, *, rpc_timeout: timedelta | None = None) -> BatchProgress:
        progress: BatchProgress = await self.handle.query(
            Query.PROGRESS.value, result_type=BatchProgress, rpc_timeout=rpc_timeout
        )
        return progress

    async def acknowledge(
        self,
        acknowledgement: Acknowledgement,
        *,
        update_id: str,
        rpc_timeout: timedelta | None = None,
        hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> AckReceipt:
        """Record "I have read and accept" (``acknowledge``); ``hold`` bounds the updates in flight."""
        return await _update(
            self.handle,
            Update.ACKNOWLEDGE,
            acknowledgement,
            AckReceipt,
            update_id=update_id,
            rpc_timeout=rpc_timeout,
            hold=hold,
        )

    async def acknowledge_group(
        self,
        group: AckGroup,
        *,
        update_id: str,
        rpc_timeout: timedelta | None = None,
        hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> AckGroupReceipt:
        """Record several people's acknowledgements in one update (``acknowledge_group``): one
        outcome each, in order; the group is refused whole only when the batch takes none."""
        return await _update(
            self.handle,
            Update.ACKNOWLEDGE_GROUP,
            group,
            AckGroupReceipt,
            update_id=update_id,
            rpc_timeout=rpc_timeout,
            hold=hold,
        )

    async def staff_changed(self, change: BatchChange) -> None:
        """Joiners to invite and leavers to exclude (``staff_changed``; the campaign sends it)."""
        await self.handle.signal(Signal.STAFF_CHANGED.value, change)


class CampaignHandle:
    """An ``AcknowledgementCampaignWorkflow`` by the id of its cycle."""

    def __init__(self, client: Client, cycle_id: str) -> None:
        self.id = campaign_id_for(cycle_id)
        self.handle: WorkflowHandle[object, object] = client.get_workflow_handle(self.id)

    async def state(self) -> CampaignState:
        """The campaign's own state (``state`` query); RPCError NOT_FOUND when it has none."""
        state: CampaignState = await self.handle.query(Query.STATE.value, result_type=CampaignState)
        return state

    async def change_staff(self, change: StaffChange) -> StaffChangeReceipt:
        """Add joiners and remove leavers (``change_staff``), checked and placed by the campaign."""
        return await _update(self.handle, Update.CHANGE_STAFF, change, StaffChangeReceipt)


class RoleHandle:
    """A ``RoleAcceptanceWorkflow`` by id (``role_acceptance_id_for(cycle_id)``)."""

    def __init__(self, client: Client, workflow_id: str) -> None:
        self.id = workflow_id
        self.handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)

    @classmethod
    def of(cls, client: Client, cycle_id: str) -> RoleHandle:
        return cls(client, role_acceptance_id_for(cycle_id))

    async def page(self, email: str, *, rpc_timeout: timedelta | None = None) -> RolePage | None:
        """What the person's page shows (``role_page`` query); None before the plan is in, or for
        someone not asked; RPCError NOT_FOUND when the cycle has no role acceptance (yet)."""

        async def call() -> RolePage | None:
            page: RolePage | None = await self.handle.query(
                Query.ROLE_PAGE.value, email, result_type=RolePage, rpc_timeout=rpc_timeout
            )
            return page

        return await retry_rpc(call, what=f"query {Query.ROLE_PAGE.value} on {self.id}")

    async def state(self, *, rpc_timeout: timedelta | None = None) -> RoleAcceptanceState:
        """The figures and lines (``role_state`` query); RPCError NOT_FOUND when there is none."""

        async def call() -> RoleAcceptanceState:
            state: RoleAcceptanceState = await self.handle.query(
                Query.ROLE_STATE.value, result_type=RoleAcceptanceState, rpc_timeout=rpc_timeout
            )
            return state

        return await retry_rpc(call, what=f"query {Query.ROLE_STATE.value} on {self.id}")

    async def answer(
        self,
        answer: RoleAnswer,
        *,
        update_id: str,
        rpc_timeout: timedelta | None = None,
        hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> RoleReceipt:
        """Accept or decline (``answer_role``); the same id makes a retry (or a double click) the
        same update, answered with the first receipt; ``hold`` bounds the updates in flight."""
        return await _update(
            self.handle,
            Update.ANSWER_ROLE,
            answer,
            RoleReceipt,
            update_id=update_id,
            rpc_timeout=rpc_timeout,
            hold=hold,
        )
