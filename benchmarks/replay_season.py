"""A season, replayed: consecutive days of 2025 lived through ``kcast daily`` with the worker up.

The replay starts from a warehouse holding history and the real 2025 lines, and none of the
season's event files (it is copied, never written). Everything of the season from ``--first``
on is taken out of the copy. What really happened comes from the season's event files
(``--events``, parsed by kcast, never loaded into the copy), and a loopback server answers at
the MLB Stats API's paths in the real API's shapes, assembled from them
(``statsapi_from_events.py`` says exactly how): the schedule (probable pitchers before first
pitch, the lineups posted four hours before it, Live during the game, Final after), each final
game's boxscore (every pitcher's line, the batting orders, the home-plate umpire) and its live
feed (every plate appearance and pitch); the gamePks are the Statcast start log's (``--starts``).

* From ``--first`` to the day before ``--start`` each day is read the next morning, as the daily
  job's results step reads it (``kcast ingest statsapi``): the season followed live, with its
  batters from the feeds. The models are then trained on games before ``--start``.
* The same server answers at The Odds API v4 paths (``/v4/sports/baseball_mlb/events`` and
  ``.../events/{id}/odds``) from the real 2025 snapshots: each book's price of each line is
  served only from its ``captured_at`` on (open, then close);
* ``run_daily`` (what ``kcast daily`` runs) is called at 10:00 ET and a minute after each of
  the day's odds captures, with the date left to its default (today, US Eastern, at the clock);
  a starter predicted on a projected lineup is predicted again once his opponent posts it;
* the worker (``kcast serve``'s app under uvicorn) runs throughout over the same warehouse,
  and a thread keeps asking it for /health and the day's /predict-batch; every 5xx counts.

Faults are injected on chosen runs (the APIs answering 500, 429 with Retry-After, timing out,
or sending malformed JSON), and so are a scratched probable starter and a postponed game.
At the end the feed's plate appearances are compared with the event files', and the stored
predictions with ``run_backtest`` over the same days on a copy of the warehouse into which the
season's event files were then loaded (``kcast ingest retrosheet``: their rows replace the
feed's, as when Retrosheet publishes the season), holding the season from ``--first`` on as the
replay does, and without the game the replay postponed (it was played, so the event files have
it; in the season the daily job lived it never was). Every finished start is checked graded, duplicates are looked for, and the
monitoring views are checked against the tables.

Usage::

    python benchmarks/replay_season.py --warehouse base.duckdb --register register.csv.gz \\
        --events 2025eve.zip --starts starts_2024_2025.csv.gz --first 2025-03-18 \\
        --start 2025-06-03 --days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pandas as pd
from statsapi_from_events import LINEUP_LEAD, Season, team_json

from kcast.backtest import run_backtest
from kcast.bet_metrics import units_of
from kcast.config import Settings
from kcast.daily import EASTERN, STEPS, run_daily
from kcast.data.register import Register
from kcast.data.retrosheet import ingest_retrosheet, read_frames
from kcast.data.statsapi import StatsApiClient, ingest_statsapi
from kcast.service import BackgroundServer, create_app
from kcast.systems.registry import active_ids
from kcast.teams import TEAMS
from kcast.training import train_systems
from kcast.warehouse import Warehouse, open_warehouse

GAME_HOURS = 3.0  # a game is Live this long after first pitch, then Final
FIRST_PITCH_AFTER_LAST_CAPTURE = dt.timedelta(minutes=10)
DEFAULT_FIRST_PITCH = dt.time(23, 5)  # UTC, for a game without lines
COPYRIGHT = (
    "Copyright 2025 MLB Advanced Media, L.P.  Use of any content on this page acknowledges "
    "agreement to the terms posted here http://gdx.mlb.com/components/copyright.txt"
)
FAULT_KINDS = ("500", "429", "429-once", "timeout", "malformed")


def utc(ts: Any) -> dt.datetime:
    ts = pd.Timestamp(ts)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# What really happened
# --------------------------------------------------------------------------------------------


@dataclass
class Truth:
    """The replayed days as they really were: the event files' games (``season``: every
    pitcher line, plate appearance and lineup), their starts and the line snapshots."""

    games: pd.DataFrame
    starts: pd.DataFrame
    players: pd.DataFrame
    lines: pd.DataFrame
    events: pd.DataFrame  # event_id, game_id
    season: Season

    @classmethod
    def assemble(
        cls,
        season: Season,
        wh: Warehouse,
        game_times: dict[str, dt.datetime] | None = None,
    ) -> Truth:
        """The truth of ``season``'s games, with the line snapshots ``wh`` holds for them.
        ``game_times``: the real first pitch of each odds event (the lines file's
        ``game_time``); a game without one starts 10 minutes after its last odds capture."""
        games = season.games.copy()
        p = {"a": games["game_date"].min(), "b": games["game_date"].max()}
        lines = wh.query(
            "SELECT * FROM prop_lines WHERE source = 'strikeoutcenter' "
            "AND snapshot IN ('open', 'close') AND book <> 'consensus' "
            "AND game_date BETWEEN $a AND $b",
            p,
        )
        lines["captured_at"] = pd.to_datetime(lines["captured_at"])
        # each line's game: the one its pitcher started that day (the warehouse may have none of
        # the season's games to match the lines to), else the game it was matched to
        starts = season.pitchers[season.pitchers["is_start"]]
        started = {
            (int(p), d): g
            for p, d, g in zip(
                starts["pitcher_id"], starts["game_date"], starts["game_id"], strict=True
            )
        }
        days = pd.to_datetime(lines["game_date"]).dt.date
        lines["game_id"] = [
            started.get((int(p), d), g) if pd.notna(p) else g
            for p, d, g in zip(lines["pitcher_id"], days, lines["game_id"], strict=True)
        ]
        matched = lines.dropna(subset=["game_id"])
        events = (
            matched.groupby("event_id")["game_id"]
            .agg(lambda s: s.value_counts().index[0])
            .reset_index()
        )
        events = events[events["game_id"].isin(set(games["game_id"]))]
        events = events.drop_duplicates("game_id")
        last = lines.groupby("event_id")["captured_at"].max()
        first = {}
        for g in games.itertuples():
            ev = events[events["game_id"] == g.game_id]["event_id"]
            if len(ev) and ev.iloc[0] in (game_times or {}):
                first[g.game_id] = game_times[ev.iloc[0]]
            elif len(ev) and ev.iloc[0] in last.index:
                first[g.game_id] = utc(last[ev.iloc[0]]) + FIRST_PITCH_AFTER_LAST_CAPTURE
            else:
                first[g.game_id] = dt.datetime.combine(g.game_date, DEFAULT_FIRST_PITCH, dt.UTC)
        games["first_pitch"] = games["game_id"].map(first)
        starts = season.pitchers[season.pitchers["is_start"]]
        players = season.players.reset_index()[["player_id", "full_name", "throws"]]
        return cls(
            games,
            starts,
            players,
            lines[lines["event_id"].isin(set(events["event_id"]))],
            events,
            season,
        )

    def captures(self, day: dt.date) -> list[dt.datetime]:
        """The distinct odds capture times of the day's games."""
        ids = set(self.games.loc[self.games["game_date"] == day, "game_id"])
        evs = set(self.events.loc[self.events["game_id"].isin(ids), "event_id"])
        times = self.lines.loc[self.lines["event_id"].isin(evs), "captured_at"]
        return sorted({utc(t).replace(microsecond=0) for t in times})


