"""The contract with the workflows is the only place their names and refusals are written.

The source tree (outside ``core/contract.py`` and the tests) must call no query, signal or
update by a string literal, and must not recognise a refusal by the words of its message; the
workflows must register exactly the contract's names, which are the names the committed
histories recorded; each activity's non-retryable errors are contract types.
"""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.common import RetryPolicy

from activities import archive, campaign, documents, mail, signing
from core.contract import Failure, Message, Query, Refusal, Signal, Update, WorkflowType, refusal
from workflows import acknowledgement as ack_workflows
from workflows import annual_review
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow
from workflows.annual_review import AnnualReviewWorkflow
from workflows.scheduled import ScheduledReviewWorkflow
from workflows.stack_check import StackCheckWorkflow

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "replay" / "histories"
HANDLER_NAMES = {str(name) for kind in (Query, Signal, Update) for name in kind}
WORKFLOW_NAMES = {str(name) for name in WorkflowType}
# calls whose first argument names a handler, or a workflow type
ADDRESSING_CALLS = {"query", "signal", "execute_update", "start_update", "get_update_handle"}
STARTING_CALLS = {"start_workflow", "execute_workflow", "start_child_workflow", "ScheduleActionStartWorkflow"}
MATCHING_CALLS = {"startswith", "endswith", "removeprefix"}


def _source_files() -> list[Path]:
    skipped = {".venv", "tests", ".git", "node_modules"}
    return sorted(
        path
        for path in ROOT.rglob("*.py")
        if not skipped & set(path.relative_to(ROOT).parts) and path != ROOT / "core" / "contract.py"
    )


def _message_leads() -> set[str]:
    """What a refusal's message starts with, up to its first field, colon or bracket."""
    leads = set()
    for name, text in vars(Message).items():
        if name.startswith("_") or not isinstance(text, str):
            continue
        literal = next(iter(string.Formatter().parse(text)))[0]
        for stop in (":", "(", ";"):
            literal = literal.split(stop)[0]
        leads.add(literal.strip().casefold())
    return {lead for lead in leads if lead}


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for element in node.elts for s in _strings(element)]
    return []


def violations(source: str, where: str) -> list[str]:
    """Handler names passed as literals, and refusal messages matched by their words, in ``source``."""
    found: list[str] = []
    leads = _message_leads()

    def refusal_words(text: str) -> bool:
        folded = text.strip().casefold()
        return bool(folded) and any(lead.startswith(folded) or folded.startswith(lead) for lead in leads)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in STARTING_CALLS:
                found += [
                    f"{where}:{node.lineno}: {called}({literal!r}) names a workflow type by a string"
                    for literal in _strings(node.args[0])
                    if literal in WORKFLOW_NAMES
                ]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in ADDRESSING_CALLS and node.args:
                found += [
                    f"{where}:{node.lineno}: {name}({literal!r}) names a handler by a string"
                    for literal in _strings(node.args[0])
                    if literal in HANDLER_NAMES
                ]
            if name in MATCHING_CALLS:
                found += [
                    f"{where}:{node.lineno}: {name}({literal!r}) reads a refusal's wording"
                    for argument in node.args
                    for literal in _strings(argument)
                    if refusal_words(literal)
                ]
        if isinstance(node, ast.Compare):
            found += [
                f"{where}:{node.lineno}: compares with {literal!r}, a refusal's wording"
                for part in [node.left, *node.comparators]
                for literal in _strings(part)
                if len(literal) >= 6 and refusal_words(literal)
            ]
    return found


def test_the_scanner_finds_what_the_code_used_to_do() -> None:
    """It would have failed on the code before the contract (so it can fail)."""
    before = """
async def old(handle, reason):
    await handle.query("status", result_type=CycleStatus)
    await handle.execute_update("acknowledge", ack, id="x")
    await handle.signal("documents_viewed", viewed)
    await client.start_workflow("AnnualReviewWorkflow", data, id=cycle_id)
    if reason.startswith(("already signed", "superseded", "not awaiting")):
        pass
    if reason.startswith("already acknowledged") or reason == "closed: the acknowledgement campaign has closed":
        pass
"""
    found = violations(before, "old.py")
    assert len(found) == 9, found  # a workflow type, three handlers, four startswith, one comparison


