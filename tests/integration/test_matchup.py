"""The matchup data on real 2018-2019 Retrosheet seasons: plate appearances and lineups as
stored, and the matchup features built from games before each start only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kcast.features.build import build_features, load_history, training_targets
from kcast.features.matchup import MATCHUP_FEATURES, AsOf, MatchupContext
from kcast.warehouse import open_warehouse


@pytest.fixture(scope="module")
def wh(history_warehouse: Path):
    wh = open_warehouse(str(history_warehouse), migrate=False)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def starts(wh) -> pd.DataFrame:
    history = load_history(wh)
    targets = training_targets(history)
    return build_features(history, targets[targets["season"] == 2019])


def test_plate_appearances_add_up_to_the_pitcher_lines(wh) -> None:
    sums = wh.query(
        """SELECT p.game_id, p.pitcher_id, p.batters_faced, p.strikeouts,
                  COUNT(a.pa_index) AS pa, SUM(CAST(a.is_strikeout AS INT)) AS k
           FROM pitcher_games p LEFT JOIN plate_appearances a
             ON a.game_id = p.game_id AND a.pitcher_id = p.pitcher_id
           GROUP BY ALL"""
    )
    assert len(sums) > 40000
    assert (sums["pa"] == sums["batters_faced"]).mean() > 0.999
    assert (sums["k"].fillna(0) == sums["strikeouts"]).mean() > 0.999


def test_plate_appearances_carry_the_order_and_the_pitches(wh) -> None:
    pa = wh.query(
        "SELECT lineup_slot, times_faced, pitches, swinging_strikes, called_strikes, bats, "
        "throws FROM plate_appearances WHERE season = 2019"
    )
    assert pa["lineup_slot"].between(1, 9).mean() > 0.99
    assert set(pa["times_faced"].dropna().unique()) >= {1, 2, 3, 4}
    assert 3.8 < pa["pitches"].mean() < 4.1  # MLB throws about 3.9 pitches a plate appearance
    csw = (pa["swinging_strikes"] + pa["called_strikes"]).sum() / pa["pitches"].sum()
    assert 0.26 < csw < 0.32  # the league's CSW% is about 29%
    assert set(pa["bats"].dropna()) == {"L", "R"} and set(pa["throws"].dropna()) == {"L", "R"}


def test_every_team_game_has_a_lineup_of_nine(wh) -> None:
    counts = wh.query("SELECT game_id, team, COUNT(*) AS n FROM lineups GROUP BY ALL")
    games = wh.query("SELECT COUNT(*) AS n FROM team_batting_games")["n"].iloc[0]
    assert len(counts) == games
    assert (counts["n"] == 9).mean() > 0.999


@pytest.mark.parametrize("day", ["2019-04-20", "2019-07-05", "2019-09-15"])
def test_no_look_ahead(wh, starts, day: str) -> None:
    """A start's matchup features are the same whether or not the warehouse holds anything
    played on its day or later."""
    rows = starts[starts["game_date"] == pd.Timestamp(day)].reset_index(drop=True)
    assert len(rows) > 10
    everything = MatchupContext.from_warehouse(wh).attach(rows)
    before = MatchupContext.from_warehouse(wh, before=day).attach(rows)
    pd.testing.assert_frame_equal(everything, before)
    assert (everything["lineup_status"] == "confirmed").all()
    assert everything[list(MATCHUP_FEATURES)].notna().mean().min() > 0.9


def test_a_changed_outcome_changes_only_later_starts(
    wh, starts, history_warehouse: Path, tmp_path: Path
) -> None:
    """Turn every strikeout of one day into an out: that day's starts see the same features,
    the next day's see fewer strikeouts by their opponents' batters."""
    day = pd.Timestamp("2019-06-01")
    ctx = MatchupContext.from_warehouse(wh)
    pa = wh.query("SELECT * FROM plate_appearances")
    changed = pa.assign(is_strikeout=pa["is_strikeout"] & (pd.to_datetime(pa["game_date"]) != day))
    path = tmp_path / "changed.duckdb"
    shutil.copy(history_warehouse, path)
    other = open_warehouse(str(path), migrate=False)
    try:
        other.execute("DELETE FROM plate_appearances")
        other.upsert("plate_appearances", changed)
        altered = MatchupContext.from_warehouse(other)
    finally:
        other.close()
    same_day = starts[starts["game_date"] == day].reset_index(drop=True)
    pd.testing.assert_frame_equal(ctx.attach(same_day), altered.attach(same_day))
    next_day = starts[starts["game_date"] == day + pd.Timedelta(days=1)].reset_index(drop=True)
    k_cols = [f"bat{s}_k" for s in range(1, 10)]
    assert (
        altered.attach(next_day)[k_cols].to_numpy().sum()
        < ctx.attach(next_day)[k_cols].to_numpy().sum()
    )


def test_projected_and_unavailable_lineups(wh, starts) -> None:
    """Without its confirmed lineup a start gets the team's latest lineup against that hand
    (projected); with no earlier lineup at all, none (unavailable)."""
    ctx = MatchupContext.from_warehouse(wh)
    rows = starts[starts["game_date"] == pd.Timestamp("2019-07-05")].head(3).reset_index(drop=True)
    first = starts[starts["game_date"] == starts["game_date"].min()].head(2).reset_index(drop=True)
    dropped = set(rows["game_id"]) | set(first["game_id"])
    ctx.lineups = ctx.lineups[~ctx.lineups["game_id"].isin(dropped)]
    # the 2018 lineups are dropped too, so the 2019 openers have no earlier lineup
    ctx.lineup_history = ctx.lineup_history[ctx.lineup_history["game_date"].dt.year >= 2019]
    projected = ctx.attach(rows)
    assert (projected["lineup_status"] == "projected").all()
    assert projected[[f"bat{s}_pa" for s in range(1, 10)]].notna().all().all()
    unavailable = ctx.attach(first)
    assert (unavailable["lineup_status"] == "unavailable").all()
    assert np.isnan(unavailable["bat1_pa"].to_numpy()).all()


def test_a_decision_before_the_lineup_is_posted_gets_the_projected_one(wh, starts) -> None:
    """The confirmed lineup is stored (a replay, a backtest), but a row whose lineup is not
    posted at its decision time (``lineup_posted`` False: the open) gets the projection, the
    same features as a start whose confirmed lineup is not stored at all."""
    ctx = MatchupContext.from_warehouse(wh)
    rows = starts[starts["game_date"] == pd.Timestamp("2019-07-05")].head(4).reset_index(drop=True)
    posted = ctx.attach(rows.assign(lineup_posted=True))
    assert (posted["lineup_status"] == "confirmed").all()
    before = ctx.attach(rows.assign(lineup_posted=False))
    assert (before["lineup_status"] == "projected").all()
    fresh = MatchupContext.from_warehouse(wh)  # its pivoted lineups not yet cached
    fresh.lineups = fresh.lineups[~fresh.lineups["game_id"].isin(set(rows["game_id"]))]
    unknown = fresh.attach(rows)
    cols = list(MATCHUP_FEATURES)
    pd.testing.assert_frame_equal(before[cols], unknown[cols])
    assert not np.allclose(
        before[cols].to_numpy(float), posted[cols].to_numpy(float), equal_nan=True
    )


def test_a_context_without_plate_appearances(wh, starts) -> None:
    """A warehouse with no play-by-play before the date (Statcast starts only, as the daily
    replay has) still attaches: every matchup feature missing, no lineup, no merge error on
    the empty league-season table (its season stays int64)."""
    ctx = MatchupContext.from_warehouse(wh, before="2018-01-01")
    assert ctx.league_seasons.empty
    assert ctx.league_seasons.dtypes["season"] == "int64"
    rows = starts[starts["game_date"] == pd.Timestamp("2019-07-05")].reset_index(drop=True)
    out = ctx.attach(rows)
    assert len(out) == len(rows)
    assert (out["lineup_status"] == "unavailable").all()
    assert out[["tto2_logit", "tto3_logit", "platoon_logit", "ump_k"]].isna().all().all()
    assert (out[list(MATCHUP_FEATURES)].dtypes == "float64").all()


def test_the_league_logits_do_not_depend_on_the_seasons_read(wh, starts) -> None:
    """A context trimmed to the seasons a start's batters need (``first_season``, as the daily
    job builds it) gives its league logits (times through the order, platoon) from every
    earlier season, as the untrimmed one the models are trained on does: a start of 2021
    reads plate appearances from 2019 on, yet its logits pool 2018 and 2019."""
    rows = starts[starts["game_date"] == pd.Timestamp("2019-07-05")].reset_index(drop=True)
    rows = rows.assign(season=2021, game_date=pd.Timestamp("2021-07-05"))
    cols = ["tto2_logit", "tto3_logit", "platoon_logit"]
    whole = MatchupContext.from_warehouse(wh).attach(rows)[cols]
    trimmed = MatchupContext.from_warehouse(wh, first_season=2021).attach(rows)[cols]
    assert whole.notna().all().all()
    pd.testing.assert_frame_equal(trimmed, whole)


@pytest.fixture(scope="module")
def without_late_sequences(history_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """The 2018-2019 warehouse with the pitch sequences of 2019's games from July on removed
    (a season without event files, like 2024), and pitch-mix lines of every start from June on,
    summed from its plate appearances (June's starts keep their sequences, so their lines must
    not count twice): (the warehouse, its context without the lines)."""
    path = tmp_path_factory.mktemp("mix") / "mix.duckdb"
    shutil.copy(history_warehouse, path)
    other = open_warehouse(str(path), migrate=False)
    lines = other.query(
        """SELECT a.game_date, s.game_id, s.pitcher_id, s.season, s.team,
                   'pitcher ' || s.pitcher_id AS player_name, g.home_team, g.away_team,
                   SUM(a.pitches) AS pitches, SUM(a.swinging_strikes) AS whiffs,
                   SUM(a.called_strikes) AS called_strikes,
                   SUM(a.swinging_strikes + a.called_strikes) AS csw
            FROM pitcher_games s JOIN games g USING (game_id)
            JOIN plate_appearances a ON a.game_id = s.game_id AND a.pitcher_id = s.pitcher_id
            WHERE s.is_start AND a.game_date >= DATE '2019-06-01'
            GROUP BY ALL"""
    )
    other.execute(f"UPDATE plate_appearances SET pitches = NULL WHERE game_date >= DATE '{LATE}'")
    bare = MatchupContext.from_warehouse(other)
    other.upsert("pitch_mix_starts", lines.assign(match_note="start: test"))
    yield other, bare
    other.close()


LATE = "2019-07-01"


@pytest.mark.parametrize("day", ["2019-06-15", "2019-08-10", "2019-09-15"])
def test_pitch_mix_fills_missing_sequences_without_look_ahead(
    wh, starts, without_late_sequences, day: str
) -> None:
    """Pitch-mix lines stand in for the starts without pitch sequences, strictly from before
    each start's day; where the sequences exist, no figure changes."""
    other, bare = without_late_sequences
    rows = starts[starts["game_date"] == pd.Timestamp(day)].reset_index(drop=True)
    everything = MatchupContext.from_warehouse(other).attach(rows)
    before = MatchupContext.from_warehouse(other, before=day).attach(rows)
    pd.testing.assert_frame_equal(everything, before)
    original = MatchupContext.from_warehouse(wh).attach(rows)
    pitch_cols = ["pit_pitches", "pit_whiffs", "pit_csw", "lg_csw_pct"]
    if day < LATE:
        pd.testing.assert_frame_equal(everything, original)
        return
    without = bare.attach(rows)
    # the lines add the late starts back: more pitches than without them, never more than the
    # sequences held (the lines have starts only, not relief), and the same for the rest
    assert (everything["pit_pitches"] > without["pit_pitches"]).mean() > 0.8
    assert (everything["pit_pitches"] <= original["pit_pitches"] + 1e-9).all()
    others = [c for c in everything.columns if c not in pitch_cols]
    pd.testing.assert_frame_equal(everything[others], original[others])
    assert everything["lg_csw_pct"].between(0.25, 0.35).all()


