"""The feature builder: no look-ahead, and values that match the games they come from."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcast.features.build import (
    ALL_FEATURES,
    BASELINE_FEATURES,
    ROLLING_FEATURES,
    build_features,
    training_targets,
)

SEASON_DAYS = pd.date_range("2019-03-28", "2019-09-29").date.tolist()


def test_feature_lists() -> None:
    assert 24 <= len(BASELINE_FEATURES) <= 27
    assert set(BASELINE_FEATURES) < set(ROLLING_FEATURES)
    assert len(ROLLING_FEATURES) >= 35
    assert len(set(ALL_FEATURES)) == len(ALL_FEATURES)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cutoff=st.sampled_from(SEASON_DAYS), seed=st.integers(0, 10_000))
def test_no_look_ahead(history_frame: pd.DataFrame, cutoff: dt.date, seed: int) -> None:
    """A start's features are the same whether or not the games after its date exist."""
    starts = training_targets(history_frame)
    before = starts[starts["game_date"] <= pd.Timestamp(cutoff)]
    targets = before.sample(n=min(60, len(before)), random_state=seed)
    known = history_frame[history_frame["game_date"] <= pd.Timestamp(cutoff)]
    with_future = build_features(history_frame, targets)
    without = build_features(known, targets)
    pd.testing.assert_frame_equal(with_future[list(ALL_FEATURES)], without[list(ALL_FEATURES)])


def test_same_day_is_not_seen(history_frame: pd.DataFrame) -> None:
    """The start being predicted (and anything else that day) is not in its own features."""
    starts = training_targets(history_frame)
    day = pd.Timestamp("2019-07-04")
    targets = starts[starts["game_date"] == day]
    full = build_features(history_frame, targets)
    cut = build_features(history_frame[history_frame["game_date"] < day], targets)
    pd.testing.assert_frame_equal(full[list(ALL_FEATURES)], cut[list(ALL_FEATURES)])


def test_values_match_the_games(history_frame: pd.DataFrame) -> None:
    """Season-to-date, last-season and rolling values equal sums over the pitcher's games."""
    starts = training_targets(history_frame)
    target = starts[(starts["season"] == 2019) & (starts["game_date"] > "2019-07-01")].iloc[0:1]
    row = build_features(history_frame, target).iloc[0]
    pid, day = int(target["pitcher_id"].iloc[0]), target["game_date"].iloc[0]
    mine = history_frame[history_frame["pitcher_id"] == pid]
    season = mine[(mine["season"] == 2019) & (mine["game_date"] < day)]
    last = mine[mine["season"] == 2018]
    assert np.isclose(row["k_pct_std"], season["strikeouts"].sum() / season["batters_faced"].sum())
    assert row["starts_std"] == season["is_start"].sum()
    if len(last):
        assert np.isclose(row["k_pct_prev"], last["strikeouts"].sum() / last["batters_faced"].sum())
    prior_starts = mine[mine["is_start"] & (mine["game_date"] < day)].sort_values("game_date")
    assert np.isclose(row["k_last3"], prior_starts["strikeouts"].tail(3).mean())
    assert np.isclose(row["k_last10"], prior_starts["strikeouts"].tail(10).mean())
    assert row["days_rest"] == (day - prior_starts["game_date"].iloc[-1]).days
    assert np.isclose(row["pitches_last_start"], prior_starts["pitches"].iloc[-1])


def test_opponent_rate_is_starters_against_that_team(history_frame: pd.DataFrame) -> None:
    starts = training_targets(history_frame)
    target = starts[starts["game_date"] == pd.Timestamp("2019-08-15")].iloc[0:1]
    row = build_features(history_frame, target).iloc[0]
    opp, day = target["opponent"].iloc[0], target["game_date"].iloc[0]
    faced = history_frame[
        history_frame["is_start"]
        & (history_frame["opponent"] == opp)
        & (history_frame["season"] == 2019)
        & (history_frame["game_date"] < day)
    ]
    last = history_frame[
        history_frame["is_start"]
        & (history_frame["opponent"] == opp)
        & (history_frame["season"] == 2018)
    ]
    std = faced["strikeouts"].sum() / faced["batters_faced"].sum()
    prev = last["strikeouts"].sum() / last["batters_faced"].sum()
    w = faced["batters_faced"].sum() / (faced["batters_faced"].sum() + 400.0)
    assert np.isclose(row["opp_k_pct_std"], w * std + (1 - w) * prev)
    assert np.isclose(row["opp_k_pct_prev"], prev)


def test_first_start_of_a_career_has_no_history(history_frame: pd.DataFrame) -> None:
    starts = training_targets(history_frame)
    first = starts.sort_values("game_date").drop_duplicates("pitcher_id")
    debut = first[first["game_date"] > "2018-06-01"]
    debut = debut[
        ~debut["pitcher_id"].isin(
            history_frame[history_frame["game_date"] < "2018-06-01"]["pitcher_id"]
        )
    ].head(5)
    rows = build_features(history_frame, debut)
    assert rows["k_last3"].isna().all()
    assert (rows["career_starts"] == 0).all()
    assert rows["k_pct_marcel"].notna().all()  # falls back to the league prior


def test_a_debut_starts_hand_does_not_depend_on_the_batch(history_frame: pd.DataFrame) -> None:
    """A pitcher whose first game is a start: his hand (known before the game, from
    ``players``) is the same whether his start is built alone or with later starts (``kcast
    train`` builds the starts before a date, the backtest a whole season at once)."""
    starts = training_targets(history_frame)
    first = history_frame.groupby("pitcher_id")["game_date"].transform("min")
    debuts = history_frame[
        history_frame["is_start"]
        & (history_frame["game_date"] == first)
        & (history_frame["game_date"] > history_frame["game_date"].min())
        & history_frame["throws"].isin(["L", "R"])
    ]
    assert len(debuts) > 0
    row = debuts.iloc[0]
    alone = starts[starts["game_date"] <= row["game_date"]]
    later = starts[starts["game_date"] <= row["game_date"] + pd.Timedelta(days=30)]

    def hand(targets: pd.DataFrame) -> list[float]:
        built = build_features(history_frame, targets)
        mine = (built["game_id"] == row["game_id"]) & (built["pitcher_id"] == row["pitcher_id"])
        return built.loc[mine, "throws_left"].tolist()

    one, many = hand(alone), hand(later)
    expected = 1.0 if row["throws"] == "L" else 0.0
    assert one == many == [expected]
