"""``kcast ingest ...``: bring each real source into the warehouse."""

from __future__ import annotations

from pathlib import Path

import typer

from kcast.cli.common import console, get_warehouse, print_report, progress_bar
from kcast.config import get_settings

app = typer.Typer(help="Load data from each source into the warehouse.", no_args_is_help=True)

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")
RegisterOpt = typer.Option(
    None, "--register", help="Chadwick register CSV; overrides KCAST_REGISTER."
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
    all_game_types: bool = typer.Option(
        False, "--all-game-types", help="Also load tie-breakers and postseason games."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Processes (default: all cores)."),
    warehouse: str | None = WarehouseOpt,
    register: Path | None = RegisterOpt,
) -> None:
    """Retrosheet event files: every pitcher-game, with pitch counts."""
    from kcast.data.register import Register
    from kcast.data.retrosheet import ingest_retrosheet, resolve_archives

    settings = get_settings()
    archives = resolve_archives(source, season, settings.cache_dir, settings.retrosheet_url)
    wh = get_warehouse(warehouse)
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
    console.print(f"[dim]{__import__('kcast').RETROSHEET_NOTICE}[/]")
