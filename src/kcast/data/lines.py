"""Sportsbook pitcher-strikeout lines into ``prop_lines``, each matched to a pitcher and a start.

Three file formats are read (``docs/sources/lines.md`` describes each with an example):

- ``generic``: kcast's own CSV, one price per row (``snapshot`` column) or open and close
  prices side by side (``open_over_odds`` ... ``close_under_odds``);
- ``strikeoutcenter``: snapshots of The Odds API's ``pitcher_strikeouts`` market reduced to
  one row per event, pitcher, line and book with its first (open) and last pre-game (close)
  price; each row becomes an ``open`` and a ``close`` row;
- ``steveliang``: a bettor's log of DraftKings/FanDuel posted lines with a SaberSim projection;
  each row becomes one ``posted`` row.

Every row is checked before anything is written; a bad value raises ``InputError`` naming the
file and line. Every row is kept: a name that does not resolve gets ``pitcher_id`` NULL and a
``match_note`` saying why (see :mod:`kcast.data.names`). A line is *matched to a start* when its
pitcher has a ``pitcher_games`` row with ``is_start`` on the line's date; ``game_id`` is then that
start's game. Load starts before lines; re-running the lines ingest after more starts arrive
updates the matches and adds no rows.
"""

from __future__ import annotations

import datetime as dt
import difflib
import gzip
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kcast.data.ingest import IngestReport, logged_ingest, write_all
from kcast.data.names import STATUSES, NameMatcher
from kcast.data.register import Register
from kcast.data.retrosheet_csv import fail_on_first
from kcast.dates import date_bounds
from kcast.errors import InputError
from kcast.market import insane_prices, price_problem
from kcast.policy import MAX_ABS_ODDS
from kcast.teams import canonical_team
from kcast.warehouse import Warehouse

FORMATS = ("generic", "strikeoutcenter", "steveliang")
SOURCE_OF_FORMAT = {
    "generic": "csv",
    "strikeoutcenter": "strikeoutcenter",
    "steveliang": "steveliang",
}
SNAPSHOTS = ("open", "close", "posted")

# The prop_lines columns an ingest writes (updated_at is set by the warehouse).
LINE_COLUMNS = (
    "source",
    "game_date",
    "pitcher_name",
    "book",
    "line",
    "snapshot",
    "pitcher_id",
    "team",
    "game_id",
    "over_odds",
    "under_odds",
    "captured_at",
    "is_main",
    "event_id",
    "projection",
    "match_note",
)

STRIKEOUTCENTER_COLUMNS = (
    "game_date",
    "event_id",
    "away_team",
    "home_team",
    "pitcher_name",
    "line",
    "book",
    "is_main_line_at_close",
    "is_main_line_at_open",
    "open_snapshot_at",
    "open_over_odds",
    "open_under_odds",
    "close_snapshot_at",
    "close_over_odds",
    "close_under_odds",
)
STEVELIANG_COLUMNS = (
    "Date",
    "Team",
    "Pitcher",
    "SO_Projection",
    "OU",
    "Over_Odds",
    "Under_Odds",
    "Platform",
)
STEVELIANG_BOOKS = {"1": "DraftKings", "2": "FanDuel"}
GENERIC_REQUIRED = ("game_date", "book", "line")
GENERIC_WIDE = ("open_over_odds", "open_under_odds", "close_over_odds", "close_under_odds")

# The All-Star Game's "teams" as The Odds API names them: no club, so no candidate team.
ALL_STAR_NAMES = {"AMERICAN LEAGUE", "NATIONAL LEAGUE", "AL ALL-STARS", "NL ALL-STARS"}

MAX_LINE = 27.0  # a line above 27 strikeouts (a perfect game's worth) is not a real line

MIN_MATCH = 0.5  # a file in which fewer names than this share match a pitcher is refused
PROBE_ROWS = 20_000  # rows read and matched first, so that a garbage file stops early
CHUNK_ROWS = 200_000  # rows per chunk when reading a file
MAX_ROWS = 5_000_000  # a lines file longer than this is refused (memory)

# every column a generic file may have (others are named, with the closest known one)
GENERIC_COLUMNS = (
    *("game_date", "book", "line", "pitcher_name", "pitcher_id", "team", "opponent"),
    *("event_id", "projection", "is_main", "snapshot", "over_odds", "under_odds"),
    *("captured_at", "open_over_odds", "open_under_odds", "close_over_odds"),
    *("close_under_odds", "open_captured_at", "close_captured_at"),
)
# the header of each format, as detect_format knows it
FORMAT_HEADERS = {
    "strikeoutcenter": ("event_id", "is_main_line_at_close", "close_over_odds"),
    "steveliang": ("SO_Projection", "OU", "Platform"),
    "generic": ("game_date", "book", "line"),
}


