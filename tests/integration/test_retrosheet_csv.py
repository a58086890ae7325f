"""Retrosheet's per-season CSVs: real 2024 files in, Retrosheet's own numbers out, bad files refused."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kcast.data.register import Register
from kcast.data.retrosheet_csv import KINDS, ingest_retrosheet_csv
from kcast.errors import InputError, UnknownTeamError
from kcast.warehouse import open_warehouse
from tests.conftest import REGISTER_FILE, RETRO_CSV

# every table the ingest writes (lineups: one row per team, game and batting-order slot)
TABLES = ("games", "pitcher_games", "team_batting_games", "players", "lineups")


def _read(kind: str, season: int = 2024) -> pd.DataFrame:
    """A Retrosheet CSV read straight with pandas, independently of kcast."""
    return pd.read_csv(RETRO_CSV / f"{season}{kind}.csv.gz", dtype=str, keep_default_na=False)


def _counts(wh) -> dict[str, int]:
    return {t: wh.count(t) for t in TABLES}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A warehouse holding the real 2024 CSVs (closed; tests work on copies)."""
    path = tmp_path_factory.mktemp("csv2024") / "base.duckdb"
    wh = open_warehouse(str(path))
    report = ingest_retrosheet_csv(wh, RETRO_CSV, Register.load(REGISTER_FILE), seasons=[2024])
    wh.close()
    return path, report


