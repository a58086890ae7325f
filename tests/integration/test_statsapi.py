"""MLB Stats API: real statsapi.mlb.com responses served on loopback, real values in the warehouse.

The server (tests/statsapi_server.py) answers at the API's own paths with the real JSON files in
``../shared/data/statsapi``; every other path is a 404, so two of the three boxscores of
2024-07-01 are missing, as they would be if the API failed for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from kcast.data.ingest import IngestReport
from kcast.data.statsapi import (
    SLATE_COLUMNS,
    StatsApiClient,
    _complete_hands,
    assign_game_ids,
    fetch_slate,
    game_status,
    game_type,
    ingest_statsapi,
    outs_from_innings,
    parse_boxscore,
    parse_schedule,
    person_row,
)
from kcast.errors import InputError, SourceUnavailableError
from kcast.warehouse import open_warehouse
from tests.conftest import RETRO_CSV
from tests.statsapi_server import (
    BOXSCORE_744914,
    SCHEDULE_2024_07_01,
    SCHEDULE_SPRING_2019_03_09,
    Reply,
    Sequence,
    StatsApiServer,
)

DAY = "2024-07-01"
SPRING_DAY = "2019-03-09"
GAME_IDS = {"TOR202407010": 744914, "WAS202407010": 744840, "COL202407010": 746535}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    """The loopback Stats API, with KCAST_STATSAPI_URL pointing at it and a short timeout."""
    from kcast.config import get_settings

    with StatsApiServer() as srv:
        monkeypatch.setenv("KCAST_STATSAPI_URL", srv.url)
        monkeypatch.setenv("KCAST_HTTP_TIMEOUT", "2")
        monkeypatch.setenv("KCAST_HTTP_RETRIES", "1")
        get_settings.cache_clear()
        yield srv


@pytest.fixture
def client(server: StatsApiServer):
    with StatsApiClient(backoff=0.01) as c:
        yield c


def _data_counts(wh) -> dict[str, int]:
    counts = wh.counts()
    counts.pop("ingest_log")
    return counts


# --------------------------------------------------------------------------------------------
# A real day: 2024-07-01
# --------------------------------------------------------------------------------------------


def test_day_games_and_starters(server: StatsApiServer, client: StatsApiClient) -> None:
    wh = open_warehouse()
    report = ingest_statsapi(wh, DAY, client=client)

    games = wh.query("SELECT * FROM games ORDER BY game_id").set_index("game_id")
    assert dict(games["mlb_game_pk"]) == {g: pk for g, pk in sorted(GAME_IDS.items())}
    assert dict(games["home_team"]) == {
        "COL202407010": "COL",
        "TOR202407010": "TOR",
        "WAS202407010": "WAS",
    }
    assert dict(games["away_team"]) == {
        "COL202407010": "MIL",
        "TOR202407010": "HOU",
        "WAS202407010": "NYN",
    }
    assert set(games["status"]) == {"final"}
    assert set(games["game_type"]) == {"regular"}
    assert set(games["source"]) == {"statsapi"}
    tor = games.loc["TOR202407010"]
    assert tor["park_id"] == "mlb:14"  # Rogers Centre
    assert tor["day_night"] == "day"
    assert tor["start_time"] == "2024-07-01T19:07:00Z"
    assert (tor["away_runs_scored"], tor["home_runs_scored"]) == (3, 1)
    assert (tor["temperature"], tor["wind_speed"]) == (69, 8)  # from the boxscore's info
    assert str(tor["game_date"])[:10] == DAY and tor["season"] == 2024 and tor["game_number"] == 0
    # the non-hydrated schedule names no probable starters
    assert games["home_probable_id"].isna().all()

    starters = wh.query(
        "SELECT p.*, pl.full_name FROM pitcher_games p JOIN players pl "
        "ON pl.player_id = p.pitcher_id WHERE is_start ORDER BY pitcher_id"
    ).set_index("pitcher_id")
    assert list(starters.index) == [684320, 686613]
    brown = starters.loc[686613]  # Hunter Brown, HOU at TOR
    assert brown["full_name"] == "Hunter Brown"
    assert (brown["strikeouts"], brown["batters_faced"], brown["pitches"]) == (5, 23, 99)
    assert (brown["outs"], brown["strikes"], brown["walks"], brown["hits"]) == (18, 62, 3, 2)
    assert (brown["team"], brown["opponent"], bool(brown["is_home"])) == ("HOU", "TOR", False)
    rodriguez = starters.loc[684320]  # Yariel Rodríguez, TOR
    assert rodriguez["full_name"] == "Yariel Rodríguez"
    assert (rodriguez["strikeouts"], rodriguez["batters_faced"], rodriguez["pitches"]) == (
        6,
        23,
        83,
    )
    assert rodriguez["outs"] == 20  # 6.2 innings
    assert (rodriguez["team"], bool(rodriguez["is_home"])) == ("TOR", True)

    pitchers = wh.query("SELECT * FROM pitcher_games ORDER BY team, appearance_seq")
    assert len(pitchers) == 7 and set(pitchers["game_id"]) == {"TOR202407010"}
    assert list(pitchers.loc[pitchers["team"] == "HOU", "pitcher_id"]) == [
        686613,
        606160,
        650556,
        623352,
    ]

    batting = wh.query("SELECT * FROM team_batting_games ORDER BY team").set_index("team")
    hou, torb = batting.loc["HOU"], batting.loc["TOR"]
    assert (hou["plate_appearances"], hou["strikeouts"], hou["walks"]) == (32, 9, 2)
    assert (hou["pa_vs_starter"], hou["so_vs_starter"]) == (23, 6)  # against Rodríguez
    assert (torb["plate_appearances"], torb["strikeouts"], torb["walks"]) == (36, 7, 4)
    assert (torb["pa_vs_starter"], torb["so_vs_starter"]) == (23, 5)  # against Brown
    # the boxscore has no batting sides: lineup handedness stays unknown
    assert batting[["lineup_lhb", "lineup_rhb", "lineup_shb"]].isna().all().all()

    # two boxscores are not served: reported, the rest stored
    missing = [n for n in report.notes if "unavailable" in n]
    assert len(missing) == 2
    assert any("WAS202407010" in n and "744840" in n and "404" in n for n in missing)
    assert any("COL202407010" in n and "746535" in n and "404" in n for n in missing)
    assert report.stats["boxscores"] == "1 of 3 final games"
    assert report.stats["starts"] == 2 and report.stats["starters' strikeouts"] == 11
    assert "MLB Advanced Media" in report.stats["copyright"]
    for pk in GAME_IDS.values():
        assert server.hits(f"/api/v1/game/{pk}/boxscore") == 1
    log = wh.query("SELECT status, kind, message FROM ingest_log")
    assert list(log["status"]) == ["ok"] and list(log["kind"]) == ["statsapi"]
    assert "746535" in log["message"].iloc[0]


def test_boxscore_equals_retrosheet(server: StatsApiServer, client, register) -> None:
    """Every pitcher line and team batting line of TOR202407010 equals Retrosheet's own CSVs."""
    wh = open_warehouse()
    ingest_statsapi(wh, DAY, client=client)
    ours = wh.query("SELECT * FROM pitcher_games").set_index("pitcher_id")

    retro = pd.read_csv(RETRO_CSV / "2024pitching.csv.gz")
    retro = retro[retro["gid"] == "TOR202407010"].copy()
    retro["pitcher_id"] = retro["id"].map(register.retro_to_mlbam)
    assert retro["pitcher_id"].notna().all()
    retro = retro.set_index(retro["pitcher_id"].astype(int))
    assert sorted(ours.index) == sorted(retro.index)
    pairs = {
        "outs": "p_ipouts",
        "batters_faced": "p_bfp",
        "strikeouts": "p_k",
        "walks": "p_w",  # Retrosheet's walks include intentional walks
        "hits": "p_h",
        "home_runs": "p_hr",
        "runs": "p_r",
        "earned_runs": "p_er",
        "hit_batters": "p_hbp",
        "appearance_seq": "p_seq",
    }
    for ours_col, retro_col in pairs.items():
        assert dict(ours[ours_col].astype(int)) == dict(retro[retro_col].astype(int)), ours_col
    assert dict(ours["is_start"]) == dict(retro["p_gs"].fillna(0) == 1)

    team = pd.read_csv(RETRO_CSV / "2024teamstats.csv.gz")
    team = team[team["gid"] == "TOR202407010"].set_index("team")
    batting = wh.query("SELECT * FROM team_batting_games").set_index("team")
    for col, rcol in (("plate_appearances", "b_pa"), ("strikeouts", "b_k"), ("walks", "b_w")):
        assert dict(batting[col].astype(int)) == dict(team[rcol].astype(int)), col


