"""Statcast-derived start logs: alone, and merged under Retrosheet's 2024 CSVs in either order."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kcast.data.register import Register
from kcast.data.retrosheet_csv import ingest_retrosheet_csv
from kcast.data.starts import ingest_starts
from kcast.errors import InputError, UnknownTeamError
from kcast.teams import canonical_team
from kcast.warehouse import open_warehouse
from tests.conftest import REGISTER_FILE, RETRO_CSV, STATCAST

STARTS = STATCAST / "joey11600_starts_2024_2025.csv.gz"
TABLES = ("games", "pitcher_games", "team_batting_games", "players")


def _counts(wh) -> dict[str, int]:
    return {t: wh.count(t) for t in TABLES}


def _file() -> pd.DataFrame:
    return pd.read_csv(STARTS)


def _retro_2024() -> pd.DataFrame:
    raw = pd.read_csv(RETRO_CSV / "2024pitching.csv.gz", dtype={"gid": str, "id": str})
    return raw[raw["gametype"] == "regular"]


def _build(folder: Path, name: str, steps: str) -> Path:
    """A warehouse after the given steps: ``c`` = Retrosheet CSV 2024, ``s`` = start log."""
    path = folder / f"{name}.duckdb"
    wh = open_warehouse(str(path))
    register = Register.load(REGISTER_FILE)
    for step in steps:
        if step == "c":
            ingest_retrosheet_csv(wh, RETRO_CSV, register, seasons=[2024])
        else:
            ingest_starts(wh, STARTS)
    wh.close()
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("starts")
    return {steps: _build(folder, steps, steps) for steps in ("s", "cs", "sc")}


def _open(built: dict[str, Path], steps: str, tmp_path: Path):
    copy = tmp_path / f"{steps}.duckdb"
    shutil.copy(built[steps], copy)
    return open_warehouse(str(copy))


def test_starts_alone(built, tmp_path: Path) -> None:
    wh = _open(built, "s", tmp_path)
    per_season = wh.query(
        "SELECT season, COUNT(*) AS n, SUM(is_start::INT) AS starts, SUM(strikeouts) AS k "
        "FROM pitcher_games GROUP BY 1 ORDER BY 1"
    ).set_index("season")
    raw = _file()
    assert per_season["starts"].to_dict() == {2024: 4854, 2025: 4856}
    assert per_season["k"].to_dict() == raw.groupby("game_year")["strikeouts"].sum().to_dict()
    games = wh.query("SELECT * FROM games")
    assert len(games) == raw["game_pk"].nunique() == 2427 + 2428
    assert games["mlb_game_pk"].is_unique and (games["source"] == "statcast_starts").all()

    stored = wh.query("SELECT p.*, g.mlb_game_pk FROM pitcher_games p JOIN games g USING (game_id)")
    f = raw.add_prefix("f_")
    merged = stored.merge(
        f, left_on=["mlb_game_pk", "pitcher_id"], right_on=["f_game_pk", "f_pitcher"]
    )
    assert len(merged) == len(raw) == len(stored)
    for ours, theirs in (
        ("strikeouts", "strikeouts"),
        ("outs", "outs"),
        ("batters_faced", "bf"),
        ("pitches", "pitches"),
        ("walks", "walks"),
        ("hits", "hits"),
        ("runs", "runs_allowed"),
    ):
        assert (merged[ours] == merged[f"f_{theirs}"].astype(int)).all(), ours
    assert (merged["is_home"] == merged["f_is_home"]).all()
    assert merged["is_start"].all() and (merged["appearance_seq"] == 1).all()

    # game ids: home team + date + 0, or 1/2 in game_pk order when the home team plays twice
    raw["home"] = [
        canonical_team(t if h else o)
        for t, o, h in zip(raw["pitcher_team"], raw["opponent_team"], raw["is_home"], strict=True)
    ]
    one = raw.drop_duplicates("game_pk").sort_values("game_pk")
    one["n"] = one.groupby(["game_date", "home"])["game_pk"].transform("size")
    one["k"] = one.groupby(["game_date", "home"]).cumcount() + 1
    one["want"] = (
        one["home"]
        + one["game_date"].str.replace("-", "")
        + one["k"].where(one["n"] > 1, 0).astype(str)
    )
    ids = games.set_index("mlb_game_pk")["game_id"]
    assert (ids[one["game_pk"]].to_numpy() == one["want"].to_numpy()).all()
    assert (one["n"] == 2).sum() > 0  # the file has doubleheaders


@pytest.mark.parametrize("steps", ["cs", "sc"])
def test_starts_fill_retrosheet_2024(built, tmp_path: Path, steps: str) -> None:
    """Either order: 4,858 starts, Retrosheet's K/BF/outs everywhere, pitches where Statcast has them."""
    wh = _open(built, steps, tmp_path)
    retro = _retro_2024()
    register = Register.load(REGISTER_FILE)
    s24 = wh.query(
        "SELECT COUNT(*) FILTER (WHERE is_start) AS starts, "
        "COUNT(*) FILTER (WHERE is_start AND pitches IS NOT NULL) AS with_pitches, "
        "COUNT(*) AS n FROM pitcher_games WHERE season = 2024"
    ).iloc[0]
    assert s24["starts"] == 4858
    assert s24["n"] == len(retro)  # no 2024 pitcher-game beyond Retrosheet's
    assert wh.query("SELECT COUNT(*) AS n FROM games WHERE season = 2024")["n"].iloc[0] == 2429

    # pitches filled on every Retrosheet start whose pitcher and date the start log also has
    raw = _file()
    raw = raw[raw["game_year"] == 2024]
    starts = retro[retro["p_gs"] == 1].copy()
    starts["mlbam"] = starts["id"].map(register.retro_to_mlbam)
    starts["date"] = pd.to_datetime(starts["date"].astype(str)).dt.strftime("%Y-%m-%d")
    both = starts.merge(raw, left_on=["mlbam", "date"], right_on=["pitcher", "game_date"])
    assert s24["with_pitches"] == len(both) == 4852

    stored = wh.query("SELECT * FROM pitcher_games WHERE season = 2024")
    merged = stored.merge(retro, left_on=["game_id", "retro_id"], right_on=["gid", "id"])
    assert len(merged) == len(stored)
    for ours, theirs in (("strikeouts", "p_k"), ("batters_faced", "p_bfp"), ("outs", "p_ipouts")):
        assert (merged[ours] == merged[theirs]).all(), ours
    assert (merged["source"] == "retrosheet_csv").all()
    # and the pitch counts are the start log's, on the right pitcher-game
    filled = merged[merged["pitches"].notna()]
    pk = wh.query("SELECT game_id, mlb_game_pk FROM games").set_index("game_id")["mlb_game_pk"]
    keyed = filled.assign(game_pk=filled["game_id"].map(pk)).merge(
        raw, left_on=["game_pk", "pitcher_id"], right_on=["game_pk", "pitcher"]
    )
    assert len(keyed) == len(filled) == 4854
    assert (keyed["pitches_x"] == keyed["pitches_y"]).all()
    assert (
        wh.query("SELECT COUNT(mlb_game_pk) AS n FROM games WHERE season = 2024")["n"].iloc[0]
        == 2427
    )

    s25 = wh.query("SELECT COUNT(*) AS n FROM pitcher_games WHERE season = 2025 AND is_start")
    assert s25["n"].iloc[0] == 4856


