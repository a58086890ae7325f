"""``kcast predict``'s table: MLB team spellings, 80 columns, the total stake once stakes exist."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from rich.console import Console

from kcast.cli import systems as cli
from kcast.pipeline import SlateResult
from kcast.systems.base import SystemOutput


def slate(stake: bool) -> SlateResult:
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
    if stake:
        rows["stake"] = [1.5, None]
    features = rows[["game_id", "pitcher_id"]].assign(
        pitcher_name=["Nick Pivetta", "Luis Severino"]
    )
    output = SystemOutput("ensemble_v1", rows, None, "v")  # type: ignore[arg-type]
    return SlateResult(dt.date(2025, 7, 20), features, {"ensemble_v1": output})


@pytest.mark.parametrize("stake", [False, True])
def test_picks_at_80_columns(monkeypatch: pytest.MonkeyPatch, stake: bool) -> None:
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(cli, "console", console)
    cli.print_picks(slate(stake), "ensemble_v1")
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "@WSH" in text and "ATH" in text and "WAS" not in text.replace("WAS2025", "")
    assert lines[0].startswith("2025-07-20  ensemble_v1: 1 bets of 2 starters")
    assert ("total stake 1.50" in lines[0]) is stake
    assert "-110 DK" in text and "no edge" in text
