"""Test set-up shared by every test.

Real data comes from ``../shared/data`` (set ``KCAST_SHARED_DATA`` to move it); nothing from it is
copied into the repository. Each test gets its own settings (warehouse, cache) in a temporary
folder, and the network is closed except for loopback, so no test can reach the internet.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KCAST_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
REGISTER_FILE = SHARED_DATA / "ids" / "chadwick_register_mlb_players.csv.gz"
EVENTS = SHARED_DATA / "retrosheet" / "events"
RETRO_CSV = SHARED_DATA / "retrosheet" / "csv"
STATCAST = SHARED_DATA / "statcast"
PROPS = SHARED_DATA / "props"
STATSAPI = SHARED_DATA / "statsapi"


def pytest_configure(config: pytest.Config) -> None:
    if not SHARED_DATA.exists():
        raise pytest.UsageError(
            f"the shared real data is not at {SHARED_DATA}; set KCAST_SHARED_DATA to its folder"
        )


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
    from kcast.config import get_settings

    monkeypatch.setenv("KCAST_WAREHOUSE", str(tmp_path / "kcast.duckdb"))
    monkeypatch.setenv("KCAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KCAST_REGISTER", str(REGISTER_FILE))
    monkeypatch.setenv("KCAST_MODEL_DIR", str(tmp_path / "models"))
    for var in ("ODDS_API_KEY", "MLB_ACTIVE_SYSTEMS", "MLB_V1_MODEL_PATH", "MLB_V1_6_MODEL_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def register():
    from kcast.data.register import Register

    return Register.load(REGISTER_FILE)


@pytest.fixture(scope="session")
def history_warehouse(tmp_path_factory: pytest.TempPathFactory, register):
    """A warehouse file holding the 2018 and 2019 Retrosheet seasons (built once per run).

    Tests that write must copy it (``copy_warehouse``); it is shared read-only.
    """
    from kcast.data.retrosheet import ingest_retrosheet
    from kcast.warehouse import open_warehouse

    path = tmp_path_factory.mktemp("history") / "history.duckdb"
    wh = open_warehouse(str(path))
    ingest_retrosheet(wh, [EVENTS / "2018eve.zip", EVENTS / "2019eve.zip"], register)
    wh.close()
    return path


@pytest.fixture
def copy_warehouse(history_warehouse: Path, tmp_path: Path):
    """A writable copy of the 2018-2019 warehouse, opened."""
    import shutil

    from kcast.warehouse import open_warehouse

    target = tmp_path / "copy.duckdb"
    shutil.copy(history_warehouse, target)
    wh = open_warehouse(str(target))
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def history_frame(history_warehouse: Path):
    """Every 2018-2019 appearance, as the feature builder loads it."""
    from kcast.features.build import load_history
    from kcast.warehouse import open_warehouse

    wh = open_warehouse(str(history_warehouse), migrate=False)
    try:
        return load_history(wh)
    finally:
        wh.close()


BACKTEST_START = "2022-06-14"  # the first and last dates of the real 2022 prop lines
BACKTEST_END = "2022-09-08"


@pytest.fixture(scope="session")
def backtest_warehouse(tmp_path_factory: pytest.TempPathFactory, register) -> Path:
    """A warehouse filled by a real backtest (built once per run, about two minutes).

    The 2021 and 2022 Retrosheet seasons, the real 2022 DraftKings/FanDuel strikeout lines, and
    ``run_backtest`` from BACKTEST_START to BACKTEST_END (every system, walk-forward) written
    and graded with ``write_backtest``. The backtest's metrics are saved beside it as
    ``backtest_metrics.json``. Shared read-only: copy the file before writing to it.
    """
    import datetime as dt
    import json

    from kcast.backtest import run_backtest, write_backtest
    from kcast.config import Settings
    from kcast.data.lines import ingest_lines
    from kcast.data.retrosheet import ingest_retrosheet
    from kcast.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("backtest")
    path = root / "backtest.duckdb"
    settings = Settings(
        _env_file=None,
        warehouse=str(path),
        active_systems="v1_baseline,v1_6_rolling,ensemble_v1",
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
        write_backtest(wh, result)
    finally:
        wh.close()
    (root / "backtest_metrics.json").write_text(json.dumps(result.metrics, default=str))
    return path


@pytest.fixture(scope="session")
def trained_warehouse(history_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the 2018-2019 warehouse whose boosted systems are trained on games before
    2019-07-01 and registered (models in a session folder). Built once per run; copy it before
    writing to it."""
    import datetime as dt
    import shutil

    from kcast.training import train_systems
    from kcast.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("trained")
    path = root / "trained.duckdb"
    shutil.copy(history_warehouse, path)
    wh = open_warehouse(str(path))
    try:
        train_systems(wh, dt.date(2019, 7, 1), root / "models")
    finally:
        wh.close()
    return path


@pytest.fixture(scope="module")
def service_factory(trained_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """Start real prediction workers (uvicorn on a free 127.0.0.1 port, in a thread of this
    process) over copies of ``trained_warehouse``; each is stopped after the module.

    ``start(**settings)`` returns ``(server, state)``: ``server.url`` to talk HTTP to, and the
    app's ``ServiceState`` (its breakers, fault hook and systems) for fault injection.
    """
    import shutil

    from kcast.config import SEED_SYSTEMS, Settings
    from kcast.service import BackgroundServer, create_app

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
