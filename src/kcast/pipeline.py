"""The one prediction pipeline: starters -> features -> lines and prices -> systems -> decisions
-> rows stored.

``kcast predict``, the worker and the backtest all call these stages; the worker adds only its
cache and its circuit breakers (the ``call`` hook of ``run_systems``), the backtest only its
walk-forward loop. The stages, in order:

1. ``day_starters`` / ``requested_starters``: who starts (the probables stored by ``kcast ingest
   statsapi``, or for a past date the pitchers who really started, so any day of history can be
   replayed; or the pitcher-games a request names).
2. ``starter_features``: their features, built once, from games strictly before each date.
3. ``attach_prices``: each start's line and its prices (one rule: a price always belongs to its
   line; see the function).
4. ``systems_for_day`` then ``run_systems``: every active system, each updated only from what was
   graded before the day, members before the systems built on them.
5. decisions: inside each system's ``predict`` (``systems.base.build_output``).
6. ``store_predictions``: one row per pitcher per game per system, grades kept.

``predict_day`` and ``predict_starters`` run them all.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kcast.config import Settings, get_settings
from kcast.data.gameids import new_game_id
from kcast.dates import parse_date
from kcast.decisions import Thresholds
from kcast.errors import InputError, UnknownPitcherError
from kcast.features.build import FeatureContext, build_features, load_history
from kcast.features.matchup import MatchupContext
from kcast.history import GradedHistory, WarehouseHistory
from kcast.market import DecisionTime, quotes_at
from kcast.systems.base import BasePredictor, SystemOutput
from kcast.systems.registry import active_ids, dependency_order, load_system
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now
from kcast.warehouse.snapshots import snapshot_replaced

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


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


# --------------------------------------------------------------------------------------------
# 1. Who starts
# --------------------------------------------------------------------------------------------


def day_starters(wh: Warehouse, date: dt.date) -> pd.DataFrame:
    """One row per starter of ``date``: actual starters where the games were played, else the
    probable pitchers stored from the MLB Stats API."""
    actual = wh.query(
        """SELECT p.game_id, p.game_date, p.season, p.pitcher_id, p.team, p.opponent, p.is_home,
                  g.home_team, 'actual' AS starter_source
           FROM pitcher_games p LEFT JOIN games g USING (game_id)
           WHERE p.game_date = $d AND p.is_start""",
        {"d": date},
    )
    probable = wh.query(
        """SELECT game_id, game_date, season, home_probable_id AS pitcher_id, home_team AS team,
                  away_team AS opponent, TRUE AS is_home, home_team, 'probable' AS starter_source
           FROM games WHERE game_date = $d AND home_probable_id IS NOT NULL
             AND COALESCE(status, '') NOT IN ('postponed', 'cancelled', 'suspended')
           UNION ALL
           SELECT game_id, game_date, season, away_probable_id, away_team, home_team, FALSE,
                  home_team, 'probable'
           FROM games WHERE game_date = $d AND away_probable_id IS NOT NULL
             AND COALESCE(status, '') NOT IN ('postponed', 'cancelled', 'suspended')""",
        {"d": date},
    )
    if len(actual):
        # games already played use who really started; unplayed ones keep their probables
        probable = probable[~probable["game_id"].isin(set(actual["game_id"]))]
    frames = [f for f in (actual, probable) if len(f)]
    rows = pd.concat(frames, ignore_index=True) if frames else actual
    rows = rows.drop_duplicates(["game_id", "pitcher_id"])
    if len(rows):  # each starter's hand where players knows it (issue 20: a debut's only source)
        hands = wh.query(
            "SELECT player_id AS pitcher_id, throws FROM players "
            "WHERE throws IS NOT NULL AND player_id IN (SELECT UNNEST($ids))",
            {"ids": [int(p) for p in rows["pitcher_id"].unique()]},
        )
        rows = rows.merge(hands.astype({"pitcher_id": rows["pitcher_id"].dtype}), how="left")
    return normalise_starters(rows.sort_values(["game_id", "is_home"]).reset_index(drop=True))


def normalise_starters(starters: pd.DataFrame) -> pd.DataFrame:
    """Starter rows typed as the feature builder expects (dates at microsecond resolution)."""
    if starters.empty:
        return starters
    out = starters.copy()
    out["game_date"] = pd.to_datetime(out["game_date"]).dt.as_unit("us")
    out["pitcher_id"] = out["pitcher_id"].astype("int64")
    return out


def requested_starters(
    wh: Warehouse,
    requests: list[dict[str, Any]],
    slates: dict[dt.date, pd.DataFrame] | None = None,
    known: Collection[int] | None = None,
) -> pd.DataFrame:
    """Starter rows for requested pitcher-games (``pitcher_id``, ``game_date``, and optionally
    ``opponent``, ``is_home``, ``team``). ``slates`` holds ``day_starters`` of dates the caller
    has read already, ``known`` the warehouse's pitchers (``known_pitchers``) when it keeps them.

    The game is the warehouse's when the pitcher has one that day (as starter or probable);
    otherwise the request must name the opponent and home/away. An unknown pitcher is an
    ``UnknownPitcherError``; a pitcher named twice in one game an ``InputError``.
    """
    from kcast.teams import canonical_team

    ids = sorted({int(r["pitcher_id"]) for r in requests})
    unknown = sorted(set(ids) - set(known if known is not None else known_pitchers(wh, ids)))
    if unknown:
        raise UnknownPitcherError(f"pitcher {unknown[0]} is not in the warehouse")
    slates = dict(slates or {})
    out = []
    for req in requests:
        pid = int(req["pitcher_id"])
        date = parse_date(req["game_date"])
        if date not in slates:
            slates[date] = day_starters(wh, date)
        match = slates[date]
        match = match[match["pitcher_id"] == pid] if len(match) else match
        if len(match):
            out.append(match.iloc[0].to_dict())
            continue
        if not req.get("opponent") or req.get("is_home") is None:
            raise InputError(
                f"pitcher {pid} has no game on {date} in the warehouse; give opponent and "
                "is_home (or ingest the slate with `kcast ingest statsapi --date`)"
            )
        team = canonical_team(req["team"]) if req.get("team") else _latest_team(wh, pid, date)
        opponent = canonical_team(req["opponent"])
        is_home = bool(req["is_home"])
        home = team if is_home else opponent
        out.append(
            {
                "game_id": new_game_id(home, date),
                "game_date": date,
                "season": date.year,
                "pitcher_id": pid,
                "team": team,
                "opponent": opponent,
                "is_home": is_home,
                "home_team": home,
                "starter_source": "request",
            }
        )
    starters = normalise_starters(pd.DataFrame(out))
    dupes = starters.duplicated(["game_id", "pitcher_id"])
    if dupes.any():
        row = starters[dupes].iloc[0]
        raise InputError(f"pitcher {row['pitcher_id']} appears twice in game {row['game_id']}")
    return starters


def known_pitchers(wh: Warehouse, ids: Collection[int] | None = None) -> set[int]:
    """The pitchers the warehouse knows (in ``players`` or with a game), of ``ids`` when given."""
    where = "" if ids is None else " WHERE {col} IN (SELECT UNNEST($ids))"
    known = wh.query(
        "SELECT player_id AS pitcher_id FROM players"
        + where.format(col="player_id")
        + " UNION SELECT DISTINCT pitcher_id FROM pitcher_games"
        + where.format(col="pitcher_id"),
        {} if ids is None else {"ids": [int(i) for i in ids]},
    )
    return set(known["pitcher_id"].dropna().astype(int))


def pitcher_names(wh: Warehouse, ids: Collection[int] | None = None) -> pd.DataFrame:
    """``pitcher_id`` and ``pitcher_name`` of the players (of ``ids`` when given)."""
    where = "" if ids is None else " WHERE player_id IN (SELECT UNNEST($ids))"
    return wh.query(
        "SELECT player_id AS pitcher_id, full_name AS pitcher_name FROM players" + where,
        {} if ids is None else {"ids": [int(i) for i in ids]},
    )


def _latest_team(wh: Warehouse, pitcher_id: int, date: dt.date) -> str:
    rows = wh.query(
        "SELECT team FROM pitcher_games WHERE pitcher_id = $p AND game_date < $d "
        "ORDER BY game_date DESC LIMIT 1",
        {"p": pitcher_id, "d": date},
    )
    if not len(rows):
        raise InputError(f"pitcher {pitcher_id} has no team on record; give team")
    return str(rows["team"].iloc[0])


def first_history_date(wh: Warehouse) -> dt.date | None:
    """Return the date of the warehouse's first game (None when it has none)."""
    value = wh.query("SELECT MIN(game_date) AS d FROM pitcher_games")["d"].iloc[0]
    return None if _missing(value) or value is pd.NaT else pd.Timestamp(value).date()