def test_walks_already_include_intentional_walks() -> None:
    """In the API's own lines BB includes IBB: AB + BB + HBP + SH + SF + CI = BF (or PA).

    Checked on every stats block of the real boxscore that has an intentional walk, so
    ``baseOnBalls`` is stored as it is, without adding ``intentionalWalks``.
    """
    blocks = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("intentionalWalks"), int) and node["intentionalWalks"] > 0:
                blocks.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(BOXSCORE_744914.read_text()))
    assert len(blocks) == 12
    for b in blocks:
        total = b.get("battersFaced", b.get("plateAppearances"))
        parts = (
            b["atBats"]
            + b["baseOnBalls"]
            + b["hitByPitch"]
            + b["sacBunts"]
            + b["sacFlies"]
            + b["catchersInterference"]
        )
        assert parts == total
        assert parts + b["intentionalWalks"] != total


def test_rerun_changes_no_row_count(server: StatsApiServer, client) -> None:
    wh = open_warehouse()
    ingest_statsapi(wh, DAY, client=client)
    before = _data_counts(wh)
    report = ingest_statsapi(wh, DAY, client=client)
    assert _data_counts(wh) == before
    mine = ("games", "pitcher_games", "players", "team_batting_games")
    assert {t: before[t] for t in mine} == {
        "games": 3,
        "pitcher_games": 7,
        "players": 50,  # the pitchers, and every player of the final game's live feed
        "team_batting_games": 2,
    }
    assert report.inserted == 0 and report.updated > 0


