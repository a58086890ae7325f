"""How forecasts and bets fared: ``/performance``, ``/pitcher/{id}`` and the ledger as CSV
(``/ledger.csv``).

Every bet figure is ``kcast.bet_metrics``' (W-L-P, units won, ROI flat and staked, CLV), the
numbers ``kcast bets`` and ``kcast grade`` print; every forecast figure is ``kcast.scoring``'s.
A page of a date never shows a bet of a later date.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from kcast import charts
from kcast.api import pmf_from_json
from kcast.bet_metrics import Record, record, records_by
from kcast.day_board import LEDGER_STRATEGY, book_name, ledger_csv
from kcast.decisions import devig
from kcast.prices import open_prices
from kcast.scoring import calibration_table, clv_points
from kcast.service.deps import ServiceState, StateDep
from kcast.service.pages import bankroll, day_of, primary, render, shown
from kcast.service.security import ReaderDep
from kcast.service.values import clean
from kcast.teams import display_team
from kcast.warehouse.statements import statement

router = APIRouter(tags=["dashboard"], include_in_schema=False, dependencies=[ReaderDep])

DateQuery = Annotated[
    str | None, Query(description="The date (YYYY-MM-DD); default the latest with predictions")
]
OPEN_ODDS = ("open_over_odds", "open_under_odds")


# --------------------------------------------------------------------------------------------
# a pitcher
# --------------------------------------------------------------------------------------------


@router.get("/pitcher/{pitcher_id}", response_class=HTMLResponse)
def pitcher_page(pitcher_id: int, state: StateDep, date: DateQuery = None) -> HTMLResponse:
    """A pitcher: recent starts, how his forecasts and his bets fared, the day's lines."""
    wh = state.warehouse
    day = day_of(state, date)
    who = wh.query(statement("player_name"), {"p": pitcher_id})
    starts = wh.query(statement("recent_starts"), {"p": pitcher_id, "d": day})
    if who.empty and starts.empty:
        raise HTTPException(404, f"pitcher {pitcher_id} is not in the warehouse")
    name = clean(who["full_name"].iloc[0]) if len(who) else str(pitcher_id)
    forecasts = wh.query(statement("pitcher_forecasts"), {"p": pitcher_id, "d": day})
    bets = pitcher_bets(state, pitcher_id, day)
    start_rows = recent_starts(starts)
    return render(
        "pitcher.html",
        page="pitcher",
        title=f"kcast: {name}",
        day=day,
        pitcher_id=pitcher_id,
        name=name,
        starts=start_rows,
        forecasts=[
            {**r, "game_date": pd.Timestamp(r["game_date"]).date()}
            for r in forecasts.drop(columns=["pmf"]).to_dict("records")
        ],
        fared=fared(forecasts, bets),
        ledger=ledger_table(bets),
        ladder=_ladder(state, pitcher_id, day, forecasts),
        chart=_starts_chart(start_rows, forecasts),
    )


def pitcher_bets(state: ServiceState, pitcher_id: int, day: dt.date) -> pd.DataFrame:
    """His bets in the ledger (``LEDGER_STRATEGY``) up to ``day``, every system's."""
    if not state.warehouse.table_exists("bets"):
        return pd.DataFrame()
    params = {"p": pitcher_id, "a": dt.date.min, "b": day, "s": LEDGER_STRATEGY}
    return state.warehouse.query(statement("ledger_between"), params)


