"""``kcast warehouse ...``: migrate, and see what the warehouse holds."""

from __future__ import annotations

import typer
from rich.table import Table

from kcast.cli.common import console
from kcast.warehouse import open_warehouse
from kcast.warehouse.migrations import migrate as run_migrations

app = typer.Typer(help="Create and inspect the warehouse.", no_args_is_help=True)

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")


@app.command()
def migrate(warehouse: str | None = WarehouseOpt) -> None:
    """Create or update every table and view (safe to run twice)."""
    wh = open_warehouse(warehouse, migrate=False)
    ran = run_migrations(wh)
    console.print(f"{wh.url}: " + ("; ".join(ran) if ran else "up to date"), highlight=False)


@app.command()
def counts(warehouse: str | None = WarehouseOpt) -> None:
    """Row counts of every table."""
    wh = open_warehouse(warehouse)
    table = Table("table", "rows")
    for name, n in wh.counts().items():
        table.add_row(name, f"{n:,}")
    console.print(table)
