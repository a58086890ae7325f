"""The Odds API (v4): each book's pitcher-strikeout lines for a day's MLB games, into prop_lines.

Two calls, as The Odds API documents them (https://the-odds-api.com/liveapi/guides/v4/):

- ``GET /v4/sports/baseball_mlb/events`` lists the games (id, commence_time, home_team,
  away_team); it costs no quota;
- ``GET /v4/sports/baseball_mlb/events/{id}/odds?markets=pitcher_strikeouts&regions=us&
  oddsFormat=american`` gives each bookmaker's market, whose outcomes carry ``description`` (the
  player), ``name`` (Over or Under), ``point`` (the line) and ``price`` (American odds).

Rows are stored with source ``odds_api``, one per (date, pitcher, book, line): the first capture
becomes the ``open`` row (written once) and every capture rewrites the ``close`` row, so running
the ingest every few hours until first pitch leaves the opening and the last pre-game price.
Every capture is also kept as it was, never overwritten: a row whose snapshot is
``capture@YYYY-MM-DDTHH:MM:SSZ`` (the capture's UTC time; ``captured_at`` is the book's own
update time). Predictions read only open and close. The
main line of a pitcher is the line offered by the most books in the capture. A ``consensus`` book
is added per line: the mean of the books' implied probabilities, as American odds. The key comes
from ``ODDS_API_KEY`` and the base URL from ``KCAST_ODDS_API_URL``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from kcast.config import get_settings
from kcast.data.http import HttpClient
from kcast.data.ingest import IngestReport, logged_ingest, write_all
from kcast.data.lines import ALL_STAR_NAMES, LINE_COLUMNS, match_summary, resolve_lines
from kcast.data.names import NameMatcher
from kcast.data.register import Register
from kcast.dates import date_bounds
from kcast.errors import ConfigError, InputError, KcastError, SourceUnavailableError, quoted
from kcast.market import price_problem
from kcast.masking import mask_secrets, masked_error
from kcast.teams import canonical_team
from kcast.warehouse import Warehouse
from kcast.warehouse.base import utc_now

SOURCE = "odds_api"
SPORT = "baseball_mlb"
MARKET = "pitcher_strikeouts"
EASTERN = ZoneInfo("America/New_York")  # game dates are US Eastern dates of the first pitch
CONSENSUS = "consensus"
CAPTURE_PREFIX = "capture@"  # the snapshot of a kept capture: capture@2025-06-10T16:16:45Z


def capture_snapshot(captured: dt.datetime) -> str:
    """The ``snapshot`` value of the capture taken at ``captured`` (naive UTC or aware)."""
    if captured.tzinfo is not None:
        captured = captured.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{CAPTURE_PREFIX}{captured:%Y-%m-%dT%H:%M:%SZ}"


class OddsApiClient:
    """The two endpoints kcast uses, with the key sent as ``apiKey``."""

    def __init__(self, base_url: str, api_key: str, http: HttpClient | None = None) -> None:
        if not api_key:
            raise ConfigError("ODDS_API_KEY is not set: get a key at https://the-odds-api.com")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.http = http or HttpClient()
        self.requests_remaining: str | None = None

    @classmethod
    def from_settings(cls) -> OddsApiClient:
        """A client for ``KCAST_ODDS_API_URL`` with ``ODDS_API_KEY``; ConfigError without a key."""
        settings = get_settings()
        if not settings.odds_api_key:
            raise ConfigError(
                "ODDS_API_KEY is not set: export ODDS_API_KEY=<your key from "
                "https://the-odds-api.com> (or put it in .env)"
            )
        return cls(settings.odds_api_url, settings.odds_api_key)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = self.http.get(url, {"apiKey": self.api_key, **params})
        except SourceUnavailableError as exc:
            # an upstream body can echo the request, key included: never store or print it
            raise SourceUnavailableError(mask_secrets(str(exc), {self.api_key})) from None
        self.requests_remaining = response.headers.get("x-requests-remaining")
        try:
            return response.json()
        except ValueError as exc:
            raise InputError(f"the answer is not JSON: {exc}", source=url) from exc

    def events(self, day: dt.date | None = None) -> list[dict]:
        """MLB events; with ``day``, those whose first pitch falls on that US Eastern date."""
        params: dict[str, Any] = {"dateFormat": "iso"}
        if day is not None:
            start = dt.datetime.combine(day, dt.time(), EASTERN).astimezone(dt.UTC)
            end = start + dt.timedelta(days=1)
            params["commenceTimeFrom"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            params["commenceTimeTo"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        data = self._get(f"/v4/sports/{SPORT}/events", params)
        if not isinstance(data, list):
            raise InputError("the events answer is not a list", source=self._url("events"))
        return data

    def event_odds(self, event_id: str) -> dict:
        """One event with every US book's pitcher-strikeout market."""
        data = self._get(
            f"/v4/sports/{SPORT}/events/{event_id}/odds",
            {"regions": "us", "markets": MARKET, "oddsFormat": "american", "dateFormat": "iso"},
        )
        if not isinstance(data, dict):
            raise InputError("the event odds answer is not an object", source=self._url(event_id))
        return data

    def _url(self, what: str) -> str:
        return f"{self.base_url}/v4/sports/{SPORT}/events ({what})"

    def close(self) -> None:
        self.http.close()


