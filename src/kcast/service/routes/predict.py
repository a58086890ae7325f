"""``/predict`` and ``/predict-batch``: every active system, each through its breaker."""

from __future__ import annotations

import datetime as dt
import threading

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from kcast.service.answers import predict_batch, predict_kept, predict_one
from kcast.service.deps import ServiceState, StateDep
from kcast.service.routes import BODY, ERRORS, NO_ANSWER, WRITE
from kcast.service.schemas import BatchRequest, BatchResponse, PitcherGame, PredictResponse
from kcast.service.security import ReaderDep, require_writer
from kcast.webhook_alerts import notify_day

router = APIRouter(tags=["predictions"], dependencies=[ReaderDep])


@router.post("/predict", response_model=PredictResponse, responses={**ERRORS, **BODY, **NO_ANSWER})
async def predict(game: PitcherGame, state: StateDep) -> Response:
    """Predict one pitcher-game: the legacy fields from the primary system, plus every system."""
    # a date (or pitcher) kept in memory is answered here on the event loop: a look-up and the
    # decision at the request's price; anything to build or call runs on a worker thread
    body = predict_kept(state, game)
    if body is None:
        body = await run_in_threadpool(predict_one, state, game)
    return Response(body, media_type="application/json")


@router.post("/predict-batch", response_model=BatchResponse, responses={**ERRORS, **BODY, **WRITE})
def predict_many(batch: BatchRequest, state: StateDep, request: Request) -> BatchResponse:
    """Predict a date's slate (or a list of pitcher-games), store the rows, summarise.

    Storing (``write``, the default) needs the bearer token when KCAST_API_TOKEN is set, and
    is refused by a read-only worker (KCAST_READ_ONLY=true); ``write: false`` does not."""
    if batch.write:
        if state.settings.read_only:
            raise HTTPException(403, "this worker is read-only (KCAST_READ_ONLY): send write=false")
        require_writer(request)
    answer = predict_batch(state, batch)
    if answer.written and batch.date is not None:
        notify_in_background(state, batch.date)
    return answer


def notify_in_background(state: ServiceState, day: dt.date) -> threading.Thread | None:
    """The day's webhook alerts (``webhook_alerts.notify_day``) on a thread of their own: the
    request that stored the bets never waits for a webhook."""
    if not state.settings.webhook_list:
        return None
    live = state.context.live if state.context is not None else None
    thread = threading.Thread(
        target=notify_day,
        args=(state.warehouse, day, state.settings, live),
        daemon=True,
        name="kcast-alerts",
    )
    thread.start()
    return thread
