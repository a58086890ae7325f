"""``kcast bets``: the ledger of bets taken, a day's bets, and how they did (as CSV too)."""

from __future__ import annotations

import datetime as dt
import sys

import pandas as pd
import typer

from kcast import policy
from kcast.bet_metrics import LABELS, Bankroll, record
from kcast.cli.board import narrow_table, print_board
from kcast.cli.common import (
    WINDOW_SHORT,
    choice,
    console,
    get_warehouse,
    short_system,
    system_key,
)
from kcast.config import get_settings
from kcast.context import STRATEGIES
from kcast.dates import parse_date_arg, today
from kcast.day_board import day_board, ledger_csv, picks_csv
from kcast.gate import gate_for, records_as_of
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")
CUTS = ("all", "book", "line", "rung", "ev_bucket")


def bets(
    date: str | None = typer.Option(None, "--date", help="Show the bets of this date."),
    system: str | None = typer.Option(
        None, "--system", help="Only this system (default with --date: MLB_PRIMARY_SYSTEM)."
    ),
    strategy: str = typer.Option("ev", "--strategy", help=f"One of {', '.join(STRATEGIES)}."),
    cut: str = typer.Option(
        "all", "--by", help="all, book, line, rung or ev_bucket (the rows of each table)."
    ),
    as_csv: bool = typer.Option(
        False, "--csv", help="Write CSV to standard output: the day's bets, or the whole ledger."
    ),
    rules: bool = typer.Option(
        False,
        "--rules",
        help="Every betting rule's record as of --date (default today) and whether the edge "
        "gate lets it bet.",
    ),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """The bets ledger: with --date that day's bets (and leans); else how the graded bets did
    per system and window: W-L-P, units won, ROI flat (one unit a bet) and staked (at the
    stakes taken), CLV. --csv writes the day's bets or the whole ledger as CSV. --rules: every
    rule's record and whether it is live. Leans (picks of rules not live) are never counted."""
    choice(strategy, STRATEGIES, "--strategy")
    choice(cut, CUTS, "--by")
    settings = get_settings()
    bankroll = Bankroll.from_settings(settings)
    wh = get_warehouse(warehouse, read_only=True)
    if rules:
        day = parse_date_arg(date) if date else today()
        print_rules(wh, day, strategy, system)
        return
    if date:
        day = parse_date_arg(date)
        live = gate_for(wh, day, settings)
        board = day_board(wh, day, system or settings.primary_system, "now", bankroll, live)
        if as_csv:
            sys.stdout.write(picks_csv([*board.bets, *board.leans], bankroll, day))
            return
        if board.starters == 0:
            console.print(f"no predictions stored for {day} ({board.system})", highlight=False)
            return
        print_board(board)
        return
    if as_csv:
        sys.stdout.write(ledger_csv(wh, strategy, bankroll, system))
        return
    print_performance(wh, strategy, cut, system)


def print_performance(wh: Warehouse, strategy: str, cut: str, system: str | None) -> None:
    """How the graded bets did per system and window (``bet_metrics.record``), at 80 columns."""
    rows = wh.query(statement("ledger_of_strategy"), {"s": strategy})
    if system:
        rows = rows[rows["system_id"] == system]
    rows = rows[rows["result"].notna()]
    if rows.empty:
        counts = wh.query(statement("ledger_statuses"), {"s": strategy})
        leans = int(counts.loc[counts["status"] == "lean", "n"].sum())
        if leans:
            console.print(
                f"no graded {strategy} bets: the ledger's {leans} {strategy} picks are leans "
                "(their rules were not live: the edge gate); `kcast bets --rules` shows each "
                "rule's record",
                highlight=False,
            )
            return
        console.print(
            f"no graded {strategy} bets yet: `kcast predict` stores them, `kcast grade` grades them",
            highlight=False,
        )
        return
    rows = rows.assign(game_date=pd.to_datetime(rows["game_date"]))
    windows = ledger_windows(rows["game_date"].max())
    headers = [LABELS[k][0] for k in ("bets", "wlp", "units", "roi_flat", "roi_staked", "clv")]
    table = narrow_table(
        ("system", "left"),
        ("window", "left"),
        *([(cut, "left")] if cut != "all" else []),
        *[(h, "right") for h in headers],
        title=f"graded bets ({strategy}) by system and window"
        + (f", by {cut}" if cut != "all" else ""),
    )
    cuts = cut_values(rows, cut)
    for system_id, g in rows.groupby("system_id", sort=True):
        for window, start in windows.items():
            in_window = g[g["game_date"] >= start]
            for value, part in cuts(in_window):
                r = record(part)
                if not r.bets and not r.voids:
                    continue
                cells = r.cells()
                table.add_row(
                    short_system(system_id),
                    WINDOW_SHORT[window],
                    *([str(value)] if cut != "all" else []),
                    *(cells[k] for k in ("bets", "wlp", "units", "roi_flat", "roi_staked", "clv")),
                )
    console.print(table)
    key = system_key(rows["system_id"].unique())
    console.print(
        f"[dim]{key + '. ' if key else ''}7d, 30d: the days up to the latest graded bet; "
        f"season: since 1 January. units: won at one unit a bet; ROI flat: units per bet; ROI "
        f"staked: profit per unit staked at the stakes taken; CLV: probability points.[/]",
        highlight=False,
    )


def ledger_windows(as_of: pd.Timestamp) -> dict[str, pd.Timestamp]:
    """Each window's first day, ending at ``as_of`` (the latest graded bet), as the
    ``bet_performance`` view has them."""
    return {
        "last_7_days": as_of - pd.Timedelta(days=6),
        "last_30_days": as_of - pd.Timedelta(days=29),
        "season": pd.Timestamp(year=as_of.year, month=1, day=1),
        "all": pd.Timestamp.min,
    }


def cut_values(rows: pd.DataFrame, cut: str):  # noqa: ANN201
    """A function giving (value, rows) of each value of ``cut``."""

    def split(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
        if cut == "all":
            return [("all", frame)]
        if cut == "rung":
            key = (frame["line"] == frame["main_line"]).map({True: "main", False: "alt"})
        elif cut == "ev_bucket":
            key = pd.cut(
                frame["ev"],
                [-float("inf"), policy.EV_BUCKET_SMALL, policy.EV_BUCKET_LARGE, float("inf")],
                right=False,
                labels=["small", "medium", "large"],
            ).astype(str)
        else:
            key = frame[cut].astype(str)
        return [(str(v), g) for v, g in frame.groupby(key, sort=True)]

    return split


def print_rules(wh: Warehouse, day: dt.date, strategy: str, system: str | None) -> None:
    """Every rule's record of ``strategy`` as of ``day`` (the edge gate's, from the ledger's
    picks graded before it): live or lean, and why, at 80 columns."""
    records = [
        r
        for r in records_as_of(wh, day).values()
        if r.rule.strategy == strategy and (system is None or r.rule.system_id == system)
    ]
    if not records:
        console.print(
            f"no graded {strategy} picks before {day}: every rule is a lean until it has a record",
            highlight=False,
        )
        return
    table = narrow_table(
        ("system", "left"),
        ("time", "left"),
        ("rung", "left"),
        ("picks", "right"),
        ("CLV", "right"),
        ("EV@cl", "right"),
        ("ROI", "right"),
        ("live", "left"),
        title=f"{strategy} rules as of {day} (picks graded before it)",
    )
    for r in sorted(records, key=lambda r: (not r.live, str(r.rule))):
        table.add_row(
            short_system(r.rule.system_id),
            r.rule.decision_time,
            "alt" if r.rule.market != "main" else "main",
            str(r.n_bets),
            _num(r.clv_mean, "+.2f"),
            _num(r.ev_close_mean, "+.3f"),
            _num(r.roi_mean, "+.3f"),
            "yes" if r.live else "no",
        )
    console.print(table)
    for r in sorted(records, key=lambda r: (not r.live, str(r.rule))):
        console.print(f"[dim]{r.name}: {r.why}[/]", highlight=False)
    key = system_key(sorted({r.rule.system_id for r in records}))
    console.print(
        f"[dim]{key + '. ' if key else ''}CLV: probability points; EV@cl: EV of the price "
        "taken against the fair close; ROI: units per pick at that price.[/]",
        highlight=False,
    )


def _num(value: object, spec: str) -> str:
    return "-" if value is None or pd.isna(value) else format(value, spec)
