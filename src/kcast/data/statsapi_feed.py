"""The MLB Stats API's live feed of a final game: its plate appearances, as the event files give them.

``/api/v1.1/game/{gamePk}/feed/live`` holds every play of a game (``liveData.plays.allPlays``):
the batter and pitcher (``matchup``), the inning and half, every pitch with its call
(``playEvents``, pitch calls in ``details.call.code``) and how the play ended
(``result.eventType``); ``liveData.boxscore`` gives each player's batting-order code. This module
turns them into ``plate_appearances`` rows (source ``statsapi_feed``, rank 30) with the columns
and rules of the event files' rows (``kcast.data.retrosheet``), so that a season in progress has
its batters, and Retrosheet's release replaces the rows later under the same keys:

* a play is a plate appearance when its event ends one (``PA_EVENTS``); a play that ends the
  inning with the batter still up (a runner caught stealing, picked off) is not, as in
  Retrosheet, and neither are other runner plays;
* the batter and pitcher charged follow the rules Chadwick applies to the event files: a walk
  issued by a reliever who came in with the count 2-0, 2-1, 3-0, 3-1 or 3-2 is the previous
  pitcher's (rule 9.16(h)), and a strikeout of a pinch-hitter who came up with two strikes is
  the replaced batter's (rule 9.15(b));
* ``times_faced`` counts the charged batter's plate appearances against the charged pitcher in
  the game, ``lineup_slot`` is the batter's slot (his ``battingOrder`` code over 100),
  ``bats`` the side he hit from and ``throws`` the pitcher's hand (``matchup.batSide`` and
  ``pitchHand``);
* the pitch sequence is written in Retrosheet's codes (``kcast.data.pitch_codes``) with pickoff
  throws as 1, 2, 3; pitches, swinging strikes and called strikes are counted from it;
* ``event`` is the feed's event type (``strikeout``, ``field_out`` ...).
"""

from __future__ import annotations

from typing import Any

from kcast.data.pitch_codes import UNKNOWN, pitch_counts, retrosheet_code
from kcast.errors import InputError
from kcast.warehouse.schema import SOURCE_RANK

SOURCE = "statsapi_feed"

STRIKEOUTS = frozenset({"strikeout", "strikeout_double_play", "strikeout_triple_play"})
WALKS = frozenset({"walk", "intent_walk"})
# the events that end a plate appearance (Statcast's ``events`` of a completed one)
PA_EVENTS = (
    STRIKEOUTS
    | WALKS
    | frozenset(
        {
            "single",
            "double",
            "triple",
            "home_run",
            "field_out",
            "force_out",
            "grounded_into_double_play",
            "grounded_into_triple_play",
            "double_play",
            "triple_play",
            "field_error",
            "fielders_choice",
            "fielders_choice_out",
            "sac_fly",
            "sac_bunt",
            "sac_fly_double_play",
            "sac_bunt_double_play",
            "hit_by_pitch",
            "catcher_interf",
            "batter_interference",
            "fan_interference",
        }
    )
)
# the counts at a pitching change after which a walk is the previous pitcher's (9.16(h))
WALK_COUNTS = frozenset({(2, 0), (2, 1), (3, 0), (3, 1), (3, 2)})
PINCH_HITTER = "11"  # ``position.code`` of an offensive substitution that sends up a batter


def _dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> int | None:
    try:
        return int(_obj(value).get("id"))
    except (TypeError, ValueError):
        return None


def _count(event: dict[str, Any]) -> tuple[int, int]:
    count = _obj(event.get("count"))
    return int(count.get("balls") or 0), int(count.get("strikes") or 0)


def _hand(value: Any) -> str | None:
    code = (value or {}).get("code") if isinstance(value, dict) else None
    return code if code in ("L", "R") else None


def lineup_slots(feed: dict[str, Any]) -> dict[int, int]:
    """Player -> batting-order slot 1-9, from ``liveData.boxscore`` (``battingOrder`` "300" is
    the starter of slot 3, "301" the first who replaced him)."""
    slots: dict[int, int] = {}
    for side in ("away", "home"):
        players = _dig(feed, "liveData", "boxscore", "teams", side, "players")
        for entry in (players if isinstance(players, dict) else {}).values():
            pid = _id(_obj(entry).get("person"))
            try:
                slot = int(_obj(entry).get("battingOrder")) // 100
            except (TypeError, ValueError):
                continue
            if pid is not None and 1 <= slot <= 9:
                slots[pid] = slot
    return slots


def feed_people(feed: dict[str, Any]) -> list[dict[str, Any]]:
    """The game's people (``gameData.players``): every batter's and pitcher's full person
    record, with ``batSide`` and ``pitchHand``."""
    people = _dig(feed, "gameData", "players")
    return [p for p in (people.values() if isinstance(people, dict) else []) if _id(p) is not None]


