"""Benchmark: what DuckDB's open-per-operation costs (docs/architecture.md, "Concurrency").

    python benchmarks/bench_open.py --warehouse PATH [--n 40]

The warehouse is copied, not changed. Measures, per operation, a query on a connection held
open (what kcast did before), kcast's query with its short-lived connections (each open
separately, ``LINGER=0``, and a burst reusing the lingering read-only one), an upsert of one
row (opens read-write, commits, checkpoints on close), and ``open_warehouse`` itself.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

SQL = "SELECT COUNT(*) AS n FROM pitcher_games WHERE season = 2019"


def timed(fn, n: int) -> float:  # noqa: ANN001
    """Median milliseconds of ``fn()`` over ``n`` runs."""
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args()

    import duckdb
    import pandas as pd

    from kcast.warehouse import duckdb as engine
    from kcast.warehouse import open_warehouse

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        shutil.copy(args.warehouse, path)
        open_warehouse(str(path)).close()  # migrate once, if the copy is older
        rows = []

        con = duckdb.connect(str(path), read_only=True)
        rows.append(("query, connection held open", timed(lambda: con.execute(SQL).df(), args.n)))
        con.close()

        wh = open_warehouse(str(path), read_only=True)
        linger = engine.LINGER
        engine.LINGER = 0
        rows.append(("query, own read-only open (LINGER=0)", timed(lambda: wh.query(SQL), args.n)))
        engine.LINGER = linger

        def burst() -> None:
            for _ in range(5):
                wh.query(SQL)
            time.sleep(linger * 3)  # let the lingering database close

        per = timed(burst, max(3, args.n // 5)) - linger * 3 * 1000
        rows.append((f"query, in a burst of 5 (LINGER={linger:g} s), per query", per / 5))

        writer = open_warehouse(str(path))
        row = writer.query("SELECT * FROM players LIMIT 1")

        def upsert() -> None:
            writer.upsert("players", pd.DataFrame(row))

        rows.append(("upsert of one row (read-write open, commit, close)", timed(upsert, args.n)))
        rows.append(
            (
                "open_warehouse (schema check, one read)",
                timed(lambda: open_warehouse(str(path)).close(), args.n),
            )
        )
    print(f"| operation ({path.name} copy of {args.warehouse.name}) | median ms |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
