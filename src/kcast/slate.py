"""A day's slate: who starts, their features (loaded once), their lines, every system's answer.

``predict_date`` is the whole job for one date: it finds the starters (the probables stored by
``kcast ingest statsapi``, or for a past date the pitchers who really started, so any day of
history can be replayed), builds their features once from games before that date, attaches the
best available line, runs every active system, and writes one row per pitcher per system.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kcast.config import Settings, get_settings
from kcast.decisions import Thresholds
from kcast.errors import InputError, UnknownPitcherError
from kcast.features.build import build_features, load_history
from kcast.systems.base import BasePredictor, SystemOutput
from kcast.systems.ensemble_v1 import EnsembleV1Predictor
from kcast.systems.registry import active_ids, load_system
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now

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


def parse_date(value: str | dt.date) -> dt.date:
    """A YYYY-MM-DD date, or an ``InputError`` that says what was wrong."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"date {value!r} does not parse; use YYYY-MM-DD") from None


# --------------------------------------------------------------------------------------------
# Who starts
# --------------------------------------------------------------------------------------------


def slate_starters(wh: Warehouse, date: dt.date) -> pd.DataFrame:
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
    rows = pd.concat([actual, probable], ignore_index=True)
    rows = rows.drop_duplicates(["game_id", "pitcher_id"])
    return rows.sort_values(["game_id", "is_home"]).reset_index(drop=True)


def explicit_starters(wh: Warehouse, requests: pd.DataFrame) -> pd.DataFrame:
    """Starter rows for requested (pitcher_id, game_date[, opponent, is_home]) pairs.

    The game is taken from the warehouse when the pitcher has one that day (as starter or
    probable); otherwise the request must name the opponent and home/away. An unknown pitcher
    is an ``UnknownPitcherError``.
    """
    out = []
    for req in requests.to_dict("records"):
        pid = int(req["pitcher_id"])
        date = parse_date(req["game_date"])
        known = wh.query("SELECT COUNT(*) AS n FROM players WHERE player_id = $p", {"p": pid})
        seen = wh.query("SELECT COUNT(*) AS n FROM pitcher_games WHERE pitcher_id = $p", {"p": pid})
        if int(known["n"].iloc[0]) == 0 and int(seen["n"].iloc[0]) == 0:
            raise UnknownPitcherError(f"pitcher {pid} is not in the warehouse")
        day = slate_starters(wh, date)
        match = day[day["pitcher_id"] == pid]
        if len(match):
            row = match.iloc[0].to_dict()
        else:
            if not req.get("opponent") or req.get("is_home") is None:
                raise InputError(
                    f"pitcher {pid} has no game on {date} in the warehouse; give opponent and "
                    "is_home (or ingest the slate with `kcast ingest statsapi --date`)"
                )
            from kcast.teams import canonical_team

            team = canonical_team(req["team"]) if req.get("team") else _latest_team(wh, pid, date)

            opponent = canonical_team(req["opponent"])
            is_home = bool(req["is_home"])
            home = team if is_home else opponent
            row = {
                "game_id": f"{home}{date:%Y%m%d}0",
                "game_date": date,
                "season": date.year,
                "pitcher_id": pid,
                "team": team,
                "opponent": opponent,
                "is_home": is_home,
                "home_team": home,
                "starter_source": "request",
            }
        for key in ("line", "over_odds", "under_odds", "book"):
            if req.get(key) is not None and not (
                isinstance(req[key], float) and np.isnan(req[key])
            ):
                row[key] = req[key]
        out.append(row)
    return pd.DataFrame(out)


def _latest_team(wh: Warehouse, pitcher_id: int, date: dt.date) -> str:
    rows = wh.query(
        "SELECT team FROM pitcher_games WHERE pitcher_id = $p AND game_date < $d "
        "ORDER BY game_date DESC LIMIT 1",
        {"p": pitcher_id, "d": date},
    )
    if not len(rows):
        raise InputError(f"pitcher {pitcher_id} has no team on record; give team")
    return str(rows["team"].iloc[0])