def feed_plays(feed: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """``liveData.plays.allPlays`` of a feed; ``InputError`` naming ``source`` if it is not a
    feed."""
    plays = _dig(feed, "liveData", "plays", "allPlays")
    if not isinstance(plays, list):
        raise InputError("not a live feed: it has no liveData.plays.allPlays list", source=source)
    for index, play in enumerate(plays):
        if not isinstance(play, dict):
            raise InputError(f"allPlays[{index}] is not an object", source=source)
    return plays


def plate_appearances(feed: dict[str, Any], game: dict[str, Any], source: str) -> list[dict]:
    """The ``plate_appearances`` rows of a final game's feed, in order (``pa_index`` 1, 2, ...).

    ``game`` is the game's kcast row (game_id, game_date, season, game_type, home_team,
    away_team). A play without a batter or pitcher id is an ``InputError`` naming ``source``
    and the play."""
    slots = lineup_slots(feed)
    pitcher_now: dict[bool, int] = {}  # the fielding team's pitcher (key: home fields)
    faced: dict[tuple[int, int], int] = {}
    rows: list[dict] = []
    for index, play in enumerate(feed_plays(feed, source)):
        about, matchup = _obj(play.get("about")), _obj(play.get("matchup"))
        batter, pitcher = _id(matchup.get("batter")), _id(matchup.get("pitcher"))
        if batter is None or pitcher is None:
            raise InputError(f"allPlays[{index}] has no batter or pitcher id", source=source)
        top = bool(about.get("isTopInning"))
        current = pitcher_now.get(top, pitcher)
        walk_charged, k_charged, sequence = _walk_through(play, current)
        pitcher_now[top] = pitcher
        event = _obj(play.get("result")).get("eventType")
        if event not in PA_EVENTS:
            continue
        charged_pitcher = walk_charged if event in WALKS and walk_charged else pitcher
        charged_batter = k_charged if event in STRIKEOUTS and k_charged else batter
        times = faced[(charged_pitcher, charged_batter)] = (
            faced.get((charged_pitcher, charged_batter), 0) + 1
        )
        pitches, whiffs, called = pitch_counts(sequence)
        rows.append(
            {
                "game_id": game["game_id"],
                "pa_index": len(rows) + 1,
                "game_date": game["game_date"],
                "season": game["season"],
                "game_type": game["game_type"],
                "inning": int(about.get("inning") or 0) or None,
                "batting_team": game["away_team"] if top else game["home_team"],
                "pitching_team": game["home_team"] if top else game["away_team"],
                "batter_id": charged_batter,
                "pitcher_id": charged_pitcher,
                "lineup_slot": slots.get(batter),
                "times_faced": times,
                "bats": _hand(matchup.get("batSide")),
                "throws": _hand(matchup.get("pitchHand")),
                "pitch_sequence": sequence or None,
                "pitches": pitches + sequence.count(UNKNOWN) if sequence else None,
                "swinging_strikes": whiffs,
                "called_strikes": called,
                "is_strikeout": event in STRIKEOUTS,
                "is_walk": event in WALKS,
                "event": event,
                "source": SOURCE,
                "source_rank": SOURCE_RANK[SOURCE],
            }
        )
    return rows


def _walk_through(play: dict[str, Any], pitcher: int) -> tuple[int | None, int | None, str]:
    """One play's events in order: the pitch sequence in Retrosheet's codes, and who a walk or
    a strikeout would be charged to instead of the play's own pitcher and batter (None: them).

    ``pitcher`` is the fielding team's pitcher when the play began."""
    sequence: list[str] = []
    walk_pitcher = k_batter = None
    events = play.get("playEvents")
    for event in map(_obj, events if isinstance(events, list) else []):
        details = _obj(event.get("details"))
        if event.get("isPitch"):
            sequence.append(retrosheet_code(_obj(details.get("call")).get("code")))
            continue
        kind = details.get("eventType")
        if event.get("type") == "pickoff" and str(details.get("code")) in ("1", "2", "3"):
            sequence.append(str(details.get("code")))
        elif kind == "pitching_substitution":
            if sequence and walk_pitcher is None and _count(event) in WALK_COUNTS:
                walk_pitcher = pitcher
            pitcher = _id(event.get("player")) or pitcher
        elif (
            kind == "offensive_substitution"
            and str(_obj(event.get("position")).get("code")) == PINCH_HITTER
            and sequence
            and _count(event)[1] == 2
            and k_batter is None
        ):
            k_batter = _id(event.get("replacedPlayer"))
    return walk_pitcher, k_batter, "".join(sequence)
