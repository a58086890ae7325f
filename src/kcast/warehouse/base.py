"""What every warehouse engine offers: typed idempotent upserts, queries, transactions.

SQL in kcast is written once, in DuckDB's dialect with ``$name`` parameters; the BigQuery engine
translates it. Writes go through :meth:`Warehouse.upsert`, which merges on each table's natural
key (``schema.py``), so re-running an ingest never duplicates or loses a row.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kcast.errors import WarehouseError
from kcast.warehouse.schema import TABLES, Table


@dataclass(frozen=True)
class UpsertResult:
    table: str
    rows: int
    inserted: int
    updated: int


def get_table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise WarehouseError(
            f"unknown table {name!r}; the warehouse has: {', '.join(sorted(TABLES))}"
        ) from None


def utc_now() -> dt.datetime:
    """Now, in UTC, without tzinfo (the form both engines store TIMESTAMP in)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def coerce_frame(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Check ``frame`` against ``table`` and convert each column to its declared type.

    Raises ``WarehouseError`` naming the table and column for unknown columns, missing or NULL
    key/required values, duplicated keys, and values that do not convert.
    """
    unknown = [c for c in frame.columns if c not in table.column_names]
    if unknown:
        raise WarehouseError(f"{table.name}: unknown columns {unknown}")
    missing = [c for c in table.required if c not in frame.columns]
    if missing:
        raise WarehouseError(f"{table.name}: required columns missing from the rows: {missing}")
    out = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        col = table.column(name)
        try:
            out[name] = _convert(frame[name], col.type)
        except (ValueError, TypeError) as exc:
            raise WarehouseError(f"{table.name}.{name}: cannot store as {col.type}: {exc}") from exc
    for name in table.required:
        nulls = int(out[name].isna().sum())
        if nulls:
            raise WarehouseError(f"{table.name}.{name}: {nulls} rows have no value")
    dupes = out.duplicated(subset=list(table.key), keep=False)
    if dupes.any():
        sample = out.loc[dupes, list(table.key)].head(3).to_dict("records")
        raise WarehouseError(
            f"{table.name}: {int(dupes.sum())} rows share a key {table.key}, e.g. {sample}"
        )
    return out.reset_index(drop=True)


def _convert(series: pd.Series, type_: str) -> pd.Series:
    if type_ == "INT64":
        if series.dtype == object:
            series = pd.to_numeric(series, errors="raise")
        values = series.astype("Float64")
        frac = (values.dropna() % 1) != 0
        if frac.any():
            raise ValueError(f"non-integer value {values.dropna()[frac].iloc[0]!r}")
        return values.astype("Int64")
    if type_ == "FLOAT64":
        return pd.to_numeric(series, errors="raise").astype("float64")
    if type_ == "STRING":
        return series.astype("string").astype(object).where(series.notna(), None)
    if type_ == "BOOL":
        if series.dtype == object:
            mapped = series.map(_to_bool)
            return mapped.astype("boolean")
        return series.astype("boolean")
    if type_ == "DATE":
        parsed = pd.to_datetime(series, errors="raise")
        return parsed.dt.date.where(parsed.notna(), None)
    if type_ == "TIMESTAMP":
        parsed = pd.to_datetime(series, errors="raise", utc=True)
        return parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    raise ValueError(f"unknown type {type_}")


def _to_bool(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return pd.NA
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes", "y"):
        return True
    if text in ("false", "f", "0", "no", "n"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def merge_sql(table: Table, target: str, source: str, columns: list[str]) -> str:
    """A ``MERGE`` of ``source`` into ``target`` on the table's key, for the given columns.

    Both DuckDB (1.4+) and BigQuery accept this statement as written.
    """
    key = table.key
    on = " AND ".join(f"T.{k} = S.{k}" for k in key)
    sets = []
    for c in columns:
        if c in key:
            continue
        if table.merge == "replace":
            sets.append(f"{c} = S.{c}")
        elif table.rank is not None and c == table.rank:
            sets.append(f"{c} = GREATEST(COALESCE(S.{c}, 0), COALESCE(T.{c}, 0))")
        elif table.rank is not None:
            r = table.rank
            sets.append(
                f"{c} = CASE WHEN COALESCE(S.{r}, 0) >= COALESCE(T.{r}, 0) "
                f"THEN COALESCE(S.{c}, T.{c}) ELSE COALESCE(T.{c}, S.{c}) END"
            )
        else:
            sets.append(f"{c} = COALESCE(S.{c}, T.{c})")
    insert_cols = ", ".join(columns)
    insert_vals = ", ".join(f"S.{c}" for c in columns)
    sql = f"MERGE INTO {target} T USING {source} S ON {on}\n"
    if sets:
        sql += "WHEN MATCHED THEN UPDATE SET " + ", ".join(sets) + "\n"
    sql += f"WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
    return sql


class Warehouse(ABC):
    """An engine holding kcast's tables. Open one with :func:`kcast.warehouse.open_warehouse`."""

    url: str
    engine: str

    # --- reading --------------------------------------------------------------------------
    @abstractmethod
    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a SELECT (DuckDB dialect, ``$name`` parameters) and return its rows."""

    @abstractmethod
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, DML)."""

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """True when the table or view exists."""

    @abstractmethod
    def table_columns(self, name: str) -> list[str]:
        """The column names of an existing table, in order."""

    def change_stamp(self) -> str | None:
        """A token that changes whenever any data in the warehouse changes, read without a
        query (None when the engine has no such token; callers then look at the tables)."""
        return None

    def count(self, table: str) -> int:
        get_table(table)
        return int(self.query(f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])

    def counts(self) -> dict[str, int]:
        """Row counts of every declared table that exists."""
        return {name: self.count(name) for name in sorted(TABLES) if self.table_exists(name)}

    # --- writing --------------------------------------------------------------------------
    def upsert(self, table: str, frame: pd.DataFrame) -> UpsertResult:
        """Merge ``frame`` into ``table`` on its natural key; return what changed.

        Columns absent from ``frame`` keep their stored values on update and are NULL on
        insert. ``updated_at`` is set here when the table has it.
        """
        spec = get_table(table)
        if frame.empty:
            return UpsertResult(table, 0, 0, 0)
        frame = frame.copy()
        if "updated_at" in spec.column_names:
            frame["updated_at"] = utc_now()
        rows = coerce_frame(spec, frame)
        return self._merge(spec, rows)

    @abstractmethod
    def _merge(self, table: Table, rows: pd.DataFrame) -> UpsertResult:
        """Merge checked, typed rows into the table."""

    @abstractmethod
    def delete_where(self, table: str, where: str, params: dict[str, Any] | None = None) -> int:
        """Delete rows matching a condition; return how many went."""

    @contextmanager
    def reads_together(self) -> Iterator[None]:
        """A block of reads that may share one connection (for engines that open one per
        read); nothing here."""
        yield

    @contextmanager
    @abstractmethod
    def transaction(self) -> Iterator[None]:
        """All writes inside happen together or not at all (as far as the engine allows)."""
        yield

    @abstractmethod
    def create_table(self, table: Table) -> None:
        """Create a declared table if it does not exist."""

    @abstractmethod
    def add_column(self, table: Table, column: str) -> None:
        """Add a declared column to an existing table."""

    @abstractmethod
    def create_view(self, name: str, select_sql: str) -> None:
        """Create or replace a view from a SELECT written in DuckDB's dialect."""

    def close(self) -> None:  # noqa: B027 - optional for engines without a connection
        """Release the engine's resources."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
