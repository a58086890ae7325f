"""Bets a bettor can take: at a decision time, at the best price among the books one can bet,
on the best rung of the ladder, staked by fractional Kelly, judged by the close.

For each start and system the stated probability at the main line (the system pooled with the
market at the decision time, ``MarketBlend`` weights fitted on earlier graded days) is carried
to every rung offered by tilting the system's distribution to agree with it
(``market.tilt``); each rung and side is priced at the best odds among ``KCAST_BOOKS``; the
rung with the highest expected value is the candidate, and it is a bet when that value reaches
``MIN_BET_EV`` (and no red flag blocks the side). Stakes are ``KELLY_FRACTION`` of Kelly with
caps per bet and per day. Each bet is judged against the fair closing price of its line
(``fair_p_close``): closing-line value ``clv`` (the fair probability of the side bet at the close
minus at the decision, in probability points) and the expected value of the price taken against
the fair close (``ev_close``).

``decide_bets`` is the one rule; ``day_bets`` runs it for a predicted day (``kcast predict``
and the daily job call ``record_bets``; ``write_day_ledger`` makes the day's ledger what the
latest decision takes), ``backtest_bets`` walks a backtest forward day by day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kcast.decisions import line_probabilities
from kcast.market import (
    BookWeights,
    DecisionTime,
    best_prices,
    closing_quotes,
    decimal,
    devig_many,
    expit,
    fair_by_line,
    kelly_fraction,
    logit,
    main_lines,
    tilt,
)
from kcast.policy import BLOCKS_OVER, DEVIG_METHODS
from kcast.systems.base import SystemOutput
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now

STRATEGIES = ("ev", "ev_main", "move", "signal", "shop", "shop_model")
SIGNAL_GAP = 0.05  # the measured signal: |system - opening consensus| above this
BET_KEY = ["system_id", "game_id", "pitcher_id"]


@dataclass(frozen=True)
class BetRules:
    """The numbers of a betting run (settings, defaults in ``policy``)."""

    books: tuple[str, ...] | None = None
    devig: str = "multiplicative"
    min_ev: float = 0.02
    kelly: float = 0.25
    max_bet: float = 0.02
    max_day: float = 0.10
    strategy: str = "ev"

    @classmethod
    def from_settings(cls, settings, strategy: str = "ev") -> BetRules:  # noqa: ANN001
        books = settings.book_list
        return cls(
            tuple(books) if books else None,
            settings.devig_method,
            settings.min_bet_ev,
            settings.kelly_fraction,
            settings.max_stake_bet,
            settings.max_stake_day,
            strategy,
        )


# --------------------------------------------------------------------------------------------
# The one rule
# --------------------------------------------------------------------------------------------


def decide_bets(
    outputs: dict[str, SystemOutput],
    quotes: pd.DataFrame,
    rules: BetRules,
    weights: BookWeights | None = None,
    move_beta: float | None = None,
) -> pd.DataFrame:
    """One candidate per start per system (the best rung by EV), with ``bet`` True where it is
    taken. ``quotes`` are the quotes known at the decision time (``market.quotes_at``)."""
    fair = fair_by_line(quotes, rules.devig, weights)
    main = main_lines(fair).rename(columns={"line": "main_line", "fair_p_over": "fair_main"})
    prices = best_prices(quotes, list(rules.books) if rules.books else None)
    by_start = {k: g for k, g in prices.groupby(["pitcher_id", "game_date"])}
    fair_at = {
        (p, d, ln): f
        for p, d, ln, f in zip(
            fair["pitcher_id"], fair["game_date"], fair["line"], fair["fair_p_over"], strict=True
        )
    }
    main_at = main.set_index(["pitcher_id", "game_date"])
    rows = []
    for system_id, out in outputs.items():
        frame = out.frame.reset_index(drop=True)
        dates = list(pd.to_datetime(frame["game_date"]))
        for i, r in enumerate(frame.to_dict("records")):
            key = (int(r["pitcher_id"]), dates[i])
            if key not in by_start or key not in main_at.index:
                continue
            m = main_at.loc[key]
            main_line, fair_main = float(m["main_line"]), float(m["fair_main"])
            # the system's own P(over) at the market's main line, pushes excluded
            po, pu, _ = line_probabilities(out.pmf[i], main_line)
            model_p = po / max(1e-9, po + pu)
            stated = _stated(r, main_line, model_p, fair_main, rules.strategy, move_beta)
            flags = set(str(r.get("red_flags") or "").split(","))
            if rules.strategy in ("shop", "shop_model"):
                cand = _shop(key, model_p, fair_main, by_start[key], fair_at, rules, flags)
            else:
                cand = _best_rung(
                    out.pmf[i], main_line, stated, model_p, fair_main, by_start[key], rules, flags
                )
            if cand is None:
                continue
            cand.update(
                system_id=system_id,
                game_id=r["game_id"],
                pitcher_id=int(r["pitcher_id"]),
                game_date=dates[i],
                main_line=main_line,
                fair_main=fair_main,
                model_p_over=model_p,
                stated_p_over=stated,
            )
            cand["fair_p_decision"] = _side_p(
                fair_at.get((key[0], key[1], cand["line"])), cand["side"]
            )
            rows.append(cand)
    return pd.DataFrame(rows)


def _stated(r, main_line, model_p, fair_main, strategy, move_beta):  # noqa: ANN001, ANN202
    """The probability a strategy bets with, at the main line."""
    if strategy == "move":
        beta = 0.0 if move_beta is None else move_beta
        return float(expit(logit(fair_main) + beta * (logit(model_p) - logit(fair_main))))
    if strategy == "signal":
        return model_p
    # ev: the system's stated P(over) (pooled with the market at the decision time) where its
    # row is priced at this line; else its blend applied to the fair price here
    line = r.get("line")
    if line is not None and not pd.isna(line) and float(line) == main_line:
        po, pu = r.get("p_over"), r.get("p_under")
        if po is not None and pu is not None and not (pd.isna(po) or pd.isna(pu)):
            return float(po) / max(1e-9, float(po) + float(pu))
    return fair_main


def _best_rung(pmf, main_line, stated, model_p, fair_main, prices, rules, flags):  # noqa: ANN001, ANN202, PLR0913
    if rules.strategy == "signal":
        gap = model_p - fair_main
        if abs(gap) <= SIGNAL_GAP:
            return None
        side = "OVER" if gap > 0 else "UNDER"
        here = prices[(prices["line"] == main_line) & (prices["side"] == side)]
        if here.empty:
            return None
        p = fair_main if side == "OVER" else 1 - fair_main
        row = here.iloc[0]
        dec = float(row["dec"])
        return {
            "side": side,
            "line": main_line,
            "book": row["book"],
            "odds": float(row["odds"]),
            "dec": dec,
            "p_win": p,
            "p_lose": 1 - p,
            "ev": p * (dec - 1) - (1 - p),
            "bet": not (side == "OVER" and BLOCKS_OVER & flags),
        }
    if rules.strategy == "ev_main":
        prices = prices[prices["line"] == main_line]
    dist = tilt(pmf, main_line, stated)
    below = np.concatenate([[0.0], np.cumsum(dist)])  # below[k] = P(K < k)
    best = None
    for line, side, book, odds, dec in zip(
        prices["line"], prices["side"], prices["book"], prices["odds"], prices["dec"], strict=True
    ):
        if side == "OVER" and BLOCKS_OVER & flags:
            continue
        k = min(len(dist), int(np.floor(line)) + 1)  # the first count above the line
        po = 1.0 - below[k]
        pu = below[int(np.ceil(line))] if line > 0 else 0.0
        p_win, p_lose = (po, pu) if side == "OVER" else (pu, po)
        ev = p_win * (dec - 1.0) - p_lose
        if best is None or ev > best["ev"]:
            best = _rung(side, line, book, odds, dec, p_win, p_lose, ev)
    if best is not None:
        best["bet"] = best["ev"] >= rules.min_ev
    return best


def _rung(side, line, book, odds, dec, p_win, p_lose, ev) -> dict:  # noqa: ANN001, PLR0913
    """One priced rung a rule may bet: side, line, book, price and its chances and EV."""
    return {
        "side": side,
        "line": float(line),
        "book": book,
        "odds": float(odds),
        "dec": float(dec),
        "p_win": p_win,
        "p_lose": p_lose,
        "ev": ev,
    }


def _shop(key, model_p, fair_main, prices, fair_at, rules, flags):  # noqa: ANN001, ANN202, PLR0913
    """Line shopping against the market itself: the rung and side whose best price pays most
    against the pooled fair price of that rung (two-sided rungs only). ``shop_model`` takes
    only the side the system favours against the market at the main line."""
    best = None
    lean = "OVER" if model_p > fair_main else "UNDER"
    for line, side, book, odds, dec in zip(
        prices["line"], prices["side"], prices["book"], prices["odds"], prices["dec"], strict=True
    ):
        fair = fair_at.get((key[0], key[1], float(line)))
        if fair is None or pd.isna(fair) or (side == "OVER" and BLOCKS_OVER & flags):
            continue
        if rules.strategy == "shop_model" and side != lean:
            continue
        p = float(fair) if side == "OVER" else 1.0 - float(fair)
        ev = p * dec - 1.0
        if best is None or ev > best["ev"]:
            best = _rung(side, line, book, odds, dec, p, 1.0 - p, ev)
    if best is not None:
        best["bet"] = best["ev"] >= rules.min_ev
    return best


def _side_p(p_over: float | None, side: str) -> float:
    if p_over is None or pd.isna(p_over):
        return np.nan
    return float(p_over) if side == "OVER" else 1.0 - float(p_over)


# --------------------------------------------------------------------------------------------
# The close, stakes, results
# --------------------------------------------------------------------------------------------


def judge_by_close(bets: pd.DataFrame, close_quotes: pd.DataFrame, rules: BetRules) -> pd.DataFrame:
    """``fair_p_close`` (the fair closing probability of the side bet, at its line), ``clv``
    (fair_p_close - fair_p_decision), ``ev_close`` (the price taken against the fair close) and
    ``beat_close`` (the price taken pays more than the fair close)."""
    if bets.empty:
        return bets
    fair = fair_by_line(closing_quotes(close_quotes), rules.devig)
    fair = fair.rename(columns={"fair_p_over": "close_over"})
    out = bets.drop(columns=["fair_p_close", "clv", "ev_close", "beat_close"], errors="ignore")
    out = out.merge(
        fair[["pitcher_id", "game_date", "line", "close_over"]],
        on=["pitcher_id", "game_date", "line"],
        how="left",
    )
    over = out["side"] == "OVER"
    out["fair_p_close"] = np.where(over, out["close_over"], 1 - out["close_over"])
    out["clv"] = out["fair_p_close"] - out["fair_p_decision"]
    out["ev_close"] = out["fair_p_close"] * out["dec"] - 1.0
    out["beat_close"] = np.where(out["fair_p_close"].notna(), out["ev_close"] > 0, np.nan)
    return out.drop(columns=["close_over"])


def stake_bets(
    bets: pd.DataFrame, rules: BetRules, bankroll: float = 1.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stakes by fractional Kelly, capped per bet and per day, from a bankroll that compounds
    day by day (graded bets only move it); and the bankroll curve (date, bankroll)."""
    if bets.empty:
        return bets, pd.DataFrame(columns=["game_date", "bankroll"])
    out = bets.sort_values(["game_date", "game_id", "pitcher_id"]).copy()
    out["kelly"] = [
        kelly_fraction(w, lo, d)
        for w, lo, d in zip(out["p_win"], out["p_lose"], out["dec"], strict=True)
    ]
    stakes = np.zeros(len(out))
    curve = []
    pos = {d: np.flatnonzero(out["game_date"].to_numpy() == d) for d in out["game_date"].unique()}
    for day in sorted(pos):
        idx = pos[day]
        f = np.minimum(rules.kelly * out["kelly"].to_numpy()[idx], rules.max_bet)
        if f.sum() > rules.max_day:
            f = f * rules.max_day / f.sum()
        stakes[idx] = f * bankroll
        if "units" in out:
            bankroll += float(np.nansum(stakes[idx] * out["units"].to_numpy()[idx]))
        curve.append({"game_date": day, "bankroll": bankroll})
    out["stake"] = stakes
    if "units" in out:
        out["profit"] = out["stake"] * out["units"]
    return out, pd.DataFrame(curve)


