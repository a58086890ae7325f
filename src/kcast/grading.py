"""``kcast grade``: what really happened next to each prediction and each bet."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from kcast.bets import grade_bets
from kcast.decisions import VOID, bet_result
from kcast.numbers import is_missing
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now
from kcast.warehouse.statements import statement

__all__ = ["NOT_PLAYED", "VOID", "bet_result", "grade_dates", "row_results"]

NOT_PLAYED = ("postponed", "cancelled")


def row_results(frame: pd.DataFrame) -> list[str]:
    """The result of each prediction row with its ``actual_strikeouts`` (missing: the pitcher
    did not start): the decision's side (``recommendation``) at the decision's line (a bet's
    rung, else the row's line), by ``decisions.bet_result``."""
    lines = frame["decision_line"] if "decision_line" in frame else frame["line"]
    lines = lines.where(lines.notna(), frame["line"])
    return [
        bet_result(
            rec,
            None if is_missing(line) else float(line),
            None if is_missing(actual) else float(actual),
        )
        for rec, line, actual in zip(
            frame["recommendation"], lines, frame["actual_strikeouts"], strict=True
        )
    ]


def grade_dates(wh: Warehouse, start: dt.date, end: dt.date | None = None) -> pd.DataFrame:
    """Write actual strikeouts and results next to every prediction of the dates, and grade
    their bets; return the graded rows (``actual_strikeouts`` and ``result``).

    A prediction is graded when its pitcher started the game (win, loss, push, pass, no_line),
    and void when he did not: the game was played and someone else started it (a scratch; a
    pitcher who came on in relief is void too), or the game was postponed or cancelled. A
    prediction of a game not yet played (or whose results are not stored) stays ungraded.
    """
    rows = wh.query(statement("predictions_to_grade"), {"a": start, "b": end or start})
    if rows.empty:
        return rows
    started = rows["is_start"].fillna(False).astype(bool)
    not_played = rows["status"].isin(NOT_PLAYED)
    someone_else = ~started & (rows["starts_stored"] >= 2)  # both starts of the game stored
    rows = rows[started | not_played | someone_else].reset_index(drop=True)
    if rows.empty:
        return rows
    rows["result"] = row_results(rows)
    update = pd.DataFrame(
        {
            "game_id": rows["game_id"],
            "pitcher_id": rows["pitcher_id"],
            "system_id": rows["system_id"],
            "actual_strikeouts": rows["actual_strikeouts"],
            "result": rows["result"],
            "graded_at": utc_now(),
        }
    )
    _update_grades(wh, update)
    void = rows[rows["result"] == VOID]
    grade_bets(
        wh, start, end, set(zip(void["game_id"], void["pitcher_id"].astype(int), strict=True))
    )
    return rows


def _update_grades(wh: Warehouse, update: pd.DataFrame) -> None:
    """Set the grade columns of existing predictions (other columns untouched)."""
    games = sorted(set(update["game_id"]))
    current = wh.query(statement("prediction_required_columns"), {"g": games})
    merged = current.merge(update, on=["game_id", "pitcher_id", "system_id"], how="inner")
    with wh.transaction():
        wh.upsert("pitcher_strikeout_predictions", merged)
