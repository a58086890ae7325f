"""The market at a decision time: which quotes were known, the fair price from many books, the
best price a bettor can take, and the system's distribution priced on every rung.

A decision is made at a time (``DecisionTime``: the opening snapshot, the close, a clock time in
US Eastern on the game's date, or now) and may use only quotes captured before it
(``quotes_at``). From the books' two-sided quotes of a line the fair P(over) is each book's
de-vigged price (``devig_many``: multiplicative, additive, power or Shin) pooled in log-odds with
weights learned from how well each book predicted on earlier days (``BookWeights``). The best
price of each side is the highest decimal price among the books the user can bet
(``KCAST_BOOKS``); a rung priced on one side only is never de-vigged.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from kcast import numbers
from kcast.dates import EASTERN
from kcast.errors import InputError
from kcast.numbers import expit
from kcast.policy import (
    BOOK_WEIGHT_PRIOR_LINES,
    BOOK_WEIGHT_SCALE,
    DEVIG_METHOD,
    DEVIG_METHODS,
    MAX_ABS_ODDS,
    MAX_FAIR_P,
    MIN_BOOK_SUM,
    MIN_FAIR_P,
)

CONSENSUS = "consensus"  # a feed's average of books: evidence, never a book one can bet
log = logging.getLogger("kcast.market")


# --------------------------------------------------------------------------------------------
# The decision time
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionTime:
    """When a decision is made: ``open``, ``close``, a clock time (US Eastern, on the game's
    date) or ``now`` (live: every quote captured so far).

    ``open`` uses each book's opening snapshot (and single posted prices); ``close`` and ``now``
    every stored quote, the latest first (the rule kcast always used); a clock time the latest
    quote of each book and line captured at or before it."""

    kind: str = "now"
    clock: dt.time | None = None

    @classmethod
    def parse(cls, value: str | DecisionTime | None) -> DecisionTime:
        if isinstance(value, DecisionTime):
            return value
        text = (value or "now").strip().lower()
        if text in ("open", "close", "now"):
            return cls(text)
        try:
            hour, minute = text.split(":")
            return cls("clock", dt.time(int(hour), int(minute)))
        except ValueError:
            raise InputError(
                f"decision time {value!r} does not parse; use open, close, now or HH:MM "
                "(US Eastern)"
            ) from None

    @property
    def label(self) -> str:
        return self.clock.strftime("%H:%M") if self.clock else self.kind

    def cutoff(self, date: dt.date) -> dt.datetime | None:
        """The latest capture time (UTC, naive) a clock-time decision on ``date`` may use."""
        if self.clock is None:
            return None
        local = dt.datetime.combine(date, self.clock, tzinfo=EASTERN)
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    def decided_at(self, date: dt.date, quotes: pd.DataFrame | None = None) -> dt.datetime:
        """When a decision on ``date`` is recorded as made (UTC, naive): the clock time; for
        the open and close the latest capture time among the quotes used; for now, now."""
        if self.clock is not None:
            return self.cutoff(date)  # type: ignore[return-value]
        if self.kind == "now":
            return dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if quotes is not None and "captured_at" in quotes and quotes["captured_at"].notna().any():
            return pd.Timestamp(quotes["captured_at"].max()).to_pydatetime()
        return dt.datetime.combine(date, dt.time(0, 0))


def quotes_at(lines: pd.DataFrame, at: DecisionTime | str | None) -> pd.DataFrame:
    """The quotes of ``lines`` (``pipeline.stored_lines`` rows) known at the decision time.

    ``close``/``now``: every row (ranked as stored: close before posted before open). ``open``:
    the quotes of each start's first snapshot (the earliest capture time among its opening
    quotes; a book that opened later is not yet there, so every quote used was current at one
    instant), and single posted prices. A clock time: rows captured at or before it (a
    row without a capture time counts as an opening or posted price, known from the start),
    those of each start's latest snapshot before it (a quote stored from an earlier snapshot may
    have moved since: the stored files keep only first and last snapshots); they all count as
    the same snapshot."""
    at = DecisionTime.parse(at)
    lines = sane_quotes(lines)
    if lines.empty or at.kind in ("close", "now"):
        # one quote per book and line: its latest (the ranking puts close first)
        ranked = lines.sort_values("snap_rank", kind="stable") if "snap_rank" in lines else lines
        kept = ranked.drop_duplicates(["pitcher_id", "game_date", "book", "line"])
        return lines.loc[lines.index.isin(kept.index)]
    if at.kind == "open":
        return _first_snapshot(lines[lines["snapshot"].isin(["open", "posted"])])
    cut = pd.Series(
        [at.cutoff(d.date()) for d in pd.to_datetime(lines["game_date"])], index=lines.index
    )
    captured = pd.to_datetime(lines["captured_at"]) if "captured_at" in lines else None
    known = (captured <= cut) if captured is not None else pd.Series(False, index=lines.index)
    known |= (captured.isna() if captured is not None else True) & lines["snapshot"].isin(
        ["open", "posted"]
    )
    out = lines[known].copy()
    if captured is not None:
        out["_t"] = pd.to_datetime(out["captured_at"]).fillna(pd.Timestamp("1900-01-01"))
        out = out.sort_values("_t", kind="stable").drop_duplicates(
            ["pitcher_id", "game_date", "book", "line"], keep="last"
        )
        out = out.drop(columns=["_t"])
        out = _latest_snapshot(out)
    out["snap_rank"] = 0
    return out.sort_values(["pitcher_id", "game_date", "snap_rank", "main_rank"], kind="stable")


def closing_quotes(lines: pd.DataFrame) -> pd.DataFrame:
    """The closing quotes of ``lines``: each book's last pre-game snapshot (and single posted
    prices); a book's line with only an opening quote had been taken down by the close."""
    return lines[lines["snapshot"].isin(["close", "posted"])]


