"""The earlier answers of prediction rows (``prediction_snapshots``), and the lineups posted since.

``pitcher_strikeout_predictions`` keeps one row per pitcher, game and system: a new prediction
replaces the stored one. When the new one answers differently (a lineup confirmed, a line
moved, a model retrained), ``snapshot_replaced`` keeps the stored row, as it was, in
``prediction_snapshots`` with what changed; ``pipeline.store`` calls it in the transaction of
the upsert that replaces the rows, so the two are written together or not at all.
``confirmed_since`` finds the predictions made on a projected lineup whose opponent has since
posted its nine (the daily job predicts those starters again).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Any

import pandas as pd

from kcast.warehouse.base import Warehouse, utc_now

KEY = ["game_id", "pitcher_id", "system_id"]
# what an answer is: a change in any of these keeps the earlier row
ANSWER_COLUMNS = (
    "lineup_status",
    "predicted_strikeouts",
    "line",
    "over_odds",
    "under_odds",
    "book",
    "p_over",
    "recommendation",
    "model_version",
)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _same(a: Any, b: Any) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return str(a) == str(b)


def _show(value: Any) -> str:
    if _missing(value):
        return "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What ``new`` changed in ``old``'s answer: ``column: before -> after; ...`` ('' for
    nothing)."""
    return "; ".join(
        f"{c}: {_show(old.get(c))} -> {_show(new.get(c))}"
        for c in ANSWER_COLUMNS
        if c in new and not _same(old.get(c), new.get(c))
    )


def snapshot_replaced(wh: Warehouse, frame: pd.DataFrame) -> int:
    """Keep the stored rows that ``frame``'s rows (same pitcher, game and system) replace with
    another answer; return how many were kept. Call it inside the transaction that upserts
    ``frame``."""
    if frame.empty:
        return 0
    stored = wh.query(
        "SELECT * FROM pitcher_strikeout_predictions WHERE game_id IN (SELECT UNNEST($g))",
        {"g": sorted(set(frame["game_id"].astype(str)))},
    )
    if stored.empty:
        return 0
    stored["pitcher_id"] = stored["pitcher_id"].astype("int64")
    new = frame.assign(pitcher_id=frame["pitcher_id"].astype("int64")).set_index(KEY)
    kept = []
    for old in stored.to_dict("records"):
        key = tuple(old[k] for k in KEY)
        if key not in new.index:
            continue
        row = new.loc[key]
        row = (row.iloc[0] if isinstance(row, pd.DataFrame) else row).to_dict()
        what = changes(old, row)
        if what:
            kept.append(old | {"replaced_at": utc_now(), "changes": what})
    if not kept:
        return 0
    return wh.upsert("prediction_snapshots", pd.DataFrame(kept)).rows


_CONFIRMED_SINCE = """
SELECT DISTINCT p.game_id, p.pitcher_id
FROM pitcher_strikeout_predictions p
JOIN (SELECT game_id, team FROM lineups WHERE slot BETWEEN 1 AND 9
      GROUP BY game_id, team HAVING COUNT(DISTINCT slot) = 9) l
  ON l.game_id = p.game_id AND l.team = p.opponent
WHERE p.game_date = $d AND COALESCE(p.lineup_status, '') <> 'confirmed'
ORDER BY p.game_id, p.pitcher_id
"""


def confirmed_since(wh: Warehouse, day: dt.date) -> pd.DataFrame:
    """The (game_id, pitcher_id) of ``day`` predicted on a projected (or no) lineup whose
    opponent's nine are now stored: predicting them again gives the confirmed lineup."""
    return wh.query(_CONFIRMED_SINCE, {"d": day})
