"""The policy numbers and shared SQL pieces that kcast's SQL files receive, rendered in.

A view cannot take bind parameters, so ``kcast/sql/views/*.sql`` (and the saved queries'
comments) name a rule with a placeholder, ``{{AGREE_WITHIN}}``, and :func:`render` writes in its
value from :mod:`kcast.policy` when the view is created (``migrations.migrate``) or the query is
loaded (``monitoring.load_queries``). Changing a rule in ``policy.py`` and running
``kcast warehouse migrate`` changes every view. Run-time choices (the date, the primary system
``MLB_PRIMARY_SYSTEM``) are bind parameters (``$date``, ``$system``), never rendered.

Besides numbers, pieces of SQL are written once: the list of red flags as a one-column table
(``{{RED_FLAGS_TABLE}}``); the units of one bet (``{{UNITS}}``) and the record of a group of
ledger bets (``{{BET_RECORD}}``), both ``kcast.bet_metrics``' definitions; and the bet summary
columns every performance query reports (``{{BET_SUMMARY}}``: bets, wins, losses, pushes,
win_rate, priced_bets, units, roi over rows of the ``graded_predictions`` view, whose ``profit``
is ``{{UNITS}}`` of each row's decision: roi is the flat ROI, units won per priced bet); and the
time windows of the performance views (``{{TIME_WINDOWS}}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kcast import bet_metrics, policy
from kcast.errors import WarehouseError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Z][A-Z0-9_]*)\s*\}\}")

#: Every red flag, in the order monitoring lists them.
RED_FLAGS = (
    policy.SHORT_REST,
    policy.OPENER,
    policy.LOW_PITCH_COUNT,
    policy.THIN_HISTORY,
    policy.NO_LINE,
    policy.NO_ODDS,
    policy.MEMBER_MISSING,
    policy.LINEUP_PROJECTED,
    policy.LINEUP_UNAVAILABLE,
)


def sql_number(value: float) -> str:
    """A number as a SQL literal that reads as a decimal in both dialects (``1.0``, ``0.7``)."""
    text = repr(float(value))
    if "e" in text or "inf" in text or "nan" in text:
        raise WarehouseError(f"{value!r} cannot be written into SQL as a plain decimal")
    return text


def sql_string(value: str) -> str:
    """A string as a single-quoted SQL literal."""
    return "'" + value.replace("'", "''") + "'"


def _red_flags_table() -> str:
    first, *rest = RED_FLAGS
    lines = [f"SELECT {sql_string(first)} AS flag"]
    lines += [f"    UNION ALL SELECT {sql_string(flag)}" for flag in rest]
    return "\n".join(lines)


# The aggregates over rows of graded_predictions (columns result, profit) that say how a set of
# bets did: win_rate = wins / (wins + losses); units and roi (flat: units won per priced bet) only
# over priced bets, as bet_metrics.RECORD_SQL counts them.
BET_SUMMARY = f"""{bet_metrics.COUNTS_SQL},
    {bet_metrics.WIN_RATE_SQL},
    COUNT(profit) AS priced_bets,
    SUM(profit) AS units,
    SUM(profit) / NULLIF(COUNT(profit), 0) AS roi"""


# The time windows a performance view reports, ending at the latest date of its rows: a CTE
# ``windows`` (time_window, window_order, window_start, window_end) over a CTE ``latest``
# (as_of, the latest date; first_date, the earliest) that the view defines before it.
TIME_WINDOWS = """windows AS (
    SELECT
        'last_7_days' AS time_window,
        1 AS window_order,
        CAST(as_of - INTERVAL 6 DAY AS DATE) AS window_start,
        as_of AS window_end
    FROM latest
    UNION ALL
    SELECT 'last_30_days', 2, CAST(as_of - INTERVAL 29 DAY AS DATE), as_of FROM latest
    UNION ALL
    SELECT
        'season',
        3,
        MAKE_DATE(CAST(EXTRACT(YEAR FROM as_of) AS BIGINT), 1, 1),
        as_of
    FROM latest
    UNION ALL
    SELECT 'all', 4, first_date, as_of FROM latest
)"""


UNITS_DEFINITION = (
    "win: decimal odds - 1, i.e. odds / 100 for plus odds and 100 / -odds for minus odds; "
    "loss: -1; push: 0"
)


def constants() -> dict[str, str]:
    """Placeholder name -> the SQL text written in for it."""
    return {
        "AGREE_WITHIN": sql_number(policy.AGREE_WITHIN),
        "DISAGREE_OVER": sql_number(policy.DISAGREE_OVER),
        "AGREEMENT_MIN_SHARE": sql_number(policy.AGREEMENT_MIN_SHARE),
        "AGREEMENT_WARN_SHARE": sql_number(policy.AGREEMENT_WARN_SHARE),
        "EV_BUCKET_SMALL": sql_number(policy.EV_BUCKET_SMALL),
        "EV_BUCKET_LARGE": sql_number(policy.EV_BUCKET_LARGE),
        "RED_FLAGS_TABLE": _red_flags_table(),
        "BET_SUMMARY": BET_SUMMARY,
        "TIME_WINDOWS": TIME_WINDOWS,
        "UNITS": bet_metrics.UNITS_SQL,
        "UNITS_DEFINITION": UNITS_DEFINITION,
        "BET_RECORD": bet_metrics.RECORD_SQL,
    }


def render(sql: str, name: str = "SQL", values: Mapping[str, str] | None = None) -> str:
    """``sql`` with every ``{{NAME}}`` replaced by its constant; unknown names are an error."""
    table = constants() if values is None else values

    def swap(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in table:
            raise WarehouseError(
                f"{name}: unknown placeholder {{{{{key}}}}}; known: {', '.join(sorted(table))}"
            )
        return table[key]

    return PLACEHOLDER.sub(swap, sql)
