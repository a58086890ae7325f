"""The forecaster: starters -> features -> prices -> systems -> decisions -> rows and bets, the
one object every caller runs.

``Forecaster`` orders the stages (``kcast.pipeline``, ``kcast.prices``, ``kcast.decision``);
no caller does. A caller plugs in only what is its own:

* a **reader**, where the data comes from (``Reader``): ``WarehouseReader`` reads the
  warehouse as it is; the worker's ``service.cache.SlateCache`` memoises what it reads per
  warehouse version; the backtest's ``backtest.WalkForwardReader`` reads the window once and
  learns only from the blocks it has already predicted and graded;
* the **call hook**, how a system is called (``pipeline.direct_call``; the worker's circuit
  breakers, ``service.calls.SystemCaller``);
* a **sink**, where rows and bets go (``WarehouseSink``: a day's predictions and its bets in one
  transaction; none for ``--no-write`` and backtests without ``--write``);

and the frozen ``context.DecisionContext`` every decision is made in. ``day(date)`` forecasts
a date's starters; ``forecast(starters)`` given starter rows (a request's, the daily job's
still to pitch); ``prepare`` and ``answer`` are its two halves (features and prices; systems,
decisions and stakes), for callers that keep the first (the worker's slate, the backtest's
window). darts' ``predict``, with ``historical_forecasts`` a loop around it, is the model: the
backtest is a loop of ``answer`` over blocks of days.

Callers: ``kcast predict`` and ``kcast run`` (``cli``), the daily job's predict step
(``daily``), the worker's cold ``/predict`` and ``/predict-batch`` (``service``), the backtest's
block step (``backtest``), ``kcast.predict`` and ``kcast.distribution`` (``api``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from kcast.bets import ledger_rows, stake_day, taken_bets, weights_of_day, write_day_ledger_of
from kcast.config import Settings
from kcast.context import DecisionContext
from kcast.decision import BET, StartKey, StartMarket, start_markets
from kcast.errors import NoSystemAnsweredError, warehouse_error
from kcast.history import WarehouseHistory
from kcast.market import BookWeights, DecisionTime
from kcast.pipeline import (
    Caller,
    Stored,
    check_history,
    day_starters,
    direct_call,
    first_history_date,
    load_systems,
    requested_starters,
    run_systems,
    starter_features,
    store,
    systems_for_day,
)
from kcast.prices import attach_prices, stored_lines
from kcast.systems.base import BasePredictor, SystemOutput
from kcast.warehouse import Warehouse

Requests = list[dict[str, Any] | None] | None  # a request per row, where a row has one


class Reader(Protocol):
    """Where a forecast's data comes from."""

    def starters(self, day: dt.date) -> pd.DataFrame:
        """The starters of ``day`` (``pipeline.day_starters``)."""
        ...

    def requested(self, requests: list[dict[str, Any]]) -> pd.DataFrame:
        """The starter rows of requested pitcher-games (``pipeline.requested_starters``)."""
        ...

    def check_history(self, day: dt.date) -> None:
        """Raise ``InputError`` when there is no game before ``day`` to learn from."""
        ...

    def features(self, starters: pd.DataFrame) -> pd.DataFrame:
        """The starters' features with their names (``pipeline.starter_features``)."""
        ...

    def prices(self, rows: pd.DataFrame, requested: Requests, at: DecisionTime) -> pd.DataFrame:
        """Each row's line and prices known at ``at`` (``prices.attach_prices``)."""
        ...

    def quotes(self, day: dt.date, at: DecisionTime) -> pd.DataFrame:
        """Every quote of ``day`` known at ``at`` (``prices.stored_lines``)."""
        ...

    def weights(self, day: dt.date, at: DecisionTime, devig: str) -> BookWeights:
        """The books' weights for a decision on ``day``, learned before it."""
        ...

    def systems(
        self, systems: dict[str, BasePredictor], day: dt.date, market_blend: str
    ) -> dict[str, BasePredictor]:
        """The systems updated from what was graded before ``day``
        (``pipeline.systems_for_day``)."""
        ...


class Sink(Protocol):
    """Where a forecast's rows and bets go."""

    def store(self, forecast: Forecast) -> Stored:
        """Store the forecast's rows and bets; what was stored."""
        ...


