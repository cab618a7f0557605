"""How the command line shows an acknowledgement campaign: figures, documents, departments, the result.

Shared by ``isms cycle status`` (printed once), ``isms cycle watch`` (a live view on a
terminal, one plain line per change elsewhere) and ``isms cycle staff`` (the receipt).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from models.campaign import RATE_TARGET, CampaignProgress, CampaignResult, CampaignStage, StaffChangeReceipt


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def headline(progress: CampaignProgress) -> str:
    """``acknowledged 3 of 24 (12.5%), outstanding 21, overdue 0``."""
    tally = progress.tally
    return (
        f"acknowledged {tally.acknowledged} of {tally.total} ({tally.rate_text}), "
        f"outstanding {tally.outstanding}, overdue {tally.overdue}"
    )


def _closed(progress: CampaignProgress) -> bool:
    return progress.stage is CampaignStage.CLOSED


def plain_line(progress: CampaignProgress) -> str:
    """One line for logs and pipes; it changes whenever any figure changes."""
    line = f"{progress.stage.value}: {headline(progress)}"
    if not _closed(progress):  # the final figures do not carry invitations and leavers
        line += f", invited {progress.invited}, left {progress.left}"
    return line


def department_table(progress: CampaignProgress, *, title: str | None = "By department") -> Table:
    table = Table(title=title)
    table.add_column("department", overflow="fold")
    for column in ("acknowledged", "outstanding", "overdue", "total", "rate"):
        table.add_column(column, justify="right")
    for name, tally in progress.by_department.items():
        overdue = f"[red]{tally.overdue}[/red]" if tally.overdue else "0"
        table.add_row(
            Text(name),
            str(tally.acknowledged),
            str(tally.outstanding),
            overdue,
            str(tally.total),
            tally.rate_text,
        )
    return table


def document_table(progress: CampaignProgress, *, title: str | None = "By document") -> Table:
    """Each document staff acknowledge: acknowledged of the people in its audience."""
    table = Table(title=title)
    table.add_column("document", overflow="fold")
    table.add_column("version", overflow="fold")
    table.add_column("audience", overflow="fold")
    for column in ("acknowledged", "outstanding", "overdue", "in audience", "rate"):
        table.add_column(column, justify="right")
    for document in progress.documents:
        tally = progress.by_document.get(document.name)
        if tally is None:
            continue
        overdue = f"[red]{tally.overdue}[/red]" if tally.overdue else "0"
        table.add_row(
            Text(f"{document.title} ({document.id})"),
            Text(document.version),
            Text(document.audience),
            str(tally.acknowledged),
            str(tally.outstanding),
            overdue,
            str(tally.total),
            tally.rate_text,
        )
    return table


def _by_document(progress: CampaignProgress) -> bool:
    return any(document.name in progress.by_document for document in progress.documents)


def _no_documents_line(progress: CampaignProgress) -> str:
    return (
        f"No document   {progress.no_documents} in scope with no document for them (not invited, not counted)"
    )


def result_lines(result: CampaignResult) -> list[str]:
    """Where the register and the report are stored, and whether the target was met."""
    met = "met" if result.target_met else "NOT met"
    return [
        f"Target    {RATE_TARGET:.0%}: {met}",
        f"Register  s3://{result.register_csv.bucket}/{result.register_csv.key}",
        f"          s3://{result.register_json.bucket}/{result.register_json.key}",
        f"Report    s3://{result.report.bucket}/{result.report.key}",
        f"          s3://{result.report_markdown.bucket}/{result.report_markdown.key}",
    ]


def print_campaign(console: Console, progress: CampaignProgress) -> None:
    """The campaign section of ``isms cycle status``."""
    console.print(f"[bold]Acknowledgement campaign[/bold]  {progress.stage.value}")
    console.print(
        f"Acknowledged  {progress.tally.acknowledged} of {progress.tally.total} ({progress.tally.rate_text})",
        highlight=False,
    )
    console.print(
        f"Outstanding   {progress.tally.outstanding} ({progress.tally.overdue} overdue)", highlight=False
    )
    if not _closed(progress):
        console.print(f"Invited       {progress.invited}   left {progress.left}", highlight=False)
    if progress.no_documents:
        console.print(_no_documents_line(progress), highlight=False)
    console.print(f"Deadline      {_when(progress.deadline)}", highlight=False)
    if progress.result is not None:
        for line in result_lines(progress.result):
            console.print(line, highlight=False, soft_wrap=True)
    if _by_document(progress):
        console.print(document_table(progress))
    if progress.by_department:
        console.print(department_table(progress))


def print_final(console: Console, progress: CampaignProgress) -> None:
    """What ``isms cycle watch`` prints when the campaign has closed."""
    console.print(f"[bold]Campaign closed[/bold]: {headline(progress)}", highlight=False, soft_wrap=True)
    if progress.result is not None:
        for line in result_lines(progress.result):
            console.print(line, highlight=False, soft_wrap=True)
    if _by_document(progress):
        console.print(document_table(progress))
    if progress.by_department:
        console.print(department_table(progress))


def print_receipt(console: Console, cycle_id: str, receipt: StaffChangeReceipt) -> None:
    """What a staff change did, one list a line (``isms cycle staff``)."""
    rows = (
        ("Added", receipt.added, "invited now; their reminders count from today"),
        ("Removed", receipt.removed, "left: no longer counted or chased"),
        ("Already in", receipt.already_in, "already in the campaign: nothing done"),
        ("Unknown", receipt.unknown, "not in the campaign: nothing done"),
        ("No document", receipt.no_documents, "in scope, but no document is for them: not invited"),
    )
    console.print(f"Staff change applied to [bold]{cycle_id}[/bold]:")
    for label, emails, meaning in rows:
        if not emails:
            continue
        colour = "yellow" if label in ("Already in", "Unknown", "No document") else "green"
        console.print(f"  [{colour}]{label}[/{colour}] ({meaning}):")
        for email in emails:
            console.print(f"    {email}", highlight=False, soft_wrap=True)
    if not any(emails for _, emails, _ in rows):
        console.print("  nothing to do")


class LiveFigures:
    """The live view's renderable: a progress bar (acknowledged of total) and the departments."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("[bold]acknowledged"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            expand=True,
        )
        self._task: TaskID = self._bar.add_task("acknowledged", total=None, rate="")
        self._progress: CampaignProgress | None = None
        self._note = ""

    def waiting(self, note: str) -> None:
        self._note = note

    def update(self, progress: CampaignProgress) -> None:
        self._progress, self._note = progress, ""
        tally = progress.tally
        self._bar.update(
            self._task, completed=tally.acknowledged, total=tally.total or None, rate=tally.rate_text
        )

    def __rich__(self) -> RenderableType:
        progress = self._progress
        if progress is None:
            return Text(self._note or "waiting for the figures…")
        parts: list[RenderableType] = [
            Text.from_markup(
                f"[bold]{progress.cycle_id}[/bold]  {progress.stage.value}  "
                f"deadline {_when(progress.deadline)}"
            ),
            self._bar,
            Text(
                f"outstanding {progress.tally.outstanding}  overdue {progress.tally.overdue}"
                + ("" if _closed(progress) else f"  invited {progress.invited}  left {progress.left}")
            ),
        ]
        if _by_document(progress):
            parts.append(document_table(progress, title=None))
        if progress.by_department:
            parts.append(department_table(progress, title=None))
        if self._note:
            parts.append(Text(self._note, style="yellow"))
        return Group(*parts)
