"""``kcast daily``: everything a day of the season needs, safe to run at any hour, as often as wanted.

One run for a date D (default: today, US Eastern) does, in order, only what is new:

1. ``results``: the earlier days of the look-back window (D-1, D-2, ... ``lookback`` days) whose
   games are not all finished and stored: their schedule, final boxscores and live feeds (the
   plate appearances) again (a game that ended after midnight, a boxscore or feed that could
   not be fetched last time).
2. ``schedule``: D's slate and probable pitchers from the MLB Stats API, with the boxscores of
   its finished games. Skipped once every game of D is finished, stored and graded.
3. ``games``: every game of the window stored once (no two games of the same two teams, date
   and game number; no pitcher starting two games on a date). A duplicate fails the step: the
   game would be predicted, carded and bet twice.
4. ``grade``: every ungraded prediction of the window whose game is over: graded, or void when
   the pitcher did not start (scratched, or the game postponed or cancelled).
5. ``odds``: a snapshot of The Odds API's pitcher-strikeout lines for D (``ODDS_API_KEY``);
   every capture is kept with its time. Skipped without a key, or when no game of D is still
   to start.
6. ``predict``: every active system on the starters of D's games not yet started, by the one
   forecaster (``forecast.Forecaster``), decided at ``KCAST_DECISION_TIME`` like ``kcast
   predict`` and the worker; the predictions and their bets stored in one transaction. Skipped
   when the stored predictions already have these starters, these lines and prices (as known at
   the decision time), these model versions, were made after the latest grade and the latest
   write of an earlier game (a boxscore or feed read late), and saw every lineup posted since
   (nothing new): a lineup posted after a starter was predicted on a projected one predicts the
   day again, and the earlier answers are kept in ``prediction_snapshots``. A probable
   pitcher who is replaced is kept (and later graded void); the replacement
   is predicted by this step.
7. ``alerts``: the day's alerts to the webhooks of ``KCAST_WEBHOOKS`` (a new bet, a lineup
   that changes a bet, a scratch, a price move; ``kcast.webhook_alerts``), each once. Skipped
   without webhooks; a webhook that fails (after its retries, within a bounded time) fails the
   step, naming it, and its alerts are sent by the next run.

Each step reports ``ok``, ``skipped`` or ``failed`` with a one-line detail. A failed step does
not stop the others and undoes nothing already stored (every write is its own transaction); the
next run does what is still missing. ``DailyReport.exit_code`` is 1 when a step failed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kcast.config import Settings, get_settings
from kcast.context import DecisionContext
from kcast.data.http import HttpClient
from kcast.data.odds_api import OddsApiClient, ingest_odds_api
from kcast.data.register import Register
from kcast.data.statsapi import StatsApiClient, ingest_statsapi
from kcast.dates import EASTERN, today  # noqa: F401 - EASTERN: part of this module's interface
from kcast.forecast import WarehouseSink, forecaster_for
from kcast.gate import gate_for
from kcast.grading import VOID, grade_dates
from kcast.market import DecisionTime
from kcast.monitoring import PASS, games_check
from kcast.numbers import is_missing
from kcast.pipeline import day_starters
from kcast.prices import attach_prices
from kcast.warehouse import Warehouse
from kcast.warehouse.snapshots import confirmed_since
from kcast.warehouse.sources import games_of_day, history_written_at
from kcast.warehouse.statements import statement
from kcast.webhook_alerts import notify_day

DONE = ("final", "postponed", "cancelled")  # a game with nothing more to come
PENDING = ("scheduled",)  # a game whose first pitch is still to come
STEPS = ("results", "schedule", "games", "grade", "odds", "predict", "alerts")


@dataclass
class StepResult:
    """What one step did: ``ok``, ``skipped`` or ``failed``, and a one-line detail."""

    name: str
    status: str
    detail: str = ""
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class DailyReport:
    date: dt.date
    steps: list[StepResult] = field(default_factory=list)

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when no step failed, else 1."""
        return 1 if self.failed else 0

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "exit_code": self.exit_code,
            "steps": [
                {
                    "step": s.name,
                    "status": s.status,
                    "detail": s.detail,
                    "seconds": round(s.seconds, 3),
                    **({"stats": s.stats} if s.stats else {}),
                }
                for s in self.steps
            ],
        }


