"""The BigQuery engine, end to end, against a real BigQuery emulator on loopback.

The same pipeline runs on DuckDB and on the emulator (bqemulator, started by these tests): two
teams' real 2022 Retrosheet event files, the real 2022 DraftKings/FanDuel strikeout lines,
training before 2022-07-01, predictions for ten days of July (the last day with one system
switched off, and left ungraded), grading. Both engines must agree on every stored prediction,
and every monitoring view and saved query must give the same rows on the same data in both.

Select with ``-m bigquery`` (or leave out with ``-m "not bigquery"``). The emulator is installed
by ``scripts/setup-bqemulator.sh`` (PyPI only, once); starting it needs no network.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kcast.cli import app
from kcast.config import get_settings
from kcast.context import DecisionContext
from kcast.data.ingest import IngestReport
from kcast.data.lines import ingest_lines
from kcast.data.retrosheet import ingest_retrosheet, resolve_archives
from kcast.errors import WarehouseError
from kcast.forecast import WarehouseSink, forecaster_for
from kcast.grading import grade_dates
from kcast.monitoring import get_query
from kcast.training import TrainedModel, train_systems, training_frame
from kcast.warehouse import Warehouse, open_warehouse
from kcast.warehouse.base import utc_now
from kcast.warehouse.bigquery import BigQueryWarehouse
from kcast.warehouse.dialect import translate
from kcast.warehouse.migrations import LEGACY_PREDICTIONS, LEGACY_TABLE
from kcast.warehouse.schema import PREDICTIONS, TABLES
from tests.bigquery_emulator import BigQueryEmulator
from tests.conftest import EVENTS, PROPS, REGISTER_FILE

pytestmark = pytest.mark.bigquery

SEASON = 2022
TEAM_FILES = ("2022ATL.EVN", "2022SDN.EVN")
LINES = PROPS / "steveliang00_dk_fd_k_props_2022.csv.gz"
TRAIN_THROUGH = dt.date(2022, 7, 1)
# July 4 to 13: every date has a game at Atlanta or San Diego (there are none on July 1 to 3)
DATES = [dt.date(2022, 7, 4) + dt.timedelta(days=d) for d in range(10)]
PARTIAL_SYSTEMS = "v1_baseline,ensemble_v1"  # the last date: v1_6_rolling switched off
ENGINES = ("duckdb", "bigquery")
SQL = resources.files("kcast") / "sql"


def _names(folder: str) -> list[str]:
    return sorted(
        p.name.removesuffix(".sql") for p in (SQL / folder).iterdir() if p.name.endswith(".sql")
    )


VIEWS = _names("views")
QUERIES = _names("queries")
# Queries that may rightly return no row on this slice (checked on DuckDB, then compared).
# prediction_changes: no prediction is replaced by another on these days (its rows are checked in
# tests/integration/test_prediction_snapshots.py); here it is checked to run and agree, empty
MAY_BE_EMPTY = {"high_confidence_picks", "prediction_changes"}
# the bet ledger's views and queries: this run's systems (pooled with the market) take no bet on
# these few days, so on BigQuery they are checked to run and to agree with DuckDB, empty; with
# rows they are checked on the real 2025 lines in tests/integration/test_bets.py
NO_BETS_HERE = {"bet_ledger", "bet_performance", "bets_by_cut", "bets_by_system"}


# --------------------------------------------------------------------------------------------
# The emulator, the real slice, and one pipeline per engine
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    log = tmp_path_factory.mktemp("bqemu") / "emulator.log"
    with BigQueryEmulator(log_path=log) as emu:
        print(f"\nbqemulator ready in {emu.startup_seconds:.1f} s at {emu.endpoint}")
        yield emu


def unpack(folder: Path, files: tuple[str, ...]) -> Path:
    """Real 2022 event files (and every 2022 roster) from the season archive, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(EVENTS / f"{SEASON}eve.zip") as zf:
        for name in zf.namelist():
            if name in files or name.endswith(f"{SEASON}.ROS"):
                (folder / name).write_bytes(zf.read(name))
    return folder


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Atlanta's and San Diego's 2022 home games (real Retrosheet event files)."""
    return unpack(tmp_path_factory.mktemp("events2022") / "events", TEAM_FILES)


@contextmanager
def kcast_env(emulator: BigQueryEmulator, root: Path, **extra: str) -> Iterator[None]:
    """Settings for a pipeline: the emulator's endpoint, the shared register, a model folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KCAST_BIGQUERY_ENDPOINT", emulator.endpoint)
        mp.setenv("KCAST_REGISTER", str(REGISTER_FILE))
        mp.setenv("KCAST_MODEL_DIR", str(root / "models"))
        mp.setenv("KCAST_CACHE_DIR", str(root / "cache"))
        for var in ("MLB_ACTIVE_SYSTEMS", "MLB_V1_MODEL_PATH", "MLB_V1_6_MODEL_PATH"):
            mp.delenv(var, raising=False)
        for key, value in extra.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()


