"""Sportsbook lines from the real prop files, matched to real starts; bad files refused whole."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kcast.data.lines import (
    ingest_lines,
    line_match_report,
    read_lines,
    rematch_lines,
)
from kcast.data.retrosheet import ingest_retrosheet, resolve_archives
from kcast.data.starts import ingest_starts
from kcast.errors import InputError
from kcast.warehouse import open_warehouse
from tests.conftest import EVENTS, PROPS, STATCAST

SOC = PROPS / "strikeoutcenter_k_props_2025.csv.gz"
STEVE = PROPS / "steveliang00_dk_fd_k_props_2022.csv.gz"
STARTS = STATCAST / "joey11600_starts_2024_2025.csv.gz"


def _counts(wh) -> dict[str, int]:
    counts = wh.counts()
    counts.pop("ingest_log")
    return counts


@pytest.fixture(scope="module")
def warehouse_2022(tmp_path_factory: pytest.TempPathFactory, register) -> Path:
    """A warehouse with the whole 2022 Retrosheet event season (built once, about 25 s)."""
    path = tmp_path_factory.mktemp("wh2022") / "kcast.duckdb"
    wh = open_warehouse(str(path))
    archives = resolve_archives(EVENTS, [2022], Path("unused"), "http://unused")
    ingest_retrosheet(wh, archives, register, seasons=[2022])
    wh.close()
    return path


@pytest.fixture
def wh2022(warehouse_2022: Path, tmp_path: Path):
    copy = tmp_path / "wh2022.duckdb"
    shutil.copy(warehouse_2022, copy)
    return open_warehouse(str(copy))


@pytest.fixture
def wh2025():
    """This test's warehouse with the real 2025 starts (Statcast start log)."""
    wh = open_warehouse()
    ingest_starts(wh, STARTS, seasons=[2025])
    return wh


def _head(src: Path, dest: Path, n: int, edit: tuple[int, str, str] | None = None) -> Path:
    """The header and first ``n`` rows of a real file; ``edit`` = (row, old, new) changes one."""
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(n + 1)]
    if edit is not None:
        row, old, new = edit
        assert old in lines[row], (old, lines[row])
        lines[row] = lines[row].replace(old, new, 1)
    dest.write_text("".join(lines), encoding="utf-8")
    return dest


# --------------------------------------------------------------------------------------------
# The two real files
# --------------------------------------------------------------------------------------------


def test_steveliang_2022_lines_match_retrosheet_starts(wh2022, register) -> None:
    report = ingest_lines(wh2022, STEVE, register)
    assert report.stats["format"] == "steveliang"
    rows = wh2022.query("SELECT * FROM prop_lines")
    assert len(rows) == 1413  # every row kept
    assert set(rows["snapshot"]) == {"posted"}
    assert rows["book"].value_counts().to_dict() == {"DraftKings": 808, "FanDuel": 605}
    assert rows["projection"].notna().all()  # the SaberSim projection is kept
    fried = rows[(rows["pitcher_name"] == "Max Fried") & (rows["game_date"] == "2022-06-14")]
    fried = fried.iloc[0]
    assert (fried["book"], fried["line"], fried["over_odds"], fried["under_odds"]) == (
        "DraftKings",
        5.5,
        110,
        -145,
    )
    assert (fried["projection"], fried["pitcher_id"], fried["team"]) == (4.78, 608331, "ATL")
    assert fried["game_id"] == "WAS202206140"
    # file line 964 has Over_Odds 1.4: kept, that price missing, a note says so
    peterson = rows[
        (rows["pitcher_name"] == "David Peterson") & (rows["game_date"] == "2022-08-06")
    ]
    assert pd.isna(peterson["over_odds"].iloc[0]) and peterson["under_odds"].iloc[0] == -132
    assert any("line 964" in note for note in report.notes)
    # misspelled names resolved through the team's starter that day
    kilian = rows[rows["pitcher_name"] == "Calb Kilian"]
    assert set(kilian["pitcher_id"]) == {668873} and kilian["game_id"].notna().all()

    rep = line_match_report(wh2022, "steveliang")
    # 14 pitchers did not pitch that day (six started a day or two later; Shane McClanahan
    # on 2022-08-30 was announced and scratched before throwing a pitch, which Retrosheet's own
    # pitching.csv does not count as an appearance), one pitched in relief
    assert (rep.total, rep.matched) == (1413, 1398)
    assert rep.reasons == {"no_appearance": 14, "relief": 1}
    assert set(rep.unmatched["pitcher_id"].dropna()) >= {650644, 669461}  # Civale, Liberatore