class Skip(Exception):  # noqa: N818 - a step's way of saying "nothing to do", not an error
    """Raised inside a step: it had nothing (new) to do."""


def _run(report: DailyReport, name: str, fn: Callable[[], str | tuple[str, dict]]) -> None:
    t0 = time.perf_counter()
    try:
        out = fn()
    except Skip as exc:
        result = StepResult(name, "skipped", str(exc))
    except Exception as exc:  # noqa: BLE001 - a failed step is reported; the others still run
        result = StepResult(name, "failed", f"{type(exc).__name__}: {exc}")
    else:
        detail, stats = out if isinstance(out, tuple) else (out, {})
        result = StepResult(name, "ok", detail, stats=stats)
    result.seconds = time.perf_counter() - t0
    report.steps.append(result)


# --------------------------------------------------------------------------------------------
# What the warehouse already has
# --------------------------------------------------------------------------------------------


def day_games(wh: Warehouse, day: dt.date) -> pd.DataFrame:
    """The stored games of ``day`` with how many of their starts and plate appearances are
    stored."""
    return games_of_day(wh, day)


def results_missing(wh: Warehouse, day: dt.date) -> bool:
    """True when a stored game of ``day`` is not over, or is final without both starts or
    without its plate appearances (the live feed)."""
    games = day_games(wh, day)
    if games.empty:
        return False
    status = games["status"].fillna("")
    unfinished = ~status.isin(DONE)
    no_box = (status == "final") & (games["starts"] < 2)
    no_plays = (status == "final") & (games["plate_appearances"] == 0)
    return bool((unfinished | no_box | no_plays).any())


def ungraded(wh: Warehouse, start: dt.date, end: dt.date) -> int:
    rows = wh.query(
        "SELECT COUNT(*) AS n FROM pitcher_strikeout_predictions "
        "WHERE game_date BETWEEN $a AND $b AND graded_at IS NULL",
        {"a": start, "b": end},
    )
    return int(rows["n"].iloc[0])


def day_complete(wh: Warehouse, day: dt.date) -> bool:
    """Every game of ``day`` over and stored, every prediction of it graded."""
    games = day_games(wh, day)
    return bool(len(games)) and not results_missing(wh, day) and ungraded(wh, day, day) == 0


def pending_starters(wh: Warehouse, day: dt.date) -> pd.DataFrame:
    """The starters (probables) of ``day``'s games whose first pitch is still to come."""
    starters = day_starters(wh, day)
    if starters.empty:
        return starters
    games = wh.query(statement("games_with_status"), {"d": day, "s": list(PENDING)})
    keep = starters["game_id"].isin(set(games["game_id"])) & (
        starters["starter_source"] == "probable"
    )
    return starters[keep].reset_index(drop=True)


def _same(a: Any, b: Any) -> bool:
    if is_missing(a) or is_missing(b):
        return is_missing(a) and is_missing(b)
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def nothing_new(
    wh: Warehouse,
    starters: pd.DataFrame,
    systems: dict[str, Any],
    day: dt.date,
    at: DecisionTime,
) -> bool:
    """True when every (starter, system) already has a stored prediction made with the same
    line and prices known at the decision time ``at`` and the same model version, after the
    latest grade before ``day`` and the latest write of an earlier game (a boxscore or live feed
    read late), and no prediction was made on a projected lineup whose team has posted its nine
    since."""
    priced = attach_prices(wh, starters, at=at)
    stored = wh.query(statement("stored_predictions_of_day"), {"d": day})
    graded = wh.query(statement("latest_grade_before"), {"d": day})["t"].iloc[0]
    if stored.empty:
        return False
    if len(confirmed_since(wh, day)):  # a lineup posted since: predict with it
        return False
    written = history_written_at(wh, day)  # earlier games read since (a late boxscore or feed)
    if written is not None and stored["created_at"].min() < written:
        return False
    have = {(r.game_id, int(r.pitcher_id), r.system_id): r for r in stored.itertuples()}
    for row in priced.itertuples():
        for system_id, system in systems.items():
            old = have.get((row.game_id, int(row.pitcher_id), system_id))
            if old is None:
                return False
            if system.version_ and str(old.model_version) != str(system.version_):
                return False
            if not all(
                _same(getattr(row, c), getattr(old, c)) for c in ("line", "over_odds", "under_odds")
            ):
                return False
            if not is_missing(graded) and old.created_at < graded:
                return False
    return True


