"""The monitoring views, queries, ``kcast query`` and ``kcast status`` on a real backtest.

The warehouse (``backtest_warehouse``) holds the 2021-2022 Retrosheet seasons, the real 2022
DraftKings/FanDuel lines, and a graded walk-forward backtest of every system from 2022-06-14 to
2022-09-08. Every view and query result is checked against an independent computation in
pandas from the predictions table, not just run.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kcast import policy
from kcast.cli import app
from kcast.config import SEED_SYSTEMS, get_settings
from kcast.errors import InputError
from kcast.grading import grade_dates
from kcast.monitoring import (
    QUERY_PARAMS,
    VIEWS,
    daily_status,
    latest_prediction_date,
    load_queries,
    run_query,
    run_view,
)
from kcast.warehouse import open_warehouse
from kcast.warehouse.duckdb import DuckDBWarehouse
from kcast.warehouse.migrations import view_sql
from tests.conftest import BACKTEST_END, BACKTEST_START

SYSTEMS = ["ensemble_v1", "v1_6_rolling", "v1_baseline"]
PRIMARY = "ensemble_v1"  # the backtest warehouse's primary system: whose picks are shown
KEY = ["game_id", "pitcher_id"]
QUERIES = {
    "agreement_today",
    "bets_by_cut",
    "bets_by_system",
    "calibration_by_decile",
    "coverage_today",
    "daily_volume",
    "disagreements",
    "edge_buckets",
    "ensemble_vs_members",
    "error_drift",
    "high_confidence_picks",
    "missing_systems",
    "model_versions_in_use",
    "performance_by_confidence_band",
    "performance_by_line",
    "performance_by_system",
    "picks_today",
    "prediction_changes",
    "prediction_freshness",
    "red_flag_summary",
    "roi_by_recommendation",
    "ungraded_predictions",
}
LAST = dt.date.fromisoformat(BACKTEST_END)
runner = CliRunner()


# --------------------------------------------------------------------------------------------
# Fixtures and independent helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _seed_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backtest warehouse holds the seed's three systems, ensemble_v1 primary: the
    settings the views and queries are read with say so too (kcast's default also runs
    v2_matchup, the primary)."""
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", SEED_SYSTEMS)
    monkeypatch.setenv("MLB_PRIMARY_SYSTEM", PRIMARY)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def wh(backtest_warehouse: Path):
    warehouse = DuckDBWarehouse(backtest_warehouse, read_only=True)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def preds(wh) -> pd.DataFrame:
    """The predictions table as pandas sees it: the input of every independent check."""
    frame = wh.query("SELECT * FROM pitcher_strikeout_predictions")
    frame["game_date"] = pd.to_datetime(frame["game_date"])
    return frame


@pytest.fixture(scope="module")
def backtest_metrics(backtest_warehouse: Path) -> dict:
    return json.loads((backtest_warehouse.parent / "backtest_metrics.json").read_text())


@pytest.fixture
def wh_copy(backtest_warehouse: Path, tmp_path: Path):
    """A writable copy of the backtest warehouse, opened."""
    target = tmp_path / "copy.duckdb"
    shutil.copy(backtest_warehouse, target)
    warehouse = open_warehouse(str(target))
    yield warehouse
    warehouse.close()


def ts(value: str | dt.date) -> pd.Timestamp:
    return pd.Timestamp(value)


def profit(row: pd.Series) -> float:
    """Units won by one graded bet at the American odds of its decision (its own rung and
    book; the side's odds at the row's line for a row stored before decisions were kept), NaN
    without a price."""
    if row["result"] not in ("win", "loss", "push"):
        return np.nan
    odds = row.get("decision_odds")
    if odds is None or pd.isna(odds):
        odds = row["over_odds"] if row["recommendation"] == "OVER" else row["under_odds"]
    if pd.isna(odds):
        return np.nan
    if row["result"] == "push":
        return 0.0
    if row["result"] == "loss":
        return -1.0
    return odds / 100.0 if odds > 0 else 100.0 / -odds


def bet_summary(frame: pd.DataFrame) -> dict[str, float]:
    """Bets, wins, losses, pushes, win rate and ROI of a set of prediction rows."""
    bets = frame[frame["result"].isin(["win", "loss", "push"])]
    wins = int((bets["result"] == "win").sum())
    losses = int((bets["result"] == "loss").sum())
    units = bets.apply(profit, axis=1) if len(bets) else pd.Series(dtype=float)
    priced = units.dropna()
    return {
        "bets": len(bets),
        "wins": wins,
        "losses": losses,
        "pushes": int((bets["result"] == "push").sum()),
        "win_rate": wins / (wins + losses) if wins + losses else np.nan,
        "priced_bets": len(priced),
        "units": float(priced.sum()) if len(priced) else np.nan,
        "roi": float(priced.mean()) if len(priced) else np.nan,
    }


def close(a: object, b: object, tol: float = 1e-9) -> bool:
    """Equal numbers (NaN equals NaN) or equal anything else."""
    if a is None or b is None or (isinstance(a, float) and np.isnan(a)):
        return (a is None or pd.isna(a)) and (b is None or pd.isna(b))
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b))))
    return a == b


def assert_rows(actual: pd.Series | dict, expected: dict, where: str) -> None:
    for column, value in expected.items():
        assert close(actual[column], value), (where, column, actual[column], value)


def graded(preds: pd.DataFrame) -> pd.DataFrame:
    return preds[preds["actual_strikeouts"].notna()].copy()


def agreement_frame(preds: pd.DataFrame) -> pd.DataFrame:
    g = preds.groupby(["game_date", *KEY])["predicted_strikeouts"].agg(["min", "max", "count"])
    g["spread"] = (g["max"] - g["min"]).round(3)
    g["agreement"] = np.select(
        [g["count"] < 2, g["spread"] <= policy.AGREE_WITHIN, g["spread"] <= policy.DISAGREE_OVER],
        ["single_system", "strong", "moderate"],
        "weak",
    )
    return g.reset_index()


# --------------------------------------------------------------------------------------------
# The fixture itself, and the SQL files
# --------------------------------------------------------------------------------------------