def test_reuses_game_ids_from_retrosheet(server: StatsApiServer, client) -> None:
    """A game another source stored (Retrosheet's gameinfo.csv) is completed, not duplicated."""
    wh = open_warehouse()
    info = pd.read_csv(RETRO_CSV / "2024gameinfo.csv.gz")
    info = info[info["gid"].isin(list(GAME_IDS))]
    rows = pd.DataFrame(
        {
            "game_id": info["gid"],
            "game_date": pd.to_datetime(info["date"].astype(str)).dt.date,
            "season": info["season"],
            "game_type": info["gametype"],
            "game_number": info["number"],
            "home_team": info["hometeam"],
            "away_team": info["visteam"],
            "park_id": info["site"],
            "source": "retrosheet_csv",
            "source_rank": 40,
        }
    )
    wh.upsert("games", rows)
    ingest_statsapi(wh, DAY, client=client)
    games = wh.query("SELECT * FROM games ORDER BY game_id").set_index("game_id")
    assert len(games) == 3
    assert dict(games["mlb_game_pk"]) == {g: pk for g, pk in sorted(GAME_IDS.items())}
    # Retrosheet ranks higher: its park ids stay, statsapi fills what it lacked
    assert games.loc["TOR202407010", "park_id"] == "TOR02"
    assert set(games["source"]) == {"retrosheet_csv"}
    assert set(games["status"]) == {"final"}


def test_game_id_matching_rules() -> None:
    day = pd.Timestamp(DAY).date()

    def game(pk: int, home: str, away: str, number: int = 0) -> dict:
        return {
            "mlb_game_pk": pk,
            "game_date": day,
            "home_team": home,
            "away_team": away,
            "game_number": number,
            "start_time": None,
        }

    existing = pd.DataFrame(
        [
            # the same gamePk under another id: reused
            {"game_id": "TOR202407011", "game_date": day, "home_team": "TOR",
             "away_team": "HOU", "game_number": 1, "mlb_game_pk": 744914},
            # no gamePk, numbered differently, same two teams: reused
            {"game_id": "WAS202407012", "game_date": day, "home_team": "WAS",
             "away_team": "NYN", "game_number": 2, "mlb_game_pk": None},
        ]
    )  # fmt: skip
    games = [game(744914, "TOR", "HOU"), game(744840, "WAS", "NYN"), game(746535, "COL", "MIL")]
    assert assign_game_ids(games, existing) == []
    assert [g["game_id"] for g in games] == ["TOR202407011", "WAS202407012", "COL202407010"]
    # two split-squad games at the same park and date keep distinct ids, with a note
    twins = [game(1, "CHN", "ANA"), game(2, "CHN", "SFN")]
    notes = assign_game_ids(twins)
    assert [g["game_id"] for g in twins] == ["CHN202407010", "CHN202407011"]
    assert "CHN202407010 was taken" in notes[0]


# --------------------------------------------------------------------------------------------
# Spring training 2019-03-09: the hydrated schedule with probable pitchers
# --------------------------------------------------------------------------------------------


def test_spring_slate_needs_all_game_types(server: StatsApiServer, client) -> None:
    wh = open_warehouse()
    report = ingest_statsapi(wh, SPRING_DAY, client=client)
    assert wh.count("games") == 0
    assert any("18 spring" in n and "--all-game-types" in n for n in report.notes)

    report = ingest_statsapi(wh, SPRING_DAY, include_all_types=True, client=client)
    games = wh.query("SELECT * FROM games ORDER BY game_id").set_index("game_id")
    assert len(games) == 18
    assert set(games["game_type"]) == {"spring"} and set(games["status"]) == {"scheduled"}
    assert games[["home_probable_id", "away_probable_id"]].notna().all().all()
    bos = games.loc["BOS201903090"]
    assert (bos["mlb_game_pk"], bos["away_team"], bos["park_id"]) == (565019, "NYN", "mlb:4309")
    assert (bos["home_probable_id"], bos["away_probable_id"]) == (593958, 554430)
    assert games.loc["OAK201903090", "away_team"] == "MIL"  # "Oakland Athletics" -> OAK
    assert games.loc["CLE201903090", "home_team"] == "CLE"  # "Cleveland Indians"

    players = wh.query("SELECT * FROM players").set_index("player_id")
    assert len(players) == 36
    assert players["throws"].value_counts().to_dict() == {"R": 31, "L": 5}
    lefties = set(players.index[players["throws"] == "L"])
    assert lefties == {593958, 527048, 656794, 430935, 664192}
    rodriguez = players.loc[593958]
    assert (rodriguez["full_name"], rodriguez["name_first"], rodriguez["name_last"]) == (
        "Eduardo Rodriguez",
        "Eduardo",
        "Rodriguez",
    )
    assert (rodriguez["bats"], str(rodriguez["birth_date"])[:10]) == ("L", "1993-04-07")
    assert players.loc[554430, "full_name"] == "Zack Wheeler"
    assert (players.loc[554430, "throws"], players.loc[554430, "bats"]) == ("R", "L")
    # none of these games is final: no boxscore requested, and every hand came with the slate
    assert not any("/boxscore" in r or "/people/" in r for r in server.requests)
    assert report.stats["probable starters"] == 36


