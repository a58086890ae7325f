"""The prediction worker: a FastAPI app over the warehouse and every active system.

``create_app()`` opens the warehouse, loads each active system (a system whose model cannot
load is reported as failed in /health; the others still serve), puts a circuit breaker in front
of each, and mounts the routes. ``BackgroundServer`` runs it under uvicorn in a thread on a
loopback port (tests, benchmarks, embedding).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kcast import __version__
from kcast.config import Settings, get_settings
from kcast.errors import (
    InputError,
    NoSystemAnsweredError,
    UnknownPitcherError,
    UnknownSystemError,
)
from kcast.pipeline import load_systems
from kcast.service.deps import ServiceState
from kcast.service.metrics import LatencyMiddleware
from kcast.service.routes import dashboard, health, metrics, picks, predict
from kcast.service.runner import FeatureCache
from kcast.systems.base import BasePredictor
from kcast.systems.registry import active_ids, dependency_order
from kcast.warehouse import Warehouse, open_warehouse

log = logging.getLogger("kcast.service")

DESCRIPTION = """Predicts MLB starting pitchers' strikeouts with every active system
(`MLB_ACTIVE_SYSTEMS`), each behind a circuit breaker, and compares them with prop lines.
`/predict` keeps the single-system worker's fields at its top level and adds every system's own
answer under `systems`."""


def _ordered(systems: dict[str, BasePredictor]) -> list[str]:
    """System ids, members before the systems built on them, otherwise as given."""
    return dependency_order(list(systems), lambda s: systems[s].member_ids)


def build_state(
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
    systems: dict[str, BasePredictor] | None = None,
) -> ServiceState:
    """The service's state: warehouse, systems (loaded now), breakers, metrics, caches."""
    settings = settings or get_settings()
    owns = warehouse is None
    wh = warehouse if warehouse is not None else open_warehouse(settings.warehouse)
    if systems is None:
        ids = active_ids(settings)
        loaded, errors = load_systems(wh, settings, ids)
        for system_id, error in errors.items():
            log.error("system %s did not load: %s", system_id, error)
    else:
        loaded, errors = dict(systems), {}
        ids = _ordered(loaded)
    state = ServiceState(
        settings=settings,
        warehouse=wh,
        active_ids=ids,
        systems=loaded,
        load_errors=errors,
        owns_warehouse=owns,
    )
    state.cache = FeatureCache(wh)
    return state


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
    systems: dict[str, BasePredictor] | None = None,
) -> FastAPI:
    """The worker app.

    Parameters
    ----------
    settings
        Defaults to ``get_settings()`` (warehouse, active systems, model paths, breaker
        settings KCAST_BREAKER_FAILURES / KCAST_BREAKER_COOLDOWN / KCAST_SYSTEM_TIMEOUT).
    warehouse
        An open warehouse; by default the settings' one is opened (and closed at shutdown).
    systems
        Ready systems by id (they become the active ones); by default each active system is
        loaded with ``registry.load_system``.
    """
    state = build_state(settings, warehouse, systems)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.faults.clear()  # release calls hanging on an injected fault
        if state.owns_warehouse:
            state.warehouse.close()

    app = FastAPI(
        title="kcast prediction worker",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.kcast = state
    app.add_middleware(LatencyMiddleware, metrics=state.metrics)
    for module in (health, predict, picks, metrics, dashboard):
        app.include_router(module.router)

    @app.exception_handler(UnknownPitcherError)
    async def _unknown_pitcher(request: Request, exc: UnknownPitcherError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(UnknownSystemError)
    async def _unknown_system(request: Request, exc: UnknownSystemError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(NoSystemAnsweredError)
    async def _no_answer(request: Request, exc: NoSystemAnsweredError) -> JSONResponse:
        return _error(
            503,
            {
                "message": str(exc),
                "systems": {s: a.model_dump() for s, a in exc.systems.items()},
            },
        )

    return app


class BackgroundServer:
    """A real uvicorn server for ``app`` on a free loopback port, run in a daemon thread.

    Examples
    --------
    >>> with BackgroundServer(create_app()) as server:   # doctest: +SKIP
    ...     httpx.get(f"{server.url}/health")
    """

    def __init__(
        self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        """Bind, start serving, and wait until uvicorn has started."""
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that
        # say they are TCP, and with Nagle on every small answer waits ~40 ms for an ACK
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level=self.log_level, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="kcast-uvicorn"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the uvicorn server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the uvicorn server did not start within {timeout:g}s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self._server = None
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
