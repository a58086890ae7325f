"""The worker's answers: ``/predict`` and ``/predict-batch`` in the shapes of ``schemas``.

Each request is decided at its decision time (its ``decision_time``, else
``KCAST_DECISION_TIME``), by the forecaster (``forecast.Forecaster``) over the worker's reader
(``service.cache``) with the breakers as its call hook (``service.calls``). A /predict for a
starter of a kept slate is a look-up plus the decision at the request's line and prices
(``Prepared.at``: ``decision.decide``, the function that made the stored rows). A pitcher off
the slate has his own features and answers computed once. A batch stores its rows and bets
through the forecaster's sink, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd
from pydantic import BaseModel
from pydantic_core import to_json

from kcast.decision import decide
from kcast.decisions import pmf_mean
from kcast.errors import NoSystemAnsweredError
from kcast.forecast import Forecast, Forecaster, WarehouseSink
from kcast.market import DecisionTime
from kcast.service.cache import Slate, pitcher_key
from kcast.service.calls import Outcome, count_answers, kept_answers, run_guarded, slate_answers
from kcast.service.deps import ServiceState
from kcast.service.schemas import (
    BatchRequest,
    BatchResponse,
    PitcherGame,
    Starter,
    SystemAnswer,
    SystemRun,
)
from kcast.service.values import as_date, as_utc, clean, split_flags
from kcast.systems.base import SystemOutput
from kcast.teams import display_team
from kcast.warehouse.base import utc_now

M = TypeVar("M", bound="BaseModel")
SOURCE = "worker"  # the ledger's name for bets this worker stored

# --------------------------------------------------------------------------------------------
# Rows as answers
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
FACTS = ("predicted_strikeouts", "predicted_median", "k_p10", "k_p90")
ASKED_KEPT = 4096  # answers at asked prices kept per system and slate


def answer_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The ``SystemAnswer`` fields of a prediction row, cleaned for JSON (red flags as a list,
    empty reasons as None)."""
    fields = {k: clean(row[k]) for k in ANSWER_FIELDS if k in row}
    fields["red_flags"] = split_flags(fields.get("red_flags"))
    fields["reasons"] = fields.get("reasons") or None
    return fields


def starters_of(features: pd.DataFrame) -> list[Starter]:
    """The slate's starters, for answers."""
    return [from_row(Starter, row) for row in features.to_dict("records")]


@dataclass
class Prepared:
    """One system's answers for a slate, ready for requests: per row the distribution's mean
    and the fields no line or price changes, the answer at the stored line and prices, and the
    answers at the lines and prices asked (each decided once: ``decision.decide``)."""

    output: SystemOutput
    means: list[float]
    facts: list[dict[str, Any]]
    stored: list[dict[str, Any]]
    asked: dict[tuple, dict[str, Any]] = field(default_factory=dict)  # answers at prices asked

    @classmethod
    def of(cls, output: SystemOutput) -> Prepared:
        frame = output.frame[[c for c in ANSWER_FIELDS if c in output.frame]]
        stored = [answer_fields(row) for row in frame.to_dict("records")]
        facts = [{k: fields[k] for k in FACTS} for fields in stored]
        # exactly as ``decision.decide`` works the mean out from one row's distribution
        means = [float(pmf_mean(output.pmf[i])) for i in range(len(stored))]
        return cls(output, means, facts, stored)

    def at(self, i: int, price: dict[str, Any] | None, slate: Slate) -> dict[str, Any]:
        """Row ``i``'s answer fields at ``price`` (the request's line and prices; None: the
        stored ones): ``SystemOutput.decide_at`` without the row frame."""
        if price is None:
            return self.stored[i]
        key = (i, price["line"], price["over_odds"], price["under_odds"], price["book"])
        answer = self.asked.get(key)
        if answer is None:
            out = self.output
            assert out.flags is not None and out.factor is not None
            decided = decide(
                out.pmf[i],
                out.flags[i],
                price,
                slate.context,
                out.system_id,
                slate.market(i),
                float(out.factor[i]),
                out.blend,
                self.means[i],
            )
            if len(self.asked) >= ASKED_KEPT:  # a bound on what requests can make it keep
                self.asked.clear()
            answer = self.asked[key] = {**self.facts[i], **answer_fields(decided)}
        return answer


