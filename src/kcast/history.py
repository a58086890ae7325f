"""What was known before the day predicted: the graded predictions systems learn from.

Two things are learned from graded history rather than from feature rows: how much a system's
own P(over) earns against the market's (its ``MarketBlend``), and an ensemble's learned member
weights. Both may use only predictions of games before the day being predicted. A
``GradedHistory`` answers those two questions; ``WarehouseHistory`` reads the stored, graded
predictions of games before a date (``kcast predict``, the worker), and ``WalkForwardHistory``
holds the graded blocks a backtest has already predicted.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import numpy as np
import pandas as pd

from kcast.decisions import MAX_K, MarketBlend
from kcast.market import TailCalibration
from kcast.systems.base import SystemOutput
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

TAIL_LOOKBACK = dt.timedelta(days=365)  # a tail calibration learns from this long before a day


def fit_market_blend(
    line: np.ndarray, model_p_over: np.ndarray, market_p_over: np.ndarray, actual: np.ndarray
) -> MarketBlend:
    """The market blend fitted on graded lines (pushes and rows without a price left out)."""
    line = np.asarray(line, float)
    actual = np.asarray(actual, float)
    graded = ~np.isnan(line) & ~np.isnan(actual) & (actual != line)
    over = np.where(graded, (actual > line).astype(float), np.nan)
    return MarketBlend.fit(np.asarray(model_p_over, float), np.asarray(market_p_over, float), over)


class NoHistory:
    """Nothing graded yet: every system starts from the prior."""

    def market_blend(self, system_id: str) -> MarketBlend:
        return MarketBlend()

    def member_pmfs(self, member_ids: tuple[str, ...]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return {m: np.zeros((0, MAX_K + 1)) for m in member_ids}, np.zeros(0)


class WarehouseHistory:
    """The warehouse's graded predictions of games before ``before``."""

    def __init__(self, wh: Warehouse, before: dt.date) -> None:
        self.wh = wh
        self.before = before

    def market_blend(self, system_id: str) -> MarketBlend:
        rows = self.wh.query(
            statement("graded_lines_of_system"), {"s": system_id, "d": self.before}
        )
        if rows.empty:
            return MarketBlend()
        blend = fit_market_blend(
            rows["line"].to_numpy(float),
            rows["model_p_over"].to_numpy(float),
            rows["market_p_over"].to_numpy(float),
            rows["actual_strikeouts"].to_numpy(float),
        )
        return replace(blend, tail=self.tail_calibration(system_id))

    def tail_calibration(self, system_id: str) -> TailCalibration:
        """The system's tail calibration from its graded predictions of the
        ``TAIL_LOOKBACK`` before the day."""
        params = {"s": system_id, "a": self.before - TAIL_LOOKBACK, "d": self.before}
        rows = self.wh.query(statement("graded_tails_of_system"), params)
        if rows.empty:
            return TailCalibration()
        pmf = np.array([json.loads(v) for v in rows["pmf"]], dtype=float)
        po, pu = rows["p_over"].to_numpy(float), rows["p_under"].to_numpy(float)
        stated = po / np.clip(po + pu, 1e-9, None)
        actual = rows["actual_strikeouts"].to_numpy(float)
        return TailCalibration.fit(pmf, rows["line"].to_numpy(float), stated, actual)

    def member_pmfs(self, member_ids: tuple[str, ...]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        rows = self.wh.query(
            statement("graded_distributions"), {"ids": list(member_ids), "d": self.before}
        )
        if rows.empty:
            return NoHistory().member_pmfs(member_ids)
        wide = rows.pivot_table(
            index=["game_id", "pitcher_id"], columns="system_id", values="pmf", aggfunc="first"
        )
        wide = wide.reindex(columns=list(member_ids)).dropna()
        actual = (
            rows.drop_duplicates(["game_id", "pitcher_id"])
            .set_index(["game_id", "pitcher_id"])["actual_strikeouts"]
            .reindex(wide.index)
            .to_numpy(float)
        )
        pmfs = {m: np.array([json.loads(v) for v in wide[m]], dtype=float) for m in member_ids}
        return pmfs, actual


class WalkForwardHistory:
    """The blocks a backtest has predicted so far, graded with what really happened."""

    def __init__(self) -> None:
        self.outputs: dict[str, list[SystemOutput]] = {}
        self.actuals: list[np.ndarray] = []

    def add_block(self, outputs: dict[str, SystemOutput], strikeouts: np.ndarray) -> None:
        """Add a predicted block: every system's outputs for the same rows, and their results."""
        for system_id, out in outputs.items():
            self.outputs.setdefault(system_id, []).append(out)
        self.actuals.append(np.asarray(strikeouts, float))

    def _complete(self, system_id: str) -> bool:
        return len(self.outputs.get(system_id, [])) == len(self.actuals) > 0

    def market_blend(self, system_id: str) -> MarketBlend:
        if not self._complete(system_id):
            return MarketBlend()
        frame = pd.concat([o.frame for o in self.outputs[system_id]], ignore_index=True)

        def col(name: str) -> np.ndarray:
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)

        actual = np.concatenate(self.actuals)
        blend = fit_market_blend(col("line"), col("model_p_over"), col("market_p_over"), actual)
        pmf = np.concatenate([o.pmf for o in self.outputs[system_id]])
        stated = col("p_over") / np.clip(col("p_over") + col("p_under"), 1e-9, None)
        return replace(blend, tail=TailCalibration.fit(pmf, col("line"), stated, actual))

    def member_pmfs(self, member_ids: tuple[str, ...]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        if not all(self._complete(m) for m in member_ids):
            return NoHistory().member_pmfs(member_ids)
        pmfs = {m: np.concatenate([o.pmf for o in self.outputs[m]]) for m in member_ids}
        return pmfs, np.concatenate(self.actuals)
