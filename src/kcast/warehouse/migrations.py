"""Versioned migrations of the warehouse schema.

Each migration runs once, in order, and is recorded in ``schema_migrations``. After them, every
table declared in ``schema.py`` is made to exist with all its columns (additive only), and the
views in ``kcast/sql/views`` are created or replaced, with the policy constants they name
rendered in (``sql_constants``). Running ``migrate`` twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path, PurePath

import pandas as pd

from kcast.config import get_settings
from kcast.errors import WarehouseError
from kcast.model_store import is_gcs, registry_location
from kcast.warehouse.base import Warehouse, utc_now
from kcast.warehouse.schema import (
    BETS,
    DECISION_COLUMNS,
    PREDICTIONS,
    PROP_LINES,
    SCHEMA_MIGRATIONS,
    SOURCE_RANK,
    SQL_TYPES,
    TABLES,
    Column,
    Table,
)
from kcast.warehouse.sql_constants import render


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Warehouse], None]


def _create(*names: str) -> Callable[[Warehouse], None]:
    def run(wh: Warehouse) -> None:
        for name in names:
            wh.create_table(TABLES[name])

    return run


# --------------------------------------------------------------------------------------------
# Migration 3: the original single-system predictions table -> one row per system
# --------------------------------------------------------------------------------------------

LEGACY_TABLE = "pitcher_strikeout_predictions_legacy"
LEGACY_SYSTEM = "v1_baseline"

# Legacy columns without which a row cannot be placed in the new table.
LEGACY_REQUIRED = ("game_id", "pitcher_id", "game_date", "predicted_strikeouts")
# The original table's columns, in its order. All but pitcher_lookup live on in the new table.
LEGACY_COLUMNS = tuple(
    "game_date game_id pitcher_id pitcher_lookup pitcher_name team opponent is_home line "  # noqa: SIM905
    "over_odds under_odds predicted_strikeouts confidence recommendation edge red_flags "
    "model_version created_at actual_strikeouts".split()
)
PITCHER_LOOKUP = Column("pitcher_lookup", "STRING", "the original's name key, e.g. gerritcole")


def _legacy_column(name: str) -> Column:
    """A column of the original table: typed as the new table's, required only where the
    original required it."""
    if name == PITCHER_LOOKUP.name:
        return PITCHER_LOOKUP
    return replace(PREDICTIONS.column(name), required=name in LEGACY_REQUIRED)


LEGACY_PREDICTIONS = Table(
    "pitcher_strikeout_predictions",
    "The original system's table: ONE row per pitcher per day, written by its single model "
    "(v1), without system_id. Migration 3 moves it to pitcher_strikeout_predictions_legacy.",
    tuple(_legacy_column(name) for name in LEGACY_COLUMNS),
    key=("game_date", "pitcher_id"),
)

# New columns every row needs; where a legacy row has none, this value is written instead.
LEGACY_DEFAULTS = {
    "system_id": f"'{LEGACY_SYSTEM}'",
    "model_version": "'legacy'",
    "confidence": "0.0",
    "recommendation": "'PASS'",
    "created_at": "CAST(game_date AS TIMESTAMP)",
}


def is_legacy_predictions(wh: Warehouse) -> bool:
    """True when ``pitcher_strikeout_predictions`` still holds rows without a system."""
    if not wh.table_exists(PREDICTIONS.name):
        return False
    if "system_id" not in wh.table_columns(PREDICTIONS.name):
        return True
    sql = f"SELECT COUNT(*) AS n FROM {PREDICTIONS.name} WHERE system_id IS NULL"
    return int(wh.query(sql)["n"].iloc[0]) > 0


def legacy_select(legacy_columns: list[str]) -> str:
    """The SELECT that maps legacy rows onto every column of the new table, typed."""
    have = set(legacy_columns)
    exprs = []
    for col in PREDICTIONS.columns:
        value = col.name if col.name in have else "NULL"
        if col.name in LEGACY_DEFAULTS:
            value = (
                f"COALESCE({col.name}, {LEGACY_DEFAULTS[col.name]})"
                if col.name in have
                else LEGACY_DEFAULTS[col.name]
            )
        exprs.append(f"CAST({value} AS {SQL_TYPES[col.type]}) AS {col.name}")
    return "SELECT " + ",\n       ".join(exprs) + f"\nFROM {LEGACY_TABLE}"


def frame_checksum(frame: pd.DataFrame) -> str:
    """A SHA-256 over every value of the rows, in key order (equal frames, equal sums)."""
    key = list(PREDICTIONS.key)
    ordered = frame.sort_values(key).reset_index(drop=True)
    hashes = pd.util.hash_pandas_object(ordered, index=False)
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()


def _check_legacy_rows(wh: Warehouse, columns: list[str]) -> None:
    """Refuse (changing nothing) legacy rows that cannot be keyed in the new table."""
    name = PREDICTIONS.name
    missing = [c for c in LEGACY_REQUIRED if c not in columns]
    if missing:
        raise WarehouseError(
            f"{name} has no system_id and lacks columns {missing}; it is not the legacy "
            "single-system table kcast can migrate (docs/monitoring.md describes it)"
        )
    nulls = " OR ".join(f"{c} IS NULL" for c in LEGACY_REQUIRED)
    bad = int(wh.query(f"SELECT COUNT(*) AS n FROM {name} WHERE {nulls}")["n"].iloc[0])
    if bad:
        raise WarehouseError(
            f"{name}: {bad} legacy rows lack one of {list(LEGACY_REQUIRED)}; fix or delete "
            "them and migrate again (nothing was changed)"
        )
    key = "game_id, pitcher_id"
    if "system_id" in columns:
        key += f", COALESCE(system_id, '{LEGACY_SYSTEM}')"
    dupes = wh.query(
        f"SELECT game_id, pitcher_id, COUNT(*) AS n FROM {name} GROUP BY {key} "
        "HAVING COUNT(*) > 1 ORDER BY game_id, pitcher_id LIMIT 3"
    )
    if len(dupes):
        raise WarehouseError(
            f"{name}: legacy rows share a (game_id, pitcher_id), e.g. "
            f"{dupes[['game_id', 'pitcher_id']].to_dict('records')}; keep one row per pitcher "
            "per game and migrate again (nothing was changed)"
        )


def split_legacy_predictions(wh: Warehouse) -> None:
    """Move the single-system table aside and copy every row in, tagged ``v1_baseline``.

    The old table is kept whole as ``pitcher_strikeout_predictions_legacy``. The copy is
    checked by row count and by a checksum over every copied value before the step commits
    (``migrate`` runs each step in a transaction). Does nothing on a warehouse whose
    predictions all carry a system_id, so it is safe to run twice.
    """
    name = PREDICTIONS.name
    if not is_legacy_predictions(wh):
        return
    if wh.table_exists(LEGACY_TABLE):
        raise WarehouseError(
            f"{name} still has rows without system_id but {LEGACY_TABLE} already exists; "
            f"rename or drop {LEGACY_TABLE} and migrate again (nothing was changed)"
        )
    columns = wh.table_columns(name)
    _check_legacy_rows(wh, columns)
    wh.execute(f"ALTER TABLE {name} RENAME TO {LEGACY_TABLE}")
    wh.create_table(PREDICTIONS)
    select = legacy_select(columns)
    wh.execute(f"INSERT INTO {name} ({', '.join(PREDICTIONS.column_names)})\n{select}")
    expected = wh.query(select)
    copied = wh.query(f"SELECT {', '.join(PREDICTIONS.column_names)} FROM {name}")
    old_rows = int(wh.query(f"SELECT COUNT(*) AS n FROM {LEGACY_TABLE}")["n"].iloc[0])
    if not (old_rows == len(expected) == len(copied)):
        raise WarehouseError(
            f"migrating {name}: {old_rows} legacy rows but {len(copied)} copied; rolled back"
        )
    if frame_checksum(expected) != frame_checksum(copied):
        raise WarehouseError(f"migrating {name}: the copied rows' checksum differs; rolled back")


# --------------------------------------------------------------------------------------------
# Migration 5: model locations relative to the model folder
# --------------------------------------------------------------------------------------------


def relative_model_paths(wh: Warehouse) -> None:
    """Record every model file under ``KCAST_MODEL_DIR`` relative to it, so that a worker with
    its own model folder (a container, another machine) finds it; other locations (a file
    outside the folder, gs://) are kept as they are."""
    model_dir = get_settings().model_dir
    rows = wh.query("SELECT system_id, version, path FROM model_registry")
    for system_id, version, path in rows.itertuples(index=False):
        if is_gcs(path) or not PurePath(path).is_absolute():
            continue
        location = registry_location(Path(path), model_dir)
        if not Path(location).is_absolute():
            wh.execute(
                "UPDATE model_registry SET path = $p WHERE system_id = $s AND version = $v",
                {"p": location, "s": system_id, "v": version},
            )


# --------------------------------------------------------------------------------------------
# Migration 14: one decision per prediction row (kcast.decision)
# --------------------------------------------------------------------------------------------

# Rows stored before: their recommendation was the verdict at their line, their bets (if any)
# are in the ledger only. Each becomes a lean on that side at its line and price, or a pass.
BACKFILL_DECISIONS = """UPDATE pitcher_strikeout_predictions SET
    verdict = recommendation,
    decision = CASE WHEN recommendation IN ('OVER', 'UNDER') THEN 'lean' ELSE 'pass' END,
    decision_line = CASE WHEN recommendation IN ('OVER', 'UNDER') THEN line END,
    decision_book = CASE WHEN recommendation IN ('OVER', 'UNDER') THEN book END,
    decision_odds = CASE WHEN recommendation = 'OVER' THEN over_odds
                         WHEN recommendation = 'UNDER' THEN under_odds END,
    decision_ev = CASE WHEN recommendation IN ('OVER', 'UNDER') THEN expected_value END,
    alternate_line = CASE WHEN recommendation IN ('OVER', 'UNDER') THEN FALSE END,
    other_book = CASE WHEN recommendation IN ('OVER', 'UNDER') THEN FALSE END,
    decision_reason = 'stored before decisions were kept on the row: the verdict at its line'
WHERE verdict IS NULL"""


def decision_columns(wh: Warehouse) -> None:
    """Give the predictions the decision's columns and the ledger its reasons; fill the
    decisions of the rows already stored from their recommendations."""
    for column in DECISION_COLUMNS:
        wh.add_column(PREDICTIONS, column)
    wh.add_column(BETS, "reason")
    wh.execute(BACKFILL_DECISIONS)


# Migration 9: plate appearances merge by source rank
# --------------------------------------------------------------------------------------------


def rank_plate_appearances(wh: Warehouse) -> None:
    """Give ``plate_appearances`` its ``source_rank`` column and the event files' rows their
    rank (50), so that the Stats API feed's rows (30) never overwrite them."""
    table = TABLES["plate_appearances"]
    if not wh.table_exists(table.name):
        return
    if "source_rank" not in wh.table_columns(table.name):
        wh.add_column(table, "source_rank")
    wh.execute(
        "UPDATE plate_appearances SET source_rank = $rank "
        "WHERE source_rank IS NULL AND source = $source",
        {"rank": SOURCE_RANK["retrosheet_events"], "source": "retrosheet_events"},
    )


# --------------------------------------------------------------------------------------------
# Migration 10: the Athletics' 2025 games under one id
# --------------------------------------------------------------------------------------------

# Retrosheet's 2025 files call the Athletics ATH; kcast's code is OAK in every season, and the
# Stats API and the start logs build OAK ids. (No other club was ever ATH in Retrosheet's ids.)
RENAMED_GAME_PREFIXES = {"ATH": "OAK"}


def rename_game_ids(wh: Warehouse) -> None:
    """File the games stored under Retrosheet's ``ATH`` ids under kcast's ``OAK`` ids, in every
    table with a game_id. Where both ids hold a row of the same key (the event files and a start
    log loaded one after the other), the row of the higher-ranked source stays (the ``OAK`` one
    when neither table ranks its sources); the other is dropped."""
    for old, new in RENAMED_GAME_PREFIXES.items():
        for table in TABLES.values():
            if "game_id" not in table.column_names or not wh.table_exists(table.name):
                continue
            _rename_prefix(wh, table, old, new)


def _rename_prefix(wh: Warehouse, table: Table, old: str, new: str) -> None:
    name = table.name
    params = {"old": old, "new": new, "like": f"{old}%"}
    found = wh.query(
        f"SELECT COUNT(*) AS n FROM {name} WHERE game_id LIKE $like", {"like": params["like"]}
    )
    if int(found["n"].iloc[0]) == 0:
        return
    if "game_id" in table.key:
        same = "".join(f" AND o.{k} = t.{k}" for k in table.key if k != "game_id")
        rank = table.rank
        outranks = f" AND COALESCE(o.{rank}, 0) > COALESCE(t.{rank}, 0)" if rank else " AND FALSE"
        # the new id's row goes where the old id's outranks it; then every old row with a new
        # row of the same key goes
        wh.execute(
            f"DELETE FROM {name} t WHERE t.game_id LIKE $new || '%' AND EXISTS (SELECT 1 FROM "
            f"{name} o WHERE o.game_id = $old || SUBSTR(t.game_id, 4){same}{outranks})",
            {"old": old, "new": new},
        )
        wh.execute(
            f"DELETE FROM {name} t WHERE t.game_id LIKE $like AND EXISTS (SELECT 1 FROM "
            f"{name} o WHERE o.game_id = $new || SUBSTR(t.game_id, 4){same})",
            {"new": new, "like": params["like"]},
        )
    wh.execute(
        f"UPDATE {name} SET game_id = $new || SUBSTR(game_id, 4) WHERE game_id LIKE $like",
        {"new": new, "like": params["like"]},
    )


def ledger_leans(wh: Warehouse) -> None:
    """Give the ledger a pick's status (bet or lean) and market (main or alternate rung); the
    rows already stored were bets, on the main line where their line is the main line."""
    wh.add_column(BETS, "status")
    wh.add_column(BETS, "market")
    wh.execute(
        "UPDATE bets SET status = COALESCE(status, 'bet'), market = COALESCE(market, "
        "CASE WHEN line = main_line THEN 'main' ELSE 'alternate' END)"
    )


def line_game_times(wh: Warehouse) -> None:
    """Give the stored lines the feed's first pitch (filled by the next ingest of the file)."""
    wh.add_column(PROP_LINES, "game_time")


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "foundation tables",
        _create(
            "players", "games", "pitcher_games", "team_batting_games", "prop_lines", "ingest_log"
        ),
    ),
    Migration(
        2,
        "prediction systems: model registry and per-system predictions",
        _create("model_registry", "pitcher_strikeout_predictions"),
    ),
    Migration(
        3,
        "legacy single-system predictions: kept as pitcher_strikeout_predictions_legacy, "
        "copied in as v1_baseline",
        split_legacy_predictions,
    ),
    Migration(4, "bets: the ledger of bets taken", _create("bets")),
    Migration(
        5,
        "model registry: locations under KCAST_MODEL_DIR made relative to it",
        relative_model_paths,
    ),
    Migration(
        6,
        "matchups: plate appearances and starting lineups",
        _create("plate_appearances", "lineups"),
    ),
    Migration(
        7, "pitch mix: Statcast whiffs, CSW and velocities per start", _create("pitch_mix_starts")
    ),
    Migration(8, "umpires: Retrosheet ids and names", _create("umpires")),
    Migration(
        9,
        "plate appearances: a source rank (the event files' rows 50, the live feed's 30)",
        rank_plate_appearances,
    ),
    Migration(
        10,
        "the Athletics' 2025 games: Retrosheet's ATH ids filed under kcast's OAK ids",
        rename_game_ids,
    ),
    Migration(
        11,
        "prediction snapshots: the earlier answer a re-prediction replaced",
        _create("prediction_snapshots"),
    ),
    Migration(
        14,
        "decisions: each prediction's verdict and its bet, lean or pass, on the row",
        decision_columns,
    ),
    Migration(
        17,
        "ledger: each pick's status (bet, or a lean of a rule not live) and market (main or "
        "alternate rung)",
        ledger_leans,
    ),
    Migration(18, "lines: the feed's first pitch (game_time)", line_game_times),
    Migration(20, "webhook alerts: what was sent, each alert once", _create("alerts_sent")),
]


