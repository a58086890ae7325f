"""One feature builder for every prediction system.

For each (pitcher, game) it computes everything any system needs, strictly from games played
before that game's date: a start on day D sees nothing from day D or later, so a feature row never
changes when later games are added (``tests/unit/test_features.py`` proves it). Systems pick their
columns from the one frame; a slate's features are loaded once and shared.

How: every history table (pitcher appearances, team strikeout rates, league rates) is turned into
"state after each game" rows with cumulative or rolling sums, and each target row takes the last
state strictly before its date (a binary search of the key's dates). A pitcher's state is
computed on numpy arrays of his own games, so one pitcher costs about as much as a slate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kcast.features.lookup import AsOf, ByKey
from kcast.warehouse import Warehouse

# game types whose appearances count as history (spring and All-Star games do not)
HISTORY_TYPES = ("regular", "playoff", "wildcard", "divisionseries", "lcs", "worldseries")

# Marcel-style regression: league-average batters faced added to a pitcher's own record
K_PCT_PRIOR_BF = 150.0
PARK_SEASONS = 3  # the park factor's window: the three seasons before this one
PARK_PRIOR_BF = 6000.0
SHORT_START_OUTS = 9  # a start of fewer than three innings

BASELINE_FEATURES: tuple[str, ...] = (
    # this season so far
    "k_pct_std",
    "k9_std",
    "bb_pct_std",
    "k_per_start_std",
    "bf_per_start_std",
    "outs_per_start_std",
    "pitches_per_start_std",
    "starts_std",
    # last season
    "k_pct_prev",
    "k9_prev",
    "bb_pct_prev",
    "bf_per_start_prev",
    "outs_per_start_prev",
    "pitches_per_start_prev",
    "starts_prev",
    "relief_share_prev",
    # career and blends
    "k_pct_career",
    "career_starts",
    "k_pct_marcel",
    # context
    "days_rest",
    "is_home",
    "opp_k_pct_std",
    "opp_k_pct_prev",
    "park_k_factor",
    "month",
    "league_k_pct",
)

ROLLING_FEATURES: tuple[str, ...] = BASELINE_FEATURES + (
    "k_last3",
    "k_last5",
    "k_last10",
    "k_pct_last5",
    "k_pct_last10",
    "bf_last3",
    "bf_last10",
    "outs_last3",
    "outs_last10",
    "pitches_last_start",
    "pitches_last3",
    "max_pitches_last3",
    "short_starts_last5",
    "k_sd_last10",
    "k_pct_trend",
    "opp_k_pct_last15",
    "opp_k_pct_vs_hand",
    "throws_left",
    "days_since_appearance",
    "relief_share_std",
)

ROLLING_STATE = tuple(
    [f"r{n}_{c}" for n in (3, 5, 10) for c in ("k", "bf", "outs", "n")]
    + ["r3_pitches", "r3_max_pitches", "r_last_pitches", "r5_short", "r10_k_sd"]
)

DATE_DTYPE = "datetime64[us]"  # one resolution for every date the builder joins on

TARGETS = ("strikeouts", "batters_faced", "outs", "pitches")
ID_COLUMNS = (
    "game_id",
    "game_date",
    "season",
    "pitcher_id",
    "team",
    "opponent",
    "is_home",
    "home_team",
)

ALL_FEATURES: tuple[str, ...] = tuple(dict.fromkeys(BASELINE_FEATURES + ROLLING_FEATURES))


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


HISTORY_SQL = """SELECT p.game_id, p.pitcher_id, p.game_date, p.season, p.game_type, p.team,
       p.opponent, p.is_home, p.is_start, p.outs, p.batters_faced, p.pitches,
       p.strikeouts, p.walks, g.home_team, pl.throws
