"""The prediction worker over HTTP: a real uvicorn server on 127.0.0.1, a real warehouse
(2018-2019 Retrosheet) and real systems trained on games before 2019-07-01."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kcast.config import ALL_SYSTEMS_DEFAULT, PRIMARY_SYSTEM_DEFAULT
from kcast.decisions import MEMBER_MISSING
from kcast.forecast import Forecaster, WarehouseReader
from kcast.pipeline import day_starters, requested_starters
from kcast.prices import requested_price
from kcast.service.answers import from_row
from kcast.service.cache import pitcher_key
from kcast.service.schemas import LEGACY_FIELDS, PitcherGame, PredictResponse, SystemAnswer
from kcast.service.values import clean
from kcast.systems.registry import SYSTEMS, build_system
from kcast.teams import display_team

DAY = dt.date(2019, 7, 13)  # 16 games, 32 starters
BATCH_DAY = dt.date(2019, 8, 10)  # 15 games, 30 starters
PITCHER = 453281  # Wade LeBlanc, started for SEA at ANA on 2019-07-13
ACTIVE = ["v1_baseline", "v1_6_rolling", "ensemble_v1"]


@pytest.fixture(scope="module")
def live(service_factory):
    return service_factory(breaker_failures=3, breaker_cooldown=30.0, system_timeout=20.0)


@pytest.fixture(scope="module")
def client(live):
    server, _ = live
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def state(live):
    return live[1]


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    """One sample's value from /metrics (0 when absent)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


# --- /health and /systems ---------------------------------------------------------------------


def test_health_reports_each_system(client: httpx.Client, state) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["warehouse_ok"] is True
    assert list(body["systems"]) == ACTIVE
    registry = state.warehouse.query(
        "SELECT system_id, version FROM model_registry WHERE is_active"
    )
    versions = dict(zip(registry["system_id"], registry["version"], strict=True))
    for system_id in ("v1_baseline", "v1_6_rolling"):
        entry = body["systems"][system_id]
        assert entry["loaded"] and entry["breaker_state"] == "closed"
        assert entry["failure_count"] == 0 and entry["last_error"] is None
        assert entry["model_version"] == versions[system_id]
        assert entry["model_version"].startswith(f"{system_id}-20190701-")
    assert body["systems"]["ensemble_v1"]["model_version"] == "ensemble_v1-0.3-0.5"


def test_systems_registry(client: httpx.Client, state) -> None:
    listed = {s["system_id"]: s for s in client.get("/systems").json()}
    assert list(listed) == list(SYSTEMS)
    for system_id in SYSTEMS:
        info = listed[system_id]
        system = build_system(system_id)
        assert info["features_count"] == len(system.features)
        assert info["description"] == system.description
        assert info["members"] == list(system.member_ids)
        if system_id not in ACTIVE:
            assert not info["active"] and not info["loaded"] and info["breaker"] is None
            continue
        assert info["active"] and info["loaded"]
        assert info["model_version"] == state.systems[system_id].version_
        assert info["breaker"]["state"] == "closed"
    assert listed["v1_baseline"]["features_count"] > 20
    assert listed["ensemble_v1"]["members"] == ["v1_baseline", "v1_6_rolling"]
    one = client.get("/systems/v1_6_rolling").json()
    assert one == listed["v1_6_rolling"]


# --- /predict -------------------------------------------------------------------------------------