def all_migrations() -> list[Migration]:
    steps = sorted(MIGRATIONS, key=lambda m: m.version)
    versions = [m.version for m in steps]
    if len(set(versions)) != len(versions):
        raise WarehouseError(f"duplicate migration versions: {versions}")
    return steps


def applied_versions(wh: Warehouse) -> set[int]:
    if not wh.table_exists(SCHEMA_MIGRATIONS.name):
        return set()
    return set(int(v) for v in wh.query("SELECT version FROM schema_migrations")["version"])


def migrate(wh: Warehouse) -> list[str]:
    """Bring the warehouse up to date; return the names of the steps that ran."""
    wh.create_table(SCHEMA_MIGRATIONS)
    done = applied_versions(wh)
    ran: list[str] = []
    for step in all_migrations():
        if step.version in done:
            continue
        with wh.transaction():
            step.apply(wh)
            wh.upsert(
                "schema_migrations",
                pd.DataFrame(
                    [{"version": step.version, "name": step.name, "applied_at": utc_now()}]
                ),
            )
        ran.append(f"{step.version}: {step.name}")
    for table in TABLES.values():
        if not wh.table_exists(table.name):
            wh.create_table(table)
            ran.append(f"created {table.name}")
            continue
        have = set(wh.table_columns(table.name))
        for column in table.column_names:
            if column not in have:
                wh.add_column(table, column)
                ran.append(f"added {table.name}.{column}")
    for name, sql in view_sql().items():
        wh.create_view(name, sql)
    return ran


