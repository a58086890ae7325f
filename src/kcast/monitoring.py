"""Monitoring: the ready-made queries over the warehouse's views, and the daily status checks.

The six views (``kcast/sql/views``: daily_coverage, graded_predictions, system_agreement,
todays_picks, system_performance, system_error_drift) are created by the migrations, with the
policy constants they use rendered in (``kcast.warehouse.sql_constants``). The twenty-two queries
(``kcast/sql/queries``) read them and the predictions table; each file starts with a comment
saying what it answers and which parameters it takes. ``$date`` defaults to the latest game
date with predictions, ``$system`` to the primary system (``MLB_PRIMARY_SYSTEM``, the system
whose picks are shown). ``daily_status`` runs the original system's daily checks: every active
system predicted every pitcher, the systems mostly agree, and the primary system made its picks.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd

from kcast import policy
from kcast.config import get_settings
from kcast.errors import InputError
from kcast.systems.registry import active_ids
from kcast.warehouse import Warehouse
from kcast.warehouse.migrations import select_view, view_sql
from kcast.warehouse.sources import double_starts, duplicate_games
from kcast.warehouse.sql_constants import render

VIEWS = (
    "daily_coverage",
    "graded_predictions",
    "system_agreement",
    "todays_picks",
    "system_performance",
    "system_error_drift",
    "bet_ledger",
    "bet_performance",
)
# The parameters kcast fills in for a saved query.
QUERY_PARAMS = ("date", "system")

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_HEADER = re.compile(r"^--\s*([a-z0-9_]+):\s*(.+)$")


@dataclass(frozen=True)
class SavedQuery:
    """One file of ``kcast/sql/queries``."""

    name: str
    question: str
    description: str
    params: tuple[str, ...]
    sql: str


def _parse_query(name: str, text: str) -> SavedQuery:
    lines = text.splitlines()
    header = []
    for line in lines:
        if not line.startswith("--"):
            break
        header.append(line.removeprefix("--").strip())
    first = _HEADER.match(lines[0]) if lines else None
    if first is None or first.group(1) != name:
        raise InputError(
            f"query file {name}.sql must start with '-- {name}: <the question it answers>'"
        )
    body = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    params = tuple(dict.fromkeys(_PARAM.findall(body)))
    return SavedQuery(name, first.group(2).strip(), "\n".join(header), params, text)


def load_queries() -> dict[str, SavedQuery]:
    """Every saved query, by name."""
    folder = resources.files("kcast") / "sql" / "queries"
    queries = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            name = entry.name.removesuffix(".sql")
            text = render(entry.read_text(encoding="utf-8"), f"query {name}")
            queries[name] = _parse_query(name, text)
    return queries


def get_query(name: str) -> SavedQuery:
    """The saved query called ``name``; an ``InputError`` listing the queries and views (and
    the nearest name) if none is."""
    queries = load_queries()
    try:
        return queries[name]
    except KeyError:
        near = difflib.get_close_matches(name, [*queries, *VIEWS], n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        raise InputError(
            f"unknown query {name!r}; {hint}`kcast query --list` shows them: "
            f"{', '.join(queries)}; and the views: {', '.join(VIEWS)}"
        ) from None


def view_questions() -> dict[str, str]:
    """Each monitoring view and what it holds (its file's first comment line)."""
    out = {}
    for name, sql in view_sql().items():
        if name in VIEWS:
            first = sql.splitlines()[0].removeprefix("--").strip()
            out[name] = first.split(":", 1)[1].strip() if ":" in first else first
    return out


def latest_prediction_date(wh: Warehouse) -> dt.date | None:
    """The latest game date with a prediction, or None for an empty table."""
    value = wh.query("SELECT MAX(game_date) AS d FROM pitcher_strikeout_predictions")["d"].iloc[0]
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


@dataclass
class QueryResult:
    name: str
    params: dict[str, Any]
    frame: pd.DataFrame


def primary_system() -> str:
    """The system whose picks are shown (``MLB_PRIMARY_SYSTEM``)."""
    return get_settings().primary_system


def query_params(
    wh: Warehouse, query: SavedQuery, date: dt.date | None = None, system: str | None = None
) -> dict[str, Any]:
    """The bind parameters a saved query takes: ``$date`` (default: the latest game date with
    predictions) and ``$system`` (default: the primary system, ``MLB_PRIMARY_SYSTEM``)."""
    unknown = [p for p in query.params if p not in QUERY_PARAMS]
    if unknown:
        raise InputError(f"query {query.name} takes ${unknown[0]}, which kcast cannot supply")
    params: dict[str, Any] = {}
    if "date" in query.params:
        params["date"] = date or latest_prediction_date(wh)
    if "system" in query.params:
        params["system"] = system or primary_system()
    return params


def run_query(
    wh: Warehouse, name: str, date: dt.date | None = None, system: str | None = None
) -> QueryResult:
    """Run a saved query with its parameters filled in (:func:`query_params`)."""
    query = get_query(name)
    params = query_params(wh, query, date, system)
    return QueryResult(name, params, wh.query(query.sql, params))


def run_view(wh: Warehouse, view: str) -> pd.DataFrame:
    """Every row of one of the monitoring views."""
    if view not in VIEWS:
        raise InputError(f"unknown view {view!r}; the views are: {', '.join(VIEWS)}")
    return wh.query(select_view(view))


# --------------------------------------------------------------------------------------------
# Daily status
# --------------------------------------------------------------------------------------------

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str
    detail: str


@dataclass
class StatusReport:
    date: dt.date | None
    active_systems: list[str]
    checks: list[Check] = field(default_factory=list)
    picks: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(c.status != FAIL for c in self.checks)


def daily_status(
    wh: Warehouse,
    date: dt.date | None = None,
    active_systems: list[str] | None = None,
    agreement_min: float = policy.AGREEMENT_MIN_SHARE,
    agreement_warn: float = policy.AGREEMENT_WARN_SHARE,
    primary: str | None = None,
) -> StatusReport:
    """The daily checks for ``date`` (default: the latest date with predictions); the picks
    are ``primary``'s (default: ``MLB_PRIMARY_SYSTEM``)."""
    if active_systems is None:
        active_systems = active_ids()
    primary = primary or primary_system()
    date = date or latest_prediction_date(wh)
    report = StatusReport(date, list(active_systems))
    report.checks.append(games_check(wh))
    per_system = wh.query(
        "SELECT system_id, COUNT(*) AS n FROM pitcher_strikeout_predictions WHERE game_date = $d "
        "GROUP BY system_id ORDER BY system_id",
        {"d": date},
    )
    rows = dict(zip(per_system["system_id"], per_system["n"].astype(int), strict=True))
    if not rows:
        detail = (
            f"no predictions stored for {date}: did `kcast predict --date {date}` run?"
            if date
            else "the warehouse holds no predictions yet"
        )
        report.checks.append(Check("predictions", FAIL, detail))
        return report
    report.checks.append(
        Check("predictions", PASS, f"{sum(rows.values())} rows from {len(rows)} systems")
    )
    report.checks.append(_coverage_check(wh, date, active_systems, rows))
    report.checks.append(_agreement_check(wh, date, agreement_min, agreement_warn))
    picks = run_query(wh, "picks_today", date, primary).frame
    report.picks = picks
    report.checks.append(_picks_check(wh, date, primary, active_systems, rows, picks))
    report.checks.append(_grading_check(wh, date))
    return report


def games_check(wh: Warehouse, first: dt.date | None = None, last: dt.date | None = None) -> Check:
    """Every game stored once: no two games of the same two teams, date and game number, and no
    pitcher the starter of two games on one date (between ``first`` and ``last``; default:
    every stored game). A duplicate would show its starters, cards and bets twice."""
    games = duplicate_games(wh, first, last)
    starts = double_starts(wh, first, last)
    if games.empty and starts.empty:
        return Check("games", PASS, "every game stored once, one start per pitcher and date")
    return Check("games", FAIL, describe_duplicates(games, starts))


def describe_duplicates(games: pd.DataFrame, starts: pd.DataFrame) -> str:
    """What ``games_check`` found, in a line: counts and the first few of each."""
    parts = []
    if len(games):
        first = [
            f"{pd.Timestamp(r.game_date).date()} {r.away_team} at {r.home_team} game "
            f"{r.game_number}: {r.game_ids}"
            for r in games.head(3).itertuples()
        ]
        parts.append(f"{len(games)} games stored twice ({'; '.join(first)})")
    if len(starts):
        first = [
            f"{pd.Timestamp(r.game_date).date()} pitcher {r.pitcher_id}: {r.game_ids}"
            for r in starts.head(3).itertuples()
        ]
        parts.append(f"{len(starts)} pitcher-dates with two starts ({'; '.join(first)})")
    return (
        "; ".join(parts)
        + ": their starters, cards and bets would count twice (docs/operations.md, "
        "'One game, two ids')"
    )


def _coverage_check(wh: Warehouse, date: dt.date, active: list[str], rows: dict[str, int]) -> Check:
    cov = run_query(wh, "coverage_today", date).frame.iloc[0]
    pitchers = int(cov["pitchers"])
    lo, hi = int(cov["min_systems_per_pitcher"]), int(cov["max_systems_per_pitcher"])
    detail = (
        f"{pitchers} pitchers; systems per pitcher min {lo}, max {hi}; "
        f"{len(active)} active ({', '.join(active)})"
    )
    gaps = [
        f"{s} missing for {pitchers - rows.get(s, 0)}" for s in active if rows.get(s, 0) < pitchers
    ]
    extra = sorted(set(rows) - set(active))
    if extra:
        detail += f"; also stored, not active: {', '.join(extra)}"
    if lo == hi == len(active) and not gaps:
        return Check("coverage", PASS, detail)
    return Check("coverage", FAIL, detail + "; " + "; ".join(gaps or ["systems per pitcher vary"]))


def _agreement_check(wh: Warehouse, date: dt.date, minimum: float, warn: float) -> Check:
    agree = run_query(wh, "agreement_today", date).frame
    if agree.empty or int(agree["pitchers_compared"].iloc[0]) == 0:
        return Check("agreement", FAIL, "no pitcher was predicted by two or more systems")
    row = agree.iloc[0]
    share = float(row["strong_or_moderate_share"])
    detail = (
        f"strong {int(row['strong'])}, moderate {int(row['moderate'])}, weak {int(row['weak'])} "
        f"of {int(row['pitchers_compared'])}; strong+moderate {share:.1%} "
        f"(must be above {minimum:.0%}, warn under {warn:.0%})"
    )
    if share <= minimum:
        return Check("agreement", FAIL, detail)
    return Check("agreement", WARN if share < warn else PASS, detail)


def _picks_check(
    wh: Warehouse,
    date: dt.date,
    primary: str,
    active: list[str],
    rows: dict[str, int],
    picks: pd.DataFrame,
) -> Check:
    if primary not in active:
        return Check(
            "picks", WARN, f"{primary} (MLB_PRIMARY_SYSTEM) is not an active system: no picks"
        )
    n = rows.get(primary, 0)
    if n == 0:
        return Check("picks", FAIL, f"{primary} stored no predictions for {date}")
    sides = picks["recommendation"].value_counts().to_dict() if len(picks) else {}
    missing = wh.query(
        "SELECT COUNT(*) AS n FROM pitcher_strikeout_predictions "
        "WHERE game_date = $d AND system_id = $s AND ',' || COALESCE(red_flags, '') || ',' LIKE $f",
        {"d": date, "s": primary, "f": f"%,{policy.MEMBER_MISSING},%"},
    )["n"].iloc[0]
    decisions = picks["decision"].value_counts().to_dict() if len(picks) else {}
    detail = (
        f"{decisions.get('bet', 0)} bets and {decisions.get('lean', 0)} leans "
        f"({sides.get('OVER', 0)} OVER, {sides.get('UNDER', 0)} UNDER) "
        f"from {n} {primary} predictions"
    )
    if int(missing):
        return Check("picks", WARN, detail + f"; {int(missing)} made without a member")
    return Check("picks", PASS, detail)


def _grading_check(wh: Warehouse, date: dt.date) -> Check:
    rows = run_query(wh, "ungraded_predictions", date).frame
    on_date = rows[pd.to_datetime(rows["game_date"]).dt.date == date] if len(rows) else rows
    earlier = rows.drop(on_date.index) if len(rows) else rows
    gradeable = int(rows["gradeable_now"].sum()) if len(rows) else 0
    if gradeable:
        dates = sorted({pd.Timestamp(d).date().isoformat() for d in rows["game_date"]})
        return Check(
            "grading",
            WARN,
            f"{gradeable} predictions up to {date} can be graded now (`kcast grade --date D` "
            f"for {', '.join(dates[:5])}{' ...' if len(dates) > 5 else ''})",
        )
    waiting = int(on_date["ungraded"].sum()) if len(on_date) else 0
    if len(earlier):
        return Check(
            "grading", WARN, f"{int(earlier['ungraded'].sum())} earlier predictions lack results"
        )
    if waiting:
        return Check("grading", PASS, f"{waiting} predictions wait for the games' results")
    return Check("grading", PASS, "every prediction up to the date is graded")


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: dates as YYYY-MM-DD, timestamps ISO, NaN/NA as None."""
    out = []
    kinds = {c: _kind(frame[c]) for c in frame.columns}
    for row in frame.itertuples(index=False):
        record = {}
        for col, value in zip(frame.columns, row, strict=True):
            record[col] = _json_value(value, kinds[col])
        out.append(record)
    return out


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dropna()
        if series.name and str(series.name).endswith("_at"):
            return "timestamp"
        if len(values) and (values.dt.normalize() == values).all():
            return "date"
        return "timestamp"
    return "other"


def _json_value(value: Any, kind: str) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if kind == "date" else ts.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