def test_strikeoutcenter_2025_open_and_close(wh2025, register) -> None:
    report = ingest_lines(wh2025, SOC, register)
    assert report.stats["format"] == "strikeoutcenter"
    # 47,073 file rows; 10 pitcher lines appear under two events on one date and merge
    assert wh2025.count("prop_lines") == 2 * 47_063
    assert any("two events" in note for note in report.notes)
    row = wh2025.query(
        "SELECT * FROM prop_lines WHERE pitcher_name = 'Lance McCullers Jr.' "
        "AND game_date = '2025-06-03' AND book = 'BetRivers' AND line = 3.5 ORDER BY snapshot"
    )
    close, opening = row.iloc[0], row.iloc[1]
    assert (opening["snapshot"], opening["over_odds"], opening["under_odds"]) == ("open", -500, 320)
    assert opening["captured_at"] == pd.Timestamp("2025-06-03 21:28:48.404673")  # 17:28 EDT
    assert close["captured_at"] == pd.Timestamp("2025-06-03 22:22:36.434702")
    assert not close["is_main"] and close["event_id"] == "692d0ad06ef3a063cffe6d8cc0f923eb"
    # McCullers Sr. is in the register too; the son started for Houston at Pittsburgh
    assert (close["pitcher_id"], close["team"], close["game_id"]) == (621121, "HOU", "PIT202506030")
    # a re-listed game: open from the first capture, close from the last one
    olson = wh2025.query(
        "SELECT snapshot, over_odds, under_odds, captured_at, event_id FROM prop_lines "
        "WHERE pitcher_name = 'Reese Olson' AND game_date = '2025-07-09' "
        "AND book = 'BetOnline.ag' AND line = 4.5 ORDER BY snapshot"
    )
    assert olson["over_odds"].tolist() == [-125, -139]  # close, open
    assert olson["event_id"].tolist() == ["0ddff94d96e91cecded6fe24a11f5519"] + [
        "28c2ccef28f91ad364242fd3a55c24b4"
    ]


def test_2025_consensus_main_lines_match_rate(wh2025, register) -> None:
    """The headline number of docs/sources/lines.md."""
    ingest_lines(wh2025, SOC, register)
    rep = line_match_report(
        wh2025, "strikeoutcenter", book="consensus", snapshot="close", main_only=True
    )
    assert (rep.total, rep.matched) == (3153, 2995)
    assert rep.reasons == {"no_games": 94, "no_appearance": 64}
    no_games = rep.unmatched[rep.unmatched["reason"] == "no_games"]
    postseason = no_games["game_date"] > pd.Timestamp("2025-09-28")
    assert postseason.sum() == 92  # the statcast start log has the regular season only
    assert set(no_games.loc[~postseason, "game_date"]) == {pd.Timestamp("2025-07-15")}  # ASG
    regular = rep.total - 94
    assert rep.matched / regular > 0.97
    # "Daniel Davis" is the Braves' Davis Daniel
    davis = wh2025.query(
        "SELECT DISTINCT pitcher_id, team FROM prop_lines WHERE pitcher_name = 'Daniel Davis'"
    )
    assert davis.values.tolist() == [[669721, "ATL"]]


def test_rerun_changes_no_row_count(wh2025, register) -> None:
    ingest_lines(wh2025, SOC, register)
    before = _counts(wh2025)
    report = ingest_lines(wh2025, SOC, register)
    assert _counts(wh2025) == before
    assert report.inserted == 0 and report.updated == before["prop_lines"]


def test_lines_before_starts_then_rematch(register, tmp_path: Path) -> None:
    """Lines stored before their starts are matched by lines-rematch, adding no row."""
    wh = open_warehouse()
    small = _head(SOC, tmp_path / "soc.csv", 400)
    ingest_lines(wh, small, register)
    assert wh.query("SELECT COUNT(game_id) AS n FROM prop_lines")["n"].iloc[0] == 0
    rows = wh.count("prop_lines")
    ingest_starts(wh, STARTS, seasons=[2025])
    stale = line_match_report(wh, "strikeoutcenter")
    assert stale.reasons.get("stale", 0) > 0
    rematch_lines(wh, register, "strikeoutcenter")
    assert wh.count("prop_lines") == rows
    fresh = line_match_report(wh, "strikeoutcenter")
    assert "stale" not in fresh.reasons and fresh.matched > 0.9 * fresh.total
    # the same as loading the starts first
    other = open_warehouse(str(tmp_path / "other.duckdb"))
    ingest_starts(other, STARTS, seasons=[2025])
    ingest_lines(other, small, register)
    assert line_match_report(other, "strikeoutcenter").matched == fresh.matched


