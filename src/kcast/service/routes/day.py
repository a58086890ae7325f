"""The day (``/``), the phone board (``/board``) and the day's bets as CSV (``/bets.csv``).

The day page leads with the day's board (``kcast.day_board``, the one ``kcast run`` prints):
the bets, each with its side, its line (marked when alternate), the book's full name, the
price, the stake in units and money, EV and its rule's record; then the leans; then one card
per starter with his distribution against the line. Without ``?date=`` it opens on the latest
day with predictions. The phone board is the board alone, laid out to read at 375 px.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from kcast import charts
from kcast.api import pmf_from_json
from kcast.day_board import DayBoard, Pick, book_name, day_board
from kcast.decision import DECISION_COLUMNS
from kcast.service.deps import ServiceState, StateDep
from kcast.service.pages import bankroll, day_of, keep, latest_day, page_html, primary
from kcast.service.routes.picks import order_picks
from kcast.service.security import ReaderDep
from kcast.service.values import clean, split_flags
from kcast.teams import display_team, team_name
from kcast.warehouse.statements import statement

router = APIRouter(tags=["dashboard"], include_in_schema=False, dependencies=[ReaderDep])

DateQuery = Annotated[
    str | None, Query(description="The date (YYYY-MM-DD); default the latest with predictions")
]

CHARTS: OrderedDict[str, str] = OrderedDict()  # a card chart's key -> its rows (JSON)
CHARTS_KEPT = 8192


def chart_key(pmf_rows: list[dict[str, Any]], line_rows: list[dict[str, Any]]) -> str:
    """The key of a card's chart (a hash of its rows), remembered so ``/chart/{key}.svg`` can
    draw it. Same rows, same key: the browser keeps each drawn chart (immutable)."""
    data = charts.distribution_data(pmf_rows, line_rows)
    key = hashlib.sha256(data.encode()).hexdigest()[:24]
    keep(CHARTS, key, data, CHARTS_KEPT)
    return key


# --------------------------------------------------------------------------------------------
# the board and the cards
# --------------------------------------------------------------------------------------------


def board_of(state: ServiceState, day: dt.date, shown: str | None) -> DayBoard:
    """The day's board for the system shown, at the decision time of the settings."""
    context = state.context
    at = context.at.label if context is not None else "now"
    live = context.live if context is not None else None
    return day_board(state.warehouse, day, shown, at, bankroll(state), *([live] if live else []))


def shown_on(state: ServiceState, day: dt.date) -> str | None:
    """The system the pages show on ``day`` (``pages.primary`` of the systems that predicted
    it; None without predictions)."""
    rows = state.warehouse.query(statement("day_predictions"), {"d": day})
    return primary(state, set(rows["system_id"])) if len(rows) else None


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
    return side, clean(odds), book_name(clean(row.get("book")))


def day_cards(
    state: ServiceState, day: dt.date
) -> tuple[list[dict[str, Any]], str | None, DayBoard | None]:
    """One card per starter of ``day`` from the stored predictions, the system shown and the
    day's board (its bets and leans go on their starters' cards)."""
    rows = state.warehouse.query(statement("day_predictions"), {"d": day})
    if rows.empty:
        return [], None, None
    rows = order_picks(rows, state.active_ids, state.settings.primary_system)
    shown = primary(state, set(rows["system_id"]))
    board = board_of(state, day, shown)
    picks = {(p.game_id, p.pitcher_id): p for p in [*board.bets, *board.leans]}
    lineups = _lineups(state, day)
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in rows.to_dict("records"):  # once: per-group frames cost more than the page
        groups.setdefault((record["game_id"], int(record["pitcher_id"])), []).append(record)
    cards = [
        card(day, records, shown, lineups, picks.get((game_id, pitcher_id)), board)
        for (game_id, pitcher_id), records in groups.items()
    ]
    return cards, shown, board


