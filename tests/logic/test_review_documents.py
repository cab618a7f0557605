"""AnnualReviewWorkflow with a documents section: N documents from the door to the campaign and archive.

A four-document profile (the policy on the organisation's own template, the built-in roles
template, a static Acceptable Use Policy PDF that the CEO does not sign, a Secure Development
Policy for Engineering only): its files reach every document activity, the CEO's decision
covers the set (and a request for changes may name documents), the campaign is told each
document's title, version and audience, and the archive has a folder per document id.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from adapters.workflow_client import UpdateRefusedError
from core.contract import Failure, Refusal
from models.archive import ArchiveInput
from models.campaign import CampaignInput, campaign_id_for
from models.cycle import RevisionInput, Stage
from models.documents import CheckDocumentsInput, RenderDocumentsInput
from models.profile import ROLES_DOCUMENT, Audience, DocumentEntry, DocumentKind
from models.signing import SignDocumentsInput
from models.storage import StoredObject
from tests.logic.scenario import LEAD, Tier, invited, refusal, request_changes, routing, sign
from tests.logic.standins import DOCUMENTS
from workflows.annual_review import AnnualReviewWorkflow

POLICY = DocumentEntry(id="information-security-policy", template="templates/policy.docx")
ROLES = DocumentEntry(id=ROLES_DOCUMENT, acknowledges=False)
AUP = DocumentEntry(
    id="acceptable-use-policy",
    title="Acceptable Use Policy",
    kind=DocumentKind.STATIC,
    file="policies/aup.pdf",
    version="2.1",
    signs=False,
)
SDP = DocumentEntry(
    id="secure-development-policy",
    title="Secure Development Policy",
    template="templates/sdp.docx",
    audience=Audience(departments=["Engineering"]),
)
FOUR = [POLICY, ROLES, AUP, SDP]
NAMES = [
    "information-security-policy.docx",
    "isms-roles-responsibilities.docx",
    "acceptable-use-policy.pdf",
    "secure-development-policy.docx",
]


def _files(tier: Tier, seed: str = "") -> dict[str, StoredObject]:
    standins = tier.standins
    return {
        POLICY.id: standins.document_file("policy.docx", seed=seed),
        AUP.id: standins.document_file("aup.pdf", seed=seed),
        SDP.id: standins.document_file("sdp.docx", seed=seed),
    }


async def _campaign_input(tier: Tier, cycle_id: str) -> CampaignInput:
    """The SignedVersion the review gave its campaign: the child's own start input."""
    client = tier.env.client
    history = await client.get_workflow_handle(campaign_id_for(cycle_id)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (data,) = await client.data_converter.decode(started.input.payloads, [CampaignInput])
    assert isinstance(data, CampaignInput)
    return data


async def _start(
    tier: Tier, files: dict[str, StoredObject], *, version: str = "3.0"
) -> WorkflowHandle[AnnualReviewWorkflow, object]:
    profile = tier.standins.profile(routing(version), documents=FOUR)
    return await tier.start_review(profile=profile, document_files=files)


async def test_four_documents_carry_their_files_to_each_activity_and_the_ceo_signs_the_set(
    tier: Tier,
) -> None:
    standins = tier.standins
    files = _files(tier)
    handle = await _start(tier, files)
    status = await tier.wait_status(handle, invited)
    assert [d.name for d in status.documents] == NAMES
    assert [d.title for d in status.documents] == [
        "information-security-policy",
        "isms-roles-responsibilities",
        "Acceptable Use Policy",
        "Secure Development Policy",
    ]
    aup = status.documents[2]
    assert aup.docx is None
    assert aup.shown_sha256 == aup.pdf.sha256 == files[AUP.id].sha256
    (check,) = standins.of("check_documents")
    (render,) = standins.of("render_documents")
    assert isinstance(check.data, CheckDocumentsInput)
    assert isinstance(render.data, RenderDocumentsInput)
    assert check.data.document_files == files
    assert render.data.document_files == files
    invitation = await standins.wait_mail(f"{handle.id}/round-1/invitation")
    assert invitation.context["documents"] == NAMES

    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    signed = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    (signing,) = standins.of("sign_documents")
    assert isinstance(signing.data, SignDocumentsInput)
    assert signing.data.document_files == files
    # one decision for the set: every document, each with the SHA-256 the CEO was shown
    assert signing.data.shown_documents == {d.name: d.shown_sha256 for d in status.documents}
    assert len(signing.data.shown_documents) == 4

    assert signed.signed is not None
    campaign = await _campaign_input(tier, handle.id)
    version = campaign.signed
    assert version.documents == {d.name: d.pdf.sha256 for d in signed.signed.documents}
    assert set(version.pdfs) == set(NAMES)
    assert version.titles == {d.name: d.title for d in status.documents}
    assert version.versions == dict(zip(NAMES, ["3.0", "3.0", "2.1", "3.0"], strict=True))
    # the roles document is not acknowledged by staff: it is not in the audiences
    assert version.audiences == {
        NAMES[0]: Audience(),
        NAMES[2]: Audience(),
        NAMES[3]: Audience(departments=["Engineering"]),
    }

    (archiving,) = await standins.wait_calls("archive_objects")
    request = archiving.data
    assert isinstance(request, ArchiveInput)
    folders = [f"{Path(name).stem}/v3.0" for name in NAMES]
    assert request.seal_certificate_in == folders
    names = [item.name for item in request.items]
    for folder in folders:
        assert f"{folder}/document.pdf" in names
        assert f"{folder}/certificate.pdf" in names
        assert f"{folder}/evidence.json" in names
    assert "acceptable-use-policy/v3.0/document.docx" not in names  # a static PDF has no Word file
    assert "secure-development-policy/v3.0/document.docx" in names
    assert request.facts.documents == [Path(name).stem for name in NAMES]
    facts = {f.id: f for f in request.facts.document_facts}
    assert list(facts) == request.facts.documents
    assert (facts[AUP.id].title, facts[AUP.id].version, facts[AUP.id].kind) == (
        "Acceptable Use Policy",
        "2.1",
        "static",
    )
    assert (facts[AUP.id].signed, facts[AUP.id].docx_sha256) == (False, None)
    assert facts[SDP.id].audience == "Engineering"
    assert facts[ROLES.id].acknowledges is False
    by_name = {d.name: d for d in signed.signed.documents}
    for name in NAMES:
        assert facts[Path(name).stem].pdf_sha256 == by_name[name].pdf.sha256


async def test_a_request_for_changes_names_documents_and_the_revision_brings_new_files(tier: Tier) -> None:
    standins = tier.standins
    files = _files(tier)
    handle = await _start(tier, files)
    first = await tier.wait_status(handle, invited)

    message = await refusal(
        handle.execute_update(
            AnnualReviewWorkflow.decide,
            request_changes(first, "Fix it", documents=["secure-development.docx"]),
        ),
        Refusal.UNKNOWN_DOCUMENT,
    )
    assert "secure-development.docx" in message
    assert "secure-development-policy.docx" in message  # the names it does have
    unchanged = await tier.status(handle)
    assert unchanged.stage is Stage.AWAITING_SIGNATURE
    assert "changes requested" not in [e.event for e in unchanged.events]

    named = [NAMES[2], NAMES[3], NAMES[2]]
    await handle.execute_update(
        AnnualReviewWorkflow.decide, request_changes(first, "Update both policies", documents=named)
    )
    waiting = await tier.wait_status(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    assert waiting.last_comment_documents == [NAMES[2], NAMES[3]]
    requested = next(e for e in waiting.events if e.event == "changes requested")
    assert requested.detail == f"Update both policies (about: {NAMES[2]}, {NAMES[3]})"
    to_lead = await standins.wait_mail(f"{handle.id}/round-1/changes-requested")
    assert to_lead.context["named_documents"] == [
        "Acceptable Use Policy (acceptable-use-policy.pdf)",
        "Secure Development Policy (secure-development-policy.docx)",
    ]

    # a revision that leaves out a file its profile names is refused; nothing changes
    revised = standins.profile(routing("3.1"), documents=FOUR)
    new_files = _files(tier, seed="revised")
    incomplete = {k: v for k, v in new_files.items() if k != SDP.id}
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(
            AnnualReviewWorkflow.submit_revision,
            RevisionInput(profile=revised, submitted_by=LEAD.email, document_files=incomplete),
        )
    refused = UpdateRefusedError.from_failure(failed.value)
    assert refused.error_type == Failure.UNREADABLE_INPUT
    assert refused.details == [
        f"{SDP.id}: the profile names 'templates/sdp.docx', which was not uploaded with it"
    ]
    assert (await tier.status(handle)).stage is Stage.AWAITING_REVISION

    accepted = await handle.execute_update(
        AnnualReviewWorkflow.submit_revision,
        RevisionInput(profile=revised, submitted_by=LEAD.email, document_files=new_files),
    )
    assert accepted.round == 2
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert second.last_comment_documents == [NAMES[2], NAMES[3]]  # the round's request, kept for the lead
    renders = standins.of("render_documents")
    assert [r.data.document_files for r in renders] == [files, new_files]
    checks = [c.data.document_files for c in standins.of("check_documents")]
    assert checks == [files, incomplete, new_files, new_files]  # start, refused, the update's, the round's
    policy = second.documents[0]
    assert policy.template_sha256 == new_files[POLICY.id].sha256
    assert second.documents[2].pdf == new_files[AUP.id]

    await handle.execute_update(AnnualReviewWorkflow.decide, sign(second))
    await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    (signing,) = standins.of("sign_documents")
    assert signing.data.document_files == new_files
    assert signing.data.version == "3.1"


async def test_a_revision_onto_the_built_in_templates_drops_the_files(tier: Tier) -> None:
    """The revision's files replace the set: a profile that names none is rendered from none."""
    standins = tier.standins
    handle = await _start(tier, _files(tier))
    first = await tier.wait_status(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, request_changes(first, "Use the standard text"))
    await tier.wait_status(handle, lambda s: s.stage is Stage.AWAITING_REVISION)
    plain = standins.profile(routing("3.1"))
    await handle.execute_update(
        AnnualReviewWorkflow.submit_revision, RevisionInput(profile=plain, submitted_by=LEAD.email)
    )
    second = await tier.wait_status(handle, lambda s: invited(s) and s.round == 2)
    assert [d.name for d in second.documents] == list(DOCUMENTS)
    assert second.last_comment_documents == []
    render = standins.of("render_documents")[-1].data
    assert render.document_files == {}
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(second))
    await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    assert standins.of("sign_documents")[0].data.document_files == {}
    version = (await _campaign_input(tier, handle.id)).signed
    # a render from before documents had titles: names only, everyone acknowledges everything
    assert version.titles == {}
    assert version.audiences is None


async def test_the_two_built_in_documents_for_everyone_keep_the_campaign_as_it_was(tier: Tier) -> None:
    """A profile without a documents section: the campaign's version has no audiences (None), so
    it invites, words and records exactly as before; one narrowing of either makes it per document."""
    policy = DocumentEntry(id="information-security-policy", title="Information Security Policy")
    roles = DocumentEntry(id=ROLES_DOCUMENT, title="ISMS Roles, Responsibilities and Authorities")
    shapes: list[tuple[list[DocumentEntry], dict[str, Audience] | None]] = [
        ([policy, roles], None),
        (
            [policy, roles.model_copy(update={"audience": Audience(departments=["Finance"])})],
            {NAMES[0]: Audience(), NAMES[1]: Audience(departments=["Finance"])},
        ),
    ]
    for documents, expected in shapes:
        profile = tier.standins.profile(routing(), documents=documents)
        handle = await tier.start_review(profile=profile)
        status = await tier.wait_status(handle, invited)
        await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
        await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
        version = (await _campaign_input(tier, handle.id)).signed
        assert version.audiences == expected
        assert version.titles == {NAMES[0]: policy.title, NAMES[1]: roles.title}
        await handle.terminate("test over")
