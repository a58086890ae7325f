"""Values for the worker's answers: warehouse and pipeline values made JSON-safe."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd


def clean(value: Any) -> Any:
    """A JSON-safe Python value: NaN, NA and NaT become None, numpy scalars plain Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def split_flags(value: Any) -> list[str]:
    """Red flags stored comma-separated, as a list."""
    value = clean(value)
    if not value:
        return []
    return [f for f in str(value).split(",") if f]


def as_utc(value: Any) -> dt.datetime | None:
    """A timezone-aware UTC datetime from a naive UTC timestamp (as the warehouse stores)."""
    value = clean(value)
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def as_date(value: Any) -> dt.date:
    """A date from a date, datetime or Timestamp."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    return value
