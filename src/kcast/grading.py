"""``kcast grade``: what really happened next to each prediction."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now


def bet_result(recommendation: str | None, line: float | None, actual: float) -> str:
    """win, loss or push for a bet; no_line when there was no line; pass when no bet was made."""
    if line is None or (isinstance(line, float) and np.isnan(line)):
        return "no_line"
    if recommendation not in ("OVER", "UNDER"):
        return "pass"
    if actual == line:
        return "push"
    won = actual > line if recommendation == "OVER" else actual < line
    return "win" if won else "loss"


def grade_dates(wh: Warehouse, start: dt.date, end: dt.date | None = None) -> pd.DataFrame:
    """Write actual strikeouts and results next to every prediction of the dates; return them."""
    rows = wh.query(
        """SELECT pr.game_id, pr.pitcher_id, pr.system_id, pr.recommendation, pr.line,
                  pr.predicted_strikeouts, pg.strikeouts AS actual
           FROM pitcher_strikeout_predictions pr
           JOIN pitcher_games pg ON pg.game_id = pr.game_id AND pg.pitcher_id = pr.pitcher_id
           WHERE pr.game_date BETWEEN $a AND $b""",
        {"a": start, "b": end or start},
    )
    if rows.empty:
        return rows
    rows["result"] = [
        bet_result(r, None if pd.isna(line) else float(line), float(a))
        for r, line, a in zip(rows["recommendation"], rows["line"], rows["actual"], strict=True)
    ]
    update = pd.DataFrame(
        {
            "game_id": rows["game_id"],
            "pitcher_id": rows["pitcher_id"],
            "system_id": rows["system_id"],
            "actual_strikeouts": rows["actual"],
            "result": rows["result"],
            "graded_at": utc_now(),
        }
    )
    _update_grades(wh, update)
    from kcast.bets import grade_bets

    grade_bets(wh, start, end)
    return rows


def _update_grades(wh: Warehouse, update: pd.DataFrame) -> None:
    """Set the grade columns of existing predictions (other columns untouched)."""
    current = wh.query(
        "SELECT game_id, pitcher_id, system_id, game_date, model_version, predicted_strikeouts, "
        "confidence, recommendation, created_at FROM pitcher_strikeout_predictions "
        "WHERE game_id IN (SELECT UNNEST($g))",
        {"g": sorted(set(update["game_id"]))},
    )
    merged = current.merge(update, on=["game_id", "pitcher_id", "system_id"], how="inner")
    with wh.transaction():
        wh.upsert("pitcher_strikeout_predictions", merged)