FROM pitcher_games p
LEFT JOIN games g USING (game_id)
LEFT JOIN players pl ON pl.player_id = p.pitcher_id
WHERE p.game_type IN (SELECT UNNEST($types))"""


def load_history(wh: Warehouse, before: object | None = None) -> pd.DataFrame:
    """Every appearance that counts as history (optionally only before a date), with hands."""
    sql = HISTORY_SQL
    params: dict[str, object] = {"types": list(HISTORY_TYPES)}
    if before is not None:
        sql += " AND p.game_date < $before"
        params["before"] = pd.Timestamp(before).date()
    return normalise_history(wh.query(sql, params))


def normalise_history(frame: pd.DataFrame) -> pd.DataFrame:
    """Types and order the builder relies on."""
    frame = frame.copy()
    frame["game_date"] = pd.to_datetime(frame["game_date"]).astype(DATE_DTYPE)
    for col in ("outs", "batters_faced", "pitches", "strikeouts", "walks"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["is_start"] = frame["is_start"].astype(bool)
    frame["is_home"] = frame["is_home"].astype(bool)
    frame["season"] = frame["season"].astype(int)
    if "home_team" not in frame or frame["home_team"].isna().any():
        fallback = np.where(frame["is_home"], frame["team"], frame["opponent"])
        frame["home_team"] = frame.get("home_team", pd.Series(index=frame.index, dtype=object))
        frame["home_team"] = frame["home_team"].fillna(pd.Series(fallback, index=frame.index))
    if "throws" not in frame:
        frame["throws"] = None
    return frame.sort_values(["game_date", "game_id", "pitcher_id"]).reset_index(drop=True)


def training_targets(
    history: pd.DataFrame, game_types: tuple[str, ...] = ("regular",)
) -> pd.DataFrame:
    """The starts to learn from (and to backtest): every start of the given game types, with
    the pitcher's throwing hand where ``players`` knows it (known before the game: so a start's
    hand does not depend on which later games were loaded with it, and ``kcast train`` and the
    backtest build the same rows)."""
    starts = history[history["is_start"] & history["game_type"].isin(game_types)]
    starts = starts[starts["batters_faced"].notna() & (starts["batters_faced"] > 0)]
    cols = list(ID_COLUMNS) + list(TARGETS) + (["throws"] if "throws" in starts else [])
    return starts[cols].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------


def build_features(
    history: pd.DataFrame, targets: pd.DataFrame, context: FeatureContext | None = None
) -> pd.DataFrame:
    """Features for each target row (pitcher_id, game_date, season, team, opponent, is_home,
    home_team), computed from ``history`` rows strictly before the target's date.

    The result keeps the target's columns (and row order) and adds every feature in
    ``ALL_FEATURES``. Unknown values are NaN; the models handle missing values. A pitcher's
    state is computed from his own games only; ``context`` (the team, league and park state of a
    history, see ``FeatureContext``) is computed here unless the caller keeps one.
    """
    if targets.empty:
        return targets.assign(**{f: pd.Series(dtype=float) for f in ALL_FEATURES})
    t = targets.copy()
    t["game_date"] = pd.to_datetime(t["game_date"]).astype(DATE_DTYPE)
    t["season"] = t["season"].astype(int) if "season" in t else t["game_date"].dt.year
    if "home_team" not in t or t["home_team"].isna().any():
        t["home_team"] = np.where(t["is_home"].astype(bool), t["team"], t["opponent"])
    t["pitcher_id"] = t["pitcher_id"].astype("int64")
    last = t["game_date"].max()
    # a pitcher's state needs only his own games (one selection from the history, however
    # long); team, league and park state only the seasons their windows reach (this season and
    # the three before, for the park factor)
    dates = history["game_date"].to_numpy()
    asked = np.isin(history["pitcher_id"].to_numpy(), t["pitcher_id"].unique())
    own = history[asked & (dates < last.to_datetime64())]
    if context is None:
        h = history[history["game_date"] < last]
        recent = h[h["season"] >= t["season"].min() - PARK_SEASONS] if len(h) else h
        context = FeatureContext.from_history(recent, t["season"].unique())

    t = _pitcher_state(own, t)
    t = context.attach(t)
    t = _hands(own, t)
    t = _derived(t)
    t = t.reset_index(drop=True)  # every step keeps the targets' order
    t = _with(t, {f: np.full(len(t), np.nan) for f in ALL_FEATURES if f not in t})
    types = t.dtypes
    other = [f for f in ALL_FEATURES if types[f] != np.float64]
    return t.astype(dict.fromkeys(other, "float64")) if other else t


def _per_date(frame: pd.DataFrame, keys: list[str], sums: dict[str, pd.Series]) -> pd.DataFrame:
    """Sum columns per (keys, game_date)."""
    data = frame[keys + ["game_date"]].copy()
    for name, values in sums.items():
        data[name] = values.to_numpy()
    return data.groupby(keys + ["game_date"], as_index=False, sort=True).sum(min_count=1)


# a pitcher's summed state, in the order of ``_pitcher_state``'s columns of values
STATE_SUMS = (
    *("bf", "k", "bb", "outs", "starts", "apps"),
    *("s_bf", "s_k", "s_outs", "s_pitches", "s_pitched"),  # in starts only
)
DAY_US = 86_400_000_000  # microseconds in a day (DATE_DTYPE's unit)


def _pitcher_state(h: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """Each target's pitcher state from his own games before its date: this season so far
    (``std_``), last season (``prev_``), the career before this season (``car_``), days since
    the last start and appearance, and the form over his last 3/5/10 starts (``ROLLING_STATE``).

    Computed on numpy arrays: the games sorted by (pitcher, season, date) with cumulative sums,
    and each target finds its window by binary search; every sum is of whole counts, so it is
    exact in any order, and the features match the frame-wide joins they replace to the last
    digit (``tests/unit/test_features_frame.py`` compares them over a real season).
    """
    tp = t["pitcher_id"].to_numpy(np.int64)
    td = t["game_date"].to_numpy().astype(DATE_DTYPE).view(np.int64)
    ts = t["season"].to_numpy(np.int64)
    hp = h["pitcher_id"].to_numpy(np.int64)
    hd = h["game_date"].to_numpy().astype(DATE_DTYPE).view(np.int64)
    hs = h["season"].to_numpy(np.int64)
    # dense ranks keep the order of pitchers, seasons and dates in one integer key
    pitchers = np.unique(np.concatenate([hp, tp]))
    dates = np.unique(np.concatenate([hd, td]))
    first = int(min(hs.min(), ts.min()) if len(hs) else ts.min()) - 1
    n_seasons = int(max(hs.max(), ts.max()) if len(hs) else ts.max()) - first + 1
    n_dates = len(dates) + 1

    def key(p: np.ndarray, season: np.ndarray | int, day: np.ndarray | int) -> np.ndarray:
        return (p * n_seasons + (season - first)) * n_dates + day

    hpi, tpi = np.searchsorted(pitchers, hp), np.searchsorted(pitchers, tp)
    hdi, tdi = np.searchsorted(dates, hd), np.searchsorted(dates, td)
    state: dict[str, np.ndarray] = {}

    # sums this season before the date, last season, and of every earlier season
    start = h["is_start"].to_numpy(bool)
    bf, k, bb, outs, pitches = (
        h[c].to_numpy(np.float64)
        for c in ("batters_faced", "strikeouts", "walks", "outs", "pitches")
    )
    pitched = ~np.isnan(pitches) & start
    values = np.column_stack(
        [
            _zero(bf),
            _zero(k),
            _zero(bb),
            _zero(outs),
            start.astype(float),
            np.ones(len(h)),
            np.where(start, _zero(bf), 0.0),
            np.where(start, _zero(k), 0.0),
            np.where(start, _zero(outs), 0.0),
            np.where(pitched, pitches, 0.0),
            pitched.astype(float),
        ]
    )
    keys = key(hpi, hs, hdi)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    cum = np.vstack([np.zeros((1, len(STATE_SUMS))), np.cumsum(values[order], axis=0)])
    career_lo = np.searchsorted(keys, key(tpi, first, 0))
    prev_lo = np.searchsorted(keys, key(tpi, ts - 1, 0))
    season_lo = np.searchsorted(keys, key(tpi, ts, 0))
    before = np.searchsorted(keys, key(tpi, ts, tdi))
    std = cum[before] - cum[season_lo]
    prev = np.where((season_lo > prev_lo)[:, None], cum[season_lo] - cum[prev_lo], np.nan)
    car = np.where((season_lo > career_lo)[:, None], cum[season_lo] - cum[career_lo], np.nan)
    for i, name in enumerate(STATE_SUMS):
        state[f"std_{name}"] = std[:, i]
    # rest is measured across seasons
    by_day = hpi * n_dates + hdi
    asked = tpi * n_dates + tdi
    state["days_rest"] = _days_since(by_day[start], hd[start], asked, td, n_dates)
    state["days_since_appearance"] = _days_since(by_day, hd, asked, td, n_dates)
    for i, name in enumerate(STATE_SUMS):
        state[f"prev_{name}"] = prev[:, i]
    for i, name in enumerate(STATE_SUMS):
        state[f"car_{name}"] = car[:, i]
    played = {"k": k, "bf": bf, "outs": outs, "pitches": pitches}
    starts = {name: values[start] for name, values in played.items()}
    state.update(_rolling_state(by_day[start], starts, asked, n_dates))
    return _with(t, state)


def _with(t: pd.DataFrame, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """``t.assign(**columns)`` in one step: columns ``t`` has are replaced where they are, the
    others appended as one block (not one insert each)."""
    replaced = {c: v for c, v in columns.items() if c in t.columns}
    added = pd.DataFrame({c: v for c, v in columns.items() if c not in t.columns}, index=t.index)
    return pd.concat([t.assign(**replaced), added], axis=1)


def _zero(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def _last_before(keys: np.ndarray, asked: np.ndarray, pitcher_of: int) -> np.ndarray:
    """For each asked key (pitcher rank * ``pitcher_of`` + date rank), the position in the
    sorted ``keys`` of the same pitcher's last key before it; -1 when there is none."""
    last = np.searchsorted(keys, asked) - 1
    found = last >= 0
    found[found] = keys[last[found]] // pitcher_of == asked[found] // pitcher_of
    return np.where(found, last, -1)