def check_current(wh: Warehouse) -> None:
    """Raise when the warehouse lacks a migration this version of kcast needs."""
    missing = [m for m in all_migrations() if m.version not in applied_versions(wh)]
    if missing:
        raise WarehouseError(
            f"warehouse {wh.url} needs migrations {[m.version for m in missing]}; "
            "run `kcast warehouse migrate` first"
        )


def view_sql() -> dict[str, str]:
    """The monitoring views, by name, from ``kcast/sql/views/*.sql`` (in dependency order),
    with their ``{{CONSTANT}}`` placeholders rendered from ``kcast.policy``."""
    folder = resources.files("kcast") / "sql" / "views"
    views = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            name = (
                entry.name.removesuffix(".sql").split("_", 1)[1]
                if entry.name[0].isdigit()
                else entry.name.removesuffix(".sql")
            )
            views[name] = render(entry.read_text(), f"view {name}")
    return views


def select_view(name: str) -> str:
    """``SELECT * FROM`` one of the monitoring views (refused for any other name)."""
    names = view_sql()
    if name not in names:
        raise WarehouseError(f"unknown view {name!r}; the views are: {', '.join(names)}")
    return f"SELECT * FROM {name}"


def schema_fingerprint() -> str:
    """A hash of the schema this version of kcast declares: its migrations, every table's
    columns and key, and the views' SQL. A warehouse stamped with another fingerprint is
    migrated by the next command that writes (DuckDB); see ``open_warehouse``."""
    declared = {
        "migrations": [[m.version, m.name] for m in all_migrations()],
        "tables": {
            t.name: [[c.name, c.type] for c in t.columns] + [list(t.key)]
            for t in sorted(TABLES.values(), key=lambda t: t.name)
        },
        "views": view_sql(),
    }
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()[:16]
