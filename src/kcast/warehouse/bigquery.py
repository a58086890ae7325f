"""The BigQuery engine: kcast's tables in one dataset, ``bigquery://PROJECT/DATASET``.

Same tables, same idempotent upserts and same SQL as the DuckDB engine: SQL is written in DuckDB's
dialect and translated (``dialect.py``); an upsert loads its rows into a staging table and runs the
very ``MERGE`` that DuckDB runs (``base.merge_sql``).

Transactions. BigQuery runs ``BEGIN TRANSACTION ... COMMIT TRANSACTION`` inside one script, so a
transaction here collects its writes (each upsert's MERGE, DML from ``execute``, ``delete_where``)
and runs them as ONE script when the block ends: every write lands, or (an exception in the block,
or an error in the script) none does. Rows are loaded into staging tables before the script and
dropped after it. Reads inside the block see its own pending writes: on the first read of a table
with pending writes, the pending writes are applied to private copies of the tables they touch,
and reads of those tables go to the copies until the block ends. Limits (docs/bigquery.md):
schema changes (DDL) are not transactional on BigQuery and run at once; a DDL statement on a table
the block already wrote is refused; views read inside a block show the committed data only.

Local emulator. With ``KCAST_BIGQUERY_ENDPOINT`` set the client talks to that endpoint with
anonymous credentials. An ``http://`` endpoint is taken to be the bqemulator (Google's are https),
and two of its gaps are worked around here: ``ALTER TABLE ... ADD COLUMN`` and ``RENAME TO`` leave
its catalog stale (the table is rebuilt instead), and an HTTP 500 would make the client retry for
ten minutes (retries are cut to 30 s). Gaps that need no switch (loads, parameters in scripts,
ISO weeks) are avoided on both engines; docs/bigquery.md lists them all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from kcast.config import get_settings
from kcast.errors import ConfigError, WarehouseError
from kcast.warehouse import dialect
from kcast.warehouse.base import UpsertResult, Warehouse, merge_sql
from kcast.warehouse.schema import Table

try:
    from google.api_core import exceptions as api_exceptions
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    from google.cloud.bigquery import retry as bq_retry
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ConfigError("BigQuery needs the bigquery extra: pip install 'kcast[bigquery]'") from exc

STAGE_PREFIX = "_kcast_stage_"
COPY_PREFIX = "_kcast_tx_"
#: Staging tables left behind by a crash expire after this many hours.
STAGE_HOURS = 24
EMULATOR_RETRY_SECONDS = 30.0
ARROW_TYPES = {
    "INT64": pa.int64(),
    "FLOAT64": pa.float64(),
    "STRING": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "BOOL": pa.bool_(),
}
PARAM_TYPES: list[tuple[type | tuple[type, ...], str]] = [
    ((bool, np.bool_), "BOOL"),
    ((int, np.integer), "INT64"),
    ((float, np.floating), "FLOAT64"),
    (str, "STRING"),
]


def parse_url(url: str) -> tuple[str, str]:
    """``bigquery://PROJECT/DATASET`` -> (project, dataset)."""
    rest = url.removeprefix("bigquery://")
    project, _, dataset = rest.partition("/")
    if not url.startswith("bigquery://") or not project or not dataset or "/" in dataset:
        raise ConfigError(f"BigQuery warehouse URL must be bigquery://PROJECT/DATASET, got {url!r}")
    return project, dataset


# --------------------------------------------------------------------------------------------
# Transactions: pending writes and read-your-writes copies
# --------------------------------------------------------------------------------------------


@dataclass
class _Write:
    """A pending write: the table it changes and its SQL for given physical table names."""

    target: str
    render: Callable[[Mapping[str, str]], str]


@dataclass
class _Tx:
    writes: list[_Write] = field(default_factory=list)
    copies: dict[str, str] | None = None  # table -> private copy, once a read needed them
    drop_after: list[str] = field(default_factory=list)  # staging tables and copies

    @property
    def written(self) -> set[str]:
        return {w.target for w in self.writes}


