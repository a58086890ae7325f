"""MLB Stats API (statsapi.mlb.com): each day's slate with probable starters, and boxscores.

Three endpoints are used, called directly with :class:`kcast.data.http.HttpClient` (timeouts,
retries with backoff):

- ``/api/v1/schedule?sportId=1&date=YYYY-MM-DD&hydrate=probablePitcher,lineups,officials``: the
  day's games, their status and, where announced, the probable starters, the starting lineups
  (``lineups.homePlayers`` / ``awayPlayers``, the batters in batting order) and the umpires
  (``officials``, as in a boxscore: the home-plate umpire's name);
- ``/api/v1/game/{gamePk}/boxscore``: every pitcher's line and each team's batting, for games
  whose status is final;
- ``/api/v1/people/{id}``: a person's throwing hand, batting side and names.

Rows go to ``games``, ``players``, ``pitcher_games``, ``team_batting_games`` and ``lineups`` with
source ``statsapi`` (rank 30: Retrosheet's values win where both have a game, statsapi fills
gaps). The lineups of games not yet final are stored as posted, with source ``statsapi_posted``
(rank 25), so the final boxscore's batting order replaces them.

The API's responses carry MLB Advanced Media's copyright notice ("Use of any content on this page
acknowledges agreement to the terms posted here http://gdx.mlb.com/components/copyright.txt").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kcast.config import get_settings
from kcast.data.gameids import place_schedule_games
from kcast.data.http import ClosedOnExit, HttpClient
from kcast.data.ingest import IngestReport, game_tables, logged_ingest, write_all
from kcast.data.statsapi_feed import feed_people, plate_appearances
from kcast.errors import InputError, SourceUnavailableError, UnknownTeamError
from kcast.teams import canonical_team, team_from_mlbam_id
from kcast.warehouse import Warehouse, open_warehouse
from kcast.warehouse.schema import SOURCE_RANK
from kcast.warehouse.sources import (
    games_between,
    games_with_plate_appearances,
    known_throws,
)

SOURCE = "statsapi"
POSTED = "statsapi_posted"  # lineups posted before the game
POSTED_STATUSES = ("scheduled", "in_progress")  # games whose posted lineups are stored

MLBAM_NOTICE = (
    "MLB Stats API data: copyright MLB Advanced Media, L.P.; use of it acknowledges agreement "
    "to the terms at http://gdx.mlb.com/components/copyright.txt"
)

# MLB gameType letters -> kcast game types (the spellings Retrosheet uses)
GAME_TYPES = {
    "R": "regular",
    "F": "wildcard",
    "D": "divisionseries",
    "L": "lcs",
    "W": "worldseries",
    "A": "allstar",
    "S": "spring",
    "E": "exhibition",
}

SLATE_COLUMNS = [
    "game_id",
    "mlb_game_pk",
    "game_date",
    "home_team",
    "away_team",
    "park_id",
    "home_probable_id",
    "away_probable_id",
    "status",
    "game_type",
    "start_time",
    "home_probable_name",
    "away_probable_name",
    "home_probable_throws",
    "away_probable_throws",
]

_IP = re.compile(r"^(\d+)(?:\.([012]))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


class StatsApiClient(ClosedOnExit):
    """The three Stats API calls kcast makes, with kcast's timeout and retry policy.

    Parameters
    ----------
    base_url
        Default: the ``statsapi_url`` setting (``KCAST_STATSAPI_URL``).
    timeout, retries
        Default: ``KCAST_HTTP_TIMEOUT`` and ``KCAST_HTTP_RETRIES``.
    backoff
        Seconds before the first retry; doubled for each further one.
    """

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = (base_url or get_settings().statsapi_url).rstrip("/")
        self.http = HttpClient(timeout=timeout, retries=retries, backoff=backoff)

    def url(self, path: str) -> str:
        """The full URL of an API path."""
        return f"{self.base_url}{path}"

    def schedule(self, date: dt.date | str) -> dict[str, Any]:
        """The day's MLB schedule, with probable pitchers, posted lineups and umpires hydrated."""
        day = parse_date(date)
        params = {
            "sportId": "1",
            "date": day.isoformat(),
            "hydrate": "probablePitcher,lineups,officials",
        }
        data = self.http.get_json(self.url("/api/v1/schedule"), params)
        return _expect_object(data, f"/api/v1/schedule?date={day.isoformat()}", "dates")

    def boxscore(self, game_pk: int) -> dict[str, Any]:
        """The boxscore of one game."""
        path = f"/api/v1/game/{int(game_pk)}/boxscore"
        return _expect_object(self.http.get_json(self.url(path)), path, "teams")

    def feed(self, game_pk: int) -> dict[str, Any]:
        """The live feed of one game (``/api/v1.1/game/{gamePk}/feed/live``): every play."""
        path = f"/api/v1.1/game/{int(game_pk)}/feed/live"
        return _expect_object(self.http.get_json(self.url(path)), path, "liveData")

    def person(self, person_id: int) -> dict[str, Any]:
        """One person as a ``players`` row: names, throwing hand, batting side."""
        path = f"/api/v1/people/{int(person_id)}"
        data = _expect_object(self.http.get_json(self.url(path)), path, "people")
        people = data["people"]
        if not isinstance(people, list) or not people or not isinstance(people[0], dict):
            raise InputError("the response has no person in 'people'", source=path)
        return person_row(people[0], path)

    def close(self) -> None:
        self.http.close()


