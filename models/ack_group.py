"""Group commit of acknowledgements, and the batch's pages in one answer.

``AckGroup`` carries several people's acknowledgements to one batch workflow as one
``acknowledge_group`` Update; the ``AckGroupReceipt`` answers each one in order, with its
receipt or with the refusal the single ``acknowledge`` update would have given it (nothing
recorded for that one, and why). ``BatchView`` (the ``batch_view`` query) is what every
acknowledgement page of a batch shows, for every person at once, so the web app can keep it
for a moment; :func:`ack_page` makes one person's ``AckPage`` from it, and the workflow's own
``page`` query uses the same function, so the two agree by construction.

>>> group = AckGroup(acks=[ack_1, ack_2])
>>> receipt = await batch.acknowledge_group(group, update_id=group_update_id(group))
>>> page = ack_page(view, "ada@example.org")
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, Field

from core.contract import Refusal
from models.campaign import Acknowledgement, AckPage, AckReceipt, PersonRecord, SignedVersion
from models.profile import Question

# the most acknowledgements one group may carry (a batch has at most a few hundred people)
ACK_GROUP_MAX = 250


class AckGroup(BaseModel):
    """Acknowledgements for one batch, each from a different person, sent as one update."""

    acks: list[Acknowledgement]
    proof: str = ""  # core.proof: the worker refuses a group without a valid one


class AckRefusal(BaseModel):
    """Why one acknowledgement of a group was not recorded (as ``UpdateRefusedError`` has it)."""

    kind: Refusal
    message: str
    details: list[str] = Field(default_factory=list)


class AckOutcome(BaseModel):
    """One acknowledgement's answer: its receipt, or its refusal (nothing recorded)."""

    receipt: AckReceipt | None = None
    refused: AckRefusal | None = None
    # with ALREADY_ACKNOWLEDGED: what the earlier request recorded, for the page to show
    earlier: AckReceipt | None = None


class AckGroupReceipt(BaseModel):
    outcomes: list[AckOutcome]  # one per acknowledgement of the group, in its order


def group_update_id(group: AckGroup) -> str:
    """The group's update id, made from what its acknowledgements say (links included, the
    proof not): a retried call of the group is the same update, and so is the same request
    sent again alone; a new try from the same link (other answers, say) is a new update, as a
    refused one must be (the group's answer to each id is kept by the workflow for good)."""
    acks = sorted(group.acks, key=lambda ack: ack.link_id)
    content = "\n".join(ack.model_dump_json(exclude={"proof"}) for ack in acks)
    return f"ack-group-{hashlib.sha256(content.encode()).hexdigest()[:40]}"


class ViewPerson(BaseModel):
    """One person of a ``BatchView``: what their page and their "already recorded" receipt need."""

    email: str
    name: str
    acknowledges: list[str] | None = None  # PersonRecord.acknowledges
    acknowledged_at: datetime | None = None
    left_at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None
    version_hash: str | None = None
    documents: dict[str, str] = Field(default_factory=dict)  # hashes recorded (none until acknowledged)
    newest_link: int = 0  # AckPage.newest_link

    @classmethod
    def of(cls, record: PersonRecord, newest_link: int) -> ViewPerson:
        return cls(
            email=record.email,
            name=record.name,
            acknowledges=record.acknowledges,
            acknowledged_at=record.acknowledged_at,
            left_at=record.left_at,
            ip=record.ip,
            user_agent=record.user_agent,
            version_hash=record.version_hash,
            documents=record.documents,
            newest_link=newest_link,
        )

    def with_receipt(self, receipt: AckReceipt) -> ViewPerson:
        """This person as recorded by ``receipt`` (an acknowledgement is never taken back)."""
        return self.model_copy(
            update={
                "acknowledged_at": receipt.acknowledged_at,
                "ip": receipt.ip,
                "user_agent": receipt.user_agent,
                "version_hash": receipt.version_hash,
                "documents": dict(receipt.documents),
            }
        )


class BatchView(BaseModel):
    """Everything the acknowledgement pages of one batch show (the ``batch_view`` query).

    ``revision`` goes up with every change the batch makes to what the pages show (an
    acknowledgement, a link sent, a joiner or leaver, the close), so of two views of one batch
    the one with the higher revision is the newer.
    """

    organisation: str
    lead_name: str
    signed: SignedVersion
    deadline: datetime
    closed: bool
    revision: int
    people: dict[str, ViewPerson]  # casefolded email -> the person


def person_key(email: str) -> str:
    """How a batch keys its people: the email, trimmed and casefolded."""
    return email.strip().casefold()


def ack_page(view: BatchView, email: str) -> AckPage:
    """What ``email``'s acknowledgement page shows, from the batch's view."""
    signed = view.signed
    person = view.people.get(person_key(email))
    names = signed.names_for(person.acknowledges) if person is not None else list(signed.documents)
    questions: dict[str, list[Question]] = (
        {name: signed.questions[name] for name in names if signed.questions.get(name)} if person else {}
    )
    return AckPage(
        organisation=view.organisation,
        version=signed.version,
        version_hash=signed.version_hash,
        documents={name: signed.documents[name] for name in names},
        pdfs={name: signed.pdfs[name] for name in names if name in signed.pdfs},
        deadline=view.deadline,
        lead_name=view.lead_name,
        closed=view.closed,
        person=_record(person) if person is not None else None,
        # only what the version names (none for one signed before the documents section)
        titles={name: signed.titles[name] for name in names if name in signed.titles},
        versions={name: signed.versions[name] for name in names if name in signed.versions},
        withheld=[name for name in signed.documents if name not in names],
        statement=signed.statement_for(names),
        newest_link=person.newest_link if person is not None else 0,
        questions=questions,
    )


def _record(person: ViewPerson) -> PersonRecord:
    """The register line as far as the view holds it (the page and the receipt need no more)."""
    return PersonRecord(
        email=person.email,
        name=person.name,
        department="",
        acknowledges=person.acknowledges,
        acknowledged_at=person.acknowledged_at,
        left_at=person.left_at,
        ip=person.ip,
        user_agent=person.user_agent,
        version_hash=person.version_hash,
        documents=person.documents,
    )
