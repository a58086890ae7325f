"""From a predicted strikeout distribution to a decision against a line.

Everything here works on a probability mass function over 0..``MAX_K`` strikeouts, so P(over),
P(under) and P(push) are read off the distribution, never guessed from a mean. Prices are
American odds; the market's probability is the de-vigged (proportional) share of the two sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from kcast.config import Settings
from kcast.market import TailCalibration
from kcast.numbers import logit
from kcast.policy import (  # noqa: F401 - the flag names are part of this module's interface
    BLOCKS_OVER,
    CONFIDENCE_PENALTY,
    LOW_PITCH_COUNT,
    MEMBER_MISSING,
    MIN_CONFIDENCE,
    MIN_EDGE,
    NO_LINE,
    NO_ODDS,
    OPENER,
    SHORT_REST,
    THIN_HISTORY,
)

MAX_K = 20  # strikeouts above 20 in a start have never happened; the last cell holds the tail


# --------------------------------------------------------------------------------------------
# Odds
# --------------------------------------------------------------------------------------------


def american_to_prob(odds: float | None) -> float | None:
    """The implied probability of American odds (with the vig), or None."""
    if odds is None or (isinstance(odds, float) and math.isnan(odds)) or odds == 0:
        return None
    odds = float(odds)
    return 100.0 / (odds + 100.0) if odds > 0 else -odds / (-odds + 100.0)


def american_to_decimal(odds: float) -> float:
    """Decimal odds (stake included) of American odds."""
    odds = float(odds)
    return 1.0 + (odds / 100.0 if odds > 0 else 100.0 / -odds)


def devig(over_odds: float | None, under_odds: float | None) -> float | None:
    """The market's P(over), the vig removed proportionally; None unless both sides are priced."""
    p_over, p_under = american_to_prob(over_odds), american_to_prob(under_odds)
    if p_over is None or p_under is None:
        return None
    return p_over / (p_over + p_under)


# --------------------------------------------------------------------------------------------
# Distribution facts
# --------------------------------------------------------------------------------------------


def line_probabilities(pmf: np.ndarray, line: float) -> tuple[float, float, float]:
    """(P(over), P(under), P(push)) of a line; a push is only possible on a whole number."""
    ks = np.arange(pmf.shape[-1])
    p_over = float(pmf[ks > line].sum())
    p_under = float(pmf[ks < line].sum())
    p_push = float(pmf[ks == line].sum()) if float(line).is_integer() else 0.0
    return p_over, p_under, p_push


