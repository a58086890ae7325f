"""The one decision: a system's distribution, its red flags and the prices known at the decision
time make the row's verdict and its bet, in one vocabulary.

Two rules meet here, each kept as it was measured (``docs/results.md``):

* the **verdict** at the row's line (the card's main line: the consensus closing main line, else
  the line most books offer), by the thresholds: OVER or UNDER when the predicted strikeouts
  clear the line by ``MLB_MIN_EDGE``, the confidence reaches ``MLB_MIN_CONFIDENCE``, no red flag
  blocks the side and the price has positive expected value; else PASS
  (``decisions.decide``);
* the **bet**: the system's stated probability at the market's main line carried to every rung
  of the ladder (``market.tilt``), each rung and side priced at the best odds among the books one
  can bet (``KCAST_BOOKS``), the rung with the highest expected value taken when it reaches
  ``KCAST_MIN_BET_EV`` and no red flag blocks it (``bet_candidate``; other strategies in
  ``context.STRATEGIES``).

``decide`` runs both and settles them into the row's **decision**:

* ``bet``: the bet rule takes a rung and its rule is live (``DecisionContext.is_live``): side,
  line, book, price, EV, and the stake (fractional Kelly, capped, set for the day by
  ``bets.stake_day``). The row says whether the rung is an alternate line (not the card's line)
  and whether the book is another than the card's, and why;
* ``lean``: no bet, but a side: the verdict's at the card's line and price (the thresholds pick
  it, yet no bettable price reaches the EV threshold), or a rung whose rule is not live;
* ``pass``: neither.

The row's ``recommendation`` (the field every older reader knows) is the decision's side, or
PASS: it never says PASS on a row that carries a bet, and never contradicts the bet. ``verdict``
keeps the thresholds' own answer at the card's line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kcast import policy
from kcast.context import BetRules, DecisionContext
from kcast.decisions import (
    MarketBlend,
    Thresholds,
    line_probabilities,
    pmf_mean,
    pmf_median,
    pmf_quantile,
)
from kcast.decisions import decide as verdict_of
from kcast.market import (
    BookWeights,
    TailCalibration,
    best_prices,
    expit,
    fair_by_line,
    logit,
    main_lines,
    tilt,
)
from kcast.numbers import is_missing
from kcast.policy import BLOCKS_OVER
from kcast.warehouse.schema import DECISION_COLUMNS  # noqa: F401 - part of this interface

OVER, UNDER, PASS = "OVER", "UNDER", "PASS"
BET, LEAN = "bet", "lean"
DECISIONS = (BET, LEAN, "pass")
SIGNAL_GAP = 0.05  # the ``signal`` strategy: |system - opening consensus| above this
SHOP_Z = 1.96  # ``shop``: the price beats the fair pool by more than this many standard errors


# --------------------------------------------------------------------------------------------
# The prices of one start at the decision time
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartMarket:
    """What the bet rule needs of one start's quotes known at the decision time: the market's
    main line (the line most books price on both sides) and its pooled fair P(over), the best
    price of each rung and side among the books one can bet (columns line, side, book, odds,
    dec), and the pooled fair P(over) of every two-sided rung."""

    main_line: float
    fair_main: float
    prices: pd.DataFrame
    fair_at: dict[float, float]
    fair_se: dict[float, float] = field(default_factory=dict)  # the pool's standard error


StartKey = tuple[int, pd.Timestamp]  # (pitcher_id, game_date)


def start_markets(
    quotes: pd.DataFrame, rules: BetRules, weights: BookWeights | None = None
) -> dict[StartKey, StartMarket]:
    """The ``StartMarket`` of every start with a two-sided main line and a bettable price, from
    quotes known at the decision time (``market.quotes_at``); ``weights`` are the books' weights
    learned before the day."""
    if quotes.empty:
        return {}
    fair = fair_by_line(quotes, rules.devig, weights)
    main = main_lines(fair)
    prices = best_prices(quotes, list(rules.books) if rules.books else None)
    fair_at: dict[StartKey, dict[float, float]] = {}
    fair_se: dict[StartKey, dict[float, float]] = {}
    for p, d, ln, f, se in zip(
        fair["pitcher_id"],
        fair["game_date"],
        fair["line"],
        fair["fair_p_over"],
        fair["fair_se"],
        strict=True,
    ):
        fair_at.setdefault((p, d), {})[ln] = f
        fair_se.setdefault((p, d), {})[ln] = se
    mains = {
        (p, d): (float(ln), float(f))
        for p, d, ln, f in zip(
            main["pitcher_id"], main["game_date"], main["line"], main["fair_p_over"], strict=True
        )
    }
    out: dict[StartKey, StartMarket] = {}
    for key, rungs in prices.groupby(["pitcher_id", "game_date"]):
        if key in mains:
            line, fair_main = mains[key]
            out[key] = StartMarket(
                line, fair_main, rungs, fair_at.get(key, {}), fair_se.get(key, {})
            )
    return out


# --------------------------------------------------------------------------------------------
# The bet rule: the best rung a strategy would take
# --------------------------------------------------------------------------------------------


def bet_candidate(
    pmf: np.ndarray,
    row_line: float | None,
    row_p: tuple[float | None, float | None],
    flags: set[str],
    market: StartMarket,
    rules: BetRules,
    move_beta: float | None = None,
    tail: TailCalibration | None = None,
) -> dict[str, Any] | None:
    """The rung a strategy would bet for one start and system (``bet`` True where it is
    taken), or None. ``row_line`` and ``row_p`` (P(over), P(under)) are the system's row at
    the card's line: where that is the market's main line, its stated probability is the one
    bet with; at the other rungs the tilted distribution's, recalibrated by ``tail`` (the
    system's ``TailCalibration``, learned walk-forward; None: as tilted)."""
    main_line, fair_main = market.main_line, market.fair_main
    # the system's own P(over) at the market's main line, pushes excluded
    po, pu, _ = line_probabilities(pmf, main_line)
    model_p = po / max(1e-9, po + pu)
    stated = _stated(row_line, row_p, main_line, model_p, fair_main, rules.strategy, move_beta)
    if rules.strategy in ("shop", "shop_model"):
        cand = _shop(model_p, fair_main, market, rules, flags)
    else:
        cand = _best_rung(
            pmf, main_line, stated, model_p, fair_main, market.prices, rules, flags, tail
        )
    if cand is None:
        return None
    cand.update(
        main_line=main_line, fair_main=fair_main, model_p_over=model_p, stated_p_over=stated
    )
    cand["fair_p_decision"] = _side_p(market.fair_at.get(cand["line"]), cand["side"])
    return cand