def units_won(side: pd.Series, line: pd.Series, dec: pd.Series, actual: pd.Series) -> pd.Series:
    """Profit of a one-unit bet: dec - 1 won, -1 lost, 0 a push; NaN before the game."""
    a, ln, d = actual.astype(float), line.astype(float), dec.astype(float)
    won = np.where(side == "OVER", a > ln, a < ln)
    units = np.where(a == ln, 0.0, np.where(won, d - 1.0, -1.0))
    return pd.Series(np.where(a.isna(), np.nan, units), index=side.index)


def result_of(units: pd.Series) -> pd.Series:
    return pd.Series(
        np.select([units.isna(), units > 0, units < 0], [None, "win", "loss"], "push"),
        index=units.index,
    ).replace({"None": None})


def max_drawdown(curve: pd.Series) -> float:
    """The largest fall from a peak, as a share of the peak."""
    values = np.concatenate([[1.0], np.asarray(curve, float)])
    peak = np.maximum.accumulate(values)
    return float(((peak - values) / peak).max())


def bootstrap_mean(
    values: np.ndarray, n: int = 2000, seed: int = 0
) -> tuple[float, float, float] | None:
    """The mean and its 95% bootstrap interval (None without values)."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return None
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def summarise(bets: pd.DataFrame, curve: pd.DataFrame) -> dict:
    """Bets, ROI at the price taken (flat one unit; 95% bootstrap), CLV in probability points,
    EV against the fair close, the share that beat the close, and the Kelly bankroll's
    maximum drawdown."""
    taken = bets[bets["bet"].astype(bool)] if len(bets) else bets
    if taken.empty:
        return {"bets": 0}

    def interval(col: str, scale: float = 1.0) -> dict | None:
        got = bootstrap_mean(taken[col].to_numpy(float) * scale) if col in taken else None
        return None if got is None else {"mean": got[0], "lo": got[1], "hi": got[2]}

    closed = taken["fair_p_close"].notna() if "fair_p_close" in taken else pd.Series(False)
    out = {
        "bets": int(len(taken)),
        "graded": int(taken["units"].notna().sum()) if "units" in taken else 0,
        "roi": interval("units"),
        "clv_points": interval("clv", 100.0),
        "ev_close": interval("ev_close"),
        "with_close": int(closed.sum()),
        "beat_close": float(taken.loc[closed, "beat_close"].astype(float).mean())
        if closed.any()
        else None,
        "ev_decision": float(taken["ev"].mean()),
        "alt_rungs": int((taken["line"] != taken["main_line"]).sum()),
        "books": taken["book"].value_counts().to_dict(),
    }
    if len(curve):
        out["final_bankroll"] = float(curve["bankroll"].iloc[-1])
        out["max_drawdown"] = max_drawdown(curve["bankroll"])
        out["staked"] = float(taken["stake"].sum()) if "stake" in taken else None
    return out


# --------------------------------------------------------------------------------------------
# What books and the move learn from earlier days
# --------------------------------------------------------------------------------------------


def graded_book_lines(quotes: pd.DataFrame, actual: pd.DataFrame, method: str) -> pd.DataFrame:
    """Each book's de-vigged price of each start's main line with its outcome (pushes out):
    what ``BookWeights.fit`` learns from. ``actual``: pitcher_id, game_date, strikeouts."""
    if quotes.empty:
        return pd.DataFrame(columns=["key", "book", "fair", "over", "game_date"])
    main = main_lines(fair_by_line(quotes, method))[["pitcher_id", "game_date", "line"]]
    q = quotes.merge(main, on=["pitcher_id", "game_date", "line"])
    q = q.merge(actual, on=["pitcher_id", "game_date"])
    q = q[q["strikeouts"].astype(float) != q["line"]]
    q = q.assign(
        fair=devig_many(q["over_odds"].to_numpy(float), q["under_odds"].to_numpy(float), method),
        over=(q["strikeouts"].astype(float) > q["line"]).astype(float),
        key=q["pitcher_id"].astype(str)
        + "|"
        + q["game_date"].astype(str)
        + "|"
        + q["line"].astype(str),
    ).dropna(subset=["fair"])
    return q[q["book"] != "consensus"][["key", "book", "fair", "over", "game_date"]]


def fit_move_beta(history: pd.DataFrame) -> float | None:
    """The share of a system's log-odds disagreement with the decision-time price that the
    close moves toward it (least squares through the origin), from earlier days' bets."""
    h = history.dropna(subset=["model_p_over", "fair_main", "close_main"])
    if len(h) < 50:
        return None
    x = logit(h["model_p_over"].to_numpy()) - logit(h["fair_main"].to_numpy())
    y = logit(h["close_main"].to_numpy()) - logit(h["fair_main"].to_numpy())
    return float((x * y).sum() / max(1e-9, (x * x).sum()))


