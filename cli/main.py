"""``isms``: run the annual ISO 27001 Clause 5 review from the command line."""

from __future__ import annotations

import typer

from cli.cycle import cycle_app
from cli.dev import dev_app
from cli.docs import docs_app

app = typer.Typer(
    name="isms",
    help="Run the yearly ISO 27001 Clause 5 cycle: policy and roles, CEO signature, "
    "staff acknowledgements, escalation and the WORM evidence archive.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(dev_app, name="dev")
app.add_typer(docs_app, name="docs")
app.add_typer(cycle_app, name="cycle")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
