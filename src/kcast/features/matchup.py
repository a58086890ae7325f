"""Matchup features: the opposing lineup batter by batter, the pitcher's swing-and-miss, the umpire.

For each start this adds, strictly from games before its date (as ``build.py`` does):

* the opposing lineup, slot by slot: the confirmed one (``lineups``: the event files,
  ``teamstats.csv``, the MLB Stats API), else a projected one (the team's most recent lineup of
  the season against a starter of the same hand), marked in ``lineup_status`` (confirmed,
  projected, unavailable);
* each batter's strikeouts and plate appearances, overall and against the pitcher's hand, this
  season plus the two before it weighted ``SEASON_WEIGHTS`` (``bat{slot}_k``, ``bat{slot}_pa``,
  ``bat{slot}_k_hand``, ``bat{slot}_pa_hand``) and whether he bats from the pitcher's side
  (``bat{slot}_same``);
* the pitcher's pitches, swinging strikes and called strikes (whiff rate and CSW%), this season
  plus last season weighted ``PREV_PITCH_WEIGHT``, and the league's CSW% over the last 30 days;
  from the pitch sequences, and for a start without them (2024 has no event files) from the
  Statcast pitch-mix line of that start (``pitch_mix_starts``), so seasons with sequences keep
  every figure;
* the home-plate umpire's strikeouts over those expected from the league's rate in his games
  (``ump_k``, ``ump_k_expected``), over every earlier game he worked;
* the league's decline of starters' strikeout rate the second and third time through the order
  and its platoon gap (logits), from earlier seasons.

Everything comes from ``plate_appearances``, ``lineups``, ``games``, ``team_batting_games`` and
``pitch_mix_starts``,
loaded once into a ``MatchupContext``; ``tests/unit/test_matchup.py`` proves no row changes
when later games are added.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from kcast.features.build import DATE_DTYPE, HISTORY_TYPES
from kcast.warehouse import Warehouse

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

_PA_SQL = """SELECT p.game_id, p.game_date, p.season, p.batter_id, p.pitcher_id, p.bats,
       p.throws, p.times_faced, p.pitches, p.swinging_strikes, p.called_strikes,
       p.is_strikeout, s.is_start
FROM plate_appearances p
LEFT JOIN pitcher_games s ON s.game_id = p.game_id AND s.pitcher_id = p.pitcher_id
WHERE p.game_type IN (SELECT UNNEST($types)){before}"""

_LINEUP_SQL = """SELECT l.game_id, l.team, l.slot, l.player_id, l.bats, l.game_date,
       pl.throws AS opp_throws
FROM lineups l
LEFT JOIN pitcher_games s ON s.game_id = l.game_id AND s.team <> l.team AND s.is_start
LEFT JOIN players pl ON pl.player_id = s.pitcher_id
WHERE l.slot BETWEEN 1 AND 9{before}"""

_PITCH_MIX_SQL = """SELECT m.game_id, m.pitcher_id, m.game_date, m.season, m.pitches, m.whiffs, m.csw
FROM pitch_mix_starts m
WHERE m.game_id IS NOT NULL AND m.pitcher_id IS NOT NULL{before}"""

_UMPIRE_SQL = """SELECT g.game_id, g.game_date, g.umpire_home,
       SUM(b.strikeouts) AS k, SUM(b.plate_appearances) AS pa
