"""``kcast train | predict | grade | backtest``: the prediction systems at work."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from kcast.cli.common import console, get_warehouse, progress_bar
from kcast.config import get_settings
from kcast.slate import parse_date

WarehouseOpt = typer.Option(None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE.")


def train(
    through: str = typer.Option(..., "--through", help="Train on games before this date."),
    system: list[str] = typer.Option([], "--system", help="Only these systems (repeat)."),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Overrides KCAST_MODEL_DIR."),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Train each trainable system on games before --through and make it the active model."""
    from kcast.training import train_systems

    settings = get_settings()
    wh = get_warehouse(warehouse)
    with console.status("training"):
        trained = train_systems(
            wh, parse_date(through), model_dir or settings.model_dir, system or None
        )
    table = Table(
        "system",
        "version",
        "rows",
        "held-out MAE",
        "held-out NLL",
        "file",
        title=f"trained on games before {through}",
        title_justify="left",
    )
    for t in trained:
        table.add_row(
            t.system_id,
            t.version,
            f"{t.rows:,}",
            f"{t.metrics.get('holdout_mae', float('nan')):.3f}",
            f"{t.metrics.get('holdout_nll', float('nan')):.3f}",
            str(t.path),
        )
    console.print(table)


def predict(
    date: str = typer.Option(..., "--date", help="The slate's date (YYYY-MM-DD)."),
    warehouse: str | None = WarehouseOpt,
    no_write: bool = typer.Option(False, "--no-write", help="Show the picks without storing."),
) -> None:
    """Predict every starter of --date with every active system and show the picks."""
    from kcast.slate import predict_date

    wh = get_warehouse(warehouse, read_only=no_write)
    day = parse_date(date)
    with console.status(f"predicting {day}"):
        result = predict_date(wh, day, write=not no_write)
    late = wh.query(
        "SELECT system_id, trained_through FROM model_registry WHERE is_active "
        "AND trained_through > $d",
        {"d": day},
    )
    for r in late.to_dict("records"):
        console.print(
            f"[yellow]warning:[/] {r['system_id']} was trained on games up to "
            f"{str(r['trained_through'])[:10]}, after {day}: this replay has seen its own results. "
            f"For an honest replay run `kcast train --through {day}` first.",
            highlight=False,
        )
    print_picks(result)
    for system_id, error in result.errors.items():
        console.print(f"[red]{system_id} did not answer:[/] {error}", highlight=False)
    if result.features.empty:
        console.print(
            f"no starters known for {day}: ingest the slate with "
            f"`kcast ingest statsapi --date {day}` or results for a past date"
        )


def print_picks(result) -> None:  # noqa: ANN001
    frame = result.frame()
    if frame.empty:
        return
    shown = "ensemble_v1" if "ensemble_v1" in result.outputs else next(iter(result.outputs))
    rows = frame[frame["system_id"] == shown].sort_values(
        ["recommendation", "confidence"], ascending=[True, False]
    )
    others = [s for s in result.outputs if s != shown]
    table = Table(title=f"{result.date}: {shown} picks", title_justify="left")
    for col in (
        "pitcher",
        "team",
        "opp",
        "line",
        "pred",
        *others,
        "P(over)",
        "edge",
        "conf",
        "pick",
        "flags",
    ):
        table.add_column(
            col, justify="right" if col not in ("pitcher", "pick", "flags") else "left"
        )
    by_system = {
        s: frame[frame["system_id"] == s].set_index(["game_id", "pitcher_id"]) for s in others
    }
    names = result.features.set_index(["game_id", "pitcher_id"]) if len(result.features) else None
    for r in rows.to_dict("records"):
        key = (r["game_id"], r["pitcher_id"])
        name = str(r["pitcher_id"])
        if names is not None and "pitcher_name" in names.columns:
            found = names.loc[key, "pitcher_name"]
            if isinstance(found, str) and found:
                name = found
        extra = [
            f"{by_system[s].loc[key, 'predicted_strikeouts']:.2f}"
            if key in by_system[s].index
            else "-"
            for s in others
        ]
        table.add_row(
            name,
            r["team"],
            r["opponent"],
            "-" if r["line"] is None else f"{r['line']:g}",
            f"{r['predicted_strikeouts']:.2f}",
            *extra,
            "-" if r["p_over"] is None else f"{r['p_over']:.3f}",
            "-" if r["edge"] is None else f"{r['edge']:+.2f}",
            f"{r['confidence']:.0f}",
            r["recommendation"],
            r["red_flags"],
        )
    console.print(table)


