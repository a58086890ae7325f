"""Grading: a starter who did not start is void (no action), never a loss."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kcast.grading import VOID, bet_result, grade_dates
from kcast.warehouse import open_warehouse
from kcast.warehouse.base import utc_now

DAY = dt.date(2025, 6, 4)


def test_no_actual_is_void() -> None:
    assert bet_result("OVER", 5.5, None) == VOID
    assert bet_result("UNDER", 5.5, float("nan")) == VOID
    assert bet_result("OVER", 5.5, 6.0) == "win"
    assert bet_result("PASS", 5.5, 6.0) == "pass"


def test_scratched_relief_and_postponed_are_void_unplayed_waits(tmp_path) -> None:
    wh = open_warehouse(str(tmp_path / "g.duckdb"))
    base = {
        "game_date": DAY,
        "season": 2025,
        "game_type": "regular",
        "source": "statsapi",
        "source_rank": 30,
    }
    wh.upsert(
        "games",
        pd.DataFrame(
            [
                {
                    **base,
                    "game_id": "ATL202506040",
                    "home_team": "ATL",
                    "away_team": "NYN",
                    "status": "final",
                },
                {
                    **base,
                    "game_id": "WAS202506040",
                    "home_team": "WAS",
                    "away_team": "PHI",
                    "status": "postponed",
                },
                {
                    **base,
                    "game_id": "SEA202506040",
                    "home_team": "SEA",
                    "away_team": "OAK",
                    "status": "scheduled",
                },
            ]
        ),
    )
    pg = {**base, "game_id": "ATL202506040", "is_home": True, "team": "ATL", "opponent": "NYN"}
    wh.upsert(
        "pitcher_games",
        pd.DataFrame(
            [
                {**pg, "pitcher_id": 1, "is_start": True, "strikeouts": 7},
                {
                    **pg,
                    "pitcher_id": 2,
                    "is_start": True,
                    "strikeouts": 4,
                    "is_home": False,
                    "team": "NYN",
                    "opponent": "ATL",
                },
                {**pg, "pitcher_id": 3, "is_start": False, "strikeouts": 2},
            ]
        ),
    )
    pred = {
        "system_id": "v1_baseline",
        "game_date": DAY,
        "model_version": "m",
        "predicted_strikeouts": 5.0,
        "confidence": 70.0,
        "recommendation": "OVER",
        "line": 5.5,
        "created_at": utc_now(),
    }
    wh.upsert(
        "pitcher_strikeout_predictions",
        pd.DataFrame(
            [
                {**pred, "game_id": "ATL202506040", "pitcher_id": 1},  # started: win
                {**pred, "game_id": "ATL202506040", "pitcher_id": 9},  # scratched: void
                {**pred, "game_id": "ATL202506040", "pitcher_id": 3},  # in relief: void
                {**pred, "game_id": "WAS202506040", "pitcher_id": 5},  # postponed: void
                {**pred, "game_id": "SEA202506040", "pitcher_id": 6},  # not played yet
            ]
        ),
    )
    grade_dates(wh, DAY)
    rows = wh.query(
        "SELECT pitcher_id, result, actual_strikeouts, graded_at FROM "
        "pitcher_strikeout_predictions ORDER BY pitcher_id"
    ).set_index("pitcher_id")
    assert rows.loc[1, "result"] == "win" and rows.loc[1, "actual_strikeouts"] == 7
    for pid in (3, 5, 9):
        assert rows.loc[pid, "result"] == VOID
        assert pd.isna(rows.loc[pid, "actual_strikeouts"])
        assert not pd.isna(rows.loc[pid, "graded_at"])
    assert pd.isna(rows.loc[6, "result"]) and pd.isna(rows.loc[6, "graded_at"])
    # void is in no score: the graded view has the one real grade only
    view = wh.query("SELECT pitcher_id, profit FROM graded_predictions")
    assert list(view["pitcher_id"]) == [1]
    assert np.isnan(view["profit"].iloc[0])  # a bet without stored odds has no profit
    wh.close()
