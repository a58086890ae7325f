"""kcast from Python (notebooks): DataFrames in, DataFrames out.

    >>> import kcast
    >>> picks = kcast.predict("2019-07-13")            # every starter, every active system
    >>> run = kcast.backtest("2019-07-01", "2019-07-14")
    >>> run.metrics, run.predictions                    # DataFrames
    >>> pmf = kcast.distribution(453281, "2019-07-13")  # P(K = k), one column per system
    >>> kcast.plot_distribution(pmf, line=4.5)          # an Altair chart

Every function runs the one forecaster (``kcast.forecast``) that ``kcast predict``, the daily
job, the worker and the backtest run; nothing here has its own maths. ``warehouse`` is a DuckDB path, a
``bigquery://`` URL or an open ``Warehouse`` (default: the ``KCAST_WAREHOUSE`` setting); a
warehouse opened here is closed before the function returns. Teams are shown as MLB spells them
(``NYY``, ``ATH`` from 2025), as everywhere users look; see ``kcast.teams``.
See docs/python.md.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from kcast.backtest import run_backtest
from kcast.charts import distribution_chart
from kcast.config import Settings, get_settings
from kcast.context import DecisionContext
from kcast.dates import parse_date_arg
from kcast.decisions import MAX_K
from kcast.errors import (
    InputError,
    LookAheadWarning,
    NoStartersError,
    SystemsFailedError,
    UnknownPitcherError,
)
from kcast.forecast import WarehouseSink, forecaster_for
from kcast.gate import gate_for
from kcast.grading import row_results
from kcast.lookahead import late_models
from kcast.pipeline import pitcher_names
from kcast.prices import PRICE_COLUMNS
from kcast.systems.base import START_COLUMNS, VERDICT_COLUMNS
from kcast.teams import display_teams
from kcast.warehouse import Warehouse, open_warehouse
from kcast.warehouse.statements import statement

__all__ = ["Backtest", "backtest", "distribution", "plot_distribution", "predict"]

# the columns a notebook sees first, in this order; the rest follow
FIRST_COLUMNS = (
    "game_date",
    "pitcher_id",
    "pitcher_name",
    *START_COLUMNS,
    "predicted_strikeouts",
    *PRICE_COLUMNS,
    "p_over",
    "model_p_over",
    *VERDICT_COLUMNS,
    "red_flags",
    "reasons",
)


@contextmanager
def _warehouse(warehouse: str | Warehouse | None, write: bool = False) -> Iterator[Warehouse]:
    """The warehouse to use: an open one as it is, else the one at the path or URL (default
    ``KCAST_WAREHOUSE``), opened read-only unless ``write``; a path that does not exist is a
    ``WarehouseError`` naming it (never a new, empty warehouse)."""
    if isinstance(warehouse, Warehouse):
        yield warehouse
        return
    wh = open_warehouse(warehouse, create=False, read_only=not write)
    try:
        yield wh
    finally:
        wh.close()


def _settings(systems: list[str] | str | None, warehouse: str | Warehouse | None) -> Settings:
    """The settings with ``systems`` active, and the model folder found wherever the script
    runs: a relative ``KCAST_MODEL_DIR`` (``models`` by default) that is not under the working
    directory is looked for beside the warehouse file, where ``kcast train`` put it."""
    settings = get_settings()
    update: dict[str, Any] = {}
    if systems is not None:
        ids = [systems] if isinstance(systems, str) else list(systems)
        update["active_systems"] = ",".join(ids)
    model_dir = Path(settings.model_dir).expanduser()
    url = warehouse.url if isinstance(warehouse, Warehouse) else (warehouse or settings.warehouse)
    if not model_dir.is_absolute() and not model_dir.is_dir() and "://" not in str(url):
        beside = Path(str(url)).expanduser().resolve().parent / model_dir
        if beside.is_dir():
            update["model_dir"] = beside
    return settings.model_copy(update=update) if update else settings


def _checked(forecast: Any, day: dt.date, what: str) -> None:
    """Raise when the forecast did not answer as asked: no starter known for the day
    (``NoStartersError``) or a system that failed (``SystemsFailedError``, each named with
    its reason)."""
    if forecast.features.empty:
        raise NoStartersError(
            f"no starters known for {day}: ingest the slate (`kcast ingest statsapi --date "
            f"{day}`) or, for a past date, its results"
        )
    if forecast.errors:
        reasons = "; ".join(f"{s}: {e}" for s, e in forecast.errors.items())
        raise SystemsFailedError(
            f"{len(forecast.errors)} of the systems asked for did not answer {what} for "
            f"{day}: {reasons}",
            dict(forecast.errors),
            forecast,
        )


def _warn_look_ahead(wh: Warehouse, day: dt.date) -> None:
    """A ``LookAheadWarning`` per active model trained on games after ``day``, as the CLI
    warns."""
    for sentence in late_models(wh, day):
        warnings.warn(sentence, LookAheadWarning, stacklevel=3)


def check_line(line: float | None) -> float | None:
    """A strikeout line as a number: a multiple of 0.5 from 0.5 to 20 (``InputError`` for
    another, e.g. 5.3)."""
    if line is None:
        return None
    try:
        value = float(line)
    except (TypeError, ValueError):
        raise InputError(f"line {line!r} is not a number; give a line such as 5.5") from None
    if not (0.5 <= value <= 20.0) or (value * 2) != int(value * 2):
        raise InputError(
            f"line {line!r} is not a strikeout line: give a multiple of 0.5 from 0.5 to 20, "
            "such as 5.5"
        )
    return value


def _tidy(frame: pd.DataFrame, names: pd.DataFrame | None = None) -> pd.DataFrame:
    """Prediction rows for people: names, MLB's team spellings, dates as dates, no pmf JSON."""
    if frame.empty:
        return frame
    out = frame.drop(columns=["pmf"], errors="ignore")
    if names is not None and "pitcher_name" not in out and len(names):
        out = out.merge(names, on="pitcher_id", how="left")
    out = display_teams(out)
    if "is_home" in out:
        out["is_home"] = out["is_home"].map(lambda v: None if pd.isna(v) else bool(v))
    out["game_date"] = pd.to_datetime(out["game_date"]).dt.date
    first = [c for c in FIRST_COLUMNS if c in out]
    return out[first + [c for c in out.columns if c not in first]].reset_index(drop=True)


