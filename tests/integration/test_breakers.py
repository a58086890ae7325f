"""Circuit breakers in a running worker: faults injected into real systems behind a real uvicorn
on 127.0.0.1 (real warehouse and trained systems). The state machine on its own is in
tests/unit/test_breakers.py."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import numpy as np
import pytest

from kcast.decisions import MEMBER_MISSING
from kcast.service.breakers import Fault

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
