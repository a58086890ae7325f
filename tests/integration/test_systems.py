"""One contract suite for every registered system, ensembles included, on real 2018-2019 starts.

Trained on 2018 and the first half of 2019, predicting the second half of 2019. Every system in
``registry.SYSTEMS`` gets every contract test: a new system is covered by adding it there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kcast.context import DecisionContext
from kcast.decisions import MAX_K, MEMBER_MISSING, MarketBlend, Thresholds, pmf_mean
from kcast.errors import ConfigError, ModelError, NotFittedError, UnknownSystemError
from kcast.features.build import build_features, training_targets
from kcast.features.matchup import MatchupContext
from kcast.systems.base import PREDICTION_COLUMNS, SystemOutput, meta_path
from kcast.systems.ensemble import EnsemblePredictor, LearnedWeights
from kcast.systems.registry import SYSTEMS, active_ids, build_system, system_class
from kcast.warehouse import open_warehouse

CUT = pd.Timestamp("2019-07-01")
ALL = list(SYSTEMS)
TRAINABLE = [s for s in ALL if system_class(s).trainable]
BUILT_ON_OTHERS = [s for s in ALL if build_system(s).member_ids]


@pytest.fixture(scope="module")
def frames(
    history_frame: pd.DataFrame, history_warehouse: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    wh = open_warehouse(str(history_warehouse), migrate=False)
    try:
        matchup = MatchupContext.from_warehouse(wh)
    finally:
        wh.close()
    rows = matchup.attach(build_features(history_frame, training_targets(history_frame)))
    return rows[rows["game_date"] < CUT].reset_index(drop=True), rows[
        rows["game_date"] >= CUT
    ].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(frames) -> dict:
    """Every registered system, ready: the trainable ones fitted, the others bound to them."""
    train, _ = frames
    systems = {s: build_system(s).fit(train) for s in TRAINABLE}
    for s in BUILT_ON_OTHERS:
        systems[s] = build_system(s).bind_members(systems)
    return systems


@pytest.mark.parametrize("system_id", ALL)
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
    assert system_id in out.model_version
    assert np.allclose(out.pmf, pmf[:50])  # predict and predict_pmf are the same maths


@pytest.mark.parametrize("system_id", ALL)
def test_honest_accuracy(system_id: str, fitted, frames) -> None:
    """Strikeouts are noisy: an MAE well below 1.6 would mean look-ahead, above 2.0 a bug."""
    _, test = frames
    pmf = fitted[system_id].predict_pmf(test)
    mae = float(np.abs(pmf_mean(pmf) - test["strikeouts"]).mean())
    naive = (
        test["k_per_start_std"].where(test["starts_std"] >= 3).fillna(test["k_last10"]).fillna(4.8)
    )
    assert 1.6 < mae < 2.0
    assert mae < float(np.abs(naive - test["strikeouts"]).mean())
    # the distribution carries the early-hook tail: P(K <= 2) is not far from what happened
    assert abs(pmf[:, :3].sum(axis=1).mean() - (test["strikeouts"] <= 2).mean()) < 0.03


@pytest.mark.parametrize("system_id", ALL)
def test_unready_raises(system_id: str, frames) -> None:
    """A trainable system must be trained, a system built on others given its members."""
    with pytest.raises(NotFittedError, match="must be trained|no member systems to ask"):
        build_system(system_id).predict_pmf(frames[1])


@pytest.mark.parametrize("system_id", ALL)
def test_model_file(system_id: str, fitted, frames, tmp_path: Path) -> None:
    """A trainable system saves and loads losslessly; any other has no file to save."""
    system = fitted[system_id]
    if not system.trainable:
        with pytest.raises(ModelError, match="no model file"):
            system.save(tmp_path / "m.json")
        return
    path = system.save(tmp_path / f"{system_id}.json")
    meta = json.loads(meta_path(path).read_text())
    assert meta["features"] == list(system.features)
    assert {"training_window", "metrics", "version", "created_at"} <= set(meta)
    loaded = system_class(system_id).load(path, system_id=system_id)
    assert np.allclose(loaded.predict_pmf(frames[1]), system.predict_pmf(frames[1]))
    assert loaded.version_ == system.version_


@pytest.mark.parametrize("system_id", TRAINABLE)
def test_broken_model_files(system_id: str, fitted, tmp_path: Path) -> None:
    cls = system_class(system_id)
    path = fitted[system_id].save(tmp_path / "m.json")
    path.write_text(path.read_text()[:100])
    with pytest.raises(ModelError, match="m.json is unreadable"):
        cls.load(path)
    path = fitted[system_id].save(tmp_path / "m.json")
    other = next(s for s in TRAINABLE if s != system_id)
    with pytest.raises(ModelError, match=f"belongs to system '{system_id}', not '{other}'"):
        system_class(other).load(path, system_id=other)
    with pytest.raises(ModelError, match="does not exist"):
        cls.load(tmp_path / "missing.json")


# --- the ensemble's rules, each pinned to its number -------------------------------------------


def point_mass(means: list[int]) -> SystemOutput:
    """A member's output whose distributions put all mass on the given strikeouts."""
    pmf = np.zeros((len(means), MAX_K + 1))
    pmf[np.arange(len(means)), means] = 1.0
    return SystemOutput("m", pd.DataFrame(index=range(len(means))), pmf, "m-1")