def _first_snapshot(lines: pd.DataFrame) -> pd.DataFrame:
    """Each start's quotes captured at its earliest capture time (rows without a capture time
    are kept: a single posted price, or a feed that does not say when)."""
    if "captured_at" not in lines or lines["captured_at"].isna().all():
        return lines
    t = pd.to_datetime(lines["captured_at"])
    first = t.groupby([lines["pitcher_id"], lines["game_date"]]).transform("min")
    return lines[t.isna() | (t == first)]


def _latest_snapshot(lines: pd.DataFrame) -> pd.DataFrame:
    """Each start's quotes captured at its latest capture time (rows without one kept): a
    stored quote from an earlier snapshot may no longer have been on offer."""
    t = pd.to_datetime(lines["captured_at"])
    last = t.groupby([lines["pitcher_id"], lines["game_date"]]).transform("max")
    return lines[t.isna() | (t == last)]


# --------------------------------------------------------------------------------------------
# Prices no sportsbook posts
# --------------------------------------------------------------------------------------------


def _floats(values: object) -> np.ndarray:
    """Numbers as floats, NaN where missing (nullable integers included)."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _bad_side(odds: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        wrong = ~np.isfinite(odds) | (np.abs(odds) > MAX_ABS_ODDS) | (np.abs(odds) < 100)
        return ~np.isnan(odds) & (wrong | (np.mod(odds, 1) != 0))


def insane_prices(over_odds: object, under_odds: object) -> np.ndarray:
    """True where a quote is no price a sportsbook posts: a side that is no American price
    within +/-MAX_ABS_ODDS (a whole number, none between -100 and +100), or a two-sided quote
    whose no-vig P(over) falls outside MIN_FAIR_P..MAX_FAIR_P or whose implied probabilities
    sum to less than MIN_BOOK_SUM (a sure profit). A missing side is no fault."""
    over, under = _floats(over_odds), _floats(under_odds)
    bad = _bad_side(over) | _bad_side(under)
    po, pu = implied(over), implied(under)
    with np.errstate(invalid="ignore", divide="ignore"):
        fair = po / (po + pu)
        wrong = (fair < MIN_FAIR_P) | (fair > MAX_FAIR_P) | (po + pu < MIN_BOOK_SUM)
    two_sided = ~(np.isnan(over) | np.isnan(under) | bad)
    return bad | (two_sided & wrong)


def _number(value: object) -> float | None:
    """A price as a float, None where it is missing (None, NaN, pandas' NA)."""
    if value is None or value is pd.NA:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _shown(odds: float) -> str:
    """American odds as a message shows them (``+120``; ``-1.1e+23`` for a huge number)."""
    return f"{odds:+.0f}" if abs(odds) < 1e15 else f"{odds:+.3g}"


def _implied(odds: float) -> float:
    return 100.0 / (odds + 100.0) if odds > 0 else -odds / (-odds + 100.0)


def price_problem(over_odds: object, under_odds: object) -> str | None:
    """Why one quote is no sportsbook price, in words (None when it is one): the rule of
    ``insane_prices`` for one quote, in plain Python (a request's price is checked with it,
    and pandas would cost more than the request)."""
    over, under = _number(over_odds), _number(under_odds)
    for side, odds in (("over", over), ("under", under)):
        if odds is None:
            continue
        if not math.isfinite(odds) or not 100 <= abs(odds) <= MAX_ABS_ODDS or odds % 1:
            return (
                f"{side} {_shown(odds)} is no sportsbook price (American odds are whole numbers "
                f"from -{MAX_ABS_ODDS} to +{MAX_ABS_ODDS}, none between -100 and +100)"
            )
    if over is None or under is None:
        return None
    po, pu = _implied(over), _implied(under)
    shown = f"over {_shown(over)} / under {_shown(under)} is no sportsbook price"
    if po + pu < MIN_BOOK_SUM:
        return (
            f"{shown}: its implied probabilities sum to {po + pu:.1%}, a sure profit (a book's "
            f"sum at least {MIN_BOOK_SUM:.0%})"
        )
    fair = po / (po + pu)
    if not MIN_FAIR_P <= fair <= MAX_FAIR_P:
        return (
            f"{shown}: its no-vig P(over) {fair:.2%} is outside {MIN_FAIR_P:.0%}..{MAX_FAIR_P:.0%}"
        )
    return None


def sane_quotes(lines: pd.DataFrame) -> pd.DataFrame:
    """``lines`` without the quotes that are no sportsbook price (``insane_prices``): stored by
    a kcast that did not refuse them at ingest, they are skipped with a warning naming the
    first, never priced or bet on."""
    if lines.empty or "over_odds" not in lines or "under_odds" not in lines:
        return lines
    bad = insane_prices(lines["over_odds"], lines["under_odds"])
    if not bad.any():
        return lines
    first = lines[bad].iloc[0]
    _warn_once(
        f"skipped {int(bad.sum())} stored quote(s) that are no sportsbook price, never bet on: "
        f"e.g. pitcher {first.get('pitcher_id')} on {pd.Timestamp(first.get('game_date')).date()}"
        f", {first.get('book')} line {first.get('line')}: "
        f"{price_problem(first.get('over_odds'), first.get('under_odds'))}. Delete them from "
        "prop_lines (kcast ingest refuses such prices now)"
    )
    return lines[~bad]


@lru_cache(maxsize=256)
def _warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time only (one decision reads the quotes of a
    day several times)."""
    log.warning("%s", message)


# --------------------------------------------------------------------------------------------
# De-vig
# --------------------------------------------------------------------------------------------


def implied(odds: np.ndarray) -> np.ndarray:
    """Implied probabilities (with the vig) of American odds; NaN where missing or zero."""
    o = np.asarray(odds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(o > 0, 100.0 / (o + 100.0), -o / (-o + 100.0))
    return np.where(np.isnan(o) | (o == 0), np.nan, p)


def decimal(odds: np.ndarray) -> np.ndarray:
    """Decimal odds (stake included) of American odds; NaN where missing."""
    o = np.asarray(odds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(o > 0, 1.0 + o / 100.0, 1.0 + 100.0 / -o)
    return np.where(np.isnan(o) | (o == 0), np.nan, d)


def _bisect(f, lo: np.ndarray, hi: np.ndarray, steps: int = 60) -> np.ndarray:  # noqa: ANN001
    """The root of an increasing ``f`` between ``lo`` and ``hi``, elementwise."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        above = f(mid) > 0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return (lo + hi) / 2


def devig_many(
    over_odds: np.ndarray, under_odds: np.ndarray, method: str = DEVIG_METHOD
) -> np.ndarray:
    """The fair P(over) of two-sided quotes by ``method``; NaN unless both sides are priced.

    * multiplicative: each side's implied probability divided by their sum;
    * additive: the overround taken equally off each side;
    * power: both implied probabilities raised to the power k that makes them sum to one;
    * shin: Shin's model of a share z of insiders, z solved so the fair prices sum to one.
    """
    po, pu = implied(over_odds), implied(under_odds)
    both = ~(np.isnan(po) | np.isnan(pu))
    po, pu = np.where(both, po, 0.5), np.where(both, pu, 0.5)
    total = po + pu
    if method == "multiplicative":
        fair = po / total
    elif method == "additive":
        fair = po - (total - 1.0) / 2.0
    elif method == "power":
        # p_o^k + p_u^k = 1; the sum falls as k grows (probabilities below one)
        k = _bisect(
            lambda k: 1.0 - (po**k + pu**k),
            np.full_like(po, 0.2),
            np.full_like(po, 5.0),
        )
        fair = po**k
    elif method == "shin":

        def shin_p(z: np.ndarray, p: np.ndarray) -> np.ndarray:
            return (np.sqrt(z**2 + 4 * (1 - z) * p**2 / total) - z) / (2 * (1 - z))

        # the fair prices' sum falls as z grows; find z where it is one
        z = _bisect(
            lambda z: 1.0 - (shin_p(z, po) + shin_p(z, pu)),
            np.zeros_like(po),
            np.full_like(po, 0.5),
        )
        fair = shin_p(z, po) / (shin_p(z, po) + shin_p(z, pu))
    else:
        raise InputError(f"unknown de-vig method {method!r}; use one of {', '.join(DEVIG_METHODS)}")
    return np.where(both, np.clip(fair, 1e-4, 1 - 1e-4), np.nan)


def logit(p: np.ndarray) -> np.ndarray:
    """The log-odds of probabilities, clipped to [1e-6, 1 - 1e-6] (``numbers.logit``)."""
    return numbers.logit(np.asarray(p, float), LOGIT_EPS)


LOGIT_EPS = 1e-6


# --------------------------------------------------------------------------------------------
# Books weighted by their record
# --------------------------------------------------------------------------------------------


@dataclass
class BookWeights:
    """A weight per book for pooling their fair prices: ``exp(-BOOK_WEIGHT_SCALE * excess)``,
    where a book's excess is its mean log loss minus that of the equal-weight pool on the same
    lines, shrunk toward zero by ``BOOK_WEIGHT_PRIOR_LINES`` lines. Learned only from lines
    graded before the day (``fit``); an unknown book weighs 1."""

    weights: dict[str, float] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)

    def of(self, book: str) -> float:
        return self.weights.get(book, 1.0)

    @classmethod
    def fit(cls, graded: pd.DataFrame) -> BookWeights:
        """``graded``: rows of (key, book, fair, over) for main lines of finished games, where
        key names the line (pitcher, date, line) and over is 1/0 (pushes left out)."""
        if graded.empty:
            return cls()
        g = graded.dropna(subset=["fair", "over"]).copy()
        g["ll"] = -(g["over"] * np.log(g["fair"]) + (1 - g["over"]) * np.log(1 - g["fair"]))
        g["z"] = logit(g["fair"].to_numpy())
        pooled = expit(g.groupby("key")["z"].transform("mean").to_numpy())
        g["ll_pool"] = -(g["over"] * np.log(pooled) + (1 - g["over"]) * np.log(1 - pooled))
        g["excess"] = g["ll"] - g["ll_pool"]
        by = g.groupby("book")["excess"].agg(["sum", "count"])
        excess = by["sum"] / (by["count"] + BOOK_WEIGHT_PRIOR_LINES)
        weights = np.exp(-BOOK_WEIGHT_SCALE * excess)
        return cls(weights.to_dict(), by["count"].astype(int).to_dict())