def grade(
    date: str = typer.Option(..., "--date", help="First date to grade."),
    end: str | None = typer.Option(None, "--end", help="Last date (default: --date)."),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Write actual strikeouts and win/loss/push next to each prediction."""
    from kcast.grading import grade_dates

    wh = get_warehouse(warehouse)
    rows = grade_dates(wh, parse_date(date), parse_date(end) if end else None)
    if rows.empty:
        console.print("nothing to grade: no predictions with results for those dates")
        return
    table = Table("system", "graded", "MAE", "bets", "wins", "losses", "pushes")
    for system_id, g in rows.groupby("system_id"):
        mae = (g["predicted_strikeouts"].astype(float) - g["actual"].astype(float)).abs().mean()
        table.add_row(
            system_id,
            str(len(g)),
            f"{mae:.3f}",
            str(int(g["result"].isin(["win", "loss", "push"]).sum())),
            str(int((g["result"] == "win").sum())),
            str(int((g["result"] == "loss").sum())),
            str(int((g["result"] == "push").sum())),
        )
    console.print(table)


def backtest(
    start: str = typer.Option(..., "--start", help="First day."),
    end: str = typer.Option(..., "--end", help="Last day."),
    retrain_days: int = typer.Option(30, "--retrain-days", help="Refit the models every N days."),
    system: list[str] = typer.Option([], "--system", help="Only these systems (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object for scripts."),
    calibration: bool = typer.Option(False, "--calibration", help="Print calibration tables."),
    write: bool = typer.Option(False, "--write", help="Store the predictions, graded."),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Walk-forward backtest over the real lines in the warehouse."""
    from kcast.backtest import run_backtest, write_backtest

    wh = get_warehouse(warehouse, read_only=not write)
    if as_json:
        result = run_backtest(wh, parse_date(start), parse_date(end), system or None, retrain_days)
    else:
        with progress_bar("walk-forward blocks") as update:
            result = run_backtest(
                wh,
                parse_date(start),
                parse_date(end),
                system or None,
                retrain_days,
                progress=update,
            )
    if write:
        write_backtest(wh, result)
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=float))
        return
    table = Table(title=f"backtest {result.start} to {result.end}", title_justify="left")
    for col in (
        "system",
        "n",
        "MAE",
        "RMSE",
        "log loss",
        "Brier",
        "bets",
        "win rate",
        "ROI",
        "CLV",
    ):
        table.add_column(col, justify="left" if col == "system" else "right")

    def fmt(v, spec: str) -> str:  # noqa: ANN001
        return "-" if v is None else format(v, spec)

    for system_id, m in result.metrics.items():
        if system_id in ("red_flags", "projection"):
            continue
        table.add_row(
            system_id,
            fmt(m.get("n"), ","),
            fmt(m.get("mae"), ".3f"),
            fmt(m.get("rmse"), ".3f"),
            fmt(m.get("log_loss"), ".4f"),
            fmt(m.get("brier"), ".4f"),
            fmt(m.get("bets"), ","),
            fmt(m.get("win_rate"), ".3f"),
            fmt(m.get("roi"), "+.3f"),
            fmt(m.get("clv"), "+.4f"),
        )
    console.print(table)
    models = [(k, m) for k, m in result.metrics.items() if "model_log_loss" in m]
    if models:
        extra = Table(
            "system",
            "MAE (median)",
            "MAE all starts",
            "model-alone log loss",
            "P(K<=2) stated",
            "observed",
            title="more",
            title_justify="left",
        )
        for system_id, m in models:
            extra.add_row(
                system_id,
                fmt(m.get("mae_median"), ".3f"),
                fmt(m.get("mae_all_starts"), ".3f"),
                fmt(m.get("model_log_loss"), ".4f"),
                fmt(m.get("p_k_le_2"), ".3f"),
                fmt(m.get("observed_k_le_2"), ".3f"),
            )
        console.print(extra)
    cal = Table(
        "system",
        "largest decile gap",
        "deciles off by > 3 pts",
        "Hosmer-Lemeshow p",
        title="calibration of the stated P(over) (deciles of 100+)",
        title_justify="left",
    )
    for system_id, m in result.metrics.items():
        if "calibration_p" in m:
            cal.add_row(
                system_id,
                fmt(m.get("calibration_max_gap"), ".3f"),
                fmt(m.get("deciles_over_3pts"), "d"),
                fmt(m.get("calibration_p"), ".3f"),
            )
    console.print(cal)
    if "projection" in result.metrics:
        p = result.metrics["projection"]
        console.print(
            f"projection shipped with the lines: n {p['n']}, MAE {p['mae']:.3f} "
            f"(the line's MAE on the same games {p['line_mae_same_games']:.3f})"
        )
    if "red_flags" in result.metrics:
        flags = Table(
            "red flag",
            "starts",
            "early hooks (<9 outs)",
            "mean K",
            title="red flags",
            title_justify="left",
        )
        for name, r in result.metrics["red_flags"].items():
            flags.add_row(
                name, f"{r['n']:,}", f"{r['early_hook_rate']:.3f}", f"{r['mean_strikeouts']:.2f}"
            )
        console.print(flags)
    for note in result.notes:
        console.print(f"[dim]{note}[/]")
    console.print(
        f"[dim]timings: {', '.join(f'{k} {v:.1f}s' for k, v in result.timings.items())}[/]"
    )
    if calibration:
        for system_id, rows in result.calibration.items():
            t = Table(
                "decile",
                "n",
                "stated P(over)",
                "observed",
                "gap",
                title=f"calibration: {system_id}",
                title_justify="left",
            )
            for r in rows:
                t.add_row(
                    str(r["bin"]),
                    str(r["n"]),
                    f"{r['stated']:.3f}",
                    f"{r['observed']:.3f}",
                    f"{r['gap']:+.3f}",
                )
            console.print(t)