def devig_log_losses(quotes: pd.DataFrame, actual: pd.DataFrame, weights_by_day=None) -> dict:  # noqa: ANN001
    """Log loss of the pooled (equal-weight) fair P(over) at each start's main line for every
    de-vig method, and of the book-weighted pool (``weights_by_day``: date -> BookWeights)."""
    out: dict[str, float | int] = {}
    for method in DEVIG_METHODS:
        fair = main_lines(fair_by_line(quotes, method)).merge(
            actual, on=["pitcher_id", "game_date"]
        )
        fair = fair[fair["strikeouts"].astype(float) != fair["line"]]
        y = (fair["strikeouts"].astype(float) > fair["line"]).to_numpy(float)
        p = np.clip(fair["fair_p_over"].to_numpy(float), 1e-6, 1 - 1e-6)
        out[method] = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()) if len(y) else None
        out["n"] = int(len(y))
    if weights_by_day:
        parts = []
        for day, w in weights_by_day.items():
            q = quotes[quotes["game_date"] == day]
            parts.append(main_lines(fair_by_line(q, DEVIG_METHODS[0], w)))
        fair = pd.concat(parts, ignore_index=True).merge(actual, on=["pitcher_id", "game_date"])
        fair = fair[fair["strikeouts"].astype(float) != fair["line"]]
        y = (fair["strikeouts"].astype(float) > fair["line"]).to_numpy(float)
        p = np.clip(fair["fair_p_over"].to_numpy(float), 1e-6, 1 - 1e-6)
        out["book_weighted"] = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    return out


