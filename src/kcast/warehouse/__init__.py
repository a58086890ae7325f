"""kcast's warehouse: DuckDB embedded by default, BigQuery for teams that outgrow one machine."""

from __future__ import annotations

from kcast.config import get_settings
from kcast.errors import ConfigError
from kcast.warehouse.base import UpsertResult, Warehouse
from kcast.warehouse.duckdb import DuckDBWarehouse
from kcast.warehouse.migrations import check_current, migrate, schema_fingerprint

__all__ = ["UpsertResult", "Warehouse", "migrate_warehouse", "open_warehouse"]


def open_warehouse(
    url: str | None = None,
    migrate: bool = True,
    *,
    create: bool = True,
    read_only: bool = False,
) -> Warehouse:
    """Open the warehouse at ``url`` (default: the ``KCAST_WAREHOUSE`` setting).

    ``bigquery://PROJECT/DATASET`` opens BigQuery; anything else is a DuckDB file path.

    DuckDB: a file that does not exist is created (and migrated) only with ``create``; otherwise
    it is an error naming the path. With ``migrate`` the schema's stored fingerprint is read
    (one read-only query) and, only when it differs from this version of kcast, the migrations
    run (``kcast warehouse migrate`` runs them always). ``read_only`` opens for reading only:
    no write lock is ever taken, nothing is created or migrated. The returned warehouse's
    ``created`` is True when this call made the file.

    BigQuery is migrated only by ``kcast warehouse migrate``, as a deploy step, so there
    ``migrate`` checks that the schema is current instead (``migrate=False`` opens it as it
    is, for the migration itself); ``create`` and ``read_only`` do not apply.
    """
    url = url or get_settings().warehouse
    if url.startswith("bigquery://"):
        # BigQuery's client library is an optional extra (kcast[bigquery]): loaded only here
        from kcast.warehouse.bigquery import BigQueryWarehouse

        wh: Warehouse = BigQueryWarehouse.from_url(url)
        if migrate:
            check_current(wh)
        return wh
    if "://" in url:
        raise ConfigError(
            f"KCAST_WAREHOUSE={url!r}: use a DuckDB file path or bigquery://PROJECT/DATASET"
        )
    duck = DuckDBWarehouse(url, read_only=read_only, create=create)
    if duck.created or url == ":memory:":
        duck.created_steps = migrate_warehouse(duck)
    elif migrate and not read_only:
        migrate_warehouse(duck, only_if_stale=True)
    return duck


def migrate_warehouse(wh: Warehouse, only_if_stale: bool = False) -> list[str]:
    """Run the migrations (``migrations.migrate``); return the steps that changed something.

    DuckDB: they run in one read-write session (the write lock is taken once), and the schema
    fingerprint is stored afterwards, so later opens find it current with one read. With
    ``only_if_stale`` nothing runs when the stored fingerprint is already this kcast's.
    """
    if not isinstance(wh, DuckDBWarehouse):
        return migrate(wh)
    fingerprint = schema_fingerprint()
    if only_if_stale and wh.schema_stamp() == fingerprint:
        return []
    with wh.session():
        if only_if_stale and wh.schema_stamp() == fingerprint:
            return []  # another process migrated while this one waited for the file
        ran = migrate(wh)
        wh.stamp_schema(fingerprint)
    return ran