@pytest.fixture(scope="module")
def late_feed(history_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """The 2018-2019 warehouse with 2019's plate appearances from July on stored as the live
    feed's (source statsapi_feed, as a season in progress has them), and pitch-mix lines of
    those starts with one whiff more than their plate appearances hold."""
    path = tmp_path_factory.mktemp("feed") / "feed.duckdb"
    shutil.copy(history_warehouse, path)
    other = open_warehouse(str(path))
    other.execute(
        "UPDATE plate_appearances SET source = 'statsapi_feed', source_rank = 30 "
        f"WHERE game_date >= DATE '{LATE}'"
    )
    feed_only = MatchupContext.from_warehouse(other)
    lines = other.query(
        """SELECT a.game_date, s.game_id, s.pitcher_id, s.season, s.team,
                   'pitcher ' || s.pitcher_id AS player_name, g.home_team, g.away_team,
                   SUM(a.pitches) AS pitches, SUM(a.swinging_strikes) + 1 AS whiffs,
                   SUM(a.called_strikes) AS called_strikes,
                   SUM(a.swinging_strikes + a.called_strikes) + 1 AS csw
            FROM pitcher_games s JOIN games g USING (game_id)
            JOIN plate_appearances a ON a.game_id = s.game_id AND a.pitcher_id = s.pitcher_id
            WHERE s.is_start AND a.game_date >= DATE '2019-07-01'
            GROUP BY ALL"""
    )
    other.upsert("pitch_mix_starts", lines.assign(match_note="start: test"))
    yield other, feed_only
    other.close()


def test_the_feed_counts_a_start_only_without_sequences_or_pitch_mix(wh, starts, late_feed) -> None:
    """The live feed's pitch calls give a start's pitches, whiffs and CSW when nothing better
    has them: alone they give the event files' figures exactly; beside a pitch-mix line of the
    same start, the line counts (one whiff more a start here) and the feed's plate appearances
    of that start do not count again."""
    other, feed_only = late_feed
    day = "2019-08-10"
    rows = starts[starts["game_date"] == pd.Timestamp(day)].reset_index(drop=True)
    original = MatchupContext.from_warehouse(wh).attach(rows)
    pd.testing.assert_frame_equal(feed_only.attach(rows), original)
    both = MatchupContext.from_warehouse(other).attach(rows)
    late = wh.query(
        "SELECT pitcher_id, COUNT(*) AS n FROM pitcher_games WHERE is_start "
        f"AND game_date >= DATE '{LATE}' AND game_date < DATE '{day}' GROUP BY pitcher_id"
    ).set_index("pitcher_id")["n"]
    extra = rows["pitcher_id"].map(late).fillna(0).to_numpy(float)
    assert extra.sum() > 0
    np.testing.assert_allclose(both["pit_whiffs"] - original["pit_whiffs"], extra)
    np.testing.assert_allclose(both["pit_pitches"], original["pit_pitches"])


def test_as_of_lookups_match_merge_asof() -> None:
    """``AsOf`` gives what ``pd.merge_asof`` (backward, strictly before) gives, key by key; and
    of two rows on one day (a doubleheader) the later in the table."""
    rng = np.random.default_rng(7)
    n = 4000
    table = pd.DataFrame(
        {
            "batter_id": rng.integers(1, 60, n),
            "hand": rng.choice(["L", "R"], n),
            "game_date": pd.Timestamp("2019-03-28") + pd.to_timedelta(rng.integers(0, 190, n), "D"),
            "k": rng.normal(size=n),
        }
    ).drop_duplicates(["batter_id", "hand", "game_date"])
    left = pd.DataFrame(
        {
            "batter_id": rng.integers(0, 62, 500),  # a few keys the table never saw
            "hand": rng.choice(["L", "R"], 500),
            "game_date": pd.Timestamp("2019-03-20")
            + pd.to_timedelta(rng.integers(0, 200, 500), "D"),
        }
    )
    expected = (
        pd.merge_asof(
            left.reset_index().sort_values("game_date"),
            table.sort_values("game_date"),
            on="game_date",
            by=["batter_id", "hand"],
            allow_exact_matches=False,
        )
        .set_index("index")
        .sort_index()["k"]
    )
    got = AsOf(table, ["batter_id", "hand"], ["k"]).lookup(
        [left["batter_id"], left["hand"]], left["game_date"]
    )["k"]
    np.testing.assert_array_equal(got, expected.to_numpy())
    assert np.isnan(got).any() and (~np.isnan(got)).sum() > 300
    twice = pd.DataFrame(
        {"u": ["a", "a", "a"], "game_date": pd.to_datetime(["2019-05-01"] * 2 + ["2019-05-03"])}
    ).assign(k=[1.0, 2.0, 3.0])
    day_after = AsOf(twice, ["u"], ["k"]).lookup(
        [["a", "a"]], pd.to_datetime(["2019-05-02", "2019-05-01"])
    )
    np.testing.assert_array_equal(day_after["k"], [2.0, np.nan])


def test_one_row_at_a_time_matches_the_whole_frame(wh, starts) -> None:
    """A start attached alone (a pitcher off the slate) gets exactly its row of a whole
    season's attach."""
    ctx = MatchupContext.from_warehouse(wh)
    whole = ctx.attach(starts)
    for i in np.random.default_rng(3).choice(len(starts), 25, replace=False):
        alone = ctx.attach(starts.iloc[[i]])
        pd.testing.assert_frame_equal(alone, whole.iloc[[i]].reset_index(drop=True))


def test_an_umpire_the_stats_api_names_gets_his_retrosheet_history(copy_warehouse) -> None:
    """The real boxscore names its home-plate umpire "CB Bucknor"; Retrosheet's 2018-2019 games
    give buckc901. Two games added on 2019-09-30 (an off day after the season), one with each
    spelling: without the umpires crosswalk the named one is neutral (no history), with it both
    get buckc901's strikeouts over his 58 earlier games."""
    from kcast.data.statsapi import parse_boxscore
    from kcast.data.umpires import ingest_umpires
    from tests.conftest import SHARED_DATA, STATSAPI

    data = json.loads((STATSAPI / "boxscore_744914_dsotm.json").read_text())
    game = {"game_id": "TOR202407010", "game_date": pd.Timestamp("2024-07-01").date(),
            "season": 2024, "game_type": "regular", "home_team": "TOR", "away_team": "HOU",
            "mlb_game_pk": 744914}  # fmt: skip
    name = parse_boxscore(data, game, "box").game["umpire_home"]
    assert name == "CB Bucknor"
    day = pd.Timestamp("2019-09-30")
    added = pd.DataFrame(
        {
            "game_id": ["TOR201909300", "BOS201909300"],
            "game_date": [day.date()] * 2,
            "season": 2019,
            "game_type": "regular",
            "game_number": 0,
            "home_team": ["TOR", "BOS"],
            "away_team": ["HOU", "NYA"],
            "umpire_home": [name, "buckc901"],
            "source": "statsapi",
            "source_rank": 30,
        }
    )
    copy_warehouse.upsert("games", added)
    rows = pd.DataFrame(
        {
            "game_id": added["game_id"],
            "game_date": day,
            "season": 2019,
            "pitcher_id": [1, 2],
            "opponent": ["HOU", "NYA"],
            "throws": "R",
        }
    )
    ump = ["ump_k", "ump_k_expected"]
    neutral = MatchupContext.from_warehouse(copy_warehouse).attach(rows)
    assert neutral[ump].iloc[0].isna().all() and neutral[ump].iloc[1].notna().all()

    ingest_umpires(copy_warehouse, SHARED_DATA / "retrosheet" / "biofile.zip")
    got = MatchupContext.from_warehouse(copy_warehouse).attach(rows)
    pd.testing.assert_series_equal(got[ump].iloc[0], got[ump].iloc[1], check_names=False)
    pd.testing.assert_series_equal(got[ump].iloc[1], neutral[ump].iloc[1])
    his = copy_warehouse.query(
        "SELECT COUNT(DISTINCT g.game_id) AS games, SUM(b.strikeouts) AS k FROM games g "
        "JOIN team_batting_games b USING (game_id) WHERE g.umpire_home = 'buckc901'"
    ).iloc[0]
    assert (his["games"], got["ump_k"].iloc[0]) == (58, his["k"])


def test_an_older_warehouse_opened_read_only(
    wh, starts, history_warehouse: Path, tmp_path: Path
) -> None:
    """A warehouse made before the pitch mix and the umpires' names existed, opened read-only
    (``kcast backtest`` without ``--write`` does not migrate): the features are those of the
    same warehouse with the tables (empty here), not an error."""
    path = tmp_path / "older.duckdb"
    shutil.copy(history_warehouse, path)
    older = open_warehouse(str(path), migrate=False)
    older.execute("DROP TABLE umpires")
    older.execute("DROP TABLE pitch_mix_starts")
    older.close()
    older = open_warehouse(str(path), read_only=True)
    try:
        assert not older.table_exists("umpires")
        rows = starts[starts["game_date"] == pd.Timestamp("2019-07-05")].reset_index(drop=True)
        got = MatchupContext.from_warehouse(older).attach(rows)
    finally:
        older.close()
    pd.testing.assert_frame_equal(got, MatchupContext.from_warehouse(wh).attach(rows))
