"""``/predict`` and ``/predict-batch``: every active system, each through its breaker."""

from __future__ import annotations

from fastapi import APIRouter

from kcast.service.deps import StateDep
from kcast.service.routes import ERRORS, NO_ANSWER
from kcast.service.runner import predict_batch, predict_one
from kcast.service.schemas import BatchRequest, BatchResponse, PitcherGame, PredictResponse

router = APIRouter(tags=["predictions"])


@router.post("/predict", response_model=PredictResponse, responses={**ERRORS, **NO_ANSWER})
def predict(game: PitcherGame, state: StateDep) -> PredictResponse:
    """Predict one pitcher-game: the legacy fields from the primary system, plus every system."""
    return predict_one(state, game)


@router.post("/predict-batch", response_model=BatchResponse, responses=ERRORS)
def predict_many(batch: BatchRequest, state: StateDep) -> BatchResponse:
    """Predict a date's slate (or a list of pitcher-games), store the rows, summarise."""
    return predict_batch(state, batch)