def _expect_object(data: Any, source: str, key: str) -> dict[str, Any]:
    if not isinstance(data, dict) or key not in data:
        raise InputError(f"not the expected Stats API response: it has no {key!r}", source=source)
    return data


def parse_date(value: dt.date | str) -> dt.date:
    """A date given as ``YYYY-MM-DD`` (or a date); ``InputError`` when it does not parse."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if not _DATE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"date {value!r} does not parse (want YYYY-MM-DD)", source="--date"
        ) from None


# --------------------------------------------------------------------------------------------
# Parsing: small pieces
# --------------------------------------------------------------------------------------------


def game_type(code: object, source: str | None = None) -> str:
    """kcast's game type for an MLB ``gameType`` letter; ``InputError`` for any other."""
    kind = GAME_TYPES.get(str(code).strip().upper()) if code is not None else None
    if kind is None:
        raise InputError(
            f"unknown MLB gameType {code!r} (kcast knows {', '.join(GAME_TYPES)})", source=source
        )
    return kind


def game_status(status: dict[str, Any] | None) -> str:
    """final, scheduled, in_progress, postponed, cancelled, suspended ... from a game's status.

    Postponed and cancelled games carry ``abstractGameState`` Final, so the detailed state is
    read first.
    """
    status = status or {}
    detailed = str(status.get("detailedState") or "").strip()
    abstract = str(status.get("abstractGameState") or "").strip().lower()
    low = detailed.lower()
    for prefix, name in (
        ("postponed", "postponed"),
        ("cancelled", "cancelled"),
        ("canceled", "cancelled"),
        ("suspended", "suspended"),
    ):
        if low.startswith(prefix):
            return name
    if abstract == "final":
        return "final"
    if abstract == "live":
        return "in_progress"
    if abstract == "preview":
        return "scheduled"
    return re.sub(r"\W+", "_", low).strip("_") or "unknown"


def outs_from_innings(innings: object, source: str | None = None) -> int:
    """Outs from the API's ``inningsPitched`` text: ``"5.2"`` -> 17."""
    m = _IP.match(str(innings).strip())
    if not m:
        raise InputError(f"inningsPitched {innings!r} does not parse (want e.g. 5.2)", source)
    return int(m.group(1)) * 3 + int(m.group(2) or 0)