def test_backtest_wrote_every_system_for_every_start(wh, preds) -> None:
    starts = wh.query(
        "SELECT game_id, pitcher_id FROM pitcher_games WHERE is_start AND game_type = 'regular' "
        "AND batters_faced > 0 AND game_date BETWEEN $a AND $b",
        {"a": BACKTEST_START, "b": BACKTEST_END},
    )
    assert len(starts) > 2000
    predicted = preds[KEY].drop_duplicates()
    assert len(predicted) == len(starts)
    assert set(map(tuple, predicted.to_numpy())) == set(map(tuple, starts.to_numpy()))
    assert sorted(preds["system_id"].unique()) == SYSTEMS
    assert len(preds) == 3 * len(starts)
    assert preds["actual_strikeouts"].notna().all()
    assert set(preds["result"]) <= {"win", "loss", "push", "no_line", "pass"}
    assert (preds["result"] == "no_line").sum() == 3 * preds.loc[
        preds["system_id"] == "ensemble_v1", "line"
    ].isna().sum()


def test_views_are_the_named_ones_and_exist(wh) -> None:
    assert set(view_sql()) == set(VIEWS)
    for view in VIEWS:
        assert wh.table_exists(view), view


def test_query_files_say_what_they_answer_and_their_parameters() -> None:
    queries = load_queries()
    assert set(queries) == QUERIES
    for q in queries.values():
        assert q.sql.startswith(f"-- {q.name}: "), q.name
        assert q.question.endswith("?"), q.name
        params_line = [
            line for line in q.description.splitlines() if line.startswith("Parameters:")
        ]
        assert len(params_line) == 1, q.name
        if q.params:
            assert set(q.params) <= set(QUERY_PARAMS), q.name
            for param in q.params:
                assert f"${param}" in params_line[0], (q.name, param)
        else:
            assert params_line[0] == "Parameters: none.", q.name
        assert "{{" not in q.sql, q.name  # every placeholder rendered


def test_every_view_and_query_transpiles_to_bigquery() -> None:
    sqlglot = pytest.importorskip("sqlglot")
    texts = {f"view {n}": s for n, s in view_sql().items()}
    texts.update({f"query {n}": q.sql for n, q in load_queries().items()})
    for what, sql in texts.items():
        out = sqlglot.transpile(
            sql,
            read="duckdb",
            write="bigquery",
            unsupported_level=sqlglot.ErrorLevel.RAISE,
            comments=False,
        )
        assert len(out) == 1, what
        body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        for param in QUERY_PARAMS:
            assert f"${param}" not in out[0], what
            if f"${param}" in body:
                assert f"@{param}" in out[0], what


# --------------------------------------------------------------------------------------------
# The five views
# --------------------------------------------------------------------------------------------


def test_daily_coverage_every_system_for_every_pitcher(wh, preds) -> None:
    view = run_view(wh, "daily_coverage")
    view["game_date"] = pd.to_datetime(view["game_date"])
    view = view.set_index("game_date").sort_index()
    per_pitcher = preds.groupby(["game_date", *KEY])["system_id"].nunique()
    pitchers = per_pitcher.groupby("game_date").size()
    assert list(view.index) == list(pitchers.index)
    assert (view["pitchers"] == pitchers).all()
    assert (view["min_systems_per_pitcher"] == 3).all()
    assert (view["max_systems_per_pitcher"] == 3).all()
    assert (view["systems_seen"] == 3).all()
    assert (view["pitchers_missing_systems"] == 0).all()
    by_day = preds.groupby("game_date")
    assert (view["predictions"] == by_day.size()).all()
    assert (view["predictions_with_line"] == by_day["line"].count()).all()
    assert (view["predictions_graded"] == by_day["actual_strikeouts"].count()).all()


def test_daily_coverage_sees_a_system_missing(wh_copy, preds) -> None:
    day = ts("2022-08-10")
    victims = preds[(preds["game_date"] == day) & (preds["system_id"] == "v1_6_rolling")].head(3)
    for row in victims.itertuples():
        wh_copy.delete_where(
            "pitcher_strikeout_predictions",
            "game_id = $g AND pitcher_id = $p AND system_id = 'v1_6_rolling'",
            {"g": row.game_id, "p": int(row.pitcher_id)},
        )
    wh_copy.delete_where(
        "pitcher_strikeout_predictions",
        "game_date = '2022-08-11' AND system_id = 'ensemble_v1'",
    )
    view = run_view(wh_copy, "daily_coverage")
    view["game_date"] = pd.to_datetime(view["game_date"])
    view = view.set_index("game_date")
    n10 = preds.loc[preds["game_date"] == day, KEY].drop_duplicates().shape[0]
    row = view.loc[day]
    assert (row["pitchers"], row["min_systems_per_pitcher"], row["max_systems_per_pitcher"]) == (
        n10,
        2,
        3,
    )
    assert (row["systems_seen"], row["pitchers_missing_systems"]) == (3, 3)
    # a system gone for the whole day: min = max = 2 = systems seen (status compares with active)
    row = view.loc[ts("2022-08-11")]
    assert (row["min_systems_per_pitcher"], row["max_systems_per_pitcher"]) == (2, 2)
    assert (row["systems_seen"], row["pitchers_missing_systems"]) == (2, 0)


def test_system_agreement_spreads_and_shares(wh, preds) -> None:
    view = run_view(wh, "system_agreement")
    view["game_date"] = pd.to_datetime(view["game_date"])
    expected = agreement_frame(preds)
    merged = view.merge(expected, on=["game_date", *KEY], suffixes=("", "_pd"), validate="1:1")
    assert len(merged) == len(expected) == len(view)
    assert np.allclose(merged["spread"], merged["spread_pd"], atol=1e-9)
    assert np.allclose(merged["min_predicted"], merged["min"])
    assert np.allclose(merged["max_predicted"], merged["max"])
    assert (merged["agreement"] == merged["agreement_pd"]).all()
    assert set(view["agreement"]) >= {"strong", "moderate"}
    shares = (
        expected.groupby("game_date")["agreement"]
        .value_counts(normalize=True)
        .unstack(fill_value=0)
    )
    day = view.drop_duplicates("game_date").set_index("game_date").sort_index()
    for label in ("strong", "moderate", "weak"):
        want = shares[label] if label in shares else pd.Series(0.0, index=shares.index)
        assert np.allclose(day[f"{label}_share"], want.reindex(day.index)), label
    total = day["strong_share"] + day["moderate_share"] + day["weak_share"]
    assert np.allclose(total, 1.0)
    assert (day["pitchers_compared"] == expected.groupby("game_date").size()).all()