def _stated(  # noqa: PLR0913
    row_line: float | None,
    row_p: tuple[float | None, float | None],
    main_line: float,
    model_p: float,
    fair_main: float,
    strategy: str,
    move_beta: float | None,
) -> float:
    """The probability a strategy bets with, at the main line."""
    if strategy == "move":
        beta = 0.0 if move_beta is None else move_beta
        return float(expit(logit(fair_main) + beta * (logit(model_p) - logit(fair_main))))
    if strategy == "signal":
        return model_p
    # ev: the system's stated P(over) (pooled with the market at the decision time) where its
    # row is priced at this line; else the fair price here
    if not is_missing(row_line) and float(row_line) == main_line:  # type: ignore[arg-type]
        po, pu = row_p
        if not (is_missing(po) or is_missing(pu)):
            return float(po) / max(1e-9, float(po) + float(pu))  # type: ignore[arg-type]
    return fair_main


def _best_rung(pmf, main_line, stated, model_p, fair_main, prices, rules, flags, tail=None):  # noqa: ANN001, ANN202, PLR0913
    if rules.strategy == "signal":
        gap = model_p - fair_main
        if abs(gap) <= SIGNAL_GAP:
            return None
        side = OVER if gap > 0 else UNDER
        here = prices[(prices["line"] == main_line) & (prices["side"] == side)]
        if here.empty:
            return None
        p = fair_main if side == OVER else 1 - fair_main
        row = here.iloc[0]
        dec = float(row["dec"])
        return {
            **_rung(
                side, main_line, row["book"], row["odds"], dec, p, 1 - p, p * (dec - 1) - (1 - p)
            ),
            "bet": not (side == OVER and BLOCKS_OVER & flags),
        }
    if rules.strategy == "ev_main":
        prices = prices[prices["line"] == main_line]
    dist = tilt(pmf, main_line, stated)
    below = np.concatenate([[0.0], np.cumsum(dist)])  # below[k] = P(K < k)
    best = None
    for line, side, book, odds, dec in zip(
        prices["line"], prices["side"], prices["book"], prices["odds"], prices["dec"], strict=True
    ):
        if side == OVER and BLOCKS_OVER & flags:
            continue
        k = min(len(dist), int(np.floor(line)) + 1)  # the first count above the line
        po = 1.0 - below[k]
        pu = below[int(np.ceil(line))] if line > 0 else 0.0
        if tail is not None and line != main_line and po + pu > 0:
            decided = po + pu  # pushes keep their share
            po = tail.apply(po / decided) * decided
            pu = decided - po
        p_win, p_lose = (po, pu) if side == OVER else (pu, po)
        ev = p_win * (dec - 1.0) - p_lose
        if best is None or ev > best["ev"]:
            best = _rung(side, line, book, odds, dec, p_win, p_lose, ev)
    if best is not None:
        best["bet"] = best["ev"] >= rules.min_ev
    return best