def test_fetch_slate(server: StatsApiServer, client) -> None:
    slate = fetch_slate(SPRING_DAY, include_all_types=True, client=client)
    assert list(slate.columns) == SLATE_COLUMNS
    assert len(slate) == 18
    row = slate.set_index("mlb_game_pk").loc[566267]  # Reds at Padres
    assert (row["game_id"], row["home_team"], row["away_team"]) == ("SDN201903090", "SDN", "CIN")
    assert (row["home_probable_id"], row["home_probable_name"]) == (664192, "Joey Lucchesi")
    assert (row["home_probable_throws"], row["away_probable_throws"]) == ("L", "R")
    assert row["status"] == "scheduled" and row["park_id"] == "mlb:2530"
    assert slate["start_time"].is_monotonic_increasing
    # regular season only by default
    assert fetch_slate(SPRING_DAY, client=client).empty
    assert wh_untouched()


def wh_untouched() -> bool:
    """fetch_slate writes nothing: the default warehouse file was never created."""
    return not Path(os.environ["KCAST_WAREHOUSE"]).exists()


def test_fetch_slate_reuses_the_warehouse_ids(server: StatsApiServer, client) -> None:
    wh = open_warehouse()
    rows = pd.DataFrame(
        [{"game_id": "TOR202407011", "game_date": DAY, "season": 2024, "game_type": "regular",
          "game_number": 1, "home_team": "TOR", "away_team": "HOU", "mlb_game_pk": 744914,
          "source": "statcast_starts", "source_rank": 20}]
    )  # fmt: skip
    wh.upsert("games", rows)
    slate = fetch_slate(DAY, warehouse=wh, client=client).set_index("mlb_game_pk")
    assert slate.loc[744914, "game_id"] == "TOR202407011"
    assert slate.loc[744840, "game_id"] == "WAS202407010"
    assert slate["home_probable_id"].isna().all()  # not hydrated


# --------------------------------------------------------------------------------------------
# The client: person, retries, timeouts, bad responses
# --------------------------------------------------------------------------------------------


def test_person(server: StatsApiServer, client: StatsApiClient) -> None:
    ohtani = client.person(660271)
    assert ohtani["full_name"] == "Shohei Ohtani"
    assert (ohtani["throws"], ohtani["bats"]) == ("R", "L")
    assert (ohtani["name_first"], ohtani["name_last"]) == ("Shohei", "Ohtani")
    assert str(ohtani["birth_date"]) == "1994-07-05"
    with pytest.raises(SourceUnavailableError, match="people/1 answered 404"):
        client.person(1)


def test_missing_hands_are_looked_up(server: StatsApiServer, client: StatsApiClient) -> None:
    """A probable starter given as ``{id, fullName}`` only gets his hand from /people/{id}."""
    feed = json.loads((Path(BOXSCORE_744914).parent / "feed_live_744914_dsotm.json").read_text())
    # the live feed shows the shape plain hydration gives: id, fullName and link only
    assert set(feed["gameData"]["probablePitchers"]["home"]) == {"id", "fullName", "link"}
    players = {
        660271: {"player_id": 660271, "full_name": "Shohei Ohtani", "throws": None},
        1: {"player_id": 1, "full_name": None, "throws": None},
    }
    report = IngestReport("statsapi", DAY)
    _complete_hands(None, client, players, report)
    assert (players[660271]["throws"], players[660271]["bats"]) == ("R", "L")
    assert players[1]["throws"] is None
    assert len(report.notes) == 1 and "person 1" in report.notes[0] and "404" in report.notes[0]
    # with a warehouse that knows the hand, nothing is fetched
    wh = open_warehouse()
    wh.upsert("players", pd.DataFrame([{"player_id": 1, "throws": "L"}]))
    before = len(server.requests)
    _complete_hands(wh, client, {1: {"player_id": 1, "throws": None}}, report)
    assert len(server.requests) == before


def test_retry_after_503(server: StatsApiServer, client) -> None:
    route = "/api/v1/schedule?sportId=1&date=2024-07-01"
    server.route(
        route, Sequence([Reply(status=503, body=b"busy"), Reply(file=SCHEDULE_2024_07_01)])
    )
    wh = open_warehouse()
    ingest_statsapi(wh, DAY, client=client)
    assert server.hits("/api/v1/schedule") == 2
    assert wh.count("games") == 3 and wh.count("pitcher_games") == 7


