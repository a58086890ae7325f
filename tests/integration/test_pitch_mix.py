"""The Statcast pitch-mix starts: every row stored, names matched to Retrosheet's 2023-2024 starts,
re-runs change nothing, and a bad file stores nothing and says where it is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from kcast.data.pitch_mix import ingest_pitch_mix
from kcast.data.register import Register
from kcast.data.retrosheet_csv import ingest_retrosheet_csv
from kcast.errors import InputError
from kcast.warehouse import open_warehouse
from tests.conftest import REGISTER_FILE, RETRO_CSV, STATCAST
from tests.integration.test_cli_mistakes import kcast

PITCH_MIX = STATCAST / "pitcher_starts_2023_2024.csv.gz"
TABLES = ("games", "pitcher_games", "pitch_mix_starts", "players")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Retrosheet's 2023 and 2024 CSVs, then the pitch-mix file; the file and the report."""
    path = tmp_path_factory.mktemp("pitch_mix") / "kcast.duckdb"
    wh = open_warehouse(str(path))
    register = Register.load(REGISTER_FILE)
    ingest_retrosheet_csv(wh, RETRO_CSV, register, seasons=[2023, 2024])
    report = ingest_pitch_mix(wh, PITCH_MIX, register)
    wh.close()
    return path, report


def _open(built, tmp_path: Path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built[0], copy)
    return open_warehouse(str(copy))


def _counts(wh) -> dict[str, int]:
    return {t: wh.count(t) for t in TABLES}


def test_every_row_stored_and_matched(built, tmp_path: Path) -> None:
    wh = _open(built, tmp_path)
    raw = pd.read_csv(PITCH_MIX)
    report = built[1]
    assert report.rows_read == len(raw) == wh.count("pitch_mix_starts")
    stored = wh.query("SELECT * FROM pitch_mix_starts")
    assert stored.groupby("season").size().to_dict() == (
        pd.to_datetime(raw["game_date"]).dt.year.value_counts().to_dict()
    )
    linked = stored[stored["game_id"].notna()]
    assert len(linked) / len(stored) >= 0.99, report.stats
    assert not linked.duplicated(["game_id", "pitcher_id"]).any()
    # each linked row is that pitcher's start for one of the row's teams, and the file's K is
    # Retrosheet's K for it (the README: equal for every matched start)
    starts = wh.query("SELECT game_id, pitcher_id, team, strikeouts, is_start FROM pitcher_games")
    both = linked.merge(starts, on=["game_id", "pitcher_id"], suffixes=("", "_retro"))
    assert len(both) == len(linked) and both["is_start"].all()
    assert (both["team"] == both["team_retro"]).all()
    assert ((both["team"] == both["home_team"]) | (both["team"] == both["away_team"])).all()
    assert (both["strikeouts"] == both["strikeouts_retro"]).all()
    for season in (2023, 2024):
        assert f"{season} rows" in report.stats
    unlinked = stored[stored["game_id"].isna()]
    assert unlinked["match_note"].notna().all()


def test_a_known_start_has_the_file_values(built, tmp_path: Path) -> None:
    wh = _open(built, tmp_path)
    raw = pd.read_csv(PITCH_MIX)
    row = raw[(raw["player_name"] == "Aaron Nola") & (raw["game_date"] == "2023-03-30")].iloc[0]
    got = wh.query(
        "SELECT * FROM pitch_mix_starts WHERE player_name = 'Aaron Nola' "
        "AND game_date = DATE '2023-03-30'"
    ).iloc[0]
    # Nola (MLBAM 605400) started the Phillies' opener at Texas
    assert got["pitcher_id"] == 605400 and got["team"] == "PHI"
    assert got["game_id"] == "TEX202303300" and got["throws"] == "R"
    pairs = {
        "pitches": "Pitches",
        "batters_faced": "PA",
        "strikeouts": "K",
        "whiffs": "Whiffs",
        "called_strikes": "CS",
        "csw": "CSW",
        "strikes": "Strikes",
        "balls": "Balls",
    }
    for column, source in pairs.items():
        assert got[column] == row[source], column
    assert got["ff_velo"] == pytest.approx(row["ff_velo"])
    assert got["ch_usage_vl"] == pytest.approx(row["ch_usage_vL"])
    assert pd.isna(got["sl_velo"]) and pd.isna(row["sl_velo"])


