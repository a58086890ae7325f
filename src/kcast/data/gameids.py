"""kcast game ids: how a game gets its id, and how a game from a source finds its stored game.

A kcast ``game_id`` is Retrosheet's: home team code + YYYYMMDD + game number, where the number
is 0 for a single game and 1 or 2 for the games of a doubleheader (``CHN202407010``,
``NYA202409281``). Retrosheet's own ids are authoritative; every other source either reuses the
id of a game the warehouse already has, or makes a new one with the rules here:

* ``new_game_id`` / ``game_stem``: the id of a home team, date and number;
* ``canonical_game_id``: a Retrosheet id with its home team spelled as kcast's code (the
  Athletics are ``ATH`` in Retrosheet's 2025 files, ``OAK`` in kcast: ``OAK202503280``);
* ``doubleheader_numbers``: the numbers of a day's games at one park (0, or 1, 2, ...);
* ``free_game_id``: that id, or the first free number 1-9 when another game already took it;
* ``StoredGames``: stored games by ``mlb_game_pk``, by slot (home, date, number) and by teams;
* ``PitcherDays``: stored games by pitcher and date (the game a pitcher pitched that day);

and the three ways sources place their games, built from them:

* ``place_schedule_games``: MLB Stats API schedules (by pk, slot, then teams);
* ``place_start_games``: the Statcast start logs (by pk, then a starter's pitcher-day);
* ``relocate_rows``: lower-ranked rows that belong under Retrosheet's game (by pitcher-day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from typing import Any

import pandas as pd

from kcast.errors import InputError
from kcast.teams import canonical_team

GAME_NUMBERS = range(10)  # 0 single game, 1-9 the games of one park's day


# --------------------------------------------------------------------------------------------
# Making ids
# --------------------------------------------------------------------------------------------


def _day(value: Any) -> dt.date:
    """A date from a date, datetime, Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def game_stem(home: str, day: dt.date) -> str:
    """The id without its number: home team code + YYYYMMDD (``CHN20240701``)."""
    return f"{home}{_day(day):%Y%m%d}"


def new_game_id(home: str, day: dt.date, number: int = 0) -> str:
    """The id of the game ``number`` (0 single, 1/2 doubleheader) at ``home`` on ``day``."""
    number = int(number)
    if number not in GAME_NUMBERS:
        raise InputError(f"game number {number} at {home} on {_day(day)} is not 0-9")
    return f"{game_stem(home, day)}{number}"


def canonical_game_id(game_id: str, source: str | None = None, line: int | None = None) -> str:
    """A source's game id with its home team spelled as kcast's code, so that every source
    files a game under one id: Retrosheet's 2025 files call the Athletics ``ATH``
    (``ATH202503280``), kcast ``OAK`` in every season (``OAK202503280``, the id the Stats API
    and the start logs build). An unknown team is an ``UnknownTeamError`` naming the source and
    line.

    >>> canonical_game_id("ATH202503280"), canonical_game_id("NYA201904010")
    ('OAK202503280', 'NYA201904010')
    """
    code = canonical_team(game_id[:3], source, line)
    return game_id if code == game_id[:3] else code + game_id[3:]


def doubleheader_numbers(count: int) -> list[int]:
    """The numbers of ``count`` games at one park on one day: [0] alone, else 1, 2, ..."""
    if count < 1:
        return []
    if count > len(GAME_NUMBERS) - 1:
        raise InputError(f"{count} games at one park on one day: more than game numbers 1-9")
    return [0] if count == 1 else list(range(1, count + 1))


def free_game_id(home: str, day: dt.date, number: int, taken: Container[str]) -> str:
    """``new_game_id(home, day, number)``, or, when ``taken`` holds it, the id with the first
    number 1-9 that ``taken`` does not hold. Raises ``InputError`` when all of them are taken.
    """
    wanted = new_game_id(home, day, number)
    if wanted not in taken:
        return wanted
    for n in GAME_NUMBERS[1:]:
        game_id = new_game_id(home, day, n)
        if game_id not in taken:
            return game_id
    raise InputError(f"more than 10 games at {home} on {_day(day)}")


# --------------------------------------------------------------------------------------------
# Finding stored games
# --------------------------------------------------------------------------------------------