def _names(features: pd.DataFrame) -> pd.DataFrame | None:
    if "pitcher_name" not in features:
        return None
    return features[["pitcher_id", "pitcher_name"]].drop_duplicates("pitcher_id")


def predict(
    date: str | dt.date,
    *,
    systems: list[str] | str | None = None,
    warehouse: str | Warehouse | None = None,
    write: bool = False,
    at: str | None = None,
) -> pd.DataFrame:
    """Every starter of ``date``, predicted by every active system (or ``systems``), decided
    at ``at`` (open, close, HH:MM US Eastern or now; default ``KCAST_DECISION_TIME``).

    One row per pitcher per system, as ``kcast predict`` makes them: the mean, the line and its
    best price and book, P(over) stated (the system pooled with the market) beside the system's
    own (``model_p_over``) and the market's (``market_p_over``), the edge, EV, the verdict at
    the line, the decision (bet, lean or pass, with its rung, book, price and stake), red flags
    and reasons. With ``write=True`` the rows and the bets are also stored, as ``kcast
    predict`` does; by default nothing is written (and the warehouse is opened read-only).

    Raises ``NoStartersError`` when no starter of the date is known, ``SystemsFailedError``
    naming each system that did not answer and why (what the others answered is in its
    ``frame``), ``WarehouseError`` for a warehouse path that does not exist; warns
    (``LookAheadWarning``) when an active model was trained on games after the date.
    """
    day = parse_date_arg(date, "date")
    settings = _settings(systems, warehouse)
    with _warehouse(warehouse, write) as wh:
        context = DecisionContext.from_settings(settings, at, gate_for(wh, day, settings))
        _warn_look_ahead(wh, day)
        sink = WarehouseSink(wh, "api") if write else None
        forecast = forecaster_for(wh, settings, context, sink).day(day)
    _checked(forecast, day, "its predictions")
    return _tidy(forecast.frame(), _names(forecast.features))


@dataclass
class Backtest:
    """A walk-forward backtest's results as DataFrames.

    ``metrics``: one row per system (and ``market``, ``naive_average``): n, MAE, RMSE, log loss,
    Brier, bets, win rate, ROI, CLV and more. ``predictions``: every prediction made, graded
    (``actual_strikeouts``, ``result``). ``calibration``: stated P(over) against observed, per
    decile, per system. ``result`` is the ``kcast.backtest.BacktestResult`` behind them.
    """

    start: dt.date
    end: dt.date
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    calibration: pd.DataFrame
    result: Any = field(repr=False, default=None)

    def __repr__(self) -> str:
        systems = ", ".join(str(s) for s in self.metrics.index)
        return (
            f"Backtest({self.start} to {self.end}: {len(self.predictions)} predictions; {systems})"
        )


def backtest(
    start: str | dt.date,
    end: str | dt.date,
    *,
    systems: list[str] | str | None = None,
    retrain_days: int = 30,
    warehouse: str | Warehouse | None = None,
) -> Backtest:
    """Walk forward from ``start`` to ``end`` (inclusive) over the stored lines, as
    ``kcast backtest`` does (refitting the trainable systems every ``retrain_days``); nothing is
    written."""
    ids = None if systems is None else ([systems] if isinstance(systems, str) else list(systems))
    first, last = parse_date_arg(start, "start"), parse_date_arg(end, "end")
    if first > last:
        raise InputError(f"start {first} is after end {last}: give the earlier date first")
    with _warehouse(warehouse) as wh:
        result = run_backtest(wh, first, last, ids, retrain_days)
        predictions = _graded(wh, result.predictions, result.start, result.end)
    flat = {
        k: {m: v for m, v in values.items() if not isinstance(v, dict | list)}
        for k, values in result.metrics.items()
        if k not in ("red_flags", "projection")
    }
    metrics = pd.DataFrame.from_dict(flat, orient="index")
    metrics.index.name = "system"
    calibration = pd.DataFrame(
        [{"system": s, **row} for s, rows in result.calibration.items() for row in rows]
    )
    return Backtest(
        result.start,
        result.end,
        metrics,
        predictions,
        calibration,
        result,
    )


