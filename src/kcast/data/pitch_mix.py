"""Statcast pitch-mix starts: whiffs, called strikes, velocities and pitch usage per start.

The file (``docs/sources/pitch-mix.md``) has one row per start with the pitcher's name, the two
teams and the date, but no pitcher id, no game id and not the pitcher's own team. Each row is
matched like a sportsbook line (``kcast.data.names.NameMatcher``): the name is resolved on its
date with the game's two teams, and the row is linked to the warehouse's start of that pitcher
for one of them (``pitcher_games``). Every row is stored, matched or not; ``match_note`` says
how, or why not, and a later re-run (after more starts are loaded) fills in the links.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd

from kcast.data.ingest import IngestReport, logged_ingest, write_all
from kcast.data.lines import closest_column, match_summary, note_status
from kcast.data.names import START, NameMatcher
from kcast.data.register import Register
from kcast.data.retrosheet_csv import fail_on_first, read_csv_file
from kcast.data.starts import canonical_teams
from kcast.errors import InputError
from kcast.warehouse import Warehouse
from kcast.warehouse.schema import PITCH_MIX_STARTS, PITCH_TYPES

KIND = "pitch-mix"
OTHER_TEAM = "other_team"  # resolved, but his start that day was for neither of the row's teams

# file column -> table column
COUNTS = {
    "Outs": "outs",
    "Pitches": "pitches",
    "PA": "batters_faced",
    "K": "strikeouts",
    "BB": "walks",
    "Strikes": "strikes",
    "Balls": "balls",
    "BIP": "balls_in_play",
    "Whiffs": "whiffs",
    "CS": "called_strikes",
    "CSW": "csw",
}
RATES = {
    **{f"{code}_velo": f"{code}_velo" for code in PITCH_TYPES},
    **{f"{code}_usage_vR": f"{code}_usage_vr" for code in PITCH_TYPES},
    **{f"{code}_usage_vL": f"{code}_usage_vl" for code in PITCH_TYPES},
}
KEYS = ("game_date", "player_name", "away_team", "home_team", "p_throws")
REQUIRED = (*KEYS, *COUNTS, *RATES)


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as f:
            return [h.strip() for h in next(csv.reader(f), [])]
    except (OSError, EOFError, csv.Error) as exc:
        raise InputError(f"cannot read the header ({exc})", source=str(path), line=1) from exc


def _check_header(path: Path) -> None:
    """``InputError`` on line 1 naming each missing column and the header's closest spelling."""
    header = _header(path)
    extra = [c for c in header if c not in REQUIRED]
    missing = []
    for column in (c for c in REQUIRED if c not in header):
        near = closest_column(column, extra)
        missing.append(f"{column} (did you mean {near!r}?)" if near else column)
    if missing and any(header):
        raise InputError(
            f"pitch-mix file is missing columns: {', '.join(missing)}", source=str(path), line=1
        )


def read_pitch_mix(path: str | Path) -> pd.DataFrame:
    """Read the pitch-mix file (CSV, plain or gzipped) and check every value.

    Returns one typed row per start, named as ``pitch_mix_starts``' columns, with its line number
    in ``_line`` (header = line 1). Raises ``InputError`` naming the file and line of the first
    bad value or missing column."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError("no such file", source=name)
    _check_header(path)
    frame = read_csv_file(path, REQUIRED, what="pitch-mix file")
    if frame.empty:
        raise InputError("the file has no rows", source=name, line=2)
    out = frame.copy()
    fail_on_first(out, out[list(KEYS)].isin([""]).any(axis=1), name, "a required value is empty")
    parsed = pd.to_datetime(out["game_date"], format="%Y-%m-%d", errors="coerce")
    fail_on_first(
        out, parsed.isna(), name, "game_date {game_date!r} does not parse (want YYYY-MM-DD)"
    )
    out["game_date"] = parsed.dt.date
    out["season"] = parsed.dt.year.astype("int64")
    fail_on_first(
        out, ~out["p_throws"].isin(["R", "L"]), name, "p_throws {p_throws!r} is not R or L"
    )
    for column in COUNTS:
        bad = ~out[column].str.fullmatch(r"\d+(\.0*)?")
        fail_on_first(out, bad, name, f"{column} {{{column}!r}} is not a whole number >= 0")
        out[column] = pd.to_numeric(out[column]).astype("int64")
    fail_on_first(
        out, out["CSW"] != out["Whiffs"] + out["CS"], name, "CSW {CSW} is not Whiffs + CS"
    )
    fail_on_first(
        out, out["Whiffs"] + out["CS"] > out["Pitches"], name, "more strikes than Pitches"
    )
    for column in RATES:
        values = pd.to_numeric(out[column].where(out[column] != ""), errors="coerce")
        bad = values.isna() & (out[column] != "")
        fail_on_first(out, bad, name, f"{column} {{{column}!r}} is not a number")
        if "usage" in column:
            fail_on_first(
                out, (values < 0) | (values > 1), name, f"{column} {{{column}}} is not 0-1"
            )
        out[column] = values.astype("float64")
    for column in ("away_team", "home_team"):
        out[column] = canonical_teams(out, column, name)
    fail_on_first(out, out["away_team"] == out["home_team"], name, "a team plays itself")
    dupes = out.duplicated(list(PITCH_MIX_STARTS.key))
    fail_on_first(out, dupes, name, "{player_name} has two rows for {away_team} at {home_team}")
    return out.rename(columns={**COUNTS, **RATES, "p_throws": "throws"})


def match_rows(rows: pd.DataFrame, matcher: NameMatcher) -> pd.DataFrame:
    """Add pitcher_id, team, game_id and match_note: each name resolved on its date with the
    game's two teams; a row is linked to a start only when it was for one of them."""
    ids, teams, games, notes = [], [], [], []
    for name, date, home, away in zip(
        rows["player_name"], rows["game_date"], rows["home_team"], rows["away_team"], strict=True
    ):
        m = matcher.resolve(name, date, (away, home))
        linked = m.status == START and m.team in (away, home)
        ids.append(m.pitcher_id)
        teams.append(m.team if linked else None)
        games.append(m.game_id if linked else None)
        notes.append(m.note if linked or m.status != START else f"{OTHER_TEAM}: {m.note}")
    return rows.assign(
        pitcher_id=pd.array(ids, dtype="Int64"), team=teams, game_id=games, match_note=notes
    )


def match_status(note: object) -> str:
    """A row's match status: ``start`` (linked) or the reason it is not linked."""
    if isinstance(note, str) and note.startswith(f"{OTHER_TEAM}:"):
        return OTHER_TEAM
    return note_status(note)


def ingest_pitch_mix(wh: Warehouse, path: str | Path, register: Register) -> IngestReport:
    """Read, check and match the pitch-mix file and upsert every row in one transaction.

    A bad file stores nothing. Re-running it rewrites the same keys (no new rows) with the
    matches the warehouse allows now."""
    name = str(path)
    with logged_ingest(wh, KIND, name) as report:
        rows = read_pitch_mix(path)
        report.rows_read = len(rows)
        matcher = NameMatcher.from_warehouse(wh, register, rows["game_date"])
        rows = match_rows(rows, matcher).assign(source=Path(path).name)
        write_all(
            wh,
            report,
            [
                (
                    PITCH_MIX_STARTS.name,
                    rows[[c for c in PITCH_MIX_STARTS.column_names if c in rows.columns]],
                )
            ],
        )
        report.stats = match_summary(rows, by="season", status=match_status)
    return report
