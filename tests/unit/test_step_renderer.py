"""The campaign's step renderer gives exactly what a full render gives, for any person."""

from __future__ import annotations

import pytest

from core.campaign_mail import StepRenderer
from core.email_templates import render_email_template

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
