"""``kcast query`` and ``kcast status``: the monitoring queries and the daily checks."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from kcast.cli.common import console, get_warehouse
from kcast.dates import parse_date

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")
SystemOpt = typer.Option(
    None, "--system", help="The system whose picks are shown (default: MLB_PRIMARY_SYSTEM)."
)
STATUS_STYLE = {"pass": "[green]PASS[/]", "warn": "[yellow]WARN[/]", "fail": "[bold red]FAIL[/]"}


def query(
    name: str | None = typer.Argument(None, help="The query to run (`--list` shows them)."),
    date: str | None = typer.Option(
        None, "--date", help="The date for $date (default: the latest date with predictions)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    list_queries: bool = typer.Option(False, "--list", help="List the queries and exit."),
    system: str | None = SystemOpt,
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Run one of the ready-made monitoring queries and print its rows."""
    from kcast.monitoring import frame_records, get_query, load_queries, run_query

    if list_queries:
        _print_query_list(load_queries(), as_json)
        return
    if name is None:
        raise typer.BadParameter("give a query name, or --list to see them", param_hint="NAME")
    get_query(name)  # unknown names fail before the warehouse is opened
    day = parse_date(date) if date else None
    wh = get_warehouse(warehouse, read_only=True)
    result = run_query(wh, name, day, system)
    if as_json:
        params = {k: _plain(v) for k, v in result.params.items()}
        payload = {"query": name, "params": params, "rows": frame_records(result.frame)}
        print(json.dumps(payload, indent=2))
        return
    shown = ", ".join(str(result.params[k]) for k in ("date", "system") if k in result.params)
    title = name + (f" ({shown})" if shown else "")
    print_frame(result.frame, title)
    if result.frame.empty:
        console.print("no rows", highlight=False)


def status(
    date: str | None = typer.Option(
        None, "--date", help="The day to check (default: the latest date with predictions)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    system: str | None = SystemOpt,
    warehouse: str | None = WarehouseOpt,
) -> None:
    """The daily checks: every active system ran for every pitcher, the systems agree, the picks.

    Exits 1 when a check fails (warnings do not fail).
    """
    from kcast.monitoring import daily_status, frame_records

    wh = get_warehouse(warehouse, read_only=True)
    report = daily_status(wh, parse_date(date) if date else None, primary=system)
    if as_json:
        payload = {
            "date": _plain(report.date),
            "ok": report.ok,
            "active_systems": report.active_systems,
            "checks": [c.__dict__ for c in report.checks],
            "picks": frame_records(report.picks),
        }
        print(json.dumps(payload, indent=2))
    else:
        table = Table(
            "check",
            "status",
            "detail",
            title=f"kcast status {report.date or '(no predictions yet)'}",
            title_justify="left",
        )
        for check in report.checks:
            table.add_row(check.name, STATUS_STYLE[check.status], check.detail)
        console.print(table)
        if len(report.picks):
            print_frame(report.picks, f"picks {report.date}")
        verdict = "[green]all checks passed[/]" if report.ok else "[bold red]a check failed[/]"
        console.print(verdict)
    if not report.ok:
        raise typer.Exit(code=1)


def _print_query_list(queries: dict, as_json: bool) -> None:  # noqa: ANN001
    if as_json:
        rows = [
            {"name": q.name, "question": q.question, "params": list(q.params)}
            for q in queries.values()
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="kcast query NAME", title_justify="left")
    table.add_column("query", no_wrap=True)  # a name is what the reader types: never broken
    table.add_column("answers")
    table.add_column("parameters")
    for q in queries.values():
        table.add_row(q.name, q.question, ", ".join(f"${p}" for p in q.params) or "-")
    console.print(table)


def print_frame(frame: pd.DataFrame, title: str) -> None:
    """Print a query's rows as a table; piped output gets the full width the table needs."""
    table, natural = frame_table(frame, title)
    if console.is_terminal or natural <= (console.width or 0):
        console.print(table)
    else:
        Console(width=natural, highlight=False).print(table)


def frame_table(frame: pd.DataFrame, title: str) -> tuple[Table, int]:
    """A Rich table of rows (floats to 3 places, dates as YYYY-MM-DD, nulls blank) and the
    width it needs to show every cell on one line."""
    from kcast.monitoring import frame_records

    rows = [[_cell(v) for v in record.values()] for record in frame_records(frame)]
    names = [str(c) for c in frame.columns]
    natural = 1 + sum(
        max([len(name)] + [len(r[i]) for r in rows]) + 3 for i, name in enumerate(names)
    )
    narrow = console.is_terminal and natural > (console.width or 0)
    table = Table(title=title, title_justify="left")
    for column, name in zip(frame.columns, names, strict=True):
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        )
        table.add_column(
            name.replace("_", " ") if narrow else name,
            justify="right" if numeric else "left",
            overflow="fold",
        )
    for row in rows:
        table.add_row(*row)
    return table, natural


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.3f}"
    if isinstance(value, str) and "T" in value and len(value) >= 19:
        return value.replace("T", " ")[:19]
    return str(value)


def _plain(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
