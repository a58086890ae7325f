"""The worker's HTTP routes, one module per concern."""

from __future__ import annotations

from kcast.service.schemas import ErrorResponse

ERRORS: dict[int | str, dict] = {
    400: {"model": ErrorResponse, "description": "A request that cannot be served as given"},
    404: {"model": ErrorResponse, "description": "An unknown pitcher or system"},
}
NO_ANSWER: dict[int | str, dict] = {
    503: {"model": ErrorResponse, "description": "No prediction system answered"},
}
