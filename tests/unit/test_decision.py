"""The one decision (``kcast.decision``): a row's verdict and its bet in one vocabulary, in a
frozen decision context (``kcast.context``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from kcast.config import Settings
from kcast.context import BetRules, DecisionContext, Rule
from kcast.decision import BET, LEAN, decide, start_markets
from kcast.decisions import MAX_K, MarketBlend, Thresholds
from kcast.market import DecisionTime

DAY = pd.Timestamp("2025-07-20")


def pmf(mean: float) -> np.ndarray:
    p = poisson.pmf(np.arange(MAX_K + 1), mean)
    p[-1] += 1 - p.sum()
    return p


def quotes(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    """Quotes of one start: (book, line, over odds, under odds), closing snapshot."""
    return pd.DataFrame(
        [
            {
                "pitcher_id": 1,
                "game_date": DAY,
                "book": book,
                "line": line,
                "over_odds": over,
                "under_odds": under,
                "snapshot": "close",
                "is_main": line == 4.5,
            }
            for book, line, over, under in rows
        ]
    )


# the card's line is the consensus 4.5 at even prices; one book hangs +280 on the under of 5.5
LADDER = [
    ("consensus", 4.5, -105, -115),
    ("DraftKings", 4.5, -110, -110),
    ("FanDuel", 4.5, -108, -112),
    ("DraftKings", 5.5, 150, -190),
    ("FanDuel", 5.5, 140, 280),
]
CARD = {"line": 4.5, "over_odds": -105.0, "under_odds": -115.0, "book": "consensus"}


def test_a_pass_at_the_cards_line_never_hides_a_bet_at_another() -> None:
    """Defect: the day page showed "PASS" and "Bet: UNDER 5.5 at +280" on the same card (the
    verdict and the bet came from two rules). One decision: the row says what it bets."""
    context = DecisionContext(Thresholds(min_edge=0.5, min_confidence=60.0))
    market = start_markets(quotes(LADDER), context.rules)[(1, DAY)]
    row = decide(pmf(4.6), [], CARD, context, "v1_baseline", market)
    assert row["verdict"] == "PASS"  # the edge at 4.5 is inside 0.5
    assert row["decision"] == BET and row["recommendation"] == "UNDER"
    assert (row["decision_line"], row["decision_book"], row["decision_odds"]) == (
        5.5,
        "FanDuel",
        280.0,
    )
    assert row["alternate_line"] and row["other_book"]
    assert "an alternate line (the card's line 4.5)" in row["decision_reason"]
    assert "not the card's (consensus)" in row["decision_reason"]
    assert "the thresholds' verdict at the card's line is PASS" in row["decision_reason"]
    assert row["bet"]["ev"] == pytest.approx(row["decision_ev"]) and row["decision_ev"] > 0.02


def test_a_verdict_without_a_bet_is_a_lean_at_the_cards_price() -> None:
    context = DecisionContext(Thresholds(min_edge=0.5, min_confidence=0.0))
    market = start_markets(quotes(LADDER[:3]), context.rules)[(1, DAY)]
    strict = dataclasses.replace(context, rules=BetRules(min_ev=0.9))
    own = MarketBlend.model_only()  # the system's own probability: a clear over at 4.5
    row = decide(pmf(7.0), [], CARD, strict, "v1_baseline", market, blend=own)
    assert row["verdict"] == "OVER" and row["decision"] == LEAN
    assert row["recommendation"] == "OVER" and row["decision_odds"] == -105.0
    assert (
        row["stake"] is None
        and "no price of your books reaches EV +0.900" in (row["decision_reason"])
    )
    nothing = decide(pmf(4.5), [], CARD, context, "v1_baseline", None)
    assert nothing["decision"] == "pass" and nothing["recommendation"] == "PASS"
    assert "no price of your books is known at the decision time" in nothing["decision_reason"]


def test_the_edge_gate_turns_a_rule_off_without_changing_the_maths() -> None:
    """The hook issue 22 plugs into: a rule that is not live keeps its rung as a lean."""
    seen: list[Rule] = []

    def main_lines_only(rule: Rule) -> bool:
        seen.append(rule)
        return rule.market == "main"

    gated = DecisionContext(Thresholds(0.5, 60.0), DecisionTime.parse("open"), live=main_lines_only)
    market = start_markets(quotes(LADDER), gated.rules)[(1, DAY)]
    row = decide(pmf(4.6), [], CARD, gated, "v1_baseline", market)
    assert seen == [Rule("ev", "v1_baseline", "open", "alternate")]
    assert row["decision"] == LEAN and row["recommendation"] == "UNDER"
    assert "is not live" in row["decision_reason"]
    live = decide(pmf(4.6), [], CARD, DecisionContext(Thresholds(0.5, 60.0)), "x", market)
    assert row["decision_ev"] == live["decision_ev"] and row["decision_line"] == 5.5


def test_the_context_is_read_once_from_the_settings() -> None:
    settings = Settings(
        _env_file=None,
        min_edge=0.7,
        min_confidence=55,
        books="DraftKings,FanDuel",
        decision_time="17:05",
        devig_method="shin",
        min_bet_ev=0.03,
        kelly_fraction=0.5,
        max_stake_bet=0.01,
        max_stake_day=0.05,
        market_blend="off",
    )
    context = DecisionContext.from_settings(settings)
    assert context.thresholds == Thresholds(0.7, 55.0)
    assert context.at.label == "17:05"
    assert context.rules == BetRules(("DraftKings", "FanDuel"), "shin", 0.03, 0.5, 0.01, 0.05)
    assert context.market_blend == "off"
    assert context.deciding_at("open").at.label == "open" and context.deciding_at(None) is context
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.at = DecisionTime.parse("close")  # type: ignore[misc]


def test_with_no_graded_history_the_row_says_its_stated_p_is_the_markets() -> None:
    from scipy.stats import poisson

    from kcast.decision import MARKET_STATED, verdict_at
    from kcast.decisions import MarketBlend, Thresholds

    pmf = poisson.pmf(np.arange(21), 6.5)
    pmf = pmf / pmf.sum()
    fresh = verdict_at(pmf, 6.5, 5.5, -110, -110, [], Thresholds(), blend=MarketBlend())
    assert MARKET_STATED in fresh["reasons"] and fresh["p_over"] == pytest.approx(0.5, abs=1e-6)
    learned = MarketBlend(0.2, 0.8, 400)
    graded = verdict_at(pmf, 6.5, 5.5, -110, -110, [], Thresholds(), blend=learned)
    assert MARKET_STATED not in graded["reasons"] and graded["p_over"] > 0.5
    unpriced = verdict_at(pmf, 6.5, 5.5, None, None, [], Thresholds(), blend=MarketBlend())
    assert MARKET_STATED not in unpriced["reasons"]  # no market: the system's own P