def test_predict_keeps_the_legacy_shape(client: httpx.Client) -> None:
    game = {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 4.5}
    game.update(over_odds=-115, under_odds=-105)
    body = client.post("/predict", json=game).json()
    assert set(body) == set(LEGACY_FIELDS) | {"systems", "decision_time"}
    assert body["decision_time"] == "now"  # KCAST_DECISION_TIME
    assert isinstance(body["pitcher_id"], int) and body["game_date"] == str(DAY)
    assert isinstance(body["predicted_strikeouts"], float)
    assert isinstance(body["confidence"], float) and 0 <= body["confidence"] <= 100
    assert body["recommendation"] in ("OVER", "UNDER", "PASS")
    assert isinstance(body["edge"], float)
    assert isinstance(body["red_flags"], list) and all(
        isinstance(f, str) for f in body["red_flags"]
    )
    assert isinstance(body["model_version"], str) and body["line"] == 4.5
    # the legacy fields are the ensemble's answer
    ensemble = body["systems"]["ensemble_v1"]
    assert body["model_version"] == ensemble["model_version"]
    assert body["model_version"].startswith("ensemble_v1-0.3-0.5[v1_baseline=v1_baseline-")
    for key in ("predicted_strikeouts", "confidence", "recommendation", "edge", "red_flags"):
        assert body[key] == ensemble[key]
    assert body["edge"] == pytest.approx(body["predicted_strikeouts"] - 4.5, abs=1e-3)
    assert set(body["systems"]) == set(ACTIVE)
    assert all(a["status"] == "ok" for a in body["systems"].values())


def test_the_default_systems_keep_the_legacy_shape(service_factory) -> None:
    """With kcast's default systems (the seed's three and v2_matchup, the primary), /predict
    answers in the legacy shape, its legacy fields v2_matchup's answer."""
    server, state = service_factory(
        active_systems=ALL_SYSTEMS_DEFAULT, primary_system=PRIMARY_SYSTEM_DEFAULT
    )
    assert state.active_ids == ["v1_baseline", "v1_6_rolling", "ensemble_v1", "v2_matchup"]
    game = {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 4.5}
    game.update(over_odds=-115, under_odds=-105)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        body = c.post("/predict", json=game).json()
    assert set(body) == set(LEGACY_FIELDS) | {"systems", "decision_time"}
    assert set(body["systems"]) == set(state.active_ids)
    assert all(a["status"] == "ok" for a in body["systems"].values())
    primary = body["systems"]["v2_matchup"]
    assert body["model_version"] == primary["model_version"]
    assert body["model_version"].startswith("v2_matchup-")
    for key in ("predicted_strikeouts", "confidence", "recommendation", "edge", "red_flags"):
        assert body[key] == primary[key]


def test_predict_equals_the_library(client: httpx.Client, state) -> None:
    """The service (slate features from its cache) answers exactly what the forecaster
    answers for the same pitcher-game read plainly from the warehouse."""
    game = {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 5.5}
    game.update(over_odds=110, under_odds=-140)
    body = client.post("/predict", json=game).json()
    starters = requested_starters(state.warehouse, [game])
    plain = Forecaster(WarehouseReader(state.warehouse), state.systems, state.context)
    result = plain.forecast(starters, [game])
    for system_id, output in result.outputs.items():
        row = output.frame.iloc[0]
        answer = body["systems"][system_id]
        assert answer["predicted_strikeouts"] == row["predicted_strikeouts"]
        assert answer["confidence"] == row["confidence"]
        assert answer["recommendation"] == row["recommendation"]
        assert answer["p_over"] == pytest.approx(row["p_over"], abs=1e-12)
        assert answer["model_version"] == output.model_version


