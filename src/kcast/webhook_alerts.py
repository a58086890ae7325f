"""Notifications to the webhooks a user configures (``KCAST_WEBHOOKS``), sent by ``kcast daily``
and the worker: what a bettor must know between two looks at the board.

(Not to be confused with ``kcast.alerts``: the Prometheus alerting rules for operators.)

Four alerts, each about one bet of the day's board (the primary system's, ``day_board``):

* ``new_bet``: a bet is in the ledger (its side, line, book, price, stake, EV);
* ``lineup``: the opposing lineup was posted (confirmed) after the bet was alerted, and the
  bet changed (another side or line) or was withdrawn;
* ``scratched``: the starter will not (or did not) start: the game's starter for his team is
  someone else, or the bet was graded void; the bet is void;
* ``price_move``: the latest price of the bet's line and side at its book has moved past the one
  taken by ``policy.PRICE_MOVE_POINTS`` of implied probability or more (either way: the
  market now agrees with the bet, or has gone against it).

Each alert is sent once per webhook: what was sent is kept in the warehouse (``alerts_sent``,
migration 20), keyed by the alert's key and the webhook (kept as a hash, never the URL: a
webhook URL is a secret). A call that fails is retried (tenacity: ``ATTEMPTS`` tries, backing
off) within a bounded time (``KCAST_WEBHOOK_TIMEOUT`` per try); a webhook that still fails is
given up for the rest of the run, its failure logged and reported (``NotifyReport``), and its
alerts are tried again by the next run. Nothing here raises into the job that calls it.

Slack and Discord get their own JSON (``{"text": ...}``, ``{"content": ...}``), recognised by
their hosts or a ``slack:`` / ``discord:`` prefix; any other URL (or ``json:``) gets plain JSON:
the alert's kind, key, date, text and fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from kcast import policy
from kcast.bet_metrics import Bankroll
from kcast.context import DecisionContext
from kcast.day_board import DayBoard, Pick, book_name, day_board
from kcast.decisions import american_to_prob
from kcast.gate import gate_for
from kcast.numbers import is_missing
from kcast.pipeline import day_starters
from kcast.teams import display_team
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now
from kcast.warehouse.statements import statement

log = logging.getLogger("kcast.webhook_alerts")

NEW_BET, LINEUP, SCRATCHED, PRICE_MOVE = "new_bet", "lineup", "scratched", "price_move"
KINDS = (NEW_BET, LINEUP, SCRATCHED, PRICE_MOVE)
ATTEMPTS = 3
SLACK, DISCORD, JSON = "slack", "discord", "json"


@dataclass(frozen=True)
class Alert:
    """One notification: its key (what makes it once), kind, date, text and fields."""

    key: str
    kind: str
    game_date: dt.date
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Webhook:
    """A configured URL and the JSON it takes."""

    url: str
    kind: str

    @classmethod
    def parse(cls, value: str) -> Webhook:
        text = value.strip()
        for kind in (SLACK, DISCORD, JSON):
            if text.startswith(f"{kind}:") and not text.startswith(f"{kind}://"):
                return cls(text[len(kind) + 1 :], kind)
        if "hooks.slack.com" in text:
            return cls(text, SLACK)
        if "discord.com/api/webhooks" in text or "discordapp.com/api/webhooks" in text:
            return cls(text, DISCORD)
        return cls(text, JSON)

    @property
    def id(self) -> str:
        """What the warehouse keeps of it: a hash (the URL itself is a secret)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def shown(self) -> str:
        """The webhook for a report: its kind and host, never its path (the secret part)."""
        host = httpx.URL(self.url).host or "?"
        return f"{self.kind} webhook at {host}"

    def body(self, alert: Alert) -> dict[str, Any]:
        if self.kind == SLACK:
            return {"text": alert.text}
        if self.kind == DISCORD:
            return {"content": alert.text}
        return {
            "event": alert.kind,
            "key": alert.key,
            "date": alert.game_date.isoformat(),
            "text": alert.text,
            **alert.fields,
        }


