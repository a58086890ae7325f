"""``/picks`` (stored predictions of a date) and ``/slate`` (a date's starters)."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query

from kcast.service.deps import StateDep
from kcast.service.routes import READ
from kcast.service.runner import (
    PRIMARY_SYSTEM,
    as_bool,
    as_date,
    as_int,
    as_utc,
    clean,
    normalise_starters,
    split_flags,
    starters_of,
)
from kcast.service.schemas import IsoDate, Pick, PicksResponse, SlateResponse, SystemId
from kcast.service.security import ReaderDep
from kcast.slate import slate_starters

router = APIRouter(tags=["picks"], dependencies=[ReaderDep])

DateQuery = Annotated[IsoDate, Query(description="The date (YYYY-MM-DD)")]
PICK_COLUMNS = (
    "game_id, game_date, pitcher_id, pitcher_name, team, opponent, is_home, system_id, "
    "model_version, predicted_strikeouts, predicted_median, k_p10, k_p90, line, over_odds, "
    "under_odds, book, p_over, p_under, edge, expected_value, confidence, recommendation, "
    "red_flags, reasons, created_at, actual_strikeouts, result"
)


def order_picks(rows: pd.DataFrame, active: list[str]) -> pd.DataFrame:
    """Ensemble picks first, then each system in the active order; bets before passes, then
    by confidence."""
    order = [PRIMARY_SYSTEM] + [s for s in active if s != PRIMARY_SYSTEM]
    rank = {s: i for i, s in enumerate(order)}
    rows = rows.assign(
        _system=rows["system_id"].map(rank).fillna(len(order)),
        _pass=(rows["recommendation"] == "PASS").astype(int),
    )
    rows = rows.sort_values(
        ["_system", "system_id", "_pass", "confidence", "pitcher_id"],
        ascending=[True, True, True, False, True],
    )
    return rows.drop(columns=["_system", "_pass"])


def to_pick(row: dict) -> Pick:
    return Pick(
        game_id=row["game_id"],
        game_date=as_date(row["game_date"]),
        pitcher_id=int(row["pitcher_id"]),
        pitcher_name=clean(row["pitcher_name"]),
        team=clean(row["team"]),
        opponent=clean(row["opponent"]),
        is_home=as_bool(row["is_home"]),
        system_id=row["system_id"],
        model_version=row["model_version"],
        predicted_strikeouts=float(row["predicted_strikeouts"]),
        predicted_median=as_int(row["predicted_median"]),
        k_p10=as_int(row["k_p10"]),
        k_p90=as_int(row["k_p90"]),
        line=clean(row["line"]),
        over_odds=as_int(row["over_odds"]),
        under_odds=as_int(row["under_odds"]),
        book=clean(row["book"]),
        p_over=clean(row["p_over"]),
        p_under=clean(row["p_under"]),
        edge=clean(row["edge"]),
        expected_value=clean(row["expected_value"]),
        confidence=float(row["confidence"]),
        recommendation=row["recommendation"],
        red_flags=split_flags(row["red_flags"]),
        reasons=clean(row["reasons"]) or None,
        created_at=as_utc(row["created_at"]),
        actual_strikeouts=as_int(row["actual_strikeouts"]),
        result=clean(row["result"]),
    )


@router.get("/picks", response_model=PicksResponse, responses=READ)
def picks(
    date: DateQuery,
    state: StateDep,
    system: Annotated[SystemId | None, Query(description="Only this system")] = None,
) -> PicksResponse:
    """List a date's stored predictions, ensemble picks first (optionally one system's)."""
    sql = f"SELECT {PICK_COLUMNS} FROM pitcher_strikeout_predictions WHERE game_date = $d"
    params: dict[str, object] = {"d": date}
    if system is not None:
        sql += " AND system_id = $s"
        params["s"] = system
    rows = state.warehouse.query(sql, params)
    if len(rows):
        rows = order_picks(rows, state.active_ids)
    found = [to_pick(r) for r in rows.to_dict("records")]
    return PicksResponse(date=date, system=system, count=len(found), picks=found)


@router.get("/slate", response_model=SlateResponse, responses=READ)
def slate(date: DateQuery, state: StateDep) -> SlateResponse:
    """List a date's starters: who really started a played game, else the stored probables."""
    wh = state.warehouse
    starters = normalise_starters(slate_starters(wh, date))
    if len(starters):
        names = wh.query(
            "SELECT player_id AS pitcher_id, full_name AS pitcher_name FROM players "
            "WHERE player_id IN (SELECT UNNEST($ids))",
            {"ids": [int(x) for x in starters["pitcher_id"].unique()]},
        )
        starters = starters.merge(names, on="pitcher_id", how="left")
    found = starters_of(starters)
    return SlateResponse(date=date, count=len(found), starters=found)
