"""The embedded engine: one DuckDB file on this machine, shared by many processes.

DuckDB lets one process open a file read-write, or many processes open it read-only, never
both. So a :class:`DuckDBWarehouse` holds no connection between operations: each read opens the
file read-only, each write (a statement, an upsert, a transaction) opens it read-write, does its
work in one transaction and closes it, which checkpoints the write into the file. An open that
meets another process's lock is retried with backoff for ``KCAST_LOCK_TIMEOUT`` seconds, then
fails with a ``WarehouseError`` naming the process that holds the file.

Within one process the threads share one open database per file (:class:`_SharedFile`): reads
take cursors of whatever is open, a write waits until the file is (re)opened read-write, and one
write transaction runs at a time. A read-only database is kept open for a moment after its last
query (``LINGER``) so that the queries of one request do not each pay for an open, and for as
long as a block of reads asks (``reads_together``), unless a write wants the file.

Across kcast processes, writers are not starved by a stream of readers: beside the file is a
gate, ``<file>.lock``. A writer holds it exclusively (``flock``) from before it opens the file
until after it closes it; a reader holds it shared only while it opens the file, and lets its
idle database go as soon as it sees a writer waiting. See docs/architecture.md, "Concurrency".
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kcast.config import get_settings
from kcast.errors import WarehouseBusyError, WarehouseError, WarehouseUnavailableError
from kcast.warehouse.base import UpsertResult, Warehouse, merge_sql
from kcast.warehouse.schema import SCHEMA_MIGRATIONS, SQL_TYPES, Table

log = logging.getLogger("kcast.warehouse")

LINGER = 0.05  # seconds an idle read-only database stays open for the next query
_POLL = 0.01  # how often an idle database checks whether a writer is waiting
_FIRST_WAIT, _MAX_WAIT = 0.005, 0.25  # backoff between attempts to get a held file
_LOCK_MESSAGE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
_SCHEMA_TAG = "kcast-schema:"


def default_lock_timeout() -> float:
    return float(get_settings().lock_timeout)


def process_name(pid: int) -> str:
    """``PID 123 (kcast serve ...)``: the process's command line, where /proc shows it."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"PID {pid}"
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    if not args:
        return f"PID {pid}"
    cmd = " ".join(" ".join([Path(args[0]).name, *args[1:]]).split())  # on one line
    return f"PID {pid} ({cmd[:200]})"


def _flock_holder(path: str) -> str | None:
    """The process holding an ``flock`` on ``path``, from /proc/locks (None if unknown)."""
    try:
        inode = os.stat(path).st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (blocked waiters have a "->")
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        if parts[5].rsplit(":", 1)[-1] == str(inode) and int(parts[4]) != os.getpid():
            return process_name(int(parts[4]))
    return None


def _is_lock_error(exc: BaseException) -> bool:
    return "Could not set lock on file" in str(exc) or "Conflicting lock" in str(exc)


# what the file system said, as DuckDB words it (from strerror), and the cause it means
_FILE_SYSTEM_CAUSES = (
    ("no space left on device", "disk_full"),
    ("disk quota exceeded", "disk_full"),
    ("read-only file system", "read_only"),
    ("permission denied", "permission_denied"),
)


def file_system_cause(exc: BaseException) -> str | None:
    """``disk_full``, ``read_only`` or ``permission_denied`` when ``exc`` is the file system
    refusing DuckDB's work; None for anything else (a bad query, a lock)."""
    text = str(exc).lower()
    return next((cause for words, cause in _FILE_SYSTEM_CAUSES if words in text), None)


def warehouse_error(exc: BaseException, message: str) -> WarehouseError:
    """The ``WarehouseError`` to raise for a DuckDB error: ``WarehouseUnavailableError`` naming
    the cause when the file system refused the work, a plain one otherwise."""
    cause = file_system_cause(exc)
    if cause is not None:
        return WarehouseUnavailableError(message, cause)
    return WarehouseError(message)