def person_row(person: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """A ``players`` row from a person record (full or the short ``{id, fullName}`` form)."""
    try:
        pid = int(person["id"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"a person without an id: {str(person)[:80]}", source) from None
    birth = person.get("birthDate")
    return {
        "player_id": pid,
        "full_name": person.get("fullName"),
        "name_first": person.get("useName") or person.get("firstName"),
        "name_last": person.get("useLastName") or person.get("lastName"),
        "birth_date": dt.date.fromisoformat(birth) if birth else None,
        "throws": _code(person.get("pitchHand")),
        "bats": _bats(_code(person.get("batSide"))),
        "source": SOURCE,
    }


def _bats(code: str | None) -> str | None:
    """MLB's batting side in kcast's spelling: switch-hitters are B (as Retrosheet), not S."""
    return "B" if code == "S" else code


def _code(value: object) -> str | None:
    """The ``code`` of a ``{"code": "R", ...}`` hand or side, upper-cased; None if absent."""
    if isinstance(value, dict):
        value = value.get("code")
    text = str(value).strip().upper() if value is not None else ""
    return text or None


def _team(side: dict[str, Any], source: str, where: str) -> str:
    """kcast's code for one side of a game: by MLBAM team id, else abbreviation or name."""
    team = side.get("team") if isinstance(side, dict) else None
    if not isinstance(team, dict):
        raise InputError(f"{where}: no team", source=source)
    if team.get("id") is not None:
        try:
            return team_from_mlbam_id(int(team["id"]), source)
        except UnknownTeamError:
            pass
    for value in (team.get("abbreviation"), team.get("name")):
        if value:
            try:
                return canonical_team(value, source)
            except UnknownTeamError:
                pass
    raise UnknownTeamError(
        f"{where}: unknown team {team.get('name')!r} (MLBAM id {team.get('id')})", source=source
    )


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# The schedule
# --------------------------------------------------------------------------------------------


@dataclass
class Slate:
    """A schedule response as kcast rows (game ids not yet assigned)."""

    games: list[dict[str, Any]] = field(default_factory=list)
    players: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped_types: dict[str, int] = field(default_factory=dict)
    copyright: str | None = None
    # gamePk -> side -> the posted lineup's batters (``players`` rows), in batting order
    posted: dict[int, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)


def parse_schedule(data: dict[str, Any], source: str, include_all_types: bool = False) -> Slate:
    """The games of a schedule response, with probable starters, as ``games`` rows.

    Only the regular season is kept unless ``include_all_types``. All-Star games are never
    kept (their squads are not clubs); spring and exhibition games against a team that is not
    an MLB club are left out with a note. Anything malformed raises ``InputError``.
    """
    slate = Slate(copyright=data.get("copyright"))
    dates = data.get("dates")
    if not isinstance(dates, list):
        raise InputError("'dates' is not a list", source=source)
    by_pk: dict[int, dict[str, Any]] = {}
    for di, block in enumerate(dates):
        games = block.get("games") if isinstance(block, dict) else None
        if not isinstance(games, list):
            raise InputError(f"dates[{di}] has no 'games' list", source=source)
        for gi, game in enumerate(games):
            where = f"dates[{di}].games[{gi}]"
            row = _parse_game(game, block, source, where, include_all_types, slate)
            if row is None:
                continue
            # a game listed twice (e.g. suspended and resumed): keep the finished listing
            old = by_pk.get(row["mlb_game_pk"])
            if old is None or old["status"] != "final":
                by_pk[row["mlb_game_pk"]] = row
    slate.games = list(by_pk.values())
    return slate


def _parse_game(
    game: Any,
    block: dict[str, Any],
    source: str,
    where: str,
    include_all_types: bool,
    slate: Slate,
) -> dict[str, Any] | None:
    if not isinstance(game, dict):
        raise InputError(f"{where} is not an object", source=source)
    pk = _int(game.get("gamePk"))
    if pk is None:
        raise InputError(f"{where} has no gamePk", source=source)
    where = f"{where} (gamePk {pk})"
    try:
        kind = game_type(game.get("gameType"), source)
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}", source=source) from None
    if kind != "regular" and not include_all_types:
        slate.skipped_types[kind] = slate.skipped_types.get(kind, 0) + 1
        return None
    if kind == "allstar":
        slate.notes.append(f"game {pk} is the All-Star Game; its squads are not clubs, left out")
        return None
    day_text = game.get("officialDate") or block.get("date")
    try:
        day = dt.date.fromisoformat(str(day_text))
    except ValueError:
        raise InputError(f"{where}: date {day_text!r} does not parse", source=source) from None
    teams = game.get("teams")
    if not isinstance(teams, dict):
        raise InputError(f"{where} has no teams", source=source)
    try:
        home = _team(teams.get("home"), source, f"{where} home")
        away = _team(teams.get("away"), source, f"{where} away")
    except UnknownTeamError as exc:
        if kind in ("spring", "exhibition"):
            slate.notes.append(f"{kind} game {pk} against a team that is not a club: {exc.message}")
            return None
        raise
    status = game_status(game.get("status"))
    season = _int(game.get("season")) or day.year
    number = 0
    if str(game.get("doubleHeader") or "N").upper() in ("Y", "S"):
        number = _int(game.get("gameNumber")) or 1
    venue = game.get("venue") or {}
    row: dict[str, Any] = {
        "game_id": None,
        "game_date": day,
        "season": season,
        "game_type": kind,
        "game_number": number,
        "home_team": home,
        "away_team": away,
        "park_id": f"mlb:{venue['id']}" if venue.get("id") is not None else None,
        "mlb_game_pk": pk,
        "start_time": game.get("gameDate"),
        "day_night": (game.get("dayNight") or None),
        "status": status,
        "home_probable_id": None,
        "away_probable_id": None,
        "home_runs_scored": None,
        "away_runs_scored": None,
        # the umpire assigned to home plate, once the schedule names him (before the game: the
        # matchup features read him; the final boxscore names him too)
        "umpire_home": home_plate_umpire(game.get("officials")),
        "source": SOURCE,
        "source_rank": SOURCE_RANK[SOURCE],
    }
    for side in ("home", "away"):
        info = teams.get(side) or {}
        pitcher = info.get("probablePitcher")
        if status in ("postponed", "cancelled"):
            pitcher = None  # nobody starts a game that is not played that day
        if isinstance(pitcher, dict) and pitcher.get("id") is not None:
            person = person_row(pitcher, source)
            row[f"{side}_probable_id"] = person["player_id"]
            _add_player(slate.players, person)
        if status == "final":
            row[f"{side}_runs_scored"] = _int(info.get("score"))
    if status in POSTED_STATUSES:
        slate.posted[pk] = _posted_lineups(game.get("lineups"), source, where, slate.notes)
    return row


def _posted_lineups(
    lineups: Any, source: str, where: str, notes: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The lineups a schedule posts for a game (``hydrate=lineups``): side -> its nine batters
    as ``players`` rows, in batting order. A side not posted yet is absent; one posted with
    other than nine batters is left out with a note."""
    if lineups is None:
        return {}
    if not isinstance(lineups, dict):
        raise InputError(f"{where}: 'lineups' is not an object", source=source)
    out = {}
    for side in ("home", "away"):
        batters = lineups.get(f"{side}Players") or []
        if not isinstance(batters, list):
            raise InputError(f"{where}: lineups.{side}Players is not a list", source=source)
        people = []
        for i, batter in enumerate(batters):
            if not isinstance(batter, dict) or _int(batter.get("id")) is None:
                raise InputError(
                    f"{where}: lineups.{side}Players[{i}] is not a person with an id", source
                )
            people.append(person_row(batter, source))
        if len(people) == 9:
            out[side] = people
        elif people:
            notes.append(f"{where}: {side} lineup posted with {len(people)} batters, not stored")
    return out


def _add_player(players: dict[int, dict[str, Any]], person: dict[str, Any]) -> None:
    """Add a players row, completing (never blanking) what is already known about the id."""
    old = players.get(person["player_id"])
    if old is None:
        players[person["player_id"]] = dict(person)
        return
    for key, value in person.items():
        if value is not None and old.get(key) is None:
            old[key] = value


def assign_game_ids(games: list[dict[str, Any]], existing: pd.DataFrame | None = None) -> list[str]:
    """Give each game its kcast ``game_id``, reusing the warehouse's where it has the game.

    A stored game on the same date is reused when its ``mlb_game_pk`` matches; else one without
    a gamePk with the same home team and game number; else the only one without a gamePk with
    the same two teams (when the slate has one such game too, so a numbering difference between
    sources cannot make two games). Otherwise the id is home code + YYYYMMDD + game number.
    Returns notes about ids that had to be moved to stay unique. The rules live in
    ``kcast.data.gameids.place_schedule_games``.
    """
    return place_schedule_games(games, existing)


def posted_lineup_rows(
    game: dict[str, Any], posted: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """``lineups`` rows of a game's posted lineups (source ``statsapi_posted``)."""
    return [
        {
            "game_id": game["game_id"],
            "game_date": game["game_date"],
            "season": game["season"],
            "team": game[f"{side}_team"],
            "slot": slot,
            "player_id": person["player_id"],
            "source": POSTED,
            "source_rank": SOURCE_RANK[POSTED],
        }
        for side, people in posted.items()
        for slot, person in enumerate(people, start=1)
    ]


def _existing_games(wh: Warehouse | None, days: list[dt.date]) -> pd.DataFrame | None:
    if wh is None or not days:
        return None
    return games_between(wh, min(days), max(days))


# --------------------------------------------------------------------------------------------
# Boxscores
# --------------------------------------------------------------------------------------------


@dataclass
class BoxRows:
    """One boxscore as kcast rows."""

    pitchers: list[dict[str, Any]]
    batting: list[dict[str, Any]]
    players: list[dict[str, Any]]
    game: dict[str, Any]
    lineups: list[dict[str, Any]] = field(default_factory=list)


def parse_boxscore(data: dict[str, Any], game: dict[str, Any], source: str) -> BoxRows:
    """Every pitcher's line (first listed = starter) and each team's batting, as rows.

    Walks are the API's ``baseOnBalls``, which already counts intentional walks (Retrosheet's
    convention too): in the API's own lines, at-bats + baseOnBalls + hit-by-pitch + sacrifices
    + catcher's interference equal batters faced, with intentional walks counted once.
    """
    teams = data.get("teams")
    if not isinstance(teams, dict) or not all(
        isinstance(teams.get(s), dict) for s in ("home", "away")
    ):
        raise InputError("no teams.home and teams.away", source=source)
    codes = _box_teams(teams, game, source)
    meta = {k: game[k] for k in ("game_id", "game_date", "season", "game_type")}
    pitchers: list[dict[str, Any]] = []
    players: list[dict[str, Any]] = []
    for side, other in (("home", "away"), ("away", "home")):
        rows, people = _box_pitchers(teams[side], side, codes[side], codes[other], source)
        pitchers.extend({**row, **meta} for row in rows)
        players.extend(people)
    starters = {("home" if p["is_home"] else "away"): p for p in pitchers if p["is_start"]}
    batting = [
        {**meta, **_box_batting(teams, side, codes, starters.get(other), pitchers, source)}
        for side, other in (("home", "away"), ("away", "home"))
    ]
    lineups = [
        {
            **{k: meta[k] for k in ("game_id", "game_date", "season")},
            "team": codes[side],
            "slot": slot,
            "player_id": pid,
            "source": SOURCE,
            "source_rank": SOURCE_RANK[SOURCE],
        }
        for side in ("home", "away")
        for slot, pid in _starting_order(teams[side]).items()
    ]
    return BoxRows(pitchers, batting, players, _game_extras(data), lineups)


def _box_teams(teams: dict[str, Any], game: dict[str, Any], source: str) -> dict[str, str]:
    """Each side's code, checked against the schedule's teams for the game."""
    codes = {}
    for side in ("home", "away"):
        codes[side] = _team(teams[side], source, f"teams.{side}")
        if codes[side] != game[f"{side}_team"]:
            raise InputError(
                f"teams.{side} is {codes[side]}, but the schedule has {game[f'{side}_team']} for "
                f"game {game['mlb_game_pk']}",
                source=source,
            )
    return codes


def _box_pitchers(
    team: dict[str, Any], side: str, code: str, opponent: str, source: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One side's pitcher lines, in the order they pitched (the first is the starter), and the
    pitchers as ``players`` rows."""
    roster = team.get("players") or {}
    ids = team.get("pitchers")
    if not isinstance(ids, list) or not isinstance(roster, dict):
        raise InputError(f"teams.{side} has no pitchers list", source=source)
    rows, people = [], []
    for seq, pid in enumerate(ids, start=1):
        entry = roster.get(f"ID{pid}")
        if not isinstance(entry, dict):
            raise InputError(f"pitcher {pid} of teams.{side} is not in its players", source)
        line = (entry.get("stats") or {}).get("pitching") or {}
        row = _pitcher_line(line, source, f"teams.{side} pitcher {pid}")
        row.update(
            pitcher_id=int(pid),
            team=code,
            opponent=opponent,
            is_home=side == "home",
            is_start=seq == 1,
            appearance_seq=seq,
            source=SOURCE,
            source_rank=SOURCE_RANK[SOURCE],
        )
        rows.append(row)
        person = dict(entry.get("person") or {"id": pid})
        person.setdefault("id", pid)
        for hand in ("pitchHand", "batSide"):
            if hand in entry and hand not in person:
                person[hand] = entry[hand]
        people.append(person_row(person, source))
    return rows, people


def _box_batting(
    teams: dict[str, Any],
    side: str,
    codes: dict[str, str],
    starter: dict[str, Any] | None,
    pitchers: list[dict[str, Any]],
    source: str,
) -> dict[str, Any]:
    """One side's ``team_batting_games`` row: its PA, K and BB, and the opposing starter's."""
    other = "away" if side == "home" else "home"
    team = teams[side]
    stats = (team.get("teamStats") or {}).get("batting") or {}
    pa = _int(stats.get("plateAppearances"))
    if pa is None:  # older boxscores: the opposing pitchers' batters faced
        pa = sum(p["batters_faced"] or 0 for p in pitchers if p["team"] == codes[other])
    so = _int(stats.get("strikeOuts"))
    if so is None:
        raise InputError(f"teams.{side}.teamStats.batting has no strikeOuts", source=source)
    return {
        "team": codes[side],
        "opponent": codes[other],
        "is_home": side == "home",
        "plate_appearances": pa,
        "strikeouts": so,
        "walks": _int(stats.get("baseOnBalls")),
        "pa_vs_starter": starter["batters_faced"] if starter else None,
        "so_vs_starter": starter["strikeouts"] if starter else None,
        "source": SOURCE,
        "source_rank": SOURCE_RANK[SOURCE],
        **_lineup_hands(team),
    }


def _starting_order(team: dict[str, Any]) -> dict[int, int]:
    """Slot -> the batter who started there. A player's ``battingOrder`` code is the slot times
    100 for a starter (``"900"``) and 901, 902 ... for those who replaced him; the team's
    ``battingOrder`` list holds each slot's latest occupant, so it is the starters only before
    the game."""
    order: dict[int, int] = {}
    for entry in (team.get("players") or {}).values():
        code = _int((entry or {}).get("battingOrder"))
        pid = _int(((entry or {}).get("person") or {}).get("id"))
        if code is not None and pid is not None and code % 100 == 0 and 1 <= code // 100 <= 9:
            order[code // 100] = pid
    if len(order) == 9:
        return dict(sorted(order.items()))
    listed = [_int(pid) for pid in (team.get("battingOrder") or [])[:9]]
    return {slot: pid for slot, pid in enumerate(listed, start=1) if pid is not None}


def _pitcher_line(line: dict[str, Any], source: str, where: str) -> dict[str, Any]:
    strikeouts = _int(line.get("strikeOuts"))
    if strikeouts is None:
        raise InputError(f"{where}: no strikeOuts in stats.pitching", source=source)
    outs = _int(line.get("outs"))
    if outs is None and line.get("inningsPitched") is not None:
        outs = outs_from_innings(line["inningsPitched"], source)
    pitches = _int(line.get("numberOfPitches"))
    if pitches is None:
        pitches = _int(line.get("pitchesThrown"))
    hbp = _int(line.get("hitBatsmen"))
    if hbp is None:
        hbp = _int(line.get("hitByPitch"))
    return {
        "outs": outs,
        "batters_faced": _int(line.get("battersFaced")),
        "pitches": pitches,
        "strikes": _int(line.get("strikes")),
        "strikeouts": strikeouts,
        "walks": _int(line.get("baseOnBalls")),
        "hits": _int(line.get("hits")),
        "home_runs": _int(line.get("homeRuns")),
        "runs": _int(line.get("runs")),
        "earned_runs": _int(line.get("earnedRuns")),
        "hit_batters": hbp,
    }


def _lineup_hands(team: dict[str, Any]) -> dict[str, int | None]:
    """Counts of L, R and switch batters in the starting lineup, when every side is known."""
    empty = {"lineup_lhb": None, "lineup_rhb": None, "lineup_shb": None}
    order = team.get("battingOrder") or []
    roster = team.get("players") or {}
    sides = []
    for pid in order:
        entry = roster.get(f"ID{pid}") or {}
        side = _code(entry.get("batSide")) or _code((entry.get("person") or {}).get("batSide"))
        if side is None:
            return empty
        sides.append(side)
    if not sides:
        return empty
    return {
        "lineup_lhb": sides.count("L"),
        "lineup_rhb": sides.count("R"),
        "lineup_shb": sides.count("S") + sides.count("B"),
    }


def home_plate_umpire(officials: Any) -> str | None:
    """The home-plate umpire's name in an ``officials`` list (a boxscore's, or a schedule's
    hydrated with ``officials``); None when there is none."""
    for item in officials if isinstance(officials, list) else []:
        if isinstance(item, dict) and item.get("officialType") == "Home Plate":
            name = (item.get("official") or {}).get("fullName")
            return str(name) if name else None
    return None


def _game_extras(data: dict[str, Any]) -> dict[str, Any]:
    """Temperature and wind speed from the boxscore's info lines ("69 degrees, Sunny."), and
    the home-plate umpire (by name: Retrosheet's files name him by Retrosheet id)."""
    out: dict[str, Any] = {}
    umpire = home_plate_umpire(data.get("officials"))
    if umpire is not None:
        out["umpire_home"] = umpire
    for item in data.get("info") or []:
        if not isinstance(item, dict):
            continue
        label, value = item.get("label"), str(item.get("value") or "")
        if label == "Weather" and (m := re.match(r"\s*(-?\d+) degrees", value)):
            out["temperature"] = int(m.group(1))
        elif label == "Wind" and (m := re.match(r"\s*(\d+) mph", value)):
            out["wind_speed"] = int(m.group(1))
    return out


# --------------------------------------------------------------------------------------------
# Ingest and slates
# --------------------------------------------------------------------------------------------


@dataclass
class StatsApiFrames:
    games: pd.DataFrame
    players: pd.DataFrame
    pitcher_games: pd.DataFrame
    team_batting_games: pd.DataFrame
    lineups: pd.DataFrame = field(default_factory=pd.DataFrame)
    plate_appearances: pd.DataFrame = field(default_factory=pd.DataFrame)


def ingest_statsapi(
    wh: Warehouse,
    date: dt.date | str,
    include_all_types: bool = False,
    client: StatsApiClient | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Store one day: its games (with probable starters) and the boxscores of finished games.

    Everything is written in one transaction, after every response has been read and checked.
    A boxscore that cannot be fetched is reported in the notes and the rest is stored; a
    schedule that cannot be fetched, or any malformed response, stores nothing.
    """
    day = parse_date(date)
    own = client is None
    client = client or StatsApiClient()
    try:
        with logged_ingest(wh, "statsapi", f"{day.isoformat()} ({client.base_url})") as report:
            frames = collect_day(wh, client, day, include_all_types, report, progress)
            report.rows_read = len(frames.games) + len(frames.pitcher_games)
            write_all(wh, report, game_tables(frames))
            copyright_ = report.stats.pop("copyright", None)
            report.stats = {**day_stats(frames), **report.stats}
            if copyright_:
                report.stats["copyright"] = copyright_
    finally:
        if own:
            client.close()
    return report


def collect_day(
    wh: Warehouse | None,
    client: StatsApiClient,
    day: dt.date,
    include_all_types: bool,
    report: IngestReport,
    progress: Callable[[int, int], None] | None = None,
) -> StatsApiFrames:
    """Fetch and parse one day's schedule and final boxscores into frames (nothing written)."""
    source = f"/api/v1/schedule?date={day.isoformat()}"
    slate = parse_schedule(client.schedule(day), source, include_all_types)
    report.notes.extend(slate.notes)
    if slate.skipped_types:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(slate.skipped_types.items()))
        report.notes.append(f"left out {kinds} game(s); --all-game-types keeps them")
    report.notes.extend(
        assign_game_ids(slate.games, _existing_games(wh, [g["game_date"] for g in slate.games]))
    )
    players = slate.players
    _complete_hands(wh, client, players, report)

    finals = [g for g in slate.games if g["status"] == "final"]
    pitchers: list[dict[str, Any]] = []
    batting: list[dict[str, Any]] = []
    lineups: list[dict[str, Any]] = []
    for game in slate.games:
        posted = (
            slate.posted.get(game["mlb_game_pk"], {}) if game["status"] in POSTED_STATUSES else {}
        )
        lineups.extend(posted_lineup_rows(game, posted))
        for person in (p for people in posted.values() for p in people):
            _add_player(players, person)
    report.stats["posted lineups"] = len(lineups) // 9
    boxed: list[dict[str, Any]] = []
    for i, game in enumerate(finals, start=1):
        path = f"/api/v1/game/{game['mlb_game_pk']}/boxscore"
        data = _fetched(client.boxscore, game, "boxscore", "its results are not stored", report)
        if data is not None:
            box = parse_boxscore(data, game, path)
            pitchers.extend(box.pitchers)
            batting.extend(box.batting)
            lineups.extend(box.lineups)
            for person in box.players:
                _add_player(players, person)
            game.update({k: v for k, v in box.game.items() if v is not None})
            boxed.append(game)
        if progress:
            progress(i, len(finals))
    report.stats["boxscores"] = f"{len(boxed)} of {len(finals)} final games"
    # the plays of the games whose results are stored (the others are fetched again, whole)
    plays = collect_feeds(wh, client, boxed, report, players)
    if slate.copyright:
        report.stats["copyright"] = slate.copyright
    return StatsApiFrames(
        games=pd.DataFrame(slate.games),
        players=pd.DataFrame(list(players.values())),
        pitcher_games=pd.DataFrame(pitchers),
        team_batting_games=pd.DataFrame(batting),
        lineups=pd.DataFrame(lineups),
        plate_appearances=pd.DataFrame(plays),
    )


def _describe(game: dict[str, Any]) -> str:
    return (
        f"{game['game_id']} ({game['away_team']} at {game['home_team']}, "
        f"gamePk {game['mlb_game_pk']})"
    )


def _fetched(
    fetch: Callable[[int], dict[str, Any]],
    game: dict[str, Any],
    what: str,
    lost: str,
    report: IngestReport,
) -> dict[str, Any] | None:
    """``fetch`` of the game's gamePk; None when the source is unavailable, with a note that
    names the game and what is ``lost`` (the daily job fetches it again on its next run)."""
    try:
        return fetch(game["mlb_game_pk"])
    except SourceUnavailableError as exc:
        report.notes.append(f"{what} of {_describe(game)} unavailable, {lost}: {exc}")
        return None


def collect_feeds(
    wh: Warehouse | None,
    client: StatsApiClient,
    finals: list[dict[str, Any]],
    report: IngestReport,
    players: dict[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """The plate appearances of final games from their live feeds (``statsapi_feed``), for the
    games whose plate appearances the warehouse does not hold yet (from the feed or the event
    files: a feed is fetched once); the games' people (batting and throwing sides, names) are
    added to ``players``. A feed that cannot be fetched is a note (with "unavailable": the
    daily job fetches it again on its next run); a malformed one is an ``InputError``."""
    stored = games_with_plate_appearances(wh, [g["game_id"] for g in finals]) if wh else set()
    wanted = [g for g in finals if g["game_id"] not in stored]
    rows: list[dict[str, Any]] = []
    fetched = 0
    for game in wanted:
        path = f"/api/v1.1/game/{game['mlb_game_pk']}/feed/live"
        feed = _fetched(
            client.feed, game, "live feed", "its plate appearances are not stored", report
        )
        if feed is None:
            continue
        rows.extend(plate_appearances(feed, game, path))
        for person in feed_people(feed):
            _add_player(players, person_row(person, path))
        fetched += 1
    report.stats["feeds"] = f"{fetched} of {len(wanted)} final games without plate appearances"
    report.stats["plate appearances"] = len(rows)
    return rows


def _complete_hands(
    wh: Warehouse | None,
    client: StatsApiClient,
    players: dict[int, dict[str, Any]],
    report: IngestReport | None,
) -> None:
    """Look up the throwing hand of probable starters the schedule and the warehouse lack.

    ``hydrate=probablePitcher`` gives only a starter's id and name; ``/people/{id}`` gives the
    rest. A person that cannot be fetched is noted and left without a hand.
    """
    missing = [pid for pid, p in players.items() if p.get("throws") is None]
    if missing and wh is not None:
        known = known_throws(wh, missing)
        missing = [pid for pid in missing if pid not in known]
    for pid in missing:
        try:
            _add_player(players, client.person(pid))
        except (SourceUnavailableError, InputError) as exc:
            if report is not None:
                report.notes.append(f"person {pid}: throwing hand unknown ({exc})")


def day_stats(frames: StatsApiFrames) -> dict[str, object]:
    """Games, final games, starts and starters' strikeouts of the ingested day."""
    games, pitchers = frames.games, frames.pitcher_games
    out: dict[str, object] = {"games": len(games)}
    if not games.empty:
        out["final"] = int((games["status"] == "final").sum())
        probables = games[["home_probable_id", "away_probable_id"]].notna().sum().sum()
        out["probable starters"] = int(probables)
    if not pitchers.empty:
        starts = pitchers[pitchers["is_start"]]
        out["starts"] = len(starts)
        out["starters' strikeouts"] = int(starts["strikeouts"].sum())
    return out


def fetch_slate(
    date: dt.date | str,
    warehouse: Warehouse | str | None = None,
    include_all_types: bool = False,
    client: StatsApiClient | None = None,
) -> pd.DataFrame:
    """The day's games with their probable starters, as a DataFrame (nothing is written).

    Columns: ``SLATE_COLUMNS`` (game_id, mlb_game_pk, game_date, home_team, away_team, park_id,
    home_probable_id, away_probable_id, status, then game_type, start_time and the probable
    starters' names and throwing hands). With a ``warehouse`` (or its URL), game ids the
    warehouse already has are reused and hands it knows fill those the schedule lacks; without
    one, ids are built from the home team, date and game number.
    """
    day = parse_date(date)
    own = client is None
    client = client or StatsApiClient()
    try:
        source = f"/api/v1/schedule?date={day.isoformat()}"
        slate = parse_schedule(client.schedule(day), source, include_all_types)
    finally:
        if own:
            client.close()
    wh = warehouse
    if isinstance(wh, str):
        wh = open_warehouse(wh)
    try:
        days = [g["game_date"] for g in slate.games]
        assign_game_ids(slate.games, _existing_games(wh, days))
        known = known_throws(wh, list(slate.players)) if wh is not None else {}
    finally:
        if isinstance(warehouse, str) and wh is not None:
            wh.close()
    rows = []
    for g in slate.games:
        row = {c: g.get(c) for c in SLATE_COLUMNS}
        for side in ("home", "away"):
            pid = g[f"{side}_probable_id"]
            person = slate.players.get(pid) if pid is not None else None
            row[f"{side}_probable_name"] = person["full_name"] if person else None
            row[f"{side}_probable_throws"] = (
                (person.get("throws") or known.get(pid)) if person else None
            )
        rows.append(row)
    frame = pd.DataFrame(rows, columns=SLATE_COLUMNS)
    for col in ("mlb_game_pk", "home_probable_id", "away_probable_id"):
        frame[col] = frame[col].astype("Int64")
    return frame.sort_values(["start_time", "game_id"], ignore_index=True)