def test_503_every_time_is_an_error(server: StatsApiServer, client) -> None:
    server.route("/api/v1/schedule", Reply(status=503, body=b"busy"))
    wh = open_warehouse()
    before = _data_counts(wh)
    with pytest.raises(SourceUnavailableError, match="failed after 2 attempts.*HTTP 503"):
        ingest_statsapi(wh, DAY, client=client)
    assert _data_counts(wh) == before


def test_schedule_timeout(server: StatsApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from kcast.config import get_settings

    monkeypatch.setenv("KCAST_HTTP_TIMEOUT", "0.3")
    get_settings.cache_clear()
    server.route("/api/v1/schedule?date=2024-07-01", Reply(file=SCHEDULE_2024_07_01, delay=1.0))
    wh = open_warehouse()
    ingest_statsapi(wh, SPRING_DAY, include_all_types=True, client=StatsApiClient(backoff=0.01))
    before = _data_counts(wh)
    started = time.monotonic()
    with pytest.raises(
        SourceUnavailableError, match=r"failed after 2 attempts: no answer within 0.3 s"
    ):
        ingest_statsapi(wh, DAY, client=StatsApiClient(backoff=0.01))
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 5.0, elapsed  # two 0.3 s attempts, not the 1 s the server takes
    assert _data_counts(wh) == before
    log = wh.query("SELECT status, message FROM ingest_log ORDER BY started_at")
    assert list(log["status"]) == ["ok", "failed"]
    assert "no answer within 0.3 s" in log["message"].iloc[1]


def test_boxscore_timeout_is_a_note(server: StatsApiServer, monkeypatch) -> None:
    from kcast.config import get_settings

    monkeypatch.setenv("KCAST_HTTP_TIMEOUT", "0.3")
    get_settings.cache_clear()
    server.route("/api/v1/game/744914/boxscore", Reply(file=BOXSCORE_744914, delay=1.0))
    wh = open_warehouse()
    report = ingest_statsapi(wh, DAY, client=StatsApiClient(backoff=0.01))
    assert wh.count("games") == 3 and wh.count("pitcher_games") == 0
    assert any("744914" in n and "no answer within 0.3 s" in n for n in report.notes)
    assert server.hits("/api/v1/game/744914/boxscore") == 2  # one retry


def test_schedule_not_json(server: StatsApiServer, client) -> None:
    data = SCHEDULE_2024_07_01.read_bytes()
    server.route("/api/v1/schedule", Reply(body=data[: len(data) // 2]))
    wh = open_warehouse()
    before = _data_counts(wh)
    with pytest.raises(
        SourceUnavailableError, match="schedule.*date=2024-07-01.*did not return JSON"
    ):
        ingest_statsapi(wh, DAY, client=client)
    assert _data_counts(wh) == before


def test_boxscore_not_json_is_a_note(server: StatsApiServer, client) -> None:
    data = BOXSCORE_744914.read_bytes()
    server.route("/api/v1/game/744914/boxscore", Reply(body=data[:1000]))
    wh = open_warehouse()
    report = ingest_statsapi(wh, DAY, client=client)
    assert wh.count("games") == 3 and wh.count("pitcher_games") == 0
    assert any("TOR202407010" in n and "did not return JSON" in n for n in report.notes)


def test_wrong_response_is_an_input_error(server: StatsApiServer, client) -> None:
    """A JSON answer that is not a schedule (here the real person file) stores nothing."""
    wh = open_warehouse()
    ingest_statsapi(wh, SPRING_DAY, include_all_types=True, client=client)
    before = _data_counts(wh)
    server.route("/api/v1/schedule", Path(BOXSCORE_744914).parent / "people_660271_dsotm.json")
    with pytest.raises(InputError, match="no 'dates'") as info:
        ingest_statsapi(wh, DAY, client=client)
    assert "/api/v1/schedule?date=2024-07-01" in str(info.value)
    assert _data_counts(wh) == before


def test_boxscore_of_another_game_is_an_input_error(server: StatsApiServer, client) -> None:
    """The real 744914 boxscore served for 744840 (NYM at WSH): refused, nothing stored."""
    server.route("/api/v1/game/744840/boxscore", BOXSCORE_744914)
    wh = open_warehouse()
    with pytest.raises(InputError, match="teams.home is TOR, but the schedule has WAS"):
        ingest_statsapi(wh, DAY, client=client)
    assert sum(_data_counts(wh).values()) == wh.count("schema_migrations")


@pytest.mark.parametrize("bad", ["2024-13-01", "07/01/2024", "2024-7-1", "yesterday", ""])
def test_date_that_does_not_parse(server: StatsApiServer, client, bad: str) -> None:
    wh = open_warehouse()
    before = wh.counts()
    with pytest.raises(InputError, match=r"--date: date .* does not parse \(want YYYY-MM-DD\)"):
        ingest_statsapi(wh, bad, client=client)
    with pytest.raises(InputError, match="does not parse"):
        fetch_slate(bad, client=client)
    assert wh.counts() == before
    assert server.requests == []


# --------------------------------------------------------------------------------------------
# Small pieces
# --------------------------------------------------------------------------------------------


def test_game_types() -> None:
    expected = {
        "R": "regular",
        "F": "wildcard",
        "D": "divisionseries",
        "L": "lcs",
        "W": "worldseries",
        "A": "allstar",
        "S": "spring",
        "E": "exhibition",
    }
    assert {code: game_type(code) for code in expected} == expected
    for bad in ("P", "I", None):
        with pytest.raises(InputError, match=f"unknown MLB gameType {bad!r}"):
            game_type(bad, "x")


def test_unknown_game_type_in_a_schedule_names_the_game() -> None:
    data = json.loads(SCHEDULE_2024_07_01.read_text())
    data["dates"][0]["games"][1]["gameType"] = "X"
    with pytest.raises(
        InputError, match=r"dates\[0\].games\[1\] \(gamePk 744840\): unknown MLB gameType 'X'"
    ):
        parse_schedule(data, "schedule")


def test_postponed_games_have_no_probable_starters() -> None:
    """The real spring slate with one game marked postponed (as the API marks them)."""
    data = json.loads(SCHEDULE_SPRING_2019_03_09.read_text())
    game = data["dates"][0]["games"][0]
    game["status"].update(abstractGameState="Final", detailedState="Postponed")
    slate = parse_schedule(data, "schedule", include_all_types=True)
    rows = {g["mlb_game_pk"]: g for g in slate.games}
    assert rows[565019]["status"] == "postponed"
    assert rows[565019]["home_probable_id"] is None and rows[565019]["away_probable_id"] is None
    assert rows[566172]["home_probable_id"] == 605280
    assert 593958 not in slate.players and len(slate.players) == 34


def test_person_row_spellings() -> None:
    row = person_row({"id": 1, "batSide": {"code": "S"}, "pitchHand": {"code": "l"}})
    assert (row["bats"], row["throws"], row["full_name"]) == ("B", "L", None)
    with pytest.raises(InputError, match="a person without an id"):
        person_row({"fullName": "Nobody"}, "people")


def test_outs_from_innings() -> None:
    assert [outs_from_innings(v) for v in ("5.2", "6.0", "0.1", "7", "12.1")] == [17, 18, 1, 21, 37]
    for bad in ("5.3", "", "six", "-1.0"):
        with pytest.raises(InputError, match="inningsPitched"):
            outs_from_innings(bad, "box")


def test_game_status() -> None:
    real = json.loads(SCHEDULE_2024_07_01.read_text())["dates"][0]["games"][0]["status"]
    assert game_status(real) == "final"
    cases = [
        ({"abstractGameState": "Final", "detailedState": "Postponed"}, "postponed"),
        ({"abstractGameState": "Final", "detailedState": "Cancelled"}, "cancelled"),
        ({"abstractGameState": "Final", "detailedState": "Game Over"}, "final"),
        ({"abstractGameState": "Live", "detailedState": "In Progress"}, "in_progress"),
        ({"abstractGameState": "Live", "detailedState": "Suspended: Rain"}, "suspended"),
        ({"abstractGameState": "Preview", "detailedState": "Pre-Game"}, "scheduled"),
    ]
    assert [game_status(s) for s, _ in cases] == [name for _, name in cases]


TOR_GAME = {  # the schedule's row of the real boxscore's game
    "game_id": "TOR202407010",
    "game_date": pd.Timestamp(DAY).date(),
    "season": 2024,
    "game_type": "regular",
    "home_team": "TOR",
    "away_team": "HOU",
    "mlb_game_pk": 744914,
}


def test_parse_boxscore_without_outs_uses_innings() -> None:
    """``outs`` absent (older boxscores): it comes from inningsPitched, 6.2 -> 20."""
    data = json.loads(BOXSCORE_744914.read_text())
    for side in ("home", "away"):
        for entry in data["teams"][side]["players"].values():
            entry["stats"].get("pitching", {}).pop("outs", None)
    box = parse_boxscore(data, TOR_GAME, "box")
    outs = {p["pitcher_id"]: p["outs"] for p in box.pitchers}
    assert outs[684320] == 20 and outs[686613] == 18 and sum(outs.values()) == 54


def test_boxscore_lineups_and_umpire_equal_retrosheet(register) -> None:
    """The real boxscore's batting orders are Retrosheet's ``teamstats.csv`` starting lineups of
    TOR202407010 (ids through the register), and its home-plate umpire is gameinfo's."""
    data = json.loads(BOXSCORE_744914.read_text())
    box = parse_boxscore(data, TOR_GAME, "box")
    team = pd.read_csv(RETRO_CSV / "2024teamstats.csv.gz")
    team = team[team["gid"] == "TOR202407010"].set_index("team")
    for code in ("TOR", "HOU"):
        ours = [
            r["player_id"]
            for r in sorted(box.lineups, key=lambda r: r["slot"])
            if r["team"] == code
        ]
        theirs = [register.retro_to_mlbam[team.loc[code, f"start_l{i}"]] for i in range(1, 10)]
        assert ours == theirs
    info = pd.read_csv(RETRO_CSV / "2024gameinfo.csv.gz")
    retro_umpire = info.loc[info["gid"] == "TOR202407010", "umphome"].iloc[0]
    assert box.game["umpire_home"] == "CB Bucknor" and retro_umpire.startswith("buckc")


# --------------------------------------------------------------------------------------------
# Lineups posted before the game
# --------------------------------------------------------------------------------------------


def _starting_order(side: str) -> list[int]:
    """A team's nine starters in the real boxscore, in order: the players whose
    ``battingOrder`` code is a slot times 100 (the team's ``battingOrder`` list holds each
    slot's latest occupant: TOR's ninth was replaced during the game)."""
    players = json.loads(BOXSCORE_744914.read_text())["teams"][side]["players"].values()
    codes = {int(p["battingOrder"]): p["person"]["id"] for p in players if "battingOrder" in p}
    return [pid for code, pid in sorted(codes.items()) if code % 100 == 0]


BATTING_ORDER = {"TOR": _starting_order("home"), "HOU": _starting_order("away")}


def posted_schedule(with_lineups: bool, with_officials: bool = False) -> bytes:
    """The real 2024-07-01 schedule as it reads before its games: every game in Preview and, with
    ``with_lineups``, HOU at TOR's lineups posted; with ``with_officials``, its umpires (the real
    boxscore's ``officials``, the shape ``hydrate=officials`` gives a schedule's game).

    No real schedule hydrated with ``lineups`` was found, so this response is assembled from the
    two real fixtures: the schedule, and each team's starting batting order in the boxscore
    arranged into the documented ``hydrate=lineups`` shape (``lineups.homePlayers`` /
    ``awayPlayers``: each batter's person record, in batting order). The other two games have
    none posted."""
    data = json.loads(SCHEDULE_2024_07_01.read_text())
    box = json.loads(BOXSCORE_744914.read_text())["teams"]
    for game in data["dates"][0]["games"]:
        game["status"] = {"abstractGameState": "Preview", "detailedState": "Pre-Game"}
        for side in ("home", "away"):
            for key in ("score", "isWinner"):
                game["teams"][side].pop(key, None)
        if with_lineups and game["gamePk"] == 744914:
            game["lineups"] = {
                f"{side}Players": [box[side]["players"][f"ID{pid}"]["person"] for pid in order]
                for side, order in (("home", BATTING_ORDER["TOR"]), ("away", BATTING_ORDER["HOU"]))
            }
        if with_officials and game["gamePk"] == 744914:
            game["officials"] = json.loads(BOXSCORE_744914.read_text())["officials"]
    return json.dumps(data).encode()


def _stored_lineups(wh) -> pd.DataFrame:
    return wh.query("SELECT * FROM lineups ORDER BY game_id, team, slot")


def test_posted_lineups_then_the_boxscore(server: StatsApiServer, client) -> None:
    """Before the games: none posted, none stored. Posted: HOU at TOR's nine and nine, ranked
    below the boxscore's. Final: the boxscore's starting order replaces them."""
    route = "/api/v1/schedule?sportId=1&date=2024-07-01"
    wh = open_warehouse()
    server.route(route, Reply(body=posted_schedule(with_lineups=False)))
    report = ingest_statsapi(wh, DAY, client=client)
    assert wh.count("games") == 3 and wh.count("lineups") == 0
    assert report.stats["posted lineups"] == 0

    server.route(route, Reply(body=posted_schedule(with_lineups=True)))
    report = ingest_statsapi(wh, DAY, client=client)
    assert report.stats["posted lineups"] == 2
    posted = _stored_lineups(wh)
    assert len(posted) == 18 and set(posted["game_id"]) == {"TOR202407010"}
    assert set(posted["source"]) == {"statsapi_posted"} and set(posted["source_rank"]) == {25}
    for team, order in BATTING_ORDER.items():
        assert posted.loc[posted["team"] == team, "player_id"].tolist() == order
        assert posted.loc[posted["team"] == team, "slot"].tolist() == list(range(1, 10))
    names = wh.query("SELECT full_name FROM players WHERE player_id = 666182")["full_name"]
    assert names.tolist() == ["Bo Bichette"]
    assert server.hits("/api/v1/game/744914/boxscore") == 0  # not final: no boxscore asked
    assert all("hydrate=probablePitcher%2Clineups%2Cofficials" in r for r in server.requests)

    server.route(route, SCHEDULE_2024_07_01)  # the real, final schedule
    ingest_statsapi(wh, DAY, client=client)
    final = _stored_lineups(wh)
    assert len(final) == 18
    assert set(final["source"]) == {"statsapi"} and set(final["source_rank"]) == {30}
    assert final["player_id"].tolist() == posted["player_id"].tolist()


def test_posted_lineups_that_are_malformed_or_short() -> None:
    """A batter without an id is an ``InputError`` naming the game; a side posted with fewer
    than nine is left out with a note, the other side kept."""
    data = json.loads(posted_schedule(with_lineups=True))
    lineups = data["dates"][0]["games"][0]["lineups"]
    assert data["dates"][0]["games"][0]["gamePk"] == 744914
    lineups["awayPlayers"] = lineups["awayPlayers"][:5]
    slate = parse_schedule(data, "schedule")
    assert list(slate.posted[744914]) == ["home"]
    assert [p["player_id"] for p in slate.posted[744914]["home"]] == BATTING_ORDER["TOR"]
    assert slate.notes == [
        "dates[0].games[0] (gamePk 744914): away lineup posted with 5 batters, not stored"
    ]
    lineups["homePlayers"][3] = {"fullName": "No Id"}
    with pytest.raises(
        InputError,
        match=r"dates\[0\].games\[0\] \(gamePk 744914\): lineups.homePlayers\[3\] is not a person",
    ):
        parse_schedule(data, "schedule")


def test_posted_lineups_make_the_matchup_confirmed(
    server: StatsApiServer, client, register
) -> None:
    """On Retrosheet's 2024 games before July 1, TOR and HOU's lineups for 2024-07-01 are
    projected until posted, confirmed once posted and after the game; and the final boxscore's
    umpire ("CB Bucknor"), read through the umpires crosswalk, has buckc901's 2024 history."""
    from kcast.data.retrosheet_csv import ingest_retrosheet_csv
    from kcast.data.umpires import ingest_umpires
    from kcast.features.matchup import MatchupContext
    from tests.conftest import SHARED_DATA

    wh = open_warehouse()
    ingest_retrosheet_csv(wh, RETRO_CSV, register, seasons=[2024])
    for table in ("games", "pitcher_games", "team_batting_games", "lineups"):
        wh.execute(f"DELETE FROM {table} WHERE game_date >= DATE '{DAY}'")
    ingest_umpires(wh, SHARED_DATA / "retrosheet" / "biofile.zip")
    starts = pd.DataFrame(
        {
            "game_id": "TOR202407010",
            "game_date": pd.Timestamp(DAY),
            "season": 2024,
            "pitcher_id": [684320, 686613],  # Yariel Rodríguez (TOR), Hunter Brown (HOU)
            "opponent": ["HOU", "TOR"],
            "throws": "R",
        }
    )

    def attached() -> pd.DataFrame:
        return MatchupContext.from_warehouse(wh, before=DAY).attach(starts)

    route = "/api/v1/schedule?sportId=1&date=2024-07-01"
    server.route(route, Reply(body=posted_schedule(with_lineups=False)))
    ingest_statsapi(wh, DAY, client=client)
    assert attached()["lineup_status"].tolist() == ["projected", "projected"]

    server.route(route, Reply(body=posted_schedule(with_lineups=True)))
    ingest_statsapi(wh, DAY, client=client)
    ctx = MatchupContext.from_warehouse(wh, before=DAY)
    assert ctx.attach(starts)["lineup_status"].tolist() == ["confirmed", "confirmed"]
    for team, order in BATTING_ORDER.items():
        assert ctx.confirmed_lineups.loc[("TOR202407010", team)].tolist() == order
    assert attached()["ump_k"].isna().all()  # no umpire named yet

    # the schedule names the umpires (hydrate=officials): known before the game
    server.route(route, Reply(body=posted_schedule(with_lineups=True, with_officials=True)))
    ingest_statsapi(wh, DAY, client=client)
    game = wh.query("SELECT status, umpire_home FROM games WHERE game_id = 'TOR202407010'")
    assert game.iloc[0].tolist() == ["scheduled", "CB Bucknor"]
    before = attached()

    server.route(route, SCHEDULE_2024_07_01)
    ingest_statsapi(wh, DAY, client=client)
    after = attached()
    assert after["lineup_status"].tolist() == ["confirmed", "confirmed"]
    assert wh.query("SELECT umpire_home FROM games WHERE game_id = 'TOR202407010'").iloc[0, 0] == (
        "CB Bucknor"
    )
    his = wh.query(
        "SELECT SUM(b.strikeouts) AS k FROM games g JOIN team_batting_games b USING (game_id) "
        f"WHERE g.umpire_home = 'buckc901' AND g.game_date < DATE '{DAY}'"
    )["k"].iloc[0]
    assert his > 0 and after["ump_k"].tolist() == [his, his]
    assert before["ump_k"].tolist() == [his, his]  # the same, before the game


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def _kcast(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from kcast.cli import main; sys.argv = ['kcast', *sys.argv[1:]]; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )


def test_cli(server: StatsApiServer) -> None:
    result = _kcast("ingest", "statsapi", "--date", DAY)
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "statsapi: 2024-07-01" in out
    assert "boxscores: 1 of 3 final games" in out
    assert "unavailable" in out and "MLB Advanced Media" in out
    wh = open_warehouse()
    assert wh.count("games") == 3 and wh.count("pitcher_games") == 7

    result = _kcast("ingest", "statsapi", "--date", "2024-02-30")
    assert result.returncode == 1
    assert "date '2024-02-30' does not parse (want YYYY-MM-DD)" in " ".join(result.stdout.split())
