"""The decision context: everything a decision depends on besides the forecast, read once.

A ``DecisionContext`` is frozen and made once per run from the settings
(``DecisionContext.from_settings``): the decision time (``market.DecisionTime``: the opening
snapshot, a clock time in US Eastern, the close, or now), the thresholds of the verdict at the
main line (``MLB_MIN_EDGE``, ``MLB_MIN_CONFIDENCE``), the betting rules (``BetRules``: the books
one can bet ``KCAST_BOOKS``, the de-vig method ``KCAST_DEVIG``, the smallest expected value
``KCAST_MIN_BET_EV``, the staking rules ``KCAST_KELLY_FRACTION``, ``KCAST_MAX_STAKE_BET``,
``KCAST_MAX_STAKE_DAY`` and the strategy), how systems state their probability
(``MLB_MARKET_BLEND``), and the gate that says whether a betting rule is live. Every caller
(``kcast predict``, the daily job, the worker, the backtest, the Python API) hands the same
object down; no stage reads the settings again.

The gate (``live``) is the walk-forward edge gate: a betting rule is
``Rule(strategy, system_id, decision_time, market)`` (``market`` is ``main`` or ``alternate``:
is the rung bet the market's main line?), and ``live(rule)`` says whether bets under it are
taken. A rule that is not live still decides: its best rung is kept as a *lean* (see
``kcast.decision``). The commands plug in ``kcast.gate``'s ``EdgeGate`` (a rule is live while
its own graded record shows an edge; ``gate.gate_for``); ``every_rule_live`` is the gate of
``KCAST_EDGE_GATE=off``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from kcast import policy
from kcast.config import Settings
from kcast.decisions import Thresholds
from kcast.market import DecisionTime

STRATEGIES = ("ev", "ev_main", "move", "signal", "shop", "shop_model")
MAIN, ALTERNATE = "main", "alternate"


@dataclass(frozen=True)
class BetRules:
    """The numbers of a betting run (settings, defaults in ``policy``)."""

    books: tuple[str, ...] | None = None
    devig: str = policy.DEVIG_METHOD
    min_ev: float = policy.MIN_BET_EV
    kelly: float = policy.KELLY_FRACTION
    max_bet: float = policy.MAX_STAKE_BET
    max_day: float = policy.MAX_STAKE_DAY
    strategy: str = "ev"

    @classmethod
    def from_settings(cls, settings: Settings, strategy: str = "ev") -> BetRules:
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

    def with_strategy(self, strategy: str) -> BetRules:
        return dataclasses.replace(self, strategy=strategy)


@dataclass(frozen=True)
class Rule:
    """A betting rule whose record an edge gate can judge: a strategy, the system whose
    probability it bets, the decision time and whether the rung is the main line."""

    strategy: str
    system_id: str
    decision_time: str  # DecisionTime.label: open, lineup, close, now or HH:MM
    market: Literal["main", "alternate"]  # is the rung the market's main line?


RuleGate = Callable[[Rule], bool]


def every_rule_live(rule: Rule) -> bool:
    """Today's gate: every rule is live (each bet that reaches the EV threshold is taken)."""
    return True


@dataclass(frozen=True)
class DecisionContext:
    """What every decision of a run depends on besides the forecast (see the module)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    at: DecisionTime = field(default_factory=DecisionTime)
    rules: BetRules = field(default_factory=BetRules)
    market_blend: str = "auto"  # MLB_MARKET_BLEND: auto pools with the market, off does not
    live: RuleGate = every_rule_live

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        at: DecisionTime | str | None = None,
        live: RuleGate = every_rule_live,
    ) -> DecisionContext:
        """The context of ``settings``, deciding at ``at`` (default ``KCAST_DECISION_TIME``)."""
        return cls(
            Thresholds.from_settings(settings),
            DecisionTime.parse(at if at is not None else settings.decision_time),
            BetRules.from_settings(settings),
            settings.market_blend,
            live,
        )

    def deciding_at(self, at: DecisionTime | str | None) -> DecisionContext:
        """The same context deciding at ``at`` (None: unchanged)."""
        return self if at is None else dataclasses.replace(self, at=DecisionTime.parse(at))

    def rule(self, system_id: str, alternate: bool) -> Rule:
        """The rule of a pick of ``system_id`` on a main (or alternate) rung in this context."""
        return Rule(self.rules.strategy, system_id, self.at.label, ALTERNATE if alternate else MAIN)

    def is_live(self, system_id: str, alternate: bool) -> bool:
        """Whether bets of ``system_id`` on a main (or alternate) rung are taken now."""
        return bool(self.live(self.rule(system_id, alternate)))

    def record_of(self, system_id: str, alternate: bool) -> str | None:
        """The one-line record of the rule (``gate.RuleRecord.why``) where the gate keeps
        records, else None."""
        record = getattr(self.live, "record", None)
        return None if record is None else record(self.rule(system_id, alternate)).why
