"""What every prediction system shares.

A system turns feature rows (``kcast.features.build``) into a full distribution of strikeouts
for each start. The base class owns the rest: validation, the predicted count, P(over/under/push),
edge, confidence, red flags and the OVER/UNDER/PASS decision, so each system holds only its maths
(``_fit`` and ``_predict_pmf``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kcast.decisions import (
    LOW_PITCH_COUNT,
    MAX_K,
    NO_LINE,
    NO_ODDS,
    OPENER,
    SHORT_REST,
    THIN_HISTORY,
    MarketBlend,
    Thresholds,
    decide,
    pmf_mean,
    pmf_median,
    pmf_quantile,
)
from kcast.errors import InputError, NotFittedError

# red-flag thresholds
SHORT_REST_DAYS = 4  # fewer days since the last start than a normal turn (4 days' rest)
OPENER_OUTS = 9.0  # recent starts averaging under three innings
LOW_PITCHES = 75.0  # a last start, or recent average, under this many pitches
THIN_STARTS = 5  # fewer career starts than this

# the columns of one prediction row, in order (the warehouse table has these and more)
PREDICTION_COLUMNS = (
    "game_id",
    "game_date",
    "pitcher_id",
    "team",
    "opponent",
    "is_home",
    "system_id",
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
    "market_p_over",
    "edge",
    "expected_value",
    "confidence",
    "recommendation",
    "red_flags",
    "reasons",
    "pmf",
)


@dataclass
class SystemOutput:
    """One system's answer for a slate: the rows and their distributions (n x MAX_K+1)."""

    system_id: str
    frame: pd.DataFrame
    pmf: np.ndarray
    model_version: str


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
        if rest[i] < SHORT_REST_DAYS:
            f.append(SHORT_REST)
        opener = (outs3[i] < OPENER_OUTS) or (short5[i] >= 2)
        opener |= starts_std[i] >= 2 and outs_std[i] < OPENER_OUTS
        opener |= (np.isnan(career[i]) or career[i] < 3) and relief[i] > 0.8
        if opener:
            f.append(OPENER)
        if last_p[i] < LOW_PITCHES or p3[i] < LOW_PITCHES:
            f.append(LOW_PITCH_COUNT)
        if np.isnan(career[i]) or career[i] < THIN_STARTS:
            f.append(THIN_HISTORY)
        flags.append(f)
    return flags


class BasePredictor(ABC):
    """A strikeout prediction system.

    Subclasses declare ``system_id``, ``description`` and ``features`` at class level and
    implement ``_fit`` and ``_predict_pmf``; ``__init__`` only stores parameters.
    """

    system_id: ClassVar[str]
    description: ClassVar[str]
    features: ClassVar[tuple[str, ...]] = ()
    is_ensemble: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.fitted_ = False
        self.version_: str | None = None
        self.metadata_: dict[str, Any] = {}
        self.market_blend_ = MarketBlend()

    # --- the contract --------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, **info: Any) -> BasePredictor:
        """Learn from feature rows with their outcomes (``strikeouts``, ``batters_faced``)."""
        self._check_columns(frame, self.features + ("strikeouts", "batters_faced"))
        if len(frame) == 0:
            raise InputError(f"{self.system_id}: no training rows")
        self._fit(frame, **info)
        self.fitted_ = True
        return self

    def predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        """The strikeout distribution of each row, shape (rows, MAX_K + 1), rows summing to 1."""
        if not self.fitted_:
            raise NotFittedError(
                f"{self.system_id} must be trained (or loaded) before it predicts; run "
                "`kcast train --through DATE` or set its model path"
            )
        self._check_columns(frame, self.features)
        if len(frame) == 0:
            return np.zeros((0, MAX_K + 1))
        pmf = np.asarray(self._predict_pmf(frame), dtype=float)
        if pmf.shape != (len(frame), MAX_K + 1) or not np.isfinite(pmf).all():
            raise ValueError(f"{self.system_id} returned a malformed distribution {pmf.shape}")
        pmf = np.clip(pmf, 0.0, None)
        return pmf / pmf.sum(axis=1, keepdims=True)

    @abstractmethod
    def _fit(self, frame: pd.DataFrame, **info: Any) -> None: ...

    @abstractmethod
    def _predict_pmf(self, frame: pd.DataFrame) -> np.ndarray: ...

    # --- shared: from distributions to decisions -------------------------------------------
    def predict(
        self,
        frame: pd.DataFrame,
        thresholds: Thresholds | None = None,
        pmf: np.ndarray | None = None,
        confidence_factor: np.ndarray | None = None,
        extra_flags: list[list[str]] | None = None,
    ) -> SystemOutput:
        """Prediction rows for feature rows that may carry ``line``, ``over_odds``, ``under_odds``."""
        pmf = self.predict_pmf(frame) if pmf is None else pmf
        return build_output(
            self.system_id,
            self.version_ or "unversioned",
            frame,
            pmf,
            thresholds or Thresholds(),
            confidence_factor,
            extra_flags,
            self.market_blend_,
        )

    # --- persistence -----------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write the model to ``path`` (JSON) and its metadata beside it (``*.meta.json``)."""
        raise NotImplementedError(f"{self.system_id} has no model file to save")

    @classmethod
    def load(cls, path: Path) -> BasePredictor:
        raise NotImplementedError(f"{cls.system_id} has no model file to load")

    def _check_columns(self, frame: pd.DataFrame, needed: tuple[str, ...]) -> None:
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(f"{self.system_id}: feature rows lack columns {missing}")

    def __repr__(self) -> str:
        state = f"version={self.version_}" if self.fitted_ else "unfitted"
        return f"{type(self).__name__}({state})"


