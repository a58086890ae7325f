"""Prices no sportsbook posts, NUL bytes and dates outside the seasons kcast knows are refused at
ingest, naming the file and line, and nothing is stored (issue 24, items 6, 7 and 11); a price
of that kind already stored by an older kcast is skipped, never bet on."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kcast.data.lines import ingest_lines
from kcast.data.odds_api import parse_event_odds
from kcast.data.starts import ingest_starts
from kcast.errors import InputError
from kcast.warehouse import open_warehouse
from tests.integration.test_cli_mistakes import kcast
from tests.integration.test_lines import SOC, STARTS, _counts, _head

HEADER = "game_date,pitcher_name,book,line,over_odds,under_odds\n"
# a price no book posts, stored as an older kcast did (it refused nothing)
JUNK_LINE = {
    "source": "csv",
    "game_date": dt.date(2019, 7, 13),
    "pitcher_name": "Wade LeBlanc",
    "book": "JunkBook",
    "line": 6.5,
    "snapshot": "posted",
    "pitcher_id": 453281,
    "over_odds": 999_999,
    "under_odds": 999_999,
}
ROW = "2025-06-03,Carlos Rodon,DraftKings,6.5,{over},{under}\n"


@pytest.fixture
def wh2025():
    """This test's warehouse with the real 2025 starts (Statcast start log)."""
    wh = open_warehouse()
    ingest_starts(wh, STARTS, seasons=[2025])
    return wh


def _generic(tmp_path: Path, *rows: str, name: str = "generic.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((HEADER + "".join(rows)).encode())
    return path


def _good(tmp_path: Path) -> Path:
    return _generic(tmp_path, ROW.format(over=-110, under=-110), name="good.csv")


# --- 6 and 7: odds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "under", "message"),
    [
        ("-110000000000000000000000", "-110", r"over_odds '-110000000000000000000000' is no "),
        ("+999999", "+999999", r"over_odds '\+999999' is no sportsbook price"),
        ("-110", "-9999999999", r"under_odds '-9999999999' is no sportsbook price"),
        ("+9000", "+9000", r"implied probabilities sum to 2\.2%, a sure profit"),
        ("+10000", "-10000", r"no-vig P\(over\) 0\.99% is outside 1%\.\.99%"),
    ],
)
def test_absurd_odds_are_refused_naming_the_line(
    wh2025, register, tmp_path: Path, over: str, under: str, message: str
) -> None:
    ingest_lines(wh2025, _good(tmp_path), register)
    before = _counts(wh2025)
    rows = [
        ROW.format(over=-120, under=100).replace("6.5", "5.5"),
        ROW.format(over=over, under=under),
    ]
    path = _generic(tmp_path, *rows)
    with pytest.raises(InputError, match=message) as info:
        ingest_lines(wh2025, path, register, allow_unmatched=True)
    assert info.value.line == 3 and "generic.csv, line 3" in str(info.value)
    assert _counts(wh2025) == before


def test_the_real_files_odds_all_pass(wh2025, register, tmp_path: Path) -> None:
    # the strikeoutcenter file's widest prices (-6226, +400; implied sums up to 1.96) are real
    report = ingest_lines(wh2025, _head(SOC, tmp_path / "soc.csv", 2_000), register)
    assert report.inserted > 0


def test_an_absurd_close_price_in_the_odds_api_export_names_its_line(
    wh2025, register, tmp_path: Path
) -> None:
    good = _head(SOC, tmp_path / "soc.csv", 12)
    header = good.read_text().splitlines()[0].split(",")
    column = header.index("close_over_odds")
    lines = good.read_text().splitlines()
    fields = lines[6].split(",")
    fields[column] = "+999999"
    lines[6] = ",".join(fields)
    bad = tmp_path / "soc_bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    before = _counts(wh2025)
    with pytest.raises(InputError, match=r"close_over_odds '\+999999' is no sportsbook") as info:
        ingest_lines(wh2025, bad, register)
    assert info.value.line == 7
    assert _counts(wh2025) == before


def test_the_cli_says_which_line_not_a_traceback(monkeypatch, capsys, tmp_path: Path) -> None:
    path = _generic(tmp_path, ROW.format(over="-110000000000000000000000", under=-110))
    code, out = kcast(monkeypatch, capsys, "ingest", "lines", str(path), "--allow-unmatched")
    text = " ".join(out.split())
    assert code == 1, out
    assert "generic.csv, line 2: over_odds '-110000000000000000000000' is no sportsbook" in text
    assert "Traceback" not in out and "cannot safely cast" not in out
    assert open_warehouse().count("prop_lines") == 0