def ready(slate: Slate, system_id: str, output: SystemOutput) -> Prepared:
    """A system's answers of ``slate`` prepared for requests (kept while its output is the
    same)."""
    prepared = slate.prepared.get(system_id)
    if prepared is None or prepared.output is not output:
        prepared = slate.prepared[system_id] = Prepared.of(output)
    return prepared


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
    answers: dict[str, dict[str, Any]] = {}
    for system_id in state.active_ids:
        outcome = outcomes.get(system_id) or Outcome("failed", "did not run")
        output = outputs.get(system_id)
        seconds = None if outcome.seconds is None else round(outcome.seconds, 4)
        answer = dict(NO_ANSWER, red_flags=[], breaker_state=outcome.breaker_state, seconds=seconds)
        if outcome.status == "ok" and output is not None:
            answer.update(ready(slate, system_id, output).at(index, price, slate))
            answer.update(status="ok", model_version=output.model_version)
        else:
            answer.update(
                status="failed" if outcome.status == "ok" else outcome.status,
                error=outcome.error,
                model_version=state.model_version(system_id),
            )
        answers[system_id] = answer
    return answers


def primary_system(state: ServiceState, answers: dict[str, dict[str, Any]]) -> str | None:
    """The system whose answer fills the legacy fields: ``MLB_PRIMARY_SYSTEM`` if it answered,
    else the first active system that did."""
    primary = state.settings.primary_system
    if primary in answers and answers[primary]["status"] == "ok":
        return primary
    ok = (s for s in state.active_ids if answers.get(s) and answers[s]["status"] == "ok")
    return next(ok, None)


# --------------------------------------------------------------------------------------------
# /predict
# --------------------------------------------------------------------------------------------


def forecaster(state: ServiceState, version: tuple, at: DecisionTime | str | None) -> Forecaster:
    """The forecaster of a request decided at ``at`` (None: ``KCAST_DECISION_TIME``): the
    worker's reader at ``version``, its loaded systems, its sink."""
    return Forecaster(
        state.cache.reader(version),
        state.systems,
        state.context.deciding_at(at),
        sink=WarehouseSink(state.warehouse, SOURCE),
        load_errors=state.load_errors,
    )


def decision_label(state: ServiceState, at: str | None) -> str:
    """The label of the decision time a request is decided at."""
    return state.context.deciding_at(at).at.label


def predict_one(state: ServiceState, req: PitcherGame) -> bytes:
    """Predict one pitcher-game with every active system: the JSON of a ``PredictResponse``.
    Builds the date's slate (or the pitcher's own) and calls the systems that have not
    answered yet."""
    record = req.record()
    version = state.cache.version()
    fc = forecaster(state, version, req.decision_time)
    slate = state.cache.slate(fc, req.game_date, version, lambda: state.systems)
    index = slate.index.get(req.pitcher_id)
    if index is None:  # not a starter of the date's slate: the request names the game
        slate = state.cache.pitcher(fc, record, version, lambda: state.systems)
        index = 0
    return respond(state, req, record, slate, index, *slate_answers(state, fc, slate))


def predict_kept(state: ServiceState, req: PitcherGame) -> bytes | None:
    """``predict_one`` from memory only: None unless the slate (or the pitcher's own) is kept
    at the warehouse's current version and no system needs calling. Never waits for a lock
    held by a build or a system's call, so it can run on the event loop."""
    record = req.record()
    version = state.cache.version(scan=False)
    if version is None:
        return None
    label = decision_label(state, req.decision_time)
    slate = state.cache.peek(("slate", req.game_date, label, version))
    index = None if slate is None else slate.index.get(req.pitcher_id)
    if slate is not None and index is None:
        slate = state.cache.peek(("pitcher", req.game_date, label, pitcher_key(record), version))
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
        "decision_time": slate.context.at.label,
        "systems": answers,
    }
    return to_json(body)


# --------------------------------------------------------------------------------------------
# /predict-batch
# --------------------------------------------------------------------------------------------


