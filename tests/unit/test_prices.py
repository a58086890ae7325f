"""A price no sportsbook posts (kcast.market): the one rule, for a frame and for one quote."""

from __future__ import annotations

import itertools
import logging

import pandas as pd
import pytest

from kcast.market import insane_prices, price_problem, quotes_at, sane_quotes

ODDS = [None, float("nan"), pd.NA, -100_000, -10_001, -10_000, -9_900, -6_226, -400, -150]
ODDS += [-110, -101, -100, -99, -50, 0, 50, 99, 100, 101, 110, 150, 400, 1_500, 9_000, 9_900]
ODDS += [10_000, 10_001, 999_999, 1.5, -110.5, float("inf")]


def test_one_quote_and_a_frame_follow_the_same_rule() -> None:
    for over, under in itertools.product(ODDS, ODDS):
        assert insane_prices([over], [under])[0] == (price_problem(over, under) is not None), (
            over,
            under,
        )


@pytest.mark.parametrize(
    ("over", "under", "message"),
    [
        (999_999, 999_999, r"over \+999999 is no sportsbook price"),
        (-110, -9_999_999_999, r"under -9999999999 is no sportsbook price"),
        (-110_000_000_000_000_000_000_000, -110, r"over -1\.1e\+23 is no sportsbook price"),
        (9_000, 9_000, r"implied probabilities sum to 2\.2%, a sure profit"),
        (10_000, -10_000, r"no-vig P\(over\) 0\.99% is outside 1%\.\.99%"),
    ],
)
def test_what_is_wrong_is_said(over: int, under: int, message: str) -> None:
    problem = price_problem(over, under)
    assert problem is not None
    with pytest.raises(ValueError, match=message):
        raise ValueError(problem)


def test_real_prices_pass() -> None:
    # the widest prices of the real files: -6226/+400, implied sums 0.986..1.96
    for over, under in ((-110, -110), (-6_226, 400), (160, -225), (9_900, -9_900), (-120, None)):
        assert price_problem(over, under) is None


def test_stored_absurd_quotes_are_skipped_with_one_warning(caplog) -> None:
    lines = pd.DataFrame(
        {
            "pitcher_id": [1, 1, 2],
            "game_date": pd.to_datetime(["2025-06-03"] * 3),
            "book": ["DraftKings", "JunkBook", "FanDuel"],
            "line": [5.5, 6.5, 4.5],
            "over_odds": [-110, 999_999, 120],
            "under_odds": [-110, 999_999, -140],
            "snapshot": ["close", "posted", "close"],
        }
    )
    with caplog.at_level(logging.WARNING, logger="kcast.market"):
        kept = sane_quotes(lines)
        again = quotes_at(lines, "close")
    assert list(kept["book"]) == ["DraftKings", "FanDuel"]
    assert "JunkBook" not in set(again["book"])
    warnings = [r.getMessage() for r in caplog.records if r.name == "kcast.market"]
    assert len(warnings) == 1 and "skipped 1 stored quote(s)" in warnings[0]
    assert "JunkBook line 6.5: over +999999" in warnings[0]