def _rung(side, line, book, odds, dec, p_win, p_lose, ev) -> dict:  # noqa: ANN001, PLR0913
    """One priced rung a rule may bet: side, line, book, price and its chances and EV."""
    return {
        "side": side,
        "line": float(line),
        "book": book,
        "odds": float(odds),
        "dec": float(dec),
        "p_win": p_win,
        "p_lose": p_lose,
        "ev": ev,
    }


def _shop(model_p, fair_main, market, rules, flags):  # noqa: ANN001, ANN202
    """Line shopping against the market itself (the +EV screen): the rung and side whose best
    price pays most against the pooled fair price of that rung, taken when it beats that fair
    price by more than the pool's margin of error (``SHOP_Z`` standard errors of the books'
    spread: a rung one book prices has none, and is never taken) and reaches the EV
    threshold. ``shop_model`` takes only the side the system favours against the market at
    the main line."""
    best = None
    lean = OVER if model_p > fair_main else UNDER
    prices = market.prices
    for line, side, book, odds, dec in zip(
        prices["line"], prices["side"], prices["book"], prices["odds"], prices["dec"], strict=True
    ):
        fair = market.fair_at.get(float(line))
        if fair is None or pd.isna(fair) or (side == OVER and BLOCKS_OVER & flags):
            continue
        if rules.strategy == "shop_model" and side != lean:
            continue
        p = float(fair) if side == OVER else 1.0 - float(fair)
        ev = p * dec - 1.0
        if best is None or ev > best["ev"]:
            se = market.fair_se.get(float(line))
            best = _rung(side, line, book, odds, dec, p, 1.0 - p, ev)
            best["ev_margin"] = (
                np.nan if se is None or pd.isna(se) else (p - SHOP_Z * float(se)) * dec - 1.0
            )
    if best is not None:
        best["bet"] = bool(best["ev"] >= rules.min_ev and best["ev_margin"] > 0)
    return best


def _side_p(p_over: float | None, side: str) -> float:
    if p_over is None or pd.isna(p_over):
        return np.nan
    return float(p_over) if side == OVER else 1.0 - float(p_over)


# --------------------------------------------------------------------------------------------
# The verdict at the card's line
# --------------------------------------------------------------------------------------------