@pytest.mark.parametrize(
    "game",
    [
        {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 5.5, "over_odds": 110}
        | {"under_odds": -140},
        {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 6.0},  # a push is possible
        {"pitcher_id": PITCHER, "game_date": str(DAY)},  # the stored line and prices
        {"pitcher_id": PITCHER, "game_date": "2019-07-22", "opponent": "OAK", "is_home": True}
        | {"line": 4.5, "over_odds": -120, "under_odds": 100},  # off the slate
    ],
)
def test_predict_is_the_models_answer_to_the_last_digit(
    client: httpx.Client, state, game: dict
) -> None:
    """The answer /predict builds as plain values is, field by field, in value and JSON type,
    what the response models made of ``SystemOutput.decide_at`` on the kept answers (the
    decision that made the stored rows), on the first (cold) call and on warm ones."""
    bodies = [client.post("/predict", json=game) for _ in range(3)]
    assert all(b.status_code == 200 for b in bodies), bodies[0].text
    request = PitcherGame(**game)
    record = request.record()
    version = state.cache.version()
    slate = state.cache.peek(("slate", request.game_date, "now", version))
    index = slate.index.get(PITCHER)
    if index is None:
        key = ("pitcher", request.game_date, "now", pitcher_key(record), version)
        slate, index = state.cache.peek(key), 0
    stored = slate.features.iloc[index]
    price = requested_price(slate.lines, PITCHER, stored["game_date"], record)
    for body in (b.json() for b in bodies):
        systems = {}
        for system_id, got in body["systems"].items():
            output = slate.outputs[system_id]
            if price is None:
                row = output.frame.iloc[index].to_dict()
            else:
                row = output.decide_at(index, price, slate.context, slate.market(index))
            systems[system_id] = from_row(
                SystemAnswer,
                row,
                status="ok",
                breaker_state=got["breaker_state"],
                model_version=output.model_version,
                seconds=got["seconds"],
            )
        top = systems[state.settings.primary_system]
        expected = PredictResponse(
            pitcher_id=PITCHER,
            game_date=request.game_date,
            line=price["line"] if price is not None else clean(stored.get("line")),
            predicted_strikeouts=top.predicted_strikeouts,
            confidence=top.confidence,
            recommendation=top.recommendation,
            edge=top.edge,
            red_flags=top.red_flags,
            model_version=top.model_version,
            decision_time="now",
            systems=systems,
        )
        assert json.dumps(body, sort_keys=True) == json.dumps(
            expected.model_dump(mode="json"), sort_keys=True
        )


def test_predict_game_the_warehouse_does_not_know(client: httpx.Client) -> None:
    """LeBlanc did not pitch on 2019-07-20: with opponent and home/away he is still predicted."""
    game = {"pitcher_id": PITCHER, "game_date": "2019-07-20", "opponent": "HOU", "is_home": True}
    response = client.post("/predict", json=game)
    assert response.status_code == 200, response.text
    body = response.json()
    assert all(a["status"] == "ok" for a in body["systems"].values())
    assert 1.0 < body["predicted_strikeouts"] < 10.0
    assert "no_line" in body["red_flags"] and body["edge"] is None
    missing = client.post("/predict", json={"pitcher_id": PITCHER, "game_date": "2019-07-20"})
    assert missing.status_code == 400
    assert "give opponent and is_home" in missing.json()["detail"]