# --------------------------------------------------------------------------------------------
# kcast's own CSV
# --------------------------------------------------------------------------------------------


GENERIC_LONG = """game_date,pitcher_name,pitcher_id,team,opponent,book,line,over_odds,under_odds,snapshot,captured_at,is_main
2025-06-03,Lance McCullers Jr.,,HOU,PIT,DraftKings,4.5,-125,-105,open,2025-06-03T10:05:00-04:00,1
2025-06-03,Lance McCullers Jr.,,HOU,PIT,DraftKings,4.5,-120,-110,close,2025-06-03T18:20:00-04:00,1
2025-06-03,,621121,,,FanDuel,4.5,+100,-130,posted,,
2025-06-03,Carlos Rodon,,NYY,LAA,DraftKings,6.5,EVEN,-130,close,2025-06-03T21:00:00Z,1
"""

GENERIC_WIDE = """game_date,pitcher_name,team,book,line,open_over_odds,open_under_odds,close_over_odds,close_under_odds,open_captured_at,close_captured_at,projection
2025-06-03,Lance McCullers Jr.,HOU,BetMGM,4.5,-115,-115,-130,+100,2025-06-03T09:00:00-04:00,2025-06-03T18:00:00-04:00,4.9
2025-06-03,Carlos Rodon,NYY,BetMGM,6.5,,,-105,-125,,2025-06-03T21:00:00Z,
"""


def test_generic_csv_both_layouts(wh2025, register, tmp_path: Path) -> None:
    long = tmp_path / "long.csv"
    long.write_text(GENERIC_LONG)
    wide = tmp_path / "wide.csv"
    wide.write_text(GENERIC_WIDE)
    ingest_lines(wh2025, long, register)
    ingest_lines(wh2025, wide, register)
    rows = wh2025.query("SELECT * FROM prop_lines ORDER BY book, pitcher_name, snapshot")
    assert len(rows) == 4 + 3  # the wide file's Rodon row has no open price
    assert set(rows["source"]) == {"csv"}
    by = {(r.book, r.pitcher_name, r.snapshot): r for r in rows.itertuples()}
    opening = by[("DraftKings", "Lance McCullers Jr.", "open")]
    assert (opening.over_odds, opening.under_odds, opening.is_main) == (-125, -105, True)
    assert opening.captured_at == pd.Timestamp("2025-06-03 14:05:00")
    assert opening.pitcher_id == 621121 and opening.game_id == "PIT202506030"
    # a row with only an id gets the register's name
    fd = by[("FanDuel", "Lance McCullers", "posted")]
    assert (fd.pitcher_id, fd.over_odds, fd.game_id) == (621121, 100, "PIT202506030")
    assert by[("DraftKings", "Carlos Rodon", "close")].over_odds == 100  # EVEN
    mgm = by[("BetMGM", "Lance McCullers Jr.", "close")]
    assert (mgm.under_odds, mgm.projection) == (100, 4.9)
    assert ("BetMGM", "Carlos Rodon", "open") not in by


# --------------------------------------------------------------------------------------------
# Bad input: named by file and line, nothing written
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "edit", "line", "message"),
    [
        (SOC, (7, ",5.5,BetRivers,", ",five,BetRivers,"), 8, "line 'five' is not a strikeout line"),
        (SOC, (3, ",-220,160,", ",-220,abc,"), 4, "open_under_odds 'abc' is not American odds"),
        (SOC, (5, "2025-06-03,2025", "2025-13-03,2025"), 6, "game_date '2025-13-03' is not a date"),
        (
            SOC,
            (9, "Houston Astros", "Houston Spacemen"),
            10,
            "unknown team code 'Houston Spacemen'",
        ),
        (SOC, (2, "-04:00,-500", "yesterday,-500"), 3, "is not an ISO 8601 time"),
        (STEVE, (5, ",5.5,", ",5.5.5,"), 6, "OU '5.5.5' is not a strikeout line"),
        (STEVE, (2, "6/14/2022", "6/31/2022"), 3, "Date '6/31/2022' is not a date"),
        (STEVE, (2, ",-130,", ",minus130,"), 3, "Under_Odds 'minus130' is not American odds"),
        (STEVE, (8, "6/14/2022,", "6/14/2022,XYZ"), 9, "unknown team code"),
    ],
)
def test_bad_value_names_file_and_line(
    wh2025, register, tmp_path: Path, src: Path, edit, line: int, message: str
) -> None:
    ingest_lines(wh2025, _head(src, tmp_path / "good.csv", 12), register)
    before = _counts(wh2025)
    bad = _head(src, tmp_path / "bad.csv", 12, edit)
    with pytest.raises(InputError, match=message) as info:
        ingest_lines(wh2025, bad, register)
    assert info.value.line == line
    assert "bad.csv" in str(info.value) and f"line {line}" in str(info.value)
    assert _counts(wh2025) == before


