"""``kcast warehouse ...``: migrate, and see what the warehouse holds."""

from __future__ import annotations

import typer
from rich.table import Table

from kcast.cli.common import console, err_console
from kcast.warehouse import migrate_warehouse, open_warehouse

app = typer.Typer(help="Create and inspect the warehouse.", no_args_is_help=True)

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")


@app.command()
def migrate(warehouse: str | None = WarehouseOpt) -> None:
    """Create or update every table and view (safe to run twice)."""
    wh = open_warehouse(warehouse, migrate=False, create=True)
    if getattr(wh, "created", False):
        err_console.print(f"created a new warehouse at {wh.url}", highlight=False, soft_wrap=True)
    ran = list(getattr(wh, "created_steps", [])) + migrate_warehouse(wh)
    console.print(f"{wh.url}: " + ("; ".join(ran) if ran else "up to date"), highlight=False)


@app.command()
def counts(warehouse: str | None = WarehouseOpt) -> None:
    """Row counts of every table."""
    wh = open_warehouse(warehouse, create=False, read_only=True)
    table = Table("table", "rows")
    for name, n in wh.counts().items():
        table.add_row(name, f"{n:,}")
    console.print(table)
