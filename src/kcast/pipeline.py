"""The stages of a forecast: starters -> features -> lines and prices -> systems -> decisions
-> rows stored.

One object runs them, for every caller: ``forecast.Forecaster``. This module holds the stages
it runs (the prices are ``kcast.prices``', the decision ``kcast.decision``'s):

1. ``day_starters`` / ``requested_starters``: who starts (the probables stored by ``kcast ingest
   statsapi``, or for a past date the pitchers who really started, so any day of history can be
   replayed; or the pitcher-games a request names).
2. ``starter_features``: their features, built once, from games strictly before each date.
3. ``prices.attach_prices``: each start's line and its prices at the decision time.
4. ``systems_for_day`` then ``run_systems``: every active system, each updated only from what
   was graded before the day, members before the systems built on them; each system's rows
   decided by ``decision.decide`` (inside ``BasePredictor.predict``) against the start's
   quotes known at the decision time.
5. ``store``: one row per pitcher per game per system, grades kept.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kcast.config import Settings
from kcast.context import DecisionContext
from kcast.data.gameids import new_game_id
from kcast.dates import parse_date
from kcast.decision import StartKey, StartMarket
from kcast.errors import InputError, UnknownPitcherError, WarehouseError
from kcast.features.build import FeatureContext, build_features, load_history
from kcast.features.matchup import MatchupContext
from kcast.grading import row_results
from kcast.numbers import is_missing
from kcast.prices import PRICE_COLUMNS, REQUEST_BOOK
from kcast.systems.base import BasePredictor, GradedHistory, SystemOutput
from kcast.systems.registry import active_ids, dependency_order, load_system
from kcast.teams import canonical_team
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now
from kcast.warehouse.statements import statement

# --------------------------------------------------------------------------------------------
# 1. Who starts
# --------------------------------------------------------------------------------------------


def day_starters(wh: Warehouse, date: dt.date) -> pd.DataFrame:
    """One row per starter of ``date``: actual starters where the games were played, else the
    probable pitchers stored from the MLB Stats API."""
    actual = wh.query(statement("actual_starters"), {"d": date})
    probable = wh.query(statement("probable_starters"), {"d": date})
    if len(actual):
        # games already played use who really started; unplayed ones keep their probables
        probable = probable[~probable["game_id"].isin(set(actual["game_id"]))]
    frames = [f for f in (actual, probable) if len(f)]
    rows = pd.concat(frames, ignore_index=True) if frames else actual
    rows = rows.drop_duplicates(["game_id", "pitcher_id"])
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
    if ids is None:
        known = wh.query(statement("known_pitchers"))
    else:
        known = wh.query(statement("known_pitchers_of"), {"ids": [int(i) for i in ids]})
    return set(known["pitcher_id"].dropna().astype(int))


def pitcher_names(wh: Warehouse, ids: Collection[int] | None = None) -> pd.DataFrame:
    """``pitcher_id`` and ``pitcher_name`` of the players (of ``ids`` when given)."""
    if ids is None:
        return wh.query(statement("pitcher_names"))
    return wh.query(statement("pitcher_names_of"), {"ids": [int(i) for i in ids]})


def _latest_team(wh: Warehouse, pitcher_id: int, date: dt.date) -> str:
    rows = wh.query(statement("latest_team"), {"p": pitcher_id, "d": date})
    if not len(rows):
        raise InputError(f"pitcher {pitcher_id} has no team on record; give team")
    return str(rows["team"].iloc[0])


def first_history_date(wh: Warehouse) -> dt.date | None:
    """Return the date of the warehouse's first game (None when it has none)."""
    value = wh.query(statement("first_game_date"))["d"].iloc[0]
    return None if is_missing(value) else pd.Timestamp(value).date()


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
# 4. Systems
# --------------------------------------------------------------------------------------------

Caller = Callable[[str, Callable[[], SystemOutput]], SystemOutput]
Markets = Mapping[StartKey, StartMarket]


def direct_call(system_id: str, fn: Callable[[], SystemOutput]) -> SystemOutput:
    """The call hook outside the worker: the system is called as it is."""
    return fn()


@dataclass
class SystemsRun:
    """Every system's answers for the same rows, what failed and how long each took."""

    outputs: dict[str, SystemOutput] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def load_systems(
    wh: Warehouse, settings: Settings, ids: list[str] | None = None
) -> tuple[dict[str, BasePredictor], dict[str, str]]:
    """The active systems, loaded; those that cannot load are returned as errors. Warehouse
    trouble (``WarehouseError``: its lock held too long, a full disk) is raised: it says nothing
    about any system's model."""
    systems: dict[str, BasePredictor] = {}
    errors: dict[str, str] = {}
    loaded: dict[str, BasePredictor] = {}
    for system_id in ids or active_ids(settings):
        try:
            systems[system_id] = load_system(system_id, wh, settings, loaded)
        except WarehouseError:
            raise
        except Exception as exc:  # noqa: BLE001
            errors[system_id] = f"{type(exc).__name__}: {exc}"
    return systems, errors