# --------------------------------------------------------------------------------------------
# A backtest, day by day
# --------------------------------------------------------------------------------------------


def backtest_bets(
    wh: Warehouse,
    outputs: dict[str, SystemOutput],
    rows: pd.DataFrame,
    at: DecisionTime | str | None,
    rules: BetRules,
    strategies: tuple[str, ...] = STRATEGIES,
) -> tuple[pd.DataFrame, dict, dict]:
    """Bets of every system and strategy over a backtest's rows (aligned with each output),
    decided day by day at ``at``; book weights and the move model fitted only on earlier days.
    Returns the bets (taken or not), the summary per strategy and system, and the de-vig log
    losses."""
    from kcast.pipeline import stored_lines

    dates = pd.to_datetime(rows["game_date"])
    first, last = dates.min().date(), dates.max().date()
    decision = DecisionTime.parse(at or "close")
    quotes = stored_lines(wh, first, last, decision)
    close = stored_lines(wh, first, last, "close")
    actual = (
        rows[["pitcher_id", "game_date", "strikeouts"]]
        .assign(game_date=dates, pitcher_id=rows["pitcher_id"].astype("int64"))
        .drop_duplicates(["pitcher_id", "game_date"])
    )
    graded_lines = graded_book_lines(quotes, actual, rules.devig)
    days = sorted(set(dates) & set(quotes["game_date"]))
    weights = {d: BookWeights.fit(graded_lines[graded_lines["game_date"] < d]) for d in days}
    close_fair = main_lines(fair_by_line(closing_quotes(close), rules.devig))[
        ["pitcher_id", "game_date", "fair_p_over"]
    ]
    close_fair = close_fair.rename(columns={"fair_p_over": "close_main"})
    all_bets = []
    for strategy in strategies:
        srules = BetRules(**{**rules.__dict__, "strategy": strategy})
        parts = []
        for day in days:
            mask = (dates == day).to_numpy()
            day_out = {
                s: SystemOutput(
                    s, o.frame[mask].reset_index(drop=True), o.pmf[mask], o.model_version
                )
                for s, o in outputs.items()
            }
            beta = None
            if strategy == "move" and parts:
                earlier = pd.concat(parts, ignore_index=True).merge(
                    close_fair, on=["pitcher_id", "game_date"]
                )
                beta = {s: fit_move_beta(earlier[earlier["system_id"] == s]) for s in outputs}
            if beta is not None:
                chunk = pd.concat(
                    [
                        decide_bets(
                            {s: o},
                            quotes[quotes["game_date"] == day],
                            srules,
                            weights[day],
                            beta.get(s),
                        )
                        for s, o in day_out.items()
                    ],
                    ignore_index=True,
                )
            else:
                chunk = decide_bets(
                    day_out, quotes[quotes["game_date"] == day], srules, weights[day]
                )
            if len(chunk):
                parts.append(chunk)
        if not parts:
            continue
        bets = pd.concat(parts, ignore_index=True).assign(strategy=strategy)
        bets = judge_by_close(bets, close, srules)
        bets = bets.merge(actual, on=["pitcher_id", "game_date"], how="left")
        bets["units"] = units_won(bets["side"], bets["line"], bets["dec"], bets["strikeouts"])
        all_bets.append(bets)
    if not all_bets:
        return pd.DataFrame(), {}, devig_log_losses(quotes, actual, weights)
    frame = pd.concat(all_bets, ignore_index=True)
    summary: dict[str, dict] = {}
    staked = []
    for (strategy, system_id), g in frame.groupby(["strategy", "system_id"]):
        taken, curve = stake_bets(g[g["bet"].astype(bool)], srules)
        staked.append(taken)
        summary.setdefault(strategy, {})[system_id] = summarise(taken, curve)
    frame = pd.concat(staked, ignore_index=True) if staked else frame
    return frame, summary, devig_log_losses(quotes, actual, weights)


