"""What the sources' ingests read and delete beside their upserts, and the checks on games.

The SQL the data readers need lives here (written once, DuckDB's dialect, bind parameters):
the stored games a source's games are placed among, the pitchers' days, the throwing hands
already known, the lower-ranked rows a better source replaces, and the two checks that a game
is stored once (``duplicate_games``, ``double_starts``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

import pandas as pd

from kcast.warehouse.base import Warehouse

# tables of one side of one game whose lower-ranked rows go with a game that is retired
GAME_TABLES = ("team_batting_games", "lineups", "plate_appearances")


def _seasons(seasons: Iterable[int]) -> list[int]:
    return sorted({int(s) for s in seasons})


# --------------------------------------------------------------------------------------------
# Placing a source's games
# --------------------------------------------------------------------------------------------


def games_between(wh: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The stored games from ``first`` to ``last``: id, date, teams, number and gamePk."""
    return wh.query(
        "SELECT game_id, game_date, home_team, away_team, game_number, mlb_game_pk FROM games "
        "WHERE game_date BETWEEN $first AND $last",
        {"first": first, "last": last},
    )


def games_with_pk(wh: Warehouse, seasons: Iterable[int]) -> pd.DataFrame:
    """The stored games of ``seasons`` that have a gamePk: id, gamePk and date."""
    return wh.query(
        "SELECT game_id, mlb_game_pk, game_date FROM games WHERE mlb_game_pk IS NOT NULL "
        "AND season IN (SELECT UNNEST($seasons))",
        {"seasons": _seasons(seasons)},
    )


def pitcher_days(wh: Warehouse, seasons: Iterable[int]) -> pd.DataFrame:
    """Every stored appearance of ``seasons``: game, pitcher, date and whether he started."""
    return wh.query(
        "SELECT game_id, pitcher_id, game_date, is_start FROM pitcher_games "
        "WHERE season IN (SELECT UNNEST($seasons))",
        {"seasons": _seasons(seasons)},
    )


def game_ids(wh: Warehouse, seasons: Iterable[int]) -> set[str]:
    """The ids of the stored games of ``seasons``."""
    rows = wh.query(
        "SELECT game_id FROM games WHERE season IN (SELECT UNNEST($seasons))",
        {"seasons": _seasons(seasons)},
    )
    return set(rows["game_id"])


def known_throws(wh: Warehouse, ids: Collection[int]) -> dict[int, str]:
    """The throwing hands the warehouse already has for these players."""
    if not ids:
        return {}
    rows = wh.query(
        "SELECT player_id, throws FROM players WHERE throws IS NOT NULL "
        "AND player_id IN (SELECT UNNEST($ids))",
        {"ids": sorted({int(i) for i in ids})},
    )
    return {int(r.player_id): r.throws for r in rows.itertuples()}


# --------------------------------------------------------------------------------------------
# Rows a better source replaces
# --------------------------------------------------------------------------------------------


def lower_ranked_pitcher_rows(wh: Warehouse, rank: int, seasons: Iterable[int]) -> pd.DataFrame:
    """Every ``pitcher_games`` row of ``seasons`` from a source ranked below ``rank``."""
    return wh.query(
        "SELECT * FROM pitcher_games WHERE source_rank < $rank "
        "AND season IN (SELECT UNNEST($seasons))",
        {"rank": rank, "seasons": _seasons(seasons)},
    )


def lower_ranked_games(wh: Warehouse, rank: int, seasons: Iterable[int]) -> pd.DataFrame:
    """The ``games`` rows of ``seasons`` from a source ranked below ``rank``: id, gamePk, rank."""
    return wh.query(
        "SELECT game_id, mlb_game_pk, source_rank FROM games "
        "WHERE season IN (SELECT UNNEST($seasons)) AND source_rank < $rank",
        {"rank": rank, "seasons": _seasons(seasons)},
    )


def delete_pitcher_rows(wh: Warehouse, rows: Iterable[tuple[str, int]]) -> None:
    """Delete these (game_id, pitcher_id) appearances."""
    for game_id, pitcher_id in rows:
        wh.delete_where(
            "pitcher_games",
            "game_id = $g AND pitcher_id = $p",
            {"g": game_id, "p": int(pitcher_id)},
        )


def retire_games(wh: Warehouse, ids: Collection[str], rank: int) -> None:
    """Delete these games and their rows ranked below ``rank`` in the tables of a game's sides
    (``GAME_TABLES``): the games were another id of a game a better source stores."""
    if not ids:
        return
    params = {"ids": sorted(ids), "rank": rank}
    for table in GAME_TABLES:
        wh.delete_where(
            table, "game_id IN (SELECT UNNEST($ids)) AND COALESCE(source_rank, 0) < $rank", params
        )
    wh.delete_where("games", "game_id IN (SELECT UNNEST($ids))", {"ids": sorted(ids)})


