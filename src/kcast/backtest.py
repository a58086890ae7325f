"""``kcast backtest``: walk-forward over real lines, every system and the market on the same games.

For each block of days (``retrain_days`` long) the trainable systems are refitted on starts
before the block's first day and predict the block; features come from the one builder, which
uses only games before each start's date. Nothing a start's own day or later can leak in.

The scored set is every start in the window that has a line with both prices (the market needs
both to be de-vigged). On it each system, the market (the line as a forecast; its de-vigged
price as P(over)), a naive pitcher average and any projection shipped with the lines are scored:
n, MAE, RMSE, log loss and Brier score of P(over), a calibration table, bets, win rate, ROI at
the actual odds, and closing-line value where open and close prices exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kcast.bets import (
    WEIGHTS_LOOKBACK,
    backtest_bets,
    graded_book_lines,
    ledger_rows,
    starts_between,
    weights_before,
    write_ledger,
)
from kcast.config import Settings, get_settings
from kcast.context import STRATEGIES, DecisionContext
from kcast.decision import settle
from kcast.decisions import devig
from kcast.errors import InputError, KcastError
from kcast.features.build import load_history, training_targets
from kcast.forecast import Forecaster, WarehouseReader, stake
from kcast.gate import EdgeGate
from kcast.grading import grade_dates
from kcast.history import WalkForwardHistory
from kcast.market import BookWeights, DecisionTime
from kcast.pipeline import (
    check_history,
    starter_features,
    store,
    systems_for_day,
)
from kcast.prices import stored_lines
from kcast.scoring import (
    calibration_summary,
    calibration_table,
    closing_line_value,
    log_score,
    probability_scores,
    profit_units,
)
from kcast.systems.base import BasePredictor, SystemOutput
from kcast.systems.registry import (
    active_ids,
    backtest_ids,
    build_system,
    dependency_order,
    members_of,
)
from kcast.warehouse import Warehouse


@dataclass
class BacktestResult:
    start: dt.date
    end: dt.date
    metrics: dict[str, dict[str, Any]]
    calibration: dict[str, list[dict[str, float]]]
    predictions: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    at: str = "now"
    bets: pd.DataFrame = field(default_factory=pd.DataFrame)
    bet_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    devig: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, Any]]:
        """The ``--json`` object: keyed by system id and ``market``; the bets a bettor could
        take under ``bets`` (by strategy, then system) and the de-vig log losses under
        ``devig``."""
        out = dict(self.metrics)
        if self.bet_metrics:
            out["bets"] = {"decision_time": self.at, **self.bet_metrics}
        if self.devig:
            out["devig"] = self.devig
        return out


def _block_starts(start: dt.date, end: dt.date, days: int) -> list[dt.date]:
    out = [start]
    while out[-1] + dt.timedelta(days=days) <= end:
        out.append(out[-1] + dt.timedelta(days=days))
    return out


def with_members(system_ids: list[str], settings: Settings) -> list[str]:
    """``system_ids`` plus the members they are built on, members first."""
    ids: list[str] = []

    def add(system_id: str) -> None:
        for member in members_of(system_id, settings):
            add(member)
        if system_id not in ids:
            ids.append(system_id)

    for system_id in system_ids:
        add(system_id)
    return dependency_order(ids, lambda s: members_of(s, settings))


class WalkForwardReader(WarehouseReader):
    """The backtest's reader (``forecast.Reader``): the history up to the window's end read
    once, each day's quotes and the books' graded lines of the window (and the year before it)
    read once at the decision time, and what the systems learn from: only the blocks already
    predicted and graded (``graded``, a ``history.WalkForwardHistory``)."""

    def __init__(self, wh: Warehouse, start: dt.date, end: dt.date, devig: str) -> None:
        super().__init__(wh)
        self.start, self.end, self.devig = start, end, devig
        self.history = load_history(wh, before=end + dt.timedelta(days=1))
        self.graded = WalkForwardHistory()
        self._quotes: dict[str, pd.DataFrame] = {}
        self._lines: dict[str, pd.DataFrame] = {}
        self._weights: dict[tuple[dt.date, str], BookWeights] = {}

    def check_history(self, day: dt.date) -> None:
        first = self.history["game_date"].min() if len(self.history) else None
        check_history(day, None if first is None or pd.isna(first) else first.date())

    def features(self, starters: pd.DataFrame) -> pd.DataFrame:
        return starter_features(self.wh, starters, self.history)

    def window_quotes(self, at: DecisionTime) -> pd.DataFrame:
        """Every quote from a year before the window to its end known at ``at``."""
        if at.label not in self._quotes:
            first = self.start - WEIGHTS_LOOKBACK
            self._quotes[at.label] = stored_lines(self.wh, first, self.end, at)
        return self._quotes[at.label]

    def quotes(self, day: dt.date, at: DecisionTime) -> pd.DataFrame:
        quotes = self.window_quotes(at)
        return quotes[quotes["game_date"] == pd.Timestamp(day)]

    def weights(self, day: dt.date, at: DecisionTime, devig: str) -> BookWeights:
        key = (day, at.label)
        if key not in self._weights:
            if at.label not in self._lines:
                first = self.start - WEIGHTS_LOOKBACK
                actual = starts_between(self.wh, first, self.end)
                self._lines[at.label] = graded_book_lines(self.window_quotes(at), actual, devig)
            self._weights[key] = weights_before(self._lines[at.label], day)
        return self._weights[key]

    def systems(
        self, systems: dict[str, BasePredictor], day: dt.date, market_blend: str
    ) -> dict[str, BasePredictor]:
        return systems_for_day(systems, self.graded, market_blend)


def run_backtest(
    wh: Warehouse,
    start: dt.date,
    end: dt.date,
    system_ids: list[str] | None = None,
    retrain_days: int = 30,
    settings: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
    at: DecisionTime | str | None = None,
    bets: bool = True,
    strategies: tuple[str, ...] | None = None,
) -> BacktestResult:
    """Walk forward from ``start`` to ``end`` (inclusive) and score every system.

    The backtest is a loop around the forecaster's block step (``Forecaster.answer``): before
    each block the trainable systems are refitted on the starts before its first day, and the
    walk-forward reader lets every system learn from the blocks already predicted and graded.

    ``at`` is the decision time (``market.DecisionTime``): each start is priced, and every
    system decides (its verdict and its bet), with the quotes known then (None: every stored
    quote, as a replay by ``kcast predict`` of a past date; ``kcast backtest`` passes ``open``
    by default). With ``bets`` every strategy's bets are worked out day by day
    (``bets.backtest_bets``)."""
    settings = settings or get_settings()
    context = DecisionContext.from_settings(settings, at if at is not None else "now")
    ids = with_members(system_ids or backtest_ids(settings), settings)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    reader = WalkForwardReader(wh, start, end, context.rules.devig)
    forecaster = Forecaster(reader, {s: build_system(s, settings) for s in ids}, context)
    frame, window = _window(forecaster, start, end)
    timings["features"] = time.perf_counter() - t0
    scored, all_outputs = _walk(
        forecaster, frame, window, start, end, retrain_days, settings, timings, progress
    )
    metrics, calibration, notes = score(scored, all_outputs)
    timings["total"] = time.perf_counter() - t0
    preds = pd.concat([o.frame for o in all_outputs.values()], ignore_index=True)
    result = BacktestResult(start, end, metrics, calibration, preds, timings, notes)
    result.at = context.at.label
    if bets:
        tb = time.perf_counter()
        days = sorted(set(pd.to_datetime(scored["game_date"])))
        weights = {d: reader.weights(d.date(), context.at, context.rules.devig) for d in days}
        got = backtest_bets(
            wh,
            all_outputs,
            scored,
            context,
            weights,
            strategies or STRATEGIES,
            gated=settings.edge_gate == "on",
        )
        result.bets, result.bet_metrics, result.devig = got.picks, got.summary, got.devig
        if settings.edge_gate == "on":
            apply_gate(all_outputs, got.gates, context)
            frames = [o.frame for o in all_outputs.values()]
            result.predictions = pd.concat(frames, ignore_index=True)
        timings["bets"] = time.perf_counter() - tb
    return result


def _window(
    forecaster: Forecaster, start: dt.date, end: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every regular-season start up to ``end`` with its features (what the systems train
    on: the lineups that played), and the window's starts with the features known at the
    decision time (a decision before the lineup is posted sees the projected one:
    ``Forecaster.lineup_knowledge``), priced at the decision time."""
    reader, at = forecaster.reader, forecaster.context.at
    starts = training_targets(reader.history)
    frame = reader.features(starts[starts["game_date"] <= pd.Timestamp(end)])
    frame["game_date"] = pd.to_datetime(frame["game_date"])
    dates = frame["game_date"]
    inside = (dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))
    window = frame[inside]
    if window.empty:
        raise InputError(f"no regular-season starts between {start} and {end} in the warehouse")
    known = forecaster.lineup_knowledge(window[list(starts.columns)].reset_index(drop=True))
    if not known["lineup_posted"].all():
        window = reader.features(known)
        window["game_date"] = pd.to_datetime(window["game_date"])
    return frame, reader.prices(window, None, at)


