"""One contract suite for every registered system, on real 2018-2019 starts.

Trained on 2018 and the first half of 2019, predicting the second half of 2019.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kcast.decisions import MAX_K, MEMBER_MISSING, MarketBlend, Thresholds, pmf_mean
from kcast.errors import ModelError, NotFittedError, UnknownSystemError
from kcast.features.build import build_features, training_targets
from kcast.systems.base import PREDICTION_COLUMNS, meta_path
from kcast.systems.boosted import BoostedPredictor
from kcast.systems.ensemble_v1 import EnsembleV1Predictor, LearnedWeights
from kcast.systems.registry import SYSTEMS, active_ids, system_class

CUT = pd.Timestamp("2019-07-01")
BOOSTED = [s for s, c in SYSTEMS.items() if issubclass(c, BoostedPredictor)]


@pytest.fixture(scope="module")
def frames(history_frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = build_features(history_frame, training_targets(history_frame))
    return rows[rows["game_date"] < CUT].reset_index(drop=True), rows[
        rows["game_date"] >= CUT
    ].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(frames) -> dict[str, BoostedPredictor]:
    train, _ = frames
    return {s: system_class(s)().fit(train) for s in BOOSTED}


@pytest.mark.parametrize("system_id", BOOSTED)
def test_contract(system_id: str, fitted, frames) -> None:
    _, test = frames
    system = fitted[system_id]
    pmf = system.predict_pmf(test)
    assert pmf.shape == (len(test), MAX_K + 1)
    assert np.allclose(pmf.sum(axis=1), 1.0) and (pmf >= 0).all()
    out = system.predict(test.head(50).assign(line=5.5, over_odds=-110, under_odds=-110))
    assert list(out.frame.columns) == list(PREDICTION_COLUMNS)
    assert set(out.frame["recommendation"]) <= {"OVER", "UNDER", "PASS"}
    assert out.frame["confidence"].between(0, 100).all()
    assert (out.frame["p_over"] + out.frame["p_under"]).round(6).eq(1.0).all()  # x.5: no push
    assert out.frame["system_id"].eq(system_id).all()
    assert out.model_version == system.version_ and system_id in system.version_


@pytest.mark.parametrize("system_id", BOOSTED)
def test_honest_accuracy(system_id: str, fitted, frames) -> None:
    """Strikeouts are noisy: an MAE well below 1.6 would mean look-ahead, above 2.0 a bug."""
    _, test = frames
    mean = pmf_mean(fitted[system_id].predict_pmf(test))
    mae = float(np.abs(mean - test["strikeouts"]).mean())
    naive = (
        test["k_per_start_std"].where(test["starts_std"] >= 3).fillna(test["k_last10"]).fillna(4.8)
    )
    assert 1.6 < mae < 2.0
    assert mae < float(np.abs(naive - test["strikeouts"]).mean())
    # the distribution carries the early-hook tail: P(K <= 2) is not far from what happened
    pmf = fitted[system_id].predict_pmf(test)
    assert abs(pmf[:, :3].sum(axis=1).mean() - (test["strikeouts"] <= 2).mean()) < 0.03


@pytest.mark.parametrize("system_id", BOOSTED)
def test_unfitted_raises(system_id: str, frames) -> None:
    with pytest.raises(NotFittedError, match="must be trained"):
        system_class(system_id)().predict_pmf(frames[1])


@pytest.mark.parametrize("system_id", BOOSTED)
def test_save_load_roundtrip(system_id: str, fitted, frames, tmp_path: Path) -> None:
    system = fitted[system_id]
    path = system.save(tmp_path / f"{system_id}.json")
    meta = json.loads(meta_path(path).read_text())
    assert meta["features"] == list(system.features)
    assert {"training_window", "metrics", "version", "created_at"} <= set(meta)
    loaded = system_class(system_id).load(path)
    assert np.allclose(loaded.predict_pmf(frames[1]), system.predict_pmf(frames[1]))
    assert loaded.version_ == system.version_


def test_broken_model_files(fitted, tmp_path: Path) -> None:
    system = fitted["v1_baseline"]
    path = system.save(tmp_path / "m.json")
    path.write_text(path.read_text()[:1000])
    with pytest.raises(ModelError, match="m.json is unreadable"):
        system_class("v1_baseline").load(path)
    path = system.save(tmp_path / "m.json")
    with pytest.raises(ModelError, match="belongs to system 'v1_baseline', not 'v1_6_rolling'"):
        system_class("v1_6_rolling").load(path)
    with pytest.raises(ModelError, match="does not exist"):
        system_class("v1_baseline").load(tmp_path / "missing.json")


def test_ensemble_blends_and_applies_agreement(fitted, frames) -> None:
    _, test = frames
    rows = test.head(200)
    outs = {s: fitted[s].predict(rows) for s in BOOSTED}
    ens = EnsembleV1Predictor(weights={"v1_baseline": 0.3, "v1_6_rolling": 0.5})
    assert ens.normalised_weights(BOOSTED) == pytest.approx(
        {"v1_baseline": 0.375, "v1_6_rolling": 0.625}
    )
    out = ens.combine(outs, rows)
    expected = 0.375 * outs["v1_baseline"].pmf + 0.625 * outs["v1_6_rolling"].pmf
    assert np.allclose(out.pmf, expected)
    means = np.stack([pmf_mean(o.pmf) for o in outs.values()])
    spread = means.max(0) - means.min(0)
    # same distribution, confidence x1.10 when the members agree within 1 K
    plain = EnsembleV1Predictor().predict(rows, pmf=expected)
    agree = spread <= 1.0
    assert np.allclose(
        out.frame["confidence"][agree],
        np.minimum(100, plain.frame["confidence"][agree] * 1.10),
        atol=0.15,
    )


def test_ensemble_answers_without_a_member(fitted, frames) -> None:
    rows = frames[1].head(20)
    only = {"v1_6_rolling": fitted["v1_6_rolling"].predict(rows)}
    out = EnsembleV1Predictor().combine(only, rows)
    assert np.allclose(out.pmf, only["v1_6_rolling"].pmf)
    assert out.frame["red_flags"].str.contains(MEMBER_MISSING).all()
    assert out.frame["reasons"].str.contains("answered without v1_baseline").all()
    with pytest.raises(ValueError, match="no member to answer from"):
        EnsembleV1Predictor().combine({}, rows)


def test_learned_weights_prefer_the_better_member(fitted, frames) -> None:
    _, test = frames
    good = fitted["v1_6_rolling"].predict_pmf(test)
    flat = np.full_like(good, 1.0 / good.shape[1])
    w = LearnedWeights().fit(
        {"v1_baseline": flat, "v1_6_rolling": good}, test["strikeouts"].to_numpy()
    )
    assert w.weights_["v1_6_rolling"] > 0.9


def test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from kcast.config import get_settings

    assert active_ids() == ["v1_baseline", "v1_6_rolling", "ensemble_v1"]
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "ensemble_v1, v1_6_rolling")
    get_settings.cache_clear()
    assert active_ids() == ["v1_6_rolling", "ensemble_v1"]
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "v1_baseline,v2_magic")
    get_settings.cache_clear()
    with pytest.raises(UnknownSystemError, match="Unknown system 'v2_magic'; known: v1_baseline"):
        active_ids()


def test_thresholds_from_settings(fitted, frames, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = frames[1].head(100).assign(line=4.5, over_odds=-110, under_odds=-110)
    system = fitted["v1_baseline"]
    system.market_blend_ = MarketBlend.model_only()  # the rules on the system's own probability
    strict = system.predict(rows, Thresholds(min_edge=5.0, min_confidence=99))
    assert (strict.frame["recommendation"] == "PASS").all()
    loose = system.predict(rows, Thresholds(min_edge=0.0, min_confidence=0))
    assert (loose.frame["recommendation"] != "PASS").any()


def test_market_blend_setting(copy_warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLB_MARKET_BLEND=off states each system's own probability; auto pools with the market."""
    from kcast.config import get_settings
    from kcast.decisions import MarketBlend
    from kcast.systems.registry import load_system

    assert load_system("ensemble_v1", copy_warehouse).market_blend_ == MarketBlend(0.0, 1.0, 0)
    monkeypatch.setenv("MLB_MARKET_BLEND", "off")
    get_settings.cache_clear()
    assert load_system("ensemble_v1", copy_warehouse).market_blend_ == MarketBlend.model_only()
    monkeypatch.setenv("MLB_MARKET_BLEND", "sometimes")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="MLB_MARKET_BLEND"):
        get_settings()
