"""The ISMS lead follows role acceptance on the dashboard and with `isms cycle roles`.

A real signed cycle: one holder accepts on their page, one declines with a reason, the
others have not answered. The dashboard's "Role acceptance" section and the command line
(plain and --json) show the same figures and one line per person with their roles, when they
were invited, and their answer.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.client import Client

from core.settings import Settings
from tests.conftest import SmtpSink
from tests.workflows.helpers import LEAD, mails, wait_for_mail
from tests.workflows.test_cycle_cli import _isms
from tests.workflows.test_dashboard import PASSWORD, _sign_in
from tests.workflows.test_role_page import DEPUTY, HR, _form, _link, _signed_cycle, _state
from web.app import create_app

AUDITOR = "grace.whitfield@larkspur.example"


async def test_the_dashboard_and_the_command_line_show_who_accepted_what(
    review: tuple[Client, Settings], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    client, settings = review
    handle = await _signed_cycle(client, settings, tmp_path)
    cycle_id = handle.id
    deputy = _link(
        await wait_for_mail(smtp_sink, cycle_id, f"roles/{DEPUTY}/invitation", within=60), settings
    )
    hr = _link(await wait_for_mail(smtp_sink, cycle_id, f"roles/{HR}/invitation"), settings)

    dashboard_settings = settings.model_copy(
        update={"dashboard_password": SecretStr(PASSWORD), "dashboard_single_user": True}
    )
    app = create_app(dashboard_settings, client=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://isms.test") as web:
        page = await web.get(f"/role/{deputy}")
        accepted = await web.post(f"/role/{deputy}", data=_form(page.text, "accept-form"))
        assert accepted.status_code == 200, accepted.text
        page = await web.get(f"/role/{hr}")
        declined = await web.post(
            f"/role/{hr}", data={**_form(page.text, "decline-form"), "comment": "Not my role since March"}
        )
        assert declined.status_code == 200, declined.text
        assert "you declined" in declined.text
        # the same form again (a double click) is the same update: one decline, one email
        again = await web.post(
            f"/role/{hr}", data={**_form(page.text, "decline-form"), "comment": "Not my role since March"}
        )
        assert again.status_code == 200, again.text
        await wait_for_mail(smtp_sink, cycle_id, f"roles/{HR}/declined-1")
        await asyncio.sleep(1)
        assert f"roles/{HR}/declined-2" not in mails(smtp_sink, cycle_id)
        state = await _state(client, cycle_id)
        assert (state.tally.accepted, state.tally.declined) == (1, 1)
        assert state.tally.total == 4  # the lead, the deputy, HR, the auditor; the CEO signed

        await _sign_in(web)
        shown = await web.get(f"/dashboard/cycles/{cycle_id}")
        assert shown.status_code == 200, shown.text
    html = shown.text
    assert "<h2>Role acceptance</h2>" in html
    assert "1 of 4 accepted" in html
    assert f'data-email="{DEPUTY}" data-state="accepted"' in html
    assert f'data-email="{HR}" data-state="declined"' in html
    assert f'data-email="{LEAD}" data-state="outstanding"' in html
    assert f'data-email="{AUDITOR}" data-state="outstanding"' in html
    assert "Not my role since March" in html
    assert "Engineering Lead, ISMS Lead (Chief Technology Officer) (deputy)" in html or (
        "ISMS Lead (Chief Technology Officer) (deputy), Engineering Lead" in html
    )

    code, out, err = await _isms(settings, "cycle", "roles", cycle_id)
    assert code == 0, err
    assert "1 of 4 accepted" in out
    assert "Declined     1" in out
    assert DEPUTY in out.replace("\n", "") or "sofia.alvarez" in out
    code, out, err = await _isms(settings, "cycle", "roles", cycle_id, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["cycle_id"] == cycle_id
    assert data["role_acceptance"]["tally"]["accepted"] == 1
    records = {record["email"]: record for record in data["role_acceptance"]["records"]}
    assert records[DEPUTY]["accepted_at"] is not None
    assert records[HR]["decline_comment"] == "Not my role since March"
    assert records[LEAD]["invited_at"] is not None
    assert records[LEAD]["accepted_at"] is None

    # a cycle that does not exist: a plain error, exit 1
    code, out, err = await _isms(settings, "cycle", "roles", "isms-review-nobody-2026")
    assert code == 1
    assert "no cycle isms-review-nobody-2026" in err