def ingest_events(wh: Warehouse, folder: Path, register) -> IngestReport:
    archives = resolve_archives(folder, (SEASON,), Path("unused"), "http://unused")
    return ingest_retrosheet(wh, archives, register, seasons=(SEASON,), workers=1)


def cli_migrate(url: str) -> str:
    result = CliRunner().invoke(app, ["warehouse", "migrate", "--warehouse", url])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


@dataclasses.dataclass
class Run:
    """What the pipeline did on one engine."""

    engine: str
    url: str
    wh: Warehouse
    counts: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    reports: dict[str, Any] = dataclasses.field(default_factory=dict)
    trained: list[TrainedModel] = dataclasses.field(default_factory=list)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    migrate_output: list[str] = dataclasses.field(default_factory=list)


class Runs:
    """Each engine's pipeline, run once per module on first use."""

    def __init__(self, emulator: BigQueryEmulator, season: Path, register, root: Path) -> None:
        self.emulator, self.season, self.register, self.root = emulator, season, register, root
        self.done: dict[str, Run] = {}

    def get(self, engine: str) -> Run:
        if engine not in self.done:
            self.done[engine] = self._run(engine)
        return self.done[engine]

    def _run(self, engine: str) -> Run:
        root = self.root / engine
        # Models fit on 156 starts are rarely confident: bet on any positive expected value, so
        # that the views and queries have picks and graded bets to report on.
        with kcast_env(
            self.emulator, root, MLB_MIN_CONFIDENCE="0", MLB_MIN_EDGE="0", MLB_MARKET_BLEND="off"
        ):
            if engine == "bigquery":
                url = f"bigquery://{self.emulator.project}/e2e"  # no dataset yet: migrate makes it
                with pytest.raises(WarehouseError, match="kcast warehouse migrate"):
                    open_warehouse(url)
                outputs = [cli_migrate(url), cli_migrate(url)]
            else:
                url = str(root / "e2e.duckdb")
                outputs = []
            run = Run(engine, url, open_warehouse(url), migrate_output=outputs)
            self._pipeline(run)
        return run

    def _pipeline(self, run: Run) -> None:
        wh = run.wh

        def step(name: str, fn):
            t0 = time.perf_counter()
            result = fn()
            run.seconds[name] = time.perf_counter() - t0
            run.counts[name] = wh.counts()
            run.reports[name] = result
            return result

        step("ingest", lambda: ingest_events(wh, self.season, self.register))
        step("ingest again", lambda: ingest_events(wh, self.season, self.register))
        step("lines", lambda: ingest_lines(wh, LINES, self.register))
        step("lines again", lambda: ingest_lines(wh, LINES, self.register))
        run.trained = step(
            "train", lambda: train_systems(wh, TRAIN_THROUGH, self.root / run.engine / "models")
        )

        def predict_day(date, settings) -> None:  # noqa: ANN001 - what `kcast predict` runs
            context = DecisionContext.from_settings(settings)
            forecaster_for(wh, settings, context, WarehouseSink(wh, "predict")).day(date)

        def predict() -> None:
            for date in DATES[:-1]:
                predict_day(date, get_settings())
            partial = get_settings().model_copy(update={"active_systems": PARTIAL_SYSTEMS})
            predict_day(DATES[-1], partial)

        step("predict", predict)
        step("grade", lambda: grade_dates(wh, DATES[0], DATES[-2]))
        step("views", lambda: {v: wh.query(f"SELECT * FROM {v}") for v in VIEWS})


@pytest.fixture(scope="module")
def runs(emulator, season, register, tmp_path_factory) -> Iterator[Runs]:
    cache = Runs(emulator, season, register, tmp_path_factory.mktemp("runs"))
    yield cache
    for run in cache.done.values():
        print(
            f"\n{run.engine} pipeline seconds: "
            + ", ".join(f"{k} {v:.1f}" for k, v in run.seconds.items())
        )
        run.wh.close()


def without_log(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k != "ingest_log"}


