"""Parity for 2019: the event-file ingest, Retrosheet's own pitching.csv and the CSV ingest agree.

The 2019 event season is parsed once for the module (about 12-20 s), and pitching.csv is read
here with pandas, independently of kcast's CSV reader.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from kcast.data.register import Register
from kcast.data.retrosheet import ingest_retrosheet, resolve_archives
from kcast.data.retrosheet_csv import ingest_retrosheet_csv
from kcast.warehouse import open_warehouse
from tests.conftest import EVENTS, REGISTER_FILE, RETRO_CSV

pytestmark = pytest.mark.slow

STATS = {
    "strikeouts": "p_k",
    "outs": "p_ipouts",
    "batters_faced": "p_bfp",
    "walks": "p_w",
    "hits": "p_h",
}
TABLES = ("games", "pitcher_games", "team_batting_games", "players")


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2019 from the event files, and 2019 from the CSVs, in two warehouses (closed)."""
    folder = tmp_path_factory.mktemp("parity")
    register = Register.load(REGISTER_FILE)
    events = open_warehouse(str(folder / "events.duckdb"))
    archives = resolve_archives(EVENTS, [2019], folder / "cache", "http://unused")
    ingest_retrosheet(events, archives, register, seasons=[2019])
    events.close()
    csv = open_warehouse(str(folder / "csv.duckdb"))
    ingest_retrosheet_csv(csv, RETRO_CSV, register, seasons=[2019])
    csv.close()
    return {"events": folder / "events.duckdb", "csv": folder / "csv.duckdb"}


def _open(warehouses: dict[str, Path], name: str, tmp_path: Path):
    copy = tmp_path / f"{name}.duckdb"
    shutil.copy(warehouses[name], copy)
    return open_warehouse(str(copy))


def _pitching_csv() -> pd.DataFrame:
    raw = pd.read_csv(RETRO_CSV / "2019pitching.csv.gz", dtype={"gid": str, "id": str})
    return raw[raw["gametype"] == "regular"]


def test_event_ingest_equals_pitching_csv(warehouses, tmp_path: Path) -> None:
    wh = _open(warehouses, "events", tmp_path)
    stored = wh.query("SELECT * FROM pitcher_games WHERE game_type = 'regular'")
    raw = _pitching_csv()
    merged = stored.merge(
        raw, left_on=["game_id", "retro_id"], right_on=["gid", "id"], how="outer", indicator=True
    )
    # the same pitcher-games: announced pitchers who never threw are in neither
    assert merged["_merge"].value_counts().to_dict() == {
        "both": len(raw),
        "left_only": 0,
        "right_only": 0,
    }
    for ours, theirs in STATS.items():
        diff = merged[ours] != merged[theirs]
        assert not diff.any(), f"{ours}: {int(diff.sum())} differences with {theirs}"
    assert (merged["is_start"] == (merged["p_gs"] == 1)).all()
    assert int(stored["is_start"].sum()) == 4858
    assert int(stored["strikeouts"].sum()) == 42823
    assert stored["pitches"].notna().all()


def test_csv_ingest_equals_event_ingest(warehouses, tmp_path: Path) -> None:
    ev = _open(warehouses, "events", tmp_path)
    cs = _open(warehouses, "csv", tmp_path)
    key = ["game_id", "pitcher_id"]
    a = ev.query("SELECT * FROM pitcher_games")
    b = cs.query("SELECT * FROM pitcher_games")
    merged = a.merge(b, on=key, how="outer", indicator=True, suffixes=("_ev", "_csv"))
    assert (merged["_merge"] == "both").all() and len(merged) == 21429
    for column in (*STATS, "is_start", "is_home", "team", "opponent", "runs", "earned_runs"):
        diff = merged[f"{column}_ev"] != merged[f"{column}_csv"]
        assert not diff.any(), f"{column}: {int(diff.sum())} differences"

    # team batting, splits by pitcher hand and lineups: the same from both paths
    key = ["game_id", "team"]
    a = ev.query("SELECT * EXCLUDE (updated_at, source, source_rank) FROM team_batting_games")
    b = cs.query("SELECT * EXCLUDE (updated_at, source, source_rank) FROM team_batting_games")
    pd.testing.assert_frame_equal(
        a.sort_values(key).reset_index(drop=True),
        b.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    columns = (
        "game_id, game_date, game_type, game_number, home_team, away_team, park_id, start_time, "
        "day_night, temperature, wind_speed, wind_dir, sky, umpire_home, uses_dh, "
        "home_runs_scored, away_runs_scored"
    )
    a = ev.query(f"SELECT {columns} FROM games ORDER BY game_id")
    b = cs.query(f"SELECT {columns} FROM games ORDER BY game_id")
    pd.testing.assert_frame_equal(a, b)


def test_csv_after_events_changes_nothing(warehouses, tmp_path: Path) -> None:
    """The CSVs rank below the event files: loaded on top, they add no row and change no value."""
    wh = _open(warehouses, "events", tmp_path)
    before = {t: wh.count(t) for t in TABLES if t != "players"}
    snapshot = wh.query("SELECT * EXCLUDE (updated_at) FROM pitcher_games ORDER BY ALL")
    ingest_retrosheet_csv(wh, RETRO_CSV, Register.load(REGISTER_FILE), seasons=[2019])
    assert {t: wh.count(t) for t in TABLES if t != "players"} == before
    after = wh.query("SELECT * EXCLUDE (updated_at) FROM pitcher_games ORDER BY ALL")
    pd.testing.assert_frame_equal(snapshot, after)
