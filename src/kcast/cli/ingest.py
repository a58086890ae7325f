"""``kcast ingest ...``: bring each real source into the warehouse."""

from __future__ import annotations

from pathlib import Path

import typer

from kcast import RETROSHEET_NOTICE
from kcast.cli.common import console, get_warehouse, print_report, progress_bar
from kcast.config import get_settings
from kcast.data.lines import ingest_lines, line_match_report, rematch_lines
from kcast.data.odds_api import OddsApiClient, ingest_odds_api
from kcast.data.pitch_mix import ingest_pitch_mix
from kcast.data.register import Register
from kcast.data.retrosheet import ingest_retrosheet, resolve_archives
from kcast.data.retrosheet_csv import ingest_retrosheet_csv
from kcast.data.starts import ingest_starts
from kcast.data.statsapi import MLBAM_NOTICE, ingest_statsapi, parse_date
from kcast.data.umpires import ingest_umpires
from kcast.dates import parse_date_arg
from kcast.errors import InputError

app = typer.Typer(help="Load data from each source into the warehouse.", no_args_is_help=True)

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")
RegisterOpt = typer.Option(
    None, "--register", help="Chadwick register CSV; overrides KCAST_REGISTER."
)
AllGameTypesOpt = typer.Option(
    False, "--all-game-types", help="Also load tie-breakers and postseason games."
)


@app.command()
def retrosheet(
    source: str | None = typer.Option(
        None,
        "--source",
        help="A YYYYeve.zip, a folder of them (or of unpacked event files), or a URL; "
        "default: download from retrosheet.org into the cache.",
    ),
    season: list[int] = typer.Option([], "--season", help="Season(s) to load; repeat."),
    all_game_types: bool = AllGameTypesOpt,
    workers: int | None = typer.Option(None, "--workers", help="Processes (default: all cores)."),
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
) -> None:
    """Retrosheet event files: every pitcher-game, with pitch counts."""

    settings = get_settings()
    archives = resolve_archives(source, season, settings.cache_dir, settings.retrosheet_url)
    wh = get_warehouse(warehouse, create=True)
    reg = Register.load(register)
    with progress_bar("event files") as update:
        report = ingest_retrosheet(
            wh,
            archives,
            reg,
            seasons=season,
            include_all_types=all_game_types,
            workers=workers,
            progress=update,
        )
    print_report(report)
    console.print(f"[dim]{RETROSHEET_NOTICE}[/]")


@app.command("retrosheet-csv")
def retrosheet_csv(
    source: Path = typer.Option(
        ...,
        "--source",
        help="Folder with YYYYpitching.csv, YYYYgameinfo.csv, YYYYteamstats.csv and "
        "YYYYallplayers.csv (plain or .gz).",
    ),
    season: list[int] = typer.Option([], "--season", help="Season(s) to load; default: all."),
    all_game_types: bool = AllGameTypesOpt,
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
) -> None:
    """Retrosheet's per-season CSV downloads: every pitcher-game (no pitch counts)."""

    wh = get_warehouse(warehouse, create=True)
    reg = Register.load(register)
    with console.status("reading Retrosheet's CSVs"):
        report = ingest_retrosheet_csv(
            wh, source, reg, seasons=season, include_all_types=all_game_types
        )
    print_report(report)
    console.print(f"[dim]{RETROSHEET_NOTICE}[/]")


@app.command()
def starts(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="The Statcast-derived start log (CSV, plain or .gz)."
    ),
    season: list[int] = typer.Option([], "--season", help="Season(s) to load; default: all."),
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
) -> None:
    """Statcast-derived per-start logs: starts with pitch counts (the lowest-ranked source)."""

    wh = get_warehouse(warehouse, create=True)
    with console.status("reading the start log"):
        report = ingest_starts(wh, file, seasons=season, register=Register.load(register))
    print_report(report)


@app.command("pitch-mix")
def pitch_mix(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="The Statcast pitch-mix starts file (CSV, plain or .gz)."
    ),
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
) -> None:
    """Statcast pitch mix per start: whiffs, CSW, velocities; names matched to starts."""

    wh = get_warehouse(warehouse, create=True)
    with console.status("reading and matching the pitch-mix starts"):
        report = ingest_pitch_mix(wh, file, Register.load(register))
    print_report(report)


