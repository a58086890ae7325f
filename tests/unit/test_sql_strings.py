"""No SQL is built from formatted strings outside ``kcast/warehouse``.

SQL outside the warehouse layer is fixed text with ``$name`` bind parameters (values never
enter the text); the warehouse layer alone builds statements (MERGE, DDL, rendered views). This
test reads every module of ``src/kcast`` but ``src/kcast/warehouse`` with :mod:`ast` and fails
on an f-string, a ``"...".format(...)`` or a ``"..." % ...`` whose text reads as SQL, naming
file and line. Interpolated parts count as a word, so ``f"SELECT {cols} FROM t"`` is found.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "src" / "kcast"
ALLOWED = PACKAGE / "warehouse"

# Statements as kcast writes them: upper-case keywords (prose in messages is lower-case).
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b"
    r"|\bINSERT\s+INTO\b"
    r"|\bUPDATE\b[\s\S]*\bSET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\bMERGE\s+INTO\b"
    r"|\b(CREATE|DROP|ALTER|TRUNCATE)\b(\s+OR\s+REPLACE)?(\s+TEMP(ORARY)?)?\s+(TABLE|VIEW)\b"
    r"|\bWHERE\b[\s\S]*(=|<|>|\bIN\b|\bIS\b|\bLIKE\b|\bBETWEEN\b)"
)


def _text(node: ast.JoinedStr) -> str:
    """The f-string's literal text, each interpolation standing as the word ``x``."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(value.value)
        else:
            parts.append(" x ")
    return "".join(parts)


def _formatted_sql(node: ast.AST) -> str | None:
    """The SQL-looking text of a formatted string node, or None."""
    if isinstance(node, ast.JoinedStr):
        text = _text(node)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        text = node.func.value.value
    elif (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mod)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, str)
    ):
        text = node.left.value
    else:
        return None
    return text if SQL.search(text) else None


def offenders(root: Path = PACKAGE, allowed: Path = ALLOWED) -> list[str]:
    """``file:line: text`` for every formatted string that reads as SQL outside ``allowed``."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        if path.is_relative_to(allowed):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            text = _formatted_sql(node)
            if text is not None:
                found.append((str(path.relative_to(root.parent)), node.lineno, text))
    return [f"{where}:{line}: {' '.join(text.split())[:80]}" for where, line, text in sorted(found)]


def test_no_formatted_sql_outside_the_warehouse() -> None:
    found = offenders()
    assert not found, (
        "SQL built with f-strings, .format or % outside src/kcast/warehouse (write fixed SQL "
        "with $name bind parameters, or build it in the warehouse layer):\n" + "\n".join(found)
    )


def test_the_check_finds_formatted_sql(tmp_path: Path) -> None:
    module = tmp_path / "kcast" / "bad.py"
    module.parent.mkdir()
    module.write_text(
        "t = 'games'\n"
        "a = f'SELECT {t}.x FROM {t}'\n"
        "b = 'DELETE FROM %s' % t\n"
        "c = 'UPDATE {} SET x = 1'.format(t)\n"
        "d = f'{t}: SELECT failed, could not read from {t}'\n"  # prose: not SQL
        "e = 'SELECT x FROM games WHERE d = $d'\n"  # fixed text: fine
        "f = f'no rows for {t}'\n",
        encoding="utf-8",
    )
    found = offenders(tmp_path, tmp_path / "kcast" / "warehouse")
    lines = [int(entry.split(":")[1]) for entry in found]
    assert lines == [2, 3, 4], found
