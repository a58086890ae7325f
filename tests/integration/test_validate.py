"""``kcast validate`` against a real worker on 127.0.0.1: healthy (exit 0), one system broken
(exit 1, the report names it), and nothing listening (exit 1)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from kcast.service.breakers import Fault
from kcast.validate import validate_service
from tests.conftest import free_port

DAY = dt.date(2019, 7, 13)
KCAST = Path(sys.executable).with_name("kcast")


@pytest.fixture(scope="module")
def live(service_factory):
    return service_factory(breaker_failures=2, breaker_cooldown=30.0, system_timeout=20.0)


@pytest.fixture
def state(live):
    _, state = live
    yield state
    state.faults.clear()
    for breaker in state.breakers.values():
        breaker.close()


def run_validate(url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(KCAST), "validate", "--service-url", url, "--date", str(DAY), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": str(KCAST.parent), "COLUMNS": "200", "HOME": str(Path.home())},
    )


def test_healthy_service_passes(live, state) -> None:
    server, _ = live
    done = run_validate(server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "all checks passed" in out and "FAIL" not in out
    for name in ("health", "predict: v1_baseline", "predict: v1_6_rolling", "batch", "coverage"):
        assert name in out
    assert "96 rows for 32 starters" in out
    assert "32 starters x 3 systems" in out


def test_report_values(live, state) -> None:
    server, _ = live
    report = validate_service(server.url, DAY)
    assert report.ok, report.failures()
    checks = {c.name: c for c in report.checks}
    assert list(checks) == [
        "health",
        "predict: v1_baseline",
        "predict: v1_6_rolling",
        "predict: ensemble_v1",
        "batch",
        "coverage",
        "agreement",
    ]
    # the first starter of the slate, as /slate lists it
    assert checks["predict: v1_baseline"].detail.startswith("Wade LeBlanc (ANA201907130)")
    assert "of 32" in checks["agreement"].detail


def test_one_broken_system_fails_and_is_named(live, state) -> None:
    server, _ = live
    state.faults.inject("v1_6_rolling", Fault("raise", "model file vanished"))
    done = run_validate(server.url)
    assert done.returncode == 1
    out = done.stdout
    assert "validation failed" in out
    fail_lines = [line for line in out.splitlines() if "FAIL" in line]
    assert any("predict: v1_6_rolling" in line for line in fail_lines)
    assert any("v1_6_rolling wrote no rows" in line for line in fail_lines)
    assert any("v1_6_rolling: 32 of 32 starters without a row" in line for line in fail_lines)
    assert not any("predict: v1_baseline" in line for line in fail_lines)
    # its two failures (the /predict and the batch) opened its breaker: the next run's health
    # check shows it
    report = validate_service(server.url, DAY)
    health = next(c for c in report.checks if c.name == "health")
    assert not health.ok and "v1_6_rolling: breaker open after 2 failures" in health.detail


def test_nothing_listening_fails() -> None:
    port = free_port()
    done = run_validate(f"http://127.0.0.1:{port}", "--timeout", "5")
    assert done.returncode == 1
    assert "reachable" in done.stdout and "ConnectError" in done.stdout