def test_todays_picks_are_every_systems_bets(wh, preds) -> None:
    view = run_view(wh, "todays_picks")
    want = preds[preds["recommendation"].isin(["OVER", "UNDER"])]
    assert len(view) == len(want) > 100
    assert set(view["system_id"]) == set(SYSTEMS)
    merged = view.merge(want, on=[*KEY, "system_id"], suffixes=("", "_pd"), validate="1:1")
    assert len(merged) == len(want)
    for col in ("confidence", "line", "edge", "p_over", "predicted_strikeouts"):
        assert np.allclose(merged[col], merged[f"{col}_pd"]), col
    for col in ("recommendation", "result"):
        assert (merged[col] == merged[f"{col}_pd"]).all(), col
    assert (merged["red_flags"].fillna("") == merged["red_flags_pd"].fillna("")).all()
    assert merged["line"].notna().all()


def test_graded_predictions_score_every_graded_row(wh, preds) -> None:
    view = run_view(wh, "graded_predictions")
    g = graded(preds)
    assert len(view) == len(g)
    merged = view.merge(g, on=[*KEY, "system_id"], suffixes=("", "_pd"), validate="1:1")
    want = merged.apply(profit, axis=1)
    assert np.allclose(merged["profit"].astype(float), want.astype(float), equal_nan=True)
    err = merged["predicted_strikeouts"] - merged["actual_strikeouts"]
    assert np.allclose(merged["error"], err)
    assert merged["profit"].notna().sum() > 100


def test_system_performance_windows_match_pandas(wh, preds, backtest_metrics) -> None:
    view = run_view(wh, "system_performance")
    g = graded(preds)
    g["error"] = g["predicted_strikeouts"] - g["actual_strikeouts"]
    as_of = g["game_date"].max()
    assert as_of == ts(BACKTEST_END)
    starts = {
        "last_7_days": as_of - pd.Timedelta(days=6),
        "last_30_days": as_of - pd.Timedelta(days=29),
        "season": ts(f"{as_of.year}-01-01"),
        "all": g["game_date"].min(),
    }
    assert len(view) == len(starts) * len(SYSTEMS)
    for row in view.itertuples():
        assert ts(row.window_end) == as_of and ts(row.window_start) == starts[row.time_window]
        sub = g[
            (g["system_id"] == row.system_id)
            & (g["game_date"] >= starts[row.time_window])
            & (g["game_date"] <= as_of)
        ]
        err = sub["error"]
        expected = {
            "graded": len(sub),
            "mae": err.abs().mean(),
            "bias": err.mean(),
            "rmse": float(np.sqrt((err**2).mean())),
            "within_1k": float((err.abs() <= 1).mean()),
            "with_line": int(sub["line"].notna().sum()),
            **bet_summary(sub),
        }
        assert_rows(row._asdict(), expected, f"{row.system_id} {row.time_window}")
    # the "all" window's MAE is the backtest's own MAE over every start
    everything = view[view["time_window"] == "all"].set_index("system_id")
    for system in SYSTEMS:
        assert everything.loc[system, "mae"] == pytest.approx(
            backtest_metrics[system]["mae_all_starts"], rel=1e-9
        )
        assert everything.loc[system, "bets"] >= backtest_metrics[system]["bets"]


def drift_frame(preds: pd.DataFrame) -> pd.DataFrame:
    """Weekly, rolling four-week and long-run MAE and bias, with the drift flag, in pandas."""
    g = graded(preds)
    g["error"] = g["predicted_strikeouts"] - g["actual_strikeouts"]
    g["week_start"] = g["game_date"] - pd.to_timedelta(g["game_date"].dt.day_of_week, unit="D")
    g["abs_error"] = g["error"].abs()
    weekly = (
        g.groupby(["system_id", "week_start"])
        .agg(predictions=("error", "size"), abs_sum=("abs_error", "sum"), err_sum=("error", "sum"))
        .reset_index()
        .sort_values(["system_id", "week_start"])
    )
    roll = weekly.groupby("system_id")[["predictions", "abs_sum", "err_sum"]].rolling(4, 1).sum()
    weekly[["rolling_n", "roll_abs", "roll_err"]] = roll.reset_index(level=0, drop=True)
    long = g.groupby("system_id").agg(
        long_run_mae=("abs_error", "mean"), long_run_bias=("error", "mean")
    )
    weekly = weekly.merge(long, on="system_id")
    weekly["mae"] = weekly["abs_sum"] / weekly["predictions"]
    weekly["bias"] = weekly["err_sum"] / weekly["predictions"]
    weekly["rolling_mae"] = weekly["roll_abs"] / weekly["rolling_n"]
    weekly["rolling_bias"] = weekly["roll_err"] / weekly["rolling_n"]
    weekly["drift"] = np.select(
        [
            weekly["rolling_n"] < 100,
            weekly["rolling_mae"] > 1.10 * weekly["long_run_mae"],
            (weekly["rolling_bias"] - weekly["long_run_bias"]).abs() > 0.4,
        ],
        ["too_few", "mae_drift", "bias_drift"],
        "ok",
    )
    return weekly


def check_drift_view(warehouse, preds: pd.DataFrame) -> pd.DataFrame:
    view = run_view(warehouse, "system_error_drift")
    view["week_start"] = pd.to_datetime(view["week_start"])
    expected = drift_frame(preds)
    merged = view.merge(expected, on=["system_id", "week_start"], suffixes=("", "_pd"))
    assert len(merged) == len(view) == len(expected)
    assert (pd.to_datetime(merged["week_start"]).dt.day_of_week == 0).all()  # Mondays
    for col in ("mae", "bias", "rolling_mae", "rolling_bias", "long_run_mae", "long_run_bias"):
        assert np.allclose(merged[col], merged[f"{col}_pd"]), col
    assert (merged["predictions"] == merged["predictions_pd"]).all()
    assert (merged["rolling_n"] == merged["rolling_n_pd"]).all()
    assert (merged["drift"] == merged["drift_pd"]).all()
    return view


def test_system_error_drift_matches_pandas(wh, preds) -> None:
    view = check_drift_view(wh, preds)
    assert view["week_start"].nunique() >= 12
    assert set(view["drift"]) <= {"ok", "too_few"}  # the real backtest does not drift


def test_system_error_drift_flags_a_drifting_system(wh_copy) -> None:
    # v1_baseline suddenly predicts 2.5 K too many for the last two weeks
    wh_copy.execute(
        "UPDATE pitcher_strikeout_predictions SET predicted_strikeouts = predicted_strikeouts + 2.5"
        " WHERE system_id = 'v1_baseline' AND game_date >= '2022-08-29'"
    )
    preds = wh_copy.query("SELECT * FROM pitcher_strikeout_predictions")
    preds["game_date"] = pd.to_datetime(preds["game_date"])
    view = check_drift_view(wh_copy, preds)
    last = view[view["week_start"] == view["week_start"].max()].set_index("system_id")
    assert last.loc["v1_baseline", "drift"] in ("mae_drift", "bias_drift")
    assert last.loc["ensemble_v1", "drift"] == "ok"


