"""The worker's service layer: the pipeline's stages behind a cache and the breakers, answers
in the shapes of ``schemas``.

Per date, the slate's starters, their features (with the day's stored prices), the systems
updated from what was graded before the day, and every system's answer for every starter are
computed once and kept in memory (``SlateCache``), keyed by the date and the warehouse's change
stamp (``Warehouse.change_stamp``: for a DuckDB file its modification time, which every write by
any process moves; no table is scanned). A /predict for a starter of the slate is then a lookup
plus the decision at the request's line and prices (``SystemOutput.decide_at``, the same code
that made the stored rows). A pitcher off the slate has his own features and answers computed
once. A system that failed is tried again (through its breaker) on the next request; the
answers of the others are kept.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel
from pydantic_core import to_json

from kcast.decisions import Thresholds, pmf_mean
from kcast.errors import MembersUnavailableError, NoSystemAnsweredError
from kcast.features.build import FeatureContext, load_history
from kcast.features.matchup import MatchupContext
from kcast.history import WarehouseHistory
from kcast.market import sane_quotes
from kcast.pipeline import (
    SlateResult,
    attach_prices,
    best_lines,
    check_history,
    day_starters,
    known_pitchers,
    open_prices,
    pitcher_names,
    requested_price,
    requested_starters,
    run_systems,
    starter_features,
    storable_rows,
    store,
    stored_lines,
    systems_for_day,
)
from kcast.service.breakers import BreakerOpenError, describe, validate_output
from kcast.service.deps import ServiceState
from kcast.service.schemas import (
    BatchRequest,
    BatchResponse,
    PitcherGame,
    Starter,
    SystemAnswer,
    SystemRun,
)
from kcast.systems.base import BasePredictor, SystemOutput, line_decision
from kcast.teams import display_team
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now

M = TypeVar("M", bound="BaseModel")
log = logging.getLogger("kcast.service")

# --------------------------------------------------------------------------------------------
# Values for JSON
# --------------------------------------------------------------------------------------------


def clean(value: Any) -> Any:
    """A JSON-safe Python value: NaN, NA and NaT become None, numpy scalars plain Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def split_flags(value: Any) -> list[str]:
    """Red flags stored comma-separated, as a list."""
    value = clean(value)
    if not value:
        return []
    return [f for f in str(value).split(",") if f]


