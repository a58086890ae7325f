"""The strikeout-distribution model's training path: held-out season, early stopping, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kcast.systems.gbm import StrikeoutDistributionModel, holdout_mask

FEATURES = ("k_skill", "stamina")


def _starts(n_per_season: int = 400, seed: int = 3) -> pd.DataFrame:
    """Two seasons of starts whose strikeouts and workload follow two features."""
    rng = np.random.default_rng(seed)
    parts = []
    for season in (2018, 2019):
        skill = rng.normal(0, 1, n_per_season)
        stamina = rng.normal(0, 1, n_per_season)
        bf = np.clip(np.round(24 + 3 * stamina + rng.normal(0, 3, n_per_season)), 3, 40)
        p = 1 / (1 + np.exp(-(-1.5 + 0.4 * skill)))
        days = pd.date_range(f"{season}-04-01", f"{season}-09-30", periods=n_per_season)
        parts.append(
            pd.DataFrame(
                {
                    "game_date": days,
                    "k_skill": skill,
                    "stamina": stamina,
                    "batters_faced": bf.astype(int),
                    "strikeouts": rng.binomial(bf.astype(int), p),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _with_zero_bf(frame: pd.DataFrame) -> pd.DataFrame:
    """The same starts plus one listed starter who faced nobody (in the training season)."""
    zero = frame.iloc[[10]].assign(batters_faced=0, strikeouts=0)
    return pd.concat([frame.iloc[:11], zero, frame.iloc[11:]], ignore_index=True)


def _fit(frame: pd.DataFrame) -> StrikeoutDistributionModel:
    return StrikeoutDistributionModel(FEATURES).fit(frame, holdout=holdout_mask(frame))


def test_holdout_validation_and_calibration_happen() -> None:
    frame = _starts()
    model = _fit(frame)
    assert model.metrics["holdout_rows"] == (frame["game_date"].dt.year == 2019).sum()
    assert model.calibration.residual_pmfs  # calibrated on the held-out season
    assert set(model.rounds) == {"k_rate", "batters_faced"}


def test_a_starter_who_faced_nobody_keeps_the_holdout() -> None:
    """One row with batters_faced == 0 used to make the mask and the frame differ in length,
    so the held-out season, early stopping and calibration were silently skipped."""
    frame = _starts()
    clean = _fit(frame)
    model = _fit(_with_zero_bf(frame))
    assert model.metrics, "the held-out season was dropped"
    assert model.metrics["holdout_rows"] == clean.metrics["holdout_rows"]
    assert model.calibration.residual_pmfs
    # the zero row is left out, so the fit is the one without it
    assert model.rounds == clean.rounds
    assert model.calibration.kappa == pytest.approx(clean.calibration.kappa)
    assert model.metrics == pytest.approx(clean.metrics)


def test_a_zero_bf_row_in_the_held_out_season() -> None:
    frame = _starts()
    late = frame.index[frame["game_date"].dt.year == 2019][5]
    frame.loc[late, ["batters_faced", "strikeouts"]] = 0
    model = _fit(frame)
    assert model.metrics["holdout_rows"] == (frame["game_date"].dt.year == 2019).sum() - 1
    assert np.isfinite(model.metrics["holdout_nll"])


def test_a_holdout_of_the_wrong_length_is_refused() -> None:
    frame = _starts(100)
    with pytest.raises(ValueError, match="holdout has 199 entries for a frame of 200 rows"):
        StrikeoutDistributionModel(FEATURES).fit(frame, holdout=holdout_mask(frame)[:-1])
