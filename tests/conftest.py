"""Test set-up shared by every test.

The tests are filed by what they need:

- ``tests/unit/``: tests that need no shared data, no server and no other process. They run on
  their own in well under a minute: ``pytest tests/unit`` (or ``pytest -m unit``: every test in
  that folder carries the ``unit`` mark, given here). A unit test that asks for a fixture made
  from the shared data is refused when the tests are collected, and one that opens a socket or
  starts a process fails (``tests/unit/conftest.py``). ``.ci/run`` runs them first, with the
  shared data out of reach.
- ``tests/integration/``: everything else: real seasons ingested, models trained, real servers
  on loopback, child processes, the image, the BigQuery emulator. They need the shared data.

Real data comes from ``../shared/data`` (set ``KCAST_SHARED_DATA`` to move it); nothing from it is
copied into the repository. Each test gets its own settings (warehouse, cache) in a temporary
folder, and the network is closed except for loopback, so no test can reach the internet.

The fixtures that ingest seasons or train models (``history_warehouse``, ``trained_warehouse``,
``backtest_warehouse``) are built once per run and shared by the xdist workers
(``tests/builds.py``): the first worker that needs one builds it, the others copy it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from kcast.backtest import run_backtest, write_backtest
from kcast.config import SEED_SYSTEMS, Settings, get_settings
from kcast.data.lines import ingest_lines
from kcast.data.register import Register
from kcast.data.retrosheet import ingest_retrosheet
from kcast.features.build import load_history
from kcast.service import BackgroundServer, create_app
from kcast.training import train_systems
from kcast.warehouse import open_warehouse
from tests.builds import run_folder, shared_build

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "tests" / "unit"
SHARED_DATA = Path(os.environ.get("KCAST_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
REGISTER_FILE = SHARED_DATA / "ids" / "chadwick_register_mlb_players.csv.gz"
EVENTS = SHARED_DATA / "retrosheet" / "events"
RETRO_CSV = SHARED_DATA / "retrosheet" / "csv"
STATCAST = SHARED_DATA / "statcast"
PROPS = SHARED_DATA / "props"
STATSAPI = SHARED_DATA / "statsapi"
# Where scripts/build-image.sh and scripts/setup-bqemulator.sh keep what they install and build
# (outside the checkout, shared by every checkout on the machine).
CI_CACHE = Path(
    os.environ.get("KCAST_CI_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kcast-ci"
)

# The fixtures made from the shared data; a unit test may ask for none of them.
DATA_FIXTURES = frozenset(
    {
        "register",
        "history_warehouse",
        "copy_warehouse",
        "history_frame",
        "backtest_warehouse",
        "trained_warehouse",
        "service_factory",
    }
)


# The files that take minutes, longest first, and the one that waits for .ci/run's image build.
# .ci/run hands the integration tests to 2 workers a file at a time, in collection order
# (``--dist loadfile --no-loadscope-reorder``): long files first, so that the workers finish
# together; test_image.py last, so that the image is built by then. A new file that takes
# minutes belongs in LONG_FIRST (``pytest --durations`` says which do).
LONG_FIRST = (  # seconds per file, with its share of the shared builds (.ci/run, load about 11)
    "test_dashboard.py",  # 988: the history, trained and backtest warehouses, Chromium
    "test_bigquery.py",  # 758: the emulator, one pipeline per engine
    "test_concurrency.py",  # 619: real ingests, killed and run side by side
    "test_lines.py",  # 418
    "test_daily.py",  # 414: real 2025 days replayed with the worker serving
    "test_retrosheet_csv.py",  # 199
    "test_retrosheet_events.py",  # 188
    "test_matchup.py",  # 154
    "test_starts.py",  # 143
    "test_odds_api.py",  # 135
    "test_model_store.py",  # 135
    "test_retrosheet_parity.py",  # 133
    "test_deploy.py",  # 122
    "test_statsapi.py",  # 120
    "test_pitch_mix.py",  # 115
)
LAST = ("test_image.py",)


def is_unit(item: pytest.Item) -> bool:
    return Path(str(item.path)).is_relative_to(UNIT)


def run_order(item: pytest.Item) -> int:
    name = Path(str(item.path)).name
    if name in LONG_FIRST:
        return LONG_FIRST.index(name) - len(LONG_FIRST)
    return 1 if name in LAST else 0


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long files first and the image last (``run_order``); mark the unit tests (before ``-m``
    selects), and refuse one that asks for shared data."""
    items.sort(key=run_order)  # stable: the order within a file, and of the other files, stays
    for item in items:
        if not is_unit(item):
            continue
        item.add_marker(pytest.mark.unit)
        wanted = sorted(DATA_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        if wanted:
            raise pytest.UsageError(
                f"{item.nodeid} is a unit test but uses the shared data (fixture "
                f"{', '.join(wanted)}): move it to tests/integration/"
            )


def pytest_configure(config: pytest.Config) -> None:
    """The shared data must be there unless only unit tests are asked for (``tests/unit``)."""
    here = config.invocation_params.dir
    asked = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    if REGISTER_FILE.is_file() or all(path.is_relative_to(UNIT) for path in asked):
        return
    raise pytest.UsageError(
        f"the shared real data is not at {SHARED_DATA} (no {REGISTER_FILE.name} in it); set "
        "KCAST_SHARED_DATA to its folder, or run only the unit tests (pytest tests/unit)"
    )


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Which shared builds this run made, where and how long each took."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None or hasattr(config, "workerinput"):
        return
    try:
        folder = run_folder(factory)
    except OSError:
        return
    built = sorted(folder.glob("*/.built"))
    if built:
        terminalreporter.section("shared builds")
        for done in built:
            terminalreporter.write_line(f"{done.parent.name}: {done.read_text().strip()}")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (
        host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")
    ):
        return _real_connect(self, address)
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    raise OSError(
        f"tests may not reach the network (tried {address!r}); serve a fixture on loopback"
    )


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Fresh settings per test: its own warehouse and cache, the shared register, no network."""
    monkeypatch.setenv("KCAST_WAREHOUSE", str(tmp_path / "kcast.duckdb"))
    monkeypatch.setenv("KCAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KCAST_REGISTER", str(REGISTER_FILE))
    monkeypatch.setenv("KCAST_MODEL_DIR", str(tmp_path / "models"))
    # the bet machinery's tests decide with every rule live; the edge gate's own tests
    # (tests/unit/test_gate.py) turn it on
    monkeypatch.setenv("KCAST_EDGE_GATE", "off")
    for var in ("ODDS_API_KEY", "MLB_ACTIVE_SYSTEMS", "MLB_V1_MODEL_PATH", "MLB_V1_6_MODEL_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def register() -> Register:
    return Register.load(REGISTER_FILE)


def build_history(folder: Path, register: Register) -> None:
    """``history.duckdb``: the 2018 and 2019 Retrosheet seasons."""
    wh = open_warehouse(str(folder / "history.duckdb"))
    try:
        ingest_retrosheet(wh, [EVENTS / "2018eve.zip", EVENTS / "2019eve.zip"], register)
    finally:
        wh.close()


@pytest.fixture(scope="session")
def history_warehouse(tmp_path_factory: pytest.TempPathFactory, register: Register) -> Path:
    """A warehouse file holding the 2018 and 2019 Retrosheet seasons (built once per run).

    Tests that write must copy it (``copy_warehouse``); it is shared read-only.
    """
    built = shared_build(tmp_path_factory, "history", lambda f: build_history(f, register))
    return built / "history.duckdb"


@pytest.fixture
def copy_warehouse(history_warehouse: Path, tmp_path: Path):
    """A writable copy of the 2018-2019 warehouse, opened."""
    target = tmp_path / "copy.duckdb"
    shutil.copy(history_warehouse, target)
    wh = open_warehouse(str(target))
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def history_frame(history_warehouse: Path):
    """Every 2018-2019 appearance, as the feature builder loads it."""
    wh = open_warehouse(str(history_warehouse), migrate=False)
    try:
        return load_history(wh)
    finally:
        wh.close()


BACKTEST_START = "2022-06-14"  # the first and last dates of the real 2022 prop lines
BACKTEST_END = "2022-09-08"


def build_backtest(folder: Path, register: Register) -> None:
    """``backtest.duckdb`` and ``backtest_metrics.json``: see ``backtest_warehouse``."""
    path = folder / "backtest.duckdb"
    settings = Settings(
        _env_file=None,
        warehouse=str(path),
        active_systems=SEED_SYSTEMS,
        primary_system="ensemble_v1",
        min_edge=0.5,
        min_confidence=60.0,
        # the systems' own probabilities, so that the views have bets to show (pooled with the
        # market, the systems rarely find value: see docs/results.md)
        market_blend="off",
        ensemble_v1_weight=0.3,
        ensemble_v1_6_weight=0.5,
    )
    wh = open_warehouse(str(path))
    try:
        ingest_retrosheet(wh, [EVENTS / "2021eve.zip", EVENTS / "2022eve.zip"], register)
        ingest_lines(wh, PROPS / "steveliang00_dk_fd_k_props_2022.csv.gz", register)
        result = run_backtest(
            wh,
            dt.date.fromisoformat(BACKTEST_START),
            dt.date.fromisoformat(BACKTEST_END),
            settings=settings,
        )
        write_backtest(wh, result, settings)
    finally:
        wh.close()
    (folder / "backtest_metrics.json").write_text(json.dumps(result.metrics, default=str))


@pytest.fixture(scope="session")
def backtest_warehouse(tmp_path_factory: pytest.TempPathFactory, register: Register) -> Path:
    """A warehouse filled by a real backtest (built once per run, about two minutes).

    The 2021 and 2022 Retrosheet seasons, the real 2022 DraftKings/FanDuel strikeout lines, and
    ``run_backtest`` from BACKTEST_START to BACKTEST_END (every system, walk-forward) written
    and graded with ``write_backtest``. The backtest's metrics are saved beside it as
    ``backtest_metrics.json``. Shared read-only: copy the file before writing to it.
    """
    built = shared_build(tmp_path_factory, "backtest", lambda f: build_backtest(f, register))
    return built / "backtest.duckdb"


def build_trained(folder: Path, history: Path) -> None:
    """``trained.duckdb``: a copy of ``history`` with the boosted systems trained on games
    before 2019-07-01 and registered, their models in ``models/`` beside it."""
    path = folder / "trained.duckdb"
    shutil.copy(history, path)
    wh = open_warehouse(str(path))
    try:
        train_systems(wh, dt.date(2019, 7, 1), folder / "models")
    finally:
        wh.close()


@pytest.fixture(scope="session")
def trained_warehouse(history_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the 2018-2019 warehouse whose boosted systems are trained on games before
    2019-07-01 and registered (models in ``models/`` beside it). Built once per run; copy it
    before writing to it."""
    built = shared_build(tmp_path_factory, "trained", lambda f: build_trained(f, history_warehouse))
    return built / "trained.duckdb"


@pytest.fixture(scope="module")
def service_factory(trained_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """Start real prediction workers (uvicorn on a free 127.0.0.1 port, in a thread of this
    process) over copies of ``trained_warehouse``; each is stopped after the module.

    ``start(**settings)`` returns ``(server, state)``: ``server.url`` to talk HTTP to, and the
    app's ``ServiceState`` (its breakers, fault hook and systems) for fault injection.
    """
    servers = []

    def start(**overrides):
        path = tmp_path_factory.mktemp("service") / "service.duckdb"
        shutil.copy(trained_warehouse, path)
        values = {
            "warehouse": str(path),
            # the seed's three systems, the ensemble primary: what these workers' tests check
            # (the default, with v2_matchup primary: test_service.py's legacy-shape test)
            "active_systems": SEED_SYSTEMS,
            "primary_system": "ensemble_v1",
            "v1_model_path": None,
            "v1_6_model_path": None,
            **overrides,
        }
        app = create_app(Settings(**values))
        server = BackgroundServer(app).start()
        servers.append(server)
        return server, app.state.kcast

    yield start
    for server in servers:
        server.stop()
