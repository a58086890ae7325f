"""The one pipeline: `kcast predict`, the worker's /predict-batch and the backtest store the same
numbers for a day; and the defects found while unifying them, each pinned by a test.

Real 2018-2019 Retrosheet games; the systems trained on games before DAY; a few sportsbook lines
for DAY written into prop_lines as a line feed would store them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kcast.config import Settings
from kcast.errors import NoSystemAnsweredError, WarehouseError
from kcast.systems.base import PREDICTION_COLUMNS
from kcast.warehouse import open_warehouse
from tests.conftest import PROPS, STATCAST
from tests.statsapi_server import Reply, StatsApiServer

DAY = dt.date(2019, 7, 13)
ACTIVE = "v1_baseline,v1_6_rolling,ensemble_v1"
COMPARED = [c for c in PREDICTION_COLUMNS if c not in ("pmf",)] + ["pmf"]


def lines_for(starters: pd.DataFrame) -> pd.DataFrame:
    """Close and open prices at 5.5 from two books for the first four starters of the day."""
    rows = []
    for i, pid in enumerate(starters["pitcher_id"].head(4)):
        for book, over, under in (("DraftKings", -120, 100), ("FanDuel", -115 - i, -105 + i)):
            for snapshot, shift in (("close", 0), ("open", 10)):
                rows.append(
                    {
                        "source": "test",
                        "game_date": DAY,
                        "pitcher_name": f"pitcher {pid}",
                        "pitcher_id": int(pid),
                        "book": book,
                        "line": 5.5,
                        "snapshot": snapshot,
                        "over_odds": over + shift,
                        "under_odds": under - shift,
                        "is_main": True,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def day_warehouse(history_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2018-2019 games, the systems trained on games before DAY, lines for DAY."""
    from kcast.pipeline import day_starters
    from kcast.training import train_systems

    root = tmp_path_factory.mktemp("pipeline")
    path = root / "day.duckdb"
    shutil.copy(history_warehouse, path)
    wh = open_warehouse(str(path))
    try:
        train_systems(wh, DAY, root / "models", ["v1_baseline", "v1_6_rolling"])
        with wh.transaction():
            wh.upsert("prop_lines", lines_for(day_starters(wh, DAY)))
    finally:
        wh.close()
    return path


def copy_of(path: Path, tmp_path: Path, name: str) -> str:
    target = tmp_path / f"{name}.duckdb"
    shutil.copy(path, target)
    return str(target)


def stored(url: str, day: dt.date = DAY) -> pd.DataFrame:
    wh = open_warehouse(url)
    try:
        rows = wh.query(
            "SELECT * FROM pitcher_strikeout_predictions WHERE game_date = $d", {"d": day}
        )
    finally:
        wh.close()
    return rows.sort_values(["system_id", "game_id", "pitcher_id"]).reset_index(drop=True)


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, warehouse=url, active_systems=ACTIVE)


def predict_day(wh, day: dt.date, settings: Settings):  # noqa: ANN001, ANN201
    """What `kcast predict` runs: the forecaster over the warehouse, stored."""
    from kcast.context import DecisionContext
    from kcast.forecast import WarehouseSink, forecaster_for

    context = DecisionContext.from_settings(settings)
    return forecaster_for(wh, settings, context, WarehouseSink(wh, "predict")).day(day)


