"""``kcast train | predict | grade | backtest``: the prediction systems at work."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from kcast.backtest import run_backtest, write_backtest
from kcast.cli.common import console, get_warehouse, progress_bar
from kcast.config import get_settings
from kcast.context import DecisionContext
from kcast.dates import parse_date
from kcast.decision import market_is_stated
from kcast.forecast import WarehouseSink, forecaster_for
from kcast.gate import gate_for
from kcast.grading import grade_dates
from kcast.market import DecisionTime
from kcast.teams import display_team
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
    wh = get_warehouse(warehouse, read_only=no_write)
    day = parse_date(date)
    context = DecisionContext.from_settings(settings, at, gate_for(wh, day, settings))
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
    print_picks(forecast, settings.primary_system)
    for system_id, error in forecast.errors.items():
        console.print(f"[red]{system_id} did not answer:[/] {error}", highlight=False)
    ledger = forecast.ledger("predict")
    bets = ledger[ledger["status"] == "bet"] if len(ledger) else ledger
    shown = print_bets(forecast, bets, settings.primary_system, context.at.label)
    print_leans(forecast, ledger, settings.primary_system, context)
    print_summary(forecast, shown, stored=not no_write)


def warn_late_models(wh: Warehouse, day: dt.date) -> None:
    """Warn about active models trained on games after ``day`` (a replay that saw its own
    results)."""
    late = wh.query(statement("models_trained_after"), {"d": day})
    for r in late.to_dict("records"):
        console.print(
            f"[yellow]warning:[/] {r['system_id']} was trained on games up to "
            f"{str(r['trained_through'])[:10]}, after {day}: this replay has seen its own results. "
            f"For an honest replay run `kcast train --through {day}` first.",
            highlight=False,
        )


BOOK_SHORT = {
    "DraftKings": "DK",
    "FanDuel": "FD",
    "BetMGM": "MGM",
    "Caesars": "CZR",
    "BetRivers": "BR",
    "Fanatics": "FAN",
    "consensus": "cons",
    "request": "req",
}
AT_WORDS = {"now": "odds as of now", "open": "opening odds", "close": "closing odds"}


def pass_reason(reasons: str | None, flags: str | None) -> str:
    """One short reason for a PASS, from the decision's reasons and the red flags."""
    reasons, flags = reasons or "", flags or ""
    if "no_line" in flags or reasons == "no line":
        return "no line"
    if "no_odds" in flags:
        return "no price"
    if "red flag" in reasons:
        return "red flag"
    if "edge " in reasons:
        return "no edge"
    if "no value at" in reasons:
        return "no value at price"
    if "confidence" in reasons:
        return "low confidence"
    return "no bet"


def pick_reason(row: dict) -> str:
    """A short reason for a pick: a bet at another line or book names its rung and price, a
    bet or lean at the card's line its edge and EV, a PASS its reason."""
    side = row["recommendation"]
    if side not in ("OVER", "UNDER"):
        return pass_reason(row["reasons"], row["red_flags"])
    if row.get("decision") == "bet" and (row.get("alternate_line") or row.get("other_book")):
        book = BOOK_SHORT.get(row["decision_book"], str(row["decision_book"] or "")[:4])
        return (
            f"bet {side} {row['decision_line']:g} {row['decision_odds']:+.0f} {book}, "
            f"EV {row['decision_ev']:+.2f}"
        )
    if row["expected_value"] is None or pd.isna(row["expected_value"]):
        return pass_reason(row["reasons"], row["red_flags"])
    return f"edge {row['edge']:+.1f}, EV {row['expected_value']:+.2f}"


def short_name(name: object, pitcher_id: int) -> str:
    """'Gerrit Cole' -> 'G. Cole' (the id when the name is unknown)."""
    if not isinstance(name, str) or not name.strip():
        return str(pitcher_id)
    parts = name.split()
    return name if len(parts) == 1 else f"{parts[0][0]}. {' '.join(parts[1:])}"


def _num(value: object, spec: str) -> str:
    return "-" if value is None or pd.isna(value) else format(value, spec)


