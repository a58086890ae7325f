"""Ablation of v2_matchup: what each input adds, in a walk-forward backtest.

    python benchmarks/ablation_matchup.py --warehouse PATH --start 2022-04-07 --end 2022-10-05

Runs ``v2_matchup`` and one variant per input left out (``lineup``: every slot gets the team's
rate, as with no lineup; ``csw``, ``umpire``, ``tto``, ``park``) through the same backtest, and
prints a Markdown table for docs/results.md. The variants exist only inside this script; the
warehouse is copied, not changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from scratch import scratch_warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    args = parser.parse_args()

    from kcast.backtest import run_backtest
    from kcast.systems.registry import SYSTEMS, SystemSpec
    from kcast.systems.v2_matchup import INPUTS, MatchupPredictor

    variants = {"v2_matchup": "everything"}
    for name in INPUTS:
        system_id = f"v2_matchup_without_{name}"
        SYSTEMS[system_id] = SystemSpec(MatchupPredictor, lambda s, name=name: {"without": (name,)})
        variants[system_id] = f"without {name}"
    with scratch_warehouse(args.warehouse) as (wh, _):
        result = run_backtest(
            wh,
            dt.date.fromisoformat(args.start),
            dt.date.fromisoformat(args.end),
            system_ids=list(variants),
            bets=False,
        )
    m = result.metrics
    print(
        "| v2_matchup | lines: MAE | RMSE | log loss | model log loss | all starts: MAE | RMSE "
        "| log score |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for system_id, label in variants.items():
        r = m[system_id]
        print(
            f"| {label} | {r['mae']:.3f} | {r['rmse']:.3f} | {r['log_loss']:.4f} | "
            f"{r['model_log_loss']:.4f} | {r['mae_all_starts']:.3f} | {r['rmse_all_starts']:.3f} "
            f"| {r['nll_all_starts']:.4f} |"
        )
    print(f"\n{result.notes[0]}")


if __name__ == "__main__":
    main()