# --------------------------------------------------------------------------------------------
# The ledger
# --------------------------------------------------------------------------------------------

LEDGER_COLUMNS = (
    "system_id",
    "game_id",
    "pitcher_id",
    "game_date",
    "strategy",
    "side",
    "line",
    "main_line",
    "book",
    "odds",
    "decided_at",
    "decision_time",
    "stake",
    "p_win",
    "ev",
    "model_p_over",
    "stated_p_over",
    "fair_p_decision",
    "fair_p_close",
    "clv",
    "ev_close",
    "result",
    "profit",
    "source",
)


def ledger_rows(bets: pd.DataFrame, at: DecisionTime | str | None, source: str) -> pd.DataFrame:
    """Rows of the ``bets`` table for the bets taken."""
    if bets.empty:
        return pd.DataFrame(columns=[*LEDGER_COLUMNS, "created_at"])
    decision = DecisionTime.parse(at)
    taken = bets[bets["bet"].astype(bool)].copy()
    if "strategy" not in taken:
        taken["strategy"] = "ev"
    for col in ("fair_p_close", "clv", "ev_close", "stake"):
        if col not in taken:
            taken[col] = np.nan
    if "units" in taken:
        taken["result"] = result_of(taken["units"])
        taken["profit"] = taken["stake"] * taken["units"]
    else:
        taken["result"], taken["profit"] = None, np.nan
    taken["decided_at"] = [decision.decided_at(pd.Timestamp(d).date()) for d in taken["game_date"]]
    taken["decision_time"] = decision.label
    taken["source"] = source
    taken["game_date"] = pd.to_datetime(taken["game_date"]).dt.date
    taken["created_at"] = utc_now()
    return taken[[*LEDGER_COLUMNS, "created_at"]].reset_index(drop=True)


