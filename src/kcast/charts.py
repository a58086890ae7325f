"""Every chart kcast draws, as Vega-Lite through Altair: the notebook API's plot and the
dashboard's charts are the same functions.

Each function takes plain rows (or a DataFrame) and returns an Altair chart. The dashboard sends
``chart.to_dict()`` to vega-embed, which the worker serves itself (no network), except the day's
cards: their distributions are drawn to SVG on the server by vl-convert (the Vega project's own
converter, running the same vega and vega-lite versions as the browser), once per distribution.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import altair as alt
import pandas as pd
import vl_convert

VL_VERSION = "6.4"  # vega-lite as served in static/vega/ (vl-convert runs the same, with vega 6.2)
CARD_WIDTH = 300  # a card's plot, in px; the SVG scales to the card (viewBox)

SIDE_COLOURS = {  # colour-blind safe
    "under": "#5e3c99",
    "push": "#999999",
    "over": "#e66101",
    "distribution": "#3b6ea8",
}
LAST_K = 15  # the distribution's bars run 0..15, the last holding 15 or more
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return chart.configure(font=FONT).configure_axis(labelFontSize=12, titleFontSize=12)


def distribution_rows(pmf: Sequence[float], line: float | None) -> list[dict[str, Any]]:
    """The bars of a distribution: k (the last one holds LAST_K or more), its probability and
    the side of the line it falls on."""
    values = [float(p) for p in pmf]
    if len(values) > LAST_K + 1:
        values = values[:LAST_K] + [sum(values[LAST_K:])]
    rows = []
    for k, p in enumerate(values):
        if line is None:
            side = "distribution"
        else:
            side = "over" if k > line else "push" if k == line else "under"
        label = f"{k}+" if k == LAST_K else str(k)
        where = (
            "" if side == "distribution" else f", {side} the line" if side != "push" else ", a push"
        )
        rows.append(
            {
                "k": k,
                "k_lo": k - 0.42,
                "k_hi": k + 0.42,
                "p": round(p, 5),
                "side": side,
                "label": label,
                "text": f"{label} strikeouts: {p:.1%}{where}",
            }
        )
    return rows


def _distribution_layers(
    pmf: alt.Data | alt.InlineData, line: alt.Data | alt.InlineData, title: str | None
) -> alt.LayerChart:
    x = alt.X(
        "k_lo:Q",
        title="strikeouts",
        scale=alt.Scale(domain=[-0.5, LAST_K + 0.5], nice=False),
        axis=alt.Axis(values=list(range(0, LAST_K + 1)), format="d", grid=False),
    )
    bars = (
        alt.Chart(pmf)
        .mark_bar()
        .encode(
            x=x,
            x2="k_hi:Q",
            y=alt.Y("p:Q", title="probability", axis=alt.Axis(format=".0%", tickCount=4)),
            y2=alt.datum(0),
            color=alt.Color(
                "side:N",
                title=None,
                scale=alt.Scale(domain=list(SIDE_COLOURS), range=list(SIDE_COLOURS.values())),
                legend=alt.Legend(
                    orient="top",
                    direction="horizontal",
                    values=["under", "over"],
                    labelExpr="datum.label == 'over' ? 'over the line' : 'under the line'",
                ),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="strikeouts"),
                alt.Tooltip("p:Q", title="probability", format=".1%"),
            ],
            description="text:N",
        )
    )
    rule = (
        alt.Chart(line)
        .mark_rule(color="#222222", strokeDash=[5, 3], size=2)
        .encode(x=alt.X("line:Q"), tooltip=[alt.Tooltip("line:Q", title="line")])
    )
    text = (
        alt.Chart(line)
        .mark_text(align="left", dx=4, dy=-4, baseline="top", fontSize=12, color="#222222")
        .encode(x="line:Q", y=alt.value(0), text=alt.Text("label:N"))
    )
    layered = alt.layer(bars, rule, text)
    props: dict[str, Any] = {"width": "container", "height": 140}
    if title:
        props["title"] = title
    return layered.properties(**props)


def distribution_chart(
    pmf: Sequence[float], line: float | None, title: str | None = None
) -> alt.LayerChart:
    """A strikeout distribution as bars, coloured by side of the line, with the line dashed."""
    lines = [] if line is None else [{"line": float(line), "label": f"line {line:g}"}]
    chart = _distribution_layers(
        alt.InlineData(values=distribution_rows(pmf, line)), alt.InlineData(values=lines), title
    )
    description = "strikeout distribution" + ("" if line is None else f" against the line {line:g}")
    return _config(chart.properties(width=420, description=description))


@lru_cache(maxsize=1)
def distribution_template() -> dict[str, Any]:
    """The day page's card chart as a Vega-Lite spec over named data sets ``pmf`` and ``line``
    (each card supplies its own ``datasets``): built once, shared by every card."""
    chart = _distribution_layers(alt.Data(name="pmf"), alt.Data(name="line"), None)
    return _config(chart).to_dict()


def line_data(line: float | None) -> list[dict[str, Any]]:
    return [] if line is None else [{"line": float(line), "label": f"line {line:g}"}]


@lru_cache(maxsize=1)
def _card_vega() -> dict[str, Any]:
    """The card chart compiled to Vega once, at a fixed width (the server has no container)."""
    spec = {**distribution_template(), "width": CARD_WIDTH}
    return vl_convert.vegalite_to_vega(spec, vl_version=VL_VERSION)


def distribution_data(pmf_rows: list[dict[str, Any]], line_rows: list[dict[str, Any]]) -> str:
    """A card chart's data sets (``distribution_rows`` and ``line_data``) as one JSON text."""
    return json.dumps({"pmf": pmf_rows, "line": line_rows}, sort_keys=True)


