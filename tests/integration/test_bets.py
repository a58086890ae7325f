"""Bets on the real 2025 lines (eight books, open and close): decisions at a time use only the
quotes captured before it, line shopping, the ledger written idempotently, graded, and shown."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson
from typer.testing import CliRunner

from kcast.bet_metrics import record
from kcast.bets import (
    BetRules,
    decide_bets,
    devig_log_losses,
    grade_bets,
    ledger_rows,
    write_ledger,
)
from kcast.cli import app
from kcast.config import Settings
from kcast.data.lines import ingest_lines
from kcast.data.starts import ingest_starts
from kcast.market import DecisionTime, quotes_at
from kcast.pipeline import day_starters
from kcast.policy import DEVIG_METHODS
from kcast.prices import attach_prices, stored_lines
from kcast.service import BackgroundServer, create_app
from kcast.systems.base import SystemOutput
from kcast.warehouse import open_warehouse
from tests.conftest import PROPS, STATCAST

SOC = PROPS / "strikeoutcenter_k_props_2025.csv.gz"
STARTS = STATCAST / "joey11600_starts_2024_2025.csv.gz"
FIRST, LAST = dt.date(2025, 7, 1), dt.date(2025, 7, 3)


@pytest.fixture(scope="module")
def wh_path(tmp_path_factory: pytest.TempPathFactory, register) -> Path:
    """The real 2025 starts and the real lines of 1-3 July 2025 (every book, open and close)."""
    root = tmp_path_factory.mktemp("bets")
    lines = pd.read_csv(SOC)
    days = pd.to_datetime(lines["game_date"]).dt.date
    part = root / "lines.csv"
    lines[(days >= FIRST) & (days <= LAST)].to_csv(part, index=False)
    path = root / "bets.duckdb"
    wh = open_warehouse(str(path))
    ingest_starts(wh, STARTS, seasons=[2025])
    ingest_lines(wh, part, register)
    wh.close()
    return path


@pytest.fixture
def wh(wh_path: Path, tmp_path: Path):
    import shutil

    copy = tmp_path / "w.duckdb"
    shutil.copy(wh_path, copy)
    w = open_warehouse(str(copy))
    yield w
    w.close()


def test_a_decision_uses_only_quotes_captured_before_it(wh) -> None:
    every = stored_lines(wh, FIRST)
    assert set(every["book"]) >= {"DraftKings", "FanDuel", "BetMGM", "BetRivers", "consensus"}
    opening = stored_lines(wh, FIRST, at="open")
    assert set(opening["snapshot"]) == {"open"}
    at = DecisionTime.parse("15:00")
    early = stored_lines(wh, FIRST, at=at)
    assert len(early) and (pd.to_datetime(early["captured_at"]) <= at.cutoff(FIRST)).all()
    # one quote per book and line: the latest before the time
    assert not early.duplicated(["pitcher_id", "book", "line"]).any()
    closing = quotes_at(every, "close")
    assert not closing.duplicated(["pitcher_id", "book", "line"]).any()
    assert (closing["snapshot"] == "close").mean() > 0.9


def test_prices_at_the_open_are_the_stored_opening_prices_of_their_line(wh) -> None:
    starters = day_starters(wh, FIRST)
    at_open = attach_prices(wh, starters, at="open")
    at_close = attach_prices(wh, starters, at="close")
    as_before = attach_prices(wh, starters)
    pd.testing.assert_frame_equal(at_close, as_before)  # close is the rule kcast always had
    stored = wh.query(
        "SELECT pitcher_id, book, line, over_odds, under_odds FROM prop_lines "
        "WHERE game_date = $d AND snapshot = 'open'",
        {"d": FIRST},
    )
    priced = at_open.dropna(subset=["over_odds", "under_odds"])
    assert len(priced) > 20
    check = priced.merge(stored, on=["pitcher_id", "book", "line"], suffixes=("", "_stored"))
    assert len(check) == len(priced)  # every price belongs to its own book's opening line
    assert (check["over_odds"] == check["over_odds_stored"]).all()
    moved = priced.merge(
        at_close[["pitcher_id", "over_odds"]], on="pitcher_id", suffixes=("", "_close")
    )
    assert (moved["over_odds"] != moved["over_odds_close"]).any()  # prices moved by the close


def test_devig_log_losses_on_real_lines(wh) -> None:
    quotes = stored_lines(wh, FIRST, LAST, at="close")
    actual = wh.query(
        "SELECT pitcher_id, game_date, strikeouts FROM pitcher_games WHERE is_start "
        "AND game_date BETWEEN $a AND $b",
        {"a": FIRST, "b": LAST},
    )
    actual["game_date"] = pd.to_datetime(actual["game_date"])
    actual["pitcher_id"] = actual["pitcher_id"].astype("int64")
    ll = devig_log_losses(quotes, actual)
    assert ll["n"] > 60
    for method in DEVIG_METHODS:
        assert 0.6 < ll[method] < 0.75


def _output(wh, day: dt.date, shift: float) -> dict[str, SystemOutput]:
    """A stand-in system: a Poisson distribution at the consensus line plus ``shift``."""
    rows = attach_prices(wh, day_starters(wh, day), at="open").dropna(subset=["line"])
    rows = rows.reset_index(drop=True)
    pmf = np.array([poisson.pmf(np.arange(21), max(0.5, ln + shift)) for ln in rows["line"]])
    pmf /= pmf.sum(axis=1, keepdims=True)
    po = np.array([pmf[i, int(ln) + 1 :].sum() for i, ln in enumerate(rows["line"])])
    frame = rows[["game_id", "pitcher_id", "game_date", "line"]].assign(
        p_over=po, p_under=1 - po, red_flags=""
    )
    return {"stand_in": SystemOutput("stand_in", frame, pmf, "v")}


def test_bets_shop_every_book_and_rung_and_the_ledger_is_idempotent(wh) -> None:
    out = _output(wh, FIRST, 1.0)
    quotes = stored_lines(wh, FIRST, at="open")
    bets = decide_bets(out, quotes, BetRules(min_ev=0.0))
    assert len(bets) > 10 and bets["bet"].any()
    assert "consensus" not in set(bets["book"])
    # the price taken is the best of that side and rung among the books
    for b in bets.head(10).to_dict("records"):
        same = quotes[(quotes["pitcher_id"] == b["pitcher_id"]) & (quotes["line"] == b["line"])]
        same = same[same["book"] != "consensus"]
        col = "over_odds" if b["side"] == "OVER" else "under_odds"
        dec = same[col].dropna().map(lambda o: 1 + (o / 100 if o > 0 else 100 / -o))
        assert b["dec"] == pytest.approx(dec.max())
    only = decide_bets(out, quotes, BetRules(books=("FanDuel",), min_ev=0.0))
    assert set(only["book"]) == {"FanDuel"}
    # the ledger: written twice, one row per bet
    rows = ledger_rows(bets.assign(stake=0.01), "open", "predict")
    assert write_ledger(wh, rows) == len(rows)
    write_ledger(wh, rows)
    assert wh.count("bets") == len(rows) == int(bets["bet"].sum())
    # graded with what happened and the fair close
    grade_bets(wh, FIRST)
    graded = wh.query("SELECT * FROM bets")
    assert graded["result"].isin(["win", "loss", "push"]).all()
    assert graded["fair_p_close"].notna().mean() > 0.5
    closed = graded.dropna(subset=["fair_p_close", "fair_p_decision"])
    assert np.allclose(closed["clv"], closed["fair_p_close"] - closed["fair_p_decision"])
    won = graded[graded["result"] == "win"]
    assert (won["profit"] > 0).all()
    perf = wh.query("SELECT * FROM bet_performance WHERE cut = 'all' AND time_window = 'all'")
    assert int(perf["bets"].iloc[0]) == len(graded)
    from kcast.cli import app

    shown = CliRunner().invoke(app, ["bets", "--warehouse", wh.url, "--by", "book"])
    assert shown.exit_code == 0, shown.output
    assert "graded bets" in shown.output


def _decided(wh, day: dt.date, shift: float, settings, at: str = "open"):  # noqa: ANN001, ANN202
    """The stand-in system's rows decided as the forecaster decides them (its decision stage:
    each row against its start's quotes at ``at``; stakes per day) with its own
    probability."""
    from kcast.context import DecisionContext
    from kcast.decisions import MarketBlend
    from kcast.forecast import Forecast, Forecaster, WarehouseReader, stake
    from kcast.systems.base import build_output

    context = DecisionContext.from_settings(settings, at)
    out = _output(wh, day, shift)["stand_in"]
    rows = attach_prices(wh, day_starters(wh, day), at=at).dropna(subset=["line"])
    rows = rows.reset_index(drop=True)
    markets = Forecaster(WarehouseReader(wh), {}, context).markets([day])
    own = MarketBlend.model_only()
    decided = build_output("stand_in", "v", rows, out.pmf, context, blend=own, markets=markets)
    stake(decided, context)
    return Forecast(day, rows, context, {"stand_in": decided}, markets=markets)


def test_the_forecasters_sink_is_the_one_call_for_predict_and_the_daily_job(wh) -> None:
    from kcast.config import Settings
    from kcast.forecast import WarehouseSink

    settings = Settings(_env_file=None, books="DraftKings,FanDuel", min_bet_ev=0.0)
    forecast = _decided(wh, FIRST, 1.0, settings)
    n = WarehouseSink(wh, "daily").store(forecast).bets
    assert n > 0
    assert WarehouseSink(wh, "daily").store(forecast).bets == n
    stored = wh.query("SELECT * FROM bets")
    assert len(stored) == n and set(stored["book"]) <= {"DraftKings", "FanDuel"}
    assert (stored["stake"] > 0).all() and stored.groupby("game_date")["stake"].sum().max() <= 0.1
    assert set(stored["decision_time"]) == {"open"} and set(stored["source"]) == {"daily"}
    # the prediction rows carry the same bets, in one vocabulary
    rows = wh.query("SELECT * FROM pitcher_strikeout_predictions WHERE decision = 'bet'")
    assert len(rows) == n and (rows["recommendation"] != "PASS").all()
    both = rows.merge(stored, on=["system_id", "game_id", "pitcher_id"])
    assert (both["recommendation"] == both["side"]).all()
    assert (both["decision_line"] == both["line_y"]).all()
    assert np.allclose(both["stake_x"], both["stake_y"])


def test_a_rerun_leaves_exactly_the_bets_it_takes_and_keeps_placed_ones(wh) -> None:
    from kcast.bets import bet_keys
    from kcast.config import Settings
    from kcast.forecast import WarehouseSink

    def record_bets(day: dt.date, settings: Settings) -> int:
        return WarehouseSink(wh, "predict").store(_decided(wh, day, 1.0, settings)).bets

    def ledger(day: dt.date, strategy: str = "ev") -> pd.DataFrame:
        return wh.query(
            "SELECT * FROM bets WHERE game_date = $d AND strategy = $s", {"d": day, "s": strategy}
        )

    def keys(frame: pd.DataFrame) -> set:
        return set(bet_keys(frame))

    loose = Settings(_env_file=None, min_bet_ev=0.0)
    assert record_bets(FIRST, loose) > 0
    other_day = record_bets(LAST, loose)
    assert other_day > 0
    first = ledger(FIRST)
    # the re-run asks for more value: it takes about half the bets of the first run
    strict = Settings(_env_file=None, min_bet_ev=float(first["ev"].median()))
    wh.upsert("bets", first.head(2).drop(columns=["graded_at"]).assign(strategy="move"))
    taken = _decided(wh, FIRST, 1.0, strict).ledger("predict")
    dropped = first[~first["pitcher_id"].astype(int).isin(taken["pitcher_id"].astype(int))]
    assert len(taken) > 2 and len(dropped) > 3  # the stricter re-run takes fewer bets
    # one dropped bet graded, one in a game under way: placed bets, kept as they are
    graded, live = dropped.iloc[0], dropped.iloc[1]
    wh.execute(
        "UPDATE bets SET result = 'loss' WHERE pitcher_id = $p AND game_date = $d",
        {"p": int(graded["pitcher_id"]), "d": FIRST},
    )
    wh.execute("UPDATE games SET status = 'in_progress' WHERE game_id = $g", {"g": live["game_id"]})
    in_live = first[first["game_id"] == live["game_id"]]

    n = record_bets(FIRST, strict)
    after = ledger(FIRST)
    placed = {(graded["system_id"], graded["game_id"], int(graded["pitcher_id"]))} | keys(in_live)
    assert keys(after) == (keys(taken) - keys(in_live)) | placed
    assert n == len(keys(taken) - placed)
    kept = after.set_index("pitcher_id").loc[int(graded["pitcher_id"])]
    assert kept["result"] == "loss" and kept["ev"] == pytest.approx(graded["ev"])
    # idempotent; other days and strategies untouched
    assert record_bets(FIRST, strict) == n
    assert keys(ledger(FIRST)) == keys(after)
    assert len(ledger(LAST)) == other_day and len(ledger(FIRST, "move")) == 2


# --- one set of numbers: a graded week on every screen ---------------------------------------

WEEK_END = FIRST + dt.timedelta(days=6)
SCREEN_KEYS = ("bets", "wlp", "units", "roi_flat", "roi_staked", "clv")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory, register) -> tuple[Path, pd.DataFrame]:
    """A graded week: the real 2025 starts and lines of 1-7 July, the stand-in system's bets of
    each day stored as ``kcast predict`` stores them, one of them made a lean (the edge gate's:
    in the ledger, in no money figure), graded by ``kcast grade``. Returns the warehouse and
    the ledger's bets (status bet) as graded."""
    from kcast.forecast import WarehouseSink

    root = tmp_path_factory.mktemp("week")
    lines = pd.read_csv(SOC)
    days = pd.to_datetime(lines["game_date"]).dt.date
    part = root / "lines.csv"
    lines[(days >= FIRST) & (days <= WEEK_END)].to_csv(part, index=False)
    path = root / "week.duckdb"
    wh = open_warehouse(str(path))
    ingest_starts(wh, STARTS, seasons=[2025])
    ingest_lines(wh, part, register)
    loose = Settings(_env_file=None, min_bet_ev=0.0)
    day = FIRST
    while day <= WEEK_END:
        WarehouseSink(wh, "predict").store(_decided(wh, day, 1.0, loose))
        day += dt.timedelta(days=1)
    lean = wh.query("SELECT game_id, pitcher_id FROM bets ORDER BY game_date, game_id LIMIT 1")
    wh.execute(
        "UPDATE bets SET status = 'lean' WHERE game_id = $g AND pitcher_id = $p",
        {"g": lean["game_id"].iloc[0], "p": int(lean["pitcher_id"].iloc[0])},
    )
    wh.close()
    graded = CliRunner().invoke(
        app, ["grade", "--date", str(FIRST), "--end", str(WEEK_END), "-w", str(path)]
    )
    assert graded.exit_code == 0, graded.output
    wh = open_warehouse(str(path), read_only=True)
    bets = wh.query("SELECT * FROM bets WHERE strategy = 'ev' AND status = 'bet'")
    leans = wh.query("SELECT * FROM bets WHERE status = 'lean' AND result IS NOT NULL")
    wh.close()
    assert bets["result"].isin(["win", "loss", "push"]).sum() > 30 and len(leans) == 1
    return path, bets


