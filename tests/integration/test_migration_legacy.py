"""Migration 3: the original single-system predictions table becomes per-system rows, losslessly.

The legacy rows are real: the v1_baseline predictions of the 2022 walk-forward backtest (real
pitchers, dates, lines and outcomes), stored the way the original system stored them, one row
per pitcher per day without a system_id.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from kcast.errors import WarehouseError
from kcast.warehouse import migrations, open_warehouse
from kcast.warehouse.duckdb import DuckDBWarehouse
from kcast.warehouse.migrations import (
    LEGACY_PREDICTIONS,
    LEGACY_TABLE,
    applied_versions,
    frame_checksum,
    migrate,
    split_legacy_predictions,
)
from kcast.warehouse.schema import DECISION_COLUMNS, PREDICTIONS

TABLE = PREDICTIONS.name
LEGACY_COLUMNS = list(LEGACY_PREDICTIONS.column_names)
KEY = ["game_id", "pitcher_id"]
# rows the original system wrote without some values, and what the migration puts there
NO_MODEL_VERSION = [0, 1, 2]
NO_CREATED_AT = [3, 4]
NO_DECISION = [5]


@pytest.fixture(scope="module")
def legacy_rows(backtest_warehouse: Path) -> pd.DataFrame:
    """The backtest's real v1_baseline predictions, shaped as the legacy table's rows."""
    wh = DuckDBWarehouse(backtest_warehouse, read_only=True)
    try:
        rows = wh.query(
            f"SELECT * FROM {TABLE} WHERE system_id = 'v1_baseline' ORDER BY game_date, game_id, "
            "pitcher_id"
        )
    finally:
        wh.close()
    rows["pitcher_lookup"] = (
        rows["pitcher_name"]
        .str.normalize("NFKD")
        .str.encode("ascii", "ignore")
        .str.decode("ascii")
        .str.lower()
        .str.replace(r"[^a-z]", "", regex=True)
    )
    rows = rows[LEGACY_COLUMNS].copy()
    rows.loc[NO_MODEL_VERSION, "model_version"] = None
    rows.loc[NO_CREATED_AT, "created_at"] = pd.NaT
    rows.loc[NO_DECISION, "confidence"] = None
    rows.loc[NO_DECISION, "recommendation"] = None
    return rows


def build_legacy(path: Path, rows: pd.DataFrame, extra_sql: str | None = None) -> None:
    """A warehouse file as the original system left it: only its predictions table."""
    wh = DuckDBWarehouse(path)
    wh.create_table(LEGACY_PREDICTIONS)
    wh.close()
    con = duckdb.connect(str(path))
    con.register("legacy_rows", rows)
    con.execute(
        f"INSERT INTO {TABLE} ({', '.join(LEGACY_COLUMNS)}) "
        f"SELECT {', '.join(LEGACY_COLUMNS)} FROM legacy_rows"
    )
    if extra_sql:
        con.execute(extra_sql)
    con.close()


def raw_state(path: Path) -> dict[str, object]:
    """Tables, the predictions table's columns and rows, read without kcast."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [TABLE],
            ).fetchall()
        ]
        rows = con.execute(f"SELECT * FROM {TABLE}").df()
    finally:
        con.close()
    return {"tables": tables, "columns": columns, "rows": rows}


def sort(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY).reset_index(drop=True)


