"""``kcast run``: the main job in one command: ingest, train, predict a day and show the picks."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pandas as pd
import typer

from kcast import RETROSHEET_NOTICE
from kcast.bet_metrics import Bankroll
from kcast.cli.board import print_board
from kcast.cli.common import console, get_warehouse, print_report, progress_bar
from kcast.config import get_settings, remember_register
from kcast.context import DecisionContext
from kcast.data.lines import ingest_lines
from kcast.data.register import Register
from kcast.data.retrosheet import ingest_retrosheet, resolve_archives
from kcast.data.retrosheet_csv import ingest_retrosheet_csv
from kcast.data.starts import ingest_starts
from kcast.data.statsapi import ingest_statsapi
from kcast.data.umpires import ingest_umpires
from kcast.dates import parse_date, parse_date_arg
from kcast.day_board import forecast_board
from kcast.errors import ConfigError
from kcast.forecast import WarehouseSink, forecaster_for
from kcast.gate import gate_for
from kcast.pipeline import day_starters
from kcast.training import train_systems
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

# what `--data` holds (any one is enough): shared/data's layout
DATA_FOLDERS = ("retrosheet/events", "retrosheet/csv", "statcast", "props", "ids")


def run(
    date: str = typer.Option(..., "--date", help="The day to predict (YYYY-MM-DD)."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="A local data folder laid out like kcast's shared data (retrosheet/events, "
        "retrosheet/csv, statcast, props, ids). Without it, Retrosheet seasons and the register "
        "are downloaded into the cache and the slate comes from the MLB Stats API.",
    ),
    seasons: int = typer.Option(
        6, "--seasons", help="How many seasons before the date to learn from."
    ),
    retrain: bool = typer.Option(
        False, "--retrain", help="Train even if models for this date exist."
    ),
    warehouse: str | None = typer.Option(
        None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE."
    ),
) -> None:
    """Ingest what the date needs, train on games before it, predict it at
    KCAST_DECISION_TIME and show the picks (predictions and bets stored together). Exits 1
    when no system could answer."""
    settings = get_settings()
    day = parse_date_arg(date)
    first = day.year - seasons
    if data is not None:
        check_data_folder(data)
    wh = get_warehouse(warehouse, create=True)
    if data is not None:
        register = _first(data / "ids", r"chadwick.*\.csv(\.gz)?$")
        if register is not None and os.environ.get("KCAST_REGISTER", "").strip() == "":
            os.environ["KCAST_REGISTER"] = str(register.resolve())
            note = remember_register(settings.cache_dir, register)
            console.print(f"register: {register} (kept in {note} for later commands)")
            get_settings.cache_clear()
        _ingest_local(wh, data, first, day)
    else:
        _ingest_remote(wh, first, day)
    if day_starters(wh, day).empty:
        # before training: a day without games must not train and activate new models
        console.print(
            f"[yellow]no starters known for {day}[/]: no games that day, or its slate is not "
            f"loaded (kcast ingest statsapi --date {day}); nothing was trained or predicted",
            highlight=False,
        )
        return
    trained_through = _active_through(wh)
    if retrain or trained_through != day:
        console.print(f"training on games before {day} ...")
        for t in train_systems(wh, day, get_settings().model_dir):
            console.print(f"  {t.system_id}: {t.version} ({t.rows:,} starts)")
    settings = get_settings()
    context = DecisionContext.from_settings(settings, live=gate_for(wh, day, settings))
    forecast = forecaster_for(wh, settings, context, WarehouseSink(wh, "run")).day(day)
    if forecast.features.empty:
        console.print(f"no starters known for {day}")
        return
    forecast.check_answered()
    for system_id, error in forecast.errors.items():
        console.print(f"[red]{system_id} did not answer:[/] {error}", highlight=False)
    bankroll = Bankroll.from_settings(settings)
    print_board(forecast_board(forecast, wh, settings.primary_system, bankroll, context.live))
    console.print(f"[dim]{RETROSHEET_NOTICE}[/]")


def check_data_folder(data: Path) -> None:
    """``ConfigError`` when ``--data`` is no folder, or holds none of DATA_FOLDERS."""
    if not data.exists():
        raise ConfigError(f"--data {data}: no such folder ({data.expanduser().absolute()})")
    if not data.is_dir():
        raise ConfigError(f"--data {data}: not a folder")
    found = [f for f in DATA_FOLDERS if (data / f).is_dir()]
    if not found:
        raise ConfigError(
            f"--data {data}: none of the expected sub-folders is there "
            f"({', '.join(DATA_FOLDERS)}); give the folder laid out like kcast's shared data"
        )


def _first(folder: Path, pattern: str) -> Path | None:
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.iterdir() if re.search(pattern, p.name))
    return found[0] if found else None


def _loaded_seasons(wh: Warehouse, source: str) -> set[int]:
    rows = wh.query(statement("seasons_of_source"), {"s": source})
    return {int(s) for s, n in zip(rows["season"], rows["n"], strict=True) if n >= 500}


def _ingest_local(wh: Warehouse, data: Path, first: int, day: dt.date) -> None:
    register = Register.load()
    events = data / "retrosheet" / "events"
    have_events = {
        int(m.group(1))
        for p in (events.iterdir() if events.is_dir() else [])
        if (m := re.match(r"^(\d{4})eve\.zip$", p.name))
    }
    wanted = [y for y in range(first, day.year + 1) if y in have_events]
    todo = [y for y in wanted if y not in _loaded_seasons(wh, "retrosheet_events")]
    if todo:
        with progress_bar(f"Retrosheet event files {todo[0]}-{todo[-1]}") as update:
            report = ingest_retrosheet(
                wh, [events / f"{y}eve.zip" for y in todo], register, progress=update
            )
        print_report(report)
    csv_dir = data / "retrosheet" / "csv"
    if csv_dir.is_dir():
        have_csv = {
            int(m.group(1))
            for p in csv_dir.iterdir()
            if (m := re.match(r"^(\d{4})pitching\.csv", p.name))
        }
        loaded = _loaded_seasons(wh, "retrosheet_csv") | _loaded_seasons(wh, "retrosheet_events")
        csv_todo = [
            y
            for y in range(first, day.year + 1)
            if y in have_csv and y not in have_events and y not in loaded
        ]
        if csv_todo:
            print_report(ingest_retrosheet_csv(wh, csv_dir, register, seasons=csv_todo))
    biofile = data / "retrosheet" / "biofile.zip"
    if biofile.is_file() and not wh.count("umpires"):
        print_report(ingest_umpires(wh, biofile))
    statcast = data / "statcast"
    for starts_file in sorted(statcast.glob("*starts*.csv*")) if statcast.is_dir() else []:
        if _starts_columns(starts_file):
            print_report(ingest_starts(wh, starts_file, register=register))
    props = data / "props"
    for lines_file in sorted(props.glob("*.csv*")) if props.is_dir() else []:
        if _loaded_lines(wh, lines_file):
            continue
        print_report(ingest_lines(wh, lines_file, register))


def _starts_columns(path: Path) -> bool:
    """Is this a start log in the format `kcast ingest starts` reads?"""
    head = pd.read_csv(path, nrows=1)
    return {"game_pk", "pitcher", "strikeouts", "bf"} <= set(head.columns)


def _loaded_lines(wh: Warehouse, path: Path) -> bool:
    rows = wh.query(statement("lines_file_ingested"), {"t": str(path)})
    return int(rows["n"].iloc[0]) > 0


def _ingest_remote(wh: Warehouse, first: int, day: dt.date) -> None:
    settings = get_settings()
    register = Register.load()
    todo = [y for y in range(first, day.year) if y not in _loaded_seasons(wh, "retrosheet_events")]
    if todo:
        archives = resolve_archives(None, todo, settings.cache_dir, settings.retrosheet_url)
        with progress_bar("Retrosheet event files") as update:
            print_report(ingest_retrosheet(wh, archives, register, progress=update))
    print_report(ingest_statsapi(wh, day))


def _active_through(wh: Warehouse) -> dt.date | None:
    rows = wh.query(statement("active_models_trained_through"))
    if rows.empty or int(rows["n"].iloc[0]) < 2 or rows["d"].iloc[0] is None:
        return None
    value = rows["d"].iloc[0]
    return value if isinstance(value, dt.date) else parse_date(str(value)[:10])
