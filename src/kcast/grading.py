"""``kcast grade``: what really happened next to each prediction."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now

VOID = "void"
"""The result of a prediction whose pitcher did not start the game (scratched, moved to the
bullpen, or the game postponed or cancelled): no action, as the books grade it. A void row has
no actual strikeouts, so it is in no error, win rate or ROI figure."""

NOT_PLAYED = ("postponed", "cancelled")


def bet_result(recommendation: str | None, line: float | None, actual: float | None) -> str:
    """win, loss or push for a bet; no_line when there was no line; pass when no bet was made;
    void when there is no actual (the pitcher did not start)."""
    if actual is None or (isinstance(actual, float) and np.isnan(actual)):
        return VOID
    if line is None or (isinstance(line, float) and np.isnan(line)):
        return "no_line"
    if recommendation not in ("OVER", "UNDER"):
        return "pass"
    if actual == line:
        return "push"
    won = actual > line if recommendation == "OVER" else actual < line
    return "win" if won else "loss"


def grade_dates(wh: Warehouse, start: dt.date, end: dt.date | None = None) -> pd.DataFrame:
    """Write actual strikeouts and results next to every prediction of the dates; return them.

    A prediction is graded when its pitcher started the game (win, loss, push, pass, no_line),
    and void when he did not: the game was played and someone else started it (a scratch; a
    pitcher who came on in relief is void too), or the game was postponed or cancelled. A
    prediction of a game not yet played (or whose results are not stored) stays ungraded.
    """
    rows = wh.query(
        """SELECT pr.game_id, pr.pitcher_id, pr.system_id, pr.recommendation, pr.line,
                  pr.predicted_strikeouts,
                  CASE WHEN pg.is_start THEN pg.strikeouts END AS actual,
                  pg.is_start, g.status,
                  (SELECT COUNT(*) FROM pitcher_games s
                   WHERE s.game_id = pr.game_id AND s.is_start) AS starts_stored
           FROM pitcher_strikeout_predictions pr
           LEFT JOIN pitcher_games pg ON pg.game_id = pr.game_id AND pg.pitcher_id = pr.pitcher_id
           LEFT JOIN games g ON g.game_id = pr.game_id
           WHERE pr.game_date BETWEEN $a AND $b""",
        {"a": start, "b": end or start},
    )
    if rows.empty:
        return rows
    started = rows["is_start"].fillna(False).astype(bool)
    not_played = rows["status"].isin(NOT_PLAYED)
    someone_else = ~started & (rows["starts_stored"] >= 2)  # both starts of the game stored
    rows = rows[started | not_played | someone_else].reset_index(drop=True)
    if rows.empty:
        return rows
    rows["result"] = [
        bet_result(r, None if pd.isna(line) else float(line), None if pd.isna(a) else float(a))
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