def test_no_handler_name_or_refusal_wording_outside_the_contract() -> None:
    files = _source_files()
    assert len(files) > 50, "the scan found too few files to mean anything"
    found = [v for path in files for v in violations(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, "\n".join(found)


def test_validators_raise_typed_refusals_never_value_errors() -> None:
    for module in (annual_review, ack_workflows):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        raised = [
            node.exc.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and isinstance(node.exc.func, ast.Name)
        ]
        assert "ValueError" not in raised, module.__name__


@pytest.mark.parametrize(
    ("cls", "name", "queries", "signals", "updates"),
    [
        (AnnualReviewWorkflow, WorkflowType.ANNUAL_REVIEW, {Query.STATUS}, {Signal.DOCUMENTS_VIEWED},
         {Update.DECIDE, Update.SUBMIT_REVISION}),
        (AcknowledgementCampaignWorkflow, WorkflowType.CAMPAIGN, {Query.STATE}, set(), {Update.CHANGE_STAFF}),
        (AcknowledgementBatchWorkflow, WorkflowType.BATCH, {Query.PROGRESS, Query.PAGE, Query.BATCH_VIEW},
         {Signal.STAFF_CHANGED}, {Update.ACKNOWLEDGE, Update.ACKNOWLEDGE_GROUP}),
        (ScheduledReviewWorkflow, WorkflowType.SCHEDULED_REVIEW, set(), set(), set()),
        (StackCheckWorkflow, WorkflowType.STACK_CHECK, set(), set(), set()),
    ],
)  # fmt: skip
def test_workflows_register_the_contract_names(
    cls: type, name: str, queries: set[str], signals: set[str], updates: set[str]
) -> None:
    defn = workflow._Definition.must_from_class(cls)
    assert defn.name == name
    assert set(defn.queries) == queries
    assert set(defn.signals) == signals
    assert set(defn.updates) == updates


def test_committed_histories_use_only_contract_names() -> None:
    """The contract's strings are the recorded ones: renaming a handler breaks running cycles."""
    seen: dict[str, set[str]] = {"workflow": set(), "signal": set(), "update": set()}
    for path in HISTORIES.glob("*.json"):
        for event in json.loads(path.read_text())["events"]:
            attributes: dict[str, Any] = next((v for k, v in event.items() if k.endswith("Attributes")), {})
            if "workflowType" in attributes:
                seen["workflow"].add(attributes["workflowType"]["name"])
            if "signalName" in attributes:
                seen["signal"].add(attributes["signalName"])
            if request := attributes.get("acceptedRequest"):
                seen["update"].add(request["input"]["name"])
    assert seen["workflow"], seen
    assert seen["update"], seen
    assert seen["workflow"] <= {str(w) for w in WorkflowType}
    assert seen["signal"] <= {str(s) for s in Signal}
    assert seen["update"] <= {str(u) for u in Update}


def test_each_activity_lists_its_non_retryable_errors_from_the_contract() -> None:
    lists = [
        documents.CHECK_DOCUMENTS_NON_RETRYABLE,
        documents.RENDER_DOCUMENTS_NON_RETRYABLE,
        mail.SEND_EMAIL_NON_RETRYABLE,
        archive.ARCHIVE_OBJECTS_NON_RETRYABLE,
        signing.SIGN_DOCUMENTS_NON_RETRYABLE,
        campaign.FREEZE_DIRECTORY_NON_RETRYABLE,
        campaign.PLAN_STAFF_CHANGE_NON_RETRYABLE,
        campaign.SEND_CAMPAIGN_MAIL_NON_RETRYABLE,
        campaign.CAMPAIGN_FIGURES_NON_RETRYABLE,
    ]
    failures = {str(f) for f in Failure}
    for listed in lists:
        assert set(listed) <= failures, listed
    assert not hasattr(mail, "NON_RETRYABLE_ERRORS")
    # the workflows' policies are made of those lists, never of a hand-copied one
    policies = [
        value
        for module in (annual_review, ack_workflows)
        for value in vars(module).values()
        if isinstance(value, RetryPolicy)
    ]
    assert len(policies) >= 10
    for policy in policies:
        assert policy.non_retryable_error_types is not None
        assert set(policy.non_retryable_error_types) <= failures
        assert any(policy.non_retryable_error_types is listed for listed in lists) or not (
            policy.non_retryable_error_types
        ), policy


def test_a_refusal_carries_its_type_and_the_contract_wording() -> None:
    error = refusal(Refusal.ALREADY_ACKNOWLEDGED)
    assert (error.type, error.message) == (Refusal.ALREADY_ACKNOWLEDGED.value, Message.ALREADY_ACKNOWLEDGED)
    detailed = refusal(Refusal.STAFF_CHANGE_REFUSED, "two problems", ["a", "b"])
    assert detailed.type == "StaffChangeRefused"
    assert list(detailed.details) == [["a", "b"]]
