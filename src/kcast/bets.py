"""Bets a bettor can take: at a decision time, at the best price among the books one can bet,
on the best rung of the ladder, staked by fractional Kelly, judged by the close.

For each start and system the stated probability at the main line (the system pooled with the
market at the decision time, ``MarketBlend`` weights fitted on earlier graded days) is carried
to every rung offered by tilting the system's distribution to agree with it
(``market.tilt``); each rung and side is priced at the best odds among ``KCAST_BOOKS``; the
rung with the highest expected value is the candidate, and it is a bet when that value reaches
``MIN_BET_EV`` (and no red flag blocks the side). That rule is ``decision.bet_candidate``, which
``decision.decide`` runs for every prediction row (its decision ``bet``), so a forecast carries
its bets (``taken_bets``). Stakes are ``KELLY_FRACTION`` of Kelly with caps per bet and per day,
per system (``stake_day``). Each bet is judged against the fair closing price of its line
(``fair_p_close``): closing-line value ``clv`` (the fair probability of the side bet at the close
minus at the decision, in probability points) and the expected value of the price taken against
the fair close (``ev_close``).

``write_day_ledger`` makes a day's ledger what the latest decision takes; ``backtest_bets``
walks a backtest forward day by day with every strategy (``context.STRATEGIES``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kcast.bet_metrics import VOID as VOID_BET
from kcast.bet_metrics import result_of_units, won_units
from kcast.context import STRATEGIES, BetRules, DecisionContext
from kcast.decision import BET, LEAN, bet_candidate, start_markets
from kcast.gate import EdgeGate, gate_by_day, market_of
from kcast.market import (
    BookWeights,
    DecisionTime,
    closing_quotes,
    decimal,
    devig_many,
    fair_by_line,
    kelly_fraction,
    logit,
    main_lines,
)
from kcast.policy import DEVIG_METHODS
from kcast.prices import stored_lines
from kcast.scoring import bootstrap_mean, probability_scores
from kcast.systems.base import SystemOutput
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now
from kcast.warehouse.statements import statement

__all__ = ["STRATEGIES", "BetRules"]  # with the functions below

BET_KEY = ["system_id", "game_id", "pitcher_id"]
WEIGHTS_LOOKBACK = dt.timedelta(days=365)  # books' weights learn from this long before a day


# --------------------------------------------------------------------------------------------
# The one rule, over many starts
# --------------------------------------------------------------------------------------------


def decide_bets(
    outputs: dict[str, SystemOutput],
    quotes: pd.DataFrame,
    rules: BetRules,
    weights: BookWeights | None = None,
    move_beta: float | None = None,
) -> pd.DataFrame:
    """One candidate per start per system (the best rung by ``rules.strategy``), with ``bet``
    True where it is taken: ``decision.bet_candidate`` for every row of the outputs. ``quotes``
    are the quotes known at the decision time (``market.quotes_at``)."""
    markets = start_markets(quotes, rules, weights)
    rows = []
    for system_id, out in outputs.items():
        frame = out.frame.reset_index(drop=True)
        dates = list(pd.to_datetime(frame["game_date"]))
        for i, r in enumerate(frame.to_dict("records")):
            market = markets.get((int(r["pitcher_id"]), dates[i]))
            if market is None:
                continue
            flags = set(str(r.get("red_flags") or "").split(","))
            row_p = (r.get("p_over"), r.get("p_under"))
            tail = out.blend.tail if out.blend is not None else None
            cand = bet_candidate(
                out.pmf[i], r.get("line"), row_p, flags, market, rules, move_beta, tail
            )
            if cand is not None:
                rows.append(_placed(cand, system_id, r, dates[i]))
    return pd.DataFrame(rows)


def _placed(cand: dict, system_id: str, row: dict, day: pd.Timestamp) -> dict:
    """A candidate with the start and system it belongs to."""
    return {
        **cand,
        "system_id": system_id,
        "game_id": row["game_id"],
        "pitcher_id": int(row["pitcher_id"]),
        "game_date": day,
    }


def taken_bets(outputs: dict[str, SystemOutput], leans: bool = False) -> pd.DataFrame:
    """The bets the outputs' decisions took (rows whose ``decision`` is ``bet``), as
    ``decide_bets`` gives them, with the stake each row carries, the ``status`` (bet) and the
    rung's ``market`` (main or alternate). With ``leans``, the leans of rules that are not
    live too (rows whose bet-rule rung reached the EV threshold but was not taken: status
    lean, no stake); a lean of the verdict alone is no pick of a rule and is left out."""
    rows = []
    for system_id, out in outputs.items():
        if out.bets is None or "decision" not in out.frame:
            continue
        frame = out.frame.reset_index(drop=True)
        dates = list(pd.to_datetime(frame["game_date"]))
        for i, decision in enumerate(frame["decision"]):
            cand = out.bets[i]
            if cand is None or not cand.get("bet"):
                continue
            if decision == BET or (leans and decision == LEAN):
                placed = _placed(cand, system_id, frame.iloc[i], dates[i])
                placed["stake"] = frame["stake"].iloc[i] if decision == BET else np.nan
                placed["reason"] = frame["decision_reason"].iloc[i]
                placed["status"] = decision
                placed["market"] = market_of(cand["line"], cand["main_line"])
                rows.append(placed)
    return pd.DataFrame(rows)


def stake_day(bets: pd.DataFrame, rules: BetRules) -> pd.DataFrame:
    """The bets staked from a bankroll of 1 on each day, each system on its own: fractional
    Kelly, capped per bet and per day (``stake_bets`` per system, no compounding); a bet's
    ``profit`` is its stake times the ``units`` won where they are known."""
    if bets.empty:
        return bets
    parts = []
    for _, g in bets.groupby("system_id", sort=False):
        staked, _ = stake_bets(g.drop(columns=["units", "profit"], errors="ignore"), rules)
        if "units" in g:
            staked["units"] = g["units"]
            staked["profit"] = staked["stake"] * staked["units"]
        parts.append(staked)
    return pd.concat(parts).sort_index()


def weights_before(graded: pd.DataFrame, day: dt.date | pd.Timestamp) -> BookWeights:
    """The books' weights for a decision on ``day``: learned from the graded main lines
    (``graded_book_lines``, which may hold more days) of the ``WEIGHTS_LOOKBACK`` before it."""
    day = pd.Timestamp(day)
    dates = graded["game_date"]
    return BookWeights.fit(graded[(dates < day) & (dates >= day - WEIGHTS_LOOKBACK)])


def weights_of_day(wh: Warehouse, day: dt.date, at: DecisionTime | str, method: str) -> BookWeights:
    """The books' weights for a decision on ``day``, read from the warehouse: its main lines of
    the ``WEIGHTS_LOOKBACK`` before the day, as known at the decision time ``at``, graded."""
    first, last = day - WEIGHTS_LOOKBACK, day - dt.timedelta(days=1)
    earlier = stored_lines(wh, first, last, at)
    return weights_before(graded_book_lines(earlier, starts_between(wh, first, last), method), day)


def starts_between(wh: Warehouse, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Every start's strikeouts between the dates (pitcher_id, game_date, strikeouts)."""
    actual = wh.query(statement("starts_between"), {"a": start, "b": end})
    actual["game_date"] = pd.to_datetime(actual["game_date"])
    actual["pitcher_id"] = actual["pitcher_id"].astype("int64")
    return actual


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


