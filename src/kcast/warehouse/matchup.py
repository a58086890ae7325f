"""The rows the matchup features read (``kcast.features.matchup.MatchupContext``).

Each read takes the same two cuts: ``first``, the first season wanted (0: every season), and
``before``, the first date not wanted (the plate appearances and pitch mix strictly before it,
the lineups and umpires up to and including it: a day's lineups and umpires are known before
its games). The SQL is fixed text with bind parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from kcast.warehouse.base import Warehouse

EVERY_SEASON = 0
NO_END = dt.date(9999, 12, 31)

_PLATE_APPEARANCES = """SELECT p.game_id, p.game_date, p.season, p.batter_id, p.pitcher_id,
       p.bats, p.throws, p.times_faced, p.pitches, p.swinging_strikes, p.called_strikes,
       p.is_strikeout, p.source, s.is_start
FROM plate_appearances p
LEFT JOIN pitcher_games s ON s.game_id = p.game_id AND s.pitcher_id = p.pitcher_id
WHERE p.game_type IN (SELECT UNNEST($types)) AND p.season >= $first AND p.game_date < $before"""

_LINEUPS = """SELECT l.game_id, l.team, l.slot, l.player_id, l.bats, l.game_date,
       pl.throws AS opp_throws
FROM lineups l
LEFT JOIN pitcher_games s ON s.game_id = l.game_id AND s.team <> l.team AND s.is_start
LEFT JOIN players pl ON pl.player_id = s.pitcher_id
WHERE l.slot BETWEEN 1 AND 9 AND l.season >= $first + 1 AND l.game_date <= $before"""

_PITCH_MIX = """SELECT m.game_id, m.pitcher_id, m.game_date, m.season, m.pitches, m.whiffs, m.csw
FROM pitch_mix_starts m
WHERE m.game_id IS NOT NULL AND m.pitcher_id IS NOT NULL
  AND m.season >= $first AND m.game_date < $before"""

_UMPIRE_GAMES = """SELECT g.game_id, g.game_date, g.umpire_home,
       SUM(b.strikeouts) AS k, SUM(b.plate_appearances) AS pa
FROM games g LEFT JOIN team_batting_games b USING (game_id)
WHERE g.game_type IN (SELECT UNNEST($types)) AND g.game_date <= $before
GROUP BY g.game_id, g.game_date, g.umpire_home"""

# the league's strikeouts by time through the order (starts that reached ``$min_bf`` batters)
# and by batting side against the pitcher's hand, per season: the counts behind the league
# logits, over every season (a context trimmed to its batters' seasons still pools them all)
_LEAGUE_BY_TTO = """SELECT t.season, LEAST(t.times_faced, 3) AS tto,
       SUM(CASE WHEN t.is_strikeout THEN 1 ELSE 0 END) AS k, COUNT(t.is_strikeout) AS n
FROM (SELECT p.season, p.times_faced, p.is_strikeout,
             COUNT(*) OVER (PARTITION BY p.game_id, p.pitcher_id) AS bf
      FROM plate_appearances p
      JOIN pitcher_games s ON s.game_id = p.game_id AND s.pitcher_id = p.pitcher_id
      WHERE s.is_start AND p.times_faced IS NOT NULL
        AND p.game_type IN (SELECT UNNEST($types)) AND p.game_date < $before) t
WHERE t.bf >= $min_bf
GROUP BY t.season, LEAST(t.times_faced, 3)"""

_LEAGUE_BY_SIDE = """SELECT p.season, p.bats = p.throws AS same,
       SUM(CASE WHEN p.is_strikeout THEN 1 ELSE 0 END) AS k, COUNT(p.is_strikeout) AS n
FROM plate_appearances p
WHERE p.bats IS NOT NULL AND p.throws IS NOT NULL
  AND p.game_type IN (SELECT UNNEST($types)) AND p.game_date < $before
GROUP BY p.season, p.bats = p.throws"""

PITCH_MIX_COLUMNS = ["game_id", "pitcher_id", "game_date", "season", "pitches", "whiffs", "csw"]


def _optional(
    wh: Warehouse, table: str, sql: str, columns: list[str], params: dict | None = None
) -> pd.DataFrame:
    """``sql``'s rows, or an empty frame of ``columns`` when ``table`` is not there: a warehouse
    made by an older kcast and opened read-only (``kcast backtest`` without ``--write``) is not
    migrated, and the pitch mix and the umpires' names are extras the features do without."""
    if wh.table_exists(table):
        return wh.query(sql, params or {})
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def plate_appearances(
    wh: Warehouse, types: Sequence[str], first: int = EVERY_SEASON, before: dt.date = NO_END
) -> pd.DataFrame:
    """Plate appearances of games of ``types``, with their source and whether the pitcher
    started."""
    return wh.query(
        _PLATE_APPEARANCES, {"types": list(types), "first": int(first), "before": before}
    )


def league_counts(
    wh: Warehouse, types: Sequence[str], min_bf: int, before: dt.date = NO_END
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per season, the strikeouts ``k`` in ``n`` plate appearances of every season before
    ``before``: by time through the order (``tto``, 1-3, the third and later together) in
    starts of at least ``min_bf`` batters, and by whether the batter bats from the pitcher's
    side (``same``)."""
    params = {"types": list(types), "before": before}
    by_tto = wh.query(_LEAGUE_BY_TTO, params | {"min_bf": int(min_bf)})
    return by_tto, wh.query(_LEAGUE_BY_SIDE, params)


def lineups(wh: Warehouse, first: int = EVERY_SEASON, before: dt.date = NO_END) -> pd.DataFrame:
    """Starting lineups (slots 1-9) with the throwing hand of the starter they faced, from the
    season after ``first`` (the projected lineups need one season fewer than the batters)."""
    return wh.query(_LINEUPS, {"first": int(first), "before": before})


def pitch_mix(wh: Warehouse, first: int = EVERY_SEASON, before: dt.date = NO_END) -> pd.DataFrame:
    """The Statcast pitch-mix lines matched to a start (none when the table is not there)."""
    params = {"first": int(first), "before": before}
    return _optional(wh, "pitch_mix_starts", _PITCH_MIX, PITCH_MIX_COLUMNS, params)


def umpire_games(wh: Warehouse, types: Sequence[str], before: dt.date = NO_END) -> pd.DataFrame:
    """Each game's home-plate umpire and both teams' strikeouts and plate appearances."""
    return wh.query(_UMPIRE_GAMES, {"types": list(types), "before": before})


def umpire_names(wh: Warehouse) -> pd.DataFrame:
    """Retrosheet's umpire ids and names (none when the table is not there)."""
    columns = ["umpire_id", "full_name"]
    return _optional(wh, "umpires", "SELECT umpire_id, full_name FROM umpires", columns)


def batting_sides(wh: Warehouse) -> pd.Series:
    """Each player's batting side (R, L or B), where known."""
    rows = wh.query("SELECT player_id, bats FROM players WHERE bats IS NOT NULL")
    return rows.set_index("player_id")["bats"]
