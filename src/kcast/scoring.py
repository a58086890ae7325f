"""The statistics kcast reports, written once: the backtest, ``kcast grade``, ``kcast bets``
and the dashboard take them from here, so every screen shows the same numbers.

* profit: ``profit_units`` (units won per unit staked at American odds);
* closing-line value: ``closing_line_value`` (the de-vigged close minus the open of the side
  bet, in probability points);
* calibration: ``calibration_table`` (deciles of the stated P(over) against the observed rate,
  each with its Wilson interval) and ``calibration_summary``;
* probability scores: ``probability_scores`` (log loss, Brier), ``log_score``;
* intervals: ``bootstrap_mean`` (a mean and its percentile bootstrap interval).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap, chi2
from sklearn.metrics import brier_score_loss, log_loss
from statsmodels.stats.proportion import proportion_confint

from kcast import policy
from kcast.decisions import american_to_decimal

CALIBRATION_BINS = 10
MIN_BIN = 100  # a decile of fewer predictions is left out of the calibration summary


def profit_units(
    side: np.ndarray,
    actual: np.ndarray,
    line: np.ndarray,
    over_odds: np.ndarray,
    under_odds: np.ndarray,
) -> np.ndarray:
    """Profit per unit staked on each side at its American odds (0 for a push); NaN where there is no bet or no price."""
    out = np.full(len(side), np.nan)
    for i, s in enumerate(side):
        if s not in ("OVER", "UNDER"):
            continue
        odds = over_odds[i] if s == "OVER" else under_odds[i]
        if np.isnan(odds):
            continue
        if actual[i] == line[i]:
            out[i] = 0.0
        elif (actual[i] > line[i]) == (s == "OVER"):
            out[i] = american_to_decimal(odds) - 1.0
        else:
            out[i] = -1.0
    return out


def log_score(pmf: np.ndarray, actual: np.ndarray) -> float:
    """Mean -log P(the strikeouts that happened) (the last cell holds the tail)."""
    k = np.clip(actual.astype(int), 0, pmf.shape[1] - 1)
    return float(-np.log(np.clip(pmf[np.arange(len(k)), k], 1e-12, None)).mean())


def probability_scores(p_over: np.ndarray, over: np.ndarray) -> tuple[float, float]:
    """Log loss and Brier score of stated probabilities of an over against what happened
    (``sklearn.metrics``; probabilities clipped to [1e-6, 1 - 1e-6] first, as kcast always
    did: sklearn clips only at the float's epsilon). NaN without rows."""
    p = np.clip(np.asarray(p_over, float), 1e-6, 1 - 1e-6)
    if len(over) == 0 or np.isnan(p).any():  # as the mean of such rows always was
        return float("nan"), float("nan")
    y = np.asarray(over, float)
    return float(log_loss(y, p, labels=[0.0, 1.0])), float(brier_score_loss(y, p))


def calibration_table(
    p_over: np.ndarray, over: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Deciles of stated P(over): mean stated, observed over rate (with its 95% Wilson
    interval ``lo``..``hi``), count."""
    if len(p_over) == 0:
        return []
    edges = np.quantile(p_over, np.linspace(0, 1, bins + 1))
    idx = np.clip(np.searchsorted(edges[1:-1], p_over, side="right"), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = idx == b
        if not mask.any():
            continue
        table.append(
            {
                "bin": b + 1,
                "n": int(mask.sum()),
                "stated": float(p_over[mask].mean()),
                "observed": float(over[mask].mean()),
                "gap": float(over[mask].mean() - p_over[mask].mean()),
                **dict(
                    zip(("lo", "hi"), wilson(float(over[mask].sum()), int(mask.sum())), strict=True)
                ),
            }
        )
    return table


def calibration_summary(table: list[dict[str, float]]) -> dict[str, float | int | None]:
    """The largest gap between stated and observed P(over) over deciles of 100+ predictions,
    how many such deciles miss by more than 3 points, and a Hosmer-Lemeshow test: the chance
    that a perfectly calibrated forecaster would show gaps at least this large."""
    big = [r for r in table if r["n"] >= MIN_BIN]
    if not big:
        return {"calibration_max_gap": None, "deciles_over_3pts": None, "calibration_p": None}
    stat = sum(
        r["n"] * (r["observed"] - r["stated"]) ** 2 / max(1e-9, r["stated"] * (1 - r["stated"]))
        for r in big
    )
    return {
        "calibration_max_gap": float(max(abs(r["gap"]) for r in big)),
        "deciles_over_3pts": int(sum(abs(r["gap"]) > 0.03 for r in big)),
        "calibration_p": float(chi2.sf(stat, max(1, len(big) - 2))),
    }


def clv_points(side: np.ndarray, close: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """Each side's closing-line value in probability points: the de-vigged close probability
    of the side minus that at the open, at the same line (NaN without a side or a price)."""
    over = side == "OVER"
    value = np.where(over, close - open_, open_ - close)
    return np.where(np.isin(side, ("OVER", "UNDER")), value, np.nan)


def closing_line_value(
    side: np.ndarray, close: np.ndarray, open_: np.ndarray, bets: np.ndarray
) -> float | None:
    """Mean closing-line value of the bets (``clv_points``), in probability points."""
    has = bets & ~np.isnan(close) & ~np.isnan(open_)
    if not has.any():
        return None
    return float(clv_points(side[has], close[has], open_[has]).mean())


def wilson(k: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (``alpha`` 0.05: 95%), by
    statsmodels' ``proportion_confint``. Its z is the exact normal quantile (1.959964 for
    95%), where kcast's own formula used 1.96: z differs in its fourth decimal, the bounds by
    less than 1e-5 (measured over n = 1..1000)."""
    if n == 0:
        return 0.0, 1.0
    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    return max(0.0, float(lo)), min(1.0, float(hi))


def bootstrap_mean(
    values: np.ndarray,
    n: int = policy.BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    confidence: float = policy.GATE_CONFIDENCE,
) -> tuple[float, float, float] | None:
    """The mean of ``values`` (NaN left out) and its percentile bootstrap interval
    (``scipy.stats.bootstrap``, ``n`` resamples, seeded); None without values. One value:
    the interval is that value."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return None
    mean = float(v.mean())
    if len(v) == 1 or np.all(v == v[0]):
        return mean, mean, mean
    got = bootstrap(
        (v,),
        np.mean,
        n_resamples=n,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    ).confidence_interval
    return mean, float(got.low), float(got.high)