def _days_since(
    keys: np.ndarray, days: np.ndarray, asked: np.ndarray, on: np.ndarray, pitcher_of: int
) -> np.ndarray:
    """Whole days from the pitcher's last of ``days`` (keyed like ``_last_before``) before
    each asked key to the date ``on`` (microseconds); NaN when there is none."""
    if not len(keys):
        return np.full(len(asked), np.nan)
    order = np.argsort(keys, kind="stable")
    last = _last_before(keys[order], asked, pitcher_of)
    since = (on - days[order][last]) // DAY_US
    return np.where(last >= 0, since.astype(float), np.nan)


def _rolling_state(
    keys: np.ndarray, starts: dict[str, np.ndarray], asked: np.ndarray, pitcher_of: int
) -> dict[str, np.ndarray]:
    """``ROLLING_STATE`` after the pitcher's last start date before each asked key: sums over
    his last 3/5/10 starts across seasons (NaN-skipping, NaN when none is known), counts, the
    leash and the spread of his strikeouts (pandas' rolling standard deviation, whose running
    algorithm the features keep)."""
    if not len(keys):
        return {col: np.full(len(asked), np.nan) for col in ROLLING_STATE}
    order = np.argsort(keys, kind="stable")  # by pitcher, date, then game (the history's order)
    keys = keys[order]
    col = {name: values[order] for name, values in starts.items()}
    pitcher = keys // pitcher_of
    row = np.arange(len(keys))
    first = np.searchsorted(pitcher, pitcher)  # each start's pitcher's first start
    rows: dict[str, np.ndarray] = {}

    def window(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        known = ~np.isnan(values)
        total = np.concatenate([[0.0], np.cumsum(np.where(known, values, 0.0))])
        count = np.concatenate([[0], np.cumsum(known)])
        lo = np.maximum(first, row + 1 - n)
        return total[row + 1] - total[lo], (count[row + 1] - count[lo]).astype(float)

    def window_sum(values: np.ndarray, n: int) -> np.ndarray:
        total, count = window(values, n)
        return np.where(count > 0, total, np.nan)

    for n in (3, 5, 10):
        for source, name in (("k", "k"), ("bf", "bf"), ("outs", "outs")):
            rows[f"r{n}_{name}"] = window_sum(col[source], n)
        rows[f"r{n}_n"] = window(col["k"], n)[1]
    total, count = window(col["pitches"], 3)
    rows["r3_pitches"] = np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan)
    top = col["pitches"].copy()
    for back in (1, 2):
        earlier = np.full(len(top), np.nan)
        earlier[back:] = col["pitches"][:-back]
        top = np.fmax(top, np.where(row - back >= first, earlier, np.nan))
    rows["r3_max_pitches"] = top
    rows["r_last_pitches"] = col["pitches"]
    rows["r5_short"] = window_sum((col["outs"] < SHORT_START_OUTS).astype(float), 5)
    spread = pd.Series(col["k"]).groupby(pitcher, sort=False).rolling(10, min_periods=3).std()
    rows["r10_k_sd"] = spread.to_numpy()
    if (keys[1:] == keys[:-1]).any():  # two starts on one date: its last known values
        frame = pd.DataFrame(rows).assign(_key=keys).groupby("_key", sort=True).last()
        keys, rows = frame.index.to_numpy(), {c: frame[c].to_numpy() for c in frame.columns}
    last = _last_before(keys, asked, pitcher_of)
    return {c: np.where(last >= 0, rows[c][last], np.nan) for c in ROLLING_STATE}