def line_probabilities_many(pmf: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Vectorised P(over), P(under), P(push) for rows of pmfs and their lines (NaN = no line)."""
    ks = np.arange(pmf.shape[1])[None, :]
    lines = np.asarray(lines, dtype=float)[:, None]
    over = (pmf * (ks > lines)).sum(axis=1)
    under = (pmf * (ks < lines)).sum(axis=1)
    push = (pmf * (ks == lines)).sum(axis=1)
    out = np.stack([over, under, push], axis=1)
    out[np.isnan(lines[:, 0])] = np.nan
    return out


def pmf_mean(pmf: np.ndarray) -> np.ndarray:
    return (pmf * np.arange(pmf.shape[-1])).sum(axis=-1)


def pmf_median(pmf: np.ndarray) -> np.ndarray:
    """The smallest k with P(K <= k) >= 1/2."""
    return (np.cumsum(pmf, axis=-1) < 0.5).sum(axis=-1)


def pmf_quantile(pmf: np.ndarray, q: float) -> np.ndarray:
    return (np.cumsum(pmf, axis=-1) < q).sum(axis=-1)


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The decision thresholds (``MLB_MIN_EDGE``, ``MLB_MIN_CONFIDENCE``)."""

    min_edge: float = MIN_EDGE
    min_confidence: float = MIN_CONFIDENCE

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(settings.min_edge, settings.min_confidence)


@dataclass
class Decision:
    p_over: float | None
    p_under: float | None
    p_push: float | None
    edge: float | None
    market_p_over: float | None
    expected_value: float | None
    confidence: float
    recommendation: str
    reasons: list[str] = field(default_factory=list)
    model_p_over: float | None = None


# --------------------------------------------------------------------------------------------
# The market as evidence
# --------------------------------------------------------------------------------------------

PRIOR_LINES = 1000


@dataclass(frozen=True)
class MarketBlend:
    """How a system's P(over) and the market's de-vigged P(over) combine into the stated one.

    Logarithmic pooling: logit(P) = model_weight * logit(P_model) + market_weight * logit(P_market).
    A line is evidence, and a sharp one: where a system disagrees with it, the line has usually
    been right. So the prior is the market's own price (weights 0 and 1), and a system earns
    weight only from its record: the weights are the maximum a posteriori fit on graded lines from
    before the day predicted, under a Gaussian prior worth about ``PRIOR_LINES`` lines.
    """

    model_weight: float = 0.0
    market_weight: float = 1.0
    n: int = 0
    # how the system states P(over) at rungs off the main line (kcast.market.TailCalibration)
    tail: TailCalibration = field(default_factory=TailCalibration)

    @classmethod
    def model_only(cls) -> MarketBlend:
        """No pooling: the system's own probability (``MLB_MARKET_BLEND=off``)."""
        return cls(1.0, 0.0)

    def apply(self, p_model: float, p_market: float | None) -> float:
        if p_market is None or (isinstance(p_market, float) and math.isnan(p_market)):
            return p_model
        z = self.model_weight * logit(p_model) + self.market_weight * logit(p_market)
        return 1.0 / (1.0 + math.exp(-z))

    @classmethod
    def fit(
        cls,
        p_model: np.ndarray,
        p_market: np.ndarray,
        over: np.ndarray,
        prior: MarketBlend | None = None,
    ) -> MarketBlend:
        """The weights with the highest posterior given the outcomes (pushes excluded)."""
        prior = prior or cls()
        ok = ~(np.isnan(p_model) | np.isnan(p_market) | np.isnan(over))
        n = int(ok.sum())
        if n == 0:
            return MarketBlend(prior.model_weight, prior.market_weight, 0)
        x1 = logit(np.clip(p_model[ok], 1e-4, 1 - 1e-4))
        x2 = logit(np.clip(p_market[ok], 1e-4, 1 - 1e-4))
        y = over[ok]
        w0 = np.array([prior.model_weight, prior.market_weight])
        # a precision that weighs like PRIOR_LINES typical lines (log-odds spread of the market)
        precision = PRIOR_LINES * float(np.mean(x2**2) + 1e-3) * 0.25

        def objective(w: np.ndarray) -> float:
            z = w[0] * x1 + w[1] * x2
            p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-9, 1 - 1e-9)
            nll = -float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
            return nll + 0.5 * precision * float(np.sum((w - w0) ** 2))

        best = minimize(objective, w0, method="BFGS")
        w = np.clip(best.x, -1.0, 2.0)
        return MarketBlend(float(w[0]), float(w[1]), n)


def confidence_of(p_side: float, flags: list[str]) -> float:
    """Confidence 0-100: the probability of the chosen side winning, discounted for red flags.

    Without a line it is the probability mass within one strikeout of the median, a measure of
    how sharp the forecast is.
    """
    value = 100.0 * p_side
    for flag in flags:
        value *= CONFIDENCE_PENALTY.get(flag, 1.0)
    return float(min(100.0, max(0.0, value)))


def shown_below(value: float, limit: float, decimals: int) -> str:
    """``value`` (below ``limit``) written so that it reads below the limit: with ``decimals``,
    or more where rounding would reach the limit (59.7 is "59.7", not "60", against 60),
    truncated at three more ("59.999" for 59.99996)."""
    for d in range(decimals, decimals + 3):
        text = f"{value:.{d}f}"
        if float(text) < limit:
            return text
    d = decimals + 3
    return f"{math.floor(value * 10**d) / 10**d:.{d}f}"


