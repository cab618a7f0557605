"""The campaign's step renderer gives exactly what a full render gives, for any person."""

from __future__ import annotations

from typing import Any

import pytest

from core import campaign_mail
from core.campaign_mail import StepRenderer
from core.email_templates import RenderedEmail, render_email_template

SHARED: dict[str, object] = {
    "organisation": "Larkspur Analytics Ltd",
    "lead_name": "Ravi Chandran",
    "signer_name": "Eleanor Marsh",
    "version": "3.0",
    "documents": ["information-security-policy.docx", "isms-roles-and-responsibilities.docx"],
    "deadline": "21 December 2026",
}


def personal(name: str, number: int) -> dict[str, object]:
    return {
        "person_name": name,
        "link": f"https://isms.example/ack/token.{number}-abc_DEF",
        "link_expires": "23 December 2026, 09:30 UTC",
    }


@pytest.mark.parametrize(
    "name",
    ["Amara Okafor", "Zoë Ångström", "Seán O'Brien", "R&D <Bot>", 'Dana "DJ" Jones', "Li\nWei"],
)
def test_substituted_email_equals_a_full_render(name: str) -> None:
    renderer = StepRenderer("staff_invitation", SHARED)
    renderer.render(personal("First Person", 0))  # the first email sets up the stand-ins
    got = renderer.render(personal(name, 1))
    assert got == render_email_template(
        template_name="staff_invitation", context={**SHARED, **personal(name, 1)}
    )


def test_reminders_with_a_number_match_too() -> None:
    shared = {**SHARED, "reminder_number": 2}
    renderer = StepRenderer("staff_reminder", shared)
    for number, name in enumerate(["A Person", "B Person", "C Person"]):
        got = renderer.render(personal(name, number))
        want = render_email_template(
            template_name="staff_reminder", context={**shared, **personal(name, number)}
        )
        assert got == want
        assert name in got.text
        assert f"token.{number}-abc_DEF" in got.html


def test_each_persons_own_documents_render_as_a_full_render_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Since the documents section, the invitation's documents are the person's own: people
    with the same documents share one rendering, the lines escaped as in a full render."""
    shared = {key: value for key, value in SHARED.items() if key != "documents"}
    everyone = ["Acceptable Use Policy, version 2024.2 (SHA-256 " + "a" * 64 + ")"]
    engineers = [*everyone, "R&D's <Secure> Development Policy, version 1.4 (SHA-256 " + "b" * 64 + ")"]
    people = [(f"Person {n:02d}", engineers if n % 2 else everyone) for n in range(20)]
    renderer = StepRenderer("staff_invitation", shared)
    full_renders = 0

    def counted(**kwargs: Any) -> RenderedEmail:
        nonlocal full_renders
        full_renders += 1
        return render_email_template(**kwargs)

    monkeypatch.setattr(campaign_mail, "render_email_template", counted)
    got = [renderer.render({**personal(name, n), "documents": docs}) for n, (name, docs) in enumerate(people)]
    monkeypatch.undo()
    for n, ((name, docs), email) in enumerate(zip(people, got, strict=True)):
        person = {**personal(name, n), "documents": docs}
        assert email == render_email_template(template_name="staff_invitation", context={**shared, **person})
        assert ("Secure" in email.text) is (docs is engineers)
    assert "R&amp;D&#x27;s &lt;Secure&gt; Development Policy" in got[1].html
    assert "<Secure>" not in got[1].html
    # per set of documents: a full render for the first person, the stand-ins and their check
    # for the second, then substitution only
    assert full_renders == 2 * 3
