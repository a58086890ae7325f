"""``ensemble_v1``: a weighted blend of ``v1_baseline`` and ``v1_6_rolling``.

The ensemble is a system like the others: it answers with a full distribution, the mixture of
its members' distributions under the normalised weights, so its P(over) is as real as theirs.
``combine`` is the one place where the weights and the agreement rules live:

* weights ``MLB_ENSEMBLE_V1_WEIGHT`` (0.3) and ``MLB_ENSEMBLE_V1_6_WEIGHT`` (0.5), divided by
  their sum;
* confidence +10% when the members' predictions agree within 1.0 K, -15% when they differ by
  more than 2.0 K;
* when a member is missing (failed, cut off by its breaker, or inactive) it answers from the
  others and flags ``member_missing``.

Learned weights (``LearnedWeights``) are fitted on graded history: the weight on each member
that maximises the likelihood of the strikeouts that really happened, using only predictions
graded before the day being predicted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from kcast.decisions import MAX_K, MEMBER_MISSING, Thresholds, pmf_mean
from kcast.systems.base import BasePredictor, SystemOutput, build_output

AGREE_WITHIN = 1.0
DISAGREE_OVER = 2.0
AGREE_BONUS = 1.10
DISAGREE_PENALTY = 0.85


@dataclass(frozen=True)
class Member:
    system_id: str
    weight: float


class EnsembleV1Predictor(BasePredictor):
    """A weighted mixture of member systems' distributions.

    Examples
    --------
    >>> ens = EnsembleV1Predictor(weights={"v1_baseline": 0.3, "v1_6_rolling": 0.5})
    >>> ens.combine({"v1_baseline": out_v1, "v1_6_rolling": out_v16}, rows)  # doctest: +SKIP
    """

    system_id = "ensemble_v1"
    description = "weighted mixture of v1_baseline and v1_6_rolling with agreement rules"
    is_ensemble = True
    member_ids: ClassVar[tuple[str, ...]] = ("v1_baseline", "v1_6_rolling")

    def __init__(self, weights: dict[str, float] | None = None, **params: Any) -> None:
        super().__init__(weights=weights, **params)
        weights = weights or {"v1_baseline": 0.3, "v1_6_rolling": 0.5}
        unknown = set(weights) - set(self.member_ids)
        if unknown:
            raise ValueError(f"ensemble_v1 weights name unknown members {sorted(unknown)}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"ensemble_v1 weights must be >= 0 with a positive sum: {weights}")
        self.members = tuple(Member(m, float(weights.get(m, 0.0))) for m in self.member_ids)
        self.fitted_ = True  # fixed weights need no training
        self.version_ = "ensemble_v1-" + "-".join(f"{m.weight:g}" for m in self.members)

    def _fit(self, frame: pd.DataFrame, **info: Any) -> None:  # pragma: no cover - no training
        """Fixed weights: nothing to learn (see ``LearnedWeights`` for fitted weights)."""

    def _predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        raise TypeError("ensemble_v1 predicts from its members' answers: call combine()")

    def normalised_weights(self, available: list[str]) -> dict[str, float]:
        """The members' weights over those available, divided by their sum."""
        usable = {m.system_id: m.weight for m in self.members if m.system_id in available}
        total = sum(usable.values())
        if not usable or total <= 0:
            raise ValueError(
                "ensemble_v1 has no member to answer from (needs one of "
                f"{', '.join(self.member_ids)})"
            )
        return {k: v / total for k, v in usable.items()}

    def combine(
        self,
        members: dict[str, SystemOutput],
        frame: pd.DataFrame,
        thresholds: Thresholds | None = None,
    ) -> SystemOutput:
        """Blend the members' outputs for the same rows into the ensemble's output."""
        weights = self.normalised_weights([m for m in members if m in self.member_ids])
        pmf = np.zeros((len(frame), MAX_K + 1))
        for system_id, w in weights.items():
            pmf += w * members[system_id].pmf
        factor = np.ones(len(frame))
        present = list(weights)
        if len(present) >= 2:
            means = np.stack([pmf_mean(members[m].pmf) for m in present])
            spread = means.max(axis=0) - means.min(axis=0)
            factor = np.where(
                spread <= AGREE_WITHIN,
                AGREE_BONUS,
                np.where(spread > DISAGREE_OVER, DISAGREE_PENALTY, 1.0),
            )
        missing = [m.system_id for m in self.members if m.weight > 0 and m.system_id not in weights]
        extra = [[MEMBER_MISSING] if missing else [] for _ in range(len(frame))]
        version = (
            self.version_ + "[" + ",".join(f"{m}={members[m].model_version}" for m in present) + "]"
        )
        out = build_output(
            self.system_id,
            version,
            frame,
            pmf,
            thresholds or Thresholds(),
            factor,
            extra,
            self.market_blend_,
        )
        if missing:
            out.frame["reasons"] = (
                out.frame["reasons"].where(out.frame["reasons"] == "", out.frame["reasons"] + "; ")
                + f"answered without {', '.join(missing)}"
            )
        return out


class LearnedWeights:
    """Member weights fitted on graded history (no look-ahead: only what was graded before)."""

    def __init__(self, member_ids: tuple[str, ...] = EnsembleV1Predictor.member_ids) -> None:
        self.member_ids = member_ids
        self.weights_: dict[str, float] | None = None

    def fit(self, pmfs: dict[str, np.ndarray], actual: np.ndarray) -> LearnedWeights:
        """Maximise the mixture's log-likelihood of the actual strikeouts over the simplex."""
        k = np.clip(np.asarray(actual, int), 0, MAX_K)
        probs = np.stack([pmfs[m][np.arange(len(k)), k] for m in self.member_ids], axis=1)

        def nll(z: np.ndarray) -> float:
            w = np.exp(z - z.max())
            w /= w.sum()
            return -float(np.log(np.clip(probs @ w, 1e-12, None)).mean())

        best = minimize(nll, np.zeros(len(self.member_ids)), method="Nelder-Mead")
        w = np.exp(best.x - best.x.max())
        w /= w.sum()
        self.weights_ = {m: float(x) for m, x in zip(self.member_ids, w, strict=True)}
        return self
