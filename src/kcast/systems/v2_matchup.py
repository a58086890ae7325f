"""``v2_matchup``: the opposing lineup batter by batter, over the pitcher's workload.

Each batter the starter faces strikes out with his own probability. For the batter in lineup
slot ``s`` seen for the ``t``-th time, on the logit scale::

    logit p = logit(lg) + c0
              + b_bat (logit(batter vs this hand) - logit(lg))
              + b_pit (logit(pitcher K%) - logit(lg))
              + b_csw (logit(pitcher CSW%) - logit(league CSW%))
              + tto_logit[t] + log(park factor) + b_ump log(umpire factor)

With every b equal to 1 this is the odds-ratio (log5) rule, which stays calibrated at high rates
because it works on odds; the b are fitted (a logistic fit on logits). Every rate is
empirical-Bayes shrunk by its sample: the batter's strikeout rate toward the league's by
``batter_prior_pa`` plate appearances, his rate against this hand toward that (moved by the
league's platoon gap) by ``HAND_PRIOR_PA``; the pitcher's, as ``eb_rate`` does, by
``prior_bf`` batters; his CSW% by ``CSW_PRIOR_PITCHES`` pitches; the umpire's by
``UMP_PRIOR_K`` strikeouts. The times-through-the-order and platoon logits are the league's
from earlier seasons (``features.matchup``), measured within starts that went deep; they are
taken as they are (a start's total strikeouts cannot tell the decline apart from the workload).

Batters faced follow the workload model of the boosted systems (``gbm``: an xgboost model of
the expected batters faced and the real spread of workloads around it). Given ``n`` batters the
strikeouts are Poisson-binomial over the first ``n`` of the order (exact, by convolution), and a
start's own form moves every batter's logit by a shared normal effect of spread ``sigma``,
integrated by Gauss-Hermite quadrature: the distribution is exact up to that quadrature.

Without a confirmed lineup the team's most recent one against that hand is used (flagged
``lineup_projected``); without any (2025 comes from the Statcast start log only) every slot gets
the team's strikeout rate (``lineup_unavailable``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from kcast import policy
from kcast.decisions import MAX_K
from kcast.errors import ModelError
from kcast.features.build import ROLLING_FEATURES
from kcast.features.matchup import MATCHUP_FEATURES
from kcast.numbers import logit
from kcast.systems.base import BasePredictor, Distribution
from kcast.systems.gbm import (
    MAX_BF,
    RESIDUAL_MAX,
    RESIDUAL_MIN,
    StrikeoutDistributionModel,
    holdout_mask,
)

FORMAT = "kcast-matchup-1"
HAND_PRIOR_PA = 200.0
CSW_PRIOR_PITCHES = 600.0
UMP_PRIOR_K = 300.0
FIT_SEASONS = 3  # the rate model learns from the last three seasons of training starts
SIGMA_ROWS = 3000  # starts the day-effect spread is fitted on
SIGMA_GRID = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
GH_NODES = 7
DEFAULT_TTO = (0.0, -0.16, -0.28)  # only when no season before had play-by-play
INPUTS = ("lineup", "csw", "umpire", "tto", "park")

# name -> (initial value, transform to the model's value)
PARAMS: dict[str, float] = {
    "log_batter_prior_pa": math.log(80.0),
    "log_prior_bf": math.log(150.0),
    "prev_weight": 0.0,  # logistic: 0.5
    "c0": 0.0,
    "b_bat": 1.0,
    "b_pit": 1.0,
    "b_csw": 1.0,
    "b_ump": 1.0,
}

V2_FEATURES: tuple[str, ...] = tuple(dict.fromkeys(ROLLING_FEATURES + MATCHUP_FEATURES))


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(p, 1e-4)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def positions() -> tuple[np.ndarray, np.ndarray]:
    """For the i-th batter a starter faces (0-based): his slot (0-8) and time through (0-2)."""
    i = np.arange(MAX_BF)
    return i % 9, np.minimum(i // 9, 2)


class MatchupInputs:
    """The parts of the logit that do not depend on the fitted numbers, computed once."""

    def __init__(self, frame: pd.DataFrame, without: tuple[str, ...] = ()) -> None:
        n = len(frame)
        league = _col(frame, "league_k_pct")
        fallback = np.nanmedian(league) if np.isfinite(league).any() else 0.22
        self.lg = np.where(np.isnan(league), fallback, league)
        self.lg_logit = _logit(self.lg)
        status = (
            frame["lineup_status"].to_numpy(object)
            if "lineup_status" in frame
            else np.full(n, "unavailable", dtype=object)
        )
        if "lineup" in without:
            status = np.full(n, "unavailable", dtype=object)
        self.status = status
        has_lineup = status != "unavailable"
        # the team's rate for an unknown lineup (or a slot with no batter)
        team = _col(frame, "opp_k_pct_std")
        team = np.where(np.isnan(team), _col(frame, "opp_k_pct_prev"), team)
        self.team_logit = _logit(np.where(np.isnan(team), self.lg, team))
        # batters: (rows, 9) counts
        self.bat = {
            c: np.stack([_col(frame, f"bat{s}_{c}") for s in range(1, 10)], axis=1)
            for c in ("k", "pa", "k_hand", "pa_hand", "same")
        }
        self.has_batter = has_lineup[:, None] & np.isfinite(self.bat["pa"])
        platoon = _col(frame, "platoon_logit")
        self.platoon = np.where(np.isnan(platoon), 0.0, platoon)
        # pitcher
        self.bf_std = np.nan_to_num(_col(frame, "bf_per_start_std") * _col(frame, "starts_std"))
        self.bf_prev = np.nan_to_num(_col(frame, "bf_per_start_prev") * _col(frame, "starts_prev"))
        self.k_std = np.nan_to_num(_col(frame, "k_pct_std")) * self.bf_std
        self.k_prev = np.nan_to_num(_col(frame, "k_pct_prev")) * self.bf_prev
        # swing and miss: shrunk CSW% against the league's, on logits
        lg_csw = _col(frame, "lg_csw_pct")
        pitches = np.nan_to_num(_col(frame, "pit_pitches"))
        csw = (np.nan_to_num(_col(frame, "pit_csw")) + CSW_PRIOR_PITCHES * lg_csw) / (
            pitches + CSW_PRIOR_PITCHES
        )
        self.csw = np.where(
            np.isnan(lg_csw) | ("csw" in without), 0.0, _logit(csw) - _logit(lg_csw)
        )
        # umpire and park
        ump = (_col(frame, "ump_k") + UMP_PRIOR_K) / (_col(frame, "ump_k_expected") + UMP_PRIOR_K)
        self.ump = np.where(np.isnan(ump) | ("umpire" in without), 0.0, np.log(ump))
        park = _col(frame, "park_k_factor")
        ok = ~np.isnan(park) & (park > 0) & ("park" not in without)
        self.park = np.where(ok, np.log(np.where(ok, park, 1.0)), 0.0)
        tto = np.zeros((n, 3))
        tto[:, 1] = np.nan_to_num(_col(frame, "tto2_logit"), nan=DEFAULT_TTO[1])
        tto[:, 2] = np.nan_to_num(_col(frame, "tto3_logit"), nan=DEFAULT_TTO[2])
        self.tto = tto * (0.0 if "tto" in without else 1.0)

    def cell_logits(self, prm: dict[str, float]) -> np.ndarray:
        """The logit for each (row, slot, time through), shape (rows, 9, 3)."""
        lg = self.lg
        m0 = math.exp(prm["log_batter_prior_pa"])
        overall = (np.nan_to_num(self.bat["k"]) + m0 * lg[:, None]) / (
            np.nan_to_num(self.bat["pa"]) + m0
        )
        side = np.where(np.isnan(self.bat["same"]), 0.0, np.where(self.bat["same"] > 0, 0.5, -0.5))
        prior_hand = _sigmoid(_logit(overall) + side * self.platoon[:, None])
        hand = (np.nan_to_num(self.bat["k_hand"]) + HAND_PRIOR_PA * prior_hand) / (
            np.nan_to_num(self.bat["pa_hand"]) + HAND_PRIOR_PA
        )
        bat = np.where(self.has_batter, _logit(hand), self.team_logit[:, None])
        prior_bf = math.exp(prm["log_prior_bf"])
        w = 1.0 / (1.0 + math.exp(-prm["prev_weight"]))
        pitcher = (self.k_std + w * self.k_prev + prior_bf * lg) / (
            self.bf_std + w * self.bf_prev + prior_bf
        )
        base = (
            self.lg_logit
            + prm["c0"]
            + prm["b_pit"] * (_logit(pitcher) - self.lg_logit)
            + prm["b_csw"] * self.csw
            + self.park
            + prm["b_ump"] * self.ump
        )
        z = base[:, None] + prm["b_bat"] * (bat - self.lg_logit[:, None])
        return z[:, :, None] + self.tto[:, None, :]

    def position_logits(self, prm: dict[str, float]) -> np.ndarray:
        """The logit of the i-th batter faced, shape (rows, MAX_BF)."""
        slot, tto = positions()
        return self.cell_logits(prm)[:, slot, tto]


def k_given_bf(z: np.ndarray, sigma: float) -> np.ndarray:
    """P(K = k | the first n batters), shape (rows, MAX_BF + 1, MAX_K + 1): the exact
    Poisson-binomial of the position probabilities, mixed over a normal day effect."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(GH_NODES if sigma > 0 else 1)
    weights = weights / weights.sum()
    rows = z.shape[0]
    out = np.zeros((rows, MAX_BF + 1, MAX_K + 1))
    for node, weight in zip(nodes, weights, strict=True):
        p = _sigmoid(z + sigma * node)
        dist = np.zeros((rows, MAX_K + 1))
        dist[:, 0] = 1.0
        out[:, 0, :] += weight * dist
        for i in range(MAX_BF):
            q = p[:, i : i + 1]
            moved = dist * q
            dist = dist * (1 - q)
            dist[:, 1:] += moved[:, :-1]
            dist[:, -1] += moved[:, -1]  # more than MAX_K: kept in the last cell
            out[:, i + 1, :] += weight * dist
    return out