def test_ensemble_agreement_rules() -> None:
    """+10% confidence within 1.0 K, -15% beyond 2.0 K, unchanged between (the issue's rules)."""
    ens = EnsemblePredictor("e", members={"a": 0.3, "b": 0.5})
    a = point_mass([5, 5, 5, 5, 5])
    b = point_mass([5, 6, 7, 8, 2])  # spreads 0, 1, 2, 3, 3
    dist = ens.combine_distributions({"a": a, "b": b}, 5)
    assert dist.confidence_factor.tolist() == pytest.approx([1.10, 1.10, 1.0, 0.85, 0.85])
    assert np.allclose(dist.pmf, 0.375 * a.pmf + 0.625 * b.pmf)
    assert dist.extra_flags == [[]] * 5


def test_ensemble_blends_real_members(fitted, frames) -> None:
    _, test = frames
    rows = test.head(200)
    members = {s: fitted[s].predict(rows) for s in ("v1_baseline", "v1_6_rolling")}
    ens = fitted["ensemble_v1"]
    assert ens.normalised_weights(list(members)) == pytest.approx(
        {"v1_baseline": 0.375, "v1_6_rolling": 0.625}
    )
    out = ens.combine(members, rows)
    expected = 0.375 * members["v1_baseline"].pmf + 0.625 * members["v1_6_rolling"].pmf
    assert np.allclose(out.pmf, expected)
    # asked on its own, it asks its bound members: the same answer
    assert np.allclose(ens.predict_pmf(rows), expected)
    spread = np.ptp(np.stack([pmf_mean(o.pmf) for o in members.values()]), axis=0)
    plain = ens.predict(rows, pmf=expected)
    agree = spread <= 1.0
    assert np.allclose(
        out.frame["confidence"][agree],
        np.minimum(100, plain.frame["confidence"][agree] * 1.10),
        atol=0.15,
    )


def test_ensemble_answers_without_a_member(fitted, frames) -> None:
    rows = frames[1].head(20)
    only = {"v1_6_rolling": fitted["v1_6_rolling"].predict(rows)}
    out = fitted["ensemble_v1"].combine(only, rows)
    assert np.allclose(out.pmf, only["v1_6_rolling"].pmf)
    assert out.frame["red_flags"].str.contains(MEMBER_MISSING).all()
    assert out.frame["reasons"].str.contains("answered without v1_baseline").all()
    with pytest.raises(ValueError, match="no member to answer from"):
        fitted["ensemble_v1"].combine({}, rows)