# --------------------------------------------------------------------------------------------
# The nineteen queries
# --------------------------------------------------------------------------------------------


def test_date_defaults_to_the_latest_prediction_date(wh) -> None:
    assert latest_prediction_date(wh) == LAST
    assert run_query(wh, "picks_today").params == {"date": LAST, "system": PRIMARY}
    assert run_query(wh, "performance_by_system").params == {}


def test_coverage_today(wh, preds) -> None:
    for day in (LAST, dt.date(2022, 7, 4)):
        got = run_query(wh, "coverage_today", day).frame
        assert len(got) == 1
        row = got.iloc[0]
        on_day = preds[preds["game_date"] == ts(day)]
        assert row["pitchers"] == len(on_day[KEY].drop_duplicates())
        assert row["predictions"] == len(on_day)
        assert row["min_systems_per_pitcher"] == row["max_systems_per_pitcher"] == 3
        assert bool(row["complete"])


def test_missing_systems(wh, wh_copy, preds) -> None:
    for day in (LAST, dt.date(2022, 8, 10)):
        assert run_query(wh, "missing_systems", day).frame.empty
    on_10 = preds[(preds["game_date"] == ts("2022-08-10")) & (preds["system_id"] == "v1_6_rolling")]
    gone = on_10.head(4)
    for row in gone.itertuples():
        wh_copy.delete_where(
            "pitcher_strikeout_predictions",
            "game_id = $g AND pitcher_id = $p AND system_id = 'v1_6_rolling'",
            {"g": row.game_id, "p": int(row.pitcher_id)},
        )
    wh_copy.delete_where(
        "pitcher_strikeout_predictions", "game_date = '2022-08-11' AND system_id = 'ensemble_v1'"
    )
    got = run_query(wh_copy, "missing_systems", dt.date(2022, 8, 10)).frame
    assert set(got["missing_system"]) == {"v1_6_rolling"}
    assert set(zip(got["game_id"], got["pitcher_id"], strict=True)) == set(
        zip(gone["game_id"], gone["pitcher_id"], strict=True)
    )
    assert (got["systems_present"] == 2).all()
    # a system that failed for the whole day still shows: it ran in the week before
    got = run_query(wh_copy, "missing_systems", dt.date(2022, 8, 11)).frame
    on_11 = preds[preds["game_date"] == ts("2022-08-11")][KEY].drop_duplicates()
    assert set(got["missing_system"]) == {"ensemble_v1"}
    assert len(got) == len(on_11)


def test_agreement_today_every_date(wh, preds) -> None:
    expected = agreement_frame(preds)
    for day, group in expected.groupby("game_date"):
        got = run_query(wh, "agreement_today", day.date()).frame.iloc[0]
        counts = group["agreement"].value_counts()
        n = len(group)
        assert got["pitchers_compared"] == n
        for label in ("strong", "moderate", "weak"):
            assert got[label] == counts.get(label, 0), (day, label)
            assert got[f"{label}_share"] == pytest.approx(counts.get(label, 0) / n)
        assert got["strong_or_moderate_share"] == pytest.approx(
            (counts.get("strong", 0) + counts.get("moderate", 0)) / n
        )
        assert got["max_spread"] == pytest.approx(group["spread"].max())
        assert got["mean_spread"] == pytest.approx(group["spread"].mean())


def test_disagreements_are_the_largest_spreads(wh, preds) -> None:
    expected = agreement_frame(preds)
    day = expected.loc[expected["spread"].idxmax(), "game_date"]
    got = run_query(wh, "disagreements", day.date()).frame
    want = (
        expected[expected["game_date"] == day]
        .sort_values(["spread", "pitcher_id"], ascending=[False, True])
        .head(20)
    )
    assert list(got["pitcher_id"]) == list(want["pitcher_id"])
    assert np.allclose(got["spread"], want["spread"])
    wide = preds[preds["game_date"] == day].pivot_table(
        index="pitcher_id", columns="system_id", values="predicted_strikeouts"
    )
    wide = wide.loc[got["pitcher_id"], sorted(SYSTEMS)]
    assert np.allclose(got["min_predicted"], wide.min(axis=1).to_numpy())
    assert np.allclose(got["max_predicted"], wide.max(axis=1).to_numpy())
    # the system that made each extreme (ties: the first system_id)
    assert list(got["lowest_system"]) == list(wide.idxmin(axis=1))
    assert list(got["highest_system"]) == list(wide.idxmax(axis=1))
    assert np.allclose(got["primary_predicted"], wide[PRIMARY].to_numpy())
    recs = preds[(preds["game_date"] == day) & (preds["system_id"] == PRIMARY)]
    recs = recs.set_index("pitcher_id").loc[got["pitcher_id"], "recommendation"]
    assert list(got["primary_recommendation"]) == list(recs)
    assert got["agreement"].iloc[0] in ("moderate", "weak")
    # another primary system: its predictions and recommendations fill the primary columns
    other = run_query(wh, "disagreements", day.date(), "v1_baseline").frame
    assert list(other["pitcher_id"]) == list(got["pitcher_id"])
    assert np.allclose(other["primary_predicted"], wide["v1_baseline"].to_numpy())


def ensemble_picks(
    preds: pd.DataFrame, day: pd.Timestamp, wh, system: str = "ensemble_v1"
) -> pd.DataFrame:  # noqa: ANN001
    """The system's bets of the day (the ledger's, status bet: the edge gate's leans are in the
    ledger too), then its leans (rows with a side and no bet), each most confident first: what
    picks_today lists."""
    want = preds[
        (preds["game_date"] == day)
        & (preds["system_id"] == system)
        & preds["recommendation"].isin(["OVER", "UNDER"])
    ]
    bets = wh.query(
        "SELECT game_id, pitcher_id FROM bets WHERE strategy = 'ev' AND system_id = $s "
        "AND game_date = $d AND COALESCE(status, 'bet') = 'bet'",
        {"s": system, "d": day.date()},
    )
    keys = set(zip(bets["game_id"], bets["pitcher_id"].astype(int), strict=True))
    want = want.assign(
        lean=[
            (g, int(p)) not in keys
            for g, p in zip(want["game_id"], want["pitcher_id"], strict=True)
        ]
    )
    assert len(keys) == int((~want["lean"]).sum())  # every bet is on a row with its side
    return want.sort_values(["lean", "confidence", "pitcher_id"], ascending=[True, False, True])