# --------------------------------------------------------------------------------------------
# Comparing frames from the two engines
# --------------------------------------------------------------------------------------------


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float, times as datetime64, the rest as text; rows in a canonical order."""
    out = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = pd.to_datetime(col).astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[name] = pd.to_numeric(col.astype("Float64")).astype("float64")
        else:
            out[name] = (
                col.astype(object)
                .where(col.notna(), None)
                .map(lambda v: v if v is None else str(v))
            )
    key = {
        name: (out[name].round(6) if out[name].dtype == "float64" else out[name])
        for name in out.columns
    }
    order = pd.DataFrame(key).sort_values(list(out.columns), na_position="last").index
    return out.loc[order].reset_index(drop=True)


def assert_same_rows(duck: pd.DataFrame, bq: pd.DataFrame, what: str) -> None:
    assert list(bq.columns) == list(duck.columns), what
    assert len(bq) == len(duck), f"{what}: {len(duck)} rows on DuckDB, {len(bq)} on BigQuery"
    pd.testing.assert_frame_equal(
        canonical(duck), canonical(bq), check_dtype=False, rtol=1e-9, atol=1e-9, obj=what
    )


# --------------------------------------------------------------------------------------------
# End to end on each engine
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_end_to_end(engine: str, runs: Runs) -> None:
    run = runs.get(engine)
    wh, counts = run.wh, run.counts
    if engine == "bigquery":
        assert "1: foundation tables" in run.migrate_output[0]
        assert "up to date" in run.migrate_output[1]  # migrating twice changes nothing
        assert all(wh.table_exists(v) for v in VIEWS)
    # ingest: both teams' 81 home games, one starter per side
    assert counts["ingest"]["games"] == 162
    assert counts["ingest"]["team_batting_games"] == 324
    starts = wh.query("SELECT COUNT(*) AS n FROM pitcher_games WHERE is_start")["n"].iloc[0]
    assert starts == 324
    check = wh.query(
        """SELECT b.game_id, b.team, b.strikeouts AS bat_k, SUM(p.strikeouts) AS pit_k
           FROM team_batting_games b JOIN pitcher_games p
             ON p.game_id = b.game_id AND p.opponent = b.team
           GROUP BY b.game_id, b.team, b.strikeouts"""
    )
    assert len(check) == 324 and (check["bat_k"] == check["pit_k"]).all()
    # re-running either ingest leaves every table's row count unchanged
    assert without_log(counts["ingest again"]) == without_log(counts["ingest"])
    assert counts["ingest again"]["ingest_log"] == counts["ingest"]["ingest_log"] + 1
    assert run.reports["ingest again"].inserted == 0 and run.reports["ingest again"].updated > 0
    assert counts["lines"]["prop_lines"] == 1413
    assert without_log(counts["lines again"]) == without_log(counts["lines"])
    # training registered every trainable system, active
    trained = {"v1_baseline", "v1_6_rolling", "eb_rate", "v2_matchup"}
    assert {t.system_id for t in run.trained} == trained
    registry = wh.query("SELECT system_id, version, is_active FROM model_registry")
    assert len(registry) == len(trained) and registry["is_active"].all()
    # predictions: every starter of every date, by every active system
    starters = wh.query(
        "SELECT game_date, COUNT(*) AS n FROM pitcher_games WHERE is_start "
        "AND game_date BETWEEN $a AND $b GROUP BY game_date",
        {"a": DATES[0], "b": DATES[-1]},
    ).set_index("game_date")["n"]
    stored = wh.query(
        "SELECT game_date, system_id, COUNT(*) AS n, COUNT(actual_strikeouts) AS graded, "
        "COUNT(result) AS results FROM pitcher_strikeout_predictions "
        "GROUP BY game_date, system_id"
    )
    assert set(stored["game_date"]) == set(starters.index) and len(starters) == len(DATES)
    for row in stored.itertuples():
        assert row.n == starters[row.game_date]
        last = row.game_date == pd.Timestamp(DATES[-1])
        assert row.graded == row.results == (0 if last else row.n)
    last_day = stored[stored["game_date"] == pd.Timestamp(DATES[-1])]
    assert set(last_day["system_id"]) == set(PARTIAL_SYSTEMS.split(","))
    # the ensemble made graded bets
    bets = wh.query(
        "SELECT result, COUNT(*) AS n FROM pitcher_strikeout_predictions "
        "WHERE system_id = 'ensemble_v1' AND recommendation IN ('OVER', 'UNDER') GROUP BY result"
    )
    assert bets["n"].sum() >= 3 and set(bets["result"].dropna()) <= {"win", "loss", "push"}
    # every monitoring view answers, with rows
    views = run.reports["views"]
    assert all(len(views[v]) > 0 for v in VIEWS if v not in NO_BETS_HERE), {
        v: len(views[v]) for v in VIEWS
    }


def test_engines_agree(runs: Runs) -> None:
    """The emulator's pipeline read the same history and stored the same predictions."""
    duck, bq = runs.get("duckdb"), runs.get("bigquery")
    pd.testing.assert_frame_equal(
        training_frame(duck.wh, TRAIN_THROUGH), training_frame(bq.wh, TRAIN_THROUGH)
    )
    assert without_log(duck.counts["grade"]) == without_log(bq.counts["grade"])
    key = ["game_id", "pitcher_id", "system_id"]
    drop = ["created_at", "graded_at", "pmf"]
    a = duck.wh.query(f"SELECT * FROM {PREDICTIONS.name}").sort_values(key)
    b = bq.wh.query(f"SELECT * FROM {PREDICTIONS.name}").sort_values(key)
    assert_same_rows(a.drop(columns=drop), b.drop(columns=drop), "predictions")
    pmf_a = np.array([json.loads(p) for p in a["pmf"]])
    pmf_b = np.array([json.loads(p) for p in b["pmf"]])
    assert np.allclose(pmf_a, pmf_b, atol=1e-9)
    versions = "SELECT system_id, version, trained_through, training_rows FROM model_registry"
    assert_same_rows(duck.wh.query(versions), bq.wh.query(versions), "model_registry")


