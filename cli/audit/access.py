"""`isms audit grant/grants/revoke/hold`: the ISMS lead's commands, with the application's S3 identity."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from adapters.s3 import make_s3_client
from cli.audit.support import ByOption, JsonFlag, archive_errors, audit_app, echo_json, when, who
from cli.common import EXIT_BAD_INPUT, console, fail, reflowed_help, settings_or_exit
from core.settings import Settings
from models.audit import AuditGrant

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _state(grant: AuditGrant, now: datetime) -> str:
    if grant.revoked_at is not None:
        return "revoked"
    return "active" if grant.active(now) else "expired"


def _grant_json(grant: AuditGrant, now: datetime) -> dict[str, Any]:
    return {**grant.model_dump(mode="json"), "state": _state(grant, now)}


def _only_organisation(s3: S3Client, settings: Settings) -> str:
    from adapters.audit.reader import ArchiveReader, AuditError

    known = ArchiveReader(s3, settings.archive_bucket).organisations()
    if len(known) == 1:
        return known[0]
    if not known:
        raise AuditError(
            f"nothing is archived in s3://{settings.archive_bucket} yet: no organisation to grant"
        )
    raise AuditError(f"the archive holds several organisations: choose one with --org ({', '.join(known)})")


@audit_app.command("grant")
@reflowed_help
def grant(
    email: Annotated[str, typer.Option("--email", help="The auditor's email address.", show_default=False)],
    days: Annotated[
        int, typer.Option("--days", help="How many days the access lasts (at most a year).")
    ] = 30,
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="The organisation whose archive the auditor may read (default: the only one archived).",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    send: Annotated[
        bool, typer.Option("--send/--no-send", help="Email the portal link to the auditor.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Give an auditor read-only access to one organisation's archive, for a number of days.

    Emails the portal link to the auditor (unless --no-send) and prints the grant id, when
    it expires and the link. The link is the secret:
    whoever holds it can read the archive until it expires or is revoked, and it cannot be
    shown again. Send it to the auditor only, over a channel you trust.

    Exit code 0 granted, 1 a service problem, 2 a refused address, number of days or
    organisation (nothing is recorded).

    Example:  isms audit grant --email auditor@certifier.example --days 30
    """
    from adapters.audit_access import issue_grant

    settings = settings_or_exit()
    s3 = make_s3_client(settings)
    now = datetime.now(UTC)
    with archive_errors(settings):
        organisation = org if org is not None else _only_organisation(s3, settings)
        issued, link = issue_grant(
            s3, settings, email=email, organisation=organisation, days=days, issued_by=who(by), now=now
        )
    sent = ""
    if send:
        from adapters.audit_access import send_grant_email

        try:
            send_grant_email(settings, issued, link)
            sent = "sent"
        except (OSError, smtplib.SMTPException) as exc:
            sent = f"not sent ({type(exc).__name__}: {exc}); send the link yourself"
    if as_json:
        echo_json({**_grant_json(issued, now), "link": link, "link_emailed": sent or "not sent (--no-send)"})
        return
    console.print(f"Granted [bold]{escape(issued.email)}[/bold] read-only access to {escape(organisation)}.")
    if sent:
        console.print(f"Email     {escape(sent)} to {escape(issued.email)}", highlight=False)
    console.print(f"Grant     {issued.grant_id}", highlight=False)
    console.print(f"Expires   {when(issued.expires_at)} ({days} days)", highlight=False)
    console.print(f"Link      {link}", highlight=False, soft_wrap=True)
    console.print(
        "[yellow]The link is the secret:[/yellow] whoever holds it can read the archive until it expires "
        "or is revoked, and it cannot be shown again. Send it to the auditor only.",
        soft_wrap=True,
    )
    console.print(f"Withdraw it with: isms audit revoke --grant {issued.grant_id}", highlight=False)