@dataclass
class NotifyReport:
    """What a run sent: alerts found, sent, already sent before, and the failures."""

    found: int = 0
    sent: int = 0
    already: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def detail(self) -> str:
        text = f"{self.found} alerts: {self.sent} sent, {self.already} sent before"
        if self.failed:
            text += f", {len(self.failed)} failed ({self.failed[0]})"
        return text


# --------------------------------------------------------------------------------------------
# What there is to say about a day
# --------------------------------------------------------------------------------------------


def _money(board: DayBoard, pick: Pick) -> str:
    return board.bankroll.stake_text(pick.stake)


def _bet_text(pick: Pick) -> str:
    alt = " (alternate line)" if pick.alternate else ""
    return f"{pick.side} {pick.line:g}{alt} at {pick.price} {pick.book}"


def _fields(pick: Pick, board: DayBoard) -> dict[str, Any]:
    return {
        "pitcher": pick.name,
        "pitcher_id": pick.pitcher_id,
        "game_id": pick.game_id,
        "team": pick.team,
        "opponent": pick.opponent,
        "system": pick.system_id,
        "side": pick.side,
        "line": pick.line,
        "alternate_line": pick.alternate,
        "book": pick.book,
        "odds": pick.odds,
        "ev": pick.ev,
        "stake_units": board.bankroll.units_of(pick.stake),
        "stake_money": board.bankroll.money_of(pick.stake),
        "record": pick.record.text(),
    }


def _start(pick: Pick) -> str:
    return f"{pick.system_id}|{pick.game_id}|{pick.pitcher_id}"


def day_alerts(
    wh: Warehouse, board: DayBoard, sent: dict[str, dict[str, Any]] | None = None
) -> list[Alert]:
    """Every alert the day's ``board`` gives; ``sent`` holds the fields of the ``new_bet``
    alerts sent before (by key), which the lineup alert compares with."""
    sent = sent or {}
    day = board.day
    alerts: list[Alert] = []
    lineups = _lineup_status(wh, day, board.system)
    starters = _starters(wh, day)
    latest = _latest_prices(wh, day)
    bets = {_start(p): p for p in board.bets}
    for pick in board.bets:
        who = f"{pick.name} ({pick.team} {'vs' if pick.is_home else '@'} {pick.opponent})"
        fields = {**_fields(pick, board), "lineup_status": lineups.get(_start(pick))}
        alerts.append(
            Alert(
                f"{NEW_BET}|{_start(pick)}|{pick.side}|{pick.line:g}",
                NEW_BET,
                day,
                f"New bet {day}: {who} {_bet_text(pick)}, stake {_money(board, pick)}, "
                f"EV {pick.ev:+.3f} per unit. Record: {pick.record.text()}",
                fields,
            )
        )
        starter = starters.get((pick.game_id, pick.team), pick.pitcher_id)
        if pick.result == "void" or starter != pick.pitcher_id:
            alerts.append(
                Alert(
                    f"{SCRATCHED}|{_start(pick)}",
                    SCRATCHED,
                    day,
                    f"Scratched {day}: {who} will not start; the bet {_bet_text(pick)} is void.",
                    fields,
                )
            )
        now = latest.get((pick.pitcher_id, pick.book, pick.line, pick.side))
        moved = _moved(pick.odds, now)
        if moved is not None:
            way = "toward the bet" if moved > 0 else "against the bet"
            alerts.append(
                Alert(
                    f"{PRICE_MOVE}|{_start(pick)}|{pick.side}|{pick.line:g}",
                    PRICE_MOVE,
                    day,
                    f"Price move {day}: {who} {pick.side} {pick.line:g} at {pick.book} is now "
                    f"{now:+.0f}, taken at {pick.price} ({abs(moved) * 100:.1f} points "
                    f"{way}).",
                    {**fields, "odds_now": now, "moved_points": round(moved * 100, 2)},
                )
            )
    alerts += _lineup_alerts(board, bets, lineups, sent)
    return alerts