def event_date(commence_time: str, source: str) -> dt.date:
    """The US Eastern date of an ISO ``commence_time`` (``2025-07-22T23:16:00Z`` -> 2025-07-22)."""
    try:
        stamp = dt.datetime.fromisoformat(str(commence_time).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"commence_time {commence_time!r} is not an ISO time", source) from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    day = stamp.astimezone(EASTERN).date()
    first, last = date_bounds()
    if not first <= day <= last:
        raise InputError(
            f"commence_time {commence_time!r} is outside the seasons kcast knows "
            f"({first} to {last})",
            source,
        )
    return day


def _team(value: object, source: str) -> str | None:
    if str(value).strip().upper() in ALL_STAR_NAMES:
        return None
    return canonical_team(value, source)


def _stamp(value: object, default: dt.datetime) -> dt.datetime:
    if not value:
        return default
    try:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return default
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return stamp


def _price(value: object, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{what}: price {quoted(value)} is not American odds", source)
    if value % 1 != 0 or abs(value) < 100:
        raise InputError(
            f"{what}: price {value!r} is not American odds (oddsFormat=american?)", source
        )
    problem = price_problem(value, None)
    if problem is not None:
        raise InputError(f"{what}: {problem}", source)
    return int(value)


def parse_event_odds(event: dict, captured_at: dt.datetime, source: str) -> pd.DataFrame:
    """One row per book, pitcher and line (over and under prices side by side)."""
    try:
        event_id = str(event["id"])
        day = event_date(event["commence_time"], source)
        teams = tuple(
            t for t in (_team(event["home_team"], source), _team(event["away_team"], source)) if t
        )
        bookmakers = event.get("bookmakers") or []
    except KeyError as exc:
        raise InputError(f"event has no {exc.args[0]!r}", source) from exc
    prices: dict[tuple[str, str, float], dict[str, Any]] = {}
    for bookmaker in bookmakers:
        book = bookmaker.get("title") or bookmaker.get("key")
        if not book:
            raise InputError(f"event {event_id}: a bookmaker has neither key nor title", source)
        for market in bookmaker.get("markets") or []:
            if market.get("key") != MARKET:
                continue
            stamp = _stamp(market.get("last_update") or bookmaker.get("last_update"), captured_at)
            for outcome in market.get("outcomes") or []:
                player = str(outcome.get("description") or "").strip()
                side = str(outcome.get("name") or "").strip().lower()
                point = outcome.get("point")
                what = f"event {event_id}, {book}, {player or '?'} {side} {point}"
                if not player or side not in ("over", "under"):
                    raise InputError(f"{what}: outcome lacks a player or Over/Under", source)
                if not isinstance(point, (int, float)) or not 0 <= point <= 27:
                    raise InputError(f"{what}: point {point!r} is not a strikeout line", source)
                row = prices.setdefault(
                    (book, player, float(point)),
                    {"over_odds": None, "under_odds": None, "captured_at": stamp},
                )
                row[f"{side}_odds"] = _price(outcome.get("price"), what, source)
    for (book, player, point), values in prices.items():
        problem = price_problem(values["over_odds"], values["under_odds"])
        if problem is not None:
            raise InputError(f"event {event_id}, {book}, {player} {point:g}: {problem}", source)
    rows = [
        {
            "game_date": day,
            "pitcher_name": player,
            "book": book,
            "line": point,
            "event_id": event_id,
            "_teams": teams,
            **values,
        }
        for (book, player, point), values in prices.items()
    ]
    return pd.DataFrame(rows)


def american_to_prob(odds: float) -> float:
    return 100.0 / (odds + 100.0) if odds > 0 else -odds / (-odds + 100.0)


def prob_to_american(p: float) -> int:
    """The American odds of an implied probability (0.5 -> +100, 0.6 -> -150)."""
    if p >= 0.5:
        return -round(100 * p / (1 - p)) if p < 1 else -100000
    return round(100 * (1 - p) / p)


def add_consensus(frame: pd.DataFrame) -> pd.DataFrame:
    """Add a ``consensus`` book per pitcher and line: mean implied probability of each side."""
    books = frame[frame["book"] != CONSENSUS]
    rows = []
    for (day, player, point), group in books.groupby(["game_date", "pitcher_name", "line"]):
        row = {
            "game_date": day,
            "pitcher_name": player,
            "book": CONSENSUS,
            "line": point,
            "event_id": group["event_id"].iloc[0],
            "_teams": group["_teams"].iloc[0],
            "captured_at": group["captured_at"].max(),
        }
        for side in ("over_odds", "under_odds"):
            values = group[side].dropna()
            row[side] = (
                prob_to_american(sum(american_to_prob(v) for v in values) / len(values))
                if len(values)
                else None
            )
        rows.append(row)
    return pd.concat([books, pd.DataFrame(rows)], ignore_index=True) if rows else books


def mark_main(frame: pd.DataFrame) -> pd.DataFrame:
    """``is_main``: per pitcher and day, the line offered by the most books (ties: nearest even)."""
    out = frame.copy()
    books = out[out["book"] != CONSENSUS]
    main: dict[tuple, float] = {}
    for (day, player), group in books.groupby(["game_date", "pitcher_name"]):
        best = None
        for point, at_line in group.groupby("line"):
            probs = [american_to_prob(v) for v in at_line["over_odds"].dropna()]
            balance = abs(sum(probs) / len(probs) - 0.5) if probs else 1.0
            score = (len(at_line), -balance)
            if best is None or score > best[0]:
                best = (score, point)
        main[(day, player)] = best[1]
    out["is_main"] = [
        main.get((d, p)) == line
        for d, p, line in zip(out["game_date"], out["pitcher_name"], out["line"], strict=True)
    ]
    return out


def ingest_odds_api(
    wh: Warehouse,
    register: Register,
    day: dt.date | None = None,
    client: OddsApiClient | None = None,
    progress: Callable[[int, int], None] | None = None,
    now: dt.datetime | None = None,
) -> IngestReport:
    """Capture the day's pitcher-strikeout lines: open rows once, close rows every time, and
    the capture itself kept under its own snapshot (``capture_snapshot``). ``now`` is the
    capture's UTC time (default: the clock)."""
    client = client or OddsApiClient.from_settings()
    if now is None:
        now = utc_now()
    elif now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    day = day or dt.datetime.now(EASTERN).date()
    target = f"{client.base_url} {day}"
    with logged_ingest(wh, "odds-api", target, secrets=(client.api_key,)) as report:
        try:
            events = [
                e
                for e in client.events(day)
                if event_date(e.get("commence_time", ""), target) == day
            ]
            frames = []
            for done, event in enumerate(events, start=1):
                source = f"{client.base_url}/v4/sports/{SPORT}/events/{event.get('id')}/odds"
                frames.append(parse_event_odds(client.event_odds(str(event["id"])), now, source))
                if progress is not None:
                    progress(done, len(events))
        except KcastError as exc:  # an answer may echo the key into what the error quotes
            raise masked_error(exc, (client.api_key,)) from None
        frames = [f for f in frames if not f.empty]
        report.rows_read = sum(len(f) for f in frames)
        report.stats = {"date": str(day), "events": len(events)}
        if client.requests_remaining is not None:
            report.stats["requests remaining"] = client.requests_remaining
        if not frames:
            report.notes.append(f"no {MARKET} prices for {day} yet")
            return report
        lines = mark_main(add_consensus(pd.concat(frames, ignore_index=True)))
        lines["source"] = SOURCE
        matcher = NameMatcher.from_warehouse(wh, register, lines["game_date"])
        lines = resolve_lines(lines, matcher)
        close = lines.assign(snapshot="close")
        kept = lines.assign(snapshot=capture_snapshot(now))
        stored = wh.query(
            "SELECT pitcher_name, book, line FROM prop_lines "
            "WHERE source = $source AND snapshot = 'open' AND game_date = $day",
            {"source": SOURCE, "day": day},
        )
        have = set(zip(stored["pitcher_name"], stored["book"], stored["line"], strict=True))
        is_new = [
            (p, b, float(x)) not in have
            for p, b, x in zip(lines["pitcher_name"], lines["book"], lines["line"], strict=True)
        ]
        opening = lines[is_new].assign(snapshot="open")
        cols = [c for c in LINE_COLUMNS if c in lines.columns] + ["snapshot"]
        cols = list(dict.fromkeys(cols))
        rows = pd.concat([opening[cols], close[cols], kept[cols]])
        write_all(wh, report, [("prop_lines", rows)])
        report.stats.update(
            {
                "books": lines["book"].nunique(),
                "pitchers": lines["pitcher_name"].nunique(),
                "new open rows": len(opening),
                **match_summary(close),
            }
        )
    return report