def read_game_times(path: Path) -> dict[str, dt.datetime]:
    """Each odds event's real first pitch, from a strikeoutcenter lines file's game_time."""
    frame = pd.read_csv(path, usecols=["event_id", "game_time"]).drop_duplicates("event_id")
    return {e: utc(t) for e, t in zip(frame["event_id"], frame["game_time"], strict=True)}


CUT_TABLES = (
    "pitcher_games",
    "team_batting_games",
    "lineups",
    "plate_appearances",
    "prop_lines",
    "games",
)


def cut(wh: Warehouse, start: dt.date) -> None:
    """Take out every game, start, team line, lineup, plate appearance and prop line from
    ``start`` on."""
    with wh.transaction():
        for table in CUT_TABLES:
            wh.execute(f"DELETE FROM {table} WHERE game_date >= $d", {"d": start})  # noqa: S608


# --------------------------------------------------------------------------------------------
# The two APIs, on loopback
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    """The simulated clock, the truth, what is injected, and what the server was asked."""

    truth: Truth
    now: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    faults: dict[str, str] = field(default_factory=dict)  # statsapi|boxscore|feed|odds -> kind
    scratch: dict[str, tuple[str, int, dt.datetime]] = field(default_factory=dict)
    postpone: dict[str, dt.datetime] = field(default_factory=dict)  # game_id -> from when
    requests: Counter = field(default_factory=Counter)
    faults_served: Counter = field(default_factory=Counter)
    timeout_delay: float = 2.0
    _once: set = field(default_factory=set)

    def status(self, game: Any) -> str:
        if game.game_id in self.postpone and self.now >= self.postpone[game.game_id]:
            return "postponed"
        if self.now < game.first_pitch:
            return "scheduled"
        if self.now < game.first_pitch + dt.timedelta(hours=GAME_HOURS):
            return "live"
        return "final"


STATUS = {
    "scheduled": {
        "abstractGameState": "Preview",
        "codedGameState": "S",
        "detailedState": "Scheduled",
        "statusCode": "S",
        "startTimeTBD": False,
        "abstractGameCode": "P",
    },
    "live": {
        "abstractGameState": "Live",
        "codedGameState": "I",
        "detailedState": "In Progress",
        "statusCode": "I",
        "startTimeTBD": False,
        "abstractGameCode": "L",
    },
    "final": {
        "abstractGameState": "Final",
        "codedGameState": "F",
        "detailedState": "Final",
        "statusCode": "F",
        "startTimeTBD": False,
        "abstractGameCode": "F",
    },
    "postponed": {
        "abstractGameState": "Final",
        "codedGameState": "D",
        "detailedState": "Postponed",
        "statusCode": "DR",
        "startTimeTBD": False,
        "reason": "Rain",
        "abstractGameCode": "F",
    },
}