# --------------------------------------------------------------------------------------------
# The day
# --------------------------------------------------------------------------------------------


def run_daily(
    wh: Warehouse,
    date: dt.date | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    register: Any = None,
    lookback: int = 3,
    statsapi_client: Any = None,
    odds_client: Any = None,
) -> DailyReport:
    """Run the day's steps for ``date`` (default: today, US Eastern, at ``now``); see the module.

    ``now`` (default: the clock) is the time the odds snapshot is recorded as captured.
    ``register`` is the Chadwick register (loaded when the odds step needs it). The clients
    default to ones built from ``settings`` (``KCAST_STATSAPI_URL``, ``KCAST_ODDS_API_URL``,
    ``ODDS_API_KEY``, ``KCAST_HTTP_TIMEOUT``, ``KCAST_HTTP_RETRIES``)."""
    settings = settings or get_settings()
    now = now or dt.datetime.now(dt.UTC)
    day = date or today(now)
    report = DailyReport(day)
    earlier = [day - dt.timedelta(days=i) for i in range(lookback, 0, -1)]
    own_stats = statsapi_client is None
    stats = statsapi_client or StatsApiClient(
        settings.statsapi_url, settings.http_timeout, settings.http_retries
    )
    try:
        _run(report, "results", lambda: _results(wh, stats, earlier))
        _run(report, "schedule", lambda: _schedule(wh, stats, day))
        _run(report, "games", lambda: _games(wh, earlier[0] if earlier else day, day))
        _run(report, "grade", lambda: _grade(wh, earlier[0] if earlier else day, day))

        def odds() -> tuple[str, dict]:
            nonlocal odds_client, register
            if odds_client is None:
                if not settings.odds_api_key:
                    raise Skip("ODDS_API_KEY is not set")
                odds_client = OddsApiClient(
                    settings.odds_api_url,
                    settings.odds_api_key,
                    HttpClient(timeout=settings.http_timeout, retries=settings.http_retries),
                )
            if register is None:
                register = Register.load(settings.register_path)
            return _odds(wh, odds_client, register, day, now)

        _run(report, "odds", odds)
        _run(report, "predict", lambda: _predict(wh, day, settings))
        _run(report, "alerts", lambda: _alerts(wh, day, settings))
    finally:
        if own_stats:
            stats.close()
    return report


def _results(wh: Warehouse, client: Any, days: list[dt.date]) -> tuple[str, dict]:
    todo = [d for d in days if results_missing(wh, d)]
    if not todo:
        raise Skip("earlier days are complete")
    done, missing = [], []
    for d in todo:
        rep = ingest_statsapi(wh, d, client=client)
        done.append(f"{d}: {rep.stats.get('boxscores', '')}")
        missing += [n for n in rep.notes if "unavailable" in n]
    detail = "; ".join(done)
    if missing:  # what was fetched is stored; the next run fetches the rest
        raise RuntimeError(f"{detail}; {len(missing)} boxscore(s) unavailable: {missing[0]}")
    return detail, {"days": [d.isoformat() for d in todo]}


def _schedule(wh: Warehouse, client: Any, day: dt.date) -> tuple[str, dict]:
    if day_complete(wh, day):
        raise Skip(f"every game of {day} is over, stored and graded")
    rep = ingest_statsapi(wh, day, client=client)
    st = {k: v for k, v in rep.stats.items() if k != "copyright"}
    missing = [n for n in rep.notes if "unavailable" in n]
    detail = ", ".join(f"{k} {v}" for k, v in st.items())
    if missing:  # the slate and the other boxscores are stored; the next run fetches the rest
        raise RuntimeError(f"{detail}; {len(missing)} boxscore(s) unavailable: {missing[0]}")
    return detail, st


