"""Every prediction system, declared in one place.

To add a system: write its module (a ``BasePredictor`` subclass) and add one line to ``SYSTEMS``.
``MLB_ACTIVE_SYSTEMS`` (comma-separated ids, default all three) picks which run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from kcast.config import Settings, get_settings
from kcast.decisions import MarketBlend
from kcast.errors import ModelError, UnknownSystemError
from kcast.systems.base import BasePredictor, meta_path
from kcast.systems.boosted import BoostedPredictor
from kcast.systems.ensemble_v1 import EnsembleV1Predictor
from kcast.systems.v1_6_rolling import V16RollingPredictor
from kcast.systems.v1_baseline import V1BaselinePredictor
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now

SYSTEMS: dict[str, type[BasePredictor]] = {
    "v1_baseline": V1BaselinePredictor,
    "v1_6_rolling": V16RollingPredictor,
    "ensemble_v1": EnsembleV1Predictor,
}


def system_class(system_id: str) -> type[BasePredictor]:
    try:
        return SYSTEMS[system_id]
    except KeyError:
        raise UnknownSystemError(
            f"Unknown system {system_id!r}; known: {', '.join(SYSTEMS)}"
        ) from None


def active_ids(settings: Settings | None = None) -> list[str]:
    """The ids in ``MLB_ACTIVE_SYSTEMS``, checked, members before ensembles."""
    settings = settings or get_settings()
    ids = settings.active_system_ids
    for system_id in ids:
        system_class(system_id)
    if not ids:
        raise UnknownSystemError(f"MLB_ACTIVE_SYSTEMS is empty; known: {', '.join(SYSTEMS)}")
    return sorted(ids, key=lambda s: (system_class(s).is_ensemble, ids.index(s)))


def trainable_ids(ids: list[str] | None = None) -> list[str]:
    """Systems with a model file to train (the ensembles blend others)."""
    ids = ids or list(SYSTEMS)
    return [s for s in ids if issubclass(system_class(s), BoostedPredictor)]


def model_path_setting(system_id: str, settings: Settings) -> Path | None:
    return {"v1_baseline": settings.v1_model_path, "v1_6_rolling": settings.v1_6_model_path}.get(
        system_id
    )


def ensemble_weights(settings: Settings) -> dict[str, float]:
    return {
        "v1_baseline": settings.ensemble_v1_weight,
        "v1_6_rolling": settings.ensemble_v1_6_weight,
    }


def register_model(
    wh: Warehouse, system: BoostedPredictor, path: Path, activate: bool = True
) -> None:
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


def learn_market_blend(wh: Warehouse, system_id: str, before: dt.date | None = None) -> MarketBlend:
    """The system's market blend, fitted on its graded predictions (before ``before``)."""
    before = before or dt.date.today()
    rows = wh.query(
        """SELECT model_p_over, market_p_over, line, actual_strikeouts
           FROM pitcher_strikeout_predictions
           WHERE system_id = $s AND game_date < $d AND actual_strikeouts IS NOT NULL
             AND line IS NOT NULL AND model_p_over IS NOT NULL AND market_p_over IS NOT NULL
             AND actual_strikeouts <> line""",
        {"s": system_id, "d": before},
    )
    if rows.empty:
        return MarketBlend()
    over = (rows["actual_strikeouts"].astype(float) > rows["line"].astype(float)).astype(float)
    return MarketBlend.fit(
        rows["model_p_over"].to_numpy(float),
        rows["market_p_over"].to_numpy(float),
        over.to_numpy(float),
    )


def load_system(
    system_id: str, wh: Warehouse | None = None, settings: Settings | None = None
) -> BasePredictor:
    """A ready system: its model from the path setting, else the registry's active version."""
    settings = settings or get_settings()
    system = _load_system(system_id, wh, settings)
    if settings.market_blend == "off":
        system.market_blend_ = MarketBlend.model_only()
    elif wh is not None:
        system.market_blend_ = learn_market_blend(wh, system_id)
    return system


def _load_system(system_id: str, wh: Warehouse | None, settings: Settings) -> BasePredictor:
    cls = system_class(system_id)
    if cls is EnsembleV1Predictor:
        return EnsembleV1Predictor(weights=ensemble_weights(settings))
    if issubclass(cls, BoostedPredictor):
        path = model_path_setting(system_id, settings)
        if path is None and wh is not None:
            path = active_model_path(wh, system_id)
        if path is None:
            raise ModelError(
                f"{system_id} has no model: set its model path setting or run "
                "`kcast train --through DATE`"
            )
        if Path(path).is_dir():  # a folder holding one model file
            candidates = sorted(
                p for p in Path(path).glob("*.json") if not p.name.endswith(".meta.json")
            )
            if len(candidates) != 1:
                raise ModelError(
                    f"{path} should hold exactly one model file, found {len(candidates)}"
                )
            path = candidates[0]
        if not meta_path(Path(path)).exists() and Path(path).exists():
            raise ModelError(f"model {path} has no metadata file beside it")
        return cls.load(Path(path))
    return cls()
