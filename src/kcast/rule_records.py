"""Each betting rule's record, as the day's bets table shows it beside every bet and lean.

A betting rule is ``context.Rule(strategy, system_id, decision_time, market)``; its record is
what its bets graded before the day did: how many, their closing-line value, their expected
value against the fair close and their ROI (flat, one unit a bet), each a mean with its 95%
interval, and whether the rule is live (its picks are bets) or not (its picks are leans), and
why. ``RuleRecord.text`` is the line the tables print::

    ev/ensemble_v1/open/main: 212 bets, EV +1.1% (+0.2..+2.0)

The edge gate (issue 22) decides which rules are live from this same record; until it is in,
this module is the one adapter between the gate and what shows records: ``records_as_of``
reads the ledger's graded bets of games before the day, and ``live`` is the decision context's
gate (today every rule is live). Only this module changes when the gate's record arrives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kcast.bet_metrics import units_of
from kcast.bets import bootstrap_mean
from kcast.context import ALTERNATE, MAIN, Rule, RuleGate, every_rule_live
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement


@dataclass(frozen=True)
class Interval:
    """A mean and its 95% interval."""

    mean: float
    lo: float
    hi: float

    @classmethod
    def of(cls, values: np.ndarray) -> Interval | None:
        got = bootstrap_mean(values)
        return None if got is None else cls(*got)

    def pct(self) -> str:
        """``+1.1% (+0.2..+2.0)``."""
        return f"{100 * self.mean:+.1f}% ({100 * self.lo:+.1f}..{100 * self.hi:+.1f})"


@dataclass(frozen=True)
class RuleRecord:
    """A betting rule's record: its graded bets before the day and whether it is live."""

    rule: Rule
    n_bets: int
    clv: Interval | None
    ev_close: Interval | None
    roi: Interval | None
    live: bool
    why: str

    @property
    def name(self) -> str:
        """``ev/ensemble_v1/open/main``."""
        r = self.rule
        return f"{r.strategy}/{r.system_id}/{r.decision_time}/{r.market}"

    def text(self) -> str:
        """``ev/ensemble_v1/open/main: 212 bets, EV +1.1% (+0.2..+2.0)``: the EV against
        the fair close (CLV where there is no close)."""
        return f"{self.name}: {self.summary()}"

    def summary(self) -> str:
        """``212 bets, EV +1.1% (+0.2..+2.0)`` (``no graded bets yet`` without any)."""
        if not self.n_bets:
            return "no graded bets yet"
        bets = f"{self.n_bets} bet{'' if self.n_bets == 1 else 's'}"
        if self.ev_close is not None:
            return f"{bets}, EV {self.ev_close.pct()}"
        if self.clv is not None:
            return f"{bets}, CLV {self.clv.pct()}"
        return bets


def rule_of(strategy: str, system_id: str, decision_time: str, alternate: bool) -> Rule:
    return Rule(strategy, system_id, decision_time, ALTERNATE if alternate else MAIN)


def records_as_of(
    wh: Warehouse, day: dt.date, live: RuleGate = every_rule_live
) -> dict[Rule, RuleRecord]:
    """Every rule with bets graded before ``day``: its record, live by the gate ``live``."""
    rows = wh.query(statement("graded_rule_bets"), {"d": day}) if wh.table_exists("bets") else None
    if rows is None or rows.empty:
        return {}
    alternate = rows["line"].astype(float) != rows["main_line"].astype(float)
    rows = rows.assign(market=np.where(alternate & rows["main_line"].notna(), ALTERNATE, MAIN))
    rows["units"] = units_of(rows["result"], rows["odds"])
    out = {}
    keys = ["strategy", "system_id", "decision_time", "market"]
    for key, g in rows.groupby(keys, sort=True):
        rule = Rule(*key)
        out[rule] = record_of(rule, g, live)
    return out


def record_of(rule: Rule, bets: pd.DataFrame, live: RuleGate = every_rule_live) -> RuleRecord:
    """A rule's record from its graded bets (columns clv, ev_close, units)."""
    is_live = bool(live(rule))
    return RuleRecord(
        rule,
        len(bets),
        Interval.of(pd.to_numeric(bets["clv"], errors="coerce").to_numpy(float)),
        Interval.of(pd.to_numeric(bets["ev_close"], errors="coerce").to_numpy(float)),
        Interval.of(bets["units"].to_numpy(float)),
        is_live,
        gate_reason(live, is_live),
    )


def gate_reason(live: RuleGate, is_live: bool) -> str:
    """Why a rule is live or not, as far as the gate says."""
    if live is every_rule_live:
        return "every rule is live (no edge gate)"
    return "its record clears the edge gate" if is_live else "its record has not cleared the gate"


def record_for(
    records: dict[Rule, RuleRecord], rule: Rule, live: RuleGate = every_rule_live
) -> RuleRecord:
    """The record of ``rule``: its own, or an empty one (no graded bets yet)."""
    found = records.get(rule)
    if found is not None:
        return found
    is_live = bool(live(rule))
    return RuleRecord(rule, 0, None, None, None, is_live, gate_reason(live, is_live))
