"""A circuit breaker per prediction system, so one bad system never takes the worker down.

The breaker follows pybreaker's State pattern: ``ClosedState``, ``OpenState`` and
``HalfOpenState`` each decide what happens ``before_call``, ``on_success`` and ``on_failure``.

* closed: calls go through; ``fail_max`` consecutive failures open the breaker.
* open: calls are refused at once (``BreakerOpenError``) until ``cooldown`` seconds have passed
  since ``opened_at``; the next call after that is let through as a trial (half-open).
* half-open: one trial call at a time; success closes the breaker, failure opens it again.

A failure is an exception, a call that does not answer within ``timeout`` seconds (the call
runs in a worker thread and the breaker stops waiting for it), or an answer that the
``validate`` function rejects (``GarbageOutputError``). An exception of the ``exclude`` types
(pybreaker's idea; by default ``EXCLUDED``: warehouse trouble, which is no fault of the system)
is raised to the caller but counts neither as a failure nor as a success. Time comes from ``clock`` (monotonic
seconds by default), so tests move ``opened_at`` back instead of sleeping.

Listeners (``BreakerListener``) hear every state change, failure, success and refusal; the
service logs them and counts them in its Prometheus metrics.

``FaultInjector`` is the service's fault hook: it makes a system raise, hang or answer garbage
inside the guarded call, so fault tolerance can be tested against a running server.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from kcast.decisions import MAX_K
from kcast.errors import (
    BreakerOpenError,
    FaultInjected,
    GarbageOutputError,
    SystemTimeoutError,
    WarehouseError,
)
from kcast.systems.base import SystemOutput

T = TypeVar("T")
log = logging.getLogger("kcast.service.breakers")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
POOL_SIZE = 2  # threads per system: a call, and one more while a timed-out call finishes
RECOMMENDATIONS = frozenset({"OVER", "UNDER", "PASS"})
# errors that are no fault of the system called: a writer holding the warehouse, a full disk
EXCLUDED: tuple[type[BaseException], ...] = (WarehouseError,)


# --------------------------------------------------------------------------------------------
# Errors (the classes live in kcast.errors and stay importable from here)
# --------------------------------------------------------------------------------------------


def failure_kind(exc: BaseException) -> str:
    """The metric label of a failure: timeout, garbage or error."""
    if isinstance(exc, SystemTimeoutError):
        return "timeout"
    if isinstance(exc, GarbageOutputError):
        return "garbage"
    return "error"


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for reports."""
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# Listeners
# --------------------------------------------------------------------------------------------