def test_legacy_table_is_moved_aside_and_copied_row_by_row(tmp_path: Path, legacy_rows) -> None:
    path = tmp_path / "legacy.duckdb"
    build_legacy(path, legacy_rows)
    assert "system_id" not in raw_state(path)["columns"]

    wh = open_warehouse(str(path))
    assert applied_versions(wh) == {m.version for m in migrations.all_migrations()}

    # the old table is kept whole, under its new name: zero data loss
    assert wh.table_columns(LEGACY_TABLE) == LEGACY_COLUMNS
    kept = sort(wh.query(f"SELECT * FROM {LEGACY_TABLE}"))
    pd.testing.assert_frame_equal(kept, sort(legacy_rows), check_dtype=False)

    # every row copied in, tagged v1_baseline, its values as they were
    new = sort(wh.query(f"SELECT * FROM {TABLE}"))
    old = sort(legacy_rows)
    assert len(new) == len(old) > 2000
    assert set(new["system_id"]) == {"v1_baseline"}
    assert (new[KEY] == old[KEY]).all().all()
    copied = [c for c in LEGACY_COLUMNS if c in PREDICTIONS.column_names and c not in KEY]
    defaults = {"model_version", "created_at", "confidence", "recommendation"}
    for column in copied:
        if column in defaults:
            continue
        same = (new[column] == old[column]) | (new[column].isna() & old[column].isna())
        assert same.all(), (column, new.loc[~same, column].head(), old.loc[~same, column].head())
    # required columns the legacy rows lacked get the documented values
    by_key = new.set_index(KEY)
    legacy_by_key = legacy_rows.set_index(KEY)
    for column, positions, value in (
        ("model_version", NO_MODEL_VERSION, "legacy"),
        ("confidence", NO_DECISION, 0.0),
        ("recommendation", NO_DECISION, "PASS"),
    ):
        keys = legacy_by_key.index[positions]
        assert (by_key.loc[keys, column] == value).all(), column
        others = legacy_by_key[column].drop(keys)
        assert (by_key.loc[others.index, column] == others).all(), column
    keys = legacy_by_key.index[NO_CREATED_AT]
    assert (
        pd.to_datetime(by_key.loc[keys, "created_at"])
        == pd.to_datetime(legacy_by_key.loc[keys, "game_date"])
    ).all()
    # columns the old table did not have stay empty, but the decision's (migration 14): each
    # row's verdict is its recommendation, a lean on that side or a pass
    for column in PREDICTIONS.column_names:
        if column not in LEGACY_COLUMNS and column not in ("system_id", *DECISION_COLUMNS):
            assert new[column].isna().all(), column
    assert (new["verdict"] == new["recommendation"]).all()
    sided = new["recommendation"].isin(["OVER", "UNDER"])
    assert (new.loc[sided, "decision"] == "lean").all()
    assert (new.loc[~sided, "decision"] == "pass").all()
    assert new.loc[~sided, "decision_line"].isna().all()
    # the legacy-only column lives on in the kept table
    assert kept["pitcher_lookup"].notna().all() and "pitcher_lookup" not in new.columns

    # the monitoring views read the migrated rows
    perf = wh.query(
        "SELECT * FROM system_performance WHERE time_window = 'all' AND system_id = 'v1_baseline'"
    ).iloc[0]
    assert perf["graded"] == len(old)
    assert perf["mae"] == pytest.approx(
        (old["predicted_strikeouts"] - old["actual_strikeouts"]).abs().mean()
    )
    wh.close()


def test_the_new_key_takes_three_systems_per_pitcher_game(tmp_path: Path, legacy_rows) -> None:
    path = tmp_path / "legacy.duckdb"
    build_legacy(path, legacy_rows)
    wh = open_warehouse(str(path))
    day = "2022-08-01"
    base = wh.query(f"SELECT * FROM {TABLE} WHERE game_date = $d", {"d": day})
    assert len(base) > 10
    for system, shift in (("v1_6_rolling", 0.2), ("ensemble_v1", 0.1)):
        rows = base.assign(
            system_id=system, predicted_strikeouts=base["predicted_strikeouts"] + shift
        )
        wh.upsert(TABLE, rows)
    per_game = wh.query(
        f"SELECT game_id, pitcher_id, COUNT(*) AS n FROM {TABLE} WHERE game_date = $d "
        "GROUP BY game_id, pitcher_id",
        {"d": day},
    )
    assert len(per_game) == len(base) and (per_game["n"] == 3).all()
    coverage = wh.query("SELECT * FROM daily_coverage WHERE game_date = $d", {"d": day}).iloc[0]
    assert coverage["min_systems_per_pitcher"] == coverage["max_systems_per_pitcher"] == 3
    assert wh.count(TABLE) == len(legacy_rows) + 2 * len(base)
    # the key is (game_id, pitcher_id, system_id): a second v1_baseline row is refused
    one = base.iloc[0]
    with pytest.raises(WarehouseError, match="(?i)constraint|duplicate"):
        wh.execute(
            f"INSERT INTO {TABLE} (game_id, pitcher_id, system_id, game_date, model_version, "
            "predicted_strikeouts, confidence, recommendation, created_at) VALUES "
            "($g, $p, 'v1_baseline', $d, 'x', 1.0, 50.0, 'PASS', TIMESTAMP '2022-08-01 12:00:00')",
            {"g": one["game_id"], "p": int(one["pitcher_id"]), "d": day},
        )
    wh.close()


