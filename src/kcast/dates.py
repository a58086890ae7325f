"""The one date rule of the API, the command line and the library, and the one "today".

A date is YYYY-MM-DD, from the first professional season (1871) on, and at most a year after
today (no slate is known further ahead). Today is the date in US Eastern time, MLB's game
dates, wherever kcast runs (``today``): the daily job, the dashboard and every default date.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from kcast.errors import InputError, quoted

EASTERN = ZoneInfo("America/New_York")  # MLB's game dates are US Eastern dates
FIRST_YEAR = 1871  # the first professional season
LAST_YEAR = 2100
MAX_DAYS_AHEAD = 366  # a date further ahead than this is no slate anyone has yet
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# the same, as the OpenAPI schema tells clients: YYYY-MM-DD from 1871 to 2100
DATE_PATTERN = r"^(187[1-9]|18[89]\d|19\d\d|20\d\d|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in US Eastern time at ``now`` (default: the clock; a naive ``now`` is
    UTC): MLB's game dates."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(EASTERN).date()


def parse_day(value: object, today: dt.date | None = None) -> dt.date:
    """The one date rule of the API and the CLI: a YYYY-MM-DD string (or a date) from
    FIRST_YEAR on and at most MAX_DAYS_AHEAD days after today. ``ValueError`` says why not."""
    day = _iso_date(value)
    if day > date_bounds(today)[1]:
        raise ValueError(
            f"date {day} is more than {MAX_DAYS_AHEAD} days ahead: no slate is known that far out"
        )
    return day


def date_bounds(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The first and the last date of the seasons kcast knows (``parse_day``'s rule): the first
    professional season's January 1st, and MAX_DAYS_AHEAD days after today."""
    today = today or _today()
    return dt.date(FIRST_YEAR, 1, 1), today + dt.timedelta(days=MAX_DAYS_AHEAD)


def parse_date_arg(value: object, what: str = "--date") -> dt.date:
    """``parse_day`` for the command line and the library: ``InputError`` naming the option."""
    try:
        return parse_day(value)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def parse_date(value: object) -> dt.date:
    """A date given to a command or a library call, by the one date rule (``parse_day``);
    ``InputError`` says why not."""
    try:
        return parse_day(value)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _iso_date(value: object) -> dt.date:
    """A YYYY-MM-DD string (or a date) between FIRST_YEAR and LAST_YEAR."""
    if isinstance(value, dt.datetime):
        raise ValueError("give a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"date {value!r} is not a calendar date; use YYYY-MM-DD") from None
    else:
        guess = _guess(value)
        hint = f": did you mean {guess}?" if guess else ""
        raise ValueError(f"date {quoted(value)} does not parse; use YYYY-MM-DD{hint}")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"date {day} is outside {FIRST_YEAR}..{LAST_YEAR}")
    return day


_LOOSE_DATES = (  # forms people type, each read one way only, to suggest the ISO spelling
    (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"), (1, 2, 3)),  # 2025-7-20, 2025/07/20
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), (1, 2, 3)),  # 20250720
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), (3, 1, 2)),  # 7/20/2025 (US order)
)
_NAMED_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}


def _guess(value: object) -> str | None:
    """The ISO spelling of a date typed another common way (``None`` if none fits)."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in _NAMED_DAYS:
        return str(_today() + dt.timedelta(days=_NAMED_DAYS[text]))
    for pattern, (y, m, d) in _LOOSE_DATES:
        match = pattern.fullmatch(text)
        if match:
            try:
                return str(dt.date(int(match[y]), int(match[m]), int(match[d])))
            except ValueError:
                return None
    return None


_today = today  # the names above shadow it inside parse_day
