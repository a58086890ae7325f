"""Benchmark: a full-season walk-forward backtest and `kcast predict` for one slate.

    python benchmarks/bench_predict.py --warehouse PATH [--season 2025] [--date 2025-07-20]

PATH must hold the seasons before and including --season with lines (for example the warehouse
`kcast run --data ../shared/data --date 2025-07-20` builds). The warehouse is copied, not changed.
Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

from scratch import scratch_warehouse, season_starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--season", type=int, default=2025)
    parser.add_argument("--date", default="2025-07-20")
    parser.add_argument("--retrain-days", type=int, default=30)
    args = parser.parse_args()

    from kcast.backtest import run_backtest
    from kcast.config import get_settings
    from kcast.context import DecisionContext
    from kcast.forecast import Forecaster, WarehouseReader, WarehouseSink
    from kcast.pipeline import day_starters, load_systems
    from kcast.training import train_systems

    with scratch_warehouse(args.warehouse) as (wh, path):
        starts = season_starts(wh, args.season)
        t0 = time.perf_counter()
        result = run_backtest(wh, starts["a"], starts["b"], retrain_days=args.retrain_days)
        backtest_s = time.perf_counter() - t0

        day = dt.date.fromisoformat(args.date)
        models = path.parent / "models"
        train_systems(wh, day, models)
        settings = get_settings()
        systems, _ = load_systems(wh, settings)
        context = DecisionContext.from_settings(settings)
        forecaster = Forecaster(
            WarehouseReader(wh), systems, context, sink=WarehouseSink(wh, "predict")
        )
        n_starters = len(day_starters(wh, day))
        timings = []
        for _ in range(5):
            t0 = time.perf_counter()
            forecaster.day(day)
            timings.append(time.perf_counter() - t0)
        wh.close()
        env_cmd = [
            str(Path(sys.executable).with_name("kcast")),
            "predict",
            "--date",
            args.date,
            "--warehouse",
            str(path),
        ]
        import os

        env = {**os.environ, "KCAST_MODEL_DIR": str(models)}
        t0 = time.perf_counter()
        subprocess.run(env_cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        cli_s = time.perf_counter() - t0

    print("| step | wall time (s) |\n|---|---:|")
    print(
        f"| backtest {args.season}: {int(starts['n'])} starts, 3 systems + learned ensemble, "
        f"refit every {args.retrain_days} days | {backtest_s:.1f} |"
    )
    for k, v in result.timings.items():
        print(f"| &nbsp;&nbsp;of which {k} | {v:.1f} |")
    timings.sort()
    print(
        f"| predict {args.date} ({n_starters} starters, 3 systems, stored), after start-up: "
        f"median of 5 | {timings[2]:.2f} |"
    )
    print(
        f"| `kcast predict --date {args.date}` as a command (start-up, model loading included) "
        f"| {cli_s:.2f} |"
    )


if __name__ == "__main__":
    main()
