"""Lines and prices at a decision time: the third stage of a forecast.

Every stored line of the dates is read once (``stored_lines``), ranked (best snapshot first,
main lines before alternates, then by book preference) and cut to the quotes known at the
decision time (``market.quotes_at``). Each start gets one line with that line's own prices
(``attach_prices``): the line a request names, else the best stored line (``best_lines``: the
consensus main line, else the line most books offer). One rule: a price always belongs to its
line; a requested line without odds gets the stored price of that same line, or none.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from kcast.market import DecisionTime, quotes_at, sane_quotes
from kcast.numbers import is_missing
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

BOOK_PREFERENCE = (
    "consensus",
    "DraftKings",
    "FanDuel",
    "BetMGM",
    "Caesars",
    "BetRivers",
    "Fanatics",
    "Bovada",
    "BetOnline.ag",
    "MyBookie.ag",
)
SNAPSHOT_PREFERENCE = ("close", "posted", "open")
PRICE_COLUMNS = ("line", "over_odds", "under_odds", "book")
REQUEST_BOOK = "request"  # the book of a line given in a request


def stored_lines(
    wh: Warehouse, start: dt.date, end: dt.date | None = None, at: DecisionTime | str | None = None
) -> pd.DataFrame:
    """Every stored line with a pitcher between the dates known at the decision time ``at``
    (``market.quotes_at``; None: every stored line), ranked: best snapshot first (close, then
    posted, then open), main lines before alternates, then by book preference."""
    # a stored quote that is no sportsbook price (an older warehouse's) is never priced or bet on
    lines = sane_quotes(wh.query(statement("stored_lines"), {"a": start, "b": end or start}))
    lines["game_date"] = pd.to_datetime(lines["game_date"])
    lines["pitcher_id"] = lines["pitcher_id"].astype("int64")
    lines["snap_rank"] = (
        lines["snapshot"].map({s: i for i, s in enumerate(SNAPSHOT_PREFERENCE)}).fillna(9)
    )
    lines["book_rank"] = lines["book"].map({b: i for i, b in enumerate(BOOK_PREFERENCE)}).fillna(99)
    lines["main_rank"] = np.where(lines["is_main"].fillna(True).astype(bool), 0, 1)
    lines = lines.sort_values(["pitcher_id", "game_date", "snap_rank", "main_rank"], kind="stable")
    return quotes_at(lines, at) if at is not None else lines


def best_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """One line per (pitcher, date) from ``stored_lines``: among the best snapshot's main lines,
    the consensus line where there is one, else the line most books offer, by book preference;
    with any projection shipped with the lines."""
    columns = ["pitcher_id", "game_date", "line", "over_odds", "under_odds", "book", "projection"]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    best_snap = lines.groupby(["pitcher_id", "game_date"])[["snap_rank", "main_rank"]].transform(
        "min"
    )
    top = lines[
        (lines["snap_rank"] == best_snap["snap_rank"])
        & (lines["main_rank"] == best_snap["main_rank"])
    ].copy()
    top["n_books"] = top.groupby(["pitcher_id", "game_date", "line"])["book"].transform("count")
    top["is_consensus"] = (top["book"] == "consensus").astype(int)
    top = top.sort_values(
        ["pitcher_id", "game_date", "is_consensus", "n_books", "book_rank"],
        ascending=[True, True, False, False, True],
    )
    best = top.drop_duplicates(["pitcher_id", "game_date"])
    proj = lines.dropna(subset=["projection"]).drop_duplicates(["pitcher_id", "game_date"])
    best = best.drop(columns=["projection"]).merge(
        proj[["pitcher_id", "game_date", "projection"]], on=["pitcher_id", "game_date"], how="left"
    )
    return best[columns]


def price_of_line(lines: pd.DataFrame, pitcher_id: int, date: pd.Timestamp, line: float) -> dict:
    """The best stored price of exactly ``line`` for the pitcher that day ({} when none)."""
    if lines.empty:
        return {}
    same = lines[
        (lines["pitcher_id"] == pitcher_id)
        & (lines["game_date"] == date)
        & (lines["line"] == line)
        & lines["over_odds"].notna()
        & lines["under_odds"].notna()
    ]
    if same.empty:
        return {}
    same = same.assign(is_consensus=(same["book"] == "consensus").astype(int)).sort_values(
        ["snap_rank", "main_rank", "is_consensus", "book_rank"],
        ascending=[True, True, False, True],
    )
    row = same.iloc[0]
    return {"over_odds": row["over_odds"], "under_odds": row["under_odds"], "book": row["book"]}


def requested_price(
    lines: pd.DataFrame, pitcher_id: int, date: pd.Timestamp, req: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The line and prices of a request that names a line (None when it names none).

    The request's own prices when it gives both (their book is ``request``: a request cannot
    speak for a sportsbook); otherwise the best stored price of that same line
    (``price_of_line``), else no price: a price is never taken from another line."""
    if req is None or is_missing(req.get("line")):
        return None
    line = float(req["line"])
    if not is_missing(req.get("over_odds")) and not is_missing(req.get("under_odds")):
        return {
            "line": line,
            "over_odds": float(req["over_odds"]),
            "under_odds": float(req["under_odds"]),
            "book": REQUEST_BOOK,  # whatever the request calls it, this price is the request's
        }
    stored = price_of_line(lines, pitcher_id, date, line)
    return {
        "line": line,
        **(stored or {"over_odds": np.nan, "under_odds": np.nan, "book": REQUEST_BOOK}),
    }


