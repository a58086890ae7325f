"""Odds, distribution facts and the OVER/UNDER/PASS rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from kcast.decisions import (
    MAX_K,
    OPENER,
    THIN_HISTORY,
    Thresholds,
    american_to_decimal,
    american_to_prob,
    decide,
    devig,
    line_probabilities,
    line_probabilities_many,
    pmf_mean,
    pmf_median,
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


def test_decide_over_under_pass() -> None:
    pmf = _pmf(26, 0.27)  # mean 7.0
    th = Thresholds(min_edge=0.5, min_confidence=60)
    d = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [], th)
    assert d.recommendation == "OVER" and d.edge == pytest.approx(1.5, abs=0.05)
    assert d.expected_value > 0 and d.confidence >= 60
    d = decide(pmf, pmf_mean(pmf), 8.5, -110, -110, [], th)
    assert d.recommendation == "UNDER"
    d = decide(pmf, pmf_mean(pmf), 7.0, -110, -110, [], th)
    assert d.recommendation == "PASS" and any("edge" in r for r in d.reasons)
    d = decide(pmf, pmf_mean(pmf), None, None, None, [], th)
    assert d.recommendation == "PASS" and d.p_over is None


def test_red_flags_block_overs_and_lower_confidence() -> None:
    pmf = _pmf(26, 0.27)
    th = Thresholds()
    clean = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [], th)
    flagged = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [OPENER], th)
    assert clean.recommendation == "OVER" and flagged.recommendation == "PASS"
    assert any("red flag" in r for r in flagged.reasons)
    thin = decide(pmf, pmf_mean(pmf), 5.5, -110, -110, [THIN_HISTORY], th)
    assert thin.confidence == pytest.approx(clean.confidence * 0.85)


def test_no_value_at_a_bad_price() -> None:
    pmf = _pmf(26, 0.27)
    d = decide(pmf, pmf_mean(pmf), 5.5, -600, 400, [], Thresholds())
    assert d.recommendation == "PASS"
    assert any("market already prices" in r or "no value" in r for r in d.reasons)
