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
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import pandas as pd

from kcast import model_store
from kcast.config import Settings, env_name, get_settings
from kcast.errors import ConfigError, ModelError, UnknownSystemError
from kcast.model_store import StoredModel, meta_path
from kcast.policy import ENSEMBLE_V2_MATCHUP_WEIGHT
from kcast.systems.base import BasePredictor
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
    """``ids`` with every system after the members it is built on, otherwise in the order
    given: ``graphlib`` keeps the graph and finds any loop (a ``ConfigError`` naming it); of
    the systems ready at each step, the one given first comes first."""
    graph = TopologicalSorter({s: [m for m in members(s) if m in ids] for s in ids})
    try:
        graph.prepare()
    except CycleError as exc:
        loop = " -> ".join(exc.args[1])
        raise ConfigError(f"systems built on each other in a loop: {loop}") from None
    position = {s: i for i, s in enumerate(ids)}
    ready: list[str] = []
    ordered: list[str] = []
    while graph.is_active():
        ready = sorted([*ready, *graph.get_ready()], key=position.__getitem__)
        ordered.append(ready.pop(0))
        graph.done(ordered[-1])
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


def register_model(
    wh: Warehouse, system: BasePredictor, stored: StoredModel, activate: bool = True
) -> None:
    """Record a trained model (its location and hash) in ``model_registry``; make it the active
    version of its system."""
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
                        "path": stored.location,
                        "sha256": stored.sha256,
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


@dataclass(frozen=True)
class ModelSource:
    """Where a trainable system's model comes from: its path setting (``setting`` names it),
    else the registry's active version (``location`` and the ``sha256`` recorded with it)."""

    system_id: str
    location: str
    sha256: str | None = None
    setting: str | None = None

    def local_file(self, settings: Settings) -> Path:
        """The model file on this machine (downloaded and checked for a gs:// location)."""
        if self.setting is not None:
            path = self._local_path(settings)
        else:
            path = model_store.fetch(
                self.location, self.sha256, settings.model_dir, settings.cache_dir
            )
        if path.is_dir():  # a folder holding one model file
            files = sorted(p for p in path.glob("*.json") if not p.name.endswith(".meta.json"))
            if len(files) != 1:
                raise ModelError(f"{path} should hold exactly one model file, found {len(files)}")
            path = files[0]
        if not path.exists():
            hint = ""
            if self.setting is None and not Path(self.location).is_absolute():
                hint = (
                    f" (the registry's {self.location} under KCAST_MODEL_DIR="
                    f"{settings.model_dir}: point KCAST_MODEL_DIR at the folder `kcast train` "
                    "wrote to)"
                )
            raise ModelError(f"model file {path} does not exist{hint}")
        if not meta_path(path).exists():
            raise ModelError(f"model {path} has no metadata file beside it")
        return path

    def fingerprint(self, settings: Settings) -> tuple:
        """What changes when a different model would load: the location and recorded hash,
        and for a local file its size and modification time (a file replaced in place)."""
        if model_store.is_gcs(self.location):
            return (self.system_id, self.location, self.sha256)
        stat = self._local_path(settings).stat()
        return (self.system_id, self.location, self.sha256, stat.st_size, stat.st_mtime_ns)

    def _local_path(self, settings: Settings) -> Path:
        """A path setting's path as given (relative to the working folder); a registry
        location under ``KCAST_MODEL_DIR`` (or absolute)."""
        if self.setting is not None:
            return Path(self.location)
        return model_store.local_path(self.location, settings.model_dir)


def active_model(wh: Warehouse, system_id: str) -> tuple[str, str | None] | None:
    """The registry's active model of ``system_id``: its location and recorded SHA-256."""
    rows = wh.query(
        "SELECT path, sha256 FROM model_registry WHERE system_id = $s AND is_active "
        "ORDER BY created_at DESC LIMIT 1",
        {"s": system_id},
    )
    if not len(rows):
        return None
    sha = rows["sha256"].iloc[0]
    return str(rows["path"].iloc[0]), (None if pd.isna(sha) else str(sha))


def model_source(system_id: str, wh: Warehouse | None, settings: Settings) -> ModelSource:
    """Where ``system_id``'s model comes from: its path setting, else the registry."""
    setting = spec(system_id).model_path_setting
    path = getattr(settings, setting) if setting else None
    if path is not None:
        return ModelSource(system_id, str(path), setting=env_name(setting))
    active = active_model(wh, system_id) if wh is not None else None
    if active is None:
        hint = f"set {env_name(setting)} or " if setting else ""
        raise ModelError(f"{system_id} has no model: {hint}run `kcast train --through DATE`")
    return ModelSource(system_id, *active)


def model_path(system_id: str, wh: Warehouse | None, settings: Settings) -> Path:
    """The local model file of a trainable system: its path setting, else the registry's
    active one (a relative location under ``KCAST_MODEL_DIR``, a gs:// one downloaded)."""
    return model_source(system_id, wh, settings).local_file(settings)


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