class Api:
    """Builds each answer from the world (real shapes, real values where the truth has them)."""

    def __init__(self, world: World) -> None:
        self.w = world
        t = world.truth
        self.starts = {(r.game_id, bool(r.is_home)): r for r in t.starts.itertuples()}
        self.season = t.season
        self.by_pk = {int(r.mlb_game_pk): r for r in t.games.itertuples()}
        lines = t.lines.assign(
            at=pd.to_datetime(t.lines["captured_at"]).dt.tz_localize("UTC"),
            rank=t.lines["snapshot"].map({"open": 0, "close": 1}),
        )
        self.lines = {e: g for e, g in lines.groupby("event_id")}
        self.event_game = dict(zip(t.events["event_id"], t.events["game_id"], strict=True))
        self.games = {r.game_id: r for r in t.games.itertuples()}
        dh = t.games["game_id"].str[-1] != "0"
        self.doubleheader = dict(zip(t.games["game_id"], dh, strict=True))

    def person(self, pid: int) -> dict:
        return self.season.person(pid)

    def probable(self, game: Any, home: bool) -> int | None:
        start = self.starts.get((game.game_id, home))
        side = "home" if home else "away"
        scratch = self.w.scratch.get(game.game_id)
        if scratch and scratch[0] == side and self.w.now < scratch[2]:
            return scratch[1]
        return None if start is None else int(start.pitcher_id)

    def schedule(self, day: str) -> dict:
        t = self.w.truth
        games = []
        for g in t.games[t.games["game_date"].astype(str) == day].itertuples():
            status = self.w.status(g)
            teams = {}
            for side, home in (("away", False), ("home", True)):
                entry: dict[str, Any] = {
                    "team": team_json(g.home_team if home else g.away_team),
                    "splitSquad": False,
                }
                pid = self.probable(g, home)
                if pid is not None and status != "postponed":
                    entry["probablePitcher"] = self.person(pid)
                teams[side] = entry
            dh = self.doubleheader[g.game_id]
            posted = {}
            if status in ("scheduled", "live") and self.w.now >= g.first_pitch - LINEUP_LEAD:
                posted = self.season.posted_lineups(g.game_id, g.home_team, g.away_team)
            games.append(
                {
                    "gamePk": int(g.mlb_game_pk),
                    "link": f"/api/v1.1/game/{int(g.mlb_game_pk)}/feed/live",
                    "gameType": "R",
                    "season": str(g.season),
                    "gameDate": iso(g.first_pitch),
                    "officialDate": day,
                    "status": STATUS[status],
                    "teams": teams,
                    "venue": {"id": 1, "name": f"{g.home_team} park", "link": "/api/v1/venues/1"},
                    "gameNumber": int(g.game_id[-1]) if dh else 1,
                    "doubleHeader": "Y" if dh else "N",
                    "dayNight": "night",
                    "scheduledInnings": 9,
                    **({"lineups": posted} if posted else {}),
                    **({"officials": officials} if (officials := self.season.officials(g)) else {}),
                }
            )
        return {
            "copyright": COPYRIGHT,
            "totalItems": len(games),
            "totalGames": len(games),
            "dates": [{"date": day, "totalGames": len(games), "games": games}] if games else [],
        }

    def boxscore(self, pk: int) -> dict | None:
        g = self.by_pk.get(pk)
        if g is None or self.w.status(g) != "final":
            return None
        return self.season.boxscore(g, COPYRIGHT)

    def feed(self, pk: int) -> dict | None:
        g = self.by_pk.get(pk)
        if g is None or self.w.status(g) != "final":
            return None
        return self.season.feed(g, COPYRIGHT)

    def people_json(self, pid: int) -> dict | None:
        if pid not in self.season.players.index:
            return None
        return {"copyright": COPYRIGHT, "people": [self.person(pid)]}

    # --- The Odds API ------------------------------------------------------------------------
    def _event(self, event_id: str) -> dict | None:
        game_id = self.event_game.get(event_id)
        if game_id is None:
            return None
        g = self.games[game_id]
        return {
            "id": event_id,
            "sport_key": "baseball_mlb",
            "sport_title": "MLB",
            "commence_time": iso(g.first_pitch),
            "home_team": TEAMS[g.home_team][1],
            "away_team": TEAMS[g.away_team][1],
            "_game": g,
        }

    def events(self, q: dict[str, str]) -> list[dict]:
        lo = utc(q["commenceTimeFrom"]) if "commenceTimeFrom" in q else None
        hi = utc(q["commenceTimeTo"]) if "commenceTimeTo" in q else None
        out = []
        for event_id in self.w.truth.events["event_id"]:
            ev = self._event(event_id)
            g = ev.pop("_game")
            first = g.first_pitch
            if (
                (lo and first < lo)
                or (hi and first > hi)
                or self.w.status(g) in ("final", "postponed")
            ):
                continue
            out.append(ev)
        return out

    def event_odds(self, event_id: str) -> dict | None:
        ev = self._event(event_id)
        if ev is None:
            return None
        g = ev.pop("_game")
        ev["bookmakers"] = []
        if self.w.status(g) != "scheduled":  # props come down at first pitch (and postponed)
            return ev
        lines = self.lines.get(event_id)
        if lines is None:
            return ev
        seen = lines[lines["at"] <= pd.Timestamp(self.w.now)]
        if seen.empty:
            return ev
        # each (book, pitcher, line): its latest snapshot captured by now (close beats open)
        seen = seen.sort_values(["captured_at", "rank"]).drop_duplicates(
            ["book", "pitcher_name", "line"], keep="last"
        )
        for book, rows in seen.groupby("book"):
            outcomes = []
            for r in rows.itertuples():
                for name, price in (("Over", r.over_odds), ("Under", r.under_odds)):
                    if not pd.isna(price):
                        outcomes.append(
                            {
                                "name": name,
                                "description": r.pitcher_name,
                                "price": int(price),
                                "point": float(r.line),
                            }
                        )
            stamp = iso(utc(rows["captured_at"].max()))
            ev["bookmakers"].append(
                {
                    "key": str(book).lower().replace(" ", "").replace(".", "_"),
                    "title": book,
                    "last_update": stamp,
                    "markets": [
                        {"key": "pitcher_strikeouts", "last_update": stamp, "outcomes": outcomes}
                    ],
                }
            )
        return ev


class Handler(BaseHTTPRequestHandler):
    api: Api
    world: World

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _fault(self, api: str) -> bool:
        kind = self.world.faults.get(api)
        if not kind:
            return False
        if kind == "429-once":
            if api in self.world._once:
                return False
            self.world._once.add(api)
        self.world.faults_served[f"{api}:{kind}"] += 1
        if kind == "timeout":
            time.sleep(self.world.timeout_delay)
            self._send(200, b"{}")
        elif kind in ("429", "429-once"):
            self._send(429, b'{"message": "Too many requests"}', {"Retry-After": "1"})
        elif kind == "500":
            self._send(500, b'{"message": "Internal Server Error"}')
        else:  # malformed
            self._send(200, b'{"dates": [{"games": [ {"gamePk": 1,')
        return True

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/")
        seg = path.split("/")
        answer: Any = None
        if path == "/api/v1/schedule":
            self.world.requests["statsapi"] += 1
            if self._fault("statsapi"):
                return
            answer = self.api.schedule(q.get("date", ""))
        elif path.startswith("/api/v1/game/") and path.endswith("/boxscore"):
            self.world.requests["boxscore"] += 1
            if self._fault("boxscore"):
                return
            answer = self.api.boxscore(int(seg[4]))
        elif path.startswith("/api/v1.1/game/") and path.endswith("/feed/live"):
            self.world.requests["feed"] += 1
            if self._fault("feed"):
                return
            answer = self.api.feed(int(seg[4]))
        elif path.startswith("/api/v1/people/"):
            self.world.requests["people"] += 1
            answer = self.api.people_json(int(seg[4]))
        elif path.startswith("/v4/sports/baseball_mlb/events"):
            self.world.requests["odds"] += 1
            if q.get("apiKey") != "replay-key":
                self._send(401, b'{"message": "API key is not valid"}')
                return
            if self._fault("odds"):
                return
            answer = self.api.events(q) if len(seg) == 5 else self.api.event_odds(seg[5])
            if answer is not None:
                body = json.dumps(answer).encode()
                self._send(200, body, {"x-requests-remaining": "19000", "x-requests-used": "1"})
                return
        if answer is None:
            self._send(404, b'{"message": "Object not found"}')
            return
        self._send(200, json.dumps(answer).encode())