def _walk(  # noqa: PLR0913
    forecaster: Forecaster,
    frame: pd.DataFrame,
    window: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    retrain_days: int,
    settings: Settings,
    timings: dict[str, float],
    progress: Callable[[int, int], None] | None,
) -> tuple[pd.DataFrame, dict[str, SystemOutput]]:
    """The blocks in turn: refit, forecast, learn; the window's rows and every system's
    answers for them, stacked."""
    reader = forecaster.reader
    assert isinstance(reader, WalkForwardReader)
    systems = forecaster.systems
    blocks = _block_starts(start, end, retrain_days)
    outputs: dict[str, list[SystemOutput]] = {s: [] for s in systems}
    block_frames: list[pd.DataFrame] = []
    t_fit = t_pred = 0.0
    for i, block_start in enumerate(blocks):
        block_end = blocks[i + 1] if i + 1 < len(blocks) else end + dt.timedelta(days=1)
        dates = window["game_date"]
        rows = window[(dates >= pd.Timestamp(block_start)) & (dates < pd.Timestamp(block_end))]
        rows = rows.reset_index(drop=True)
        if rows.empty:
            continue
        tf = time.perf_counter()
        train = frame[frame["game_date"] < pd.Timestamp(block_start)]
        for system_id, system in systems.items():
            if system.trainable:
                reuse = system if system.fitted_ else None
                systems[system_id] = build_system(system_id, settings).fit(
                    train, trained_through=block_start, reuse=reuse
                )
        t_fit += time.perf_counter() - tf
        tp = time.perf_counter()
        forecast = forecaster.answer(rows)
        if forecast.errors:
            raise KcastError(
                f"backtest block from {block_start}: "
                + "; ".join(f"{s}: {e}" for s, e in forecast.errors.items())
            )
        for system_id, out in forecast.outputs.items():
            outputs[system_id].append(out)
        reader.graded.add_block(forecast.outputs, rows["strikeouts"].to_numpy(float))
        block_frames.append(rows)
        t_pred += time.perf_counter() - tp
        if progress:
            progress(i + 1, len(blocks))
    timings["fit"] = t_fit
    timings["predict"] = t_pred
    scored = pd.concat(block_frames, ignore_index=True)
    return scored, {s: _stack(o) for s, o in outputs.items() if o}


