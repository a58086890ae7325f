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

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kcast.config import Settings, get_settings
from kcast.decisions import Thresholds, american_to_decimal, devig
from kcast.errors import InputError, KcastError
from kcast.features.build import load_history, training_targets
from kcast.history import WalkForwardHistory
from kcast.market import DecisionTime
from kcast.pipeline import attach_prices, run_systems, starter_features, systems_for_day
from kcast.systems.base import BasePredictor, SystemOutput
from kcast.systems.registry import backtest_ids, build_system, dependency_order, members_of
from kcast.warehouse import Warehouse

CALIBRATION_BINS = 10
MIN_BIN = 100


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

    The pipeline's own stages do the work (``starter_features``, ``attach_prices``,
    ``systems_for_day``, ``run_systems``); the backtest adds the loop: before each block the
    trainable systems are refitted on the starts before its first day, and every system is
    updated from the blocks already predicted and graded.

    ``at`` is the decision time (``market.DecisionTime``): each start is priced, and every
    system decides, with the quotes known then (None: every stored quote, as a replay by
    ``kcast predict`` of a past date; ``kcast backtest`` passes ``open`` by default). With
    ``bets`` the bets a bettor could take are worked out day by day (``bets.backtest_bets``)."""
    settings = settings or get_settings()
    ids = with_members(system_ids or backtest_ids(settings), settings)
    thresholds = Thresholds.from_settings(settings)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    history = load_history(wh, before=end + dt.timedelta(days=1))
    starts = training_targets(history)
    frame = starter_features(wh, starts[starts["game_date"] <= pd.Timestamp(end)], history)
    timings["features"] = time.perf_counter() - t0
    frame["game_date"] = pd.to_datetime(frame["game_date"])
    window = frame[
        (frame["game_date"] >= pd.Timestamp(start)) & (frame["game_date"] <= pd.Timestamp(end))
    ]
    if window.empty:
        raise InputError(f"no regular-season starts between {start} and {end} in the warehouse")
    window = attach_prices(wh, window, at=at)

    systems: dict[str, BasePredictor] = {s: build_system(s, settings) for s in ids}
    graded = WalkForwardHistory()
    blocks = _block_starts(start, end, retrain_days)
    outputs: dict[str, list[SystemOutput]] = {s: [] for s in ids}
    block_frames: list[pd.DataFrame] = []
    t_fit = t_pred = 0.0
    for i, block_start in enumerate(blocks):
        block_end = blocks[i + 1] if i + 1 < len(blocks) else end + dt.timedelta(days=1)
        rows = window[
            (window["game_date"] >= pd.Timestamp(block_start))
            & (window["game_date"] < pd.Timestamp(block_end))
        ].reset_index(drop=True)
        if rows.empty:
            continue
        train = frame[frame["game_date"] < pd.Timestamp(block_start)]
        tf = time.perf_counter()
        for system_id, system in systems.items():
            if system.trainable:
                reuse = system if system.fitted_ else None
                systems[system_id] = build_system(system_id, settings).fit(
                    train, trained_through=block_start, reuse=reuse
                )
        t_fit += time.perf_counter() - tf
        tp = time.perf_counter()
        ready = systems_for_day(systems, graded, settings)
        result = run_systems(rows, ready, thresholds)
        if result.errors:
            raise KcastError(
                f"backtest block from {block_start}: "
                + "; ".join(f"{s}: {e}" for s, e in result.errors.items())
            )
        for system_id, out in result.outputs.items():
            outputs[system_id].append(out)
        graded.add_block(result.outputs, rows["strikeouts"].to_numpy(float))
        block_frames.append(rows)
        t_pred += time.perf_counter() - tp
        if progress:
            progress(i + 1, len(blocks))
    timings["fit"] = t_fit
    timings["predict"] = t_pred
    scored = pd.concat(block_frames, ignore_index=True)
    all_outputs = {s: _stack(o) for s, o in outputs.items() if o}
    metrics, calibration, notes = score(scored, all_outputs)
    timings["total"] = time.perf_counter() - t0
    preds = pd.concat([o.frame for o in all_outputs.values()], ignore_index=True)
    result = BacktestResult(start, end, metrics, calibration, preds, timings, notes)
    result.at = DecisionTime.parse(at).label if at is not None else "now"
    if bets:
        from kcast.bets import STRATEGIES, BetRules, backtest_bets

        tb = time.perf_counter()
        result.bets, result.bet_metrics, result.devig = backtest_bets(
            wh,
            all_outputs,
            scored,
            at,
            BetRules.from_settings(settings),
            strategies or STRATEGIES,
        )
        timings["bets"] = time.perf_counter() - tb
    return result


def _stack(outs: list[SystemOutput]) -> SystemOutput:
    frame = pd.concat([o.frame for o in outs], ignore_index=True)
    pmf = np.concatenate([o.pmf for o in outs])
    return SystemOutput(outs[0].system_id, frame, pmf, outs[-1].model_version)


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def _profit(
    side: np.ndarray,
    actual: np.ndarray,
    line: np.ndarray,
    over_odds: np.ndarray,
    under_odds: np.ndarray,
) -> np.ndarray:
    """Profit per unit of each bet (0 for a push); NaN where there is no bet or no price."""
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


def _log_score(pmf: np.ndarray, actual: np.ndarray) -> float:
    """Mean -log P(the strikeouts that happened) (the last cell holds the tail)."""
    k = np.clip(actual.astype(int), 0, pmf.shape[1] - 1)
    return float(-np.log(np.clip(pmf[np.arange(len(k)), k], 1e-12, None)).mean())


def _prob_metrics(p_over: np.ndarray, over: np.ndarray) -> tuple[float, float]:
    p = np.clip(p_over, 1e-6, 1 - 1e-6)
    log_loss = float(-(over * np.log(p) + (1 - over) * np.log(1 - p)).mean())
    brier = float(((p - over) ** 2).mean())
    return log_loss, brier


def calibration_table(
    p_over: np.ndarray, over: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Deciles of stated P(over): mean stated, observed over rate, count."""
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
            }
        )
    return table


