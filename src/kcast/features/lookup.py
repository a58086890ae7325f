"""Look-ups of state tables by key, built once and asked many times.

The feature builders keep tables of state (a team's strikeouts so far this season, a batter's,
an umpire's) by key and date. ``AsOf`` gives each asked row the last state of its key strictly
before its date, ``ByKey`` the state of its key; both sort and index the table once, answer a
season of rows in one vectorised pass and a few rows (a pitcher off the slate) through a dict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_SPAN = np.int64(1 << 32)  # a key's group times this, plus its day: one sortable stamp
_SHIFT = np.int64(1 << 31)  # keeps days before 1970 positive within the span


def _days(dates: object) -> np.ndarray:
    """Dates as int64 days since 1970, shifted to be positive."""
    days = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy("datetime64[D]")
    return days.astype(np.int64) + _SHIFT


def _keys(columns: list[np.ndarray | pd.Series]) -> pd.Index:
    if len(columns) == 1:
        return pd.Index(columns[0])
    return pd.MultiIndex.from_arrays(columns)


class KeyPositions:
    """Where each key sits in an index of unique keys (-1 where it is not there): through the
    index's hash table for many keys, through a plain dict for a few (a pitcher off the slate:
    building an index of one key costs more than the lookup)."""

    FEW = 64

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self._few: dict | None = None

    def of(self, columns: list[np.ndarray | pd.Series]) -> np.ndarray:
        if len(columns[0]) > self.FEW:
            return self.index.get_indexer(_keys(columns)).astype(np.int64)
        if self._few is None:
            self._few = {key: i for i, key in enumerate(self.index)}
        keys = zip(*(np.asarray(c, dtype=object) for c in columns), strict=True)
        if len(columns) == 1:
            keys = (key for (key,) in keys)
        return np.fromiter((self._few.get(k, -1) for k in keys), np.int64, len(columns[0]))


def taken(values: dict[str, np.ndarray], pos: np.ndarray, found: np.ndarray) -> dict:
    """Each column of ``values`` at positions ``pos``, NaN where not ``found``."""
    take = np.where(found, pos, 0)
    return {
        c: np.where(found, v[take], np.nan) if len(v) else np.full(len(pos), np.nan)
        for c, v in values.items()
    }


class AsOf:
    """A table's last row per key strictly before a date, sorted and indexed once.

    ``lookup`` gives what ``pd.merge_asof(left, table, on="game_date", by=by,
    allow_exact_matches=False, direction="backward")`` would, without sorting the table on
    every call (a pitcher off the slate is one row; the table is seasons of batters). Of
    several rows with one key and date (a doubleheader), the last in the table's order counts.
    """

    def __init__(self, table: pd.DataFrame, by: list[str], cols: list[str]) -> None:
        table = table.dropna(subset=[*by, "game_date"])
        self.by = by
        keys = _keys([table[k] for k in by]) if by else None
        self.groups = KeyPositions(keys.unique()) if keys is not None else None
        group = self.groups.index.get_indexer(keys) if keys is not None else np.zeros(len(table))
        stamps = group.astype(np.int64) * _SPAN + _days(table["game_date"])
        order = np.argsort(stamps, kind="stable")
        self.stamps = stamps[order]
        self.values = {c: table[c].to_numpy(float)[order] for c in cols}

    def lookup(self, keys: list[np.ndarray | pd.Series], dates: object) -> dict[str, np.ndarray]:
        """Each column for each row of ``keys`` (one array per ``by`` column) and ``dates``:
        NaN where the key has no row before that date."""
        n = len(np.asarray(dates))
        group = self.groups.of(keys) if self.groups is not None else np.zeros(n, np.int64)
        pos = np.searchsorted(self.stamps, group * _SPAN + _days(dates), side="left") - 1
        found = (group >= 0) & (pos >= 0)
        if len(self.stamps):
            found &= self.stamps[np.where(found, pos, 0)] // _SPAN == group
        return taken(self.values, pos, found)


class ByKey:
    """A table's row by an exact key (one row per key), indexed once: ``cols``, or every
    column but the key's."""

    def __init__(self, table: pd.DataFrame, by: list[str], cols: list[str] | None = None) -> None:
        cols = cols or [c for c in table.columns if c not in by]
        self.by = by
        self.positions = KeyPositions(_keys([table[k] for k in by]))
        self.values = {c: table[c].to_numpy(float) for c in cols}

    def lookup(
        self, keys: list[np.ndarray | pd.Series], dates: object = None
    ) -> dict[str, np.ndarray]:
        """Each column for each row of ``keys``: NaN where the key is not in the table (``dates``
        is not needed: the state holds whatever the date, as ``AsOf.lookup`` takes it)."""
        pos = self.positions.of(keys)
        return taken(self.values, pos, pos >= 0)
