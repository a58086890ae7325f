"""The Stats API's live feed against the event file: HOU at TOR, 2024-07-01, plate appearance by
plate appearance.

The real feed (``feed_live_744914_dsotm.json``) is served on loopback with the real schedule and
boxscore of the day; ``kcast ingest statsapi`` stores its plate appearances. The same game is in
Retrosheet's 2024 event file (``2024TOR.EVA``). Every plate appearance must agree in batter,
pitcher, inning, slot, times through the order, sides, outcome, pitches, swinging and called
strikes; the only difference allowed is named below with its reason.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from kcast.data.retrosheet import ingest_retrosheet, resolve_archives
from kcast.data.statsapi import StatsApiClient, ingest_statsapi
from kcast.data.statsapi_feed import plate_appearances
from kcast.errors import InputError
from kcast.warehouse import open_warehouse
from tests.conftest import EVENTS
from tests.statsapi_server import FEED_LIVE_744914, Reply, StatsApiServer

GAME = "TOR202407010"
COMPARED = (
    "inning",
    "batting_team",
    "pitching_team",
    "batter_id",
    "pitcher_id",
    "lineup_slot",
    "times_faced",
    "bats",
    "throws",
    "pitches",
    "swinging_strikes",
    "called_strikes",
    "is_strikeout",
    "is_walk",
)
# Retrosheet's markers between pitches, which the feed's pitch list has no counterpart for:
# "." where play stopped for something other than a pitch (a substitution, a mound visit, a
# stolen base), ">" a runner going on the pitch, "+" and 1-3 pickoff throws. A pitch the
# catcher blocked ("*") is in both (the feed's W, a blocked swinging strike).
MARKERS = re.compile(r"[.>+123]")


@pytest.fixture(scope="module")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Retrosheet's 2024 Toronto home games and the season's rosters, unpacked."""
    folder = tmp_path_factory.mktemp("tor2024")
    with zipfile.ZipFile(EVENTS / "2024eve.zip") as zf:
        for name in zf.namelist():
            if name == "2024TOR.EVA" or name.endswith("2024.ROS"):
                (folder / name).write_bytes(zf.read(name))
    return folder


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    from kcast.config import get_settings

    with StatsApiServer() as srv:
        monkeypatch.setenv("KCAST_STATSAPI_URL", srv.url)
        get_settings.cache_clear()
        yield srv


def _events(wh, folder: Path, register) -> None:
    archives = resolve_archives(folder, [2024], Path("unused"), "http://unused")
    ingest_retrosheet(wh, archives, register, seasons=[2024], workers=1)


def _feed_day(wh, server: StatsApiServer):
    with StatsApiClient(server.url, timeout=5, retries=0) as client:
        return ingest_statsapi(wh, "2024-07-01", client=client)


def _game_rows(wh) -> pd.DataFrame:
    return wh.query(
        "SELECT * FROM plate_appearances WHERE game_id = $g ORDER BY pa_index", {"g": GAME}
    )


def test_the_feed_equals_the_event_file(event_file: Path, server, register, tmp_path: Path) -> None:
    feed_wh = open_warehouse(str(tmp_path / "feed.duckdb"))
    retro_wh = open_warehouse(str(tmp_path / "retro.duckdb"))
    report = _feed_day(feed_wh, server)
    _events(retro_wh, event_file, register)
    feed, retro = _game_rows(feed_wh), _game_rows(retro_wh)
    assert report.stats["plate appearances"] == 68
    assert len(feed) == len(retro) == 68
    assert set(feed["source"]) == {"statsapi_feed"} and set(feed["source_rank"]) == {30}
    # plate appearance by plate appearance
    differences = [
        (i + 1, column, a, b)
        for i, (fa, ra) in enumerate(
            zip(feed.to_dict("records"), retro.to_dict("records"), strict=True)
        )
        for column in COMPARED
        if (a := fa[column]) != (b := ra[column])
    ]
    assert differences == []
    # the pitch sequences: equal once Retrosheet's markers are taken out; 13 plate appearances
    # carry them
    bare = retro["pitch_sequence"].str.replace(MARKERS, "", regex=True)
    assert (feed["pitch_sequence"] == bare).all()
    assert int((feed["pitch_sequence"] != retro["pitch_sequence"]).sum()) == 13
    # the totals the features read: strikeouts per batter, batters faced and pitches per pitcher
    for by, value in (("batter_id", "is_strikeout"), ("pitcher_id", "pitches")):
        pd.testing.assert_series_equal(
            feed.groupby(by)[value].sum(), retro.groupby(by)[value].sum()
        )
    pd.testing.assert_series_equal(
        feed.groupby("pitcher_id").size(), retro.groupby("pitcher_id").size()
    )
    # the starters: Hunter Brown 5 K / 23 BF / 99 pitches, Yariel Rodriguez 6 / 23 / 83 (the
    # boxscore's lines)
    starts = feed.groupby("pitcher_id").agg(k=("is_strikeout", "sum"), bf=("pa_index", "size"))
    starts["pitches"] = feed.groupby("pitcher_id")["pitches"].sum()
    assert starts.loc[686613].tolist() == [5, 23, 99]
    assert starts.loc[684320].tolist() == [6, 23, 83]
    # every player of the feed's gameData with his sides (a switch-hitter's S stored as B)
    people = json.loads(FEED_LIVE_744914.read_bytes())["gameData"]["players"].values()
    stored = feed_wh.query("SELECT player_id, bats, throws FROM players").set_index("player_id")
    for person in people:
        side = {"S": "B"}.get(person["batSide"]["code"], person["batSide"]["code"])
        assert stored.loc[person["id"]].tolist() == [side, person["pitchHand"]["code"]]
    feed_wh.close(), retro_wh.close()