def _lineup_alerts(
    board: DayBoard,
    bets: dict[str, Pick],
    lineups: dict[str, str | None],
    sent: dict[str, dict[str, Any]],
) -> list[Alert]:
    """A lineup posted (confirmed) after a bet was alerted while it was not, and the bet is
    now another (or gone)."""
    out = []
    for key, before in sent.items():
        start = key.split("|", 1)[1].rsplit("|", 2)[0]
        if before.get("lineup_status") == "confirmed" or lineups.get(start) != "confirmed":
            continue
        now = bets.get(start)
        if now is not None and (now.side, now.line) == (before.get("side"), before.get("line")):
            continue
        change = f"the bet is now {_bet_text(now)}" if now is not None else "the bet is withdrawn"
        out.append(
            Alert(
                f"{LINEUP}|{start}",
                LINEUP,
                board.day,
                f"Lineup posted {board.day}: {before.get('pitcher')} faces the confirmed lineup of "
                f"{before.get('opponent')}; {change} (was {before.get('side')} "
                f"{before.get('line'):g} at {before.get('book')}).",
                {**before, "now": None if now is None else _fields(now, board)},
            )
        )
    return out


def _moved(taken: float | None, now: float | None) -> float | None:
    """How far the implied probability of the side moved from the price taken to ``now``
    (positive: the market moved toward the bet), when it is at least PRICE_MOVE_POINTS."""
    if taken is None or now is None or is_missing(now):
        return None
    moved = american_to_prob(now) - american_to_prob(taken)
    return moved if abs(moved) >= policy.PRICE_MOVE_POINTS else None


def _lineup_status(wh: Warehouse, day: dt.date, system: str | None) -> dict[str, str | None]:
    rows = wh.query(statement("day_predictions"), {"d": day})
    if rows.empty or "lineup_status" not in rows:
        return {}
    rows = rows[rows["system_id"] == system]
    return {
        f"{system}|{g}|{int(p)}": (None if is_missing(s) else str(s))
        for g, p, s in zip(rows["game_id"], rows["pitcher_id"], rows["lineup_status"], strict=True)
    }


def _starters(wh: Warehouse, day: dt.date) -> dict[tuple[str, str], int]:
    """The starter the warehouse now has for each (game, team as MLB spells it)."""
    starters = day_starters(wh, day)
    if starters.empty:
        return {}
    return {
        (str(g), display_team(t, day.year)): int(p)
        for g, t, p in zip(
            starters["game_id"], starters["team"], starters["pitcher_id"], strict=True
        )
    }


def _latest_prices(wh: Warehouse, day: dt.date) -> dict[tuple[int, str, float, str], float]:
    """The latest captured price of each (pitcher, book, line, side) of the day."""
    rows = wh.query(statement("latest_day_quotes"), {"d": day})
    out: dict[tuple[int, str, float, str], float] = {}
    for r in rows.to_dict("records"):
        for side, col in (("OVER", "over_odds"), ("UNDER", "under_odds")):
            if not is_missing(r[col]):
                key = (int(r["pitcher_id"]), book_name(r["book"]), float(r["line"]), side)
                out[key] = float(r[col])
    return out


# --------------------------------------------------------------------------------------------
# Sending, once each
# --------------------------------------------------------------------------------------------


def post(client: httpx.Client, hook: Webhook, alert: Alert, timeout: float) -> None:
    """POST one alert to one webhook, retried (tenacity) on a network error or an answer of
    429 or 5xx, ``ATTEMPTS`` tries within about ``ATTEMPTS`` x ``timeout`` seconds; raises the
    last error when every try failed."""

    def once() -> None:
        answer = client.post(hook.url, json=hook.body(alert), timeout=timeout)
        if answer.status_code == 429 or answer.status_code >= 500:
            raise httpx.HTTPStatusError(
                f"HTTP {answer.status_code}", request=answer.request, response=answer
            )
        if answer.status_code >= 400:
            raise WebhookRefused(f"HTTP {answer.status_code}")

    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS) | stop_after_delay(ATTEMPTS * timeout),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        retry=retry_if_exception_type(httpx.HTTPError),
        reraise=True,
    )
    retrying(once)


