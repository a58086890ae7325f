"""One definition each of units, ROI flat and staked, W-L-P and CLV (kcast.bet_metrics): the
Python record and the SQL the views receive give the same numbers on the same bets."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from kcast.bet_metrics import (
    RECORD_SQL,
    UNITS_SQL,
    Bankroll,
    Record,
    record,
    units,
    won_units,
)


def ledger(n: int = 300, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    odds = rng.choice([-180, -148, -110, 100, 120, 140, 310], n).astype(float)
    result = rng.choice(["win", "loss", "push", "void", None], n, p=[0.4, 0.4, 0.05, 0.05, 0.1])
    return pd.DataFrame(
        {
            "result": result,
            "odds": odds,
            "stake": rng.uniform(0.001, 0.02, n),
            "clv": np.where(rng.uniform(size=n) < 0.8, rng.normal(0.01, 0.03, n), np.nan),
        }
    )


def test_units_of_one_bet() -> None:
    assert units("win", 120) == pytest.approx(1.2)
    assert units("win", -150) == pytest.approx(100 / 150)
    assert units("loss", 310) == -1.0 and units("push", -110) == 0.0
    assert np.isnan(units("void", -110)) and np.isnan(units(None, -110))
    # the grade's rule (side, line, strikeouts) gives the same units
    got = won_units(
        pd.Series(["OVER", "UNDER", "OVER"]),
        pd.Series([5.5, 5.5, 6.0]),
        pd.Series([2.2, 1 + 100 / 150, 2.0]),
        pd.Series([6, 4, 6]),
    )
    assert list(got) == pytest.approx([units("win", 120), units("win", -150), 0.0])


def test_python_and_sql_records_agree() -> None:
    frame = ledger()
    mine = record(frame)
    con = duckdb.connect()
    con.register("ledger", frame)
    sql = f"SELECT {RECORD_SQL} FROM (SELECT *, {UNITS_SQL} AS units FROM ledger)"
    theirs = con.execute(sql).df().iloc[0]
    counts = [int(theirs[k]) for k in ("bets", "wins", "losses", "pushes", "voids")]
    assert [mine.bets, mine.wins, mine.losses, mine.pushes, mine.voids] == counts
    for key in ("units", "roi_flat", "staked", "profit", "roi_staked", "clv"):
        assert getattr(mine, key) == pytest.approx(theirs[key]), key
    assert mine.win_rate == pytest.approx(theirs["win_rate"])


def test_flat_and_staked_roi_are_apart_and_labelled() -> None:
    """A small stake on a long shot that wins and a big one that loses: the flat ROI is up,
    the staked ROI down. Both are given, each under its own name."""
    frame = pd.DataFrame(
        {"result": ["win", "loss"], "odds": [310.0, -110.0], "stake": [0.001, 0.02]}
    )
    r = record(frame)
    assert r.units == pytest.approx(2.1) and r.roi_flat == pytest.approx(1.05)
    assert r.roi_staked == pytest.approx((0.001 * 3.1 - 0.02) / 0.021)
    assert r.cells()["roi_flat"] == "+105.0%" and r.cells()["roi_staked"].startswith("-")
    assert Record().cells()["units"] == "-"


def test_bankroll_shows_stakes_in_units_and_money() -> None:
    bank = Bankroll(2500.0, 25.0)
    assert bank.money_of(0.01) == pytest.approx(25.0) and bank.units_of(0.01) == pytest.approx(1)
    assert bank.stake_text(0.0123) == "1.2 u (30.75)"
    assert bank.stake_text(None) == "-"