def _picks(result, system: str) -> pd.DataFrame:  # noqa: ANN001
    """A system's rows of the slate with the pitcher's short name and the opponent as MLB
    spells it (``name``, ``opp``)."""
    frame = result.frame()
    rows = frame[frame["system_id"] == system].copy()
    names = result.features.drop_duplicates(["game_id", "pitcher_id"]).set_index(
        ["game_id", "pitcher_id"]
    )
    rows["name"] = [
        short_name(names["pitcher_name"].get((g, p)) if "pitcher_name" in names else None, p)
        for g, p in zip(rows["game_id"], rows["pitcher_id"], strict=True)
    ]
    rows["opp"] = [
        ("" if home else "@") + display_team(team, day)
        for home, team, day in zip(
            rows["is_home"], rows["opponent"], rows["game_date"], strict=True
        )
    ]
    return rows


def print_picks(result, primary: str) -> None:  # noqa: ANN001
    """The day's picks of the primary system, readable at 80 columns: the price and its book,
    the stated P(over) (the system and the market combined) beside the system's own, and a short
    reason for every PASS; a bet at another line or book than the card's says which."""
    if result.frame().empty:
        return
    shown = primary if primary in result.outputs else next(iter(result.outputs))
    rows = _picks(result, shown)
    rows["bet"] = rows["recommendation"].isin(["OVER", "UNDER"])
    rows = rows.sort_values(["bet", "confidence"], ascending=[False, False])
    picks = int(rows["bet"].sum())
    title = (
        f"{result.date}  {shown} at the main line: {plural(picks, 'pick')} of {len(rows)} starters"
    )
    table = Table(
        title=title,
        title_justify="left",
        box=None,
        pad_edge=False,
        header_style="bold",
    )
    for col, justify in (
        ("pitcher", "left"),
        ("opp", "left"),
        ("line", "right"),
        ("price", "left"),
        ("pred", "right"),
        ("P(o)", "right"),
        ("own", "right"),
        ("pick", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)
    table.add_column("why", overflow="fold", ratio=1)
    for r in rows.to_dict("records"):
        side = r["recommendation"]
        lean = side if side != "PASS" else ("OVER" if (r["edge"] or 0) > 0 else "UNDER")
        odds = r["over_odds"] if lean == "OVER" else r["under_odds"]
        book = BOOK_SHORT.get(r["book"], str(r["book"] or "")[:4])
        price = "-" if odds is None or pd.isna(odds) else f"{odds:+.0f} {book}"
        why = pick_reason(r)
        table.add_row(
            r["name"][:16],
            r["opp"],
            _num(r["line"], "g"),
            price,
            _num(r["predicted_strikeouts"], ".1f"),
            _num(r["p_over"], ".2f"),
            _num(r["model_p_over"], ".2f"),
            side,
            why,
        )
    console.print(table)
    blend = result.outputs[shown].blend
    if blend is not None and market_is_stated(blend):
        console.print(
            f"[yellow]P(o) is the market's price, not {shown}'s:[/] no graded lines of it yet, "
            "so it has earned no weight against the market (own: what it says alone).",
            highlight=False,
        )
    console.print(
        "[dim]P(o): P(over) as stated, the system pooled with the market; own: the system's.\n"
        "price: the odds of the side it leans to (over when pred > line) and the book\n"
        "(cons: the books' consensus).[/]",
        highlight=False,
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def print_bets(result, ledger: pd.DataFrame, primary: str, at: str) -> pd.DataFrame:  # noqa: ANN001
    """The primary system's bets, each at the best price over every book and alternate line:
    pitcher, opponent, side and line, the price and its book, P(win), EV and stake. Returns
    the rows shown."""
    shown = primary if primary in result.outputs else next(iter(result.outputs), primary)
    rows = ledger[ledger["system_id"] == shown] if len(ledger) else ledger
    when = AT_WORDS.get(at, f"odds as of {at} ET")
    if rows.empty:
        console.print(f"{shown}: no bet reaches the EV threshold ({when})", highlight=False)
        return rows
    console.print(f"\n{shown}'s bets, best price of all books and lines, {when}")
    table = Table(
        box=None,
        pad_edge=False,
        header_style="bold",
    )
    for col in ("pitcher", "opp", "bet", "price", "P(win)", "EV", "stake"):
        table.add_column(
            col, justify="left" if col in ("pitcher", "opp", "bet", "price") else "right"
        )
    who = {(r["game_id"], r["pitcher_id"]): r for r in _picks(result, shown).to_dict("records")}
    for r in rows.sort_values("ev", ascending=False).to_dict("records"):
        pick = who.get((r["game_id"], r["pitcher_id"]), {})
        book = BOOK_SHORT.get(r["book"], str(r["book"])[:4])
        table.add_row(
            pick.get("name", str(r["pitcher_id"]))[:16],
            pick.get("opp", ""),
            f"{r['side']} {r['line']:g}",
            f"{r['odds']:+.0f} {book}",
            _num(r["p_win"], ".2f"),
            _num(r["ev"], "+.3f"),
            _num(r["stake"], ".2%"),
        )
    console.print(table)
    return rows


def print_leans(result, ledger: pd.DataFrame, primary: str, context: DecisionContext) -> None:  # noqa: ANN001
    """The primary system's leans (picks of rules not live) with each rule's record."""
    shown = primary if primary in result.outputs else next(iter(result.outputs), primary)
    rows = (
        ledger[(ledger["system_id"] == shown) & (ledger["status"] == "lean")]
        if len(ledger)
        else ledger
    )
    if rows.empty:
        return
    console.print(f"\n{shown}'s leans: picks of rules not live (no stake), each with its record")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("pitcher", "bet", "price", "EV", "rule's record"):
        table.add_column(col, justify="right" if col == "EV" else "left")
    who = {(r["game_id"], r["pitcher_id"]): r for r in _picks(result, shown).to_dict("records")}
    for r in rows.sort_values("ev", ascending=False).to_dict("records"):
        pick = who.get((r["game_id"], r["pitcher_id"]), {})
        book = BOOK_SHORT.get(r["book"], str(r["book"])[:4])
        record = context.record_of(shown, r["market"] == "alternate") or "not live"
        table.add_row(
            pick.get("name", str(r["pitcher_id"]))[:16],
            f"{r['side']} {r['line']:g}",
            f"{r['odds']:+.0f} {book}",
            _num(r["ev"], "+.3f"),
            f"{r['market']}: {record}",
        )
    console.print(table)


def print_summary(result, bets: pd.DataFrame, stored: bool) -> None:  # noqa: ANN001
    """One line: N bets of M starters, the total stake, and whether they were stored."""
    starters = result.features.drop_duplicates(["game_id", "pitcher_id"])
    line = f"{result.date}: {plural(len(bets), 'bet')} of {len(starters)} starters"
    if len(bets):
        line += f", total stake {bets['stake'].fillna(0).sum():.2%} of the bankroll"
    console.print(f"[bold]{line}[/]", highlight=False)
    if len(bets):
        console.print(
            f"stored in the ledger (kcast bets --date {result.date})"
            if stored
            else "not stored (--no-write)",
            highlight=False,
        )


def grade(
    date: str = typer.Option(..., "--date", help="First date to grade."),
    end: str | None = typer.Option(None, "--end", help="Last date (default: --date)."),
    warehouse: str | None = WarehouseOpt,
) -> None:
    """Write actual strikeouts and win/loss/push next to each prediction."""
    wh = get_warehouse(warehouse)
    rows = grade_dates(wh, parse_date(date), parse_date(end) if end else None)
    if rows.empty:
        console.print("nothing to grade: no predictions with results for those dates")
        return
    table = Table("system", "graded", "MAE", "bets", "wins", "losses", "pushes")
    for system_id, g in rows.groupby("system_id"):
        mae = (
            (g["predicted_strikeouts"].astype(float) - g["actual_strikeouts"].astype(float))
            .abs()
            .mean()
        )
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
    wh = get_warehouse(warehouse, read_only=not write)
    decision = DecisionTime.parse(at)
    if as_json:
        result = run_backtest(
            wh,
            parse_date(start),
            parse_date(end),
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
                parse_date(start),
                parse_date(end),
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
