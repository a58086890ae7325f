"""Every rule of kcast's decisions, in one place.

The numbers that turn a distribution into a pick (red-flag thresholds and the confidence they
cost, the ensemble's agreement bands and its bonus and penalty, the healthy agreement share, the
default edge and confidence thresholds) live here and nowhere else. Python imports them; the SQL
views and queries receive them as generated constants or bind parameters
(``kcast.warehouse.sql_constants``), so changing a rule here changes it everywhere.
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------------
# Red flags: their names, what raises them, and what they cost
# --------------------------------------------------------------------------------------------

SHORT_REST: Final = "short_rest"
OPENER: Final = "opener_or_bulk"
LOW_PITCH_COUNT: Final = "low_pitch_count"
THIN_HISTORY: Final = "thin_history"
NO_LINE: Final = "no_line"
NO_ODDS: Final = "no_odds"
MEMBER_MISSING: Final = "member_missing"
LINEUP_PROJECTED: Final = "lineup_projected"  # no confirmed lineup: the team's latest one
LINEUP_UNAVAILABLE: Final = "lineup_unavailable"  # no lineup at all: team-level rates

SHORT_REST_DAYS: Final = 4  # fewer days since the last start than a normal turn
OPENER_OUTS: Final = 9.0  # recent starts averaging under three innings
OPENER_SHORT_STARTS: Final = 2  # this many short starts in the last five
OPENER_RELIEF_SHARE: Final = 0.8  # a reliever last season (share of relief appearances)
OPENER_FEW_STARTS: Final = 3  # ... with fewer career starts than this
LOW_PITCHES: Final = 75.0  # a last start, or recent average, under this many pitches
THIN_STARTS: Final = 5  # fewer career starts than this

# A bet on the over is refused outright under these flags; every flag lowers confidence.
BLOCKS_OVER: Final = frozenset({SHORT_REST, OPENER, LOW_PITCH_COUNT})
CONFIDENCE_PENALTY: Final = {
    THIN_HISTORY: 0.85,
    SHORT_REST: 0.9,
    OPENER: 0.9,
    LOW_PITCH_COUNT: 0.9,
    MEMBER_MISSING: 0.95,
    LINEUP_PROJECTED: 0.95,
    LINEUP_UNAVAILABLE: 0.9,
}

# --------------------------------------------------------------------------------------------
# Agreement between systems (the ensemble's rules and the monitoring views)
# --------------------------------------------------------------------------------------------

AGREE_WITHIN: Final = 1.0  # a spread of predictions up to this many K is agreement (strong)
DISAGREE_OVER: Final = 2.0  # a spread above this many K is disagreement (weak)
AGREE_BONUS: Final = 1.10  # confidence multiplier when the members agree
DISAGREE_PENALTY: Final = 0.85  # confidence multiplier when they disagree
AGREEMENT_MIN_SHARE: Final = 0.70  # healthy: at least this share of starters strong or moderate
AGREEMENT_WARN_SHARE: Final = 0.80  # below this share, a warning

# --------------------------------------------------------------------------------------------
# Decision thresholds (defaults of MLB_MIN_EDGE and MLB_MIN_CONFIDENCE)
# --------------------------------------------------------------------------------------------

MIN_EDGE: Final = 0.5  # predicted strikeouts must clear the line by this many
MIN_CONFIDENCE: Final = 60.0  # and the confidence (0-100) reach this

# --------------------------------------------------------------------------------------------
# The ensemble's default member weights (MLB_ENSEMBLE_V1_WEIGHT, MLB_ENSEMBLE_V1_6_WEIGHT)
# --------------------------------------------------------------------------------------------

ENSEMBLE_V1_WEIGHT: Final = 0.3
ENSEMBLE_V1_6_WEIGHT: Final = 0.5
# ensemble_v2's starting weight of v2_matchup (its weights are then learned walk-forward)
ENSEMBLE_V2_MATCHUP_WEIGHT: Final = 0.5


def agreement_band(spread: float) -> str:
    """``strong``, ``moderate`` or ``weak`` for a spread (max - min) of predicted strikeouts."""
    if spread <= AGREE_WITHIN:
        return "strong"
    if spread <= DISAGREE_OVER:
        return "moderate"
    return "weak"


# --------------------------------------------------------------------------------------------
# Bets a bettor can take (kcast.market, kcast.bets)
# --------------------------------------------------------------------------------------------

DEVIG_METHODS: Final = ("multiplicative", "additive", "power", "shin")
# The default de-vig method, chosen by measured log loss on 2022 and 2025 (docs/results.md).
DEVIG_METHOD: Final = "multiplicative"
# Books' weights in the fair price: exp(-scale * excess log loss), the excess shrunk by this many
# lines (a book 0.005 worse per line than the pool, on many lines, weighs exp(-1)).
BOOK_WEIGHT_SCALE: Final = 200.0
BOOK_WEIGHT_PRIOR_LINES: Final = 300
# A price no sportsbook posts: American odds beyond +/-MAX_ABS_ODDS (an implied probability under
# 1% or over 99%), or a two-sided quote whose no-vig P(over) falls outside MIN_FAIR_P..MAX_FAIR_P,
# or whose two implied probabilities sum to less than MIN_BOOK_SUM (a sure profit: +9000 on both
# sides; the real files' lowest sum is 0.986). Refused at ingest (kcast.data.lines,
# kcast.data.odds_api), never bet on (kcast.market).
MAX_ABS_ODDS: Final = 10_000
MIN_FAIR_P: Final = 0.01
MAX_FAIR_P: Final = 0.99
MIN_BOOK_SUM: Final = 0.9
# A bet is taken only when its expected value per unit at the best price reaches this.
MIN_BET_EV: Final = 0.02
# Stakes: this fraction of the Kelly stake, at most MAX_STAKE_BET of the bankroll on one bet
# and MAX_STAKE_DAY on one day (the day's stakes scaled down together to fit).
KELLY_FRACTION: Final = 0.25
MAX_STAKE_BET: Final = 0.02
MAX_STAKE_DAY: Final = 0.10
# A webhook alert (kcast.webhook_alerts) when the price of a bet's line and side at its book
# moves this far (implied probability, either way) from the price taken.
PRICE_MOVE_POINTS: Final = 0.03
# Edge buckets of the bets views: EV per unit at the price taken, bucket edges.
EV_BUCKET_SMALL: Final = 0.05
EV_BUCKET_LARGE: Final = 0.10

# --------------------------------------------------------------------------------------------
# The edge gate (kcast.gate): a betting rule bets only while its own record shows an edge
# --------------------------------------------------------------------------------------------

# A rule (strategy x system x decision time x main or alternate rung) is live only when at least
# this many of its picks (bets and leans) of games before the day are graded against the fair
# close ...
GATE_MIN_BETS: Final = 150
# ... and the 95% interval of their mean EV against the fair close lies above zero.
GATE_CONFIDENCE: Final = 0.95
# Picks older than this many days before the day decided do not count (books and models change).
GATE_LOOKBACK_DAYS: Final = 365
# Resamples of every bootstrap interval kcast reports (the gate's and the backtest's).
BOOTSTRAP_RESAMPLES: Final = 2000

# --------------------------------------------------------------------------------------------
# When lineups are known (kcast.market.DecisionTime.lineup_posted)
# --------------------------------------------------------------------------------------------

# Historical posting times of lineups are not in the data: a lineup counts as posted this many
# hours before first pitch (teams post them about three to four hours before).
LINEUP_POSTED_HOURS: Final = 3.0
