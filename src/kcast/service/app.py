"""The prediction worker: a FastAPI app over the warehouse and every active system.

``create_app()`` opens the warehouse, loads each active system (a system whose model cannot
load is reported as failed in /health; the others still serve), puts a circuit breaker in front
of each, and mounts the routes. ``BackgroundServer`` runs it under uvicorn in a thread on a
loopback port (tests, benchmarks, embedding).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from kcast import __version__
from kcast.config import Settings, get_settings
from kcast.errors import (
    InputError,
    NoSystemAnsweredError,
    UnknownPitcherError,
    UnknownSystemError,
    WarehouseError,
)
from kcast.masking import install_log_masking, mask_secrets
from kcast.pipeline import load_systems
from kcast.service.cache import SlateCache
from kcast.service.deps import ServiceState
from kcast.service.metrics import LatencyMiddleware
from kcast.service.routes import admin, dashboard, day, health, metrics, picks, predict, results
from kcast.service.security import (
    BodyLimitMiddleware,
    ReaderDep,
    forbid_unknown_query,
    public_text,
    validation_errors,
)
from kcast.systems.base import BasePredictor
from kcast.systems.registry import active_ids, dependency_order
from kcast.warehouse import Warehouse, open_warehouse

log = logging.getLogger("kcast.service")
STATIC = Path(__file__).with_name("static")  # Swagger UI and ReDoc, served by the worker

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
    reloadable = systems is None
    if systems is None:
        ids = active_ids(settings)  # refuses unknown systems and ensembles without members
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
        reloadable=reloadable,
    )
    state.cache = SlateCache(wh)
    state.faults.listeners.append(state.cache.clear)  # an injected fault changes the answers
    return state


def worker_threads(settings: Settings) -> int:
    """``KCAST_WORKER_THREADS``, or the CPUs this process may run on when it is 0."""
    if settings.worker_threads:
        return settings.worker_threads
    return max(1, len(os.sched_getaffinity(0)))


def _poll_models(state: ServiceState, interval: float, stop: threading.Event) -> None:
    """Every ``interval`` seconds, load newly trained models (``ServiceState.reload``)."""
    while not stop.wait(interval):
        try:
            state.reload()
        except WarehouseError as exc:  # not the models' fault: checked again next time
            log.warning("model reload check skipped, the warehouse is not available: %s", exc)
        except Exception:  # noqa: BLE001 - the poller must outlive any one failure
            log.exception("model reload check failed")


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


RETRY_AFTER_UNKNOWN = 60  # seconds, for warehouse trouble of no known kind


def warehouse_trouble(exc: WarehouseError, model_dir: Path) -> JSONResponse:
    """The 503 of warehouse trouble: the cause (``busy``, ``disk_full``, ``read_only``,
    ``permission_denied``, ``cannot_open``; ``error`` for anything else), the process holding
    the file where known, and ``Retry-After``. The message's first line only (no SQL), with
    paths cut to file names and secrets masked."""
    retry = int(getattr(exc, "retry_after", RETRY_AFTER_UNKNOWN))
    holder = getattr(exc, "holder", None)
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    detail = {
        "message": mask_secrets(public_text(first, model_dir) or ""),
        "cause": getattr(exc, "cause", "error"),
        "holder": None if holder is None else mask_secrets(public_text(holder, model_dir) or ""),
        "retry_after_seconds": retry,
    }
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(retry)})


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
    install_log_masking()  # no secret in any log line the worker writes (the access log too)
    state = build_state(settings, warehouse, systems)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        state.warehouse_ok()  # the first check, before serving: /health never waits for one
        # requests that run on threads (builds, reads, batches), at most one per CPU at once:
        # each more thread is one more contender for Python's lock, which /health on the event
        # loop must win for every answer (see docs/performance.md, "/health under load")
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = worker_threads(state.settings)
        # the history every date's features come from, loaded while the worker starts serving
        threading.Thread(target=state.cache.warm, daemon=True, name="kcast-warm").start()
        poller = None
        interval = state.settings.reload_seconds
        if interval > 0 and state.reloadable:
            poller = threading.Thread(
                target=_poll_models, args=(state, interval, stop), daemon=True, name="kcast-reload"
            )
            poller.start()
        yield
        stop.set()
        if poller is not None:
            poller.join(5)
        state.faults.clear()  # release calls hanging on an injected fault
        if state.owns_warehouse:
            state.warehouse.close()

    app = FastAPI(
        title="kcast prediction worker",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(forbid_unknown_query)],
    )
    app.state.kcast = state
    # the last added is the outermost: latency (413s counted too), then the body limit, which
    # runs before anything reads or parses the body
    app.add_middleware(BodyLimitMiddleware, max_body=state.settings.max_body)
    app.add_middleware(LatencyMiddleware, metrics=state.metrics)
    for module in (health, predict, picks, metrics, admin, dashboard, day, results):
        app.include_router(module.router)
    _mount_docs(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_errors(exc.errors()), status_code=422)

    @app.exception_handler(UnknownPitcherError)
    async def _unknown_pitcher(request: Request, exc: UnknownPitcherError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(UnknownSystemError)
    async def _unknown_system(request: Request, exc: UnknownSystemError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(WarehouseError)
    async def _warehouse_trouble(request: Request, exc: WarehouseError) -> JSONResponse:
        log.warning("%s %s: warehouse trouble: %s", request.method, request.url.path[:100], exc)
        return warehouse_trouble(exc, state.settings.model_dir)

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


def _mount_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from the package's own copies: no CDN, works offline."""
    app.mount("/docs-static", StaticFiles(directory=STATIC), name="docs-static")
    reads = [ReaderDep]

    @app.get("/openapi.json", include_in_schema=False, dependencies=reads)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=reads)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False, dependencies=reads)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url="/docs-static/redoc.standalone.js",
            redoc_favicon_url="/docs-static/favicon.png",
            with_google_fonts=False,
        )


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
