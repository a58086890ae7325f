"""``/picks`` (stored predictions of a date) and ``/slate`` (a date's starters)."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query

from kcast.pipeline import day_starters, pitcher_names
from kcast.service.answers import from_row, starters_of
from kcast.service.deps import StateDep
from kcast.service.routes import READ
from kcast.service.schemas import IsoDate, Pick, PicksResponse, SlateResponse, SystemId
from kcast.service.security import ReaderDep
from kcast.service.values import as_utc
from kcast.warehouse.statements import statement

router = APIRouter(tags=["picks"], dependencies=[ReaderDep])

DateQuery = Annotated[IsoDate, Query(description="The date (YYYY-MM-DD)")]


def order_picks(rows: pd.DataFrame, active: list[str], primary: str) -> pd.DataFrame:
    """The primary system's picks first (MLB_PRIMARY_SYSTEM), then each system in the active
    order; bets before passes, then by confidence."""
    order = [primary] + [s for s in active if s != primary]
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
    return from_row(Pick, row, created_at=as_utc(row["created_at"]))


@router.get("/picks", response_model=PicksResponse, responses=READ)
def picks(
    date: DateQuery,
    state: StateDep,
    system: Annotated[SystemId | None, Query(description="Only this system")] = None,
) -> PicksResponse:
    """List a date's stored predictions, the primary system's picks first (optionally one
    system's)."""
    rows = state.warehouse.query(statement("picks"), {"d": date})
    if system is not None:
        rows = rows[rows["system_id"] == system]
    if len(rows):
        rows = order_picks(rows, state.active_ids, state.settings.primary_system)
    found = [to_pick(r) for r in rows.to_dict("records")]
    return PicksResponse(date=date, system=system, count=len(found), picks=found)


@router.get("/slate", response_model=SlateResponse, responses=READ)
def slate(date: DateQuery, state: StateDep) -> SlateResponse:
    """List a date's starters: who really started a played game, else the stored probables."""
    wh = state.warehouse
    starters = day_starters(wh, date)
    if len(starters):
        names = pitcher_names(wh, starters["pitcher_id"].unique())
        starters = starters.merge(names, on="pitcher_id", how="left")
    found = starters_of(starters)
    return SlateResponse(date=date, count=len(found), starters=found)
