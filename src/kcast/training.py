"""``kcast train``: fit each trainable system on games before a date and register it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kcast.config import Settings, get_settings
from kcast.errors import InputError
from kcast.features.build import build_features, load_history, training_targets
from kcast.features.matchup import MatchupContext
from kcast.model_store import save_model
from kcast.systems.registry import build_system, register_model, trainable_ids
from kcast.warehouse import Warehouse


@dataclass
class TrainedModel:
    system_id: str
    version: str
    location: str  # as model_registry records it
    rows: int
    metrics: dict[str, float]


def training_frame(wh: Warehouse, through: dt.date) -> pd.DataFrame:
    """Feature rows with outcomes for every regular-season start before ``through``."""
    history = load_history(wh, before=through)
    targets = training_targets(history)
    if targets.empty:
        raise InputError(f"no starts before {through} in the warehouse; ingest some seasons first")
    frame = build_features(history, targets)
    return MatchupContext.from_warehouse(wh, before=through).attach(frame)


def train_systems(
    wh: Warehouse,
    through: dt.date,
    model_dir: str | Path,
    system_ids: list[str] | None = None,
    frame: pd.DataFrame | None = None,
    settings: Settings | None = None,
) -> list[TrainedModel]:
    """Train, save and register each trainable system on starts before ``through``.

    ``model_dir`` is a local folder or ``gs://BUCKET/PATH``; a local file under
    ``KCAST_MODEL_DIR`` is registered relative to it (``kcast.model_store``)."""
    settings = settings or get_settings()
    frame = training_frame(wh, through) if frame is None else frame
    trained = []
    for system_id in trainable_ids(system_ids):
        system = build_system(system_id, settings).fit(frame, trained_through=through)
        stored = save_model(system, model_dir, settings.model_dir)
        register_model(wh, system, stored)
        trained.append(
            TrainedModel(
                system_id,
                system.version_ or "",
                stored.location,
                len(frame),
                dict(system.metadata_.get("metrics", {})),
            )
        )
    return trained