class FakeApis:
    """Both APIs on one loopback port (Stats API paths and Odds API v4 paths)."""

    def __init__(self, world: World) -> None:
        handler = type("H", (Handler,), {"api": Api(world), "world": world})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeApis:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------------------
# The worker, asked throughout
# --------------------------------------------------------------------------------------------


class Prober:
    """Asks the worker for /health often and for the current day's /predict-batch now and then."""

    def __init__(self, url: str, world: World, every: float = 0.5, batch_every: int = 40) -> None:
        self.url, self.world, self.every, self.batch_every = url, world, every, batch_every
        self.stop = threading.Event()
        self.answers: Counter = Counter()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self.stop.wait(self.every):
                n += 1
                try:
                    r = client.get("/health")
                    self.answers[r.status_code] += 1
                    if n % self.batch_every == 0:
                        day = self.world.now.astimezone(EASTERN).date().isoformat()
                        r = client.post("/predict-batch", json={"date": day, "write": False})
                        self.answers[r.status_code] += 1
                    if r.status_code >= 500:
                        self.errors.append(f"{r.request.url}: {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))

    @property
    def five_xx(self) -> int:
        return sum(n for code, n in self.answers.items() if code >= 500)


# --------------------------------------------------------------------------------------------
# The replay
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    day: dt.date
    index: int
    at: dt.datetime
    exit_code: int
    steps: dict[str, str]
    failed: dict[str, str]
    faults: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class ReplayResult:
    start: dt.date
    end: dt.date
    runs: list[Run]
    checks: dict[str, Any]
    comparison: dict[str, Any]
    worker: dict[str, Any]
    seconds: float

    def report(self) -> dict[str, Any]:
        failed_runs = [
            {
                "day": str(r.day),
                "run": r.index,
                "at": iso(r.at),
                "faults": r.faults,
                "failed": r.failed,
                "exit_code": r.exit_code,
            }
            for r in self.runs
            if r.failed or r.faults
        ]
        return {
            "days": (self.end - self.start).days + 1,
            "from": str(self.start),
            "to": str(self.end),
            "runs": len(self.runs),
            "runs_exit_nonzero": sum(r.exit_code != 0 for r in self.runs),
            "step_status_counts": {
                name: dict(Counter(r.steps.get(name) for r in self.runs if name in r.steps))
                for name in STEPS
            },
            "step_seconds_total": {
                name: round(sum(r.seconds.get(name, 0.0) for r in self.runs), 1) for name in STEPS
            },
            "runs_with_faults_or_failures": failed_runs,
            "checks": self.checks,
            "backtest_comparison": self.comparison,
            "worker": self.worker,
            "seconds": round(self.seconds, 1),
        }


def run_times(truth: Truth, day: dt.date, every_capture: bool = False) -> list[dt.datetime]:
    """10:00 ET, then a minute after each odds capture that is the last one before some
    game's first pitch (``every_capture``: after every capture of the day)."""
    morning = dt.datetime.combine(day, dt.time(10), EASTERN).astimezone(dt.UTC)
    captures = truth.captures(day)
    if every_capture:
        wanted = set(captures)
    else:
        wanted = set()
        for first in truth.games.loc[truth.games["game_date"] == day, "first_pitch"]:
            before = [t for t in captures if t < first]
            if before:
                wanted.add(before[-1])
    times = {morning} | {t + dt.timedelta(minutes=1) for t in wanted}
    return sorted(t for t in times if t.astimezone(EASTERN).date() == day)


def replay(
    source: Path,
    work: Path,
    start: dt.date,
    days: int,
    register_path: Path,
    events: Path,
    starts_log: Path,
    first: dt.date | None = None,
    faults: dict[tuple[int, int], dict[str, str]] | None = None,
    scratch_day: int | None = None,
    postpone_day: int | None = None,
    market_blend: str = "off",
    log: Any = print,
    props_csv: Path | None = None,
    http_timeout: float = 3.0,
    systems: str | None = None,
) -> ReplayResult:
    """Replay ``days`` days from ``start``; see the module. ``events``: the season's event files
    (the truth the Stats API answers are assembled from; never loaded into the replayed
    warehouse), ``starts_log``: the Statcast start log (the games' gamePks), ``first``: the
    first day followed through the Stats API (default ``start``; from ``first`` to ``start``
    each day's results are read as ``kcast ingest statsapi`` reads them, with no predictions).
    ``faults`` maps (day index, run index) to {api: kind} (api: statsapi, boxscore, feed or
    odds; kind: one of ``FAULT_KINDS``)."""
    t0 = time.perf_counter()
    first = first or start
    end = start + dt.timedelta(days=days - 1)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "replay.duckdb"
    shutil.copy(source, path)
    wh = open_warehouse(str(path))
    register = Register.load(register_path)
    season = season_from_events(wh, events, register, starts_log, first, end, log)
    truth = Truth.assemble(season, wh, read_game_times(props_csv) if props_csv else None)
    cut(wh, first)
    world = World(truth, timeout_delay=http_timeout + 2.0)
    runs: list[Run] = []
    with FakeApis(world) as apis:
        settings = Settings(
            _env_file=None,
            warehouse=str(path),
            statsapi_url=apis.url,
            odds_api_url=apis.url,
            odds_api_key="replay-key",
            http_timeout=http_timeout,
            http_retries=1,
            register_path=register_path,
            market_blend=market_blend,
            reload_seconds=0,
            **({"active_systems": systems} if systems else {}),
        )
        followed = follow(wh, world, settings, first, start, log)
        trained = train_systems(wh, start, work / "models")
        log(f"trained through {start}: " + ", ".join(t.version for t in trained))
        injected = _inject(world, truth, start, scratch_day, postpone_day)
        app = create_app(settings, warehouse=wh)
        with BackgroundServer(app) as server:
            prober = Prober(server.url, world)
            prober.thread.start()
            try:
                for i in range(days):
                    day = start + dt.timedelta(days=i)
                    for j, at in enumerate(run_times(truth, day)):
                        world.now = at
                        world.faults = dict((faults or {}).get((i, j), {}))
                        report = run_daily(wh, None, settings, now=at, register=register)
                        runs.append(
                            Run(
                                day,
                                j,
                                at,
                                report.exit_code,
                                {s.name: s.status for s in report.steps},
                                {s.name: s.detail for s in report.failed},
                                world.faults,
                                {s.name: s.seconds for s in report.steps},
                            )
                        )
                        if report.failed or world.faults:
                            failed = [s.name for s in report.failed]
                            log(
                                f"{day} run {j} {at:%H:%M}Z faults {world.faults}: exit "
                                f"{report.exit_code}; failed {failed}"
                            )
                    log(f"{day}: {sum(1 for r in runs if r.day == day)} runs")
                # the morning after the last day: its results and grades
                world.faults = {}
                for extra in (1, 2):
                    at = dt.datetime.combine(
                        end + dt.timedelta(days=extra), dt.time(10), EASTERN
                    ).astimezone(dt.UTC)
                    world.now = at
                    report = run_daily(wh, end, settings, now=at, register=register)
                    runs.append(
                        Run(
                            end,
                            100 + extra,
                            at,
                            report.exit_code,
                            {s.name: s.status for s in report.steps},
                            {s.name: s.detail for s in report.failed},
                            {},
                        )
                    )
            finally:
                prober.stop.set()
                prober.thread.join(130)
            worker = {
                "answers": dict(prober.answers),
                "5xx": prober.five_xx,
                "errors": prober.errors[:5],
                "health_at_end": httpx.get(f"{server.url}/health", timeout=60).json()["status"],
            }
    checks = check_tables(wh, truth, start, end, injected)
    checks["followed_before_start"] = followed
    checks["plate_appearances"] = feed_against_events(
        wh, truth, first, end, not_played=set(world.postpone)
    )
    checks["games_with_made_up_pk"] = sorted(
        season.games.loc[season.games["pk_note"] != "", "game_id"]
    )
    log(f"replayed in {time.perf_counter() - t0:.0f} s; the event files' warehouse ...")
    # the same warehouse with the season's event files loaded (the feed's rows give way to
    # theirs, as when Retrosheet publishes the season), holding the games from ``first`` on,
    # as the replay does, and not the game it postponed: the backtest over the replayed days
    compared = work / "with_events.duckdb"
    shutil.copy(path, compared)
    events_wh = open_warehouse(str(compared))
    load_events(events_wh, events, register, first, not_played=set(world.postpone))
    settings_bt = settings.model_copy(update={"warehouse": str(compared)})
    bt = run_backtest(
        events_wh,
        start,
        end,
        system_ids=active_ids(settings_bt),
        retrain_days=days + 1,
        settings=settings_bt,
    )
    events_wh.close()
    comparison = compare(wh, bt.predictions, start, end, trained)
    wh.close()
    return ReplayResult(
        start,
        end,
        runs,
        {**checks, "injected": injected},
        comparison,
        worker,
        time.perf_counter() - t0,
    )


def season_from_events(
    wh: Warehouse,
    events: Path,
    register: Register,
    starts_log: Path,
    first: dt.date,
    end: dt.date,
    log: Any = print,
) -> Season:
    """The event files' rows of the days from ``first`` to ``end`` (kcast's parse, nothing
    written), with the start log's gamePks and the umpires' names ``wh`` knows."""
    frames = read_frames([events], register, seasons=[first.year])
    log(f"read {len(frames.games)} games of {first.year} from {events}")
    log_rows = pd.read_csv(starts_log, usecols=["game_pk", "game_date", "pitcher"])
    pks = {
        (int(p), dt.date.fromisoformat(d)): int(k)
        for k, d, p in zip(
            log_rows["game_pk"], log_rows["game_date"], log_rows["pitcher"], strict=True
        )
    }
    names = wh.query("SELECT umpire_id, full_name FROM umpires")
    umpires = dict(zip(names["umpire_id"], names["full_name"], strict=True))
    return Season.from_frames(frames, first, end, pks, umpires)


def follow(
    wh: Warehouse, world: World, settings: Settings, first: dt.date, start: dt.date, log: Any
) -> dict[str, Any]:
    """The days before ``start`` followed through the Stats API: each day's schedule, final
    boxscores and live feeds read the next morning (``kcast ingest statsapi --date D``, what
    ``kcast daily``'s results step runs), with no predictions."""
    totals: Counter = Counter()
    day = first
    # a generous timeout: these days are the history the replay starts from, not a fault test
    with StatsApiClient(settings.statsapi_url, 60.0, settings.http_retries) as api:
        while day < start:
            world.now = dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time(10), EASTERN
            ).astimezone(dt.UTC)
            report = ingest_statsapi(wh, day, client=api)
            missing = [n for n in report.notes if "unavailable" in n]
            if missing:
                raise RuntimeError(f"following {day}: {missing[0]}")
            totals["days"] += 1
            totals["games"] += int(report.stats.get("games", 0))
            totals["plate appearances"] += int(report.stats.get("plate appearances", 0))
            totals["notes"] += len(report.notes)
            day += dt.timedelta(days=1)
    if totals["days"]:
        log(f"followed {first} to {start - dt.timedelta(days=1)}: {dict(totals)}")
    return dict(totals)


