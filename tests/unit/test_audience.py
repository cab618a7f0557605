"""Who a document is for: every audience selector, against the staff directory.

``core.audience.selects`` decides, person by person, which documents the campaign asks each
one to acknowledge; ``audience_problems`` is the check that stops a start when an audience
names what the directory does not have or selects nobody in scope. The campaign's own use of
them (``core.batches``: the documents of each person in scope, who is not invited, joiners)
is at the end.
"""

from __future__ import annotations

from datetime import date

import pytest

from core.audience import audience_problems, selects
from core.batches import batch_index, documents_for, in_scope, pack_batches, plan_change, with_documents
from models.profile import Audience
from models.staff import Person, StaffDirectory

TODAY = date(2026, 12, 1)


def person(
    number: int,
    *,
    department: str = "Engineering",
    job_title: str = "Software Engineer",
    in_scope: bool = True,
    end_date: date | None = None,
    start_date: date | None = date(2020, 1, 1),
    manager: int | None = None,
    **columns: str,
) -> Person:
    return Person(
        employee_id=f"E{number:04d}",
        name=f"Person {number}",
        email=f"Person{number}@Larkspur.example",
        department=department,
        job_title=job_title,
        manager_email=f"person{manager}@larkspur.example" if manager is not None else None,
        start_date=start_date,
        end_date=end_date,
        in_scope=in_scope,
        columns=dict(columns),
    )


ENGINEER = person(1, location="London", contract="permanent")
SALES = person(2, department="Sales", job_title="Account Executive", location="Leeds")
FINANCE = person(3, department="Finance", job_title="Accountant", location="London", contract="contractor")
LEAVER = person(4, department="Legal", job_title="Counsel", end_date=date(2026, 6, 30))
OUT_OF_SCOPE = person(5, department="Facilities", job_title="Caretaker", in_scope=False)
NOT_STARTED = person(6, department="Research", job_title="Researcher", start_date=date(2027, 3, 1))
STAFF = StaffDirectory(people=[ENGINEER, SALES, FINANCE, LEAVER, OUT_OF_SCOPE, NOT_STARTED])


def chosen(audience: Audience) -> list[str]:
    return [p.email for p in STAFF.people if selects(audience, p)]


# --- selects ----------------------------------------------------------------------------------


def test_an_empty_audience_is_everyone() -> None:
    everyone = Audience()
    assert everyone.everyone
    assert everyone.describe() == "everyone in scope"
    assert chosen(everyone) == [p.email for p in STAFF.people]  # scope is the campaign's to apply


def test_departments_select_their_people() -> None:
    assert chosen(Audience(departments=["Engineering"])) == [ENGINEER.email]
    assert chosen(Audience(departments=["Sales", "Finance"])) == [SALES.email, FINANCE.email]


def test_job_titles_select_their_people() -> None:
    assert chosen(Audience(job_titles=["Accountant"])) == [FINANCE.email]
    assert chosen(Audience(job_titles=["Account Executive", "Software Engineer"])) == [
        ENGINEER.email,
        SALES.email,
    ]


def test_people_are_named_by_email_or_employee_id() -> None:
    assert chosen(Audience(people=["person2@larkspur.example"])) == [SALES.email]
    assert chosen(Audience(people=["E0003"])) == [FINANCE.email]
    assert chosen(Audience(people=["e0001", "PERSON3@LARKSPUR.EXAMPLE"])) == [ENGINEER.email, FINANCE.email]


def test_columns_of_the_hr_export_select_on_their_values() -> None:
    assert chosen(Audience(columns={"location": ["London"]})) == [ENGINEER.email, FINANCE.email]
    assert chosen(Audience(columns={"contract": ["contractor"]})) == [FINANCE.email]
    # a required column can be named too
    assert chosen(Audience(columns={"job_title": ["Counsel"]})) == [LEAVER.email]
    # a person without the column is not selected by it
    assert chosen(Audience(columns={"contract": ["permanent", "contractor"]})) == [
        ENGINEER.email,
        FINANCE.email,
    ]


def test_matching_ignores_case_and_surrounding_spaces() -> None:
    assert chosen(Audience(departments=["  engineering "])) == [ENGINEER.email]
    assert chosen(Audience(job_titles=["ACCOUNTANT"])) == [FINANCE.email]
    assert chosen(Audience(columns={"Location": [" leeds"]})) == [SALES.email]
    assert chosen(Audience(people=[" e0002 "])) == [SALES.email]


def test_selectors_together_are_a_union() -> None:
    audience = Audience(
        departments=["Sales"], job_titles=["Accountant"], people=["E0004"], columns={"location": ["Nowhere"]}
    )
    assert chosen(audience) == [SALES.email, FINANCE.email, LEAVER.email]
    assert not audience.everyone
    assert audience.describe() == "Sales; job titles Accountant; 1 named person; location = Nowhere"


def test_an_audience_that_matches_nobody_selects_nobody() -> None:
    assert chosen(Audience(departments=["Marketing"])) == []
    assert chosen(Audience(columns={"location": ["Paris"]})) == []


# --- audience_problems ------------------------------------------------------------------------


def test_an_audience_the_directory_fits_has_no_problems() -> None:
    assert audience_problems(Audience(), STAFF, on=TODAY) == []
    assert audience_problems(Audience(departments=["engineering"]), STAFF, on=TODAY) == []
    assert (
        audience_problems(
            Audience(job_titles=["Accountant"], people=["E0002"], columns={"LOCATION": ["leeds"]}),
            STAFF,
            on=TODAY,
        )
        == []
    )