# --------------------------------------------------------------------------------------------
# Lines
# --------------------------------------------------------------------------------------------


def best_lines(wh: Warehouse, start: dt.date, end: dt.date | None = None) -> pd.DataFrame:
    """One line per (pitcher, date): the consensus closing main line where there is one, else the
    most-offered line among books at the latest snapshot, by book preference."""
    lines = wh.query(
        """SELECT pitcher_id, game_date, book, line, over_odds, under_odds, snapshot, is_main,
                  projection, source
           FROM prop_lines
           WHERE pitcher_id IS NOT NULL AND game_date BETWEEN $a AND $b AND line >= 0.5""",
        {"a": start, "b": end or start},
    )
    if lines.empty:
        return pd.DataFrame(
            columns=[
                "pitcher_id",
                "game_date",
                "line",
                "over_odds",
                "under_odds",
                "book",
                "projection",
            ]
        )
    lines["snap_rank"] = (
        lines["snapshot"].map({s: i for i, s in enumerate(SNAPSHOT_PREFERENCE)}).fillna(9)
    )
    lines["book_rank"] = lines["book"].map({b: i for i, b in enumerate(BOOK_PREFERENCE)}).fillna(99)
    lines["main_rank"] = np.where(lines["is_main"].fillna(True).astype(bool), 0, 1)
    # among the best snapshot's main lines, the line most books offer
    lines = lines.sort_values(["pitcher_id", "game_date", "snap_rank", "main_rank"])
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
    return best[
        ["pitcher_id", "game_date", "line", "over_odds", "under_odds", "book", "projection"]
    ]


def attach_lines(wh: Warehouse, rows: pd.DataFrame) -> pd.DataFrame:
    """Add the best stored line to rows that do not carry one."""
    if rows.empty:
        return rows
    dates = pd.to_datetime(rows["game_date"])
    found = best_lines(wh, dates.min().date(), dates.max().date())
    found["game_date"] = pd.to_datetime(found["game_date"])
    rows = rows.assign(game_date=dates, pitcher_id=rows["pitcher_id"].astype("int64"))
    found["pitcher_id"] = found["pitcher_id"].astype("int64")
    merged = rows.merge(found, on=["pitcher_id", "game_date"], how="left", suffixes=("", "_stored"))
    for col in ("line", "over_odds", "under_odds", "book", "projection"):
        stored = f"{col}_stored"
        if stored in merged:
            merged[col] = (
                merged[col].where(merged[col].notna(), merged[stored])
                if col in rows
                else merged[stored]
            )
            merged = merged.drop(columns=[stored])
    return merged


# --------------------------------------------------------------------------------------------
# Running the systems
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


def run_systems(
    features: pd.DataFrame,
    systems: dict[str, BasePredictor],
    thresholds: Thresholds,
    call: Caller = direct_call,
) -> SlateResult:
    """Every system on the same feature rows. A system that fails is recorded and skipped; the
    ensembles answer from the members that did answer."""
    result = SlateResult(None, features)
    for system_id, system in systems.items():
        if system.is_ensemble:
            continue
        t0 = time.perf_counter()
        try:
            result.outputs[system_id] = call(
                system_id, lambda s=system: s.predict(features, thresholds)
            )
        except Exception as exc:  # noqa: BLE001 - one system must never take the others down
            result.errors[system_id] = f"{type(exc).__name__}: {exc}"
        result.timings[system_id] = time.perf_counter() - t0
    for system_id, system in systems.items():
        if not system.is_ensemble:
            continue
        assert isinstance(system, EnsembleV1Predictor)
        members = {m: o for m, o in result.outputs.items() if m in system.member_ids}
        t0 = time.perf_counter()
        try:
            result.outputs[system_id] = call(
                system_id, lambda s=system, m=members: s.combine(m, features, thresholds)
            )
        except Exception as exc:  # noqa: BLE001
            result.errors[system_id] = f"{type(exc).__name__}: {exc}"
        result.timings[system_id] = time.perf_counter() - t0
    return result