def load_events(
    wh: Warehouse,
    events: Path,
    register: Register,
    first: dt.date,
    not_played: Collection[str] = (),
) -> None:
    """Load the season's event files (``kcast ingest retrosheet``), keeping the season's days
    before ``first`` as the replayed warehouse has them (the event files' games of those days
    taken out, the rows that were there put back), and ``players`` as the replay knew them
    (names and sides: the rosters would add the sides of players the replay never met, the
    starters of a start log's days before ``first``).

    The games of ``not_played`` (those the replay postponed) are taken out: the event files
    have them played, the season the daily job lived does not, and their starts would move
    every later start's league rates (the starters' 30-day K%, the league's CSW%) and their
    teams' and pitchers' own figures."""
    tables = [t for t in CUT_TABLES if t != "prop_lines"]
    params = {"s": first.year, "d": first}
    where = "season = $s AND game_date < $d"
    before = {t: wh.query(f"SELECT * FROM {t} WHERE {where}", params) for t in tables}  # noqa: S608
    players = wh.query("SELECT * FROM players")
    ingest_retrosheet(wh, [events], register, seasons=[first.year], workers=2)
    with wh.transaction():
        for table in tables:
            wh.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
            if not_played:
                wh.execute(
                    f"DELETE FROM {table} WHERE game_id IN (SELECT UNNEST($g))",  # noqa: S608
                    {"g": sorted(not_played)},
                )
        for table in reversed(tables):  # games first
            rows = before[table].drop(columns=["updated_at"], errors="ignore")
            if len(rows):
                wh.upsert(table, rows)
        wh.execute("DELETE FROM players")
        wh.upsert("players", players.drop(columns=["updated_at"]))


