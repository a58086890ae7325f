"""The worker's service layer: features (cached per slate), systems through their breakers,
answers in the shapes of ``schemas``.

Features are the expensive part (every start of history is read to build them), and they
depend only on the starters and the games before their date, so the features of a whole
date's slate are built once and kept, keyed by the date and a fingerprint of the warehouse's
game tables: an ingest that changes those tables makes a new key. A /predict for one pitcher
of a slate then costs a look-up plus the systems' own time.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel

from kcast.decisions import Thresholds
from kcast.errors import MembersUnavailableError, NoSystemAnsweredError
from kcast.history import WarehouseHistory
from kcast.pipeline import (
    SlateResult,
    attach_prices,
    check_history,
    day_starters,
    first_history_date,
    requested_starters,
    run_systems,
    starter_features,
    store_predictions,
    systems_for_day,
)
from kcast.service.breakers import BreakerOpenError, describe, validate_output
from kcast.service.deps import ServiceState
from kcast.service.schemas import (
    BatchRequest,
    BatchResponse,
    PitcherGame,
    PredictResponse,
    Starter,
    SystemAnswer,
    SystemRun,
)
from kcast.systems.base import BasePredictor, SystemOutput
from kcast.teams import display_team
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now

M = TypeVar("M", bound="BaseModel")

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
    """A cheap fingerprint of the tables slates, features and graded history come from."""
    row = wh.query(
        """SELECT (SELECT COUNT(*) FROM pitcher_games) AS a,
                  (SELECT MAX(updated_at) FROM pitcher_games) AS b,
                  (SELECT COUNT(*) FROM games) AS c,
                  (SELECT MAX(updated_at) FROM games) AS d,
                  (SELECT COUNT(*) FROM players) AS e,
                  (SELECT MAX(updated_at) FROM players) AS f,
                  (SELECT MAX(graded_at) FROM pitcher_strikeout_predictions) AS g"""
    ).iloc[0]
    return tuple(str(v) for v in row.tolist())


class FeatureCache:
    """Per date and warehouse version: the slate (starters and their features) and the systems
    updated from what was graded before that date, each built once."""

    def __init__(self, wh: Warehouse, size: int = 32) -> None:
        self.wh = wh
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._build_lock = threading.RLock()  # a build may ask for another item
        self.builds = 0

    def _get(self, key: tuple, build: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        with self._build_lock:  # one build at a time; a second caller finds it built
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = build()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def first_date(self, version: tuple[str, ...]) -> dt.date | None:
        """Return the warehouse's first game date (kept per warehouse version)."""
        return self._get(("first", version), lambda: first_history_date(self.wh))

    def check_history(self, day: dt.date, version: tuple[str, ...] | None = None) -> None:
        """``pipeline.check_history`` with the first game date kept per warehouse version."""
        check_history(day, self.first_date(version or data_version(self.wh)))

    def slate(
        self, day: dt.date, version: tuple[str, ...] | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Return (starters, features) of ``day``'s slate, copies the caller may change.

        Raises ``InputError`` when the date has starters but no history before it."""
        version = version or data_version(self.wh)

        def build() -> tuple[pd.DataFrame, pd.DataFrame]:
            starters = day_starters(self.wh, day)
            if not starters.empty:
                self.check_history(day, version)
            self.builds += 1
            return starters, starter_features(self.wh, starters)

        starters, features = self._get(("slate", day, version), build)
        return starters.copy(), features.copy()

    def systems(
        self, state: ServiceState, day: dt.date, version: tuple[str, ...] | None = None
    ) -> dict[str, BasePredictor]:
        """The loaded systems updated from what was graded before ``day``."""
        version = version or data_version(self.wh)
        return self._get(
            ("systems", day, version),
            lambda: systems_for_day(state.systems, WarehouseHistory(self.wh, day), state.settings),
        )

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


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
    """``slate.run_systems``' ``call`` hook: each system through its breaker, fault hook and
    garbage check; records each system's outcome.

    A system built on others with none of their answers is skipped without counting against
    its breaker (its members' failures are theirs, not its own).
    """

    def __init__(self, state: ServiceState, rows: int) -> None:
        self.state = state
        self.rows = rows
        self.outcomes: dict[str, Outcome] = {}

    def __call__(self, system_id: str, fn: Any) -> SystemOutput:
        system = self.state.systems[system_id]
        breaker = self.state.breakers[system_id]
        members = system.member_ids
        if members:
            answered = [m for m in members if self._ok(m)]
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


def run_guarded(
    state: ServiceState, features: pd.DataFrame
) -> tuple[SlateResult, dict[str, Outcome]]:
    """Every loaded active system on ``features``, each through its breaker (the pipeline's
    ``run_systems`` with the breakers as its call hook)."""
    day = pd.to_datetime(features["game_date"]).min().date()
    systems = state.cache.systems(state, day)
    caller = SystemCaller(state, len(features))
    result = run_systems(features, systems, Thresholds.from_settings(state.settings), call=caller)
    outcomes: dict[str, Outcome] = {}
    for system_id in state.active_ids:
        if system_id in caller.outcomes:
            outcomes[system_id] = caller.outcomes[system_id]
        elif system_id in state.load_errors:
            outcomes[system_id] = Outcome(
                "failed", f"not loaded: {state.load_errors[system_id]}", None, None
            )
        elif system_id in result.errors:
            outcomes[system_id] = Outcome("failed", result.errors[system_id])
    for system_id, output in result.outputs.items():
        state.metrics.predictions.labels(system_id).inc(len(output.frame))
    return result, outcomes


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


def answer_from_row(row: dict[str, Any], outcome: Outcome, version: str) -> SystemAnswer:
    """A system's ``SystemAnswer`` from its prediction row."""
    return from_row(
        SystemAnswer,
        row,
        status="ok",
        breaker_state=outcome.breaker_state,
        model_version=version,
        seconds=None if outcome.seconds is None else round(outcome.seconds, 4),
    )


def system_answers(
    state: ServiceState, result: SlateResult, outcomes: dict[str, Outcome], index: int = 0
) -> dict[str, SystemAnswer]:
    """Every active system's answer for row ``index`` of the slate, or why it has none."""
    answers: dict[str, SystemAnswer] = {}
    for system_id in state.active_ids:
        outcome = outcomes.get(system_id, Outcome("failed", "did not run"))
        output = result.outputs.get(system_id)
        if outcome.status == "ok" and output is not None:
            row = output.frame.iloc[index].to_dict()
            answers[system_id] = answer_from_row(row, outcome, output.model_version)
        else:
            answers[system_id] = SystemAnswer(
                status="failed" if outcome.status == "ok" else outcome.status,  # type: ignore[arg-type]
                error=outcome.error,
                breaker_state=outcome.breaker_state,
                model_version=state.model_version(system_id),
                seconds=None if outcome.seconds is None else round(outcome.seconds, 4),
            )
    return answers


def primary_system(state: ServiceState, answers: dict[str, SystemAnswer]) -> str | None:
    """The system whose answer fills the legacy fields: ``MLB_PRIMARY_SYSTEM`` if it answered,
    else the first active system that did."""
    primary = state.settings.primary_system
    if primary in answers and answers[primary].status == "ok":
        return primary
    return next((s for s in state.active_ids if answers.get(s) and answers[s].status == "ok"), None)


def predict_one(state: ServiceState, req: PitcherGame) -> PredictResponse:
    """Predict one pitcher-game with every active system."""
    wh = state.warehouse
    record = req.record()
    version = data_version(wh)
    # a starter of the date's slate: his features are in the slate, built once
    _, slate = state.cache.slate(req.game_date, version)
    features = (
        slate[slate["pitcher_id"] == req.pitcher_id].head(1).reset_index(drop=True)
        if len(slate)
        else slate
    )
    if features.empty:  # not a starter the warehouse knows: the request names the game
        starters = requested_starters(wh, [record])
        state.cache.check_history(req.game_date, version)
        features = starter_features(wh, starters)
    features = attach_prices(wh, features, [record])
    result, outcomes = run_guarded(state, features)
    answers = system_answers(state, result, outcomes)
    primary = primary_system(state, answers)
    if primary is None:
        raise NoSystemAnsweredError(
            "no prediction system answered: "
            + "; ".join(f"{s}: {a.error}" for s, a in answers.items()),
            answers,
        )
    top = answers[primary]
    return PredictResponse(
        pitcher_id=req.pitcher_id,
        game_date=req.game_date,
        line=clean(features["line"].iloc[0]) if "line" in features else None,
        predicted_strikeouts=float(top.predicted_strikeouts or 0.0),
        confidence=float(top.confidence or 0.0),
        recommendation=str(top.recommendation),
        edge=top.edge,
        red_flags=list(top.red_flags),
        model_version=str(top.model_version),
        systems=answers,
    )


# --------------------------------------------------------------------------------------------
# /predict-batch
# --------------------------------------------------------------------------------------------


def starters_of(features: pd.DataFrame) -> list[Starter]:
    """The slate's starters, for answers."""
    return [from_row(Starter, row) for row in features.to_dict("records")]


def batch_features(state: ServiceState, req: BatchRequest) -> pd.DataFrame:
    """The batch's feature rows (built once), lines and prices attached."""
    wh = state.warehouse
    if req.date is not None:
        _, features = state.cache.slate(req.date)
        return attach_prices(wh, features) if len(features) else features
    assert req.games is not None
    for day in sorted({g.game_date for g in req.games}):
        state.cache.check_history(day)
    records = [g.record() for g in req.games]
    features = starter_features(wh, requested_starters(wh, records))
    return attach_prices(wh, features, records)


def predict_batch(state: ServiceState, req: BatchRequest) -> BatchResponse:
    """Predict a date's slate (or a list of pitcher-games) with every system; store the rows."""
    t0 = time.perf_counter()
    features = batch_features(state, req)
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
    result, outcomes = run_guarded(state, features)
    result.date = req.date
    written = bool(req.write and result.outputs)
    if written:
        store_predictions(state.warehouse, result.frame())
    runs: dict[str, SystemRun] = {}
    for system_id in state.active_ids:
        outcome = outcomes.get(system_id, Outcome("failed", "did not run"))
        output = result.outputs.get(system_id)
        runs[system_id] = SystemRun(
            status=outcome.status,  # type: ignore[arg-type]
            rows=len(output.frame) if output is not None else 0,
            error=outcome.error,
            breaker_state=outcome.breaker_state,
            seconds=None if outcome.seconds is None else round(outcome.seconds, 4),
        )
    rows_written = {s: r.rows for s, r in runs.items() if r.status == "ok"} if written else {}
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
    )