@dataclass
class FeatureContext:
    """The team, league and park state of a history, computed once.

    Every table is keyed by date or season and attached with as-of joins strictly before each
    target's date (or from earlier seasons), so one context built from a whole history serves any
    target without look-ahead: the worker keeps one per warehouse version instead of rebuilding
    it for every date and pitcher.
    """

    opp_cum: pd.DataFrame
    opp_roll: pd.DataFrame
    opp_prev: pd.DataFrame
    league_roll: pd.DataFrame
    league_prev: pd.Series
    park: pd.DataFrame

    @classmethod
    def from_history(cls, h: pd.DataFrame, seasons: object | None = None) -> FeatureContext:
        """The context of ``h``; ``seasons`` limits the park factors to those seasons."""
        s = h[h["is_start"]]
        opp_cum, opp_roll, opp_prev = _opponent_tables(s)
        league_roll, league_prev = _league_tables(s)
        if seasons is None:
            seasons = np.union1d(s["season"].unique(), s["season"].unique() + 1)
        return cls(opp_cum, opp_roll, opp_prev, league_roll, league_prev, _park_table(s, seasons))

    def __post_init__(self) -> None:
        # each table by key, for the look-ups of ``attach``
        std = [c for c in self.opp_cum.columns if c.startswith("opp_std_")]
        self._lookups = (
            AsOf(self.opp_cum, ["bat_team", "season"], std),
            AsOf(self.opp_roll, ["bat_team"], ["opp_r15_k", "opp_r15_bf"]),
            ByKey(self.opp_prev, ["bat_team", "season"], ["opp_prev_k", "opp_prev_bf"]),
            AsOf(self.league_roll, ["lg"], ["lg_k_pct_30d"]),
            ByKey(self.league_prev.rename_axis("season").reset_index(), ["season"]),
            ByKey(self.park, ["home_team", "season"], ["park_k_factor"]),
        )

    def attach(self, t: pd.DataFrame) -> pd.DataFrame:
        """Add the opponent, league and park features' raw state to target rows: per table,
        the last state of the same key strictly before the target's date (as-of), or the
        state of the same key (season tables); NaN when there is none."""
        keys = {
            "bat_team": t["opponent"].to_numpy(object),
            "season": t["season"].to_numpy(np.int64),
            "lg": np.full(len(t), "MLB", dtype=object),
            "home_team": t["home_team"].to_numpy(object),
        }
        dates = t["game_date"].to_numpy()
        columns: dict[str, np.ndarray] = {}
        for lookup in self._lookups:
            columns.update(lookup.lookup([keys[k] for k in lookup.by], dates))
        return _with(t, columns)