def feed_against_events(
    wh: Warehouse, truth: Truth, first: dt.date, end: dt.date, not_played: Collection[str] = ()
) -> dict[str, Any]:
    """The plate appearances the daily job stored from the feeds against the event files', game
    by game: counts, and the rows that differ in what the features read. The games of
    ``not_played`` (those the replay postponed: no feed was served for them) are not expected."""
    stored = wh.query(
        "SELECT * FROM plate_appearances WHERE game_date BETWEEN $a AND $b", {"a": first, "b": end}
    )
    plays = truth.season.plays
    theirs = plays[~plays["game_id"].isin(set(not_played))]
    columns = ["batter_id", "pitcher_id", "inning", "lineup_slot", "times_faced", "bats", "throws"]
    columns += ["pitches", "swinging_strikes", "called_strikes", "is_strikeout", "is_walk"]
    key = ["game_id", "pa_index"]
    both = stored.merge(theirs, on=key, how="outer", suffixes=("", "_events"), indicator=True)
    matched = both[both["_merge"] == "both"]
    differ: Counter = Counter()
    for c in columns:
        a, b = matched[c], matched[f"{c}_events"]
        differ[c] = int((~((a == b) | (a.isna() & b.isna()))).sum())
    return {
        "stored": len(stored),
        "sources": stored["source"].value_counts().to_dict(),
        "in_event_files": len(theirs),
        "only_stored": int((both["_merge"] == "left_only").sum()),
        "only_in_event_files": int((both["_merge"] == "right_only").sum()),
        "differences_by_column": {c: n for c, n in differ.items() if n},
    }


