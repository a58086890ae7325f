"""What every route needs: the service's state (settings, warehouse, systems, breakers)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from kcast.config import Settings
from kcast.service.breakers import CLOSED, CircuitBreaker, FaultInjector, LoggingListener
from kcast.service.metrics import MetricsListener, ServiceMetrics
from kcast.systems.base import BasePredictor
from kcast.warehouse import Warehouse

WAREHOUSE_CHECK_SECONDS = 2.0  # how stale /health's warehouse check may be


@dataclass
class ServiceState:
    """The worker's long-lived objects, kept on ``app.state.kcast``.

    ``active_ids`` are the systems the service should run (``MLB_ACTIVE_SYSTEMS``), members
    before ensembles; ``systems`` those that loaded; ``load_errors`` why the others did not.
    ``faults`` is the fault hook (see ``breakers.FaultInjector``).
    """

    settings: Settings
    warehouse: Warehouse
    active_ids: list[str]
    systems: dict[str, BasePredictor]
    load_errors: dict[str, str]
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    faults: FaultInjector = field(default_factory=FaultInjector)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    owns_warehouse: bool = False
    cache: Any = None  # runner.SlateCache, set by create_app

    def __post_init__(self) -> None:
        self._check_lock = threading.Lock()
        self._checked_at: float | None = None
        self._checking = False
        self._warehouse_ok = False
        listeners = [LoggingListener(), MetricsListener(self.metrics)]
        for system_id in self.systems:
            if system_id not in self.breakers:
                self.breakers[system_id] = CircuitBreaker(
                    system_id,
                    fail_max=self.settings.breaker_failures,
                    cooldown=self.settings.breaker_cooldown,
                    timeout=self.settings.system_timeout,
                    listeners=listeners,
                )
            self.metrics.track_breaker(self.breakers[system_id])

    def model_version(self, system_id: str) -> str | None:
        """Return the loaded model's version of a system (None when it did not load)."""
        system = self.systems.get(system_id)
        return None if system is None else system.version_

    def system_health(self, system_id: str) -> dict[str, Any]:
        """Return /health's entry for one active system."""
        if system_id not in self.systems:
            return {
                "status": "failed",
                "loaded": False,
                "last_error": self.load_errors.get(system_id, "not loaded"),
            }
        snap = self.breakers[system_id].snapshot()
        return {
            "status": "ok" if snap["state"] == CLOSED else "degraded",
            "loaded": True,
            "model_version": self.model_version(system_id),
            "breaker_state": snap["state"],
            "failure_count": snap["failure_count"],
            "last_error": snap["last_error"],
            "retry_in_seconds": snap["retry_in_seconds"],
            "fault": self.faults.active().get(system_id),
        }

    def warehouse_ok(self) -> bool:
        """True when the warehouse answered its last check. The check (a query) runs in the
        background at most every ``WAREHOUSE_CHECK_SECONDS``, so /health never waits behind
        another process's write; only the first call waits for it."""
        now = time.monotonic()
        with self._check_lock:
            first = self._checked_at is None
            due = first or now - self._checked_at > WAREHOUSE_CHECK_SECONDS
            if due and not self._checking:
                self._checking = True
                if not first:
                    threading.Thread(target=self._check_warehouse, daemon=True).start()
        if first:
            self._check_warehouse()
        return self._warehouse_ok

    def _check_warehouse(self) -> None:
        try:
            self.warehouse.query("SELECT 1 AS ok")
            ok = True
        except Exception:  # noqa: BLE001 - reported, not raised
            ok = False
        with self._check_lock:
            self._warehouse_ok, self._checked_at, self._checking = ok, time.monotonic(), False


def get_state(request: Request) -> ServiceState:
    """The service's state."""
    return request.app.state.kcast


StateDep = Annotated[ServiceState, Depends(get_state)]
