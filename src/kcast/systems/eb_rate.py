"""``eb_rate``: an empirical-Bayes strikeout-rate model, no boosting.

Strikeouts in a start are batters faced times the chance each one strikes out, and this system
estimates both parts the way a careful analyst would by hand:

* the pitcher's strikeout rate is his strikeouts over batters faced this season plus last
  season's (weighted by ``prev_weight``), shrunk toward the league's rate by ``prior_bf``
  batters of prior evidence (a beta prior), then moved for the opponent with the odds-ratio
  (log5) formula and for the park;
* his batters faced is this season's per-start average shrunk toward last season's and the
  league's, with the spread of real workloads around that average (early hooks included) taken
  from the training starts;
* given n batters the strikeouts are beta-binomial around the rate with concentration ``kappa``.

The four numbers (``prior_bf``, ``prev_weight``, ``kappa``, ``bf_prior_starts``) are fitted by
maximum likelihood on the training starts. It is a second kind of system beside the boosted
ones: trained, saved, loaded, backtested and served through the registry like any other.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from kcast.decisions import MAX_K
from kcast.errors import ModelError
from kcast.numbers import logit
from kcast.systems.base import BasePredictor
from kcast.systems.gbm import _betabinom_logpmf

FORMAT = "kcast-eb-1"
MAX_BF = 45
RESIDUAL_MIN, RESIDUAL_MAX = -25, 15
LEAGUE_BF = 23.0  # used only when a row carries no league or previous workload at all

EB_FEATURES: tuple[str, ...] = (
    "k_pct_std",
    "bf_per_start_std",
    "starts_std",
    "k_pct_prev",
    "bf_per_start_prev",
    "starts_prev",
    "opp_k_pct_std",
    "opp_k_pct_prev",
    "park_k_factor",
    "league_k_pct",
)


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(p, 1e-4)


class EmpiricalBayesPredictor(BasePredictor):
    """Shrunk strikeout rate times shrunk workload, with a beta-binomial spread."""

    system_id = "eb_rate"
    description = "empirical-Bayes shrunk strikeout rate x workload, beta-binomial (no boosting)"
    features = EB_FEATURES

    def __init__(self, system_id: str | None = None, **params: Any) -> None:
        super().__init__(system_id, **params)
        self.params_: dict[str, float] = {}
        self.residual_pmf_: np.ndarray = np.zeros(RESIDUAL_MAX - RESIDUAL_MIN + 1)

    # --- the two parts -----------------------------------------------------------------------
    @staticmethod
    def _league(frame: pd.DataFrame) -> np.ndarray:
        league = _col(frame, "league_k_pct")
        fallback = np.nanmedian(league) if np.isfinite(league).any() else 0.22
        return np.where(np.isnan(league), fallback, league)

    def _rate(self, frame: pd.DataFrame, prior_bf: float, prev_weight: float) -> np.ndarray:
        league = self._league(frame)
        bf_std = np.nan_to_num(_col(frame, "bf_per_start_std") * _col(frame, "starts_std"))
        bf_prev = np.nan_to_num(_col(frame, "bf_per_start_prev") * _col(frame, "starts_prev"))
        k_std = np.nan_to_num(_col(frame, "k_pct_std")) * bf_std
        k_prev = np.nan_to_num(_col(frame, "k_pct_prev")) * bf_prev
        k = k_std + prev_weight * k_prev + prior_bf * league
        n = bf_std + prev_weight * bf_prev + prior_bf
        rate = k / n
        # the opponent, by odds ratio against the league; then the park
        opp = _col(frame, "opp_k_pct_std")
        opp = np.where(np.isnan(opp), _col(frame, "opp_k_pct_prev"), opp)
        opp = np.where(np.isnan(opp), league, opp)
        z = _logit(rate) + _logit(opp) - _logit(league)
        park = _col(frame, "park_k_factor")
        z += np.log(np.where(np.isnan(park) | (park <= 0), 1.0, park))
        return 1.0 / (1.0 + np.exp(-z))

    @staticmethod
    def _workload(frame: pd.DataFrame, bf_prior_starts: float, league_bf: float) -> np.ndarray:
        starts = np.nan_to_num(_col(frame, "starts_std"))
        this = np.nan_to_num(_col(frame, "bf_per_start_std"))
        prev = _col(frame, "bf_per_start_prev")
        prior = np.where(np.isnan(prev), league_bf, 0.5 * prev + 0.5 * league_bf)
        return (starts * this + bf_prior_starts * prior) / (starts + bf_prior_starts)

    # --- fitting ---------------------------------------------------------------------------
    def _fit(self, frame: pd.DataFrame, **info: Any) -> None:
        bf = frame["batters_faced"].to_numpy(float)
        k = frame["strikeouts"].to_numpy(float)
        ok = bf > 0
        rows, bf, k = frame[ok], bf[ok], k[ok]

        def nll(theta: np.ndarray) -> float:
            prior_bf, prev_weight, kappa = np.exp(theta)
            p = self._rate(rows, prior_bf, min(prev_weight, 1.0))
            a, b = p * kappa, (1 - p) * kappa
            return -float(_betabinom_logpmf(k, bf, a, b).mean())

        best = minimize(nll, np.log([150.0, 0.5, 80.0]), method="Nelder-Mead")
        prior_bf, prev_weight, kappa = (float(x) for x in np.exp(best.x))
        league_bf = float(np.median(bf))

        def sq(log_s: np.ndarray) -> float:
            mu = self._workload(rows, float(np.exp(log_s[0])), league_bf)
            return float(((bf - mu) ** 2).mean())

        bf_prior_starts = float(np.exp(minimize(sq, [math.log(3.0)], method="Nelder-Mead").x[0]))
        mu = self._workload(rows, bf_prior_starts, league_bf)
        resid = np.clip(np.round(bf - mu), RESIDUAL_MIN, RESIDUAL_MAX).astype(int) - RESIDUAL_MIN
        counts = np.bincount(resid, minlength=RESIDUAL_MAX - RESIDUAL_MIN + 1) + 0.5
        self.residual_pmf_ = counts / counts.sum()
        self.params_ = {
            "prior_bf": prior_bf,
            "prev_weight": min(prev_weight, 1.0),
            "kappa": kappa,
            "bf_prior_starts": bf_prior_starts,
            "league_bf": league_bf,
        }
        self._training_metadata(
            frame,
            info.get("trained_through"),
            metrics={"train_nll_k_given_bf": float(best.fun)},
            params=self.params_,
        )

    # --- predicting ------------------------------------------------------------------------
    def _predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        prm = self.params_
        p = self._rate(frame, prm["prior_bf"], prm["prev_weight"])
        mu = self._workload(frame, prm["bf_prior_starts"], prm["league_bf"])
        n_all = np.arange(MAX_BF + 1, dtype=float)
        offsets = np.arange(RESIDUAL_MIN, RESIDUAL_MAX + 1)
        # P(batters faced = n) per row: the residual spread placed around round(mu)
        bf_pmf = np.zeros((len(frame), MAX_BF + 1))
        centre = np.round(mu).astype(int)
        for j, off in enumerate(offsets):
            n = np.clip(centre + off, 0, MAX_BF)
            np.add.at(bf_pmf, (np.arange(len(frame)), n), self.residual_pmf_[j])
        ks = np.arange(MAX_K + 1, dtype=float)
        kappa = prm["kappa"]
        a = (p * kappa)[:, None, None]
        b = ((1 - p) * kappa)[:, None, None]
        logp = _betabinom_logpmf(ks[None, None, :], n_all[None, :, None], a, b)
        pmf = (bf_pmf[:, :, None] * np.exp(logp)).sum(axis=1)
        # the last cell holds the tail (more than MAX_K strikeouts)
        pmf[:, -1] += np.clip(1.0 - pmf.sum(axis=1), 0.0, None)
        return pmf

    # --- the model file --------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "features": list(self.features),
            "params": self.params_,
            "residual_min": RESIDUAL_MIN,
            "residual_pmf": [float(x) for x in self.residual_pmf_],
        }

    def _from_state(self, data: dict[str, Any], source: str) -> None:
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            params = {k: float(v) for k, v in data["params"].items()}
            residual = np.asarray(data["residual_pmf"], float)
            if residual.shape != (RESIDUAL_MAX - RESIDUAL_MIN + 1,):
                raise ValueError("residual_pmf has the wrong length")
            needed = {"prior_bf", "prev_weight", "kappa", "bf_prior_starts", "league_bf"}
            if not needed <= set(params):
                raise ValueError(f"params lack {sorted(needed - set(params))}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model file {source} is unreadable: {exc}") from exc
        self.params_ = params
        self.residual_pmf_ = residual