class BreakerListener:
    """Hears what a breaker does; override the events you care about."""

    def state_change(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        """Called after the breaker moved from ``old`` to ``new``."""

    def failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        """Called after a call failed (raised, timed out or answered garbage)."""

    def success(self, breaker: CircuitBreaker) -> None:
        """Called after a call succeeded."""

    def rejected(self, breaker: CircuitBreaker, reason: str) -> None:
        """Called when a call was refused without running."""


class LoggingListener(BreakerListener):
    """Log state changes (open at WARNING) and failures."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger

    def state_change(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        level = logging.WARNING if new == OPEN else logging.INFO
        self.logger.log(
            level,
            "breaker %s: %s -> %s (failures %d, last error: %s)",
            breaker.name,
            old,
            new,
            breaker.fail_counter,
            breaker.last_error,
        )

    def failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        self.logger.info("system %s failed: %s", breaker.name, describe(exc))


# --------------------------------------------------------------------------------------------
# States
# --------------------------------------------------------------------------------------------


class BreakerState:
    """What a breaker does in one state."""

    name: ClassVar[str]

    def before_call(self, breaker: CircuitBreaker) -> None:
        """Let the call through, or raise ``BreakerOpenError``."""

    def on_success(self, breaker: CircuitBreaker) -> None:
        """React to a successful call."""

    def on_failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        """React to a failed call."""


class ClosedState(BreakerState):
    """Calls go through; enough consecutive failures open the breaker."""

    name = CLOSED

    def on_success(self, breaker: CircuitBreaker) -> None:
        breaker.fail_counter = 0

    def on_failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        if breaker.fail_counter >= breaker.fail_max:
            breaker.set_state(OPEN)


class OpenState(BreakerState):
    """Calls are refused until the cool-down has passed; then one trial goes through."""

    name = OPEN

    def before_call(self, breaker: CircuitBreaker) -> None:
        breaker.raise_refusal()
        breaker.set_state(HALF_OPEN)
        breaker.state_object.before_call(breaker)


class HalfOpenState(BreakerState):
    """One trial call at a time: success closes the breaker, failure opens it again."""

    name = HALF_OPEN

    def before_call(self, breaker: CircuitBreaker) -> None:
        breaker.raise_refusal()
        breaker.trial_in_flight = True

    def on_success(self, breaker: CircuitBreaker) -> None:
        breaker.trial_in_flight = False
        breaker.fail_counter = 0
        breaker.set_state(CLOSED)

    def on_failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        breaker.trial_in_flight = False
        breaker.set_state(OPEN)


STATE_MAP: dict[str, type[BreakerState]] = {
    CLOSED: ClosedState,
    OPEN: OpenState,
    HALF_OPEN: HalfOpenState,
}


# --------------------------------------------------------------------------------------------
# The breaker
# --------------------------------------------------------------------------------------------


class CircuitBreaker:
    """A circuit breaker guarding one system's calls.

    Parameters
    ----------
    name
        The system id.
    fail_max
        Consecutive failures that open the breaker.
    cooldown
        Seconds the breaker stays open before it lets a trial call through.
    timeout
        Seconds to wait for a call before it counts as a failure.
    clock
        Returns the current time in seconds (``time.monotonic`` by default).
    listeners
        ``BreakerListener`` objects told about state changes, failures and refusals.
    exclude
        Exception types that are not the system's failures (``EXCLUDED`` by default): raised
        to the caller, counted neither as failures nor as successes.

    Examples
    --------
    >>> breaker = CircuitBreaker("v1_baseline", fail_max=3, cooldown=30, timeout=10)
    >>> breaker.call(lambda: 41 + 1)
    42
    """

    def __init__(
        self,
        name: str,
        fail_max: int = 3,
        cooldown: float = 30.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        listeners: Iterable[BreakerListener] = (),
        exclude: tuple[type[BaseException], ...] = EXCLUDED,
    ) -> None:
        if fail_max < 1 or cooldown <= 0 or timeout <= 0:
            raise ValueError("fail_max must be >= 1 and cooldown, timeout > 0")
        self.name = name
        self.fail_max = fail_max
        self.cooldown = cooldown
        self.timeout = timeout
        self.clock = clock
        self.listeners = list(listeners)
        self.exclude = exclude
        self.fail_counter = 0
        self.opened_at: float | None = None
        self.last_error: str | None = None
        self.last_failure_at: float | None = None
        self.trial_in_flight = False
        self.calls = 0
        self._lock = threading.RLock()
        self.state_object: BreakerState = ClosedState()
        # the system's calls run on its own small pool: no thread is started per call, and a
        # hung system can tie up only its own threads, never the other systems'
        self._pool = DaemonPool(POOL_SIZE, f"kcast-{name}")

    # --- state -------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """Return the current state's name: closed, open or half_open."""
        return self.state_object.name

    def set_state(self, name: str) -> None:
        """Move to the state called ``name`` and tell the listeners."""
        try:
            new = STATE_MAP[name]
        except KeyError:
            raise ValueError(
                f"unknown breaker state {name!r}; valid states: {', '.join(STATE_MAP)}"
            ) from None
        with self._lock:
            old = self.state_object.name
            if name == OPEN:
                self.opened_at = self.clock()
            if name != HALF_OPEN:
                self.trial_in_flight = False
            self.state_object = new()
            if old != name:
                self.notify("state_change", old, name)

    def open(self) -> None:
        """Open the breaker now."""
        self.set_state(OPEN)

    def close(self) -> None:
        """Close the breaker and forget its failures."""
        with self._lock:
            self.fail_counter = 0
            self.set_state(CLOSED)

    def retry_in(self) -> float | None:
        """Return the seconds left before an open breaker lets a trial through (else None)."""
        if self.state != OPEN or self.opened_at is None:
            return None
        return max(0.0, self.opened_at + self.cooldown - self.clock())

    def raise_refusal(self) -> None:
        """``BreakerOpenError`` when a call now would be refused (``refusal``, told)."""
        reason = self.refusal()
        if reason is not None:
            raise BreakerOpenError(reason)

    def refusal(self, tell: bool = True) -> str | None:
        """Why a call now would be refused without running (open and cooling down, or
        half-open with its trial running), told to the listeners as a refusal unless ``tell``
        is false; None when a call would go through (nothing changes then)."""
        with self._lock:
            remaining = self.retry_in()
            if self.state == OPEN and remaining is not None and remaining > 0:
                reason = (
                    f"breaker open after {self.fail_counter} failures; retry in "
                    f"{remaining:.1f}s (last error: {self.last_error})"
                )
            elif self.state == HALF_OPEN and self.trial_in_flight:
                reason = "breaker half-open: a trial call is already running"
            else:
                return None
            if tell:
                self.notify("rejected", reason)
            return reason

    def snapshot(self) -> dict[str, Any]:
        """Return what /health shows: state, failure count, last error, seconds to retry."""
        with self._lock:
            retry = self.retry_in()
            return {
                "state": self.state,
                "failure_count": self.fail_counter,
                "last_error": self.last_error,
                "retry_in_seconds": None if retry is None else round(retry, 3),
            }

    def notify(self, event: str, *args: Any) -> None:
        """Tell every listener about ``event``; a failing listener is logged, never raised."""
        for listener in self.listeners:
            try:
                getattr(listener, event)(self, *args)
            except Exception:  # noqa: BLE001 - observability must not break calls
                log.exception("breaker listener %r failed on %s", listener, event)

    # --- calls -------------------------------------------------------------------------------
    def call(self, fn: Callable[[], T], validate: Callable[[T], None] | None = None) -> T:
        """Run ``fn`` through the breaker and return its answer, or raise.

        ``validate`` (optional) checks the answer and raises ``GarbageOutputError`` to reject it.
        """
        with self._lock:
            self.state_object.before_call(self)
            self.calls += 1
        try:
            result = run_with_timeout(fn, self.timeout, self.name, self._pool)
            if validate is not None:
                validate(result)
        except self.exclude:
            self._record_excluded()
            raise
        except BaseException as exc:
            self._record_failure(exc)
            raise
        self._record_success()
        return result

    def _record_excluded(self) -> None:
        """A call that raised an excluded error: nothing counted; a half-open breaker's trial
        did not happen, so the next call is a trial again."""
        with self._lock:
            self.trial_in_flight = False

    def _record_failure(self, exc: BaseException) -> None:
        with self._lock:
            self.fail_counter += 1
            self.last_error = describe(exc)
            self.last_failure_at = self.clock()
            self.notify("failure", exc)
            self.state_object.on_failure(self, exc)

    def _record_success(self) -> None:
        with self._lock:
            self.state_object.on_success(self)
            self.notify("success")

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state}, failures={self.fail_counter})"