class BigQueryWarehouse(Warehouse):
    """A warehouse in a BigQuery dataset."""

    engine = "bigquery"

    def __init__(
        self,
        project: str,
        dataset: str,
        client: Any | None = None,
        endpoint: str | None = None,
        location: str | None = None,
        emulator: bool | None = None,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.url = f"bigquery://{project}/{dataset}"
        self.endpoint = endpoint
        self.location = location
        self.emulator = (
            emulator if emulator is not None else bool(endpoint and endpoint.startswith("http:"))
        )
        self._client = client or _make_client(project, endpoint, location)
        if self.emulator:
            self._retry = bigquery.DEFAULT_RETRY.with_deadline(EMULATOR_RETRY_SECONDS)
            self._job_retry = bq_retry.DEFAULT_JOB_RETRY.with_deadline(EMULATOR_RETRY_SECONDS)
        else:
            self._retry = bigquery.DEFAULT_RETRY
            self._job_retry = bq_retry.DEFAULT_JOB_RETRY
        self._local = threading.local()
        self._dataset_ready = False

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> BigQueryWarehouse:
        """Open ``bigquery://PROJECT/DATASET`` with the endpoint and location from the settings."""
        project, dataset = parse_url(url)
        settings = get_settings()
        kwargs.setdefault("endpoint", settings.bigquery_endpoint)
        kwargs.setdefault("location", settings.bigquery_location)
        return cls(project, dataset, **kwargs)

    # --- names ------------------------------------------------------------------------------
    @property
    def dataset_id(self) -> str:
        return f"{self.project}.{self.dataset}"

    def fq(self, name: str) -> str:
        """The table's full, quoted name."""
        return dialect.qualified(self.project, self.dataset, name)

    # --- reading ----------------------------------------------------------------------------
    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        params = params or {}
        statement = dialect.translate(sql, self.dataset_id)
        if statement.kind != "query":
            raise WarehouseError(f"query() runs SELECTs; use execute() for:\n{sql}")
        rename = self._read_names(statement.tables)
        if rename:
            statement = dialect.translate(sql, self.dataset_id, rename=rename)
        return self._select(statement.sql, params, source=sql)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        params = params or {}
        statement = dialect.translate(sql, self.dataset_id)
        if statement.kind == "query":
            self.query(sql, params)
            return
        tx = self._tx()
        if statement.kind == "ddl":
            if tx is not None and statement.tables & tx.written:
                raise WarehouseError(
                    "BigQuery cannot change a table's schema inside a transaction that already "
                    f"wrote to it ({sorted(statement.tables & tx.written)}):\n{sql}"
                )
            self._ddl(sql, statement)
            return
        if tx is None:
            self._run(statement.sql, params, source=sql)
            return
        target = statement.target or ""
        values = dict(params)
        self._write(
            tx,
            _Write(
                target,
                lambda names: (
                    dialect.translate(sql, self.dataset_id, rename=names, literals=values).sql
                ),
            ),
        )

    def table_exists(self, name: str) -> bool:
        try:
            self._client.get_table(f"{self.dataset_id}.{name}", retry=self._retry)
        except api_exceptions.NotFound:
            return False
        return True

    def table_columns(self, name: str) -> list[str]:
        return [f.name for f in self._schema(name)]

    def _schema(self, name: str) -> list[Any]:
        try:
            return list(self._client.get_table(f"{self.dataset_id}.{name}").schema)
        except api_exceptions.NotFound:
            raise WarehouseError(f"{self.url}: no table {name}") from None

    # --- writing ----------------------------------------------------------------------------
    def _merge(self, table: Table, rows: pd.DataFrame) -> UpsertResult:
        columns = list(rows.columns)
        stage = self._stage(table, rows)
        tx = self._tx()
        try:
            on = " AND ".join(f"t.{k} = s.{k}" for k in table.key)
            existing = int(
                self._count(
                    f"SELECT COUNT(*) AS n FROM {table.name} AS t JOIN {stage} AS s ON {on}",
                )
            )
            write = _Write(
                table.name,
                lambda names: merge_sql(
                    table, self.fq(names.get(table.name, table.name)), self.fq(stage), columns
                ),
            )
            if tx is None:
                self._run(write.render({}), {}, source=f"upsert into {table.name}")
            else:
                self._write(tx, write)
        finally:
            if tx is None:
                self._drop(stage)
            else:
                tx.drop_after.append(stage)
        return UpsertResult(table.name, len(rows), len(rows) - existing, existing)

    def _stage(self, table: Table, rows: pd.DataFrame) -> str:
        """Load typed rows into a new staging table (expiring in a day); return its name."""
        name = f"{STAGE_PREFIX}{table.name}_{uuid.uuid4().hex[:12]}"
        cols = ", ".join(f"{c} {table.column(c).type}" for c in rows.columns)
        self._run(
            f"CREATE TABLE {self.fq(name)} ({cols}) OPTIONS(expiration_timestamp="
            f"TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL {STAGE_HOURS} HOUR))",
            {},
            source=f"staging table for {table.name}",
        )
        try:
            self._load(table, rows, name)
        except BaseException:
            self._drop(name)
            raise
        return name

    def _load(self, table: Table, rows: pd.DataFrame, name: str) -> None:
        schema = pa.schema([(c, ARROW_TYPES[table.column(c).type]) for c in rows.columns])
        frame = rows.copy()
        for c in rows.columns:
            if table.column(c).type == "TIMESTAMP":
                frame[c] = pd.to_datetime(frame[c]).dt.tz_localize("UTC")
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            schema=[bigquery.SchemaField(c, table.column(c).type) for c in rows.columns],
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        )
        # No size: the resumable upload works on BigQuery and on the emulator alike.
        try:
            job = self._client.load_table_from_file(
                buffer, f"{self.dataset_id}.{name}", job_config=config, location=self.location
            )
            job.result(retry=self._retry)
        except api_exceptions.GoogleAPIError as exc:
            raise WarehouseError(f"loading rows for {table.name} failed: {exc}") from exc

    def delete_where(self, table: str, where: str, params: dict[str, Any] | None = None) -> int:
        n = self._count(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", params)
        self.execute(f"DELETE FROM {table} WHERE {where}", params)
        return int(n)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._tx() is not None:  # nested: part of the outer transaction
            yield
            return
        tx = _Tx()
        self._local.tx = tx
        try:
            yield
        except BaseException:
            self._local.tx = None
            self._drop_all(tx.drop_after)
            raise
        self._local.tx = None
        try:
            self._commit(tx)
        finally:
            self._drop_all(tx.drop_after)

    def ensure_dataset(self) -> None:
        """Create the dataset (in ``location`` when set) unless it exists."""
        if self._dataset_ready:
            return
        dataset = bigquery.Dataset(self.dataset_id)
        if self.location:
            dataset.location = self.location
        try:
            self._client.create_dataset(dataset, exists_ok=True, retry=self._retry)
        except api_exceptions.GoogleAPIError as exc:
            raise WarehouseError(f"cannot create dataset {self.dataset_id}: {exc}") from exc
        self._dataset_ready = True

    def create_table(self, table: Table) -> None:
        self.ensure_dataset()
        self._run(create_table_sql(table, self.fq(table.name)), {}, source=f"create {table.name}")

    def add_column(self, table: Table, column: str) -> None:
        col = table.column(column)
        if column in self.table_columns(table.name):
            return
        if not self.emulator:
            self._run(
                f"ALTER TABLE {self.fq(table.name)} ADD COLUMN IF NOT EXISTS {col.name} "
                f"{col.type} OPTIONS(description={_string(col.doc)})",
                {},
                source=f"add {table.name}.{column}",
            )
            return
        # The emulator runs ALTER TABLE ADD COLUMN but its catalog keeps the old columns.
        fields = [*self._schema(table.name), bigquery.SchemaField(col.name, col.type)]
        self._rebuild(table.name, table.name, fields)

    def create_view(self, name: str, select_sql: str) -> None:
        statement = dialect.translate(select_sql, self.dataset_id, comments=True)
        if statement.kind != "query":
            raise WarehouseError(f"view {name} must be a SELECT")
        self._run(
            f"CREATE OR REPLACE VIEW {self.fq(name)} AS\n{statement.sql}", {}, source=select_sql
        )

    def close(self) -> None:
        self._client.close()

    # --- internals --------------------------------------------------------------------------
    def _tx(self) -> _Tx | None:
        return getattr(self._local, "tx", None)

    def _write(self, tx: _Tx, write: _Write) -> None:
        if tx.copies is not None:  # reads already go to copies: keep them current
            self._ensure_copy(tx, write.target)
            self._run(write.render(tx.copies), {}, source="transaction copy")
        tx.writes.append(write)

    def _read_names(self, tables: set[str]) -> dict[str, str]:
        """Copies to read instead of tables this thread's transaction has written."""
        tx = self._tx()
        if tx is None or not (tables & tx.written):
            return {} if tx is None or tx.copies is None else dict(tx.copies)
        if tx.copies is None:
            tx.copies = {}
            for target in sorted(tx.written):
                self._ensure_copy(tx, target)
            for write in tx.writes:
                self._run(write.render(tx.copies), {}, source="transaction copy")
        return dict(tx.copies)

    def _ensure_copy(self, tx: _Tx, table: str) -> None:
        assert tx.copies is not None
        if table in tx.copies:
            return
        copy = f"{COPY_PREFIX}{table}_{uuid.uuid4().hex[:12]}"
        self._run(
            f"CREATE TABLE {self.fq(copy)} OPTIONS(expiration_timestamp="
            f"TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL {STAGE_HOURS} HOUR)) "
            f"AS SELECT * FROM {self.fq(table)}",
            {},
            source=f"transaction copy of {table}",
        )
        tx.copies[table] = copy
        tx.drop_after.append(copy)

    def _commit(self, tx: _Tx) -> None:
        if not tx.writes:
            return
        body = ";\n".join(w.render({}) for w in tx.writes)
        script = f"BEGIN TRANSACTION;\n{body};\nCOMMIT TRANSACTION;"
        self._run(script, {}, source=f"transaction of {len(tx.writes)} writes (rolled back)")

    def _count(self, sql: str, params: dict[str, Any] | None = None) -> int:
        return int(self.query(sql, params)["n"].iloc[0])

    def _ddl(self, sql: str, statement: dialect.Translated) -> None:
        if self.emulator:
            # The emulator runs ALTER TABLE ... RENAME TO / ADD COLUMN but leaves its catalog
            # as it was; rebuild the table instead.
            tree = sqlglot.parse_one(sql, read="duckdb")
            actions = (tree.args.get("actions") or []) if isinstance(tree, exp.Alter) else []
            table = tree.this.name if actions else ""
            if len(actions) == 1 and isinstance(actions[0], exp.AlterRename):
                self._rebuild(table, actions[0].this.name, self._schema(table), drop_source=True)
                return
            if actions and all(isinstance(a, exp.ColumnDef) for a in actions):
                fields = self._schema(table)
                have = {f.name for f in fields}
                for a in actions:
                    if a.name in have and a.args.get("exists"):
                        continue
                    kind = a.args["kind"].transform(dialect.fix).sql(dialect="bigquery")
                    fields.append(bigquery.SchemaField(a.name, kind))
                if len(fields) > len(have):
                    self._rebuild(table, table, fields)
                return
        self._run(statement.sql, {}, source=sql)

    def _rebuild(
        self, source: str, target: str, fields: list[Any], drop_source: bool = False
    ) -> None:
        """Copy ``source`` into a table ``target`` with ``fields`` (emulator schema changes)."""
        keep = [f.name for f in self._schema(source)]
        cols = ",\n  ".join(
            f"{f.name} {f.field_type}{' NOT NULL' if f.mode == 'REQUIRED' else ''}" for f in fields
        )
        names = ", ".join(keep)
        if source == target:
            held = f"{COPY_PREFIX}{source}_{uuid.uuid4().hex[:12]}"
            script = (
                f"CREATE TABLE {self.fq(held)} AS SELECT * FROM {self.fq(source)};\n"
                f"CREATE OR REPLACE TABLE {self.fq(target)} (\n  {cols}\n);\n"
                f"INSERT INTO {self.fq(target)} ({names}) SELECT {names} FROM {self.fq(held)};\n"
                f"DROP TABLE {self.fq(held)};"
            )
        else:
            script = (
                f"CREATE TABLE {self.fq(target)} (\n  {cols}\n);\n"
                f"INSERT INTO {self.fq(target)} ({names}) SELECT {names} FROM {self.fq(source)};"
                + (f"\nDROP TABLE {self.fq(source)};" if drop_source else "")
            )
        self._run(script, {}, source=f"rebuild {source} as {target}")

    def _drop(self, name: str) -> None:
        with contextlib.suppress(api_exceptions.GoogleAPIError):  # else it expires by itself
            self._client.delete_table(
                f"{self.dataset_id}.{name}", not_found_ok=True, retry=self._retry
            )

    def _drop_all(self, names: list[str]) -> None:
        for name in names:
            self._drop(name)

    def _job(self, sql: str, params: Mapping[str, Any]) -> Any:
        config = bigquery.QueryJobConfig(
            query_parameters=[query_parameter(k, v) for k, v in params.items()]
        )
        job = self._client.query(
            sql,
            job_config=config,
            location=self.location,
            retry=self._retry,
            job_retry=self._job_retry,
        )
        return job.result(retry=self._retry)

    def _run(self, sql: str, params: Mapping[str, Any], source: str) -> None:
        try:
            self._job(sql, params)
        except api_exceptions.GoogleAPIError as exc:
            raise WarehouseError(f"BigQuery statement failed: {_message(exc)}\n{source}") from exc

    def _select(self, sql: str, params: Mapping[str, Any], source: str) -> pd.DataFrame:
        try:
            rows = self._job(sql, params)
            with warnings.catch_warnings():  # "use pandas-gbq": not a dependency of kcast
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                frame = rows.to_dataframe(create_bqstorage_client=False)
        except api_exceptions.GoogleAPIError as exc:
            raise WarehouseError(f"BigQuery query failed: {_message(exc)}\n{source}") from exc
        return like_duckdb(frame, list(rows.schema))


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _make_client(project: str, endpoint: str | None, location: str | None) -> Any:
    if endpoint:
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
            location=location,
        )
    try:
        return bigquery.Client(project=project, location=location)
    except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and kin
        raise ConfigError(
            f"cannot connect to BigQuery project {project}: {exc}. Run `gcloud auth "
            "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from exc


def create_table_sql(table: Table, name: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a declared table: keys NOT NULL, clustered by key."""
    cols = []
    for c in table.columns:
        not_null = " NOT NULL" if c.name in table.key else ""
        cols.append(f"{c.name} {c.type}{not_null} OPTIONS(description={_string(c.doc)})")
    cluster = [k for k in table.key if table.column(k).type != "FLOAT64"][:4]
    sql = f"CREATE TABLE IF NOT EXISTS {name} (\n  " + ",\n  ".join(cols) + "\n)"
    if cluster:
        sql += f"\nCLUSTER BY {', '.join(cluster)}"
    return sql + f"\nOPTIONS(description={_string(table.doc)})"


def _string(text: str) -> str:
    return dialect.literal(text).sql(dialect="bigquery")


def query_parameter(name: str, value: Any) -> Any:
    """A BigQuery query parameter for a Python value (lists become ARRAY parameters)."""
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
        items = [_plain(v) for v in list(value)]
        kind = _param_type(items[0]) if items else "STRING"
        return bigquery.ArrayQueryParameter(name, kind, items)
    value = _plain(value)
    return bigquery.ScalarQueryParameter(name, _param_type(value), value)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # kcast's naive timestamps are UTC
    return value


def _param_type(value: Any) -> str:
    if value is None:
        return "STRING"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    for kinds, name in PARAM_TYPES:
        if isinstance(value, kinds):
            return name
    raise WarehouseError(f"cannot pass {type(value).__name__} {value!r} to BigQuery")


def like_duckdb(frame: pd.DataFrame, schema: list[Any]) -> pd.DataFrame:
    """Give a BigQuery result the dtypes DuckDB's ``.df()`` gives the same rows.

    INT64 -> int64 (Int64 with NULLs), BOOL -> bool (boolean with NULLs), DATE, DATETIME and
    TIMESTAMP -> naive datetime64[us] (UTC), FLOAT64 -> float64.
    """
    out = frame.copy()
    for f in schema:
        if f.name not in out.columns or f.mode == "REPEATED":
            continue
        col = out[f.name]
        kind = f.field_type
        if kind in ("INTEGER", "INT64"):
            col = col.astype("Int64")
            out[f.name] = col.astype("int64") if not col.isna().any() else col
        elif kind in ("BOOLEAN", "BOOL"):
            col = col.astype("boolean")
            out[f.name] = col.astype(bool) if not col.isna().any() else col
        elif kind in ("FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC"):
            out[f.name] = pd.to_numeric(col).astype("float64")
        elif kind == "DATE":
            out[f.name] = pd.to_datetime(col.astype(object)).astype("datetime64[us]")
        elif kind == "TIMESTAMP":
            col = pd.to_datetime(col, utc=True).dt.tz_convert("UTC").dt.tz_localize(None)
            out[f.name] = col.astype("datetime64[us]")
        elif kind == "DATETIME":
            out[f.name] = pd.to_datetime(col).astype("datetime64[us]")
    return out


def _message(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.split("\n")[0][:1500]