def test_picks_today_and_high_confidence_picks_every_date(wh, preds) -> None:
    n_picks = n_high = 0
    for day in sorted(preds["game_date"].unique()):
        day = ts(day)
        want = ensemble_picks(preds, day, wh)
        got = run_query(wh, "picks_today", day.date()).frame
        assert list(got["pitcher_id"]) == list(want["pitcher_id"]), day
        assert list(got["recommendation"]) == list(want["recommendation"])
        assert list(got["decision"]) == ["lean" if lean else "bet" for lean in want["lean"]]
        assert np.allclose(got["confidence"], want["confidence"])
        high = want[(want["confidence"] >= 70) & (want["red_flags"].fillna("") == "")]
        # every side of the day (bet or lean), most confident first
        high = high.sort_values(["confidence", "pitcher_id"], ascending=[False, True])
        got_high = run_query(wh, "high_confidence_picks", day.date()).frame
        assert list(got_high["pitcher_id"]) == list(high["pitcher_id"]), day
        n_picks += len(got)
        n_high += len(got_high)
    total = preds[
        (preds["system_id"] == "ensemble_v1") & preds["recommendation"].isin(["OVER", "UNDER"])
    ]
    assert n_picks == len(total)
    assert 0 < n_high < n_picks


def test_picks_today_lists_the_days_bets_first_then_the_leans(wh_copy, preds) -> None:
    """A day whose ledger holds bets and leans of the edge gate: picks_today lists the bets
    (status bet, staked) first, then every other side as a lean."""
    picks = wh_copy.query(
        "SELECT game_date, game_id, pitcher_id FROM bets WHERE strategy = 'ev' "
        "AND system_id = 'ensemble_v1' ORDER BY game_date, game_id, pitcher_id"
    )
    day = picks["game_date"].value_counts().index[0]
    of_day = picks[picks["game_date"] == day]
    assert len(of_day) >= 4
    wh_copy.execute("UPDATE bets SET status = 'lean' WHERE game_date = $d", {"d": day})
    for r in of_day.iloc[::2].to_dict("records"):  # every other one a bet, staked
        wh_copy.execute(
            "UPDATE bets SET status = 'bet', stake = 0.01 WHERE game_id = $g AND pitcher_id = $p "
            "AND strategy = 'ev' AND system_id = 'ensemble_v1'",
            {"g": r["game_id"], "p": int(r["pitcher_id"])},
        )
    n_bets = len(of_day.iloc[::2])
    want = ensemble_picks(preds, ts(day), wh_copy)
    got = run_query(wh_copy, "picks_today", ts(day).date()).frame
    assert list(got["pitcher_id"]) == list(want["pitcher_id"])
    assert list(got["decision"]) == ["bet"] * n_bets + ["lean"] * (len(got) - n_bets)
    assert got["stake"].iloc[:n_bets].notna().all() and got["stake"].iloc[n_bets:].isna().all()


def test_red_flag_summary(wh, preds) -> None:
    day = dt.date(2022, 8, 20)
    got = run_query(wh, "red_flag_summary", day).frame.set_index("flag")
    ens = preds[(preds["system_id"] == "ensemble_v1") & (preds["game_date"] <= ts(day))].copy()
    ens["flags"] = ens["red_flags"].fillna("").str.split(",")
    ens["abs_error"] = (ens["predicted_strikeouts"] - ens["actual_strikeouts"]).abs()
    assert got["mae_all"].iloc[0] == pytest.approx(ens["abs_error"].mean())
    seen = {f for flags in ens["flags"] for f in flags if f}
    assert seen <= set(got.index)
    for flag, row in got.iterrows():
        sub = ens[ens["flags"].apply(lambda fs, f=flag: f in fs)]
        assert row["flagged_to_date"] == len(sub), flag
        assert row["flagged_on_date"] == int((sub["game_date"] == ts(day)).sum()), flag
        assert row["share_to_date"] == pytest.approx(len(sub) / len(ens)), flag
        assert close(row["mae_flagged"], sub["abs_error"].mean() if len(sub) else np.nan)
        assert row["picks"] == int(sub["recommendation"].isin(["OVER", "UNDER"]).sum())
        assert_rows(row, {k: bet_summary(sub)[k] for k in ("wins", "losses", "win_rate")}, flag)
    assert got.loc["no_line", "flagged_to_date"] == ens["line"].isna().sum() > 0


def test_performance_by_system_is_the_view_in_order(wh) -> None:
    got = run_query(wh, "performance_by_system").frame
    view = run_view(wh, "system_performance").sort_values(["window_order", "system_id"])
    assert list(got["time_window"]) == list(view["time_window"])
    assert list(got["system_id"]) == list(view["system_id"])
    for col in ("graded", "mae", "win_rate", "roi", "bets"):
        assert np.allclose(got[col].astype(float), view[col].astype(float), equal_nan=True), col


def test_performance_by_confidence_band(wh, preds) -> None:
    got = run_query(wh, "performance_by_confidence_band").frame
    bets = preds[preds["result"].isin(["win", "loss", "push"])].copy()
    bands = pd.cut(
        bets["confidence"],
        [-np.inf, 60, 65, 70, 75, np.inf],
        right=False,
        labels=["<60", "60-65", "65-70", "70-75", "75+"],
    )
    bets["band"] = bands.astype(str)
    assert len(got) == bets.groupby(["system_id", "band"]).ngroups
    assert got["bets"].sum() == len(bets)
    for row in got.itertuples():
        sub = bets[(bets["system_id"] == row.system_id) & (bets["band"] == row.confidence_band)]
        expected = {k: v for k, v in bet_summary(sub).items() if k not in ("units", "priced_bets")}
        expected["mean_confidence"] = sub["confidence"].mean()
        assert_rows(row._asdict(), expected, f"{row.system_id} {row.confidence_band}")


