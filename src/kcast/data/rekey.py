"""Rows a lower-ranked source filed under another id of a game a better source now stores.

A source without Retrosheet's ids (the Statcast start logs) numbers a doubleheader's games by
gamePk order when it is loaded first, which is not always the order they were played. Retrosheet's
ids are authoritative, so when Retrosheet's event files or CSVs arrive, such rows are moved to
Retrosheet's game (their values still only fill gaps there), the game's ``mlb_game_pk`` moves
with them, and the game left empty is retired with its lower-ranked rows (``GAME_TABLES``). The
rule of which game a row belongs to is ``kcast.data.gameids.relocate_rows`` (same pitcher, same
date); the reads and deletes are in ``kcast.warehouse.sources``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from kcast.data.gameids import relocate_rows
from kcast.warehouse import Warehouse
from kcast.warehouse.sources import (
    delete_pitcher_rows,
    lower_ranked_games,
    lower_ranked_pitcher_rows,
    retire_games,
)


@dataclass
class Rekey:
    """Lower-ranked pitcher rows to move to the better source's game id, and the games to fix."""

    moved: pd.DataFrame  # the rows, with their new game_id
    old_rows: list[tuple[str, int]]  # (game_id, pitcher_id) to delete
    old_games: list[str]  # lower-ranked games rows to delete (re-written if the source has them)
    game_pks: dict[str, int]  # the better source's game id -> mlb_game_pk of the moved game
    notes: list[str] = field(default_factory=list)


def plan_rekey(wh: Warehouse, pitcher_games: pd.DataFrame, rank: int) -> Rekey:
    """Find rows ranked below ``rank`` of the same pitcher and date as a row of
    ``pitcher_games`` (the better source's, with game_id, pitcher_id, game_date, is_start,
    season) that sit under another game id."""
    seasons = sorted({int(s) for s in pitcher_games["season"]})
    if not seasons:
        return Rekey(pd.DataFrame(), [], [], {})
    lower = lower_ranked_pitcher_rows(wh, rank, seasons)
    if lower.empty:
        return Rekey(pd.DataFrame(), [], [], {})
    lower = lower.drop(columns=["updated_at"])
    lower["game_date"] = pd.to_datetime(lower["game_date"]).dt.date
    ours = pitcher_games[["game_id", "pitcher_id", "game_date", "is_start"]]
    pick, notes = relocate_rows(lower, ours)
    if pick.empty:
        return Rekey(pd.DataFrame(), [], [], {}, notes)
    moved = lower.merge(pick, on=["game_id", "pitcher_id"])
    old_rows = list(zip(moved["game_id"], moved["pitcher_id"].astype(int), strict=True))
    moving = set(old_rows)
    staying = {
        g
        for g, p in zip(lower["game_id"], lower["pitcher_id"], strict=True)
        if (g, int(p)) not in moving
    }
    old_ids = sorted(set(moved["game_id"]))
    old_games = lower_ranked_games(wh, rank, seasons)
    old_games = old_games[old_games["game_id"].isin(old_ids)].set_index("game_id")
    delete_games: list[str] = []
    game_pks: dict[str, int] = {}
    for old in old_ids:
        if old not in old_games.index:
            continue
        targets = set(moved.loc[moved["game_id"] == old, "game_id_new"])
        if old in staying or len(targets) != 1:
            notes.append(f"game {old}: its rows went to {sorted(targets)}; mlb_game_pk left as is")
            continue
        pk = old_games.loc[old, "mlb_game_pk"]
        if pd.notna(pk):
            game_pks[targets.pop()] = int(pk)
        # nothing is left in the old game: drop its row (the better source writes it anew if
        # it has it)
        delete_games.append(old)
    moved["game_id"] = moved.pop("game_id_new")
    moved = moved.sort_values("source_rank").drop_duplicates(["game_id", "pitcher_id"], keep="last")
    notes.append(
        f"{len(moved)} lower-ranked pitcher rows filed under another game id were moved to "
        f"Retrosheet's game ({len(old_ids)} games)"
    )
    return Rekey(moved, old_rows, delete_games, game_pks, notes)


def apply_rekey(wh: Warehouse, rekey: Rekey, games: pd.DataFrame, rank: int) -> None:
    """Delete the misfiled rows and retire the games left empty (inside the caller's
    transaction); give ``games`` (the better source's rows, changed in place) the gamePks of
    the games their rows came from."""
    delete_pitcher_rows(wh, rekey.old_rows)
    retire_games(wh, rekey.old_games, rank)
    if rekey.game_pks:
        pks = games["game_id"].map(rekey.game_pks)
        if "mlb_game_pk" in games:
            pks = pks.fillna(games["mlb_game_pk"])
        games["mlb_game_pk"] = pks.astype("Int64")