# --------------------------------------------------------------------------------------------
# Every view and saved query: the same rows from the same data
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SameData:
    duck: Warehouse
    bq: Warehouse
    dates: tuple[dt.date, ...]  # for queries taking $date


@pytest.fixture(scope="module")
def same_data(runs: Runs, emulator: BigQueryEmulator, tmp_path_factory) -> SameData:
    """The DuckDB pipeline's tables, copied row for row into a fresh emulator dataset."""
    duck = runs.get("duckdb").wh
    url = emulator.new_dataset("same_data")
    with kcast_env(emulator, tmp_path_factory.mktemp("same")):
        bq = BigQueryWarehouse.from_url(url)
        cli_migrate(url)
        for name in TABLES:
            if name != "schema_migrations":
                bq.upsert(name, duck.query(f"SELECT * FROM {name}"))
    # $date: the last date (one system off, ungraded) and the graded date with the most picks
    busiest = duck.query(
        "SELECT game_date, COUNT(*) AS n FROM todays_picks WHERE result IS NOT NULL "
        "GROUP BY game_date ORDER BY n DESC, game_date LIMIT 1"
    )["game_date"]
    assert len(busiest), "the ensemble made no graded pick"
    return SameData(duck, bq, (DATES[-1], pd.Timestamp(busiest.iloc[0]).date()))


@pytest.mark.parametrize("view", VIEWS)
def test_view_same_rows(view: str, same_data: SameData) -> None:
    duck, bq = same_data.duck, same_data.bq
    rows = duck.query(f"SELECT * FROM {view}")
    assert len(rows) > 0 or view in NO_BETS_HERE
    assert_same_rows(rows, bq.query(f"SELECT * FROM {view}"), view)


@pytest.mark.parametrize("name", QUERIES)
def test_query_same_rows(name: str, same_data: SameData) -> None:
    duck, bq = same_data.duck, same_data.bq
    query = get_query(name)  # placeholders rendered, as `kcast query` runs it
    sql = query.sql
    system = {"system": get_settings().primary_system} if "system" in query.params else {}
    dates = [{"date": d} for d in same_data.dates] if "date" in query.params else [{}]
    params_list = [{**d, **system} for d in dates]
    found = 0
    for params in params_list:
        rows = duck.query(sql, params)
        found += len(rows)
        assert_same_rows(rows, bq.query(sql, params), f"{name} {params}")
    assert found > 0 or name in MAY_BE_EMPTY | NO_BETS_HERE, f"{name} returned no row on this data"


# --------------------------------------------------------------------------------------------
# All or nothing: failing ingests, transactions that read their own writes
# --------------------------------------------------------------------------------------------


@pytest.fixture
def one_team(request, emulator, register, tmp_path) -> Iterator[tuple[Warehouse, Path]]:
    """A warehouse (DuckDB or a fresh emulator dataset) holding ATL's home games; SDN's file."""
    engine = request.param
    with kcast_env(emulator, tmp_path):
        if engine == "bigquery":
            url = emulator.new_dataset(f"one_team_{request.node.name.split('[')[0][-20:]}")
            cli_migrate(url)
        else:
            url = str(tmp_path / "one_team.duckdb")
        wh = open_warehouse(url)
        ingest_events(wh, unpack(tmp_path / "atl", ("2022ATL.EVN",)), register)
        yield wh, unpack(tmp_path / "sdn", ("2022SDN.EVN",))
        wh.close()


