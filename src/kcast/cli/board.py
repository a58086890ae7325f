"""The day's board at 80 columns: the bets first, then the leans, then the rest.

``kcast run``, ``kcast predict`` and ``kcast daily`` end with it (``print_board``); its numbers
are the board's (``kcast.day_board``), which the dashboard draws too.
"""

from __future__ import annotations

from rich.table import Table

from kcast.bet_metrics import fmt
from kcast.cli.common import console
from kcast.context import MAIN
from kcast.day_board import DayBoard, Pick
from kcast.decision import BET, LEAN
from kcast.gate import RuleRecord

AT_WORDS = {
    "now": "with the odds as of now",
    "open": "at the open (the opening odds)",
    "close": "at the close (the closing odds)",
}


def short_name(name: object, pitcher_id: int | None = None) -> str:
    """'Gerrit Cole' -> 'G. Cole' (the id when the name is unknown)."""
    if not isinstance(name, str) or not name.strip():
        return str(pitcher_id)
    parts = name.split()
    return name if len(parts) == 1 else f"{parts[0][0]}. {' '.join(parts[1:])}"


def when(at: str) -> str:
    """The decision time in words."""
    return AT_WORDS.get(at, f"at {at} ET (the odds as of then)")


def narrow_table(*columns: tuple[str, str], title: str | None = None) -> Table:
    """A table without borders, one space between columns, for 80 columns; its title is
    printed on a line of its own (a table's title would wrap at the table's width)."""
    if title:
        console.print(f"\n[bold]{title}[/]", highlight=False)
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold",
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
    return table


def _by_rule(picks: list[Pick]) -> list[tuple[RuleRecord, list[Pick]]]:
    groups: dict = {}
    for p in picks:
        groups.setdefault(p.record.rule, (p.record, []))[1].append(p)
    return sorted(groups.values(), key=lambda g: g[0].rule.market != MAIN)


def print_board(board: DayBoard, stored: bool = True) -> None:
    """The day's bets (grouped under their rule's record), the leans, the rest."""
    console.print(f"\n[bold]{board.headline()}[/]", highlight=False)
    if board.system is None:
        return
    console.print(f"[dim]decided {when(board.at)}[/]", highlight=False)
    console.print(f"[dim]stakes for {board.bankroll.describe()}[/]", highlight=False)
    print_picks(board, BET)
    if board.bets:
        live = {r.why for r, _ in _by_rule(board.bets)}
        console.print(
            "[dim]alt: an alternate line (not the card's main line). EV: expected profit per "
            f"unit staked. Each rule's record: its bets graded before the day, EV against the "
            f"fair close with its 95% interval; {'; '.join(sorted(live))}.[/]",
            highlight=False,
        )
        console.print(
            f"stored in the ledger (kcast bets --date {board.day})"
            if stored
            else "not stored (--no-write)",
            highlight=False,
        )
    print_picks(board, LEAN)
    if board.live_note():
        console.print(f"[dim]{board.live_note()}[/]", highlight=False)
    print_rest(board)


def print_picks(board: DayBoard, decision: str) -> None:
    """The day's bets (stakes in units and money) or leans (why each is no bet), a table per
    rule headed by the rule's record."""
    bet = decision == BET
    for record, picks in _by_rule(board.bets if bet else board.leans):
        table = narrow_table(
            ("pitcher", "left"),
            ("opp", "left"),
            (decision, "left"),
            ("book", "left"),
            ("price", "right"),
            *([("units", "right"), ("money", "right")] if bet else []),
            ("EV", "right"),
            *([] if bet else [("why no bet", "left")]),
            title=f"{decision}s of {record.text()}",
        )
        for p in picks:
            stake = [
                fmt(board.bankroll.units_of(p.stake), ".1f"),
                fmt(board.bankroll.money_of(p.stake), ",.2f"),
            ]
            table.add_row(
                short_name(p.name, p.pitcher_id)[:16],
                p.opp,
                f"{p.side} {p.line_text}",
                p.book,
                p.price,
                *(stake if bet else []),
                fmt(p.ev, "+.3f"),
                *([] if bet else [lean_reason(p)]),
            )
        console.print(table)


def lean_reason(pick: Pick) -> str:
    """Why a lean is no bet, in a few words."""
    if not pick.record.live:
        return "rule not proven"
    if pick.odds is None:
        return "no price"
    return "EV below threshold"


def print_rest(board: DayBoard) -> None:
    """The starters with neither a bet nor a lean, each with its reason."""
    if not board.rest:
        return
    table = narrow_table(
        ("pitcher", "left"),
        ("opp", "left"),
        ("line", "right"),
        ("pred", "right"),
        ("verdict", "left"),
        ("why", "left"),
        title=f"the rest: {len(board.rest)} pass{'' if len(board.rest) == 1 else 'es'}",
    )
    for r in board.rest:
        table.add_row(
            short_name(r["name"], r["pitcher_id"])[:16],
            ("" if r["is_home"] else "@") + r["opponent"],
            fmt(r["line"], "g"),
            fmt(r["predicted"], ".1f"),
            str(r["verdict"] or "PASS"),
            r["reason"],
        )
    console.print(table)