def _row_cells(output: str, first: str, *more: str) -> list[str]:
    """The last six cells of the table row that starts with ``first`` (then ``more``)."""
    for line in output.splitlines():
        cells = line.split()
        if cells[: 1 + len(more)] == [first, *more]:
            return cells[-len(SCREEN_KEYS) :]
    raise AssertionError(f"no row {first} {' '.join(more)} in:\n{output}")


def test_one_graded_week_shows_the_same_numbers_on_every_screen(week) -> None:
    """`kcast grade`, `kcast bets`, the bets_by_system query (the bet_performance view) and
    the dashboard's performance page show the week's graded bets with the same W-L-P, units,
    ROI flat and staked and CLV: bet_metrics.record of the ledger's bets (the lean in none)."""
    path, bets = week
    want = record(bets)
    assert want.bets > 30 and want.roi_staked is not None and want.clv is not None
    expected = [want.cells()[k] for k in SCREEN_KEYS]
    wide = {"COLUMNS": "200"}
    runner = CliRunner()
    graded = runner.invoke(
        app, ["grade", "--date", str(FIRST), "--end", str(WEEK_END), "-w", str(path)], env=wide
    )
    assert graded.exit_code == 0, graded.output
    assert _row_cells(graded.output, "stand_in") == expected, graded.output
    ledger = runner.invoke(app, ["bets", "-w", str(path)], env=wide)
    assert ledger.exit_code == 0, ledger.output
    assert _row_cells(ledger.output, "stand_in", "all") == expected, ledger.output
    query = runner.invoke(app, ["query", "bets_by_system", "--json", "-w", str(path)])
    assert query.exit_code == 0, query.output
    (row,) = [
        r
        for r in json.loads(query.output)["rows"]
        if r["system_id"] == "stand_in" and r["strategy"] == "ev" and r["time_window"] == "all"
    ]
    from_view = [
        str(row["bets"]),
        f"{row['wins']}-{row['losses']}-{row['pushes']}",
        f"{row['units']:+.2f}",
        f"{row['roi_flat']:+.1%}",
        f"{row['roi_staked']:+.1%}",
        f"{row['clv_points']:+.2f}",
    ]
    assert from_view == expected
    settings = Settings(_env_file=None, warehouse=str(path), market_blend="off")
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        page = client.get("/performance", params={"date": str(WEEK_END), "days": 30}).text
        row_html = re.search(r'<tr data-system="stand_in">(.*?)</tr>', page).group(1)
        cells = dict(re.findall(r'data-key="(\w+)">([^<]*)<', row_html))
        assert [cells[k] for k in SCREEN_KEYS] == expected
        # a page of a date shows no bet after it: its ledger and its figures end there
        middle = FIRST + dt.timedelta(days=2)
        page = client.get("/performance", params={"date": str(middle), "days": 30}).text
        shown_dates = set(re.findall(r"<td>(2025-07-\d\d)</td>", page))
        assert shown_dates and max(shown_dates) <= str(middle)
        upto = bets[pd.to_datetime(bets["game_date"]).dt.date <= middle]
        row_html = re.search(r'<tr data-system="stand_in">(.*?)</tr>', page).group(1)
        cells = dict(re.findall(r'data-key="(\w+)">([^<]*)<', row_html))
        assert [cells[k] for k in SCREEN_KEYS] == [record(upto).cells()[k] for k in SCREEN_KEYS]
        # the pitcher page's W-L counts his bets
        won = bets[bets["result"] == "win"].iloc[0]
        his = bets[bets["pitcher_id"] == won["pitcher_id"]]
        page = client.get(f"/pitcher/{int(won['pitcher_id'])}", params={"date": str(WEEK_END)})
        row_html = re.search(r'<tr data-system="stand_in">(.*?)</tr>', page.text).group(1)
        cells = dict(re.findall(r'data-key="(\w+)">([^<]*)<', row_html))
        assert cells["wins"] == str(record(his).wins) != "0"
        assert cells["losses"] == str(record(his).losses)


def test_a_days_bets_at_80_columns(week) -> None:
    """`kcast bets --date`: the day's board of the stored day, the ledger's bets first (the
    lean made of one of them among the leans), MLB team spellings, within 80 columns."""
    path, bets = week
    of_day = bets[pd.to_datetime(bets["game_date"]).dt.date == FIRST]
    args = ["bets", "-w", str(path), "--date", str(FIRST), "--system", "stand_in"]
    day = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert day.exit_code == 0, day.output
    assert f"{FIRST}: {len(of_day)} bets of " in day.output and "total stake" in day.output
    assert "leans of ev/stand_in/" in day.output
    assert max(len(line) for line in day.output.splitlines()) <= 80
    assert str(FIRST.year) not in day.output.replace(str(FIRST), "")  # no Retrosheet game codes
