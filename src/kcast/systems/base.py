"""What every prediction system shares.

A system turns feature rows (``kcast.features.build``) into a full distribution of strikeouts
for each start. The base class owns the rest: validation, the predicted count, P(over/under/push),
edge, confidence, red flags and the OVER/UNDER/PASS decision, learning its market blend from
graded history, and its model file, so each system holds only its maths (``_fit`` and
``_predict_pmf``, or ``_distribution`` for a system built on other systems' answers, and
``_state``/``_from_state`` for what its model file holds).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from kcast import policy
from kcast.context import DecisionContext
from kcast.decision import (
    DECISION_COLUMNS,
    UNSET,
    StartKey,
    StartMarket,
    decide,
    distribution_facts,
)
from kcast.decisions import MAX_K, MarketBlend
from kcast.errors import InputError, ModelError, NotFittedError
from kcast.model_store import meta_path

# the start a row is of, and its system (after the game's id, date and pitcher)
START_COLUMNS = ("team", "opponent", "is_home", "system_id")
# the row's verdict at its line: the market's P(over), the edge, EV, confidence and the verdict
VERDICT_COLUMNS = ("market_p_over", "edge", "expected_value", "confidence", "recommendation")
# the columns of one prediction row, in order (the warehouse table has these and more)
PREDICTION_COLUMNS = (
    "game_id",
    "game_date",
    "pitcher_id",
    *START_COLUMNS,
    "model_version",
    "predicted_strikeouts",
    "predicted_median",
    "k_p10",
    "k_p90",
    "line",
    "over_odds",
    "under_odds",
    "book",
    "model_p_over",
    "p_over",
    "p_under",
    "p_push",
    *VERDICT_COLUMNS,
    *DECISION_COLUMNS,
    "red_flags",
    "reasons",
    "lineup_status",
    "pmf",
)


@dataclass
class SystemOutput:
    """One system's answer for a slate: the rows and their distributions (n x MAX_K+1).

    ``flags``, ``factor`` and ``blend`` are what the rows' decisions were made from (red flags
    before the line's own, the confidence factor, the market blend), so that a decision at
    another line or price (``decide_at``) is made the same way; ``bets`` holds each row's rung
    of the bet rule (``decision.bet_candidate``; None where the start had no market)."""

    system_id: str
    frame: pd.DataFrame
    pmf: np.ndarray
    model_version: str
    flags: list[list[str]] | None = None
    factor: np.ndarray | None = None
    blend: MarketBlend | None = None
    bets: list[dict[str, Any] | None] | None = None

    def decide_at(
        self,
        i: int,
        price: dict[str, Any],
        context: DecisionContext,
        market: StartMarket | None = None,
        bet: dict[str, Any] | None = UNSET,
    ) -> dict[str, Any]:
        """Row ``i``'s prediction decided at another line and prices (``price``: line,
        over_odds, under_odds, book): the row ``build_output`` would have made for them, with
        the rung ``bet`` of the bet rule (``decision.decide``)."""
        assert self.flags is not None and self.factor is not None
        row = dict(self.frame.iloc[i])
        decided = decide(
            self.pmf[i],
            self.flags[i],
            price,
            context,
            self.system_id,
            market,
            float(self.factor[i]),
            self.blend,
            bet=bet,
        )
        row.update(decided)
        return row


class GradedHistory(Protocol):
    """Graded predictions from before the day predicted."""

    def market_blend(self, system_id: str) -> MarketBlend:
        """The system's market blend fitted on its graded lines (the prior when it has none)."""
        ...

    def member_pmfs(self, member_ids: tuple[str, ...]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The members' distributions on the graded starts all of them predicted, and the
        strikeouts of those starts."""
        ...


# Where a system built on other systems gets their answers for the rows it is predicting: the
# member's output, or None when that member did not answer (failed, cut off by its breaker).
MemberHook = Callable[[str], SystemOutput | None]


@dataclass
class Distribution:
    """What a system's maths gives for some rows, before the shared decision rules.

    ``confidence_factor`` and ``extra_flags`` let a system adjust confidence and add red flags
    per row; ``version`` overrides the model version (an ensemble names its members');
    ``note`` is added to every row's reasons.
    """

    pmf: np.ndarray
    confidence_factor: np.ndarray | None = None
    extra_flags: list[list[str]] | None = None
    version: str | None = None
    note: str | None = None


def red_flags(features: pd.DataFrame) -> list[list[str]]:
    """The red flags of each row: short rest, opener or bulk role, low pitch count, thin data."""

    def col(name: str) -> np.ndarray:
        if name in features:
            return pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
        return np.full(len(features), np.nan)

    rest = col("days_rest")
    outs3 = col("outs_last3")
    outs_std = col("outs_per_start_std")
    starts_std = col("starts_std")
    short5 = col("short_starts_last5")
    relief = col("relief_share_prev")
    last_p = col("pitches_last_start")
    p3 = col("pitches_last3")
    career = col("career_starts")
    flags: list[list[str]] = []
    for i in range(len(features)):
        f: list[str] = []
        if rest[i] < policy.SHORT_REST_DAYS:
            f.append(policy.SHORT_REST)
        opener = (outs3[i] < policy.OPENER_OUTS) or (short5[i] >= policy.OPENER_SHORT_STARTS)
        opener |= starts_std[i] >= policy.OPENER_SHORT_STARTS and outs_std[i] < policy.OPENER_OUTS
        opener |= (np.isnan(career[i]) or career[i] < policy.OPENER_FEW_STARTS) and relief[
            i
        ] > policy.OPENER_RELIEF_SHARE
        if opener:
            f.append(policy.OPENER)
        if last_p[i] < policy.LOW_PITCHES or p3[i] < policy.LOW_PITCHES:
            f.append(policy.LOW_PITCH_COUNT)
        if np.isnan(career[i]) or career[i] < policy.THIN_STARTS:
            f.append(policy.THIN_HISTORY)
        flags.append(f)
    return flags


class BasePredictor(ABC):
    """A strikeout prediction system.

    Subclasses declare ``system_id``, ``description`` and ``features`` at class level and
    implement ``_fit`` and ``_predict_pmf``; ``__init__`` only stores parameters. A system with a
    model file (``trainable``) implements ``_state`` and ``_from_state``; ``save`` and ``load``
    do the rest. A system built on other systems' answers lists them in ``member_ids`` and
    implements ``_distribution`` (see ``ensemble.EnsemblePredictor``).

    Every system is used the same way (here ``V1BaselinePredictor``; any of ``registry.SYSTEMS``):

    Examples
    --------
    >>> system = V1BaselinePredictor().fit(training_rows)           # doctest: +SKIP
    >>> system.predict(slate_rows).frame[["pitcher_id", "p_over"]]  # doctest: +SKIP
    """

    system_id: str = "base"
    description: ClassVar[str]
    features: ClassVar[tuple[str, ...]] = ()
    trainable: ClassVar[bool] = True  # has a model file that `kcast train` writes

    def __init__(self, system_id: str | None = None, **params: Any) -> None:
        if system_id is not None:
            self.system_id = system_id
        self.params = params
        self.fitted_ = False
        self.version_: str | None = None
        self.metadata_: dict[str, Any] = {}
        self.market_blend_ = MarketBlend()

    @property
    def member_ids(self) -> tuple[str, ...]:
        """The systems whose answers this one is built on (none for a system of its own)."""
        return ()

    def bind_members(self, systems: dict[str, BasePredictor]) -> BasePredictor:
        """Give a system built on others the loaded member systems to ask by default."""
        return self

    # --- the contract --------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, **info: Any) -> BasePredictor:
        """Learn from feature rows with their outcomes (``strikeouts``, ``batters_faced``)."""
        self._check_columns(frame, self.features + ("strikeouts", "batters_faced"))
        if len(frame) == 0:
            raise InputError(f"{self.system_id}: no training rows")
        self._fit(frame, **info)
        self.fitted_ = True
        return self

    def predict_pmf(self, frame: pd.DataFrame, members: MemberHook | None = None) -> np.ndarray:
        """The strikeout distribution of each row, shape (rows, MAX_K + 1), rows summing to 1."""
        return self._checked_distribution(frame, members).pmf

    def _checked_distribution(
        self, frame: pd.DataFrame, members: MemberHook | None
    ) -> Distribution:
        if not self.fitted_:
            raise NotFittedError(
                f"{self.system_id} must be trained (or loaded) before it predicts; run "
                "`kcast train --through DATE` or set its model path"
            )
        self._check_columns(frame, self.features)
        if len(frame) == 0:
            return Distribution(np.zeros((0, MAX_K + 1)))
        dist = self._distribution(frame, members)
        pmf = np.asarray(dist.pmf, dtype=float)
        if pmf.shape != (len(frame), MAX_K + 1) or not np.isfinite(pmf).all():
            raise ValueError(f"{self.system_id} returned a malformed distribution {pmf.shape}")
        pmf = np.clip(pmf, 0.0, None)
        dist.pmf = pmf / pmf.sum(axis=1, keepdims=True)
        return dist

    @abstractmethod
    def _fit(self, frame: pd.DataFrame, **info: Any) -> None: ...

    def _predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError(
            f"{self.system_id} implements neither _predict_pmf nor _distribution"
        )

    def _distribution(self, frame: pd.DataFrame, members: MemberHook | None) -> Distribution:
        """The system's maths for ``frame``; by default its ``_predict_pmf``."""
        return Distribution(self._predict_pmf(frame))

    # --- shared: from distributions to decisions -------------------------------------------
    def predict(
        self,
        frame: pd.DataFrame,
        context: DecisionContext | None = None,
        members: MemberHook | None = None,
        pmf: np.ndarray | None = None,
        markets: Mapping[StartKey, StartMarket] | None = None,
    ) -> SystemOutput:
        """Prediction rows for feature rows that may carry ``line``, ``over_odds``,
        ``under_odds`` and ``book``, each decided in ``context`` (``decision.decide``; default:
        the policy's thresholds, no bets) against its start's quotes (``markets``, by
        (pitcher_id, game_date)).

        ``members`` gives a system built on others their answers for these rows (by default it
        asks the member systems it was loaded with); ``pmf`` replaces the system's own maths.
        """
        dist = Distribution(pmf) if pmf is not None else self._checked_distribution(frame, members)
        out = build_output(
            self.system_id,
            dist.version or self.version_ or "unversioned",
            frame,
            dist.pmf,
            context or DecisionContext(),
            dist.confidence_factor,
            dist.extra_flags,
            self.market_blend_,
            markets,
        )
        if dist.note:
            reasons = out.frame["reasons"]
            out.frame["reasons"] = reasons.where(reasons == "", reasons + "; ") + dist.note
        return out

    # --- what was known before the day ---------------------------------------------------------
    def with_history(self, history: GradedHistory, blend: str = "auto") -> BasePredictor:
        """A copy of this system updated from graded history (only what was known before the
        day predicted): its market blend, and whatever else ``_learn_from`` learns.

        ``blend`` is ``MLB_MARKET_BLEND``: ``auto`` fits the pooling weights, ``off`` states the
        system's own probability."""
        updated = copy.copy(self)
        if blend == "off":
            updated.market_blend_ = MarketBlend.model_only()
        else:
            updated.market_blend_ = history.market_blend(self.system_id)
        updated._learn_from(history)
        return updated

    def _learn_from(self, history: GradedHistory) -> None:  # noqa: B027 - optional hook
        """Learn more from graded history (nothing by default)."""

    # --- persistence -----------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write the model to ``path`` (JSON) and its metadata beside it (``*.meta.json``)."""
        if not self.trainable:
            raise ModelError(f"{self.system_id} has no model file to save")
        if not self.fitted_:
            raise ModelError(f"{self.system_id} has not been trained; nothing to save")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self._state()))
        meta_path(path).write_text(json.dumps(self.metadata_, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: Path, system_id: str | None = None) -> BasePredictor:
        """The system saved at ``path``; a clear ``ModelError`` for a missing or broken file."""
        path = Path(path)
        if not cls.trainable:
            raise ModelError(f"{cls.system_id} has no model file to load")
        data = read_model_file(path)
        meta_file = meta_path(path)
        if not meta_file.exists():
            raise ModelError(f"model {path} has no metadata file {meta_file.name} beside it")
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"metadata file {meta_file} is unreadable: {exc}") from exc
        expected = system_id or cls.system_id
        if meta.get("system_id") != expected:
            raise ModelError(
                f"model {path} belongs to system {meta.get('system_id')!r}, not {expected!r}"
            )
        system = cls(system_id=system_id)
        system._from_state(data, str(path))
        system.metadata_ = meta
        system.version_ = meta.get("version", path.stem)
        system.fitted_ = True
        return system

    def _state(self) -> dict[str, Any]:
        """What the model file holds (JSON-ready)."""
        raise ModelError(f"{self.system_id} has no model file to save")

    def _from_state(self, data: dict[str, Any], source: str) -> None:
        """Restore the fitted state from a model file's contents (``source`` names it)."""
        raise ModelError(f"{self.system_id} has no model file to load")

    def _check_columns(self, frame: pd.DataFrame, needed: tuple[str, ...]) -> None:
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(f"{self.system_id}: feature rows lack columns {missing}")

    def _training_metadata(self, frame: pd.DataFrame, through: Any, **extra: Any) -> None:
        """Set ``metadata_`` and ``version_`` after a fit on ``frame`` (games before ``through``)."""
        dates = pd.to_datetime(frame["game_date"])
        through = through or (dates.max().date() + dt.timedelta(days=1))
        state = json.dumps(self._state(), sort_keys=True, default=str)
        fingerprint = hashlib.sha256(state.encode()).hexdigest()[:8]
        self.version_ = f"{self.system_id}-{str(through).replace('-', '')}-{fingerprint}"
        self.metadata_ = {
            "system_id": self.system_id,
            "features": list(self.features),
            "training_window": {
                "first_game": str(dates.min().date()),
                "last_game": str(dates.max().date()),
                "trained_through": str(through),
                "rows": int(len(frame)),
            },
            **extra,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "version": self.version_,
        }

    def __repr__(self) -> str:
        state = f"version={self.version_}" if self.fitted_ else "unfitted"
        return f"{type(self).__name__}({self.system_id}, {state})"