class StoredGames:
    """Stored ``games`` rows, looked up by ``mlb_game_pk``, by slot and by teams.

    ``games`` has ``game_id`` and ``mlb_game_pk``, and for the slot and teams look-ups also
    ``game_date``, ``home_team``, ``away_team`` and ``game_number`` (missing = 0). A game with a
    gamePk is found by it only; slots and teams find the games without one (a game with a
    gamePk is another source's record of a game that already has its MLB identity).
    """

    def __init__(self, games: pd.DataFrame | None = None) -> None:
        self._pk: dict[int, list[tuple[dt.date | None, str]]] = {}
        self._owner: dict[str, int] = {}
        self._slot: dict[tuple[str, dt.date, int], str] = {}
        self._teams: dict[tuple[str, str, dt.date], list[str]] = {}
        if games is None or games.empty:
            return
        has_day = "game_date" in games.columns
        has_slot = has_day and {"home_team", "away_team"} <= set(games.columns)
        for r in games.to_dict("records"):
            day = _day(r["game_date"]) if has_day and pd.notna(r["game_date"]) else None
            pk = r.get("mlb_game_pk")
            if pk is not None and pd.notna(pk):
                self._pk.setdefault(int(pk), []).append((day, r["game_id"]))
                self._owner[r["game_id"]] = int(pk)
                continue
            if not has_slot or day is None:
                continue
            number = r.get("game_number")
            number = int(number) if number is not None and pd.notna(number) else 0
            self._slot.setdefault((r["home_team"], day, number), r["game_id"])
            self._teams.setdefault((r["home_team"], r["away_team"], day), []).append(r["game_id"])

    def by_pk(self, pk: int, day: dt.date | None = None) -> str | None:
        """The stored game with this gamePk (on ``day``, when given; the last listed if several)."""
        found = [g for d, g in self._pk.get(int(pk), []) if day is None or d == _day(day)]
        return found[-1] if found else None

    def pk_of(self, game_id: str) -> int | None:
        """The gamePk a stored game already has (None when it has none)."""
        return self._owner.get(game_id)

    def by_slot(self, home: str, day: dt.date, number: int) -> str | None:
        """The stored game without a gamePk at ``home`` on ``day`` with this game number."""
        return self._slot.get((home, _day(day), int(number)))

    def by_teams(self, home: str, away: str, day: dt.date) -> list[str]:
        """The stored games without a gamePk of these two teams at ``home`` on ``day``."""
        return list(self._teams.get((home, away, _day(day)), []))

    def with_pk(self) -> set[str]:
        """The ids of the stored games that have a gamePk."""
        return set(self._owner)


class PitcherDays:
    """Stored pitcher rows by pitcher and date: the game a pitcher pitched on a day.

    ``rows`` has ``game_id``, ``pitcher_id``, ``game_date`` and ``is_start``.
    """

    def __init__(self, rows: pd.DataFrame | None = None) -> None:
        self._games: dict[tuple[int, dt.date], list[tuple[str, bool]]] = {}
        if rows is None or rows.empty:
            return
        for game_id, pitcher, day, start in zip(
            rows["game_id"], rows["pitcher_id"], rows["game_date"], rows["is_start"], strict=True
        ):
            if pd.isna(pitcher) or pd.isna(day):
                continue
            started = bool(start) if pd.notna(start) else False
            self._games.setdefault((int(pitcher), _day(day)), []).append((game_id, started))

    def games(self, pitcher_id: int, day: dt.date) -> list[str]:
        """Every stored game of the pitcher on ``day``."""
        return [g for g, _ in self._games.get((int(pitcher_id), _day(day)), [])]

    def candidates(self, pitcher_id: int, day: dt.date, is_start: bool | None = True) -> list[str]:
        """The pitcher's game that day: his only one, or else those where he also started (or
        also relieved, for ``is_start=False``) - so a doubleheader start finds its own game."""
        rows = self._games.get((int(pitcher_id), _day(day)), [])
        if len(rows) <= 1:
            return [g for g, _ in rows]
        return [g for g, started in rows if is_start is not None and started == bool(is_start)]

    def game_of(self, pitcher_id: int, day: dt.date, is_start: bool | None = True) -> str | None:
        """The one game ``candidates`` finds, or None (no game, or several)."""
        found = self.candidates(pitcher_id, day, is_start)
        return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------------------------------
# Placing a source's games
# --------------------------------------------------------------------------------------------


def place_schedule_games(
    games: list[dict[str, Any]], existing: pd.DataFrame | None = None
) -> list[str]:
    """Set ``game_id`` on each schedule game (dicts with ``mlb_game_pk``, ``game_date``,
    ``home_team``, ``away_team``, ``game_number``, ``start_time``), reusing stored games.

    A stored game on the same date is reused when its ``mlb_game_pk`` matches; else one without
    a gamePk with the same home team and game number; else the only one without a gamePk with
    the same two teams (when the schedule has one such game too, so a numbering difference
    between sources cannot make two games). Otherwise the id is home + YYYYMMDD + game number.
    Games are placed in start-time order; returns notes about ids moved to stay unique.
    """
    notes: list[str] = []
    stored = StoredGames(existing)
    in_slate: dict[tuple[str, str, dt.date], int] = {}
    for g in games:
        key = (g["home_team"], g["away_team"], g["game_date"])
        in_slate[key] = in_slate.get(key, 0) + 1
    taken: set[str] = set()
    for g in sorted(games, key=lambda g: (g["start_time"] or "", g["mlb_game_pk"])):
        day, home, away = g["game_date"], g["home_team"], g["away_team"]
        game_id = stored.by_pk(g["mlb_game_pk"], day) or stored.by_slot(home, day, g["game_number"])
        pair = stored.by_teams(home, away, day)
        if game_id is None and len(pair) == 1 and in_slate[(home, away, day)] == 1:
            game_id = pair[0]
        if game_id is None or game_id in taken:
            game_id = free_game_id(home, day, g["game_number"], taken)
            wanted = new_game_id(home, day, g["game_number"])
            if game_id != wanted:  # e.g. two split-squad spring games at home the same day
                notes.append(
                    f"game {g['mlb_game_pk']}: {wanted} was taken by another game that day; "
                    f"stored as {game_id}"
                )
        taken.add(game_id)
        g["game_id"] = game_id
    return notes


