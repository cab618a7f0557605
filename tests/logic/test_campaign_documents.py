"""The campaign carries several documents, each to its audience.

The version a campaign gets since the profile's documents section names each document staff
acknowledge with its audience (``SignedVersion.audiences``): each person is asked for the
documents whose audience selects them, and only those; a person no document is for is not
invited; the acknowledge Update takes exactly the person's own set; a joiner gets theirs the
same way. A version signed before (``audiences`` None) runs exactly as it always did.
"""

from __future__ import annotations

from core.contract import Refusal
from models.campaign import (
    ACKNOWLEDGEMENT_TEXT,
    DOCUMENTS_ACKNOWLEDGEMENT_TEXT,
    AckPage,
    CampaignInput,
    CampaignResult,
    PersonRecord,
    StaffChange,
    batch_id_for,
)
from models.profile import Audience
from models.staff import Person
from tests.logic.scenario import (
    DAY,
    LEAD,
    Tier,
    acknowledge,
    email,
    hr_staff,
    invitations,
    progress,
    refusal,
    signed_documents,
    state,
    step,
)
from workflows.acknowledgement import AcknowledgementBatchWorkflow, AcknowledgementCampaignWorkflow

POLICY = "information-security-policy.docx"
AUP = "acceptable-use-policy.pdf"
SDP = "secure-development-policy.docx"
ENGINEERING = Audience(departments=["Engineering"])
# the policy and the AUP for everyone, the Secure Development Policy for Engineering only
TWO_AUDIENCES = signed_documents(
    {
        POLICY: ("Information Security Policy", "3.0", Audience()),
        AUP: ("Acceptable Use Policy", "2024.2", Audience()),
        SDP: ("Secure Development Policy", "1.4", ENGINEERING),
    }
)
# a version whose only document staff acknowledge is for Engineering
ENGINEERS_ONLY = signed_documents({SDP: ("Secure Development Policy", "1.4", ENGINEERING)})


def _line(data: CampaignInput, name: str) -> str:
    signed = data.signed
    return f"{signed.titles[name]}, version {signed.versions[name]} (SHA-256 {signed.documents[name]})"


async def _page(tier: Tier, data: CampaignInput, person: str) -> AckPage:
    batch = tier.env.client.get_workflow_handle(batch_id_for(data.cycle_id, 1))
    page: AckPage | None = await batch.query(AcknowledgementBatchWorkflow.page, person)
    assert page is not None
    return page


def _own(data: CampaignInput, *names: str) -> dict[str, str]:
    return {name: data.signed.documents[name] for name in names}


async def test_two_audiences_each_person_is_asked_for_their_own_documents(tier: Tier) -> None:
    people = hr_staff({"Engineering": 3, "Sales": 2})  # person000-002 engineers, 003-004 sales
    handle, data = await tier.start_campaign(people, signed=TWO_AUDIENCES)
    sent = {mail.to[0]: mail for mail in await invitations(tier, 5)}
    assert set(sent) == {person.email for person in people}
    engineer, seller = sent[email(0)], sent[email(3)]
    assert engineer.context["documents"] == [_line(data, POLICY), _line(data, AUP), _line(data, SDP)]
    assert seller.context["documents"] == [_line(data, POLICY), _line(data, AUP)]

    page = await _page(tier, data, email(3))
    assert page.documents == _own(data, POLICY, AUP)
    assert set(page.pdfs) == {POLICY, AUP}
    assert page.withheld == [SDP]
    assert page.titles == {POLICY: "Information Security Policy", AUP: "Acceptable Use Policy"}
    assert page.versions == {POLICY: "3.0", AUP: "2024.2"}
    assert page.statement == DOCUMENTS_ACKNOWLEDGEMENT_TEXT
    engineer_page = await _page(tier, data, email(1))
    assert list(engineer_page.documents) == [POLICY, AUP, SDP]
    assert engineer_page.withheld == []

    await acknowledge(tier, data, email(0), documents=_own(data, POLICY, AUP, SDP))
    await acknowledge(tier, data, email(3), documents=_own(data, POLICY, AUP))
    figures = await tier.until(lambda: progress(tier, data), lambda f: f.tally.acknowledged == 2)
    assert (figures.tally.total, figures.tally.acknowledged) == (5, 2)
    assert {name: (t.total, t.acknowledged, t.outstanding) for name, t in figures.by_document.items()} == {
        POLICY: (5, 2, 3),
        AUP: (5, 2, 3),
        SDP: (3, 1, 2),  # of the three engineers
    }
    current = await state(handle)
    assert [(d.name, d.title, d.version, d.audience) for d in current.documents] == [
        (POLICY, "Information Security Policy", "3.0", "everyone in scope"),
        (AUP, "Acceptable Use Policy", "2024.2", "everyone in scope"),
        (SDP, "Secure Development Policy", "1.4", "Engineering"),
    ]
    assert current.no_documents == 0

    # the register: what each one acknowledged, document by document
    await tier.sleep(29 * DAY)
    await tier.standins.wait_calls("close_campaign")
    (close,) = tier.standins.of("close_campaign")
    records: dict[str, PersonRecord] = {
        r.email: r for ref in close.data.batches for r in tier.standins.records(ref)
    }
    assert [(d.id, d.version, d.sha256) for d in records[email(0)].acknowledged_documents] == [
        ("information-security-policy", "3.0", data.signed.documents[POLICY]),
        ("acceptable-use-policy", "2024.2", data.signed.documents[AUP]),
        ("secure-development-policy", "1.4", data.signed.documents[SDP]),
    ]
    assert [d.id for d in records[email(3)].acknowledged_documents] == [
        "information-security-policy",
        "acceptable-use-policy",
    ]
    assert records[email(4)].acknowledged_documents == []
    assert records[email(4)].acknowledges == [POLICY, AUP]
    result = await handle.result()
    assert isinstance(result, CampaignResult)
    assert (result.by_document[SDP].total, result.by_document[SDP].acknowledged) == (3, 1)
    assert (result.by_document[AUP].total, result.by_document[AUP].acknowledged) == (5, 2)


