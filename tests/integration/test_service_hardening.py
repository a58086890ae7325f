"""The worker probed as a hostile client and a careless operator would (issue 24): a real
uvicorn server on loopback with KCAST_API_TOKEN set, over a copy of the trained warehouse.

No 5xx from bad input (a non-ASCII token, a NUL byte in a path, 60,000-character inputs echoed
at most 60 characters); warehouse trouble (a writer holding the file, a full disk, a read-only
file system) a 503 with a JSON body naming the cause and a Retry-After, with no model reload and
no breaker counting it; /health answered while every thread of the pool is held.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

from kcast.config import get_settings
from tests.conftest import REGISTER_FILE, free_port
from tests.integration.test_lines_refusals import JUNK_LINE

TOKEN = "hardening-token-for-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}
DAY = "2019-07-13"
GAME = {"pitcher_id": 453281, "game_date": DAY}
COLD_DAY = "2019-07-20"  # a date no test asks for before the warehouse is held
LONG = "Q" * 60_000  # an input no answer may echo more than 60 characters of
ECHO = "Q" * 61

# a kcast process writing to the warehouse: it holds the file until told to let go
HOLD = """
import sys
from kcast.warehouse.duckdb import DuckDBWarehouse
wh = DuckDBWarehouse(sys.argv[1], lock_timeout=60)
with wh.transaction():
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def held(path: str) -> Iterator[subprocess.Popen]:
    """Another process holding the warehouse's write lock until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(60)


def start(service_factory, monkeypatch: pytest.MonkeyPatch, lock_timeout: float, **settings):
    """A worker whose warehouse waits ``lock_timeout`` seconds for another process."""
    monkeypatch.setenv("KCAST_LOCK_TIMEOUT", str(lock_timeout))
    get_settings.cache_clear()
    return service_factory(api_token=TOKEN, reload_seconds=0, **settings)


def assert_503(answer: httpx.Response, cause: str) -> dict:
    assert answer.status_code == 503, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["retry-after"]) > 0
    detail = answer.json()["detail"]
    assert detail["cause"] == cause, detail
    assert "/tmp/" not in answer.text and "SELECT" not in answer.text  # no path, no SQL
    return detail


# --- 1 and 2: bad input is never a 500 -------------------------------------------------------


@pytest.fixture(scope="module")
def live(service_factory):
    return service_factory(api_token=TOKEN)


@pytest.fixture(scope="module")
def client(live):
    server, _ = live
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.mark.parametrize("token", ["éé".encode(), "Ωmega-token".encode(), b"\xff\xfe", b"\x80"])
def test_a_non_ascii_token_is_refused_not_a_500(client: httpx.Client, token: bytes) -> None:
    header = {"authorization": b"Bearer " + token}
    assert client.post("/admin/reload", headers=header).status_code == 401
    answer = client.post("/predict-batch", json={"games": [GAME]}, headers=header)
    assert answer.status_code == 403, answer.text
    assert client.get("/health").status_code == 200  # the same connection still serves


@pytest.mark.parametrize(
    "path",
    [
        "/static/%00",
        "/static/a%00b.js",
        "/static/vega/%00",
        "/docs-static/%00",
        "/static/" + "a" * 5_000,
        "/docs-static/" + "a" * 5_000,
    ],
)
def test_a_nul_byte_or_a_long_name_in_a_path_is_a_404(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404, (answer.status_code, answer.text[:200])


# --- 10: inputs echoed at most 60 characters, in every error body ------------------------------


def _cases() -> list[tuple[str, str, dict]]:
    body_fields = ("game_date", "opponent", "team")
    cases: list[tuple[str, str, dict]] = [
        ("GET", f"/systems/{LONG}", {}),
        ("GET", f"/pitcher/{LONG}", {}),
        ("GET", f"/chart/{LONG}.svg", {}),
        ("GET", f"/{LONG}", {}),
        ("GET", f"/static/{LONG}", {}),
        ("GET", f"/docs-static/{LONG}", {}),
        ("GET", f"/health?{LONG}=1", {}),
        ("POST", "/admin/reload", {"headers": {"authorization": f"Bearer {LONG}"}}),
        ("POST", "/predict-batch", {"json": {"games": [GAME]}, "headers": {"authorization": LONG}}),
        ("POST", "/predict", {"json": {**GAME, LONG: 1}}),
        ("POST", "/predict", {"content": LONG, "headers": {"content-type": "application/json"}}),
        ("POST", "/predict-batch", {"json": {"date": LONG}}),
        ("POST", "/predict-batch", {"json": {"date": DAY, "write": LONG}}),
    ]
    for path in ("/", "/picks", "/slate", "/performance", "/pitcher/453281", "/status"):
        cases.append(("GET", path, {"params": {"date": LONG}}))
        cases.append(("GET", path, {"params": {"date": DAY, "unknown": LONG}}))
    cases.append(("GET", "/picks", {"params": {"date": DAY, "system": LONG}}))
    cases.append(("GET", "/performance", {"params": {"days": LONG}}))
    for field in body_fields:
        cases.append(("POST", "/predict", {"json": {**GAME, field: LONG}}))
        cases.append(("POST", "/predict-batch", {"json": {"games": [{**GAME, field: LONG}]}}))
    for field in ("line", "over_odds", "pitcher_id", "is_home"):
        cases.append(("POST", "/predict", {"json": {**GAME, field: LONG}}))
    return cases


@pytest.mark.parametrize(("method", "path", "kwargs"), _cases(), ids=lambda v: str(v)[:40])
def test_no_error_body_echoes_more_than_60_characters(
    client: httpx.Client, method: str, path: str, kwargs: dict
) -> None:
    answer = client.request(method, path, **kwargs)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert answer.status_code >= 400
    assert ECHO not in answer.text, f"{answer.status_code}: {answer.text[:200]}"
    assert len(answer.content) < 3_000


def test_the_known_answers_stay_short_and_clear(client: httpx.Client) -> None:
    answer = client.get(f"/systems/{LONG}")
    assert answer.status_code == 404
    assert "unknown system 'QQQ" in answer.json()["detail"] and "v1_baseline" in answer.text
    page = client.get("/", params={"date": LONG})
    assert page.status_code == 400 and "does not parse" in page.text


def test_absurd_odds_in_a_request_are_a_422(client: httpx.Client) -> None:
    for over, under in ((999_999, 999_999), (-9_999_999_999, -110), (9_000, 9_000)):
        body = {**GAME, "line": 4.5, "over_odds": over, "under_odds": under}
        answer = client.post("/predict", json=body)
        assert answer.status_code == 422, (over, under, answer.text[:300])
    assert client.post("/predict", json={**GAME, "line": 4.5, "over_odds": -110}).status_code == 200


def test_a_stored_absurd_price_never_decides_an_answer(service_factory) -> None:
    server, state = service_factory(api_token=TOKEN)
    state.warehouse.upsert("prop_lines", pd.DataFrame([JUNK_LINE]))  # as an older kcast did
    with httpx.Client(base_url=server.url, timeout=120) as c:
        body = c.post("/predict", json=GAME).json()
        assert body["line"] is None and "no_line" in body["red_flags"], body
        for answer in body["systems"].values():
            assert answer["expected_value"] is None and answer["recommendation"] == "PASS"
        batch = c.post("/predict-batch", json={"date": DAY}, headers=AUTH).json()
        assert batch["total_rows_written"] > 0
        picks = c.get("/picks", params={"date": DAY}).json()["picks"]
    assert picks and all(p["over_odds"] is None for p in picks if p["pitcher_id"] == 453281)


# --- 3: a writer holding the warehouse: 503, the holder named, no reload, no breaker -----------


def test_a_held_warehouse_is_a_503_naming_the_holder_and_reloads_nothing(
    service_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, state = start(service_factory, monkeypatch, lock_timeout=1)
    url = server.url
    assert httpx.post(f"{url}/predict", json=GAME, timeout=120).status_code == 200  # warm
    generation, versions = state.generation, state.reload_status()["versions"]
    cold = {"pitcher_id": 453281, "game_date": COLD_DAY, "opponent": "TEX", "is_home": False}
    requests = [
        ("POST", "/predict-batch", {"json": {"date": COLD_DAY}, "headers": AUTH}),
        ("POST", "/predict", {"json": cold}),
        ("GET", "/picks", {"params": {"date": COLD_DAY}}),
        ("GET", "/slate", {"params": {"date": COLD_DAY}}),
        ("GET", "/", {"params": {"date": COLD_DAY}}),
        ("POST", "/admin/reload", {"headers": AUTH}),
    ]
    with held(state.warehouse.url) as holder, httpx.Client(base_url=url, timeout=60) as c:
        for method, path, kwargs in requests:
            detail = assert_503(c.request(method, path, **kwargs), "busy")
            assert f"PID {holder.pid}" in (detail["holder"] or ""), detail
            assert (
                f"PID {holder.pid}" in detail["message"]
                and "KCAST_LOCK_TIMEOUT" in detail["message"]
            )
        with contextlib.suppress(Exception):  # what the model poller does every interval
            state.reload()
        assert c.get("/health").status_code == 200
    # the warehouse is back: the same requests answer, and no model was loaded again
    with httpx.Client(base_url=url, timeout=120) as c:
        assert c.post("/predict", json=cold).status_code == 200
        assert c.get("/picks", params={"date": COLD_DAY}).status_code == 200
        assert c.post("/predict-batch", json={"date": COLD_DAY}, headers=AUTH).status_code == 200
        again = state.reload()
        assert again["changed"] is False and again["error"] is None, again
        assert state.generation == generation and again["versions"] == versions
        health = c.get("/health").json()
    for system_id, entry in health["systems"].items():
        assert entry["breaker_state"] == "closed" and entry["failure_count"] == 0, system_id


def test_warehouse_trouble_never_counts_against_a_breaker() -> None:
    from kcast.errors import WarehouseBusyError
    from kcast.service.breakers import CircuitBreaker

    breaker = CircuitBreaker("v1_baseline", fail_max=1, cooldown=30, timeout=5)

    def busy() -> None:
        raise WarehouseBusyError("the warehouse x is held by PID 1", "PID 1", 1.0)

    for _ in range(3):
        with pytest.raises(WarehouseBusyError, match="held by PID 1"):
            breaker.call(busy)
    assert breaker.state == "closed" and breaker.fail_counter == 0
    breaker.open()
    breaker.opened_at -= 30  # cooled down: the next call is a trial
    with pytest.raises(WarehouseBusyError):
        breaker.call(busy)
    assert breaker.state == "half_open" and not breaker.trial_in_flight
    assert breaker.call(lambda: 42) == 42 and breaker.state == "closed"


# --- 12: /health while every thread of the pool is held --------------------------------------


def test_health_answers_while_every_pool_thread_waits(
    service_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, state = start(service_factory, monkeypatch, lock_timeout=20)
    url = server.url
    assert httpx.get(f"{url}/health", timeout=60).status_code == 200
    codes: list[int] = []

    def read(day: str) -> None:
        with httpx.Client(timeout=60) as c:
            codes.append(c.get(f"{url}/picks", params={"date": day}).status_code)

    days = [str(dt.date(2019, 5, 1) + dt.timedelta(days=i)) for i in range(45)]
    with held(state.warehouse.url):
        readers = [threading.Thread(target=read, args=(d,)) for d in days]
        for t in readers:
            t.start()
        time.sleep(1.0)  # every request waiting for the warehouse, on the pool or for it
        health = httpx.get(f"{url}/health", timeout=5)  # a liveness probe's patience
        assert health.status_code == 200
    for t in readers:
        t.join(60)
    assert codes == [200] * len(days)


# --- 3: a full disk, a read-only file system (a worker in its own mount namespace) -------------


def _can_mount(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    script = f"mount -t tmpfs -o size=64k tmpfs {probe}"
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    return done.returncode == 0


@contextmanager
def worker_on_tmpfs(trained: Path, tmp_path: Path, then: str) -> Iterator[str]:
    """``kcast serve`` on a copy of ``trained`` on a tmpfs of its own (a private mount
    namespace), after the shell command ``then`` ($D: the folder) has filled or frozen it."""
    if not _can_mount(tmp_path):
        pytest.skip("needs root and unshare -m to mount a small tmpfs")
    folder = tmp_path / "fs"
    folder.mkdir()
    size_kb = trained.stat().st_size // 1024 + 4096
    port = free_port()
    script = (
        "set -e\n"
        f'D="{folder}"\n'
        f'mount -t tmpfs -o size={size_kb}k tmpfs "$D"\n'
        f'cp "{trained}" "$D/w.duckdb"\n'
        'touch "$D/w.duckdb.lock"\n'
        f"{then}\n"
        f'exec "{sys.executable}" -c "from kcast.cli import main; main()" serve '
        f'--port {port} -w "$D/w.duckdb" --log-level warning\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCAST_", "MLB_"))}
    env.update(
        KCAST_API_TOKEN=TOKEN,
        KCAST_REGISTER=str(REGISTER_FILE),
        KCAST_CACHE_DIR=str(tmp_path / "cache"),
        KCAST_MODEL_DIR=str(tmp_path / "models"),
        KCAST_LOCK_TIMEOUT="2",
        KCAST_RELOAD_SECONDS="0",
    )
    proc = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the worker exited: {proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _stored(c: httpx.Client) -> int:
    answer = c.get("/picks", params={"date": DAY})
    assert answer.status_code == 200
    return answer.json()["count"]


@pytest.mark.parametrize(
    ("then", "cause"),
    [
        ('dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null || true', "disk_full"),
        ('mount -o remount,ro "$D"', "read_only"),
    ],
    ids=["disk-full", "read-only"],
)
def test_a_full_disk_or_a_read_only_file_system_is_a_503(
    trained_warehouse: Path, tmp_path: Path, then: str, cause: str
) -> None:
    with (
        worker_on_tmpfs(trained_warehouse, tmp_path, then) as url,
        httpx.Client(base_url=url, timeout=120) as c,
    ):
        before = _stored(c)
        answer = c.post("/predict-batch", json={"date": DAY}, headers=AUTH)
        detail = assert_503(answer, cause)
        assert detail["holder"] is None and "w.duckdb" in detail["message"]
        assert _stored(c) == before  # nothing lost, nothing half-written
        assert c.post("/predict", json=GAME).status_code == 200  # reads still answer
        health = c.get("/health").json()
        assert all(s["failure_count"] == 0 for s in health["systems"].values())
