"""Odds, distribution facts and the OVER/UNDER/PASS rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from kcast.decisions import (
    MAX_K,
    OPENER,
    THIN_HISTORY,
    MarketBlend,
    Thresholds,
    american_to_decimal,
    american_to_prob,
    decide,
    devig,
    line_probabilities,
    line_probabilities_many,
    pmf_mean,
    pmf_median,
    shown_below,
)


def _pmf(n: int = 24, p: float = 0.22) -> np.ndarray:
    pmf = binom.pmf(np.arange(MAX_K + 1), n, p)
    pmf[-1] += 1 - pmf.sum()
    return pmf


def test_american_odds() -> None:
    assert american_to_prob(-110) == pytest.approx(110 / 210)
    assert american_to_prob(150) == pytest.approx(0.4)
    assert american_to_prob(None) is None
    assert american_to_decimal(-200) == pytest.approx(1.5)
    assert american_to_decimal(120) == pytest.approx(2.2)
    assert devig(-110, -110) == pytest.approx(0.5)
    assert devig(-150, 130) == pytest.approx((150 / 250) / (150 / 250 + 100 / 230))
    assert devig(-150, None) is None


def test_line_probabilities_read_the_distribution() -> None:
    pmf = _pmf()
    over, under, push = line_probabilities(pmf, 5.5)
    assert over == pytest.approx(1 - binom.cdf(5, 24, 0.22), abs=1e-9)
    assert push == 0.0 and over + under == pytest.approx(1.0)
    over, under, push = line_probabilities(pmf, 5.0)
    assert push == pytest.approx(binom.pmf(5, 24, 0.22))
    assert over + under + push == pytest.approx(1.0)
    many = line_probabilities_many(np.stack([pmf, pmf]), np.array([5.5, np.nan]))
    assert many[0, 0] == pytest.approx(line_probabilities(pmf, 5.5)[0])
    assert np.isnan(many[1]).all()
    assert pmf_mean(pmf) == pytest.approx(24 * 0.22, abs=1e-6)
    assert pmf_median(pmf) == 5


MODEL_ONLY = MarketBlend(1.0, 0.0)


def test_decide_over_under_pass() -> None:
    """The rules on the model's own probabilities (a blend that gives the market no weight)."""
    pmf = _pmf(26, 0.27)  # mean 7.0
    th = Thresholds(min_edge=0.5, min_confidence=60)
    d = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [], th, blend=MODEL_ONLY)
    assert d.recommendation == "OVER" and d.edge == pytest.approx(1.5, abs=0.05)
    assert d.expected_value > 0 and d.confidence >= 60
    d = decide(pmf, pmf_mean(pmf), 8.5, -110, -110, [], th, blend=MODEL_ONLY)
    assert d.recommendation == "UNDER"
    d = decide(pmf, pmf_mean(pmf), 7.0, -110, -110, [], th, blend=MODEL_ONLY)
    assert d.recommendation == "PASS" and any("edge" in r for r in d.reasons)
    d = decide(pmf, pmf_mean(pmf), None, None, None, [], th, blend=MODEL_ONLY)
    assert d.recommendation == "PASS" and d.p_over is None


def test_a_pass_reason_never_shows_its_value_at_the_threshold() -> None:
    """A confidence of 59.7 against 60 reads "59.7", not "confidence 60 is below 60"."""
    pmf = _pmf(26, 0.27)  # mean 7.0
    th = Thresholds(min_edge=0.5, min_confidence=60)
    p_over, p_under, _ = line_probabilities(pmf, 5.5)
    factor = 0.597 / (p_over / (p_over + p_under))  # the decided side's confidence: 59.7
    d = decide(pmf, pmf_mean(pmf), 5.5, None, None, [], th, factor, MODEL_ONLY)
    assert d.confidence == pytest.approx(59.7)
    assert d.recommendation == "PASS" and d.reasons == ["confidence 59.7 is below 60"]
    # an edge a hair inside the minimum reads inside it, on either side
    inside = decide(pmf, pmf_mean(pmf), pmf_mean(pmf) - 0.4996, None, None, [], th)
    assert inside.edge == pytest.approx(0.4996) and "edge +0.4996 K is inside 0.5" in inside.reasons
    below = decide(pmf, pmf_mean(pmf), pmf_mean(pmf) + 0.4996, None, None, [], th)
    assert "edge -0.4996 K is inside 0.5" in below.reasons
    assert shown_below(41.2, 60, 0) == "41"  # far from the limit: as before
    assert shown_below(59.96, 60, 0) == "59.96"
    assert shown_below(59.99996, 60, 0) == "59.999"  # truncated, never rounded up to the limit
    assert shown_below(60.2, 60.5, 0) == "60"
    for value in np.linspace(59.0, 59.99999, 997):
        assert float(shown_below(value, 60, 0)) < 60


