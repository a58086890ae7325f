"""DuckDB SQL to BigQuery SQL, in one place.

kcast writes its SQL once, in DuckDB's dialect with ``$name`` parameters (``sql/views``,
``sql/queries`` and the queries in the code). The BigQuery engine runs it through
:func:`translate`: sqlglot's ``duckdb -> bigquery`` transpiler, plus

* table names qualified with the project and dataset (CTE names left alone);
* ``$name`` parameters as ``@name`` query parameters, or written in as literals (statements of a
  multi-statement script: the emulator does not bind parameters in scripts);
* fixes where sqlglot's output is invalid BigQuery or means something else (:func:`fix`, and
  the table in docs/bigquery.md): DuckDB's naive ``TIMESTAMP`` is BigQuery's ``TIMESTAMP`` (kcast
  stores UTC), ``x IN (SELECT UNNEST($list))`` becomes ``x IN UNNEST(@list)``, ``date_trunc`` on
  a DATE stays a ``DATE_TRUNC`` and its weeks start on Monday, ``dayofweek`` counts from 0,
  ``now()``, ``epoch``, ``epoch_ms`` and ``date_part`` become BigQuery functions, interval
  amounts are integers, and functions BigQuery lacks (``median``) are refused with a message.

The module depends on sqlglot only, so the translation is tested without any BigQuery.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from kcast.errors import WarehouseError
from kcast.warehouse.schema import TABLES

NAIVE_TIMESTAMPS = (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)
DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
QUERY = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)
#: Columns declared as DATE anywhere in the schema; ``date_trunc`` on them stays a DATE_TRUNC.
DATE_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns if c.type == "DATE")
#: DuckDB ``date_part`` names -> BigQuery ``EXTRACT`` parts.
DATE_PARTS = {
    "year": "YEAR",
    "quarter": "QUARTER",
    "month": "MONTH",
    "day": "DAY",
    "dayofyear": "DAYOFYEAR",
    "doy": "DAYOFYEAR",
    "week": "ISOWEEK",
    "isoyear": "ISOYEAR",
    "hour": "HOUR",
    "minute": "MINUTE",
    "second": "SECOND",
}
UNSUPPORTED = {
    exp.Median: "median() has no BigQuery equivalent as an aggregate; use quantile_cont",
    exp.GenerateSeries: "generate_series/range have no direct BigQuery form; build the list in "
    "Python and pass it as a parameter",
}


@dataclass
class Translated:
    """A statement in BigQuery's dialect and what it touches."""

    sql: str
    kind: str  # "query", "dml" or "ddl"
    tables: set[str] = field(default_factory=set)  # kcast tables/views it reads or writes
    target: str | None = None  # the table a DML statement writes
    params: list[str] = field(default_factory=list)  # parameter names as they appear in the SQL


def translate(
    sql: str,
    dataset: str,
    *,
    rename: Mapping[str, str] | None = None,
    literals: Mapping[str, Any] | None = None,
    comments: bool = False,
) -> Translated:
    """Translate one DuckDB statement into BigQuery's dialect.

    Parameters
    ----------
    sql:
        One statement (SELECT, DML or DDL) in DuckDB's dialect with ``$name`` parameters.
    dataset:
        ``project.dataset``; every table name without a dataset is qualified with it.
    rename:
        Table name -> other table name in the same dataset (read-your-writes copies inside a
        transaction).
    literals:
        Parameter values to write into the SQL as literals instead of leaving ``@name``.
    comments:
        Keep the SQL's comments (for views). Off by default: the emulator miscounts the
        parameters of a query whose comments mention one.
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise WarehouseError(f"cannot read SQL for BigQuery: {exc}\n{sql}") from exc
    if len(statements) != 1:
        raise WarehouseError(f"expected one SQL statement, got {len(statements)}:\n{sql}")
    tree = statements[0]
    project, _, ds = dataset.partition(".")
    if not project or not ds:
        raise WarehouseError(f"dataset must be project.dataset, got {dataset!r}")
    tables, target = _qualify(tree, project, ds, rename or {})
    params = _parameters(tree)
    if literals is not None:
        tree = _inline(tree, literals)
        params = []
    tree = tree.transform(fix)
    kind = "dml" if isinstance(tree, DML) else "query" if isinstance(tree, QUERY) else "ddl"
    return Translated(tree.sql(dialect="bigquery", comments=comments), kind, tables, target, params)


def qualified(project: str, dataset: str, name: str) -> str:
    """A table's full name, quoted for BigQuery: `project.dataset.name`."""
    return f"`{project}.{dataset}.{name}`"


