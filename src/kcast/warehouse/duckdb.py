"""The embedded engine: one DuckDB file on this machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kcast.errors import WarehouseError
from kcast.warehouse.base import UpsertResult, Warehouse, merge_sql
from kcast.warehouse.schema import SQL_TYPES, Table


class DuckDBWarehouse(Warehouse):
    """A warehouse in a DuckDB file (``:memory:`` for a throwaway one)."""

    engine = "duckdb"

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.url = str(path)
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None and self.path.parent != Path(""):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open DuckDB warehouse {path}: {exc}") from exc
        self._lock = threading.RLock()
        self._tx_depth = 0
        self._tx_owner: int | None = None

    # --- reading --------------------------------------------------------------------------
    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        with self._lock:
            try:
                return self._con.execute(sql, params or {}).df()
            except duckdb.Error as exc:
                raise WarehouseError(f"query failed: {exc}\n{sql}") from exc

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._lock:
            try:
                self._con.execute(sql, params or {})
            except duckdb.Error as exc:
                raise WarehouseError(f"statement failed: {exc}\n{sql}") from exc

    def table_exists(self, name: str) -> bool:
        with self._lock:
            row = self._con.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [name]
            ).fetchone()
        return bool(row and row[0])

    def table_columns(self, name: str) -> list[str]:
        with self._lock:
            rows = self._con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [name],
            ).fetchall()
        return [r[0] for r in rows]

    # --- writing --------------------------------------------------------------------------
    def _merge(self, table: Table, rows: pd.DataFrame) -> UpsertResult:
        columns = list(rows.columns)
        select = ", ".join(
            f"CAST({c} AS {SQL_TYPES[table.column(c).type]}) AS {c}" for c in columns
        )
        on = " AND ".join(f"t.{k} = s.{k}" for k in table.key)
        with self._lock, self.transaction():
            name = f"_kcast_src_{table.name}"
            self._con.register(name + "_raw", rows)
            try:
                self._con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM {name}_raw"
                )
                existing = self._con.execute(
                    f"SELECT COUNT(*) FROM {table.name} t JOIN {name} s ON {on}"
                ).fetchone()[0]
                self._con.execute(merge_sql(table, table.name, name, columns))
                self._con.execute(f"DROP TABLE {name}")
            except duckdb.Error as exc:
                raise WarehouseError(f"upsert into {table.name} failed: {exc}") from exc
            finally:
                self._con.unregister(name + "_raw")
        return UpsertResult(table.name, len(rows), len(rows) - existing, existing)

    def delete_where(self, table: str, where: str, params: dict[str, Any] | None = None) -> int:
        with self._lock:
            try:
                n = self._con.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE {where}", params or {}
                ).fetchone()[0]
                self._con.execute(f"DELETE FROM {table} WHERE {where}", params or {})
            except duckdb.Error as exc:
                raise WarehouseError(f"delete from {table} failed: {exc}") from exc
        return int(n)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._tx_depth == 0
            if outer:
                self._con.execute("BEGIN TRANSACTION")
            self._tx_depth += 1
            try:
                yield
            except BaseException:
                self._tx_depth -= 1
                if outer:
                    self._con.execute("ROLLBACK")
                raise
            else:
                self._tx_depth -= 1
                if outer:
                    self._con.execute("COMMIT")

    def create_table(self, table: Table) -> None:
        cols = [f"{c.name} {SQL_TYPES[c.type]}" for c in table.columns]
        cols.append(f"PRIMARY KEY ({', '.join(table.key)})")
        self.execute(f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(cols) + "\n)")

    def add_column(self, table: Table, column: str) -> None:
        col = table.column(column)
        self.execute(
            f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {col.name} {SQL_TYPES[col.type]}"
        )

    def create_view(self, name: str, select_sql: str) -> None:
        self.execute(f"CREATE OR REPLACE VIEW {name} AS\n{select_sql}")

    def close(self) -> None:
        with self._lock:
            self._con.close()
