"""Look-ahead: an active model trained on games after the day it predicts has seen that day's
results. ``kcast predict`` prints the warning; the Python API warns (``LookAheadWarning``)."""

from __future__ import annotations

import datetime as dt

from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement


def late_models(wh: Warehouse, day: dt.date) -> list[str]:
    """One sentence per active model trained on games after ``day`` (a replay that saw its
    own results), saying how to replay honestly."""
    late = wh.query(statement("models_trained_after"), {"d": day})
    return [
        f"{r['system_id']} was trained on games up to {str(r['trained_through'])[:10]}, after "
        f"{day}: this replay has seen its own results. For an honest replay run `kcast train "
        f"--through {day}` first."
        for r in late.to_dict("records")
    ]
