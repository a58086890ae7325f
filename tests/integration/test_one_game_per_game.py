"""One game per real game: the 2025 event file and the Statcast start log, loaded in both orders.

A season followed live is stored from the Stats API and the start log, and Retrosheet's release
arrives in December; the other order is a warehouse rebuilt from scratch. Both must store the
2,430 games of 2025 once each, with one starter per side: before, the start log first stored
2,511 (every Athletics home game twice, as ``OAK2025...`` and Retrosheet's ``ATH2025...``, and
the doubleheaders the log numbers by gamePk under both numbers). A duplicate that does get in is
an error ``kcast status`` and the daily job show.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kcast.cli import app
from kcast.daily import run_daily
from kcast.data.retrosheet import ingest_retrosheet
from kcast.data.starts import ingest_starts
from kcast.data.statsapi import StatsApiClient
from kcast.monitoring import daily_status
from kcast.warehouse import open_warehouse
from kcast.warehouse.migrations import rename_game_ids
from kcast.warehouse.sources import double_starts, duplicate_games
from tests.conftest import EVENTS, STATCAST
from tests.statsapi_server import Reply, StatsApiServer

STARTS = STATCAST / "joey11600_starts_2024_2025.csv.gz"
COMPARED = ("games", "pitcher_games", "team_batting_games", "lineups", "plate_appearances")


def _load(path: Path, order: str, register) -> Path:
    wh = open_warehouse(str(path))
    try:
        for step in order:
            if step == "e":
                ingest_retrosheet(wh, [EVENTS / "2025eve.zip"], register, workers=2)
            else:
                ingest_starts(wh, STARTS, [2025], register)
    finally:
        wh.close()
    return path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, register) -> dict[str, Path]:
    """Two warehouses: the event file then the start log (``es``), and the other way (``se``)."""
    folder = tmp_path_factory.mktemp("both_orders")
    return {order: _load(folder / f"{order}.duckdb", order, register) for order in ("es", "se")}


def _rows(wh, table: str) -> pd.DataFrame:
    frame = wh.query(f"SELECT * FROM {table}").drop(columns=["updated_at"])  # noqa: S608
    return frame.sort_values(list(frame.columns[:3])).reset_index(drop=True)


@pytest.mark.parametrize("order", ["es", "se"])
def test_2430_games_one_starter_a_side(loaded: dict[str, Path], order: str) -> None:
    wh = open_warehouse(str(loaded[order]), read_only=True)
    games = wh.query("SELECT * FROM games WHERE season = 2025")
    starts = wh.query(
        "SELECT game_id, team, COUNT(*) AS n FROM pitcher_games WHERE season = 2025 AND is_start "
        "GROUP BY ALL"
    )
    assert len(games) == 2430
    assert len(starts) == 4860 and (starts["n"] == 1).all()
    assert duplicate_games(wh).empty and double_starts(wh).empty
    # the Athletics' home games under kcast's code, with the start log's gamePk
    athletics = games[games["home_team"] == "OAK"]
    assert len(athletics) == 81 and athletics["game_id"].str.startswith("OAK2025").all()
    assert not games["game_id"].str.startswith("ATH").any()
    assert athletics["mlb_game_pk"].notna().all()
    assert games["mlb_game_pk"].notna().sum() == 2428  # the log's 4,856 starts: 2,428 games
    assert daily_status(wh, dt.date(2025, 9, 28), ["v1_baseline"]).checks[0].status == "pass"
    wh.close()


def test_both_orders_store_the_same_rows(loaded: dict[str, Path]) -> None:
    es = open_warehouse(str(loaded["es"]), read_only=True)
    se = open_warehouse(str(loaded["se"]), read_only=True)
    for table in COMPARED:
        pd.testing.assert_frame_equal(_rows(es, table), _rows(se, table), obj=table)
    es.close(), se.close()


def test_a_duplicate_is_an_error_status_and_the_daily_job_show(
    loaded: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A game filed twice (as an older kcast stored the Athletics' games from Retrosheet's
    ATH ids beside the start log's OAK ones): ``kcast status`` fails naming it, the daily
    job's ``games`` step fails (exit 1), and migration 10 files it under one id."""
    path = tmp_path / "dup.duckdb"
    shutil.copy(loaded["es"], path)
    wh = open_warehouse(str(path))
    game = wh.query("SELECT * FROM games WHERE game_id = 'OAK202506170'").drop(
        columns=["updated_at"]
    )
    rows = wh.query("SELECT * FROM pitcher_games WHERE game_id = 'OAK202506170'").drop(
        columns=["updated_at"]
    )
    wh.upsert("games", game.assign(game_id="ATH202506170", mlb_game_pk=None))
    wh.upsert("pitcher_games", rows.assign(game_id="ATH202506170", source_rank=20))
    status = daily_status(wh, dt.date(2025, 6, 18), ["v1_baseline"])
    check = next(c for c in status.checks if c.name == "games")
    assert check.status == "fail" and not status.ok
    assert "1 games stored twice (2025-06-17" in check.detail
    assert "ATH202506170,OAK202506170" in check.detail
    assert "2 pitcher-dates with two starts" in check.detail
    wh.close()
    out = CliRunner().invoke(app, ["status", "--date", "2025-06-18", "-w", str(path)])
    assert out.exit_code == 1 and "games stored twice" in out.output

    empty = b'{"copyright": "Copyright 2025 MLB Advanced Media, L.P.", "dates": []}'
    with StatsApiServer(routes={"/api/v1/schedule": Reply(body=empty)}) as server:
        monkeypatch.setenv("KCAST_STATSAPI_URL", server.url)
        wh = open_warehouse(str(path))
        with StatsApiClient(server.url, timeout=2, retries=0) as client:
            report = run_daily(wh, dt.date(2025, 6, 18), statsapi_client=client)
        step = report.step("games")
        assert step.status == "failed" and "games stored twice" in step.detail
        assert report.exit_code == 1
        # the migration keeps the event file's row (rank 50) under the OAK id
        rename_game_ids(wh)
        assert duplicate_games(wh).empty and double_starts(wh).empty
        kept = wh.query("SELECT source_rank FROM pitcher_games WHERE game_id = 'OAK202506170'")
        assert len(kept) == len(rows) and (kept["source_rank"] == 50).all()
        again = run_daily(wh, dt.date(2025, 6, 18), statsapi_client=client)
        assert again.step("games").status == "ok" and again.exit_code == 0
        wh.close()
