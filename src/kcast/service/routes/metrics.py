"""``/metrics``: the worker's Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kcast.service.deps import StateDep
from kcast.service.metrics import CONTENT_TYPE
from kcast.service.security import ReaderDep

router = APIRouter(tags=["metrics"], dependencies=[ReaderDep])


@router.get("/metrics", include_in_schema=False)
def metrics(state: StateDep) -> Response:
    """Export every metric in Prometheus' text format."""
    state.metrics.read_warehouse(state.warehouse)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