@dataclass
class BatchAnswers:
    """A batch's feature rows, every system's answers and what happened to each, the kept
    slate of a date's batch (None for requested pitcher-games) and the forecast made."""

    features: pd.DataFrame
    outputs: dict[str, SystemOutput]
    outcomes: dict[str, Outcome]
    slate: Slate | None
    forecaster: Forecaster


def batch_answers(state: ServiceState, req: BatchRequest, version: tuple) -> BatchAnswers:
    """The batch's feature rows and every system's answers: a date's from its kept slate,
    requested pitcher-games' computed now (with the requests' lines)."""
    fc = forecaster(state, version, req.decision_time)
    if req.date is not None:
        slate = state.cache.slate(fc, req.date, version, lambda: state.systems)
        if slate.features.empty:
            return BatchAnswers(slate.features, {}, {}, slate, fc)
        outputs, outcomes = slate_answers(state, fc, slate)
        return BatchAnswers(slate.features, outputs, outcomes, slate, fc)
    assert req.games is not None
    records = [g.record() for g in req.games]
    features = fc.prepare(fc.reader.requested(records), records)
    day = pd.to_datetime(features["game_date"]).min().date()
    systems = fc.reader.systems(state.systems, day, fc.context.market_blend)
    result, outcomes = run_guarded(state, fc, features, systems)
    return BatchAnswers(features, result.outputs, outcomes, None, fc)


def write_rows(
    state: ServiceState,
    version: tuple,
    batch: BatchAnswers,
    predicted_at: dt.datetime | None,
) -> tuple[dict[str, int], dt.datetime | None, bool]:
    """Store the answers' rows and bets made at ``predicted_at`` (the forecaster's sink: one
    transaction); the rows stored per system, when the stored rows were made, and whether they
    were written now.

    A date's rows equal to what this worker stored last for its slate are not written again:
    the same answers (the very same outputs), stored by the worker's last write, with the
    warehouse unchanged since (its change stamp is the one that write left). Anything else,
    from any process, writes again (an idempotent upsert)."""
    slate, outputs = batch.slate, batch.outputs
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
    fc = batch.forecaster
    forecast = Forecast(slate.day if slate else None, batch.features, fc.context, dict(outputs))
    written = fc.store(forecast)
    state.cache.writes += 1
    if written.regraded == 0:
        state.cache.adopt(version)  # only ungraded predictions and their bets changed
    stored = written.by_system
    for system_id, count in stored.items():
        state.metrics.predictions_written.labels(system_id).inc(count)
    state.metrics.warehouse_changed()
    if slate is not None:
        stamp = (state.cache.wh.change_stamp(), state.cache.writes)
        slate.stored = (stamp, dict(outputs), stored, predicted_at)
    return stored, predicted_at, True


def predict_batch(state: ServiceState, req: BatchRequest) -> BatchResponse:
    """Predict a date's slate (or a list of pitcher-games) with every system; store the rows
    and the bets."""
    t0 = time.perf_counter()
    version = state.cache.version()
    batch = batch_answers(state, req, version)
    label = batch.forecaster.context.at.label
    predicted_at = as_utc(utc_now())
    if batch.features.empty:
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
            decision_time=label,
            note=f"no starters known for {req.date}: ingest the slate (kcast ingest statsapi "
            "--date) or the results of a past date",
        )
    written = bool(req.write and batch.outputs)
    stored: dict[str, int] = {}
    note = None
    if written:
        stored, predicted_at, now = write_rows(state, version, batch, predicted_at)
        if not now:
            note = (
                "these rows were stored by this worker's last batch of the date (predicted_at) "
                "and nothing has changed since: not written again"
            )
    runs: dict[str, SystemRun] = {}
    for system_id in state.active_ids:
        outcome = batch.outcomes.get(system_id, Outcome("failed", "did not run"))
        output = batch.outputs.get(system_id)
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
        starters=starters_of(batch.features),
        written=written,
        predicted_at=predicted_at,
        rows_written=rows_written,
        total_rows_written=sum(rows_written.values()),
        skipped={s: r.error or "" for s, r in runs.items() if r.status == "skipped"},
        failed={s: r.error or "" for s, r in runs.items() if r.status == "failed"},
        systems=runs,
        seconds=round(time.perf_counter() - t0, 4),
        decision_time=label,
        note=note,
    )
