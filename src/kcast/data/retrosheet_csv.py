"""Retrosheet's per-season CSV downloads: every pitcher-game, team batting and lineups, no pitches.

Retrosheet publishes, per season, ``YYYYpitching.csv`` (one row per pitcher per game),
``YYYYgameinfo.csv`` (one row per game), ``YYYYteamstats.csv`` (one row per team per game, with
the starting lineup) and ``YYYYallplayers.csv`` (everyone who appeared, with batting and throwing
hands). kcast reads the four files of each season (plain or gzipped) from one folder. They carry
the same counts as the event files (see ``docs/sources/retrosheet-csv.md``) but no pitch counts,
so they are the source for seasons without event files (2024).

Every file is checked before anything is written: missing columns, rows with the wrong number
of fields, unknown team codes, dates that do not parse and stats that are not whole numbers
raise ``InputError`` naming the file and line (the header is line 1).

Retrosheet notice: the information used here was obtained free of charge from and is
copyrighted by Retrosheet. Interested parties may contact Retrosheet at www.retrosheet.org.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kcast.data.gameids import canonical_game_id
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
from kcast.errors import InputError
from kcast.teams import canonical_team, is_all_star
from kcast.warehouse import Warehouse
from kcast.warehouse.schema import SOURCE_RANK

SOURCE = "retrosheet_csv"
KINDS = ("pitching", "gameinfo", "teamstats", "allplayers")
LINEUP = tuple(f"start_l{i}" for i in range(1, 10))
INNINGS = tuple(f"inn{i}" for i in range(1, 29))

# The columns kcast reads from each file; any other column is ignored.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "pitching": (
        "gid",
        "id",
        "team",
        "p_seq",
        "p_ipouts",
        "p_bfp",
        "p_h",
        "p_hr",
        "p_r",
        "p_er",
        "p_w",
        "p_k",
        "p_hbp",
        "p_gs",
        "date",
        "vishome",
        "opp",
        "gametype",
    ),
    "gameinfo": (
        "gid",
        "visteam",
        "hometeam",
        "site",
        "date",
        "number",
        "starttime",
        "daynight",
        "usedh",
        "sky",
        "temp",
        "winddir",
        "windspeed",
        "umphome",
        "gametype",
        "vruns",
        "hruns",
    ),
    "teamstats": (
        "gid",
        "team",
        "b_pa",
        "b_k",
        "b_w",
        *LINEUP,
        "date",
        "vishome",
        "opp",
        "gametype",
    ),
    "allplayers": ("id", "bat", "throw", "g"),
}

# Whole-number columns: (column, blank allowed). A blank becomes NULL (or 0 for p_gs).
NUMBERS: dict[str, tuple[tuple[str, bool], ...]] = {
    "pitching": (
        ("p_seq", False),
        ("p_ipouts", False),
        ("p_bfp", False),
        ("p_h", False),
        ("p_hr", False),
        ("p_r", False),
        ("p_er", False),
        ("p_w", False),
        ("p_k", False),
        ("p_hbp", False),
        ("p_gs", True),
    ),
    "gameinfo": (
        ("number", False),
        ("temp", True),
        ("windspeed", True),
        ("vruns", False),
        ("hruns", False),
    ),
    "teamstats": (("b_pa", False), ("b_k", False), ("b_w", False)),
    "allplayers": (("g", True),),
}
TEAM_COLUMNS = {
    "pitching": ("team", "opp"),
    "gameinfo": ("visteam", "hometeam"),
    "teamstats": ("team", "opp"),
}
HANDS = {"bat": {"L", "R", "B"}, "throw": {"L", "R", "B"}}
SIGNED = {"temp", "windspeed"}  # Retrosheet writes -1 for an unknown wind speed
_INT = re.compile(r"^\d+$")
_SIGNED = re.compile(r"^-?\d+$")
_GID = re.compile(r"^[A-Z0-9]{3}\d{8}[0-9]$")
_FILE = re.compile(r"^(\d{4})(pitching|gameinfo|teamstats|allplayers)\.csv(\.gz)?$", re.I)


# --------------------------------------------------------------------------------------------
# Finding and reading the files
# --------------------------------------------------------------------------------------------


@dataclass
class SeasonFiles:
    """The four CSV files of one season."""

    season: int
    paths: dict[str, Path]


def resolve_seasons(source: str | Path, seasons: Iterable[int] = ()) -> list[SeasonFiles]:
    """Find each season's four files in the folder ``source`` (all seasons found, by default).

    Raises ``InputError`` when the folder is missing, or a wanted season lacks one of its files.
    """
    folder = Path(source)
    if not folder.is_dir():
        raise InputError(
            "not a folder; give the folder holding YYYYpitching.csv(.gz) and the other files",
            source=str(folder),
        )
    found: dict[int, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()):
        m = _FILE.match(path.name)
        if m and path.is_file():
            kinds = found.setdefault(int(m.group(1)), {})
            kind = m.group(2).lower()
            if kind in kinds:
                raise InputError(
                    f"two {kind} files for {m.group(1)}: {kinds[kind].name} and {path.name}",
                    source=str(folder),
                )
            kinds[kind] = path
    wanted = sorted(set(seasons)) or sorted(found)
    if not wanted:
        raise InputError("no Retrosheet CSV files (YYYYpitching.csv ...)", source=str(folder))
    out = []
    for season in wanted:
        kinds = found.get(season, {})
        missing = [f"{season}{k}.csv" for k in KINDS if k not in kinds]
        if missing:
            raise InputError(
                f"season {season}: missing {', '.join(missing)} (plain or .gz)", source=str(folder)
            )
        out.append(SeasonFiles(season, kinds))
    return out


def read_csv_file(
    path: Path, required: Sequence[str], keep: Sequence[str] = (), what: str = "file"
) -> pd.DataFrame:
    """Read a CSV (plain or gzipped) into strings, with each row's line number in ``_line``.

    Only the ``required`` columns (and those of ``keep`` that exist) are returned, stripped.
    Raises ``InputError`` for an unreadable file, missing columns (line 1) and rows whose number
    of fields differs from the header's. Line numbers count the header as line 1.
    """
    name = str(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read the file ({exc}); is it truncated?", source=name) from exc
    return read_csv_bytes(raw, name, required, keep, what)


def read_csv_bytes(
    raw: bytes, name: str, required: Sequence[str], keep: Sequence[str] = (), what: str = "file"
) -> pd.DataFrame:
    """``read_csv_file`` on a CSV's bytes (e.g. a member of a zip), named ``name`` in errors."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise InputError("the file is empty (no header)", source=name, line=1)
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(
                f"{what} is missing columns: {', '.join(missing)}", source=name, line=1
            )
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(
                    f"row has {len(row)} fields, the header has {len(header)}",
                    source=name,
                    line=reader.line_num,
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", source=name, line=reader.line_num) from exc
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    wanted = [c for c in header if c in required or c in keep]
    frame = frame[wanted].apply(lambda col: col.str.strip()) if rows else frame[wanted]
    frame["_line"] = lines
    return frame


def read_table(path: Path, kind: str) -> pd.DataFrame:
    """Read one Retrosheet CSV of the given kind (see ``read_csv_file``)."""
    return read_csv_file(path, REQUIRED_COLUMNS[kind], INNINGS, f"{kind} file")


# --------------------------------------------------------------------------------------------
# Checking the values
# --------------------------------------------------------------------------------------------


def fail_on_first(frame: pd.DataFrame, bad: pd.Series, name: str, message: str) -> None:
    """Raise ``InputError`` for the first row flagged in ``bad``, naming file ``name`` and the
    row's line (``_line``, as ``read_csv_bytes`` numbers them); ``message`` is formatted with
    the row's values. Every CSV reader of kcast checks its values with it."""
    if bad.any():
        row = frame[bad].iloc[0]
        values = {str(k): v for k, v in row.to_dict().items()}
        raise InputError(message.format(**values), source=name, line=int(row["_line"]))


def check_table(frame: pd.DataFrame, kind: str, name: str) -> pd.DataFrame:
    """Check one file's values and convert its numbers and dates; return the typed frame."""
    out = frame.copy()
    for column, blank_ok in NUMBERS[kind]:
        values = out[column]
        pattern = _SIGNED if column in SIGNED else _INT
        ok = values.str.match(pattern) | ((values == "") & blank_ok)
        fail_on_first(out, ~ok, name, f"{column} {{{column}!r}} is not a whole number")
        out[column] = pd.to_numeric(values.where(values != ""), errors="raise").astype("Int64")
    if "gid" in out.columns:
        fail_on_first(out, ~out["gid"].str.match(_GID), name, "malformed game id {gid!r}")
    if "date" in out.columns:
        parsed = pd.to_datetime(out["date"], format="%Y%m%d", errors="coerce")
        fail_on_first(out, parsed.isna(), name, "date {date!r} does not parse (want YYYYMMDD)")
        out["date"] = parsed.dt.date
    if "gametype" in out.columns:
        bad = ~out["gametype"].str.lower().isin(GAME_TYPES)
        fail_on_first(out, bad, name, "unknown game type {gametype!r}")
        out["gametype"] = out["gametype"].str.lower()
    if "vishome" in out.columns:
        fail_on_first(
            out, ~out["vishome"].isin(["v", "h"]), name, "vishome {vishome!r} is not v or h"
        )
    for column in TEAM_COLUMNS.get(kind, ()):
        out[column] = _teams(out, column, name)
    for column, allowed in HANDS.items():
        if column in out.columns:
            bad = ~out[column].isin(allowed | {""})
            fail_on_first(out, bad, name, f"{column} {{{column}!r}} is not L, R or B")
    return out


def _teams(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """Canonical codes for a team column (All-Star squads kept as they are)."""
    codes: dict[str, str] = {}
    for value, line in zip(frame[column], frame["_line"], strict=True):
        if value not in codes:
            codes[value] = value if is_all_star(value) else canonical_team(value, name, int(line))
    return frame[column].map(codes)


def _check_links(
    pitching: pd.DataFrame, teamstats: pd.DataFrame, games: pd.DataFrame, names: dict[str, str]
) -> None:
    """Every pitcher and team row must belong to a game of gameinfo, with its teams."""
    fail_on_first(games, games["gid"].duplicated(), names["gameinfo"], "game {gid} appears twice")
    info = games.set_index("gid")
    for kind, frame in (("pitching", pitching), ("teamstats", teamstats)):
        known = frame["gid"].isin(info.index)
        fail_on_first(frame, ~known, names[kind], "game {gid} is not in the gameinfo file")
        home = frame["gid"].map(info["hometeam"])
        away = frame["gid"].map(info["visteam"])
        at_home = frame["vishome"] == "h"
        bad = (frame["team"] != home.where(at_home, away)) | (
            frame["opp"] != away.where(at_home, home)
        )
        fail_on_first(
            frame, bad, names[kind], "game {gid}: teams {team}/{opp} do not match gameinfo"
        )
    dupes = teamstats.duplicated(["gid", "team"])
    fail_on_first(teamstats, dupes, names["teamstats"], "game {gid}: team {team} appears twice")


# --------------------------------------------------------------------------------------------
# From files to warehouse rows
# --------------------------------------------------------------------------------------------


@dataclass
class SeasonTables:
    """One season's checked files, cut to the games kcast loads."""

    season: int
    gameinfo: pd.DataFrame
    pitching: pd.DataFrame
    teamstats: pd.DataFrame
    allplayers: pd.DataFrame
    rows_read: int  # pitching rows read, of every game type


@dataclass
class CsvFrames:
    games: pd.DataFrame
    pitcher_games: pd.DataFrame
    team_batting_games: pd.DataFrame
    players: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    lineups: pd.DataFrame = field(default_factory=pd.DataFrame)


def _canonical_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with each ``gid`` as kcast files the game (``ATH2025...`` is ``OAK2025...``)."""
    ids = {gid: canonical_game_id(gid) for gid in frame["gid"].unique()}
    return frame.assign(gid=frame["gid"].map(ids))


def load_season(files: SeasonFiles, include_all_types: bool = False) -> SeasonTables:
    """Read and check one season's four files; keep the wanted games (never All-Star games)."""
    names = {k: str(p) for k, p in files.paths.items()}
    tables = {k: check_table(read_table(files.paths[k], k), k, names[k]) for k in KINDS}
    games, pitching, teamstats = tables["gameinfo"], tables["pitching"], tables["teamstats"]
    for kind in ("gameinfo", "pitching", "teamstats"):
        if tables[kind].empty:
            raise InputError("the file has no rows", source=names[kind], line=2)
    _check_links(pitching, teamstats, games, names)
    keep = ~games["hometeam"].map(is_all_star) & ~games["visteam"].map(is_all_star)
    if not include_all_types:
        keep &= games["gametype"] == "regular"
    kept = set(games.loc[keep, "gid"])
    return SeasonTables(
        season=files.season,
        gameinfo=_canonical_ids(games[keep]),
        pitching=_canonical_ids(pitching[pitching["gid"].isin(kept)]),
        teamstats=_canonical_ids(teamstats[teamstats["gid"].isin(kept)]),
        allplayers=tables["allplayers"].assign(season=files.season),
        rows_read=len(pitching),
    )


def _innings(teamstats: pd.DataFrame) -> pd.Series:
    """Innings played per game: the last inning either team's line score has a value for."""
    cols = [c for c in INNINGS if c in teamstats.columns]
    if not cols:
        return pd.Series(dtype="Int64")
    played = teamstats[cols].ne("").to_numpy()
    last = pd.Series(
        [max((i + 1 for i, v in enumerate(row) if v), default=0) for row in played],
        index=teamstats.index,
    )
    per_game = last.groupby(teamstats["gid"]).max()
    return per_game.where(per_game > 0).astype("Int64")


def build_frames(seasons: list[SeasonTables], register: Register) -> CsvFrames:
    """Turn checked season tables into rows of the four warehouse tables."""
    info = pd.concat([s.gameinfo for s in seasons], ignore_index=True)
    teamstats = pd.concat([s.teamstats for s in seasons], ignore_index=True)
    allplayers = pd.concat([s.allplayers for s in seasons], ignore_index=True)
    rank = SOURCE_RANK[SOURCE]
    notes: list[str] = []

    games = pd.DataFrame(
        {
            "game_id": info["gid"],
            "game_date": info["date"],
            "season": [d.year for d in info["date"]],
            "game_type": info["gametype"],
            "game_number": info["number"],
            "home_team": info["hometeam"],
            "away_team": info["visteam"],
            "park_id": info["site"].replace("", None),
            "start_time": info["starttime"].replace("", None),
            "day_night": info["daynight"].replace("", None),
            # Retrosheet writes 0 (and -1 for wind) when it does not know the value
            "temperature": info["temp"].where(info["temp"] > 0),
            "wind_speed": info["windspeed"].where(info["windspeed"] >= 0),
            "wind_dir": info["winddir"].replace("", None),
            "sky": info["sky"].replace("", None),
            "umpire_home": info["umphome"].replace("", None),
            "uses_dh": info["usedh"].str.lower() == "true",
            "innings": info["gid"].map(_innings(teamstats)),
            "home_runs_scored": info["hruns"],
            "away_runs_scored": info["vruns"],
            "status": "final",
            "source": SOURCE,
            "source_rank": rank,
        }
    )
    meta = games.set_index("game_id")[["game_date", "season", "game_type"]]

    # each season's splits and lineups use that season's hands (a batter can turn switch-hitter)
    retro_to_mlbam = register.retro_to_mlbam
    pitchers_parts, batting_parts, lineup_parts = [], [], []
    for season in seasons:
        season_hands = _hands(season.allplayers)
        part = _pitcher_games(season.pitching, meta, season_hands)
        pitchers_parts.append(part)
        batting_parts.append(_team_batting(season.teamstats, part, meta, season_hands))
        lineup_parts.append(_lineups(season.teamstats, meta, season_hands, retro_to_mlbam))
    pitchers = pd.concat(pitchers_parts, ignore_index=True)
    batting = pd.concat(batting_parts, ignore_index=True)
    lineups = pd.concat(lineup_parts, ignore_index=True)
    lineups["source"] = SOURCE
    lineups["source_rank"] = rank
    hands = _hands(allplayers)  # the players table keeps the latest season's hands

    pitchers["pitcher_id"] = pitchers["retro_id"].map(retro_to_mlbam)
    unknown = sorted(set(pitchers.loc[pitchers["pitcher_id"].isna(), "retro_id"]))
    if unknown:
        notes.append(
            f"{len(unknown)} pitchers have no MLBAM id in the register, so their "
            f"{int(pitchers['pitcher_id'].isna().sum())} pitcher-games were not stored (their "
            f"batters faced still count in the team splits): {', '.join(unknown[:20])}"
        )
    pitchers = pitchers[pitchers["pitcher_id"].notna()].drop(columns=["_throws"])
    pitchers["pitcher_id"] = pitchers["pitcher_id"].astype("int64")
    pitchers["source"] = SOURCE
    pitchers["source_rank"] = rank
    batting["source"] = SOURCE
    batting["source_rank"] = rank

    players = hands.reset_index().rename(columns={"id": "retro_id"})
    players["player_id"] = players["retro_id"].map(retro_to_mlbam)
    no_id = sorted(players.loc[players["player_id"].isna(), "retro_id"])
    if no_id:
        notes.append(
            f"{len(no_id)} players of allplayers have no MLBAM id in the register and were not "
            f"stored in players: {', '.join(no_id[:20])}"
        )
    players = players[players["player_id"].notna()].copy()
    players["player_id"] = players["player_id"].astype("int64")
    players = players.drop_duplicates("player_id", keep="last")
    players["source"] = SOURCE
    players = players[["player_id", "retro_id", "bats", "throws", "source"]]
    return CsvFrames(games, pitchers, batting, players, notes=notes, lineups=lineups)


def _lineups(
    teamstats: pd.DataFrame,
    meta: pd.DataFrame,
    hands: pd.DataFrame,
    retro_to_mlbam: dict[str, int],
) -> pd.DataFrame:
    """The starting batting orders (``start_l1..9``), one row per slot, for known players."""
    long = teamstats.melt(
        id_vars=["gid", "team"], value_vars=list(LINEUP), var_name="slot", value_name="retro_id"
    )
    long["player_id"] = long["retro_id"].map(retro_to_mlbam)
    long = long[long["player_id"].notna()]
    out = pd.DataFrame(
        {
            "game_id": long["gid"],
            "team": long["team"],
            "slot": long["slot"].str.removeprefix("start_l").astype("int64"),
            "player_id": long["player_id"].astype("int64"),
            "bats": long["retro_id"].map(hands["bats"]),
        }
    )
    return out.join(meta[["game_date", "season"]], on="game_id")


def _hands(allplayers: pd.DataFrame) -> pd.DataFrame:
    """Retro id -> bats, throws: the latest season's row, from the team he played most for."""
    rows = allplayers.assign(_g=allplayers["g"].fillna(0)).sort_values(
        ["season", "_g"], kind="stable"
    )
    last = rows.drop_duplicates("id", keep="last").set_index("id")
    return pd.DataFrame(
        {
            "bats": last["bat"].replace("", None),
            "throws": last["throw"].replace("", None),
        }
    )


def _pitcher_games(pitching: pd.DataFrame, meta: pd.DataFrame, hands: pd.DataFrame) -> pd.DataFrame:
    """One row per pitcher per game; a pitcher's several ``p_seq`` rows in a game are summed."""
    stats = {
        "p_ipouts": "outs",
        "p_bfp": "batters_faced",
        "p_k": "strikeouts",
        "p_w": "walks",  # Retrosheet's walks include the intentional ones (p_iw is a subset)
        "p_h": "hits",
        "p_hr": "home_runs",
        "p_r": "runs",
        "p_er": "earned_runs",
        "p_hbp": "hit_batters",
    }
    frame = pitching.assign(_start=pitching["p_gs"].fillna(0) == 1)
    grouped = frame.groupby(["gid", "id"], sort=False)
    out = grouped[list(stats)].sum().rename(columns=stats)
    first = grouped.agg(
        team=("team", "first"),
        opponent=("opp", "first"),
        vishome=("vishome", "first"),
        is_start=("_start", "any"),
        appearance_seq=("p_seq", "min"),
    )
    out = first.join(out).reset_index().rename(columns={"gid": "game_id", "id": "retro_id"})
    out["is_home"] = out.pop("vishome") == "h"
    out = out.join(meta, on="game_id")
    out["_throws"] = out["retro_id"].map(hands["throws"])
    return out


def _team_batting(
    teamstats: pd.DataFrame, pitchers: pd.DataFrame, meta: pd.DataFrame, hands: pd.DataFrame
) -> pd.DataFrame:
    """Per team per game: batting totals, splits by the opposing pitchers' hand, the lineup."""
    splits = opposing_pitcher_splits(pitchers, pitchers["_throws"])
    bats = hands["bats"]
    lineup = teamstats[list(LINEUP)].apply(lambda col: col.map(bats))
    out = pd.DataFrame(
        {
            "game_id": teamstats["gid"],
            "team": teamstats["team"],
            "opponent": teamstats["opp"],
            "is_home": teamstats["vishome"] == "h",
            "plate_appearances": teamstats["b_pa"],
            "strikeouts": teamstats["b_k"],
            "walks": teamstats["b_w"],
            "lineup_lhb": (lineup == "L").sum(axis=1),
            "lineup_rhb": (lineup == "R").sum(axis=1),
            "lineup_shb": (lineup == "B").sum(axis=1),
        }
    )
    out = out.join(meta, on="game_id").join(splits, on=["game_id", "team"])
    return out


# --------------------------------------------------------------------------------------------
# The ingest
# --------------------------------------------------------------------------------------------


def ingest_retrosheet_csv(
    wh: Warehouse,
    source: str | Path,
    register: Register,
    seasons: Iterable[int] = (),
    include_all_types: bool = False,
) -> IngestReport:
    """Read every wanted season's four CSV files and upsert them, all in one transaction.

    Nothing is written unless every file checks out; a bad file raises ``InputError`` naming
    the file and line.
    """
    with logged_ingest(wh, "retrosheet-csv", str(source)) as report:
        season_files = resolve_seasons(source, seasons)
        loaded = [load_season(sf, include_all_types) for sf in season_files]
        if all(s.gameinfo.empty for s in loaded):
            raise InputError(
                "no games to load (only All-Star or postseason games? see --all-game-types)",
                source=str(source),
            )
        frames = build_frames(loaded, register)
        report.rows_read = sum(s.rows_read for s in loaded)
        report.notes.extend(frames.notes)
        rekey = plan_rekey(wh, frames.pitcher_games, SOURCE_RANK[SOURCE])
        report.notes.extend(rekey.notes)
        with wh.transaction():
            apply_rekey(wh, rekey, frames.games, SOURCE_RANK[SOURCE])
            for table, rows in [*game_tables(frames), ("pitcher_games", rekey.moved)]:
                report.results.append(wh.upsert(table, rows))
        report.stats = season_stats(frames.pitcher_games)
        for season, g in frames.games.groupby("season"):
            report.stats.setdefault(str(season), {})["games"] = len(g)
    return report
