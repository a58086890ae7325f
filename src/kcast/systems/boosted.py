"""The base of kcast's gradient-boosted systems: training, saving and loading their model file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kcast.errors import ModelError
from kcast.systems.base import BasePredictor, meta_path
from kcast.systems.gbm import StrikeoutDistributionModel, holdout_mask, read_model_file


class BoostedPredictor(BasePredictor):
    """A system whose distribution comes from a ``StrikeoutDistributionModel``.

    Subclasses declare ``system_id``, ``description``, ``features`` and ``model_params``.
    """

    model_params: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.model_: StrikeoutDistributionModel | None = None

    def _fit(self, frame: pd.DataFrame, **info: Any) -> None:
        model = StrikeoutDistributionModel(self.features, {**self.model_params, **self.params})
        reuse = info.get("reuse")
        if isinstance(reuse, BoostedPredictor) and reuse.model_ is not None:
            # a walk-forward refit: same rounds and calibration, new data
            model.calibration = reuse.model_.calibration
            model.fit(frame, rounds=reuse.model_.rounds)
            model.metrics = dict(reuse.model_.metrics)
        else:
            model.fit(frame, holdout=holdout_mask(frame))
        self.model_ = model
        through = info.get("trained_through") or (
            pd.to_datetime(frame["game_date"]).max().date() + dt.timedelta(days=1)
        )
        self.metadata_ = {
            "system_id": self.system_id,
            "features": list(self.features),
            "training_window": {
                "first_game": str(pd.to_datetime(frame["game_date"]).min().date()),
                "last_game": str(pd.to_datetime(frame["game_date"]).max().date()),
                "trained_through": str(through),
                "rows": int(len(frame)),
            },
            "metrics": model.metrics,
            "rounds": model.rounds,
            "calibration": {"kappa": model.calibration.kappa},
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        self.version_ = f"{self.system_id}-{str(through).replace('-', '')}-{model.fingerprint()}"
        self.metadata_["version"] = self.version_

    def _predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.model_ is not None
        return self.model_.predict_pmf(frame)

    def predict_parts(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(strikeout rate, expected batters faced) per row."""
        assert self.model_ is not None
        return self.model_.predict_parts(frame)

    def save(self, path: Path) -> Path:
        if self.model_ is None:
            raise ModelError(f"{self.system_id} has not been trained; nothing to save")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_.to_json()))
        meta_path(path).write_text(json.dumps(self.metadata_, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: Path) -> BoostedPredictor:
        path = Path(path)
        model = StrikeoutDistributionModel.from_json(read_model_file(path), source=str(path))
        meta_file = meta_path(path)
        if not meta_file.exists():
            raise ModelError(f"model {path} has no metadata file {meta_file.name} beside it")
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"metadata file {meta_file} is unreadable: {exc}") from exc
        if meta.get("system_id") != cls.system_id:
            raise ModelError(
                f"model {path} belongs to system {meta.get('system_id')!r}, not {cls.system_id!r}"
            )
        if tuple(model.features) != tuple(cls.features):
            raise ModelError(
                f"model {path} was trained on other features than {cls.system_id} uses now; "
                "retrain it with `kcast train`"
            )
        system = cls()
        system.model_ = model
        system.metadata_ = meta
        system.version_ = meta.get("version", path.stem)
        system.fitted_ = True
        return system
