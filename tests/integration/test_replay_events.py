"""The warehouse the season replay's backtest runs on (benchmarks/replay_season.py): the season's
event files loaded as the replay lived it. The replay postpones a game the event files have as
played; the backtest must not learn from it (its two starts would move the league's 30-day K%
and CSW% of every later start, and its teams' and pitchers' own figures), or the daily job's
predictions and the backtest's differ for a reason that is the replay's, not kcast's."""

from __future__ import annotations

import datetime as dt
import sys
import zipfile
from pathlib import Path

from kcast.warehouse import open_warehouse
from tests.conftest import EVENTS, REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import replay_season  # noqa: E402

POSTPONED = "WAS202506060"  # the game tests/integration/test_daily.py postpones
NEXT = "WAS202506070"  # the next day's game of the same teams, played in both seasons
TABLES = ("games", "pitcher_games", "team_batting_games", "lineups", "plate_appearances")


def _one_team(folder: Path) -> Path:
    """The 2025 event files of the Nationals' home games only, with every roster."""
    part = folder / "2025eve.zip"
    with zipfile.ZipFile(EVENTS / "2025eve.zip") as src, zipfile.ZipFile(part, "w") as dst:
        for name in src.namelist():
            if name in ("2025WAS.EVN", "TEAM2025") or name.endswith(".ROS"):
                dst.writestr(name, src.read(name))
    return part


def _rows(wh, table: str, game_id: str) -> int:
    sql = f"SELECT COUNT(*) AS n FROM {table} WHERE game_id = $g"  # noqa: S608 - a fixed name
    return int(wh.query(sql, {"g": game_id})["n"].iloc[0])


def test_the_event_files_loaded_leave_out_the_game_the_replay_postponed(
    tmp_path: Path, register
) -> None:
    wh = open_warehouse(str(tmp_path / "with_events.duckdb"))
    try:
        replay_season.load_events(
            wh, _one_team(tmp_path), register, dt.date(2025, 5, 28), not_played={POSTPONED}
        )
        assert {t: _rows(wh, t, POSTPONED) for t in TABLES} == dict.fromkeys(TABLES, 0)
        assert all(_rows(wh, t, NEXT) > 0 for t in TABLES)
    finally:
        wh.close()


def test_without_a_postponed_game_every_game_of_the_event_files_is_loaded(
    tmp_path: Path, register
) -> None:
    wh = open_warehouse(str(tmp_path / "with_events.duckdb"))
    try:
        replay_season.load_events(wh, _one_team(tmp_path), register, dt.date(2025, 5, 28))
        assert all(_rows(wh, t, POSTPONED) > 0 for t in TABLES)
    finally:
        wh.close()