@lru_cache(maxsize=4096)
def distribution_svg(data_json: str) -> str:
    """A card's distribution (``distribution_data``) drawn to SVG by vl-convert; the same data
    gives the same SVG, so each is drawn once per process."""
    data = json.loads(data_json)
    vega = _card_vega()
    filled = [{**d, "values": data[d["name"]]} if d["name"] in data else d for d in vega["data"]]
    spec = {**vega, "data": filled}
    return vl_convert.vega_to_svg(spec)


Rows = pd.DataFrame | alt.Data
DATE_AXIS = alt.X("game_date:T", title="date", axis=alt.Axis(format="%b %-d", labelOverlap=True))


def mae_chart(frame: Rows, window: int) -> alt.Chart:
    """MAE per system over a rolling window of days: columns game_date, system_id, mae, n."""
    return _config(
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=DATE_AXIS,
            y=alt.Y("mae:Q", title=f"MAE, trailing {window} days", scale=alt.Scale(zero=False)),
            color=alt.Color("system_id:N", title="system", legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("game_date:T", title="date"),
                alt.Tooltip("system_id:N", title="system"),
                alt.Tooltip("mae:Q", title="MAE", format=".3f"),
                alt.Tooltip("n:Q", title="starts in window"),
            ],
        )
        .properties(
            width="container",
            height=240,
            description=f"mean absolute error per system, trailing {window} days",
        )
    )


def _to_date_chart(  # noqa: PLR0913
    frame: Rows,
    field: str,
    title: str,
    axis_format: str,
    extra: list,
    height: int,
    what: str,
    step: float,
) -> alt.Chart:
    """A step line per system of a to-date figure (``field``) over game dates; the axis ticks
    are at least ``step`` apart, the resolution of ``axis_format``, so that no two ticks share
    a label."""
    return _config(
        alt.Chart(frame)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=DATE_AXIS,
            y=alt.Y(
                f"{field}:Q",
                title=title,
                axis=alt.Axis(format=axis_format, tickMinStep=step),
                scale=alt.Scale(zero=False),
            ),
            color=alt.Color("system_id:N", title="system", legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("game_date:T", title="date"),
                alt.Tooltip("system_id:N", title="system"),
                *extra,
                alt.Tooltip("bets:Q", title="bets"),
            ],
        )
        .properties(width="container", height=height, description=what)
    )


