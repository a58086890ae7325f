"""The Odds API client against a loopback server that answers in The Odds API's documented shape.

The shape follows The Odds API v4 documentation:
https://the-odds-api.com/liveapi/guides/v4/#get-events (GET /v4/sports/{sport}/events: a list of
{id, sport_key, sport_title, commence_time, home_team, away_team}) and
https://the-odds-api.com/liveapi/guides/v4/#get-event-odds (GET /v4/sports/{sport}/events/
{eventId}/odds: the event with ``bookmakers`` -> {key, title, last_update, markets} -> {key,
last_update, outcomes} -> {name "Over"/"Under", description (the player), price, point}); the
Outcome fields are described in https://the-odds-api.com/api-reference/v4/schema.yml.

The prices are real: every book's 2025-07-22 pitcher_strikeouts prices from the strikeoutcenter
file (itself snapshots of The Odds API). The first capture serves each event's first snapshot
(open prices), the second its last pre-game snapshot (close prices).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from kcast.config import get_settings
from kcast.data.odds_api import OddsApiClient, ingest_odds_api
from kcast.data.starts import ingest_starts
from kcast.errors import ConfigError, SourceUnavailableError
from kcast.warehouse import open_warehouse
from tests.conftest import PROPS, STATCAST

DAY = dt.date(2025, 7, 22)
KEY = "loopback-test-key"
BOOK_KEYS = {
    "BetRivers": "betrivers",
    "DraftKings": "draftkings",
    "BetMGM": "betmgm",
    "Bovada": "bovada",
    "FanDuel": "fanduel",
    "BetOnline.ag": "betonlineag",
    "Fanatics": "fanatics",
    "MyBookie.ag": "mybookieag",
}


def _utc(stamp: str) -> str:
    return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def day_rows() -> pd.DataFrame:
    """The day's per-book rows (no consensus: the API serves books), with capture flags."""
    rows = pd.read_csv(PROPS / "strikeoutcenter_k_props_2025.csv.gz")
    rows = rows[(rows["game_date"] == str(DAY)) & (rows["book"] != "consensus")].copy()
    first = rows.groupby("event_id")["open_snapshot_at"].transform("min")
    last = rows.groupby("event_id")["close_snapshot_at"].transform("max")
    rows["in_open"] = rows["open_snapshot_at"] == first
    rows["in_close"] = rows["close_snapshot_at"] == last
    return rows


def _event(rows: pd.DataFrame) -> dict:
    r = rows.iloc[0]
    return {
        "id": r["event_id"],
        "sport_key": "baseball_mlb",
        "sport_title": "MLB",
        "commence_time": _utc(r["game_time"]),
        "home_team": r["home_team"],
        "away_team": r["away_team"],
    }


def _event_odds(rows: pd.DataFrame, capture: str) -> dict:
    """One event's answer for the ``open`` or ``close`` capture."""
    served = rows[rows[f"in_{capture}"]]
    bookmakers = []
    for book, group in served.groupby("book"):
        stamp = _utc(group[f"{capture}_snapshot_at"].max())
        outcomes = []
        for r in group.itertuples():
            for side in ("over", "under"):
                outcomes.append(
                    {
                        "name": side.title(),
                        "description": r.pitcher_name,
                        "price": int(getattr(r, f"{capture}_{side}_odds")),
                        "point": float(r.line),
                    }
                )
        bookmakers.append(
            {
                "key": BOOK_KEYS[book],
                "title": book,
                "last_update": stamp,
                "markets": [
                    {"key": "pitcher_strikeouts", "last_update": stamp, "outcomes": outcomes}
                ],
            }
        )
    return {**_event(rows), "bookmakers": bookmakers}