def _opponent_tables(s: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The opposing lineup's strikeout rate against starting pitchers (all sources have
    starters): cumulative this season, over its last 15 game dates, and last season's."""
    throws = s["throws"].fillna("?")
    per = _per_date(
        s.assign(bat_team=s["opponent"]),
        ["bat_team", "season"],
        {
            "k": s["strikeouts"].fillna(0),
            "bf": s["batters_faced"].fillna(0),
            "k_r": s["strikeouts"].where(throws == "R", 0).fillna(0),
            "bf_r": s["batters_faced"].where(throws == "R", 0).fillna(0),
            "k_l": s["strikeouts"].where(throws == "L", 0).fillna(0),
            "bf_l": s["batters_faced"].where(throws == "L", 0).fillna(0),
        },
    )
    g = per.groupby(["bat_team", "season"], sort=False)
    cum = per[["bat_team", "season", "game_date"]].copy()
    for c in ("k", "bf", "k_r", "bf_r", "k_l", "bf_l"):
        cum[f"opp_std_{c}"] = g[c].cumsum().to_numpy()
    # rolling over the team's last 15 game dates, across seasons
    per_team = per.sort_values(["bat_team", "game_date"])
    gt = per_team.groupby("bat_team", sort=False)
    roll = per_team[["bat_team", "game_date"]].copy()
    roll["opp_r15_k"] = gt["k"].rolling(15, min_periods=1).sum().to_numpy()
    roll["opp_r15_bf"] = gt["bf"].rolling(15, min_periods=1).sum().to_numpy()
    totals = per.groupby(["bat_team", "season"], as_index=False)[["k", "bf"]].sum()
    totals["season"] += 1
    totals = totals.rename(columns={"k": "opp_prev_k", "bf": "opp_prev_bf"})
    return cum, roll, totals


