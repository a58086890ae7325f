"""Ensembles: systems whose distribution is a weighted mixture of other systems' distributions.

An ensemble is a predictor like the others: ``predict_pmf`` and ``predict`` work on feature rows.
It asks its named members for their answers through one hook (``MemberHook``; the worker's
circuit breakers sit behind it, and by default it asks the member systems it was loaded with)
and hands them to ``combine``, the one place where its weights, agreement rules and
missing-member penalty live:

* the members' weights (``ensemble_v1``: ``MLB_ENSEMBLE_V1_WEIGHT`` 0.3 and
  ``MLB_ENSEMBLE_V1_6_WEIGHT`` 0.5), divided by the sum over the members that answered;
* confidence times ``policy.AGREE_BONUS`` when the members' predictions agree within
  ``policy.AGREE_WITHIN`` K, times ``policy.DISAGREE_PENALTY`` when they differ by more than
  ``policy.DISAGREE_OVER`` K;
* when a member is missing (failed, cut off by its breaker) it answers from the others and flags
  ``member_missing``.

With ``learn_weights=True`` the weights are fitted on graded history (``LearnedWeights``): the
weights that maximise the likelihood of the strikeouts that really happened, using only
predictions graded before the day being predicted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from kcast import policy
from kcast.context import DecisionContext
from kcast.decisions import MAX_K, pmf_mean
from kcast.errors import MembersUnavailableError, NotFittedError
from kcast.systems.base import (
    BasePredictor,
    Distribution,
    GradedHistory,
    MemberHook,
    SystemOutput,
)


@dataclass(frozen=True)
class Member:
    system_id: str
    weight: float


class EnsemblePredictor(BasePredictor):
    """A weighted mixture of member systems' distributions.

    Parameters
    ----------
    members
        ``{member system id: weight}``; weights >= 0 with a positive sum.
    learn_weights
        Fit the weights on graded history before each day (``with_history``).

    Examples
    --------
    >>> ens = EnsemblePredictor("ensemble_v1", members={"v1_baseline": 0.3, "v1_6_rolling": 0.5})
    >>> ens.normalised_weights(["v1_baseline", "v1_6_rolling"])
    {'v1_baseline': 0.375, 'v1_6_rolling': 0.625}
    """

    system_id = "ensemble"
    description = "weighted mixture of member systems' distributions, with agreement rules"
    trainable = False

    def __init__(
        self,
        system_id: str | None = None,
        members: Mapping[str, float] | None = None,
        learn_weights: bool = False,
    ) -> None:
        super().__init__(system_id, members=members, learn_weights=learn_weights)
        if not members:
            raise ValueError(f"{self.system_id} needs members with weights")
        if any(w < 0 for w in members.values()) or sum(members.values()) <= 0:
            raise ValueError(
                f"{self.system_id} weights must be >= 0 with a positive sum: {dict(members)}"
            )
        self.members = tuple(Member(m, float(w)) for m, w in members.items())
        self.learn_weights = learn_weights
        self.member_systems_: dict[str, BasePredictor] = {}
        self.fitted_ = True  # its members are what is trained
        self.version_ = f"{self.system_id}-" + "-".join(f"{m.weight:g}" for m in self.members)

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.system_id for m in self.members)

    def bind_members(self, systems: Mapping[str, BasePredictor]) -> EnsemblePredictor:  # type: ignore[override]
        """Use these loaded systems when no hook is given (``predict_pmf`` on its own)."""
        self.member_systems_ = {m: systems[m] for m in self.member_ids if m in systems}
        return self

    def _fit(self, frame: pd.DataFrame, **info: Any) -> None:
        """Nothing to learn from feature rows: the members are trained, the weights are set or
        learned from graded history (``with_history``)."""

    def _learn_from(self, history: GradedHistory) -> None:
        if not self.learn_weights:
            return
        pmfs, actual = history.member_pmfs(self.member_ids)
        if len(actual) == 0:
            return
        learned = LearnedWeights(self.member_ids).fit(pmfs, actual).weights_
        assert learned is not None
        self.members = tuple(Member(m, learned[m]) for m in self.member_ids)
        self.version_ = f"{self.system_id}-" + "-".join(f"{m.weight:g}" for m in self.members)

    def normalised_weights(self, available: list[str]) -> dict[str, float]:
        """The members' weights over those available, divided by their sum."""
        usable = {m.system_id: m.weight for m in self.members if m.system_id in available}
        total = sum(usable.values())
        if not usable or total <= 0:
            raise MembersUnavailableError(
                f"{self.system_id} has no member to answer from (needs one of "
                f"{', '.join(self.member_ids)})"
            )
        return {k: v / total for k, v in usable.items()}

    def _distribution(self, frame: pd.DataFrame, members: MemberHook | None) -> Distribution:
        if members is None:
            members = self._ask_bound_members(frame)
        answers = {m: out for m in self.member_ids if (out := members(m)) is not None}
        return self.combine_distributions(answers, len(frame))

    def _ask_bound_members(self, frame: pd.DataFrame) -> MemberHook:
        missing = [m for m in self.member_ids if m not in self.member_systems_]
        if len(missing) == len(self.member_ids):
            raise NotFittedError(
                f"{self.system_id} has no member systems to ask: load it through the registry "
                "(`registry.load_systems`) or pass its members' answers"
            )
        cache: dict[str, SystemOutput] = {}

        def ask(member_id: str) -> SystemOutput | None:
            system = self.member_systems_.get(member_id)
            if system is None:
                return None
            if member_id not in cache:
                cache[member_id] = system.predict(frame)
            return cache[member_id]

        return ask

    def combine_distributions(self, members: dict[str, SystemOutput], n: int) -> Distribution:
        """The mixture of the members' distributions with the agreement rules applied."""
        weights = self.normalised_weights([m for m in members if m in self.member_ids])
        pmf = np.zeros((n, MAX_K + 1))
        for system_id, w in weights.items():
            pmf += w * members[system_id].pmf
        factor = np.ones(n)
        present = list(weights)
        if len(present) >= 2:
            means = np.stack([pmf_mean(members[m].pmf) for m in present])
            spread = means.max(axis=0) - means.min(axis=0)
            factor = np.where(
                spread <= policy.AGREE_WITHIN,
                policy.AGREE_BONUS,
                np.where(spread > policy.DISAGREE_OVER, policy.DISAGREE_PENALTY, 1.0),
            )
        missing = [m.system_id for m in self.members if m.weight > 0 and m.system_id not in weights]
        extra = [[policy.MEMBER_MISSING] if missing else [] for _ in range(n)]
        version = (
            self.version_ + "[" + ",".join(f"{m}={members[m].model_version}" for m in present) + "]"
        )
        note = f"answered without {', '.join(missing)}" if missing else None
        return Distribution(pmf, factor, extra, version, note)

    def combine(
        self,
        members: dict[str, SystemOutput],
        frame: pd.DataFrame,
        context: DecisionContext | None = None,
    ) -> SystemOutput:
        """The ensemble's output for ``frame`` from its members' outputs for the same rows."""
        return self.predict(frame, context, members=members.get)


class LearnedWeights:
    """Member weights fitted on graded history (no look-ahead: only what was graded before)."""

    def __init__(self, member_ids: tuple[str, ...]) -> None:
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