def test_odds_api_prices_and_dates_are_checked_too() -> None:
    def event(price: object, commence: str = "2025-06-03T23:05:00Z") -> dict:
        outcomes = [
            {"name": "Over", "description": "Carlos Rodon", "point": 6.5, "price": price},
            {"name": "Under", "description": "Carlos Rodon", "point": 6.5, "price": -110},
        ]
        market = {"key": "pitcher_strikeouts", "outcomes": outcomes}
        return {
            "id": "ev1",
            "commence_time": commence,
            "home_team": "New York Yankees",
            "away_team": "Cleveland Guardians",
            "bookmakers": [{"key": "junk", "title": "JunkBook", "markets": [market]}],
        }

    now = dt.datetime(2025, 6, 3, 12)
    assert len(parse_event_odds(event(-120), now, "api")) == 1
    with pytest.raises(InputError, match=r"JunkBook, Carlos Rodon over 6\.5: over \+999999 is no"):
        parse_event_odds(event(999_999), now, "api")
    with pytest.raises(InputError, match=r"over \+9000 / under \+9000 .* a sure profit"):
        parse_event_odds(_both(event(9_000), 9_000), now, "api")
    with pytest.raises(InputError, match="outside the seasons kcast knows"):
        parse_event_odds(event(-120, "2099-07-01T23:05:00Z"), now, "api")


def _both(event: dict, price: int) -> dict:
    for outcome in event["bookmakers"][0]["markets"][0]["outcomes"]:
        outcome["price"] = price
    return event


# --- 11: NUL bytes and dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2025-06-03,Carlos\x00Rodon,DraftKings,6.5,-110,-110\n", "pitcher_name has a NUL byte"),
        ("2025-06-03,Carlos Rodon,Draft\x00Kings,6.5,-110,-110\n", "book has a NUL byte"),
        ("2025-06-03,Carlos Rodon,DraftKings\x1b[31m,6.5,-110,-110\n", r"book has the control"),
        ("0001-01-01,Carlos Rodon,DraftKings,6.5,-110,-110\n", "'0001-01-01' is outside the"),
        ("2099-07-01,Carlos Rodon,DraftKings,6.5,-110,-110\n", "'2099-07-01' is outside the"),
        ("1870-12-31,Carlos Rodon,DraftKings,6.5,-110,-110\n", "seasons kcast knows"),
    ],
)
def test_nul_bytes_and_unknown_seasons_are_refused_even_unmatched(
    wh2025, register, tmp_path: Path, row: str, message: str
) -> None:
    ingest_lines(wh2025, _good(tmp_path), register)
    before = _counts(wh2025)
    path = _generic(tmp_path, ROW.format(over=-115, under=-105).replace("6.5", "4.5"), row)
    with pytest.raises(InputError, match=message) as info:
        ingest_lines(wh2025, path, register, allow_unmatched=True)
    assert info.value.line == 3 and "generic.csv" in str(info.value)
    assert _counts(wh2025) == before
    stored = wh2025.query("SELECT pitcher_name, book, game_date FROM prop_lines")
    assert not stored["pitcher_name"].str.contains("\x00").any()
    assert not stored["book"].str.contains("\x00").any()


# --- 7: a price an older kcast stored is never bet on ---------------------------------------------


def test_a_stored_absurd_price_is_skipped_not_bet(
    trained_warehouse: Path, tmp_path: Path, monkeypatch, capsys, caplog
) -> None:
    path = tmp_path / "older.duckdb"
    shutil.copy(trained_warehouse, path)
    wh = open_warehouse(str(path))
    wh.upsert("prop_lines", pd.DataFrame([JUNK_LINE]))
    wh.close()
    monkeypatch.setenv("KCAST_WAREHOUSE", str(path))
    code, out = kcast(monkeypatch, capsys, "predict", "--date", "2019-07-13")
    assert code == 0, out
    warned = [r.getMessage() for r in caplog.records if r.name == "kcast.market"]
    assert warned and "skipped 1 stored quote(s) that are no sportsbook price" in warned[0]
    assert "pitcher 453281 on 2019-07-13, JunkBook line 6.5: over +999999" in warned[0]
    wh = open_warehouse(str(path))
    bets = wh.query("SELECT odds FROM bets") if wh.table_exists("bets") else pd.DataFrame()
    assert bets.empty or not (bets["odds"].abs() > 10_000).any(), bets
    priced = wh.query(
        "SELECT over_odds FROM pitcher_strikeout_predictions WHERE pitcher_id = 453281"
    )
    assert len(priced) and not (priced["over_odds"].fillna(0).abs() > 10_000).any()
