"""Retrosheet event files: real seasons in, exact Retrosheet totals out, bad files refused."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from kcast.data.retrosheet import ingest_retrosheet, read_archive, resolve_archives
from kcast.errors import InputError
from kcast.warehouse import open_warehouse
from tests.conftest import EVENTS, STATCAST

TEAM_FILES = ("2019NYA.EVA", "2019SLN.EVN")


@pytest.fixture
def small_season(tmp_path: Path) -> Path:
    """Two real 2019 event files and their rosters, unpacked into a folder."""
    folder = tmp_path / "events2019"
    folder.mkdir()
    with zipfile.ZipFile(EVENTS / "2019eve.zip") as zf:
        for name in zf.namelist():
            if name in TEAM_FILES or name.endswith("2019.ROS"):
                (folder / name).write_bytes(zf.read(name))
    return folder


def _ingest(wh, source: Path, register, seasons=(2019,)):
    archives = resolve_archives(source, seasons, Path("unused"), "http://unused")
    return ingest_retrosheet(wh, archives, register, seasons=seasons, workers=1)


def test_two_teams_home_games(small_season: Path, register) -> None:
    wh = open_warehouse()
    report = _ingest(wh, small_season, register)
    games = wh.query("SELECT * FROM games ORDER BY game_id")
    assert set(games["home_team"]) == {"NYA", "SLN"}
    assert len(games) == 162  # 81 home games each
    starts = wh.query("SELECT COUNT(*) AS n FROM pitcher_games WHERE is_start")["n"].iloc[0]
    assert starts == 2 * 162
    # every game has exactly one starter per side and pitch counts from the sequences
    per_game = wh.query(
        "SELECT game_id, team, SUM(is_start::INT) AS s, MIN(pitches) AS p FROM pitcher_games "
        "GROUP BY ALL"
    )
    assert (per_game["s"] == 1).all()
    assert (per_game["p"] > 0).all()
    # team batting: the batting side's strikeouts equal the opposing pitchers' strikeouts
    check = wh.query(
        """SELECT b.game_id, b.team, b.strikeouts AS bat_k, SUM(p.strikeouts) AS pit_k,
                  b.plate_appearances AS pa, SUM(p.batters_faced) AS bf,
                  b.so_vs_rhp + b.so_vs_lhp AS split_k
           FROM team_batting_games b JOIN pitcher_games p
             ON p.game_id = b.game_id AND p.opponent = b.team
           GROUP BY ALL"""
    )
    assert (check["bat_k"] == check["pit_k"]).all()
    assert (check["pa"] == check["bf"]).all()
    assert (check["split_k"] == check["bat_k"]).all()
    assert report.stats["2019"]["starts"] == 324


def test_rerun_changes_no_row_count(small_season: Path, register) -> None:
    wh = open_warehouse()
    _ingest(wh, small_season, register)
    before = wh.counts()
    report = _ingest(wh, small_season, register)
    after = wh.counts()
    before.pop("ingest_log"), after.pop("ingest_log")
    assert before == after
    assert report.inserted == 0 and report.updated > 0


def test_known_start_values(small_season: Path, register) -> None:
    """Opening day 2019 at Yankee Stadium: Masahiro Tanaka, as Retrosheet's pitching.csv has it."""
    wh = open_warehouse()
    _ingest(wh, small_season, register)
    row = wh.query(
        "SELECT p.*, pl.throws FROM pitcher_games p JOIN players pl ON pl.player_id = p.pitcher_id "
        "WHERE game_id = 'NYA201903280' AND is_start AND team = 'NYA'"
    ).iloc[0]
    assert row["pitcher_id"] == 547888  # Masahiro Tanaka
    assert row["retro_id"] == "tanam001"
    assert (row["outs"], row["strikeouts"], row["batters_faced"]) == (17, 5, 22)
    assert row["throws"] == "R"


def _corrupt(folder: Path, name: str, old: str, new: str) -> int:
    path = folder / name
    lines = path.read_text(encoding="latin-1").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(old))
    lines[index] = new
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return index + 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("play,5,", "play,5,0,smitj001", "play record has 4 fields"),
        ("play,3,1,", "play,3,1,judga001,12,CBX,", "corrupt play record"),
        ("info,hometeam,", "info,hometeam,XYZ", "unknown team code 'XYZ'"),
        ("info,date,", "info,date,2019/13/45", "date '2019/13/45' does not parse"),
        ("start,", 'start,judga001,"Aaron Judge",1,x,9', "corrupt start record"),
        ("info,", "infox,site,NYC21", "unknown record type 'infox'"),
    ],
)
def test_bad_record_names_file_and_line(
    small_season: Path, register, old: str, new: str, message: str
) -> None:
    wh = open_warehouse()
    # the warehouse already holds a good load of one team; the bad ingest must leave it as it was
    good = small_season.parent / "good"
    good.mkdir()
    for p in small_season.iterdir():
        if p.name != "2019NYA.EVA":
            shutil.copy(p, good / p.name)
    _ingest(wh, good, register)
    before = wh.counts()
    line = _corrupt(small_season, "2019NYA.EVA", old, new)
    with pytest.raises(InputError, match=message) as info:
        _ingest(wh, small_season, register)
    assert info.value.line == line
    assert "2019NYA.EVA" in str(info.value)
    after = wh.counts()
    assert after.pop("ingest_log") == before.pop("ingest_log") + 1  # the failure is logged
    assert after == before
    log = wh.query("SELECT status, message FROM ingest_log ORDER BY started_at DESC LIMIT 1")
    assert log["status"].iloc[0] == "failed" and "2019NYA.EVA" in log["message"].iloc[0]


