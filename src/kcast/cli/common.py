"""Shared pieces of the CLI: the console, progress bars, report tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kcast.data.ingest import IngestReport
from kcast.warehouse import Warehouse, open_warehouse

# Rich reads the terminal's width (or COLUMNS); piped output is 80 columns wide, and every table
# kcast prints is laid out to read at 80.
console = Console(stderr=False)
err_console = Console(stderr=True)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar; yields ``update(done, total)``."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def get_warehouse(
    url: str | None = None, *, create: bool = False, read_only: bool = False
) -> Warehouse:
    """Open the command's warehouse (``-w`` or ``KCAST_WAREHOUSE``).

    Only commands that make warehouses (``kcast warehouse migrate``, the ingests, ``kcast
    run``) pass ``create``, and they say so when they did; for the others a path that does not
    exist is an error naming it. ``read_only`` commands never take the write lock or migrate.
    """
    wh = open_warehouse(url, create=create, read_only=read_only)
    if getattr(wh, "created", False):
        err_console.print(f"created a new warehouse at {wh.url}", highlight=False, soft_wrap=True)
    return wh


def print_report(report: IngestReport) -> None:
    """What an ingest wrote, table by table, then its notes."""
    console.print(f"[bold]{report.kind}[/]: {report.target}", highlight=False)
    table = Table()
    table.add_column("table")
    table.add_column("inserted", justify="right")
    table.add_column("updated", justify="right")
    for name, (ins, upd) in report.by_table().items():
        table.add_row(name, f"{ins:,}", f"{upd:,}")
    console.print(table)
    for key, value in report.stats.items():
        console.print(f"  {key}: {value}")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