def test_migrating_twice_changes_nothing(tmp_path: Path, legacy_rows) -> None:
    path = tmp_path / "legacy.duckdb"
    build_legacy(path, legacy_rows)
    wh = open_warehouse(str(path))
    first = sort(wh.query(f"SELECT * FROM {TABLE}"))
    first_legacy = sort(wh.query(f"SELECT * FROM {LEGACY_TABLE}"))
    counts = wh.counts()
    assert migrate(wh) == []
    split_legacy_predictions(wh)  # the step itself, run again, is a no-op too
    wh.close()
    wh = open_warehouse(str(path))
    assert wh.counts() == counts
    assert applied_versions(wh) == {m.version for m in migrations.all_migrations()}
    assert wh.count("schema_migrations") == len(migrations.all_migrations())
    pd.testing.assert_frame_equal(sort(wh.query(f"SELECT * FROM {TABLE}")), first)
    pd.testing.assert_frame_equal(sort(wh.query(f"SELECT * FROM {LEGACY_TABLE}")), first_legacy)
    assert frame_checksum(first[list(PREDICTIONS.column_names)]) == frame_checksum(
        sort(wh.query(f"SELECT * FROM {TABLE}"))[list(PREDICTIONS.column_names)]
    )
    wh.close()


def test_a_fresh_warehouse_has_nothing_to_migrate(tmp_path: Path) -> None:
    wh = open_warehouse(str(tmp_path / "fresh.duckdb"))
    assert 3 in applied_versions(wh)
    assert not wh.table_exists(LEGACY_TABLE)
    assert "system_id" in wh.table_columns(TABLE) and wh.count(TABLE) == 0
    wh.close()


def test_rows_without_a_system_in_a_table_that_has_the_column(tmp_path: Path, legacy_rows) -> None:
    """A legacy table that gained an empty system_id column (SEED: "system_id is NULL")."""
    path = tmp_path / "legacy.duckdb"
    build_legacy(path, legacy_rows, f"ALTER TABLE {TABLE} ADD COLUMN system_id VARCHAR")
    wh = open_warehouse(str(path))
    assert set(wh.query(f"SELECT DISTINCT system_id FROM {TABLE}")["system_id"]) == {"v1_baseline"}
    legacy = wh.query(f"SELECT COUNT(*) AS n FROM {LEGACY_TABLE}")["n"].iloc[0]
    assert wh.count(TABLE) == legacy == len(legacy_rows)
    wh.close()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("duplicate", r"share a \(game_id, pitcher_id\)"),
        ("null_game_id", "lack one of"),
        ("checksum", "checksum differs"),
    ],
)
def test_a_failed_migration_leaves_the_legacy_table_as_it_was(
    tmp_path: Path, legacy_rows, monkeypatch: pytest.MonkeyPatch, damage: str, message: str
) -> None:
    rows = legacy_rows.head(200).copy()
    if damage == "duplicate":  # the same start twice, on two dates
        twin = rows.iloc[[10]].copy()
        twin["game_date"] = twin["game_date"] + pd.Timedelta(days=1)
        rows = pd.concat([rows, twin], ignore_index=True)
    elif damage == "null_game_id":
        rows.loc[7, "game_id"] = None
    else:  # the copy does not verify: the step must roll back
        monkeypatch.setattr(migrations, "frame_checksum", lambda frame: str(id(frame)))
    path = tmp_path / "legacy.duckdb"
    build_legacy(path, rows)
    before = raw_state(path)
    with pytest.raises(WarehouseError, match=message):
        open_warehouse(str(path))
    after = raw_state(path)
    assert LEGACY_TABLE not in after["tables"]
    assert after["columns"] == before["columns"] == LEGACY_COLUMNS
    pd.testing.assert_frame_equal(sort(after["rows"]), sort(before["rows"]))
    con = duckdb.connect(str(path), read_only=True)
    versions = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    con.close()
    assert versions == {1, 2}  # migration 3 is not recorded; it runs again once fixed


def test_checksum_sees_one_changed_value(legacy_rows) -> None:
    frame = legacy_rows[[c for c in legacy_rows.columns if c in PREDICTIONS.column_names]]
    frame = frame.assign(system_id="v1_baseline")
    changed = frame.copy()
    changed.loc[100, "predicted_strikeouts"] += 0.001
    assert frame_checksum(frame) == frame_checksum(frame.sample(frac=1.0, random_state=1))
    assert frame_checksum(frame) != frame_checksum(changed)