def fair_by_line(
    quotes: pd.DataFrame, method: str = DEVIG_METHOD, weights: BookWeights | None = None
) -> pd.DataFrame:
    """The pooled fair P(over) of every (pitcher, date, line) with a two-sided quote: each book's
    de-vigged price pooled in log-odds by the books' weights. The feed's ``consensus`` is used
    only where no book has a two-sided quote of the line. Columns pitcher_id, game_date, line,
    fair_p_over, n_books."""
    cols = ["pitcher_id", "game_date", "line", "fair_p_over", "n_books"]
    if quotes.empty:
        return pd.DataFrame(columns=cols)
    q = quotes.copy()
    q["fair"] = devig_many(q["over_odds"].to_numpy(float), q["under_odds"].to_numpy(float), method)
    q = q.dropna(subset=["fair"])
    if q.empty:
        return pd.DataFrame(columns=cols)
    key = ["pitcher_id", "game_date", "line"]
    q["is_cons"] = q["book"] == CONSENSUS
    has_book = q.assign(is_book=~q["is_cons"]).groupby(key)["is_book"].transform("max")
    q = q[~q["is_cons"] | ~has_book]
    w = np.array([(weights or BookWeights()).of(b) for b in q["book"]])
    q["wz"] = w * logit(q["fair"].to_numpy())
    q["w"] = w
    agg = q.groupby(key).agg(wz=("wz", "sum"), w=("w", "sum"), n_books=("book", "nunique"))
    agg["fair_p_over"] = expit(agg["wz"] / agg["w"])
    return agg.reset_index()[cols]