def test_an_unknown_department_is_named_with_the_closest_known_one() -> None:
    (problem,) = audience_problems(Audience(departments=["Enginering"]), STAFF, on=TODAY)
    assert problem == (
        "names department 'Enginering', which nobody in the staff directory is in (did you mean 'Engineering'?)"
    )


def test_an_unknown_job_title_person_and_column_are_each_named() -> None:
    problems = audience_problems(
        Audience(
            job_titles=["Acountant"],
            people=["nobody@larkspur.example"],
            columns={"locaton": ["London"]},
        ),
        STAFF,
        on=TODAY,
    )
    assert problems == [
        "names job title 'Acountant', which nobody in the staff directory has (did you mean 'Accountant'?)",
        "names 'nobody@larkspur.example', who is not in the staff directory",
        "selects on column 'locaton', which the staff directory does not have (did you mean 'location'?)",
    ]


def test_an_unknown_name_with_nothing_close_gets_no_suggestion() -> None:
    (problem,) = audience_problems(Audience(departments=["Zzyzx"]), STAFF, on=TODAY)
    assert problem == "names department 'Zzyzx', which nobody in the staff directory is in"


def test_an_audience_that_selects_nobody_in_scope_is_a_problem() -> None:
    (problem,) = audience_problems(Audience(columns={"location": ["Paris"]}), STAFF, on=TODAY)
    assert problem == "selects nobody in scope (location = Paris)"


@pytest.mark.parametrize(
    ("audience", "who"),
    [
        (Audience(departments=["Legal"]), "a leaver"),
        (Audience(people=["E0004"]), "a leaver, named"),
        (Audience(departments=["Facilities"]), "someone out of scope"),
        (Audience(job_titles=["Researcher"]), "someone who has not started"),
        (Audience(departments=["Legal", "Facilities", "Research"]), "only people who do not count"),
    ],
)
def test_leavers_and_people_out_of_scope_do_not_count(audience: Audience, who: str) -> None:
    problems = audience_problems(audience, STAFF, on=TODAY)
    assert problems == [f"selects nobody in scope ({audience.describe()})"], who


def test_one_current_person_in_scope_is_enough() -> None:
    assert audience_problems(Audience(departments=["Legal", "Sales"]), STAFF, on=TODAY) == []


# --- the campaign: each person's documents -----------------------------------------------------

POLICY = "information-security-policy.docx"
AUP = "acceptable-use-policy.pdf"
SDP = "secure-development-policy.docx"
AUDIENCES = {POLICY: Audience(), AUP: Audience(), SDP: Audience(departments=["Engineering"])}


def test_each_person_gets_the_documents_whose_audience_selects_them_in_the_versions_order() -> None:
    assert documents_for(ENGINEER, AUDIENCES) == [POLICY, AUP, SDP]
    assert documents_for(SALES, AUDIENCES) == [POLICY, AUP]
    assert documents_for(SALES, {SDP: Audience(departments=["Engineering"])}) == []
    assert documents_for(SALES, None) is None, "a version without audiences: every document"


def test_the_freeze_leaves_out_whom_no_document_is_for_and_counts_them_apart() -> None:
    audiences = {SDP: Audience(departments=["Engineering"]), AUP: Audience(columns={"location": ["London"]})}
    everyone = in_scope(STAFF.people, as_of=TODAY, audiences=audiences)
    assert [(r.email, r.acknowledges) for r in everyone] == [
        (ENGINEER.email, [SDP, AUP]),
        (SALES.email, []),
        (FINANCE.email, [AUP]),
    ], "the leaver, the person out of scope and the one not started yet are not in scope"
    invited, nothing = with_documents(everyone)
    assert [r.email for r in invited] == [ENGINEER.email, FINANCE.email]
    assert [r.email for r in nothing] == [SALES.email]


def test_without_audiences_everyone_in_scope_is_invited_to_every_document() -> None:
    everyone = in_scope(STAFF.people, as_of=TODAY)
    assert [r.acknowledges for r in everyone] == [None, None, None]
    invited, nothing = with_documents(everyone)
    assert (len(invited), nothing) == (3, [])


def test_a_joiner_gets_their_documents_and_one_with_none_is_not_invited() -> None:
    frozen = in_scope([ENGINEER, FINANCE], as_of=TODAY, audiences=AUDIENCES)
    index = batch_index(pack_batches(frozen, 250))
    engineer = person(10, manager=1)
    seller = person(11, department="Sales", job_title="Account Executive")
    plan = plan_change(
        index,
        [engineer, seller],
        remove=[],
        joined={},
        left=[],
        as_of=TODAY,
        audiences=AUDIENCES,
    )
    (placed,) = plan.joiners.values()
    assert [(r.email, r.acknowledges) for r in placed] == [
        (engineer.email, [POLICY, AUP, SDP]),
        (seller.email, [POLICY, AUP]),
    ]
    only_engineers = {SDP: Audience(departments=["Engineering"])}
    plan = plan_change(
        index, [engineer, seller], remove=[], joined={}, left=[], as_of=TODAY, audiences=only_engineers
    )
    assert [r.email for people in plan.joiners.values() for r in people] == [engineer.email]
    assert plan.no_documents == [seller.email]
    assert plan.problems == []
