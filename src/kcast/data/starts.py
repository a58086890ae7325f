"""Statcast-derived per-start logs: one row per starting pitcher per game, with pitch counts.

The file (``docs/sources/starts.md`` describes every column) has MLB's ``game_pk`` and MLBAM
pitcher ids but no Retrosheet game id, so each game is placed like this, in order (the rules
are ``kcast.data.gameids.place_start_games``):

1. the game in the warehouse that already has this ``mlb_game_pk``;
2. the game of an existing ``pitcher_games`` row of either starter on that date;
3. a new id, home team + YYYYMMDD + number: 0, or 1/2 when the file has two games with that
   home team on that date (numbered in ``game_pk`` order, which is not always the order they
   were played; a later Retrosheet ingest moves such rows to Retrosheet's game).

The source ranks lowest (``statcast_starts``), so its values only fill what better sources left
empty: after Retrosheet, it adds pitch counts and ``mlb_game_pk`` and changes nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kcast.data.gameids import PitcherDays, StoredGames, place_start_games
from kcast.data.ingest import IngestReport, logged_ingest, season_stats, write_all
from kcast.data.register import Register
from kcast.data.retrosheet_csv import fail_on_first, read_csv_file
from kcast.errors import InputError
from kcast.teams import canonical_team
from kcast.warehouse import Warehouse
from kcast.warehouse.schema import SOURCE_RANK
from kcast.warehouse.sources import game_ids, games_with_pk, pitcher_days

SOURCE = "statcast_starts"
COLUMNS = (
    "game_pk",
    "game_date",
    "game_year",
    "pitcher",
    "pitcher_team",
    "opponent_team",
    "is_home",
    "outs",
    "bf",
    "pitches",
    "runs_allowed",
    "hits",
    "walks",
    "strikeouts",
)
COUNTS = ("outs", "bf", "pitches", "runs_allowed", "hits", "walks", "strikeouts")
IDS = ("game_pk", "game_year", "pitcher")


@dataclass
class StartsFrames:
    games: pd.DataFrame
    pitcher_games: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def read_starts(path: str | Path) -> pd.DataFrame:
    """Read the start log (CSV, plain or gzipped) and check every value.

    Returns one typed row per start with its line number in ``_line`` (header = line 1).
    Raises ``InputError`` naming the file and line of the first bad value.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError("no such file", source=name)
    frame = read_csv_file(path, COLUMNS, what="start log")
    if frame.empty:
        raise InputError("the file has no rows", source=name, line=2)
    return _check(frame, name)