def _insert_after(folder: Path, name: str, after: str, new: str) -> int:
    """Insert the record ``new`` after the first line starting with ``after``; its line."""
    path = folder / name
    lines = path.read_text(encoding="latin-1").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(after)) + 1
    lines.insert(index, new)
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return index + 1


@pytest.mark.parametrize(
    ("record", "message"),
    [
        # a batter nobody sent in, an event Chadwick cannot read: Chadwick scores it as an out
        # of some kind, without a word, and a real start's pitch count changed (86 -> 88)
        (
            "play,7,1,xxxxxxxx,??,,GARBAGE$$$",
            "batter 'xxxxxxxx', who is not in the game for the home team",
        ),
        ("play,7,1,judga001,??,,GARBAGE", r"an event Chadwick cannot read \('GARBAGE'\)"),
        ("play,7,1,judga001,??,,S8$", r"an event Chadwick cannot read \('S8\$'\)"),
        ("play,7,1,judga001,01,CZ,K", "pitch codes 'CZ' that are not Retrosheet's"),
        ('start,xx,"Nobody",1,1,9', "corrupt start record"),
    ],
)
def test_malformed_play_names_file_and_line(
    small_season: Path, register, record: str, message: str
) -> None:
    """A play record that is well formed in its fields but not a play (issue 24, item 8): the
    ingest fails naming the file and line, and stores nothing."""
    wh = open_warehouse()
    line = _insert_after(small_season, "2019NYA.EVA", "play,7,1,", record)
    with pytest.raises(InputError, match=message) as info:
        _ingest(wh, small_season, register)
    assert info.value.line == line
    assert "2019NYA.EVA" in str(info.value)
    assert wh.count("pitcher_games") == wh.count("games") == wh.count("plate_appearances") == 0


def test_truncated_zip(tmp_path: Path, register) -> None:
    data = (EVENTS / "2019eve.zip").read_bytes()
    broken = tmp_path / "2019eve.zip"
    broken.write_bytes(data[: len(data) // 2])
    wh = open_warehouse()
    with pytest.raises(InputError, match="not a readable zip archive.*truncated") as info:
        _ingest(wh, broken, register)
    assert str(broken) in str(info.value)
    assert wh.count("pitcher_games") == 0


def test_missing_season_and_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        resolve_archives(tmp_path / "nope", [2019], tmp_path, "http://unused")
    with pytest.raises(InputError, match="no event files for 2012"):
        resolve_archives(EVENTS, [2012], tmp_path, "http://unused")
    with pytest.raises(InputError, match=r"no Retrosheet event files .* for seasons \[2018\]"):
        read_archive(EVENTS / "2019eve.zip", [2018])


def test_pitch_counts_agree_with_statcast_in_2023() -> None:
    """From 2023 the event files carry periods in pitch sequences that no earlier event of the
    plate appearance explains (a strikeout ``BCBS.BT``); the pitches before them count. Every
    start in the Angels' 2023 home games, against the Statcast pitch-mix line of that start (by
    date and name): within half a pitch on average (chadwickpy's count was 9 to 10 short)."""
    import pandas as pd

    from kcast.data.retrosheet import parse_event_file

    with zipfile.ZipFile(EVENTS / "2023eve.zip") as zf:
        parsed = parse_event_file("2023ANA.EVA", zf.read("2023ANA.EVA"))
        rosters = [
            line.split(",")
            for name in zf.namelist()
            if name.endswith("2023.ROS")
            for line in zf.read(name).decode("latin-1").splitlines()
        ]
    names = {r[0]: f"{r[2]} {r[1]}" for r in rosters if len(r) > 2}
    starts = pd.DataFrame(parsed.pitchers).query("is_start")
    games = pd.DataFrame(parsed.games)[["game_id", "game_date"]]
    starts = starts.merge(games, on="game_id").assign(
        player_name=lambda d: d["retro_id"].map(names)
    )
    statcast = pd.read_csv(
        STATCAST / "pitcher_starts_2023_2024.csv.gz",
        usecols=["game_date", "player_name", "home_team", "Pitches"],
    ).query("home_team == 'LAA'")
    statcast["game_date"] = pd.to_datetime(statcast["game_date"]).dt.date
    both = starts.merge(statcast, on=["game_date", "player_name"])
    assert len(both) > 140  # of 162 starts, a few names spelled otherwise
    gap = both["pitches"] - both["Pitches"]
    assert abs(gap.mean()) < 1.0 and gap.abs().mean() < 1.5, gap.describe()