@dataclass
class Forecast:
    """What a forecast made: the priced feature rows, every system's decided rows, what
    failed, the starts' quotes at the decision time, and what a sink stored."""

    date: dt.date | None
    features: pd.DataFrame
    context: DecisionContext
    outputs: dict[str, SystemOutput] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    markets: dict[StartKey, StartMarket] = field(default_factory=dict)
    stored: Stored | None = None

    def frame(self) -> pd.DataFrame:
        """Every system's rows, stacked."""
        if not self.outputs:
            return pd.DataFrame()
        return pd.concat([o.frame for o in self.outputs.values()], ignore_index=True)

    def bets(self) -> pd.DataFrame:
        """The bets the decisions took, staked (``bets.taken_bets``), with their reasons."""
        return taken_bets(self.outputs)

    def ledger(self, source: str) -> pd.DataFrame:
        """The bets as rows of the ``bets`` table (``bets.ledger_rows``)."""
        return ledger_rows(self.bets(), self.context.at, source)

    def check_answered(self) -> None:
        """Raise ``NoSystemAnsweredError`` naming each system's error when there were starters
        and no system could load or answer."""
        if self.features.empty or self.outputs:
            return
        when = f" for {self.date}" if self.date else ""
        errors = "; ".join(f"{s}: {e}" for s, e in self.errors.items()) or "no system is active"
        raise NoSystemAnsweredError(f"no prediction system answered{when}: {errors}")


class Forecaster:
    """Runs the stages for every caller (see the module): ``reader`` the data, ``systems``
    the loaded systems, ``context`` the decision context, ``call`` the call hook, ``sink``
    where rows and bets go (None: nowhere), ``load_errors`` the systems that did not load."""

    def __init__(
        self,
        reader: Reader,
        systems: dict[str, BasePredictor],
        context: DecisionContext,
        call: Caller = direct_call,
        sink: Sink | None = None,
        load_errors: Mapping[str, str] | None = None,
    ) -> None:
        self.reader = reader
        self.systems = systems
        self.context = context
        self.call = call
        self.sink = sink
        self.load_errors = dict(load_errors or {})

    def day(self, date: dt.date) -> Forecast:
        """Every starter of ``date``: forecast, decided and stored."""
        return self.forecast(self.reader.starters(date), date=date)

    def forecast(
        self,
        starters: pd.DataFrame,
        requested: Requests = None,
        date: dt.date | None = None,
    ) -> Forecast:
        """Given starter rows (and the requests aligned with them, where they name lines):
        features, prices, systems, decisions and stakes; stored by the sink."""
        t0 = time.perf_counter()
        rows = self.prepare(starters, requested)
        prepared = time.perf_counter() - t0
        forecast = self.answer(rows, date)
        forecast.timings["features and prices"] = prepared
        if forecast.outputs:
            self.store(forecast)
        return forecast

    def prepare(self, starters: pd.DataFrame, requested: Requests = None) -> pd.DataFrame:
        """Stages 2 and 3: the starters' features, from games before each date, and their
        lines and prices known at the decision time."""
        if starters.empty:
            return starters
        for day in sorted(set(pd.to_datetime(starters["game_date"]).dt.date)):
            self.reader.check_history(day)
        features = self.reader.features(starters)
        return self.reader.prices(features, requested, self.context.at)

    def answer(
        self,
        rows: pd.DataFrame,
        date: dt.date | None = None,
        known: dict[str, SystemOutput] | None = None,
        call: Caller | None = None,
        systems: dict[str, BasePredictor] | None = None,
        markets: dict[StartKey, StartMarket] | None = None,
    ) -> Forecast:
        """Stages 4 and 5 for priced feature rows: every system, updated from what was graded
        before the rows' first day (``systems``: these, updated already), each row decided
        against its start's quotes known at the decision time (``markets``: these, read
        already), the bets staked per system and day. ``known`` answers are not asked again;
        ``call`` replaces the forecaster's call hook for this run."""
        forecast = Forecast(date, rows, self.context, errors=dict(self.load_errors))
        if rows.empty:  # nobody starts: nothing to predict, and no system has failed
            return forecast
        days = sorted(set(pd.to_datetime(rows["game_date"]).dt.date))
        t0 = time.perf_counter()
        forecast.markets = self.markets(days) if markets is None else markets
        if systems is None:
            systems = self.reader.systems(self.systems, days[0], self.context.market_blend)
        t1 = time.perf_counter()
        run = run_systems(rows, systems, self.context, call or self.call, known, forecast.markets)
        for system_id, output in run.outputs.items():
            if known is None or system_id not in known:
                stake(output, self.context)
        forecast.outputs = run.outputs
        forecast.errors.update(run.errors)
        forecast.timings.update(
            {"markets and systems' history": t1 - t0, "systems": time.perf_counter() - t1}
        )
        return forecast

    def markets(self, days: list[dt.date]) -> dict[StartKey, StartMarket]:
        """Every start's quotes of ``days`` known at the decision time, for the bet rule."""
        at, rules = self.context.at, self.context.rules
        out: dict[StartKey, StartMarket] = {}
        for day in days:
            quotes = self.reader.quotes(day, at)
            if len(quotes):
                out.update(start_markets(quotes, rules, self.reader.weights(day, at, rules.devig)))
        return out

    def store(self, forecast: Forecast) -> Stored:
        """Store a forecast's rows and bets through the sink (``forecast`` calls it; a caller
        of ``answer`` calls it when it wants them stored)."""
        if self.sink is None:
            return Stored()
        forecast.stored = self.sink.store(forecast)
        return forecast.stored


