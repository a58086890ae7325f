"""A lineup posted after a starter was predicted: the daily job's trigger, the new answer in the
one row per pitcher, game and system, and the earlier answer kept beside it.

On the trained 2018-2019 warehouse, one game of 2019-07-05 is predicted with its home team's
lineup missing (projected from the team's earlier lineups, as before it is posted), then the
lineup is stored (as the Stats API posts it) and the day predicted again.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kcast.cli import app
from kcast.config import Settings
from kcast.context import DecisionContext
from kcast.daily import nothing_new
from kcast.forecast import WarehouseSink, forecaster_for
from kcast.pipeline import day_starters, load_systems
from kcast.warehouse import open_warehouse
from kcast.warehouse.snapshots import changes, confirmed_since

DAY = dt.date(2019, 7, 5)
SYSTEMS = "v1_baseline,v2_matchup"


@pytest.fixture
def predict_day(wh, day, settings):  # noqa: ANN001, ANN201 - what `kcast predict` runs
    context = DecisionContext.from_settings(settings)
    return forecaster_for(wh, settings, context, WarehouseSink(wh, "predict")).day(day)


def warehouse(trained_warehouse: Path, tmp_path: Path):
    path = tmp_path / "snapshots.duckdb"
    shutil.copy(trained_warehouse, path)
    wh = open_warehouse(str(path))
    yield wh, path
    wh.close()


def _rows(wh) -> pd.DataFrame:
    return wh.query(
        "SELECT * FROM pitcher_strikeout_predictions WHERE game_date = $d "
        "ORDER BY game_id, pitcher_id, system_id",
        {"d": DAY},
    )


def test_a_posted_lineup_predicts_again_and_keeps_the_earlier_answer(warehouse) -> None:
    wh, path = warehouse
    settings = Settings(_env_file=None, warehouse=str(path), active_systems=SYSTEMS)
    game = wh.query(
        "SELECT game_id, home_team, away_team FROM games WHERE game_date = $d ORDER BY game_id "
        "LIMIT 1",
        {"d": DAY},
    ).iloc[0]
    lineup = wh.query(
        "SELECT * FROM lineups WHERE game_id = $g AND team = $t",
        {"g": game.game_id, "t": game.home_team},
    ).drop(columns=["updated_at"])
    assert len(lineup) == 9
    wh.delete_where(
        "lineups", "game_id = $g AND team = $t", {"g": game.game_id, "t": game.home_team}
    )

    predict_day(wh, DAY, settings)
    first = _rows(wh)
    away_starter = first[(first["game_id"] == game.game_id) & (first["team"] == game.away_team)]
    assert set(away_starter["lineup_status"]) == {"projected"}
    assert (first.drop(away_starter.index)["lineup_status"] == "confirmed").all()
    assert confirmed_since(wh, DAY).empty  # nothing posted yet
    assert wh.count("prediction_snapshots") == 0

    # the home team posts its nine: the daily job's trigger sees it, whatever else is unchanged
    wh.upsert("lineups", lineup.assign(source="statsapi_posted", source_rank=25))
    posted = confirmed_since(wh, DAY)
    assert posted.to_dict("records") == [
        {"game_id": game.game_id, "pitcher_id": int(away_starter["pitcher_id"].iloc[0])}
    ]
    systems, errors = load_systems(wh, settings)
    assert not errors
    at = DecisionContext.from_settings(settings).at
    assert not nothing_new(wh, day_starters(wh, DAY), systems, DAY, at)

    predict_day(wh, DAY, settings)
    second = _rows(wh)
    assert len(second) == len(first)  # still one row per pitcher, game and system
    assert (second["lineup_status"] == "confirmed").all()
    assert confirmed_since(wh, DAY).empty
    kept = wh.query("SELECT * FROM prediction_snapshots ORDER BY system_id")
    # the away starter's earlier answers, one per system, as they were stored
    assert kept["pitcher_id"].tolist() == [int(away_starter["pitcher_id"].iloc[0])] * 2
    assert kept["system_id"].tolist() == ["v1_baseline", "v2_matchup"]
    before = away_starter.set_index("system_id")
    for row in kept.itertuples():
        assert row.lineup_status == "projected"
        assert row.predicted_strikeouts == before.loc[row.system_id, "predicted_strikeouts"]
        assert row.created_at == before.loc[row.system_id, "created_at"]
        assert row.changes.startswith("lineup_status: projected -> confirmed")
    # the lineup moves v2_matchup's answer (batter by batter), not v1_baseline's
    v2 = kept.set_index("system_id").loc["v2_matchup", "changes"]
    assert "predicted_strikeouts:" in v2
    assert "predicted_strikeouts" not in kept.set_index("system_id").loc["v1_baseline", "changes"]

    # predicting again with nothing new keeps nothing more
    predict_day(wh, DAY, settings)
    assert wh.count("prediction_snapshots") == 2

    out = CliRunner().invoke(
        app, ["query", "prediction_changes", "--date", DAY.isoformat(), "--json", "-w", str(path)]
    )
    assert out.exit_code == 0, out.output
    assert '"lineup_before": "projected"' in out.output
    assert '"lineup_now": "confirmed"' in out.output


def test_changes_names_each_column_before_and_after() -> None:
    old = {"lineup_status": "projected", "predicted_strikeouts": 5.1234, "line": 5.5}
    new = {"lineup_status": "confirmed", "predicted_strikeouts": 5.4, "line": 5.5}
    assert changes(old, new) == (
        "lineup_status: projected -> confirmed; predicted_strikeouts: 5.123 -> 5.4"
    )
    assert changes(old, old) == ""
    assert changes({"line": None}, {"line": 6.5}) == "line: none -> 6.5"
