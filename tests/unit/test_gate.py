"""The edge gate: a rule's record from its graded picks, and whether it is live."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kcast import policy
from kcast.context import Rule
from kcast.gate import EdgeGate, gate_by_day, judge, records_from
from kcast.market import DecisionTime

RULE = Rule("ev", "v2_matchup", "open", "main")


def picks(ev: np.ndarray, first: dt.date = dt.date(2025, 6, 3)) -> pd.DataFrame:
    """One pick a day from ``first``, with the EV against the close given (CLV and units
    follow it)."""
    n = len(ev)
    return pd.DataFrame(
        {
            "strategy": RULE.strategy,
            "system_id": RULE.system_id,
            "decision_time": RULE.decision_time,
            "market": RULE.market,
            "game_date": pd.date_range(first, periods=n, freq="D"),
            "clv": ev / 2,
            "ev_close": ev,
            "units": np.where(np.arange(n) % 2 == 0, 0.9, -1.0),
        }
    )


def test_below_the_minimum_sample_a_rule_is_a_lean_whatever_its_mean() -> None:
    record = judge(RULE, picks(np.full(40, 0.05)))
    assert not record.live and record.n_bets == 40
    assert record.why == f"lean: 40 of {policy.GATE_MIN_BETS} bets needed"
    assert record.ev_close_mean == pytest.approx(0.05) and record.ev_close_lo is None


def test_a_winning_record_is_live_a_losing_or_unclear_one_is_not() -> None:
    rng = np.random.default_rng(1)
    win = judge(RULE, picks(0.03 + rng.normal(0, 0.05, 200)))
    assert win.live and win.ev_close_lo > 0 and win.why.startswith("live: 200 bets, EV +")
    lose = judge(RULE, picks(-0.03 + rng.normal(0, 0.05, 200)))
    assert not lose.live and lose.ev_close_hi < 0 and "is below 0" in lose.why
    unclear = judge(RULE, picks(rng.normal(0, 0.05, 200)))
    assert not unclear.live and unclear.ev_close_lo < 0 < unclear.ev_close_hi
    assert "includes 0" in unclear.why
    assert unclear.first_date == dt.date(2025, 6, 3) and unclear.last_date is not None


def test_records_use_only_picks_before_the_day_and_within_the_lookback() -> None:
    frame = picks(np.full(300, 0.02))
    day = dt.date(2025, 6, 3) + dt.timedelta(days=200)
    record = records_from(frame, day)[RULE]
    assert record.n_bets == 200 and record.last_date == day - dt.timedelta(days=1)
    short = records_from(frame, day, lookback_days=100)[RULE]
    assert short.n_bets == 100
    gate = EdgeGate(records_from(frame, day))
    assert gate(RULE)
    other = Rule("ev", "v2_matchup", "open", "alternate")
    assert not gate(other) and gate.record(other).n_bets == 0
    assert gate.live_rules() == [RULE]


# --------------------------------------------------------------------------------------------
# The gate over a real warehouse: graded rows in a DuckDB file, a decision made with them
# --------------------------------------------------------------------------------------------

FIRST = dt.date(2025, 6, 1)
PER_DAY = 12  # picks a rule makes a day


def graded_rows(system_id: str, fair_close: float, days: int, seed: int) -> pd.DataFrame:
    """``days`` days of a rule's graded picks at even money (+100): the fair close of the side
    around ``fair_close`` (so EV against it around 2 x fair_close - 1), results drawn from it."""
    rng = np.random.default_rng(seed)
    n = days * PER_DAY
    fair = np.clip(fair_close + rng.normal(0, 0.04, n), 0.05, 0.95)
    won = rng.random(n) < fair
    return pd.DataFrame(
        {
            "system_id": system_id,
            "game_id": [f"G{i:05d}" for i in range(n)],
            "pitcher_id": np.arange(n) + 1,
            "game_date": [FIRST + dt.timedelta(days=i // PER_DAY) for i in range(n)],
            "strategy": "ev",
            "side": "OVER",
            "line": 5.5,
            "main_line": 5.5,
            "book": "DraftKings",
            "odds": 100.0,
            "dec": 2.0,
            "stake": 0.01,
            "p_win": 0.55,
            "ev": 0.1,
            "model_p_over": 0.55,
            "stated_p_over": 0.55,
            "fair_p_decision": 0.5,
            "fair_p_close": fair,
            "clv": fair - 0.5,
            "ev_close": 2.0 * fair - 1.0,
            "units": np.where(won, 1.0, -1.0),
            "reason": "test",
            "bet": True,
        }
    )


@pytest.fixture
def graded_warehouse(tmp_path):  # noqa: ANN201
    """A warehouse whose ledger holds 30 days of graded picks of two rules at the open: one
    that beats the fair close by about 4% (``winner``), one that loses about 4% (``loser``)."""
    from kcast.bets import ledger_rows, write_ledger
    from kcast.warehouse import open_warehouse

    wh = open_warehouse(str(tmp_path / "gate.duckdb"))
    for system_id, fair, seed in (("winner", 0.52, 1), ("loser", 0.48, 2)):
        rows = ledger_rows(graded_rows(system_id, fair, 30, seed), "open", "backtest")
        write_ledger(wh, rows)
    yield wh
    wh.close()


def decided(gate: EdgeGate, system_id: str) -> dict:
    """A bet rung of ``system_id`` at the open, settled in a context with ``gate``."""
    from kcast.context import DecisionContext
    from kcast.decision import settle

    context = DecisionContext(at=DecisionTime.parse("open"), live=gate)
    row = {"verdict": "OVER", "line": 5.5, "over_odds": 100, "under_odds": -120}
    rung = {"side": "OVER", "line": 5.5, "main_line": 5.5, "book": "DraftKings", "odds": 100}
    rung |= {"dec": 2.0, "p_win": 0.55, "p_lose": 0.45, "ev": 0.1, "bet": True}
    return settle(row, "DraftKings", rung, context, system_id)


def test_a_losing_rule_never_bets_a_winning_one_bets_from_the_day_its_record_clears(
    graded_warehouse,  # noqa: ANN001
) -> None:
    from kcast.gate import gate_as_of, graded_picks, records_as_of

    winner = Rule("ev", "winner", "open", "main")
    loser = Rule("ev", "loser", "open", "main")
    first_live = None
    for offset in range(31):
        day = FIRST + dt.timedelta(days=offset)
        gate = gate_as_of(graded_warehouse, day)
        win, lose = decided(gate, "winner"), decided(gate, "loser")
        assert lose["decision"] == "lean" and lose["stake"] is None
        assert "is not live" in lose["decision_reason"]
        if gate(winner):
            first_live = first_live or day
            assert win["decision"] == "bet" and win["recommendation"] == "OVER"
        else:
            assert first_live is None  # once live, it stays live on this steady record
            why = win["decision_reason"]
            assert win["decision"] == "lean" and ("bets needed" in why or "EV interval" in why)
    assert first_live is not None
    # the day it clears: the first with GATE_MIN_BETS picks before it, and the EV interval
    # of exactly those picks above zero (the record of a day holds only games before it)
    enough = FIRST + dt.timedelta(days=-(-policy.GATE_MIN_BETS // PER_DAY))
    assert first_live >= enough
    record = records_as_of(graded_warehouse, first_live)[winner]
    assert record.live and record.n_bets == (first_live - FIRST).days * PER_DAY
    assert record.ev_close_lo > 0 and record.last_date == first_live - dt.timedelta(days=1)
    before = records_as_of(graded_warehouse, first_live - dt.timedelta(days=1))[winner]
    assert not before.live
    assert records_as_of(graded_warehouse, FIRST + dt.timedelta(days=30))[loser].ev_close_hi < 0
    # the backtest's day-by-day gate over the same rows agrees with the warehouse's
    picks = graded_picks(graded_warehouse, FIRST + dt.timedelta(days=31), 365)
    status, _ = gate_by_day(picks)
    days = pd.to_datetime(picks["game_date"]).dt.date
    assert set(status[picks["system_id"] == "loser"]) == {"lean"}
    live_days = sorted(set(days[(picks["system_id"] == "winner") & (status == "bet")]))
    assert live_days[0] == first_live


def test_leans_are_stored_but_never_in_the_money_figures(graded_warehouse) -> None:  # noqa: ANN001
    from kcast.bets import ledger_rows, write_ledger

    leans = graded_rows("leaner", 0.6, 2, 3).assign(status="lean")
    write_ledger(graded_warehouse, ledger_rows(leans, "open", "backtest"))
    stored = graded_warehouse.query("SELECT * FROM bets WHERE system_id = 'leaner'")
    assert len(stored) == len(leans) and set(stored["status"]) == {"lean"}
    assert stored["stake"].isna().all() and stored["profit"].isna().all()
    assert set(stored["market"]) == {"main"}
    money = graded_warehouse.query("SELECT DISTINCT system_id FROM bet_ledger")
    assert set(money["system_id"]) == {"winner", "loser"}


def test_kcast_bets_rules_shows_each_rules_record_and_whether_it_is_live(
    graded_warehouse,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from kcast.cli import app
    from kcast.cli.common import console

    monkeypatch.setattr(console, "width", 220)

    url = graded_warehouse.url
    graded_warehouse.close()
    result = CliRunner().invoke(
        app, ["bets", "--rules", "--date", "2025-07-01", "--warehouse", url]
    )
    assert result.exit_code == 0, result.output
    assert "winner" in result.output and "live: 360 bets, EV +" in result.output
    assert "loser" in result.output and "is below 0 (360 bets)" in result.output
    early = CliRunner().invoke(app, ["bets", "--rules", "--date", "2025-06-01", "--warehouse", url])
    assert "no graded ev picks before 2025-06-01" in early.output


def test_kcast_bets_says_when_every_pick_was_a_lean(graded_warehouse) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from kcast.bets import ledger_rows, write_ledger
    from kcast.cli import app

    leans = graded_rows("leaner", 0.6, 2, 3).assign(status="lean", strategy="signal")
    write_ledger(graded_warehouse, ledger_rows(leans, "open", "backtest"))
    url = graded_warehouse.url
    graded_warehouse.close()
    got = CliRunner().invoke(app, ["bets", "--strategy", "signal", "--warehouse", url])
    assert got.exit_code == 0, got.output
    assert "no graded signal bets" in got.output and f"{len(leans)} signal picks are leans" in (
        " ".join(got.output.split())
    )
