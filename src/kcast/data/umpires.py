"""Umpires: Retrosheet's biographical file as a crosswalk from umpires' names to their ids.

Retrosheet's files name the home-plate umpire by Retrosheet id (``gameinfo.csv`` ``umphome``,
the event files' ``info,umphome``: ``buckc901``), the MLB Stats API's boxscore by name
(``officials[].official.fullName``: ``CB Bucknor``). The biographical file (``biofile.csv``,
in Retrosheet's ``biofile.zip``) lists every umpire, the rows with an ``UMP.DEBUT``, with his
``LAST`` name, given names (``FIRST``) and the first name he goes by (``NICKNAME``), which with
the last name is the name MLB uses. ``kcast ingest umpires FILE`` stores them in ``umpires``;
the matchup context (``kcast.features.matchup``) reads a stored name as the id of the one umpire
with that name (``resolve_umpires``), and leaves a name no umpire or several umpires have as it
is: it then has no Retrosheet history, and the umpire is neutral.

The information used here was obtained free of charge from and is copyrighted by Retrosheet.
Interested parties may contact Retrosheet at www.retrosheet.org.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pandas as pd

from kcast.data.ingest import IngestReport, logged_ingest, write_all
from kcast.data.names import compact
from kcast.data.retrosheet_csv import fail_on_first, read_csv_bytes, read_csv_file
from kcast.errors import InputError
from kcast.warehouse import Warehouse
from kcast.warehouse.schema import UMPIRES

KIND = "umpires"
MEMBER = "biofile.csv"  # the file's name inside Retrosheet's biofile.zip
WHAT = "Retrosheet biographical file (biofile.csv)"

# file column -> table column
COLUMNS = {
    "PLAYERID": "umpire_id",
    "LAST": "name_last",
    "FIRST": "name_first",
    "NICKNAME": "nickname",
    "UMP.DEBUT": "ump_debut",
    "UMP.LASTGAME": "ump_last_game",
}
_ID = re.compile(r"^[a-z][a-z-]{4}\d{3}$")
_DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")
UNKNOWN_DATE = "X"  # the file's mark for an umpire whose first game is not known


def _read(path: Path) -> pd.DataFrame:
    """The file's rows: ``biofile.csv`` inside a zip, or a CSV (plain or gzipped)."""
    name = str(path)
    if not zipfile.is_zipfile(path):
        return read_csv_file(path, tuple(COLUMNS), what=WHAT)
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            found = [i for i in members if i.filename.rsplit("/", 1)[-1].lower() == MEMBER]
            if not found:
                names = ", ".join(i.filename for i in members[:5]) or "nothing"
                raise InputError(f"the zip holds no {MEMBER} (it has {names})", source=name)
            raw = zf.read(found[0])
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise InputError(f"not a readable zip archive ({exc})", source=name) from exc
    return read_csv_bytes(raw, f"{name}:{found[0].filename}", tuple(COLUMNS), what=WHAT)


def _dates(frame: pd.DataFrame, column: str, field: str, name: str) -> pd.Series:
    """MM/DD/YYYY dates; empty or ``X`` (not known) is NULL, anything else an ``InputError``."""
    text = frame[field].where(~frame[field].isin(["", UNKNOWN_DATE]))
    parsed = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
    bad = text.notna() & (parsed.isna() | ~text.fillna("").str.match(_DATE))
    fail_on_first(frame, bad, name, f"{column} {{{field}!r}} is not a date (want MM/DD/YYYY)")
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


def read_umpires(path: str | Path) -> pd.DataFrame:
    """Read the biographical file (``biofile.zip`` or ``biofile.csv``) and keep its umpires.

    Returns one row per umpire, named as ``umpires``' columns. Raises ``InputError`` naming the
    file (and line) for a file that is not the biographical file, an id that is not a Retrosheet
    id, a bad date, or a file without umpires."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError("no such file", source=name)
    frame = _read(path).rename(columns=COLUMNS)
    frame = frame[frame["ump_debut"] != ""].copy()
    if frame.empty:
        raise InputError(f"no umpires in the file: no row has an UMP.DEBUT ({WHAT})", name)
    bad = ~frame["umpire_id"].str.match(_ID) | (frame["name_last"] == "")
    message = "umpire {umpire_id!r} ({name_last!r}) is not a Retrosheet id with a last name"
    fail_on_first(frame, bad, name, message)
    fail_on_first(
        frame, frame["umpire_id"].duplicated(), name, "umpire {umpire_id} is listed twice"
    )
    for column, field in COLUMNS.items():
        if field.startswith("ump_"):
            frame[field] = _dates(frame, column, field, name)
    out = frame.replace({"name_first": {"": None}, "nickname": {"": None}})
    first = out["nickname"].fillna(out["name_first"])
    out["full_name"] = (first.fillna("") + " " + out["name_last"]).str.strip()
    return out[[c for c in UMPIRES.column_names if c in out.columns]].reset_index(drop=True)


def ingest_umpires(wh: Warehouse, path: str | Path) -> IngestReport:
    """Read the biographical file and upsert its umpires in one transaction (a bad file
    stores nothing; a re-run rewrites the same keys)."""
    with logged_ingest(wh, KIND, str(path)) as report:
        rows = read_umpires(path).assign(source=Path(path).name)
        report.rows_read = len(rows)
        write_all(wh, report, [(UMPIRES.name, rows)])
        names = Counter(compact(n) for n in rows["full_name"])
        report.stats = {
            "umpires": len(rows),
            "names shared by several umpires (left unresolved)": sum(
                n for n in names.values() if n > 1
            ),
        }
    return report


def resolve_umpires(values: pd.Series, umpires: pd.DataFrame) -> pd.Series:
    """Each stored home-plate umpire as a Retrosheet id: a name (``CB Bucknor``, compared
    without accents, case or punctuation) becomes the id of the one umpire in ``umpires``
    (``umpire_id``, ``full_name``) with that name; an id, a name of several umpires or of none
    stays as it is."""
    keys = [compact(n) for n in umpires["full_name"]]
    counts = Counter(keys)
    by_name = {k: i for k, i in zip(keys, umpires["umpire_id"], strict=True) if counts[k] == 1}
    ids = set(umpires["umpire_id"])
    mapping = {v: v if v in ids else by_name.get(compact(v), v) for v in values.dropna().unique()}
    return values.map(mapping)