def apply_gate(
    outputs: dict[str, SystemOutput], gates: dict[pd.Timestamp, EdgeGate], context: DecisionContext
) -> None:
    """Decide every row whose bet rule took a rung again with the edge gate of its day (the
    walk decided with every rule live): a rung whose rule was not live that day becomes a lean
    with the rule's record in its reason, and the day's stakes are set again, so the rows
    stored agree with the gated ledger."""
    for system_id, out in outputs.items():
        if out.bets is None or "decision" not in out.frame:
            continue
        frame = out.frame
        dates = pd.to_datetime(frame["game_date"])
        for i, cand in enumerate(out.bets):
            if cand is None or not cand.get("bet"):
                continue
            gate = gates.get(pd.Timestamp(dates.iloc[i])) or EdgeGate({})
            row = frame.iloc[i].to_dict()
            book = row.get("book") if isinstance(row.get("book"), str) else None
            settled = settle(row, book, cand, dataclasses.replace(context, live=gate), system_id)
            for column, value in settled.items():
                frame.at[i, column] = value
        stake(out, context)


def _stack(outs: list[SystemOutput]) -> SystemOutput:
    frame = pd.concat([o.frame for o in outs], ignore_index=True)
    pmf = np.concatenate([o.pmf for o in outs])
    bets = [b for o in outs for b in (o.bets or [None] * len(o.frame))]
    return SystemOutput(outs[0].system_id, frame, pmf, outs[-1].model_version, bets=bets)


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


@dataclass
class ScoredSet:
    """The window's starts as the scores see them: what happened, the line, the market's
    de-vigged P(over) at the decision time and at the open, and which starts are scored
    (``priced``: a line with both prices) and graded (priced, not a push)."""

    actual: np.ndarray
    line: np.ndarray
    over_odds: np.ndarray
    under_odds: np.ndarray
    market: np.ndarray
    open_market: np.ndarray
    priced: np.ndarray
    push: np.ndarray
    graded: np.ndarray
    over: np.ndarray

    @classmethod
    def of(cls, rows: pd.DataFrame) -> ScoredSet:
        def col(name: str) -> np.ndarray:
            if name not in rows:
                return np.full(len(rows), np.nan)
            return pd.to_numeric(rows[name], errors="coerce").to_numpy(float)

        actual, line = rows["strikeouts"].to_numpy(float), col("line")
        oo, uo = col("over_odds"), col("under_odds")
        market = _devigged(oo, uo)
        priced = ~np.isnan(line) & ~np.isnan(market)
        push = priced & (actual == line)
        open_market = _devigged(col("open_over_odds"), col("open_under_odds"))
        over = (actual > line).astype(float)
        return cls(actual, line, oo, uo, market, open_market, priced, push, priced & ~push, over)