def roi_chart(frame: Rows) -> alt.Chart:
    """ROI flat to date per system (``bet_metrics``): columns game_date, system_id, roi (flat),
    roi_staked, bets, units."""
    extra = [
        alt.Tooltip("roi:Q", title="ROI flat", format="+.1%"),
        alt.Tooltip("roi_staked:Q", title="ROI staked", format="+.1%"),
        alt.Tooltip("units:Q", title="units won", format="+.2f"),
    ]
    title = "ROI flat to date (units won per bet)"
    what = "ROI flat to date per system"
    return _to_date_chart(frame, "roi", title, "+.0%", extra, 240, what, 0.01)


def clv_chart(frame: Rows) -> alt.Chart:
    """Mean closing-line value of the bets to date per system, in probability points:
    columns game_date, system_id, clv (points), bets."""
    extra = [alt.Tooltip("clv:Q", title="CLV (points)", format="+.2f")]
    title = "mean CLV to date (probability points)"
    what = "mean closing-line value per system"
    return _to_date_chart(frame, "clv", title, "+.1f", extra, 200, what, 0.1)


def calibration_chart(frame: Rows) -> alt.FacetChart:
    """Stated P(over) against observed, per decile, with 95% intervals, one panel per system:
    columns system_id, stated, observed, lo, hi, n."""
    base = alt.Chart(frame)
    axis_x = alt.X("stated:Q", title="stated P(over)", scale=alt.Scale(domain=[0, 1]))
    axis_y = alt.Y("observed:Q", title="observed share over", scale=alt.Scale(domain=[0, 1]))
    diagonal = base.mark_rule(color="#888888", strokeDash=[4, 4]).encode(
        x=alt.datum(0), y=alt.datum(0), x2=alt.datum(1), y2=alt.datum(1)
    )
    bars = base.mark_rule(color="#3b6ea8").encode(x=axis_x, y="lo:Q", y2="hi:Q")
    points = base.mark_point(filled=True, size=50, color="#3b6ea8").encode(
        x=axis_x,
        y=axis_y,
        tooltip=[
            alt.Tooltip("stated:Q", title="stated", format=".2f"),
            alt.Tooltip("observed:Q", title="observed", format=".2f"),
            alt.Tooltip("lo:Q", title="95% low", format=".2f"),
            alt.Tooltip("hi:Q", title="95% high", format=".2f"),
            alt.Tooltip("n:Q", title="starts"),
        ],
    )
    chart = (
        alt.layer(diagonal, bars, points, data=frame)
        .properties(width=220, height=220)
        .facet(column=alt.Column("system_id:N", title=None))
    )
    return _config(
        chart.properties(description="calibration: stated P(over) against observed, 95% intervals")
    )


def starts_chart(frame: Rows) -> alt.Chart:
    """A pitcher's recent starts: actual strikeouts, each system's forecast and the line:
    columns game_date, series (actual / a system id / line), strikeouts."""
    return _config(
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=DATE_AXIS,
            y=alt.Y("strikeouts:Q", title="strikeouts"),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")),
            strokeDash=alt.condition(
                alt.datum.series == "actual", alt.value([1, 0]), alt.value([4, 3])
            ),
            tooltip=[
                alt.Tooltip("game_date:T", title="date"),
                alt.Tooltip("series:N", title="what"),
                alt.Tooltip("strikeouts:Q", title="strikeouts", format=".1f"),
            ],
        )
        .properties(
            width="container",
            height=220,
            description="recent starts: actual strikeouts against each system's forecast",
        )
    )


TEMPLATES = {
    "mae": mae_chart,
    "roi": roi_chart,
    "clv": clv_chart,
    "calibration": calibration_chart,
    "starts": starts_chart,
}


@lru_cache(maxsize=16)
def template(name: str, *args: Any) -> dict[str, Any]:
    """A chart's Vega-Lite spec over the named data set ``rows``, built (and validated by
    Altair) once; ``with_rows`` fills in a request's rows."""
    return TEMPLATES[name](alt.Data(name="rows"), *args).to_dict()


def with_rows(spec: dict[str, Any], rows: pd.DataFrame | list[dict[str, Any]], **more: Any) -> dict:
    """A template spec with its data sets: ``rows`` (and any other named ones)."""
    if isinstance(rows, pd.DataFrame):
        rows = json_records(rows)
    return {**spec, "datasets": {"rows": rows, **more}}


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records: dates as ISO strings, NaN as None."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")
