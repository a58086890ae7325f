"""``kcast train | predict | grade | backtest``: the prediction systems at work."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from kcast.backtest import run_backtest, write_backtest
from kcast.bet_metrics import LABELS, Bankroll, Record, records_by
from kcast.cli.board import narrow_table, print_board
from kcast.cli.common import (
    choice,
    console,
    date_range,
    decision_time,
    get_warehouse,
    progress_bar,
    short_system,
    system_key,
)
from kcast.config import get_settings
from kcast.context import STRATEGIES, DecisionContext
from kcast.dates import parse_date, parse_date_arg
from kcast.day_board import LEDGER_STRATEGY, forecast_board
from kcast.forecast import WarehouseSink, forecaster_for
from kcast.gate import gate_for
from kcast.grading import VOID, grade_dates
from kcast.lookahead import late_models
from kcast.training import train_systems
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")


def train(
    through: str = typer.Option(..., "--through", help="Train on games before this date."),
    system: list[str] = typer.Option([], "--system", help="Only these systems (repeat)."),
    model_dir: str | None = typer.Option(
        None,
        "--model-dir",
        help="Where to write the models: a folder or gs://BUCKET/PATH (default KCAST_MODEL_DIR).",
    ),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Train each trainable system on games before --through and make it the active model."""
    settings = get_settings()
    wh = get_warehouse(warehouse)
    with console.status("training"):
        trained = train_systems(
            wh, parse_date(through), model_dir or settings.model_dir, system or None
        )
    table = Table(title=f"trained on games before {through}", title_justify="left")
    for col in ("system", "version", "rows", "held-out MAE"):
        table.add_column(col, justify="left" if col in ("system", "version") else "right")
    for t in trained:
        table.add_row(
            t.system_id, t.version, f"{t.rows:,}", _num(t.metrics.get("holdout_mae"), ".3f")
        )
    console.print(table)
    where = ", ".join(t.location for t in trained)
    console.print(f"model files: {where}; each is now its system's active model", highlight=False)


def predict(
    date: str = typer.Option(..., "--date", help="The slate's date (YYYY-MM-DD)."),
    warehouse: str | None = WarehouseOpt,
    no_write: bool = typer.Option(False, "--no-write", help="Show the picks without storing."),
    at: str | None = typer.Option(
        None,
        "--at",
        help="Decision time: open, close, HH:MM (US Eastern) or now (default "
        "KCAST_DECISION_TIME, now): only odds captured before it are used.",
    ),
) -> None:
    """Predict every starter of --date with every active system, decide at --at, show the
    picks and the bets (predictions and bets stored together unless --no-write). Exits 1 when
    no system could answer."""
    settings = get_settings()
    day = parse_date_arg(date)
    at_time = decision_time(at)
    wh = get_warehouse(warehouse, read_only=no_write)
    context = DecisionContext.from_settings(settings, at_time, gate_for(wh, day, settings))
    sink = None if no_write else WarehouseSink(wh, "predict")
    with console.status(f"predicting {day}"):
        forecast = forecaster_for(wh, settings, context, sink).day(day)
    warn_late_models(wh, day)
    if forecast.features.empty:
        console.print(
            f"no starters known for {day}: ingest the slate with "
            f"`kcast ingest statsapi --date {day}` (or the results, for a past date)",
            highlight=False,
        )
        return
    forecast.check_answered()
    for system_id, error in forecast.errors.items():
        console.print(f"[red]{system_id} did not answer:[/] {error}", highlight=False)
    bankroll = Bankroll.from_settings(settings)
    board = forecast_board(forecast, wh, settings.primary_system, bankroll, context.live)
    print_board(board, stored=not no_write)


def warn_late_models(wh: Warehouse, day: dt.date) -> None:
    """Warn about active models trained on games after ``day`` (a replay that saw its own
    results)."""
    for sentence in late_models(wh, day):
        console.print(f"[yellow]warning:[/] {sentence}", highlight=False)


def _num(value: object, spec: str) -> str:
    return "-" if value is None or pd.isna(value) else format(value, spec)


