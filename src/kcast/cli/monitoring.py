"""``kcast query`` and ``kcast status``: the monitoring queries and the daily checks."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys

import pandas as pd
import typer
from rich.table import Table

from kcast.cli.common import console, get_warehouse
from kcast.dates import parse_date_arg
from kcast.monitoring import (
    VIEWS,
    QueryResult,
    daily_status,
    frame_records,
    get_query,
    load_queries,
    run_query,
    run_view,
    view_questions,
)

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")
SystemOpt = typer.Option(
    None, "--system", help="The system whose picks are shown (default: MLB_PRIMARY_SYSTEM)."
)
STATUS_STYLE = {"pass": "[green]PASS[/]", "warn": "[yellow]WARN[/]", "fail": "[bold red]FAIL[/]"}


def query(
    name: str | None = typer.Argument(
        None, help="The query or view to read (`--list` shows them)."
    ),
    date: str | None = typer.Option(
        None, "--date", help="The date for $date (default: the latest date with predictions)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the rows as CSV."),
    list_queries: bool = typer.Option(False, "--list", help="List the queries and views."),
    system: str | None = SystemOpt,
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Run one of the ready-made monitoring queries, or read a view, and print its rows: a
    table that fits the terminal (one block per row when the table is wider), CSV when the
    output is piped (or --csv), JSON with --json."""
    if list_queries:
        _print_query_list(load_queries(), as_json)
        return
    if name is None:
        raise typer.BadParameter("give a query name, or --list to see them", param_hint="NAME")
    if name not in VIEWS:
        get_query(name)  # unknown names fail before the warehouse is opened
    day = parse_date_arg(date) if date else None
    wh = get_warehouse(warehouse, read_only=True)
    if name in VIEWS:
        frame = run_view(wh, name)
        if day is not None and "game_date" in frame:
            frame = frame[pd.to_datetime(frame["game_date"]).dt.date == day]
        result = QueryResult(name, {"date": day} if day else {}, frame.reset_index(drop=True))
    else:
        result = run_query(wh, name, day, system)
    if as_json:
        params = {k: _plain(v) for k, v in result.params.items()}
        payload = {"query": name, "params": params, "rows": frame_records(result.frame)}
        print(json.dumps(payload, indent=2))
        return
    if as_csv or not console.is_terminal:
        sys.stdout.write(result.frame.to_csv(index=False, lineterminator="\n"))
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
    wh = get_warehouse(warehouse, read_only=True)
    report = daily_status(wh, parse_date_arg(date) if date else None, primary=system)
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
    views = view_questions()
    if as_json:
        rows = [
            {"name": q.name, "question": q.question, "params": list(q.params)}
            for q in queries.values()
        ] + [{"name": v, "question": q, "params": [], "view": True} for v, q in views.items()]
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="kcast query NAME", title_justify="left")
    table.add_column("query", no_wrap=True)  # a name is what the reader types: never broken
    table.add_column("answers")
    table.add_column("parameters")
    for q in queries.values():
        table.add_row(q.name, q.question, ", ".join(f"${p}" for p in q.params) or "-")
    for view, question in views.items():
        table.add_row(view, question, "view (--date: that day's rows)")
    console.print(table)


def print_frame(frame: pd.DataFrame, title: str) -> None:
    """Print rows as a table when it fits the console's width, else each row as a block of
    ``column  value`` lines (any number of columns reads at 80)."""
    table, natural = frame_table(frame, title)
    if natural <= (console.width or 80) or frame.empty:
        console.print(table)
        return
    console.print(f"[bold]{title}[/]", highlight=False)
    records = frame_records(frame)
    width = max(len(str(c)) for c in frame.columns)
    for i, record in enumerate(records, start=1):
        console.print(f"[dim]-- row {i} of {len(records)}[/]", highlight=False)
        for column, value in record.items():
            console.print(f"{str(column):<{width}}  {_cell(value)}", highlight=False)


def frame_table(frame: pd.DataFrame, title: str) -> tuple[Table, int]:
    """A Rich table of rows (floats to 3 places, dates as YYYY-MM-DD, nulls blank) and the
    width it needs to show every cell on one line."""
    rows = [[_cell(v) for v in record.values()] for record in frame_records(frame)]
    names = [str(c) for c in frame.columns]
    natural = 1 + sum(
        max([len(name)] + [len(r[i]) for r in rows]) + 3 for i, name in enumerate(names)
    )
    table = Table(title=title, title_justify="left")
    for column, name in zip(frame.columns, names, strict=True):
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        )
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
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
