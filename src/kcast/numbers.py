"""Small numeric helpers kcast uses everywhere, written once: the missing-value check and the
log-odds transform and its inverse."""

from __future__ import annotations

import math
from typing import overload

import numpy as np
import pandas as pd


def is_missing(value: object) -> bool:
    """True for a value that is not there: None, NaN (Python or numpy), pandas' NA and NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


@overload
def logit(p: float, eps: float | None = None) -> float: ...
@overload
def logit(p: np.ndarray | pd.Series, eps: float | None = None) -> np.ndarray: ...


def logit(p, eps=None):  # noqa: ANN001, ANN201 - floats and arrays alike (see the overloads)
    """log(p / (1 - p)), with ``p`` first clipped to [eps, 1 - eps] when ``eps`` is given. A
    Python float without ``eps`` stays a float (``math.log``); arrays and Series keep their
    kind (``numpy.log``)."""
    if eps is None and isinstance(p, float) and not isinstance(p, np.floating):
        return math.log(p / (1 - p))
    if eps is not None:
        p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))


def expit(z: np.ndarray | float) -> np.ndarray:
    """The logistic function, the inverse of ``logit``."""
    return 1.0 / (1.0 + np.exp(-np.asarray(z, float)))
