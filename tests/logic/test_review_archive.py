"""AnnualReviewWorkflow's logic after the signature: stages, the archive stages, the campaign, the result."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import WorkflowHandle

from models.archive import ArchiveInput, ChainRequest
from models.campaign import Acknowledgement, CampaignInput, batch_id_for, signed_version_hash
from models.cycle import AnnualReviewResult, CycleStatus, Stage
from tests.logic.scenario import CEO, DAY, LEAD, Tier, email, invited, sign, staff
from tests.logic.standins import DOCUMENTS
from workflows.acknowledgement import AcknowledgementBatchWorkflow
from workflows.annual_review import AnnualReviewWorkflow

FOLDERS = ["information-security-policy/v3.0", "isms-roles-and-responsibilities/v3.0"]


async def _acknowledge(tier: Tier, cycle_id: str, status: CycleStatus, person: str) -> None:
    assert status.signed is not None
    documents = {d.name: d.pdf.sha256 for d in status.signed.documents}
    link = uuid.uuid4().hex
    await tier.env.client.get_workflow_handle(batch_id_for(cycle_id, 1)).execute_update(
        AcknowledgementBatchWorkflow.acknowledge,
        Acknowledgement(person=person, version_hash=signed_version_hash(documents), link_id=link),
        id=f"ack-{link}",
    )


async def _signed(tier: Tier, handle: WorkflowHandle[AnnualReviewWorkflow, object]) -> CycleStatus:
    status = await tier.wait_status(handle, invited)
    await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
    signed = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    await tier.standins.wait_calls("send_campaign_mail")  # the campaign's batch is inviting its people
    return signed


async def test_the_stages_from_checking_to_closed(tier: Tier) -> None:
    standins = tier.standins
    seen: list[Stage] = []
    async with standins.holding("check_documents") as held:
        handle = await tier.start_review()
        await asyncio.wait_for(held.entered.wait(), 15)
        seen.append((await tier.status(handle)).stage)
        async with standins.holding("render_documents") as rendering:
            held.released.set()
            await asyncio.wait_for(rendering.entered.wait(), 15)
            seen.append((await tier.status(handle)).stage)
    status = await tier.wait_status(handle, invited)
    seen.append(status.stage)
    async with standins.holding("sign_documents") as signing:
        await handle.execute_update(AnnualReviewWorkflow.decide, sign(status))
        await asyncio.wait_for(signing.entered.wait(), 15)
        during = await tier.status(handle)
        seen.append(during.stage)
        assert during.waiting_on == ""
        assert during.signed is None
    async with standins.holding("archive_objects") as archiving:
        await asyncio.wait_for(archiving.entered.wait(), 15)
        seen.append((await tier.status(handle)).stage)
    acknowledging = await tier.wait_status(handle, lambda s: s.stage is Stage.ACKNOWLEDGING)
    seen.append(acknowledging.stage)
    await tier.sleep(29 * DAY)
    result = await handle.result()
    final = await tier.status(handle)
    seen.append(final.stage)
    assert seen == [
        Stage.CHECKING,
        Stage.RENDERING,
        Stage.AWAITING_SIGNATURE,
        Stage.SIGNING,
        Stage.SIGNED,
        Stage.ACKNOWLEDGING,
        Stage.CLOSED,
    ]
    assert isinstance(result, AnnualReviewResult)
    assert (result.cycle_id, result.version, result.rounds) == (handle.id, "3.0", 1)
    assert final.campaign is not None
    assert final.campaign == result.campaign
    assert [e.event for e in final.events][-4:] == [
        "archived",
        "campaign started",
        "campaign closed",
        "archived",
    ]


async def test_the_signed_version_and_then_the_register_are_archived(tier: Tier) -> None:
    standins = tier.standins
    people = staff(5)
    handle = await tier.start_review(staff_directory=standins.directory(people))
    signed = await _signed(tier, handle)
    assert signed.signed is not None
    decided = next(e.at for e in signed.events if e.event == "signed")

    (first,) = standins.of("archive_objects")
    request = first.data
    assert isinstance(request, ArchiveInput)
    assert (request.cycle_id, request.organisation, request.year) == (handle.id, "larkspur", 2026)
    assert request.stage == "signed-v3.0"
    expected = []
    for document, draft, folder in zip(signed.signed.documents, signed.documents, FOLDERS, strict=True):
        expected += [
            (f"{folder}/document.docx", document.docx),
            (f"{folder}/document.pdf", document.pdf),
            (f"{folder}/certificate.pdf", signed.signed.certificate),
            (f"{folder}/evidence.json", signed.signed.evidence),
            (f"{folder}/draft-shown.docx", draft.docx),  # what the CEO saw, its hash in the signature
        ]
    assert [(f.shown_file, f.shown_sha256) for f in request.facts.document_facts] == [
        ("draft-shown.docx", draft.shown_sha256) for draft in signed.documents
    ]
    # the first manifest of the cycle's chain, naming the acknowledgements' as its successor
    assert request.chain == ChainRequest(previous=None, position=0, next_stage="acknowledgements-v3.0")
    render = standins.of("render_documents")[0].data
    manifest = [item for item in request.items if item.name == "render-manifest/v3.0.json"]
    assert [(item.name, item.source) for item in request.items if item not in manifest] == expected
    assert len(manifest) == 1
    assert manifest[0].source.key.endswith("render-manifest.json")
    assert manifest[0].source.key.startswith(f"drafts/{render.cycle_id}/")
    assert request.seal_certificate_in == FOLDERS
    assert request.facts.version == "3.0"
    assert request.facts.documents == [d.removesuffix(".docx") for d in DOCUMENTS]
    assert request.facts.signer == f"{CEO.name}, {CEO.title} <{CEO.email}>"
    assert request.facts.signed_at == decided
    assert request.facts.reason == "annual review 2026"
    assert len(signed.archive) == 1
    assert signed.archive[0].manifest.key == "larkspur/2026/manifests/signed-v3.0.json"

    for person in (email(1), email(2)):
        await _acknowledge(tier, handle.id, signed, person)
    await tier.sleep(29 * DAY)
    result = await handle.result()
    assert isinstance(result, AnnualReviewResult)
    assert result.campaign is not None
    second = standins.of("archive_objects")[1].data
    assert isinstance(second, ArchiveInput)
    assert second.stage == "acknowledgements-v3.0"
    assert [(item.name, item.source) for item in second.items] == [
        ("acknowledgements/v3.0/register.csv", result.campaign.register_csv),
        ("acknowledgements/v3.0/register.json", result.campaign.register_json),
        ("acknowledgements/v3.0/report.html", result.campaign.report),
        ("acknowledgements/v3.0/report.md", result.campaign.report_markdown),
    ]
    assert (second.facts.in_scope, second.facts.acknowledged, second.facts.rate_text) == (5, 2, "40.0%")
    # it follows the signed version's manifest and closes the chain
    assert second.chain == ChainRequest(previous=signed.archive[0].manifest, position=1, next_stage=None)
    assert [a.manifest.key for a in result.archive] == [
        "larkspur/2026/manifests/signed-v3.0.json",
        "larkspur/2026/manifests/acknowledgements-v3.0.json",
    ]
    final = await tier.status(handle)
    assert final.archive_problems == []
    closed = [e for e in final.events if e.event == "campaign closed"]
    assert [e.detail for e in closed] == ["2 of 5 acknowledged (40.0%)"]


async def test_an_archive_refusal_is_recorded_for_the_lead_and_the_cycle_goes_on(tier: Tier) -> None:
    standins = tier.standins
    conflict = "information-security-policy/v3.0/document.pdf: a different object is already archived"
    standins.refuse_archive["signed-v3.0"] = conflict
    handle = await tier.start_review(reason="significant change: acquired Nimbus Ltd")
    signed = await _signed(tier, handle)
    assert signed.archive_problems == [f"signed-v3.0: {conflict}"]
    assert signed.archive == []
    refused = [e for e in signed.events if e.event == "archive refused"]
    assert [e.detail for e in refused] == [f"signed-v3.0: {conflict}"]
    assert "archived" not in [e.event for e in signed.events]
    assert signed.events[0].detail == "significant change: acquired Nimbus Ltd"
    assert standins.of("archive_objects")[0].data.facts.reason == "significant change: acquired Nimbus Ltd"

    await tier.sleep(29 * DAY)
    result = await handle.result()
    assert isinstance(result, AnnualReviewResult)
    assert [a.manifest.key for a in result.archive] == ["larkspur/2026/manifests/acknowledgements-v3.0.json"]
    final = await tier.status(handle)
    assert final.stage is Stage.CLOSED
    assert final.archive_problems == [f"signed-v3.0: {conflict}"]
    assert [c.data.stage for c in standins.of("archive_objects")] == ["signed-v3.0", "acknowledgements-v3.0"]
    # nothing was archived before it: it begins the cycle's chain (verify FAILs a chain without the signature)
    assert standins.of("archive_objects")[1].data.chain == ChainRequest(position=0)
    assert [
        m.key.rsplit("/", 1)[-1] for m in standins.mails(lambda m: m.key.startswith(handle.id + "/round"))
    ] == [
        "invitation",
        "signed",
    ]
    assert LEAD.email in standins.mails(lambda m: m.key.endswith("/round-1/signed"))[0].to


async def test_the_campaign_gets_the_signed_version(tier: Tier) -> None:
    standins = tier.standins
    handle = await tier.start_review(staff_directory=standins.directory(staff(3)))
    signed = await _signed(tier, handle)
    assert signed.signed is not None
    history = await tier.env.client.get_workflow_handle(f"{handle.id}--campaign").fetch_history()
    attributes = history.events[0].workflow_execution_started_event_attributes
    (payload,) = attributes.input.payloads
    data = CampaignInput.model_validate_json(payload.data)
    documents = {d.name: d.pdf.sha256 for d in signed.signed.documents}
    assert data.signed.documents == documents
    assert data.signed.version_hash == signed_version_hash(documents)
    assert data.signed.version == "3.0"
    assert (data.lead, data.signer) == (LEAD, CEO)
    assert data.signed_at == next(e.at for e in signed.events if e.event == "signed")
    invitations = await standins.wait(
        lambda: standins.mails(lambda m: m.template == "staff_invitation") or None, what="staff invitations"
    )
    assert {m.to[0] for m in invitations} == {p.email for p in staff(3)}
    assert {m.version_hash for m in invitations} == {data.signed.version_hash}
