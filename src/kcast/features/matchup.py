"""Matchup features: the opposing lineup batter by batter, the pitcher's swing-and-miss, the umpire.

For each start this adds, strictly from games before its date (as ``build.py`` does):

* the opposing lineup, slot by slot: the confirmed one (``lineups``: the event files,
  ``teamstats.csv``, the MLB Stats API), else a projected one (the team's most recent lineup of
  the season against a starter of the same hand), marked in ``lineup_status`` (confirmed,
  projected, unavailable); a row whose ``lineup_posted`` is False (a decision made before the
  lineup is posted: ``market.DecisionTime.lineup_posted``) gets the projected one even where
  the confirmed one is stored;
* each batter's strikeouts and plate appearances, overall and against the pitcher's hand, this
  season plus the two before it weighted ``SEASON_WEIGHTS`` (``bat{slot}_k``, ``bat{slot}_pa``,
  ``bat{slot}_k_hand``, ``bat{slot}_pa_hand``) and whether he bats from the pitcher's side
  (``bat{slot}_same``);
* the pitcher's pitches, swinging strikes and called strikes (whiff rate and CSW%), this season
  plus last season weighted ``PREV_PITCH_WEIGHT``, and the league's CSW% over the last 30 days;
  each start from the event files' pitch sequences, else the Statcast pitch-mix line of that
  start (``pitch_mix_starts``), else the pitch calls of the Stats API's live feed (a season in
  progress), so every start with any of them counts once;
* the home-plate umpire's strikeouts over those expected from the league's rate in his games
  (``ump_k``, ``ump_k_expected``), over every earlier game he worked; an umpire the Stats API
  names is read as his Retrosheet id through ``umpires`` (``kcast.data.umpires``), and a name
  that table does not tell apart keeps only the games stored under that name;
* the league's decline of starters' strikeout rate the second and third time through the order
  and its platoon gap (logits), from earlier seasons.

Everything comes from ``plate_appearances``, ``lineups``, ``games``, ``team_batting_games``,
``pitch_mix_starts`` and ``umpires``, loaded once into a ``MatchupContext``;
``tests/unit/test_matchup.py`` proves no row changes when later games are added.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from kcast.data.umpires import resolve_umpires
from kcast.features.build import DATE_DTYPE, HISTORY_TYPES
from kcast.features.lookup import AsOf, ByKey, taken
from kcast.warehouse import Warehouse
from kcast.warehouse import matchup as reads

SLOTS = range(1, 10)
SEASON_WEIGHTS = (1.0, 0.8, 0.6)  # this season, last season, the one before (Marcel's 5/4/3)
PREV_PITCH_WEIGHT = 0.7
TTO_MIN_BF = 19  # starts that reached the third time through: the same pitchers in all three
LEAGUE_DAYS = "30D"
LINEUP_STATUSES = ("confirmed", "projected", "unavailable")

BATTER_COLUMNS = ("k", "pa", "k_hand", "pa_hand", "same")
MATCHUP_FEATURES: tuple[str, ...] = (
    *(f"bat{s}_{c}" for s in SLOTS for c in BATTER_COLUMNS),
    "pit_pitches",
    "pit_whiffs",
    "pit_csw",
    "lg_csw_pct",
    "ump_k",
    "ump_k_expected",
    "tto2_logit",
    "tto3_logit",
    "platoon_logit",
)


def _logit(p: np.ndarray | pd.Series) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    frame["game_date"] = pd.to_datetime(frame["game_date"]).astype(DATE_DTYPE)
    return frame


@dataclass
class MatchupContext:
    """The batter, pitcher, lineup, umpire and league state of a warehouse, built once.

    Every table is keyed by date (or season) and attached strictly before each start's date, so
    one context serves any start without look-ahead."""

    batter_cum: pd.DataFrame  # batter, season, date -> cumulative K and PA by pitcher hand
    batter_seasons: pd.DataFrame  # batter, season -> totals by pitcher hand
    pitcher_cum: pd.DataFrame  # pitcher, season, date -> cumulative pitches, whiffs, CSW
    pitcher_seasons: pd.DataFrame
    league_csw: pd.DataFrame  # date -> CSW% over the last 30 days
    lineups: pd.DataFrame  # game, team, slot -> batter (the confirmed ones)
    lineup_history: pd.DataFrame  # team, starter hand, date -> that day's nine
    umpires: pd.DataFrame  # umpire, date -> cumulative K and expected K
    game_umpires: pd.Series  # game -> its home-plate umpire (played or not)
    league_seasons: pd.DataFrame  # season -> TTO and platoon logits of earlier seasons
    bats: pd.Series  # player -> R, L or B (latest known)

    @classmethod
    def from_warehouse(
        cls, wh: Warehouse, before: object | None = None, first_season: int | None = None
    ) -> MatchupContext:
        """The context of every game in the warehouse (optionally only before a date). Starts of
        ``first_season`` or later need no plate appearances from before ``first_season - 2``
        (the batters' window) nor lineups from before ``first_season - 1``."""
        first = reads.EVERY_SEASON
        if first_season is not None:
            first = int(first_season) - len(SEASON_WEIGHTS) + 1
        # the day's own lineups and umpires are known before its games
        day = pd.Timestamp(before).date() if before is not None else reads.NO_END
        pa = _dates(reads.plate_appearances(wh, HISTORY_TYPES, first, day))
        lineups = _dates(reads.lineups(wh, first, day))
        games = _dates(reads.umpire_games(wh, HISTORY_TYPES, day))
        # the Stats API names an umpire, Retrosheet gives his id: one key for both
        games["umpire_home"] = resolve_umpires(games["umpire_home"], reads.umpire_names(wh))
        mix = _dates(reads.pitch_mix(wh, first, day))
        # the league's logits pool every earlier season, however few the batters need
        league = None
        if first != reads.EVERY_SEASON:
            league = reads.league_counts(wh, HISTORY_TYPES, TTO_MIN_BF, day)
        return cls.from_frames(pa, lineups, games, reads.batting_sides(wh), mix, league)

    @classmethod
    def from_frames(
        cls,
        pa: pd.DataFrame,
        lineups: pd.DataFrame,
        games: pd.DataFrame,
        bats: pd.Series,
        pitch_mix: pd.DataFrame | None = None,
        league: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    ) -> MatchupContext:
        """``pitch_mix``: Statcast lines of starts (game_id, pitcher_id, game_date, season,
        pitches, whiffs, csw); used only for starts whose pitch sequences ``pa`` lacks.
        ``league``: the league's counts by time through the order and by side
        (``reads.league_counts``) when ``pa`` holds only some seasons; else from ``pa``."""
        batter_cum, batter_seasons = _batter_tables(pa)
        pitcher_cum, pitcher_seasons, league_csw = _pitcher_tables(pa, pitch_mix)
        history = lineups.dropna(subset=["opp_throws"])
        wide = history.pivot_table(
            index=["game_id", "team", "game_date", "opp_throws"],
            columns="slot",
            values="player_id",
            aggfunc="first",
        ).dropna()
        wide.columns = [f"p{int(s)}" for s in wide.columns]
        return cls(
            batter_cum=batter_cum,
            batter_seasons=batter_seasons,
            pitcher_cum=pitcher_cum,
            pitcher_seasons=pitcher_seasons,
            league_csw=league_csw,
            lineups=lineups[["game_id", "team", "slot", "player_id"]],
            lineup_history=wide.reset_index()
            .drop(columns=["game_id"])
            .assign(season=lambda w: w["game_date"].dt.year),
            umpires=_umpire_table(games),
            game_umpires=games.dropna(subset=["umpire_home"]).set_index("game_id")["umpire_home"],
            league_seasons=_league_seasons(*(league or _league_counts(pa))),
            bats=bats,
        )

    # --- attaching ---------------------------------------------------------------------------
    def attach(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (feature rows with game_id, game_date, season, pitcher_id, opponent and
        throws) with every column of ``MATCHUP_FEATURES`` and ``lineup_status`` added.

        Every lookup goes through tables indexed once per context, so one row (a pitcher off
        the slate) costs about as little as a lookup, and a season of rows one pass."""
        t = frame.reset_index(drop=True)
        t["game_date"] = pd.to_datetime(t["game_date"]).astype(DATE_DTYPE)
        dates = t["game_date"].to_numpy()
        seasons = t["season"].to_numpy(np.int64)
        hand = (
            t["throws"].where(t["throws"].isin(["L", "R"]), "R").to_numpy(object)
            if "throws" in t
            else np.full(len(t), "R", dtype=object)
        )
        slots, status = self._lineups(t, hand, dates, seasons)
        t["lineup_status"] = status
        added = self._batters(slots, hand, dates, seasons)
        added |= self._pitchers(t["pitcher_id"].to_numpy(), dates, seasons)
        added |= self._umpire(t["game_id"], dates)
        added |= self._league(seasons)
        new = pd.DataFrame({c: np.asarray(added[c], "float64") for c in MATCHUP_FEATURES})
        return pd.concat([t.drop(columns=list(MATCHUP_FEATURES), errors="ignore"), new], axis=1)

    @cached_property
    def confirmed_lineups(self) -> pd.DataFrame:
        """The confirmed lineups as one row per (game, team) and a column per slot (p1..p9),
        pivoted once per context rather than on every ``attach``."""
        confirmed = self.lineups.pivot_table(
            index=["game_id", "team"], columns="slot", values="player_id", aggfunc="first"
        )
        confirmed.columns = [f"p{int(s)}" for s in confirmed.columns]
        return confirmed.reindex(columns=[f"p{s}" for s in SLOTS])

    @cached_property
    def _indexed(self) -> dict[str, AsOf | ByKey]:
        """The state tables sorted and indexed for lookups, once per context."""
        batter = ["k_R", "pa_R", "k_L", "pa_L"]
        pitcher = ["pitches", "whiffs", "csw"]
        names = [f"p{s}" for s in SLOTS]
        return {
            "projected": AsOf(
                # every slot's column, even where no lineup is stored
                self.lineup_history.reindex(
                    columns=["team", "opp_throws", "season", "game_date", *names]
                ),
                ["team", "opp_throws", "season"],
                names,
            ),
            "batter": AsOf(self.batter_cum, ["batter_id", "season"], batter),
            "batter_season": ByKey(self.batter_seasons, ["batter_id", "season"], batter),
            "pitcher": AsOf(self.pitcher_cum, ["pitcher_id", "season"], pitcher),
            "pitcher_season": ByKey(self.pitcher_seasons, ["pitcher_id", "season"], pitcher),
            "league_csw": AsOf(self.league_csw, [], ["lg_csw_pct"]),
            "umpire": AsOf(self.umpires, ["umpire_home"], ["cum_k", "cum_expected"]),
        }

    def _lineups(
        self, t: pd.DataFrame, hand: np.ndarray, dates: np.ndarray, seasons: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The opposing nine of each row (rows x slots of batter ids, NaN where unknown) and
        its status."""
        names = [f"p{s}" for s in SLOTS]
        got = self.confirmed_lineups.reindex(
            pd.MultiIndex.from_arrays([t["game_id"], t["opponent"]])
        )
        got = got.to_numpy(float).reshape(len(t), len(names))
        full = ~np.isnan(got).any(axis=1)
        if "lineup_posted" in t:  # a decision before the lineup is posted uses the projection
            full &= t["lineup_posted"].fillna(True).to_numpy(bool)
        team = t["opponent"].to_numpy(object)
        last = self._indexed["projected"].lookup([team, hand, seasons], dates)
        projected = np.column_stack([last[n] for n in names]) if len(t) else got
        have_projection = ~np.isnan(projected).any(axis=1)
        slots = np.where(full[:, None], got, projected)
        status = np.where(full, "confirmed", np.where(have_projection, "projected", "unavailable"))
        return slots, status

    def _batters(
        self, slots: np.ndarray, hand: np.ndarray, dates: np.ndarray, seasons: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Each slot's weighted strikeouts and plate appearances, overall and by hand."""
        n = len(slots)
        batter = slots.reshape(-1)
        known = ~np.isnan(batter)
        ids = np.where(known, batter, -1).astype(np.int64)
        season = np.repeat(seasons, 9)
        hand = np.repeat(hand, 9)
        cols = ["k_R", "pa_R", "k_L", "pa_L"]
        now = self._indexed["batter"].lookup([ids, season], np.repeat(dates, 9))
        sums = {c: np.nan_to_num(now[c], nan=0.0) for c in cols}
        for back, weight in enumerate(SEASON_WEIGHTS[1:], start=1):
            prev = self._indexed["batter_season"].lookup([ids, season - back])
            for c in cols:
                sums[c] = sums[c] + weight * np.nan_to_num(prev[c], nan=0.0)
        right = hand == "R"
        side = pd.Series(ids).map(self.bats).to_numpy(object)
        side = np.where(side == "B", np.where(right, "L", "R"), side)  # a switch-hitter turns
        unknown = pd.isna(side) | ~known
        per = {
            "k": sums["k_R"] + sums["k_L"],
            "pa": sums["pa_R"] + sums["pa_L"],
            "k_hand": np.where(right, sums["k_R"], sums["k_L"]),
            "pa_hand": np.where(right, sums["pa_R"], sums["pa_L"]),
            "same": np.where(unknown, np.nan, (side == hand).astype(float)),
        }
        out = {}
        for c, values in per.items():
            wide = np.where(known, values, np.nan).reshape(n, 9)
            out |= {f"bat{s}_{c}": wide[:, s - 1] for s in SLOTS}
        return out

    def _pitchers(
        self, pitcher: np.ndarray, dates: np.ndarray, seasons: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The pitcher's pitches, whiffs and CSW this season plus last season's, weighted; the
        league's CSW% over the last 30 days."""
        now = self._indexed["pitcher"].lookup([pitcher, seasons], dates)
        last = self._indexed["pitcher_season"].lookup([pitcher, seasons - 1])
        out = {
            f"pit_{c}": np.nan_to_num(now[c], nan=0.0)
            + PREV_PITCH_WEIGHT * np.nan_to_num(last[c], nan=0.0)
            for c in ("pitches", "whiffs", "csw")
        }
        out["lg_csw_pct"] = self._indexed["league_csw"].lookup([], dates)["lg_csw_pct"]
        return out

    def _umpire(self, game_id: pd.Series, dates: np.ndarray) -> dict[str, np.ndarray]:
        """The home-plate umpire's strikeouts and expected strikeouts over his earlier games."""
        umpire = game_id.map(self.game_umpires).to_numpy(object)
        got = self._indexed["umpire"].lookup([umpire], dates)
        return {"ump_k": got["cum_k"], "ump_k_expected": got["cum_expected"]}

    def _league(self, seasons: np.ndarray) -> dict[str, np.ndarray]:
        """The league's TTO and platoon logits of the row's season (seasons after the last with
        play-by-play keep the latest estimate)."""
        known, values = self._league_by_season
        pos = np.searchsorted(known, seasons, side="right") - 1
        return taken(values, pos, pos >= 0)

    @cached_property
    def _league_by_season(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        table = self.league_seasons.sort_values("season")
        cols = ["tto2_logit", "tto3_logit", "platoon_logit"]
        return table["season"].to_numpy(np.int64), {c: table[c].to_numpy(float) for c in cols}


# --------------------------------------------------------------------------------------------
# The state tables
# --------------------------------------------------------------------------------------------


def _batter_tables(pa: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    right = pa["throws"] == "R"
    left = pa["throws"] == "L"
    k = pa["is_strikeout"].astype(float)
    data = pd.DataFrame(
        {
            "batter_id": pa["batter_id"],
            "season": pa["season"],
            "game_date": pa["game_date"],
            "k_R": k.where(right, 0.0),
            "pa_R": right.astype(float),
            "k_L": k.where(left, 0.0),
            "pa_L": left.astype(float),
        }
    )
    per = data.groupby(["batter_id", "season", "game_date"], as_index=False).sum()
    cum = per[["batter_id", "season", "game_date"]].copy()
    cols = ["k_R", "pa_R", "k_L", "pa_L"]
    cum[cols] = per.groupby(["batter_id", "season"])[cols].cumsum().to_numpy()
    seasons = per.groupby(["batter_id", "season"], as_index=False)[cols].sum()
    return cum, seasons


FEED_SOURCE = "statsapi_feed"  # the Stats API's live feed (kcast.data.statsapi_feed)


def _pitcher_tables(
    pa: pd.DataFrame, pitch_mix: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per pitcher, after each day: cumulative pitches, whiffs and CSW this season; the season
    totals; the league's CSW% over 30 days. Each start counts once, from the best source that
    has it: the event files' pitch sequences, else the Statcast pitch-mix line, else the live
    feed's pitch calls (a season in progress)."""
    has = pa["pitches"].notna()
    feed = pa["source"] == FEED_SOURCE if "source" in pa else pd.Series(False, index=pa.index)
    sequenced = _keys(pa.loc[has & ~feed])
    cols = ["pitches", "whiffs", "csw"]
    mix = None
    mixed = pd.MultiIndex.from_arrays([[], []])
    if pitch_mix is not None and not pitch_mix.empty:
        extra = pitch_mix[~_keys(pitch_mix).isin(sequenced)]
        mixed = _keys(extra)
        mix = pd.DataFrame(
            {
                "pitcher_id": extra["pitcher_id"].astype("int64"),
                "season": extra["season"].astype("int64"),
                "game_date": extra["game_date"],
                **{c: extra[c].astype(float) for c in cols},
            }
        )
    # a feed's plate appearance counts only for a start neither of the others has
    keys = _keys(pa)
    use = has & (~feed | ~(keys.isin(sequenced) | keys.isin(mixed)))
    data = pd.DataFrame(
        {
            "pitcher_id": pa["pitcher_id"],
            "season": pa["season"],
            "game_date": pa["game_date"],
            "pitches": pa["pitches"].where(use, 0).astype(float),
            "whiffs": pa["swinging_strikes"].where(use, 0).astype(float),
            "csw": (pa["swinging_strikes"] + pa["called_strikes"]).where(use, 0).astype(float),
        }
    )
    data = pd.concat([data, mix], ignore_index=True) if mix is not None and len(mix) else data
    per = data.groupby(["pitcher_id", "season", "game_date"], as_index=False).sum()
    cum = per[["pitcher_id", "season", "game_date"]].copy()
    cum[cols] = per.groupby(["pitcher_id", "season"])[cols].cumsum().to_numpy()
    seasons = per.groupby(["pitcher_id", "season"], as_index=False)[cols].sum()
    daily = per.groupby("game_date")[["pitches", "csw"]].sum().sort_index()
    roll = daily.rolling(LEAGUE_DAYS).sum()
    league = (roll["csw"] / roll["pitches"].replace(0, np.nan)).rename("lg_csw_pct")
    return cum, seasons, league.reset_index()


def _keys(frame: pd.DataFrame) -> pd.MultiIndex:
    """(game_id, pitcher_id) of each row: the start a row belongs to."""
    return pd.MultiIndex.from_arrays([frame["game_id"], frame["pitcher_id"]])


def _umpire_table(games: pd.DataFrame) -> pd.DataFrame:
    """Per umpire, after each game he worked: his games' strikeouts, and those the league's
    rate over the 30 days up to that game would have given."""
    g = games.dropna(subset=["k", "pa"]).sort_values("game_date")
    daily = g.groupby("game_date")[["k", "pa"]].sum().rolling(LEAGUE_DAYS).sum()
    rate = (daily["k"] / daily["pa"]).rename("lg_rate")
    g = g.join(rate, on="game_date")
    g["expected"] = g["pa"] * g["lg_rate"]
    u = g.dropna(subset=["umpire_home"]).sort_values(["umpire_home", "game_date"])
    u["cum_k"] = u.groupby("umpire_home")["k"].cumsum()
    u["cum_expected"] = u.groupby("umpire_home")["expected"].cumsum()
    return u[["game_id", "umpire_home", "game_date", "cum_k", "cum_expected"]]


LEAGUE_COUNT_COLUMNS = {"tto": ["season", "tto", "k", "n"], "same": ["season", "same", "k", "n"]}


def _league_counts(pa: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``reads.league_counts`` worked out from plate appearances in hand: per season, the
    strikeouts ``k`` in ``n`` plate appearances by time through the order (starts that reached
    the third time) and by batting side against the pitcher's hand."""
    empty = tuple(pd.DataFrame(columns=c) for c in LEAGUE_COUNT_COLUMNS.values())
    starts = pa[pa["is_start"].fillna(False).astype(bool) & pa["times_faced"].notna()]
    if starts.empty:
        return empty[0], empty[1]
    bf = starts.groupby(["game_id", "pitcher_id"])["times_faced"].transform("size")
    deep = starts[bf >= TTO_MIN_BF]
    tto = deep["times_faced"].clip(upper=3).astype(int)
    per = pd.DataFrame({"season": deep["season"], "tto": tto, "k": deep["is_strikeout"]})
    by_tto = per.dropna().groupby(["season", "tto"], as_index=False)["k"].agg(["sum", "count"])
    sides = pa["bats"].notna() & pa["throws"].notna() & pa["is_strikeout"].notna()
    plat = pd.DataFrame(
        {"season": pa["season"], "same": pa["bats"] == pa["throws"], "k": pa["is_strikeout"]}
    )[sides]
    by_side = plat.groupby(["season", "same"], as_index=False)["k"].agg(["sum", "count"])
    names = {"sum": "k", "count": "n"}
    return by_tto.rename(columns=names), by_side.rename(columns=names)


def _league_seasons(by_tto: pd.DataFrame, by_side: pd.DataFrame) -> pd.DataFrame:
    """Per season: the logits of starters' strikeout rate the 2nd and 3rd+ time through the
    order over the 1st (in starts that reached the third time), and the platoon gap (same side
    over opposite), pooled over every earlier season (``_league_counts``' frames)."""
    columns = ["season", "tto2_logit", "tto3_logit", "platoon_logit"]
    # typed even when empty (no plate appearances, e.g. a warehouse of Statcast starts only):
    # ``attach`` looks seasons up in it as int64
    empty = pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "season" else "float64") for c in columns}
    )
    if by_tto.empty and by_side.empty:
        return empty

    def wide(counts: pd.DataFrame, key: str) -> pd.DataFrame:
        counts = counts.astype({"season": "int64", "k": "float64", "n": "float64"})
        return counts.pivot_table(index="season", columns=key, values=["k", "n"], aggfunc="sum")

    tto_table, side_table = wide(by_tto, "tto").fillna(0), wide(by_side, "same").fillna(0)
    seasons = sorted(set(tto_table.index) | set(side_table.index))
    rows = []
    for season in [*seasons[1:], seasons[-1] + 1]:
        t_prev = tto_table[tto_table.index < season].sum()
        s_prev = side_table[side_table.index < season].sum()

        def rate(table: pd.Series, key: object) -> float:
            count = table.get(("n", key), 0.0)
            return table.get(("k", key), 0.0) / count if count else np.nan

        rows.append(
            {
                "season": season,
                "tto2_logit": float(_logit(rate(t_prev, 2)) - _logit(rate(t_prev, 1))),
                "tto3_logit": float(_logit(rate(t_prev, 3)) - _logit(rate(t_prev, 1))),
                "platoon_logit": float(_logit(rate(s_prev, True)) - _logit(rate(s_prev, False))),
            }
        )
    out = pd.DataFrame(rows, columns=columns).astype({"season": "int64"})
    # seasons after the last one with play-by-play (2024, 2025) keep the latest estimate
    return out