def _inject(
    world: World, truth: Truth, start: dt.date, scratch_day: int | None, postpone_day: int | None
) -> dict[str, Any]:
    """A scratched probable (announced in the morning, replaced by the real starter from
    the first capture on) and a postponed game (announced, then postponed at noon ET)."""
    out: dict[str, Any] = {}
    g = truth.games
    if scratch_day is not None:
        day = start + dt.timedelta(days=scratch_day)
        today = g[(g["game_date"] == day) & (g["game_id"].str[-1] == "0")]
        row = today.iloc[0]
        # the scratched pitcher: the team's starter of its latest earlier game in the truth
        s = truth.starts
        earlier = s[(s["team"] == row.home_team) & (pd.to_datetime(s["game_date"]).dt.date < day)]
        if len(earlier) == 0:
            earlier = s[(s["team"] == row.home_team) & (s["game_id"] != row.game_id)]
        wrong = int(earlier.sort_values("game_date").iloc[-1]["pitcher_id"])
        until = run_times(truth, day)[0] + dt.timedelta(minutes=1)  # after the morning run
        world.scratch[row.game_id] = ("home", wrong, until)
        out["scratch"] = {"game_id": row.game_id, "scratched": wrong, "until": iso(until)}
    if postpone_day is not None:
        day = start + dt.timedelta(days=postpone_day)
        today = g[(g["game_date"] == day) & (g["game_id"].str[-1] == "0")]
        row = today.iloc[-1]
        when = dt.datetime.combine(day, dt.time(12), EASTERN).astimezone(dt.UTC)
        world.postpone[row.game_id] = when
        out["postpone"] = {"game_id": row.game_id, "from": iso(when)}
    return out


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def check_tables(
    wh: Warehouse, truth: Truth, start: dt.date, end: dt.date, injected: dict[str, Any]
) -> dict[str, Any]:
    p = {"a": start, "b": end}
    preds = wh.query(
        "SELECT * FROM pitcher_strikeout_predictions WHERE game_date BETWEEN $a AND $b", p
    )
    starts = wh.query(
        "SELECT game_id, pitcher_id FROM pitcher_games WHERE is_start AND game_date "
        "BETWEEN $a AND $b",
        p,
    )
    postponed = {injected["postpone"]["game_id"]} if "postpone" in injected else set()
    days = pd.to_datetime(truth.starts["game_date"]).dt.date
    window = truth.starts[(days >= start) & (days <= end)]
    truth_starts = window[~window["game_id"].isin(postponed)]
    systems = sorted(preds["system_id"].unique())
    have = set(
        zip(preds["game_id"], preds["pitcher_id"].astype(int), preds["system_id"], strict=True)
    )
    unpredicted = [
        (g, int(pid), s)
        for g, pid in zip(starts["game_id"], starts["pitcher_id"], strict=True)
        for s in systems
        if (g, int(pid), s) not in have
    ]
    graded = preds[preds["graded_at"].notna()]
    finished = preds.merge(starts, on=["game_id", "pitcher_id"])
    dup_key = preds.duplicated(["game_id", "pitcher_id", "system_id"]).sum()
    # one pitcher, one day, one system, two games: only a doubleheader may do that
    two = preds.groupby(["pitcher_id", "game_date", "system_id"])["game_id"].nunique()
    lines = wh.query(
        "SELECT snapshot, COUNT(*) AS n, COUNT(DISTINCT captured_at) AS stamps FROM prop_lines "
        "WHERE source = 'odds_api' AND game_date BETWEEN $a AND $b GROUP BY snapshot",
        p,
    )
    captures = lines[lines["snapshot"].str.startswith("capture@")]
    dup_lines = wh.query(
        "SELECT COUNT(*) AS n FROM (SELECT source, game_date, pitcher_name, book, line, snapshot "
        "FROM prop_lines GROUP BY ALL HAVING COUNT(*) > 1)"
    )["n"].iloc[0]
    games = wh.query("SELECT game_id, status FROM games WHERE game_date BETWEEN $a AND $b", p)
    dh = games[games["game_id"].str[-1] != "0"]
    # monitoring views against the table
    view = wh.query(
        "SELECT system_id, COUNT(*) AS n, COUNT(profit) AS bets, SUM(profit) AS units "
        "FROM graded_predictions WHERE game_date BETWEEN $a AND $b GROUP BY system_id",
        p,
    ).set_index("system_id")
    by_hand = {}
    for system_id, rows in graded[graded["actual_strikeouts"].notna()].groupby("system_id"):
        bets = rows[rows["result"].isin(["win", "loss", "push"])]
        # priced at the decision's own rung and book (the side's odds at the row's line for a
        # row without a decision price), as the graded_predictions view prices them
        side = np.where(bets["recommendation"] == "OVER", bets["over_odds"], bets["under_odds"])
        side = pd.to_numeric(pd.Series(side), errors="coerce").to_numpy(float)
        if "decision_odds" in bets:
            own = pd.to_numeric(bets["decision_odds"], errors="coerce").to_numpy(float)
            side = np.where(np.isnan(own), side, own)
        profit = units_of(bets["result"], side)  # kcast's one definition of units won
        ok = ~np.isnan(side)
        by_hand[system_id] = (len(rows), int(ok.sum()), float(profit[ok].sum()))

    def units(s: str) -> float:
        value = view.loc[s, "units"]
        return 0.0 if pd.isna(value) else float(value)  # no priced bet: SUM is NULL

    views_agree = all(
        s in view.index
        and int(view.loc[s, "n"]) == n
        and int(view.loc[s, "bets"]) == b
        and abs(units(s) - u) < 1e-6
        for s, (n, b, u) in by_hand.items()
    )
    void_rows = preds[preds["result"] == "void"]
    snapshots = wh.query(
        "SELECT changes FROM prediction_snapshots WHERE game_date BETWEEN $a AND $b", p
    )
    confirmed = snapshots["changes"].str.startswith("lineup_status: projected -> confirmed")
    return {
        "lineups_at_end": preds["lineup_status"].value_counts().to_dict(),
        "snapshots": {
            "rows": len(snapshots),
            "lineup projected -> confirmed": int(confirmed.sum()),
        },
        "games_stored": len(games),
        "games_final": int((games["status"] == "final").sum()),
        "games_postponed": int((games["status"] == "postponed").sum()),
        "doubleheader_games": sorted(dh["game_id"]),
        "starts_stored": len(starts),
        "starts_in_truth": len(truth_starts),
        "starts_missing": len(truth_starts)
        - len(truth_starts.merge(starts, on=["game_id", "pitcher_id"])),
        "predictions": len(preds),
        "predictions_by_system": preds["system_id"].value_counts().to_dict(),
        "finished_starts_without_prediction": len(unpredicted),
        "graded": len(graded),
        "graded_by_result": graded["result"].value_counts().to_dict(),
        "finished_starts_ungraded": int(finished["graded_at"].isna().sum()),
        "ungraded_total": int(preds["graded_at"].isna().sum()),
        "void": void_rows[["game_id", "pitcher_id", "system_id"]]
        .drop_duplicates(["game_id", "pitcher_id"])
        .to_dict("records"),
        "duplicate_prediction_keys": int(dup_key),
        "pitcher_in_two_games_one_day": int((two > 1).sum()),
        "odds_rows": {
            "open": int(lines.loc[lines["snapshot"] == "open", "n"].sum()),
            "close": int(lines.loc[lines["snapshot"] == "close", "n"].sum()),
            "kept captures": int(captures["n"].sum()),
            "distinct capture snapshots": len(captures),
        },
        "duplicate_line_keys": int(dup_lines),
        "monitoring_views_agree": bool(views_agree),
        "graded_predictions_view": {
            s: [int(r.n), int(r.bets), round(float(r.units or 0), 3)] for s, r in view.iterrows()
        },
    }


COMPARED = (
    "model_version",
    "line",
    "over_odds",
    "under_odds",
    "book",
    "predicted_strikeouts",
    "model_p_over",
    "p_over",
    "market_p_over",
    "edge",
    "confidence",
    "recommendation",
    "pmf",
)


# what the market blend (fitted on graded history) changes; everything else is the model's own
BLEND_COLUMNS = {"p_over", "edge", "confidence", "recommendation"}


def _equal(a: Any, b: Any, column: str) -> bool:
    if column == "pmf":
        a = np.asarray(json.loads(a) if isinstance(a, str) else a, float)
        b = np.asarray(json.loads(b) if isinstance(b, str) else b, float)
        return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-9))
    na, nb = (
        pd.isna(a) if np.isscalar(a) or a is None else False,
        (pd.isna(b) if np.isscalar(b) or b is None else False),
    )
    if na or nb:
        return bool(na and nb)
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return str(a) == str(b)


