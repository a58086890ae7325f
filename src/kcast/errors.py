"""Every error kcast raises on purpose, in one place.

A user reads these messages, so each one names what is wrong (the file, line, value) and,
where it can, how to fix it.
"""

from __future__ import annotations

ECHO_LIMIT = 60  # characters of a value a user gave that a message quotes back


def quoted(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters (cut with an ellipsis): a
    message names what was given, it never echoes a whole megabyte of it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class KcastError(Exception):
    """Base class of kcast's own errors."""


class ConfigError(KcastError):
    """A setting is missing or has an unusable value."""


class InputError(KcastError, ValueError):
    """Input data is malformed. ``source`` and ``line`` say where, when known."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = ""
        if source is not None:
            where = f"{source}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        self.message = message
        super().__init__(f"{where}{message}")

    def __reduce__(self):  # keep source and line across process pools
        return (type(self), (self.message, self.source, self.line))


class UnknownTeamError(InputError):
    """A team code that kcast does not know."""


class WarehouseError(KcastError):
    """The warehouse cannot be opened, migrated or written."""


class WarehouseBusyError(WarehouseError):
    """Another process (or this one) held the warehouse longer than ``KCAST_LOCK_TIMEOUT``.

    ``holder`` names it where it is known (``PID 1234 (kcast ingest ...)``), ``waited`` is the
    seconds waited. The worker answers 503 with ``Retry-After: retry_after``."""

    cause = "busy"
    retry_after = 5

    def __init__(self, message: str, holder: str | None = None, waited: float = 0.0) -> None:
        super().__init__(message)
        self.holder = holder
        self.waited = waited

    def __reduce__(self):  # keep holder and waited across process pools
        return (type(self), (str(self), self.holder, self.waited))


class WarehouseUnavailableError(WarehouseError):
    """The warehouse's file system refuses the work: ``cause`` is ``disk_full``,
    ``read_only`` (a read-only file system), ``permission_denied`` or ``cannot_open`` (the file
    is gone or unreadable). The worker answers 503 with ``Retry-After: retry_after``."""

    retry_after = 60

    def __init__(self, message: str, cause: str = "cannot_open") -> None:
        super().__init__(message)
        self.cause = cause

    def __reduce__(self):
        return (type(self), (str(self), self.cause))


def warehouse_error(exc: BaseException, prefix: str) -> WarehouseError:
    """A ``WarehouseError`` saying ``prefix`` before ``exc``'s message, of ``exc``'s own kind
    where it is one (busy, disk full, read-only: its holder and cause kept, so the worker still
    answers 503 naming them)."""
    message = f"{prefix}{exc}"
    if isinstance(exc, WarehouseBusyError):
        return WarehouseBusyError(message, exc.holder, exc.waited)
    if isinstance(exc, WarehouseUnavailableError):
        return WarehouseUnavailableError(message, exc.cause)
    return WarehouseError(message)


class SourceUnavailableError(KcastError):
    """A remote source (MLB Stats API, The Odds API, retrosheet.org) could not be reached."""


class UnknownSystemError(KcastError, KeyError):
    """A prediction system id that the registry does not know."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnknownPitcherError(KcastError, LookupError):
    """A pitcher id that the warehouse has never seen."""


class ModelError(KcastError):
    """A model file is missing, unreadable, or does not match the system that loads it."""


class NotFittedError(KcastError, ValueError):
    """A prediction system was asked to predict before it was trained."""


class MembersUnavailableError(KcastError, ValueError):
    """A system built on other systems (an ensemble) had none of their answers to combine."""


class NoSystemAnsweredError(KcastError):
    """Every active system failed, was skipped, or did not load (the worker answers 503).

    ``systems`` holds each system's answer (its status and error), for the response body."""

    def __init__(self, message: str, systems: dict | None = None) -> None:
        super().__init__(message)
        self.systems = systems or {}


class BreakerOpenError(KcastError):
    """A call refused because the system's breaker is open (or its half-open trial is busy)."""


class SystemTimeoutError(KcastError, TimeoutError):
    """A system did not answer within its timeout."""


class GarbageOutputError(KcastError, ValueError):
    """A system answered with something that is not a usable prediction."""


class FaultInjected(KcastError, RuntimeError):
    """The error an injected ``raise`` fault throws."""


class SystemsFailedError(KcastError):
    """A prediction system the caller asked for did not answer (the Python API): ``errors``
    names each with its reason; ``frame`` holds what the others answered."""

    def __init__(self, message: str, errors: dict[str, str], frame: object = None) -> None:
        super().__init__(message)
        self.errors = errors
        self.frame = frame


class NoStartersError(KcastError, LookupError):
    """No starter is known for the date asked (the Python API): its slate is not loaded."""


class LookAheadWarning(UserWarning):
    """An active model was trained on games after the day it predicts: the replay has seen its
    own results (``kcast.lookahead``)."""
