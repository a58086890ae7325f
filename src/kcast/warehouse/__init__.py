"""kcast's warehouse: DuckDB embedded by default, BigQuery for teams that outgrow one machine."""

from __future__ import annotations

from kcast.errors import ConfigError
from kcast.warehouse.base import UpsertResult, Warehouse

__all__ = ["UpsertResult", "Warehouse", "open_warehouse"]


def open_warehouse(url: str | None = None, migrate: bool = True) -> Warehouse:
    """Open the warehouse at ``url`` (default: the ``KCAST_WAREHOUSE`` setting).

    ``bigquery://PROJECT/DATASET`` opens BigQuery; anything else is a DuckDB file path. With
    ``migrate`` the embedded engine brings its schema up to date; BigQuery is migrated only by
    ``kcast warehouse migrate``, as a deploy step, so there ``migrate`` checks that the schema is
    current instead (``migrate=False`` opens it as it is, for the migration itself).
    """
    from kcast.config import get_settings
    from kcast.warehouse.migrations import check_current
    from kcast.warehouse.migrations import migrate as run_migrations

    url = url or get_settings().warehouse
    if url.startswith("bigquery://"):
        from kcast.warehouse.bigquery import BigQueryWarehouse

        wh: Warehouse = BigQueryWarehouse.from_url(url)
        if migrate:
            check_current(wh)
        return wh
    if "://" in url:
        raise ConfigError(
            f"KCAST_WAREHOUSE={url!r}: use a DuckDB file path or bigquery://PROJECT/DATASET"
        )
    from kcast.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(url)
    if migrate:
        run_migrations(wh)
    return wh
