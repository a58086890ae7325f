"""Benchmark: v2_matchup over a full season (walk-forward backtest) and for one day's slate.

    python benchmarks/bench_matchup.py --warehouse PATH [--season 2022] [--date 2022-07-22]

PATH must hold the event-file seasons before and including --season (plate appearances and
lineups: `kcast ingest retrosheet` as in docs/results.md). The warehouse is copied, not changed.
The slate is timed as the worker runs it after start-up: history, its FeatureContext and the
MatchupContext kept, the trained system loaded; every run builds the day's features, prices them
and predicts (median of 5). Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from scratch import scratch_warehouse, season_starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--season", type=int, default=2022)
    parser.add_argument("--date", default="2022-07-22")
    args = parser.parse_args()

    from kcast.backtest import run_backtest
    from kcast.context import DecisionContext
    from kcast.features.build import FeatureContext, load_history
    from kcast.features.matchup import MatchupContext
    from kcast.pipeline import day_starters, starter_features
    from kcast.prices import attach_prices
    from kcast.systems.registry import build_system
    from kcast.training import training_frame

    with scratch_warehouse(args.warehouse) as (wh, _):
        starts = season_starts(wh, args.season)
        t0 = time.perf_counter()
        result = run_backtest(wh, starts["a"], starts["b"], system_ids=["v2_matchup"], bets=False)
        backtest_s = time.perf_counter() - t0
        print("| step | wall time (s) |\n|---|---:|")
        print(
            f"| backtest {args.season}, v2_matchup alone: {int(starts['n'])} starts, refit every "
            f"30 days | {backtest_s:.1f} |"
        )
        for k, v in result.timings.items():
            print(f"| &nbsp;&nbsp;of which {k} | {v:.1f} |", flush=True)

        day = dt.date.fromisoformat(args.date)
        t0 = time.perf_counter()
        system = build_system("v2_matchup").fit(training_frame(wh, day), trained_through=day)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        history = load_history(wh)
        context = FeatureContext.from_history(history)
        matchup = MatchupContext.from_warehouse(wh)
        startup_s = time.perf_counter() - t0
        timings = []
        for _ in range(5):
            t0 = time.perf_counter()
            starters = day_starters(wh, day)
            if starters.empty:
                raise SystemExit(f"no starters on {day}: pick a day with games")
            features = starter_features(wh, starters, history, context, matchup)
            features = attach_prices(wh, features)
            system.predict(features, DecisionContext())
            timings.append(time.perf_counter() - t0)
        wh.close()

    print(f"| train v2_matchup through {args.date} | {train_s:.1f} |")
    print(f"| start-up: history, FeatureContext, MatchupContext | {startup_s:.1f} |")
    timings.sort()
    print(
        f"| slate {args.date} ({len(starters)} starters), after start-up: median of 5 "
        f"| {timings[2]:.2f} |"
    )


if __name__ == "__main__":
    main()