def _games(wh: Warehouse, start: dt.date, end: dt.date) -> tuple[str, dict]:
    """Every game of the window stored once (``monitoring.games_check``): a game under two ids
    would be predicted, carded and bet twice, so a duplicate fails the step (exit 1)."""
    check = games_check(wh, start, end)
    if check.status != PASS:
        raise RuntimeError(check.detail)
    return check.detail, {}


def _grade(wh: Warehouse, start: dt.date, end: dt.date) -> tuple[str, dict]:
    waiting = ungraded(wh, start, end)
    if not waiting:
        raise Skip(f"no ungraded predictions from {start} to {end}")
    rows = grade_dates(wh, start, end)
    graded = rows if rows.empty else rows[rows["result"].notna()]
    void = int((graded["result"] == VOID).sum()) if len(graded) else 0
    left = ungraded(wh, start, end)
    return (
        f"{len(graded) - void} graded, {void} void, {left} waiting for their games",
        {"graded": len(graded) - void, "void": void, "waiting": left},
    )


def _odds(
    wh: Warehouse, client: Any, register: Any, day: dt.date, now: dt.datetime
) -> tuple[str, dict]:
    games = day_games(wh, day)
    if len(games) and not games["status"].isin(PENDING).any():
        raise Skip(f"no game of {day} is still to start")
    rep = ingest_odds_api(wh, register, day, client=client, now=now)
    st = {k: v for k, v in rep.stats.items() if not isinstance(v, dict)}
    return ", ".join(f"{k} {v}" for k, v in st.items()) or "; ".join(rep.notes), st


def _predict(wh: Warehouse, day: dt.date, settings: Settings) -> tuple[str, dict]:
    """The starters of ``day`` still to pitch, forecast by the forecaster at the decision time
    ``KCAST_DECISION_TIME``; their predictions and bets stored in one transaction."""
    starters = pending_starters(wh, day)
    if starters.empty:
        raise Skip(f"no starter of {day} is still to pitch")
    context = DecisionContext.from_settings(settings, live=gate_for(wh, day, settings))
    forecaster = forecaster_for(wh, settings, context, WarehouseSink(wh, "daily"))
    if not forecaster.systems:
        errors = forecaster.load_errors
        raise RuntimeError("no system loaded: " + "; ".join(f"{s}: {e}" for s, e in errors.items()))
    if nothing_new(wh, starters, forecaster.systems, day, context.at):
        raise Skip(f"{len(starters)} starters already predicted with these lines and models")
    forecast = forecaster.forecast(starters, date=day)
    rows = len(forecast.frame())
    ledger = forecast.ledger("daily")
    bets = int((ledger["status"] == "bet").sum()) if len(ledger) else 0
    leans = len(ledger) - bets
    live = [
        f"{r.system_id} {r.market}"
        for r in getattr(context.live, "live_rules", list)()
        if r.strategy == context.rules.strategy and r.decision_time == context.at.label
    ]
    detail = (
        f"{len(starters)} starters, {rows} rows by {len(forecast.outputs)} systems, {bets} bets, "
        f"{leans} leans of rules not live (live rules: {', '.join(live) or 'none'})"
    )
    if forecast.errors:
        raise RuntimeError(
            detail + "; failed: " + "; ".join(f"{s}: {e}" for s, e in forecast.errors.items())
        )
    return detail, {"starters": len(starters), "rows": rows, "bets": bets, "leans": leans}


def _alerts(wh: Warehouse, day: dt.date, settings: Settings) -> tuple[str, dict]:
    """The day's webhook alerts, each sent once (``webhook_alerts.notify_day``)."""
    if not settings.webhook_list:
        raise Skip("no webhooks (KCAST_WEBHOOKS)")
    sent = notify_day(wh, day, settings)
    stats = {"found": sent.found, "sent": sent.sent, "already": sent.already}
    if not sent.ok:
        raise RuntimeError(sent.detail() + "; the next run sends what failed")
    return sent.detail(), stats
