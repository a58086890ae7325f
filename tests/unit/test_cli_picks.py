"""``kcast predict``'s tables: MLB team spellings, 80 columns, a reason for each PASS, the bets
with pitcher names, and a summary line with the total stake."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from rich.console import Console

from kcast.cli import systems as cli
from kcast.context import DecisionContext
from kcast.forecast import Forecast
from kcast.systems.base import SystemOutput


def slate() -> Forecast:
    rows = pd.DataFrame(
        {
            "game_id": ["WAS202507200", "SDN202507200"],
            "game_date": [pd.Timestamp("2025-07-20")] * 2,
            "pitcher_id": [1, 2],
            "is_home": [False, True],
            "opponent": ["WAS", "OAK"],
            "system_id": ["ensemble_v1"] * 2,
            "line": [5.5, 4.5],
            "over_odds": [-110.0, 120.0],
            "under_odds": [-110.0, -140.0],
            "book": ["DraftKings", "consensus"],
            "predicted_strikeouts": [6.4, 4.4],
            "p_over": [0.61, 0.47],
            "model_p_over": [0.66, 0.45],
            "edge": [0.9, -0.1],
            "expected_value": [0.12, None],
            "confidence": [70.0, 50.0],
            "recommendation": ["OVER", "PASS"],
            "reasons": ["", "edge -0.1 is below 0.5"],
            "red_flags": ["", ""],
        }
    )
    features = rows[["game_id", "pitcher_id"]].assign(
        pitcher_name=["Nick Pivetta", "Luis Severino"]
    )
    output = SystemOutput("ensemble_v1", rows, None, "v")  # type: ignore[arg-type]
    return Forecast(dt.date(2025, 7, 20), features, DecisionContext(), {"ensemble_v1": output})


def test_picks_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(cli, "console", console)
    cli.print_picks(slate(), "ensemble_v1")
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "@WSH" in text and "ATH" in text and "WAS" not in text.replace("WAS2025", "")
    assert lines[0].startswith("2025-07-20  ensemble_v1 at the main line: 1 pick of 2 starters")
    assert "-110 DK" in text and "no edge" in text


def test_bets_and_summary_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(cli, "console", console)
    ledger = pd.DataFrame(
        {
            "system_id": ["ensemble_v1", "ensemble_v1", "v1_baseline"],
            "game_id": ["WAS202507200", "SDN202507200", "SDN202507200"],
            "pitcher_id": [1, 2, 2],
            "side": ["OVER", "UNDER", "UNDER"],
            "line": [6.5, 4.5, 4.5],
            "book": ["BetRivers", "FanDuel", "FanDuel"],
            "odds": [310.0, -148.0, -148.0],
            "p_win": [0.252, 0.697, 0.7],
            "ev": [0.031, 0.168, 0.17],
            "stake": [0.0009, 0.0074, 0.0074],
        }
    )
    result = slate()
    shown = cli.print_bets(result, ledger, "ensemble_v1", "17:00")
    cli.print_summary(result, shown, stored=True)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "odds as of 17:00 ET" in text
    # names and MLB spellings, not ids and Retrosheet game codes
    assert "L. Severino  ATH   UNDER 4.5  -148 FD" in text
    assert "N. Pivetta   @WSH  OVER 6.5   +310 BR" in text
    assert "WAS2025" not in text and "SDN" not in text
    assert "2025-07-20: 2 bets of 2 starters, total stake 0.83% of the bankroll" in text
    assert "stored in the ledger (kcast bets --date 2025-07-20)" in text


def test_no_bets_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(cli, "console", console)
    result = slate()
    shown = cli.print_bets(result, pd.DataFrame(), "ensemble_v1", "now")
    cli.print_summary(result, shown, stored=False)
    text = console.export_text()
    assert "ensemble_v1: no bet reaches the EV threshold (odds as of now)" in text
    assert "2025-07-20: 0 bets of 2 starters" in text and "stored" not in text