def test_a_warm_predict_reads_nothing_from_the_warehouse(
    client: httpx.Client, state, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a date (or a pitcher off its slate) has been asked for, a /predict is answered from
    memory: no query reaches the warehouse, and the answer is the same as the first."""
    slate_game = {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 6.5, "over_odds": 120}
    slate_game["under_odds"] = -150
    off_slate = {"pitcher_id": PITCHER, "game_date": "2019-07-21", "opponent": "TEX"}
    off_slate["is_home"] = False
    first = [client.post("/predict", json=g).json() for g in (slate_game, off_slate)]
    queries: list[str] = []
    real = state.warehouse.query
    monkeypatch.setattr(
        state.warehouse, "query", lambda sql, params=None: queries.append(sql) or real(sql, params)
    )
    again = [client.post("/predict", json=g).json() for g in (slate_game, off_slate) * 5]
    assert queries == []
    for i, body in enumerate(again):
        expected = first[i % 2]
        for system_id in ACTIVE:
            got, want = body["systems"][system_id], expected["systems"][system_id]
            assert {k: v for k, v in got.items() if k != "seconds"} == {
                k: v for k, v in want.items() if k != "seconds"
            }


@pytest.mark.parametrize(
    ("path", "payload", "status", "says"),
    [
        ("/predict", {"pitcher_id": 99999999, "game_date": "2019-07-13"}, 404, "99999999"),
        ("/predict", {"pitcher_id": PITCHER, "game_date": "2019-13-45"}, 422, "YYYY-MM-DD"),
        ("/predict", {"pitcher_id": PITCHER, "game_date": "13/07/2019"}, 422, "YYYY-MM-DD"),
        ("/predict", {"pitcher_id": PITCHER, "game_date": "1492-10-12"}, 422, "outside"),
        ("/predict", {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 4.3}, 422, "0.5"),
        ("/predict", {"pitcher_id": PITCHER, "game_date": str(DAY), "line": "six"}, 422, "line"),
        ("/predict", {"pitcher_id": PITCHER, "game_date": str(DAY), "line": -1}, 422, "line"),
        (
            "/predict",
            {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 5.5, "over_odds": 50},
            422,
            "impossible",
        ),
        (
            "/predict",
            {"pitcher_id": PITCHER, "game_date": str(DAY), "over_odds": -110},
            422,
            "without a line",
        ),
        (
            "/predict",
            {"pitcher_id": PITCHER, "game_date": "2019-07-20", "opponent": "XYZ", "is_home": True},
            422,
            "unknown team code 'XYZ'",
        ),
        (
            "/predict",
            {"pitcher_id": PITCHER, "game_date": "2018-03-29", "opponent": "NYA"}
            | {"is_home": True, "team": "SEA"},
            400,
            "features need games before the date",
        ),
        ("/predict", {"game_date": str(DAY)}, 422, "pitcher_id"),
        ("/predict", {"pitcher_id": "453281", "game_date": str(DAY)}, 422, "valid integer"),
        (
            "/predict",
            {"pitcher_id": PITCHER, "game_date": "2019-07-20", "opponent": "HOU", "is_home": 1},
            422,
            "valid boolean",
        ),
        ("/predict-batch", {"date": str(DAY), "mode": "fast"}, 422, "Extra inputs"),
        ("/predict-batch", {}, 422, "either date or games"),
        ("/predict-batch", {"date": str(DAY), "games": []}, 422, "games"),
        (
            "/predict-batch",
            {"games": [{"pitcher_id": PITCHER, "game_date": str(DAY)}] * 2},
            422,
            "appears twice",
        ),
        ("/predict-batch", {"date": "2018-03-29"}, 400, "features need games before"),
        (
            "/predict-batch",
            {"games": [{"pitcher_id": 12, "game_date": str(DAY)}]},
            404,
            "pitcher 12 ",
        ),
    ],
)
def test_bad_requests_get_a_4xx_that_says_why(
    client: httpx.Client, path: str, payload: dict, status: int, says: str
) -> None:
    before = client.get("/picks", params={"date": str(DAY)}).json()["count"]
    response = client.post(path, json=payload)
    assert response.status_code == status, response.text
    assert says in response.text
    assert client.get("/picks", params={"date": str(DAY)}).json()["count"] == before


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/picks", {"date": "2019-02-30"}, 422, "not a calendar date"),
        ("/picks", {}, 422, "date"),
        (
            "/picks",
            {"date": str(DAY), "system": "v2_magic"},
            422,
            "'ensemble_v1_learned' or 'ensemble_v2'",
        ),
        ("/systems/v2_magic", {}, 404, "known: v1_baseline"),
        ("/slate", {"date": "tomorrow"}, 422, "YYYY-MM-DD"),
    ],
)
def test_bad_queries(client: httpx.Client, path: str, params: dict, status: int, says: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert says in response.text


def test_not_json_is_a_422(client: httpx.Client) -> None:
    response = client.post(
        "/predict", content=b"{pitcher_id: 1", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


# --- /predict-batch and /picks ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch(client: httpx.Client, state) -> dict:
    before = metric(client, "kcast_predictions_total", system="v1_baseline")
    body = client.post("/predict-batch", json={"date": str(BATCH_DAY)}).json()
    body["_metric_before"] = before
    return body


def test_batch_writes_a_row_per_starter_per_system(batch: dict, state) -> None:
    starters = day_starters(state.warehouse, BATCH_DAY)
    assert len(starters) == 30
    assert {s["pitcher_id"] for s in batch["starters"]} == set(starters["pitcher_id"])
    assert batch["written"] and batch["skipped"] == {} and batch["failed"] == {}
    assert batch["rows_written"] == {s: 30 for s in ACTIVE}
    assert batch["total_rows_written"] == 90
    stored = state.warehouse.query(
        "SELECT system_id, COUNT(*) AS n, COUNT(DISTINCT pitcher_id) AS p "
        "FROM pitcher_strikeout_predictions WHERE game_date = $d GROUP BY system_id",
        {"d": BATCH_DAY},
    )
    assert dict(zip(stored["system_id"], stored["n"], strict=True)) == {s: 30 for s in ACTIVE}
    assert set(stored["p"]) == {30}


def test_batch_rerun_keeps_one_row_per_key(client: httpx.Client, batch: dict, state) -> None:
    again = client.post("/predict-batch", json={"date": str(BATCH_DAY)}).json()
    assert again["total_rows_written"] == 90
    n = state.warehouse.query(
        "SELECT COUNT(*) AS n FROM pitcher_strikeout_predictions WHERE game_date = $d",
        {"d": BATCH_DAY},
    )["n"].iloc[0]
    assert n == 90


def test_batch_of_stored_rows_is_not_written_again(
    client: httpx.Client, batch: dict, state
) -> None:
    """The same date again, with nothing changed since this worker stored its rows: nothing is
    written (the stored rows are those answers). A write by anyone else moves the warehouse's
    change stamp, and the next batch writes again."""

    def created() -> set:
        return set(
            state.warehouse.query(
                "SELECT created_at FROM pitcher_strikeout_predictions WHERE game_date = $d",
                {"d": BATCH_DAY},
            )["created_at"]
        )

    first = client.post("/predict-batch", json={"date": str(BATCH_DAY)}).json()
    before = created()
    again = client.post("/predict-batch", json={"date": str(BATCH_DAY)}).json()
    assert again["written"] and again["total_rows_written"] == 90
    assert "not written again" in again["note"]
    assert created() == before
    # the rows' own time, so that "rows made by this batch" checks (kcast validate) still hold
    assert again["predicted_at"] == first["predicted_at"]
    assert min(before) >= pd.Timestamp(first["predicted_at"]).tz_convert(None)
    state.warehouse.execute(
        "DELETE FROM pitcher_strikeout_predictions WHERE game_date = $d AND system_id = $s",
        {"d": BATCH_DAY, "s": "v1_baseline"},
    )
    third = client.post("/predict-batch", json={"date": str(BATCH_DAY)}).json()
    assert third["note"] is None and third["rows_written"] == {s: 30 for s in ACTIVE}
    n = state.warehouse.query(
        "SELECT COUNT(*) AS n FROM pitcher_strikeout_predictions WHERE game_date = $d",
        {"d": BATCH_DAY},
    )["n"].iloc[0]
    assert n == 90


def test_picks_ensemble_first(client: httpx.Client, batch: dict, state) -> None:
    body = client.get("/picks", params={"date": str(BATCH_DAY)}).json()
    assert body["count"] == 90 == len(body["picks"])
    systems = [p["system_id"] for p in body["picks"]]
    assert systems[:30] == ["ensemble_v1"] * 30
    assert systems[30:60] == ["v1_baseline"] * 30 and systems[60:] == ["v1_6_rolling"] * 30
    ensemble = body["picks"][:30]
    passes = [p["recommendation"] == "PASS" for p in ensemble]
    assert passes == sorted(passes)  # bets before passes
    stored = state.warehouse.query(
        "SELECT pitcher_id, predicted_strikeouts, confidence FROM pitcher_strikeout_predictions "
        "WHERE game_date = $d AND system_id = 'ensemble_v1'",
        {"d": BATCH_DAY},
    ).set_index("pitcher_id")
    for pick in ensemble:
        assert (
            pick["predicted_strikeouts"] == stored.loc[pick["pitcher_id"], "predicted_strikeouts"]
        )
        assert pick["confidence"] == stored.loc[pick["pitcher_id"], "confidence"]
        assert pick["pitcher_name"] and pick["model_version"].startswith("ensemble_v1-0.3-0.5[")
        assert isinstance(pick["red_flags"], list) and "no_line" in pick["red_flags"]
    only = client.get("/picks", params={"date": str(BATCH_DAY), "system": "v1_baseline"}).json()
    assert only["count"] == 30 and {p["system_id"] for p in only["picks"]} == {"v1_baseline"}
    empty = client.get("/picks", params={"date": "2019-12-25"}).json()
    assert empty["count"] == 0 and empty["picks"] == []


def test_batch_of_listed_games_with_a_line(client: httpx.Client, state) -> None:
    games = [
        {"pitcher_id": PITCHER, "game_date": str(DAY), "line": 3.5, "over_odds": -120}
        | {"under_odds": 100},
        {"pitcher_id": 518774, "game_date": str(DAY)},  # Matt Harvey, the other starter
    ]
    body = client.post("/predict-batch", json={"games": games}).json()
    assert body["rows_written"] == {s: 2 for s in ACTIVE}
    assert body["date"] is None and len(body["starters"]) == 2
    rows = state.warehouse.query(
        "SELECT pitcher_id, line, over_odds, under_odds, book FROM pitcher_strikeout_predictions "
        "WHERE game_date = $d AND system_id = 'v1_baseline' AND pitcher_id IN (453281, 518774)",
        {"d": DAY},
    ).set_index("pitcher_id")
    assert rows.loc[PITCHER, "line"] == 3.5 and rows.loc[PITCHER, "over_odds"] == -120
    assert rows.loc[PITCHER, "book"] == "request"
    assert pd.isna(rows.loc[518774, "line"])


def test_batch_for_a_date_without_games(client: httpx.Client) -> None:
    body = client.post("/predict-batch", json={"date": "2019-12-25"}).json()
    assert body["starters"] == [] and body["total_rows_written"] == 0
    assert "no starters known for 2019-12-25" in body["note"]


def test_slate_lists_the_starters(client: httpx.Client, state) -> None:
    body = client.get("/slate", params={"date": str(DAY)}).json()
    assert body["count"] == 32
    leblanc = next(s for s in body["starters"] if s["pitcher_id"] == PITCHER)
    assert leblanc == {
        "game_id": "ANA201907130",
        "game_date": str(DAY),
        "pitcher_id": PITCHER,
        "pitcher_name": "Wade LeBlanc",
        "team": "SEA",
        "opponent": display_team("ANA", 2019),  # the answer spells teams as MLB does: LAA
        "is_home": False,
        "starter_source": "actual",
    }
    assert leblanc["opponent"] == "LAA"


# --- /metrics and OpenAPI ---------------------------------------------------------------------------


def test_metrics_count_predictions_and_latency(client: httpx.Client, batch: dict) -> None:
    after_batch = metric(client, "kcast_predictions_total", system="v1_baseline")
    assert after_batch >= batch["_metric_before"] + 30
    before = {s: metric(client, "kcast_predictions_total", system=s) for s in ACTIVE}
    hist = metric(client, "kcast_request_latency_seconds_count", route="/predict", status="200")
    client.post("/predict", json={"pitcher_id": PITCHER, "game_date": str(DAY)})
    for system_id in ACTIVE:
        assert metric(client, "kcast_predictions_total", system=system_id) == before[system_id] + 1
        assert metric(client, "kcast_breaker_state", system=system_id) == 0
    assert (
        metric(client, "kcast_request_latency_seconds_count", route="/predict", status="200")
        == hist + 1
    )
    assert metric(client, "kcast_system_latency_seconds_count", system="v1_6_rolling") > 0
    # a 404 for an unknown path is counted once, under one label, whatever the path
    client.get("/no/such/path/123")
    assert metric(client, "kcast_request_latency_seconds_count", route="unmatched") >= 1


def test_metrics_of_stored_predictions_and_agreement(
    client: httpx.Client, batch: dict, state
) -> None:
    from kcast.monitoring import run_query

    for system_id in ACTIVE:
        assert metric(client, "kcast_predictions_written_total", system=system_id) >= 30
    newest = metric(client, "kcast_predictions_newest_stored_timestamp_seconds")
    assert 0 < time.time() - newest < 600, newest  # the batch's rows, stored just now
    # the latest predicted date's agreement, as `kcast query agreement_today` gives it
    expected = run_query(state.warehouse, "agreement_today").frame.iloc[0]
    assert expected["pitchers_compared"] >= 30
    share = metric(client, "kcast_agreement_share")
    assert share == pytest.approx(expected["strong_or_moderate_share"]) and 0 < share <= 1


def test_openapi_spec(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/health", "/systems", "/predict", "/predict-batch", "/picks", "/slate"):
        assert path in spec["paths"]
    predict = spec["paths"]["/predict"]["post"]
    assert {"200", "400", "404", "422", "503"} <= set(predict["responses"])
    legacy = spec["components"]["schemas"]["PredictResponse"]["required"]
    assert set(LEGACY_FIELDS) | {"systems"} == set(legacy)


# --- a system whose model cannot load ---------------------------------------------------------------


def test_a_model_that_cannot_load_is_reported_and_the_rest_serve(
    service_factory, tmp_path: Path
) -> None:
    broken = tmp_path / "v1_6_rolling-broken.json"
    broken.write_text("{not a model")
    server, state = service_factory(v1_6_model_path=str(broken), system_timeout=20.0)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        health = c.get("/health").json()
        entry = health["systems"]["v1_6_rolling"]
        assert health["status"] == "degraded"
        assert entry["status"] == "failed" and entry["loaded"] is False
        assert "v1_6_rolling-broken.json" in entry["last_error"]
        assert health["systems"]["v1_baseline"]["status"] == "ok"
        body = c.post("/predict", json={"pitcher_id": PITCHER, "game_date": str(DAY)}).json()
        assert body["systems"]["v1_6_rolling"]["status"] == "failed"
        assert "not loaded" in body["systems"]["v1_6_rolling"]["error"]
        # the ensemble answers from the member it has, and says so
        assert body["model_version"].startswith("ensemble_v1")
        assert "v1_6_rolling" not in body["model_version"]
        assert MEMBER_MISSING in body["red_flags"]
        assert (
            body["predicted_strikeouts"] == body["systems"]["v1_baseline"]["predicted_strikeouts"]
        )
        info = {s["system_id"]: s for s in c.get("/systems").json()}
        assert info["v1_6_rolling"]["loaded"] is False and info["v1_6_rolling"]["load_error"]


def test_the_decision_time_is_the_requests_and_the_answer_says_which(
    client: httpx.Client,
) -> None:
    """The worker decides at ``decision_time`` (default KCAST_DECISION_TIME) and says so; a
    decision time that does not parse is a 422 naming the valid forms."""
    game = {"pitcher_id": PITCHER, "game_date": str(DAY)}
    bad = client.post("/predict", json=game | {"decision_time": "noon"})
    assert bad.status_code == 422
    assert "use open, lineup, close, now or HH:MM (US Eastern)" in bad.text
    for at in ("open", "17:05", "close"):
        body = client.post("/predict", json=game | {"decision_time": at})
        assert body.status_code == 200, body.text
        assert body.json()["decision_time"] == at
        answer = body.json()["systems"]["ensemble_v1"]
        assert answer["decision"] in ("bet", "lean", "pass") and answer["decision_reason"]
    batch = client.post(
        "/predict-batch", json={"date": str(DAY), "write": False, "decision_time": "9:30"}
    )
    assert batch.status_code == 200 and batch.json()["decision_time"] == "09:30"