def write_ledger(wh: Warehouse, rows: pd.DataFrame) -> int:
    """Upsert bets on (system_id, game_id, pitcher_id, strategy): writing them again rewrites
    them, never duplicates them (a backtest's bets). A day's decision removes the bets it no
    longer takes too: ``write_day_ledger``."""
    if rows.empty:
        return 0
    with wh.transaction():
        return wh.upsert("bets", rows).rows


def day_bets(
    wh: Warehouse,
    outputs: dict[str, SystemOutput],
    date: dt.date,
    at: DecisionTime | str | None,
    rules: BetRules,
) -> pd.DataFrame:
    """The bets of a predicted day at the decision time, staked from a bankroll of 1, with book
    weights learned from lines of games before the day."""
    from kcast.pipeline import stored_lines

    quotes = stored_lines(wh, date, date, at)
    earlier = stored_lines(wh, date - dt.timedelta(days=365), date - dt.timedelta(days=1), at)
    actual = wh.query(
        "SELECT pitcher_id, game_date, strikeouts FROM pitcher_games WHERE is_start AND "
        "game_date BETWEEN $a AND $b",
        {"a": date - dt.timedelta(days=365), "b": date - dt.timedelta(days=1)},
    )
    actual["game_date"] = pd.to_datetime(actual["game_date"])
    actual["pitcher_id"] = actual["pitcher_id"].astype("int64")
    weights = BookWeights.fit(graded_book_lines(earlier, actual, rules.devig))
    bets = decide_bets(outputs, quotes, rules, weights)
    if bets.empty:
        return bets
    taken, _ = stake_bets(bets[bets["bet"]], rules)
    return pd.concat([taken, bets[~bets["bet"]]], ignore_index=True)