@pytest.mark.parametrize("one_team", ENGINES, indirect=True)
def test_failing_ingest_leaves_tables(one_team, register, monkeypatch) -> None:
    """An error after some of an ingest's upserts are done leaves every table as it was."""
    wh, sdn = one_team
    before = wh.counts()
    upsert = wh.upsert
    calls = []

    def failing(table: str, frame: pd.DataFrame):
        calls.append(table)
        if len(calls) == 3:
            raise WarehouseError(f"injected failure writing {table}")
        return upsert(table, frame)

    monkeypatch.setattr(wh, "upsert", failing)
    with pytest.raises(WarehouseError, match="injected failure"):
        ingest_events(wh, sdn, register)
    monkeypatch.undo()
    after = wh.counts()
    assert after.pop("ingest_log") == before.pop("ingest_log") + 1  # the failure is logged
    assert after == before
    assert wh.query("SELECT COUNT(*) AS n FROM games WHERE home_team = 'SDN'")["n"].iloc[0] == 0
    # and the same ingest, not failing, lands whole
    report = ingest_events(wh, sdn, register)
    assert report.inserted > 0 and wh.count("games") == 162


@pytest.mark.parametrize("one_team", ["bigquery"], indirect=True)
def test_failing_commit_rolls_back_every_write(one_team, register, monkeypatch) -> None:
    """A statement failing inside BigQuery's commit script undoes the script's earlier writes."""
    wh, sdn = one_team
    assert isinstance(wh, BigQueryWarehouse)
    before = wh.counts()
    commit = wh._commit

    def broken_commit(tx):
        # the last MERGE's staging table disappears: that statement fails, after the others ran
        stage = next(name for name in reversed(tx.drop_after) if name.startswith("_kcast_stage_"))
        wh._drop(stage)
        return commit(tx)

    monkeypatch.setattr(wh, "_commit", broken_commit)
    with pytest.raises(WarehouseError, match="BigQuery statement failed"):
        ingest_events(wh, sdn, register)
    monkeypatch.undo()
    after = wh.counts()
    assert after.pop("ingest_log") == before.pop("ingest_log") + 1
    assert after == before
    leftovers = [t.table_id for t in wh._client.list_tables(wh.dataset_id)]
    assert not [t for t in leftovers if t.startswith("_kcast_")], leftovers


@pytest.mark.parametrize("one_team", ENGINES, indirect=True)
def test_transaction_reads_its_own_writes(one_team, runs: Runs) -> None:
    """Inside a transaction reads see its writes; an exception undoes them all; a commit keeps."""
    wh, _ = one_team
    sdn_games = runs.get("duckdb").wh.query("SELECT * FROM games WHERE home_team = 'SDN'")
    assert len(sdn_games) == 81
    count = "SELECT COUNT(*) AS n FROM games WHERE home_team = $t"

    def n(team: str) -> int:
        return int(wh.query(count, {"t": team})["n"].iloc[0])

    class Stop(Exception):
        pass

    with pytest.raises(Stop), wh.transaction():
        assert wh.upsert("games", sdn_games).inserted == 81
        assert n("SDN") == 81
        with wh.transaction():  # nested: part of the outer one
            assert wh.delete_where("games", "game_id = $g", {"g": sdn_games["game_id"].iloc[0]})
        assert n("SDN") == 80
        assert wh.upsert("games", sdn_games).inserted == 1  # counted against pending writes
        raise Stop
    assert n("SDN") == 0 and n("ATL") == 81
    with wh.transaction():
        wh.upsert("games", sdn_games)
        wh.execute("UPDATE games SET sky = $s WHERE game_id = $g", {"s": "dome", "g": "x"})
    assert n("SDN") == 81
    if isinstance(wh, BigQueryWarehouse):
        tables = [t.table_id for t in wh._client.list_tables(wh.dataset_id)]
        assert not [t for t in tables if t.startswith("_kcast_")], tables


# --------------------------------------------------------------------------------------------
# Migrations on BigQuery: the legacy single-system table, a missing column
# --------------------------------------------------------------------------------------------