def open_prices(wh: Warehouse, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Each book's opening price of each line (for closing-line value)."""
    opens = wh.query(statement("opening_prices"), {"a": start, "b": end})
    opens = opens.drop_duplicates(["pitcher_id", "game_date", "book", "line"])
    opens["game_date"] = pd.to_datetime(opens["game_date"])
    opens["pitcher_id"] = opens["pitcher_id"].astype("int64")
    return opens


def attach_prices(
    wh: Warehouse,
    rows: pd.DataFrame,
    requested: list[dict[str, Any] | None] | None = None,
    at: DecisionTime | str | None = None,
    lines: pd.DataFrame | None = None,
    best: pd.DataFrame | None = None,
    opens: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Give each row its line and prices, as known at the decision time ``at`` (open, close,
    HH:MM US Eastern, now; None: every stored price, as ``now``); one rule for every caller.

    Only quotes captured before the decision time count (``market.quotes_at``), for the line
    chosen and for its prices alike.

    * A row whose request names a line gets that line. Its prices are the request's own when it
      gives both; otherwise the best stored price of that same line, if one exists, else none.
      A price is never taken from another line.
    * Any other row gets the best stored line (``best_lines``) with that line's prices.

    ``requested`` is aligned with ``rows`` (None where a row has no request). The opening price
    of the chosen book and line is added as ``open_over_odds``/``open_under_odds`` where stored.
    ``lines`` is ``stored_lines`` of the rows' dates when the caller has read it already,
    ``best`` its ``best_lines`` and ``opens`` the dates' ``open_prices`` (the worker keeps them
    per date).
    """
    if rows.empty:
        return rows
    rows = rows.drop(columns=[*PRICE_COLUMNS, "projection"], errors="ignore").reset_index(drop=True)
    rows["game_date"] = pd.to_datetime(rows["game_date"])
    rows["pitcher_id"] = rows["pitcher_id"].astype("int64")
    first, last = rows["game_date"].min().date(), rows["game_date"].max().date()
    lines = stored_lines(wh, first, last, at) if lines is None else lines
    best = best_lines(lines) if best is None else best
    priced = rows.merge(best, on=["pitcher_id", "game_date"], how="left")
    for col in ("line", "over_odds", "under_odds"):
        priced[col] = priced[col].astype(float)
    priced["book"] = priced["book"].astype(object)
    for i, req in enumerate(requested or []):
        price = requested_price(
            lines, int(priced.at[i, "pitcher_id"]), priced.at[i, "game_date"], req
        )
        if price is None:
            continue
        for col, value in price.items():
            priced.at[i, col] = value
    opens = open_prices(wh, first, last) if opens is None else opens
    priced = priced.merge(opens, on=["pitcher_id", "game_date", "book", "line"], how="left")
    return priced
