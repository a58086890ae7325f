"""What every dashboard page shares: its templates and their filters, the date of a page, the
system it shows, bounded caches, and the bankroll its stakes are shown for.

The pages themselves are routes (``routes/day.py``: the day, the phone board and the day's
CSV; ``routes/results.py``: performance, a pitcher, the ledger's CSV; ``routes/dashboard.py``:
static files, the cards' charts and the health page). Their numbers come from
``kcast.day_board`` and ``kcast.bet_metrics``, as the CLI's do.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from fastapi import HTTPException
from fastapi.responses import HTMLResponse

from kcast import __version__
from kcast.bet_metrics import Bankroll
from kcast.dates import parse_day, today
from kcast.service.deps import ServiceState
from kcast.service.values import clean
from kcast.warehouse.statements import statement

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt
    env.filters["odds"] = odds
    env.filters["pct"] = lambda v, spec=".0%": fmt(v, spec)
    env.filters["tojson_safe"] = as_json
    return env


def shown(value: Any) -> Any:
    """A table cell for people: dates as YYYY-MM-DD, times to the minute (UTC), NaN as None."""
    value = clean(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def fmt(value: Any, spec: str = ".2f") -> str:
    value = clean(value)
    if value is None:
        return "–"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def odds(value: Any) -> str:
    value = clean(value)
    return "–" if value is None else f"{value:+.0f}"


def as_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` block (no ``</`` can close it)."""
    text = json.dumps(value, default=_default, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _default(value: Any) -> Any:
    value = clean(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if not isinstance(value, np.generic) else value.item()


def page_html(template_name: str, **values: Any) -> str:
    return _env().get_template(template_name).render(version=__version__, **values)


def render(template_name: str, **values: Any) -> HTMLResponse:
    return HTMLResponse(page_html(template_name, **values))


def page_day(value: str | None, default: dt.date | None = None) -> dt.date:
    """The page's date (``?date=``), else ``default`` (else today, US Eastern); a bad date is a
    400 saying why."""
    if value is None or not value.strip():
        return default or today()
    try:
        return parse_day(value.strip())
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def day_of(state: ServiceState, date: str | None) -> dt.date:
    """A page's date: the one asked for (``?date=``), else the latest day with predictions."""
    return page_day(date, default=None if date else latest_day(state))


def latest_day(state: ServiceState) -> dt.date | None:
    """The latest game date with stored predictions (None in an empty warehouse)."""
    rows = state.warehouse.query(statement("latest_prediction_date"))
    value = clean(rows["d"].iloc[0]) if len(rows) else None
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def primary(state: ServiceState, present: set[str]) -> str | None:
    """The system a page shows: ``MLB_PRIMARY_SYSTEM``, else the first active one present."""
    order = [state.settings.primary_system, *state.active_ids]
    return next((s for s in order if s in present), next(iter(sorted(present)), None))


def bankroll(state: ServiceState) -> Bankroll:
    return Bankroll.from_settings(state.settings)


KEPT_LOCK = threading.Lock()


def keep(cache: OrderedDict, key: Any, value: Any, most: int) -> None:
    """Put ``value`` in a bounded cache, dropping the least recently kept beyond ``most``."""
    with KEPT_LOCK:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > most:
            cache.popitem(last=False)