def test_performance_by_line(wh, preds) -> None:
    got = run_query(wh, "performance_by_line").frame
    g = graded(preds)
    g = g[g["line"].notna()]
    assert got["starts"].sum() == len(g)
    for row in got.itertuples():
        sub = g[(g["system_id"] == row.system_id) & (g["line"] == row.line)]
        expected = {
            "starts": len(sub),
            "mae": (sub["predicted_strikeouts"] - sub["actual_strikeouts"]).abs().mean(),
            "mean_predicted": sub["predicted_strikeouts"].mean(),
            "mean_actual": sub["actual_strikeouts"].mean(),
            "over_rate": (sub["actual_strikeouts"] > sub["line"]).mean(),
            "mean_edge": sub["edge"].mean(),
            **{k: bet_summary(sub)[k] for k in ("bets", "wins", "losses", "win_rate")},
        }
        assert_rows(row._asdict(), expected, f"{row.system_id} {row.line}")


def test_calibration_by_decile(wh, preds) -> None:
    got = run_query(wh, "calibration_by_decile").frame
    g = graded(preds)
    g = g[g["line"].notna() & (g["actual_strikeouts"] != g["line"]) & g["p_over"].notna()]
    g = g.assign(stated=g["p_over"] / (g["p_over"] + g["p_under"]))
    g = g.assign(over=(g["actual_strikeouts"] > g["line"]).astype(float))
    for system in SYSTEMS:
        sub = g[g["system_id"] == system].sort_values(["stated", "game_id", "pitcher_id"])
        deciles = np.array_split(np.arange(len(sub)), 10)
        rows = got[got["system_id"] == system].sort_values("decile")
        assert list(rows["decile"]) == list(range(1, 11))
        assert rows["starts"].sum() == len(sub)
        for (_, row), idx in zip(rows.iterrows(), deciles, strict=True):
            part = sub.iloc[idx]
            assert row["starts"] == len(part)
            assert row["mean_stated"] == pytest.approx(part["stated"].mean())
            assert row["observed_over_rate"] == pytest.approx(part["over"].mean())
            assert row["gap"] == pytest.approx(part["over"].mean() - part["stated"].mean())
        assert rows["mean_stated"].is_monotonic_increasing


def test_roi_by_recommendation(wh, preds) -> None:
    got = run_query(wh, "roi_by_recommendation").frame
    assert len(got) == 2 * len(SYSTEMS)
    for row in got.itertuples():
        sub = preds[
            (preds["system_id"] == row.system_id) & (preds["recommendation"] == row.recommendation)
        ]
        assert_rows(row._asdict(), bet_summary(sub), f"{row.system_id} {row.recommendation}")


def test_daily_volume(wh, preds) -> None:
    got = run_query(wh, "daily_volume").frame
    window = preds[
        (preds["game_date"] > ts(LAST) - pd.Timedelta(days=14)) & (preds["game_date"] <= ts(LAST))
    ]
    assert list(pd.to_datetime(got["game_date"])) == sorted(window["game_date"].unique())
    for row in got.itertuples():
        day = window[window["game_date"] == ts(row.game_date)]
        ens = day[day["system_id"] == "ensemble_v1"]
        expected = {
            "pitchers": len(day[KEY].drop_duplicates()),
            "predictions": len(day),
            "systems": day["system_id"].nunique(),
            "with_line": int(day["line"].notna().sum()),
            "primary_overs": int((ens["recommendation"] == "OVER").sum()),
            "primary_unders": int((ens["recommendation"] == "UNDER").sum()),
            "graded": int(day["actual_strikeouts"].notna().sum()),
        }
        assert_rows(row._asdict(), expected, str(row.game_date))


def test_prediction_freshness(wh, preds) -> None:
    day = dt.date(2022, 8, 1)
    got = run_query(wh, "prediction_freshness", day).frame
    window = preds[
        (preds["game_date"] > ts(day) - pd.Timedelta(days=14)) & (preds["game_date"] <= ts(day))
    ]
    assert len(got) == window["game_date"].nunique() > 10
    for row in got.itertuples():
        sub = window[window["game_date"] == ts(row.game_date)]
        created = pd.to_datetime(sub["created_at"])
        assert ts(row.first_created_at) == created.min()
        assert ts(row.last_created_at) == created.max()
        assert row.days_to_first_prediction == (created.min().normalize() - ts(row.game_date)).days
        # the backtest ran years after these games: every row is a replay, none pre-game
        assert row.made_after_game_day == int((created.dt.normalize() > ts(row.game_date)).sum())
        assert row.made_after_game_day == len(sub) == row.predictions
        assert row.graded == int(sub["actual_strikeouts"].notna().sum())


def test_model_versions_in_use(wh, preds) -> None:
    got = run_query(wh, "model_versions_in_use").frame
    grouped = preds.groupby(["system_id", "model_version"])
    assert len(got) == grouped.ngroups == 9  # three retraining blocks x three systems
    for row in got.itertuples():
        sub = grouped.get_group((row.system_id, row.model_version))
        expected = {
            "predictions": len(sub),
            "predictions_on_date": int((sub["game_date"] == ts(LAST)).sum()),
            "graded": int(sub["actual_strikeouts"].notna().sum()),
            "mae": (sub["predicted_strikeouts"] - sub["actual_strikeouts"]).abs().mean(),
        }
        assert_rows(row._asdict(), expected, row.model_version)
        assert ts(row.first_date) == sub["game_date"].min()
        assert ts(row.last_date) == sub["game_date"].max()
        assert pd.isna(row.is_active)  # backtest models are not registered
    in_use = got[got["predictions_on_date"] > 0]
    assert sorted(in_use["system_id"]) == SYSTEMS


def test_ungraded_predictions(wh, wh_copy, preds) -> None:
    assert run_query(wh, "ungraded_predictions").frame.empty
    day = dt.date(2022, 8, 20)
    wh_copy.execute(
        "UPDATE pitcher_strikeout_predictions SET actual_strikeouts = NULL, result = NULL, "
        "graded_at = NULL WHERE game_date = $d",
        {"d": day},
    )
    one = preds[(preds["game_date"] == ts(day))].iloc[0]
    wh_copy.delete_where(
        "pitcher_games",
        "game_id = $g AND pitcher_id = $p",
        {"g": one["game_id"], "p": int(one["pitcher_id"])},
    )
    got = run_query(wh_copy, "ungraded_predictions").frame
    on_day = preds[preds["game_date"] == ts(day)].groupby("system_id").size()
    assert sorted(got["system_id"]) == SYSTEMS
    assert (pd.to_datetime(got["game_date"]) == ts(day)).all()
    assert list(got["ungraded"]) == [on_day[s] for s in got["system_id"]]
    assert list(got["gradeable_now"]) == [on_day[s] - 1 for s in got["system_id"]]
    assert run_query(wh_copy, "ungraded_predictions", dt.date(2022, 8, 19)).frame.empty
    grade_dates(wh_copy, day)
    left = run_query(wh_copy, "ungraded_predictions").frame
    assert list(left["ungraded"]) == [1, 1, 1] and list(left["gradeable_now"]) == [0, 0, 0]