def card(  # noqa: PLR0913
    day: dt.date,
    records: list[dict[str, Any]],
    shown: str | None,
    lineups: dict[tuple[str, str], dict[str, Any]],
    pick: Pick | None,
    board: DayBoard,
) -> dict[str, Any]:
    """One starter's card: the shown system's row (its verdict, prices and distribution),
    every system's mean, the opposing lineup and the day's bet or lean on him."""
    game_id, pitcher_id = records[0]["game_id"], int(records[0]["pitcher_id"])
    top = next((r for r in records if r["system_id"] == shown), records[0])
    season = day.year
    side, odds, book = _price(top)
    lineup = lineups.get((game_id, top["opponent"]))
    line = clean(top["line"])
    pmf = pmf_from_json(clean(top.get("pmf")))
    lines = charts.line_data(line)
    if pick is not None and pick.alternate and pick.line is not None:
        lines = lines + [{"line": pick.line, "label": f"{pick.decision} {pick.line:g} (alt)"}]
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
        "verdict": clean(top.get("verdict")) or top["recommendation"],
        "pick": top["recommendation"],
        "bet": pick is not None and pick.decision == "bet",
        "lean": pick is not None and pick.decision == "lean",
        "the_pick": pick,
        # the bet's stake in units and money (the row's own decision columns, "stake" among
        # them, are a share of the bankroll)
        "stake_text": board.bankroll.stake_text(pick.stake) if pick and pick.stake else None,
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
        "chart": chart_key(charts.distribution_rows(pmf, line), lines) if pmf else None,
    }


# --------------------------------------------------------------------------------------------
# the pages
# --------------------------------------------------------------------------------------------

DAY_PAGES: OrderedDict[tuple, str] = OrderedDict()  # (page, day, warehouse stamp, models) -> HTML
DAY_PAGES_KEPT = 32


def kept_page(state: ServiceState, name: str, day: dt.date, make) -> str:  # noqa: ANN001
    """A page of ``day``, kept until the warehouse changes (any write, by any process) or the
    models reload."""
    stamp = state.warehouse.change_stamp()
    key = (id(state), name, day, stamp, state.generation)
    page = DAY_PAGES.get(key) if stamp is not None else None
    if page is None:
        page = make(state, day)
        if stamp is not None:
            keep(DAY_PAGES, key, page, DAY_PAGES_KEPT)
    return page


@router.get("/", response_class=HTMLResponse)
def day_page(state: StateDep, date: DateQuery = None) -> HTMLResponse:
    """The day: its bets, its leans, then one card per starter (sortable); the starters'
    table matches /picks."""
    return HTMLResponse(kept_page(state, "day", day_of(state, date), day_html))


@router.get("/board", response_class=HTMLResponse)
def board_page(state: StateDep, date: DateQuery = None) -> HTMLResponse:
    """The day's bets and leans alone, for a phone."""
    return HTMLResponse(kept_page(state, "board", day_of(state, date), board_html))


@router.get("/bets.csv")
def day_csv(state: StateDep, date: DateQuery = None) -> Response:
    """The day's bets and leans as CSV, stakes in units and money."""
    day = day_of(state, date)
    text = board_of(state, day, shown_on(state, day)).to_csv()
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="kcast-bets-{day}.csv"'},
    )


def _nav(day: dt.date, latest: dt.date | None) -> dict[str, Any]:
    return {
        "day": day,
        "prev_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "latest": latest,
    }


def day_html(state: ServiceState, day: dt.date) -> str:
    cards, shown, board = day_cards(state, day)
    return page_html(
        "day.html",
        page="day",
        title=f"kcast: {day}",
        **_nav(day, None if cards else latest_day(state)),
        cards=cards,
        shown=shown,
        board=board,
        verdicts=sum(c["verdict"] in ("OVER", "UNDER") for c in cards),
    )


def board_html(state: ServiceState, day: dt.date) -> str:
    shown = shown_on(state, day)
    board = board_of(state, day, shown) if shown else None
    return page_html(
        "board.html",
        page="board",
        title=f"kcast: bets on {day}",
        **_nav(day, None if shown else latest_day(state)),
        shown=shown,
        board=board,
    )