def canonical_teams(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """A column of team codes as kcast's codes; ``UnknownTeamError`` names the file and the line
    (``_line``) of the first unknown code."""
    codes: dict[str, str] = {}
    for value, line in zip(frame[column], frame["_line"], strict=True):
        if value not in codes:
            codes[value] = canonical_team(value, name, int(line))
    return frame[column].map(codes)


def _check(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    out = frame.copy()
    fail_on_first(out, out.isin([""]).any(axis=1), name, "a required value is empty")
    for column in IDS:
        bad = ~out[column].str.fullmatch(r"\d+")
        fail_on_first(out, bad, name, f"{column} {{{column}!r}} is not a whole number")
        out[column] = out[column].astype("int64")
    for column in COUNTS:
        # runs_allowed is written as a float (``2.0``); any count must be whole and >= 0
        bad = ~out[column].str.fullmatch(r"\d+(\.0*)?")
        fail_on_first(out, bad, name, f"{column} {{{column}!r}} is not a whole number")
        out[column] = pd.to_numeric(out[column]).astype("int64")
    parsed = pd.to_datetime(out["game_date"], format="%Y-%m-%d", errors="coerce")
    fail_on_first(
        out, parsed.isna(), name, "game_date {game_date!r} does not parse (want YYYY-MM-DD)"
    )
    out["game_date"] = parsed.dt.date
    bad = parsed.dt.year != out["game_year"]
    fail_on_first(out, bad, name, "game_year {game_year} is not the year of {game_date}")
    flags = out["is_home"].str.lower()
    fail_on_first(
        out, ~flags.isin(["true", "false"]), name, "is_home {is_home!r} is not True/False"
    )
    out["is_home"] = flags == "true"
    for column in ("pitcher_team", "opponent_team"):
        out[column] = canonical_teams(out, column, name)
    fail_on_first(out, out["pitcher_team"] == out["opponent_team"], name, "a team plays itself")
    dupes = out.duplicated(["game_pk", "pitcher"])
    fail_on_first(out, dupes, name, "pitcher {pitcher} has two starts in game {game_pk}")
    out["home_team"] = out["pitcher_team"].where(out["is_home"], out["opponent_team"])
    out["away_team"] = out["opponent_team"].where(out["is_home"], out["pitcher_team"])
    for column in ("game_date", "home_team", "away_team"):
        first = out.groupby("game_pk")[column].transform("first")
        fail_on_first(
            out, out[column] != first, name, f"game {{game_pk}}: its rows disagree on {column}"
        )
    sides = out.groupby(["game_pk", "is_home"]).cumcount() > 0
    fail_on_first(out, sides, name, "game {game_pk} has two starters for one team")
    return out


# --------------------------------------------------------------------------------------------
# Placing each game: an existing game id, or a new one
# --------------------------------------------------------------------------------------------


def assign_game_ids(wh: Warehouse, starts: pd.DataFrame) -> tuple[dict[int, str], list[str]]:
    """``game_pk`` -> game_id for every game of the file (see the module docstring and
    ``kcast.data.gameids.place_start_games``)."""
    seasons = [int(s) for s in sorted(starts["game_year"].unique())]
    known = games_with_pk(wh, seasons)
    return place_start_games(starts, StoredGames(known), PitcherDays(pitcher_days(wh, seasons)))


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def build_frames(starts: pd.DataFrame, ids: dict[int, str]) -> StartsFrames:
    """Rows of ``games`` and ``pitcher_games`` from the checked starts."""
    rank = SOURCE_RANK[SOURCE]
    game_id = starts["game_pk"].map(ids)
    first = starts.assign(game_id=game_id).drop_duplicates("game_pk")
    games = pd.DataFrame(
        {
            "game_id": first["game_id"],
            "game_date": first["game_date"],
            "season": first["game_year"],
            "game_type": "regular",
            "home_team": first["home_team"],
            "away_team": first["away_team"],
            "mlb_game_pk": first["game_pk"],
            "status": "final",
            "source": SOURCE,
            "source_rank": rank,
        }
    )
    pitchers = pd.DataFrame(
        {
            "game_id": game_id,
            "pitcher_id": starts["pitcher"],
            "game_date": starts["game_date"],
            "season": starts["game_year"],
            "game_type": "regular",
            "team": starts["pitcher_team"],
            "opponent": starts["opponent_team"],
            "is_home": starts["is_home"],
            "is_start": True,
            "appearance_seq": 1,
            "outs": starts["outs"],
            "batters_faced": starts["bf"],
            "pitches": starts["pitches"],
            "strikeouts": starts["strikeouts"],
            "walks": starts["walks"],
            "hits": starts["hits"],
            "runs": starts["runs_allowed"],
            "source": SOURCE,
            "source_rank": rank,
        }
    )
    return StartsFrames(games, pitchers)


def ingest_starts(
    wh: Warehouse,
    path: str | Path,
    seasons: Iterable[int] = (),
    register: Register | None = None,
) -> IngestReport:
    """Read the start log and upsert its games and starts, all in one transaction.

    With ``register``, the pitchers' names and other ids are stored in ``players`` too.
    """
    with logged_ingest(wh, "starts", str(path)) as report:
        starts = read_starts(path)
        report.rows_read = len(starts)
        wanted = set(seasons)
        if wanted:
            starts = starts[starts["game_year"].isin(wanted)]
            if starts.empty:
                raise InputError(f"no starts for seasons {sorted(wanted)}", source=str(path))
        ids, notes = assign_game_ids(wh, starts)
        report.notes.extend(notes)
        frames = build_frames(starts, ids)
        seasons_in = [int(s) for s in sorted(frames.games["season"].unique())]
        known = game_ids(wh, seasons_in)
        new = set(frames.games["game_id"]) - known
        writes = [("games", frames.games), ("pitcher_games", frames.pitcher_games)]
        if register is not None:
            people = register.players_frame()
            seen = people[people["player_id"].isin(set(frames.pitcher_games["pitcher_id"]))]
            missing = set(frames.pitcher_games["pitcher_id"]) - set(seen["player_id"])
            if missing:
                report.notes.append(
                    f"{len(missing)} pitchers are not in the register: "
                    + ", ".join(str(m) for m in sorted(missing)[:20])
                )
            writes.insert(0, ("players", seen.drop(columns=["source"]).assign(source=SOURCE)))
        write_all(wh, report, writes)
        report.stats = season_stats(frames.pitcher_games)
        for season, g in frames.games.groupby("season"):
            report.stats[str(season)]["games"] = len(g)
            report.stats[str(season)]["new_games"] = int(g["game_id"].isin(new).sum())
    return report
