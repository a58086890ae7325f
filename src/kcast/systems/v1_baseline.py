"""``v1_baseline``: season-level rates, the pitcher's and his opponent's."""

from __future__ import annotations

from kcast.features.build import BASELINE_FEATURES
from kcast.systems.boosted import BoostedPredictor


class V1BaselinePredictor(BoostedPredictor):
    """Strikeouts from season-to-date, last-season and career rates, rest, park and opponent.

    Examples
    --------
    >>> system = V1BaselinePredictor().fit(training_rows)      # doctest: +SKIP
    >>> system.predict(slate_rows).frame[["pitcher_id", "predicted_strikeouts"]]  # doctest: +SKIP
    """

    system_id = "v1_baseline"
    description = "season-level rates (about 25 features), gradient-boosted"
    features = BASELINE_FEATURES
    model_params = {"max_depth": 3}
