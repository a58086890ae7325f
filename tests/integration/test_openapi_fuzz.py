"""Schemathesis against the live worker's /openapi.json: generated requests, valid and invalid,
must never get a 5xx, and every answer must match the documented schema.

Schemathesis runs as its own command (``schemathesis run``) against a real uvicorn server on
127.0.0.1, through every phase: the schema's examples (a real 2019 pitcher-game, so the deep
path is exercised), coverage, fuzzing and stateful. It is bounded (``MAX_EXAMPLES`` cases per
operation, a fixed seed) and takes under a minute on a laptop.

Every check runs except ``positive_data_acceptance``: a well-formed request for a pitcher the
warehouse does not know, or a date with no history before it, is rightly answered 404/400.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MAX_EXAMPLES = 100
SEED = 1
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def live(service_factory):
    return service_factory(breaker_failures=3, breaker_cooldown=30.0, system_timeout=20.0)


def test_no_server_errors_and_answers_match_the_schema(
    live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, state = live
    token = "fuzz-token-not-a-secret"
    monkeypatch.setenv("KCAST_API_TOKEN", token)  # the worker's admin routes (read per request)
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{server.url}/openapi.json",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "-H",
            f"Authorization: Bearer {token}",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "No issues found" in out, out
    assert "Operations:       8 selected / 8 total" in out
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in out, out
    # the fuzzing reached the systems: the schema's example pitcher-game was predicted
    assert state.metrics.registry.get_sample_value(
        "kcast_predictions_total", {"system": "ensemble_v1"}
    )
    # and no breaker opened along the way
    assert {b.state for b in state.breakers.values()} == {"closed"}
