"""The dashboard: HTML pages served by the worker itself (no second server, no network).

The pages: ``/`` the day (the latest with predictions, or ``/?date=YYYY-MM-DD``): its bets,
its leans, one card per starter with his distribution against the line; ``/board``: the day's
bets alone, for a phone; ``/pitcher/{id}``: his recent starts, how his forecasts and bets
fared, the alternate lines; ``/performance``: MAE, how the bets did, calibration, the bet
ledger; ``/status``: each system's breaker, model and last error, and the daily coverage. The
day's bets and the ledger download as CSV (``/bets.csv``, ``/ledger.csv``). The routes are in
``routes/day.py`` and ``routes/results.py``; this module serves the static files, the cards'
charts and the health page.

Charts are Vega-Lite specs made by Altair (``kcast.charts``). The day's cards are drawn to SVG
on the server (vl-convert, once per distribution) and shown as images the browser keeps, so the
day page needs no chart script; the other pages' charts are drawn by vega-embed from
``/static/vega/`` (copied from the npm packages, with their BSD-3 licences). No inline script
runs: data travels in ``<script type="application/json">`` blocks read by ``dashboard.js``.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from kcast import charts
from kcast.dates import today
from kcast.service.deps import StateDep
from kcast.service.pages import STATIC, render, shown
from kcast.service.routes.day import CHARTS
from kcast.service.security import ReaderDep
from kcast.warehouse.statements import statement

router = APIRouter(tags=["dashboard"], include_in_schema=False, dependencies=[ReaderDep])

MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".svg": "image/svg+xml",
}


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
