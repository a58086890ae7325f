"""Benchmark: ingesting Retrosheet seasons (wall time and peak memory).

Runs each ingest as its own `kcast` process into a fresh DuckDB file and reads the peak resident
memory of the process and its workers from the kernel. Run on demand, not in the test suite:

    python benchmarks/bench_ingest.py --data ../shared/data [--repeat 3]

It prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--season", type=int, default=2019, help="the single event season")
    args = parser.parse_args()
    data = args.data.resolve()
    kcast = str(Path(sys.executable).with_name("kcast"))
    events = data / "retrosheet" / "events"
    rows = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "KCAST_WAREHOUSE": str(Path(tmp) / "bench.duckdb"),
                "KCAST_REGISTER": str(data / "ids" / "chadwick_register_mlb_players.csv.gz"),
                "KCAST_CACHE_DIR": str(Path(tmp) / "cache"),
            }
            # each measurement in its own process tree so that peak memory is its own
            one = _child(
                kcast,
                ["ingest", "retrosheet", "--source", str(events / f"{args.season}eve.zip")],
                env,
            )
            Path(env["KCAST_WAREHOUSE"]).unlink()
            all_events = _child(kcast, ["ingest", "retrosheet", "--source", str(events)], env)
            csv = _child(
                kcast,
                [
                    "ingest",
                    "retrosheet-csv",
                    "--source",
                    str(data / "retrosheet" / "csv"),
                    "--season",
                    "2024",
                ],
                env,
            )
            rerun = _child(
                kcast,
                ["ingest", "retrosheet", "--source", str(events / f"{args.season}eve.zip")],
                env,
            )
            rows.append((one, all_events, csv, rerun))
    print("| step | wall time (s) | peak memory (MiB) |\n|---|---:|---:|")
    labels = (
        f"one event season ({args.season}), empty warehouse",
        "all event seasons 2015-2023 in one run",
        "2024 from Retrosheet's CSVs",
        f"re-running {args.season} (all rows already stored)",
    )
    for i, label in enumerate(labels):
        walls = sorted(r[i][0] for r in rows)
        mem = max(r[i][1] for r in rows)
        print(f"| {label} | {walls[len(walls) // 2]:.1f} | {mem:.0f} |")
    total = sorted(r[1][0] + r[2][0] for r in rows)[len(rows) // 2]
    print(f"| all of 2015-2024 (events + CSV) | {total:.1f} | |")


def _child(kcast: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Measure in a fresh Python so RUSAGE_CHILDREN holds only this command's peak."""
    code = (
        "import resource,subprocess,sys,time;"
        "t=time.perf_counter();"
        "subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, kcast, *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


if __name__ == "__main__":
    main()