@dataclass
class ParsedLines:
    """One file's lines as ``prop_lines`` rows (not yet matched), with where each came from.

    ``frame`` has the LINE_COLUMNS that the file gives plus ``_line`` (the file line number),
    ``_teams`` (candidate team codes for the match) and ``_pitcher_id`` (an id the file gives).
    """

    path: str
    format: str
    source: str
    rows_read: int
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Reading and checking
# --------------------------------------------------------------------------------------------


def read_csv_text(path: str | Path, nrows: int | None = None) -> pd.DataFrame:
    """A CSV (plain or gzipped) as strings, with ``_line`` = its line number (header = 1).

    Read in chunks of CHUNK_ROWS from the file (never decompressed whole into memory);
    ``nrows`` stops after that many rows; a file over MAX_ROWS rows is refused."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError("no such file", source=name)
    try:
        with path.open("rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with opener(path, "rb") as handle:
            reader = pd.read_csv(
                handle,
                dtype=str,
                keep_default_na=False,
                on_bad_lines="error",
                chunksize=CHUNK_ROWS,
                nrows=nrows,
            )
            chunks, rows = [], 0
            for chunk in reader:
                _refuse_control_characters(chunk, rows, name)
                chunks.append(chunk)
                rows += len(chunk)
                if rows > MAX_ROWS:
                    raise InputError(f"more than {MAX_ROWS:,} rows: split the file", source=name)
        if not chunks:  # a header and no rows
            with opener(path, "rb") as handle:
                chunks = [pd.read_csv(handle, dtype=str, keep_default_na=False, nrows=0)]
        frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    except InputError:
        raise
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read the file ({exc}); is it truncated?", source=name) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"malformed CSV: {exc}", source=name) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda s: s.str.strip())
    frame["_line"] = range(2, len(frame) + 2)
    return frame


# a NUL or another control character (tab, carriage return and line feed aside): no lines
# file holds one in a field, and stored it would reach every page and answer that shows it
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _refuse_control_characters(chunk: pd.DataFrame, before: int, name: str) -> None:
    """``InputError`` naming the line and column of the first field of ``chunk`` (which
    follows ``before`` rows) with a control character; the header too."""
    for column in chunk.columns:
        if CONTROL.search(str(column)):
            raise InputError(f"the header has a control character in {column!r}", name, 1)
    found = [chunk[c].str.contains(CONTROL, na=False) for c in chunk.columns]
    hit = pd.concat(found, axis=1).any(axis=1) if found else pd.Series(dtype=bool)
    if not hit.any():
        return
    position = int(np.flatnonzero(hit.to_numpy())[0])
    row = chunk.iloc[position]
    column = next(c for c in chunk.columns if CONTROL.search(str(row[c])))
    char = CONTROL.search(str(row[column])).group()  # type: ignore[union-attr]
    what = "a NUL byte" if char == "\x00" else f"the control character {char!r}"
    raise InputError(f"{column} has {what}: refused", name, before + position + 2)


def closest_column(wanted: str, columns: list[str] | set[str]) -> str | None:
    """The header column most like ``wanted`` (difflib; case ignored), or None."""
    by_lower = {str(c).lower(): str(c) for c in columns}
    found = difflib.get_close_matches(wanted.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def describe_missing(missing: list[str], columns: list[str] | set[str]) -> str:
    """``line (the header has 'lnie')``-style names of missing columns (a column some format
    knows by that name is not offered as a misspelling)."""
    known = set(GENERIC_COLUMNS).union(*FORMAT_HEADERS.values())
    candidates = [c for c in columns if c not in known]
    parts = []
    for column in missing:
        near = closest_column(column, candidates)
        parts.append(f"{column} (the header has {near!r}: misspelt?)" if near else column)
    return ", ".join(parts)


def detect_format(columns: list[str]) -> str:
    """The format a header belongs to; ``InputError`` when it is none of them, naming the
    columns missing for the nearest format and the header's closest spellings of them."""
    cols = set(columns)
    for fmt, needed in FORMAT_HEADERS.items():
        if set(needed) <= cols:
            return fmt
    nearest = min(FORMAT_HEADERS, key=lambda f: len(set(FORMAT_HEADERS[f]) - cols))
    missing = [c for c in FORMAT_HEADERS[nearest] if c not in cols]
    raise InputError(
        "cannot tell the format from the header: a generic lines file needs game_date, "
        "pitcher_name (or pitcher_id), book and line (see docs/sources/lines.md); "
        f"nearest is {nearest}, missing {describe_missing(missing, cols)}",
        line=1,
    )


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str, fmt: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = [c for c in frame.columns if c != "_line"]
        raise InputError(
            f"{fmt} file is missing columns: {describe_missing(missing, have)}", name, 1
        )


