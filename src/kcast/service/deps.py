"""What every route needs: the service's state (settings, warehouse, systems, breakers)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from kcast.config import Settings
from kcast.context import DecisionContext
from kcast.errors import WarehouseError
from kcast.pipeline import load_systems
from kcast.service.breakers import CLOSED, CircuitBreaker, FaultInjector, LoggingListener
from kcast.service.metrics import MetricsListener, ServiceMetrics
from kcast.systems.base import BasePredictor
from kcast.systems.registry import model_source, spec
from kcast.warehouse import Warehouse

WAREHOUSE_CHECK_SECONDS = 2.0  # how stale /health's warehouse check may be
log = logging.getLogger("kcast.service")


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
    cache: Any = None  # cache.SlateCache, set by create_app
    context: DecisionContext | None = None  # read from the settings once (default)
    # model reload (see ``reload``): the generation of ``systems`` (part of the cache's keys),
    # the model files they were loaded from, and how the last reload went
    generation: int = 0
    model_files: tuple | None = None
    reload_error: str | None = None
    reloaded_at: float | None = None
    checked_at: float | None = None
    reloadable: bool = True  # False when the systems were handed in ready (tests)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.context is None:
            self.context = DecisionContext.from_settings(self.settings)
        self._check_lock = threading.Lock()
        self._checked_at: float | None = None
        self._checking = False
        self._warehouse_ok = False
        for system_id in self.systems:
            if system_id in self.breakers:  # handed in
                self.metrics.track_breaker(self.breakers[system_id])
        self._ensure_breakers()
        if self.model_files is None and self.reloadable:
            with contextlib.suppress(WarehouseError):  # unknown: the first check reloads
                self.model_files = self.current_model_files()

    def _ensure_breakers(self) -> None:
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

    # --- model reload ----------------------------------------------------------------------
    def current_model_files(self) -> tuple:
        """What the active systems would load now: each trainable system's model (its path
        setting, else the registry's active version) as ``ModelSource.fingerprint`` gives it,
        or why it has none. A change means ``kcast train`` (or a new file) is there."""
        out = []
        for system_id in self.active_ids:
            try:
                if not spec(system_id).cls.trainable:
                    continue
                source = model_source(system_id, self.warehouse, self.settings)
                out.append(source.fingerprint(self.settings))
            except WarehouseError:
                raise  # the registry could not be read: nothing is known about the models
            except Exception as exc:  # noqa: BLE001 - a missing model is a state, not a crash
                out.append((system_id, "error", f"{type(exc).__name__}: {exc}"))
        return tuple(out)

    def reload(self, force: bool = False) -> dict[str, Any]:
        """Load the active systems again when their model files changed (or ``force``).

        The new systems are loaded beside the serving ones and swapped in with one
        assignment, so a request in flight finishes on the systems it started with and the
        next one gets the new. When a system that is serving fails to load its new model
        (a broken file), nothing is swapped: the old models keep serving and the error is
        kept in ``reload_error`` (shown by /health) until a reload succeeds.

        Warehouse trouble (a writer holding the file past ``KCAST_LOCK_TIMEOUT``, a full disk)
        says nothing about the models: the ``WarehouseError`` is raised (POST /admin/reload
        answers 503) and nothing is reloaded then or after, when the warehouse is back."""
        with self._reload_lock:
            self.checked_at = time.time()
            if not self.reloadable:
                return self.reload_status(changed=False, note="systems were given ready")
            files = self.current_model_files()
            if files == self.model_files and not force:
                return self.reload_status(changed=False)
            # warehouse trouble raises (a WarehouseError): the models are not read, and are
            # tried again on the next check
            systems, errors = load_systems(self.warehouse, self.settings, self.active_ids)
            broken = {s: e for s, e in errors.items() if s in self.systems}
            if broken:
                self.reload_error = "; ".join(f"{s}: {e}" for s, e in broken.items())
                self.model_files = files  # do not retry the same broken file every poll
                log.error("model reload failed, the old models keep serving: %s", self.reload_error)
                return self.reload_status(changed=False)
            before = {s: self.model_version(s) for s in self.active_ids}
            self.systems = systems  # the swap: one assignment
            self.load_errors = errors
            self.generation += 1
            self._ensure_breakers()
            if self.cache is not None:
                self.cache.clear()  # every kept slate was answered by the old models
            self.model_files = files
            self.reload_error = None
            self.reloaded_at = time.time()
            after = {s: self.model_version(s) for s in self.active_ids}
            log.info("models reloaded: %s -> %s", before, after)
            return self.reload_status(changed=True)

    def reload_status(self, changed: bool | None = None, note: str | None = None) -> dict:
        """/health's ``reload`` entry (and the answer of POST /admin/reload)."""
        out: dict[str, Any] = {
            "generation": self.generation,
            "versions": {s: self.model_version(s) for s in self.active_ids},
            "reloaded_at": self.reloaded_at,
            "checked_at": self.checked_at,
            "interval_seconds": getattr(self.settings, "reload_seconds", None),
            "error": self.reload_error,
        }
        if changed is not None:
            out["changed"] = changed
        if note:
            out["note"] = note
        return out

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
        another process's write; only the first call waits for it (the worker makes it at
        start-up, before serving)."""
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


async def get_state(request: Request) -> ServiceState:
    """The service's state."""
    return request.app.state.kcast


StateDep = Annotated[ServiceState, Depends(get_state)]