def read_model_file(path: Path) -> dict[str, Any]:
    """A model file's JSON, or a ``ModelError`` that says what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model file {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"model file {path} is unreadable: not a JSON object")
    return data


def build_output(
    system_id: str,
    version: str,
    frame: pd.DataFrame,
    pmf: np.ndarray,
    context: DecisionContext,
    confidence_factor: np.ndarray | None = None,
    extra_flags: list[list[str]] | None = None,
    blend: MarketBlend | None = None,
    markets: Mapping[StartKey, StartMarket] | None = None,
) -> SystemOutput:
    """Turn distributions into prediction rows, each decided by ``decision.decide`` against
    its line and prices and its start's quotes (``markets``) (shared by every system)."""
    n = len(frame)
    flags = red_flags(frame)
    if extra_flags is not None:
        flags = [a + [x for x in b if x not in a] for a, b in zip(flags, extra_flags, strict=True)]
    factor = np.ones(n) if confidence_factor is None else np.asarray(confidence_factor, float)

    def get(name: str) -> np.ndarray:
        if name in frame:
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        return np.full(n, np.nan)

    lines, over_odds, under_odds = get("line"), get("over_odds"), get("under_odds")
    books = frame["book"].tolist() if "book" in frame else [None] * n
    keys: list[StartKey | None] = [None] * n
    if markets:
        days = pd.to_datetime(frame["game_date"])
        keys = list(zip(frame["pitcher_id"].astype("int64"), days, strict=True))
    rows, bets = [], []
    for i in range(n):
        price = {
            "line": None if np.isnan(lines[i]) else float(lines[i]),
            "over_odds": None if np.isnan(over_odds[i]) else float(over_odds[i]),
            "under_odds": None if np.isnan(under_odds[i]) else float(under_odds[i]),
            "book": None if books[i] is None or pd.isna(books[i]) else books[i],
        }
        market = markets.get(keys[i]) if markets else None  # type: ignore[arg-type]
        decided = decide(pmf[i], flags[i], price, context, system_id, market, factor[i], blend)
        bets.append(decided.pop("bet"))
        rows.append({**distribution_facts(pmf[i]), **decided})
    # the decision's columns, the start's own (game_id ... is_home), its book and the lineup
    # the features saw: the frame made in one step (a column at a time re-copies the column
    # index each time; a concat and a selection cost as much again on one row)
    columns: dict[str, Any] = {key: [row[key] for row in rows] for key in (rows[0] if rows else ())}
    for col in (*PREDICTION_COLUMNS[:6], "book", "lineup_status"):
        columns[col] = frame[col].to_numpy() if col in frame else [None] * n
    columns |= {"system_id": [system_id] * n, "model_version": [version] * n}
    out = pd.DataFrame(columns, index=range(n), columns=list(PREDICTION_COLUMNS))
    return SystemOutput(system_id, out, pmf, version, flags, factor, blend, bets)
