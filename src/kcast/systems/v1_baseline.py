"""``v1_baseline``: season-level rates, the pitcher's and his opponent's."""

from __future__ import annotations

from kcast.features.build import BASELINE_FEATURES
from kcast.systems.boosted import BoostedPredictor


class V1BaselinePredictor(BoostedPredictor):
    """Strikeouts from season-to-date, last-season and career rates, rest, park and opponent."""

    system_id = "v1_baseline"
    description = "season-level rates (about 25 features), gradient-boosted"
    features = BASELINE_FEATURES
    model_params = {"max_depth": 3}