def load_systems(
    wh: Warehouse, settings: Settings | None = None, ids: list[str] | None = None
) -> tuple[dict[str, BasePredictor], dict[str, str]]:
    """The active systems, loaded; those that cannot load are returned as errors."""
    settings = settings or get_settings()
    systems: dict[str, BasePredictor] = {}
    errors: dict[str, str] = {}
    for system_id in ids or active_ids(settings):
        try:
            systems[system_id] = load_system(system_id, wh, settings)
        except Exception as exc:  # noqa: BLE001
            errors[system_id] = f"{type(exc).__name__}: {exc}"
    return systems, errors


def slate_features(wh: Warehouse, starters: pd.DataFrame) -> pd.DataFrame:
    """Features for the starters, from games strictly before each start's date (loaded once)."""
    if starters.empty:
        return starters
    latest = pd.to_datetime(starters["game_date"]).max()
    history = load_history(wh, before=latest)
    frame = build_features(history, starters)
    names = wh.query(
        "SELECT player_id AS pitcher_id, full_name AS pitcher_name FROM players "
        "WHERE player_id IN (SELECT UNNEST($ids))",
        {"ids": [int(x) for x in frame["pitcher_id"].unique()]},
    )
    if "pitcher_name" in frame:
        frame = frame.drop(columns=["pitcher_name"])
    return frame.merge(names, on="pitcher_id", how="left")


def predict_date(
    wh: Warehouse,
    date: dt.date,
    settings: Settings | None = None,
    systems: dict[str, BasePredictor] | None = None,
    call: Caller = direct_call,
    write: bool = True,
) -> SlateResult:
    """Predict every starter of ``date`` with every active system; store the rows."""
    settings = settings or get_settings()
    load_errors: dict[str, str] = {}
    if systems is None:
        systems, load_errors = load_systems(wh, settings)
    starters = slate_starters(wh, date)
    return predict_rows(wh, starters, settings, systems, call, write, load_errors, date)


def predict_rows(
    wh: Warehouse,
    starters: pd.DataFrame,
    settings: Settings,
    systems: dict[str, BasePredictor],
    call: Caller = direct_call,
    write: bool = True,
    load_errors: dict[str, str] | None = None,
    date: dt.date | None = None,
) -> SlateResult:
    """Predict given starter rows (features once, lines attached, every system)."""
    thresholds = Thresholds(settings.min_edge, settings.min_confidence)
    features = slate_features(wh, starters)
    if features.empty:  # nobody starts: nothing to predict, and no system has failed
        return SlateResult(date, features, errors=dict(load_errors or {}))
    features = attach_lines(wh, features)
    result = run_systems(features, systems, thresholds, call)
    result.date = date
    result.errors = {**(load_errors or {}), **result.errors}
    if write and result.outputs:
        store_predictions(wh, result)
    return result


def store_predictions(wh: Warehouse, result: SlateResult) -> int:
    """Upsert every system's rows (one per pitcher per game per system); return rows written."""
    return store_prediction_rows(wh, result.frame())


def store_prediction_rows(wh: Warehouse, frame: pd.DataFrame) -> int:
    """Upsert prediction rows (``PREDICTION_COLUMNS``), ungraded, with the pitchers' names."""
    if frame.empty:
        return 0
    names = wh.query(
        "SELECT player_id AS pitcher_id, full_name FROM players WHERE player_id IN "
        "(SELECT UNNEST($ids))",
        {"ids": [int(x) for x in frame["pitcher_id"].unique()]},
    )
    frame = frame.merge(
        names.rename(columns={"full_name": "pitcher_name"}), on="pitcher_id", how="left"
    )
    frame["created_at"] = utc_now()
    frame["actual_strikeouts"] = None
    frame["result"] = None
    frame["graded_at"] = None
    with wh.transaction():
        written = wh.upsert("pitcher_strikeout_predictions", frame)
    return written.rows