def test_learned_weights_prefer_the_better_member(fitted, frames) -> None:
    _, test = frames
    good = fitted["v1_6_rolling"].predict_pmf(test)
    flat = np.full_like(good, 1.0 / good.shape[1])
    w = LearnedWeights(("v1_baseline", "v1_6_rolling")).fit(
        {"v1_baseline": flat, "v1_6_rolling": good}, test["strikeouts"].to_numpy()
    )
    assert w.weights_["v1_6_rolling"] > 0.9


def test_a_second_ensemble_needs_only_its_registry_entry(
    fitted, frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Declared over three members (one of them not boosted), it is built, ordered and run like
    any system."""
    from kcast.config import get_settings
    from kcast.context import DecisionContext
    from kcast.pipeline import run_systems
    from kcast.systems.registry import SystemSpec

    members = {"v1_baseline": 1.0, "v1_6_rolling": 1.0, "eb_rate": 2.0}
    monkeypatch.setitem(
        SYSTEMS, "ensemble_3", SystemSpec(EnsemblePredictor, lambda s: {"members": members})
    )
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "ensemble_3,v1_baseline,v1_6_rolling,eb_rate")
    get_settings.cache_clear()
    assert active_ids() == ["v1_baseline", "v1_6_rolling", "eb_rate", "ensemble_3"]
    rows = frames[1].head(40)
    systems = {s: fitted[s] for s in ("v1_baseline", "v1_6_rolling", "eb_rate")}
    systems["ensemble_3"] = build_system("ensemble_3").bind_members(systems)
    result = run_systems(rows, systems, DecisionContext())
    assert not result.errors
    expected = sum(w * result.outputs[m].pmf for m, w in members.items()) / 4.0
    assert np.allclose(result.outputs["ensemble_3"].pmf, expected)


# --- the registry ------------------------------------------------------------------------------


def test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from kcast.config import get_settings

    # the default: the seed's three systems and v2_matchup
    assert active_ids() == ["v1_baseline", "v1_6_rolling", "ensemble_v1", "v2_matchup"]
    assert get_settings().primary_system == "v2_matchup"
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "ensemble_v1, v1_6_rolling")
    get_settings.cache_clear()
    assert active_ids() == ["v1_6_rolling", "ensemble_v1"]
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "v1_baseline,v2_magic")
    get_settings.cache_clear()
    with pytest.raises(UnknownSystemError, match="Unknown system 'v2_magic'; known: v1_baseline"):
        active_ids()
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "ensemble_v1")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="ensemble_v1 is built on v1_baseline, v1_6_rolling"):
        active_ids()


def test_thresholds_from_settings(fitted, frames) -> None:
    rows = frames[1].head(100).assign(line=4.5, over_odds=-110, under_odds=-110)
    system = fitted["v1_baseline"]
    system.market_blend_ = MarketBlend.model_only()  # the rules on the system's own probability
    strict = system.predict(rows, DecisionContext(Thresholds(min_edge=5.0, min_confidence=99)))
    assert (strict.frame["recommendation"] == "PASS").all()
    loose = system.predict(rows, DecisionContext(Thresholds(min_edge=0.0, min_confidence=0)))
    assert (loose.frame["recommendation"] != "PASS").any()


def test_market_blend_setting(copy_warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLB_MARKET_BLEND=off states each system's own probability; auto pools with the market."""
    import datetime as dt

    from kcast.config import get_settings
    from kcast.history import WarehouseHistory

    system = build_system("ensemble_v1")
    history = WarehouseHistory(copy_warehouse, dt.date(2019, 7, 1))
    assert system.with_history(history, "auto").market_blend_ == MarketBlend(0.0, 1.0, 0)
    assert system.with_history(history, "off").market_blend_ == MarketBlend.model_only()
    monkeypatch.setenv("MLB_MARKET_BLEND", "sometimes")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="MLB_MARKET_BLEND"):
        get_settings()
