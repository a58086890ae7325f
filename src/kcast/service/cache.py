"""The worker's reader: what it reads from the warehouse, kept in memory per warehouse version.

``SlateCache`` keeps, for the warehouse's current version (``Warehouse.change_stamp``: for a
DuckDB file its modification time, which every write by any process moves; no table is
scanned), the history and its ``FeatureContext``, the lineups' ``MatchupContext``, every
player's name and the pitchers the warehouse knows; per date and decision time the quotes
known then, their best lines, the opening prices and the books' weights; per date the systems
updated from what was graded before it; and per date and decision time the ``Slate``: the
starters' priced features and every system's answers. ``reader(version)`` is the
forecaster's ``Reader`` over what is kept (``forecast.Reader``); each item is built once (a
second caller waits for the first's build and uses it).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kcast.bets import weights_of_day
from kcast.context import DecisionContext
from kcast.decision import StartKey, StartMarket
from kcast.features.build import FeatureContext, load_history
from kcast.features.matchup import MatchupContext
from kcast.forecast import Forecaster, Requests
from kcast.history import WarehouseHistory
from kcast.market import BookWeights, DecisionTime
from kcast.numbers import is_missing
from kcast.pipeline import (
    check_history,
    day_starters,
    known_pitchers,
    pitcher_names,
    requested_starters,
    starter_features,
    systems_for_day,
)
from kcast.prices import attach_prices, best_lines, open_prices, requested_price, stored_lines
from kcast.service.values import clean
from kcast.systems.base import BasePredictor, SystemOutput
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

log = logging.getLogger("kcast.service")
Loaded = Callable[[], dict[str, BasePredictor]]  # the worker's loaded systems, read when used


def pitcher_key(record: dict[str, Any]) -> tuple:
    """What names a pitcher-game off the slate (with its date)."""
    return tuple(record.get(k) for k in ("pitcher_id", "opponent", "is_home", "team"))


def data_version(wh: Warehouse) -> tuple[str, ...]:
    """A fingerprint of the tables slates, features and graded history come from (for engines
    without a change stamp: it scans the tables' row counts and update times)."""
    row = wh.query(statement("data_version")).iloc[0]
    return tuple(str(v) for v in row.tolist())


@dataclass
class Slate:
    """One date's slate at one decision time (or one pitcher off it), ready to answer from.

    ``features`` hold each starter's line and prices known at the decision time; ``lines``
    every quote of the date known then (for a requested line's own price); ``outputs`` the
    answers of the systems that answered, reused until the warehouse changes; ``markets`` the
    starts' quotes for the bet rule."""

    day: dt.date
    context: DecisionContext
    features: pd.DataFrame
    lines: pd.DataFrame
    systems: dict[str, BasePredictor]
    starters: pd.DataFrame | None = None  # the date's ``day_starters`` (a date's slate only)
    index: dict[int, int] = field(default_factory=dict)
    # the systems' answers and what happened to each (``calls.Outcome``), replaced together
    # (readers without the lock see one run's pair, never half of two)
    answers: tuple[dict[str, SystemOutput], dict[str, Any]] = ({}, {})
    markets: dict[StartKey, StartMarket] | None = None
    prepared: dict[str, Any] = field(default_factory=dict)  # ``answers.Prepared`` per system
    prices: dict[tuple, dict[str, Any] | None] = field(default_factory=dict)
    stored: tuple | None = None  # what the last batch stored (see ``answers.write_rows``)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if len(self.features):
            ids = self.features["pitcher_id"].astype(int).tolist()
            self.index = {pid: i for i, pid in reversed(list(enumerate(ids)))}
        n = len(self.features)
        column = self.features.get
        ids, days = column("pitcher_id", [0] * n), column("game_date", [None] * n)
        self.keys = list(zip(ids, days, strict=True))
        self.stored_lines = [clean(v) for v in column("line", [None] * n)]

    @property
    def outputs(self) -> dict[str, SystemOutput]:
        return self.answers[0]

    def market(self, index: int) -> StartMarket | None:
        """The quotes of row ``index``'s start for the bet rule (None: none)."""
        if not self.markets:
            return None
        pitcher_id, day = self.keys[index]
        return self.markets.get((int(pitcher_id), pd.Timestamp(day)))

    def price(self, index: int, record: dict[str, Any]) -> dict[str, Any] | None:
        """``prices.requested_price`` of row ``index`` for a request, the stored lines'
        look-ups kept (a request that names its line and both prices needs none)."""
        pitcher_id, day = self.keys[index]
        line, over, under = (record.get(k) for k in ("line", "over_odds", "under_odds"))
        if is_missing(line) or not (is_missing(over) or is_missing(under)):
            return requested_price(self.lines, pitcher_id, day, record)
        key = (index, line)
        if key not in self.prices:
            self.prices[key] = requested_price(self.lines, pitcher_id, day, record)
        return self.prices[key]


class SlateCache:
    """What the worker keeps in memory, per warehouse version (see the module)."""

    def __init__(self, wh: Warehouse, size: int = 64, refresh: float = 1.0) -> None:
        self.wh = wh
        self.size = size
        self.refresh = refresh  # for engines without a change stamp: seconds between checks
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}
        self._scanned: tuple[float, tuple[str, ...]] | None = None
        self._aliases: dict[Any, Any] = {}  # stamps after the worker's own prediction writes
        self.generation = 0  # moved by clear(): a model reload, an injected fault
        self.writes = 0  # prediction writes by this worker (see ``answers.write_rows``)
        self.builds = 0

    # --- versions ------------------------------------------------------------------------------
    def version(self, scan: bool = True) -> tuple | None:
        """The warehouse's current version (its change stamp; else a table scan at most once
        per ``refresh`` seconds), with this cache's generation. None, without ``scan``, when
        a scan is due (the caller must not wait for a query)."""
        stamp = self.wh.change_stamp()
        if stamp is None:
            now = time.monotonic()
            if self._scanned is None or now - self._scanned[0] > self.refresh:
                if not scan:
                    return None
                self._scanned = (now, data_version(self.wh))
            stamp = self._scanned[1]
        stamp = self._aliases.get(stamp, stamp)
        return (stamp, self.generation)

    def adopt(self, before: tuple) -> None:
        """The worker has just stored predictions and bets, which change nothing this cache
        holds (not the games, lines or graded history): the warehouse's new stamp keeps the
        kept state."""
        stamp = self.wh.change_stamp()
        if stamp is not None and before[1] == self.generation:
            self._aliases[stamp] = before[0]

    def peek(self, key: tuple) -> Any:
        """What is kept under ``key`` (None if nothing is), without waiting for a build."""
        return self._items.get(key)

    def get(self, key: tuple, build: Any) -> Any:
        """What is kept under ``key``, built by ``build()`` the first time."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # builds of different keys run side by side
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = build()
            with self._lock:
                self._items[key] = value
                self._building.pop(key, None)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything (models reloaded, a fault injected, a system's code changed)."""
        with self._lock:
            self._items.clear()
            self.generation += 1

    def slate(self, forecaster: Forecaster, day: dt.date, version: tuple, loaded: Loaded) -> Slate:
        """``day``'s slate at the forecaster's decision time (its reader: ``reader(version)``),
        answered by the systems ``loaded()`` gives when it is built (a model reload swaps them);
        ``InputError`` when it has starters but no history before."""
        context, reader = forecaster.context, forecaster.reader
        assert isinstance(reader, CachedReader)

        def build() -> Slate:
            with self.wh.reads_together():  # one open of the file for the build's reads
                starters = reader.starters(day)
                self.builds += 1
                features = forecaster.prepare(starters)
                lines, _, _ = reader.lines(day, context.at)
                systems = reader.systems(loaded(), day, context.market_blend)
                return Slate(day, context, features, lines, systems, starters)

        return self.get(("slate", day, context.at.label, version), build)

    def pitcher(
        self, forecaster: Forecaster, record: dict[str, Any], version: tuple, loaded: Loaded
    ) -> Slate:
        """A one-row slate for a pitcher-game the date's slate does not hold (the request
        names the game), built once per game and decision time (see ``slate``)."""
        context, reader = forecaster.context, forecaster.reader
        assert isinstance(reader, CachedReader)
        day = record["game_date"]

        def build() -> Slate:
            with self.wh.reads_together():
                features = forecaster.prepare(reader.requested([record]))
                lines, _, _ = reader.lines(day, context.at)
                systems = reader.systems(loaded(), day, context.market_blend)
                return Slate(day, context, features, lines, systems)

        return self.get(("pitcher", day, context.at.label, pitcher_key(record), version), build)

    def reader(self, version: tuple) -> CachedReader:
        """The forecaster's reader over what is kept at ``version``."""
        return CachedReader(self, version)

    # --- what is kept --------------------------------------------------------------------------
    def history(self, version: tuple) -> tuple[pd.DataFrame, FeatureContext]:
        """Every game of history and its team, league and park state."""

        def build() -> tuple[pd.DataFrame, FeatureContext]:
            history = load_history(self.wh)
            return history, FeatureContext.from_history(history)

        return self.get(("history", version), build)

    def matchup(self, version: tuple) -> MatchupContext:
        """The lineups, batters, pitchers' swing-and-miss and umpires of every game."""
        return self.get(("matchup", version), lambda: MatchupContext.from_warehouse(self.wh))

    def players(self, version: tuple) -> tuple[pd.DataFrame, set[int]]:
        """Every player's name (``pipeline.pitcher_names``) and the pitchers the warehouse
        knows (``pipeline.known_pitchers``)."""
        return self.get(
            ("players", version), lambda: (pitcher_names(self.wh), known_pitchers(self.wh))
        )

    def warm(self) -> None:
        """Load the history, its context and the lineups' matchup context now (the worker does
        it at start-up, in the background, so that the first request of a date finds them)."""
        try:
            version = self.version()
            self.history(version)
            self.matchup(version)
        except Exception:  # noqa: BLE001 - a request will build it again and say what fails
            log.exception("loading the history at start-up failed")
        # what start-up loaded lives as long as the worker: moved out of the collector's reach,
        # so that a full collection (about 60 ms over it) does not land in a request
        gc.collect()
        gc.freeze()