@audit_app.command("grants")
@reflowed_help
def grants(as_json: JsonFlag = False) -> None:
    """List every auditor grant: id, auditor, organisation, issued, expires, and its state.

    The state is active, expired or revoked. Exit code 0 listed, 1 a service problem.
    """
    from adapters.audit_access import list_grants

    settings = settings_or_exit()
    now = datetime.now(UTC)
    with archive_errors(settings, settings.drafts_bucket):
        found = list_grants(make_s3_client(settings), settings)
    if as_json:
        echo_json([_grant_json(g, now) for g in found])
        return
    if not found:
        console.print("No auditor grants yet: see `isms audit grant`.")
        return
    table = Table(title="Auditor grants")
    for column in ("grant id", "auditor", "organisation", "issued", "by", "expires", "state"):
        table.add_column(column, overflow="fold")
    colours = {"active": "green", "expired": "yellow", "revoked": "red"}
    for g in found:
        state = _state(g, now)
        table.add_row(
            g.grant_id,
            Text(g.email),
            Text(g.organisation),
            when(g.issued_at),
            Text(g.issued_by),
            when(g.expires_at),
            Text(state, style=colours[state]),
        )
    console.print(table)


@audit_app.command("revoke")
@reflowed_help
def revoke(
    email: Annotated[
        str | None,
        typer.Option("--email", help="Revoke every grant of this auditor.", show_default=False),
    ] = None,
    grant_id: Annotated[
        str | None, typer.Option("--grant", help="Revoke this one grant (its id).", show_default=False)
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Withdraw an auditor's access: by address (all their grants) or one grant by id.

    It takes effect at the auditor's next request. Exit code 0 revoked (or already
    revoked), 1 a service problem, 2 no such grant or auditor (nothing is changed).

    Examples:
      isms audit revoke --email auditor@certifier.example
      isms audit revoke --grant 3q2-7x...
    """
    from adapters.audit_access import revoke_grants

    settings = settings_or_exit()
    now = datetime.now(UTC)
    with archive_errors(settings, settings.drafts_bucket):
        revoked = revoke_grants(make_s3_client(settings), settings, now=now, email=email, grant_id=grant_id)
    if as_json:
        echo_json([_grant_json(g, now) for g in revoked])
        return
    if not revoked:
        console.print(
            f"Nothing to revoke: {f'grant {grant_id}' if grant_id else f'every grant of {email}'} "
            "had already been revoked.",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(f"Revoked {len(revoked)} grant{'s' if len(revoked) != 1 else ''}:")
    for g in revoked:
        console.print(
            f"  {g.grant_id}  {g.email}  {g.organisation}  (was valid until {when(g.expires_at)})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


@audit_app.command("hold")
@reflowed_help
def hold(
    cycle_id: Annotated[
        str, typer.Argument(metavar="CYCLE_ID", help="The archived cycle, e.g. isms-review-larkspur-2026.")
    ],
    on: Annotated[
        bool | None,
        typer.Option(
            "--on/--off",
            help="Place the legal hold (--on) or release it (--off): one is required.",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Place or release an S3 Object Lock legal hold on every archived version of a cycle.

    A held version cannot be deleted even after its retention ends, until the hold is
    released; objects archived later for the same cycle are held too while the hold is on.

    Exit code 0 done, 1 a service problem, 2 no such archived cycle (nothing is changed).

    Example:  isms audit hold isms-review-larkspur-2026 --on
    """
    if on is None:
        fail("say --on to place the legal hold or --off to release it", code=EXIT_BAD_INPUT)
    from adapters.audit_access import set_legal_hold

    settings = settings_or_exit()
    with archive_errors(settings):
        count = set_legal_hold(
            make_s3_client(settings), settings, cycle_id, on=on, actor=who(by), now=datetime.now(UTC)
        )
    if as_json:
        echo_json({"cycle_id": cycle_id, "legal_hold": on, "object_versions": count})
        return
    if on:
        console.print(
            f"Legal hold placed on {count} archived object versions of {cycle_id}.", highlight=False
        )
    else:
        console.print(
            f"Legal hold released from {count} archived object versions of {cycle_id}.", highlight=False
        )
