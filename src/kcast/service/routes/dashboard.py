"""The dashboard: HTML pages served by the worker itself (no second server, no network).

``/`` (today, or ``/?date=YYYY-MM-DD``): one card per starter with his distribution against
the line; ``/pitcher/{id}``: his recent starts and how his forecasts fared, the alternate lines;
``/performance``: MAE, ROI and calibration per system, the bet ledger where a ``bets`` table
exists; ``/status``: each system's breaker, model and last error, and the daily coverage.

Charts are Vega-Lite specs made by Altair (``kcast.charts``). The day's cards are drawn to SVG
on the server (vl-convert, once per distribution) and shown as images the browser keeps, so the
day page needs no chart script; the other pages' charts are drawn by vega-embed from ``/static/vega/`` (copied from the
npm packages, with their BSD-3 licences). No inline script runs: data travels in
``<script type="application/json">`` blocks read by ``dashboard.js``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jinja2
import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from kcast import __version__, charts
from kcast.api import pmf_from_json
from kcast.dates import parse_day, today
from kcast.decision import DECISION_COLUMNS
from kcast.decisions import devig
from kcast.prices import open_prices
from kcast.scoring import calibration_table, clv_points, profit_units
from kcast.service.deps import ServiceState, StateDep
from kcast.service.routes.picks import order_picks
from kcast.service.security import ReaderDep
from kcast.service.values import clean, split_flags
from kcast.teams import display_team, team_name
from kcast.warehouse.statements import statement

router = APIRouter(tags=["dashboard"], include_in_schema=False, dependencies=[ReaderDep])

HERE = Path(__file__).resolve().parent.parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".svg": "image/svg+xml",
}

# every column: the cards show optional ones (a lineup status) where the table has them
DateQuery = Annotated[str | None, Query(description="The date (YYYY-MM-DD); default today")]


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _fmt
    env.filters["odds"] = _odds
    env.filters["pct"] = lambda v, spec=".0%": _fmt(v, spec)
    env.filters["tojson_safe"] = _json
    return env


def shown(value: Any) -> Any:
    """A table cell for people: dates as YYYY-MM-DD, times to the minute (UTC), NaN as None."""
    value = clean(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def _fmt(value: Any, spec: str = ".2f") -> str:
    value = clean(value)
    if value is None:
        return "–"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def _odds(value: Any) -> str:
    value = clean(value)
    return "–" if value is None else f"{value:+.0f}"


def _json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` block (no ``</`` can close it)."""
    text = json.dumps(value, default=_default, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _default(value: Any) -> Any:
    value = clean(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if not isinstance(value, np.generic) else value.item()


def page_html(template_name: str, **values: Any) -> str:
    return _env().get_template(template_name).render(version=__version__, **values)


def render(template_name: str, **values: Any) -> HTMLResponse:
    return HTMLResponse(page_html(template_name, **values))


def _day(value: str | None) -> dt.date:
    if value is None or not value.strip():
        return today()
    try:
        return parse_day(value.strip())
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _primary(state: ServiceState, present: set[str]) -> str | None:
    order = [state.settings.primary_system, *state.active_ids]
    return next((s for s in order if s in present), next(iter(sorted(present)), None))


# --------------------------------------------------------------------------------------------
# static files
# --------------------------------------------------------------------------------------------


@router.get("/static/{path:path}")
def static(path: str) -> FileResponse:
    """The dashboard's own assets (vega, vega-lite, vega-embed, its script and style)."""
    try:  # a NUL byte or a name the file system refuses is no file either
        target = (STATIC / path).resolve()
        found = target.is_relative_to(STATIC) and target.is_file()
    except (ValueError, OSError):
        found = False
    if not found:
        raise HTTPException(404, "no such file")
    media = MEDIA_TYPES.get(target.suffix, "application/octet-stream")
    return FileResponse(target, media_type=media, headers={"Cache-Control": "max-age=86400"})


# --------------------------------------------------------------------------------------------
# the day
# --------------------------------------------------------------------------------------------

CHARTS: OrderedDict[str, str] = OrderedDict()  # a card chart's key -> its rows (JSON)
CHARTS_KEPT = 8192


def chart_key(pmf_rows: list[dict[str, Any]], line_rows: list[dict[str, Any]]) -> str:
    """The key of a card's chart (a hash of its rows), remembered so ``/chart/{key}.svg`` can
    draw it. Same rows, same key: the browser keeps each drawn chart (immutable)."""
    data = charts.distribution_data(pmf_rows, line_rows)
    key = hashlib.sha256(data.encode()).hexdigest()[:24]
    keep(CHARTS, key, data, CHARTS_KEPT)
    return key


KEPT_LOCK = threading.Lock()


def keep(cache: OrderedDict, key: Any, value: Any, most: int) -> None:
    """Put ``value`` in a bounded cache, dropping the least recently kept beyond ``most``."""
    with KEPT_LOCK:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > most:
            cache.popitem(last=False)


@router.get("/chart/{key}.svg")
def card_chart(key: str) -> Response:
    """A card's distribution drawn to SVG on the server (vl-convert), once per distribution."""
    data = CHARTS.get(key)
    if data is None:
        raise HTTPException(404, "no such chart (the worker restarted?): reload the page")
    return Response(
        charts.distribution_svg(data),
        media_type="image/svg+xml",
        headers={"Cache-Control": "max-age=31536000, immutable"},
    )


def _lineups(state: ServiceState, day: dt.date) -> dict[tuple[str, str], dict[str, Any]]:
    """The opposing lineups known for the day's games: (game_id, batting team) -> hands."""
    rows = state.warehouse.query(statement("day_lineups"), {"d": day})
    return {(r["game_id"], r["team"]): r for r in rows.to_dict("records")}


def _price(row: dict[str, Any]) -> tuple[str, Any, str]:
    """The side shown (the pick, else the side the system leans to), its price and book."""
    side = row["recommendation"]
    if side not in ("OVER", "UNDER"):
        side = "OVER" if (clean(row.get("edge")) or 0) > 0 else "UNDER"
    odds = row["over_odds"] if side == "OVER" else row["under_odds"]
    return side, clean(odds), clean(row.get("book")) or ""


def _day_bets(state: ServiceState, day: dt.date, system: str) -> dict[tuple[str, int], dict]:
    """The ledger's bet on each starter of the day by ``system`` (the ``ev`` strategy's where
    several strategies bet): (game_id, pitcher_id) -> the bet. None where there is no ledger."""
    if not state.warehouse.table_exists("bets"):
        return {}
    rows = state.warehouse.query(statement("day_bets_of_system"), {"d": day, "s": system})
    out: dict[tuple[str, int], dict] = {}
    for r in rows.to_dict("records"):
        out.setdefault((r["game_id"], int(r["pitcher_id"])), {k: clean(v) for k, v in r.items()})
    return out


def day_cards(state: ServiceState, day: dt.date) -> tuple[list[dict[str, Any]], str | None]:
    """One card per starter of ``day`` from the stored predictions, and the system shown."""
    rows = state.warehouse.query(statement("day_predictions"), {"d": day})
    if rows.empty:
        return [], None
    rows = order_picks(rows, state.active_ids, state.settings.primary_system)
    shown = _primary(state, set(rows["system_id"]))
    lineups = _lineups(state, day)
    bets = _day_bets(state, day, shown)
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in rows.to_dict("records"):  # once: per-group frames cost more than the page
        groups.setdefault((record["game_id"], int(record["pitcher_id"])), []).append(record)
    cards = [
        card(day, records, shown, lineups, bets.get((game_id, pitcher_id)))
        for (game_id, pitcher_id), records in groups.items()
    ]
    return cards, shown


def card(
    day: dt.date,
    records: list[dict[str, Any]],
    shown: str | None,
    lineups: dict[tuple[str, str], dict[str, Any]],
    ledger: dict | None,
) -> dict[str, Any]:
    """One starter's card: the shown system's row (its decision, prices and distribution),
    every system's mean, the opposing lineup and the ledger's bet."""
    game_id, pitcher_id = records[0]["game_id"], int(records[0]["pitcher_id"])
    top = next((r for r in records if r["system_id"] == shown), records[0])
    season = day.year
    side, odds, book = _price(top)
    lineup = lineups.get((game_id, top["opponent"]))
    line = clean(top["line"])
    pmf = pmf_from_json(clean(top.get("pmf")))

    return {
        "id": f"{game_id}-{pitcher_id}",
        "game_id": game_id,
        "pitcher_id": int(pitcher_id),
        "name": clean(top["pitcher_name"]) or str(pitcher_id),
        "team": display_team(top["team"], season),
        "team_name": team_name(top["team"], season),
        "opponent": display_team(top["opponent"], season),
        "opponent_name": team_name(top["opponent"], season),
        "is_home": bool(top["is_home"]),
        "system": top["system_id"],
        "line": line,
        "side": side,
        "odds": odds,
        "over_odds": clean(top["over_odds"]),
        "under_odds": clean(top["under_odds"]),
        "book": book,
        "pick": top["recommendation"],
        "bet": top["recommendation"] in ("OVER", "UNDER"),
        **{k: clean(top.get(k)) for k in DECISION_COLUMNS},
        "edge": clean(top["edge"]),
        "ev": clean(top["expected_value"]),
        "confidence": clean(top["confidence"]),
        "p_over": clean(top["p_over"]),
        "model_p_over": clean(top["model_p_over"]),
        "market_p_over": clean(top["market_p_over"]),
        "predicted": clean(top["predicted_strikeouts"]),
        "p10": clean(top["k_p10"]),
        "p90": clean(top["k_p90"]),
        "ledger": ledger,
        "lineup_status": clean(top.get("lineup_status")),
        "flags": split_flags(top["red_flags"]),
        "reasons": clean(top["reasons"]) or "",
        "actual": clean(top["actual_strikeouts"]),
        "result": clean(top["result"]),
        "lineup": None
        if lineup is None
        else {
            "L": clean(lineup["lineup_lhb"]),
            "R": clean(lineup["lineup_rhb"]),
            "S": clean(lineup["lineup_shb"]),
        },
        "systems": [
            {
                "system": r["system_id"],
                "mean": clean(r["predicted_strikeouts"]),
                "p_over": clean(r["p_over"]),
                "pick": r["recommendation"],
            }
            for r in records
        ],
        "chart": chart_key(charts.distribution_rows(pmf, line), charts.line_data(line))
        if pmf
        else None,
    }


DAY_PAGES: OrderedDict[tuple, str] = OrderedDict()  # (day, warehouse stamp, models) -> HTML
DAY_PAGES_KEPT = 32


@router.get("/", response_class=HTMLResponse)
def day_page(state: StateDep, date: DateQuery = None) -> HTMLResponse:
    """The day: one card per starter, sortable by edge; the table matches /picks. A day's page
    is kept until the warehouse changes (any write, by any process) or the models reload."""
    day = _day(date)
    stamp = state.warehouse.change_stamp()
    key = (id(state), day, stamp, state.generation)
    page = DAY_PAGES.get(key) if stamp is not None else None
    if page is None:
        page = day_html(state, day)
        if stamp is not None:
            keep(DAY_PAGES, key, page, DAY_PAGES_KEPT)
    return HTMLResponse(page)


def day_html(state: ServiceState, day: dt.date) -> str:
    cards, shown = day_cards(state, day)
    ledger = [c["ledger"] for c in cards if c["ledger"]]
    stakes = [b["stake"] for b in ledger if b["stake"] is not None]
    return page_html(
        "day.html",
        page="day",
        title=f"kcast: {day}",
        day=day,
        prev_day=day - dt.timedelta(days=1),
        next_day=day + dt.timedelta(days=1),
        cards=cards,
        shown=shown,
        picks=sum(c["bet"] for c in cards),
        bets=len(ledger),
        total_stake=sum(stakes) if stakes else None,
    )


# --------------------------------------------------------------------------------------------
# a pitcher
# --------------------------------------------------------------------------------------------


@router.get("/pitcher/{pitcher_id}", response_class=HTMLResponse)
def pitcher_page(pitcher_id: int, state: StateDep, date: DateQuery = None) -> HTMLResponse:
    """A pitcher: recent starts, how his forecasts fared, the day's alternate lines."""
    wh = state.warehouse
    day = _day(date)
    who = wh.query(statement("player_name"), {"p": pitcher_id})
    starts = wh.query(statement("recent_starts"), {"p": pitcher_id, "d": day})
    if who.empty and starts.empty:
        raise HTTPException(404, f"pitcher {pitcher_id} is not in the warehouse")
    name = clean(who["full_name"].iloc[0]) if len(who) else str(pitcher_id)
    forecasts = wh.query(statement("pitcher_forecasts"), {"p": pitcher_id, "d": day})
    start_rows = []
    for r in starts.to_dict("records"):
        season = pd.Timestamp(r["game_date"]).year
        outs = clean(r["outs"])
        start_rows.append(
            {
                **r,
                "game_date": pd.Timestamp(r["game_date"]).date(),
                "team": display_team(r["team"], season),
                "opponent": display_team(r["opponent"], season),
                "ip": None if outs is None else f"{outs // 3}.{outs % 3}",
            }
        )
    graded = forecasts[forecasts["actual_strikeouts"].notna()].copy()
    fared = []
    for system_id, g in graded.groupby("system_id"):
        err = (g["predicted_strikeouts"] - g["actual_strikeouts"]).abs()
        fared.append(
            {
                "system": system_id,
                "n": len(g),
                "mae": float(err.mean()),
                "wins": int((g["result"] == "win").sum()),
                "losses": int((g["result"] == "loss").sum()),
                "pushes": int((g["result"] == "push").sum()),
            }
        )
    series = []
    for r in start_rows:
        series.append(
            {"game_date": str(r["game_date"]), "series": "actual", "strikeouts": r["strikeouts"]}
        )
    for r in forecasts.to_dict("records"):
        date_s = str(pd.Timestamp(r["game_date"]).date())
        series.append(
            {
                "game_date": date_s,
                "series": r["system_id"],
                "strikeouts": clean(r["predicted_strikeouts"]),
            }
        )
    lines = forecasts.drop_duplicates("game_date")
    for r in lines.to_dict("records"):
        if clean(r["line"]) is not None:
            date_s = str(pd.Timestamp(r["game_date"]).date())
            series.append({"game_date": date_s, "series": "line", "strikeouts": clean(r["line"])})
    ladder = _ladder(state, pitcher_id, day, forecasts)
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
        fared=fared,
        ledger=bet_ledger(state, pitcher_id, day),
        ladder=ladder,
        chart=charts.with_rows(charts.template("starts"), series) if series else None,
    )


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
    shown = _primary(state, set(today["system_id"])) if len(today) else None
    pmf = pmf_from_json(clean(today[today["system_id"] == shown]["pmf"].iloc[0])) if shown else []
    out = []
    for r in lines.to_dict("records"):
        line = float(r["line"])
        p_over = sum(p for k, p in enumerate(pmf) if k > line) if pmf else None
        out.append({**r, "p_over": p_over, "system": shown, "main": bool(clean(r["is_main"]))})
    return out


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


OPEN_ODDS = ("open_over_odds", "open_under_odds")


LEDGER_STRATEGY = "ev"  # the strategy kcast predict and kcast daily bet with


def _ledger_graded(state: ServiceState, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The ledger's graded bets of the period (``LEDGER_STRATEGY``), empty without a ledger."""
    if not state.warehouse.table_exists("bets"):
        return pd.DataFrame()
    params = {"s": LEDGER_STRATEGY, "a": start, "b": end}
    rows = state.warehouse.query(statement("graded_ledger_bets"), params)
    rows["game_date"] = pd.to_datetime(rows["game_date"])
    return rows


def _to_date(system_id: str, bets: pd.DataFrame) -> list[dict[str, Any]]:
    """A system's ROI (profit per unit staked), units won (per one-unit bet) and mean CLV to
    each day: columns game_date, stake, profit, clv."""
    if bets.empty:
        return []
    by_day = (
        bets.assign(units=bets["profit"] / bets["stake"])
        .groupby("game_date")
        .agg(
            profit=("profit", "sum"),
            stake=("stake", "sum"),
            units=("units", "sum"),
            size=("profit", "size"),
            clv_sum=("clv", "sum"),
            clv_n=("clv", "count"),
        )
        .cumsum()
    )
    return [
        {
            "game_date": d.strftime("%Y-%m-%d"),
            "system_id": system_id,
            "roi": round(float(r["profit"] / r["stake"]), 4),
            "bets": int(r["size"]),
            "units": round(float(r["units"]), 3),
            "clv": round(float(r["clv_sum"] / r["clv_n"]), 4) if r["clv_n"] else None,
        }
        for d, r in by_day.iterrows()
    ]


def _bet_totals(bets: pd.DataFrame) -> dict[str, Any]:
    """Bets, won-lost-pushed, units won, ROI and mean CLV of a system's bets."""
    some = len(bets) > 0
    return {
        "bets": len(bets),
        "wins": int((bets["result"] == "win").sum()) if some else 0,
        "losses": int((bets["result"] == "loss").sum()) if some else 0,
        "pushes": int((bets["result"] == "push").sum()) if some else 0,
        "units": float((bets["profit"] / bets["stake"]).sum()) if some else None,
        "roi": float(bets["profit"].sum() / bets["stake"].sum()) if some else None,
        "clv": float(bets["clv"].mean()) if some and bets["clv"].notna().any() else None,
    }


def performance_data(state: ServiceState, end: dt.date, days: int, window: int) -> dict[str, Any]:
    """The performance page's figures over ``days`` before ``end``: MAE per system over a
    rolling ``window``, ROI and CLV to each day (the ledger's graded bets, else each row's
    decision at its price) and calibration; every statistic is ``kcast.scoring``'s."""
    wh = state.warehouse
    start = end - dt.timedelta(days=days)
    graded = wh.query(statement("graded_predictions_between"), {"a": start, "b": end})
    if graded.empty:
        return {"empty": True, "start": start}
    graded["game_date"] = pd.to_datetime(graded["game_date"])
    graded["clv"] = _clv(state, graded, start, end)
    graded["abs_error"] = (graded["predicted_strikeouts"] - graded["actual_strikeouts"]).abs()
    odds = pd.to_numeric(graded["decision_odds"], errors="coerce").to_numpy(float)
    graded["profit"] = profit_units(
        graded["recommendation"].to_numpy(object),
        graded["actual_strikeouts"].to_numpy(float),
        pd.to_numeric(graded["decision_line"], errors="coerce").to_numpy(float),
        odds,
        odds,
    )
    graded["stake"] = 1.0  # a row's decision is one unit at its price

    ledger = _ledger_graded(state, start, end)
    # the ledger's bets where it has graded ones, else each row's decision at its price
    bets_of = ledger if len(ledger) else graded.dropna(subset=["profit"])
    mae_rows, roi_rows, summary = [], [], []
    for system_id, g in graded.groupby("system_id"):
        mae_rows += _rolling_mae(system_id, g, window)
        bets = bets_of[bets_of["system_id"] == system_id]
        roi_rows += _to_date(system_id, bets)
        mae = float(g["abs_error"].mean())
        summary.append({"system": system_id, "n": len(g), "mae": mae, **_bet_totals(bets)})
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


FORMATS = {
    "odds": "+.0f",
    "stake": ".2%",
    "clv": "+.2%",
    "profit": "+.3%",
    "p_win": ".3f",
    "ev": "+.3f",
}


def bet_ledger(
    state: ServiceState, pitcher_id: int | None = None, day: dt.date | None = None
) -> tuple[list[str], list[dict]] | None:
    """The ``bets`` table's latest 200 rows (or a pitcher's, up to ``day``, of
    ``LEDGER_STRATEGY``) with the pitcher's name and the teams as MLB spells them, where the
    warehouse has one (None otherwise)."""
    if not state.warehouse.table_exists("bets"):
        return None
    if pitcher_id is None:
        rows = state.warehouse.query(statement("latest_ledger"))
    else:
        params = {"p": pitcher_id, "d": day, "s": LEDGER_STRATEGY}
        rows = state.warehouse.query(statement("pitcher_ledger"), params)
    for col in ("team", "opponent"):
        rows[col] = [
            display_team(t, d) if isinstance(t, str) else None
            for t, d in zip(rows[col], rows["game_date"], strict=True)
        ]
    for col, spec in FORMATS.items():
        rows[col] = [None if pd.isna(v) else format(v, spec) for v in rows[col]]
    return list(rows.columns), [
        {k: shown(v) for k, v in r.items()} for r in rows.to_dict("records")
    ]


@router.get("/performance", response_class=HTMLResponse)
def performance_page(
    state: StateDep,
    date: DateQuery = None,
    days: Annotated[int, Query(ge=7, le=3660, description="Days of history")] = 120,
    window: Annotated[int, Query(ge=1, le=365, description="Rolling window (days)")] = 14,
) -> HTMLResponse:
    """MAE per system over a rolling window, ROI over time, calibration, the bet ledger."""
    end = _day(date)
    data = performance_data(state, end, days, window)
    return render(
        "performance.html",
        page="performance",
        title="kcast: performance",
        day=end,
        days=days,
        window=window,
        perf=data,
        ledger=bet_ledger(state),
    )


# --------------------------------------------------------------------------------------------
# health
# --------------------------------------------------------------------------------------------


@router.get("/status", response_class=HTMLResponse)
def status_page(state: StateDep) -> HTMLResponse:
    """Each system's breaker, model version and last error; the daily coverage view."""
    systems = [{"system": s, **state.system_health(s)} for s in state.active_ids]
    error = None
    try:
        coverage = state.warehouse.query(statement("latest_coverage"))
        coverage_rows = [{k: shown(v) for k, v in r.items()} for r in coverage.to_dict("records")]
        columns = list(coverage.columns)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        coverage_rows, columns, error = [], [], f"daily_coverage could not be read: {exc}"
    return render(
        "status.html",
        page="status",
        title="kcast: health",
        day=today(),
        systems=systems,
        warehouse=state.warehouse.engine,
        warehouse_ok=state.warehouse_ok(),
        coverage=coverage_rows,
        coverage_columns=columns,
        coverage_error=error,
        expected_systems=len(state.active_ids),
    )
