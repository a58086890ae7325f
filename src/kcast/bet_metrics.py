"""How bets did, defined once: units, ROI (flat and staked), the win-loss record and CLV.

Every screen that says how bets did takes its numbers from here: ``kcast bets``, ``kcast
grade``, ``kcast run`` and ``predict``, the dashboard's day, pitcher and performance pages, the
Python API, and the SQL views and queries (which receive the same definitions as SQL text,
``UNITS_SQL`` and ``RECORD_SQL``, rendered in by ``warehouse.sql_constants``; a test holds the
two to the same numbers). The definitions:

* **result**: ``win``, ``loss`` or ``push`` once graded (a bet counts as *graded* then);
  ``void`` when the starter did not start (the book returns the stake; a void bet is in no
  figure below but its own count); none before the game.
* **units** of one bet: the profit of a one-unit bet at the price taken: decimal odds - 1 when
  it wins (``odds / 100`` at plus odds, ``100 / -odds`` at minus odds), -1 when it loses, 0 for
  a push.
* **units won**: the sum of the graded bets' units (one unit a bet, whatever the stake).
* **ROI flat**: units won / graded bets: the return of one unit a bet.
* **ROI staked**: profit / staked, where each bet's stake is its share of the bankroll (the
  fractional-Kelly stake it was taken with) and its profit stake x units: the return of the
  stakes as taken.
* **W-L-P**: wins, losses and pushes; **win rate**: wins / (wins + losses).
* **CLV**: the mean closing-line value of the graded bets that have a fair close: the fair
  (no-vig) probability of the side bet at the close minus that when the bet was taken, shown
  in probability points (``+1.20 pts``).

Stakes are shares of the bankroll; ``Bankroll`` turns them into money and units for the
bankroll a user states (``KCAST_BANKROLL``, ``KCAST_UNIT``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

WIN, LOSS, PUSH, VOID = "win", "loss", "push", "void"
GRADED = (WIN, LOSS, PUSH)

# The column headers every table uses (short enough for 80 columns), and what each means: the
# key printed under a table, and the dashboard's titles.
LABELS = {
    "bets": ("bets", "graded bets (win, loss or push)"),
    "wlp": ("W-L-P", "wins, losses, pushes"),
    "units": ("units", "units won at one unit a bet"),
    "roi_flat": ("ROI flat", "units won per bet (one unit a bet)"),
    "roi_staked": ("ROI staked", "profit per unit staked, at the stakes taken"),
    "clv": ("CLV", "mean closing-line value, probability points"),
}


def decimal_odds(odds: float) -> float:
    """Decimal odds (stake included) of American odds."""
    odds = float(odds)
    return 1.0 + (odds / 100.0 if odds > 0 else 100.0 / -odds)


def units(result: Any, odds: Any) -> float:
    """The units of one bet: the profit of a one-unit bet at American ``odds`` given its
    ``result`` (NaN when it is not graded, void, or has no price)."""
    if result not in GRADED or odds is None or (isinstance(odds, float) and math.isnan(odds)):
        return math.nan
    if result == WIN:
        return decimal_odds(odds) - 1.0
    return -1.0 if result == LOSS else 0.0


def units_of(results: pd.Series | list, odds: pd.Series | list) -> np.ndarray:
    """``units`` of each bet."""
    return np.array([units(r, o) for r, o in zip(results, odds, strict=True)], dtype=float)


def result_of_units(values: pd.Series) -> pd.Series:
    """The result of one-unit profits: win above 0, loss below, push at 0, None when NaN."""
    return pd.Series(
        np.select([values.isna(), values > 0, values < 0], [None, WIN, LOSS], PUSH),
        index=values.index,
        dtype=object,
    ).replace({"None": None})


def won_units(side: pd.Series, line: pd.Series, dec: pd.Series, actual: pd.Series) -> pd.Series:
    """Units of bets on ``side`` of ``line`` at decimal odds ``dec`` given the strikeouts
    (NaN before the game): the same numbers as ``units`` of the result they make."""
    a, ln, d = actual.astype(float), line.astype(float), dec.astype(float)
    won = np.where(side == "OVER", a > ln, a < ln)
    out = np.where(a == ln, 0.0, np.where(won, d - 1.0, -1.0))
    return pd.Series(np.where(a.isna(), np.nan, out), index=side.index)


@dataclass(frozen=True)
class Record:
    """How a set of bets did (see the module for each definition)."""

    bets: int = 0
    wins: int = 0
    losses: int = 0
    pushes: int = 0
    voids: int = 0
    units: float | None = None
    roi_flat: float | None = None
    staked: float | None = None
    profit: float | None = None
    roi_staked: float | None = None
    clv: float | None = None  # a probability: 0.012 is +1.2 points
    clv_bets: int = 0

    @property
    def win_rate(self) -> float | None:
        decided = self.wins + self.losses
        return self.wins / decided if decided else None

    @property
    def wlp(self) -> str:
        return f"{self.wins}-{self.losses}-{self.pushes}"

    def cells(self) -> dict[str, str]:
        """The record as table cells, by ``LABELS`` key (``-`` where there is nothing)."""
        return {
            "bets": str(self.bets),
            "wlp": self.wlp,
            "units": fmt(self.units, "+.2f"),
            "roi_flat": fmt(self.roi_flat, "+.1%"),
            "roi_staked": fmt(self.roi_staked, "+.1%"),
            "clv": "-" if self.clv is None else f"{100 * self.clv:+.2f}",
        }

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["win_rate"] = self.win_rate
        return out


def fmt(value: float | None, spec: str) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def record(frame: pd.DataFrame) -> Record:
    """The ``Record`` of bets given as rows with ``result`` and ``odds`` (American), and where
    known ``stake`` (a share of the bankroll) and ``clv``."""
    if frame is None or frame.empty:
        return Record()
    result = frame["result"]
    graded = frame[result.isin(GRADED)]
    n = len(graded)
    u = units_of(graded["result"], graded["odds"])
    priced = ~np.isnan(u)
    out: dict[str, Any] = {
        "bets": n,
        "wins": int((graded["result"] == WIN).sum()),
        "losses": int((graded["result"] == LOSS).sum()),
        "pushes": int((graded["result"] == PUSH).sum()),
        "voids": int((result == VOID).sum()),
    }
    if priced.any():
        out["units"] = float(u[priced].sum())
        out["roi_flat"] = out["units"] / int(priced.sum())
    if "stake" in graded:
        stake = pd.to_numeric(graded["stake"], errors="coerce").to_numpy(float)
        has = priced & ~np.isnan(stake)
        if has.any():
            out["staked"] = float(stake[has].sum())
            out["profit"] = float((stake[has] * u[has]).sum())
            out["roi_staked"] = out["profit"] / out["staked"] if out["staked"] > 0 else None
    if "clv" in graded:
        clv = pd.to_numeric(graded["clv"], errors="coerce").dropna()
        if len(clv):
            out["clv"], out["clv_bets"] = float(clv.mean()), int(len(clv))
    return Record(**out)


def records_by(frame: pd.DataFrame, column: str) -> dict[Any, Record]:
    """A ``Record`` per value of ``column`` (e.g. per system), in the order first met."""
    if frame is None or frame.empty:
        return {}
    return {key: record(g) for key, g in frame.groupby(column, sort=False)}


# --------------------------------------------------------------------------------------------
# Money and units for a stated bankroll
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bankroll:
    """A bettor's bankroll (money) and the size of one unit (money), from ``KCAST_BANKROLL``
    and ``KCAST_UNIT``: a stake, a share of the bankroll, is shown in both."""

    money: float = 1000.0
    unit: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> Bankroll:
        return cls(float(settings.bankroll), float(settings.unit_size))

    def money_of(self, share: float | None) -> float | None:
        return None if share is None or math.isnan(share) else share * self.money

    def units_of(self, share: float | None) -> float | None:
        money = self.money_of(share)
        return None if money is None else money / self.unit

    def stake_text(self, share: float | None) -> str:
        """``1.5 u (15.00)``: a stake in units and money."""
        money = self.money_of(share)
        if money is None:
            return "-"
        return f"{money / self.unit:.1f} u ({money:,.2f})"

    def describe(self) -> str:
        return (
            f"a bankroll of {self.money:,.2f} (KCAST_BANKROLL), one unit {self.unit:,.2f} "
            "(KCAST_UNIT)"
        )


# --------------------------------------------------------------------------------------------
# The same definitions in SQL, for the views and queries (warehouse.sql_constants renders them)
# --------------------------------------------------------------------------------------------

# units of one bet, over a row's ``result`` and American ``odds``
UNITS_SQL = """CASE
        WHEN odds IS NULL THEN NULL
        WHEN result = 'win' AND odds > 0 THEN odds / 100.0
        WHEN result = 'win' THEN 100.0 / (0 - odds)
        WHEN result = 'loss' THEN -1.0
        WHEN result = 'push' THEN 0.0
    END"""

# the win-loss counts of a group of rows with ``result``: graded bets, W-L-P (then the voids),
# and the win rate
COUNTS_SQL = """COUNT(CASE WHEN result IN ('win', 'loss', 'push') THEN 1 END) AS bets,
    COUNT(CASE WHEN result = 'win' THEN 1 END) AS wins,
    COUNT(CASE WHEN result = 'loss' THEN 1 END) AS losses,
    COUNT(CASE WHEN result = 'push' THEN 1 END) AS pushes"""
WIN_RATE_SQL = """COUNT(CASE WHEN result = 'win' THEN 1 END)
        / NULLIF(COUNT(CASE WHEN result IN ('win', 'loss') THEN 1 END), 0) AS win_rate"""

# the record of a group of rows with ``result``, ``units`` (UNITS_SQL), ``stake`` and ``clv``
RECORD_SQL = f"""{COUNTS_SQL},
    COUNT(CASE WHEN result = 'void' THEN 1 END) AS voids,
    {WIN_RATE_SQL},
    COUNT(units) AS priced_bets,
    SUM(units) AS units,
    SUM(units) / NULLIF(COUNT(units), 0) AS roi_flat,
    SUM(CASE WHEN units IS NOT NULL THEN stake END) AS staked,
    SUM(stake * units) AS profit,
    SUM(stake * units) / NULLIF(SUM(CASE WHEN units IS NOT NULL THEN stake END), 0)
        AS roi_staked,
    AVG(CASE WHEN result IN ('win', 'loss', 'push') THEN clv END) AS clv"""
