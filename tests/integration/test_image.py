"""kcast's image, built for real and run: the worker in a container on loopback, and the whole
single-host deployment (deploy/compose.yaml) under podman-compose.

``scripts/build-image.sh`` builds the image with podman on a base made from Debian's own
packages (``.ci/run`` runs it first). Without a built image these tests are skipped, saying so;
with ``KCAST_IMAGE_REQUIRED=1`` (set by ``.ci/run``) they fail instead.

Checked: /health ok and a /predict answer equal to the one a real ``kcast serve`` outside the
container gives over the same warehouse; the worker running as uid 10001; the image's own
HEALTHCHECK passing; the container refusing to start without KCAST_WAREHOUSE, and refusing a
public bind with writes open and no token. Then compose: the models trained in a container
onto the models volume, the worker and the scheduled ``kcast daily`` started on one DuckDB
file, and the daily job's predictions of a real 2025 slate (served on loopback in the Stats
API's and The Odds API's shapes) appearing in the worker's /picks.

Models are found through the warehouse's model registry alone: the registry records them
relative to ``KCAST_MODEL_DIR``, so the container reads them from its own model folder
(``/home/kcast/models``, a volume) with no model path set; in compose the models are trained
inside a container onto the volume the worker reads.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

from kcast.config import ALL_SYSTEMS_DEFAULT
from tests.conftest import CI_CACHE, EVENTS, PROPS, REGISTER_FILE, REPO, STATCAST, free_port

sys.path.insert(0, str(REPO / "benchmarks"))
import replay_season  # noqa: E402

IMAGE_DIR = Path(os.environ.get("KCAST_IMAGE_DIR") or CI_CACHE / "image")
# .ci/run builds the image while the other tests run, and writes the build's exit status here
BUILD_STATUS = os.environ.get("KCAST_IMAGE_BUILD_STATUS")
PODMAN = IMAGE_DIR / "podman"
LAST_BUILD = IMAGE_DIR / "last-build.json"
COMPOSE = REPO / "deploy" / "compose.yaml"
UID = "10001"
TOKEN = "image-test-token"
DATA = "/home/kcast/data"  # where compose.yaml and these tests mount the warehouse's folder
GAME = {"pitcher_id": 453281, "game_date": "2019-07-13", "line": 5.5}  # Wade LeBlanc at ANA
GAME.update(over_odds=110, under_odds=-140)
SLATE = dt.date(2025, 6, 4)  # the compose run's day: real 2025 starts and lines
LINES = PROPS / "strikeoutcenter_k_props_2025.csv.gz"

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STEP = re.compile(r"│ (results|schedule|games|grade|odds|predict|alerts) +│ (ok|skipped|failed) ")

pytestmark = pytest.mark.xdist_group("image")


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PODMAN), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for_build(status: Path, timeout: float = 2700) -> None:
    """Wait for .ci/run's image build to write its exit status; fail when it failed."""
    deadline = time.monotonic() + timeout
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the image build did not finish within {timeout:g} s (no {status})")
        time.sleep(2)
    code = status.read_text().strip()
    if code != "0":
        pytest.fail(f"scripts/build-image.sh failed (exit {code}); see {IMAGE_DIR / 'build.log'}")