@app.command()
def umpires(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="Retrosheet's biographical file: biofile.zip or biofile.csv (plain or .gz).",
    ),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Retrosheet's umpires (ids and names), so umpires the Stats API names get their history."""

    wh = get_warehouse(warehouse, create=True)
    with console.status("reading the umpires"):
        report = ingest_umpires(wh, file)
    print_report(report)
    console.print(f"[dim]{RETROSHEET_NOTICE}[/]")


@app.command()
def statsapi(
    date: str = typer.Option(..., "--date", help="The day, YYYY-MM-DD."),
    all_game_types: bool = typer.Option(
        False, "--all-game-types", help="Also load postseason, spring and exhibition games."
    ),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """MLB Stats API: a day's games with probable starters, and boxscores of finished games."""

    day = parse_date_arg(parse_date(date))  # its own message for a bad date, then the range
    wh = get_warehouse(warehouse, create=True)
    with progress_bar("boxscores") as update:
        report = ingest_statsapi(wh, day, include_all_types=all_game_types, progress=update)
    print_report(report)
    if "copyright" not in report.stats:  # the response's own notice is printed with the report
        console.print(f"[dim]{MLBAM_NOTICE}[/]")


@app.command()
def lines(
    file: Path = typer.Argument(..., metavar="FILE", help="A lines CSV (plain or .gz)."),
    fmt: str = typer.Option(
        "auto", "--format", help="auto, generic, strikeoutcenter or steveliang."
    ),
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
    min_match: float = typer.Option(
        0.5,
        "--min-match",
        min=0.0,
        max=1.0,
        help="Refuse the file when fewer than this share of its names match a pitcher.",
    ),
    allow_unmatched: bool = typer.Option(
        False, "--allow-unmatched", help="Store the file however few of its names match."
    ),
) -> None:
    """Sportsbook strikeout lines: every row kept, names matched to pitchers and starts."""

    if not file.is_file():
        raise InputError("no such file", source=str(file))
    wh = get_warehouse(warehouse, create=True)
    with console.status("reading and matching the lines"):
        report = ingest_lines(
            wh,
            file,
            Register.load(register),
            fmt=fmt,
            min_match=min_match,
            allow_unmatched=allow_unmatched,
        )
    print_report(report)


@app.command("lines-rematch")
def lines_rematch(
    source: str | None = typer.Option(None, "--source", help="Only this source's lines."),
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
) -> None:
    """Match stored lines that have no start yet against the starts loaded since."""

    wh = get_warehouse(warehouse)
    print_report(rematch_lines(wh, Register.load(register), source))


@app.command("lines-report")
def lines_report(
    source: str = typer.Option(
        ..., "--source", help="strikeoutcenter, steveliang, csv or odds_api."
    ),
    book: str | None = typer.Option(None, "--book", help="Only this book (e.g. consensus)."),
    snapshot: str | None = typer.Option(None, "--snapshot", help="open, close or posted."),
    main_only: bool = typer.Option(False, "--main-only", help="Only main lines (is_main)."),
    season: int | None = typer.Option(None, "--season", help="Only this season."),
    show: int = typer.Option(20, "--show", help="Unmatched lines to list per reason."),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """How many stored lines are matched to a start, and why the others are not."""

    wh = get_warehouse(warehouse, read_only=True)
    rep = line_match_report(
        wh, source, book=book, snapshot=snapshot, main_only=main_only, season=season
    )
    console.print(
        f"[bold]{rep.description}[/]: {rep.matched:,} of {rep.total:,} lines matched to a start "
        f"({rep.rate:.2%})",
        highlight=False,
    )
    for reason, count in sorted(rep.reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  [yellow]{reason}[/]: {count:,}", highlight=False)
        rows = rep.unmatched[rep.unmatched["reason"] == reason].head(show)
        for r in rows.itertuples():
            console.print(
                f"    {r.game_date:%Y-%m-%d} {r.pitcher_name} ({r.book} {r.line:g} "
                f"{r.snapshot}): {r.match_note}",
                highlight=False,
                soft_wrap=True,
            )


@app.command("odds-api")
def odds_api(
    date: str | None = typer.Option(
        None, "--date", help="US Eastern game date, YYYY-MM-DD (default: today)."
    ),
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
) -> None:
    """The Odds API: each US book's pitcher-strikeout lines for the day (key: ODDS_API_KEY)."""

    day = parse_date_arg(date) if date else None
    client = OddsApiClient.from_settings()
    wh = get_warehouse(warehouse, create=True)
    with progress_bar("events") as update:
        report = ingest_odds_api(wh, Register.load(register), day, client=client, progress=update)
    print_report(report)