def test_red_flags_block_overs_and_lower_confidence() -> None:
    pmf = _pmf(26, 0.27)
    th = Thresholds()
    clean = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [], th, blend=MODEL_ONLY)
    flagged = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [OPENER], th, blend=MODEL_ONLY)
    assert clean.recommendation == "OVER" and flagged.recommendation == "PASS"
    assert any("red flag" in r for r in flagged.reasons)
    thin = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [THIN_HISTORY], th, blend=MODEL_ONLY)
    assert thin.confidence == pytest.approx(clean.confidence * 0.85)


def test_no_value_at_a_bad_price() -> None:
    pmf = _pmf(26, 0.27)
    d = decide(pmf, pmf_mean(pmf), 5.5, -600, 400, [], Thresholds())
    assert d.recommendation == "PASS"
    assert any("market already prices" in r or "no value" in r for r in d.reasons)


def test_market_blend_pools_log_odds() -> None:
    from kcast.decisions import MarketBlend

    blend = MarketBlend(0.5, 0.5)
    assert blend.apply(0.7, 0.5) == pytest.approx(1 / (1 + np.exp(-0.5 * np.log(0.7 / 0.3))))
    assert blend.apply(0.7, None) == 0.7
    assert MarketBlend(0.0, 1.0).apply(0.9, 0.45) == pytest.approx(0.45)


def test_market_blend_learns_to_ignore_noise() -> None:
    """Outcomes drawn from the market's probabilities: a noisy model earns no weight."""
    from kcast.decisions import MarketBlend

    rng = np.random.default_rng(1)
    market = rng.uniform(0.35, 0.65, 4000)
    over = (rng.uniform(size=4000) < market).astype(float)
    model = np.clip(market + rng.normal(0, 0.12, 4000), 0.02, 0.98)
    fitted = MarketBlend.fit(model, market, over)
    assert abs(fitted.model_weight) < 0.1 and 0.8 < fitted.market_weight < 1.2
    assert fitted.n == 4000


def test_market_blend_earns_weight_only_with_a_record() -> None:
    """Outcomes drawn from the model's probabilities: a long record earns it weight, a short
    one leaves the blend near the prior (the market's price)."""
    from kcast.decisions import MarketBlend

    rng = np.random.default_rng(2)
    model = rng.uniform(0.25, 0.75, 6000)
    over = (rng.uniform(size=6000) < model).astype(float)
    market = np.clip(0.5 + 0.4 * (model - 0.5) + rng.normal(0, 0.05, 6000), 0.05, 0.95)
    long = MarketBlend.fit(model, market, over)
    short = MarketBlend.fit(model[:60], market[:60], over[:60])
    assert long.model_weight > 0.6
    assert short.model_weight < 0.25 and short.market_weight > 0.75
    assert MarketBlend.fit(model[:0], market[:0], over[:0]) == MarketBlend()


def test_stated_probability_uses_the_market() -> None:
    from kcast.decisions import MarketBlend

    pmf = _pmf(26, 0.27)  # the model alone: P(over 5.5) about 0.75
    d = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [], Thresholds(), blend=MarketBlend(0.0, 1.0))
    assert d.model_p_over > 0.7
    assert d.p_over == pytest.approx(0.5)
    assert d.recommendation == "PASS"  # no value against a fair market that knows as much