def stake(output: SystemOutput, context: DecisionContext) -> None:
    """Set the stakes of an output's bets: fractional Kelly from each day's bankroll, capped
    per bet and per day (``bets.stake_day``)."""
    frame = output.frame
    if output.bets is None or "decision" not in frame or not (frame["decision"] == BET).any():
        return
    staked = stake_day(taken_bets({output.system_id: output}), context.rules)  # in row order
    frame["stake"] = pd.to_numeric(frame["stake"], errors="coerce")
    frame.loc[frame["decision"] == BET, "stake"] = staked["stake"].to_numpy(float)


def forecaster_for(
    wh: Warehouse,
    settings: Settings,
    context: DecisionContext,
    sink: Sink | None = None,
) -> Forecaster:
    """The forecaster of a command or a library call: the active systems loaded from
    ``wh`` (those that cannot load reported as errors), read plainly, called directly."""
    systems, errors = load_systems(wh, settings)
    return Forecaster(WarehouseReader(wh), systems, context, sink=sink, load_errors=errors)


# --------------------------------------------------------------------------------------------
# The plain reader and the warehouse sink
# --------------------------------------------------------------------------------------------


class WarehouseReader:
    """The warehouse as it is now: each stage's reads made when asked."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def starters(self, day: dt.date) -> pd.DataFrame:
        return day_starters(self.wh, day)

    def requested(self, requests: list[dict[str, Any]]) -> pd.DataFrame:
        return requested_starters(self.wh, requests)

    def check_history(self, day: dt.date) -> None:
        check_history(day, first_history_date(self.wh))

    def features(self, starters: pd.DataFrame) -> pd.DataFrame:
        return starter_features(self.wh, starters)

    def prices(self, rows: pd.DataFrame, requested: Requests, at: DecisionTime) -> pd.DataFrame:
        return attach_prices(self.wh, rows, requested, at)

    def quotes(self, day: dt.date, at: DecisionTime) -> pd.DataFrame:
        return stored_lines(self.wh, day, day, at)

    def weights(self, day: dt.date, at: DecisionTime, devig: str) -> BookWeights:
        return weights_of_day(self.wh, day, at, devig)

    def systems(
        self, systems: dict[str, BasePredictor], day: dt.date, market_blend: str
    ) -> dict[str, BasePredictor]:
        return systems_for_day(systems, WarehouseHistory(self.wh, day), market_blend)


class WarehouseSink:
    """A forecast's prediction rows and its bets into the warehouse, in ONE transaction: a
    crash or a full disk between them leaves neither. Each day's ledger becomes the bets this
    decision takes for the day's games and systems (``bets.write_day_ledger``); ``source``
    names the caller in the ledger (predict, daily, worker, api, backtest)."""

    def __init__(self, wh: Warehouse, source: str) -> None:
        self.wh = wh
        self.source = source

    def store(self, forecast: Forecast) -> Stored:
        frame = forecast.frame()
        ledger = forecast.ledger(self.source)
        systems = sorted(forecast.outputs)
        try:
            with self.wh.transaction():
                stored = store(self.wh, frame)
                for day, rows in frame.groupby(pd.to_datetime(frame["game_date"]).dt.date):
                    bets = ledger[ledger["game_date"] == day] if len(ledger) else ledger
                    games = set(rows["game_id"].astype(str))
                    stored.bets += write_day_ledger_of(
                        self.wh, bets, day, systems, games, forecast.context.rules.strategy
                    )
        except Exception as exc:
            raise warehouse_error(
                exc,
                f"nothing of this forecast was stored (its {len(frame)} predictions and "
                f"{len(ledger)} bets are written in one transaction, which failed): ",
            ) from exc
        return stored