@pytest.fixture
def wh(base, tmp_path: Path):
    """A copy of the 2024 warehouse, open."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(base[0], copy)
    warehouse = open_warehouse(str(copy))
    yield warehouse
    warehouse.close()


def test_2024_totals_are_retrosheets(base, wh) -> None:
    report = base[1]
    assert report.stats["2024"] == {
        "starts": 4858,
        "strikeouts": 41197,
        "pitcher_games": 20693,
        "games": 2429,
    }
    assert report.notes == []
    totals = wh.query(
        "SELECT COUNT(*) FILTER (WHERE is_start) AS starts, SUM(strikeouts) AS k, "
        "COUNT(*) AS n, COUNT(pitches) AS with_pitches FROM pitcher_games"
    ).iloc[0]
    assert (totals["starts"], totals["k"], totals["n"]) == (4858, 41197, 20693)
    assert totals["with_pitches"] == 0  # the CSVs have no pitch counts
    assert wh.count("games") == 2429
    assert wh.count("team_batting_games") == 2 * 2429
    types = wh.query("SELECT DISTINCT game_type, source FROM pitcher_games")
    assert types.values.tolist() == [["regular", "retrosheet_csv"]]


def test_every_pitcher_game_equals_pitching_csv(wh) -> None:
    raw = _read("pitching")
    raw = raw[raw["gametype"] == "regular"]
    stored = wh.query("SELECT * FROM pitcher_games")
    merged = stored.merge(
        raw, left_on=["game_id", "retro_id"], right_on=["gid", "id"], how="outer", indicator=True
    )
    assert (merged["_merge"] == "both").all()
    pairs = {
        "strikeouts": "p_k",
        "outs": "p_ipouts",
        "batters_faced": "p_bfp",
        "walks": "p_w",  # p_w counts intentional walks too (p_iw is a part of it)
        "hits": "p_h",
        "home_runs": "p_hr",
        "runs": "p_r",
        "earned_runs": "p_er",
        "hit_batters": "p_hbp",
        "appearance_seq": "p_seq",
    }
    for ours, theirs in pairs.items():
        diff = merged[ours].astype(int) != merged[theirs].astype(int)
        assert not diff.any(), f"{ours}: {int(diff.sum())} differences"
    assert (merged["is_start"] == (merged["p_gs"] == "1")).all()
    assert (merged["is_home"] == (merged["vishome"] == "h")).all()
    # 2024's intentional walks are inside p_w: total walks are p_w's, not p_w + p_iw
    assert stored["walks"].sum() == raw["p_w"].astype(int).sum()
    assert raw["p_iw"].astype(int).sum() > 0


def test_team_batting_and_splits(wh) -> None:
    teams = _read("teamstats")
    teams = teams[teams["gametype"] == "regular"]
    pitching = _read("pitching")
    pitching = pitching[pitching["gametype"] == "regular"]
    players = _read("allplayers").drop_duplicates("id").set_index("id")
    stored = wh.query("SELECT * FROM team_batting_games")
    merged = stored.merge(teams, left_on=["game_id", "team"], right_on=["gid", "team"])
    assert len(merged) == len(teams) == len(stored)
    for ours, theirs in (("plate_appearances", "b_pa"), ("strikeouts", "b_k"), ("walks", "b_w")):
        assert (merged[ours] == merged[theirs].astype(int)).all(), ours

    # splits, computed here from the opposing pitchers' lines
    pitching["throw"] = pitching["id"].map(players["throw"])
    pitching["bfp"] = pitching["p_bfp"].astype(int)
    pitching["k"] = pitching["p_k"].astype(int)
    for hand, col in (("R", "rhp"), ("L", "lhp")):
        part = pitching[pitching["throw"] == hand].groupby(["gid", "opp"])[["bfp", "k"]].sum()
        got = merged.set_index(["game_id", "team"])[[f"pa_vs_{col}", f"so_vs_{col}"]]
        want = part.reindex(got.index, fill_value=0)
        assert (got[f"pa_vs_{col}"] == want["bfp"]).all(), col
        assert (got[f"so_vs_{col}"] == want["k"]).all(), col
    starters = pitching[pitching["p_gs"] == "1"].set_index(["gid", "opp"])
    got = merged.set_index(["game_id", "team"])
    assert (got["pa_vs_starter"] == starters.loc[got.index, "bfp"]).all()
    assert (got["so_vs_starter"] == starters.loc[got.index, "k"]).all()
    # nobody threw with both hands in 2024, so the two splits cover every plate appearance
    assert (merged["pa_vs_rhp"] + merged["pa_vs_lhp"] == merged["plate_appearances"]).all()

    lineup = merged[[f"start_l{i}" for i in range(1, 10)]].apply(
        lambda col: col.map(players["bat"])
    )
    assert (merged["lineup_lhb"] == (lineup == "L").sum(axis=1)).all()
    assert (merged["lineup_rhb"] == (lineup == "R").sum(axis=1)).all()
    assert (merged["lineup_shb"] == (lineup == "B").sum(axis=1)).all()
    assert (merged[["lineup_lhb", "lineup_rhb", "lineup_shb"]].sum(axis=1) == 9).all()


def test_game_values(wh) -> None:
    """The Seoul opener of 2024 as gameinfo.csv has it; an unknown temperature (0) is NULL."""
    g = wh.query("SELECT * FROM games WHERE game_id = 'SDN202403200'").iloc[0]
    assert str(g["game_date"])[:10] == "2024-03-20"
    assert (g["home_team"], g["away_team"], g["park_id"]) == ("SDN", "LAN", "SEO01")
    assert (g["start_time"], g["day_night"], g["sky"]) == ("7:05PM", "night", "dome")
    assert (g["temperature"], g["wind_speed"], g["umpire_home"]) == (72, 0, "barkl901")
    assert bool(g["uses_dh"]) and g["innings"] == 9 and g["game_number"] == 0
    assert (g["away_runs_scored"], g["home_runs_scored"]) == (5, 2)

    info = _read("gameinfo")
    info = info[info["gametype"] == "regular"]
    zero = sorted(info.loc[info["temp"] == "0", "gid"])
    assert zero  # the real 2024 file has games with an unknown temperature
    temps = wh.query("SELECT game_id, temperature FROM games").set_index("game_id")["temperature"]
    assert temps[zero].isna().all()
    assert temps.notna().sum() == len(info) - len(zero)
    runs = wh.query("SELECT game_id, home_runs_scored AS h FROM games").set_index("game_id")["h"]
    assert (runs[info["gid"]].to_numpy() == info["hruns"].astype(int).to_numpy()).all()


def test_players_hands_from_allplayers(wh, register) -> None:
    ohtani = wh.query("SELECT * FROM players WHERE player_id = 660271").iloc[0]
    assert (ohtani["retro_id"], ohtani["bats"], ohtani["throws"]) == ("ohtas001", "L", "R")
    players = _read("allplayers").drop_duplicates("id")
    stored = wh.query("SELECT retro_id, bats, throws FROM players").set_index("retro_id")
    assert len(stored) == len(players)
    want = players.set_index("id").loc[stored.index]
    assert (stored["bats"] == want["bat"]).all() and (stored["throws"] == want["throw"]).all()
    orphan = wh.query(
        "SELECT COUNT(*) AS n FROM pitcher_games p LEFT JOIN players USING (retro_id) "
        "WHERE players.player_id IS NULL"
    )
    assert orphan["n"].iloc[0] == 0


def test_rerun_leaves_counts_unchanged(wh) -> None:
    before = _counts(wh)
    assert before["lineups"] == 9 * before["team_batting_games"]  # every 2024 starter is known
    report = ingest_retrosheet_csv(wh, RETRO_CSV, Register.load(REGISTER_FILE), seasons=[2024])
    assert _counts(wh) == before
    assert report.inserted == 0 and report.updated == sum(before.values())


def test_all_game_types_and_several_seasons(register) -> None:
    wh = open_warehouse()
    report = ingest_retrosheet_csv(wh, RETRO_CSV, register, seasons=[2023, 2024])
    assert report.stats["2023"]["starts"] == 4860
    assert report.stats["2023"]["strikeouts"] == 41843
    assert report.stats["2024"]["starts"] == 4858
    ingest_retrosheet_csv(wh, RETRO_CSV, register, seasons=[2024], include_all_types=True)
    types = wh.query(
        "SELECT game_type, COUNT(*) AS n FROM games WHERE season = 2024 GROUP BY 1"
    ).set_index("game_type")["n"]
    info = _read("gameinfo")
    want = info[info["gametype"] != "allstar"]["gametype"].value_counts()
    assert types.sort_index().to_dict() == want.sort_index().to_dict()
    assert "allstar" not in types.index
    postseason = wh.query(
        "SELECT COUNT(*) AS n FROM pitcher_games WHERE season = 2024 AND game_type <> 'regular'"
    )["n"].iloc[0]
    raw = _read("pitching")
    assert postseason == int(
        raw["gametype"].isin(["wildcard", "divisionseries", "lcs", "worldseries"]).sum()
    )


def test_each_season_uses_its_own_hands(register) -> None:
    """Barnhart batted both ways in 2022 and left-handed in 2023: loading both seasons together
    must not change 2022's lineups; the players table keeps the latest season's hand."""
    for season, hand in ((2022, "B"), (2023, "L")):
        rows = _read("allplayers", season)
        assert set(rows.loc[rows["id"] == "barnt001", "bat"]) == {hand}
    alone, both = open_warehouse(":memory:"), open_warehouse(":memory:")
    ingest_retrosheet_csv(alone, RETRO_CSV, register, seasons=[2022])
    ingest_retrosheet_csv(both, RETRO_CSV, register, seasons=[2022, 2023])
    sql = (
        "SELECT * EXCLUDE (updated_at) FROM team_batting_games WHERE season = 2022 "
        "ORDER BY game_id, team"
    )
    pd.testing.assert_frame_equal(alone.query(sql), both.query(sql))
    bats = "SELECT bats FROM players WHERE retro_id = 'barnt001'"
    assert alone.query(bats)["bats"].iloc[0] == "B"
    assert both.query(bats)["bats"].iloc[0] == "L"


def test_players_without_mlbam_id_are_reported(tmp_path: Path) -> None:
    """Glasnow left out of the register: his games are named in the notes, not dropped silently."""
    register = pd.read_csv(REGISTER_FILE, dtype=str)
    register = register[register["key_retro"] != "glast001"]
    path = tmp_path / "register.csv"
    register.to_csv(path, index=False)
    wh = open_warehouse()
    report = ingest_retrosheet_csv(wh, RETRO_CSV, Register.load(path), seasons=[2024])
    raw = _read("pitching")
    his = int(((raw["id"] == "glast001") & (raw["gametype"] == "regular")).sum())
    assert his > 0
    assert any("glast001" in note and f"{his} pitcher-games" in note for note in report.notes)
    assert any("glast001" in note and "players" in note for note in report.notes)
    assert wh.count("pitcher_games") == 20693 - his
    # the Dodgers' opener: Glasnow's 20 batters still count for the Padres' split vs the starter
    row = wh.query(
        "SELECT pa_vs_starter FROM team_batting_games WHERE game_id = 'SDN202403200' "
        "AND team = 'SDN'"
    )
    assert row["pa_vs_starter"].iloc[0] == 20


# --------------------------------------------------------------------------------------------
# Bad input: the error names the file and line, and nothing is written
# --------------------------------------------------------------------------------------------


def _season_folder(tmp_path: Path, kind: str, lines: list[str]) -> Path:
    """The real 2024 files in a folder, with ``kind`` replaced by ``lines`` (written plainly)."""
    folder = tmp_path / "csv"
    folder.mkdir()
    for other in KINDS:
        if other != kind:
            shutil.copy(RETRO_CSV / f"2024{other}.csv.gz", folder / f"2024{other}.csv.gz")
    (folder / f"2024{kind}.csv").write_text("\n".join(lines) + "\n")
    return folder


def _lines(kind: str) -> list[str]:
    return gzip.decompress((RETRO_CSV / f"2024{kind}.csv.gz").read_bytes()).decode().splitlines()


def _set_field(line: str, header: str, column: str, value: str) -> str:
    fields = line.split(",")
    fields[header.split(",").index(column)] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    ("kind", "column", "value", "match", "error"),
    [
        ("gameinfo", "hometeam", "XYZ", r"unknown team code 'XYZ'", UnknownTeamError),
        ("pitching", "opp", "QQQ", r"unknown team code 'QQQ'", UnknownTeamError),
        ("teamstats", "date", "20241399", r"date '20241399' does not parse", InputError),
        ("gameinfo", "date", "2024-05-01", r"date '2024-05-01' does not parse", InputError),
        ("pitching", "p_k", "7x", r"p_k '7x' is not a whole number", InputError),
        ("teamstats", "b_pa", "4.5", r"b_pa '4.5' is not a whole number", InputError),
        ("pitching", "gametype", "springish", r"unknown game type 'springish'", InputError),
    ],
)
def test_bad_value_names_file_and_line(
    wh, tmp_path: Path, kind: str, column: str, value: str, match: str, error: type
) -> None:
    lines = _lines(kind)
    number = 700  # a line of a regular-season game, counting the header as line 1
    lines[number - 1] = _set_field(lines[number - 1], lines[0], column, value)
    folder = _season_folder(tmp_path, kind, lines)
    before = _counts(wh)
    with pytest.raises(error, match=match) as info:
        ingest_retrosheet_csv(wh, folder, Register.load(REGISTER_FILE), seasons=[2024])
    assert info.value.source == str(folder / f"2024{kind}.csv")
    assert info.value.line == number
    assert f"2024{kind}.csv, line {number}:" in str(info.value)
    assert _counts(wh) == before
    log = wh.query("SELECT status FROM ingest_log ORDER BY started_at DESC LIMIT 1")
    assert log["status"].iloc[0] == "failed"


def test_missing_column_names_file_and_columns(wh, tmp_path: Path) -> None:
    lines = _lines("pitching")
    header = lines[0].split(",")
    drop = [header.index("p_k"), header.index("p_bfp")]
    cut = [",".join(f for i, f in enumerate(line.split(",")) if i not in drop) for line in lines]
    folder = _season_folder(tmp_path, "pitching", cut)
    before = _counts(wh)
    with pytest.raises(InputError, match=r"missing columns: p_bfp, p_k") as info:
        ingest_retrosheet_csv(wh, folder, Register.load(REGISTER_FILE), seasons=[2024])
    assert info.value.line == 1
    assert info.value.source == str(folder / "2024pitching.csv")
    assert _counts(wh) == before


def test_short_row_and_missing_file(wh, tmp_path: Path) -> None:
    lines = _lines("teamstats")
    lines[41] = lines[41].rsplit(",", 3)[0]  # line 42 loses its last three fields
    folder = _season_folder(tmp_path, "teamstats", lines)
    before = _counts(wh)
    with pytest.raises(InputError, match=r"line 42: row has \d+ fields, the header has \d+"):
        ingest_retrosheet_csv(wh, folder, Register.load(REGISTER_FILE), seasons=[2024])
    (folder / "2024allplayers.csv.gz").unlink()
    with pytest.raises(InputError, match=r"season 2024: missing 2024allplayers\.csv"):
        ingest_retrosheet_csv(wh, folder, Register.load(REGISTER_FILE), seasons=[2024])
    with pytest.raises(InputError, match=r"season 2019: missing 2019pitching\.csv"):
        ingest_retrosheet_csv(wh, folder, Register.load(REGISTER_FILE), seasons=[2019])
    assert _counts(wh) == before


def test_cli(tmp_path: Path) -> None:
    from kcast.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app, ["ingest", "retrosheet-csv", "--source", str(RETRO_CSV), "--season", "2024"]
    )
    assert result.exit_code == 0, result.output
    assert "'starts': 4858" in result.output and "'strikeouts': 41197" in result.output
    wh = open_warehouse()
    assert wh.count("pitcher_games") == 20693
    result = runner.invoke(
        app, ["ingest", "retrosheet-csv", "--source", str(tmp_path), "--season", "2024"]
    )
    assert isinstance(result.exception, InputError)
