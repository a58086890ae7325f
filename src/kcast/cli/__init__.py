"""The ``kcast`` command."""

from __future__ import annotations

import sys

import typer

from kcast.cli import bets, ingest, monitoring, run, service, systems, warehouse
from kcast.errors import KcastError

app = typer.Typer(
    name="kcast",
    help="Forecast MLB starting pitchers' strikeouts and compare them with sportsbook lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(run.run)
app.add_typer(ingest.app, name="ingest")
app.add_typer(warehouse.app, name="warehouse")
app.command()(systems.train)
app.command()(systems.predict)
app.command()(systems.grade)
app.command()(systems.backtest)
app.command()(bets.bets)
app.command()(service.serve)
app.command()(service.validate)
app.command()(monitoring.query)
app.command()(monitoring.status)


def main() -> None:
    """Run the CLI; kcast's own errors print as one clear line and exit 1."""
    try:
        app()
    except KcastError as exc:
        from kcast.cli.common import console

        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
