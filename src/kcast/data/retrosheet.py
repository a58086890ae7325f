"""Retrosheet event files (``YYYYeve.zip``): every pitcher's line in every game, with pitch counts.

The event files are parsed with chadwickpy, the Python port of the Chadwick tools: each game's
box score (``box_create``, what ``cwbox``/``cwdaily`` print) gives every pitcher's outs, batters
faced, strikeouts, walks and, from the pitch sequences, pitches and strikes. Files are spread over
all cores. Before chadwickpy sees a file, every record is checked, because Chadwick skips a record
it cannot read with only a warning; kcast stops and names the file and line instead.

Retrosheet notice: the information used here was obtained free of charge from and is
copyrighted by Retrosheet. Interested parties may contact Retrosheet at www.retrosheet.org.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import functools
import io
import logging
import os
import re
import signal
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from chadwickpy.box import (
    Boxscore,
    add_substitute,
    batter_stats,
    box_create,
    enter_starters,
    fielder_stats,
    find_current_player,
    pitch_stats,
    runner_stats,
)
from chadwickpy.game import pitch_ball_thrown, pitch_strike_thrown
from chadwickpy.gameiter import GameIter
from chadwickpy.parse import Ev, is_batter, parse_event
from chadwickpy.tools.tools import iterate_games

from kcast.data.gameids import canonical_game_id
from kcast.data.http import HttpClient
from kcast.data.ingest import (
    GAME_TYPES,
    IngestReport,
    game_tables,
    logged_ingest,
    opposing_pitcher_splits,
    season_stats,
)
from kcast.data.register import Register
from kcast.data.rekey import apply_rekey, plan_rekey
from kcast.errors import InputError, SourceUnavailableError
from kcast.teams import canonical_team, is_all_star
from kcast.warehouse import Warehouse
from kcast.warehouse.schema import SOURCE_RANK
from kcast.warehouse.sources import delete_lower_ranked_plate_appearances

SOURCE = "retrosheet_events"
__all__ = ["GAME_TYPES", "SOURCE", "ingest_retrosheet", "parse_event_file", "season_stats"]

# record type -> minimum number of comma-separated fields (type included)
_RECORD_FIELDS = {
    "id": 2,
    "version": 2,
    "info": 2,
    "start": 6,
    "sub": 6,
    "play": 7,
    "com": 2,
    "data": 4,
    "badj": 3,
    "padj": 3,
    "ladj": 3,
    "radj": 3,
    "presadj": 3,
    "line": 2,
    "stat": 2,
    "event": 2,
}
_GAME_ID = re.compile(r"^[A-Z0-9]{3}\d{8}[0-9]$")
_DATE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")
_PLAY_COUNT = re.compile(r"^(\?\?|\d\d|\d\?|\?\d)?$")
_PLAYER_ID = re.compile(r"^[a-z][a-z-]{4}\d{3}$")  # abcde001; a short name is padded: lee-j001
# Retrosheet's pitch codes (A and V: the pitch clock's automatic strike and ball, from 2023) and
# the markers between them (pickoffs 1-3, a runner going >, ...)
_PITCHES = re.compile(r"^[+*.>123ABCFHIKLMNOPQRSTUVXY]*$")
_EVENT = re.compile(r"^[A-Z0-9/.()+\-#!?;]+$")


@dataclass
class ParsedFile:
    """What one event file holds, as plain rows (sent back from a worker process)."""

    name: str
    games: list[dict] = field(default_factory=list)
    pitchers: list[dict] = field(default_factory=list)
    batting: list[dict] = field(default_factory=list)
    plays: list[dict] = field(default_factory=list)


@dataclass
class SeasonArchive:
    """The files of one season: event files, rosters (id -> (bats, throws))."""

    season: int
    label: str
    event_files: list[tuple[str, bytes]]
    rosters: dict[str, tuple[str, str, str, str]]  # retro id -> (last, first, bats, throws)


# --------------------------------------------------------------------------------------------
# Finding and reading the archives
# --------------------------------------------------------------------------------------------


def resolve_archives(
    source: str | Path | None,
    seasons: Iterable[int],
    cache_dir: Path,
    base_url: str,
) -> list[Path]:
    """The ``YYYYeve.zip`` files (or event folders) to read for ``seasons``.

    ``source`` is a zip file, a folder of zips or of unpacked event files, or an http(s) URL of a
    folder holding ``YYYYeve.zip`` (retrosheet.org's ``/events``). With no source, seasons are
    downloaded from ``base_url`` into ``cache_dir``.
    """
    seasons = sorted(set(seasons))
    if source is None or str(source).startswith(("http://", "https://")):
        url = str(source) if source is not None else base_url
        if not seasons:
            raise InputError("name the seasons to download with --season")
        return [download_season(url, season, cache_dir) for season in seasons]
    path = Path(source)
    if not path.exists():
        raise InputError("no such file or folder", source=str(path))
    if path.is_file():
        return [path]
    found: list[Path] = []
    zips = {
        int(m.group(1)): p
        for p in path.iterdir()
        if (m := re.match(r"^(\d{4})eve\.zip$", p.name, re.I))
    }
    loose = {
        int(m.group(1))
        for p in path.iterdir()
        if (m := re.match(r"^(\d{4})\w{3}\.EV[AN]$", p.name, re.I))
    }
    wanted = seasons or sorted(set(zips) | loose)
    for season in wanted:
        if season in zips:
            found.append(zips[season])
        elif season in loose:
            found.append(path)
        else:
            raise InputError(
                f"no event files for {season} (expected {season}eve.zip)", source=str(path)
            )
    return found


def download_season(url: str, season: int, cache_dir: Path) -> Path:
    """Fetch ``{url}/{season}eve.zip`` into the cache, once; return its path."""
    if url.lower().endswith(".zip"):
        target_url, name = url, url.rsplit("/", 1)[-1]
    else:
        target_url, name = f"{url.rstrip('/')}/{season}eve.zip", f"{season}eve.zip"
    target = cache_dir / "retrosheet" / name
    if target.exists() and zipfile.is_zipfile(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with HttpClient(timeout=120) as http:
        data = http.get_bytes(target_url)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise SourceUnavailableError(f"{target_url} did not return a zip file")
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def read_archive(path: Path, seasons: Iterable[int] = ()) -> list[SeasonArchive]:
    """Read a season zip (or a folder of unpacked files) into memory, by season."""
    wanted = set(seasons)
    files: dict[str, bytes] = {}
    label = str(path)
    if path.is_dir():
        for p in sorted(path.iterdir()):
            if re.match(r"^(\d{4}\w{3}\.EV[AN]|\w{3}\d{4}\.ROS)$", p.name, re.I):
                files[p.name] = p.read_bytes()
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    name = info.filename.rsplit("/", 1)[-1]
                    if re.match(r"^(\d{4}\w{3}\.EV[AN]|\w{3}\d{4}\.ROS)$", name, re.I):
                        files[name] = zf.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise InputError(
                f"not a readable zip archive ({exc}); is the download truncated?", source=label
            ) from exc
    by_season: dict[int, SeasonArchive] = {}
    for name, data in files.items():
        m = re.match(r"^(\d{4})\w{3}\.EV[AN]$", name, re.I)
        if m:
            season = int(m.group(1))
            if wanted and season not in wanted:
                continue
            arch = by_season.setdefault(season, SeasonArchive(season, label, [], {}))
            arch.event_files.append(
                (f"{label}:{name}" if not path.is_dir() else str(path / name), data)
            )
    for name, data in files.items():
        m = re.match(r"^\w{3}(\d{4})\.ROS$", name, re.I)
        if m and int(m.group(1)) in by_season:
            _read_roster(data, by_season[int(m.group(1))].rosters)
    if not by_season:
        raise InputError(
            "no Retrosheet event files (YYYYTTT.EVA/.EVN)"
            + (f" for seasons {sorted(wanted)}" if wanted else ""),
            source=label,
        )
    return [by_season[s] for s in sorted(by_season)]


def _read_roster(data: bytes, out: dict[str, tuple[str, str, str, str]]) -> None:
    for line in data.decode("latin-1").splitlines():
        parts = line.strip().split(",")
        if len(parts) >= 5 and parts[0]:
            out.setdefault(parts[0], (parts[1], parts[2], parts[3], parts[4]))


# --------------------------------------------------------------------------------------------
# Parsing one event file (runs in a worker process)
# --------------------------------------------------------------------------------------------


def check_records(name: str, text: str) -> dict[str, int]:
    """Check every record of an event file; return each game's first line number.

    Raises ``InputError`` naming the file and line of the first bad record.
    """
    starts: dict[str, int] = {}
    game: str | None = None
    players: dict[str, set[str]] = {"0": set(), "1": set()}  # the game's players, by team
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split(",")
        kind = parts[0]
        if kind not in _RECORD_FIELDS:
            raise InputError(f"unknown record type {kind!r} in {line[:60]!r}", name, number)
        if len(parts) < _RECORD_FIELDS[kind]:
            raise InputError(
                f"{kind} record has {len(parts)} fields, needs "
                f"{_RECORD_FIELDS[kind]}: {line[:80]!r}",
                name,
                number,
            )
        if kind == "id":
            game = parts[1]
            if not _GAME_ID.match(game):
                raise InputError(f"malformed game id {game!r}", name, number)
            if game in starts:
                raise InputError(f"game {game} appears twice in the file", name, number)
            starts[game] = number
            players = {"0": set(), "1": set()}
        elif game is None and kind not in ("com",):
            raise InputError(f"{kind} record before the first id record", name, number)
        elif (
            kind == "info"
            and parts[1] == "date"
            and not _valid_date(parts[2] if len(parts) > 2 else "")
        ):
            raise InputError(
                f"date {line.split(',', 2)[-1]!r} does not parse (want YYYY/MM/DD)", name, number
            )
        elif kind == "info" and parts[1] in ("hometeam", "visteam"):
            value = parts[2] if len(parts) > 2 else ""
            if not is_all_star(value):
                canonical_team(value, name, number)
        elif kind == "play":
            _check_play(parts, players, line, name, number)
        elif kind in ("start", "sub"):
            if (
                parts[3] not in ("0", "1")
                or not parts[4].lstrip("-").isdigit()
                or not parts[5].strip().lstrip("-").isdigit()
                or not _PLAYER_ID.match(parts[1])
            ):
                raise InputError(f"corrupt {kind} record {line[:80]!r}", name, number)
            players[parts[3]].add(parts[1])
    if not starts:
        raise InputError("no games (no id records) in the file", name)
    return starts


def _check_play(
    parts: list[str], players: dict[str, set[str]], line: str, name: str, number: int
) -> None:
    """A ``play`` record: its inning and team, a batter of that team in this game (a start or
    sub record before it), the count, Retrosheet's pitch codes and an event Chadwick reads.
    Chadwick scores a play it cannot read as best it can, with no error, so such a record would
    change the game's lines silently (a pitch count, a strikeout)."""
    inning, team, batter, count, pitches, event = parts[1:7]
    if not inning.isdigit() or team not in ("0", "1"):
        raise InputError(
            f"play record with inning {inning!r} and team {team!r}: {line[:80]!r}", name, number
        )
    if not _PLAY_COUNT.match(count) or not event:
        raise InputError(f"corrupt play record {line[:80]!r}", name, number)
    side = "home" if team == "1" else "visiting"
    if batter not in players[team]:
        raise InputError(
            f"play record for batter {batter!r}, who is not in the game for the {side} team "
            f"(no start or sub record before it): {line[:80]!r}",
            name,
            number,
        )
    if not _PITCHES.match(pitches):
        raise InputError(
            f"play record with pitch codes {pitches!r} that are not Retrosheet's: {line[:80]!r}",
            name,
            number,
        )
    if not _event_readable(event):
        raise InputError(
            f"play record with an event Chadwick cannot read ({event!r}): {line[:80]!r}",
            name,
            number,
        )


@functools.lru_cache(maxsize=1 << 16)
def _event_readable(event: str) -> bool:
    """Retrosheet's characters, and Chadwick's parser reads the event, or at least its primary
    part (before the first period): one real play of 2015-2025 has an advancement Chadwick's
    parser does not take (``16(1)/FO/BG/DP.BX1(63/RINT)``, 2018), and its box score is right."""
    if event == "NP":
        return True
    if not _EVENT.match(event):
        return False
    return parse_event(event)[1] or parse_event(event.split(".", 1)[0])[1]


def _valid_date(text: str) -> bool:
    m = _DATE.match(text.strip())
    if not m:
        return False
    try:
        dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    return True


class _WarningTrap(logging.Handler):
    """Collects chadwickpy's warnings (invalid records, unparsable events) as errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _int(value: str | None) -> int | None:
    if value is None or value == "" or not value.strip().lstrip("-").isdigit():
        return None
    n = int(value)
    return n if n >= 0 else None


def parse_event_file(name: str, data: bytes, include_all_types: bool = False) -> ParsedFile:
    """Every game in one event file: game facts, pitcher lines and team batting, as rows."""
    text = data.decode("latin-1")
    game_lines = check_records(name, text)
    trap = _WarningTrap()
    chadwick_log = logging.getLogger("chadwickpy")
    chadwick_log.addHandler(trap)
    chadwick_log.propagate = False
    out = ParsedFile(name)
    try:
        for game, _visitors, _home in iterate_games(data):
            line_no = game_lines.get(game.game_id)
            game_type = (game.info_lookup("gametype") or "regular").strip().lower()
            if game_type not in GAME_TYPES:
                raise InputError(
                    f"game {game.game_id}: unknown game type {game_type!r}", name, line_no
                )
            if game_type != "regular" and not include_all_types:
                continue
            if is_all_star(game.info_lookup("hometeam")):
                continue
            game_id = canonical_game_id(game.game_id, name, line_no)
            try:
                box, plays = score_game(game, game_id)
            except (ValueError, IndexError, KeyError, AttributeError) as exc:
                raise InputError(
                    f"game {game.game_id} cannot be scored: {exc}", name, line_no
                ) from exc
            if trap.messages:
                raise InputError(
                    f"game {game.game_id}: {trap.messages[0].strip()}",
                    name,
                    _find_line(text, trap.messages[0], line_no),
                )
            collect_game(game, game_id, box, game_type, name, line_no, out)
            out.plays.extend(plays)
    finally:
        chadwick_log.removeHandler(trap)
    return out


# pitch codes (Retrosheet's pitch sequences): swinging strikes (a foul tip counts, as in
# Statcast's whiffs) and called strikes; a pitch thrown is one chadwick counts as thrown
WHIFF_CODES = frozenset("SMQT")
CALLED_CODES = frozenset("C")


def count_pitches(box, gi, thrown: list[str], counted: int) -> int:  # noqa: ANN001
    """chadwickpy's ``pitch_stats`` (the batter's and the pitcher's pitches and strikes) with
    one change: it counts the pitches of the plate appearance that no earlier event of it
    counted (``counted`` of them were), not those after the last period. The two agree where a
    period follows pitches an earlier event of the plate appearance holds (a stolen base in
    mid-count: ``CFBF*B>B`` then ``CFBF*B>B.B``). From 2023 the event files also carry periods
    with no such event (a strikeout ``BCBS.BT``), whose pitches before the period chadwickpy
    drops: 9 pitches a start in 2023, where the Statcast pitch-mix lines agree with this count.
    ``thrown`` is the event's pitches thrown, in order. Returns the pitches of the plate
    appearance counted so far."""
    ev, state = gi.event, gi.state
    if not ev.pitches:
        return counted
    batter = find_current_player(box, ev.batter, False)
    pitcher = box.pitchers[1 - state.batting_team]
    if batter is None or pitcher is None:  # chadwickpy logs it; the game is refused
        pitch_stats(box, gi)
        return counted
    for c in thrown[counted:]:
        strike = pitch_strike_thrown(c)
        batter.batting.pitches += 1
        batter.batting.strikes += strike
        pitcher.pitching.pitches += 1
        pitcher.pitching.strikes += strike
    return max(counted, len(thrown))


def score_game(game, game_id: str | None = None) -> tuple[object, list[dict]]:  # noqa: ANN001
    """Chadwick's box score of ``game`` and, from the same pass over its plays, every plate
    appearance: who batted, who pitched, the lineup slot, the inning, the pitches and the outcome.

    This is chadwickpy's ``box_create`` loop (``iterate_game``) with the plate appearances
    recorded as it goes, so the game is walked once. ``game_id``: the id the rows carry
    (default: the file's)."""
    if not game.events:  # a box-score-only game: no plays to record
        return box_create(game), []
    game_id = game_id or game.game_id
    box = Boxscore()
    enter_starters(box, game)
    gi = GameIter(game)
    plays: list[dict] = []
    faced: dict[tuple[str, str], int] = {}
    counted = 0  # pitches of the plate appearance under way already counted
    half = None
    while gi.event is not None:
        ev, state, data = gi.event, gi.state, gi.data
        if (state.inning, state.batting_team) != half:
            # a batter whose turn the third out cut short leads off anew, with a fresh count
            half, counted = (state.inning, state.batting_team), 0
        pitches = ev.pitches
        thrown = [c for c in pitches if pitch_ball_thrown(c) or pitch_strike_thrown(c)]
        counted = count_pitches(box, gi, thrown, counted)
        if ev.event_text != "NP":
            if is_batter(data):
                counted = 0
                batter = state.charged_batter(ev.batter, data)
                pitcher = state.charged_pitcher(data)
                times = faced[(pitcher, batter)] = faced.get((pitcher, batter), 0) + 1
                plays.append(
                    {
                        "game_id": game_id,
                        "pa_index": len(plays) + 1,
                        "inning": state.inning,
                        "batting_side": state.batting_team,
                        "batter_retro": batter,
                        "pitcher_retro": pitcher,
                        "lineup_slot": state.lineup_slot(state.batting_team, ev.batter),
                        "times_faced": times,
                        "pitch_sequence": pitches or None,
                        "pitches": len(thrown) if pitches else None,
                        "swinging_strikes": sum(c in WHIFF_CODES for c in thrown),
                        "called_strikes": sum(c in CALLED_CODES for c in thrown),
                        "is_strikeout": data.event_type == Ev.STRIKEOUT,
                        "is_walk": data.event_type in (Ev.WALK, Ev.INTENTIONALWALK),
                        "batter_hand": ev.batter_hand.strip() or None,
                        "event": ev.event_text,
                    }
                )
            batter_stats(box, gi)
            runner_stats(box, gi)
            fielder_stats(box, gi)
        add_substitute(box, gi)
        gi.next()
    box.score = list(gi.state.score)
    return box, plays


def _find_line(text: str, message: str, default: int | None) -> int | None:
    """The line number of the record a chadwickpy warning quotes, if it can be found."""
    quoted = message.strip().splitlines()[-1].strip()
    for number, line in enumerate(text.splitlines(), start=1):
        if quoted and line.strip() == quoted:
            return number
    return default


# --------------------------------------------------------------------------------------------
# One scored game as rows: the game, each side's pitchers, each side's batting
# --------------------------------------------------------------------------------------------


def collect_game(  # noqa: PLR0913 - the game, its id and box, and where it was read
    game,  # noqa: ANN001
    game_id: str,
    box,  # noqa: ANN001
    game_type: str,
    name: str,
    line_no: int | None,
    out: ParsedFile,
) -> None:
    """Add one scored game's rows to ``out``: the game, each side's pitcher lines (in order of
    appearance) and each side's batting."""
    row = game_row(game, game_id, box, game_type, name, line_no)
    out.games.append(row)
    teams = (row["away_team"], row["home_team"])
    has_pitches = (game.info_lookup("pitches") or "") == "pitches"
    for side in (0, 1):
        out.pitchers.extend(pitcher_lines(game_id, box, side, teams, has_pitches))
        out.batting.append(team_batting(game_id, box, side, teams))


def game_row(
    game,  # noqa: ANN001
    game_id: str,
    box,  # noqa: ANN001
    game_type: str,
    name: str,
    line_no: int | None,
) -> dict:
    """The ``games`` row: date, teams, park, weather, umpire, innings and score."""
    info = game.info_lookup
    date_text = (info("date") or "").strip()
    m = _DATE.match(date_text)
    if not m:
        raise InputError(f"game {game.game_id} has no valid date", name, line_no)
    date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    innings = max((e.inning for e in game.events if e.event_text != "NP"), default=None)
    return {
        "game_id": game_id,
        "game_date": date,
        "season": date.year,
        "game_type": game_type,
        "game_number": _int(info("number")),
        "home_team": canonical_team(info("hometeam"), name, line_no),
        "away_team": canonical_team(info("visteam"), name, line_no),
        "park_id": info("site"),
        "start_time": info("starttime"),
        "day_night": info("daynight"),
        "temperature": _positive(info("temp")),
        "wind_speed": _int(info("windspeed")),
        "wind_dir": info("winddir"),
        "sky": info("sky"),
        "umpire_home": info("umphome"),
        "uses_dh": (info("usedh") or "").lower() == "true",
        "innings": innings,
        "home_runs_scored": box.score[1],
        "away_runs_scored": box.score[0],
        "status": "final",
    }


_PITCHING_STATS = (
    ("outs", "outs"),
    ("batters_faced", "bf"),
    ("strikeouts", "so"),
    ("walks", "bb"),
    ("hits", "h"),
    ("home_runs", "hr"),
    ("runs", "r"),
    ("earned_runs", "er"),
    ("hit_batters", "hb"),
)


def pitcher_lines(
    game_id: str,
    box,  # noqa: ANN001
    side: int,
    teams: tuple[str, str],
    has_pitches: bool,
) -> list[dict]:
    """One side's ``pitcher_games`` rows, in order of appearance (a pitcher who pitched twice in
    the game is one row). A pitcher announced and replaced before throwing a pitch is no
    appearance, and a scratched starter's start belongs to the first pitcher who threw (as in
    Retrosheet's own pitching.csv). A pitcher who only balked or threw a wild pitch did
    appear."""
    chain = []
    p = box.pitchers[side]
    while p is not None:
        chain.append(p)
        p = p.prev
    chain.reverse()
    lines: dict[str, dict] = {}
    for seq, pitcher in enumerate(chain, start=1):
        s = pitcher.pitching
        row = lines.get(pitcher.player_id)
        if row is None:
            row = lines[pitcher.player_id] = {
                "game_id": game_id,
                "retro_id": pitcher.player_id,
                "side": side,
                "team": teams[side],
                "opponent": teams[1 - side],
                "is_start": seq == 1,
                "appearance_seq": seq,
                **{key: 0 for key, _ in _PITCHING_STATS},
                "pitches": 0 if has_pitches else None,
                "strikes": 0 if has_pitches else None,
            }
        row["_other"] = row.get("_other", 0) + max(s.bk, 0) + max(s.wp, 0) + max(s.r, 0)
        for key, attr in _PITCHING_STATS:
            row[key] = _add(row[key], getattr(s, attr))
        if has_pitches:
            row["pitches"] = _add(row["pitches"], s.pitches)
            row["strikes"] = _add(row["strikes"], s.strikes)
    kept = [r for r in lines.values() if _appeared(r)]
    for seq, r in enumerate(kept, start=1):
        r["appearance_seq"] = seq
        r["is_start"] = seq == 1
        r.pop("_other", None)
    return kept


def _add(total: int | None, value: int) -> int | None:
    """A running total of a Chadwick count (negative: unknown, and so is the total)."""
    return None if value < 0 or total is None else total + value


def team_batting(
    game_id: str,
    box,  # noqa: ANN001
    side: int,
    teams: tuple[str, str],
) -> dict:
    """One side's batting: its nine starters (in order) plus everyone who came in."""
    pa = so = bb = 0
    lineup: list[str] = []
    for slot in range(1, 10):
        player = box.slots[slot][side]
        while player is not None and player.prev is not None:
            player = player.prev
        if player is not None:
            lineup.append(player.player_id)
        while player is not None:
            b = player.batting
            pa += max(b.pa, 0)
            so += max(b.so, 0)
            bb += max(b.bb, 0)
            player = player.next
    return {
        "game_id": game_id,
        "team": teams[side],
        "opponent": teams[1 - side],
        "is_home": side == 1,
        "plate_appearances": pa,
        "strikeouts": so,
        "walks": bb,
        "lineup": lineup,
    }


def _appeared(row: dict) -> bool:
    """Did the pitcher face a batter, record an out, throw a pitch, balk or let a run in?"""
    pitches = row["pitches"]
    return bool(
        row["batters_faced"] or row["outs"] or pitches is None or pitches > 0 or row["_other"]
    )


def _positive(value: str | None) -> int | None:
    n = _int(value)
    return n if n else None  # Retrosheet writes 0 for an unknown temperature


def _parse_job(job: tuple[str, bytes, bool]) -> ParsedFile:
    return parse_event_file(*job)


# --------------------------------------------------------------------------------------------
# From parsed files to warehouse rows
# --------------------------------------------------------------------------------------------


@dataclass
class RetrosheetFrames:
    games: pd.DataFrame
    pitcher_games: pd.DataFrame
    team_batting_games: pd.DataFrame
    players: pd.DataFrame
    unknown_ids: list[str]
    plate_appearances: pd.DataFrame = field(default_factory=pd.DataFrame)
    lineups: pd.DataFrame = field(default_factory=pd.DataFrame)


def build_frames(
    parsed: list[ParsedFile],
    rosters: dict[str, tuple[str, str, str, str]],
    register: Register,
) -> RetrosheetFrames:
    """Turn parsed files into rows of ``games``, ``pitcher_games``, ``team_batting_games``,
    ``plate_appearances``, ``lineups`` and ``players``, with Retrosheet ids mapped to MLBAM ids."""
    games = pd.DataFrame([g for f in parsed for g in f.games])
    pitchers = pd.DataFrame([p for f in parsed for p in f.pitchers])
    batting = pd.DataFrame([b for f in parsed for b in f.batting])
    rank = SOURCE_RANK[SOURCE]
    games["source"] = SOURCE
    games["source_rank"] = rank

    meta = games.set_index("game_id")[["game_date", "season", "game_type"]]
    retro_to_mlbam = register.retro_to_mlbam
    pitchers = pitchers.join(meta, on="game_id")
    pitchers["pitcher_id"] = pitchers["retro_id"].map(retro_to_mlbam)
    unknown = sorted(set(pitchers.loc[pitchers["pitcher_id"].isna(), "retro_id"]))
    pitchers = pitchers[pitchers["pitcher_id"].notna()].copy()
    pitchers["pitcher_id"] = pitchers["pitcher_id"].astype("int64")
    pitchers["is_home"] = pitchers.pop("side") == 1
    pitchers["source"] = SOURCE
    pitchers["source_rank"] = rank

    # pitcher-hand splits and the opposing starter come from the other side's pitcher lines
    throws = pitchers["retro_id"].map({rid: r[3] for rid, r in rosters.items()})
    splits = opposing_pitcher_splits(pitchers, throws)
    bats = {rid: r[2] for rid, r in rosters.items()}
    lineup_rows = _lineup_rows(batting, bats, retro_to_mlbam).join(
        meta[["game_date", "season"]], on="game_id"
    )
    lineups = batting.pop("lineup")
    batting["lineup_lhb"] = [sum(bats.get(p) == "L" for p in lu) for lu in lineups]
    batting["lineup_rhb"] = [sum(bats.get(p) == "R" for p in lu) for lu in lineups]
    batting["lineup_shb"] = [sum(bats.get(p) == "B" for p in lu) for lu in lineups]
    batting = batting.join(meta, on="game_id").join(splits, on=["game_id", "team"])
    batting["source"] = SOURCE
    batting["source_rank"] = rank

    plays = _plate_appearances(parsed, games, rosters, retro_to_mlbam)
    unknown = sorted(set(unknown) | set(plays.attrs.get("unknown", [])))
    seen = set(pitchers["retro_id"]) | {p for lu in lineups for p in lu}
    players = pd.DataFrame(
        [
            {
                "player_id": retro_to_mlbam[rid],
                "retro_id": rid,
                "bats": r[2] or None,
                "throws": r[3] or None,
            }
            for rid, r in rosters.items()
            if rid in seen and rid in retro_to_mlbam
        ]
    )
    if len(players):  # names and other ids from the register
        people = register.players_frame().drop(columns=["retro_id", "source"])
        players = players.merge(people, on="player_id", how="left")
        players["source"] = SOURCE
    lineup_rows["source"] = SOURCE
    lineup_rows["source_rank"] = rank
    return RetrosheetFrames(games, pitchers, batting, players, unknown, plays, lineup_rows)


def _lineup_rows(
    batting: pd.DataFrame, bats: dict[str, str], retro_to_mlbam: dict[str, int]
) -> pd.DataFrame:
    """One row per team per game per batting-order slot, for the starters the register knows."""
    rows = [
        {
            "game_id": game_id,
            "team": team,
            "slot": slot,
            "player_id": retro_to_mlbam[rid],
            "bats": bats.get(rid) or None,
        }
        for game_id, team, lineup in zip(
            batting["game_id"], batting["team"], batting["lineup"], strict=True
        )
        for slot, rid in enumerate(lineup, start=1)
        if rid in retro_to_mlbam
    ]
    columns = ["game_id", "team", "slot", "player_id", "bats"]
    return pd.DataFrame(rows, columns=columns)


def _plate_appearances(
    parsed: list[ParsedFile],
    games: pd.DataFrame,
    rosters: dict[str, tuple[str, str, str, str]],
    retro_to_mlbam: dict[str, int],
) -> pd.DataFrame:
    """The plate appearances of the parsed files, with MLBAM ids, teams and hands.

    A switch-hitter bats from the side opposite the pitcher's hand (unless the event file says
    otherwise). Plate appearances of a player the register does not know are left out; their ids
    are in ``attrs["unknown"]``."""
    plays = pd.DataFrame([p for f in parsed for p in f.plays])
    if plays.empty:
        return plays
    meta = games.set_index("game_id")[
        ["game_date", "season", "game_type", "away_team", "home_team"]
    ]
    plays = plays.join(meta, on="game_id")
    home = plays.pop("batting_side").to_numpy() == 1
    away_team, home_team = plays.pop("away_team"), plays.pop("home_team")
    plays["batting_team"] = home_team.where(home, away_team)
    plays["pitching_team"] = away_team.where(home, home_team)
    throws = plays["pitcher_retro"].map({rid: r[3] for rid, r in rosters.items()})
    bats = plays["batter_retro"].map({rid: r[2] for rid, r in rosters.items()})
    switch_side = throws.map({"R": "L", "L": "R"})
    side = bats.where(bats != "B", switch_side)
    plays["bats"] = plays.pop("batter_hand").fillna(side).where(lambda b: b.isin(["L", "R"]))
    plays["throws"] = throws.where(throws.isin(["L", "R"]))
    plays["batter_id"] = plays["batter_retro"].map(retro_to_mlbam)
    plays["pitcher_id"] = plays["pitcher_retro"].map(retro_to_mlbam)
    known = plays["batter_id"].notna() & plays["pitcher_id"].notna()
    unknown = set(plays.loc[plays["batter_id"].isna(), "batter_retro"])
    unknown |= set(plays.loc[plays["pitcher_id"].isna(), "pitcher_retro"])
    plays = plays[known].drop(columns=["batter_retro", "pitcher_retro"])
    plays = plays.astype({"batter_id": "int64", "pitcher_id": "int64"})
    plays["lineup_slot"] = plays["lineup_slot"].where(plays["lineup_slot"].between(1, 9))
    plays["source"] = SOURCE
    plays["source_rank"] = SOURCE_RANK[SOURCE]
    plays.attrs["unknown"] = sorted(unknown)
    return plays.reset_index(drop=True)


def read_frames(
    archives: list[Path],
    register: Register,
    seasons: Iterable[int] = (),
    include_all_types: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RetrosheetFrames:
    """Parse the event files of ``archives`` into warehouse rows (nothing is written): what
    ``ingest_retrosheet`` stores. A bad file raises ``InputError`` naming it."""
    season_archives = [sa for a in archives for sa in read_archive(a, seasons)]
    jobs = [(n, d, include_all_types) for sa in season_archives for n, d in sa.event_files]
    jobs.sort(key=lambda j: -len(j[1]))
    season_of = {n: sa.season for sa in season_archives for n, _ in sa.event_files}
    parsed = _run_jobs(jobs, workers, progress)
    # each season's files are read with that season's rosters (hands can change)
    per_season = []
    for sa in season_archives:
        files = [p for p in parsed if season_of[p.name] == sa.season]
        if files:
            per_season.append(build_frames(files, sa.rosters, register))
    return RetrosheetFrames(
        games=pd.concat([f.games for f in per_season], ignore_index=True),
        pitcher_games=pd.concat([f.pitcher_games for f in per_season], ignore_index=True),
        team_batting_games=pd.concat([f.team_batting_games for f in per_season], ignore_index=True),
        # a player's latest season gives his hands
        players=pd.concat([f.players for f in per_season], ignore_index=True).drop_duplicates(
            "player_id", keep="last"
        ),
        unknown_ids=sorted({i for f in per_season for i in f.unknown_ids}),
        plate_appearances=pd.concat([f.plate_appearances for f in per_season], ignore_index=True),
        lineups=pd.concat([f.lineups for f in per_season], ignore_index=True),
    )


def ingest_retrosheet(
    wh: Warehouse,
    archives: list[Path],
    register: Register,
    seasons: Iterable[int] = (),
    include_all_types: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Parse the event files of ``archives`` and upsert them, all in one transaction.

    Nothing is written unless every file parses; a bad file raises ``InputError`` naming it.
    """
    target = ", ".join(str(a) for a in archives)
    with logged_ingest(wh, "retrosheet", target) as report:
        frames = read_frames(archives, register, seasons, include_all_types, workers, progress)
        report.rows_read = len(frames.pitcher_games)
        if frames.unknown_ids:
            report.notes.append(
                f"{len(frames.unknown_ids)} Retrosheet ids have no MLBAM id in the register and "
                f"were left out: {', '.join(frames.unknown_ids[:20])}"
            )
        rank = SOURCE_RANK[SOURCE]
        # rows a lower-ranked source filed under another id of the same game (a start log
        # loaded first numbers a doubleheader by gamePk) move to Retrosheet's game
        rekey = plan_rekey(wh, frames.pitcher_games, rank)
        report.notes.extend(rekey.notes)
        with wh.transaction():
            apply_rekey(wh, rekey, frames.games, rank)
            # the play-by-play of a game is Retrosheet's whole: the Stats API feed's plate
            # appearances of these games (rank 30) give way, whatever their count
            delete_lower_ranked_plate_appearances(wh, list(frames.games["game_id"]), rank)
            for table, rows in [*game_tables(frames), ("pitcher_games", rekey.moved)]:
                report.results.append(wh.upsert(table, rows))
        report.stats = season_stats(frames.pitcher_games)
        plays = frames.plate_appearances
        if len(plays):
            regular = plays[plays["game_type"] == "regular"]
            for season, n in regular.groupby("season").size().items():
                report.stats.setdefault(str(season), {})["plate_appearances"] = int(n)
    return report


def _run_jobs(
    jobs: list[tuple[str, bytes, bool]],
    workers: int | None,
    progress: Callable[[int, int], None] | None,
) -> list[ParsedFile]:
    workers = workers or max(1, len(os.sched_getaffinity(0)))
    parsed: list[ParsedFile] = []
    if workers == 1 or len(jobs) == 1:
        for i, job in enumerate(jobs, start=1):
            parsed.append(_parse_job(job))
            if progress:
                progress(i, len(jobs))
        return parsed
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        for i, result in enumerate(pool.map(_parse_job, jobs), start=1):
            parsed.append(result)
            if progress:
                progress(i, len(jobs))
    return parsed


def _die_with_parent(parent: int) -> None:
    """A parser process's initializer: exit as soon as the kcast process that started it does.

    Linux sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``); where that is not
    available, or the parent died before it was set, a watchdog thread notices instead.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="kcast-parent-watch").start()
