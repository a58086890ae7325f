"""The worker's Prometheus metrics, in a registry of its own (one per app).

* ``kcast_predictions_total{system}``: predictions each system served (one per /predict answer, one per row of a batch);
* ``kcast_predictions_written_total{system}``: prediction rows the worker stored (/predict-batch);
* ``kcast_predictions_newest_stored_timestamp_seconds``: when the warehouse's newest prediction
  was stored, by any process (the worker, ``kcast daily``, ``kcast predict``); 0 when none;
* ``kcast_agreement_share``: the share of the latest predicted date's pitchers whose systems
  agree (strong or moderate spread, ``system_agreement``); NaN when none has two systems;
* ``kcast_system_failures_total{system,kind}``: failed calls (error, timeout, garbage);
* ``kcast_breaker_rejections_total{system}``: calls refused by an open breaker;
* ``kcast_breaker_state{system}``: 0 closed, 1 half-open, 2 open;
* ``kcast_breaker_transitions_total{system,state}``: state changes, by the state entered;
* ``kcast_system_latency_seconds{system}``: time of each system's calls;
* ``kcast_request_latency_seconds{method,route,status}``: HTTP request time, by route template.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kcast.monitoring import run_query
from kcast.service.breakers import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerListener,
    CircuitBreaker,
    failure_kind,
)
from kcast.warehouse import Warehouse

STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
WAREHOUSE_METRICS_SECONDS = 60.0  # how stale the metrics read from the warehouse may be
log = logging.getLogger("kcast.service")
CONTENT_TYPE = CONTENT_TYPE_LATEST
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ServiceMetrics:
    """Every metric the worker exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.predictions = Counter(
            "kcast_predictions", "Predictions served, by system.", ["system"], registry=r
        )
        self.predictions_written = Counter(
            "kcast_predictions_written",
            "Prediction rows the worker stored (POST /predict-batch), by system.",
            ["system"],
            registry=r,
        )
        self.newest_stored = Gauge(
            "kcast_predictions_newest_stored_timestamp_seconds",
            "When the newest prediction in the warehouse was stored, by any process (Unix "
            "time; 0 when there is none).",
            registry=r,
        )
        self.agreement = Gauge(
            "kcast_agreement_share",
            "Share of the latest predicted date's pitchers whose systems agree (strong or "
            "moderate spread); NaN when no pitcher has two systems' predictions.",
            registry=r,
        )
        self.agreement.set(math.nan)
        self._read_at: float | None = None
        self._read_lock = threading.Lock()
        self.failures = Counter(
            "kcast_system_failures",
            "Failed system calls, by system and kind (error, timeout, garbage).",
            ["system", "kind"],
            registry=r,
        )
        self.rejections = Counter(
            "kcast_breaker_rejections",
            "Calls refused because the system's breaker was open.",
            ["system"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "kcast_breaker_state",
            "Circuit-breaker state by system: 0 closed, 1 half-open, 2 open.",
            ["system"],
            registry=r,
        )
        self.transitions = Counter(
            "kcast_breaker_transitions",
            "Circuit-breaker state changes, by system and the state entered.",
            ["system", "state"],
            registry=r,
        )
        self.system_latency = Histogram(
            "kcast_system_latency_seconds",
            "Time of each system call through its breaker.",
            ["system"],
            registry=r,
        )
        self.request_latency = Histogram(
            "kcast_request_latency_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )

    def track_breaker(self, breaker: CircuitBreaker) -> None:
        """Export ``breaker``'s state now and on every change."""
        self.breaker_state.labels(breaker.name).set(STATE_VALUES[breaker.state])
        self.predictions.labels(breaker.name)
        self.predictions_written.labels(breaker.name)
        self.rejections.labels(breaker.name)

    def warehouse_changed(self) -> None:
        """The worker stored predictions: read the warehouse's metrics on the next scrape."""
        with self._read_lock:
            self._read_at = None

    def read_warehouse(self, wh: Warehouse) -> None:
        """Refresh the metrics read from the warehouse (the newest stored prediction, the
        latest date's agreement), at most every ``WAREHOUSE_METRICS_SECONDS``; a failed read
        keeps the last values (and is logged)."""
        now = time.monotonic()
        with self._read_lock:
            if self._read_at is not None and now - self._read_at < WAREHOUSE_METRICS_SECONDS:
                return
            self._read_at = now
        try:
            newest = wh.query("SELECT MAX(created_at) AS t FROM pitcher_strikeout_predictions")
            agreement = run_query(wh, "agreement_today").frame
        except Exception as exc:  # noqa: BLE001 - a metric, not a failure of /metrics
            log.warning("metrics from the warehouse not read: %s", exc)
            return
        stamp = newest["t"].iloc[0]
        self.newest_stored.set(0 if pd.isna(stamp) else utc_seconds(stamp))
        share = math.nan
        if len(agreement) and (agreement["pitchers_compared"].iloc[0] or 0) > 0:
            share = float(agreement["strong_or_moderate_share"].iloc[0])
        self.agreement.set(share)

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


def utc_seconds(stamp: Any) -> float:
    """Unix time of a stored TIMESTAMP (naive values are UTC, as kcast stores them)."""
    ts = pd.Timestamp(stamp)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts).timestamp()


class MetricsListener(BreakerListener):
    """Count breaker events in ``ServiceMetrics``."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def state_change(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        self.metrics.breaker_state.labels(breaker.name).set(STATE_VALUES[new])
        self.metrics.transitions.labels(breaker.name, new).inc()

    def failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        self.metrics.failures.labels(breaker.name, failure_kind(exc)).inc()

    def rejected(self, breaker: CircuitBreaker, reason: str) -> None:
        self.metrics.rejections.labels(breaker.name).inc()


class LatencyMiddleware:
    """ASGI middleware timing every HTTP request into ``request_latency``.

    Requests are labelled by their route template (``/picks``), never by the raw path, so
    unknown paths all count as ``unmatched``.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.request_latency.labels(
                method_label(scope), route_label(scope, status["code"]), str(status["code"])
            ).observe(time.perf_counter() - start)


def method_label(scope: Scope) -> str:
    """The request's method, or ``other`` for one outside HTTP's usual few."""
    method = str(scope.get("method", "GET")).upper()
    return method if method in HTTP_METHODS else "other"


def route_label(scope: Scope, status: int) -> str:
    """The route template that served the request; ``unmatched`` for unknown paths.

    API routes leave their template in the scope; the few plain routes FastAPI adds
    (``/openapi.json``, ``/docs``) do not, and are labelled by their path when they answered.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template:
        return template
    return str(scope.get("path", "")) if status < 400 else "unmatched"
