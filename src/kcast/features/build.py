"""One feature builder for every prediction system.

For each (pitcher, game) it computes everything any system needs, strictly from games played
before that game's date: a start on day D sees nothing from day D or later, so a feature row never
changes when later games are added (``tests/unit/test_features.py`` proves it). Systems pick their
columns from the one frame; a slate's features are loaded once and shared.

How: every history table (pitcher appearances, team strikeout rates, league rates) is turned into
"state after each game" rows with cumulative or rolling sums, and each target row takes the last
state strictly before its date (``pandas.merge_asof`` with ``allow_exact_matches=False``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    """The starts to learn from (and to backtest): every start of the given game types."""
    starts = history[history["is_start"] & history["game_type"].isin(game_types)]
    starts = starts[starts["batters_faced"].notna() & (starts["batters_faced"] > 0)]
    cols = list(ID_COLUMNS) + list(TARGETS)
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
    t["_order"] = np.arange(len(t))
    t["game_date"] = pd.to_datetime(t["game_date"]).astype(DATE_DTYPE)
    t["season"] = t["season"].astype(int) if "season" in t else t["game_date"].dt.year
    if "home_team" not in t or t["home_team"].isna().any():
        t["home_team"] = np.where(t["is_home"].astype(bool), t["team"], t["opponent"])
    t["pitcher_id"] = t["pitcher_id"].astype("int64")
    h = history[history["game_date"] < t["game_date"].max()] if len(history) else history
    # a pitcher's state needs only his own games; team, league and park state only the seasons
    # their windows reach (this season and the three before, for the park factor)
    own = h[h["pitcher_id"].isin(t["pitcher_id"].unique())] if len(h) else h
    if context is None:
        recent = h[h["season"] >= t["season"].min() - PARK_SEASONS] if len(h) else h
        context = FeatureContext.from_history(recent, t["season"].unique())

    t = _pitcher_season_state(own, t)
    t = _pitcher_prior_seasons(own, t)
    t = _pitcher_rolling(own, t)
    t = context.attach(t)
    t = _hands(own, t)
    t = _derived(t)
    t = t.sort_values("_order").drop(columns=["_order"]).reset_index(drop=True)
    for f in ALL_FEATURES:
        if f not in t:
            t[f] = np.nan
        t[f] = t[f].astype("float64")
    return t


def _asof(
    targets: pd.DataFrame, states: pd.DataFrame, by: list[str], cols: list[str]
) -> pd.DataFrame:
    """Attach to each target the last state (of the same ``by`` keys) strictly before its date."""
    if states.empty:
        for c in cols:
            targets[c] = np.nan
        return targets
    left = targets.sort_values("game_date")
    right = states.sort_values("game_date")[["game_date", *by, *cols]]
    for key in by:  # merge_asof needs identical key dtypes on both sides
        right[key] = right[key].astype(left[key].dtype)
    merged = pd.merge_asof(
        left, right, on="game_date", by=by, allow_exact_matches=False, direction="backward"
    )
    return merged


def _per_date(frame: pd.DataFrame, keys: list[str], sums: dict[str, pd.Series]) -> pd.DataFrame:
    """Sum columns per (keys, game_date)."""
    data = frame[keys + ["game_date"]].copy()
    for name, values in sums.items():
        data[name] = values.to_numpy()
    return data.groupby(keys + ["game_date"], as_index=False, sort=True).sum(min_count=1)


def _pitcher_season_state(h: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    start = h["is_start"]
    pitched = h["pitches"].notna() & start
    per = _per_date(
        h,
        ["pitcher_id", "season"],
        {
            "bf": h["batters_faced"].fillna(0),
            "k": h["strikeouts"].fillna(0),
            "bb": h["walks"].fillna(0),
            "outs": h["outs"].fillna(0),
            "starts": start.astype(float),
            "apps": pd.Series(1.0, index=h.index),
            "s_bf": h["batters_faced"].where(start, 0).fillna(0),
            "s_k": h["strikeouts"].where(start, 0).fillna(0),
            "s_outs": h["outs"].where(start, 0).fillna(0),
            "s_pitches": h["pitches"].where(pitched, 0).fillna(0),
            "s_pitched": pitched.astype(float),
        },
    )
    g = per.groupby(["pitcher_id", "season"], sort=False)
    cum = per[["pitcher_id", "season", "game_date"]].copy()
    value_cols = [c for c in per.columns if c not in ("pitcher_id", "season", "game_date")]
    cum[[f"std_{c}" for c in value_cols]] = g[value_cols].cumsum().to_numpy()
    # the date of the last start and of the last appearance
    cum["last_app_date"] = cum["game_date"]
    starts_only = per[per["starts"] > 0][["pitcher_id", "season", "game_date"]].copy()
    starts_only["last_start_date"] = starts_only["game_date"]
    t = _asof(t, cum, ["pitcher_id", "season"], [c for c in cum.columns if c.startswith("std_")])
    # rest is measured across seasons too, so it uses states keyed by pitcher only
    t = _asof(t, cum.rename(columns={"last_app_date": "_last_app"}), ["pitcher_id"], ["_last_app"])
    t = _asof(
        t,
        starts_only.rename(columns={"last_start_date": "_last_start"}),
        ["pitcher_id"],
        ["_last_start"],
    )
    for c in [c for c in t.columns if c.startswith("std_")]:
        t[c] = t[c].fillna(0.0)
    last_start = pd.to_datetime(t["_last_start"]).astype(DATE_DTYPE)
    last_app = pd.to_datetime(t["_last_app"]).astype(DATE_DTYPE)
    t["days_rest"] = (t["game_date"] - last_start).dt.days.astype(float)
    t["days_since_appearance"] = (t["game_date"] - last_app).dt.days.astype(float)
    return t.drop(columns=["_last_app", "_last_start"])


def _season_totals(h: pd.DataFrame) -> pd.DataFrame:
    start = h["is_start"]
    pitched = h["pitches"].notna() & start
    data = pd.DataFrame(
        {
            "pitcher_id": h["pitcher_id"],
            "season": h["season"],
            "bf": h["batters_faced"].fillna(0),
            "k": h["strikeouts"].fillna(0),
            "bb": h["walks"].fillna(0),
            "outs": h["outs"].fillna(0),
            "starts": start.astype(float),
            "apps": 1.0,
            "s_bf": h["batters_faced"].where(start, 0).fillna(0),
            "s_outs": h["outs"].where(start, 0).fillna(0),
            "s_k": h["strikeouts"].where(start, 0).fillna(0),
            "s_pitches": h["pitches"].where(pitched, 0).fillna(0),
            "s_pitched": pitched.astype(float),
        }
    )
    return data.groupby(["pitcher_id", "season"], as_index=False).sum()


def _pitcher_prior_seasons(h: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """Last season's totals, and the career before this season."""
    totals = _season_totals(h)
    prev = totals.copy()
    prev["season"] = prev["season"] + 1
    prev = prev.rename(
        columns={c: f"prev_{c}" for c in totals.columns if c not in ("pitcher_id", "season")}
    )
    t = t.merge(prev, on=["pitcher_id", "season"], how="left")
    # career totals of all seasons before the target's season
    totals = totals.sort_values(["pitcher_id", "season"])
    value_cols = [c for c in totals.columns if c not in ("pitcher_id", "season")]
    career = totals[["pitcher_id", "season"]].copy()
    career[[f"car_{c}" for c in value_cols]] = (
        totals.groupby("pitcher_id")[value_cols].cumsum().to_numpy()
    )
    # state after season s applies to seasons > s: asof on season
    keys = t[["pitcher_id", "season", "_order"]].sort_values("season")
    career = career.sort_values("season")
    merged = pd.merge_asof(
        keys, career, on="season", by="pitcher_id", allow_exact_matches=False, direction="backward"
    )
    t = t.merge(merged.drop(columns=["pitcher_id", "season"]), on="_order", how="left")
    return t


