"""The base of kcast's gradient-boosted systems: a ``StrikeoutDistributionModel`` per system."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kcast.errors import ModelError
from kcast.systems.base import BasePredictor
from kcast.systems.gbm import StrikeoutDistributionModel, holdout_mask


class BoostedPredictor(BasePredictor):
    """A system whose distribution comes from a ``StrikeoutDistributionModel``.

    Subclasses declare ``system_id``, ``description``, ``features`` and ``model_params``.
    """

    model_params: ClassVar[dict[str, Any]] = {}

    def __init__(self, system_id: str | None = None, **params: Any) -> None:
        super().__init__(system_id, **params)
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
        self._training_metadata(
            frame,
            info.get("trained_through"),
            metrics=model.metrics,
            rounds=model.rounds,
            calibration={"kappa": model.calibration.kappa},
        )

    def _predict_pmf(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.model_ is not None
        return self.model_.predict_pmf(frame)

    def predict_parts(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(strikeout rate, expected batters faced) per row."""
        assert self.model_ is not None
        return self.model_.predict_parts(frame)

    def _state(self) -> dict[str, Any]:
        assert self.model_ is not None
        return self.model_.to_json()

    def _from_state(self, data: dict[str, Any], source: str) -> None:
        model = StrikeoutDistributionModel.from_json(data, source=source)
        if tuple(model.features) != tuple(self.features):
            raise ModelError(
                f"model {source} was trained on other features than {self.system_id} uses now; "
                "retrain it with `kcast train`"
            )
        self.model_ = model