def place_start_games(
    starts: pd.DataFrame, stored: StoredGames, pitcher_days: PitcherDays
) -> tuple[dict[int, str], list[str]]:
    """``game_pk`` -> game_id for the games of a start log, with notes.

    ``starts`` has one row per start: ``game_pk``, ``game_date``, ``pitcher``, ``home_team``.
    Each game is placed, in ``game_pk`` order, in

    1. the stored game with this gamePk (on the same date if there is one, else any);
    2. the stored game of either starter on that date (``PitcherDays``; the first if they
       differ), unless another gamePk already has that game;
    3. a new id: home + YYYYMMDD + 0, or 1/2/... when the log has several games at that home on
       that date (numbered in ``game_pk`` order), moved to the next free number when taken.
    """
    notes: list[str] = []
    ids: dict[int, str] = {}
    claimed: dict[str, int] = {}
    for pk, game in starts.groupby("game_pk", sort=True):
        pk = int(pk)
        day = game["game_date"].iloc[0]
        choice = stored.by_pk(pk, day) or stored.by_pk(pk)
        if choice is None:
            found = [
                g
                for pitcher, date in zip(game["pitcher"], game["game_date"], strict=True)
                if (g := pitcher_days.game_of(pitcher, date, is_start=True)) is not None
            ]
            if len(set(found)) > 1:
                notes.append(
                    f"game_pk {pk}: its starters are in {sorted(set(found))}; used the first"
                )
            choice = found[0] if found else None
        owner = stored.pk_of(choice) if choice is not None else None
        if choice is not None and (
            claimed.get(choice, pk) != pk or (owner is not None and owner != pk)
        ):
            notes.append(f"game_pk {pk}: {choice} already belongs to another game_pk; new id")
            choice = None
        if choice is not None:
            ids[pk] = choice
            claimed[choice] = pk
    taken = stored.with_pk() | set(claimed)
    unplaced = starts.drop_duplicates("game_pk")[["game_pk", "game_date", "home_team"]]
    for (day, home), group in unplaced.groupby(["game_date", "home_team"]):
        pks = sorted(int(pk) for pk in group["game_pk"])
        for pk, number in zip(pks, doubleheader_numbers(len(pks)), strict=True):
            if pk in ids:
                continue
            game_id = free_game_id(home, day, number, taken)
            ids[pk] = game_id
            taken.add(game_id)
    return ids, notes


def relocate_rows(lower: pd.DataFrame, ours: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Which ``lower`` rows sit under another game id than the one ``ours`` has for them.

    Both have ``game_id``, ``pitcher_id``, ``game_date`` and ``is_start``. A lower row whose
    pitcher has an ``ours`` row in the same game that day stays. Otherwise it belongs to the
    pitcher's ``ours`` game that day (``PitcherDays.candidates`` with the row's ``is_start``);
    rows that match several are kept, with a note. Returns ``game_id``, ``pitcher_id`` and
    ``game_id_new`` of the rows to move, and the notes.
    """
    days = PitcherDays(ours)
    notes: list[str] = []
    picks: list[tuple[str, int, str]] = []
    keys = sorted(
        set(
            zip(
                lower["game_id"],
                lower["pitcher_id"].astype(int),
                lower["game_date"],
                lower["is_start"],
                strict=True,
            )
        ),
        key=lambda r: (r[0], r[1]),
    )
    for game_id, pitcher_id, day, is_start in keys:
        theirs = days.games(pitcher_id, day)
        if not theirs or game_id in theirs:
            continue
        start = bool(is_start) if pd.notna(is_start) else None
        found = days.candidates(pitcher_id, day, start)
        if len(found) == 1:
            picks.append((game_id, pitcher_id, found[0]))
        else:
            notes.append(f"pitcher {pitcher_id}'s row in {game_id} matches several games; kept")
    moves = pd.DataFrame(picks, columns=["game_id", "pitcher_id", "game_id_new"])
    return moves, notes