def meta_path(model_path: Path) -> Path:
    """The metadata file that sits beside a model file."""
    name = model_path.name.removesuffix(".json")
    return model_path.with_name(f"{name}.meta.json")


def build_output(
    system_id: str,
    version: str,
    frame: pd.DataFrame,
    pmf: np.ndarray,
    thresholds: Thresholds,
    confidence_factor: np.ndarray | None = None,
    extra_flags: list[list[str]] | None = None,
    blend: MarketBlend | None = None,
) -> SystemOutput:
    """Turn distributions into prediction rows with decisions (shared by every system)."""
    n = len(frame)
    mean = pmf_mean(pmf)
    median = pmf_median(pmf)
    p10, p90 = pmf_quantile(pmf, 0.1), pmf_quantile(pmf, 0.9)
    flags = red_flags(frame)
    if extra_flags is not None:
        flags = [a + [x for x in b if x not in a] for a, b in zip(flags, extra_flags, strict=True)]
    factor = np.ones(n) if confidence_factor is None else np.asarray(confidence_factor, float)

    def get(name: str) -> np.ndarray:
        if name in frame:
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        return np.full(n, np.nan)

    lines, over_odds, under_odds = get("line"), get("over_odds"), get("under_odds")
    rows = []
    for i in range(n):
        line = None if np.isnan(lines[i]) else float(lines[i])
        oo = None if np.isnan(over_odds[i]) else float(over_odds[i])
        uo = None if np.isnan(under_odds[i]) else float(under_odds[i])
        row_flags = list(flags[i])
        if line is None:
            row_flags.append(NO_LINE)
        elif oo is None or uo is None:
            row_flags.append(NO_ODDS)
        d = decide(pmf[i], float(mean[i]), line, oo, uo, row_flags, thresholds, factor[i], blend)
        rows.append(
            {
                "predicted_strikeouts": round(float(mean[i]), 3),
                "predicted_median": int(median[i]),
                "k_p10": int(p10[i]),
                "k_p90": int(p90[i]),
                "line": line,
                "over_odds": oo,
                "under_odds": uo,
                "model_p_over": d.model_p_over,
                "p_over": d.p_over,
                "p_under": d.p_under,
                "p_push": d.p_push,
                "market_p_over": d.market_p_over,
                "edge": None if d.edge is None else round(d.edge, 3),
                "expected_value": d.expected_value,
                "confidence": round(d.confidence, 1),
                "recommendation": d.recommendation,
                "red_flags": ",".join(row_flags),
                "reasons": "; ".join(d.reasons),
                "pmf": json.dumps([round(float(x), 5) for x in pmf[i]]),
            }
        )
    out = pd.DataFrame(rows, index=range(n))
    for col in ("game_id", "game_date", "pitcher_id", "team", "opponent", "is_home", "book"):
        out[col] = frame[col].to_numpy() if col in frame else None
    out["system_id"] = system_id
    out["model_version"] = version
    return SystemOutput(system_id, out[list(PREDICTION_COLUMNS)], pmf, version)
