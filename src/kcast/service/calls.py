"""The worker's systems through their circuit breakers: the forecaster's call hook.

Each system is called through its breaker (``service.breakers``), its fault hook and a check
of what it answered (``SystemCaller``); a system built on others with none of their answers
is skipped without counting against its breaker. A slate's answers are kept
(``slate_answers``): a system that has not answered is called again on the next request, and
when it answers, the systems built on it are worked out again with its answer. The warm path
asks ``kept_answers``, which never waits for anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kcast.errors import MembersUnavailableError
from kcast.forecast import Forecast, Forecaster
from kcast.service.breakers import BreakerOpenError, describe, validate_output
from kcast.service.cache import Slate
from kcast.service.deps import ServiceState
from kcast.systems.base import BasePredictor, SystemOutput


@dataclass
class Outcome:
    """What happened to one system in one run."""

    status: str  # ok, failed, skipped
    error: str | None = None
    seconds: float | None = None
    breaker_state: str | None = None


class SystemCaller:
    """The forecaster's call hook: each system through its breaker, fault hook and
    garbage check; records each system's outcome.

    A system built on others with none of their answers is skipped without counting against
    its breaker (its members' failures are theirs, not its own).
    """

    def __init__(self, state: ServiceState, rows: int, known: dict[str, SystemOutput]) -> None:
        self.state = state
        self.rows = rows
        self.known = known
        self.outcomes: dict[str, Outcome] = {}

    def __call__(self, system_id: str, fn: Any) -> SystemOutput:
        system = self.state.systems[system_id]
        breaker = self.state.breakers[system_id]
        members = system.member_ids
        if members:
            answered = [m for m in members if m in self.known or self._ok(m)]
            if not answered:
                reason = f"no member system answered ({', '.join(members)})"
                self.outcomes[system_id] = Outcome("skipped", reason, 0.0, breaker.state)
                raise MembersUnavailableError(reason)
        t0 = time.perf_counter()
        try:
            out = breaker.call(
                self.state.faults.wrap(system_id, fn),
                validate=lambda o: validate_output(o, system_id, self.rows),
            )
        except BreakerOpenError as exc:
            self.outcomes[system_id] = Outcome("skipped", str(exc), 0.0, breaker.state)
            raise
        except Exception as exc:
            seconds = time.perf_counter() - t0
            self.state.metrics.system_latency.labels(system_id).observe(seconds)
            self.outcomes[system_id] = Outcome("failed", describe(exc), seconds, breaker.state)
            raise
        seconds = time.perf_counter() - t0
        self.state.metrics.system_latency.labels(system_id).observe(seconds)
        self.outcomes[system_id] = Outcome("ok", None, seconds, breaker.state)
        return out

    def _ok(self, system_id: str) -> bool:
        outcome = self.outcomes.get(system_id)
        return outcome is not None and outcome.status == "ok"


def _built_on(systems: dict[str, BasePredictor], failed: set[str]) -> set[str]:
    """``failed`` and every system built (directly or not) on one of them."""
    out = set(failed)
    changed = True
    while changed:
        changed = False
        for system_id, system in systems.items():
            if system_id not in out and out & set(system.member_ids):
                out.add(system_id)
                changed = True
    return out


def run_guarded(
    state: ServiceState,
    forecaster: Forecaster,
    rows: pd.DataFrame,
    systems: dict[str, BasePredictor],
    known: dict[str, SystemOutput] | None = None,
    markets: dict | None = None,
) -> tuple[Forecast, dict[str, Outcome]]:
    """The forecaster's ``answer`` with the breakers as its call hook: every loaded active
    system of ``systems`` not in ``known`` on ``rows``."""
    known = known or {}
    caller = SystemCaller(state, len(rows), known)
    forecast = forecaster.answer(rows, known=known, call=caller, systems=systems, markets=markets)
    outcomes: dict[str, Outcome] = {}
    for system_id in state.active_ids:
        if system_id in known:
            outcomes[system_id] = Outcome("ok", None, 0.0, state.breakers[system_id].state)
        elif system_id in caller.outcomes:
            outcomes[system_id] = caller.outcomes[system_id]
        elif system_id in state.load_errors:
            outcomes[system_id] = Outcome(
                "failed", f"not loaded: {state.load_errors[system_id]}", None, None
            )
        elif system_id in forecast.errors:
            outcomes[system_id] = Outcome("failed", forecast.errors[system_id])
    return forecast, outcomes


def count_answers(state: ServiceState, answers: dict[str, int]) -> None:
    """Count the predictions served, per system (``kcast_predictions_total``)."""
    for system_id, rows in answers.items():
        state.metrics.predictions.labels(system_id).inc(rows)


def slate_answers(
    state: ServiceState, forecaster: Forecaster, slate: Slate
) -> tuple[dict[str, SystemOutput], dict[str, Outcome]]:
    """Every active system's answers for the slate. Those kept are reused; a system that has
    not answered yet is called again through its breaker (an open breaker refuses at once), and
    when it answers now, the systems built on it are worked out again with its answer."""
    with slate.lock:
        kept = kept_answers(state, slate)
        if kept is not None:
            return kept
        loaded = {s: slate.systems[s] for s in state.active_ids if s in slate.systems}
        missing = {s for s in loaded if s not in slate.outputs}
        prior = dict(slate.outputs)
        result, outcomes = run_guarded(
            state, forecaster, slate.features, loaded, prior, slate.markets
        )
        slate.markets = result.markets
        recovered = {s for s in missing if s in result.outputs}
        stale = {s for s in _built_on(loaded, recovered) - recovered if s in prior}
        if stale:  # kept answers made without a member that answers now: made again
            known = {s: o for s, o in result.outputs.items() if s not in stale}
            again_systems = {s: loaded[s] for s in loaded if s in stale or s in known}
            result, again = run_guarded(
                state, forecaster, slate.features, again_systems, known, slate.markets
            )
            outcomes = {**outcomes, **{s: again[s] for s in stale if s in again}}
        slate.answers = (dict(result.outputs), outcomes)
        return dict(result.outputs), outcomes


def kept_answers(
    state: ServiceState, slate: Slate
) -> tuple[dict[str, SystemOutput], dict[str, Outcome]] | None:
    """The slate's kept answers when no system needs to be called: each loaded active system
    has answered, or is refused at once by its breaker (open and cooling down; the refusal is
    counted as ``slate_answers`` would count it). None otherwise. Never waits for anything."""
    outputs, outcomes = slate.answers
    if not outcomes:
        return None  # never run
    now: dict[str, Outcome] = {}
    refused: dict[str, str] = {}
    for system_id in state.active_ids:
        if system_id not in slate.systems:
            continue
        breaker = state.breakers[system_id]
        if system_id in outputs:
            now[system_id] = Outcome("ok", None, 0.0, breaker.state)
            continue
        reason = breaker.refusal(tell=False)
        if reason is None:
            return None  # this system is to be called
        refused[system_id] = reason
    for system_id, reason in refused.items():
        breaker = state.breakers[system_id]
        breaker.notify("rejected", reason)
        now[system_id] = Outcome("skipped", reason, 0.0, breaker.state)
    return outputs, {**outcomes, **now}