class MatchupPredictor(BasePredictor):
    """Batter-by-batter strikeout probabilities over a distribution of batters faced."""

    system_id = "v2_matchup"
    description = (
        "lineup batter by batter (odds-ratio matchup, EB-shrunk), CSW%, umpire, times through "
        "the order; exact Poisson-binomial over the boosted workload"
    )
    features = V2_FEATURES

    def __init__(self, system_id: str | None = None, **params: Any) -> None:
        # ``without``: inputs left out (an ablation): any of INPUTS
        self.without = tuple(params.pop("without", ()))
        unknown = set(self.without) - set(INPUTS)
        if unknown:
            raise ModelError(f"v2_matchup cannot leave out {sorted(unknown)}; known: {INPUTS}")
        super().__init__(system_id, **params)
        self.params_: dict[str, float] = {}
        self.sigma_: float = 0.0
        self.workload_: StrikeoutDistributionModel | None = None

    # --- fitting -----------------------------------------------------------------------------
    def _fit(self, frame: pd.DataFrame, **info: Any) -> None:
        reuse = info.get("reuse")
        workload = StrikeoutDistributionModel(ROLLING_FEATURES)
        if isinstance(reuse, MatchupPredictor) and reuse.workload_ is not None:
            workload.calibration = reuse.workload_.calibration
            workload.fit(frame, rounds=reuse.workload_.rounds)
            start = reuse.params_
        else:
            workload.fit(frame, holdout=holdout_mask(frame))
            start = PARAMS
        self.workload_ = workload
        rows = frame[(frame["batters_faced"] > 0).to_numpy()]
        rows = rows[rows["season"] > rows["season"].max() - FIT_SEASONS]
        inputs = MatchupInputs(rows, self.without)
        bf = np.clip(rows["batters_faced"].to_numpy(int), 1, MAX_BF)
        k = rows["strikeouts"].to_numpy(float)
        names = list(PARAMS)

        def nll(theta: np.ndarray) -> float:
            prm = dict(zip(names, theta, strict=True))
            p = _sigmoid(inputs.position_logits(prm))
            mean = np.cumsum(p, axis=1)[np.arange(len(bf)), bf - 1] / bf
            mean = np.clip(mean, 1e-6, 1 - 1e-6)
            return -float((k * np.log(mean) + (bf - k) * np.log(1 - mean)).mean())

        best = minimize(nll, [start[n] for n in names], method="L-BFGS-B")
        self.params_ = {n: float(v) for n, v in zip(names, best.x, strict=True)}
        self.sigma_ = self._fit_sigma(inputs, bf, k.astype(int))
        self._training_metadata(
            frame,
            info.get("trained_through"),
            metrics={"train_nll_k_rate": float(best.fun), **workload.metrics},
            params=self.params_,
            sigma=self.sigma_,
            without=list(self.without),
        )

    def _fit_sigma(self, inputs: MatchupInputs, bf: np.ndarray, k: np.ndarray) -> float:
        """The day effect's spread: the grid value with the best exact likelihood of K given
        the batters really faced, on the most recent ``SIGMA_ROWS`` starts."""
        take = np.arange(max(0, len(bf) - SIGMA_ROWS), len(bf))
        z = inputs.position_logits(self.params_)[take]
        kk = np.clip(k[take], 0, MAX_K)
        best, best_ll = 0.0, -np.inf
        for sigma in SIGMA_GRID:
            probs = k_given_bf(z, sigma)[np.arange(len(take)), bf[take], kk]
            ll = float(np.log(np.clip(probs, 1e-12, None)).sum())
            if ll > best_ll:
                best, best_ll = sigma, ll
        return best

    # --- predicting --------------------------------------------------------------------------
    def _bf_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        """P(batters faced = n), n = 0..MAX_BF, from the workload model."""
        assert self.workload_ is not None
        _, mu = self.workload_.predict_parts(frame)
        cal = self.workload_.calibration
        resid = np.arange(RESIDUAL_MIN, RESIDUAL_MAX + 1)
        band = np.searchsorted(np.asarray(cal.band_edges), mu)
        w = np.asarray(cal.residual_pmfs)[band]
        n = np.clip(np.round(mu)[:, None] + resid[None, :], 1, MAX_BF).astype(int)
        out = np.zeros((len(frame), MAX_BF + 1))
        rows = np.repeat(np.arange(len(frame)), len(resid))
        np.add.at(out, (rows, n.reshape(-1)), w.reshape(-1))
        return out

    def _distribution(self, frame: pd.DataFrame, members: Any) -> Distribution:
        inputs = MatchupInputs(frame, self.without)
        z = inputs.position_logits(self.params_)
        pmf = np.einsum("rn,rnk->rk", self._bf_pmf(frame), k_given_bf(z, self.sigma_))
        flags = [
            [policy.LINEUP_PROJECTED]
            if s == "projected"
            else [policy.LINEUP_UNAVAILABLE]
            if s == "unavailable"
            else []
            for s in inputs.status
        ]
        return Distribution(pmf, extra_flags=flags)

    def _predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        return self._distribution(frame, None).pmf

    # --- the model file ----------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        assert self.workload_ is not None
        return {
            "format": FORMAT,
            "features": list(self.features),
            "params": self.params_,
            "sigma": self.sigma_,
            "without": list(self.without),
            "workload": self.workload_.to_json(),
        }

    def _from_state(self, data: dict[str, Any], source: str) -> None:
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            params = {k: float(v) for k, v in data["params"].items()}
            if set(params) != set(PARAMS):
                raise ValueError(f"params should be {sorted(PARAMS)}")
            sigma = float(data["sigma"])
            without = tuple(data.get("without", ()))
            workload = data["workload"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model file {source} is unreadable: {exc}") from exc
        self.workload_ = StrikeoutDistributionModel.from_json(workload, source=source)
        self.params_, self.sigma_, self.without = params, sigma, without
