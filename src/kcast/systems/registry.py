"""Every prediction system, declared in one place.

To add a system: write its module (a ``BasePredictor`` subclass) and add one entry to
``SYSTEMS``: its class, and the parameters it takes from the settings. An ensemble is declared
the same way, with its members and their weights. ``MLB_ACTIVE_SYSTEMS`` (comma-separated ids)
picks which run; nothing else in kcast needs to know what kind of system an id names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kcast.config import Settings, get_settings
from kcast.errors import ConfigError, ModelError, UnknownSystemError
from kcast.policy import ENSEMBLE_V2_MATCHUP_WEIGHT
from kcast.systems.base import BasePredictor, meta_path
from kcast.systems.eb_rate import EmpiricalBayesPredictor
from kcast.systems.ensemble import EnsemblePredictor
from kcast.systems.v1_6_rolling import V16RollingPredictor
from kcast.systems.v1_baseline import V1BaselinePredictor
from kcast.systems.v2_matchup import MatchupPredictor
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now


@dataclass(frozen=True)
class SystemSpec:
    """How to make a system: its class, the parameters it takes from the settings, and the
    setting (if any) that points at its model file."""

    cls: type[BasePredictor]
    params: Callable[[Settings], Mapping[str, Any]] = field(default=lambda s: {})
    model_path_setting: str | None = None

    def build(self, system_id: str, settings: Settings) -> BasePredictor:
        """An unfitted instance (a system with no model file is ready as it is)."""
        return self.cls(system_id=system_id, **self.params(settings))


def _ensemble_v1_members(settings: Settings) -> dict[str, float]:
    return {
        "v1_baseline": settings.ensemble_v1_weight,
        "v1_6_rolling": settings.ensemble_v1_6_weight,
    }


SYSTEMS: dict[str, SystemSpec] = {
    "v1_baseline": SystemSpec(V1BaselinePredictor, model_path_setting="v1_model_path"),
    "v1_6_rolling": SystemSpec(V16RollingPredictor, model_path_setting="v1_6_model_path"),
    "eb_rate": SystemSpec(EmpiricalBayesPredictor),
    "v2_matchup": SystemSpec(MatchupPredictor),
    "ensemble_v1": SystemSpec(EnsemblePredictor, lambda s: {"members": _ensemble_v1_members(s)}),
    # the same blend with its weights learned walk-forward from graded history
    "ensemble_v1_learned": SystemSpec(
        EnsemblePredictor,
        lambda s: {"members": _ensemble_v1_members(s), "learn_weights": True},
    ),
    # the v1 systems and v2_matchup, weights learned walk-forward from graded history
    "ensemble_v2": SystemSpec(
        EnsemblePredictor,
        lambda s: {
            "members": {**_ensemble_v1_members(s), "v2_matchup": ENSEMBLE_V2_MATCHUP_WEIGHT},
            "learn_weights": True,
        },
    ),
}


def spec(system_id: str) -> SystemSpec:
    """The registry entry of ``system_id``, or an error that lists the known ids."""
    try:
        return SYSTEMS[system_id]
    except KeyError:
        raise UnknownSystemError(
            f"Unknown system {system_id!r}; known: {', '.join(SYSTEMS)}"
        ) from None


def system_class(system_id: str) -> type[BasePredictor]:
    return spec(system_id).cls


def build_system(system_id: str, settings: Settings | None = None) -> BasePredictor:
    """An unfitted ``system_id`` with its parameters from the settings."""
    return spec(system_id).build(system_id, settings or get_settings())


def members_of(system_id: str, settings: Settings | None = None) -> tuple[str, ...]:
    """The systems ``system_id`` is built on (none for a system of its own)."""
    return build_system(system_id, settings).member_ids


def dependency_order(ids: list[str], members: Callable[[str], tuple[str, ...]]) -> list[str]:
    """``ids`` with every system after the members it is built on, otherwise as given."""
    ordered: list[str] = []

    def visit(system_id: str, path: tuple[str, ...]) -> None:
        if system_id in ordered:
            return
        if system_id in path:
            raise ConfigError(f"systems built on each other in a loop: {' -> '.join(path)}")
        for member in members(system_id):
            if member in ids:
                visit(member, (*path, system_id))
        ordered.append(system_id)

    for system_id in ids:
        visit(system_id, ())
    return ordered


def active_ids(settings: Settings | None = None) -> list[str]:
    """The ids in ``MLB_ACTIVE_SYSTEMS``, checked, members before the systems built on them.

    A system whose members are none of them active is refused: it would have nothing to
    answer from."""
    settings = settings or get_settings()
    ids = settings.active_system_ids
    if not ids:
        raise UnknownSystemError(f"MLB_ACTIVE_SYSTEMS is empty; known: {', '.join(SYSTEMS)}")
    for system_id in ids:
        spec(system_id)
    for system_id in ids:
        members = members_of(system_id, settings)
        if members and not set(members) & set(ids):
            raise ConfigError(
                f"MLB_ACTIVE_SYSTEMS={settings.active_systems}: {system_id} is built on "
                f"{', '.join(members)}, and none of them is active; add them"
            )
    return dependency_order(ids, lambda s: members_of(s, settings))


def backtest_ids(settings: Settings | None = None) -> list[str]:
    """What a backtest compares by default: the active systems, then every other registered
    system whose members are all among them (so a new system is measured beside the others)."""
    settings = settings or get_settings()
    ids = active_ids(settings)
    for system_id in SYSTEMS:
        if system_id not in ids and set(members_of(system_id, settings)) <= set(ids):
            ids.append(system_id)
    return dependency_order(ids, lambda s: members_of(s, settings))


def trainable_ids(ids: list[str] | None = None) -> list[str]:
    """Systems with a model file to train (an ensemble's members are what is trained)."""
    ids = ids or list(SYSTEMS)
    return [s for s in ids if system_class(s).trainable]


def register_model(wh: Warehouse, system: BasePredictor, path: Path, activate: bool = True) -> None:
    """Record a trained model in ``model_registry``; make it the active version of its system."""
    meta = system.metadata_
    window = meta.get("training_window", {})
    with wh.transaction():
        if activate:
            wh.execute(
                "UPDATE model_registry SET is_active = FALSE WHERE system_id = $s",
                {"s": system.system_id},
            )
        wh.upsert(
            "model_registry",
            pd.DataFrame(
                [
                    {
                        "system_id": system.system_id,
                        "version": system.version_,
                        "path": str(Path(path).resolve()),
                        "trained_through": window.get("trained_through"),
                        "training_rows": window.get("rows"),
                        "metrics": json.dumps(meta.get("metrics", {})),
                        "features": json.dumps(list(system.features)),
                        "is_active": activate,
                        "created_at": utc_now(),
                    }
                ]
            ),
        )


def active_model_path(wh: Warehouse, system_id: str) -> Path | None:
    rows = wh.query(
        "SELECT path FROM model_registry WHERE system_id = $s AND is_active "
        "ORDER BY created_at DESC LIMIT 1",
        {"s": system_id},
    )
    return Path(rows["path"].iloc[0]) if len(rows) else None


def model_path(system_id: str, wh: Warehouse | None, settings: Settings) -> Path:
    """The model file of a trainable system: its path setting, else the registry's active one."""
    setting = spec(system_id).model_path_setting
    path = getattr(settings, setting) if setting else None
    if path is None and wh is not None:
        path = active_model_path(wh, system_id)
    if path is None:
        hint = f"set {setting.upper()} or " if setting else ""
        raise ModelError(f"{system_id} has no model: {hint}run `kcast train --through DATE`")
    path = Path(path)
    if path.is_dir():  # a folder holding one model file
        candidates = sorted(p for p in path.glob("*.json") if not p.name.endswith(".meta.json"))
        if len(candidates) != 1:
            raise ModelError(f"{path} should hold exactly one model file, found {len(candidates)}")
        path = candidates[0]
    if path.exists() and not meta_path(path).exists():
        raise ModelError(f"model {path} has no metadata file beside it")
    return path


def load_system(
    system_id: str,
    wh: Warehouse | None = None,
    settings: Settings | None = None,
    loaded: dict[str, BasePredictor] | None = None,
) -> BasePredictor:
    """A ready system: its model loaded (path setting, else the registry's active version),
    and for a system built on others, those members loaded and bound to it.

    The market blend is the prior here; ``with_history`` fits it on what was graded before the
    day predicted."""
    settings = settings or get_settings()
    loaded = {} if loaded is None else loaded
    if system_id in loaded:
        return loaded[system_id]
    entry = spec(system_id)
    if entry.cls.trainable:
        system = entry.cls.load(model_path(system_id, wh, settings), system_id=system_id)
    else:
        system = entry.build(system_id, settings)
    if system.member_ids:
        members = {}
        for member in system.member_ids:
            try:
                members[member] = load_system(member, wh, settings, loaded)
            except Exception:  # noqa: BLE001 - it answers from the members that load
                continue
        system.bind_members(members)
    loaded[system_id] = system
    return system