def test_predict_worker_and_backtest_store_the_same_numbers(
    day_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kcast.backtest import run_backtest, write_backtest
    from kcast.cli import app
    from kcast.config import get_settings
    from kcast.service import BackgroundServer, create_app

    # 1. the command line
    cli_url = copy_of(day_warehouse, tmp_path, "cli")
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", ACTIVE)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["predict", "--date", str(DAY), "--warehouse", cli_url])
    assert result.exit_code == 0, result.output
    # 2. the worker
    worker_url = copy_of(day_warehouse, tmp_path, "worker")
    with BackgroundServer(create_app(settings_for(worker_url))) as server:
        body = httpx.post(f"{server.url}/predict-batch", json={"date": str(DAY)}, timeout=120)
    assert body.status_code == 200, body.text
    assert body.json()["total_rows_written"] == 3 * 32
    # 3. the backtest, refitting the boosted systems on the same games before DAY
    bt_url = copy_of(day_warehouse, tmp_path, "backtest")
    wh = open_warehouse(bt_url)
    try:
        bt = run_backtest(wh, DAY, DAY, ACTIVE.split(","), settings=settings_for(bt_url))
        write_backtest(wh, bt, settings_for(bt_url))
    finally:
        wh.close()

    cli, worker, backtest = stored(cli_url), stored(worker_url), stored(bt_url)
    assert len(cli) == 3 * 32
    assert cli["line"].notna().sum() == 3 * 4  # four starters have lines
    for other in (worker, backtest):
        pd.testing.assert_frame_equal(
            cli[COMPARED], other[COMPARED], check_dtype=False, check_exact=True
        )
    # and the decisions used real prices: the best line is DraftKings' 5.5 (book preference)
    priced = cli[cli["line"].notna()]
    assert set(priced["book"]) == {"DraftKings"} and priced["over_odds"].notna().all()


def test_repredicting_a_graded_day_keeps_its_grades(day_warehouse: Path, tmp_path: Path) -> None:
    """Defect: re-predicting a day that was graded set its grades back to NULL."""
    from kcast.grading import grade_dates

    url = copy_of(day_warehouse, tmp_path, "regrade")
    settings = settings_for(url)
    wh = open_warehouse(url)
    try:
        predict_day(wh, DAY, settings)
        grade_dates(wh, DAY)
        graded = stored(url)
        assert graded["actual_strikeouts"].notna().all() and graded["result"].notna().all()
        # a stricter threshold changes the recommendations; the grades must follow, not vanish
        strict = settings.model_copy(update={"min_edge": 99.0})
        predict_day(wh, DAY, strict)
    finally:
        wh.close()
    again = stored(url)
    assert again["actual_strikeouts"].tolist() == graded["actual_strikeouts"].tolist()
    assert again["graded_at"].notna().all()
    assert (again["recommendation"] == "PASS").all()
    with_line = again["line"].notna()
    assert set(again.loc[with_line, "result"]) == {"pass"}
    assert set(again.loc[~with_line, "result"]) == {"no_line"}


def test_a_replayed_day_learns_nothing_from_its_own_results(
    day_warehouse: Path, tmp_path: Path
) -> None:
    """Defect: `kcast predict --date <past day>` fitted the market blend on grades before today,
    so a replayed day learned from its own (and later) results."""
    from kcast.grading import grade_dates
    from kcast.history import WarehouseHistory
    from kcast.pipeline import load_systems, systems_for_day

    url = copy_of(day_warehouse, tmp_path, "lookahead")
    settings = settings_for(url)
    wh = open_warehouse(url)
    try:
        predict_day(wh, DAY, settings)
        grade_dates(wh, DAY)  # DAY's own results are now graded in the warehouse
        systems, _ = load_systems(wh, settings)
        after = systems_for_day(systems, WarehouseHistory(wh, DAY + dt.timedelta(days=1)))
        assert after["ensemble_v1"].market_blend_.n == 4  # the four priced starters
        predict_day(wh, DAY, settings)  # replay DAY: only what was known before it
    finally:
        wh.close()
    rows = stored(url)
    priced = rows[rows["line"].notna()]
    # no graded lines before DAY: the stated P(over) is the prior, the market's own price
    stated = priced["p_over"] / (priced["p_over"] + priced["p_under"])
    assert np.allclose(stated, priced["market_p_over"], atol=1e-9)


def test_a_line_never_borrows_another_lines_prices(day_warehouse: Path, tmp_path: Path) -> None:
    """Defect: asked for 4.5 without odds, the library attached DraftKings' 5.5 prices."""
    from kcast.pipeline import day_starters, starter_features
    from kcast.prices import attach_prices

    url = copy_of(day_warehouse, tmp_path, "prices")
    wh = open_warehouse(url)
    try:
        starters = day_starters(wh, DAY).head(1)
        pid = int(starters["pitcher_id"].iloc[0])
        features = starter_features(wh, starters)
        asks = [
            ({"pitcher_id": pid, "line": 4.5}, (None, None, "request")),  # no such stored line
            ({"pitcher_id": pid, "line": 5.5}, (-120.0, 100.0, "DraftKings")),  # stored: its price
            (
                {"pitcher_id": pid, "line": 4.5, "over_odds": 130, "under_odds": -160},
                (130.0, -160.0, "request"),
            ),
            (None, (-120.0, 100.0, "DraftKings")),  # no request: the best stored line
        ]
        for ask, (over, under, book) in asks:
            row = attach_prices(wh, features, [ask]).iloc[0]
            assert row["book"] == book, ask
            assert (pd.isna(row["over_odds"]) and over is None) or row["over_odds"] == over
            assert (pd.isna(row["under_odds"]) and under is None) or row["under_odds"] == under
    finally:
        wh.close()


def test_request_prices_are_never_stored_over_a_books(day_warehouse: Path, tmp_path: Path) -> None:
    """A line given in a request is kept as its own source (book ``request``, whatever the
    request calls it) and never replaces a stored prediction at a sportsbook's line."""
    from kcast.context import DecisionContext
    from kcast.forecast import Forecaster, WarehouseReader, WarehouseSink
    from kcast.pipeline import day_starters, load_systems, requested_starters

    url = copy_of(day_warehouse, tmp_path, "request")
    settings = settings_for(url)
    wh = open_warehouse(url)
    try:
        predict_day(wh, DAY, settings)
        before = stored(url)
        starters = day_starters(wh, DAY)
        priced = before[before["book"] == "DraftKings"]["pitcher_id"].iloc[0]
        unpriced = before[before["line"].isna()]["pitcher_id"].iloc[0]
        asks = [
            {
                "pitcher_id": int(pid),
                "game_date": DAY,
                "line": 0.5,
                "over_odds": 100000,
                "under_odds": -100000,
                "book": "DraftKings",
            }
            for pid in (priced, unpriced)
        ]
        systems, _ = load_systems(wh, settings)
        forecaster = Forecaster(
            WarehouseReader(wh),
            systems,
            DecisionContext.from_settings(settings),
            sink=WarehouseSink(wh, "predict"),
        )
        result = forecaster.forecast(requested_starters(wh, asks), asks)
        assert set(result.frame()["book"]) == {"request"}
    finally:
        wh.close()
    after = stored(url)
    keep = after["pitcher_id"] == priced
    pd.testing.assert_frame_equal(
        after[keep][COMPARED].reset_index(drop=True),
        before[before["pitcher_id"] == priced][COMPARED].reset_index(drop=True),
    )
    fresh = after[after["pitcher_id"] == unpriced]
    assert set(fresh["book"]) == {"request"} and set(fresh["line"]) == {0.5}
    assert len(after) == len(before) == 3 * len(starters)


# --------------------------------------------------------------------------------------------
# 2025-07-20: every caller of the forecaster, decided at the open and at the close
# --------------------------------------------------------------------------------------------

DAY25 = dt.date(2025, 7, 20)
LINES_FROM = dt.date(2025, 7, 6)  # two weeks of real lines: the books' weights learn from them
STARTS_2425 = STATCAST / "joey11600_starts_2024_2025.csv.gz"
LINES_2025 = PROPS / "strikeoutcenter_k_props_2025.csv.gz"
SCHEDULE = f"/api/v1/schedule?sportId=1&date={DAY25}"
# what a ledger row decides (its grade, source and write time aside)
BET_COLUMNS = [
    "system_id", "game_id", "pitcher_id", "game_date", "strategy", "side", "line",
    "main_line", "book", "odds", "decided_at", "decision_time", "stake", "p_win", "ev",
    "model_p_over", "stated_p_over", "fair_p_decision", "reason",
]  # fmt: skip


def schedule_of(starts: pd.DataFrame) -> bytes:
    """The Stats API's schedule of DAY25 in its real shape: each game with both clubs and their
    probable pitchers, every game still to be played. The probables are the pitchers who really
    started (from the Statcast start log), as the Stats API had them that morning."""
    from kcast.teams import TEAMS, canonical_team

    def club(code: str) -> dict:
        _, name, mlbam = TEAMS[canonical_team(code)]
        return {"id": mlbam, "name": name, "link": f"/api/v1/teams/{mlbam}"}

    games = []
    for pk, game in starts.groupby("game_pk"):
        sides = {}
        for row in game.itertuples():
            side = "home" if row.is_home else "away"
            sides[side] = {
                "team": club(row.pitcher_team),
                "probablePitcher": {"id": int(row.pitcher), "fullName": str(row.pitcher)},
            }
        games.append(
            {
                "gamePk": int(pk),
                "gameType": "R",
                "season": "2025",
                "gameDate": f"{DAY25}T23:05:00Z",
                "officialDate": str(DAY25),
                "status": {"abstractGameState": "Preview", "codedGameState": "S",
                           "detailedState": "Scheduled", "statusCode": "S"},
                "teams": sides,
                "doubleHeader": "N",
                "gameNumber": 1,
            }
        )  # fmt: skip
    dates = [{"date": str(DAY25), "totalGames": len(games), "games": games}]
    return json.dumps({"copyright": "MLB Advanced Media", "dates": dates}).encode()


@pytest.fixture(scope="module")
def day25(tmp_path_factory: pytest.TempPathFactory, register) -> dict:
    """Two warehouses of the real 2024-2025 starts and the real lines of 6-20 July 2025, with
    v1_baseline and v1_6_rolling trained on games before DAY25 (the same model files):

    * ``before``: no result of DAY25 is loaded (the start log is read up to the day before);
      the day's slate is stored as the Stats API serves it (``kcast ingest statsapi``, from a
      loopback server answering with ``schedule_of`` the day's real starters as probables),
      then the lines of the days, DAY25's included. This is what ``kcast daily`` finds on the
      morning of the day: games scheduled, with probables, and their lines.
    * ``after``: the same, then the start log read again up to DAY25: the day's results.
    """
    from kcast.data.lines import ingest_lines
    from kcast.data.starts import ingest_starts
    from kcast.data.statsapi import StatsApiClient, ingest_statsapi
    from kcast.training import train_systems

    root = tmp_path_factory.mktemp("day25")
    starts = pd.read_csv(STARTS_2425)
    days = pd.to_datetime(starts["game_date"]).dt.date
    earlier, upto = root / "starts_before.csv", root / "starts_upto.csv"
    starts[days < DAY25].to_csv(earlier, index=False)
    starts[days <= DAY25].to_csv(upto, index=False)
    lines = pd.read_csv(LINES_2025)
    line_days = pd.to_datetime(lines["game_date"]).dt.date
    part = root / "lines.csv"
    lines[(line_days >= LINES_FROM) & (line_days <= DAY25)].to_csv(part, index=False)
    schedule = schedule_of(starts[days == DAY25])
    before, after = root / "before.duckdb", root / "after.duckdb"
    wh = open_warehouse(str(before))
    try:
        ingest_starts(wh, earlier, register=register)
        with StatsApiServer() as server:
            server.route(SCHEDULE, Reply(body=schedule))
            ingest_statsapi(wh, DAY25, client=StatsApiClient(server.url, 5.0, 0))
        ingest_lines(wh, part, register)
        train_systems(wh, DAY25, root / "models", ["v1_baseline", "v1_6_rolling"])
    finally:
        wh.close()
    shutil.copy(before, after)
    wh = open_warehouse(str(after))
    try:
        ingest_starts(wh, upto, register=register)
    finally:
        wh.close()
    return {"before": before, "after": after, "schedule": schedule}


def ledger(url: str, day: dt.date = DAY25) -> pd.DataFrame:
    wh = open_warehouse(url)
    try:
        rows = wh.query("SELECT * FROM bets WHERE game_date = $d AND strategy = 'ev'", {"d": day})
    finally:
        wh.close()
    return rows.sort_values(["system_id", "game_id", "pitcher_id"]).reset_index(drop=True)


@pytest.mark.parametrize("at", ["open", "close"])
def test_every_caller_stores_the_same_rows_and_bets(
    day25: dict, at: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kcast predict``, the worker's /predict-batch, the daily job's predict step, the
    Python API and ``kcast backtest --write`` over the day store identical prediction rows
    (every column a decision makes) and identical bets, decided at the open and at the
    close."""
    import kcast
    from kcast.cli import app
    from kcast.config import get_settings
    from kcast.daily import run_daily
    from kcast.data.statsapi import StatsApiClient
    from kcast.service import BackgroundServer, create_app

    # the systems' own probabilities (not pooled with the market): they disagree with the
    # books often enough that the day has bets, leans and passes
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", ACTIVE)
    monkeypatch.setenv("MLB_MARKET_BLEND", "off")
    get_settings.cache_clear()
    urls = {
        name: copy_of(day25["after"], tmp_path, name) for name in ("cli", "worker", "api", "bt")
    }
    # 1. kcast predict
    done = CliRunner().invoke(app, ["predict", "--date", str(DAY25), "--at", at, "-w", urls["cli"]])
    assert done.exit_code == 0, done.output
    # 2. the worker's batch, asked for the decision time
    worker = settings_for(urls["worker"]).model_copy(update={"market_blend": "off"})
    with BackgroundServer(create_app(worker)) as server:
        body = httpx.post(
            f"{server.url}/predict-batch",
            json={"date": str(DAY25), "decision_time": at},
            timeout=300,
        )
    assert body.status_code == 200, body.text
    assert body.json()["decision_time"] == at and body.json()["total_rows_written"] == 3 * 30
    # 3. the daily job on the morning's warehouse: its schedule step reads the slate again
    # from the Stats API; its predict step decides at KCAST_DECISION_TIME
    urls["daily"] = copy_of(day25["before"], tmp_path, "daily")
    daily_settings = settings_for(urls["daily"]).model_copy(
        update={"decision_time": at, "market_blend": "off"}
    )
    wh = open_warehouse(urls["daily"])
    try:
        with StatsApiServer() as stats:
            stats.route(SCHEDULE, Reply(body=day25["schedule"]))
            client = StatsApiClient(stats.url, 5.0, 0)
            report = run_daily(wh, DAY25, daily_settings, lookback=0, statsapi_client=client)
    finally:
        wh.close()
    assert report.step("predict").status == "ok", report.as_dict()
    # 4. the Python API
    kcast.predict(DAY25, warehouse=urls["api"], write=True, at=at)
    # 5. the backtest over the day, written
    args = ["backtest", "--start", str(DAY25), "--end", str(DAY25), "--write", "--at", at]
    args += [a for s in ACTIVE.split(",") for a in ("--system", s)] + ["-w", urls["bt"]]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output

    rows = {name: stored(url, DAY25) for name, url in urls.items()}
    bets = {name: ledger(url) for name, url in urls.items()}
    cli = rows["cli"]
    assert len(cli) == 3 * 30 and cli["line"].notna().sum() >= 3 * 25
    assert {"bet", "pass"} <= set(cli["decision"]) and len(bets["cli"]) > 0
    for name in ("worker", "daily", "api", "bt"):
        pd.testing.assert_frame_equal(
            cli[COMPARED], rows[name][COMPARED], check_dtype=False, check_exact=True, obj=name
        )
        pd.testing.assert_frame_equal(
            bets["cli"][BET_COLUMNS], bets[name][BET_COLUMNS], check_dtype=False, obj=name
        )
    # one vocabulary: a row with a bet never says PASS, and its ledger row is that bet
    with_bet = cli[cli["decision"] == "bet"]
    assert (with_bet["recommendation"] != "PASS").all()
    keyed = bets["cli"].set_index(["system_id", "game_id", "pitcher_id"])
    for r in with_bet.to_dict("records"):
        bet = keyed.loc[(r["system_id"], r["game_id"], r["pitcher_id"])]
        assert (bet["side"], bet["line"], bet["book"]) == (
            r["recommendation"],
            r["decision_line"],
            r["decision_book"],
        )
        assert bet["stake"] == pytest.approx(r["stake"]) and bet["reason"] == r["decision_reason"]
    assert len(with_bet) == len(bets["cli"])


# --------------------------------------------------------------------------------------------
# A day's predictions and bets: stored together or not at all; nothing to show is an error
# --------------------------------------------------------------------------------------------

PAUSE_IN_LEDGER = """
import os, pathlib, sys, time
from kcast.warehouse.duckdb import DuckDBWarehouse
real = DuckDBWarehouse.delete_where
def paused(self, table, where, params=None):
    if table == "bets":  # the predictions are written: stop here until killed
        pathlib.Path(os.environ["PAUSED_FLAG"]).touch()
        time.sleep(120)
    return real(self, table, where, params)
DuckDBWarehouse.delete_where = paused
from kcast.cli import main
sys.argv = ["kcast", *sys.argv[1:]]
main()
"""


def count(url: str, table: str) -> int:
    wh = open_warehouse(url, migrate=False)
    try:
        return int(wh.query(f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])  # noqa: S608
    finally:
        wh.close()


def test_a_predict_killed_between_its_predictions_and_bets_leaves_neither(
    day_warehouse: Path, tmp_path: Path
) -> None:
    """Defect (issue 24, item 5): `kcast predict` stored its predictions and its bets in two
    transactions, so a SIGKILL between them left the predictions without their bets. A real
    `kcast predict` is killed with SIGKILL while it writes the ledger: nothing of the day is
    stored, and a rerun stores both."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REGISTER_FILE, REPO

    url = copy_of(day_warehouse, tmp_path, "killed")
    flag = tmp_path / "paused"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCAST_", "MLB_"))}
    env.update(
        PYTHONPATH=str(REPO / "src") + os.pathsep + str(REPO),
        KCAST_WAREHOUSE=url,
        KCAST_REGISTER=str(REGISTER_FILE),
        KCAST_CACHE_DIR=str(tmp_path / "cache"),
        MLB_ACTIVE_SYSTEMS=ACTIVE,
        PAUSED_FLAG=str(flag),
    )
    command = [sys.executable, "-c", PAUSE_IN_LEDGER, "predict", "--date", str(DAY)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not flag.exists():
            assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "kcast predict never reached its ledger write"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert count(url, "pitcher_strikeout_predictions") == 0
    assert count(url, "bets") == 0
    env.pop("PAUSED_FLAG")
    rerun = subprocess.run(
        [sys.executable, "-c", "from kcast.cli import main; main()", "predict", "--date", str(DAY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert count(url, "pitcher_strikeout_predictions") == 3 * 32


def test_a_full_disk_while_writing_the_bets_keeps_nothing_and_says_so(
    day_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect (issue 24, item 5): on a full disk between the two writes, the predictions were
    kept and the error did not say so. Now the day is one transaction: nothing is kept, and the
    message says exactly that."""
    import errno

    from kcast.warehouse.duckdb import DuckDBWarehouse

    url = copy_of(day_warehouse, tmp_path, "full")
    real = DuckDBWarehouse.delete_where

    def full(self, table, where, params=None):  # noqa: ANN001, ANN202
        if table == "bets":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, table, where, params)

    monkeypatch.setattr(DuckDBWarehouse, "delete_where", full)
    wh = open_warehouse(url)
    try:
        with pytest.raises(
            WarehouseError, match=r"nothing of this forecast was stored .*No space left on device"
        ):
            predict_day(wh, DAY, settings_for(url))
    finally:
        wh.close()
    assert count(url, "pitcher_strikeout_predictions") == 0
    assert count(url, "bets") == 0


def test_predict_exits_1_when_no_system_could_load(day_warehouse: Path, tmp_path: Path) -> None:
    """Defect (issue 24, item 4): with every model file corrupt, `kcast predict` printed the
    errors and "0 bets of 32 starters" and exited 0. It exits 1, naming each system's error."""
    from kcast.cli import app

    url = copy_of(day_warehouse, tmp_path, "corrupt")
    broken = tmp_path / "broken.json"
    broken.write_text("{not a model")
    env = {
        "MLB_ACTIVE_SYSTEMS": ACTIVE,
        "MLB_V1_MODEL_PATH": str(broken),
        "MLB_V1_6_MODEL_PATH": str(broken),
    }
    result = CliRunner().invoke(app, ["predict", "--date", str(DAY), "-w", url], env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, NoSystemAnsweredError)
    message = str(result.exception)
    assert message.startswith(f"no prediction system answered for {DAY}: ")
    for system_id in ("v1_baseline", "v1_6_rolling"):
        assert f"{system_id}: ModelError: model {broken}" in message
    assert "ensemble_v1: " in message
    assert count(url, "pitcher_strikeout_predictions") == 0
