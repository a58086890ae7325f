"""``POST /admin/reload``: load newly trained models now, without a restart (authenticated)."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Header, HTTPException

from kcast.service.deps import StateDep
from kcast.service.schemas import ErrorResponse
from kcast.service.security import tokens_match

router = APIRouter(tags=["admin"])
AUTH_ERRORS: dict[int | str, dict] = {
    401: {"model": ErrorResponse, "description": "No valid bearer token"},
    403: {"model": ErrorResponse, "description": "The worker has no KCAST_API_TOKEN set"},
}


def api_token(state: Any) -> str | None:
    """The worker's bearer token: the ``api_token`` setting where the settings have one, else
    ``KCAST_API_TOKEN`` from the environment."""
    token = getattr(state.settings, "api_token", None)
    if token is not None and hasattr(token, "get_secret_value"):
        token = token.get_secret_value()
    return token or os.environ.get("KCAST_API_TOKEN") or None


def require_token(state: Any, authorization: str | None) -> None:
    """401 without a matching ``Authorization: Bearer`` token; 403 when the worker has no
    token set (admin routes are then closed)."""
    token = api_token(state)
    if not token:
        raise HTTPException(403, "admin routes are closed: set KCAST_API_TOKEN on the worker")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not tokens_match(given.strip(), token):
        raise HTTPException(
            401,
            "a valid 'Authorization: Bearer <KCAST_API_TOKEN>' header is needed",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.post("/admin/reload", responses=AUTH_ERRORS)
def reload(
    state: StateDep,
    force: bool = False,
    authorization: str | None = Header(None),
) -> dict[str, Any]:
    """Load the active systems' models again if they changed since they were loaded (``force``:
    in any case). A model that does not load leaves the old ones serving; the answer and
    /health say why."""
    require_token(state, authorization)
    return state.reload(force=force)
