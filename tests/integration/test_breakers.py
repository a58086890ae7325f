"""Circuit breakers: the state machine on its own (an injected clock, never a sleep for the
cool-down), then faults injected into a running worker (real uvicorn on 127.0.0.1, real
warehouse and trained systems)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from kcast.config import SEED_SYSTEMS, Settings
from kcast.decisions import MAX_K, MEMBER_MISSING, Thresholds
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
    return build_output("v1_baseline", "test", frame, pmf, Thresholds())


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


# --- faults in a running worker -----------------------------------------------------------------

DAY = dt.date(2019, 8, 10)  # 15 games, 30 starters
TIMEOUT = 1.5


@pytest.fixture(scope="module")
def live(service_factory):
    return service_factory(breaker_failures=2, breaker_cooldown=30.0, system_timeout=TIMEOUT)


@pytest.fixture
def client(live):
    server, state = live
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c
    state.faults.clear()
    for b in state.breakers.values():
        b.close()


def stored(state, day: dt.date) -> dict[str, int]:
    rows = state.warehouse.query(
        "SELECT system_id, COUNT(*) AS n FROM pitcher_strikeout_predictions "
        "WHERE game_date = $d GROUP BY system_id",
        {"d": day},
    )
    return dict(zip(rows["system_id"], rows["n"].astype(int), strict=True))


def test_failing_systems_open_their_breakers_and_recover(client: httpx.Client, live) -> None:
    """v1_baseline raises and ensemble_v1 hangs past its timeout: every batch still answers
    200 with v1_6_rolling's rows; after two failures both breakers open and are skipped at once;
    when the systems recover and the cool-down has passed, a trial call closes each breaker."""
    _, state = live
    state.faults.inject("v1_baseline", Fault("raise", "model file vanished"))
    state.faults.inject("ensemble_v1", Fault("hang"))
    for attempt in (1, 2):
        response = client.post("/predict-batch", json={"date": str(DAY)})
        assert response.status_code == 200
        body = response.json()
        assert body["rows_written"] == {"v1_6_rolling": 30}
        assert "FaultInjected: v1_baseline: model file vanished" in body["failed"]["v1_baseline"]
        assert f"did not answer within {TIMEOUT:g}s" in body["failed"]["ensemble_v1"]
        assert body["systems"]["v1_baseline"]["breaker_state"] == (
            "closed" if attempt == 1 else "open"
        )
    assert stored(state, DAY) == {"v1_6_rolling": 30}

    health = client.get("/health").json()
    assert health["status"] == "degraded"
    for system_id in ("v1_baseline", "ensemble_v1"):
        entry = health["systems"][system_id]
        assert entry["status"] == "degraded" and entry["breaker_state"] == "open"
        assert entry["failure_count"] == 2 and 0 < entry["retry_in_seconds"] <= 30
    assert "model file vanished" in health["systems"]["v1_baseline"]["last_error"]
    assert "SystemTimeoutError" in health["systems"]["ensemble_v1"]["last_error"]
    assert health["systems"]["v1_6_rolling"]["breaker_state"] == "closed"

    # open breakers: skipped at once, no waiting for the hang
    t0 = time.perf_counter()
    body = client.post("/predict-batch", json={"date": str(DAY)}).json()
    assert time.perf_counter() - t0 < TIMEOUT
    assert body["rows_written"] == {"v1_6_rolling": 30}
    assert set(body["skipped"]) == {"v1_baseline", "ensemble_v1"}
    assert all(r.startswith("breaker open after 2 failures") for r in body["skipped"].values())
    assert body["failed"] == {}

    metrics = client.get("/metrics").text
    assert 'kcast_breaker_state{system="v1_baseline"} 2.0' in metrics
    assert 'kcast_breaker_state{system="ensemble_v1"} 2.0' in metrics
    assert 'kcast_system_failures_total{kind="error",system="v1_baseline"} 2.0' in metrics
    assert 'kcast_system_failures_total{kind="timeout",system="ensemble_v1"} 2.0' in metrics
    assert 'kcast_breaker_rejections_total{system="v1_baseline"} 1.0' in metrics

    # recovery: the faults go, the cool-down passes (opened_at moved back, no sleep)
    state.faults.clear()
    for system_id in ("v1_baseline", "ensemble_v1"):
        state.breakers[system_id].opened_at -= state.settings.breaker_cooldown
    body = client.post("/predict-batch", json={"date": str(DAY)}).json()
    assert body["rows_written"] == {"v1_baseline": 30, "v1_6_rolling": 30, "ensemble_v1": 30}
    assert body["skipped"] == {} and body["failed"] == {}
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert {s["breaker_state"] for s in health["systems"].values()} == {"closed"}
    assert stored(state, DAY) == {"v1_baseline": 30, "v1_6_rolling": 30, "ensemble_v1": 30}
    metrics = client.get("/metrics").text
    assert 'kcast_breaker_transitions_total{state="half_open",system="v1_baseline"} 1.0' in metrics
    assert 'kcast_breaker_state{system="v1_baseline"} 0.0' in metrics


def test_a_failed_trial_reopens(client: httpx.Client, live) -> None:
    _, state = live
    state.faults.inject("v1_6_rolling", Fault("raise", "still broken"))
    for _ in range(2):
        client.post("/predict", json={"pitcher_id": 453281, "game_date": "2019-07-13"})
    b = state.breakers["v1_6_rolling"]
    assert b.state == "open"
    b.opened_at -= state.settings.breaker_cooldown
    body = client.post("/predict", json={"pitcher_id": 453281, "game_date": "2019-07-13"}).json()
    assert body["systems"]["v1_6_rolling"]["status"] == "failed"
    assert client.get("/health").json()["systems"]["v1_6_rolling"]["breaker_state"] == "open"
    assert b.retry_in() == pytest.approx(state.settings.breaker_cooldown, abs=5)


def test_the_ensemble_answers_from_the_members_it_has(client: httpx.Client, live) -> None:
    _, state = live
    state.faults.inject("v1_6_rolling", Fault("hang"))
    response = client.post("/predict", json={"pitcher_id": 453281, "game_date": "2019-07-13"})
    assert response.status_code == 200
    body = response.json()
    hung = body["systems"]["v1_6_rolling"]
    assert hung["status"] == "failed" and "did not answer within" in hung["error"]
    assert body["model_version"].startswith("ensemble_v1")
    assert "v1_baseline=" in body["model_version"] and "v1_6_rolling=" not in body["model_version"]
    assert MEMBER_MISSING in body["red_flags"]
    assert body["predicted_strikeouts"] == body["systems"]["v1_baseline"]["predicted_strikeouts"]
    assert "answered without v1_6_rolling" in body["systems"]["ensemble_v1"]["reasons"]


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda o: setattr(o, "pmf", o.pmf * np.nan) or o, "NaN"),
        (
            lambda o: setattr(o, "frame", o.frame.assign(predicted_strikeouts=31.0)) or o,
            "predicted 31.0 strikeouts",
        ),
        (lambda o: setattr(o, "frame", o.frame.iloc[:0]) or o, "answered 0 rows for 32"),
    ],
)
def test_garbage_from_a_running_system_is_a_failure(
    client: httpx.Client, live, monkeypatch: pytest.MonkeyPatch, spoil, says: str
) -> None:
    _, state = live
    cls = type(state.systems["v1_baseline"])  # the worker runs per-day copies of the system
    real = cls.predict
    monkeypatch.setattr(cls, "predict", lambda self, *a, **k: spoil(real(self, *a, **k)))
    state.cache.clear()  # the system's code changed: the worker's kept answers are stale
    body = client.post("/predict", json={"pitcher_id": 453281, "game_date": "2019-07-13"}).json()
    answer = body["systems"]["v1_baseline"]
    assert answer["status"] == "failed" and "GarbageOutputError" in answer["error"]
    assert says in answer["error"]
    assert state.breakers["v1_baseline"].fail_counter == 1
    assert body["systems"]["ensemble_v1"]["status"] == "ok"  # from v1_6_rolling alone


def test_garbage_fault_hook(client: httpx.Client, live) -> None:
    _, state = live
    state.faults.inject("v1_6_rolling", Fault("garbage"))
    body = client.post("/predict-batch", json={"date": str(DAY), "write": False}).json()
    assert "GarbageOutputError" in body["failed"]["v1_6_rolling"]
    assert body["written"] is False and body["rows_written"] == {}
    assert body["systems"]["ensemble_v1"]["status"] == "ok"


def test_no_system_answering_is_a_503_naming_each(client: httpx.Client, live) -> None:
    _, state = live
    for system_id in ("v1_baseline", "v1_6_rolling"):
        state.faults.inject(system_id, Fault("raise", f"{system_id} is down"))
    response = client.post("/predict", json={"pitcher_id": 453281, "game_date": "2019-07-13"})
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "no prediction system answered" in detail["message"]
    assert detail["systems"]["v1_baseline"]["error"].endswith("v1_baseline is down")
    assert detail["systems"]["ensemble_v1"]["status"] == "skipped"
    assert "no member system answered" in detail["systems"]["ensemble_v1"]["error"]
    # the ensemble was not blamed for its members
    assert state.breakers["ensemble_v1"].fail_counter == 0