# --------------------------------------------------------------------------------------------
# Tables and parameters
# --------------------------------------------------------------------------------------------


def _qualify(
    tree: exp.Expression, project: str, dataset: str, rename: Mapping[str, str]
) -> tuple[set[str], str | None]:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables: set[str] = set()
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.parent, exp.AlterRename):
            continue  # BigQuery wants the new name bare
        if table.args.get("db") or not isinstance(table.this, exp.Identifier):
            continue
        name = table.name
        if name in ctes:
            continue
        tables.add(name)
        table.set("this", exp.to_identifier(rename.get(name, name)))
        table.set("db", exp.to_identifier(dataset))
        table.set("catalog", exp.to_identifier(project, quoted=True))
    target = None
    if isinstance(tree, DML):
        written = tree.this
        while written is not None and not isinstance(written, exp.Table):
            written = written.this if isinstance(written, exp.Expression) else None
        target = _original_name(written, rename) if written is not None else None
    return tables, target


def _original_name(table: exp.Table, rename: Mapping[str, str]) -> str:
    back = {v: k for k, v in rename.items()}
    return back.get(table.name, table.name)


def _parameters(tree: exp.Expression) -> list[str]:
    names = []
    for node in tree.find_all(exp.Placeholder):
        name = node.name
        if not name or name == "?" or name.isdigit():
            raise WarehouseError("use named $parameters in SQL for BigQuery, not ? or $1")
        names.append(name)
    return sorted(set(names))


def _inline(tree: exp.Expression, values: Mapping[str, Any]) -> exp.Expression:
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            if node.name not in values:
                raise WarehouseError(f"no value for parameter ${node.name}")
            return literal(values[node.name])
        return node

    return tree.transform(swap)


