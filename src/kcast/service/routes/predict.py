"""``/predict`` and ``/predict-batch``: every active system, each through its breaker."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from kcast.service.deps import StateDep
from kcast.service.routes import BODY, ERRORS, NO_ANSWER, WRITE
from kcast.service.runner import predict_batch, predict_one
from kcast.service.schemas import BatchRequest, BatchResponse, PitcherGame, PredictResponse
from kcast.service.security import ReaderDep, require_writer

router = APIRouter(tags=["predictions"], dependencies=[ReaderDep])


@router.post("/predict", response_model=PredictResponse, responses={**ERRORS, **BODY, **NO_ANSWER})
def predict(game: PitcherGame, state: StateDep) -> PredictResponse:
    """Predict one pitcher-game: the legacy fields from the primary system, plus every system."""
    return predict_one(state, game)


@router.post("/predict-batch", response_model=BatchResponse, responses={**ERRORS, **BODY, **WRITE})
def predict_many(batch: BatchRequest, state: StateDep, request: Request) -> BatchResponse:
    """Predict a date's slate (or a list of pitcher-games), store the rows, summarise.

    Storing (``write``, the default) needs the bearer token when KCAST_API_TOKEN is set, and
    is refused by a read-only worker (KCAST_READ_ONLY=true); ``write: false`` does not."""
    if batch.write:
        if state.settings.read_only:
            raise HTTPException(403, "this worker is read-only (KCAST_READ_ONLY): send write=false")
        require_writer(request)
    return predict_batch(state, batch)
