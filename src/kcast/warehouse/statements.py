"""The SQL statements kcast's own code runs, written once each: ``kcast/sql/statements/NAME.sql``.

A statement is fixed text in DuckDB's dialect with ``$name`` bind parameters (values never enter
the text; a BigQuery warehouse translates it, ``dialect.py``). Its file starts with comment
lines saying what it reads or writes; they are left out of the text run. Each file is read once
per process.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from kcast.errors import WarehouseError


@cache
def statement(name: str) -> str:
    """The SQL of ``kcast/sql/statements/{name}.sql`` without its comment lines."""
    entry = resources.files("kcast") / "sql" / "statements" / f"{name}.sql"
    try:
        text = entry.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WarehouseError(
            f"no SQL statement {name!r} (kcast/sql/statements/{name}.sql)"
        ) from None
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip()
