"""Versioned migrations of the warehouse schema.

Each migration runs once, in order, and is recorded in ``schema_migrations``. After them, every
table declared in ``schema.py`` is made to exist with all its columns (additive only), and the
views in ``kcast/sql/views`` are created or replaced. Running ``migrate`` twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from kcast.errors import WarehouseError
from kcast.warehouse.base import Warehouse, utc_now
from kcast.warehouse.schema import SCHEMA_MIGRATIONS, TABLES


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Warehouse], None]


def _create(*names: str) -> Callable[[Warehouse], None]:
    def run(wh: Warehouse) -> None:
        for name in names:
            wh.create_table(TABLES[name])

    return run


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "foundation tables",
        _create(
            "players", "games", "pitcher_games", "team_batting_games", "prop_lines", "ingest_log"
        ),
    ),
    Migration(
        2,
        "prediction systems: model registry and per-system predictions",
        _create("model_registry", "pitcher_strikeout_predictions"),
    ),
]


def all_migrations() -> list[Migration]:
    steps = sorted(MIGRATIONS, key=lambda m: m.version)
    versions = [m.version for m in steps]
    if len(set(versions)) != len(versions):
        raise WarehouseError(f"duplicate migration versions: {versions}")
    return steps


def applied_versions(wh: Warehouse) -> set[int]:
    if not wh.table_exists(SCHEMA_MIGRATIONS.name):
        return set()
    return set(int(v) for v in wh.query("SELECT version FROM schema_migrations")["version"])


def migrate(wh: Warehouse) -> list[str]:
    """Bring the warehouse up to date; return the names of the steps that ran."""
    wh.create_table(SCHEMA_MIGRATIONS)
    done = applied_versions(wh)
    ran: list[str] = []
    for step in all_migrations():
        if step.version in done:
            continue
        with wh.transaction():
            step.apply(wh)
            wh.upsert(
                "schema_migrations",
                pd.DataFrame(
                    [{"version": step.version, "name": step.name, "applied_at": utc_now()}]
                ),
            )
        ran.append(f"{step.version}: {step.name}")
    for table in TABLES.values():
        if not wh.table_exists(table.name):
            wh.create_table(table)
            ran.append(f"created {table.name}")
            continue
        have = set(wh.table_columns(table.name))
        for column in table.column_names:
            if column not in have:
                wh.add_column(table, column)
                ran.append(f"added {table.name}.{column}")
    for name, sql in view_sql().items():
        wh.create_view(name, sql)
    return ran


def check_current(wh: Warehouse) -> None:
    """Raise when the warehouse lacks a migration this version of kcast needs."""
    missing = [m for m in all_migrations() if m.version not in applied_versions(wh)]
    if missing:
        raise WarehouseError(
            f"warehouse {wh.url} needs migrations {[m.version for m in missing]}; "
            "run `kcast warehouse migrate` first"
        )


def view_sql() -> dict[str, str]:
    """The monitoring views, by name, from ``kcast/sql/views/*.sql`` (in dependency order)."""
    folder = resources.files("kcast") / "sql" / "views"
    views = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            name = (
                entry.name.removesuffix(".sql").split("_", 1)[1]
                if entry.name[0].isdigit()
                else entry.name.removesuffix(".sql")
            )
            views[name] = entry.read_text()
    return views