def test_the_event_file_replaces_the_feed_and_is_never_replaced_by_it(
    event_file: Path, server, register
) -> None:
    wh = open_warehouse()
    _feed_day(wh, server)
    assert set(_game_rows(wh)["source"]) == {"statsapi_feed"}
    _events(wh, event_file, register)
    rows = _game_rows(wh)
    assert len(rows) == 68 and set(rows["source"]) == {"retrosheet_events"}
    assert (rows["source_rank"] == 50).all()
    # the daily job reading the day again: the game has its plate appearances, no feed fetched
    hits = server.hits("/api/v1.1/game/744914/feed/live")
    report = _feed_day(wh, server)
    assert server.hits("/api/v1.1/game/744914/feed/live") == hits
    assert report.stats["plate appearances"] == 0
    assert set(_game_rows(wh)["source"]) == {"retrosheet_events"}
    wh.close()


def test_a_feed_that_cannot_be_fetched_is_a_note_and_fetched_next_time(server) -> None:
    wh = open_warehouse()
    server.route("/api/v1.1/game/744914/feed/live", Reply(status=503))
    report = _feed_day(wh, server)
    assert any("live feed of TOR202407010" in n and "unavailable" in n for n in report.notes), (
        report.notes
    )
    assert _game_rows(wh).empty and wh.count("pitcher_games") > 0  # the boxscore is stored
    server.route("/api/v1.1/game/744914/feed/live", FEED_LIVE_744914)
    assert _feed_day(wh, server).stats["plate appearances"] == 68
    wh.close()


def test_a_malformed_feed_stores_nothing(server) -> None:
    wh = open_warehouse()
    server.route("/api/v1.1/game/744914/feed/live", Reply(body=b'{"liveData": {"plays": 3}}'))
    with pytest.raises(InputError, match=r"/api/v1.1/game/744914/feed/live.*allPlays"):
        _feed_day(wh, server)
    assert wh.count("games") == wh.count("plate_appearances") == 0
    feed = json.loads(FEED_LIVE_744914.read_bytes())
    del feed["liveData"]["plays"]["allPlays"][5]["matchup"]["batter"]
    game = {"game_id": GAME, "game_date": None, "season": 2024, "game_type": "regular"}
    game |= {"home_team": "TOR", "away_team": "HOU"}
    with pytest.raises(InputError, match=r"feed: allPlays\[5\] has no batter or pitcher id"):
        plate_appearances(feed, game, "feed")
    wh.close()


def _game() -> dict:
    return {
        "game_id": GAME,
        "game_date": None,
        "season": 2024,
        "game_type": "regular",
        "home_team": "TOR",
        "away_team": "HOU",
    }


def _first(feed: dict, event: str) -> tuple[int, dict]:
    plays = feed["liveData"]["plays"]["allPlays"]
    return next((i, p) for i, p in enumerate(plays) if p["result"]["eventType"] == event)


def _change(kind: str, player: int, balls: int, strikes: int, **extra) -> dict:
    return {
        "type": "action",
        "isPitch": False,
        "count": {"balls": balls, "strikes": strikes, "outs": 0},
        "details": {"eventType": kind},
        "player": {"id": player},
        **extra,
    }


@pytest.mark.parametrize(("count", "charged_to_the_first"), [((3, 1), True), ((1, 1), False)])
def test_a_walk_a_reliever_inherits_in_a_hitters_count_is_the_first_pitchers(
    count: tuple[int, int], charged_to_the_first: bool
) -> None:
    """Rule 9.16(h), as Chadwick applies it to the event files: a reliever who comes in with the
    count 2-0, 2-1, 3-0, 3-1 or 3-2 and walks the batter: the walk is the previous pitcher's.
    (The real feed's first walk, with a pitching change put in after its second pitch.)"""
    feed = json.loads(FEED_LIVE_744914.read_bytes())
    index, play = _first(feed, "walk")
    first = play["matchup"]["pitcher"]["id"]
    reliever = 999001
    play["playEvents"].insert(2, _change("pitching_substitution", reliever, *count))
    play["matchup"]["pitcher"]["id"] = reliever
    rows = plate_appearances(feed, _game(), "feed")
    walk = next(r for r in rows if r["is_walk"])
    assert walk["pitcher_id"] == (first if charged_to_the_first else reliever)


def test_a_strikeout_of_a_pinch_hitter_who_came_up_with_two_strikes_is_the_first_batters() -> None:
    """Rule 9.15(b): the strikeout is the replaced batter's (a pinch-hitter put in with two
    strikes on the real feed's first strikeout); the pinch-hitter's slot is the batter's."""
    feed = json.loads(FEED_LIVE_744914.read_bytes())
    index, play = _first(feed, "strikeout")
    batter = play["matchup"]["batter"]["id"]
    pitches = [i for i, e in enumerate(play["playEvents"]) if e.get("isPitch")]
    sub = _change(
        "offensive_substitution",
        999002,
        0,
        2,
        position={"code": "11", "abbreviation": "PH"},
        replacedPlayer={"id": batter},
    )
    play["playEvents"].insert(pitches[-1], sub)
    play["matchup"]["batter"]["id"] = 999002
    rows = plate_appearances(feed, _game(), "feed")
    strikeout = next(r for r in rows if r["is_strikeout"])
    assert strikeout["batter_id"] == batter
