"""The ``kcast`` command."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from kcast.cli import bets, daily, ingest, monitoring, run, service, systems, warehouse
from kcast.cli.common import console
from kcast.config import describe_settings_error, get_settings
from kcast.errors import KcastError
from kcast.masking import install_log_masking, mask_secrets
from kcast.systems.registry import active_ids

app = typer.Typer(
    name="kcast",
    help="Forecast MLB starting pitchers' strikeouts and compare them with sportsbook lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # a docstring's lines join into one paragraph at any width (the "rich" mode keeps each line
    # break, so an 80-column terminal shows half-empty lines)
    rich_markup_mode="markdown",
)
app.command()(run.run)
app.add_typer(ingest.app, name="ingest")
app.add_typer(warehouse.app, name="warehouse")
app.command()(systems.train)
app.command()(systems.predict)
app.command()(systems.grade)
app.command()(systems.backtest)
app.command()(daily.daily)
app.command()(bets.bets)
app.command()(service.serve)
app.command()(service.validate)
app.command()(monitoring.query)
app.command()(monitoring.status)


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {mask_secrets(message)}", highlight=False, soft_wrap=True)


def check_settings() -> None:
    """Read the settings now: a bad value, or an ensemble without its members, stops every
    command before it starts (``SettingsError``, one line per bad setting)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None
    active_ids(settings)  # an unknown system, or an ensemble without its members, stops here


class SettingsError(KcastError):
    """Bad settings: each line names the variable, its value and what it accepts."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


def main() -> None:
    """Run the CLI; kcast's own errors (and bad settings) print as one clear line each and
    exit 1."""
    install_log_masking()  # no secret in any log line a command writes
    try:
        if not any(arg in ("--help", "-h") for arg in sys.argv[1:]):
            check_settings()
        app()
    except SettingsError as exc:
        for line in exc.lines:
            _fail(line)
        sys.exit(1)
    except ValidationError as exc:  # settings read again later, e.g. after --data
        if exc.title != "Settings":
            raise
        for line in describe_settings_error(exc):
            _fail(line)
        sys.exit(1)
    except KcastError as exc:
        _fail(str(exc))
        sys.exit(1)