def calibration_summary(table: list[dict[str, float]]) -> dict[str, float | int | None]:
    """The largest gap between stated and observed P(over) over deciles of 100+ predictions,
    how many such deciles miss by more than 3 points, and a Hosmer-Lemeshow test: the chance
    that a perfectly calibrated forecaster would show gaps at least this large."""
    from scipy.stats import chi2

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


def score(rows: pd.DataFrame, outputs: dict[str, SystemOutput]) -> tuple[dict, dict, list[str]]:
    """Score every system, the market, a naive average and shipped projections on the same games."""
    n_all = len(rows)
    actual_all = rows["strikeouts"].to_numpy(float)
    line = pd.to_numeric(rows["line"], errors="coerce").to_numpy(float)
    oo = pd.to_numeric(rows["over_odds"], errors="coerce").to_numpy(float)
    uo = pd.to_numeric(rows["under_odds"], errors="coerce").to_numpy(float)
    market = np.array(
        [
            devig(a, b) if not (np.isnan(a) or np.isnan(b)) else np.nan
            for a, b in zip(oo, uo, strict=True)
        ],
        dtype=float,
    )
    priced = ~np.isnan(line) & ~np.isnan(market)
    push = priced & (actual_all == line)
    graded = priced & ~push
    over = (actual_all > line).astype(float)
    open_oo = (
        pd.to_numeric(rows.get("open_over_odds"), errors="coerce").to_numpy(float)
        if "open_over_odds" in rows
        else np.full(n_all, np.nan)
    )
    open_uo = (
        pd.to_numeric(rows.get("open_under_odds"), errors="coerce").to_numpy(float)
        if "open_under_odds" in rows
        else np.full(n_all, np.nan)
    )
    open_market = np.array(
        [
            devig(a, b) if not (np.isnan(a) or np.isnan(b)) else np.nan
            for a, b in zip(open_oo, open_uo, strict=True)
        ],
        dtype=float,
    )

    metrics: dict[str, dict[str, Any]] = {}
    calibration: dict[str, list[dict[str, float]]] = {}
    notes = [
        f"{n_all} starts in the window; {int(priced.sum())} with a priced line "
        f"({int(push.sum())} pushes left out of the probability scores)"
    ]
    y = actual_all[priced]
    for system_id, out in outputs.items():
        mean = out.frame["predicted_strikeouts"].to_numpy(float)
        stated_over = pd.to_numeric(out.frame["p_over"], errors="coerce").to_numpy(float)
        stated_under = pd.to_numeric(out.frame["p_under"], errors="coerce").to_numpy(float)
        p_over_cond = stated_over / np.clip(stated_over + stated_under, 1e-9, None)
        model_p = pd.to_numeric(out.frame["model_p_over"], errors="coerce").to_numpy(float)
        ll, brier = _prob_metrics(p_over_cond[graded], over[graded])
        model_ll, model_brier = _prob_metrics(model_p[graded], over[graded])
        side = out.frame["recommendation"].to_numpy(object)
        side = np.where(priced, side, "PASS")
        profit = _profit(side, actual_all, line, oo, uo)
        bets = ~np.isnan(profit)
        decided = bets & (profit != 0)
        wins = decided & (profit > 0)
        clv = _clv(side, market, open_market, bets)
        metrics[system_id] = {
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
            "clv": clv,
            "n_all_starts": n_all,
            "mae_all_starts": float(np.abs(mean - actual_all).mean()),
            "rmse_all_starts": float(np.sqrt(((mean - actual_all) ** 2).mean())),
            # the log score of the whole distribution at what happened (lines or not)
            "nll_all_starts": _log_score(out.pmf, actual_all),
            "mae_median": float(
                np.abs(out.frame["predicted_median"].to_numpy(float)[priced] - y).mean()
            ),
            # the left tail (early hooks): stated P(K <= 2) against how often it happened
            "p_k_le_2": float(out.pmf[:, :3].sum(axis=1).mean()),
            "observed_k_le_2": float((actual_all <= 2).mean()),
        }
        calibration[system_id] = calibration_table(p_over_cond[graded], over[graded])
        metrics[system_id].update(calibration_summary(calibration[system_id]))
        calibration[f"{system_id} (model alone)"] = calibration_table(model_p[graded], over[graded])
    ll, brier = _prob_metrics(market[graded], over[graded])
    metrics["market"] = {
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
    calibration["market"] = calibration_table(market[graded], over[graded])
    metrics["market"].update(calibration_summary(calibration["market"]))
    naive = _naive(rows)
    metrics["naive_average"] = {
        "n": int(priced.sum()),
        "mae": float(np.abs(naive[priced] - y).mean()),
        "rmse": float(np.sqrt(((naive[priced] - y) ** 2).mean())),
        "mae_all_starts": float(np.abs(naive - actual_all).mean()),
    }
    first = next(iter(outputs.values()), None)
    if first is not None and "outs" in rows:
        metrics["red_flags"] = red_flag_table(first.frame["red_flags"], rows)
    if "projection" in rows:
        proj = pd.to_numeric(rows["projection"], errors="coerce").to_numpy(float)
        has = priced & ~np.isnan(proj)
        if has.any():
            metrics["projection"] = {
                "n": int(has.sum()),
                "mae": float(np.abs(proj[has] - actual_all[has]).mean()),
                "line_mae_same_games": float(np.abs(line[has] - actual_all[has]).mean()),
                "system_mae_same_games": {
                    s: float(
                        np.abs(
                            o.frame["predicted_strikeouts"].to_numpy(float)[has] - actual_all[has]
                        ).mean()
                    )
                    for s, o in outputs.items()
                },
            }
    return metrics, calibration, notes


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


def _clv(side: np.ndarray, close: np.ndarray, open_: np.ndarray, bets: np.ndarray) -> float | None:
    """Mean closing-line value of the bets, in probability points: the de-vigged close
    probability of the side bet minus that at the open, at the same line."""
    has = bets & ~np.isnan(close) & ~np.isnan(open_)
    if not has.any():
        return None
    over = side[has] == "OVER"
    c, o = close[has], open_[has]
    value = np.where(over, c - o, o - c)
    return float(value.mean())


def write_backtest(wh: Warehouse, result: BacktestResult, settings: Settings | None = None) -> int:
    """Store the backtest's predictions of the active systems, graded, in the warehouse."""
    from kcast.grading import grade_dates
    from kcast.pipeline import store_predictions
    from kcast.systems.registry import active_ids

    active = active_ids(settings or get_settings())
    preds = result.predictions[result.predictions["system_id"].isin(active)]
    n = store_predictions(wh, preds.reset_index(drop=True))
    if n == 0:
        return 0
    grade_dates(wh, result.start, result.end)
    if len(result.bets):
        from kcast.bets import grade_bets, ledger_rows, write_ledger

        taken = result.bets[result.bets["system_id"].isin(active)]
        write_ledger(wh, ledger_rows(taken, result.at, "backtest"))
        grade_bets(wh, result.start, result.end)
    return n