def max_drawdown(curve: pd.Series) -> float:
    """The largest fall from a peak, as a share of the peak."""
    values = np.concatenate([[1.0], np.asarray(curve, float)])
    peak = np.maximum.accumulate(values)
    return float(((peak - values) / peak).max())


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
        out[method] = (
            probability_scores(fair["fair_p_over"].to_numpy(float), y)[0] if len(y) else None
        )
        out["n"] = int(len(y))
    if weights_by_day:
        parts = []
        for day, w in weights_by_day.items():
            q = quotes[quotes["game_date"] == day]
            parts.append(main_lines(fair_by_line(q, DEVIG_METHODS[0], w)))
        fair = pd.concat(parts, ignore_index=True).merge(actual, on=["pitcher_id", "game_date"])
        fair = fair[fair["strikeouts"].astype(float) != fair["line"]]
        y = (fair["strikeouts"].astype(float) > fair["line"]).to_numpy(float)
        out["book_weighted"] = probability_scores(fair["fair_p_over"].to_numpy(float), y)[0]
    return out


# --------------------------------------------------------------------------------------------
# A backtest, day by day
# --------------------------------------------------------------------------------------------


def backtest_bets(  # noqa: PLR0913
    wh: Warehouse,
    outputs: dict[str, SystemOutput],
    rows: pd.DataFrame,
    context: DecisionContext,
    weights: dict[pd.Timestamp, BookWeights],
    strategies: tuple[str, ...] = STRATEGIES,
    gated: bool = True,
) -> BacktestBets:
    """Every strategy's picks over a backtest's rows (aligned with each output), decided day
    by day at the context's decision time with the books' ``weights`` of each day (learned
    before it); the move model fitted only on earlier days. The context's own strategy's picks
    are the outputs' bet rungs (decided with every rule live: ``taken_bets``); the others are
    decided here. Each pick is judged by the fair close and graded; then the edge gate runs
    day by day (``gate.gate_by_day``: the record of a day holds only picks of games before it)
    and makes each pick a bet or a lean (``gated`` False: every pick a bet). The bets are
    staked from each day's bankroll (``stake_day``)."""
    rules = context.rules
    dates = pd.to_datetime(rows["game_date"])
    first, last = dates.min().date(), dates.max().date()
    quotes = stored_lines(wh, first, last, context.at)
    close = stored_lines(wh, first, last, "close")
    actual = (
        rows[["pitcher_id", "game_date", "strikeouts"]]
        .assign(game_date=dates, pitcher_id=rows["pitcher_id"].astype("int64"))
        .drop_duplicates(["pitcher_id", "game_date"])
    )
    days = sorted(set(dates) & set(quotes["game_date"]))
    weights = {d: weights[d] for d in days}
    devig = devig_log_losses(quotes, actual, weights)
    parts = []
    for strategy in strategies:
        srules = rules.with_strategy(strategy)
        if strategy == rules.strategy:
            picks = taken_bets(outputs)
            picks = picks[picks["game_date"].isin(days)] if len(picks) else picks
        else:
            picks = _strategy_bets(outputs, dates, days, quotes, close, srules, weights)
            picks = picks[picks["bet"].astype(bool)] if len(picks) else picks
        if picks.empty:
            continue
        picks = judge_by_close(picks.assign(strategy=strategy), close, srules)
        picks = picks.merge(actual, on=["pitcher_id", "game_date"], how="left")
        picks["units"] = won_units(picks["side"], picks["line"], picks["dec"], picks["strikeouts"])
        parts.append(picks)
    if not parts:
        return BacktestBets(pd.DataFrame(), {}, devig, {})
    picks = pd.concat(parts, ignore_index=True)
    picks["decision_time"] = context.at.label
    picks["market"] = [
        market_of(ln, m) for ln, m in zip(picks["line"], picks["main_line"], strict=True)
    ]
    gates: dict[pd.Timestamp, EdgeGate] = {}
    if gated:
        picks["status"], gates = gate_by_day(picks)
    else:
        picks["status"] = BET
    picks["stake"] = np.nan
    taken = picks["status"] == BET
    if taken.any():
        staked = pd.concat(
            [stake_day(g, rules) for _, g in picks[taken].groupby("strategy", sort=False)]
        )
        picks.loc[staked.index, "stake"] = staked["stake"]
    picks["profit"] = picks["stake"] * picks["units"]
    return BacktestBets(picks, rule_summaries(picks, rules), devig, gates)


