"""The market at a decision time: de-vig methods, the pooled fair price, line shopping, the
tilted ladder, Kelly stakes (kcast.market, kcast.bets)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kcast.bet_metrics import won_units
from kcast.bets import (
    BetRules,
    decide_bets,
    judge_by_close,
    max_drawdown,
    stake_bets,
)
from kcast.decisions import line_probabilities
from kcast.errors import InputError
from kcast.market import (
    BookWeights,
    DecisionTime,
    best_prices,
    devig_many,
    fair_by_line,
    implied,
    kelly_fraction,
    ladder_holds,
    main_lines,
    quotes_at,
    tilt,
)
from kcast.policy import DEVIG_METHODS
from kcast.scoring import bootstrap_mean
from kcast.systems.base import SystemOutput

DAY = pd.Timestamp("2025-07-01")


def test_decision_time_parses_and_converts_eastern_to_utc() -> None:
    assert DecisionTime.parse(None).kind == "now"
    assert DecisionTime.parse("open").kind == "open"
    at = DecisionTime.parse("13:05")
    assert at.label == "13:05"
    # 13:05 EDT is 17:05 UTC in July, 18:05 UTC in January (EST)
    assert at.cutoff(dt.date(2025, 7, 1)) == dt.datetime(2025, 7, 1, 17, 5)
    assert at.cutoff(dt.date(2025, 1, 1)) == dt.datetime(2025, 1, 1, 18, 5)
    with pytest.raises(InputError):
        DecisionTime.parse("noon")


@pytest.mark.parametrize("method", DEVIG_METHODS)
def test_every_devig_method_gives_a_fair_pair(method: str) -> None:
    over, under = np.array([-120.0, -150, 110, 100]), np.array([100.0, 120, -130, np.nan])
    fair = devig_many(over, under, method)
    assert np.isnan(fair[3])  # one-sided: never de-vigged
    assert (fair[:3] > 0).all() and (fair[:3] < 1).all()
    # the favourite stays the favourite, and a fair price sits inside the vigged one
    po = implied(over[:3])
    assert fair[0] > 0.5 and fair[2] < 0.5
    assert (fair[:3] < po).all()


def test_methods_differ_on_a_longshot_as_theory_says() -> None:
    over, under = np.array([-300.0]), np.array([230.0])
    mult = devig_many(over, under, "multiplicative")[0]
    add = devig_many(over, under, "additive")[0]
    power = devig_many(over, under, "power")[0]
    shin = devig_many(over, under, "shin")[0]
    # multiplicative leaves the longshot the most; power takes the most off it
    assert power > add > mult
    assert shin == pytest.approx(add, abs=1e-6)  # Shin equals additive for two outcomes


def quote(
    book: str, line: float, over: float | None, under: float | None, snapshot="close", t=None
):
    return {
        "pitcher_id": 1,
        "game_date": DAY,
        "book": book,
        "line": line,
        "over_odds": over,
        "under_odds": under,
        "snapshot": snapshot,
        "captured_at": t,
        "is_main": line == 5.5,
        "snap_rank": {"close": 0, "posted": 1, "open": 2}[snapshot],
        "main_rank": 0 if line == 5.5 else 1,
    }


def test_quotes_at_uses_only_what_was_captured_before() -> None:
    rows = pd.DataFrame(
        [
            quote("DraftKings", 5.5, -110, -110, "open", pd.Timestamp("2025-07-01 14:00")),
            quote("DraftKings", 5.5, -140, 115, "close", pd.Timestamp("2025-07-01 22:00")),
            quote("FanDuel", 5.5, -120, 100, "open", pd.Timestamp("2025-07-01 19:00")),
        ]
    )
    # the open is the start's first snapshot: FanDuel opened five hours later, after news
    # DraftKings' opening price could not have known
    assert list(quotes_at(rows, "open")["over_odds"]) == [-110]
    # the close: one quote per book and line, its latest
    closing = quotes_at(rows, "close").set_index("book")["over_odds"].to_dict()
    assert closing == {"DraftKings": -140, "FanDuel": -120}
    # 12:00 EDT = 16:00 UTC: only DraftKings' opening price exists yet
    noon = quotes_at(rows, "12:00")
    assert list(noon["book"]) == ["DraftKings"] and noon["over_odds"].iloc[0] == -110
    # 19:00 EDT = 23:00 UTC: DraftKings' latest is its 22:00 close; FanDuel's 19:00 quote is
    # from an earlier snapshot (it may have moved since), so only the latest snapshot counts
    late = quotes_at(rows, "19:00")
    assert list(late["book"]) == ["DraftKings"] and late["over_odds"].iloc[0] == -140
    # 15:30 EDT = 19:30 UTC: FanDuel's quote of 19:00 UTC is the latest snapshot
    assert list(quotes_at(rows, "15:30")["book"]) == ["FanDuel"]


def test_fair_price_pools_books_and_ignores_the_feed_where_books_exist() -> None:
    rows = pd.DataFrame(
        [
            quote("DraftKings", 5.5, -120, 100),
            quote("FanDuel", 5.5, -110, -110),
            quote("consensus", 5.5, -300, 200),  # ignored: books priced the line
            quote("BetRivers", 6.5, 150, -190),
            quote("BetRivers", 7.5, 250, None),  # one-sided: de-vigged with the ladder's hold
        ]
    )
    fair = fair_by_line(rows).set_index("line")
    hold = implied(np.array([150.0]))[0] + implied(np.array([-190.0]))[0] - 1.0
    assert ladder_holds(rows)["BetRivers"] == pytest.approx(hold)
    assert fair.loc[7.5, "fair_p_over"] == pytest.approx(implied(np.array([250.0]))[0] / (1 + hold))
    assert fair.loc[7.5, "fair_p_over"] < implied(np.array([250.0]))[0]  # not at face value
    assert np.isnan(fair.loc[7.5, "fair_se"]) and fair.loc[5.5, "fair_se"] > 0
    # a one-sided quote counts only where nobody prices the rung on both sides
    both = pd.concat([rows, pd.DataFrame([quote("DraftKings", 7.5, 240, -330)])])
    dk75 = devig_many(np.array([240.0]), np.array([-330.0]))[0]
    assert fair_by_line(both).set_index("line").loc[7.5, "fair_p_over"] == pytest.approx(dk75)
    dk = devig_many(np.array([-120.0]), np.array([100.0]))[0]
    assert 0.5 < fair.loc[5.5, "fair_p_over"] < dk
    assert fair.loc[5.5, "n_books"] == 2
    assert main_lines(fair.reset_index())["line"].iloc[0] == 5.5
    weighted = fair_by_line(rows, weights=BookWeights({"FanDuel": 0.01})).set_index("line")
    assert weighted.loc[5.5, "fair_p_over"] == pytest.approx(dk, abs=2e-3)


def test_book_weights_favour_the_book_that_predicted_better() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.3, 0.7, 3000)
    over = (rng.uniform(size=3000) < p).astype(float)
    noisy = np.clip(p + rng.normal(0, 0.12, 3000), 0.05, 0.95)
    graded = pd.concat(
        [
            pd.DataFrame({"key": range(3000), "book": "sharp", "fair": p, "over": over}),
            pd.DataFrame({"key": range(3000), "book": "soft", "fair": noisy, "over": over}),
        ]
    )
    w = BookWeights.fit(graded)
    assert w.of("sharp") > 1.0 > w.of("soft")
    assert w.of("unknown") == 1.0


def test_line_shopping_takes_the_best_price_among_the_allowed_books() -> None:
    rows = pd.DataFrame(
        [
            quote("DraftKings", 5.5, -120, 100),
            quote("FanDuel", 5.5, -105, -115),
            quote("consensus", 5.5, 110, 110),  # never a book one can bet
            quote("BetRivers", 7.5, 250, None),
        ]
    )
    best = best_prices(rows).set_index(["line", "side"])
    assert best.loc[(5.5, "OVER"), "book"] == "FanDuel"
    assert best.loc[(5.5, "UNDER"), "book"] == "DraftKings"
    assert best.loc[(7.5, "OVER"), "odds"] == 250 and (7.5, "UNDER") not in best.index
    only_dk = best_prices(rows, ["draftkings"]).set_index(["line", "side"])
    assert set(only_dk["book"]) == {"DraftKings"}


def test_tilt_matches_the_stated_probability_and_keeps_the_ladder_ordered() -> None:
    from scipy.stats import poisson

    pmf = poisson.pmf(np.arange(21), 5.4)
    pmf /= pmf.sum()
    tilted = tilt(pmf, 5.5, 0.40)
    po, pu, _ = line_probabilities(tilted, 5.5)
    assert po / (po + pu) == pytest.approx(0.40, abs=1e-6)
    overs = [line_probabilities(tilted, x)[0] for x in (3.5, 4.5, 5.5, 6.5, 7.5)]
    assert overs == sorted(overs, reverse=True)
    assert tilted.sum() == pytest.approx(1.0)


def test_kelly_with_and_without_a_push() -> None:
    assert kelly_fraction(0.55, 0.45, 2.0) == pytest.approx(0.10)
    assert kelly_fraction(0.45, 0.55, 2.0) == 0.0
    # a push returns the stake: Kelly on the decided mass
    assert kelly_fraction(0.44, 0.36, 2.0) == pytest.approx(0.10)


def test_decide_bets_takes_the_best_rung_and_judges_it_by_the_close() -> None:
    from scipy.stats import poisson

    pmf = poisson.pmf(np.arange(21), 6.5)
    pmf = (pmf / pmf.sum())[None, :]
    frame = pd.DataFrame(
        [
            {
                "game_id": "G1",
                "pitcher_id": 1,
                "game_date": DAY,
                "line": 5.5,
                "p_over": 0.60,
                "p_under": 0.40,
                "red_flags": "",
            }
        ]
    )
    out = {"sys": SystemOutput("sys", frame, pmf, "v")}
    opening = pd.DataFrame(
        [
            quote("DraftKings", 5.5, -110, -110, "open"),
            quote("FanDuel", 5.5, 100, -120, "open"),
            quote("BetRivers", 6.5, 160, -200, "open"),
        ]
    )
    bets = decide_bets(out, opening, BetRules(min_ev=0.0))
    assert len(bets) == 1
    b = bets.iloc[0]
    assert b["side"] == "OVER" and b["bet"]
    assert b["line"] in (5.5, 6.5) and b["book"] in ("FanDuel", "BetRivers")
    assert b["ev"] > 0
    closing = pd.DataFrame(
        [quote("DraftKings", b["line"], -150, 120), quote("FanDuel", b["line"], -145, 115)]
    )
    judged = judge_by_close(bets, closing, BetRules())
    assert judged["fair_p_close"].iloc[0] > 0.5
    assert judged["ev_close"].iloc[0] == pytest.approx(
        judged["fair_p_close"].iloc[0] * judged["dec"].iloc[0] - 1
    )


def test_stakes_are_capped_per_bet_and_per_day_and_compound() -> None:
    bets = pd.DataFrame(
        {
            "game_date": [DAY] * 10 + [DAY + pd.Timedelta(days=1)],
            "game_id": [f"G{i}" for i in range(11)],
            "pitcher_id": range(11),
            "p_win": [0.7] * 11,
            "p_lose": [0.3] * 11,
            "dec": [2.0] * 11,
            "units": [1.0] * 10 + [-1.0],
        }
    )
    rules = BetRules(kelly=0.5, max_bet=0.02, max_day=0.10)
    staked, curve = stake_bets(bets, rules)
    day1 = staked[staked["game_date"] == DAY]
    assert day1["stake"].sum() == pytest.approx(0.10)  # ten bets of 2% cut to 10% in all
    assert curve["bankroll"].iloc[0] == pytest.approx(1.10)
    assert staked["stake"].iloc[-1] == pytest.approx(0.02 * 1.10)
    assert max_drawdown(curve["bankroll"]) == pytest.approx(0.02)


def test_units_and_bootstrap() -> None:
    side = pd.Series(["OVER", "UNDER", "OVER", "OVER"])
    u = won_units(
        side,
        pd.Series([5.5, 5.5, 6.0, 5.5]),
        pd.Series([2.0, 1.9, 2.0, 2.0]),
        pd.Series([6, 6, 6, np.nan]),
    )
    assert list(u[:3]) == [1.0, -1.0, 0.0] and np.isnan(u[3])
    mean, lo, hi = bootstrap_mean(np.array([1.0, -1.0] * 200))
    assert mean == 0 and lo < 0 < hi


def test_shop_bets_only_a_price_that_beats_the_pooled_fair_price() -> None:
    from scipy.stats import poisson

    pmf = poisson.pmf(np.arange(21), 5.0)
    pmf = (pmf / pmf.sum())[None, :]
    frame = pd.DataFrame(
        [{"game_id": "G1", "pitcher_id": 1, "game_date": DAY, "line": 5.5, "red_flags": ""}]
    )
    out = {"sys": SystemOutput("sys", frame, pmf, "v")}
    quotes = pd.DataFrame(
        [
            quote("DraftKings", 5.5, -110, -110),
            quote("FanDuel", 5.5, -112, -108),
            quote("BetMGM", 5.5, -108, -112),
            quote("Bovada", 5.5, 125, -150),  # a stale over: far better than the pool
        ]
    )
    shop = decide_bets(out, quotes, BetRules(strategy="shop")).iloc[0]
    assert (shop["side"], shop["book"], bool(shop["bet"])) == ("OVER", "Bovada", True)
    # the system leans under (mean 5.0 below 5.5): shop_model refuses the over
    lean = decide_bets(out, quotes, BetRules(strategy="shop_model")).iloc[0]
    assert lean["side"] == "UNDER" and not lean["bet"]
    main_only = decide_bets(
        out,
        pd.concat([quotes, pd.DataFrame([quote("BetRivers", 3.5, -300, 220)])]),
        BetRules(strategy="ev_main", min_ev=-1.0),
    ).iloc[0]
    assert main_only["line"] == 5.5


def test_shop_wants_the_price_to_beat_the_pool_by_more_than_its_margin_of_error() -> None:
    from scipy.stats import poisson

    pmf = poisson.pmf(np.arange(21), 5.0)
    pmf = (pmf / pmf.sum())[None, :]
    frame = pd.DataFrame(
        [{"game_id": "G1", "pitcher_id": 1, "game_date": DAY, "line": 5.5, "red_flags": ""}]
    )
    out = {"sys": SystemOutput("sys", frame, pmf, "v")}
    rules = BetRules(strategy="shop")
    # the books disagree widely: the pool's margin of error swallows Bovada's +110
    wide = pd.DataFrame(
        [
            quote("DraftKings", 5.5, -150, 120),
            quote("FanDuel", 5.5, 120, -150),
            quote("Bovada", 5.5, 110, -140),
        ]
    )
    best = decide_bets(out, wide, rules).iloc[0]
    assert best["ev"] >= rules.min_ev and best["ev_margin"] < 0 and not best["bet"]
    # one book alone has no margin to beat: its own price is its fair price
    alone = decide_bets(out, pd.DataFrame([quote("Bovada", 5.5, 125, -150)]), rules)
    assert not alone["bet"].any()


def test_a_lineup_decision_sees_the_quotes_captured_before_the_posting_and_the_lineup() -> None:
    from kcast.policy import LINEUP_POSTED_HOURS

    first_pitch = pd.Timestamp("2025-07-01 23:05")  # 19:05 US Eastern
    posted = first_pitch - pd.Timedelta(hours=LINEUP_POSTED_HOURS)
    early, late = posted - pd.Timedelta(hours=4), posted + pd.Timedelta(hours=1)
    rows = pd.DataFrame(
        [
            quote("DraftKings", 5.5, -110, -110, "open", early),
            quote("DraftKings", 5.5, -140, 115, "close", late),
        ]
    ).assign(game_time=first_pitch, snap_rank=[2, 0], main_rank=0)
    at = DecisionTime.parse("lineup")
    seen = quotes_at(rows, at)
    assert list(seen["over_odds"]) == [-110]  # the move after the posting is not known yet
    assert at.label == "lineup"
    dates, times = pd.Series([DAY, DAY, DAY]), pd.Series([first_pitch, first_pitch, pd.NaT])
    assert list(DecisionTime.parse("open").lineup_posted(dates, times)) == [False] * 3
    assert list(at.lineup_posted(dates, times)) == [True] * 3
    assert list(DecisionTime.parse("close").lineup_posted(dates, times)) == [True] * 3
    # a clock time: posted when first pitch minus the posting hours is at or before it; an
    # unknown first pitch is not posted
    assert list(DecisionTime.parse("16:05").lineup_posted(dates, times)) == [True, True, False]
    assert list(DecisionTime.parse("15:00").lineup_posted(dates, times)) == [False] * 3
    with pytest.raises(InputError, match="use open, lineup, close, now or HH:MM"):
        DecisionTime.parse("at lunch")