def decide(
    pmf: np.ndarray,
    predicted: float,
    line: float | None,
    over_odds: float | None,
    under_odds: float | None,
    flags: list[str],
    thresholds: Thresholds,
    confidence_factor: float = 1.0,
    blend: MarketBlend | None = None,
) -> Decision:
    """OVER, UNDER or PASS for one prediction.

    The stated probabilities are the system's own, pooled with the de-vigged market where both
    prices are known (``blend``; see ``MarketBlend``). A side is bet when the predicted
    strikeouts clear the line by ``min_edge``, the confidence reaches ``min_confidence``, no red
    flag blocks that side and, where a price is known, the bet has positive expected value at the
    offered odds.
    """
    if line is None or (isinstance(line, float) and math.isnan(line)):
        sharp = float(pmf[max(0, int(round(predicted)) - 1) : int(round(predicted)) + 2].sum())
        conf = confidence_of(sharp, flags) * confidence_factor
        return Decision(None, None, None, None, None, None, min(100.0, conf), "PASS", ["no line"])
    p_over, p_under, p_push = line_probabilities(pmf, line)
    edge = predicted - line
    market = devig(over_odds, under_odds)
    decided_mass = max(1e-9, p_over + p_under)
    model_p_over = p_over / decided_mass
    if market is not None:
        stated = (blend or MarketBlend()).apply(min(max(model_p_over, 1e-4), 1 - 1e-4), market)
        p_over, p_under = stated * decided_mass, (1.0 - stated) * decided_mass
    side = "OVER" if edge > 0 else "UNDER"
    p_side = p_over if side == "OVER" else p_under
    # confidence is about the decided bet: probability of winning it, pushes excluded
    p_decided = p_side / max(1e-9, p_over + p_under)
    conf = min(100.0, confidence_of(p_decided, flags) * confidence_factor)
    odds = over_odds if side == "OVER" else under_odds
    ev = None
    if odds is not None and not (isinstance(odds, float) and math.isnan(odds)):
        ev = p_side * (american_to_decimal(odds) - 1.0) - (1.0 - p_side - p_push)
    reasons = []
    if abs(edge) < thresholds.min_edge:
        shown = ("-" if edge < 0 else "+") + shown_below(abs(edge), thresholds.min_edge, 2)
        reasons.append(f"edge {shown} K is inside {thresholds.min_edge:g}")
    if conf < thresholds.min_confidence:
        shown = shown_below(conf, thresholds.min_confidence, 0)
        reasons.append(f"confidence {shown} is below {thresholds.min_confidence:g}")
    if side == "OVER" and BLOCKS_OVER.intersection(flags):
        reasons.append("red flag against the over: " + ", ".join(sorted(BLOCKS_OVER & set(flags))))
    if ev is not None and ev <= 0:
        reasons.append(f"no value at {odds:+.0f} (EV {ev:+.3f} per unit)")
    recommendation = "PASS" if reasons else side
    return Decision(
        p_over, p_under, p_push, edge, market, ev, conf, recommendation, reasons, model_p_over
    )


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

VOID = "void"
"""The result of a prediction whose pitcher did not start the game (scratched, moved to the
bullpen, or the game postponed or cancelled): no action, as the books grade it. A void row has
no actual strikeouts, so it is in no error, win rate or ROI figure."""


def bet_result(recommendation: str | None, line: float | None, actual: float | None) -> str:
    """win, loss or push for a bet; no_line when there was no line; pass when no bet was made;
    void when there is no actual (the pitcher did not start)."""
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return VOID
    if line is None or (isinstance(line, float) and math.isnan(line)):
        return "no_line"
    if recommendation not in ("OVER", "UNDER"):
        return "pass"
    if actual == line:
        return "push"
    won = actual > line if recommendation == "OVER" else actual < line
    return "win" if won else "loss"