def _pitcher_rolling(h: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """Form over the last 3/5/10 starts (across seasons), and the recent leash."""
    s = h[h["is_start"]].sort_values(["pitcher_id", "game_date", "game_id"]).copy()
    if s.empty:
        for col in ROLLING_STATE:
            t[col] = np.nan
        return t
    s["short"] = (s["outs"] < SHORT_START_OUTS).astype(float)
    g = s.groupby("pitcher_id", sort=False)
    st = s[["pitcher_id", "game_date"]].copy()
    for n in (3, 5, 10):
        for col, name in (("strikeouts", "k"), ("batters_faced", "bf"), ("outs", "outs")):
            st[f"r{n}_{name}"] = g[col].rolling(n, min_periods=1).sum().to_numpy()
        st[f"r{n}_n"] = g["strikeouts"].rolling(n, min_periods=1).count().to_numpy()
    st["r3_pitches"] = g["pitches"].rolling(3, min_periods=1).mean().to_numpy()
    st["r3_max_pitches"] = g["pitches"].rolling(3, min_periods=1).max().to_numpy()
    st["r_last_pitches"] = s["pitches"].to_numpy()
    st["r5_short"] = g["short"].rolling(5, min_periods=1).sum().to_numpy()
    st["r10_k_sd"] = g["strikeouts"].rolling(10, min_periods=3).std().to_numpy()
    st = st.groupby(["pitcher_id", "game_date"], as_index=False).last()
    cols = [c for c in st.columns if c.startswith("r")]
    return _asof(t, st, ["pitcher_id"], cols)


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

    def attach(self, t: pd.DataFrame) -> pd.DataFrame:
        """Add the opponent, league and park features' raw state to target rows."""
        t = t.assign(bat_team=t["opponent"])
        cols = [c for c in self.opp_cum.columns if c.startswith("opp_std_")]
        t = _asof(t, self.opp_cum, ["bat_team", "season"], cols)
        t = _asof(t, self.opp_roll, ["bat_team"], ["opp_r15_k", "opp_r15_bf"])
        t = t.merge(self.opp_prev, on=["bat_team", "season"], how="left").drop(columns=["bat_team"])
        t = t.assign(lg="MLB")
        t = _asof(t, self.league_roll, ["lg"], ["lg_k_pct_30d"])
        t = t.merge(self.league_prev, left_on="season", right_index=True, how="left")
        t = t.drop(columns=["lg"])
        return t.merge(self.park, on=["home_team", "season"], how="left")


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
    throws = h.dropna(subset=["throws"]).drop_duplicates("pitcher_id", keep="last")
    hand = throws.set_index("pitcher_id")["throws"]
    if "throws" in t:
        t["throws"] = t["throws"].fillna(t["pitcher_id"].map(hand))
    else:
        t["throws"] = t["pitcher_id"].map(hand)
    t["throws_left"] = np.where(t["throws"] == "L", 1.0, np.where(t["throws"] == "R", 0.0, np.nan))
    return t


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    return num / den.where(den > 0)


def _derived(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()  # one block per dtype again after the many joins
    lg = t["lg_k_pct_30d"].fillna(t["lg_k_pct_prev"])
    t["league_k_pct"] = lg
    for period in ("std", "prev"):  # this season to date, and last season

        def col(name: str, p: str = period) -> pd.Series:
            return t[f"{p}_{name}"]

        t[f"k_pct_{period}"] = _rate(col("k"), col("bf"))
        t[f"k9_{period}"] = _rate(27 * col("k"), col("outs"))
        t[f"bb_pct_{period}"] = _rate(col("bb"), col("bf"))
        t[f"bf_per_start_{period}"] = _rate(col("s_bf"), col("starts"))
        t[f"outs_per_start_{period}"] = _rate(col("s_outs"), col("starts"))
        t[f"pitches_per_start_{period}"] = _rate(col("s_pitches"), col("s_pitched"))
        t[f"relief_share_{period}"] = _rate(col("apps") - col("starts"), col("apps"))
    t["k_per_start_std"] = _rate(t["std_s_k"], t["std_starts"])
    t["starts_std"] = t["std_starts"]
    t["starts_prev"] = t["prev_starts"].fillna(0.0)

    t["k_pct_career"] = _rate(t["car_k"], t["car_bf"])
    t["career_starts"] = t["car_starts"].fillna(0.0) + t["std_starts"]
    # Marcel-style: this season 5, last season 3, earlier career 1, plus league prior
    prev_k, prev_bf = t["prev_k"].fillna(0), t["prev_bf"].fillna(0)
    older_k = (t["car_k"].fillna(0) - prev_k).clip(lower=0)
    older_bf = (t["car_bf"].fillna(0) - prev_bf).clip(lower=0)
    num = 5 * t["std_k"] + 3 * prev_k + 1 * older_k + K_PCT_PRIOR_BF * lg
    den = 5 * t["std_bf"] + 3 * prev_bf + 1 * older_bf + K_PCT_PRIOR_BF
    t["k_pct_marcel"] = num / den

    t["is_home"] = t["is_home"].astype(float)
    t["month"] = t["game_date"].dt.month.astype(float)

    opp_std = _rate(t["opp_std_k"], t["opp_std_bf"])
    opp_prev = _rate(t["opp_prev_k"], t["opp_prev_bf"])
    # early in a season the season-to-date rate is noise: blend it with last season's
    w = t["opp_std_bf"].fillna(0) / (t["opp_std_bf"].fillna(0) + 400.0)
    t["opp_k_pct_std"] = np.where(
        opp_prev.notna(), w * opp_std.fillna(opp_prev) + (1 - w) * opp_prev, opp_std
    )
    t["opp_k_pct_prev"] = opp_prev
    t["opp_k_pct_last15"] = _rate(t["opp_r15_k"], t["opp_r15_bf"])
    vs_r = _rate(t["opp_std_k_r"], t["opp_std_bf_r"])
    vs_l = _rate(t["opp_std_k_l"], t["opp_std_bf_l"])
    t["opp_k_pct_vs_hand"] = np.where(
        t["throws"] == "L", vs_l, np.where(t["throws"] == "R", vs_r, np.nan)
    )

    for n in (3, 5, 10):
        t[f"k_last{n}"] = _rate(t[f"r{n}_k"], t[f"r{n}_n"])
    t["k_pct_last5"] = _rate(t["r5_k"], t["r5_bf"])
    t["k_pct_last10"] = _rate(t["r10_k"], t["r10_bf"])
    t["bf_last3"] = _rate(t["r3_bf"], t["r3_n"])
    t["bf_last10"] = _rate(t["r10_bf"], t["r10_n"])
    t["outs_last3"] = _rate(t["r3_outs"], t["r3_n"])
    t["outs_last10"] = _rate(t["r10_outs"], t["r10_n"])
    t["pitches_last_start"] = t["r_last_pitches"]
    t["pitches_last3"] = t["r3_pitches"]
    t["max_pitches_last3"] = t["r3_max_pitches"]
    t["short_starts_last5"] = t["r5_short"]
    t["k_sd_last10"] = t["r10_k_sd"]
    t["k_pct_trend"] = t["k_pct_last5"] - t["k_pct_marcel"]

    helper = [
        c
        for c in t.columns
        if c.startswith(
            (
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
            )
        )
    ]
    helper += ["lg_k_pct_30d", "lg_k_pct_prev"]
    return t.drop(columns=[c for c in helper if c in t.columns])