def _devigged(over_odds: np.ndarray, under_odds: np.ndarray) -> np.ndarray:
    """The market's de-vigged P(over) of each pair of prices (NaN without both)."""
    return np.array(
        [
            devig(a, b) if not (np.isnan(a) or np.isnan(b)) else np.nan
            for a, b in zip(over_odds, under_odds, strict=True)
        ],
        dtype=float,
    )


def score(rows: pd.DataFrame, outputs: dict[str, SystemOutput]) -> tuple[dict, dict, list[str]]:
    """Score every system, the market, a naive average and shipped projections on the same
    games: the metrics, the calibration tables and notes."""
    scored = ScoredSet.of(rows)
    notes = [
        f"{len(rows)} starts in the window; {int(scored.priced.sum())} with a priced line "
        f"({int(scored.push.sum())} pushes left out of the probability scores)"
    ]
    metrics: dict[str, dict[str, Any]] = {}
    calibration: dict[str, list[dict[str, float]]] = {}
    for system_id, out in outputs.items():
        metrics[system_id], tables = system_scores(scored, out)
        calibration[system_id] = tables[0]
        calibration[f"{system_id} (model alone)"] = tables[1]
    metrics["market"], calibration["market"] = market_scores(scored)
    metrics["naive_average"] = naive_scores(scored, _naive(rows))
    first = next(iter(outputs.values()), None)
    if first is not None and "outs" in rows:
        metrics["red_flags"] = red_flag_table(first.frame["red_flags"], rows)
    projection = projection_scores(scored, rows, outputs)
    if projection is not None:
        metrics["projection"] = projection
    return metrics, calibration, notes


def system_scores(
    scored: ScoredSet, out: SystemOutput
) -> tuple[dict[str, Any], tuple[list[dict[str, float]], list[dict[str, float]]]]:
    """One system's metrics, and the calibration tables of its stated P(over) and of its own
    (before the market). Its bets are its verdicts at the scored line, at that line's price."""
    priced, graded, over, actual = scored.priced, scored.graded, scored.over, scored.actual
    y = actual[priced]

    def col(name: str) -> np.ndarray:
        return pd.to_numeric(out.frame[name], errors="coerce").to_numpy(float)

    mean, stated_over, stated_under = col("predicted_strikeouts"), col("p_over"), col("p_under")
    p_over_cond = stated_over / np.clip(stated_over + stated_under, 1e-9, None)
    model_p = col("model_p_over")
    ll, brier = probability_scores(p_over_cond[graded], over[graded])
    model_ll, model_brier = probability_scores(model_p[graded], over[graded])
    side = np.where(priced, out.frame["verdict"].to_numpy(object), "PASS")
    profit = profit_units(side, actual, scored.line, scored.over_odds, scored.under_odds)
    bets = ~np.isnan(profit)
    decided = bets & (profit != 0)
    wins = decided & (profit > 0)
    metrics = {
        "n": int(priced.sum()),
        "mae": float(np.abs(mean[priced] - y).mean()),
        "rmse": float(np.sqrt(((mean[priced] - y) ** 2).mean())),
        "log_loss": ll,
        "brier": brier,
        "model_log_loss": model_ll,
        "model_brier": model_brier,
        "bets": int(bets.sum()),
        "win_rate": float(wins.sum() / decided.sum()) if decided.any() else None,
        "roi": float(profit[bets].sum() / bets.sum()) if bets.any() else None,
        "clv": closing_line_value(side, scored.market, scored.open_market, bets),
        "n_all_starts": len(actual),
        "mae_all_starts": float(np.abs(mean - actual).mean()),
        "rmse_all_starts": float(np.sqrt(((mean - actual) ** 2).mean())),
        # the log score of the whole distribution at what happened (lines or not)
        "nll_all_starts": log_score(out.pmf, actual),
        "mae_median": float(np.abs(col("predicted_median")[priced] - y).mean()),
        # the left tail (early hooks): stated P(K <= 2) against how often it happened
        "p_k_le_2": float(out.pmf[:, :3].sum(axis=1).mean()),
        "observed_k_le_2": float((actual <= 2).mean()),
    }
    stated_table = calibration_table(p_over_cond[graded], over[graded])
    metrics.update(calibration_summary(stated_table))
    return metrics, (stated_table, calibration_table(model_p[graded], over[graded]))


