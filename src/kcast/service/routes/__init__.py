"""The worker's HTTP routes, one module per concern."""

from __future__ import annotations

from kcast.service.schemas import ErrorResponse, ValidationErrorResponse


def _error(description: str, model: type = ErrorResponse) -> dict:
    """An OpenAPI response entry: the error body's model and when it is sent."""
    return {"model": model, "description": description}


INVALID: dict[int | str, dict] = {
    422: _error("A bad field: named, not echoed", ValidationErrorResponse),
}
READ: dict[int | str, dict] = {
    **INVALID,
    401: _error("No bearer token (KCAST_AUTH_READS=true)"),
    403: _error("A wrong bearer token"),
}
BODY: dict[int | str, dict] = {
    413: _error("A body over KCAST_MAX_BODY bytes"),
}
WRITE: dict[int | str, dict] = {
    **READ,
    401: _error("No bearer token (KCAST_API_TOKEN is set)"),
    403: _error("A wrong token, or a read-only worker"),
}
ERRORS: dict[int | str, dict] = {
    **READ,
    400: _error("A request that cannot be served as given"),
    404: _error("An unknown pitcher or system"),
}
NO_ANSWER: dict[int | str, dict] = {
    503: _error("No prediction system answered"),
}