async def test_a_person_no_document_is_for_is_not_invited_nor_counted(tier: Tier) -> None:
    people = hr_staff({"Engineering": 2, "Sales": 3})
    handle, data = await tier.start_campaign(people, signed=ENGINEERS_ONLY)
    sent = await invitations(tier, 2)
    current = await tier.until(lambda: state(handle), lambda s: s.no_documents == 3)
    figures = await tier.until(lambda: progress(tier, data), lambda f: f.invited == 2)
    assert sorted(mail.to[0] for mail in sent) == [email(0), email(1)]
    assert current.batches == 1
    assert figures.tally.total == 2, "the three in Sales are in no figure"
    assert figures.by_document[SDP].total == 2
    page = await _page(tier, data, email(3))
    assert page.person is None
    await refusal(acknowledge(tier, data, email(3), documents={}), Refusal.NOT_IN_CAMPAIGN)
    await tier.sleep(6 * DAY)  # the first reminder goes to the engineers only
    assert sorted(mail.to[0] for mail in step(tier, "reminder-1")) == [email(0), email(1)]
    assert [m for m in tier.standins.mail if m.to[0] in {email(2), email(3), email(4)}] == []


async def test_the_validator_takes_exactly_the_persons_own_documents(tier: Tier) -> None:
    people = hr_staff({"Engineering": 2, "Sales": 2})
    _, data = await tier.start_campaign(people, signed=TWO_AUDIENCES)
    await invitations(tier, 4)
    seller, engineer = email(2), email(0)

    # the engineers' set, one fewer, or a document of another version: nothing is recorded
    too_many = await refusal(
        acknowledge(tier, data, seller, documents=_own(data, POLICY, AUP, SDP)), Refusal.WRONG_DOCUMENTS
    )
    assert (
        too_many == "not recorded: the documents confirmed are not the 2 this person is asked to acknowledge"
    )
    await refusal(acknowledge(tier, data, seller, documents=_own(data, AUP)), Refusal.WRONG_DOCUMENTS)
    await refusal(
        acknowledge(tier, data, engineer, documents=_own(data, POLICY, AUP)), Refusal.WRONG_DOCUMENTS
    )
    other_bytes = {**_own(data, POLICY, AUP), AUP: "f" * 64}
    await refusal(acknowledge(tier, data, seller, documents=other_bytes), Refusal.SUPERSEDED)
    assert (await progress(tier, data)).tally.acknowledged == 0

    # their own set is recorded, with each document's version; none shown records their own set
    receipt = await acknowledge(tier, data, seller, documents=_own(data, POLICY, AUP))
    assert receipt.documents == _own(data, POLICY, AUP)
    assert receipt.titles == {POLICY: "Information Security Policy", AUP: "Acceptable Use Policy"}
    assert receipt.versions == {POLICY: "3.0", AUP: "2024.2"}
    assert receipt.statement == DOCUMENTS_ACKNOWLEDGEMENT_TEXT
    silent = await acknowledge(tier, data, engineer, documents={})
    assert silent.documents == _own(data, POLICY, AUP, SDP)
    page = await _page(tier, data, engineer)
    assert page.person is not None
    assert [(d.id, d.version) for d in page.person.acknowledged_documents] == [
        ("information-security-policy", "3.0"),
        ("acceptable-use-policy", "2024.2"),
        ("secure-development-policy", "1.4"),
    ]
    figures = await progress(tier, data)
    assert (figures.by_document[SDP].acknowledged, figures.by_document[AUP].acknowledged) == (1, 2)