def test_legacy_table_migrates_on_bigquery(runs: Runs, emulator, tmp_path) -> None:
    """Migration 3 on BigQuery: the old table is kept, every row copied in as v1_baseline."""
    duck = runs.get("duckdb").wh
    rows = duck.query(
        f"SELECT * FROM {PREDICTIONS.name} WHERE system_id = 'v1_baseline' "
        "ORDER BY game_date, game_id, pitcher_id"
    )
    rows["pitcher_lookup"] = rows["pitcher_name"].str.lower().str.replace(r"[^a-z]", "", regex=True)
    legacy = rows[list(LEGACY_PREDICTIONS.column_names)].copy()
    legacy["game_date"] = legacy["game_date"].dt.date
    # the original left some values out; the migration writes defaults there
    legacy.loc[[0, 1], "model_version"] = None
    legacy.loc[2, "created_at"] = pd.NaT
    legacy.loc[3, ["confidence", "recommendation"]] = None
    url = emulator.new_dataset("legacy")
    with kcast_env(emulator, tmp_path):
        wh = BigQueryWarehouse.from_url(url)
        wh.create_table(LEGACY_PREDICTIONS)
        wh._load(LEGACY_PREDICTIONS, legacy, PREDICTIONS.name)
        output = cli_migrate(url)
        assert "3: legacy single-system predictions" in output
        wh = open_warehouse(url)
    kept = wh.query(f"SELECT * FROM {LEGACY_TABLE}")
    assert len(kept) == len(legacy) > 20
    copied = wh.query(f"SELECT * FROM {PREDICTIONS.name} ORDER BY game_date, game_id, pitcher_id")
    assert len(copied) == len(legacy) and set(copied["system_id"]) == {"v1_baseline"}
    assert list(copied["model_version"].iloc[:2]) == ["legacy", "legacy"]
    assert copied["created_at"].iloc[2] == copied["game_date"].iloc[2]  # midnight of the game
    assert (copied["confidence"].iloc[3], copied["recommendation"].iloc[3]) == (0.0, "PASS")
    assert copied["created_at"].notna().all() and copied["recommendation"].notna().all()
    original = rows.drop(columns=["pitcher_lookup"]).reset_index(drop=True)
    for column in ("game_id", "pitcher_id", "predicted_strikeouts", "line", "actual_strikeouts"):
        pd.testing.assert_series_equal(
            copied[column].reset_index(drop=True), original[column], check_dtype=False
        )
    assert set(wh.table_columns(PREDICTIONS.name)) == set(PREDICTIONS.column_names)
    assert "up to date" in _migrate_again(emulator, tmp_path, url)


def test_model_locations_migrate_on_bigquery(emulator, tmp_path) -> None:
    """Migration 5 on BigQuery: model paths under KCAST_MODEL_DIR become relative to it; a path
    outside it and a gs:// location stay as they were."""
    from kcast.warehouse.migrations import migrate

    url = emulator.new_dataset("models")
    models = tmp_path / "models"  # KCAST_MODEL_DIR in kcast_env
    paths = {
        "a": str(models / "v1_baseline" / "a.json"),
        "b": str(tmp_path / "elsewhere" / "b.json"),
        "c": "gs://kcast-models/prod/v1_baseline/c.json",
    }
    with kcast_env(emulator, tmp_path):
        cli_migrate(url)
        wh = open_warehouse(url)
        rows = [
            {
                "system_id": "v1_baseline",
                "version": version,
                "path": path,
                "trained_through": dt.date(2022, 6, 1),
                "is_active": version == "a",
                "created_at": utc_now(),
            }
            for version, path in paths.items()
        ]
        wh.upsert("model_registry", pd.DataFrame(rows))
        wh.execute("DELETE FROM schema_migrations WHERE version = 5")
        assert any(step.startswith("5: ") for step in migrate(wh))
    got = wh.query("SELECT version, path FROM model_registry ORDER BY version")
    assert dict(zip(got["version"], got["path"], strict=True)) == {
        "a": "v1_baseline/a.json",
        "b": paths["b"],
        "c": paths["c"],
    }


def _migrate_again(emulator, tmp_path: Path, url: str) -> str:
    with kcast_env(emulator, tmp_path):
        return cli_migrate(url)