def systems_for_day(
    systems: dict[str, BasePredictor], history: GradedHistory, market_blend: str = "auto"
) -> dict[str, BasePredictor]:
    """Each system updated from ``history`` (graded before the day predicted); systems built
    on others are bound to the updated members. ``market_blend`` is ``MLB_MARKET_BLEND``."""
    updated = {s: system.with_history(history, market_blend) for s, system in systems.items()}
    for system in updated.values():
        if system.member_ids:
            system.bind_members(updated)
    return updated


def run_systems(
    features: pd.DataFrame,
    systems: dict[str, BasePredictor],
    context: DecisionContext,
    call: Caller = direct_call,
    known: dict[str, SystemOutput] | None = None,
    markets: Markets | None = None,
) -> SystemsRun:
    """Every system on the same feature rows, members before the systems built on them (which
    get this run's member answers), each row decided in ``context`` against its start's
    quotes (``markets``). A system that fails is recorded and skipped. ``known`` holds answers
    already computed for these rows: those systems are not run again."""
    run = SystemsRun(outputs=dict(known or {}))
    for system_id in dependency_order(list(systems), lambda s: systems[s].member_ids):
        if system_id in run.outputs:
            continue
        system = systems[system_id]
        t0 = time.perf_counter()
        try:
            run.outputs[system_id] = call(
                system_id,
                lambda s=system: s.predict(
                    features, context, members=run.outputs.get, markets=markets
                ),
            )
        except Exception as exc:  # noqa: BLE001 - one system must never take the others down
            run.errors[system_id] = f"{type(exc).__name__}: {exc}"
        run.timings[system_id] = time.perf_counter() - t0
    return run


# --------------------------------------------------------------------------------------------
# 5. Storing
# --------------------------------------------------------------------------------------------

GRADE_COLUMNS = ("actual_strikeouts", "result", "graded_at")


def storable_rows(wh: Warehouse, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows to store: a prediction at a line given in a request (book ``request``) never
    replaces a stored prediction at a sportsbook's line."""
    asked = frame["book"] == REQUEST_BOOK
    if not asked.any():
        return frame
    games = sorted(set(frame.loc[asked, "game_id"].astype(str)))
    booked = wh.query(statement("booked_predictions"), {"g": games, "request": REQUEST_BOOK})
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


@dataclass
class Stored:
    """What ``store`` wrote: rows (per system), how many were graded rows worked out again,
    and the bets written to the ledger."""

    rows: int = 0
    regraded: int = 0
    by_system: dict[str, int] = field(default_factory=dict)
    bets: int = 0


def store(wh: Warehouse, frame: pd.DataFrame) -> Stored:
    """Upsert prediction rows (``PREDICTION_COLUMNS``) with the pitchers' names, in one
    transaction (the caller's, when it holds one).

    A row already graded keeps its actual strikeouts, and its result is worked out again for
    the new decision: re-predicting a day never loses its grades. A row at a line given in a
    request never replaces one at a sportsbook's line."""
    if frame.empty:
        return Stored()
    frame = frame.drop(columns=[c for c in (*GRADE_COLUMNS, "pitcher_name") if c in frame])
    frame = storable_rows(wh, frame)
    if frame.empty:
        return Stored()
    names = pitcher_names(wh, frame["pitcher_id"].unique())
    frame = frame.merge(names, on="pitcher_id", how="left")
    frame["created_at"] = utc_now()
    by_system = {str(k): int(v) for k, v in frame["system_id"].value_counts().items()}
    with wh.transaction():
        games = sorted(set(frame["game_id"].astype(str)))
        graded = wh.query(statement("graded_predictions_of_games"), {"g": games})
        if graded.empty:
            written = wh.upsert("pitcher_strikeout_predictions", frame).rows
            return Stored(written, 0, by_system)
        frame = frame.merge(graded, on=["game_id", "pitcher_id", "system_id"], how="left")
        has = frame["graded_at"].notna()
        regraded = frame[has].copy()
        fresh = frame[~has].drop(columns=list(GRADE_COLUMNS), errors="ignore")
        if len(regraded):
            regraded["result"] = row_results(regraded)
        written = wh.upsert("pitcher_strikeout_predictions", regraded).rows if len(regraded) else 0
        if len(fresh):
            written += wh.upsert("pitcher_strikeout_predictions", fresh).rows
        return Stored(written, len(regraded), by_system)
