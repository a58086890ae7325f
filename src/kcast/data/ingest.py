"""What every ingest shares: its report, its entry in ``ingest_log``, all-or-nothing writes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd

from kcast.masking import mask_secrets
from kcast.warehouse import UpsertResult, Warehouse
from kcast.warehouse.base import utc_now

MESSAGE_CHARS = 2000  # of an ingest's error or notes kept in ingest_log
# Retrosheet's game types, as the ``info,gametype`` record (or the CSVs) spell them.
GAME_TYPES = {
    "regular",
    "playoff",  # a tie-breaker game (game 163); not part of Retrosheet's regular season
    "wildcard",
    "divisionseries",
    "lcs",
    "worldseries",
    "allstar",
    "spring",
    "exhibition",
}


@dataclass
class IngestReport:
    """What an ingest read and wrote, and anything it could not place."""

    kind: str
    target: str
    rows_read: int = 0
    results: list[UpsertResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: dict[str, object] = field(default_factory=dict)

    @property
    def inserted(self) -> int:
        return sum(r.inserted for r in self.results)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.results)

    def by_table(self) -> dict[str, tuple[int, int]]:
        """table -> (inserted, updated), summed over the ingest's writes."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.results:
            ins, upd = out.get(r.table, (0, 0))
            out[r.table] = (ins + r.inserted, upd + r.updated)
        return out


#: The tables a game source's frames fill, in the order they are written (the players and games
#: a row names are stored before it).
GAME_TABLES = (
    "players",
    "games",
    "pitcher_games",
    "team_batting_games",
    "lineups",
    "plate_appearances",
)


def game_tables(frames: object) -> list[tuple[str, pd.DataFrame]]:
    """``(table, rows)`` for each of ``GAME_TABLES`` that ``frames`` (a source's frames) has."""
    return [(table, getattr(frames, table)) for table in GAME_TABLES if hasattr(frames, table)]


def write_all(wh: Warehouse, report: IngestReport, frames: list[tuple[str, pd.DataFrame]]) -> None:
    """Upsert every (table, rows) pair in one transaction: all are stored, or none."""
    with wh.transaction():
        for table, rows in frames:
            report.results.append(wh.upsert(table, rows))


@contextmanager
def logged_ingest(
    wh: Warehouse, kind: str, target: str, secrets: Iterable[str] = ()
) -> Iterator[IngestReport]:
    """Run an ingest and record it in ``ingest_log``, as ``ok`` or ``failed`` with the error.

    What is stored (target, error, notes) has every secret masked: the configured ones and
    ``secrets`` (e.g. a key an upstream may echo back)."""
    secrets = tuple(secrets)
    report = IngestReport(kind=kind, target=mask_secrets(target, secrets))
    started = utc_now()
    run_id = uuid.uuid4().hex
    try:
        yield report
    except BaseException as exc:
        message = mask_secrets(f"{type(exc).__name__}: {exc}", secrets)[:MESSAGE_CHARS]
        _log(wh, run_id, started, report, "failed", message)
        raise
    notes = mask_secrets("; ".join(report.notes), secrets)[:MESSAGE_CHARS]
    _log(wh, run_id, started, report, "ok", notes or None)


def _log(
    wh: Warehouse,
    run_id: str,
    started: object,
    report: IngestReport,
    status: str,
    message: str | None,
) -> None:
    row = {
        "run_id": run_id,
        "started_at": started,
        "finished_at": utc_now(),
        "kind": report.kind,
        "target": report.target,
        "rows_read": report.rows_read,
        "rows_inserted": report.inserted,
        "rows_updated": report.updated,
        "status": status,
        "message": message,
    }
    try:
        wh.upsert("ingest_log", pd.DataFrame([row]))
    except Exception:  # noqa: BLE001 - the log must never hide the ingest's own error
        if status == "ok":
            raise


SPLIT_COLUMNS = (
    "pa_vs_rhp",
    "so_vs_rhp",
    "pa_vs_lhp",
    "so_vs_lhp",
    "pa_vs_starter",
    "so_vs_starter",
)


def opposing_pitcher_splits(pitchers: pd.DataFrame, throws: pd.Series) -> pd.DataFrame:
    """Per batting team per game, from the other side's pitcher lines: plate appearances and
    strikeouts against right- and left-handed pitchers and against the opposing starter.

    ``pitchers`` has game_id, opponent (the batting team), batters_faced, strikeouts, is_start;
    ``throws`` is each row's pitcher hand (R, L or missing). Indexed by (game_id, team).
    """
    bf, k = pitchers["batters_faced"], pitchers["strikeouts"]
    right, left, start = throws == "R", throws == "L", pitchers["is_start"].astype(bool)
    splits = pd.DataFrame(
        {
            "game_id": pitchers["game_id"],
            "team": pitchers["opponent"],
            "pa_vs_rhp": bf.where(right, 0),
            "so_vs_rhp": k.where(right, 0),
            "pa_vs_lhp": bf.where(left, 0),
            "so_vs_lhp": k.where(left, 0),
            "pa_vs_starter": bf.where(start, 0),
            "so_vs_starter": k.where(start, 0),
        }
    )
    return splits.groupby(["game_id", "team"])[list(SPLIT_COLUMNS)].sum()


def season_stats(pitcher_games: pd.DataFrame) -> dict[str, object]:
    """Per season: regular-season starts and all-pitcher strikeouts (Retrosheet's own checks)."""
    reg = pitcher_games[pitcher_games["game_type"] == "regular"]
    out: dict[str, object] = {}
    for season, g in reg.groupby("season"):
        out[str(season)] = {
            "starts": int(g["is_start"].sum()),
            "strikeouts": int(g["strikeouts"].sum()),
            "pitcher_games": len(g),
        }
    return out