def recent_starts(starts: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in starts.to_dict("records"):
        season = pd.Timestamp(r["game_date"]).year
        outs = clean(r["outs"])
        rows.append(
            {
                **r,
                "game_date": pd.Timestamp(r["game_date"]).date(),
                "team": display_team(r["team"], season),
                "opponent": display_team(r["opponent"], season),
                "ip": None if outs is None else f"{outs // 3}.{outs % 3}",
            }
        )
    return rows


def fared(forecasts: pd.DataFrame, bets: pd.DataFrame) -> list[dict[str, Any]]:
    """Per system: his graded forecasts and their MAE, and how his bets did (the W-L-P of
    his bets in the ledger, ``bet_metrics.record``)."""
    graded = forecasts[forecasts["actual_strikeouts"].notna() & (forecasts["result"] != "void")]
    records = records_by(bets, "system") if len(bets) else {}
    out = []
    for system_id in sorted(set(graded["system_id"]) | set(records)):
        g = graded[graded["system_id"] == system_id]
        err = (g["predicted_strikeouts"] - g["actual_strikeouts"]).abs()
        out.append(
            {
                "system": system_id,
                "n": len(g),
                "mae": float(err.mean()) if len(g) else None,
                "record": records.get(system_id, Record()),
            }
        )
    return out


def _starts_chart(start_rows: list[dict], forecasts: pd.DataFrame) -> dict | None:
    series = [
        {"game_date": str(r["game_date"]), "series": "actual", "strikeouts": r["strikeouts"]}
        for r in start_rows
    ]
    for r in forecasts.to_dict("records"):
        series.append(
            {
                "game_date": str(pd.Timestamp(r["game_date"]).date()),
                "series": r["system_id"],
                "strikeouts": clean(r["predicted_strikeouts"]),
            }
        )
    for r in forecasts.drop_duplicates("game_date").to_dict("records"):
        if clean(r["line"]) is not None:
            date_s = str(pd.Timestamp(r["game_date"]).date())
            series.append({"game_date": date_s, "series": "line", "strikeouts": clean(r["line"])})
    return charts.with_rows(charts.template("starts"), series) if series else None


def _ladder(
    state: ServiceState, pitcher_id: int, day: dt.date, forecasts: pd.DataFrame
) -> list[dict[str, Any]]:
    """Every line stored for the pitcher that day (each book's latest snapshot), with P(over)
    from the shown system's distribution."""
    lines = state.warehouse.query(statement("pitcher_day_lines"), {"p": pitcher_id, "d": day})
    if lines.empty:
        return []
    rank = {"close": 0, "posted": 1, "open": 2}
    lines["r"] = lines["snapshot"].map(rank).fillna(9)
    lines = lines.sort_values(["line", "book", "r"]).drop_duplicates(["line", "book"])
    today = forecasts[pd.to_datetime(forecasts["game_date"]).dt.date == day]
    system = primary(state, set(today["system_id"])) if len(today) else None
    pmf = pmf_from_json(clean(today[today["system_id"] == system]["pmf"].iloc[0])) if system else []
    out = []
    for r in lines.to_dict("records"):
        line = float(r["line"])
        p_over = sum(p for k, p in enumerate(pmf) if k > line) if pmf else None
        out.append(
            {
                **r,
                "book": book_name(r["book"]),
                "p_over": p_over,
                "system": system,
                "main": bool(clean(r["is_main"])),
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# the ledger as a table and as CSV
# --------------------------------------------------------------------------------------------

FORMATS = {
    "odds": "+.0f",
    "stake": ".2%",
    "clv": "+.2%",
    "profit": "+.3%",
    "p_win": ".3f",
    "ev": "+.3f",
}


def ledger_table(rows: pd.DataFrame) -> tuple[list[str], list[dict]] | None:
    """Ledger rows (``ledger_between``) for people: the teams as MLB
    spells them, the books' full names, numbers formatted (None without a ledger)."""
    if rows is None or rows.empty and not len(rows.columns):
        return None
    rows = rows.copy()
    for col in ("team", "opponent"):
        rows[col] = [
            display_team(t, d) if isinstance(t, str) else None
            for t, d in zip(rows[col], rows["game_date"], strict=True)
        ]
    rows["book"] = [book_name(b) for b in rows["book"]]
    for col, spec in FORMATS.items():
        rows[col] = [None if pd.isna(v) else format(v, spec) for v in rows[col]]
    return list(rows.columns), [
        {k: shown(v) for k, v in r.items()} for r in rows.to_dict("records")
    ]


def ledger_between(state: ServiceState, start: dt.date, end: dt.date) -> pd.DataFrame | None:
    """The ledger's latest 200 bets of ``LEDGER_STRATEGY`` from ``start`` to ``end`` (never a
    bet after ``end``); None without a ledger."""
    if not state.warehouse.table_exists("bets"):
        return None
    params = {"p": None, "a": start, "b": end, "s": LEDGER_STRATEGY}
    return state.warehouse.query(statement("ledger_between"), params)


@router.get("/ledger.csv")
def ledger_download(state: StateDep) -> Response:
    """Every bet of the ledger (``LEDGER_STRATEGY``) as CSV, stakes in units and money."""
    return Response(
        ledger_csv(state.warehouse, LEDGER_STRATEGY, bankroll(state)),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="kcast-ledger.csv"'},
    )


# --------------------------------------------------------------------------------------------
# performance
# --------------------------------------------------------------------------------------------


def _clv(state: ServiceState, graded: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
    """Each row's closing-line value in probability points, as the backtest scores it
    (``scoring.clv_points``): the no-vig probability of the row's side at its stored
    (closing) prices minus at the same book's opening prices of the same line (NaN where there
    is no opening price)."""
    opens = open_prices(state.warehouse, start, end)
    merged = graded.reset_index().merge(
        opens, on=["pitcher_id", "game_date", "book", "line"], how="left"
    )

    def devigged(over: str, under: str) -> np.ndarray:
        o = pd.to_numeric(merged[over], errors="coerce").to_numpy(float)
        u = pd.to_numeric(merged[under], errors="coerce").to_numpy(float)
        fair = [
            devig(None if np.isnan(a) else a, None if np.isnan(b) else b)
            for a, b in zip(o, u, strict=True)
        ]
        return np.array([np.nan if f is None else f for f in fair], dtype=float)

    side = merged["recommendation"].to_numpy(object)
    values = clv_points(side, devigged("over_odds", "under_odds"), devigged(*OPEN_ODDS))
    return pd.Series(values, index=merged["index"]).reindex(graded.index)


def graded_between(state: ServiceState, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The graded predictions of the period with their absolute errors."""
    graded = state.warehouse.query(statement("graded_predictions_between"), {"a": start, "b": end})
    if graded.empty:
        return graded
    graded["game_date"] = pd.to_datetime(graded["game_date"])
    graded["abs_error"] = (graded["predicted_strikeouts"] - graded["actual_strikeouts"]).abs()
    return graded


def ledger_bets(state: ServiceState, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The ledger's graded bets of the period (``LEDGER_STRATEGY``), empty without a ledger."""
    if not state.warehouse.table_exists("bets"):
        return pd.DataFrame()
    params = {"s": LEDGER_STRATEGY, "a": start, "b": end}
    rows = state.warehouse.query(statement("graded_ledger_bets"), params)
    rows["game_date"] = pd.to_datetime(rows["game_date"])
    return rows


def row_bets(state: ServiceState, graded: pd.DataFrame, start: dt.date, end: dt.date):  # noqa: ANN201
    """Without graded ledger bets: each row's bet or lean at its price, one unit each, its CLV
    against the same book's opening price."""
    decided = graded[graded["recommendation"].isin(["OVER", "UNDER"])]
    return decided.assign(
        odds=pd.to_numeric(decided["decision_odds"], errors="coerce"),
        stake=1.0,
        clv=_clv(state, graded, start, end).reindex(decided.index),
    )


def performance_data(state: ServiceState, end: dt.date, days: int, window: int) -> dict[str, Any]:
    """The performance page's figures over ``days`` before ``end``: MAE per system over a
    rolling ``window``, how the bets did (the ledger's graded bets, else each row's decision
    at its price; ``bet_metrics``) and to each day, and calibration (``kcast.scoring``)."""
    start = end - dt.timedelta(days=days)
    graded = graded_between(state, start, end)
    if graded.empty:
        return {"empty": True, "start": start}
    ledger = ledger_bets(state, start, end)
    bets_of = ledger if len(ledger) else row_bets(state, graded, start, end)
    mae_rows, roi_rows, summary = [], [], []
    for system_id, g in graded.groupby("system_id"):
        mae_rows += _rolling_mae(system_id, g, window)
        bets = bets_of[bets_of["system_id"] == system_id]
        roi_rows += _to_date(system_id, bets)
        summary.append(
            {"system": system_id, "n": len(g), "mae": float(g["abs_error"].mean())}
            | {"record": record(bets)}
        )
    cal_rows = _calibration_rows(graded)
    clv_rows = [r for r in roi_rows if r["clv"] is not None]
    return {
        "empty": False,
        "start": start,
        "bets_from": LEDGER_STRATEGY if len(ledger) else None,
        "summary": summary,
        "mae": charts.with_rows(charts.template("mae", window), mae_rows),
        "roi": charts.with_rows(charts.template("roi"), roi_rows) if roi_rows else None,
        "clv": charts.with_rows(charts.template("clv"), clv_rows) if clv_rows else None,
        "calibration": charts.with_rows(charts.template("calibration"), cal_rows)
        if cal_rows
        else None,
    }


def _to_date(system_id: str, bets: pd.DataFrame) -> list[dict[str, Any]]:
    """A system's record to each day (``bet_metrics.record`` of its bets up to that day): ROI
    flat and staked, units won and CLV in probability points."""
    if bets.empty:
        return []
    out = []
    ordered = bets.sort_values("game_date")
    for day in ordered["game_date"].drop_duplicates():
        r = record(ordered[ordered["game_date"] <= day])
        if not r.bets:
            continue
        out.append(
            {
                "game_date": pd.Timestamp(day).strftime("%Y-%m-%d"),
                "system_id": system_id,
                "roi": None if r.roi_flat is None else round(r.roi_flat, 4),
                "roi_staked": None if r.roi_staked is None else round(r.roi_staked, 4),
                "bets": r.bets,
                "units": None if r.units is None else round(r.units, 3),
                "clv": None if r.clv is None else round(100 * r.clv, 3),
            }
        )
    return out


def _rolling_mae(system_id: str, g: pd.DataFrame, window: int) -> list[dict[str, Any]]:
    """A system's MAE over a rolling window of ``window`` days, to each day."""
    daily = g.groupby("game_date").agg(err=("abs_error", "sum"), n=("abs_error", "size"))
    rolled = daily.rolling(f"{window}D").sum()
    return [
        {
            "game_date": d.strftime("%Y-%m-%d"),
            "system_id": system_id,
            "mae": round(float(r.err / r.n), 4),
            "n": int(r.n),
        }
        for d, r in rolled.iterrows()
    ]


def _calibration_rows(graded: pd.DataFrame) -> list[dict[str, Any]]:
    """Each system's calibration table (``scoring.calibration_table``: deciles of the stated
    P(over) against the observed share, with 95% Wilson intervals), pushes left out."""
    cal = graded.dropna(subset=["p_over", "line"])
    cal = cal[cal["actual_strikeouts"] != cal["line"]]
    rows = []
    for system_id, g in cal.groupby("system_id"):
        over = (g["actual_strikeouts"] > g["line"]).to_numpy(float)
        for r in calibration_table(g["p_over"].to_numpy(float), over):
            rounded = {k: round(float(r[k]), 4) for k in ("stated", "observed", "lo", "hi")}
            rows.append({"system_id": system_id, **rounded, "n": r["n"]})
    return rows


@router.get("/performance", response_class=HTMLResponse)
def performance_page(
    state: StateDep,
    date: DateQuery = None,
    days: Annotated[int, Query(ge=7, le=3660, description="Days of history")] = 120,
    window: Annotated[int, Query(ge=1, le=365, description="Rolling window (days)")] = 14,
) -> HTMLResponse:
    """MAE per system over a rolling window, how the bets did, calibration, the bet ledger of
    the period (no bet after its date)."""
    end = day_of(state, date)
    data = performance_data(state, end, days, window)
    ledger = ledger_between(state, end - dt.timedelta(days=days), end)
    return render(
        "performance.html",
        page="performance",
        title="kcast: performance",
        day=end,
        days=days,
        window=window,
        perf=data,
        ledger=None if ledger is None else ledger_table(ledger),
    )