def market_scores(scored: ScoredSet) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """The market's metrics (its line as the forecast, its de-vigged price as P(over)) and
    the calibration table of that price."""
    priced, graded = scored.priced, scored.graded
    y, line = scored.actual[priced], scored.line
    ll, brier = probability_scores(scored.market[graded], scored.over[graded])
    metrics: dict[str, Any] = {
        "n": int(priced.sum()),
        "mae": float(np.abs(line[priced] - y).mean()),
        "rmse": float(np.sqrt(((line[priced] - y) ** 2).mean())),
        "log_loss": ll,
        "brier": brier,
        "bets": 0,
        "win_rate": None,
        "roi": None,
        "clv": None,
    }
    table = calibration_table(scored.market[graded], scored.over[graded])
    metrics.update(calibration_summary(table))
    return metrics, table


def naive_scores(scored: ScoredSet, naive: np.ndarray) -> dict[str, Any]:
    """The naive pitcher average's errors on the scored starts and on every start."""
    priced, actual = scored.priced, scored.actual
    y = actual[priced]
    return {
        "n": int(priced.sum()),
        "mae": float(np.abs(naive[priced] - y).mean()),
        "rmse": float(np.sqrt(((naive[priced] - y) ** 2).mean())),
        "mae_all_starts": float(np.abs(naive - actual).mean()),
    }


def projection_scores(
    scored: ScoredSet, rows: pd.DataFrame, outputs: dict[str, SystemOutput]
) -> dict[str, Any] | None:
    """A projection shipped with the lines against the line and each system on the same
    games (None without one)."""
    if "projection" not in rows:
        return None
    proj = pd.to_numeric(rows["projection"], errors="coerce").to_numpy(float)
    has = scored.priced & ~np.isnan(proj)
    if not has.any():
        return None
    actual = scored.actual[has]
    return {
        "n": int(has.sum()),
        "mae": float(np.abs(proj[has] - actual).mean()),
        "line_mae_same_games": float(np.abs(scored.line[has] - actual).mean()),
        "system_mae_same_games": {
            s: float(np.abs(o.frame["predicted_strikeouts"].to_numpy(float)[has] - actual).mean())
            for s, o in outputs.items()
        },
    }


def red_flag_table(flags: pd.Series, rows: pd.DataFrame) -> dict[str, dict[str, float]]:
    """For each red flag: how many starts had it, how often they ended before three innings
    (fewer than 9 outs: an early hook), and their mean strikeouts; and the same for no flag."""
    outs = pd.to_numeric(rows["outs"], errors="coerce").to_numpy(float)
    k = rows["strikeouts"].to_numpy(float)
    sets = [set(str(f).split(",")) - {"", "no_line", "no_odds"} for f in flags]
    table: dict[str, dict[str, float]] = {}
    names = sorted({f for s in sets for f in s})
    for name in [*names, "none"]:
        mask = np.array([(not s) if name == "none" else (name in s) for s in sets])
        if mask.any():
            table[name] = {
                "n": int(mask.sum()),
                "early_hook_rate": float((outs[mask] < 9).mean()),
                "mean_strikeouts": float(k[mask].mean()),
            }
    return table


def _naive(rows: pd.DataFrame) -> np.ndarray:
    """The pitcher's strikeouts per start so far this season (3+ starts), else his last 10
    starts, else last season's, else the league's 4.8."""
    naive = rows["k_per_start_std"].where(rows["starts_std"] >= 3)
    naive = naive.fillna(rows["k_last10"])
    prev = rows["k9_prev"] * rows["outs_per_start_prev"] / 27.0
    return naive.fillna(prev).fillna(4.8).to_numpy(float)


def write_backtest(wh: Warehouse, result: BacktestResult, settings: Settings | None = None) -> int:
    """Store the backtest's predictions of the active systems and their bets (every strategy)
    in one transaction, then grade both. Returns the predictions stored."""
    active = active_ids(settings or get_settings())
    preds = result.predictions[result.predictions["system_id"].isin(active)]
    bets = result.bets  # every strategy's picks: bets, and leans of rules not live
    taken = bets[bets["system_id"].isin(active)] if len(bets) else bets
    with wh.transaction():
        n = store(wh, preds.reset_index(drop=True)).rows
        if n and len(taken):
            write_ledger(wh, ledger_rows(taken, result.at, "backtest"))
    if n:
        grade_dates(wh, result.start, result.end)
    return n
