"""``kcast daily``: the day's ingest, odds snapshot, predictions and grades in one command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from kcast.bet_metrics import Bankroll
from kcast.cli.board import print_board
from kcast.cli.common import console, get_warehouse
from kcast.config import get_settings
from kcast.context import DecisionContext
from kcast.daily import run_daily
from kcast.data.register import Register
from kcast.dates import parse_date_arg
from kcast.day_board import day_board
from kcast.gate import gate_for

STATUS_STYLE = {"ok": "green", "skipped": "dim", "failed": "bold red"}


def daily(
    date: str | None = typer.Option(
        None, "--date", help="The day, YYYY-MM-DD (default: today, US Eastern)."
    ),
    lookback: int = typer.Option(
        3, "--lookback", min=0, help="Earlier days whose results and grades are completed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    warehouse: str | None = typer.Option(
        None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE."
    ),
    register: Path | None = typer.Option(
        None, "--register", help="Chadwick register CSV; overrides KCAST_REGISTER."
    ),
) -> None:
    """Run what the day needs, doing only what is new: the slate and probable pitchers, an odds
    snapshot (ODDS_API_KEY), predictions by every active system, and after the games their
    boxscores and grades. Safe to run at any hour, as often as wanted; exits 1 when a step
    failed (the next run completes it)."""
    day = parse_date_arg(date) if date else None
    reg = Register.load(register) if register is not None else None
    settings = get_settings()
    wh = get_warehouse(warehouse)
    try:
        report = run_daily(wh, day, register=reg, lookback=lookback)
        board = None
        if not as_json:
            live = gate_for(wh, report.date, settings)
            context = DecisionContext.from_settings(settings, live=live)
            bankroll = Bankroll.from_settings(settings)
            board = day_board(
                wh, report.date, settings.primary_system, context.at.label, bankroll, context.live
            )
    finally:
        wh.close()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        table = Table(title=f"kcast daily {report.date}", title_justify="left")
        for col in ("step", "status", "detail"):
            table.add_column(col, overflow="fold")
        for s in report.steps:
            style = STATUS_STYLE.get(s.status, "")
            table.add_row(s.name, f"[{style}]{s.status}[/]", s.detail)
        console.print(table)
        if board is not None and board.starters:
            print_board(board)
        for s in report.failed:
            console.print(
                f"[bold red]step {s.name} failed[/]: {s.detail}; what the other steps stored "
                "is kept, and the next run completes it",
                highlight=False,
                soft_wrap=True,
            )
    sys.exit(report.exit_code)