class DaemonPool:
    """A fixed set of daemon threads running submitted calls (a thread pool that never holds
    up the process's exit, as a hung system's call would in ``ThreadPoolExecutor``)."""

    def __init__(self, size: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future, Callable[[], Any]]] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        self._started = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> Future:
        """Queue ``fn``; its ``Future`` holds the answer or the error."""
        with self._lock:
            if not self._started:
                for thread in self._threads:
                    thread.start()
                self._started = True
        future: Future = Future()
        self._queue.put((future, fn))
        return future

    def _work(self) -> None:
        while True:
            future, fn = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)


def run_with_timeout(fn: Callable[[], T], timeout: float, name: str, pool: DaemonPool) -> T:
    """Run ``fn`` on ``pool``; raise ``SystemTimeoutError`` if it has not answered in
    ``timeout`` seconds (the call is left to finish on its own, its answer dropped). A call
    that waits for a free thread of the pool is counted against the same timeout."""
    future = pool.submit(fn)
    try:
        return future.result(timeout)
    except FutureTimeout:
        future.cancel()
        raise SystemTimeoutError(f"{name} did not answer within {timeout:g}s") from None


# --------------------------------------------------------------------------------------------
# What counts as garbage
# --------------------------------------------------------------------------------------------


def validate_output(output: object, system_id: str, rows: int) -> None:
    """Raise ``GarbageOutputError`` unless ``output`` is a sane answer for ``rows`` rows.

    Sane: a ``SystemOutput`` with one frame row and one finite, non-negative distribution over
    0..MAX_K strikeouts summing to 1 per feature row, and predicted strikeouts within 0..MAX_K,
    confidence within 0..100 and a recommendation of OVER, UNDER or PASS on every row.
    """
    if not isinstance(output, SystemOutput):
        raise GarbageOutputError(
            f"{system_id} answered a {type(output).__name__}, not a SystemOutput"
        )
    if len(output.frame) != rows:
        raise GarbageOutputError(f"{system_id} answered {len(output.frame)} rows for {rows}")
    pmf = np.asarray(output.pmf, dtype=float)
    if pmf.shape != (rows, MAX_K + 1):
        raise GarbageOutputError(
            f"{system_id} answered a malformed distribution of shape {pmf.shape}, "
            f"expected {(rows, MAX_K + 1)}"
        )
    if rows == 0:
        return
    if not np.isfinite(pmf).all() or (pmf < -1e-9).any():
        raise GarbageOutputError(f"{system_id} answered a distribution with NaN or negatives")
    sums = pmf.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        raise GarbageOutputError(
            f"{system_id} answered distributions that do not sum to 1 (e.g. {sums[0]:.4f})"
        )
    frame = output.frame
    for col in ("predicted_strikeouts", "confidence", "recommendation"):
        if col not in frame:
            raise GarbageOutputError(f"{system_id} answered rows without {col}")
    pred = frame["predicted_strikeouts"].astype(float).to_numpy()
    if not np.isfinite(pred).all() or (pred < 0).any() or (pred > MAX_K).any():
        bad = next(p for p in pred if not (math.isfinite(p) and 0 <= p <= MAX_K))
        raise GarbageOutputError(
            f"{system_id} predicted {bad} strikeouts (must be a number within 0..{MAX_K})"
        )
    conf = frame["confidence"].astype(float).to_numpy()
    if not np.isfinite(conf).all() or (conf < 0).any() or (conf > 100).any():
        raise GarbageOutputError(f"{system_id} answered a confidence outside 0..100")
    if not set(frame["recommendation"]) <= RECOMMENDATIONS:
        raise GarbageOutputError(
            f"{system_id} answered recommendations {sorted(set(frame['recommendation']))}"
        )