@pytest.fixture(scope="session")
def image() -> str:
    """The image scripts/build-image.sh built last; skipped (or failed in CI) without one.
    While .ci/run is still building it (``KCAST_IMAGE_BUILD_STATUS``), waits for the build."""
    if BUILD_STATUS:
        wait_for_build(Path(BUILD_STATUS))
    reason = None
    if not PODMAN.exists() or not LAST_BUILD.exists():
        reason = f"the image was not built (no {LAST_BUILD}): run scripts/build-image.sh"
    else:
        name = json.loads(LAST_BUILD.read_text())["image"]
        if podman("image", "exists", name).returncode != 0:
            reason = f"{name} is not in podman's storage: run scripts/build-image.sh"
    if reason is not None:
        if os.environ.get("KCAST_IMAGE_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return name


def wait_healthy(url: str, alive, timeout: float = 180) -> dict:
    """GET url/health until it answers 200 (the body); fails when ``alive()`` turns False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/health", timeout=5)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        assert alive(), "the worker stopped before answering /health"
        time.sleep(1)
    raise AssertionError(f"{url}/health did not answer within {timeout:g} s")


def relative_model_locations(warehouse: Path, model_dir: Path) -> None:
    """Record the warehouse's models relative to ``model_dir``, as ``kcast train`` does when it
    trains into ``KCAST_MODEL_DIR`` (the session fixture trained into a folder of its own)."""
    import duckdb

    from kcast.model_store import registry_location

    con = duckdb.connect(str(warehouse))
    try:
        rows = con.execute("SELECT system_id, version, path FROM model_registry").fetchall()
        assert rows, "the trained warehouse has no registered model"
        for system_id, version, path in rows:
            con.execute(
                "UPDATE model_registry SET path = ? WHERE system_id = ? AND version = ?",
                [registry_location(Path(path), model_dir), system_id, version],
            )
        assert all(
            not Path(p).is_absolute()
            for (p,) in con.execute("SELECT path FROM model_registry").fetchall()
        )
    finally:
        con.close()


def shared_folder(path: Path) -> Path:
    """A folder uid 10001 in a container can write (the warehouse's lock and WAL files)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    for f in path.iterdir():
        f.chmod(0o666)
    return path


@contextmanager
def container(image: str, *options: str) -> Iterator[str]:
    """``podman run -d`` with these options; removed (logs kept in the failure) at the end."""
    name = f"kcast-test-{uuid.uuid4().hex[:10]}"
    started = podman("run", "-d", "--name", name, *options, image)
    assert started.returncode == 0, started.stderr
    try:
        yield name
    finally:
        out = podman("logs", name)
        logs = (out.stdout + out.stderr)[-3000:]
        removed = podman("rm", "-f", "-t", "5", name)
        assert removed.returncode == 0, removed.stderr + logs


def running(name: str) -> bool:
    state = podman("inspect", "--format", "{{.State.Running}}", name)
    return state.stdout.strip() == "true"


# --------------------------------------------------------------------------------------------
# the worker, in a container and outside it
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(image: str, trained_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """/health and /predict from a real ``kcast serve`` outside, then from the container, over
    copies of one trained warehouse; and the container's process and health check."""
    root = tmp_path_factory.mktemp("served")
    data = root / "data"
    data.mkdir()
    shutil.copy(trained_warehouse, data / "kcast.duckdb")
    shared_folder(data)
    models = trained_warehouse.parent / "models"
    relative_model_locations(data / "kcast.duckdb", models)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCAST_", "MLB_"))}
    env.update(
        KCAST_WAREHOUSE=str(data / "kcast.duckdb"),
        KCAST_CACHE_DIR=str(root / "cache"),
        KCAST_MODEL_DIR=str(models),
    )
    kcast = str(Path(sys.executable).parent / "kcast")
    outside = subprocess.Popen(
        [kcast, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        health_out = wait_healthy(url, lambda: outside.poll() is None)
        predict_out = httpx.post(f"{url}/predict", json=GAME, timeout=60)
    finally:
        outside.terminate()
        outside.wait(timeout=30)

    port = free_port()
    with container(
        image,
        "-p",
        f"127.0.0.1:{port}:8080",
        "-v",
        f"{data}:{DATA}",
        # the registry's locations are relative to the model folder: the image's own
        # KCAST_MODEL_DIR, where the volume is mounted; no model path is set
        "-v",
        f"{models}:/home/kcast/models:ro",
        "-e",
        f"KCAST_WAREHOUSE={DATA}/kcast.duckdb",
        "-e",
        f"KCAST_API_TOKEN={TOKEN}",
    ) as name:
        url = f"http://127.0.0.1:{port}"
        health_in = wait_healthy(url, lambda: running(name))
        predict_in = httpx.post(f"{url}/predict", json=GAME, timeout=60)
        status = podman("exec", name, "cat", "/proc/1/status").stdout
        cmdline = podman("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
        check = podman("healthcheck", "run", name)
    return {
        "outside": (health_out, predict_out),
        "inside": (health_in, predict_in),
        "status": status,
        "cmdline": cmdline,
        "healthcheck": check,
    }


def test_health_is_ok_inside_as_outside(served) -> None:
    (outside, _), (inside, _) = served["outside"], served["inside"]
    assert inside["status"] == outside["status"] == "ok", (inside, outside)
    assert inside["systems"] == outside["systems"]


def without_timings(body: dict) -> dict:
    """The answer without each system's ``seconds`` (how long it took, which varies)."""
    systems = {
        k: {f: v for f, v in a.items() if f != "seconds"} for k, a in body["systems"].items()
    }
    return dict(body, systems=systems)


def test_predict_inside_equals_predict_outside(served) -> None:
    (_, outside), (_, inside) = served["outside"], served["inside"]
    assert outside.status_code == inside.status_code == 200, (outside.text, inside.text)
    body = inside.json()
    assert without_timings(body) == without_timings(outside.json())
    assert set(body["systems"]) == set(ALL_SYSTEMS_DEFAULT.split(","))  # the image's default
    assert all(answer["status"] == "ok" for answer in body["systems"].values())


def test_worker_runs_as_uid_10001_and_its_healthcheck_passes(served) -> None:
    uids = next(line for line in served["status"].splitlines() if line.startswith("Uid:"))
    assert uids.split()[1:] == [UID] * 4, uids  # real, effective, saved, filesystem
    assert served["cmdline"][1:3] == ["/opt/kcast/bin/kcast", "serve"], served["cmdline"]
    check = served["healthcheck"]
    assert check.returncode == 0, check.stdout + check.stderr


def test_refuses_to_start_without_a_warehouse(image: str) -> None:
    result = podman("run", "--rm", image)
    assert result.returncode != 0
    assert "KCAST_WAREHOUSE" in result.stderr and "must be set" in result.stderr, result.stderr


def test_refuses_a_public_bind_with_writes_open_and_no_token(image: str, tmp_path: Path) -> None:
    data = shared_folder(tmp_path / "data")
    result = podman(
        "run", "--rm", "-v", f"{data}:{DATA}", "-e", f"KCAST_WAREHOUSE={DATA}/k.duckdb", image
    )
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "refusing to listen on 0.0.0.0 with writes open to anyone" in said, said
    assert "KCAST_API_TOKEN" in said
    assert not list(data.iterdir()), "the refused worker touched the warehouse's folder"


# --------------------------------------------------------------------------------------------
# one machine, all of it: deploy/compose.yaml
# --------------------------------------------------------------------------------------------


def slate_warehouse(root: Path):
    """The real 2025 starts and the slate day's real lines; the day and after taken out and
    kept as what the loopback APIs serve (replay_season's Truth)."""
    from kcast.data.lines import ingest_lines
    from kcast.data.register import Register
    from kcast.data.starts import ingest_starts
    from kcast.warehouse import open_warehouse

    lines = pd.read_csv(LINES)
    part = root / "lines.csv.gz"
    with gzip.open(part, "wt") as f:
        lines[pd.to_datetime(lines["game_date"]).dt.date == SLATE].to_csv(f, index=False)
    data = root / "data"
    data.mkdir()
    wh = open_warehouse(str(data / "kcast.duckdb"))
    try:
        register = Register.load(REGISTER_FILE)
        ingest_starts(wh, STATCAST / "joey11600_starts_2024_2025.csv.gz", [2025], register)
        ingest_lines(wh, part, register, fmt="strikeoutcenter")
        season = replay_season.season_from_events(
            wh,
            EVENTS / "2025eve.zip",
            register,
            STATCAST / "joey11600_starts_2024_2025.csv.gz",
            SLATE,
            SLATE,
            log=lambda *a: None,
        )
        truth = replay_season.Truth.assemble(season, wh, replay_season.read_game_times(LINES))
        replay_season.cut(wh, SLATE)
    finally:
        wh.close()
    # the Chadwick register (player ids) the odds step matches names with, beside the warehouse
    shutil.copy(REGISTER_FILE, data / "register.csv.gz")
    shared_folder(data)
    morning = dt.datetime.combine(SLATE, dt.time(10), replay_season.EASTERN)
    return data, truth, replay_season.World(truth, now=morning.astimezone(dt.UTC))


def compose(env: dict[str, str], files: list[Path], *args: str, timeout: float = 600):
    """podman-compose (scripts/build-image.sh installs it, with kcast's podman)."""
    options = [a for f in files for a in ("-f", str(f))]
    return subprocess.run(
        [str(IMAGE_DIR / "podman-compose"), "--no-ansi", *options, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_compose_the_daily_jobs_predictions_reach_the_workers_picks(
    image: str, tmp_path: Path
) -> None:
    data, truth, world = slate_warehouse(tmp_path)
    with replay_season.FakeApis(world) as apis:
        port = free_port()
        project = f"kcasttest{uuid.uuid4().hex[:8]}"
        env = dict(
            os.environ,
            KCAST_IMAGE=image,
            KCAST_DATA=str(data),
            KCAST_REGISTER=f"{DATA}/register.csv.gz",
            KCAST_PORT=str(port),
            KCAST_API_TOKEN=TOKEN,
            KCAST_STATSAPI_URL=apis.url,
            KCAST_ODDS_API_URL=apis.url,
            ODDS_API_KEY="replay-key",
            KCAST_DAILY_ARGS=f"--date {SLATE}",
            KCAST_DAILY_EVERY="600",
        )
        # the loopback APIs are on this machine's loopback: the daily job uses the host's network
        override = tmp_path / "compose.test.yaml"
        override.write_text("services:\n  daily:\n    network_mode: host\n")
        files = [COMPOSE, override]
        up = None
        try:
            trained = compose(
                env, files, "-p", project, "run", "--rm", "daily",
                "kcast", "train", "--through", str(SLATE),
            )  # fmt: skip
            assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
            up = compose(env, files, "-p", project, "up", "-d")
            assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
            url = f"http://127.0.0.1:{port}"
            health = wait_healthy(url, lambda: True)
            assert health["status"] == "ok", json.dumps(health, indent=1) + trained.stdout[-2000:]
            picks = []
            deadline = time.monotonic() + 300
            while not picks and time.monotonic() < deadline:
                response = httpx.get(f"{url}/picks", params={"date": str(SLATE)}, timeout=30)
                assert response.status_code == 200, response.text
                picks = response.json()["picks"]
                time.sleep(2)
            logs = compose(env, files, "-p", project, "logs", "daily")
        finally:
            down = compose(env, files, "-p", project, "down", "-v", "-t", "5")
            podman("network", "rm", f"{project}_default")  # podman-compose leaves it
        assert down.returncode == 0, down.stderr[-3000:]
        label = f"label=io.podman.compose.project={project}"
        for listing in (("ps", "-a"), ("volume", "ls"), ("network", "ls")):
            left = podman(*listing, "--quiet", "--filter", label)
            assert not left.stdout.strip(), f"the compose run left: {listing} {left.stdout}"
    said = " ".join(ANSI.sub("", logs.stdout + logs.stderr).split())
    log = f"the daily job said: {said[-3000:]}"
    assert picks, f"no prediction of {SLATE} reached /picks; {log}"
    steps = dict(STEP.findall(said))
    # results: the start log's earlier games have no plate appearances, so their live feeds are
    # asked for (the loopback API serves none of those days: "0 of 0 final games")
    want = {
        "results": "ok",
        "schedule": "ok",
        "games": "ok",
        "grade": "skipped",
        "odds": "ok",
        "predict": "ok",
        "alerts": "skipped",
    }
    assert steps == want, f"the daily job's steps: want {want}, got {steps}; {log}"
    # the systems the daily job ran: MLB_ACTIVE_SYSTEMS, the worker's and the job's alike
    active = sorted(health["systems"])
    starters = set(truth.starts["pitcher_id"].astype(int))
    picked = {p["pitcher_id"] for p in picks}
    assert picked <= starters, f"picks of pitchers not starting on {SLATE}: {picked - starters}"
    systems = sorted({p["system_id"] for p in picks})
    assert systems == active, f"/picks' systems: want the active ones {active}, got {systems}"
    summary = re.search(r"predict +│ ok +│ (\d+) starters, (\d+) rows by (\d+) systems", said)
    assert summary, f"no 'predict │ ok │ N starters, M rows by K systems' line; {log}"
    n_starters, n_rows, n_systems = (int(g) for g in summary.groups())
    assert n_systems == len(active), f"the job predicted with {n_systems} systems, want {active}"
    assert len(picked) == n_starters, f"/picks has {len(picked)} pitchers, the job {n_starters}"
    assert len(picks) == n_rows == len(active) * n_starters, (
        f"want {len(active)} systems x {n_starters} starters = {len(active) * n_starters} rows; "
        f"/picks has {len(picks)}, the job said {n_rows}"
    )
    assert world.requests["statsapi"] >= 1 and world.requests["odds"] >= 1, (
        f"want at least one request to each loopback API, got {dict(world.requests)}"
    )