def _check_generic_header(frame: pd.DataFrame, name: str) -> list[str]:
    """A generic header's unknown columns: one that looks like a known column the file lacks
    is an error naming both; others are ignored with a note."""
    have = [c for c in frame.columns if c != "_line"]
    absent = [c for c in GENERIC_COLUMNS if c not in have]
    notes, wrong = [], []
    for column in have:
        if column in GENERIC_COLUMNS:
            continue
        near = closest_column(column, absent)
        if near:
            wrong.append(f"{column!r} (did you mean {near!r}?)")
        else:
            notes.append(f"{name}: column {column!r} is not a generic lines column; ignored")
    if wrong:
        raise InputError(f"unknown header columns: {', '.join(wrong)}", name, 1)
    return notes


def parse_line_values(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """The strikeout line: a number from 0 to 27 (``5.5``); ``five`` or empty is an error."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | ~values.between(0, MAX_LINE)
    fail_on_first(
        frame, bad, name, f"{column} {{{column}!r}} is not a strikeout line (0 to {MAX_LINE:g})"
    )
    return values.astype("float64")


def parse_odds(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """American odds (``-110``, ``+120``, ``EVEN``); empty is missing. Anything else is an error."""
    text = frame[column].str.upper().str.replace(r"^\+", "", regex=True)
    text = text.mask(text.isin(["EVEN", "EV"]), "100")
    values = pd.to_numeric(text, errors="coerce")
    empty = frame[column] == ""
    bad = ~empty & (values.isna() | (values % 1 != 0) | (values.abs() < 100))
    fail_on_first(
        frame, bad, name, f"{column} {{{column}!r}} is not American odds (e.g. -110, +120)"
    )
    fail_on_first(
        frame,
        ~empty & (values.abs() > MAX_ABS_ODDS),
        name,
        f"{column} {{{column}!r}} is no sportsbook price (American odds from -{MAX_ABS_ODDS} "
        f"to +{MAX_ABS_ODDS})",
    )
    return values.where(~empty).astype("Int64")


def check_prices(frame: pd.DataFrame, name: str) -> None:
    """Refuse a quote no sportsbook posts (``market.insane_prices``: a two-sided price whose
    no-vig P(over) is outside 1%..99%, or a side beyond +/-10000), naming its line."""
    if "over_odds" not in frame or "under_odds" not in frame:
        return
    bad = pd.Series(insane_prices(frame["over_odds"], frame["under_odds"]), index=frame.index)
    if bad.any():
        row = frame[bad].sort_values("_line").iloc[0]
        problem = price_problem(row["over_odds"], row["under_odds"])
        snapshot = f" ({row['snapshot']} price)" if "snapshot" in frame else ""
        raise InputError(f"{problem}{snapshot}", source=name, line=int(row["_line"]))


def parse_dates(frame: pd.DataFrame, column: str, name: str, fmt: str, want: str) -> pd.Series:
    """A date column in ``fmt``; an empty or unparsable value is an error, and so is a date
    outside the seasons kcast knows (``dates.date_bounds``: from 1871 to a year ahead)."""
    parsed = pd.to_datetime(frame[column], format=fmt, errors="coerce")
    fail_on_first(
        frame, parsed.isna(), name, f"{column} {{{column}!r}} is not a date (want {want})"
    )
    first, last = date_bounds()
    fail_on_first(
        frame,
        (parsed < pd.Timestamp(first)) | (parsed > pd.Timestamp(last)),
        name,
        f"{column} {{{column}!r}} is outside the seasons kcast knows ({first} to {last})",
    )
    return parsed.dt.date


def parse_timestamps(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """ISO 8601 times (an offset is honoured; none means UTC) as naive UTC; empty is missing."""
    empty = frame[column] == ""
    parsed = pd.to_datetime(
        frame[column].where(~empty), utc=True, errors="coerce", format="ISO8601"
    )
    fail_on_first(
        frame,
        ~empty & parsed.isna(),
        name,
        f"{column} {{{column}!r}} is not an ISO 8601 time (e.g. 2025-06-03T17:28:48-04:00)",
    )
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None)


def parse_flags(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """0/1/true/false flags; empty is missing."""
    text = frame[column].str.lower()
    known = {"1": True, "0": False, "true": True, "false": False, "": None}
    fail_on_first(
        frame, ~text.isin(known), name, f"{column} {{{column}!r}} is not 0/1 or true/false"
    )
    return text.map(known).astype("boolean")


def parse_teams(
    frame: pd.DataFrame, column: str, name: str, allow_all_star: bool = False
) -> pd.Series:
    """Canonical team codes (empty stays None); an unknown team is an error naming the line."""
    codes: dict[str, str | None] = {"": None}
    out = []
    for value, line in zip(frame[column], frame["_line"], strict=True):
        if value not in codes:
            if allow_all_star and value.upper() in ALL_STAR_NAMES:
                codes[value] = None
            else:
                codes[value] = canonical_team(value, name, int(line))
        out.append(codes[value])
    return pd.Series(out, index=frame.index, dtype=object)


def _nonempty(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    for column in columns:
        fail_on_first(frame, frame[column] == "", name, f"{column} is empty")


# --------------------------------------------------------------------------------------------
# The three formats
# --------------------------------------------------------------------------------------------


def _open_close(base: pd.DataFrame, frame: pd.DataFrame, name: str):  # noqa: ANN202
    """An ``open`` and a ``close`` copy of ``base``, each with its own side of the prices."""
    for snap in ("open", "close"):
        part = base.copy()
        part["snapshot"] = snap
        part["over_odds"] = parse_odds(frame, f"{snap}_over_odds", name)
        part["under_odds"] = parse_odds(frame, f"{snap}_under_odds", name)
        yield snap, part


def parse_strikeoutcenter(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Each row -> an ``open`` and a ``close`` row, each with its own odds, time and main flag."""
    _require(frame, STRIKEOUTCENTER_COLUMNS, name, "strikeoutcenter")
    _nonempty(frame, ("event_id", "pitcher_name", "book"), name)
    base = pd.DataFrame(index=frame.index)
    base["game_date"] = parse_dates(frame, "game_date", name, "%Y-%m-%d", "YYYY-MM-DD")
    base["pitcher_name"] = frame["pitcher_name"]
    base["book"] = frame["book"]
    base["line"] = parse_line_values(frame, "line", name)
    base["event_id"] = frame["event_id"]
    home = parse_teams(frame, "home_team", name, allow_all_star=True)
    away = parse_teams(frame, "away_team", name, allow_all_star=True)
    base["_teams"] = [tuple(t for t in pair if t) for pair in zip(home, away, strict=True)]
    base["_line"] = frame["_line"]
    sides = []
    for snap, part in _open_close(base, frame, name):
        part["captured_at"] = parse_timestamps(frame, f"{snap}_snapshot_at", name)
        part["is_main"] = parse_flags(frame, f"is_main_line_at_{snap}", name)
        sides.append(part)
    out = pd.concat(sides, ignore_index=True)
    return _merge_rescheduled(out)


def _merge_rescheduled(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One row per key when a pitcher's line appears under two events on one date.

    That happens when a game is re-listed under a new event (a changed start time). The first
    capture is the open and the last capture is the close, as for one event.
    """
    key = ["game_date", "pitcher_name", "book", "line", "snapshot"]
    dupes = frame.duplicated(key, keep=False)
    if not dupes.any():
        return frame, []
    order = frame.sort_values("captured_at", na_position="first", kind="stable")
    first = order.drop_duplicates(key, keep="first")
    last = order.drop_duplicates(key, keep="last")
    kept = pd.concat(
        [first[first["snapshot"] == "open"], last[last["snapshot"] != "open"]], ignore_index=True
    )
    lines = frame.loc[dupes & (frame["snapshot"] == "open")]
    note = (
        f"{len(lines) // 2 if len(lines) else 0} pitcher lines were listed under two events on "
        f"one date (a re-listed game; file lines {', '.join(map(str, sorted(lines['_line'])[:6]))}"
        f"{' ...' if len(lines) > 6 else ''}): open = first capture, close = last capture"
    )
    return kept.sort_values(["_line", "snapshot"], ignore_index=True), [note]


def parse_steveliang(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Each row -> one ``posted`` row; Platform 1 = DraftKings, 2 = FanDuel; SO_Projection kept."""
    _require(frame, STEVELIANG_COLUMNS, name, "steveliang")
    _nonempty(frame, ("Pitcher",), name)
    out = pd.DataFrame(index=frame.index)
    out["game_date"] = parse_dates(frame, "Date", name, "%m/%d/%Y", "M/D/YYYY")
    out["pitcher_name"] = frame["Pitcher"]
    fail_on_first(
        frame,
        ~frame["Platform"].isin(STEVELIANG_BOOKS),
        name,
        "Platform {Platform!r} is not 1 (DraftKings) or 2 (FanDuel)",
    )
    out["book"] = frame["Platform"].map(STEVELIANG_BOOKS)
    out["line"] = parse_line_values(frame, "OU", name)
    out["snapshot"] = "posted"
    frame, notes = _drop_impossible_odds(frame, ("Over_Odds", "Under_Odds"), name)
    out["over_odds"] = parse_odds(frame, "Over_Odds", name)
    out["under_odds"] = parse_odds(frame, "Under_Odds", name)
    projection = pd.to_numeric(frame["SO_Projection"], errors="coerce")
    fail_on_first(
        frame,
        (frame["SO_Projection"] != "") & (projection.isna() | (projection < 0)),
        name,
        "SO_Projection {SO_Projection!r} is not a number of strikeouts",
    )
    out["projection"] = projection
    out["team"] = parse_teams(frame, "Team", name)  # read_csv_text strips "BOS " to "BOS"
    out["_teams"] = [(t,) if t else () for t in out["team"]]
    out["_line"] = frame["_line"]
    return out.reset_index(drop=True), notes


def _drop_impossible_odds(
    frame: pd.DataFrame, columns: tuple[str, ...], name: str
) -> tuple[pd.DataFrame, list[str]]:
    """Blank numbers between -100 and 100, which no American price can be, with a note each.

    The bettor's log has one (line 964, ``Over_Odds`` 1.4, whose own derived columns treat it
    as +1.4): the row is kept with that price missing. Text that is no number stays an error.
    """
    out = frame.copy()
    notes = []
    for column in columns:
        values = pd.to_numeric(out[column], errors="coerce")
        impossible = values.notna() & (values.abs() < 100)
        for value, line in zip(
            out.loc[impossible, column], out.loc[impossible, "_line"], strict=True
        ):
            notes.append(
                f"{name}, line {line}: {column} {value!r} is not American odds; stored as missing"
            )
        out.loc[impossible, column] = ""
    return out, notes


def parse_generic(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """kcast's CSV: one price per row (``snapshot``), or open and close prices side by side."""
    _require(frame, GENERIC_REQUIRED, name, "generic")
    header_notes = _check_generic_header(frame, name)
    if "pitcher_name" not in frame.columns and "pitcher_id" not in frame.columns:
        raise InputError("generic file needs a pitcher_name or a pitcher_id column", name, 1)
    for optional in ("pitcher_name", "pitcher_id", "team", "opponent", "event_id"):
        if optional not in frame.columns:
            frame[optional] = ""
    _nonempty(frame, ("book",), name)
    fail_on_first(
        frame,
        (frame["pitcher_name"] == "") & (frame["pitcher_id"] == ""),
        name,
        "the row has neither a pitcher_name nor a pitcher_id",
    )
    fail_on_first(
        frame,
        (frame["pitcher_id"] != "") & ~frame["pitcher_id"].str.fullmatch(r"\d+"),
        name,
        "pitcher_id {pitcher_id!r} is not an MLBAM id (a whole number)",
    )
    base = pd.DataFrame(index=frame.index)
    base["game_date"] = parse_dates(frame, "game_date", name, "%Y-%m-%d", "YYYY-MM-DD")
    base["pitcher_name"] = frame["pitcher_name"]
    base["_pitcher_id"] = pd.to_numeric(
        frame["pitcher_id"].where(frame["pitcher_id"] != "")
    ).astype("Int64")
    base["book"] = frame["book"]
    base["line"] = parse_line_values(frame, "line", name)
    base["team"] = parse_teams(frame, "team", name)
    opponent = parse_teams(frame, "opponent", name)
    base["_teams"] = [
        tuple(t for t in pair if t) for pair in zip(base["team"], opponent, strict=True)
    ]
    base["event_id"] = frame["event_id"].where(frame["event_id"] != "", None)
    if "projection" in frame.columns:
        projection = pd.to_numeric(frame["projection"], errors="coerce")
        bad = (frame["projection"] != "") & (projection.isna() | (projection < 0))
        fail_on_first(frame, bad, name, "projection {projection!r} is not a number of strikeouts")
        base["projection"] = projection
    if "is_main" in frame.columns:
        base["is_main"] = parse_flags(frame, "is_main", name)
    base["_line"] = frame["_line"]
    wide = [c for c in GENERIC_WIDE if c in frame.columns]
    if wide:
        if "snapshot" in frame.columns:
            raise InputError("use either a snapshot column or open_/close_ odds columns", name, 1)
        _require(frame, GENERIC_WIDE, name, "generic (open/close columns)")
        parts = []
        for snap, part in _open_close(base, frame, name):
            stamp = f"{snap}_captured_at"
            part["captured_at"] = parse_timestamps(frame, stamp, name) if stamp in frame else pd.NaT
            has_price = part["over_odds"].notna() | part["under_odds"].notna()
            parts.append(part[has_price])
        out = pd.concat(parts, ignore_index=True)
    else:
        _require(frame, ("over_odds", "under_odds"), name, "generic")
        out = base.copy()
        snaps = (
            frame["snapshot"].str.lower()
            if "snapshot" in frame.columns
            else pd.Series("posted", index=frame.index)
        )
        snaps = snaps.replace("", "posted")
        fail_on_first(
            frame.assign(snapshot=snaps),
            ~snaps.isin(SNAPSHOTS),
            name,
            "snapshot {snapshot!r} is not open, close or posted",
        )
        out["snapshot"] = snaps
        out["over_odds"] = parse_odds(frame, "over_odds", name)
        out["under_odds"] = parse_odds(frame, "under_odds", name)
        if "captured_at" in frame.columns:
            out["captured_at"] = parse_timestamps(frame, "captured_at", name)
        out = out.reset_index(drop=True)
    return out, header_notes


PARSERS = {
    "generic": parse_generic,
    "strikeoutcenter": parse_strikeoutcenter,
    "steveliang": parse_steveliang,
}


def read_lines(path: str | Path, fmt: str = "auto", nrows: int | None = None) -> ParsedLines:
    """Read and check a lines file (its first ``nrows`` rows); nothing is matched or written."""
    name = str(path)
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use auto, {', '.join(FORMATS)}", source=name)
    raw = read_csv_text(path, nrows=nrows)
    if fmt == "auto":
        try:
            fmt = detect_format([c for c in raw.columns if c != "_line"])
        except InputError as exc:
            raise InputError(exc.message, source=name, line=1) from exc
    frame, notes = PARSERS[fmt](raw, name)
    frame["source"] = SOURCE_OF_FORMAT[fmt]
    check_prices(frame, name)
    _check_keys(frame, name)
    return ParsedLines(name, fmt, SOURCE_OF_FORMAT[fmt], len(raw), frame, notes)


def _check_keys(frame: pd.DataFrame, name: str) -> None:
    """Two rows of one file with the same key (date, pitcher, book, line, snapshot) is an error."""
    who = frame["pitcher_name"].copy()
    if "_pitcher_id" in frame.columns:
        who = who.where(who != "", "mlbam:" + frame["_pitcher_id"].astype(str))
    key = pd.DataFrame(
        {
            "d": frame["game_date"],
            "w": who,
            "b": frame["book"],
            "l": frame["line"],
            "s": frame["snapshot"],
        }
    )
    dupes = key.duplicated(keep="first")
    if dupes.any():
        second = frame[dupes].sort_values("_line").iloc[0]
        same = key.eq(key.loc[second.name]).all(axis=1)
        lines = sorted(frame.loc[same, "_line"])
        raise InputError(
            f"lines {', '.join(map(str, lines))} give the same price twice "
            f"({second['game_date']}, {who[second.name]}, {second['book']}, "
            f"{second['line']:g}, {second['snapshot']})",
            source=name,
            line=int(lines[-1]),
        )


# --------------------------------------------------------------------------------------------
# Matching and writing
# --------------------------------------------------------------------------------------------


def resolve_lines(frame: pd.DataFrame, matcher: NameMatcher) -> pd.DataFrame:
    """Add pitcher_id, team, game_id and match_note to parsed lines (one lookup per name-day)."""
    out = frame.copy()
    if "_pitcher_id" not in out.columns:
        out["_pitcher_id"] = pd.array([pd.NA] * len(out), dtype="Int64")
    if "team" not in out.columns:
        out["team"] = None
    keys = list(
        zip(out["pitcher_name"], out["game_date"], out["_teams"], out["_pitcher_id"], strict=True)
    )
    cache: dict[tuple, object] = {}
    ids, teams, games, notes = [], [], [], []
    for (name, date, cands, given), file_team in zip(keys, out["team"], strict=True):
        pid = None if pd.isna(given) else int(given)
        k = (name, date, cands, pid)
        if k not in cache:
            cache[k] = matcher.resolve(name, date, cands, pitcher_id=pid)
        m = cache[k]
        ids.append(m.pitcher_id)
        teams.append(m.team or file_team)
        games.append(m.game_id)
        notes.append(m.note)
    out["pitcher_id"] = pd.array(ids, dtype="Int64")
    out["team"] = teams
    out["game_id"] = games
    out["match_note"] = notes
    missing_name = out["pitcher_name"] == ""
    if missing_name.any():
        out.loc[missing_name, "pitcher_name"] = [
            matcher.name_of(int(p)) or f"mlbam:{int(p)}"
            for p in out.loc[missing_name, "_pitcher_id"]
        ]
    return out


def name_match_rate(frame: pd.DataFrame) -> float:
    """The share of resolved rows whose name matched a pitcher (1.0 for no rows)."""
    if not len(frame):
        return 1.0
    return float(frame["pitcher_id"].notna().mean())


def _check_match_rate(
    frame: pd.DataFrame, name: str, min_match: float, allow_unmatched: bool, of: str
) -> None:
    rate = name_match_rate(frame)
    if rate < min_match and not allow_unmatched:
        raise InputError(
            f"only {rate:.1%} of the pitcher names {of}matched a known pitcher, fewer than "
            f"{min_match:.0%}: is it a lines file of these seasons? Nothing was stored; "
            "pass --allow-unmatched to store it anyway",
            source=name,
        )


def ingest_lines(
    wh: Warehouse,
    path: str | Path,
    register: Register,
    fmt: str = "auto",
    min_match: float = MIN_MATCH,
    allow_unmatched: bool = False,
) -> IngestReport:
    """Read, check, match and upsert one lines file, all in one transaction.

    A file in which fewer than ``min_match`` of the rows' names match a pitcher is refused
    (``InputError`` naming the file and the rate; nothing stored) unless ``allow_unmatched``.
    The first PROBE_ROWS rows are matched first, so that a garbage file stops before the rest
    of it is read."""
    name = str(path)
    with logged_ingest(wh, "lines", name) as report:
        probe = read_lines(path, fmt, nrows=PROBE_ROWS)
        whole = probe.rows_read < PROBE_ROWS
        if not whole and not allow_unmatched:
            matcher = NameMatcher.from_warehouse(wh, register, probe.frame["game_date"])
            _check_match_rate(
                resolve_lines(probe.frame, matcher),
                name,
                min_match,
                allow_unmatched,
                f"in its first {PROBE_ROWS:,} rows ",
            )
        parsed = probe if whole else read_lines(path, fmt)
        del probe
        report.rows_read = parsed.rows_read
        report.notes.extend(parsed.notes)
        matcher = NameMatcher.from_warehouse(wh, register, parsed.frame["game_date"])
        frame = resolve_lines(parsed.frame, matcher)
        _check_match_rate(frame, name, min_match, allow_unmatched, "")
        rows = frame[[c for c in LINE_COLUMNS if c in frame.columns]]
        write_all(wh, report, [("prop_lines", rows)])
        report.stats = {"format": parsed.format, "source": parsed.source, **match_summary(frame)}
    return report


def rematch_lines(wh: Warehouse, register: Register, source: str | None = None) -> IngestReport:
    """Match the stored lines that have no start yet against the warehouse as it is now.

    For lines captured before their game (The Odds API) or loaded before the starts. A line
    keeps its pitcher when it has one; otherwise its name is resolved again, with its team when
    known. Only rows whose match changed are rewritten; no row is added.
    """
    with logged_ingest(wh, "lines-rematch", source or "all sources") as report:
        rows = wh.query(
            "SELECT source, game_date, pitcher_name, book, line, snapshot, pitcher_id, team, "
            "match_note FROM prop_lines WHERE game_id IS NULL "
            "AND ($source IS NULL OR source = $source)",
            {"source": source},
        )
        report.rows_read = len(rows)
        if rows.empty:
            return report
        rows["game_date"] = pd.to_datetime(rows["game_date"]).dt.date
        before = rows["match_note"].copy()
        rows["_teams"] = [(t,) if isinstance(t, str) and t else () for t in rows["team"]]
        rows["_pitcher_id"] = rows["pitcher_id"].astype("Int64")
        matcher = NameMatcher.from_warehouse(wh, register, rows["game_date"])
        after = resolve_lines(rows, matcher)
        changed = (after["game_id"].notna()) | (after["match_note"] != before)
        keep = after.loc[changed, [c for c in LINE_COLUMNS if c in after.columns]]
        write_all(wh, report, [("prop_lines", keep)])
        report.stats = {"lines without a start": len(rows), **match_summary(after)}
    return report


def match_summary(
    frame: pd.DataFrame, by: str = "snapshot", status: Callable[[object], str] | None = None
) -> dict[str, object]:
    """Rows, rows matched to a start, and the unmatched rows' reasons (``status`` of each
    ``match_note``; default ``note_status``), per value of ``by``."""
    status = status or note_status
    out: dict[str, object] = {}
    for snap, part in frame.groupby(by, sort=True):
        matched = int(part["game_id"].notna().sum())
        reasons = part.loc[part["game_id"].isna(), "match_note"].map(status).value_counts()
        out[f"{snap} rows"] = (
            f"{len(part):,}, matched to a start {matched:,} ({matched / len(part):.1%})"
            + (
                f"; unmatched: {dict((str(k), int(v)) for k, v in reasons.items())}"
                if len(reasons)
                else ""
            )
        )
    return out


def note_status(note: object) -> str:
    """The status word a match note starts with (``start``, ``no_games``, ...)."""
    if not isinstance(note, str):
        return "not_matched_yet"
    head = note.split(":", 1)[0].strip()
    return head if head in STATUSES else "other"


# --------------------------------------------------------------------------------------------
# Match report
# --------------------------------------------------------------------------------------------


@dataclass
class MatchReport:
    """How many of a set of stored lines are matched to a start, and why the rest are not."""

    description: str
    total: int
    matched: int
    reasons: dict[str, int]
    unmatched: pd.DataFrame

    @property
    def rate(self) -> float:
        return self.matched / self.total if self.total else math.nan


def line_match_report(
    wh: Warehouse,
    source: str,
    *,
    book: str | None = None,
    snapshot: str | None = None,
    main_only: bool = False,
    season: int | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    min_line: float | None = None,
) -> MatchReport:
    """Match rate of the stored lines of ``source`` (filtered) and the unmatched ones, with reasons.

    A line counts as matched when its ``game_id`` is set. The reason of an unmatched line is the
    status of its match note; ``stale`` marks lines whose pitcher has a start on that date in
    the warehouse now (starts loaded after the lines: run ``kcast ingest lines-rematch``).
    """
    params: dict[str, object] = {
        "source": source,
        "book": book,
        "snapshot": snapshot,
        "main_only": bool(main_only),
        "season": season,
        "start": start,
        "end": end,
        "min_line": min_line,
    }
    rows = wh.query(
        """SELECT l.game_date, l.pitcher_name, l.book, l.line, l.snapshot, l.pitcher_id,
                  l.team, l.game_id, l.match_note,
                  EXISTS (SELECT 1 FROM pitcher_games p
                          WHERE p.pitcher_id = l.pitcher_id AND p.game_date = l.game_date
                            AND p.is_start) AS has_start_now
           FROM prop_lines l
           WHERE l.source = $source
             AND ($book IS NULL OR l.book = $book)
             AND ($snapshot IS NULL OR l.snapshot = $snapshot)
             AND (NOT $main_only OR l.is_main)
             AND ($season IS NULL OR year(l.game_date) = $season)
             AND ($start IS NULL OR l.game_date >= $start)
             AND ($end IS NULL OR l.game_date <= $end)
             AND ($min_line IS NULL OR l.line >= $min_line)
           ORDER BY l.game_date, l.pitcher_name, l.book, l.line, l.snapshot""",
        params,
    )
    unmatched = rows[rows["game_id"].isna()].copy()
    unmatched["reason"] = [
        "stale" if stale else note_status(note)
        for note, stale in zip(unmatched["match_note"], unmatched["has_start_now"], strict=True)
    ]
    reasons = unmatched["reason"].value_counts().to_dict()
    parts = [f"source={source}"]
    for label, value in (
        ("book", book),
        ("snapshot", snapshot),
        ("season", season),
        ("from", start),
        ("to", end),
        ("line>=", min_line),
    ):
        if value is not None:
            parts.append(f"{label}={value}" if not label.endswith("=") else f"{label}{value}")
    if main_only:
        parts.append("main lines")
    return MatchReport(
        ", ".join(parts),
        len(rows),
        len(rows) - len(unmatched),
        {str(k): int(v) for k, v in reasons.items()},
        unmatched.drop(columns=["has_start_now", "game_id"]).reset_index(drop=True),
    )