def compare(
    wh: Warehouse, backtest: pd.DataFrame, start: dt.date, end: dt.date, trained: list
) -> dict[str, Any]:
    """The stored predictions against the backtest's, row by row and column by column."""
    stored = wh.query(
        "SELECT * FROM pitcher_strikeout_predictions WHERE game_date BETWEEN $a AND $b",
        {"a": start, "b": end},
    )
    key = ["game_id", "pitcher_id", "system_id"]
    bt = backtest.copy()
    bt["pitcher_id"] = bt["pitcher_id"].astype(int)
    stored["pitcher_id"] = stored["pitcher_id"].astype(int)
    both = stored.merge(bt, on=key, how="outer", suffixes=("", "_bt"), indicator=True)
    only_daily = both[both["_merge"] == "left_only"]
    only_bt = both[both["_merge"] == "right_only"]
    matched = both[both["_merge"] == "both"]
    diffs: dict[str, int] = {}
    examples: dict[str, Any] = {}
    equal_rows = 0
    explained: Counter = Counter()
    unexplained: list[dict] = []
    # when each price (pitcher, day, book, line, over, under) was first captured, wall clock
    first_seen = wh.query(
        "SELECT pitcher_id, game_date, book, line, over_odds, under_odds, "
        "MIN(updated_at) AS first_stored FROM prop_lines WHERE source = 'odds_api' "
        "AND snapshot LIKE 'capture@%' AND game_date BETWEEN $a AND $b GROUP BY ALL",
        {"a": start, "b": end},
    )

    def price_key(pid: Any, day: Any, book: Any, line: Any, over: Any, under: Any) -> tuple:
        def num(v: Any) -> float | None:
            return None if v is None or pd.isna(v) else float(v)

        return (int(pid), pd.Timestamp(day).date(), str(book), num(line), num(over), num(under))

    seen = {
        price_key(
            r.pitcher_id, r.game_date, r.book, r.line, r.over_odds, r.under_odds
        ): r.first_stored
        for r in first_seen.dropna(subset=["pitcher_id"]).itertuples()
    }
    for row in matched.to_dict("records"):
        bad = [c for c in COMPARED if c in bt.columns and not _equal(row[c], row[f"{c}_bt"], c)]
        if not bad:
            equal_rows += 1
        else:
            day = pd.Timestamp(row["game_date"]).date()
            k = (
                int(row["pitcher_id"]),
                day,
                row["book_bt"],
                float(row["line_bt"]) if not pd.isna(row["line_bt"]) else None,
            )
            first = seen.get(k)
            if set(bad) <= BLEND_COLUMNS:
                explained[
                    "only what the market blend states differs: the daily job fits it on "
                    "everything graded before each day, the backtest on earlier blocks "
                    "only (MLB_MARKET_BLEND=auto); the model's own distribution, "
                    "model_p_over, line and prices are equal"
                ] += 1
            elif first is not None and pd.Timestamp(first) > pd.Timestamp(row["created_at"]):
                explained[
                    "the backtest's line was first stored after the last pre-game "
                    "prediction (an odds snapshot that failed before first pitch was "
                    "taken by a later run)"
                ] += 1
            else:
                unexplained.append({c: str(row.get(c)) for c in key} | {"columns": bad})
        for c in bad:
            diffs[c] = diffs.get(c, 0) + 1
            examples.setdefault(
                c,
                {k: row[k] for k in key}
                | {"daily": str(row[c])[:80], "backtest": str(row[f"{c}_bt"])[:80]},
            )
    return {
        "stored_rows": len(stored),
        "backtest_rows": len(bt),
        "matched_rows": len(matched),
        "rows_equal_in_every_column": equal_rows,
        "columns_compared": [c for c in COMPARED if c in bt.columns],
        "differences_by_column": diffs,
        "differences_explained": dict(explained),
        "differences_unexplained": unexplained[:20],
        "differences_unexplained_count": len(unexplained),
        "difference_examples": examples,
        "only_in_daily": only_daily[key + ["result"]].to_dict("records"),
        "only_in_backtest": only_bt[key].to_dict("records")[:20],
        "only_in_backtest_count": len(only_bt),
        "trained_versions": [t.version for t in trained],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--warehouse",
        type=Path,
        required=True,
        help="history and the season's lines, with none of the season's event files (copied, "
        "never written)",
    )
    ap.add_argument("--register", type=Path, required=True, help="the Chadwick register CSV")
    ap.add_argument(
        "--events",
        type=Path,
        required=True,
        help="the season's event files (YYYYeve.zip): the truth the Stats API answers are "
        "assembled from",
    )
    ap.add_argument(
        "--starts", type=Path, required=True, help="the Statcast start log (the gamePks)"
    )
    ap.add_argument("--start", default="2025-06-03")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument(
        "--first",
        default=None,
        help="the first day followed through the Stats API (default: --start); the days "
        "before --start are read as the daily job's results step reads them",
    )
    ap.add_argument("--systems", default=None, help="MLB_ACTIVE_SYSTEMS (default: kcast's)")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temp)")
    ap.add_argument("--market-blend", default="off", choices=["off", "auto"])
    ap.add_argument(
        "--props",
        type=Path,
        default=None,
        help="the strikeoutcenter lines file, for the games' real first pitch times",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="kcast-replay-"))
    faults = {
        (1, 0): {"statsapi": "500"},
        (3, 1): {"odds": "429-once"},
        (3, 2): {"odds": "429"},
        (5, 0): {"boxscore": "timeout"},
        (6, 0): {"feed": "500"},
        (7, 0): {"statsapi": "malformed"},
        (9, 2): {"odds": "malformed"},
        (11, 1): {"statsapi": "timeout"},
        (13, 0): {"odds": "500"},
    }
    result = replay(
        args.warehouse,
        work,
        dt.date.fromisoformat(args.start),
        args.days,
        args.register,
        args.events,
        args.starts,
        first=dt.date.fromisoformat(args.first) if args.first else None,
        faults=faults,
        scratch_day=2,
        postpone_day=4,
        market_blend=args.market_blend,
        props_csv=args.props,
        systems=args.systems,
    )
    report = result.report()
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)
    c = report["checks"]
    ok = (
        c["finished_starts_ungraded"] == 0
        and c["duplicate_prediction_keys"] == 0
        and c["monitoring_views_agree"]
        and report["worker"]["5xx"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