class WebhookRefused(Exception):
    """A webhook answered 4xx (other than 429): retrying will not help."""


def sent_before(wh: Warehouse, day: dt.date) -> pd.DataFrame:
    """The alerts of ``day`` already sent (one row per alert and webhook)."""
    if not wh.table_exists("alerts_sent"):
        return pd.DataFrame(columns=["alert_key", "webhook", "status", "fields"])
    return wh.query(statement("alerts_of_day"), {"d": day})


def notify_day(
    wh: Warehouse,
    day: dt.date,
    settings: Any,
    live: Any = None,
    client: httpx.Client | None = None,
) -> NotifyReport:
    """Find the day's alerts and send each to every webhook of ``settings`` that has not had
    it; remember what was sent (and what failed). Never raises: a failure is in the report."""
    report = NotifyReport()
    hooks = [Webhook.parse(u) for u in settings.webhook_list]
    if not hooks:
        return report
    try:
        board = _board(wh, day, settings, live)
        before = sent_before(wh, day)
        done = {
            (k, w)
            for k, w, s in zip(
                before["alert_key"], before["webhook"], before["status"], strict=True
            )
            if s == "sent"
        }
        new_bets = {
            k: json.loads(f)
            for k, f in zip(before["alert_key"], before["fields"], strict=True)
            if k.startswith(NEW_BET) and isinstance(f, str)
        }
        alerts = day_alerts(wh, board, new_bets)
    except Exception as exc:  # noqa: BLE001 - the job goes on; the report says what failed
        log.exception("alerts for %s could not be worked out", day)
        report.failed.append(f"finding the alerts: {type(exc).__name__}: {exc}")
        return report
    report.found = len(alerts)
    rows = []
    own = client is None
    client = client or httpx.Client()
    try:
        for hook in hooks:
            gave_up: str | None = None
            for alert in alerts:
                if (alert.key, hook.id) in done:
                    report.already += 1
                    continue
                error = gave_up or _send(client, hook, alert, settings.webhook_timeout)
                if error is None:
                    report.sent += 1
                else:
                    if gave_up is None:
                        gave_up = f"given up after an earlier failure: {error}"
                        log.warning("%s failed: %s", hook.shown, error)
                        report.failed.append(f"{hook.shown}: {error}")
                rows.append(_row(alert, hook, error))
    finally:
        if own:
            client.close()
    _remember(wh, rows, report)
    return report


def _board(wh: Warehouse, day: dt.date, settings: Any, live: Any) -> DayBoard:
    gate = live or gate_for(wh, day, settings)
    context = DecisionContext.from_settings(settings, live=gate)
    return day_board(
        wh, day, settings.primary_system, context.at.label, Bankroll.from_settings(settings), gate
    )


def _send(client: httpx.Client, hook: Webhook, alert: Alert, timeout: float) -> str | None:
    """None when sent, else the error in a few words."""
    started = time.monotonic()
    try:
        post(client, hook, alert, timeout)
    except (httpx.HTTPError, WebhookRefused, RetryError) as exc:
        took = time.monotonic() - started
        return f"{type(exc).__name__}: {exc} (after {took:.1f} s)"
    return None


def _row(alert: Alert, hook: Webhook, error: str | None) -> dict[str, Any]:
    now = utc_now()
    return {
        "alert_key": alert.key,
        "webhook": hook.id,
        "kind": alert.kind,
        "game_date": alert.game_date,
        "text": alert.text,
        "fields": json.dumps(alert.fields, default=str),
        "status": "sent" if error is None else "failed",
        "error": error,
        "sent_at": now if error is None else None,
        "created_at": now,
    }


def _remember(wh: Warehouse, rows: list[dict[str, Any]], report: NotifyReport) -> None:
    if not rows:
        return
    try:
        with wh.transaction():
            wh.upsert("alerts_sent", pd.DataFrame(rows))
    except Exception as exc:  # noqa: BLE001 - sent is sent; the next run may send again
        log.exception("what was sent could not be stored")
        report.failed.append(f"storing what was sent: {type(exc).__name__}: {exc}")