LIVE = ("in_progress",)  # games.status of a game under way: its bets are placed, kept


def bet_keys(frame: pd.DataFrame) -> list[tuple[str, str, int]]:
    """(system_id, game_id, pitcher_id) of each row: a bet within a strategy."""
    ids = frame["pitcher_id"].astype(int)
    return list(zip(frame["system_id"], frame["game_id"], ids, strict=True))


def write_day_ledger(
    wh: Warehouse,
    rows: pd.DataFrame,
    date: dt.date,
    outputs: dict[str, SystemOutput],
    strategy: str = "ev",
) -> int:
    """Make the ledger hold exactly the bets ``rows`` of a run that decided ``date``'s games with
    ``outputs``' systems and ``strategy``: in one transaction, a re-run deletes the bets of an
    earlier run it no longer takes and rewrites the rest (the ledger's key has no decision time
    or book: the latest decision of a start is its bet).

    Untouched: other days, strategies and systems; games the run did not decide (the daily job
    decides only games still to start); and placed bets, those graded (a ``result``: win,
    loss or push) or of a game under way (``games.status`` in ``LIVE``): a re-run neither
    deletes nor rewrites them, and adds bets only on starts that have none. Returns the bets
    written."""
    systems = sorted(outputs)
    games = {str(g) for o in outputs.values() for g in o.frame["game_id"]}
    if not systems or not games:
        return 0
    scope = (
        "game_date = $d AND strategy = $st AND system_id IN (SELECT UNNEST($sys)) "
        "AND game_id IN (SELECT UNNEST($g))"
    )
    with wh.transaction():
        live = wh.query(
            "SELECT game_id FROM games WHERE game_date = $d AND status IN (SELECT UNNEST($s))",
            {"d": date, "s": list(LIVE)},
        )
        live_games = sorted(games & set(live["game_id"]))
        open_games = sorted(games - set(live_games))
        params = {"d": date, "st": strategy, "sys": systems, "g": sorted(games)}
        placed = wh.query(
            "SELECT system_id, game_id, pitcher_id, result FROM bets WHERE game_date = $d "
            "AND strategy = $st AND system_id IN (SELECT UNNEST($sys)) "
            "AND game_id IN (SELECT UNNEST($g))",
            params,
        )
        placed = placed[placed["result"].notna() | placed["game_id"].isin(live_games)]
        keep = set(bet_keys(placed))
        if len(rows) and keep:
            rows = rows[[k not in keep for k in bet_keys(rows)]]
        if open_games:
            wh.delete_where(
                "bets",
                f"{scope} AND result IS NULL",
                {**params, "g": open_games},
            )
        return wh.upsert("bets", rows).rows if len(rows) else 0


