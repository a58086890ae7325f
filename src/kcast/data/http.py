"""One HTTP client for every remote source: timeouts, retries with backoff, clear errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any, Self

import httpx

from kcast import __version__
from kcast.config import get_settings
from kcast.errors import SourceUnavailableError
from kcast.masking import mask_secrets

RETRY_STATUS = {429, 500, 502, 503, 504}
BODY_EXCERPT = 200  # characters of an upstream error body kept in a message
# query parameters and headers whose values are secrets
_SECRET_NAME = re.compile(r"(api[_-]?key|apikey|key|token|secret|password|authorization)", re.I)


def body_excerpt(response: httpx.Response, secrets: Iterable[str] = ()) -> str:
    """The start of an upstream answer, secrets masked, control characters dropped."""
    try:
        text = response.text[: BODY_EXCERPT * 4]
    except Exception:  # noqa: BLE001 - an undecodable body
        return f"({len(response.content)} bytes)"
    text = mask_secrets(text, secrets)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= BODY_EXCERPT else text[: BODY_EXCERPT - 1] + "…"


class ClosedOnExit:
    """A client that ``with client:`` closes at the end of the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpClient(ClosedOnExit):
    """``httpx.Client`` with kcast's timeout and retry policy."""

    def __init__(
        self,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
        headers: dict[str, str] | None = None,
    ) -> None:
        settings = get_settings()
        self.retries = settings.http_retries if retries is None else retries
        self.backoff = backoff
        self.timeout = settings.http_timeout if timeout is None else timeout
        self._client = httpx.Client(
            timeout=self.timeout,
            follow_redirects=True,
            headers={"User-Agent": f"kcast/{__version__}", **(headers or {})},
        )

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET with retries on network errors and 429/5xx; raise on anything else non-2xx."""
        last: Exception | None = None
        secrets = {str(v) for k, v in (params or {}).items() if _SECRET_NAME.search(k) and v} | {
            v for k, v in self._client.headers.items() if _SECRET_NAME.search(k) and v
        }
        shown = _redact(str(httpx.URL(url, params=params)), secrets)
        for attempt in range(self.retries + 1):
            try:
                response = self._client.get(url, params=params)
            except httpx.HTTPError as exc:
                last = exc
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUS:
                    raise SourceUnavailableError(
                        f"GET {_redact(str(response.request.url), secrets)} answered "
                        f"{response.status_code}: {body_excerpt(response, secrets)}"
                    )
                last = SourceUnavailableError(f"it answered HTTP {response.status_code}")
            if attempt < self.retries:
                time.sleep(self.backoff * (2**attempt))
        raise SourceUnavailableError(
            f"GET {shown} failed after {self.retries + 1} attempts: {self._describe(last)}"
        )

    def _describe(self, exc: Exception | None) -> str:
        """Say what went wrong on the last attempt, in words a user can act on."""
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer within {self.timeout:g} s ({type(exc).__name__}; KCAST_HTTP_TIMEOUT)"
        if isinstance(exc, httpx.HTTPError):
            return mask_secrets(f"{type(exc).__name__}: {exc}")
        return mask_secrets(str(exc))

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        response = self.get(url, params)
        try:
            return response.json()
        except ValueError as exc:
            shown = _redact(str(httpx.URL(url, params=params)))
            raise SourceUnavailableError(f"GET {shown} did not return JSON: {exc}") from exc

    def get_bytes(self, url: str, params: dict[str, Any] | None = None) -> bytes:
        return self.get(url, params).content

    def close(self) -> None:
        self._client.close()


def _redact(url: str, secrets: Iterable[str] = ()) -> str:
    """Hide API keys in URLs that go into messages."""
    url = re.sub(r"(apiKey|api_key|key|token)=[^&]+", r"\1=***", url, flags=re.I)
    return mask_secrets(url, secrets)
