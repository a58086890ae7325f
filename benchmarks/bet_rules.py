"""Every betting rule's record from a backtest's picks, as Markdown tables for docs/results.md.

    kcast backtest --start 2025-06-03 --end 2025-09-28 --at open --json --picks open.csv
    python benchmarks/bet_rules.py open.csv lineup.csv 1700.csv close.csv > tables.md

Each CSV is one decision time's picks (``--picks``: every rule's graded picks, bets and leans,
with their ``status``). For each rule (strategy x system x main or alternate rung x decision
time) it prints the rule's record (every pick, as if it were always live): picks, CLV, EV
against the fair close and ROI at the price taken, each with its 95% bootstrap interval, and
the maximum drawdown of its Kelly bankroll; the gated ledger (the picks made while the rule's
own record of earlier games cleared the gate: ``status`` bet); each strategy and system's
ledger (both rungs), with the gate off and gated; the same by book; and the two
halves of the season for choosing the default rule before looking at the second:

**The choice, fixed before the second half is looked at**: among the rules of the decision
times a bettor can act at (not the close) with at least ``GATE_MIN_BETS`` graded picks in
2025-06-03..07-31, the one whose EV against the fair close has the highest lower 95% bound
there. It is then measured, unchanged, on 2025-08-01..09-28.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd

from kcast import policy
from kcast.bets import BetRules, stake_bets, summarise

RULE = ["decision_time", "strategy", "system_id", "market"]
FIRST_HALF = (dt.date(2025, 6, 3), dt.date(2025, 7, 31))
SECOND_HALF = (dt.date(2025, 8, 1), dt.date(2025, 9, 28))
RULES = BetRules()


def read(paths: list[Path]) -> pd.DataFrame:
    frames = [pd.read_csv(p, low_memory=False) for p in paths]
    picks = pd.concat(frames, ignore_index=True)
    picks["game_date"] = pd.to_datetime(picks["game_date"])
    picks["decision_time"] = picks["decision_time"].astype(str)
    return picks


def record(picks: pd.DataFrame) -> dict:
    """``bets.summarise`` of picks taken as bets (their Kelly bankroll compounding)."""
    if picks.empty:
        return {"bets": 0}
    taken = picks.drop(columns=["stake", "profit"], errors="ignore").assign(bet=True)
    compounded, curve = stake_bets(taken, RULES)
    return summarise(compounded, curve)


def interval(m: dict, key: str, scale: float = 1.0, spec: str = "+.1f") -> str:
    got = m.get(key)
    if not got:
        return ""
    mean, lo, hi = (scale * got[k] for k in ("mean", "lo", "hi"))
    return f"{mean:{spec}} [{lo:{spec}}, {hi:{spec}}]"


def row(m: dict) -> str:
    if not m.get("bets"):
        return "0 | | | | "
    return (
        f"{m['bets']:,} | {interval(m, 'clv_points', 1.0, '+.2f')} | "
        f"{interval(m, 'ev_close', 100.0)} | {interval(m, 'roi', 100.0)} | "
        f"{m.get('max_drawdown', float('nan')):.2f}"
    )


def between(picks: pd.DataFrame, span: tuple[dt.date, dt.date]) -> pd.DataFrame:
    d = picks["game_date"].dt.date
    return picks[(d >= span[0]) & (d <= span[1])]


def rules_table(picks: pd.DataFrame) -> list[str]:
    head = (
        "| time | rule | system | rung | picks | CLV, points | EV vs fair close, % | ROI, % "
        "| max DD | bets (gated) | their EV vs fair close, % | their ROI, % |"
    )
    out = [head, "|---|---|---|---|---:|---|---|---|---:|---:|---|---|"]
    for key, g in picks.groupby(RULE, sort=True):
        m, b = record(g), record(g[g["status"] == "bet"])
        gated = (
            f"{b['bets']:,} | {interval(b, 'ev_close', 100.0)} | {interval(b, 'roi', 100.0)}"
            if b.get("bets")
            else "0 | | "
        )
        out.append(f"| {' | '.join(map(str, key))} | {row(m)} | {gated} |")
    return out


def ledger_table(picks: pd.DataFrame) -> list[str]:
    """The ledger of each decision time, strategy and system (main and alternate rungs
    together): every pick (the ledger with the gate off) and the gated ledger (its bets)."""
    out = [
        "| time | rule | system | picks (gate off) | CLV, points | EV vs fair close, % | ROI, % "
        "| max DD | bets (gated) | their EV vs fair close, % | their ROI, % |",
        "|---|---|---|---:|---|---|---|---:|---:|---|---|",
    ]
    for key, g in picks.groupby(RULE[:3], sort=True):
        b = record(g[g["status"] == "bet"])
        gated = (
            f"{b['bets']:,} | {interval(b, 'ev_close', 100.0)} | {interval(b, 'roi', 100.0)}"
            if b.get("bets")
            else "0 | | "
        )
        out.append(f"| {' | '.join(map(str, key))} | {row(record(g))} | {gated} |")
    return out


def books_table(picks: pd.DataFrame, systems: list[str]) -> list[str]:
    """By book: the rules of ``systems`` (every strategy but the shops), and the shops once
    (their picks do not depend on the system: the first system's)."""
    out = [
        "| time | rule | system | rung | book | picks | CLV, points | EV vs fair close, % "
        "| ROI, % | max DD |",
        "|---|---|---|---|---|---:|---|---|---|---:|",
    ]
    shops = picks["strategy"].str.startswith("shop")
    first = sorted(picks["system_id"].unique())[0]
    shown = picks[
        (~shops & picks["system_id"].isin(systems)) | (shops & (picks["system_id"] == first))
    ]
    keys = ["decision_time", "strategy", "system_id", "market", "book"]
    for key, g in shown.groupby(keys, sort=True):
        key = (*key[:2], "any" if key[1].startswith("shop") else key[2], *key[3:])
        out.append(f"| {' | '.join(map(str, key))} | {row(record(g))} |")
    return out


def choose(picks: pd.DataFrame) -> list[str]:
    """The default rule, chosen on the first half and measured on the second (module doc)."""
    first = between(picks[picks["decision_time"] != "close"], FIRST_HALF)
    best, best_lo = None, None
    for key, g in first.groupby(RULE, sort=True):
        m = record(g)
        graded = g["ev_close"].notna().sum()
        if graded < policy.GATE_MIN_BETS or not m.get("ev_close"):
            continue
        if best_lo is None or m["ev_close"]["lo"] > best_lo:
            best, best_lo = key, m["ev_close"]["lo"]
    if best is None:
        return ["no rule has enough picks in the first half"]
    mine = picks.set_index(RULE).index == best
    chosen = picks[mine]
    lines = [
        "| half | picks | CLV, points | EV vs fair close, % | ROI, % | max DD |",
        "|---|---:|---|---|---|---:|",
    ]
    for name, span in (
        ("2025-06-03..07-31 (chosen on)", FIRST_HALF),
        ("2025-08-01..09-28 (confirmed on)", SECOND_HALF),
    ):
        lines.append(f"| {name} | {row(record(between(chosen, span)))} |")
    return [f"chosen rule: {' / '.join(map(str, best))}", "", *lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("picks", type=Path, nargs="+", help="--picks CSVs of kcast backtest")
    parser.add_argument(
        "--by-book", action="append", default=[], help="systems whose rules are shown by book"
    )
    args = parser.parse_args()
    picks = read(args.picks)
    print("## every rule, the whole window\n")
    print("\n".join(rules_table(picks)))
    print("\n## the ledger: every rung of a strategy and system, gate off and gated\n")
    print("\n".join(ledger_table(picks)))
    print("\n## by book (every pick of a rule; shop rules once)\n")
    print("\n".join(books_table(picks, args.by_book)))
    for name, span in (("first half", FIRST_HALF), ("second half", SECOND_HALF)):
        print(f"\n## {name}: {span[0]}..{span[1]}\n")
        print("\n".join(rules_table(between(picks, span))))
    print("\n## the default rule: chosen on the first half, confirmed on the second\n")
    print("\n".join(choose(picks)))


if __name__ == "__main__":
    main()