# --------------------------------------------------------------------------------------------
# The fault hook
# --------------------------------------------------------------------------------------------

FAULT_KINDS = ("raise", "hang", "garbage")


@dataclass
class Fault:
    """One injected fault: ``raise`` an error, ``hang`` for ``seconds`` (or until cleared) before
    answering, or answer ``garbage`` (the real answer with NaN predictions). ``times`` limits how
    many calls it hits (None: until cleared)."""

    kind: str
    message: str = "injected fault"
    seconds: float = 3600.0
    times: int | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; valid: {', '.join(FAULT_KINDS)}")


class FaultInjector:
    """Per-system faults applied inside the guarded call (so a hang meets the timeout).

    Examples
    --------
    >>> faults = FaultInjector()
    >>> faults.inject("v1_6_rolling", Fault("hang"))   # every call hangs past the timeout
    >>> faults.clear("v1_6_rolling")                   # the system recovers (hangs released)
    """

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.listeners: list[Callable[[], None]] = []  # told of every change (the worker's cache)

    def inject(self, system_id: str, fault: Fault) -> None:
        """Make ``system_id``'s calls fail as ``fault`` says."""
        with self._lock:
            self._faults[system_id] = fault
            self._release = threading.Event()
        for listener in self.listeners:
            listener()

    def clear(self, system_id: str | None = None) -> None:
        """Remove one system's fault (or all) and release calls hanging on it."""
        with self._lock:
            if system_id is None:
                self._faults.clear()
            else:
                self._faults.pop(system_id, None)
            self._release.set()
        for listener in self.listeners:
            listener()

    def active(self) -> dict[str, str]:
        """Return the injected faults by system, as kinds."""
        with self._lock:
            return {s: f.kind for s, f in self._faults.items()}

    def wrap(self, system_id: str, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn``, with the system's fault (if any) applied when it runs."""

        def guarded() -> T:
            with self._lock:
                fault = self._faults.get(system_id)
                release = self._release
                if fault is not None:
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.pop(system_id, None)
            if fault is None:
                return fn()
            if fault.kind == "raise":
                raise FaultInjected(f"{system_id}: {fault.message}")
            if fault.kind == "hang":
                release.wait(fault.seconds)  # then answer late, like a slow system
                return fn()
            answer = fn()
            if isinstance(answer, SystemOutput):
                answer.pmf = np.full_like(np.asarray(answer.pmf, dtype=float), np.nan)
                answer.frame = answer.frame.assign(predicted_strikeouts=np.nan)
            return answer

        return guarded