def test_ensemble_vs_members(wh, preds) -> None:
    got = run_query(wh, "ensemble_vs_members").frame.set_index("system_id")
    g = graded(preds)
    g["error"] = g["predicted_strikeouts"] - g["actual_strikeouts"]
    common = g.groupby(KEY)["system_id"].transform("nunique") == g["system_id"].nunique()
    g = g[common]
    g["abs_error"] = g["error"].abs()
    g["closest"] = g["abs_error"] == g.groupby(KEY)["abs_error"].transform("min")
    ensemble_mae = g.loc[g["system_id"] == "ensemble_v1", "error"].abs().mean()
    assert sorted(got.index) == SYSTEMS
    assert list(got["mae"]) == sorted(got["mae"])
    for system in SYSTEMS:
        sub = g[g["system_id"] == system]
        summary = bet_summary(sub)
        expected = {
            "starts": len(sub),
            "mae": sub["error"].abs().mean(),
            "bias": sub["error"].mean(),
            "mae_minus_primary": sub["error"].abs().mean() - ensemble_mae,
            "closest_share": sub["closest"].mean(),
            "bets": summary["bets"],
            "win_rate": summary["win_rate"],
            "roi": summary["roi"],
        }
        assert_rows(got.loc[system], expected, system)
    assert got.loc["ensemble_v1", "mae_minus_primary"] == 0


def test_edge_buckets(wh, preds) -> None:
    got = run_query(wh, "edge_buckets").frame
    g = graded(preds)
    g = g[g["line"].notna() & g["edge"].notna()].copy()
    g["bucket"] = pd.cut(
        g["edge"].abs(),
        [0, 0.5, 0.75, 1.0, 1.5, np.inf],
        right=False,
        labels=["<0.5", "0.5-0.75", "0.75-1.0", "1.0-1.5", "1.5+"],
    ).astype(str)
    g["hit"] = ((g["edge"] > 0) & (g["actual_strikeouts"] > g["line"])) | (
        (g["edge"] < 0) & (g["actual_strikeouts"] < g["line"])
    )
    assert got["starts"].sum() == len(g)
    for row in got.itertuples():
        sub = g[(g["system_id"] == row.system_id) & (g["bucket"] == row.edge_bucket)]
        summary = bet_summary(sub)
        expected = {
            "starts": len(sub),
            "edge_side_hit_rate": sub["hit"].mean(),
            "bets": summary["bets"],
            "win_rate": summary["win_rate"],
            "roi": summary["roi"],
        }
        assert_rows(row._asdict(), expected, f"{row.system_id} {row.edge_bucket}")
    # min_edge 0.5: no verdict inside half a strikeout; the bets there are the bet rule's
    # (the best rung of the ladder by its EV, often an alternate line), each on its row
    small = got[got["edge_bucket"] == "<0.5"]
    inside = wh.query(
        "SELECT verdict, decision, result FROM pitcher_strikeout_predictions "
        "WHERE ABS(edge) < 0.5 AND line IS NOT NULL AND actual_strikeouts IS NOT NULL"
    )
    assert (inside["verdict"] == "PASS").all()
    graded_bets = inside[inside["result"].isin(["win", "loss", "push"])]
    # each a side of the bet rule: a bet, or a lean while its rule is not live (the edge gate)
    assert graded_bets["decision"].isin(["bet", "lean"]).all()
    assert int(small["bets"].sum()) == len(graded_bets)


def test_error_drift_query_is_the_recent_weeks(wh) -> None:
    got = run_query(wh, "error_drift").frame
    view = run_view(wh, "system_error_drift")
    weeks = sorted(pd.to_datetime(got["week_start"]).unique())
    assert len(weeks) == 8 and ts(weeks[-1]) <= ts(LAST) < ts(weeks[-1]) + pd.Timedelta(days=7)
    want = view[pd.to_datetime(view["week_start"]).isin(weeks)]
    assert len(got) == len(want) == 8 * len(SYSTEMS)
    merged = got.merge(want, on=["system_id", "week_start"], suffixes=("", "_v"))
    assert np.allclose(merged["rolling_mae"], merged["rolling_mae_v"])
    assert (merged["drift"] == merged["drift_v"]).all()


# --------------------------------------------------------------------------------------------
# kcast query and kcast status
# --------------------------------------------------------------------------------------------


@pytest.fixture
def copy_path(backtest_warehouse: Path, tmp_path: Path) -> Path:
    target = tmp_path / "cli.duckdb"
    shutil.copy(backtest_warehouse, target)
    return target


def test_cli_query_list() -> None:
    out = runner.invoke(app, ["query", "--list"])
    assert out.exit_code == 0, out.output
    for name in QUERIES:
        assert name in out.output
    listed = json.loads(runner.invoke(app, ["query", "--list", "--json"]).output)
    assert {q["name"] for q in listed} == QUERIES | set(view_sql())  # the views read too