def test_order_does_not_matter(built, tmp_path: Path) -> None:
    a = _open(built, "cs", tmp_path)
    b = _open(built, "sc", tmp_path)
    for table, key in (
        ("games", ["game_id"]),
        ("pitcher_games", ["game_id", "pitcher_id"]),
        ("team_batting_games", ["game_id", "team"]),
    ):
        x = a.query(f"SELECT * EXCLUDE (updated_at) FROM {table}").sort_values(key)
        y = b.query(f"SELECT * EXCLUDE (updated_at) FROM {table}").sort_values(key)
        pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))


@pytest.mark.parametrize("steps", ["s", "cs", "sc"])
def test_reruns_leave_counts_unchanged(built, tmp_path: Path, steps: str) -> None:
    wh = _open(built, steps, tmp_path)
    before = _counts(wh)
    report = ingest_starts(wh, STARTS)
    assert _counts(wh) == before
    assert report.inserted == 0
    if steps != "s":
        ingest_retrosheet_csv(wh, RETRO_CSV, Register.load(REGISTER_FILE), seasons=[2024])
        assert _counts(wh) == before


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def _bad_file(tmp_path: Path, column: str | None, value: str | None, number: int) -> Path:
    lines = gzip.decompress(STARTS.read_bytes()).decode().splitlines()
    header = lines[0].split(",")
    if value is None:
        drop = header.index(column)
        lines = [",".join(f for i, f in enumerate(line.split(",")) if i != drop) for line in lines]
    else:
        fields = lines[number - 1].split(",")
        fields[header.index(column)] = value
        lines[number - 1] = ",".join(fields)
    path = tmp_path / "bad_starts.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("column", "value", "line", "match", "error"),
    [
        ("strikeouts", None, 1, r"missing columns: strikeouts", InputError),
        ("pitcher_team", "XYZ", 900, r"unknown team code 'XYZ'", UnknownTeamError),
        ("game_date", "2024-13-01", 900, r"game_date '2024-13-01' does not parse", InputError),
        ("strikeouts", "5.5", 900, r"strikeouts '5.5' is not a whole number", InputError),
        ("pitches", "abc", 900, r"pitches 'abc' is not a whole number", InputError),
        ("game_year", "2023", 900, r"game_year 2023 is not the year of", InputError),
    ],
)
def test_bad_input_names_file_and_line(
    built, tmp_path: Path, column: str, value: str | None, line: int, match: str, error: type
) -> None:
    wh = _open(built, "cs", tmp_path)
    path = _bad_file(tmp_path, column, value, line)
    before = _counts(wh)
    with pytest.raises(error, match=match) as info:
        ingest_starts(wh, path)
    assert info.value.source == str(path) and info.value.line == line
    assert f"bad_starts.csv, line {line}:" in str(info.value)
    assert _counts(wh) == before


def test_short_row_after_blank_line(built, tmp_path: Path) -> None:
    """Line numbers are the file's own: a blank line still counts, the header is line 1."""
    lines = gzip.decompress(STARTS.read_bytes()).decode().splitlines()
    lines.insert(10, "")  # now line 11 is blank
    lines[499] = lines[499].rsplit(",", 2)[0]  # line 500 loses two fields
    path = tmp_path / "short.csv"
    path.write_text("\n".join(lines) + "\n")
    wh = _open(built, "cs", tmp_path)
    before = _counts(wh)
    with pytest.raises(
        InputError, match=r"short\.csv, line 500: row has 18 fields, the header has 20"
    ):
        ingest_starts(wh, path)
    assert _counts(wh) == before


def test_cli(tmp_path: Path) -> None:
    from kcast.cli import app

    result = CliRunner().invoke(app, ["ingest", "starts", str(STARTS), "--season", "2025"])
    assert result.exit_code == 0, result.output
    assert "'starts': 4856" in result.output
    assert open_warehouse().count("pitcher_games") == 4856
