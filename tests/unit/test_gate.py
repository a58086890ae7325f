"""The edge gate: a rule's record from its graded picks, and whether it is live."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kcast import policy
from kcast.context import Rule
from kcast.gate import EdgeGate, judge, records_from

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
