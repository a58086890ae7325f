"""What makes the worker safe to expose: a bearer token on writes, a body-size limit, a public
bind refused without a token, and error answers that never echo more than a short excerpt.

* ``require_writer`` / ``require_reader``: FastAPI dependencies. With ``KCAST_API_TOKEN`` set,
  a write needs ``Authorization: Bearer TOKEN`` (401 without one, 403 with a wrong one,
  compared in constant time); reads need it too only with ``KCAST_AUTH_READS=true``.
* ``BodyLimitMiddleware``: an ASGI middleware that answers 413 before the body is parsed, from
  ``Content-Length`` or by counting the streamed bytes (``KCAST_MAX_BODY``, default 1 MB).
* ``check_exposure``: the start-up rule (``kcast serve``): a public address with writes open
  and no token is refused unless ``KCAST_ALLOW_UNAUTHENTICATED_WRITES=true``.
* ``validation_errors``: a 422 body that names each field and quotes at most
  ``EXCERPT`` characters of what was sent (non-finite numbers included).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kcast.config import Settings
from kcast.errors import ECHO_LIMIT, ConfigError, quoted

EXCERPT = ECHO_LIMIT  # characters of a bad input quoted back
MAX_ERRORS = 20  # validation errors listed in one answer
# a body far over the limit is not drained (to keep the connection): it is cut off
DRAIN_FACTOR = 16


# --------------------------------------------------------------------------------------------
# The token
# --------------------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    return request.app.state.kcast.settings


def _check_token(request: Request) -> None:
    token = _settings(request).api_token
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise HTTPException(
            401,
            "this endpoint needs Authorization: Bearer <KCAST_API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not tokens_match(given.strip(), token.get_secret_value()):
        raise HTTPException(403, "the bearer token is wrong")


def tokens_match(given: str, expected: str) -> bool:
    """Whether a bearer token is the expected one, compared in constant time as UTF-8 bytes
    (any text a header carries, non-ASCII included, is compared, never an error)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def require_writer(request: Request) -> None:
    """An endpoint that writes: the token when ``KCAST_API_TOKEN`` is set."""
    _check_token(request)


async def require_reader(request: Request) -> None:
    """An endpoint that reads: the token only when ``KCAST_AUTH_READS=true`` too."""
    if _settings(request).auth_reads:
        _check_token(request)


async def forbid_unknown_query(request: Request) -> None:
    """A 422 for a query parameter the route does not take (as extra="forbid" for bodies)."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        allowed.update(p.alias for p in current.query_params)
        todo.extend(current.dependencies)
    unknown = [k for k in request.query_params if k not in allowed]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "Extra inputs are not permitted",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


WriterDep = Annotated[None, Depends(require_writer)]
ReaderDep = Depends(require_reader)


# --------------------------------------------------------------------------------------------
# Start-up: a public address needs a token for writes
# --------------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; False for 0.0.0.0, :: and anything else."""
    if host.strip().lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, settings: Settings) -> None:
    """Refuse (``ConfigError``) to listen on a non-loopback address with writes open to all."""
    if is_loopback(host) or settings.api_token is not None or settings.read_only:
        return
    if settings.allow_unauthenticated_writes:
        return
    raise ConfigError(
        f"refusing to listen on {host} with writes open to anyone: set KCAST_API_TOKEN "
        "(writes then need the header Authorization: Bearer <token>), or KCAST_READ_ONLY=true, or opt out "
        "explicitly with KCAST_ALLOW_UNAUTHENTICATED_WRITES=true"
    )


# --------------------------------------------------------------------------------------------
# The body-size limit
# --------------------------------------------------------------------------------------------


async def _send_json(send: Send, status: int, body: dict[str, Any], close: bool) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """413 for a request body over ``max_body`` bytes, before anything parses it.

    A declared ``Content-Length`` over the limit is answered at once (the body is read and
    dropped when it is at most ``DRAIN_FACTOR`` times the limit, so the client reads the answer
    on a live connection; a larger one is not read and the connection closes). A body without
    a length (chunked) is counted as it streams and buffered up to the limit only.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    def _too_large(self) -> dict[str, Any]:
        return {"detail": f"the request body is larger than {self.max_body:,} bytes"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, {"detail": "Content-Length is not a number"}, True)
                    return
        if declared is not None and declared > self.max_body:
            drain = declared <= self.max_body * DRAIN_FACTOR
            if drain:
                await self._drain(receive)
            await _send_json(send, 413, self._too_large(), close=not drain)
            return
        # count what streams in, keeping at most max_body bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.max_body:
                if more:
                    await self._drain(receive, size)
                await _send_json(send, 413, self._too_large(), close=True)
                return
            chunks.append(chunk)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _drain(self, receive: Receive, seen: int = 0) -> None:
        """Read and drop the rest of a body, up to DRAIN_FACTOR times the limit."""
        cap = self.max_body * DRAIN_FACTOR
        while seen <= cap:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


# --------------------------------------------------------------------------------------------
# Validation errors: name the field, quote a short excerpt
# --------------------------------------------------------------------------------------------


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """A short, JSON-safe quote of a bad input (NaN, Infinity, huge strings and objects)."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    elif isinstance(value, (bytes, bytearray)):
        text = bytes(value[: limit * 4]).decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value[: limit + 1]
    elif isinstance(value, (dict, list, tuple)):
        text = f"{type(value).__name__} of {len(value):,} items"
    else:
        text = repr(value)[: limit + 1]
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _loc(loc: Iterable[Any]) -> list[int | str]:
    """An error's location with each name cut to EXCERPT characters (an unknown field or
    query parameter is named by what the client sent)."""
    return [p if isinstance(p, int) else excerpt(str(p)) for p in loc]


def _field(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, parts = parts[0], parts[1:]
    else:
        where = "body"
    return where + ("." + ".".join(parts) if parts else "")


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unechoed(message: str, value: Any) -> str:
    """A validator's message with the bad input it quotes cut to EXCERPT characters."""
    if isinstance(value, str) and len(value) > EXCERPT:
        message = message.replace(repr(value), quoted(value)).replace(value, excerpt(value))
    return message


def validation_errors(errors: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The 422 body: ``{"detail": [{"field", "message", "type", "input"}...]}``."""
    detail = []
    errors = list(errors)
    for error in errors[:MAX_ERRORS]:
        entry: dict[str, Any] = {
            "field": _field(_loc(error.get("loc", ()))),
            "loc": _loc(error.get("loc", ())),
            "msg": _short(_unechoed(str(error.get("msg", "invalid")), error.get("input"))),
            "type": str(error.get("type", "value_error")),
        }
        if "input" in error and error.get("type") != "missing":
            entry["input"] = excerpt(error["input"])
        detail.append(entry)
    body: dict[str, Any] = {"detail": detail}
    if len(errors) > MAX_ERRORS:
        body["more_errors"] = len(errors) - MAX_ERRORS
    return body


# --------------------------------------------------------------------------------------------
# Paths in public answers
# --------------------------------------------------------------------------------------------

_ABSOLUTE = re.compile(r"(?<![\w.:/~-])(/[^\s'\"():,;]+)")


def public_text(text: str | None, model_dir: Path) -> str | None:
    """``text`` with paths under the model directory made relative to it, other absolute
    paths cut to their file name."""
    if text is None:
        return None
    for base in {str(Path(model_dir).expanduser().resolve()), str(model_dir)}:
        if base not in {"", "."}:
            text = text.replace(base + "/", "").replace(base, ".")

    def _cut(match: re.Match[str]) -> str:
        path = match.group(1)
        return Path(path).name or path

    return _ABSOLUTE.sub(_cut, text)