def literal(value: Any) -> exp.Expression:
    """A Python value as a BigQuery SQL literal (strings escaped by sqlglot)."""
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
        return exp.Array(expressions=[literal(v) for v in list(value)])
    if value is None or value is pd.NA or value is pd.NaT:
        return exp.Null()
    if isinstance(value, (bool, np.bool_)):
        return exp.Boolean(this=bool(value))
    if isinstance(value, (int, np.integer)):
        return exp.Literal.number(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isfinite(value):
            return exp.Literal.number(repr(float(value)))
        word = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return exp.cast(exp.Literal.string(word), "FLOAT64", dialect="bigquery")
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        text = stamp.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
        return exp.cast(exp.Literal.string(text), "TIMESTAMPTZ")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise WarehouseError(f"cannot pass {type(value).__name__} {value!r} to BigQuery")


# --------------------------------------------------------------------------------------------
# Fixes on top of sqlglot's transpiler
# --------------------------------------------------------------------------------------------


def fix(node: exp.Expression) -> exp.Expression:
    """One node of a parsed DuckDB statement, made right for BigQuery (``tree.transform(fix)``)."""
    for kind, message in UNSUPPORTED.items():
        if isinstance(node, kind):
            raise WarehouseError(f"not translatable to BigQuery: {message}: {node.sql('duckdb')}")
    if isinstance(node, exp.DataType) and node.this in NAIVE_TIMESTAMPS:
        # DuckDB's naive TIMESTAMP holds UTC in kcast; BigQuery's TIMESTAMP is UTC.
        return exp.DataType.build("TIMESTAMPTZ")
    if isinstance(node, exp.In):
        return _in_unnest(node)
    if isinstance(node, exp.Interval):
        return _integer_interval(node)
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        return _date_trunc(node)
    if isinstance(node, exp.DayOfWeek) and not isinstance(node, exp.DayOfWeekIso):
        # DuckDB: 0 = Sunday .. 6 = Saturday; BigQuery's DAYOFWEEK: 1 = Sunday .. 7.
        return exp.Paren(this=exp.Sub(this=node.copy(), expression=exp.Literal.number(1)))
    if isinstance(node, exp.TimeToUnix):
        # epoch(ts): seconds as a DOUBLE
        micros = exp.Anonymous(this="UNIX_MICROS", expressions=[node.this.copy()])
        return exp.Div(this=micros, expression=exp.Literal.number("1000000.0"))
    if isinstance(node, exp.UnixToTime) and _is_epoch_ms(node):
        return exp.Anonymous(this="UNIX_MILLIS", expressions=[node.this.copy()])
    if isinstance(node, exp.Anonymous):
        return _anonymous(node)
    return node


def _in_unnest(node: exp.In) -> exp.Expression:
    """``x IN (SELECT UNNEST(list))`` -> ``x IN UNNEST(list)``."""
    query = node.args.get("query")
    select = query.this if isinstance(query, exp.Subquery) else query
    if (
        isinstance(select, exp.Select)
        and len(select.expressions) == 1
        and isinstance(select.expressions[0], (exp.Explode, exp.Unnest))
        and not select.args.get("from")
        and not select.args.get("from_")
    ):
        inner = select.expressions[0]
        values = inner.this if isinstance(inner, exp.Explode) else inner.expressions[0]
        return exp.In(this=node.this.copy(), unnest=exp.Unnest(expressions=[values.copy()]))
    return node


def _integer_interval(node: exp.Interval) -> exp.Expression:
    """``INTERVAL '3' DAY`` -> ``INTERVAL 3 DAY`` (BigQuery wants an INT64 amount)."""
    value = node.this
    if isinstance(value, exp.Literal) and value.is_string and value.this.lstrip("-").isdigit():
        node.set("this", exp.Literal.number(int(value.this)))
    return node


def _date_trunc(node: exp.Expression) -> exp.Expression:
    """DuckDB's ``date_trunc``: on a DATE it must stay DATE_TRUNC; its weeks start on Monday.

    The Monday is computed (``d - ((DAYOFWEEK + 5) mod 7) days``) rather than written
    ``ISOWEEK``: exact on BigQuery, and the emulator lacks ISOWEEK (and gets WEEK(MONDAY) wrong).
    """
    unit = node.args.get("unit")
    unit_name = unit.name.upper() if isinstance(unit, (exp.Var, exp.Literal)) else ""
    arg = node.this
    is_date = (isinstance(arg, exp.Cast) and arg.to.this == exp.DataType.Type.DATE) or (
        isinstance(arg, exp.Column) and arg.name in DATE_COLUMNS
    )
    if unit_name == "WEEK":
        day = arg.copy() if is_date else exp.Anonymous(this="DATE", expressions=[arg.copy()])
        monday = sqlglot.parse_one(
            "DATE_SUB(d, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM d) + 5, 7) DAY)", read="bigquery"
        ).transform(lambda n: day.copy() if isinstance(n, exp.Column) and n.name == "d" else n)
        return monday if is_date else exp.Anonymous(this="TIMESTAMP", expressions=[monday])
    if isinstance(node, exp.TimestampTrunc) and is_date:
        return exp.DateTrunc(this=arg.copy(), unit=node.args["unit"].copy())
    return node


def _is_epoch_ms(node: exp.UnixToTime) -> bool:
    scale = node.args.get("scale")
    return scale is not None and getattr(scale, "this", None) in ("3", 3)


def _anonymous(node: exp.Anonymous) -> exp.Expression:
    name = node.name.lower()
    args = node.expressions
    if name == "now" and not args:
        return exp.CurrentTimestamp()
    if name in ("date_part", "datepart") and len(args) == 2 and isinstance(args[0], exp.Literal):
        part = DATE_PARTS.get(args[0].this.lower())
        if part is None:
            raise WarehouseError(f"date_part({args[0].this!r}, ...) has no BigQuery translation")
        return exp.Extract(this=exp.var(part), expression=args[1].copy())
    return node