def main_lines(fair: pd.DataFrame) -> pd.DataFrame:
    """Per (pitcher, date) the line most books price on both sides (ties: the one nearest an
    even price)."""
    if fair.empty:
        return fair
    f = fair.assign(dist=(fair["fair_p_over"] - 0.5).abs())
    f = f.sort_values(
        ["pitcher_id", "game_date", "n_books", "dist"], ascending=[True, True, False, True]
    )
    return f.drop_duplicates(["pitcher_id", "game_date"]).drop(columns=["dist"])


def best_prices(quotes: pd.DataFrame, books: list[str] | None = None) -> pd.DataFrame:
    """Per (pitcher, date, line, side) the best price among the books one can bet (``books``;
    None: every book but the consensus): columns side, odds, book, dec."""
    cols = ["pitcher_id", "game_date", "line", "side", "odds", "book", "dec"]
    if quotes.empty:
        return pd.DataFrame(columns=cols)
    q = quotes[quotes["book"] != CONSENSUS]
    if books:
        wanted = {b.lower() for b in books}
        q = q[q["book"].str.lower().isin(wanted)]
    parts = []
    for side, col in (("OVER", "over_odds"), ("UNDER", "under_odds")):
        s = q[["pitcher_id", "game_date", "line", "book", col]].dropna(subset=[col])
        s = s.rename(columns={col: "odds"}).assign(side=side)
        parts.append(s)
    both = pd.concat(parts, ignore_index=True)
    if both.empty:
        return pd.DataFrame(columns=cols)
    both["dec"] = decimal(both["odds"].to_numpy(float))
    both = both.sort_values(
        ["pitcher_id", "game_date", "line", "side", "dec"],
        ascending=[True, True, True, True, False],
        kind="stable",
    )
    return both.drop_duplicates(["pitcher_id", "game_date", "line", "side"])[cols].reset_index(
        drop=True
    )