def delete_lower_ranked_plate_appearances(wh: Warehouse, ids: Collection[str], rank: int) -> int:
    """Delete the plate appearances of these games from sources ranked below ``rank`` (a
    better source stores the game's whole play-by-play); return how many went."""
    if not ids:
        return 0
    return wh.delete_where(
        "plate_appearances",
        "game_id IN (SELECT UNNEST($ids)) AND COALESCE(source_rank, 0) < $rank",
        {"ids": sorted(set(ids)), "rank": rank},
    )


def games_with_plate_appearances(wh: Warehouse, ids: Collection[str], rank: int = 0) -> set[str]:
    """The games among ``ids`` with stored plate appearances from a source ranked ``rank`` or
    above."""
    if not ids:
        return set()
    rows = wh.query(
        "SELECT DISTINCT game_id FROM plate_appearances WHERE game_id IN (SELECT UNNEST($ids)) "
        "AND COALESCE(source_rank, 0) >= $rank",
        {"ids": sorted(set(ids)), "rank": rank},
    )
    return set(rows["game_id"])


HISTORY_TABLES = ("games", "pitcher_games", "team_batting_games", "lineups", "plate_appearances")


def history_written_at(wh: Warehouse, day: dt.date) -> pd.Timestamp | None:
    """When the games before ``day`` were last written (any of ``HISTORY_TABLES``): a
    prediction of ``day`` made before it did not see everything now known (a boxscore or a
    live feed read late)."""
    latest = None
    for table in HISTORY_TABLES:
        value = wh.query(
            f"SELECT MAX(updated_at) AS t FROM {table} WHERE game_date < $d",  # noqa: S608
            {"d": day},
        )["t"].iloc[0]
        if value is not None and not pd.isna(value) and (latest is None or value > latest):
            latest = pd.Timestamp(value)
    return latest


def games_of_day(wh: Warehouse, day: dt.date) -> pd.DataFrame:
    """The stored games of ``day``: id, status, how many of their starts are stored and how
    many plate appearances."""
    return wh.query(
        """SELECT g.game_id, g.status,
                  (SELECT COUNT(*) FROM pitcher_games p
                   WHERE p.game_id = g.game_id AND p.is_start) AS starts,
                  (SELECT COUNT(*) FROM plate_appearances a
                   WHERE a.game_id = g.game_id) AS plate_appearances
           FROM games g WHERE g.game_date = $d""",
        {"d": day},
    )


# --------------------------------------------------------------------------------------------
# One game, one row
# --------------------------------------------------------------------------------------------

_DUPLICATE_GAMES_SQL = """
SELECT game_date, home_team, away_team, game_number,
       COUNT(*) AS games, STRING_AGG(game_id, ',' ORDER BY game_id) AS game_ids
FROM (
    SELECT game_id, game_date, home_team, away_team,
           COALESCE(game_number, CAST(RIGHT(game_id, 1) AS BIGINT)) AS game_number
    FROM games
    WHERE game_date BETWEEN $first AND $last
      AND COALESCE(status, '') NOT IN ('postponed', 'cancelled')
)
GROUP BY game_date, home_team, away_team, game_number
HAVING COUNT(*) > 1
ORDER BY game_date, home_team, game_number
"""

_DOUBLE_STARTS_SQL = """
SELECT game_date, pitcher_id, COUNT(*) AS starts,
       STRING_AGG(game_id, ',' ORDER BY game_id) AS game_ids
FROM pitcher_games
WHERE is_start AND game_date BETWEEN $first AND $last
GROUP BY game_date, pitcher_id
HAVING COUNT(*) > 1
ORDER BY game_date, pitcher_id
"""

_ALL_TIME = (dt.date(1800, 1, 1), dt.date(9999, 12, 31))


def duplicate_games(
    wh: Warehouse, first: dt.date | None = None, last: dt.date | None = None
) -> pd.DataFrame:
    """Games stored twice: two rows of the same two teams, date and game number (a missing
    number read from the id's last digit), postponed and cancelled listings left aside.
    Columns: game_date, home_team, away_team, game_number, games, game_ids."""
    params = {"first": first or _ALL_TIME[0], "last": last or _ALL_TIME[1]}
    return wh.query(_DUPLICATE_GAMES_SQL, params)


def double_starts(
    wh: Warehouse, first: dt.date | None = None, last: dt.date | None = None
) -> pd.DataFrame:
    """Pitchers stored as the starter of two games on one date (one game under two ids, or a
    doubleheader numbered one way by one source and the other way by another). Columns:
    game_date, pitcher_id, starts, game_ids."""
    params = {"first": first or _ALL_TIME[0], "last": last or _ALL_TIME[1]}
    return wh.query(_DOUBLE_STARTS_SQL, params)
