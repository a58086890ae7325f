"""Circuit breakers: the state machine on its own (an injected clock, never a sleep for the
cool-down), what counts as garbage, and the fault injector. The breakers in a running worker
are in tests/integration/test_breakers.py."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from kcast.config import SEED_SYSTEMS, Settings
from kcast.context import DecisionContext
from kcast.decisions import MAX_K
from kcast.service import create_app
from kcast.service.breakers import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerListener,
    BreakerOpenError,
    CircuitBreaker,
    Fault,
    FaultInjected,
    FaultInjector,
    GarbageOutputError,
    SystemTimeoutError,
    validate_output,
)
from kcast.service.metrics import MetricsListener, ServiceMetrics
from kcast.systems.base import build_output
from kcast.systems.registry import build_system
from kcast.systems.v1_6_rolling import V16RollingPredictor
from kcast.systems.v1_baseline import V1BaselinePredictor


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder(BreakerListener):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def state_change(self, breaker, old, new) -> None:
        self.events.append(("state", old, new))

    def failure(self, breaker, exc) -> None:
        self.events.append(("failure", type(exc).__name__))

    def success(self, breaker) -> None:
        self.events.append(("success",))

    def rejected(self, breaker, reason) -> None:
        self.events.append(("rejected",))


def boom() -> None:
    raise RuntimeError("model file vanished")


def breaker(**kw) -> tuple[CircuitBreaker, Clock, Recorder]:
    clock, rec = Clock(), Recorder()
    params = {"fail_max": 3, "cooldown": 30.0, "timeout": 5.0} | kw
    return CircuitBreaker("v1_baseline", clock=clock, listeners=[rec], **params), clock, rec


# --- the state machine --------------------------------------------------------------------------


def test_closed_counts_consecutive_failures_and_success_resets() -> None:
    b, _, _ = breaker()
    for _ in range(2):
        with pytest.raises(RuntimeError):
            b.call(boom)
    assert b.state == CLOSED and b.fail_counter == 2
    assert b.call(lambda: 7) == 7
    assert b.fail_counter == 0 and b.state == CLOSED
    assert b.last_error == "RuntimeError: model file vanished"


def test_opens_after_n_failures_and_refuses_without_calling() -> None:
    b, clock, rec = breaker()
    for _ in range(3):
        with pytest.raises(RuntimeError):
            b.call(boom)
    assert b.state == OPEN and b.opened_at == clock.now
    calls = []
    with pytest.raises(BreakerOpenError, match=r"breaker open after 3 failures; retry in 30.0s"):
        b.call(lambda: calls.append(1))
    assert calls == [] and b.calls == 3
    clock.now += 29.9
    with pytest.raises(BreakerOpenError, match=r"retry in 0.1s"):
        b.call(lambda: 1)
    assert rec.events.count(("rejected",)) == 2
    assert ("state", CLOSED, OPEN) in rec.events


def test_refusal_says_why_a_call_would_be_refused_without_calling() -> None:
    """What the worker's memory path asks: open and cooling down, or half-open with its trial
    running, is a refusal (told to the listeners only when asked to); otherwise None, and
    nothing changes (no trial is claimed)."""
    b, clock, rec = breaker()
    assert b.refusal() is None
    b.last_error = "RuntimeError: model file vanished"
    b.open()
    reason = b.refusal(tell=False)
    assert reason is not None and reason.startswith("breaker open after 0 failures; retry in")
    assert "model file vanished" in reason and ("rejected",) not in rec.events
    assert b.refusal() == reason and rec.events.count(("rejected",)) == 1
    clock.now += 30.0  # the cool-down has passed: a call would be the trial
    assert b.refusal() is None and b.state == OPEN and not b.trial_in_flight
    b.set_state(HALF_OPEN)
    b.trial_in_flight = True
    assert b.refusal(tell=False) == "breaker half-open: a trial call is already running"
    b.trial_in_flight = False
    assert b.refusal() is None and b.state == HALF_OPEN


def test_half_open_trial_success_closes() -> None:
    b, clock, rec = breaker()
    b.open()
    b.opened_at -= 30.0  # the cool-down has passed
    assert b.retry_in() == 0.0
    assert b.call(lambda: "answer") == "answer"
    assert b.state == CLOSED and b.fail_counter == 0
    states = [e[1:] for e in rec.events if e[0] == "state"]
    assert states == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_half_open_trial_failure_reopens_with_a_new_cooldown() -> None:
    b, clock, _ = breaker()
    b.open()
    first_open = b.opened_at
    clock.now += 31.0
    with pytest.raises(RuntimeError):
        b.call(boom)
    assert b.state == OPEN and b.opened_at == clock.now > first_open
    with pytest.raises(BreakerOpenError):
        b.call(lambda: 1)


def test_half_open_lets_one_trial_through_at_a_time() -> None:
    b, clock, _ = breaker()
    b.open()
    clock.now += 30.0
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "late"

    results: list[str] = []
    trial = threading.Thread(target=lambda: results.append(b.call(slow)))
    trial.start()
    assert started.wait(5)
    assert b.state == HALF_OPEN
    with pytest.raises(BreakerOpenError, match="trial call is already running"):
        b.call(lambda: "second")
    release.set()
    trial.join(5)
    assert results == ["late"] and b.state == CLOSED


def test_a_call_past_its_timeout_is_a_failure() -> None:
    b, _, rec = breaker(fail_max=2, timeout=0.05)
    gate = threading.Event()
    t0 = time.perf_counter()
    with pytest.raises(SystemTimeoutError, match="did not answer within 0.05s"):
        b.call(lambda: gate.wait(10))
    assert time.perf_counter() - t0 < 2.0
    with pytest.raises(SystemTimeoutError):
        b.call(lambda: gate.wait(10))
    gate.set()
    assert b.state == OPEN and ("failure", "SystemTimeoutError") in rec.events


def test_garbage_answers_count_as_failures() -> None:
    b, _, rec = breaker(fail_max=1)

    def reject(value: int) -> None:
        raise GarbageOutputError(f"got {value}")

    with pytest.raises(GarbageOutputError):
        b.call(lambda: 99, validate=reject)
    assert b.state == OPEN and ("failure", "GarbageOutputError") in rec.events


def test_unknown_state_lists_the_valid_ones() -> None:
    b, _, _ = breaker()
    with pytest.raises(ValueError, match="valid states: closed, open, half_open"):
        b.set_state("ajar")


def test_state_changes_are_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    from kcast.service.breakers import LoggingListener

    metrics = ServiceMetrics()
    clock = Clock()
    b = CircuitBreaker(
        "v1_6_rolling",
        fail_max=2,
        cooldown=10,
        timeout=5,
        clock=clock,
        listeners=[LoggingListener(), MetricsListener(metrics)],
    )
    metrics.track_breaker(b)

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"system": "v1_6_rolling", **labels})

    assert value("kcast_breaker_state") == 0
    with caplog.at_level(logging.INFO, logger="kcast.service.breakers"):
        for _ in range(2):
            with pytest.raises(RuntimeError):
                b.call(boom)
        with pytest.raises(BreakerOpenError):
            b.call(lambda: 1)
    assert value("kcast_breaker_state") == 2
    assert value("kcast_system_failures_total", kind="error") == 2
    assert value("kcast_breaker_rejections_total") == 1
    assert value("kcast_breaker_transitions_total", state="open") == 1
    opened = [r for r in caplog.records if "closed -> open" in r.getMessage()]
    assert len(opened) == 1 and opened[0].levelno == logging.WARNING
    assert "v1_6_rolling" in opened[0].getMessage()
    clock.now += 10
    b.call(lambda: 1)
    assert value("kcast_breaker_state") == 0
    assert value("kcast_breaker_transitions_total", state="half_open") == 1
    assert value("kcast_breaker_transitions_total", state="closed") == 1


def test_breakers_take_their_settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from kcast.warehouse import open_warehouse

    monkeypatch.setenv("KCAST_BREAKER_FAILURES", "5")
    monkeypatch.setenv("KCAST_BREAKER_COOLDOWN", "12.5")
    monkeypatch.setenv("KCAST_SYSTEM_TIMEOUT", "0.75")
    systems = {
        "v1_baseline": V1BaselinePredictor(),
        "ensemble_v1": build_system("ensemble_v1"),
        "v1_6_rolling": V16RollingPredictor(),
    }
    wh = open_warehouse(str(tmp_path / "empty.duckdb"))
    app = create_app(Settings(active_systems=SEED_SYSTEMS), warehouse=wh, systems=systems)
    state = app.state.kcast
    assert state.active_ids == ["v1_baseline", "v1_6_rolling", "ensemble_v1"]
    for b in state.breakers.values():
        assert (b.fail_max, b.cooldown, b.timeout) == (5, 12.5, 0.75)
    wh.close()


# --- what counts as garbage --------------------------------------------------------------------


def sane_output(rows: int = 3):
    pmf = np.stack([poisson.pmf(np.arange(MAX_K + 1), mu) for mu in np.linspace(3, 7, rows)])
    pmf /= pmf.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(
        {"game_id": [f"G{i}" for i in range(rows)], "pitcher_id": range(rows), "line": 5.5}
    )
    return build_output("v1_baseline", "test", frame, pmf, DecisionContext())


def test_validate_accepts_a_sane_answer() -> None:
    assert validate_output(sane_output(), "v1_baseline", 3) is None  # no GarbageOutputError


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda o: "not an output", "not a SystemOutput"),
        (lambda o: setattr(o, "pmf", o.pmf[:, :10]) or o, "malformed distribution"),
        (lambda o: setattr(o, "pmf", o.pmf * np.nan) or o, "NaN"),
        (lambda o: setattr(o, "pmf", o.pmf * 2) or o, "do not sum to 1"),
        (lambda o: setattr(o, "frame", o.frame.head(2)) or o, "answered 2 rows for 3"),
        (
            lambda o: setattr(o, "frame", o.frame.assign(predicted_strikeouts=25.0)) or o,
            "predicted 25.0 strikeouts",
        ),
        (
            lambda o: setattr(o, "frame", o.frame.assign(predicted_strikeouts=np.nan)) or o,
            "predicted nan strikeouts",
        ),
        (
            lambda o: setattr(o, "frame", o.frame.assign(confidence=140.0)) or o,
            "confidence outside",
        ),
        (
            lambda o: setattr(o, "frame", o.frame.assign(recommendation="MAYBE")) or o,
            "MAYBE",
        ),
    ],
)
def test_validate_rejects_garbage(spoil, says: str) -> None:
    with pytest.raises(GarbageOutputError, match=says):
        validate_output(spoil(sane_output()), "v1_baseline", 3)


def test_fault_injector_times_and_release() -> None:
    faults = FaultInjector()
    faults.inject("v1_baseline", Fault("raise", "disk on fire", times=2))
    call = faults.wrap("v1_baseline", lambda: "real")
    for _ in range(2):
        with pytest.raises(FaultInjected, match="disk on fire"):
            call()
    assert call() == "real" and faults.active() == {}
    faults.inject("v1_baseline", Fault("hang"))
    answers: list[str] = []
    hung = threading.Thread(target=lambda: answers.append(call()))
    hung.start()
    time.sleep(0.05)
    assert hung.is_alive()
    faults.clear("v1_baseline")  # the system recovers: the hanging call answers
    hung.join(5)
    assert answers == ["real"]
    with pytest.raises(ValueError, match="valid: raise, hang, garbage"):
        Fault("explode")