def test_cli_query_json_and_table(copy_path: Path, preds, wh) -> None:
    out = runner.invoke(
        app, ["query", "picks_today", "--date", "2022-08-01", "--json", "-w", str(copy_path)]
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["query"] == "picks_today"
    assert payload["params"] == {"date": "2022-08-01", "system": PRIMARY}
    want = ensemble_picks(preds, ts("2022-08-01"), wh)
    assert [r["pitcher_id"] for r in payload["rows"]] == list(want["pitcher_id"])
    assert {r["game_date"] for r in payload["rows"]} == {"2022-08-01"}
    assert [r["confidence"] for r in payload["rows"]] == list(want["confidence"])
    out = runner.invoke(app, ["query", "performance_by_system", "-w", str(copy_path)])
    assert out.exit_code == 0, out.output
    assert "last_7_days" in out.output and "ensemble_v1" in out.output


def test_cli_query_refuses_unknown_names_and_bad_dates(copy_path: Path) -> None:
    out = runner.invoke(app, ["query", "no_such_query", "-w", str(copy_path)])
    assert isinstance(out.exception, InputError)
    assert "unknown query 'no_such_query'" in str(out.exception)
    out = runner.invoke(app, ["query", "picks_today", "--date", "2022-13-01", "-w", str(copy_path)])
    assert isinstance(out.exception, InputError) and "not a calendar date" in str(out.exception)


def test_status_passes_on_a_healthy_day(copy_path: Path, preds, wh) -> None:
    out = runner.invoke(app, ["status", "--date", "2022-08-01", "-w", str(copy_path)])
    assert out.exit_code == 0, out.output
    assert "all checks passed" in out.output
    out = runner.invoke(app, ["status", "--date", "2022-08-01", "--json", "-w", str(copy_path)])
    payload = json.loads(out.output)
    assert payload["ok"] is True
    assert [c["name"] for c in payload["checks"]] == [
        "games",
        "predictions",
        "coverage",
        "agreement",
        "picks",
        "grading",
    ]
    assert {c["status"] for c in payload["checks"]} == {"pass"}
    want = ensemble_picks(preds, ts("2022-08-01"), wh)
    assert [p["pitcher_id"] for p in payload["picks"]] == list(want["pitcher_id"])


def test_status_fails_when_a_system_is_missing(copy_path: Path) -> None:
    wh = open_warehouse(str(copy_path))
    wh.delete_where(
        "pitcher_strikeout_predictions", "game_date = '2022-08-01' AND system_id = 'v1_6_rolling'"
    )
    report = daily_status(wh, dt.date(2022, 8, 1), ["v1_baseline", "v1_6_rolling", "ensemble_v1"])
    wh.close()
    checks = {c.name: c for c in report.checks}
    assert checks["coverage"].status == "fail"
    assert "v1_6_rolling missing for" in checks["coverage"].detail
    assert not report.ok
    out = runner.invoke(app, ["status", "--date", "2022-08-01", "-w", str(copy_path)])
    assert out.exit_code == 1
    assert "FAIL" in out.output and "a check failed" in out.output


def test_status_fails_when_the_systems_disagree(copy_path: Path) -> None:
    wh = open_warehouse(str(copy_path))
    wh.execute(
        "UPDATE pitcher_strikeout_predictions SET predicted_strikeouts = predicted_strikeouts + 2.5"
        " WHERE game_date = '2022-08-01' AND system_id = 'v1_baseline'"
    )
    agree = run_query(wh, "agreement_today", dt.date(2022, 8, 1)).frame.iloc[0]
    report = daily_status(wh, dt.date(2022, 8, 1), ["v1_baseline", "v1_6_rolling", "ensemble_v1"])
    wh.close()
    assert agree["weak_share"] > 0.3 and agree["strong_or_moderate_share"] <= 0.70
    checks = {c.name: c.status for c in report.checks}
    assert checks == {
        "games": "pass",
        "predictions": "pass",
        "coverage": "pass",
        "agreement": "fail",
        "picks": "pass",
        "grading": "pass",
    }
    out = runner.invoke(app, ["status", "--date", "2022-08-01", "-w", str(copy_path)])
    assert out.exit_code == 1


def test_status_fails_for_a_day_without_predictions(copy_path: Path) -> None:
    out = runner.invoke(app, ["status", "--date", "2022-11-01", "--json", "-w", str(copy_path)])
    assert out.exit_code == 1
    payload = json.loads(out.output)
    assert payload["ok"] is False
    checks = {c["name"]: c["status"] for c in payload["checks"]}
    assert list(checks)[:2] == ["games", "predictions"]
    assert checks["predictions"] == "fail" and checks["games"] == "pass"


def test_status_warns_when_predictions_can_be_graded(copy_path: Path) -> None:
    wh = open_warehouse(str(copy_path))
    wh.execute(
        "UPDATE pitcher_strikeout_predictions SET actual_strikeouts = NULL, result = NULL "
        "WHERE game_date = '2022-07-30'"
    )
    report = daily_status(wh, dt.date(2022, 8, 1), ["v1_baseline", "v1_6_rolling", "ensemble_v1"])
    wh.close()
    grading = next(c for c in report.checks if c.name == "grading")
    assert grading.status == "warn" and "2022-07-30" in grading.detail
    assert report.ok  # a warning does not fail the day


def test_the_primary_system_is_a_setting(wh, preds, copy_path: Path, monkeypatch) -> None:
    """MLB_PRIMARY_SYSTEM picks whose bets picks_today, high_confidence_picks and kcast status
    show; no SQL names a system."""
    from kcast.config import get_settings

    monkeypatch.setenv("MLB_PRIMARY_SYSTEM", "v1_6_rolling")
    get_settings.cache_clear()
    day = ts("2022-08-01")
    result = run_query(wh, "picks_today", day.date())
    assert result.params == {"date": day.date(), "system": "v1_6_rolling"}
    want = ensemble_picks(preds, day, wh, "v1_6_rolling")
    assert list(result.frame["pitcher_id"]) == list(want["pitcher_id"]) and len(want)
    volume = run_query(wh, "daily_volume", day.date()).frame.set_index("game_date")
    assert volume.loc[day, "primary_overs"] == int((want["recommendation"] == "OVER").sum())
    # an explicit system wins over the setting
    assert run_query(wh, "picks_today", day.date(), PRIMARY).params["system"] == PRIMARY
    out = runner.invoke(app, ["status", "--date", "2022-08-01", "--json", "-w", str(copy_path)])
    payload = json.loads(out.output)
    assert [p["pitcher_id"] for p in payload["picks"]] == list(want["pitcher_id"])
    picks = next(c for c in payload["checks"] if c["name"] == "picks")
    assert "v1_6_rolling predictions" in picks["detail"]
    # a primary system that is not active: a warning, not a failure
    report = daily_status(wh, day.date(), ["v1_baseline", "ensemble_v1"], primary="v1_6_rolling")
    picks = next(c for c in report.checks if c.name == "picks")
    assert picks.status == "warn" and "MLB_PRIMARY_SYSTEM" in picks.detail


def test_sql_files_take_policy_and_the_primary_system_as_parameters() -> None:
    """No view or query hard-codes an agreement band, the agreement share or a system."""
    import re
    from importlib import resources

    folder = resources.files("kcast") / "sql"
    for kind in ("views", "queries"):
        for entry in (folder / kind).iterdir():
            text = entry.read_text(encoding="utf-8")
            assert "ensemble_v1" not in text, entry.name
            assert not re.search(r"spread\s*[<>]=?\s*\d", text), entry.name
            assert "0.70" not in text and "0.80" not in text, entry.name
    rendered = view_sql()["system_agreement"]
    assert f"spread <= {policy.AGREE_WITHIN!r}" in rendered
    assert f"spread <= {policy.DISAGREE_OVER!r}" in rendered