def _league_tables(s: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The league's strikeout rate of starters: over the last 30 days, and last season's."""
    per = _per_date(
        s.assign(lg="MLB"),
        ["lg"],
        {"k": s["strikeouts"].fillna(0), "bf": s["batters_faced"].fillna(0)},
    )
    per = per.set_index("game_date").sort_index()
    roll = per[["k", "bf"]].rolling("30D").sum()
    roll["lg_k_pct_30d"] = roll["k"] / roll["bf"].replace(0, np.nan)
    roll = roll.reset_index()[["game_date", "lg_k_pct_30d"]]
    roll["lg"] = "MLB"
    season = s.groupby("season")[["strikeouts", "batters_faced"]].sum()
    prev_rate = (season["strikeouts"] / season["batters_faced"]).rename("lg_k_pct_prev")
    prev_rate.index = prev_rate.index + 1
    return roll, prev_rate


def _park_table(s: pd.DataFrame, seasons: object) -> pd.DataFrame:
    """Strikeout park factor of each home team's park in each season, over the three seasons
    before it.

    K% in the park (both teams) over K% in the home team's road games (both teams), regressed
    toward 1 by ``PARK_PRIOR_BF`` batters. The home team stands in for the park.
    """
    columns = ["home_team", "season", "park_k_factor"]
    if s.empty:
        return pd.DataFrame(columns=columns).astype({"season": int, "park_k_factor": float})
    at_home = s.groupby(["home_team", "season"])[["strikeouts", "batters_faced"]].sum()
    # in a road game of X, the starters are X's (is_home False) and the home team's (X = opponent)
    away_side = pd.concat(
        [
            s.loc[~s["is_home"], ["team", "season", "strikeouts", "batters_faced"]],
            s.loc[s["is_home"], ["opponent", "season", "strikeouts", "batters_faced"]].rename(
                columns={"opponent": "team"}
            ),
        ]
    )
    road = away_side.groupby(["team", "season"])[["strikeouts", "batters_faced"]].sum()
    road.index = road.index.set_names(["home_team", "season"])
    teams = at_home.index.get_level_values(0).unique()
    grid = pd.MultiIndex.from_product(
        [teams, sorted(int(x) for x in pd.unique(np.asarray(seasons)))],
        names=["home_team", "season"],
    )
    sums = pd.DataFrame(0.0, index=grid, columns=["hk", "hb", "rk", "rb"])
    for back in range(1, PARK_SEASONS + 1):
        earlier = pd.MultiIndex.from_arrays(
            [grid.get_level_values(0), grid.get_level_values(1) - back]
        )
        for part, table in (("h", at_home), ("r", road)):
            found = table.reindex(earlier).fillna(0.0).to_numpy()
            sums[f"{part}k"] += found[:, 0]
            sums[f"{part}b"] += found[:, 1]
    sums = sums[(sums["hb"] > 0) & (sums["rb"] > 0)]
    ratio = (sums["hk"] / sums["hb"]) / (sums["rk"] / sums["rb"])
    weight = sums["hb"] / (sums["hb"] + PARK_PRIOR_BF)
    factor = (1.0 + weight * (ratio - 1.0)).rename("park_k_factor")
    return factor.reset_index()[columns]


def _hands(h: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    throws = h["throws"]
    known = throws.notna().to_numpy()
    # each pitcher's last known hand (a later game's entry replaces an earlier one)
    last = dict(
        zip(h["pitcher_id"].to_numpy()[known].tolist(), throws[known].tolist(), strict=True)
    )
    hand = pd.Series(list(last.values()), index=list(last), dtype=throws.dtype)
    if "throws" in t:
        t["throws"] = t["throws"].fillna(t["pitcher_id"].map(hand))
    else:
        t["throws"] = t["pitcher_id"].map(hand)
    t["throws_left"] = np.where(t["throws"] == "L", 1.0, np.where(t["throws"] == "R", 0.0, np.nan))
    return t


def _rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return num / np.where(den > 0, den, np.nan)


def _known(values: np.ndarray, otherwise: np.ndarray | float) -> np.ndarray:
    return np.where(np.isnan(values), otherwise, values)


def _derived(t: pd.DataFrame) -> pd.DataFrame:
    """The features from the raw state, on numpy arrays (the helpers' columns dropped)."""
    helpers = (
        "std_",
        "prev_",
        "car_",
        "opp_std_",
        "opp_r15_",
        "opp_prev_",
        "r3_",
        "r5_",
        "r10_",
        "r_last",
        "lg_k_pct_",
    )
    names = [c for c in t.columns if c.startswith(helpers)]
    raw = dict(zip(names, t[names].to_numpy(np.float64).T, strict=True))  # one conversion
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        lg = _known(raw["lg_k_pct_30d"], raw["lg_k_pct_prev"])
        out["league_k_pct"] = lg
        for period in ("std", "prev"):  # this season to date, and last season
            c = {name[len(period) + 1 :]: v for name, v in raw.items() if name.startswith(period)}
            out[f"k_pct_{period}"] = _rate(c["k"], c["bf"])
            out[f"k9_{period}"] = _rate(27 * c["k"], c["outs"])
            out[f"bb_pct_{period}"] = _rate(c["bb"], c["bf"])
            out[f"bf_per_start_{period}"] = _rate(c["s_bf"], c["starts"])
            out[f"outs_per_start_{period}"] = _rate(c["s_outs"], c["starts"])
            out[f"pitches_per_start_{period}"] = _rate(c["s_pitches"], c["s_pitched"])
            out[f"relief_share_{period}"] = _rate(c["apps"] - c["starts"], c["apps"])
        out["k_per_start_std"] = _rate(raw["std_s_k"], raw["std_starts"])
        out["starts_std"] = raw["std_starts"]
        out["starts_prev"] = _known(raw["prev_starts"], 0.0)

        out["k_pct_career"] = _rate(raw["car_k"], raw["car_bf"])
        out["career_starts"] = _known(raw["car_starts"], 0.0) + raw["std_starts"]
        # Marcel-style: this season 5, last season 3, earlier career 1, plus league prior
        prev_k, prev_bf = _known(raw["prev_k"], 0.0), _known(raw["prev_bf"], 0.0)
        older_k = np.maximum(_known(raw["car_k"], 0.0) - prev_k, 0.0)
        older_bf = np.maximum(_known(raw["car_bf"], 0.0) - prev_bf, 0.0)
        num = 5 * raw["std_k"] + 3 * prev_k + 1 * older_k + K_PCT_PRIOR_BF * lg
        den = 5 * raw["std_bf"] + 3 * prev_bf + 1 * older_bf + K_PCT_PRIOR_BF
        out["k_pct_marcel"] = num / den

        out["is_home"] = t["is_home"].astype(float).to_numpy()
        out["month"] = t["game_date"].dt.month.astype(float).to_numpy()

        opp_std = _rate(raw["opp_std_k"], raw["opp_std_bf"])
        opp_prev = _rate(raw["opp_prev_k"], raw["opp_prev_bf"])
        # early in a season the season-to-date rate is noise: blend it with last season's
        seen = _known(raw["opp_std_bf"], 0.0)
        w = seen / (seen + 400.0)
        out["opp_k_pct_std"] = np.where(
            ~np.isnan(opp_prev), w * _known(opp_std, opp_prev) + (1 - w) * opp_prev, opp_std
        )
        out["opp_k_pct_prev"] = opp_prev
        out["opp_k_pct_last15"] = _rate(raw["opp_r15_k"], raw["opp_r15_bf"])
        vs_r = _rate(raw["opp_std_k_r"], raw["opp_std_bf_r"])
        vs_l = _rate(raw["opp_std_k_l"], raw["opp_std_bf_l"])
        throws = t["throws"].to_numpy(object)
        out["opp_k_pct_vs_hand"] = np.where(
            throws == "L", vs_l, np.where(throws == "R", vs_r, np.nan)
        )

        for n in (3, 5, 10):
            out[f"k_last{n}"] = _rate(raw[f"r{n}_k"], raw[f"r{n}_n"])
        out["k_pct_last5"] = _rate(raw["r5_k"], raw["r5_bf"])
        out["k_pct_last10"] = _rate(raw["r10_k"], raw["r10_bf"])
        out["bf_last3"] = _rate(raw["r3_bf"], raw["r3_n"])
        out["bf_last10"] = _rate(raw["r10_bf"], raw["r10_n"])
        out["outs_last3"] = _rate(raw["r3_outs"], raw["r3_n"])
        out["outs_last10"] = _rate(raw["r10_outs"], raw["r10_n"])
        out["pitches_last_start"] = raw["r_last_pitches"]
        out["pitches_last3"] = raw["r3_pitches"]
        out["max_pitches_last3"] = raw["r3_max_pitches"]
        out["short_starts_last5"] = raw["r5_short"]
        out["k_sd_last10"] = raw["r10_k_sd"]
        out["k_pct_trend"] = out["k_pct_last5"] - out["k_pct_marcel"]
    return _with(t.drop(columns=list(raw)), out)