def verdict_at(
    pmf: np.ndarray,
    mean: float,
    line: float | None,
    over_odds: float | None,
    under_odds: float | None,
    flags: list[str],
    thresholds: Thresholds,
    factor: float = 1.0,
    blend: MarketBlend | None = None,
) -> dict[str, Any]:
    """The row's columns that depend on its line and prices: the probabilities, edge, EV,
    confidence and the verdict (``verdict``; ``recommendation`` until ``settle``)."""
    row_flags = list(flags)
    if line is None:
        row_flags.append(policy.NO_LINE)
    elif over_odds is None or under_odds is None:
        row_flags.append(policy.NO_ODDS)
    d = verdict_of(pmf, mean, line, over_odds, under_odds, row_flags, thresholds, factor, blend)
    reasons = list(d.reasons)
    if d.market_p_over is not None and blend is not None and market_is_stated(blend):
        reasons.append(MARKET_STATED)
    return {
        "line": line,
        "over_odds": over_odds,
        "under_odds": under_odds,
        "model_p_over": d.model_p_over,
        "p_over": d.p_over,
        "p_under": d.p_under,
        "p_push": d.p_push,
        "market_p_over": d.market_p_over,
        "edge": None if d.edge is None else round(d.edge, 3),
        "expected_value": d.expected_value,
        "confidence": round(d.confidence, 1),
        "verdict": d.recommendation,
        "recommendation": d.recommendation,
        "red_flags": ",".join(row_flags),
        "reasons": "; ".join(reasons),
    }


MARKET_STATED = (
    "the stated P(over) is the market's de-vigged price: this system has no graded lines yet "
    "to learn its weight against the market from"
)


def market_is_stated(blend: MarketBlend) -> bool:
    """Whether a market blend states the market's own price: the prior (no graded lines)."""
    return blend.n == 0 and blend.model_weight == 0.0 and blend.market_weight == 1.0


def distribution_facts(pmf: np.ndarray) -> dict[str, Any]:
    """The row's columns no line or price changes: mean, median, 10th and 90th percentiles and
    the distribution as JSON."""
    return {
        "predicted_strikeouts": round(float(pmf_mean(pmf)), 3),
        "predicted_median": int(pmf_median(pmf)),
        "k_p10": int(pmf_quantile(pmf, 0.1)),
        "k_p90": int(pmf_quantile(pmf, 0.9)),
        "pmf": json.dumps([round(float(x), 5) for x in pmf]),
    }


# --------------------------------------------------------------------------------------------
# The one decision
# --------------------------------------------------------------------------------------------

UNSET: Any = object()  # ``decide``'s bet when it is to be worked out


def decide(
    pmf: np.ndarray,
    flags: list[str],
    price: dict[str, Any],
    context: DecisionContext,
    system_id: str,
    market: StartMarket | None = None,
    factor: float = 1.0,
    blend: MarketBlend | None = None,
    mean: float | None = None,
    bet: dict[str, Any] | None = UNSET,
) -> dict[str, Any]:
    """One start's verdict and decision for one system: the row's columns that depend on the
    prices (``verdict_at``), the decision's (``DECISION_COLUMNS``; the stake is set for the day
    by ``bets.stake_day``) and ``bet``, the rung the bet rule priced (None without one).

    ``price`` is the row's line, prices and book (``line``, ``over_odds``, ``under_odds``,
    ``book``; missing values None), ``market`` the start's quotes known at the decision time
    (None: none), ``flags`` the red flags before the line's own, ``factor`` the system's
    confidence factor, ``blend`` its market blend, ``mean`` the distribution's mean when the
    caller keeps it, ``bet`` the bet rule's rung when the caller keeps it."""
    mean = float(pmf_mean(pmf)) if mean is None else mean
    line, over, under = (_number(price.get(k)) for k in ("line", "over_odds", "under_odds"))
    book = price.get("book")
    row = verdict_at(
        pmf,
        mean,
        line,
        over,
        under,
        flags,
        context.thresholds,
        factor,
        blend,
    )
    if bet is UNSET:
        bet = candidate_for(pmf, row, market, context.rules, blend.tail if blend else None)
    book = book if isinstance(book, str) else None
    return {**row, **settle(row, book, bet, context, system_id), "bet": bet}


def _number(value: Any) -> float | None:
    """A price or line as a number, None where it is missing (None or NaN)."""
    return None if value is None or value != value else value  # NaN is not equal to itself


def candidate_for(
    pmf: np.ndarray,
    row: dict[str, Any],
    market: StartMarket | None,
    rules: BetRules,
    tail: TailCalibration | None = None,
) -> dict[str, Any] | None:
    """``bet_candidate`` for a row decided by ``verdict_at`` (None without a market)."""
    if market is None:
        return None
    flags = set(str(row.get("red_flags") or "").split(","))
    row_p = (row["p_over"], row["p_under"])
    return bet_candidate(pmf, row["line"], row_p, flags, market, rules, tail=tail)