def as_utc(value: Any) -> dt.datetime | None:
    """A timezone-aware UTC datetime from a naive UTC timestamp (as the warehouse stores)."""
    value = clean(value)
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def as_date(value: Any) -> dt.date:
    """A date from a date, datetime or Timestamp."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    return value


# --------------------------------------------------------------------------------------------
# Features, once per slate
# --------------------------------------------------------------------------------------------


def data_version(wh: Warehouse) -> tuple[str, ...]:
    """A fingerprint of the tables slates, features and graded history come from (for engines
    without a change stamp: it scans the tables' row counts and update times)."""
    row = wh.query(
        """SELECT (SELECT COUNT(*) FROM pitcher_games) AS a,
                  (SELECT MAX(updated_at) FROM pitcher_games) AS b,
                  (SELECT COUNT(*) FROM games) AS c,
                  (SELECT MAX(updated_at) FROM games) AS d,
                  (SELECT COUNT(*) FROM players) AS e,
                  (SELECT MAX(updated_at) FROM players) AS f,
                  (SELECT MAX(graded_at) FROM pitcher_strikeout_predictions) AS g,
                  (SELECT MAX(updated_at) FROM prop_lines) AS h"""
    ).iloc[0]
    return tuple(str(v) for v in row.tolist())


@dataclass
class Slate:
    """One date's slate (or one pitcher off it), ready to answer from.

    ``features`` hold the stored line and prices of each starter; ``lines`` every stored line of
    the date (for a requested line's own price); ``outputs`` the answers of the systems that
    answered, reused until the warehouse changes."""

    day: dt.date
    features: pd.DataFrame
    lines: pd.DataFrame
    systems: dict[str, BasePredictor]
    starters: pd.DataFrame | None = None  # the date's ``day_starters`` (a date's slate only)
    best: pd.DataFrame | None = None  # ``best_lines`` of ``lines``
    opens: pd.DataFrame | None = None  # the date's ``open_prices``
    index: dict[int, int] = field(default_factory=dict)
    # the systems' answers and what happened to each, replaced together (readers without the
    # lock see one run's pair, never half of two)
    answers: tuple[dict[str, SystemOutput], dict[str, Outcome]] = ({}, {})
    prepared: dict[str, Prepared] = field(default_factory=dict)
    prices: dict[tuple, dict[str, Any] | None] = field(default_factory=dict)
    stored: tuple | None = None  # what the last batch stored (see ``predict_batch``)
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

    def price(self, index: int, record: dict[str, Any]) -> dict[str, Any] | None:
        """``pipeline.requested_price`` of row ``index`` for a request, the stored lines'
        look-ups kept (a request that names its line and both prices needs none)."""
        pitcher_id, day = self.keys[index]
        line, over, under = (record.get(k) for k in ("line", "over_odds", "under_odds"))
        if _nan(line) or not (_nan(over) or _nan(under)):  # no stored line is looked up
            return requested_price(self.lines, pitcher_id, day, record)
        key = (index, line)
        if key not in self.prices:
            self.prices[key] = requested_price(self.lines, pitcher_id, day, record)
        return self.prices[key]

    def ready(self, system_id: str, output: SystemOutput) -> Prepared:
        """A system's answers prepared for requests (kept while its output is the same)."""
        prepared = self.prepared.get(system_id)
        if prepared is None or prepared.output is not output:
            prepared = self.prepared[system_id] = Prepared.of(output)
        return prepared


class SlateCache:
    """What the worker keeps in memory, per warehouse version: the history and its
    ``FeatureContext``, and per date the ``Slate``; each built once (a second caller waits for
    the first's build and uses it)."""

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
        self.writes = 0  # prediction writes by this worker (see ``write_rows``)
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
        """The worker has just stored predictions, which change nothing this cache holds (not
        the games, lines or graded history): the warehouse's new stamp keeps the kept state."""
        stamp = self.wh.change_stamp()
        if stamp is not None and before[1] == self.generation:
            self._aliases[stamp] = before[0]

    def peek(self, key: tuple) -> Any:
        """What is kept under ``key`` (None if nothing is), without waiting for a build."""
        return self._items.get(key)

    def _get(self, key: tuple, build: Any) -> Any:
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

    # --- what is kept --------------------------------------------------------------------------
    def history(self, version: tuple) -> tuple[pd.DataFrame, FeatureContext]:
        """Every game of history and its team, league and park state."""

        def build() -> tuple[pd.DataFrame, FeatureContext]:
            history = load_history(self.wh)
            return history, FeatureContext.from_history(history)

        return self._get(("history", version), build)

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

    def matchup(self, version: tuple) -> MatchupContext:
        """The lineups, batters, pitchers' swing-and-miss and umpires of every game."""
        return self._get(("matchup", version), lambda: MatchupContext.from_warehouse(self.wh))

    def check_history(self, day: dt.date, version: tuple | None = None) -> None:
        """``pipeline.check_history`` against the kept history."""
        history, _ = self.history(version or self.version())
        first = history["game_date"].min() if len(history) else None
        check_history(day, None if first is None or pd.isna(first) else first.date())

    def systems(
        self, state: ServiceState, day: dt.date, version: tuple
    ) -> dict[str, BasePredictor]:
        """The loaded systems updated from what was graded before ``day`` (kept per generation
        of the loaded systems: a model reload makes a new key)."""
        loaded, generation = state.systems, state.generation
        return self._get(
            ("systems", day, version, generation),
            lambda: systems_for_day(loaded, WarehouseHistory(self.wh, day), state.settings),
        )

    def players(self, version: tuple) -> tuple[pd.DataFrame, set[int]]:
        """Every player's name (``pipeline.pitcher_names``) and the pitchers the warehouse
        knows (``pipeline.known_pitchers``)."""
        return self._get(
            ("players", version), lambda: (pitcher_names(self.wh), known_pitchers(self.wh))
        )

    def features(self, starters: pd.DataFrame, version: tuple) -> pd.DataFrame:
        """``pipeline.starter_features`` from the kept history, contexts and names."""
        history, context = self.history(version)
        names, _ = self.players(version)
        return starter_features(self.wh, starters, history, context, self.matchup(version), names)

    def slate(self, state: ServiceState, day: dt.date, version: tuple | None = None) -> Slate:
        """``day``'s slate; raises ``InputError`` when it has starters but no history before."""
        version = version or self.version()

        def build() -> Slate:
            with self.wh.reads_together():  # one open of the file for the build's reads
                starters = day_starters(self.wh, day)
                if not starters.empty:
                    self.check_history(day, version)
                self.builds += 1
                features = self.features(starters, version)
                # read once: for the slate, for requests and for pitchers off the slate
                lines = sane_quotes(stored_lines(self.wh, day))  # no absurd price decides
                best, opens = best_lines(lines), open_prices(self.wh, day, day)
                if len(features):
                    features = attach_prices(self.wh, features, lines=lines, best=best, opens=opens)
                systems = self.systems(state, day, version)
                return Slate(day, features, lines, systems, starters, best, opens)

        return self._get(("slate", day, version), build)

    def pitcher(self, state: ServiceState, record: dict[str, Any], version: tuple) -> Slate:
        """A one-row slate for a pitcher-game the date's slate does not hold (the request
        names the game), built once per game."""
        day = record["game_date"]
        key = pitcher_key(record)

        def build() -> Slate:
            with self.wh.reads_together():
                # the date's starters and stored lines, read once for the slate when it is kept
                kept = self.peek(("slate", day, version))
                known = {day: kept.starters} if kept is not None else None
                _, pitchers = self.players(version)
                starters = requested_starters(self.wh, [record], known, pitchers)
                self.check_history(day, version)
                features = self.features(starters, version)
                if kept is not None:
                    lines = kept.lines
                    prices = {"best": kept.best, "opens": kept.opens}
                else:
                    lines, prices = sane_quotes(stored_lines(self.wh, day)), {}
                features = attach_prices(self.wh, features, lines=lines, **prices)
                return Slate(day, features, lines, self.systems(state, day, version))

        return self._get(("pitcher", day, key, version), build)


# --------------------------------------------------------------------------------------------
# Systems through their breakers
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one system in one run."""

    status: str  # ok, failed, skipped
    error: str | None = None
    seconds: float | None = None
    breaker_state: str | None = None


class SystemCaller:
    """``pipeline.run_systems``' ``call`` hook: each system through its breaker, fault hook and
    garbage check; records each system's outcome.

    A system built on others with none of their answers is skipped without counting against
    its breaker (its members' failures are theirs, not its own).
    """

    def __init__(self, state: ServiceState, rows: int, known: dict[str, SystemOutput]) -> None:
        self.state = state
        self.rows = rows
        self.known = known
        self.outcomes: dict[str, Outcome] = {}

    def __call__(self, system_id: str, fn: Any) -> SystemOutput:
        system = self.state.systems[system_id]
        breaker = self.state.breakers[system_id]
        members = system.member_ids
        if members:
            answered = [m for m in members if m in self.known or self._ok(m)]
            if not answered:
                reason = f"no member system answered ({', '.join(members)})"
                self.outcomes[system_id] = Outcome("skipped", reason, 0.0, breaker.state)
                raise MembersUnavailableError(reason)
        t0 = time.perf_counter()
        try:
            out = breaker.call(
                self.state.faults.wrap(system_id, fn),
                validate=lambda o: validate_output(o, system_id, self.rows),
            )
        except BreakerOpenError as exc:
            self.outcomes[system_id] = Outcome("skipped", str(exc), 0.0, breaker.state)
            raise
        except Exception as exc:
            seconds = time.perf_counter() - t0
            self.state.metrics.system_latency.labels(system_id).observe(seconds)
            self.outcomes[system_id] = Outcome("failed", describe(exc), seconds, breaker.state)
            raise
        seconds = time.perf_counter() - t0
        self.state.metrics.system_latency.labels(system_id).observe(seconds)
        self.outcomes[system_id] = Outcome("ok", None, seconds, breaker.state)
        return out

    def _ok(self, system_id: str) -> bool:
        outcome = self.outcomes.get(system_id)
        return outcome is not None and outcome.status == "ok"


def _built_on(systems: dict[str, BasePredictor], failed: set[str]) -> set[str]:
    """``failed`` and every system built (directly or not) on one of them."""
    out = set(failed)
    changed = True
    while changed:
        changed = False
        for system_id, system in systems.items():
            if system_id not in out and out & set(system.member_ids):
                out.add(system_id)
                changed = True
    return out


def run_guarded(
    state: ServiceState,
    features: pd.DataFrame,
    systems: dict[str, BasePredictor],
    known: dict[str, SystemOutput] | None = None,
) -> tuple[SlateResult, dict[str, Outcome]]:
    """The pipeline's ``run_systems`` with the breakers as its call hook: every loaded active
    system not in ``known`` on ``features``."""
    known = known or {}
    caller = SystemCaller(state, len(features), known)
    thresholds = Thresholds.from_settings(state.settings)
    result = run_systems(features, systems, thresholds, call=caller, known=known)
    outcomes: dict[str, Outcome] = {}
    for system_id in state.active_ids:
        if system_id in known:
            outcomes[system_id] = Outcome("ok", None, 0.0, state.breakers[system_id].state)
        elif system_id in caller.outcomes:
            outcomes[system_id] = caller.outcomes[system_id]
        elif system_id in state.load_errors:
            outcomes[system_id] = Outcome(
                "failed", f"not loaded: {state.load_errors[system_id]}", None, None
            )
        elif system_id in result.errors:
            outcomes[system_id] = Outcome("failed", result.errors[system_id])
    return result, outcomes


def count_answers(state: ServiceState, answers: dict[str, int]) -> None:
    """Count the predictions served, per system (``kcast_predictions_total``)."""
    for system_id, rows in answers.items():
        state.metrics.predictions.labels(system_id).inc(rows)


def slate_answers(
    state: ServiceState, slate: Slate
) -> tuple[dict[str, SystemOutput], dict[str, Outcome]]:
    """Every active system's answers for the slate. Those kept are reused; a system that has
    not answered yet is called again through its breaker (an open breaker refuses at once), and
    when it answers now, the systems built on it are worked out again with its answer."""
    with slate.lock:
        kept = kept_answers(state, slate)
        if kept is not None:
            return kept
        loaded = {s: slate.systems[s] for s in state.active_ids if s in slate.systems}
        missing = {s for s in loaded if s not in slate.outputs}
        prior = dict(slate.outputs)
        result, outcomes = run_guarded(state, slate.features, loaded, prior)
        recovered = {s for s in missing if s in result.outputs}
        stale = {s for s in _built_on(loaded, recovered) - recovered if s in prior}
        if stale:  # kept answers made without a member that answers now: made again
            known = {s: o for s, o in result.outputs.items() if s not in stale}
            again_systems = {s: loaded[s] for s in loaded if s in stale or s in known}
            result, again = run_guarded(state, slate.features, again_systems, known)
            outcomes = {**outcomes, **{s: again[s] for s in stale if s in again}}
        slate.answers = (dict(result.outputs), outcomes)
        return dict(result.outputs), outcomes


def kept_answers(
    state: ServiceState, slate: Slate
) -> tuple[dict[str, SystemOutput], dict[str, Outcome]] | None:
    """The slate's kept answers when no system needs to be called: each loaded active system
    has answered, or is refused at once by its breaker (open and cooling down; the refusal is
    counted as ``slate_answers`` would count it). None otherwise. Never waits for anything."""
    outputs, outcomes = slate.answers
    if not outcomes:
        return None  # never run
    now: dict[str, Outcome] = {}
    refused: dict[str, str] = {}
    for system_id in state.active_ids:
        if system_id not in slate.systems:
            continue
        breaker = state.breakers[system_id]
        if system_id in outputs:
            now[system_id] = Outcome("ok", None, 0.0, breaker.state)
            continue
        reason = breaker.refusal(tell=False)
        if reason is None:
            return None  # this system is to be called
        refused[system_id] = reason
    for system_id, reason in refused.items():
        breaker = state.breakers[system_id]
        breaker.notify("rejected", reason)
        now[system_id] = Outcome("skipped", reason, 0.0, breaker.state)
    return outputs, {**outcomes, **now}


# --------------------------------------------------------------------------------------------
# /predict
# --------------------------------------------------------------------------------------------


def from_row(model: type[M], row: dict[str, Any], **values: Any) -> M:
    """A response model from a pipeline or warehouse row: each field the row has, cleaned for
    JSON (red flags and reasons in their answer shapes, teams in MLB's spelling of the row's
    season: the warehouse's Retrosheet codes never reach an answer), then ``values``."""
    fields = {k: clean(row[k]) for k in model.model_fields if k in row}
    for team in ("team", "opponent"):
        if fields.get(team) is not None:
            fields[team] = display_team(fields[team], row.get("season") or row.get("game_date"))
    if "red_flags" in fields:
        fields["red_flags"] = split_flags(fields["red_flags"])
    if "reasons" in fields:
        fields["reasons"] = fields["reasons"] or None
    if "game_date" in fields:
        fields["game_date"] = as_date(row["game_date"])
    return model(**{**fields, **values})


ANSWER_FIELDS = tuple(SystemAnswer.model_fields)
NO_ANSWER = dict.fromkeys(ANSWER_FIELDS)


def answer_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The ``SystemAnswer`` fields of a prediction row, cleaned for JSON (red flags as a list,
    empty reasons as None)."""
    fields = {k: clean(row[k]) for k in ANSWER_FIELDS if k in row}
    fields["red_flags"] = split_flags(fields.get("red_flags"))
    fields["reasons"] = fields.get("reasons") or None
    return fields


@dataclass
class Prepared:
    """One system's answers for a slate, ready for requests: per row the distribution's mean
    (what ``line_decision`` needs besides the line and prices) and the fields no line or price
    changes, and the answer at the stored line and prices."""

    output: SystemOutput
    means: list[float]
    facts: list[dict[str, Any]]
    stored: list[dict[str, Any]]

    @classmethod
    def of(cls, output: SystemOutput) -> Prepared:
        frame = output.frame[[c for c in ANSWER_FIELDS if c in output.frame]]
        stored = [answer_fields(row) for row in frame.to_dict("records")]
        facts = [{k: fields[k] for k in FACTS} for fields in stored]
        # exactly as ``decision_row`` works the mean out from one row's distribution
        means = [float(pmf_mean(output.pmf[i])) for i in range(len(stored))]
        return cls(output, means, facts, stored)

    def at(self, i: int, price: dict[str, Any] | None, thresholds: Thresholds) -> dict[str, Any]:
        """Row ``i``'s answer fields at ``price`` (the request's line and prices; None: the
        stored ones): ``SystemOutput.decide_at`` without the row frame."""
        if price is None:
            return self.stored[i]
        out = self.output
        assert out.flags is not None and out.factor is not None
        decided = line_decision(
            out.pmf[i],
            self.means[i],
            price["line"],
            None if _nan(price["over_odds"]) else price["over_odds"],
            None if _nan(price["under_odds"]) else price["under_odds"],
            out.flags[i],
            thresholds,
            float(out.factor[i]),
            out.blend,
        )
        return {**self.facts[i], **answer_fields(decided)}


FACTS = ("predicted_strikeouts", "predicted_median", "k_p10", "k_p90")


def system_answers(
    state: ServiceState,
    slate: Slate,
    outputs: dict[str, SystemOutput],
    outcomes: dict[str, Outcome],
    index: int,
    price: dict[str, Any] | None,
) -> dict[str, dict[str, Any]]:
    """Every active system's answer (``SystemAnswer``'s fields, in its order) for row
    ``index``, decided at ``price`` (the request's line and prices; None: the stored ones),
    or why it has none."""
    thresholds = Thresholds.from_settings(state.settings)
    answers: dict[str, dict[str, Any]] = {}
    for system_id in state.active_ids:
        outcome = outcomes.get(system_id) or Outcome("failed", "did not run")
        output = outputs.get(system_id)
        seconds = None if outcome.seconds is None else round(outcome.seconds, 4)
        answer = dict(NO_ANSWER, red_flags=[], breaker_state=outcome.breaker_state, seconds=seconds)
        if outcome.status == "ok" and output is not None:
            answer.update(slate.ready(system_id, output).at(index, price, thresholds))
            answer.update(status="ok", model_version=output.model_version)
        else:
            answer.update(
                status="failed" if outcome.status == "ok" else outcome.status,
                error=outcome.error,
                model_version=state.model_version(system_id),
            )
        answers[system_id] = answer
    return answers


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def primary_system(state: ServiceState, answers: dict[str, dict[str, Any]]) -> str | None:
    """The system whose answer fills the legacy fields: ``MLB_PRIMARY_SYSTEM`` if it answered,
    else the first active system that did."""
    primary = state.settings.primary_system
    if primary in answers and answers[primary]["status"] == "ok":
        return primary
    ok = (s for s in state.active_ids if answers.get(s) and answers[s]["status"] == "ok")
    return next(ok, None)


def pitcher_key(record: dict[str, Any]) -> tuple:
    """What names a pitcher-game off the slate (with its date)."""
    return tuple(record.get(k) for k in ("pitcher_id", "opponent", "is_home", "team"))


def predict_one(state: ServiceState, req: PitcherGame) -> bytes:
    """Predict one pitcher-game with every active system: the JSON of a ``PredictResponse``.
    Builds the date's slate (or the pitcher's own) and calls the systems that have not
    answered yet."""
    record = req.record()
    version = state.cache.version()
    slate = state.cache.slate(state, req.game_date, version)
    index = slate.index.get(req.pitcher_id)
    if index is None:  # not a starter of the date's slate: the request names the game
        slate = state.cache.pitcher(state, record, version)
        index = 0
    return respond(state, req, record, slate, index, *slate_answers(state, slate))


def predict_kept(state: ServiceState, req: PitcherGame) -> bytes | None:
    """``predict_one`` from memory only: None unless the slate (or the pitcher's own) is kept
    at the warehouse's current version and no system needs calling. Never waits for a lock
    held by a build or a system's call, so it can run on the event loop."""
    record = req.record()
    version = state.cache.version(scan=False)
    if version is None:
        return None
    slate = state.cache.peek(("slate", req.game_date, version))
    index = None if slate is None else slate.index.get(req.pitcher_id)
    if slate is not None and index is None:
        slate = state.cache.peek(("pitcher", req.game_date, pitcher_key(record), version))
        index = 0
    kept = None if slate is None else kept_answers(state, slate)
    if kept is None or index is None:
        return None
    return respond(state, req, record, slate, index, *kept)  # type: ignore[arg-type]


def respond(
    state: ServiceState,
    req: PitcherGame,
    record: dict[str, Any],
    slate: Slate,
    index: int,
    outputs: dict[str, SystemOutput],
    outcomes: dict[str, Outcome],
) -> bytes:
    """The JSON of a ``PredictResponse`` for row ``index`` of ``slate``, built as plain values
    (``tests/integration/test_service.py`` holds it to the model's own serialisation)."""
    price = slate.price(index, record)
    answers = system_answers(state, slate, outputs, outcomes, index, price)
    count_answers(state, {s: 1 for s, a in answers.items() if a["status"] == "ok"})
    primary = primary_system(state, answers)
    if primary is None:
        raise NoSystemAnsweredError(
            "no prediction system answered: "
            + "; ".join(f"{s}: {a['error']}" for s, a in answers.items()),
            {s: SystemAnswer(**a) for s, a in answers.items()},
        )
    top = answers[primary]
    body = {
        "pitcher_id": req.pitcher_id,
        "game_date": req.game_date,
        "line": price["line"] if price is not None else slate.stored_lines[index],
        "predicted_strikeouts": float(top["predicted_strikeouts"] or 0.0),
        "confidence": float(top["confidence"] or 0.0),
        "recommendation": str(top["recommendation"]),
        "edge": top["edge"],
        "red_flags": list(top["red_flags"]),
        "model_version": str(top["model_version"]),
        "systems": answers,
    }
    return to_json(body)


# --------------------------------------------------------------------------------------------
# /predict-batch
# --------------------------------------------------------------------------------------------


def starters_of(features: pd.DataFrame) -> list[Starter]:
    """The slate's starters, for answers."""
    return [from_row(Starter, row) for row in features.to_dict("records")]


def batch_answers(
    state: ServiceState, req: BatchRequest, version: tuple
) -> tuple[pd.DataFrame, dict[str, SystemOutput], dict[str, Outcome], Slate | None]:
    """The batch's feature rows and every system's answers: a date's from its kept slate
    (returned too), requested pitcher-games' computed now (with the requests' lines)."""
    if req.date is not None:
        slate = state.cache.slate(state, req.date, version)
        if slate.features.empty:
            return slate.features, {}, {}, slate
        outputs, outcomes = slate_answers(state, slate)
        return slate.features, outputs, outcomes, slate
    assert req.games is not None
    for day in sorted({g.game_date for g in req.games}):
        state.cache.check_history(day, version)
    records = [g.record() for g in req.games]
    features = state.cache.features(requested_starters(state.warehouse, records), version)
    features = attach_prices(state.warehouse, features, records)
    day = pd.to_datetime(features["game_date"]).min().date()
    result, outcomes = run_guarded(state, features, state.cache.systems(state, day, version))
    return features, result.outputs, outcomes, None


def write_rows(
    state: ServiceState,
    version: tuple,
    outputs: dict[str, SystemOutput],
    slate: Slate | None,
    predicted_at: dt.datetime | None,
) -> tuple[dict[str, int], dt.datetime | None, bool]:
    """Store the answers' rows made at ``predicted_at``; the rows stored per system, when the
    stored rows were made, and whether they were written now.

    A date's rows equal to what this worker stored last for its slate are not written again:
    the same answers (the very same outputs), stored by the worker's last write, with the
    warehouse unchanged since (its change stamp is the one that write left). Anything else,
    from any process, writes again (an idempotent upsert)."""
    memo = slate.stored if slate is not None else None
    stamp = state.cache.wh.change_stamp()
    if (
        memo is not None
        and stamp is not None
        and memo[0] == (stamp, state.cache.writes)
        and memo[1].keys() == outputs.keys()
        and all(memo[1][s] is o for s, o in outputs.items())
    ):
        return memo[2], memo[3], False
    rows = storable_rows(state.warehouse, pd.concat([o.frame for o in outputs.values()]))
    regraded = store(state.warehouse, rows).regraded
    state.cache.writes += 1
    if regraded == 0:
        state.cache.adopt(version)  # only ungraded predictions changed
    stored = {str(k): int(v) for k, v in rows["system_id"].value_counts().items()}
    for system_id, count in stored.items():
        state.metrics.predictions_written.labels(system_id).inc(count)
    state.metrics.warehouse_changed()
    if slate is not None:
        stamp = (state.cache.wh.change_stamp(), state.cache.writes)
        slate.stored = (stamp, dict(outputs), stored, predicted_at)
    return stored, predicted_at, True


def predict_batch(state: ServiceState, req: BatchRequest) -> BatchResponse:
    """Predict a date's slate (or a list of pitcher-games) with every system; store the rows."""
    t0 = time.perf_counter()
    version = state.cache.version()
    features, outputs, outcomes, slate = batch_answers(state, req, version)
    predicted_at = as_utc(utc_now())
    if features.empty:
        return BatchResponse(
            date=req.date,
            starters=[],
            written=False,
            predicted_at=predicted_at,
            rows_written={},
            total_rows_written=0,
            skipped={},
            failed={},
            systems={},
            seconds=round(time.perf_counter() - t0, 4),
            note=f"no starters known for {req.date}: ingest the slate (kcast ingest statsapi "
            "--date) or the results of a past date",
        )
    written = bool(req.write and outputs)
    stored: dict[str, int] = {}
    note = None
    if written:
        stored, predicted_at, now = write_rows(state, version, outputs, slate, predicted_at)
        if not now:
            note = (
                "these rows were stored by this worker's last batch of the date (predicted_at) "
                "and nothing has changed since: not written again"
            )
    runs: dict[str, SystemRun] = {}
    for system_id in state.active_ids:
        outcome = outcomes.get(system_id, Outcome("failed", "did not run"))
        output = outputs.get(system_id)
        runs[system_id] = SystemRun(
            status=outcome.status,  # type: ignore[arg-type]
            rows=len(output.frame) if output is not None else 0,
            error=outcome.error,
            breaker_state=outcome.breaker_state,
            seconds=None if outcome.seconds is None else round(outcome.seconds, 4),
        )
    count_answers(state, {s: r.rows for s, r in runs.items() if r.status == "ok"})
    rows_written = {s: int(stored.get(s, 0)) for s, r in runs.items() if r.status == "ok"}
    rows_written = rows_written if written else {}
    return BatchResponse(
        date=req.date,
        starters=starters_of(features),
        written=written,
        predicted_at=predicted_at,
        rows_written=rows_written,
        total_rows_written=sum(rows_written.values()),
        skipped={s: r.error or "" for s, r in runs.items() if r.status == "skipped"},
        failed={s: r.error or "" for s, r in runs.items() if r.status == "failed"},
        systems=runs,
        seconds=round(time.perf_counter() - t0, 4),
        note=note,
    )