def grade(
    date: str = typer.Option(..., "--date", help="First date to grade."),
    end: str | None = typer.Option(None, "--end", help="Last date (default: --date)."),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Write actual strikeouts and win/loss/push next to each prediction and each bet of the
    ledger; show each system's MAE and how its bets did (W-L-P, units, ROI flat and staked,
    CLV: the numbers of `kcast bets` and the dashboard)."""
    first = parse_date_arg(date)
    last = parse_date_arg(end, "--end") if end else first
    date_range(first, last, "--date", "--end")
    wh = get_warehouse(warehouse)
    rows = grade_dates(wh, first, last)
    if rows.empty:
        console.print("nothing to grade: no predictions with results for those dates")
        return
    # the ledger's graded bets (never a lean), as kcast bets and the dashboard count them
    params = {"s": LEDGER_STRATEGY, "a": first, "b": last}
    records = records_by(wh.query(statement("graded_ledger_bets"), params), "system_id")
    headers = [LABELS[k][0] for k in ("bets", "wlp", "units", "roi_flat", "roi_staked", "clv")]
    table = narrow_table(
        ("system", "left"),
        ("graded", "right"),
        ("void", "right"),
        ("MAE", "right"),
        *[(h, "right") for h in headers],
        title=f"graded {first}"
        + (f" to {last}" if last != first else "")
        + f": predictions and the ledger's {LEDGER_STRATEGY} bets",
    )
    for system_id, g in rows.groupby("system_id"):
        played = g[g["result"] != VOID]
        error = played["predicted_strikeouts"].astype(float) - played["actual_strikeouts"]
        cells = records.get(system_id, Record()).cells()
        table.add_row(
            short_system(system_id),
            str(len(played)),
            str(len(g) - len(played)),
            _num(error.abs().mean(), ".3f"),
            *(cells[k] for k in ("bets", "wlp", "units", "roi_flat", "roi_staked", "clv")),
        )
    console.print(table)
    key = system_key(rows["system_id"].unique())
    console.print(
        f"[dim]{key + '. ' if key else ''}bets: the ledger's graded bets (`kcast bets`); units "
        "won at one unit a bet; ROI flat: units per bet; ROI staked: profit per unit staked; "
        "CLV: probability points.[/]",
        highlight=False,
    )


def backtest(
    start: str = typer.Option(..., "--start", help="First day."),
    end: str = typer.Option(..., "--end", help="Last day."),
    retrain_days: int = typer.Option(30, "--retrain-days", help="Refit the models every N days."),
    system: list[str] = typer.Option([], "--system", help="Only these systems (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object for scripts."),
    calibration: bool = typer.Option(False, "--calibration", help="Print calibration tables."),
    write: bool = typer.Option(
        False, "--write", help="Store the predictions, graded, and the bets in the ledger."
    ),
    at: str = typer.Option(
        "open", "--at", help="Decision time: open, lineup, close or HH:MM (US Eastern)."
    ),
    no_bets: bool = typer.Option(False, "--no-bets", help="Skip the bets a bettor could take."),
    strategy: list[str] = typer.Option(
        [], "--strategy", help="Bet rules to try (repeat; default all: see kcast.bets)."
    ),
    picks: Path | None = typer.Option(
        None,
        "--picks",
        help="Write every rule's picks (bets and leans, graded, with their status) to this CSV.",
    ),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Walk-forward backtest over the real lines in the warehouse, decided at --at."""
    first, last = parse_date_arg(start, "--start"), parse_date_arg(end, "--end")
    date_range(first, last)
    decision = decision_time(at)
    for name in strategy:
        choice(name, STRATEGIES, "--strategy")
    wh = get_warehouse(warehouse, read_only=not write)
    if as_json:
        result = run_backtest(
            wh,
            first,
            last,
            system or None,
            retrain_days,
            at=decision,
            bets=not no_bets,
            strategies=tuple(strategy) or None,
        )
    else:
        with progress_bar("walk-forward blocks") as update:
            result = run_backtest(
                wh,
                first,
                last,
                system or None,
                retrain_days,
                progress=update,
                at=decision,
                bets=not no_bets,
                strategies=tuple(strategy) or None,
            )
    if write:
        write_backtest(wh, result)
    if picks is not None:
        result.bets.to_csv(picks, index=False)
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=float))
        return
    print_backtest(result, calibration)


# (header, metric key, format) of each column of the backtest's tables
SCORES = (
    ("n", "n", ","),
    ("MAE", "mae", ".3f"),
    ("RMSE", "rmse", ".3f"),
    ("log loss", "log_loss", ".4f"),
    ("Brier", "brier", ".4f"),
    ("bets", "bets", ","),
    ("win rate", "win_rate", ".3f"),
    ("ROI", "roi", "+.3f"),
    ("CLV", "clv", "+.4f"),
)
MORE = (
    ("MAE (median)", "mae_median", ".3f"),
    ("MAE all starts", "mae_all_starts", ".3f"),
    ("model-alone log loss", "model_log_loss", ".4f"),
    ("P(K<=2) stated", "p_k_le_2", ".3f"),
    ("observed", "observed_k_le_2", ".3f"),
)
CALIBRATION = (
    ("largest decile gap", "calibration_max_gap", ".3f"),
    ("deciles off by > 3 pts", "deciles_over_3pts", "d"),
    ("Hosmer-Lemeshow p", "calibration_p", ".3f"),
)