def record_bets(
    wh: Warehouse,
    outputs: dict[str, SystemOutput],
    date: dt.date,
    settings,  # noqa: ANN001
    at: DecisionTime | str | None = None,
    source: str = "predict",
) -> int:
    """Decide and store a predicted day's bets (``kcast predict``; the daily job calls this with
    its ``SlateResult.outputs``): the day's ledger for the run's systems and strategy becomes
    the bets this decision takes (``write_day_ledger``). Returns the bets written."""
    rules = BetRules.from_settings(settings)
    at = at if at is not None else settings.decision_time
    bets = day_bets(wh, outputs, date, at, rules)
    return write_day_ledger(wh, ledger_rows(bets, at, source), date, outputs, rules.strategy)


def grade_bets(wh: Warehouse, start: dt.date, end: dt.date | None = None) -> int:
    """Write the fair close, CLV, EV against the close, result and profit of the stored bets of
    the dates (from the closing quotes and the strikeouts now stored)."""
    from kcast.pipeline import stored_lines

    end = end or start
    bets = wh.query("SELECT * FROM bets WHERE game_date BETWEEN $a AND $b", {"a": start, "b": end})
    if bets.empty:
        return 0
    bets["game_date"] = pd.to_datetime(bets["game_date"])
    bets["pitcher_id"] = bets["pitcher_id"].astype("int64")
    bets["dec"] = decimal(bets["odds"].to_numpy(float))
    close = stored_lines(wh, start, end, "close")
    method = "multiplicative"
    judged = judge_by_close(bets, close, BetRules(devig=method))
    actual = wh.query(
        "SELECT game_id, pitcher_id, strikeouts FROM pitcher_games WHERE game_date BETWEEN $a AND $b",
        {"a": start, "b": end},
    )
    judged = judged.merge(actual, on=["game_id", "pitcher_id"], how="left")
    units = units_won(judged["side"], judged["line"], judged["dec"], judged["strikeouts"])
    judged["result"] = result_of(units)
    judged["profit"] = judged["stake"] * units
    judged["game_date"] = judged["game_date"].dt.date
    judged["graded_at"] = utc_now()
    cols = [c for c in (*LEDGER_COLUMNS, "created_at", "graded_at") if c in judged]
    with wh.transaction():
        return wh.upsert("bets", judged[cols]).rows
