"""A new user's mistakes and an 80-column terminal: option values are checked naming the valid
choices, a start after its end is named, every system has a distinct short name, and
``kcast query`` reads views and writes CSV when piped (an empty warehouse is enough)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kcast.cli import app
from kcast.cli.common import SYSTEM_SHORT, short_system, system_key
from kcast.errors import InputError
from kcast.systems.registry import SYSTEMS
from kcast.warehouse import open_warehouse

runner = CliRunner()


@pytest.fixture
def empty(tmp_path: Path) -> str:
    path = tmp_path / "empty.duckdb"
    open_warehouse(str(path)).close()
    return str(path)


def test_a_mistyped_strategy_is_named_with_the_choices(empty: str) -> None:
    out = runner.invoke(app, ["bets", "--strategy", "evv", "-w", empty])
    assert out.exit_code != 0 and isinstance(out.exception, InputError)
    with pytest.raises(InputError, match=r"--strategy 'evv' is not one of .*ev.*did you mean ev"):
        raise out.exception
    out = runner.invoke(app, ["bets", "--by", "boook", "-w", empty])
    with pytest.raises(InputError, match=r"--by 'boook' is not one of all, book, line"):
        raise out.exception


def test_a_start_after_its_end_and_a_bad_time_are_named(empty: str) -> None:
    out = runner.invoke(
        app, ["backtest", "--start", "2025-07-20", "--end", "2025-07-01", "-w", empty]
    )
    with pytest.raises(InputError, match=r"--start 2025-07-20 is after --end 2025-07-01"):
        raise out.exception
    out = runner.invoke(
        app,
        ["backtest", "--start", "2025-07-01", "--end", "2025-07-02", "--at", "noon", "-w", empty],
    )
    with pytest.raises(InputError, match=r"--at: .*noon"):
        raise out.exception


def test_every_system_has_a_distinct_short_name() -> None:
    shorts = [short_system(s) for s in SYSTEMS]
    assert len(set(shorts)) == len(shorts) and max(len(s) for s in shorts) <= 6
    assert set(SYSTEMS) <= set(SYSTEM_SHORT)
    key = system_key(["ensemble_v1", "ensemble_v2", "ensemble_v1_learned"])
    assert key == "systems: ens1 = ensemble_v1, ens1L = ensemble_v1_learned, ens2 = ensemble_v2"


def test_query_reads_views_and_writes_csv_when_piped(empty: str) -> None:
    out = runner.invoke(app, ["query", "daily_coverage", "-w", empty])
    assert out.exit_code == 0, out.output
    header = next(csv.reader(io.StringIO(out.output)))
    assert "system_id" in header or "game_date" in header
    wide = runner.invoke(app, ["query", "picks_today", "--date", "2025-07-20", "-w", empty])
    assert wide.exit_code == 0, wide.output
    assert wide.output.splitlines()[0].startswith("game_date,pitcher_name")
