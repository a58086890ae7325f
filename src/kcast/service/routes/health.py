"""``/health`` and ``/systems``: is the worker alive, and how is each system."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException

from kcast import __version__
from kcast.errors import quoted
from kcast.service.deps import StateDep
from kcast.service.routes import ERRORS, INVALID, READ
from kcast.service.schemas import BreakerInfo, HealthResponse, SystemHealth, SystemInfo
from kcast.service.security import ReaderDep, public_text
from kcast.systems.registry import SYSTEMS, build_system

router = APIRouter(tags=["health"])


def _public(entry: dict, state: StateDep) -> dict:
    """An answer's error texts with model paths relative to the model directory."""
    model_dir = state.settings.model_dir
    for key in ("last_error", "load_error"):
        if entry.get(key):
            entry[key] = public_text(entry[key], model_dir)
    return entry


@router.get("/health", response_model=HealthResponse, responses=INVALID)
async def health(state: StateDep) -> HealthResponse:
    """Report liveness, the warehouse, and each active system's breaker and model.

    Always open (probes carry no token), also with KCAST_AUTH_READS=true. Answered on the
    event loop from what the worker holds (the warehouse check runs in the background): it
    never waits for a thread of the pool, which busy requests may all hold."""
    systems = {s: SystemHealth(**_public(state.system_health(s), state)) for s in state.active_ids}
    warehouse_ok = state.warehouse_ok()
    usable = [h for h in systems.values() if h.status != "failed"]
    if not warehouse_ok or not usable:
        status = "down"
    elif all(h.status == "ok" for h in systems.values()) and not state.reload_error:
        status = "ok"
    else:
        status = "degraded"
    return HealthResponse(
        status=status,
        version=__version__,
        warehouse=state.warehouse.engine,
        warehouse_ok=warehouse_ok,
        uptime_seconds=round(time.monotonic() - state.started_at, 3),
        systems=systems,
        reload=state.reload_status(),
    )


def system_info(state: StateDep, system_id: str) -> SystemInfo:
    system = state.systems.get(system_id) or build_system(system_id, state.settings)
    breaker = state.breakers.get(system_id)
    snapshot = None if breaker is None else _public(dict(breaker.snapshot()), state)
    return SystemInfo(
        system_id=system_id,
        description=system.description,
        is_ensemble=bool(system.member_ids),
        members=list(system.member_ids),
        features_count=len(system.features),
        active=system_id in state.active_ids,
        loaded=system_id in state.systems,
        load_error=public_text(state.load_errors.get(system_id), state.settings.model_dir),
        model_version=state.model_version(system_id),
        breaker=None if snapshot is None else BreakerInfo(**snapshot),
    )


@router.get("/systems", response_model=list[SystemInfo], dependencies=[ReaderDep], responses=READ)
def systems(state: StateDep) -> list[SystemInfo]:
    """List every registered system: description, features, active, model, breaker."""
    return [system_info(state, s) for s in SYSTEMS]


@router.get(
    "/systems/{system_id}", response_model=SystemInfo, responses=ERRORS, dependencies=[ReaderDep]
)
def system(system_id: str, state: StateDep) -> SystemInfo:
    """Describe one registered system."""
    if system_id not in SYSTEMS:
        raise HTTPException(404, f"unknown system {quoted(system_id)}; known: {', '.join(SYSTEMS)}")
    return system_info(state, system_id)
