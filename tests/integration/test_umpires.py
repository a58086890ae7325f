"""Retrosheet's biographical file as the umpires' crosswalk: every umpire stored with his id and
names, the Stats API's spelling of a name read as his id, and a file that is not the
biographical file refused, naming what is wrong."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from kcast.data.umpires import ingest_umpires, read_umpires, resolve_umpires
from kcast.errors import InputError
from kcast.warehouse import open_warehouse
from tests.conftest import EVENTS, SHARED_DATA
from tests.integration.test_cli_mistakes import kcast

BIOFILE = SHARED_DATA / "retrosheet" / "biofile.zip"


@pytest.fixture(scope="module")
def umpires() -> pd.DataFrame:
    return read_umpires(BIOFILE)


def _csv(tmp_path: Path, edit=None) -> Path:
    """The zip's biofile.csv, optionally edited, written to tmp."""
    with zipfile.ZipFile(BIOFILE) as zf, zf.open("biofile.csv") as f:
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
    if edit is not None:
        frame = edit(frame)
    path = tmp_path / "biofile.csv"
    frame.to_csv(path, index=False)
    return path


def test_every_umpire_stored(umpires: pd.DataFrame, tmp_path: Path) -> None:
    wh = open_warehouse()
    report = ingest_umpires(wh, BIOFILE)
    assert report.rows_read == len(umpires) == wh.count("umpires") == 1582
    assert report.stats["names shared by several umpires (left unresolved)"] == 16
    bucknor = wh.query("SELECT * FROM umpires WHERE umpire_id = 'buckc901'").iloc[0]
    assert (bucknor["name_last"], bucknor["name_first"], bucknor["nickname"]) == (
        "Bucknor",
        "Christopher Blake",
        "CB",
    )
    assert bucknor["full_name"] == "CB Bucknor"
    assert (str(bucknor["ump_debut"])[:10], str(bucknor["ump_last_game"])[:10]) == (
        "1996-04-04",
        "2022-10-05",
    )
    assert bucknor["source"] == "biofile.zip"
    # the ten with an unknown first game ("X") are kept, without dates
    assert wh.query("SELECT COUNT(*) AS n FROM umpires WHERE ump_debut IS NULL")["n"][0] == 10
    again = ingest_umpires(wh, BIOFILE)
    assert again.inserted == 0 and wh.count("umpires") == 1582
    # the unpacked CSV reads the same
    pd.testing.assert_frame_equal(read_umpires(_csv(tmp_path)), umpires)


def test_names_resolve_to_one_umpire(umpires: pd.DataFrame) -> None:
    """The Stats API's "CB Bucknor" is buckc901, spelled with any case, accents or dots; an id
    stays; a name two umpires share (two Jim Scotts) or no umpire has stays as it is."""
    stored = pd.Series(
        ["CB Bucknor", "C.B. BUCKNOR", "Alfonso Márquez", "AJ Johnson", "buckc901", "Jim Scott",
         "Nobody Here", None]
    )  # fmt: skip
    got = resolve_umpires(stored, umpires)
    assert got.tolist()[:-1] == [
        "buckc901",
        "buckc901",
        "marqa901",
        "johna907",
        "buckc901",
        "Jim Scott",
        "Nobody Here",
    ]
    assert pd.isna(got.iloc[-1])
    assert set(umpires.loc[umpires["full_name"] == "Jim Scott", "umpire_id"]) == {
        "scotj104",
        "scotj901",
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (SHARED_DATA / "retrosheet" / "teams.csv", r"line 1: Retrosheet biographical file "
         r"\(biofile.csv\) is missing columns: PLAYERID, UMP.DEBUT, UMP.LASTGAME$"),
        (EVENTS / "2019eve.zip", r"the zip holds no biofile.csv \(it has 2019ANA.EVA"),
        (SHARED_DATA / "retrosheet" / "no_biofile.zip", "no such file"),
    ],
)  # fmt: skip
def test_not_a_biofile(source: Path, message: str) -> None:
    wh = open_warehouse()
    with pytest.raises(InputError, match=message) as info:
        ingest_umpires(wh, source)
    assert info.value.source == str(source)
    assert wh.count("umpires") == 0
    log = wh.query("SELECT status FROM ingest_log WHERE kind = 'umpires'")
    assert list(log["status"]) == ["failed"]


def _set(player: str, column: str, value: str):
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame["PLAYERID"] == player, column] = value
        return frame

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("buckc901", "UMP.LASTGAME", "2022-10-05"),
         r"UMP.LASTGAME '2022-10-05' is not a date \(want MM/DD/YYYY\)"),
        (_set("buckc901", "PLAYERID", "Bucknor"), r"umpire 'Bucknor' .* is not a Retrosheet id"),
        (lambda f: f.assign(**{"UMP.DEBUT": ""}), "no umpires in the file"),
    ],
)  # fmt: skip
def test_bad_values_name_the_line(tmp_path: Path, edit, message: str) -> None:
    path = _csv(tmp_path, edit)
    wh = open_warehouse()
    with pytest.raises(InputError, match=message) as info:
        ingest_umpires(wh, path)
    assert info.value.source == str(path)
    if "no umpires" not in message:  # the line is Bucknor's, header = line 1
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        bucknor = (frame["LAST"] == "Bucknor") & (frame["FIRST"] == "Christopher Blake")
        assert info.value.line == int(frame.index[bucknor][0]) + 2
    assert wh.count("umpires") == 0


def test_cli(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    code, out = kcast(monkeypatch, capsys, "ingest", "umpires", str(BIOFILE))
    assert code == 0, out
    assert "umpires: 1582" in out and "Retrosheet" in out
    assert open_warehouse().count("umpires") == 1582
    teams = SHARED_DATA / "retrosheet" / "teams.csv"
    code, out = kcast(monkeypatch, capsys, "ingest", "umpires", str(teams))
    assert code != 0 and "is missing columns: PLAYERID" in " ".join(out.split())
