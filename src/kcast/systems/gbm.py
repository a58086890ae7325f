"""Gradient-boosted strikeout distributions: batters faced times strikeout rate.

Strikeouts in a start are batters faced (the workload) times the chance each one strikes out.
Two xgboost models learn those two parts:

* a strikeout-rate model (``binary:logistic`` on K/BF, weighted by BF) gives p;
* a workload model (``reg:squarederror`` on BF) gives the expected batters faced, mu.

The distribution is then a mixture: batters faced follow the empirical spread of workloads
around mu (learned on a held-out season, by band of mu, so early hooks and blow-ups are in the
left tail as often as they really happen), and given n batters the strikeouts are beta-binomial
with mean p and a concentration kappa, also fitted on the held-out season (a start's true rate
varies around any estimate of it).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from kcast.decisions import MAX_K
from kcast.errors import ModelError

MAX_BF = 45
RESIDUAL_MIN, RESIDUAL_MAX = -30, 20
N_BANDS = 4

DEFAULT_PARAMS: dict[str, Any] = {
    "max_depth": 4,
    "eta": 0.1,
    "max_bin": 64,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 20,
    "lambda": 5.0,
    "nthread": 1,  # one thread per model: faster than two on a shared 2-core machine
    "seed": 7,
}
MAX_ROUNDS = 1500
EARLY_STOP = 60


def _betabinom_logpmf(k: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log BetaBinomial(k; n, a, b), broadcasting; -inf where k > n."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    valid = (k <= n) & (k >= 0)
    kk = np.where(valid, k, 0.0)
    out = (
        gammaln(n + 1)
        - gammaln(kk + 1)
        - gammaln(n - kk + 1)
        + gammaln(kk + a)
        + gammaln(n - kk + b)
        - gammaln(n + a + b)
        + gammaln(a + b)
        - gammaln(a)
        - gammaln(b)
    )
    return np.where(valid, out, -np.inf)


@dataclass
class Calibration:
    """What the held-out season taught: K|BF spread and the workload spread by band."""

    kappa: float = 60.0
    band_edges: list[float] = field(default_factory=list)  # N_BANDS - 1 cut points of mu
    residual_pmfs: list[list[float]] = field(default_factory=list)  # per band, over residuals

    def to_json(self) -> dict[str, Any]:
        return {
            "kappa": self.kappa,
            "band_edges": self.band_edges,
            "residual_pmfs": self.residual_pmfs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(float(data["kappa"]), list(data["band_edges"]), list(data["residual_pmfs"]))


class StrikeoutDistributionModel:
    """The two boosters and their calibration, for one feature list."""

    def __init__(self, features: tuple[str, ...], params: dict[str, Any] | None = None) -> None:
        self.features = tuple(features)
        self.params = {**DEFAULT_PARAMS, **(params or {})}
        self.k_model: xgb.Booster | None = None
        self.bf_model: xgb.Booster | None = None
        self.calibration = Calibration()
        self.rounds: dict[str, int] = {}
        self.metrics: dict[str, float] = {}

    # --- training ------------------------------------------------------------------------
    def _matrix(self, frame: pd.DataFrame, label: Any = None, weight: Any = None) -> xgb.DMatrix:
        x = frame[list(self.features)].to_numpy(dtype=np.float32)
        return xgb.DMatrix(
            x,
            label=label,
            weight=weight,
            feature_names=list(self.features),
            missing=np.nan,
            nthread=self.params["nthread"],
        )

    def _train_pair(
        self, train: pd.DataFrame, valid: pd.DataFrame | None, rounds: dict[str, int] | None
    ) -> tuple[xgb.Booster, xgb.Booster, dict[str, int]]:
        bf = train["batters_faced"].to_numpy(float)
        k = train["strikeouts"].to_numpy(float)
        k_params = {**self.params, "objective": "binary:logistic", "eval_metric": "logloss"}
        bf_params = {**self.params, "objective": "reg:squarederror", "eval_metric": "rmse"}
        dk = self._matrix(train, label=k / bf, weight=bf)
        dbf = self._matrix(train, label=bf)
        found: dict[str, int] = {}
        if valid is not None:
            vbf = valid["batters_faced"].to_numpy(float)
            vk = valid["strikeouts"].to_numpy(float)
            dvk = self._matrix(valid, label=vk / vbf, weight=vbf)
            dvbf = self._matrix(valid, label=vbf)
            km, bm = (
                xgb.train(
                    params,
                    train_matrix,
                    MAX_ROUNDS,
                    evals=[(valid_matrix, "valid")],
                    early_stopping_rounds=EARLY_STOP,
                    verbose_eval=False,
                )
                for params, train_matrix, valid_matrix in (
                    (k_params, dk, dvk),
                    (bf_params, dbf, dvbf),
                )
            )
            found = {"k_rate": km.best_iteration + 1, "batters_faced": bm.best_iteration + 1}
            km = km[: found["k_rate"]]
            bm = bm[: found["batters_faced"]]
            return km, bm, found
        assert rounds is not None
        km = xgb.train(k_params, dk, rounds["k_rate"], verbose_eval=False)
        bm = xgb.train(bf_params, dbf, rounds["batters_faced"], verbose_eval=False)
        return km, bm, rounds

    def fit(
        self,
        frame: pd.DataFrame,
        holdout: np.ndarray | None = None,
        calibrate: bool = True,
        rounds: dict[str, int] | None = None,
    ) -> StrikeoutDistributionModel:
        """Fit on ``frame``. With ``holdout`` (a boolean mask, usually the last season) the
        number of boosting rounds and the calibration are learned on it first, then the models
        are refitted on everything. With ``rounds`` (and no holdout) they are reused.

        Rows with no batters faced (a listed starter who faced nobody) carry no strikeout rate
        and no workload to learn from: they are left out of both models, and ``holdout`` (one
        entry per row of ``frame``, as given) is filtered the same way, so the held-out season
        stays and early stopping and calibration still happen."""
        keep = (frame["batters_faced"] > 0).to_numpy()
        if holdout is not None:
            holdout = np.asarray(holdout, bool)
            if holdout.shape != (len(frame),):
                raise ValueError(
                    f"holdout has {holdout.size} entries for a frame of {len(frame)} rows"
                )
            holdout = holdout[keep]
        frame = frame[keep]
        if holdout is not None and holdout.any() and (~holdout).any():
            train, valid = frame[~holdout], frame[holdout]
            km, bm, found = self._train_pair(train, valid, None)
            self.k_model, self.bf_model = km, bm
            if calibrate:
                self.calibration = self._calibrate(valid)
            self.metrics = self._holdout_metrics(valid)
            self.k_model, self.bf_model, self.rounds = self._train_pair(frame, None, found)
            return self
        if rounds is None:
            rounds = self.rounds or {"k_rate": 400, "batters_faced": 400}
        self.k_model, self.bf_model, self.rounds = self._train_pair(frame, None, rounds)
        return self

    def _calibrate(self, valid: pd.DataFrame) -> Calibration:
        p, mu = self.predict_parts(valid)
        k = valid["strikeouts"].to_numpy(float)
        bf = valid["batters_faced"].to_numpy(float)

        def nll(log_kappa: float) -> float:
            kappa = math.exp(log_kappa)
            return -float(_betabinom_logpmf(k, bf, p * kappa, (1 - p) * kappa).sum())

        best = minimize_scalar(nll, bounds=(math.log(5), math.log(5000)), method="bounded")
        kappa = float(math.exp(best.x))
        edges = list(np.quantile(mu, np.linspace(0, 1, N_BANDS + 1)[1:-1]))
        band = np.searchsorted(edges, mu)
        resid = np.clip(np.round(bf - mu), RESIDUAL_MIN, RESIDUAL_MAX).astype(int)
        pmfs = []
        for b in range(N_BANDS):
            counts = np.bincount(
                resid[band == b] - RESIDUAL_MIN, minlength=RESIDUAL_MAX - RESIDUAL_MIN + 1
            ).astype(float)
            counts += 0.5  # a whisker of mass everywhere: no residual is impossible
            pmfs.append(list(counts / counts.sum()))
        return Calibration(kappa, [float(e) for e in edges], pmfs)

    def _holdout_metrics(self, valid: pd.DataFrame) -> dict[str, float]:
        pmf = self.predict_pmf(valid)
        k = valid["strikeouts"].to_numpy(int).clip(0, MAX_K)
        mean = (pmf * np.arange(MAX_K + 1)).sum(axis=1)
        return {
            "holdout_rows": float(len(valid)),
            "holdout_mae": float(np.abs(mean - valid["strikeouts"]).mean()),
            "holdout_rmse": float(np.sqrt(((mean - valid["strikeouts"]) ** 2).mean())),
            "holdout_nll": float(-np.log(np.clip(pmf[np.arange(len(k)), k], 1e-12, None)).mean()),
            "kappa": self.calibration.kappa,
        }

    # --- predicting ----------------------------------------------------------------------
    def predict_parts(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(strikeout rate p, expected batters faced mu) per row."""
        if self.k_model is None or self.bf_model is None:
            raise ModelError("the model has not been fitted or loaded")
        d = self._matrix(frame)
        p = np.clip(self.k_model.predict(d), 1e-4, 0.95)
        mu = np.clip(self.bf_model.predict(d), 1.0, MAX_BF)
        return p.astype(float), mu.astype(float)

    def predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        p, mu = self.predict_parts(frame)
        return self.pmf_from_parts(p, mu)

    def pmf_from_parts(self, p: np.ndarray, mu: np.ndarray) -> np.ndarray:
        cal = self.calibration
        n_rows = len(p)
        resid = np.arange(RESIDUAL_MIN, RESIDUAL_MAX + 1)
        if cal.residual_pmfs:
            band = np.searchsorted(np.asarray(cal.band_edges), mu)
            w = np.asarray(cal.residual_pmfs)[band]  # rows x residuals
        else:  # uncalibrated: a plain spread of +-3 batters
            w = np.exp(-0.5 * (resid / 3.0) ** 2)[None, :].repeat(n_rows, 0)
            w /= w.sum(axis=1, keepdims=True)
        bf = np.clip(np.round(mu)[:, None] + resid[None, :], 1, MAX_BF)  # rows x residuals
        ks = np.arange(MAX_K + 1)
        kappa = cal.kappa
        a = (p * kappa)[:, None, None]
        b = ((1 - p) * kappa)[:, None, None]
        logp = _betabinom_logpmf(ks[None, None, :], bf[:, :, None], a, b)
        k_given_bf = np.exp(logp)  # rows x residuals x K
        # mass above MAX_K goes to the last cell
        tail = 1.0 - k_given_bf.sum(axis=2)
        k_given_bf[:, :, -1] += np.clip(tail, 0, None)
        pmf = (w[:, :, None] * k_given_bf).sum(axis=1)
        return pmf / pmf.sum(axis=1, keepdims=True)

    # --- persistence ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        if self.k_model is None or self.bf_model is None:
            raise ModelError("the model has not been fitted")
        return {
            "format": "kcast-gbm-1",
            "features": list(self.features),
            "params": self.params,
            "rounds": self.rounds,
            "calibration": self.calibration.to_json(),
            "k_rate": json.loads(bytes(self.k_model.save_raw(raw_format="json"))),
            "batters_faced": json.loads(bytes(self.bf_model.save_raw(raw_format="json"))),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "model") -> StrikeoutDistributionModel:
        try:
            if data.get("format") != "kcast-gbm-1":
                raise ModelError(
                    f"{source}: not a kcast model file (format {data.get('format')!r})"
                )
            model = cls(tuple(data["features"]), data["params"])
            model.rounds = dict(data["rounds"])
            model.calibration = Calibration.from_json(data["calibration"])
            model.k_model = xgb.Booster()
            model.k_model.load_model(bytearray(json.dumps(data["k_rate"]).encode()))
            model.bf_model = xgb.Booster()
            model.bf_model.load_model(bytearray(json.dumps(data["batters_faced"]).encode()))
        except ModelError:
            raise
        except (KeyError, TypeError, ValueError, xgb.core.XGBoostError) as exc:
            raise ModelError(f"{source}: broken model file ({type(exc).__name__}: {exc})") from exc
        return model

    def fingerprint(self) -> str:
        blob = json.dumps(self.to_json(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:8]


def holdout_mask(frame: pd.DataFrame) -> np.ndarray:
    """The last season in ``frame`` (or its last fifth by date, if it spans one season)."""
    dates = pd.to_datetime(frame["game_date"])
    seasons = dates.dt.year
    if seasons.nunique() >= 2:
        return (seasons == seasons.max()).to_numpy()
    cut = dates.quantile(0.8)
    return (dates > cut).to_numpy()