@contextmanager
def _typed_errors(url: str) -> Iterator[None]:
    """A DuckDB error that escapes a block as a ``WarehouseError`` (typed by
    ``warehouse_error``), so that no caller sees DuckDB's own exceptions."""
    try:
        yield
    except duckdb.Error as exc:
        raise warehouse_error(exc, f"the warehouse {url}: {exc}") from exc


class _SharedFile:
    """One DuckDB file as this process uses it: at most one open database, shared by threads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.cond = threading.Condition()
        self.con: duckdb.DuckDBPyConnection | None = None
        self.mode: str | None = None  # "ro" or "rw"
        self.users = 0
        self.writers_waiting = 0
        self.kept = 0  # blocks of reads that keep the idle read-only database open
        self.idle_since = 0.0
        self.write_lock = threading.RLock()  # one write transaction at a time in this process
        self._gate_fd: int | None = None
        self._gate_held: int | None = None  # fcntl.LOCK_SH / LOCK_EX while held
        self._reaper: threading.Thread | None = None
        self.opens = 0

    # --- the gate ---------------------------------------------------------------------------
    def _gate(self) -> int | None:
        if self._gate_fd is None:
            try:
                self._gate_fd = os.open(
                    self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666
                )
            except OSError:  # a read-only folder: no gate, the file's own lock still holds
                return None
        return self._gate_fd

    def _take_gate(self, kind: int, deadline: float, timeout: float) -> None:
        fd = self._gate()
        if fd is None:
            return
        wait = _FIRST_WAIT
        while True:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                self._gate_held = kind
                return
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                holder = _flock_holder(self.path + ".lock")
                raise WarehouseBusyError(
                    f"the warehouse {self.path} is being written by "
                    f"{holder or 'another process'}; gave up after waiting {timeout:g} s "
                    "(KCAST_LOCK_TIMEOUT)",
                    holder,
                    timeout,
                )
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
            wait = min(wait * 2, _MAX_WAIT)

    def _drop_gate(self) -> None:
        if self._gate_fd is not None and self._gate_held is not None:
            fcntl.flock(self._gate_fd, fcntl.LOCK_UN)
            self._gate_held = None

    def writer_waiting_elsewhere(self) -> bool:
        """True when another process holds the gate (a writer waiting or writing)."""
        fd = self._gate()
        if fd is None or self._gate_held is not None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False

    # --- opening and closing ------------------------------------------------------------------
    def _open(self, write: bool, timeout: float) -> None:
        """Open the file (called with ``cond`` held and nothing open), retrying on a lock."""
        deadline = time.monotonic() + timeout
        self._take_gate(fcntl.LOCK_EX if write else fcntl.LOCK_SH, deadline, timeout)
        wait = _FIRST_WAIT
        try:
            while True:
                try:
                    con = duckdb.connect(self.path, read_only=not write)
                    break
                except duckdb.Error as exc:
                    if not _is_lock_error(exc):
                        message = f"cannot open DuckDB warehouse {self.path}: {exc}"
                        cause = file_system_cause(exc) or "cannot_open"
                        raise WarehouseUnavailableError(message, cause) from exc
                    if time.monotonic() >= deadline:
                        m = _LOCK_MESSAGE.search(str(exc))
                        holder = process_name(int(m["pid"])) if m else None
                        raise WarehouseBusyError(
                            f"the warehouse {self.path} is held by {holder or 'another process'}"
                            f"; gave up after waiting {timeout:g} s (KCAST_LOCK_TIMEOUT)",
                            holder,
                            timeout,
                        ) from exc
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                wait = min(wait * 2, _MAX_WAIT)
        except BaseException:
            self._drop_gate()
            raise
        if not write:
            self._drop_gate()  # readers hold the gate only while opening
        self.con, self.mode = con, "rw" if write else "ro"
        self.opens += 1

    def _close(self) -> None:
        con, self.con, self.mode = self.con, None, None
        try:
            if con is not None:
                con.close()  # a read-write close checkpoints the write into the file
        except duckdb.Error as exc:
            raise warehouse_error(exc, f"closing the warehouse {self.path} failed: {exc}") from exc
        finally:
            self._drop_gate()
            self.cond.notify_all()

    def acquire(self, write: bool, timeout: float) -> duckdb.DuckDBPyConnection:
        """A cursor of the open database, read-write if ``write``; release it with ``release``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            if write:
                self.writers_waiting += 1
            try:
                while True:
                    if self.con is not None and (self.mode == "rw" or not write):
                        if write or not self.writers_waiting or self.mode == "rw":
                            self.users += 1
                            try:
                                return self.con.cursor()
                            except BaseException:
                                self.users -= 1
                                raise
                    elif self.con is not None and self.users == 0:
                        self._close()  # idle and read-only, but a write wants the file
                        continue
                    elif self.con is None and (write or not self.writers_waiting):
                        self._open(write, max(0.0, deadline - time.monotonic()))
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise WarehouseBusyError(
                            f"the warehouse {self.path} is busy in this process; gave up after "
                            f"waiting {timeout:g} s (KCAST_LOCK_TIMEOUT)",
                            process_name(os.getpid()),
                            timeout,
                        )
                    self.cond.wait(min(left, 0.5))
            finally:
                if write:
                    self.writers_waiting -= 1

    def release(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with contextlib.suppress(duckdb.Error):
            cursor.close()
        with self.cond:
            self.users -= 1
            if self.users == 0:
                busy = self.writers_waiting or self.writer_waiting_elsewhere()
                if self.mode == "rw" or busy or (LINGER <= 0 and not self.kept):
                    self._close()
                else:
                    self.idle_since = time.monotonic()
                    self._start_reaper()
            self.cond.notify_all()

    def _start_reaper(self) -> None:
        if self._reaper is not None and self._reaper.is_alive():
            return
        self._reaper = threading.Thread(target=self._reap, daemon=True, name="kcast-duckdb-idle")
        self._reaper.start()

    def _reap(self) -> None:
        """Close the idle read-only database after LINGER, or at once when a writer waits."""
        while True:
            time.sleep(_POLL)
            with self.cond:
                if self.con is None:
                    self._reaper = None
                    return
                if self.users:
                    continue
                idle = time.monotonic() - self.idle_since
                if (idle >= LINGER and not self.kept) or self.writer_waiting_elsewhere():
                    self._close()
                    self._reaper = None
                    return

    def close_idle(self) -> None:
        """Close the database now if no thread is using it."""
        with self.cond:
            if self.con is not None and self.users == 0:
                self._close()

    def forget_after_fork(self) -> None:
        """In a forked child: let go of the parent's gate and database without touching them."""
        if self._gate_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._gate_fd)
        self._gate_fd = self._gate_held = None
        self.con, self.mode, self.users, self._reaper, self.kept = None, None, 0, None, 0
        self.cond = threading.Condition()
        self.write_lock = threading.RLock()