def settle(
    row: dict[str, Any],
    book: str | None,
    bet: dict[str, Any] | None,
    context: DecisionContext,
    system_id: str,
) -> dict[str, Any]:
    """The decision of a row whose verdict is ``row["verdict"]`` at ``row["line"]`` (the
    card's line, at ``book``'s price), given the bet rule's rung ``bet``."""
    verdict, line = row["verdict"], row["line"]
    if bet is not None and bet["bet"]:
        alternate = line is None or bet["line"] != line
        other = bet["book"] != book
        # the rule's market: is the rung the market's main line (the card's line, as a rule)
        off_main = bet["line"] != bet.get("main_line", line)
        live = context.is_live(system_id, off_main)
        why = _bet_reason(bet, line, book, verdict, alternate, other, context, live)
        if not live:
            record = context.record_of(system_id, off_main)
            why += f" ({record})" if record else ""
        return _decided(BET if live else LEAN, bet, alternate, other, why, stake=0.0)
    if verdict in (OVER, UNDER):
        odds = row["over_odds"] if verdict == OVER else row["under_odds"]
        lean = {"side": verdict, "line": line, "book": book, "odds": odds}
        lean["ev"] = row["expected_value"]
        why = f"lean {_rung_text(lean)}: the thresholds pick {verdict} at the card's line, " + (
            _no_bet(bet, context.rules)
        )
        return _decided(LEAN, lean, False, False, why)
    reasons = row.get("reasons") or "no side"
    return _decided("pass", None, False, False, f"pass: {reasons}; {_no_bet(bet, context.rules)}")


def _decided(
    decision: str,
    rung: dict[str, Any] | None,
    alternate: bool,
    other: bool,
    why: str,
    stake: float | None = None,
) -> dict[str, Any]:
    rung = rung or {}
    return {
        "recommendation": rung.get("side", PASS),
        "decision": decision,
        "decision_line": rung.get("line"),
        "decision_book": rung.get("book"),
        "decision_odds": rung.get("odds"),
        "decision_ev": rung.get("ev"),
        "stake": stake if decision == BET else None,
        "alternate_line": alternate if rung else None,
        "other_book": other if rung else None,
        "decision_reason": why,
    }


def _rung_text(rung: dict[str, Any]) -> str:
    odds, book = rung.get("odds"), rung.get("book")
    price = "no price" if is_missing(odds) else f"{float(odds):+.0f}"
    return f"{rung['side']} {float(rung['line']):g} at {price}" + (f" ({book})" if book else "")


def _bet_reason(  # noqa: PLR0913
    bet: dict[str, Any],
    line: float | None,
    book: str | None,
    verdict: str,
    alternate: bool,
    other: bool,
    context: DecisionContext,
    live: bool,
) -> str:
    head = f"{'bet' if live else 'lean'} {_rung_text(bet)}: EV {bet['ev']:+.3f} per unit"
    parts = [f"{head} reaches {context.rules.min_ev:+.3f}"]
    if alternate:
        card = "no line" if line is None else f"line {float(line):g}"
        parts.append(f"an alternate line (the card's {card}): the best EV of the ladder")
    if other:
        parts.append(f"the best price of your books, not the card's ({book or 'none'})")
    if verdict != bet["side"]:
        parts.append(f"the thresholds' verdict at the card's line is {verdict}")
    if not live:
        off_main = bet["line"] != bet.get("main_line", line)
        parts.append(
            f"but the rule ({context.rules.strategy}, {context.at.label}, "
            f"{'alternate' if off_main else 'main'} line) is not live"
        )
    return "; ".join(parts)


def _no_bet(bet: dict[str, Any] | None, rules: BetRules) -> str:
    if bet is None:
        return "no price of your books is known at the decision time"
    return (
        f"no price of your books reaches EV {rules.min_ev:+.3f} (best {_rung_text(bet)}, "
        f"EV {bet['ev']:+.3f})"
    )