def _interval(value: dict | None, spec: str) -> str:
    if not value:
        return "-"
    return (
        f"{format(value['mean'], spec)} [{format(value['lo'], spec)}, {format(value['hi'], spec)}]"
    )


def metric_table(title: str, rows: dict[str, dict], columns: tuple, first: str = "system") -> Table:
    """A table with one row per key of ``rows`` and the given (header, key, format) columns."""
    table = Table(title=title, title_justify="left")
    table.add_column(first, justify="left")
    for header, _, _ in columns:
        table.add_column(header, justify="right")
    for name, values in rows.items():
        table.add_row(name, *(_num(values.get(key), spec) for _, key, spec in columns))
    return table


def print_backtest(result, calibration: bool) -> None:  # noqa: ANN001
    """The backtest's scores, more metrics, calibration, projections, red flags and timings."""
    metrics = {k: m for k, m in result.metrics.items() if k not in ("red_flags", "projection")}
    console.print(metric_table(f"backtest {result.start} to {result.end}", metrics, SCORES))
    models = {k: m for k, m in metrics.items() if "model_log_loss" in m}
    if models:
        console.print(metric_table("more", models, MORE))
    calibrated = {k: m for k, m in metrics.items() if "calibration_p" in m}
    title = "calibration of the stated P(over) (deciles of 100+)"
    console.print(metric_table(title, calibrated, CALIBRATION))
    if "projection" in result.metrics:
        p = result.metrics["projection"]
        console.print(
            f"projection shipped with the lines: n {p['n']}, MAE {p['mae']:.3f} "
            f"(the line's MAE on the same games {p['line_mae_same_games']:.3f})"
        )
    if "red_flags" in result.metrics:
        columns = (
            ("starts", "n", ","),
            ("early hooks (<9 outs)", "early_hook_rate", ".3f"),
            ("mean K", "mean_strikeouts", ".2f"),
        )
        console.print(metric_table("red flags", result.metrics["red_flags"], columns, "red flag"))
    for strategy, by_system in result.bet_metrics.items():
        table = Table(
            title=f"picks decided at {result.at}, strategy {strategy}: the rule's record (every "
            "pick) and its bets (the days its rule was live; 95% intervals)",
            title_justify="left",
        )
        for col in ("system", "rung", "picks", "CLV pts", "EV at close", "ROI", "max DD"):
            table.add_column(col, justify="left" if col in ("system", "rung") else "right")
        for col in ("bets", "bets' EV at close", "bets' ROI"):
            table.add_column(col, justify="right")
        for system_id, by_market in by_system.items():
            for market, entry in by_market.items():
                m, b = entry["picks"], entry["bets"]
                table.add_row(
                    system_id,
                    market,
                    str(m.get("bets", 0)),
                    _interval(m.get("clv_points"), "+.2f"),
                    _interval(m.get("ev_close"), "+.3f"),
                    _interval(m.get("roi"), "+.3f"),
                    _num(m.get("max_drawdown"), ".2f"),
                    str(b.get("bets", 0)),
                    _interval(b.get("ev_close"), "+.3f"),
                    _interval(b.get("roi"), "+.3f"),
                )
        console.print(table)
    if result.devig:
        console.print(
            "log loss of the fair P(over) at the main line by de-vig method: "
            + ", ".join(f"{k} {v:.4f}" for k, v in result.devig.items() if k != "n")
            + f" ({result.devig.get('n')} lines)",
            highlight=False,
        )
    for note in result.notes:
        console.print(f"[dim]{note}[/]")
    console.print(
        f"[dim]timings: {', '.join(f'{k} {v:.1f}s' for k, v in result.timings.items())}[/]"
    )
    if calibration:
        columns = (("n", "n", "d"), ("stated P(over)", "stated", ".3f"))
        columns += (("observed", "observed", ".3f"), ("gap", "gap", "+.3f"))
        for system_id, rows in result.calibration.items():
            deciles = {str(r["bin"]): r for r in rows}
            console.print(metric_table(f"calibration: {system_id}", deciles, columns, "decile"))