class OddsServer:
    """A loopback HTTP server with The Odds API's two endpoints; ``capture`` picks the prices."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        self.capture = "open"
        self.requests: list[tuple[str, dict]] = []
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append((url.path, query))
                status, body = server.answer(url.path, query)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-requests-remaining", "480")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, path: str, query: dict) -> tuple[int, object]:
        if self.status != 200:
            return self.status, {"message": "answering with an error on purpose"}
        if query.get("apiKey") != KEY:
            return 401, {"message": "API key is not valid"}
        parts = path.strip("/").split("/")
        if parts[:3] != ["v4", "sports", "baseball_mlb"] or parts[3] != "events":
            return 404, {"message": "unknown path"}
        if len(parts) == 4:
            return 200, [_event(g) for _, g in self.rows.groupby("event_id")]
        event = self.rows[self.rows["event_id"] == parts[4]]
        if event.empty or parts[5:] != ["odds"]:
            return 404, {"message": "Event not found"}
        return 200, _event_odds(event, self.capture)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(day_rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Iterator[OddsServer]:
    srv = OddsServer(day_rows)
    monkeypatch.setenv("KCAST_ODDS_API_URL", srv.url)
    monkeypatch.setenv("ODDS_API_KEY", KEY)
    monkeypatch.setenv("KCAST_HTTP_RETRIES", "0")
    get_settings.cache_clear()
    yield srv
    srv.close()


@pytest.fixture
def wh():
    wh = open_warehouse()
    ingest_starts(wh, STATCAST / "joey11600_starts_2024_2025.csv.gz", seasons=[2025])
    return wh


def _stored(wh, snapshot: str) -> pd.DataFrame:
    rows = wh.query(
        "SELECT * FROM prop_lines WHERE source = 'odds_api' AND snapshot = $s AND book <> "
        "'consensus'",
        {"s": snapshot},
    )
    return rows.set_index(["pitcher_name", "book", "line"]).sort_index()


def test_open_once_close_every_capture(server: OddsServer, wh, register, day_rows) -> None:
    first = ingest_odds_api(wh, register, DAY)
    assert first.stats["events"] == day_rows["event_id"].nunique() == 15
    assert first.stats["requests remaining"] == "480"
    server.capture = "close"
    second = ingest_odds_api(wh, register, DAY)
    assert second.inserted > 0
    file = day_rows.set_index(["pitcher_name", "book", "line"]).sort_index()
    file = file[file["in_open"] | file["in_close"]]  # the rest lived between two snapshots
    opening, closing = _stored(wh, "open"), _stored(wh, "close")
    assert len(opening) == len(closing) == len(file) == 294
    # a line seen at the first capture opens at its first price; one first seen later opens there
    seen_first = file["in_open"]
    assert (opening.loc[seen_first, "over_odds"] == file.loc[seen_first, "open_over_odds"]).all()
    assert (opening.loc[seen_first, "under_odds"] == file.loc[seen_first, "open_under_odds"]).all()
    later = ~seen_first
    assert later.any()
    assert (opening.loc[later, "over_odds"] == file.loc[later, "close_over_odds"]).all()
    # the close is the last price seen
    at_close = file["in_close"]
    assert (closing.loc[at_close, "over_odds"] == file.loc[at_close, "close_over_odds"]).all()
    assert (closing.loc[at_close, "under_odds"] == file.loc[at_close, "close_under_odds"]).all()
    gone = ~at_close
    assert gone.any()
    assert (closing.loc[gone, "over_odds"] == file.loc[gone, "open_over_odds"]).all()
    # the main line at close: the line offered by the most books in the last snapshot, as in
    # the file's is_main_line_at_close
    assert (
        closing.loc[at_close, "is_main"] == file.loc[at_close, "is_main_line_at_close"].astype(bool)
    ).all()
    # US Eastern date, event ids, capture times from the markets' last_update (UTC)
    assert set(closing["event_id"]) == set(day_rows["event_id"])
    served = file[at_close]
    stamp = served.groupby(["event_id", "book"])["close_snapshot_at"].transform("max")
    expected = pd.to_datetime(stamp, utc=True).dt.tz_localize(None).dt.floor("s")
    assert (closing.loc[at_close, "captured_at"] == expected).all()


def test_rerun_adds_no_rows(server: OddsServer, wh, register) -> None:
    """The same capture again changes nothing; a later capture is kept beside the first (its
    own snapshot), with no new open rows."""
    first = dt.datetime(2025, 7, 22, 15, 0, tzinfo=dt.UTC)
    ingest_odds_api(wh, register, DAY, now=first)
    before = wh.count("prop_lines")
    report = ingest_odds_api(wh, register, DAY, now=first)
    assert wh.count("prop_lines") == before and report.inserted == 0
    ingest_odds_api(wh, register, DAY, now=first + dt.timedelta(hours=2))
    snaps = wh.query(
        "SELECT snapshot, COUNT(*) AS n FROM prop_lines WHERE source = 'odds_api' GROUP BY 1"
    ).set_index("snapshot")["n"]
    assert set(snaps.index) == {
        "open",
        "close",
        "capture@2025-07-22T15:00:00Z",
        "capture@2025-07-22T17:00:00Z",
    }
    assert snaps["capture@2025-07-22T15:00:00Z"] == snaps["capture@2025-07-22T17:00:00Z"]
    assert snaps["open"] == snaps["close"] == snaps["capture@2025-07-22T15:00:00Z"]


def test_names_matched_to_that_days_starts(server: OddsServer, wh, register) -> None:
    ingest_odds_api(wh, register, DAY)
    main = wh.query(
        "SELECT pitcher_name, pitcher_id, team, game_id, over_odds, under_odds FROM prop_lines "
        "WHERE source = 'odds_api' AND book = 'consensus' AND snapshot = 'close' AND is_main "
        "ORDER BY pitcher_name"
    ).set_index("pitcher_name")
    assert len(main) == 29  # two starters in each of 15 games, one without a line
    assert main["game_id"].notna().all()
    assert tuple(main.loc["Landen Roupp", ["pitcher_id", "team"]]) == (694738, "SFN")
    assert tuple(main.loc["Daniel Davis", ["pitcher_id", "team"]]) == (669721, "ATL")


def test_consensus_of_one_book_is_that_book(server: OddsServer, wh, register) -> None:
    ingest_odds_api(wh, register, DAY)
    rows = wh.query(
        "SELECT pitcher_name, line, book, over_odds, under_odds FROM prop_lines "
        "WHERE source = 'odds_api' AND snapshot = 'open'"
    )
    per_line = rows[rows["book"] != "consensus"].groupby(["pitcher_name", "line"])
    single = per_line.filter(lambda g: len(g) == 1).set_index(["pitcher_name", "line"])
    consensus = rows[rows["book"] == "consensus"].set_index(["pitcher_name", "line"])
    assert len(single) == 32
    assert (consensus.loc[single.index, "over_odds"] == single["over_odds"]).all()
    assert (consensus.loc[single.index, "under_odds"] == single["under_odds"]).all()
    # several books: the mean of their implied probabilities, back to American odds
    many = per_line.filter(lambda g: len(g) >= 6)
    for (pitcher, line), group in many.groupby(["pitcher_name", "line"]):
        probs = [100 / (o + 100) if o > 0 else -o / (100 - o) for o in group["over_odds"]]
        p = sum(probs) / len(probs)
        american = -round(100 * p / (1 - p)) if p >= 0.5 else round(100 * (1 - p) / p)
        assert consensus.loc[(pitcher, line), "over_odds"] == american


def test_requests_follow_the_documented_parameters(server: OddsServer, wh, register) -> None:
    ingest_odds_api(wh, register, DAY)
    events = [q for path, q in server.requests if path.endswith("/events")]
    assert events == [
        {
            "apiKey": KEY,
            "dateFormat": "iso",
            "commenceTimeFrom": "2025-07-22T04:00:00Z",  # midnight US Eastern (EDT)
            "commenceTimeTo": "2025-07-23T04:00:00Z",
        }
    ]
    odds = [q for path, q in server.requests if path.endswith("/odds")]
    assert len(odds) == 15
    assert all(
        q
        == {
            "apiKey": KEY,
            "regions": "us",
            "markets": "pitcher_strikeouts",
            "oddsFormat": "american",
            "dateFormat": "iso",
        }
        for q in odds
    )


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch, register) -> None:
    monkeypatch.delenv("ODDS_API_KEY", raising=False)
    get_settings.cache_clear()
    wh = open_warehouse()
    with pytest.raises(ConfigError, match="ODDS_API_KEY is not set"):
        ingest_odds_api(wh, register, DAY)
    with pytest.raises(ConfigError, match="ODDS_API_KEY"):
        OddsApiClient.from_settings()
    assert wh.count("prop_lines") == 0


def test_rejected_key_writes_nothing(server: OddsServer, wh, register, monkeypatch) -> None:
    monkeypatch.setenv("ODDS_API_KEY", "wrong-key")
    get_settings.cache_clear()
    before = wh.count("prop_lines")
    with pytest.raises(SourceUnavailableError, match="401"):
        ingest_odds_api(wh, register, DAY)
    assert "wrong-key" not in str(server.requests[-1][0])
    assert wh.count("prop_lines") == before


def test_server_error_is_reported(server: OddsServer, wh, register) -> None:
    server.status = 503
    with pytest.raises(SourceUnavailableError, match="503"):
        ingest_odds_api(wh, register, DAY)
    assert wh.count("prop_lines") == 0