_FILES: weakref.WeakValueDictionary[str, _SharedFile] = weakref.WeakValueDictionary()
_FILES_LOCK = threading.Lock()


def _shared_file(path: str) -> _SharedFile:
    key = os.path.realpath(path)
    with _FILES_LOCK:
        found = _FILES.get(key)
        if found is None:
            found = _SharedFile(path)
            _FILES[key] = found
        return found


def _after_fork_in_child() -> None:
    global _FILES_LOCK
    _FILES_LOCK = threading.Lock()
    for shared in list(_FILES.values()):
        shared.forget_after_fork()


def _close_all_at_exit() -> None:
    """Close every open database before the interpreter tears down (DuckDB aborts when one is
    destroyed during finalisation, e.g. a lingering read-only one)."""
    for shared in list(_FILES.values()):
        with shared.cond:
            if shared.con is not None:
                shared._close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)


class _Memory:
    """``:memory:``: one database per warehouse, kept open (it lives only in its connection)."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self.write_lock = threading.RLock()
        self.opens = 1

    def acquire(self, write: bool, timeout: float) -> duckdb.DuckDBPyConnection:
        return self.con.cursor()

    def release(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with contextlib.suppress(duckdb.Error):
            cursor.close()

    def close_idle(self) -> None:
        pass


class DuckDBWarehouse(Warehouse):
    """A warehouse in a DuckDB file (``:memory:`` for a throwaway one).

    ``read_only`` refuses every write (and so never takes the file's write lock); ``create``
    makes the file (and its folder) when it does not exist, otherwise a missing file is an
    error. ``lock_timeout`` is how long to wait for another process (default
    ``KCAST_LOCK_TIMEOUT``). ``created`` tells whether this open made the file.
    """

    engine = "duckdb"

    def __init__(
        self,
        path: str | Path,
        read_only: bool = False,
        create: bool = True,
        lock_timeout: float | None = None,
    ) -> None:
        self.url = str(path)
        self.read_only = read_only
        self.lock_timeout = default_lock_timeout() if lock_timeout is None else lock_timeout
        self.created = False
        self.created_steps: list[str] = []  # what open_warehouse's migration of a new file did
        self._local = threading.local()
        if str(path) == ":memory:":
            self.path = None
            self._file: _SharedFile | _Memory = _Memory()
            return
        self.path = Path(path)
        if not self.path.exists():
            if read_only or not create:
                where = self.path.parent
                why = "" if where.is_dir() else f" (the folder {where} does not exist either)"
                raise WarehouseError(
                    f"no warehouse at {self.path}{why}; check the path (-w / KCAST_WAREHOUSE), "
                    "or create one with `kcast warehouse migrate` or an ingest"
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise WarehouseError(f"the warehouse path {self.path} is a folder, not a DuckDB file")
        self._file = _shared_file(str(self.path))
        if not self.path.exists():
            with self._file.write_lock:
                cur = self._file.acquire(True, self.lock_timeout)
                self._file.release(cur)
            self.created = True

    # --- connections ------------------------------------------------------------------------
    @contextmanager
    def _cursor(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """The thread's session cursor if it has one, else a short-lived one."""
        own = getattr(self._local, "cursor", None)
        if own is not None:
            with _typed_errors(self.url):
                yield own
            return
        if write and self.read_only:
            raise WarehouseError(f"the warehouse {self.url} was opened read-only")
        # a writer holds the process's write lock for as long as it has its cursor
        with self._file.write_lock if write else contextlib.nullcontext():
            cur = self._file.acquire(write, self.lock_timeout)
            try:
                with _typed_errors(self.url):
                    yield cur
            finally:
                self._file.release(cur)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold one read-write connection for this thread until the block ends.

        Statements inside commit one by one (use ``transaction`` for all-or-nothing); the
        file's write lock is held throughout, so keep sessions short (``migrate`` uses one).
        """
        if getattr(self._local, "cursor", None) is not None:
            yield
            return
        if self.read_only:
            raise WarehouseError(f"the warehouse {self.url} was opened read-only")
        with self._file.write_lock:
            cur = self._file.acquire(True, self.lock_timeout)
            self._local.cursor, self._local.depth = cur, 0
            try:
                yield
            finally:
                self._local.cursor = None
                self._file.release(cur)

    @contextmanager
    def reads_together(self) -> Iterator[None]:
        """Keep the read-only database open between this block's queries, so that a build's
        several reads with work between them pay for one open, not one each (``LINGER`` is
        shorter than that work). It holds nothing a writer waits for: a write in this process,
        or a writer waiting in another, closes the idle database as at any other time, and the
        block's next query opens it again."""
        file = self._file
        with file.cond:
            file.kept += 1
        try:
            yield
        finally:
            with file.cond:
                file.kept -= 1
                file.idle_since = time.monotonic()  # then it lingers as after any query

    def change_stamp(self) -> str | None:
        """The file's and its write-ahead log's modification times and sizes: every write, by
        any process, commits into them (a write closes its connection, which checkpoints)."""
        if self.path is None:
            return None
        parts = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                parts.append("-")
                continue
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        return "|".join(parts)

    @property
    def opens(self) -> int:
        """How many times this process has opened the file (for tests and benchmarks)."""
        return self._file.opens

    # --- reading --------------------------------------------------------------------------
    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        with self._cursor(write=False) as con:
            try:
                return con.execute(sql, params or {}).df()
            except duckdb.Error as exc:
                raise warehouse_error(exc, f"query failed: {exc}\n{sql}") from exc

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._cursor(write=True) as con:
            try:
                con.execute(sql, params or {})
            except duckdb.Error as exc:
                raise warehouse_error(exc, f"statement failed: {exc}\n{sql}") from exc

    def table_exists(self, name: str) -> bool:
        with self._cursor(write=False) as con:
            row = con.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [name]
            ).fetchone()
        return bool(row and row[0])

    def table_columns(self, name: str) -> list[str]:
        with self._cursor(write=False) as con:
            rows = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [name],
            ).fetchall()
        return [r[0] for r in rows]

    def schema_stamp(self) -> str | None:
        """The schema fingerprint the last ``migrate`` left (None: never stamped)."""
        with self._cursor(write=False) as con:
            row = con.execute(
                "SELECT comment FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'",
                [SCHEMA_MIGRATIONS.name],
            ).fetchone()
        text = row[0] if row else None
        if not text or not str(text).startswith(_SCHEMA_TAG):
            return None
        return str(text)[len(_SCHEMA_TAG) :]

    def stamp_schema(self, fingerprint: str) -> None:
        """Record that the schema matches ``fingerprint`` (a comment on schema_migrations)."""
        text = (_SCHEMA_TAG + fingerprint).replace("'", "''")
        self.execute(f"COMMENT ON TABLE {SCHEMA_MIGRATIONS.name} IS '{text}'")

    # --- writing --------------------------------------------------------------------------
    def _merge(self, table: Table, rows: pd.DataFrame) -> UpsertResult:
        columns = list(rows.columns)
        select = ", ".join(
            f"CAST({c} AS {SQL_TYPES[table.column(c).type]}) AS {c}" for c in columns
        )
        on = " AND ".join(f"t.{k} = s.{k}" for k in table.key)
        with self.transaction():
            con = self._local.cursor
            name = f"_kcast_src_{table.name}"
            con.register(name + "_raw", rows)
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM {name}_raw"
                )
                existing = con.execute(
                    f"SELECT COUNT(*) FROM {table.name} t JOIN {name} s ON {on}"
                ).fetchone()[0]
                con.execute(merge_sql(table, table.name, name, columns))
                con.execute(f"DROP TABLE {name}")
            except duckdb.Error as exc:
                raise warehouse_error(exc, f"upsert into {table.name} failed: {exc}") from exc
            finally:
                con.unregister(name + "_raw")
        return UpsertResult(table.name, len(rows), len(rows) - existing, existing)

    def delete_where(self, table: str, where: str, params: dict[str, Any] | None = None) -> int:
        with self.transaction():
            con = self._local.cursor
            try:
                n = con.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE {where}", params or {}
                ).fetchone()[0]
                con.execute(f"DELETE FROM {table} WHERE {where}", params or {})
            except duckdb.Error as exc:
                raise warehouse_error(exc, f"delete from {table} failed: {exc}") from exc
        return int(n)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.session():
            con = self._local.cursor
            outer = self._local.depth == 0
            if outer:
                con.execute("BEGIN TRANSACTION")
            self._local.depth += 1
            try:
                yield
            except BaseException:
                self._local.depth -= 1
                if outer:
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
                raise
            else:
                self._local.depth -= 1
                if outer:
                    try:
                        con.execute("COMMIT")
                    except duckdb.Error as exc:
                        raise warehouse_error(exc, f"commit failed: {exc}") from exc

    def create_table(self, table: Table) -> None:
        cols = [f"{c.name} {SQL_TYPES[c.type]}" for c in table.columns]
        cols.append(f"PRIMARY KEY ({', '.join(table.key)})")
        self.execute(f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(cols) + "\n)")

    def add_column(self, table: Table, column: str) -> None:
        col = table.column(column)
        self.execute(
            f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {col.name} {SQL_TYPES[col.type]}"
        )

    def create_view(self, name: str, select_sql: str) -> None:
        self.execute(f"CREATE OR REPLACE VIEW {name} AS\n{select_sql}")

    def close(self) -> None:
        """Nothing is held between operations; an idle database of this process is closed."""
        self._file.close_idle()