@dataclass
class BacktestBets:
    """A backtest's picks (every strategy; ``status`` bet or lean, stakes on the bets), the
    summaries per rule (``rule_summaries``), the de-vig log losses and each day's gate."""

    picks: pd.DataFrame
    summary: dict
    devig: dict
    gates: dict[pd.Timestamp, EdgeGate]


def rule_summaries(picks: pd.DataFrame, rules: BetRules) -> dict:
    """Per strategy, system and market (``main``, ``alternate`` and ``all``): the rule's
    record (every pick, as if it were always live: ``picks``), the gated ledger (its bets:
    ``bets``) and the record by book, each by ``summarise`` (its Kelly bankroll compounding day
    by day)."""
    out: dict = {}
    for (strategy, system_id), g in picks.groupby(["strategy", "system_id"], sort=True):
        for market in ("main", "alternate", "all"):
            part = g if market == "all" else g[g["market"] == market]
            if part.empty:
                continue
            entry = {
                "picks": _summarised(part.assign(bet=True), rules),
                "bets": _summarised(part[part["status"] == BET].assign(bet=True), rules),
                "by_book": {
                    book: _summarised(b.assign(bet=True), rules)
                    for book, b in part.groupby("book", sort=True)
                },
            }
            out.setdefault(strategy, {}).setdefault(system_id, {})[market] = entry
    return out


