"""Secrets never written anywhere: the console, ``ingest_log``, log records, error messages.

The secrets are the configured ones (``ODDS_API_KEY``, ``KCAST_API_TOKEN``) and any a caller
names; each is masked as it was given and as an upstream may echo it back: percent-encoded
(``+`` as ``%2B``, a space as ``+`` or ``%20``, hex digits in either case, encoded once or
twice) or with ``/`` escaped for JSON. Values of ``key=``/``token=``-like fields and bearer
tokens are masked whatever they are.

``install_log_masking`` makes every log record of the process masked before any handler sees
it (the CLI and the worker install it).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from kcast.config import get_settings
from kcast.errors import InputError, KcastError

MASK = "***"
MIN_SECRET = 4  # shorter "secrets" would mask ordinary words
_SECRET_IN_TEXT = re.compile(
    r"((?:api[_-]?key|apikey|access[_-]?token|token|secret|password)[\"']?\s*[=:]\s*[\"']?)"
    r"([^\s&\"',;}]+)",
    re.I,
)
_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=%-]+", re.I)
E = TypeVar("E", bound=BaseException)


def known_secrets() -> set[str]:
    """The secrets in the settings (ODDS_API_KEY, KCAST_API_TOKEN), to mask wherever they show."""
    try:
        settings = get_settings()
    except Exception:  # noqa: BLE001 - masking must never fail
        return set()
    found = set()
    if settings.odds_api_key:
        found.add(settings.odds_api_key)
    if settings.api_token is not None:
        found.add(settings.api_token.get_secret_value())
    return found


def _spellings(char: str) -> list[str]:
    """Regular expressions of every way ``char`` may come back: itself, percent-encoded (once
    or twice, hex in either case), ``+`` for a space, ``\\/`` for a slash."""
    out = [re.escape(char)]
    encoded = "".join(f"%{b:02X}" for b in char.encode())
    once = "".join(f"%[{h[1]}{h[1].lower()}][{h[2]}{h[2].lower()}]" for h in _triples(encoded))
    out += [once, once.replace("%", "%25")]
    if char == " ":
        out.append(r"\+")
    if char == "/":
        out.append(r"\\/")
    return out


def _triples(encoded: str) -> list[str]:
    return [encoded[i : i + 3] for i in range(0, len(encoded), 3)]


@lru_cache(maxsize=64)
def _pattern(secret: str) -> re.Pattern[str]:
    return re.compile("".join(f"(?:{'|'.join(_spellings(c))})" for c in secret))


def mask_known(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given or configured secret (as given, percent-encoded or
    JSON-escaped) replaced by ``***``."""
    for secret in sorted({*secrets, *known_secrets()}, key=len, reverse=True):
        if secret and len(secret) >= MIN_SECRET:
            text = _pattern(secret).sub(MASK, text)
    return text


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given or configured secret (``mask_known``), every ``key=...``-like
    value and every bearer token replaced by ``***``."""
    text = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + MASK, mask_known(text, secrets))
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


def masked_error(exc: E, secrets: Iterable[str] = ()) -> E:
    """``exc`` again, of the same type, with its message masked (``exc`` itself when it shows
    no secret). An ``InputError`` keeps its source and line."""
    secrets = set(secrets)
    text = str(exc)
    shown = mask_secrets(text, secrets)
    if shown == text:
        return exc
    try:
        if isinstance(exc, InputError):
            source = None if exc.source is None else mask_secrets(exc.source, secrets)
            return type(exc)(mask_secrets(exc.message, secrets), source, exc.line)
        return type(exc)(shown)
    except Exception:  # noqa: BLE001 - a type built otherwise: its message still goes
        return KcastError(shown)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Log records
# --------------------------------------------------------------------------------------------

_PLAIN = (int, float, bool, type(None))
ACCESS_LOG = "uvicorn.access"
_busy = threading.local()


def _masked_arg(value: Any) -> Any:
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, _PLAIN):
        return value  # numbers keep their type (a "%d" needs one)
    text = str(value)
    shown = mask_secrets(text)
    return value if shown == text else shown


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with its message, arguments and traceback masked (in place).

    A message with arguments keeps its placeholders (only known secrets are masked in it) and
    each argument is masked; when the formatted message still shows a ``key=...``-like value
    (``"apiKey=%s"`` with an unknown key as argument), the record becomes that message masked,
    without arguments (except uvicorn's access log, whose formatter reads its arguments: its
    path argument is masked whole)."""
    if not record.args:
        record.msg = (
            mask_secrets(record.msg) if isinstance(record.msg, str) else (_masked_arg(record.msg))
        )
    else:
        if isinstance(record.msg, str):
            record.msg = mask_known(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {k: _masked_arg(v) for k, v in record.args.items()}
        else:
            record.args = tuple(_masked_arg(a) for a in record.args)
        if not record.name.startswith(ACCESS_LOG):
            text = record.getMessage()
            shown = mask_secrets(text)
            if shown != text:
                record.msg, record.args = shown, ()
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        shown = mask_secrets(text)
        if shown != text:
            record.exc_text = shown
    return record


def install_log_masking() -> None:
    """Mask every log record this process makes, before any handler (uvicorn's access log
    included) formats it. Installed once; a failure to mask leaves the record as it was."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "kcast_masks", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if getattr(_busy, "on", False):  # a record logged while masking (reading settings)
            return record
        _busy.on = True
        try:
            return mask_record(record)
        except Exception:  # noqa: BLE001 - logging must never fail for masking
            return record
        finally:
            _busy.on = False

    factory.kcast_masks = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