def test_migrate_adds_a_missing_column(runs: Runs, emulator, tmp_path) -> None:
    """A dataset whose predictions table lacks a declared column gets it; rows are kept."""
    duck = runs.get("duckdb").wh
    old = dataclasses.replace(
        PREDICTIONS, columns=tuple(c for c in PREDICTIONS.columns if c.name != "graded_at")
    )
    rows = duck.query(f"SELECT {', '.join(old.column_names)} FROM {PREDICTIONS.name}")
    rows["game_date"] = rows["game_date"].dt.date
    url = emulator.new_dataset("old_columns")
    with kcast_env(emulator, tmp_path):
        wh = BigQueryWarehouse.from_url(url)
        wh.create_table(old)
        wh._load(old, rows, PREDICTIONS.name)
        output = cli_migrate(url)
        # the CLI wraps its lines at the terminal's width
        assert f"added {PREDICTIONS.name}.graded_at" in " ".join(output.split())
        wh = open_warehouse(url)
    assert wh.table_columns(PREDICTIONS.name)[-1] == "graded_at"
    assert wh.count(PREDICTIONS.name) == len(rows)
    first = rows.iloc[[0]][["game_id", "pitcher_id", "system_id"]].copy()
    current = wh.query(
        f"SELECT * FROM {PREDICTIONS.name} WHERE game_id = $g AND pitcher_id = $p "
        "AND system_id = $s",
        {
            "g": first["game_id"].iloc[0],
            "p": int(first["pitcher_id"].iloc[0]),
            "s": first["system_id"].iloc[0],
        },
    )
    current["graded_at"] = pd.Timestamp("2022-07-02 12:00:00")
    assert wh.upsert(PREDICTIONS.name, current).updated == 1
    stored = wh.query(f"SELECT COUNT(graded_at) AS n FROM {PREDICTIONS.name}")["n"].iloc[0]
    assert stored == 1 and wh.count(PREDICTIONS.name) == len(rows)
    # schema changes given as DuckDB SQL work too (on the emulator: by rebuilding the table)
    wh.execute(f"CREATE TABLE notes AS SELECT game_id, pitcher_id FROM {PREDICTIONS.name}")
    wh.execute("ALTER TABLE notes ADD COLUMN note VARCHAR")
    wh.execute("ALTER TABLE notes ADD COLUMN IF NOT EXISTS note VARCHAR")
    wh.execute("ALTER TABLE notes RENAME TO game_notes")
    assert not wh.table_exists("notes")
    assert wh.table_columns("game_notes") == ["game_id", "pitcher_id", "note"]
    wh.execute("UPDATE game_notes SET note = $n WHERE pitcher_id = $p", {"n": "x", "p": 1})
    notes = wh.query("SELECT COUNT(*) AS n, COUNT(note) AS noted FROM game_notes")
    assert (notes["n"].iloc[0], notes["noted"].iloc[0]) == (len(rows), 0)


# --------------------------------------------------------------------------------------------
# The dialect: where sqlglot alone is wrong, the fixed translation gives DuckDB's values
# --------------------------------------------------------------------------------------------