def test_missing_column(wh2025, register, tmp_path: Path) -> None:
    frame = pd.read_csv(SOC, nrows=20, dtype=str, keep_default_na=False)
    path = tmp_path / "nocol.csv"
    frame.drop(columns=["close_under_odds"]).to_csv(path, index=False)
    before = _counts(wh2025)
    with pytest.raises(InputError, match="missing columns: close_under_odds") as info:
        ingest_lines(wh2025, path, register)
    assert info.value.line == 1 and "nocol.csv" in str(info.value)
    assert _counts(wh2025) == before


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("game_date,book,line,over_odds\n", 1, "pitcher_name or a pitcher_id"),
        (
            "game_date,pitcher_name,book,line,over_odds,under_odds\n"
            "2025-06-03,Carlos Rodon,DraftKings,6.5,-110,-110\n"
            "2025-06-03,Carlos Rodon,DraftKings,6.5,-115,-105\n",
            3,
            "lines 2, 3 give the same price twice",
        ),
        (
            "game_date,pitcher_name,book,line,over_odds,under_odds,snapshot\n"
            "2025-06-03,Carlos Rodon,DraftKings,6.5,-110,-110,closing\n",
            2,
            "snapshot 'closing' is not open, close or posted",
        ),
        (
            "game_date,pitcher_name,book,line,over_odds,under_odds\n"
            "2025-06-03,Carlos Rodon,DraftKings,6.5,1.91,-110\n",
            2,
            "over_odds '1.91' is not American odds",
        ),
        (
            "game_date,pitcher_name,book,line,over_odds,under_odds\n"
            "06/03/2025,Carlos Rodon,DraftKings,6.5,-110,-110\n",
            2,
            "game_date '06/03/2025' is not a date",
        ),
    ],
)
def test_bad_generic_file(register, tmp_path: Path, text: str, line: int, message: str) -> None:
    wh = open_warehouse()
    path = tmp_path / "generic.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        ingest_lines(wh, path, register)
    assert info.value.line == line and "generic.csv" in str(info.value)
    assert wh.count("prop_lines") == 0


def test_format_detection_and_choice(tmp_path: Path) -> None:
    assert read_lines(_head(SOC, tmp_path / "a.csv", 3)).format == "strikeoutcenter"
    assert read_lines(_head(STEVE, tmp_path / "b.csv", 3)).format == "steveliang"
    with pytest.raises(InputError, match="missing columns"):
        read_lines(_head(SOC, tmp_path / "c.csv", 3), fmt="steveliang")
    unknown = tmp_path / "d.csv"
    unknown.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="cannot tell the format") as info:
        read_lines(unknown)
    assert "d.csv" in str(info.value)


def test_matching_works_on_date_objects() -> None:
    """The ingest's dates are datetime.date, as the matcher's appearance index keys them."""
    parsed = read_lines(STEVE)
    assert isinstance(parsed.frame["game_date"].iloc[0], dt.date)


def test_cli_lines_and_report(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kcast.cli import app

    runner = CliRunner()
    small = _head(STEVE, tmp_path / "steve.csv", 30)
    result = runner.invoke(app, ["ingest", "lines", str(small), "--format", "steveliang"])
    assert result.exit_code == 0, result.output
    assert "prop_lines" in result.output and "posted rows: 30" in result.output
    result = runner.invoke(app, ["ingest", "lines-report", "--source", "steveliang"])
    assert result.exit_code == 0, result.output
    # no 2022 starts in this warehouse: the lines wait for their starts; the misspelled
    # "Trevor Rodgers" needs his team's pitchers of the day to be found
    assert "0 of 30 lines matched to a start" in result.output
    assert "no_games: 29" in result.output and "unknown_name: 1" in result.output
