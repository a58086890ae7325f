"""The worker's HTTP routes, one module per concern."""

from __future__ import annotations

from kcast.service.schemas import ErrorResponse, ValidationErrorResponse

INVALID: dict[int | str, dict] = {
    422: {"model": ValidationErrorResponse, "description": "A bad field: named, not echoed"},
}
READ: dict[int | str, dict] = {
    **INVALID,
    401: {"model": ErrorResponse, "description": "No bearer token (KCAST_AUTH_READS=true)"},
    403: {"model": ErrorResponse, "description": "A wrong bearer token"},
}
BODY: dict[int | str, dict] = {
    413: {"model": ErrorResponse, "description": "A body over KCAST_MAX_BODY bytes"},
}
WRITE: dict[int | str, dict] = {
    **READ,
    401: {"model": ErrorResponse, "description": "No bearer token (KCAST_API_TOKEN is set)"},
    403: {"model": ErrorResponse, "description": "A wrong token, or a read-only worker"},
}
ERRORS: dict[int | str, dict] = {
    **READ,
    400: {"model": ErrorResponse, "description": "A request that cannot be served as given"},
    404: {"model": ErrorResponse, "description": "An unknown pitcher or system"},
}
NO_ANSWER: dict[int | str, dict] = {
    503: {"model": ErrorResponse, "description": "No prediction system answered"},
}
