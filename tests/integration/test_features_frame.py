"""The feature builder's numpy paths against the frame-wide joins they replaced.

The builder finds each target's pitcher state by binary search in his own games' cumulative
sums, and the team, league and park state by key in the kept ``FeatureContext``. This module
keeps the previous way, every state table joined to the targets with ``pandas.merge_asof`` and
``merge``, as the reference, and the two must agree to the last digit over a real season's starts
and for one pitcher at a time (the worker's off-slate path). The features derived from that state
(rates, the Marcel blend) are the builder's own ``_derived`` on both sides: the state is what is
compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kcast.features.build import (
    ALL_FEATURES,
    DATE_DTYPE,
    PARK_SEASONS,
    ROLLING_STATE,
    SHORT_START_OUTS,
    TARGETS,
    FeatureContext,
    _derived,
    _hands,
    _per_date,
    build_features,
    training_targets,
)


def frame_features(history: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """``build_features`` as frame-wide joins (the reference)."""
    t = targets.copy()
    t["_order"] = np.arange(len(t))
    t["game_date"] = pd.to_datetime(t["game_date"]).astype(DATE_DTYPE)
    t["season"] = t["season"].astype(int)
    t["pitcher_id"] = t["pitcher_id"].astype("int64")
    h = history[history["game_date"] < t["game_date"].max()]
    own = h[h["pitcher_id"].isin(t["pitcher_id"].unique())]
    recent = h[h["season"] >= t["season"].min() - PARK_SEASONS]
    context = FeatureContext.from_history(recent, t["season"].unique())
    t = _pitcher_season_state(own, t)
    t = _pitcher_prior_seasons(own, t)
    t = _pitcher_rolling(own, t)
    t = _attach(context, t)
    t = _hands(own, t)
    t = _derived(t)
    t = t.sort_values("_order").drop(columns=["_order"]).reset_index(drop=True)
    for f in ALL_FEATURES:
        if f not in t:
            t[f] = np.nan
        t[f] = t[f].astype("float64")
    return t


def _attach(context: FeatureContext, t: pd.DataFrame) -> pd.DataFrame:
    t = t.assign(bat_team=t["opponent"])
    cols = [c for c in context.opp_cum.columns if c.startswith("opp_std_")]
    t = _asof(t, context.opp_cum, ["bat_team", "season"], cols)
    t = _asof(t, context.opp_roll, ["bat_team"], ["opp_r15_k", "opp_r15_bf"])
    t = t.merge(context.opp_prev, on=["bat_team", "season"], how="left").drop(columns=["bat_team"])
    t = t.assign(lg="MLB")
    t = _asof(t, context.league_roll, ["lg"], ["lg_k_pct_30d"])
    t = t.merge(context.league_prev, left_on="season", right_index=True, how="left")
    t = t.drop(columns=["lg"])
    return t.merge(context.park, on=["home_team", "season"], how="left")


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


@pytest.fixture(scope="module")
def season_starts(history_frame: pd.DataFrame) -> pd.DataFrame:
    """Every 2019 regular-season start, without its outcome."""
    starts = training_targets(history_frame)
    return starts[starts["season"] == 2019].drop(columns=list(TARGETS)).reset_index(drop=True)


def test_a_season_of_starts_matches_the_frame_joins(
    history_frame: pd.DataFrame, season_starts: pd.DataFrame
) -> None:
    shuffled = season_starts.sample(frac=1.0, random_state=7)  # row order is kept too
    fast = build_features(history_frame, shuffled)
    pd.testing.assert_frame_equal(fast, frame_features(history_frame, shuffled), check_exact=True)
    assert fast["k_sd_last10"].notna().sum() > 1000  # the season's state is really there


def test_one_pitcher_with_a_kept_context_matches_the_frame_joins(
    history_frame: pd.DataFrame, season_starts: pd.DataFrame
) -> None:
    context = FeatureContext.from_history(history_frame)  # as the worker keeps it
    first = training_targets(history_frame).drop(columns=list(TARGETS)).iloc[:3]  # no history
    picked = pd.concat([first, season_starts.sample(25, random_state=3)])
    for i in range(len(picked)):
        one = picked.iloc[[i]]
        pd.testing.assert_frame_equal(
            build_features(history_frame, one, context),
            frame_features(history_frame, one),
            check_exact=True,
        )