def test_rerun_changes_no_count(built, tmp_path: Path) -> None:
    wh = _open(built, tmp_path)
    before = _counts(wh)
    stored = wh.query("SELECT * EXCLUDE (updated_at) FROM pitch_mix_starts ORDER BY ALL")
    report = ingest_pitch_mix(wh, PITCH_MIX, Register.load(REGISTER_FILE))
    assert report.inserted == 0
    assert _counts(wh) == before
    again = wh.query("SELECT * EXCLUDE (updated_at) FROM pitch_mix_starts ORDER BY ALL")
    pd.testing.assert_frame_equal(stored, again)


def test_rows_without_a_start_are_kept_and_linked_later(tmp_path: Path) -> None:
    """Before any start is loaded, every row is stored unmatched (no games); loading the starts
    and re-running links them without adding a row."""
    wh = open_warehouse(str(tmp_path / "k.duckdb"))
    register = Register.load(REGISTER_FILE)
    first = ingest_pitch_mix(wh, PITCH_MIX, register)
    stored = wh.query("SELECT game_id, match_note FROM pitch_mix_starts")
    assert first.inserted == len(stored) == first.rows_read
    assert stored["game_id"].isna().all()
    assert stored["match_note"].str.startswith("no_games").mean() > 0.99
    ingest_retrosheet_csv(wh, RETRO_CSV, register, seasons=[2023])
    second = ingest_pitch_mix(wh, PITCH_MIX, register)
    assert second.inserted == 0 and wh.count("pitch_mix_starts") == first.rows_read
    linked = wh.query(
        "SELECT season, COUNT(game_id) AS linked, COUNT(*) AS n FROM pitch_mix_starts GROUP BY 1"
    ).set_index("season")
    assert linked.loc[2023, "linked"] / linked.loc[2023, "n"] >= 0.99
    assert linked.loc[2024, "linked"] == 0


def _slice(tmp_path: Path, edit=None, rows: int = 300) -> Path:
    """The file's first ``rows`` rows, optionally edited, written to tmp as CSV."""
    frame = pd.read_csv(PITCH_MIX, dtype=str, keep_default_na=False, nrows=rows)
    if edit is not None:
        frame = edit(frame)
    path = tmp_path / "slice.csv"
    frame.to_csv(path, index=False)
    return path


def _set(row: int, column: str, value: str):
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return edit


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (lambda f: f.rename(columns={"Whiffs": "Whifs"}), 1, r"Whiffs \(did you mean 'Whifs'\?\)"),
        (lambda f: f.drop(columns=["CSW"]), 1, r"missing columns: CSW$"),
        (_set(40, "Pitches", "ninety"), 42, r"Pitches 'ninety' is not a whole number"),
        (_set(7, "game_date", "2023-13-01"), 9, r"game_date '2023-13-01' does not parse"),
        (_set(99, "home_team", "XYZ"), 101, r"XYZ"),
        (_set(12, "CSW", "3"), 14, r"CSW 3 is not Whiffs \+ CS"),
        (_set(5, "p_throws", "S"), 7, r"p_throws 'S' is not R or L"),
        (_set(20, "ff_velo", "fast"), 22, r"ff_velo 'fast' is not a number"),
        (_set(30, "player_name", ""), 32, r"a required value is empty"),
    ],
)
def test_bad_input_names_file_and_line_and_stores_nothing(
    built, tmp_path: Path, edit, line: int, message: str
) -> None:
    wh = _open(built, tmp_path)
    before = _counts(wh)
    path = _slice(tmp_path, edit)
    with pytest.raises(InputError, match=message) as info:
        ingest_pitch_mix(wh, path, Register.load(REGISTER_FILE))
    assert info.value.source == str(path) and info.value.line == line
    assert _counts(wh) == before
    log = wh.query("SELECT status, message FROM ingest_log WHERE kind = 'pitch-mix'")
    assert (log["status"] == "failed").sum() == 1


def test_duplicate_row(tmp_path: Path) -> None:
    path = _slice(tmp_path, lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True))
    with pytest.raises(InputError, match="has two rows for") as info:
        ingest_pitch_mix(open_warehouse(), path, Register.load(REGISTER_FILE))
    assert info.value.line == 302


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = _slice(tmp_path)
    code, out = kcast(monkeypatch, capsys, "ingest", "pitch-mix", str(path))
    assert code == 0, out
    assert "pitch_mix_starts" in out and "2023 rows: 300" in out
    assert open_warehouse().count("pitch_mix_starts") == 300
    path = _slice(tmp_path, _set(9, "K", "-1"))
    code, out = kcast(monkeypatch, capsys, "ingest", "pitch-mix", str(path))
    assert code != 0 and f"{path}, line 11: K '-1' is not a whole number" in out