EXPRESSIONS = {
    "isodow": "isodow(game_date)",
    "dayofweek": "dayofweek(game_date)",
    "week_monday": "CAST(game_date - INTERVAL (ISODOW(game_date) - 1) DAY AS DATE)",
    "date_trunc_week": "CAST(date_trunc('week', game_date) AS DATE)",
    "date_trunc_week_ts": "date_trunc('week', CAST(game_date AS TIMESTAMP) + INTERVAL 30 HOUR)",
    "date_trunc_month": "CAST(date_trunc('month', game_date) AS DATE)",
    "date_part_year": "date_part('year', game_date)",
    "date_diff": "date_diff('day', DATE '2022-01-01', game_date)",
    "minus_interval": "CAST(game_date - INTERVAL 13 DAY AS DATE)",
    "make_date": "MAKE_DATE(CAST(EXTRACT(YEAR FROM game_date) AS BIGINT), 1, 1)",
    "epoch": "epoch(CAST(game_date AS TIMESTAMP))",
    "epoch_ms": "epoch_ms(CAST(game_date AS TIMESTAMP))",
    "ts_cast": "CAST(game_date AS TIMESTAMP)",
    "concat": "game_id || ':' || CAST(pitcher_id AS VARCHAR)",
    "int_division": "strikeouts / NULLIF(batters_faced, 0)",
    "round": "ROUND(strikeouts / 3.0, 3)",
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_translated_functions_give_duckdb_values(name: str, same_data: SameData) -> None:
    duck, bq = same_data.duck, same_data.bq
    sql = (
        f"SELECT game_id, pitcher_id, {EXPRESSIONS[name]} AS v FROM pitcher_games "
        "WHERE is_start AND game_date BETWEEN $a AND $b AND pitcher_id IN (SELECT UNNEST($ids))"
    )
    ids = [
        int(x) for x in duck.query("SELECT DISTINCT pitcher_id FROM pitcher_games")["pitcher_id"]
    ]
    params = {"a": dt.date(2022, 4, 1), "b": dt.date(2022, 10, 5), "ids": ids}
    rows = duck.query(sql, params)
    assert len(rows) == 324
    assert_same_rows(rows, bq.query(sql, params), name)


def test_translation_text() -> None:
    """The fixes on sqlglot's output, as BigQuery SQL text."""
    ds = "proj-1.kc"

    def bq(sql: str, **kw) -> str:
        return translate(sql, ds, **kw).sql

    out = bq("WITH t AS (SELECT * FROM games) SELECT * FROM t JOIN players p ON TRUE")
    assert "FROM `proj-1`.kc.games" in out and "JOIN `proj-1`.kc.players" in out
    assert "FROM t " in out  # CTEs are not qualified
    assert bq("SELECT 1 FROM t WHERE x IN (SELECT UNNEST($ids))").endswith("IN UNNEST(@ids)")
    assert "CAST(x AS TIMESTAMP)" in bq("SELECT CAST(x AS TIMESTAMP) FROM t")
    assert "INTERVAL 13 DAY" in bq("SELECT d - INTERVAL 13 DAY FROM t")
    monday = "DATE_SUB(game_date, INTERVAL (MOD(EXTRACT(DAYOFWEEK FROM game_date) + 5, 7)) DAY)"
    assert monday in bq("SELECT date_trunc('week', game_date) FROM t")
    assert "CURRENT_TIMESTAMP()" in bq("SELECT now()")
    assert "UNIX_MILLIS(ts)" in bq("SELECT epoch_ms(ts) FROM t")
    assert bq("ALTER TABLE a RENAME TO b") == "ALTER TABLE `proj-1`.kc.a RENAME TO b"
    inlined = bq(
        "SELECT * FROM t WHERE a = $s AND d = $d AND x IN (SELECT UNNEST($ids))",
        literals={"s": "O'Neil\\", "d": dt.date(2022, 7, 1), "ids": [1, 2]},
    )
    assert "a = 'O\\'Neil\\\\'" in inlined
    assert "CAST('2022-07-01' AS DATE)" in inlined and "IN UNNEST([1, 2])" in inlined
    t = translate("UPDATE model_registry SET is_active = FALSE WHERE system_id = $s", ds)
    assert (t.kind, t.target, t.params) == ("dml", "model_registry", ["s"])
    with pytest.raises(WarehouseError, match="median"):
        translate("SELECT median(x) FROM t", ds)
    with pytest.raises(WarehouseError, match="named"):
        translate("SELECT * FROM t WHERE a = ?", ds)


def test_url_and_open_errors() -> None:
    from kcast.errors import ConfigError
    from kcast.warehouse.bigquery import parse_url

    assert parse_url("bigquery://my-proj/kcast") == ("my-proj", "kcast")
    for bad in ("bigquery://my-proj", "bigquery:///kcast", "bigquery://p/d/x"):
        with pytest.raises(ConfigError, match="bigquery://PROJECT/DATASET"):
            parse_url(bad)


@pytest.mark.parametrize("one_team", ENGINES, indirect=True)
def test_a_days_ledger_rerun_leaves_the_bets_it_takes(one_team) -> None:
    """Re-deciding a day deletes the bets it no longer takes and keeps graded ones, on both
    engines (``bets.write_day_ledger``: a delete and a merge in one transaction)."""
    import numpy as np

    from kcast.bets import LEDGER_COLUMNS, write_day_ledger
    from kcast.systems.base import SystemOutput

    wh, _ = one_team
    starts = wh.query(
        "SELECT game_id, pitcher_id, game_date FROM pitcher_games WHERE is_start "
        "ORDER BY game_date, game_id, pitcher_id LIMIT 4"
    )
    day, other = starts["game_date"].iloc[0], starts["game_date"].iloc[2]
    assert (starts["game_date"] == day).sum() == 2 and other != day

    def bets(rows: pd.DataFrame) -> pd.DataFrame:
        out = rows.assign(
            system_id="v1_baseline", strategy="ev", side="OVER", line=4.5, book="DraftKings",
            odds=-110, decided_at=pd.Timestamp("2022-04-08 12:00"), created_at=pd.Timestamp.now(),
        )  # fmt: skip
        return out.reindex(columns=[*LEDGER_COLUMNS, "created_at"])

    def run(rows: pd.DataFrame, date) -> int:  # noqa: ANN001
        frame = starts[starts["game_date"] == date]
        output = SystemOutput("v1_baseline", frame, np.zeros((len(frame), 21)), "v")
        return write_day_ledger(wh, bets(rows), date, {"v1_baseline": output})

    def ledger(date) -> list[int]:  # noqa: ANN001
        got = wh.query("SELECT pitcher_id FROM bets WHERE game_date = $d", {"d": date})
        return sorted(got["pitcher_id"].astype(int))

    first, second = (int(p) for p in starts["pitcher_id"].iloc[:2])
    assert run(starts.iloc[:2], day) == 2 and run(starts.iloc[2:3], other) == 1
    assert run(starts.iloc[:1], day) == 1 and ledger(day) == [first]  # the second one dropped
    wh.execute("UPDATE bets SET result = 'win' WHERE pitcher_id = $p", {"p": first})
    assert run(starts.iloc[1:2], day) == 1  # a new bet is written; the graded one stays
    assert run(starts.iloc[1:2], day) == 1 and ledger(day) == sorted([first, second])
    assert run(starts.iloc[:0], day) == 0 and ledger(day) == [first]
    graded = wh.query("SELECT result FROM bets WHERE pitcher_id = $p", {"p": first})
    assert list(graded["result"]) == ["win"] and ledger(other) == [int(starts["pitcher_id"][2])]
