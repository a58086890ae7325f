"""Shared pieces of the CLI: the console, progress bars, report tables."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kcast.data.ingest import IngestReport
from kcast.errors import InputError
from kcast.market import DecisionTime
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


# --------------------------------------------------------------------------------------------
# Option values and short names for 80 columns
# --------------------------------------------------------------------------------------------

# distinct short names of the systems (three ensembles must not all read `ensemb...`)
SYSTEM_SHORT = {
    "v1_baseline": "v1",
    "v1_6_rolling": "v1.6",
    "eb_rate": "eb",
    "v2_matchup": "v2",
    "ensemble_v1": "ens1",
    "ensemble_v1_learned": "ens1L",
    "ensemble_v2": "ens2",
    "naive_average": "naive",
    "market": "market",
}
WINDOW_SHORT = {"last_7_days": "7d", "last_30_days": "30d", "season": "season", "all": "all"}


def short_system(system_id: str) -> str:
    """A system's short name for narrow tables (``SYSTEM_SHORT``; else its id)."""
    return SYSTEM_SHORT.get(system_id, system_id)


def system_key(system_ids: Iterable[str]) -> str:
    """The key under a table: each short name shown and the system it stands for."""
    pairs = sorted(
        {(short_system(s), s) for s in system_ids if short_system(s) != s}, key=lambda p: p[0]
    )
    return "systems: " + ", ".join(f"{a} = {b}" for a, b in pairs) if pairs else ""


def choice(value: str, choices: Sequence[str], option: str) -> str:
    """``value`` when it is one of ``choices``; else an ``InputError`` naming the option, the
    valid choices and the nearest one."""
    if value in choices:
        return value
    near = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f": did you mean {near[0]}?" if near else ""
    raise InputError(f"{option} {value!r} is not one of {', '.join(choices)}{hint}")


def decision_time(value: str | None, option: str = "--at") -> DecisionTime | None:
    """A decision time option (open, close, now or HH:MM US Eastern), the option named when it
    does not parse."""
    if value is None:
        return None
    try:
        return DecisionTime.parse(value)
    except InputError as exc:
        raise InputError(f"{option}: {exc}") from None


def date_range(start: dt.date, end: dt.date, first: str = "--start", last: str = "--end") -> None:
    """An ``InputError`` when ``start`` is after ``end``, naming both."""
    if start > end:
        raise InputError(f"{first} {start} is after {last} {end}: give the earlier date first")
