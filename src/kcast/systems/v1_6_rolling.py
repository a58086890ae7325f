"""``v1_6_rolling``: the baseline plus recent form and workload over rolling windows."""

from __future__ import annotations

from kcast.features.build import ROLLING_FEATURES
from kcast.systems.boosted import BoostedPredictor


class V16RollingPredictor(BoostedPredictor):
    """Strikeouts from rolling 3/5/10-start form, the leash (recent pitch counts) and trend."""

    system_id = "v1_6_rolling"
    description = "season rates plus rolling 3/5/10-start form and workload (about 45 features)"
    features = ROLLING_FEATURES
    model_params = {"max_depth": 4}