async def test_a_joiner_gets_the_documents_their_audiences_give_them(tier: Tier) -> None:
    handle, data = await tier.start_campaign(hr_staff({"Engineering": 2, "Sales": 1}), signed=TWO_AUDIENCES)
    await invitations(tier, 3)
    await tier.sleep(2 * DAY)

    def joiner(number: int, department: str) -> Person:
        return Person(
            employee_id=f"J{number:03d}",
            name=f"Joiner {number:03d}",
            email=f"joiner{number:03d}@larkspur.example",
            department=department,
            job_title="Analyst",
            manager_email=None,
            start_date=None,
            end_date=None,
            in_scope=True,
        )

    engineer, seller = joiner(0, "engineering"), joiner(1, "Sales")
    receipt = await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=tier.standins.directory([engineer, seller]), requested_by=LEAD.email),
    )
    assert sorted(receipt.added) == [engineer.email, seller.email]
    assert receipt.no_documents == []
    sent = {mail.to[0]: mail for mail in await invitations(tier, 5)}
    assert sent[engineer.email].context["documents"] == [
        _line(data, POLICY),
        _line(data, AUP),
        _line(data, SDP),
    ], "matched case-insensitively"
    assert sent[seller.email].context["documents"] == [_line(data, POLICY), _line(data, AUP)]
    assert (await _page(tier, data, seller.email)).withheld == [SDP]
    await refusal(
        acknowledge(tier, data, seller.email, documents=_own(data, POLICY, AUP, SDP)), Refusal.WRONG_DOCUMENTS
    )
    await acknowledge(tier, data, engineer.email, documents=_own(data, POLICY, AUP, SDP))
    figures = await progress(tier, data)
    assert figures.by_document[SDP].total == 3
    assert figures.by_document[AUP].total == 5


async def test_a_joiner_no_document_is_for_is_not_invited(tier: Tier) -> None:
    handle, _ = await tier.start_campaign(hr_staff({"Engineering": 2, "Sales": 1}), signed=ENGINEERS_ONLY)
    await invitations(tier, 2)
    seller = hr_staff({"Sales": 4})[3]  # person003: a new name, in Sales
    receipt = await handle.execute_update(
        AcknowledgementCampaignWorkflow.change_staff,
        StaffChange(add=tier.standins.directory([seller]), requested_by=LEAD.email),
    )
    assert (receipt.added, receipt.no_documents) == ([], [seller.email])
    current = await state(handle)
    assert current.no_documents == 2  # the one in Sales at the freeze, and the joiner
    assert [m for m in tier.standins.mail if m.to[0] == seller.email] == []


async def test_a_version_without_audiences_runs_as_it_always_did(tier: Tier) -> None:
    people = hr_staff({"Engineering": 2, "Sales": 2})
    handle, data = await tier.start_campaign(people)  # the two documents of old, no audiences
    assert data.signed.audiences is None
    sent = await invitations(tier, 4)
    assert all(mail.context["documents"] == sorted(data.signed.documents) for mail in sent)
    page = await _page(tier, data, email(3))
    assert page.documents == data.signed.documents
    assert page.withheld == []
    assert page.statement == ACKNOWLEDGEMENT_TEXT
    assert page.person is not None
    assert page.person.acknowledges is None
    receipt = await acknowledge(tier, data, email(3))  # shows every document of the version
    assert receipt.documents == data.signed.documents
    assert receipt.statement == ACKNOWLEDGEMENT_TEXT
    await refusal(
        acknowledge(tier, data, email(2), documents={"information-security-policy.docx": "f" * 64}),
        Refusal.SUPERSEDED,
    )
    figures = await progress(tier, data)
    assert (figures.tally.total, figures.tally.acknowledged) == (4, 1)
    assert {name: (t.total, t.acknowledged) for name, t in figures.by_document.items()} == {
        name: (4, 1) for name in data.signed.documents
    }
    current = await state(handle)
    assert current.no_documents == 0
    assert [d.name for d in current.documents] == list(data.signed.documents)
    await tier.sleep(6 * DAY)
    reminders = step(tier, "reminder-1")
    assert len(reminders) == 3
    assert all(mail.context["documents"] == sorted(data.signed.documents) for mail in reminders)
    assert (page.titles, page.versions, receipt.titles, receipt.versions) == ({}, {}, {}, {})