def check_history(day: dt.date, first: dt.date | None) -> None:
    """Raise ``InputError`` when there are no games before ``day`` to learn from (``first`` is
    the warehouse's first game date)."""
    if first is None or day <= first:
        since = "no games at all" if first is None else f"games from {first} on"
        raise InputError(
            f"cannot predict {day}: the warehouse holds {since}, and features need games "
            "before the date"
        )


# --------------------------------------------------------------------------------------------
# 2. Features
# --------------------------------------------------------------------------------------------


def starter_features(
    wh: Warehouse,
    starters: pd.DataFrame,
    history: pd.DataFrame | None = None,
    context: FeatureContext | None = None,
    matchup: MatchupContext | None = None,
    names: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features for the starters, from games strictly before each start's date, with the
    pitchers' names. ``history`` (``load_history``'s frame), ``context`` (its
    ``FeatureContext``), ``matchup`` (the lineups' ``MatchupContext``) and ``names``
    (``pitcher_names``) are the caller's when it keeps them already."""
    if starters.empty:
        return starters
    starters = starters.drop(columns=list(PRICE_COLUMNS), errors="ignore")
    latest = pd.to_datetime(starters["game_date"]).max()
    if history is None:
        history = load_history(wh, before=latest)
    frame = build_features(history, starters, context)
    if matchup is None:
        first = int(pd.to_datetime(starters["game_date"]).dt.year.min())
        matchup = MatchupContext.from_warehouse(wh, before=latest, first_season=first)
    frame = matchup.attach(frame)
    if names is None:
        names = pitcher_names(wh, frame["pitcher_id"].unique())
    if "pitcher_name" in frame:
        frame = frame.drop(columns=["pitcher_name"])
    return frame.merge(names, on="pitcher_id", how="left")


# --------------------------------------------------------------------------------------------
# 3. Lines and prices
# --------------------------------------------------------------------------------------------


def stored_lines(
    wh: Warehouse, start: dt.date, end: dt.date | None = None, at: DecisionTime | str | None = None
) -> pd.DataFrame:
    """Every stored line with a pitcher between the dates known at the decision time ``at``
    (``market.quotes_at``; None: every stored line), ranked: best snapshot first (close, then
    posted, then open), main lines before alternates, then by book preference."""
    lines = wh.query(
        """SELECT pitcher_id, game_date, book, line, over_odds, under_odds, snapshot, is_main,
                  projection, source, captured_at
           FROM prop_lines
           WHERE pitcher_id IS NOT NULL AND game_date BETWEEN $a AND $b AND line >= 0.5""",
        {"a": start, "b": end or start},
    )
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
    if req is None or _missing(req.get("line")):
        return None
    line = float(req["line"])
    if not _missing(req.get("over_odds")) and not _missing(req.get("under_odds")):
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
    opens = wh.query(
        """SELECT pitcher_id, game_date, book, line, over_odds AS open_over_odds,
                  under_odds AS open_under_odds
           FROM prop_lines WHERE snapshot = 'open' AND pitcher_id IS NOT NULL
             AND game_date BETWEEN $a AND $b""",
        {"a": start, "b": end},
    ).drop_duplicates(["pitcher_id", "game_date", "book", "line"])
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


# --------------------------------------------------------------------------------------------
# 4. Systems
# --------------------------------------------------------------------------------------------

Caller = Callable[[str, Callable[[], SystemOutput]], SystemOutput]


def direct_call(system_id: str, fn: Callable[[], SystemOutput]) -> SystemOutput:
    return fn()


@dataclass
class SlateResult:
    date: dt.date | None
    features: pd.DataFrame
    outputs: dict[str, SystemOutput] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """Every system's rows, stacked."""
        if not self.outputs:
            return pd.DataFrame()
        return pd.concat([o.frame for o in self.outputs.values()], ignore_index=True)


def load_systems(
    wh: Warehouse, settings: Settings | None = None, ids: list[str] | None = None
) -> tuple[dict[str, BasePredictor], dict[str, str]]:
    """The active systems, loaded; those that cannot load are returned as errors."""
    settings = settings or get_settings()
    systems: dict[str, BasePredictor] = {}
    errors: dict[str, str] = {}
    loaded: dict[str, BasePredictor] = {}
    for system_id in ids or active_ids(settings):
        try:
            systems[system_id] = load_system(system_id, wh, settings, loaded)
        except Exception as exc:  # noqa: BLE001
            errors[system_id] = f"{type(exc).__name__}: {exc}"
    return systems, errors


def systems_for_day(
    systems: dict[str, BasePredictor], history: GradedHistory, settings: Settings
) -> dict[str, BasePredictor]:
    """Each system updated from ``history`` (graded before the day predicted); systems built
    on others are bound to the updated members."""
    updated = {
        s: system.with_history(history, settings.market_blend) for s, system in systems.items()
    }
    for system in updated.values():
        if system.member_ids:
            system.bind_members(updated)
    return updated


def run_systems(
    features: pd.DataFrame,
    systems: dict[str, BasePredictor],
    thresholds: Thresholds,
    call: Caller = direct_call,
    known: dict[str, SystemOutput] | None = None,
) -> SlateResult:
    """Every system on the same feature rows, members before the systems built on them (which
    get this run's member answers). A system that fails is recorded and skipped. ``known``
    holds answers already computed for these rows: those systems are not run again."""
    result = SlateResult(None, features, outputs=dict(known or {}))
    for system_id in dependency_order(list(systems), lambda s: systems[s].member_ids):
        if system_id in result.outputs:
            continue
        system = systems[system_id]
        t0 = time.perf_counter()
        try:
            result.outputs[system_id] = call(
                system_id,
                lambda s=system: s.predict(features, thresholds, members=result.outputs.get),
            )
        except Exception as exc:  # noqa: BLE001 - one system must never take the others down
            result.errors[system_id] = f"{type(exc).__name__}: {exc}"
        result.timings[system_id] = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------------------------
# 6. Storing
# --------------------------------------------------------------------------------------------

GRADE_COLUMNS = ("actual_strikeouts", "result", "graded_at")


def storable_rows(wh: Warehouse, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows to store: a prediction at a line given in a request (book ``request``) never
    replaces a stored prediction at a sportsbook's line."""
    asked = frame["book"] == REQUEST_BOOK
    if not asked.any():
        return frame
    booked = wh.query(
        """SELECT game_id, pitcher_id, system_id FROM pitcher_strikeout_predictions
           WHERE game_id IN (SELECT UNNEST($g)) AND book IS NOT NULL AND book <> $request""",
        {"g": sorted(set(frame.loc[asked, "game_id"].astype(str))), "request": REQUEST_BOOK},
    )
    if booked.empty:
        return frame
    keys = set(
        zip(booked["game_id"], booked["pitcher_id"].astype(int), booked["system_id"], strict=True)
    )
    row_keys = zip(
        frame["game_id"], frame["pitcher_id"].astype(int), frame["system_id"], strict=True
    )
    over_book = [a and k in keys for a, k in zip(asked, row_keys, strict=True)]
    return frame[~pd.Series(over_book, index=frame.index)]


def store_predictions(wh: Warehouse, frame: pd.DataFrame) -> int:
    """``store``'s rows written (see there)."""
    return store(wh, frame).rows


@dataclass
class Stored:
    """What ``store`` wrote: rows, and how many of them were graded rows worked out again."""

    rows: int = 0
    regraded: int = 0


def store(wh: Warehouse, frame: pd.DataFrame) -> Stored:
    """Upsert prediction rows (``PREDICTION_COLUMNS``) with the pitchers' names.

    A row already graded keeps its actual strikeouts, and its result is worked out again for
    the new recommendation: re-predicting a day never loses its grades. A row at a line given
    in a request never replaces one at a sportsbook's line."""
    from kcast.grading import bet_result

    if frame.empty:
        return Stored()
    frame = frame.drop(columns=[c for c in (*GRADE_COLUMNS, "pitcher_name") if c in frame])
    frame = storable_rows(wh, frame)
    if frame.empty:
        return Stored()
    names = wh.query(
        "SELECT player_id AS pitcher_id, full_name AS pitcher_name FROM players WHERE player_id "
        "IN (SELECT UNNEST($ids))",
        {"ids": [int(x) for x in frame["pitcher_id"].unique()]},
    )
    frame = frame.merge(names, on="pitcher_id", how="left")
    frame["created_at"] = utc_now()
    with wh.transaction():
        snapshot_replaced(wh, frame)  # the earlier answers these rows replace (issue 20)
        graded = wh.query(
            """SELECT game_id, pitcher_id, system_id, actual_strikeouts, graded_at
               FROM pitcher_strikeout_predictions
               WHERE game_id IN (SELECT UNNEST($g)) AND graded_at IS NOT NULL""",
            {"g": sorted(set(frame["game_id"].astype(str)))},
        )
        if len(graded):
            frame = frame.merge(graded, on=["game_id", "pitcher_id", "system_id"], how="left")
            has = frame["graded_at"].notna()
            frame["result"] = [
                bet_result(rec, None if _missing(line) else float(line), float(actual))
                if ok
                else None
                for rec, line, actual, ok in zip(
                    frame["recommendation"],
                    frame["line"],
                    frame["actual_strikeouts"],
                    has,
                    strict=True,
                )
            ]
            regraded, fresh = frame[has], frame[~has].drop(columns=list(GRADE_COLUMNS))
            written = (
                wh.upsert("pitcher_strikeout_predictions", regraded).rows if len(regraded) else 0
            )
            if len(fresh):
                written += wh.upsert("pitcher_strikeout_predictions", fresh).rows
            return Stored(written, len(regraded))
        return Stored(wh.upsert("pitcher_strikeout_predictions", frame).rows)


# --------------------------------------------------------------------------------------------
# The whole day
# --------------------------------------------------------------------------------------------


def predict_day(
    wh: Warehouse,
    date: dt.date,
    settings: Settings | None = None,
    systems: dict[str, BasePredictor] | None = None,
    call: Caller = direct_call,
    write: bool = True,
    at: DecisionTime | str | None = None,
) -> SlateResult:
    """Predict every starter of ``date`` with every active system, priced at the decision time
    ``at`` (None: every stored price); store the rows."""
    settings = settings or get_settings()
    load_errors: dict[str, str] = {}
    if systems is None:
        systems, load_errors = load_systems(wh, settings)
    starters = day_starters(wh, date)
    return predict_starters(
        wh,
        starters,
        settings,
        systems,
        call=call,
        write=write,
        load_errors=load_errors,
        date=date,
        at=at,
    )


def predict_starters(
    wh: Warehouse,
    starters: pd.DataFrame,
    settings: Settings,
    systems: dict[str, BasePredictor],
    requested: list[dict[str, Any] | None] | None = None,
    call: Caller = direct_call,
    write: bool = True,
    load_errors: dict[str, str] | None = None,
    date: dt.date | None = None,
    at: DecisionTime | str | None = None,
) -> SlateResult:
    """Stages 2 to 6 for given starter rows: features once, prices at ``at``, every system,
    stored."""
    features = starter_features(wh, starters)
    if features.empty:  # nobody starts: nothing to predict, and no system has failed
        return SlateResult(date, features, errors=dict(load_errors or {}))
    features = attach_prices(wh, features, requested, at)
    day = pd.to_datetime(features["game_date"]).min().date()
    ready = systems_for_day(systems, WarehouseHistory(wh, day), settings)
    result = run_systems(features, ready, Thresholds.from_settings(settings), call)
    result.date = date
    result.errors = {**(load_errors or {}), **result.errors}
    if write and result.outputs:
        store_predictions(wh, result.frame())
    return result