# --------------------------------------------------------------------------------------------
# The system's distribution on every rung
# --------------------------------------------------------------------------------------------


def tilt(pmf: np.ndarray, line: float, p_over: float) -> np.ndarray:
    """``pmf`` exponentially tilted (p_k proportional to pmf_k e^(theta k)) so that P(over
    ``line``), pushes excluded, is ``p_over``: the system's shape, agreeing with the stated
    probability at the main line, so every other rung is priced consistently with it."""
    ks = np.arange(len(pmf))
    base = np.clip(np.asarray(pmf, float), 1e-12, None)
    target = min(max(float(p_over), 1e-4), 1 - 1e-4)

    def cond_over(theta: float) -> float:
        w = base * np.exp(theta * (ks - ks.mean()))
        over, under = w[ks > line].sum(), w[ks < line].sum()
        return over / max(1e-300, over + under)

    lo, hi = -8.0, 8.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cond_over(mid) > target:
            hi = mid
        else:
            lo = mid
    w = base * np.exp((lo + hi) / 2 * (ks - ks.mean()))
    return w / w.sum()


def kelly_fraction(p_win: float, p_lose: float, dec: float) -> float:
    """The Kelly stake (share of the bankroll) of a bet paying ``dec`` (decimal, stake
    included) won with ``p_win``, lost with ``p_lose`` (a push returns the stake)."""
    b = dec - 1.0
    if b <= 0 or p_win + p_lose <= 0:
        return 0.0
    return max(0.0, (p_win * b - p_lose) / (b * (p_win + p_lose)))
