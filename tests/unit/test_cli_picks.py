"""The day's board at 80 columns (``kcast run``, ``predict``, ``daily``): the bets first, with the
side, the line marked when alternate, the book's full name, the price, the stake in units and
money, EV and each bet's rule's record; then the leans; then the rest, each with its reason."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from rich.console import Console

from kcast.bet_metrics import Bankroll
from kcast.cli import board as cli
from kcast.context import Rule
from kcast.day_board import book_name, build_board
from kcast.gate import GATE_OFF, RuleRecord

DAY = dt.date(2025, 7, 20)


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "game_id": ["WAS202507200", "SDN202507200", "NYA202507200"],
            "game_date": [pd.Timestamp(DAY)] * 3,
            "pitcher_id": [1, 2, 3],
            "pitcher_name": ["Nick Pivetta", "Luis Severino", "Max Fried"],
            "team": ["SDN", "OAK", "NYA"],
            "is_home": [False, True, True],
            "opponent": ["WAS", "SDN", "TOR"],
            "system_id": ["ensemble_v1"] * 3,
            "line": [5.5, 4.5, 6.5],
            "over_odds": [-110.0, 120.0, -105.0],
            "under_odds": [-110.0, -140.0, -115.0],
            "book": ["DraftKings", "consensus", "FanDuel"],
            "predicted_strikeouts": [6.4, 4.4, 6.5],
            "verdict": ["OVER", "PASS", "PASS"],
            "recommendation": ["OVER", "UNDER", "PASS"],
            "decision": ["bet", "lean", "pass"],
            "decision_line": [6.5, 4.5, None],
            "decision_book": ["BetRivers", "consensus", None],
            "decision_odds": [310.0, -140.0, None],
            "decision_ev": [0.031, 0.01, None],
            "decision_reason": ["bet OVER 6.5", "lean UNDER 4.5", "pass"],
            "reasons": ["", "", "edge +0.0 K is inside 0.5"],
            "red_flags": ["", "", ""],
        }
    )


def ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "system_id": ["ensemble_v1"],
            "strategy": ["ev"],
            "game_id": ["WAS202507200"],
            "pitcher_id": [1],
            "side": ["OVER"],
            "line": [6.5],
            "main_line": [5.5],
            "book": ["BetRivers"],
            "odds": [310.0],
            "p_win": [0.252],
            "ev": [0.031],
            "stake": [0.0125],
            "decision_time": ["17:00"],
        }
    )


def console_for(monkeypatch: pytest.MonkeyPatch) -> Console:
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(cli, "console", console)
    return console


def test_the_bets_come_first_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    console = console_for(monkeypatch)
    alt = Rule("ev", "ensemble_v1", "17:00", "alternate")
    ci = (0.011, 0.002, 0.020)
    records = {alt: RuleRecord(alt, 212, *ci, *ci, *ci, live=True, why=GATE_OFF)}
    board = build_board(
        DAY, rows(), ledger(), records, "ensemble_v1", "17:00", Bankroll(2000.0, 20.0)
    )
    cli.print_board(board)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "2025-07-20: 1 bet of 3 starters (ensemble_v1), total stake 1.2 u (25.00)" in text
    assert "a bankroll of 2,000.00 (KCAST_BANKROLL), one unit 20.00 (KCAST_UNIT)" in text
    # the bet: name, MLB spelling, side, line marked alternate, the book's full name, price,
    # stake in units and money, EV; its rule's record above it
    assert "bets of ev/ensemble_v1/17:00/alternate: 212 bets, EV +1.1% (+0.2..+2.0)" in text
    bet = next(line for line in lines if line.startswith("N. Pivetta"))
    assert bet.split() == ["N.", "Pivetta", "@WSH", "OVER", "6.5", "alt", "BetRivers", "+310"] + [
        "1.2",
        "25.00",
        "+0.031",
    ]
    # then the lean (a side at the card's line, no bet), then the rest
    assert text.index("bets of") < text.index("leans of") < text.index("the rest: 1 pass")
    lean = next(line for line in lines if line.startswith("L. Severino"))
    assert "UNDER 4.5" in lean and "the books' consensus" in lean and "alt" not in lean
    assert "EV below threshold" in lean
    assert "leans of ev/ensemble_v1/17:00/main: no graded bets yet" in text
    assert "M. Fried" in text and "no edge" in text
    assert "WAS2025" not in text and "SDN" not in text


def test_no_proven_rule_says_so_and_shows_the_leans(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gate that keeps every rule a lean: no bets today, plainly, and the leans below."""
    console = console_for(monkeypatch)

    def gate(rule: Rule) -> bool:
        return False

    frame = rows()
    board = build_board(
        DAY, frame, ledger().iloc[:0], {}, "ensemble_v1", "open", Bankroll(), live=gate
    )
    cli.print_board(board, stored=False)
    text = console.export_text()
    assert "2025-07-20: no bets today: no rule has a proven record yet; 2 leans below" in text
    assert text.count("rule not proven") == 2
    assert "stored in the ledger" not in text
    # how a rule becomes live, under the leans (not a failure: the gate at work)
    assert text.index("leans of") < text.index("A rule becomes live (its picks are bets)")
    assert "kcast bets --rules" in text and "failed" not in text.lower()
    assert max(len(line) for line in text.splitlines()) <= 80


def test_book_names_are_full() -> None:
    assert book_name("consensus") == "the books' consensus"
    assert book_name("BetOnline.ag") == "BetOnline.ag"
    assert book_name(None) == ""