FROM games g LEFT JOIN team_batting_games b USING (game_id)
WHERE g.game_type IN (SELECT UNNEST($types)){before}
GROUP BY g.game_id, g.game_date, g.umpire_home"""


def _logit(p: np.ndarray | pd.Series) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    frame["game_date"] = pd.to_datetime(frame["game_date"]).astype(DATE_DTYPE)
    return frame


def _asof(left: pd.DataFrame, right: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    """Each left row with the last right state of its ``by`` keys strictly before its date."""
    if right.empty:
        return left.assign(**{c: np.nan for c in cols})
    right = right.sort_values("game_date")[["game_date", *by, *cols]]
    for key in by:
        right[key] = right[key].astype(left[key].dtype)
    return pd.merge_asof(
        left.sort_values("game_date"),
        right,
        on="game_date",
        by=by,
        allow_exact_matches=False,
        direction="backward",
    )


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
        params: dict[str, object] = {"types": list(HISTORY_TYPES)}
        cut_pa = cut_l = cut_g = cut_m = ""
        if first_season is not None:
            params["first"] = int(first_season) - len(SEASON_WEIGHTS) + 1
            cut_pa = " AND p.season >= $first"
            cut_l = " AND l.season >= $first + 1"
            cut_m = " AND m.season >= $first"
        if before is not None:
            # the day's own lineups and umpires are known before its games
            params["before"] = pd.Timestamp(before).date()
            cut_pa += " AND p.game_date < $before"
            cut_m += " AND m.game_date < $before"
            cut_g += " AND g.game_date <= $before"
            cut_l += " AND l.game_date <= $before"
        pa = _dates(wh.query(_PA_SQL.format(before=cut_pa), params))
        lineup_params = {k: v for k, v in params.items() if k != "types"}
        lineups = _dates(wh.query(_LINEUP_SQL.format(before=cut_l), lineup_params))
        game_params = {k: v for k, v in params.items() if k != "first"}
        games = _dates(wh.query(_UMPIRE_SQL.format(before=cut_g), game_params))
        bats = wh.query("SELECT player_id, bats FROM players WHERE bats IS NOT NULL")
        mix_params = {k: v for k, v in params.items() if k != "types"}
        mix = _dates(wh.query(_PITCH_MIX_SQL.format(before=cut_m), mix_params))
        return cls.from_frames(pa, lineups, games, bats.set_index("player_id")["bats"], mix)

    @classmethod
    def from_frames(
        cls,
        pa: pd.DataFrame,
        lineups: pd.DataFrame,
        games: pd.DataFrame,
        bats: pd.Series,
        pitch_mix: pd.DataFrame | None = None,
    ) -> MatchupContext:
        """``pitch_mix``: Statcast lines of starts (game_id, pitcher_id, game_date, season,
        pitches, whiffs, csw); used only for starts whose pitch sequences ``pa`` lacks."""
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
            league_seasons=_league_seasons(pa),
            bats=bats,
        )

    # --- attaching ---------------------------------------------------------------------------
    def attach(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (feature rows with game_id, game_date, season, pitcher_id, opponent and
        throws) with every column of ``MATCHUP_FEATURES`` and ``lineup_status`` added."""
        t = frame.copy()
        t["_row"] = np.arange(len(t))
        t["game_date"] = pd.to_datetime(t["game_date"]).astype(DATE_DTYPE)
        hand = t["throws"].where(t["throws"].isin(["L", "R"]), "R") if "throws" in t else "R"
        t["_hand"] = hand
        slots, status = self._lineups(t)
        t["lineup_status"] = status
        t = t.join(self._batters(t, slots))
        t = self._pitchers(t)
        t = self._umpire(t)
        # seasons after the last with play-by-play keep the latest estimate
        t = pd.merge_asof(
            t.sort_values("season"),
            self.league_seasons.sort_values("season"),
            on="season",
            direction="backward",
        )
        t = t.sort_values("_row").drop(columns=["_row", "_hand"]).reset_index(drop=True)
        for col in MATCHUP_FEATURES:
            t[col] = pd.to_numeric(t[col], errors="coerce").astype("float64")
        return t

    @cached_property
    def confirmed_lineups(self) -> pd.DataFrame:
        """The confirmed lineups as one row per (game, team) and a column per slot (p1..p9),
        pivoted once per context rather than on every ``attach``."""
        confirmed = self.lineups.pivot_table(
            index=["game_id", "team"], columns="slot", values="player_id", aggfunc="first"
        )
        confirmed.columns = [f"p{int(s)}" for s in confirmed.columns]
        return confirmed.reindex(columns=[f"p{s}" for s in SLOTS])

    def _lineups(self, t: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """The opposing nine of each row (rows x slots of batter ids) and its status."""
        keys = pd.MultiIndex.from_arrays([t["game_id"], t["opponent"]])
        names = [f"p{s}" for s in SLOTS]
        got = self.confirmed_lineups.reindex(keys)
        got.index = t.index
        full = got.notna().all(axis=1).to_numpy()
        projected = _asof(
            t[["_row", "game_date", "season", "opponent", "_hand"]].rename(
                columns={"opponent": "team", "_hand": "opp_throws"}
            ),
            self.lineup_history,
            ["team", "opp_throws", "season"],
            names,
        ).set_index("_row")
        projected = projected.reindex(t["_row"])[names]
        projected.index = t.index
        have_projection = projected.notna().all(axis=1).to_numpy()
        slots = pd.DataFrame(
            np.where(full[:, None], got.to_numpy(float), projected.to_numpy(float)),
            index=t.index,
            columns=names,
        )
        status = np.where(full, "confirmed", np.where(have_projection, "projected", "unavailable"))
        return slots, status

    def _batters(self, t: pd.DataFrame, slots: pd.DataFrame) -> pd.DataFrame:
        """Each slot's weighted strikeouts and plate appearances, overall and by hand."""
        long = pd.DataFrame(
            {
                "_row": np.repeat(t["_row"].to_numpy(), 9),
                "slot": np.tile(np.arange(1, 10), len(t)),
                "batter_id": slots.to_numpy().reshape(-1),
                "game_date": np.repeat(t["game_date"].to_numpy(), 9),
                "season": np.repeat(t["season"].to_numpy(), 9),
                "_hand": np.repeat(np.asarray(t["_hand"]), 9),
            }
        )
        long = long.dropna(subset=["batter_id"])
        long["batter_id"] = long["batter_id"].astype("int64")
        cols = ["k_R", "pa_R", "k_L", "pa_L"]
        long = _asof(long, self.batter_cum, ["batter_id", "season"], cols)
        for c in cols:
            long[c] = long[c].fillna(0.0)
        for back, weight in enumerate(SEASON_WEIGHTS[1:], start=1):
            prev = self.batter_seasons.assign(season=self.batter_seasons["season"] + back)
            long = long.merge(prev, on=["batter_id", "season"], how="left", suffixes=("", "_p"))
            for c in cols:
                long[c] += weight * long.pop(f"{c}_p").fillna(0.0)
        right = long["_hand"] == "R"
        long["k"] = long["k_R"] + long["k_L"]
        long["pa"] = long["pa_R"] + long["pa_L"]
        long["k_hand"] = np.where(right, long["k_R"], long["k_L"])
        long["pa_hand"] = np.where(right, long["pa_R"], long["pa_L"])
        side = long["batter_id"].map(self.bats)
        side = side.where(side != "B", np.where(right, "L", "R"))  # a switch-hitter turns
        long["same"] = np.where(side.isna(), np.nan, (side == long["_hand"]).astype(float))
        wide = long.pivot_table(index="_row", columns="slot", values=list(BATTER_COLUMNS))
        wide.columns = [f"bat{int(s)}_{c}" for c, s in wide.columns]
        wide = wide.reindex(t["_row"])
        wide.index = t.index
        return wide.reindex(columns=[f"bat{s}_{c}" for s in SLOTS for c in BATTER_COLUMNS])

    def _pitchers(self, t: pd.DataFrame) -> pd.DataFrame:
        cols = ["pitches", "whiffs", "csw"]
        now = {c: f"_now_{c}" for c in cols}
        prev = {c: f"_prev_{c}" for c in cols}
        t = _asof(
            t, self.pitcher_cum.rename(columns=now), ["pitcher_id", "season"], [*now.values()]
        )
        last = self.pitcher_seasons.rename(columns=prev)
        last["season"] += 1
        t = t.merge(last, on=["pitcher_id", "season"], how="left")
        for c in cols:
            t[f"pit_{c}"] = t.pop(now[c]).fillna(0.0) + PREV_PITCH_WEIGHT * t.pop(prev[c]).fillna(
                0.0
            )
        t = t.assign(_lg="MLB")
        t = _asof(t, self.league_csw.assign(_lg="MLB"), ["_lg"], ["lg_csw_pct"])
        return t.drop(columns=["_lg"])

    def _umpire(self, t: pd.DataFrame) -> pd.DataFrame:
        t["umpire_home"] = t["game_id"].map(self.game_umpires)
        known = t[t["umpire_home"].notna()]
        states = self.umpires.rename(columns={"cum_k": "ump_k", "cum_expected": "ump_k_expected"})
        known = _asof(known, states, ["umpire_home"], ["ump_k", "ump_k_expected"])
        t = t.merge(known[["_row", "ump_k", "ump_k_expected"]], on="_row", how="left")
        return t.drop(columns=["umpire_home"])


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


def _pitcher_tables(
    pa: pd.DataFrame, pitch_mix: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per pitcher, after each day: cumulative pitches, whiffs and CSW this season; the season
    totals; the league's CSW% over 30 days. A pitch-mix line counts only for a start none of
    whose plate appearances has a pitch sequence."""
    has = pa["pitches"].notna()
    data = pd.DataFrame(
        {
            "pitcher_id": pa["pitcher_id"],
            "season": pa["season"],
            "game_date": pa["game_date"],
            "pitches": pa["pitches"].where(has, 0).astype(float),
            "whiffs": pa["swinging_strikes"].where(has, 0).astype(float),
            "csw": (pa["swinging_strikes"] + pa["called_strikes"]).where(has, 0).astype(float),
        }
    )
    cols = ["pitches", "whiffs", "csw"]
    if pitch_mix is not None and not pitch_mix.empty:
        sequenced = pd.MultiIndex.from_frame(pa.loc[has, ["game_id", "pitcher_id"]])
        keys = pd.MultiIndex.from_frame(pitch_mix[["game_id", "pitcher_id"]])
        extra = pitch_mix[~keys.isin(sequenced)]
        extra = pd.DataFrame(
            {
                "pitcher_id": extra["pitcher_id"].astype("int64"),
                "season": extra["season"].astype("int64"),
                "game_date": extra["game_date"],
                **{c: extra[c].astype(float) for c in cols},
            }
        )
        data = pd.concat([data, extra], ignore_index=True) if len(extra) else data
    per = data.groupby(["pitcher_id", "season", "game_date"], as_index=False).sum()
    cum = per[["pitcher_id", "season", "game_date"]].copy()
    cum[cols] = per.groupby(["pitcher_id", "season"])[cols].cumsum().to_numpy()
    seasons = per.groupby(["pitcher_id", "season"], as_index=False)[cols].sum()
    daily = per.groupby("game_date")[["pitches", "csw"]].sum().sort_index()
    roll = daily.rolling(LEAGUE_DAYS).sum()
    league = (roll["csw"] / roll["pitches"].replace(0, np.nan)).rename("lg_csw_pct")
    return cum, seasons, league.reset_index()


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


def _league_seasons(pa: pd.DataFrame) -> pd.DataFrame:
    """Per season: the logits of starters' strikeout rate the 2nd and 3rd+ time through the
    order over the 1st (in starts that reached the third time), and the platoon gap (same side
    over opposite), pooled over every earlier season."""
    columns = ["season", "tto2_logit", "tto3_logit", "platoon_logit"]
    # typed even when empty (no plate appearances, e.g. a warehouse of Statcast starts only):
    # ``attach`` merges on season, which must be int64 on both sides
    empty = pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "season" else "float64") for c in columns}
    )
    starts = pa[pa["is_start"].fillna(False).astype(bool) & pa["times_faced"].notna()]
    if starts.empty:
        return empty
    bf = starts.groupby(["game_id", "pitcher_id"])["times_faced"].transform("size")
    deep = starts[bf >= TTO_MIN_BF]
    tto = deep["times_faced"].clip(upper=3).astype(int)
    k = deep["is_strikeout"].astype(float)
    per = pd.DataFrame({"season": deep["season"], "tto": tto, "k": k})
    by_tto = per.groupby(["season", "tto"])["k"].agg(["sum", "count"]).unstack("tto").fillna(0)
    same = (pa["bats"] == pa["throws"]).where(pa["bats"].notna() & pa["throws"].notna())
    plat = pd.DataFrame(
        {"season": pa["season"], "same": same, "k": pa["is_strikeout"].astype(float)}
    ).dropna()
    by_side = plat.groupby(["season", "same"])["k"].agg(["sum", "count"]).unstack("same").fillna(0)
    seasons = sorted(set(by_tto.index) | set(by_side.index))
    if not seasons:
        return empty
    rows = []
    for season in [*seasons[1:], seasons[-1] + 1]:
        t_prev = by_tto[by_tto.index < season].sum()
        s_prev = by_side[by_side.index < season].sum()

        def rate(table: pd.Series, key: object) -> float:
            count = table.get(("count", key), 0.0)
            return table.get(("sum", key), 0.0) / count if count else np.nan

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
