"""The edge gate: a betting rule bets only while its own record shows an edge.

A rule is ``context.Rule(strategy, system_id, decision_time, market)``: what picks a rung (the
strategy and the system whose probability it bets), when (``open``, ``lineup``, ``HH:MM``,
``close``, ``now``) and on which rungs (``main``: the market's main line; ``alternate``: any
other rung of the ladder). Its **record** is every pick it made on games before the day decided
(within ``GATE_LOOKBACK_DAYS``), bets and leans alike, graded: the closing-line value (fair
probability of the side at the close minus at the decision, in probability points), the
expected value of the price taken against the fair close (``ev_close``) and the units won at
that price (ROI), each a mean with its 95% bootstrap interval (``bets.bootstrap_mean``).

The rule is **live** (its picks are bets, staked and in the ledger's money) only while that
record holds at least ``GATE_MIN_BETS`` picks with a fair close and the interval of their EV
against the fair close lies above zero. Otherwise its picks are **leans**: shown with the record
beside them, stored with ``status = 'lean'`` so the record keeps growing, never staked and never
in the money figures. All the numbers are in ``kcast.policy``.

The EV against the fair close is the gate's measure, and CLV is shown beside it: a bet's value
is what its price pays against the fair close, whether the consensus moved toward the side
(CLV) or the book's price was simply better than the consensus (line shopping has value with a
CLV near zero).

``records_as_of(wh, day)`` reads the records from the ledger (bets graded before ``day``);
``gate_as_of(wh, day)`` is the ``EdgeGate`` that ``DecisionContext.live`` calls; the backtest
builds the same records day by day from its own picks (``records_from``), so the record of day
D uses only picks of games before D.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from kcast import policy
from kcast.bet_metrics import units_of
from kcast.config import Settings
from kcast.context import MAIN, Rule, RuleGate, every_rule_live
from kcast.dates import today
from kcast.scoring import bootstrap_mean
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

RULE_COLUMNS = ["strategy", "system_id", "decision_time", "market"]
# what a record is measured from: one row per graded pick
PICK_COLUMNS = [*RULE_COLUMNS, "game_date", "clv", "ev_close", "units"]


@dataclass(frozen=True)
class RuleRecord:
    """A rule's record as of a day: its picks of games before it, graded against the fair
    close. ``n_bets`` counts the picks with a fair close (bets and leans); CLV is in
    probability points, EV against the fair close and ROI per unit bet; each a mean and its
    95% interval (None without picks). ``live``: the rule's picks are bets; ``why`` says why
    in one line."""

    rule: Rule
    n_bets: int = 0
    clv_mean: float | None = None
    clv_lo: float | None = None
    clv_hi: float | None = None
    ev_close_mean: float | None = None
    ev_close_lo: float | None = None
    ev_close_hi: float | None = None
    roi_mean: float | None = None
    roi_lo: float | None = None
    roi_hi: float | None = None
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    live: bool = False
    why: str = field(default=f"lean: 0 of {policy.GATE_MIN_BETS} bets needed")

    def as_dict(self) -> dict[str, Any]:
        """The record as one flat dict (the rule's four fields first), for JSON and tables."""
        out = asdict(self)
        return {**out.pop("rule"), **out}

    @property
    def name(self) -> str:
        """``ev/ensemble_v1/open/main``."""
        r = self.rule
        return f"{r.strategy}/{r.system_id}/{r.decision_time}/{r.market}"

    def text(self) -> str:
        """``ev/ensemble_v1/open/main: 212 bets, EV +1.1% (+0.2..+2.0)``: what the day's
        tables print beside a bet or a lean."""
        return f"{self.name}: {self.summary()}"

    def summary(self) -> str:
        """``212 bets, EV +1.1% (+0.2..+2.0)``: the EV against the fair close with its
        interval where one was worked out (CLV in points where there is no close);
        ``no graded bets yet`` without any."""
        if not self.n_bets:
            return "no graded bets yet"
        bets = f"{self.n_bets} bet{'' if self.n_bets == 1 else 's'}"
        if self.ev_close_mean is not None:
            ev = f"{bets}, EV {100 * self.ev_close_mean:+.1f}%"
            if self.ev_close_lo is not None and self.ev_close_hi is not None:
                ev += f" ({100 * self.ev_close_lo:+.1f}..{100 * self.ev_close_hi:+.1f})"
            return ev
        if self.clv_mean is not None:
            return f"{bets}, CLV {self.clv_mean:+.2f} pts"
        return bets


def judge(
    rule: Rule, picks: pd.DataFrame, min_bets: int = policy.GATE_MIN_BETS, full: bool = True
) -> RuleRecord:
    """The record of ``rule`` from its graded picks (columns game_date, clv, ev_close, units);
    without ``full`` only the EV's interval is worked out (what the gate decides by: the
    backtest's day-by-day gate), CLV and ROI carry their means alone."""
    if picks.empty:
        return RuleRecord(rule, why=f"lean: 0 of {min_bets} bets needed")
    ev_values = picks["ev_close"].to_numpy(float)
    n = int((~np.isnan(ev_values)).sum())
    dates = pd.to_datetime(picks["game_date"])
    first, last = dates.min().date(), dates.max().date()
    if n < min_bets:
        # no interval is worked out below the minimum sample: it would not decide anything
        return RuleRecord(
            rule,
            n,
            *_plain(picks["clv"].to_numpy(float) * 100.0),
            *_plain(ev_values),
            *_plain(picks["units"].to_numpy(float)),
            first,
            last,
            False,
            f"lean: {n} of {min_bets} bets needed",
        )
    interval = bootstrap_mean if full else _plain_or_none
    clv = interval(picks["clv"].to_numpy(float) * 100.0) or (None, None, None)
    ev = bootstrap_mean(ev_values) or (None, None, None)
    roi = interval(picks["units"].to_numpy(float)) or (None, None, None)
    live = ev[1] is not None and ev[1] > 0
    interval = f"{100 * ev[1]:+.1f}..{100 * ev[2]:+.1f}"
    if live:
        why = f"live: {n} bets, EV {100 * ev[0]:+.1f}% ({interval})"
    elif ev[2] < 0:
        why = f"lean: EV interval {interval} is below 0 ({n} bets)"
    else:
        why = f"lean: EV interval {interval} includes 0 ({n} bets)"
    return RuleRecord(rule, n, *clv, *ev, *roi, first, last, live, why)


def _plain_or_none(values: np.ndarray) -> tuple[float | None, None, None] | None:
    return _plain(values)


def _plain(values: np.ndarray) -> tuple[float | None, None, None]:
    """The mean alone (no interval), None without values."""
    v = values[~np.isnan(values)]
    return (float(v.mean()) if len(v) else None), None, None


def records_from(
    picks: pd.DataFrame,
    before: dt.date,
    lookback_days: int = policy.GATE_LOOKBACK_DAYS,
    min_bets: int = policy.GATE_MIN_BETS,
) -> dict[Rule, RuleRecord]:
    """Every rule's record from graded picks (``PICK_COLUMNS``, more columns allowed): the
    picks of games before ``before`` and within ``lookback_days`` of it."""
    if picks.empty:
        return {}
    dates = pd.to_datetime(picks["game_date"])
    day = pd.Timestamp(before)
    window = picks[(dates < day) & (dates >= day - pd.Timedelta(days=lookback_days))]
    return {
        rule_of(key): judge(rule_of(key), group, min_bets)
        for key, group in window.groupby(RULE_COLUMNS, sort=True)
    }


def gate_by_day(
    picks: pd.DataFrame,
    min_bets: int = policy.GATE_MIN_BETS,
    lookback_days: int = policy.GATE_LOOKBACK_DAYS,
) -> tuple[pd.Series, dict[pd.Timestamp, EdgeGate]]:
    """The gate applied day by day to a walk-forward's graded picks (``PICK_COLUMNS``): each
    pick's ``status`` (``bet`` where its rule was live on its day, else ``lean``) and each
    day's gate. The record of day D holds only picks of games before D (within the lookback):
    no look-ahead. Only the rules that pick on a day are judged that day."""
    dates = pd.to_datetime(picks["game_date"])
    status = pd.Series("lean", index=picks.index, dtype=object)
    by_rule = {
        rule_of(key): g.assign(_d=dates[g.index]).sort_values("_d", kind="stable")
        for key, g in picks.groupby(RULE_COLUMNS, sort=True)
    }
    keys = [rule_of(tuple(k)) for k in picks[RULE_COLUMNS].itertuples(index=False)]
    rules_of_pick = pd.Series(keys, index=picks.index)
    gates: dict[pd.Timestamp, EdgeGate] = {}
    lookback = pd.Timedelta(days=lookback_days)
    for day in sorted(dates.unique()):
        today_mask = (dates == day).to_numpy()
        records = {}
        for rule in set(rules_of_pick[today_mask]):
            mine = by_rule[rule]
            earlier = mine[(mine["_d"] < day) & (mine["_d"] >= day - lookback)]
            records[rule] = judge(rule, earlier, min_bets, full=False)
        gate = EdgeGate(records, min_bets)
        gates[pd.Timestamp(day)] = gate
        live = np.array([gate(r) for r in rules_of_pick[today_mask]], bool)
        status[today_mask] = np.where(live, "bet", "lean")
    return status, gates


def rule_of(key: tuple) -> Rule:
    strategy, system_id, decision_time, market = key
    return Rule(str(strategy), str(system_id), str(decision_time), market)


class EdgeGate:
    """The gate of one day (``RuleGate``): ``gate(rule)`` is whether the rule is live;
    ``record(rule)`` its record (an empty one for a rule that has made no pick yet)."""

    def __init__(
        self, records: dict[Rule, RuleRecord], min_bets: int = policy.GATE_MIN_BETS
    ) -> None:
        self.records = records
        self.min_bets = min_bets

    def __call__(self, rule: Rule) -> bool:
        got = self.records.get(rule)
        return bool(got is not None and got.live)

    def record(self, rule: Rule) -> RuleRecord:
        got = self.records.get(rule)
        if got is not None:
            return got
        return RuleRecord(rule, why=f"lean: 0 of {self.min_bets} bets needed")

    def live_rules(self) -> list[Rule]:
        return sorted((r for r, rec in self.records.items() if rec.live), key=str)


def graded_picks(wh: Warehouse, before: dt.date, lookback_days: int) -> pd.DataFrame:
    """The ledger's graded picks (bets and leans) of games in the ``lookback_days`` before
    ``before``: ``PICK_COLUMNS``."""
    first = before - dt.timedelta(days=lookback_days)
    rows = wh.query(statement("graded_picks"), {"a": first, "d": before})
    if rows.empty:
        return pd.DataFrame(columns=PICK_COLUMNS)
    rows["units"] = units_of(rows["result"], rows["odds"])
    return rows[PICK_COLUMNS]


def records_as_of(
    wh: Warehouse,
    day: dt.date,
    lookback_days: int = policy.GATE_LOOKBACK_DAYS,
    min_bets: int = policy.GATE_MIN_BETS,
) -> dict[Rule, RuleRecord]:
    """Every rule's record as of ``day``, from the ledger's picks graded before it."""
    return records_from(graded_picks(wh, day, lookback_days), day, lookback_days, min_bets)


GATE_OFF = "live: the edge gate is off (KCAST_EDGE_GATE=off)"


def shown_records(
    wh: Warehouse, day: dt.date, live: RuleGate = every_rule_live
) -> dict[Rule, RuleRecord]:
    """The records the day's tables show beside each bet and lean: the gate's own where
    ``live`` is an ``EdgeGate``, else the ledger's as of ``day``, each marked live as ``live``
    says (with the edge gate off every rule is live, whatever its record)."""
    records = live.records if isinstance(live, EdgeGate) else records_as_of(wh, day)
    return {rule: _as_gated(rec, live) for rule, rec in records.items()}


def record_for(
    records: dict[Rule, RuleRecord], rule: Rule, live: RuleGate = every_rule_live
) -> RuleRecord:
    """The record of ``rule`` in ``records``, or an empty one (no graded picks yet) marked
    live as ``live`` says."""
    found = records.get(rule)
    return found if found is not None else _as_gated(RuleRecord(rule), live)


def _as_gated(record: RuleRecord, live: RuleGate) -> RuleRecord:
    is_live = bool(live(record.rule))
    if is_live == record.live:
        return record
    return replace(record, live=is_live, why=GATE_OFF if is_live else record.why)


def gate_as_of(wh: Warehouse, day: dt.date) -> EdgeGate:
    """The edge gate of ``day``: every rule's record from the ledger's picks before it."""
    return EdgeGate(records_as_of(wh, day))


def gate_for(wh: Warehouse, day: dt.date, settings: Settings) -> RuleGate:
    """The gate a command deciding ``day`` plugs into its ``DecisionContext``: the edge gate
    (``KCAST_EDGE_GATE=on``, the default) or every rule live (``off``)."""
    if settings.edge_gate == "off":
        return every_rule_live
    return gate_as_of(wh, day)


def market_of(line: float, main_line: float) -> str:
    """``main`` when the rung is the market's main line, else ``alternate``."""
    return MAIN if float(line) == float(main_line) else "alternate"


class TodayGate:
    """The gate of a long-running worker: the records as of today (US Eastern), read again
    when the day changes or ``ttl`` seconds have passed (a nightly grade adds picks)."""

    def __init__(self, wh: Warehouse, ttl: float = 300.0) -> None:
        self.wh = wh
        self.ttl = ttl
        self._gate: EdgeGate | None = None
        self._key: tuple[dt.date, float] | None = None
        self._lock = threading.Lock()

    def current(self) -> EdgeGate:
        now = time.monotonic()
        day = today()
        with self._lock:
            if (
                self._gate is None
                or self._key is None
                or self._key[0] != day
                or (now - self._key[1] > self.ttl)
            ):
                self._gate, self._key = gate_as_of(self.wh, day), (day, now)
            return self._gate

    def __call__(self, rule: Rule) -> bool:
        return self.current()(rule)

    def record(self, rule: Rule) -> RuleRecord:
        return self.current().record(rule)


def worker_gate(wh: Warehouse, settings: Settings) -> RuleGate:
    """The worker's gate: ``TodayGate`` (``KCAST_EDGE_GATE=on``) or every rule live (off)."""
    return every_rule_live if settings.edge_gate == "off" else TodayGate(wh)
