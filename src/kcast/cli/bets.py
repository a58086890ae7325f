"""``kcast bets``: the ledger of bets taken, and how they did at the price and against the close."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import typer
from rich.table import Table

from kcast.cli.common import console, get_warehouse
from kcast.dates import today
from kcast.gate import records_as_of
from kcast.pipeline import parse_date
from kcast.warehouse.statements import statement

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")


def _num(value: object, spec: str) -> str:
    return "-" if value is None or pd.isna(value) else format(value, spec)


def print_day(system_id: str, rows: pd.DataFrame, day: object, strategy: str) -> None:
    """A system's bets of a day at 80 columns: the pitcher, the opponent as MLB spells it, the
    bet, its price and book, EV, stake, CLV (points) and result."""
    from kcast.cli.systems import BOOK_SHORT, short_name
    from kcast.teams import display_team

    stake = rows["stake"].fillna(0).sum()
    console.print(
        f"\n{system_id}: {len(rows)} bets of {day} ({strategy}), total stake {stake:.2%}",
        highlight=False,
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("pitcher", "opp", "bet", "price", "EV", "stake", "CLV", "result"):
        table.add_column(
            col, justify="left" if col in ("pitcher", "opp", "bet", "price") else "right"
        )
    for r in rows.to_dict("records"):
        opp = r["opponent"]
        table.add_row(
            short_name(r["full_name"], r["pitcher_id"])[:16],
            ""
            if not isinstance(opp, str)
            else ("" if r["is_home"] else "@") + display_team(opp, day),
            f"{r['side']} {r['line']:g}",
            f"{r['odds']:+.0f} {BOOK_SHORT.get(r['book'], str(r['book'])[:4])}",
            _num(r["ev"], "+.3f"),
            _num(r["stake"], ".2%"),
            _num(None if pd.isna(r["clv"]) else 100 * r["clv"], "+.2f"),
            str(r["result"] or "-"),
        )
    console.print(table)


def print_rules(wh, day: dt.date, strategy: str | None, system: str | None) -> None:  # noqa: ANN001
    """Every rule's record as of ``day`` (the edge gate's): live or lean, and why."""
    records = [
        r
        for r in records_as_of(wh, day).values()
        if (strategy is None or r.rule.strategy == strategy)
        and (system is None or r.rule.system_id == system)
    ]
    if not records:
        console.print(f"no graded picks before {day}: every rule is a lean until it has a record")
        return
    table = Table(title=f"betting rules as of {day} (picks graded before it)", title_justify="left")
    for col in ("rule", "system", "time", "rung", "picks", "CLV pts", "EV@close", "ROI", "gate"):
        table.add_column(
            col, justify="right" if col in ("picks", "CLV pts", "EV@close", "ROI") else "left"
        )
    for r in sorted(records, key=lambda r: (not r.live, str(r.rule))):
        table.add_row(
            r.rule.strategy,
            r.rule.system_id,
            r.rule.decision_time,
            r.rule.market,
            str(r.n_bets),
            _num(r.clv_mean, "+.2f"),
            _num(r.ev_close_mean, "+.3f"),
            _num(r.roi_mean, "+.3f"),
            r.why,
        )
    console.print(table)


def bets(
    date: str | None = typer.Option(None, "--date", help="List the bets of this date."),
    system: str | None = typer.Option(None, "--system", help="Only this system."),
    strategy: str = typer.Option(
        "ev", "--strategy", help="ev, ev_main, move, signal, shop or shop_model (all: --rules)."
    ),
    cut: str = typer.Option(
        "all", "--by", help="all, book, line, rung or ev_bucket (the rows of each table)."
    ),
    rules: bool = typer.Option(
        False,
        "--rules",
        help="Every betting rule's record as of --date (default today) and whether the edge "
        "gate lets it bet.",
    ),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """The bets ledger: with --date that day's bets; else ROI at the price taken and CLV per
    system (or --by book, line, rung, ev_bucket) over rolling windows; with --rules every
    rule's record and whether it is live. Leans (picks of rules not live) are never counted."""
    wh = get_warehouse(warehouse)
    if rules:
        day = parse_date(date) if date else today()
        print_rules(wh, day, None if strategy == "all" else strategy, system)
        return
    if date:
        day = parse_date(date)
        rows = wh.query(statement("day_ledger_bets"), {"d": day, "s": strategy})
        if system:
            rows = rows[rows["system_id"] == system]
        if rows.empty:
            console.print(f"no {strategy} bets stored for {day}")
            return
        for system_id, group in rows.groupby("system_id", sort=False):
            print_day(system_id, group, day, strategy)
        return
    perf = wh.query(statement("bet_performance_of_cut"), {"c": cut, "s": strategy})
    if system:
        perf = perf[perf["system_id"] == system]
    if perf.empty:
        counts = wh.query(statement("ledger_statuses"), {"s": strategy})
        leans = int(counts.loc[counts["status"] == "lean", "n"].sum())
        if leans:
            console.print(
                f"no graded {strategy} bets: the ledger's {leans} {strategy} picks are leans (their "
                "rules were not live: the edge gate); `kcast bets --rules` shows each rule's record"
            )
            return
        console.print("no graded bets yet: `kcast predict` stores them, `kcast grade` grades them")
        return
    table = Table(title=f"graded bets ({strategy}) by {cut}", title_justify="left", box=None)
    columns = ("system", "window", cut, "bets", "ROI", "Kelly ROI", "CLV pts", "EV@close", "beat")
    for col in columns:
        table.add_column(col, justify="left" if col in ("system", "window", cut) else "right")
    for r in perf.to_dict("records"):
        table.add_row(
            r["system_id"],
            r["time_window"],
            str(r["cut_value"]),
            str(r["bets"]),
            _num(r["roi"], "+.3f"),
            _num(r["kelly_roi"], "+.3f"),
            _num(r["clv_points"], "+.2f"),
            _num(r["ev_close"], "+.3f"),
            _num(r["beat_close_share"], ".2f"),
        )
    console.print(table)
