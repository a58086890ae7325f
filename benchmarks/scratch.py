"""What the offline benchmarks share: a throwaway copy of the warehouse they measure (the one
given is never changed), and the span of a season's starts."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


@contextmanager
def scratch_warehouse(source: Path) -> Iterator[tuple[object, Path]]:
    """A copy of the DuckDB warehouse at ``source`` in a temporary folder, opened (migrated if
    older): (the warehouse, its path). The folder is removed afterwards."""
    from kcast.warehouse import open_warehouse

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        shutil.copy(source, path)
        wh = open_warehouse(str(path))
        try:
            yield wh, path
        finally:
            wh.close()


def season_starts(wh: object, season: int) -> pd.Series:
    """The first and last date (``a``, ``b``) and number (``n``) of a season's regular-season
    starts."""
    return wh.query(  # type: ignore[attr-defined]
        "SELECT MIN(game_date) AS a, MAX(game_date) AS b, COUNT(*) AS n FROM pitcher_games "
        "WHERE season = $s AND is_start AND game_type = 'regular'",
        {"s": season},
    ).iloc[0]