def _graded(wh: Warehouse, rows: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Backtest rows with the pitchers' names, their actual strikeouts and each decision's
    result (as ``kcast grade`` would write them)."""
    if rows.empty:
        return _tidy(rows)
    actual = wh.query(statement("starts_with_strikeouts"), {"a": start, "b": end})
    names = pitcher_names(wh, rows["pitcher_id"].unique())
    out = rows.merge(actual, on=["game_id", "pitcher_id"], how="left")
    out["result"] = row_results(out)
    return _tidy(out, names)


def _pitcher_id(wh: Warehouse, pitcher: int | str) -> int:
    if isinstance(pitcher, int | np.integer) or str(pitcher).strip().isdigit():
        return int(pitcher)
    found = wh.query(statement("players_named"), {"n": str(pitcher).strip()})
    if found.empty:
        raise UnknownPitcherError(f"no pitcher named {pitcher!r} in the warehouse")
    if len(found) > 1:
        ids = ", ".join(str(i) for i in found["player_id"])
        raise InputError(f"{len(found)} players are named {pitcher!r} ({ids}): give the MLBAM id")
    return int(found["player_id"].iloc[0])


def distribution(
    pitcher: int | str,
    date: str | dt.date,
    *,
    line: float | None = None,
    systems: list[str] | str | None = None,
    warehouse: str | Warehouse | None = None,
) -> pd.DataFrame:
    """A starter's strikeout distribution that day: P(K = k) for k = 0..20, one column per
    system (index ``k``; the last cell holds 20 or more).

    ``pitcher`` is an MLBAM id or a full name. The pitcher's game is the warehouse's (his start,
    or a stored probable). ``line`` replaces the stored line (a multiple of 0.5, e.g. 5.5;
    another is an ``InputError``). ``frame.attrs`` keeps the pitcher, the date, the line and
    each system's row (``attrs["rows"]``: mean, P(over), pick ...). Nothing is written. Raises
    and warns as ``predict`` does.
    """
    day = parse_date_arg(date, "date")
    line = check_line(line)
    settings = _settings(systems, warehouse)
    with _warehouse(warehouse) as wh:
        context = DecisionContext.from_settings(settings, live=gate_for(wh, day, settings))
        _warn_look_ahead(wh, day)
        pid = _pitcher_id(wh, pitcher)
        request = {"pitcher_id": pid, "game_date": day, "line": line}
        forecaster = forecaster_for(wh, settings, context)
        result = forecaster.forecast(forecaster.reader.requested([request]), [request])
    _checked(result, day, f"pitcher {pid}'s distribution")
    columns = {s: out.pmf[0] for s, out in result.outputs.items()}
    pmf = pd.DataFrame(columns, index=pd.RangeIndex(MAX_K + 1, name="k"))
    pmf.columns.name = "system"
    rows = _tidy(result.frame(), _names(result.features))
    first = rows.iloc[0] if len(rows) else {}
    pmf.attrs.update(
        pitcher_id=pid,
        pitcher_name=first.get("pitcher_name") if len(rows) else None,
        date=day,
        line=None if not len(rows) or pd.isna(first["line"]) else float(first["line"]),
        rows=rows,
    )
    return pmf


def pmf_from_json(value: str | None) -> list[float]:
    """A stored prediction's ``pmf`` column (a JSON list) as floats ([] when missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return []
    return [float(x) for x in json.loads(value)]


def plot_distribution(
    pmf: pd.DataFrame | pd.Series,
    line: float | None = None,
    *,
    system: str | None = None,
    title: str | None = None,
) -> alt.LayerChart | alt.Chart:
    """An Altair chart of a strikeout distribution as bars against the line.

    ``pmf`` is ``distribution``'s frame (one system is drawn: ``system``, default the first
    column) or a Series of P(K = k). Bars above the line (an over) are coloured apart from those
    below; the line is a dashed rule. ``line`` defaults to ``pmf.attrs["line"]``.
    """
    attrs = dict(getattr(pmf, "attrs", {}))
    if isinstance(pmf, pd.DataFrame):
        system = system or str(pmf.columns[0])
        values = pmf[system]
    else:
        values = pmf
        system = system or (str(pmf.name) if pmf.name is not None else None)
    line = attrs.get("line") if line is None else line
    if title is None and attrs.get("pitcher_name"):
        title = f"{attrs['pitcher_name']}, {attrs.get('date')}: {system}"
    return distribution_chart([float(x) for x in values], line, title=title)