def _summarised(bets: pd.DataFrame, rules: BetRules) -> dict:
    if bets.empty:
        return {"bets": 0}
    compounded, curve = stake_bets(bets.drop(columns=["stake", "profit"], errors="ignore"), rules)
    return summarise(compounded, curve)


def _strategy_bets(  # noqa: PLR0913
    outputs: dict[str, SystemOutput],
    dates: pd.Series,
    days: list[pd.Timestamp],
    quotes: pd.DataFrame,
    close: pd.DataFrame,
    rules: BetRules,
    weights: dict[pd.Timestamp, BookWeights],
) -> pd.DataFrame:
    """A strategy's candidates, day by day (``decide_bets``); the move model of each system is
    fitted on its candidates of earlier days against the fair close."""
    close_fair = main_lines(fair_by_line(closing_quotes(close), rules.devig))[
        ["pitcher_id", "game_date", "fair_p_over"]
    ]
    close_fair = close_fair.rename(columns={"fair_p_over": "close_main"})
    parts: list[pd.DataFrame] = []
    for day in days:
        mask = (dates == day).to_numpy()
        day_out = {
            s: SystemOutput(s, o.frame[mask].reset_index(drop=True), o.pmf[mask], o.model_version)
            for s, o in outputs.items()
        }
        day_quotes = quotes[quotes["game_date"] == day]
        if rules.strategy == "move" and parts:
            earlier = pd.concat(parts, ignore_index=True).merge(
                close_fair, on=["pitcher_id", "game_date"]
            )
            chunk = pd.concat(
                [
                    decide_bets(
                        {s: o},
                        day_quotes,
                        rules,
                        weights[day],
                        fit_move_beta(earlier[earlier["system_id"] == s]),
                    )
                    for s, o in day_out.items()
                ],
                ignore_index=True,
            )
        else:
            chunk = decide_bets(day_out, day_quotes, rules, weights[day])
        if len(chunk):
            parts.append(chunk)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


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
    "reason",
    "status",
    "market",
)


