"""Schemathesis against the live worker's /openapi.json: generated requests, valid and invalid,
must never get a 5xx, and every answer must match the documented schema.

Schemathesis runs as its own command (``schemathesis run``) against a real uvicorn server on
127.0.0.1, through every phase: the schema's examples (a real 2019 pitcher-game, so the deep
path is exercised), coverage, fuzzing and stateful. It is bounded (``MAX_EXAMPLES`` cases per
operation, a fixed seed) and takes under a minute on a laptop.

Every check runs except ``positive_data_acceptance``: a well-formed request for a pitcher the
warehouse does not know, or a date with no history before it, is rightly answered 404/400.

The worker has ``KCAST_API_TOKEN`` set and Schemathesis sends the token, so writes are fuzzed
too. JSON Schema cannot say NaN, Infinity or 1e400, and Schemathesis keeps bodies small, so a
second test (Hypothesis) puts non-finite numbers, huge numbers, huge strings and huge bodies
into every field of every body: never a 5xx, and the connection always survives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MAX_EXAMPLES = 100
SEED = 1
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
TOKEN = "fuzz-token-0123456789"


@pytest.fixture(scope="module")
def live(service_factory):
    return service_factory(
        breaker_failures=3, breaker_cooldown=30.0, system_timeout=20.0, api_token=TOKEN
    )


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
            "--header",
            f"Authorization: Bearer {TOKEN}",
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


GAME = {"pitcher_id": 453281, "game_date": "2019-07-13", "line": 4.5, "over_odds": -115}
# raw JSON text for values json.dumps cannot write, or writes as the same float
HOSTILE = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "9" * 400, "-0.0"]
) | st.builds(lambda n: json.dumps("x" * n), st.sampled_from([10_000, 2_000_000]))


def _with(body: dict, path: list, raw: str) -> str:
    """``body`` as JSON text with the value at ``path`` replaced by the raw JSON ``raw``."""
    marker = "__HOSTILE__"
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return json.dumps(body).replace(f'"{marker}"', raw)


BODIES = [
    ("/predict", lambda: dict(GAME), [[k] for k in (*GAME, "under_odds", "is_home", "extra")]),
    (
        "/predict-batch",
        lambda: {"games": [dict(GAME)], "write": False},
        [["write"], ["date"], ["extra"]] + [["games", 0, k] for k in (*GAME, "team")],
    ),
]
CASES = [(path, make, where) for path, make, places in BODIES for where in places]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=st.sampled_from(CASES), raw=HOSTILE, padding=st.sampled_from([0, 0, 3_000_000]))
def test_hostile_values_never_get_a_5xx(live, case, raw: str, padding: int) -> None:
    server, _ = live
    path, make, where = case
    text = _with(make(), where, raw)
    if padding:
        text = text[:-1] + ', "pad": "' + "p" * padding + '"}'
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.post(path, content=text, headers={"content-type": "application/json"})
        assert answer.status_code < 500, (path, where, raw[:40], answer.text[:300])
        assert answer.status_code in {200, 400, 404, 413, 422}, answer.text[:300]
        assert len(answer.content) < 20_000  # no echo of the input
        if answer.status_code == 422:
            assert all("field" in e for e in answer.json()["detail"])
        assert client.get("/health").status_code == 200  # the connection survived
