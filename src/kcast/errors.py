"""Every error kcast raises on purpose, in one place.

A user reads these messages, so each one names what is wrong (the file, line, value) and,
where it can, how to fix it.
"""

from __future__ import annotations


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