def ledger_rows(bets: pd.DataFrame, at: DecisionTime | str | None, source: str) -> pd.DataFrame:
    """Rows of the ``bets`` table for the picks taken (``bet`` True): bets, and leans where
    ``status`` says so (never staked)."""
    if bets.empty:
        return pd.DataFrame(columns=[*LEDGER_COLUMNS, "created_at"])
    decision = DecisionTime.parse(at)
    taken = bets[bets["bet"].astype(bool)].copy()
    if "strategy" not in taken:
        taken["strategy"] = "ev"
    for col in ("fair_p_close", "clv", "ev_close", "stake", "reason"):
        if col not in taken:
            taken[col] = np.nan
    if "status" not in taken:
        taken["status"] = BET
    taken["stake"] = taken["stake"].where(taken["status"] == BET)
    if "market" not in taken:
        taken["market"] = [
            market_of(ln, m) for ln, m in zip(taken["line"], taken["main_line"], strict=True)
        ]
    if "units" in taken:
        taken["result"] = result_of_units(taken["units"])
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
    games = {str(g) for o in outputs.values() for g in o.frame["game_id"]}
    return write_day_ledger_of(wh, rows, date, sorted(outputs), games, strategy)


def write_day_ledger_of(
    wh: Warehouse,
    rows: pd.DataFrame,
    date: dt.date,
    systems: list[str],
    games: set[str],
    strategy: str = "ev",
) -> int:
    """``write_day_ledger`` for a run that decided ``games`` of ``date`` with ``systems``."""
    if not systems or not games:
        return 0
    with wh.transaction():
        live = wh.query(statement("live_games"), {"d": date, "s": list(LIVE)})
        live_games = sorted(games & set(live["game_id"]))
        open_games = sorted(games - set(live_games))
        params = {"d": date, "st": strategy, "sys": systems, "g": sorted(games)}
        placed = wh.query(statement("day_bets"), params)
        placed = placed[placed["result"].notna() | placed["game_id"].isin(live_games)]
        keep = set(bet_keys(placed))
        if len(rows) and keep:
            rows = rows[[k not in keep for k in bet_keys(rows)]]
        if open_games:
            wh.delete_where("bets", statement("unplaced_day_bets"), {**params, "g": open_games})
        return wh.upsert("bets", rows).rows if len(rows) else 0


def grade_bets(
    wh: Warehouse,
    start: dt.date,
    end: dt.date | None = None,
    void: set[tuple[str, int]] | None = None,
) -> int:
    """Write the fair close, CLV, EV against the close, result and profit of the stored bets of
    the dates (from the closing quotes and the strikeouts now stored). A bet on a start in
    ``void`` (game_id, pitcher_id: the pitcher did not start) is ``void``: no profit, no
    loss, in no record but the count of voids."""
    end = end or start
    bets = wh.query(statement("bets_between"), {"a": start, "b": end})
    if bets.empty:
        return 0
    bets["game_date"] = pd.to_datetime(bets["game_date"])
    bets["pitcher_id"] = bets["pitcher_id"].astype("int64")
    bets["dec"] = decimal(bets["odds"].to_numpy(float))
    close = stored_lines(wh, start, end, "close")
    method = "multiplicative"
    judged = judge_by_close(bets, close, BetRules(devig=method))
    actual = wh.query(statement("game_strikeouts_between"), {"a": start, "b": end})
    judged = judged.merge(actual, on=["game_id", "pitcher_id"], how="left")
    units = won_units(judged["side"], judged["line"], judged["dec"], judged["strikeouts"])
    judged["result"] = result_of_units(units)
    judged["profit"] = judged["stake"] * units
    if void:
        voided = [
            (g, int(p)) in void
            for g, p in zip(judged["game_id"], judged["pitcher_id"], strict=True)
        ]
        judged.loc[voided, "result"] = VOID_BET
        judged.loc[voided, "profit"] = 0.0
    judged["game_date"] = judged["game_date"].dt.date
    judged["graded_at"] = utc_now()
    cols = [c for c in (*LEDGER_COLUMNS, "created_at", "graded_at") if c in judged]
    with wh.transaction():
        return wh.upsert("bets", judged[cols]).rows