class CachedReader:
    """``forecast.Reader`` over a ``SlateCache`` at one warehouse version: every read kept."""

    def __init__(self, cache: SlateCache, version: tuple) -> None:
        self.cache = cache
        self.wh = cache.wh
        self.version = version

    def starters(self, day: dt.date) -> pd.DataFrame:
        return self.cache.get(("starters", day, self.version), lambda: day_starters(self.wh, day))

    def requested(self, requests: list[dict[str, Any]]) -> pd.DataFrame:
        slates = {
            d: s
            for d in {r["game_date"] for r in requests}
            if (s := self.cache.peek(("starters", d, self.version))) is not None
        }
        _, known = self.cache.players(self.version)
        return requested_starters(self.wh, requests, slates, known)

    def check_history(self, day: dt.date) -> None:
        history, _ = self.cache.history(self.version)
        first = history["game_date"].min() if len(history) else None
        check_history(day, None if first is None or pd.isna(first) else first.date())

    def features(self, starters: pd.DataFrame) -> pd.DataFrame:
        history, context = self.cache.history(self.version)
        names, _ = self.cache.players(self.version)
        matchup = self.cache.matchup(self.version)
        return starter_features(self.wh, starters, history, context, matchup, names)

    def prices(self, rows: pd.DataFrame, requested: Requests, at: DecisionTime) -> pd.DataFrame:
        days = set(pd.to_datetime(rows["game_date"]).dt.date) if len(rows) else set()
        if len(days) != 1:
            return attach_prices(self.wh, rows, requested, at)
        day = days.pop()
        lines, best, opens = self.lines(day, at)
        return attach_prices(self.wh, rows, requested, at, lines=lines, best=best, opens=opens)

    def lines(self, day: dt.date, at: DecisionTime) -> tuple[pd.DataFrame, ...]:
        """The quotes of ``day`` known at ``at``, their best lines and the opening prices."""

        def build() -> tuple[pd.DataFrame, ...]:
            lines = stored_lines(self.wh, day, day, at)
            return lines, best_lines(lines), open_prices(self.wh, day, day)

        return self.cache.get(("lines", day, at.label, self.version), build)

    def quotes(self, day: dt.date, at: DecisionTime) -> pd.DataFrame:
        return self.lines(day, at)[0]

    def weights(self, day: dt.date, at: DecisionTime, devig: str) -> BookWeights:
        key = ("weights", day, at.label, devig, self.version)
        return self.cache.get(key, lambda: weights_of_day(self.wh, day, at, devig))

    def systems(
        self, systems: dict[str, BasePredictor], day: dt.date, market_blend: str
    ) -> dict[str, BasePredictor]:
        # the version holds the cache's generation, which a model reload moves
        return self.cache.get(
            ("systems", day, market_blend, self.version),
            lambda: systems_for_day(systems, WarehouseHistory(self.wh, day), market_blend),
        )
