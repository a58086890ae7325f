"""One DuckDB warehouse, many processes: real ``kcast`` processes against one file.

A real ``kcast serve`` subprocess answers /health and /predict throughout while ``kcast
ingest``, ``predict``, ``grade``, ``train``, ``status`` and ``query`` run as subprocesses on the
same file, some of them at the same time. A real ingest is killed with SIGKILL at several
points (while its parser processes run, as it starts writing, while it writes): the warehouse
stays readable, every table holds its rows from before or after, no parser process outlives
it, and a rerun completes with the right totals.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import EVENTS, REGISTER_FILE, REPO, free_port

DAY = dt.date(2019, 7, 13)
PITCHER = 453281  # Wade LeBlanc, started for SEA at ANA on 2019-07-13
PREDICT_DAY = "2019-07-14"
SUBSET_TEAMS = ("ANA", "SEA", "NYA", "BOS")  # their 2019 home games: a quick real ingest
TABLES = ("games", "pitcher_games", "team_batting_games", "players")


def _env(warehouse: Path, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCAST_", "MLB_"))}
    env.update(
        PYTHONPATH=str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", ""),
        KCAST_WAREHOUSE=str(warehouse),
        KCAST_REGISTER=str(REGISTER_FILE),
        KCAST_CACHE_DIR=str(tmp / "cache"),
        KCAST_MODEL_DIR=str(tmp / "models"),
        **extra,
    )
    return env


def _kcast_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from kcast.cli import main; main()", *args]


def kcast(env: dict[str, str], cwd: Path, *args: str, timeout: float = 300) -> subprocess.Popen:
    return subprocess.Popen(
        _kcast_cmd(*args),
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, " ".join(out.split())  # Rich wraps long lines off a terminal


@pytest.fixture(scope="module")
def subset_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2019 event files of a few teams, and every roster, unpacked from the real zip."""
    import zipfile

    folder = tmp_path_factory.mktemp("events2019")
    with zipfile.ZipFile(EVENTS / "2019eve.zip") as zf:
        for name in zf.namelist():
            if name.endswith(".ROS") or name[4:7] in SUBSET_TEAMS:
                (folder / name).write_bytes(zf.read(name))
    return folder


def children_of(pid: int) -> set[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def holds_write_gate(pid: int, warehouse: Path) -> bool:
    """True while ``pid`` holds the warehouse's write gate (it is opening or writing the file)."""
    gate = Path(str(warehouse) + ".lock")
    try:
        inode = gate.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        parts = line.split()
        if "->" in parts or len(parts) < 6:
            continue
        if (
            parts[1] == "FLOCK"
            and parts[3] == "WRITE"
            and int(parts[4]) == pid
            and parts[5].endswith(f":{inode}")
        ):
            return True
    return False


def read_counts(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


class Poller(threading.Thread):
    """Hits /health and /predict in a loop; records every status code and failure."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.codes: list[tuple[str, int]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=90) as client:
            while not self.stop.is_set():
                for method, path, body in (
                    ("GET", "/health", None),
                    ("POST", "/predict", {"pitcher_id": PITCHER, "game_date": str(DAY)}),
                ):
                    try:
                        r = client.request(method, path, json=body)
                        self.codes.append((path, r.status_code))
                        if r.status_code >= 500 or (
                            path == "/health" and not r.json()["warehouse_ok"]
                        ):
                            self.errors.append(f"{path} {r.status_code}: {r.text[:300]}")
                    except httpx.HTTPError as exc:
                        self.errors.append(f"{path}: {type(exc).__name__}: {exc}")

    def count(self) -> int:
        return len(self.codes)


def start_worker(env: dict[str, str], cwd: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        _kcast_cmd("serve", "--port", str(port), "--log-level", "warning"),
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the worker did not answer /health in time")


def stop_worker(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def test_commands_succeed_while_the_worker_serves(
    trained_warehouse: Path, subset_events: Path, tmp_path: Path
) -> None:
    path = tmp_path / "shared.duckdb"
    shutil.copy(trained_warehouse, path)
    env = _env(path, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    worker = start_worker(env, tmp_path, port)
    poller = Poller(url)
    results: dict[str, tuple[int, str]] = {}
    try:
        wait_healthy(worker, url)
        poller.start()
        # an ingest, and readers at the same time as it
        ingest = kcast(env, tmp_path, "ingest", "retrosheet", "--source", str(subset_events))
        readers = {
            "predict --no-write": kcast(
                env, tmp_path, "predict", "--date", PREDICT_DAY, "--no-write"
            ),
            "query": kcast(env, tmp_path, "query", "daily_volume", "--json"),
            "warehouse counts": kcast(env, tmp_path, "warehouse", "counts"),
        }
        results["ingest retrosheet"] = finish(ingest)
        for name, proc in readers.items():
            results[name] = finish(proc)
        # writers one after another (each waits for the other's short write), a reader beside
        results["predict"] = finish(kcast(env, tmp_path, "predict", "--date", PREDICT_DAY))
        status = kcast(env, tmp_path, "status", "--date", PREDICT_DAY, "--json")
        results["grade"] = finish(kcast(env, tmp_path, "grade", "--date", PREDICT_DAY))
        results["status"] = finish(status)
        results["train"] = finish(
            kcast(
                env,
                tmp_path,
                "train",
                "--through",
                "2019-07-01",
                "--system",
                "v1_6_rolling",
                "--model-dir",
                str(tmp_path / "models2"),
            )
        )
        results["query picks_today"] = finish(
            kcast(env, tmp_path, "query", "picks_today", "--date", PREDICT_DAY, "--json")
        )
        # the worker sees what the commands wrote: the CLI's predictions of PREDICT_DAY
        picks = httpx.get(f"{url}/picks", params={"date": PREDICT_DAY}, timeout=60)
        assert picks.status_code == 200, picks.text
        body = picks.json()
        assert body, body
        seen = poller.count()
        deadline = time.monotonic() + 30
        while poller.count() < seen + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop.set()
        poller.join(120)
        stop_worker(worker)
    report = {name: code for name, (code, _) in results.items()}
    print("exit codes:", report, "requests:", poller.count(), "errors:", poller.errors)
    for name, (code, out) in results.items():
        assert code == 0, f"kcast {name} exited {code}:\n{out[-3000:]}"
        assert "Could not set lock" not in out and "Conflicting lock" not in out, out
    fives = [c for c in poller.codes if c[1] >= 500]
    assert not fives and not poller.errors, poller.errors[:5]
    assert poller.count() >= 10, poller.count()
    assert {p for p, _ in poller.codes} == {"/health", "/predict"}


def test_the_worker_starts_while_another_process_writes(
    trained_warehouse: Path, tmp_path: Path
) -> None:
    """The worker's start-up waits for a write in progress instead of failing."""
    path = tmp_path / "busy.duckdb"
    shutil.copy(trained_warehouse, path)
    env = _env(path, tmp_path)
    hold = textwrap_hold(path, seconds=3.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        port = free_port()
        worker = start_worker(env, tmp_path, port)
        try:
            wait_healthy(worker, f"http://127.0.0.1:{port}")
            r = httpx.post(
                f"http://127.0.0.1:{port}/predict",
                json={"pitcher_id": PITCHER, "game_date": str(DAY)},
                timeout=60,
            )
            assert r.status_code == 200, r.text
        finally:
            stop_worker(worker)
    finally:
        holder.wait(30)
    assert holder.returncode == 0


def textwrap_hold(path: Path, seconds: float) -> str:
    """A program that holds ``path``'s write lock (a kcast write session) for ``seconds``."""
    return (
        "import sys, time\n"
        "from kcast.warehouse import open_warehouse\n"
        f"wh = open_warehouse({str(path)!r}, create=False)\n"
        "with wh.session():\n"
        "    wh.execute('CREATE TABLE IF NOT EXISTS _held (a INTEGER)')\n"
        "    print('holding', flush=True)\n"
        f"    time.sleep({seconds})\n"
        "    wh.execute('DROP TABLE _held')\n"
    )


def test_a_lock_held_too_long_is_a_clear_error(trained_warehouse: Path, tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    shutil.copy(trained_warehouse, path)
    env = _env(path, tmp_path, KCAST_LOCK_TIMEOUT="1")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap_hold(path, seconds=20.0)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        t0 = time.monotonic()
        code, out = finish(kcast(env, tmp_path, "status", "--json"), timeout=60)
        waited = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait(10)
    assert code == 1, out
    assert f"PID {holder.pid}" in out and "KCAST_LOCK_TIMEOUT" in out, out
    assert str(path) in out, out
    assert waited < 30, waited


def test_a_missing_warehouse_is_an_error_unless_the_command_creates_one(tmp_path: Path) -> None:
    env = _env(tmp_path / "unused.duckdb", tmp_path)
    for target in (tmp_path / "kcats.duckdb", tmp_path / "no" / "such" / "folder.duckdb"):
        for args in (("status",), ("query", "daily_volume"), ("warehouse", "counts")):
            code, out = finish(kcast(env, tmp_path, *args, "-w", str(target)))
            assert code == 1 and f"no warehouse at {target}" in out, (args, out)
            assert not target.exists() and not (tmp_path / "no").exists()
    target = tmp_path / "new" / "kcast.duckdb"
    code, out = finish(kcast(env, tmp_path, "warehouse", "migrate", "-w", str(target)))
    assert code == 0 and f"created a new warehouse at {target}" in out, out
    code, out = finish(kcast(env, tmp_path, "warehouse", "migrate", "-w", str(target)))
    assert code == 0 and "created" not in out and "up to date" in out, out


# --- SIGKILL during an ingest ----------------------------------------------------------------


def _reference_counts(subset_events: Path, root: Path) -> dict[str, int]:
    path = root / "reference.duckdb"
    env = _env(path, root)
    code, out = finish(kcast(env, root, "ingest", "retrosheet", "--source", str(subset_events)))
    assert code == 0, out
    return read_counts(path)


def test_an_ingest_killed_at_any_point_leaves_before_or_after(
    subset_events: Path, tmp_path: Path
) -> None:
    after = _reference_counts(subset_events, tmp_path)
    path = tmp_path / "killed.duckdb"
    env = _env(path, tmp_path)
    code, out = finish(kcast(env, tmp_path, "warehouse", "migrate"))
    assert code == 0, out
    before = read_counts(path)
    assert all(n == 0 for n in before.values()) and all(after.values())

    observed = []
    for point in ("parsing", "writing", "writing+0.15s"):
        proc = kcast(env, tmp_path, "ingest", "retrosheet", "--source", str(subset_events))
        deadline = time.monotonic() + 90
        children: set[int] = set()
        hit = False
        while time.monotonic() < deadline and proc.poll() is None:
            if point == "parsing":
                children = children_of(proc.pid)
                hit = len(children) >= 1
            else:
                children |= children_of(proc.pid)
                hit = holds_write_gate(proc.pid, path)
                if hit and point == "writing+0.15s":
                    time.sleep(0.15)
            if hit:
                break
            time.sleep(0.002)
        assert hit, f"{point}: the ingest ended first: {proc.communicate()}"
        proc.kill()
        proc.wait(10)
        # no parser process outlives the killed ingest
        gone_by = time.monotonic() + 15
        while any(alive(c) for c in children) and time.monotonic() < gone_by:
            time.sleep(0.05)
        survivors = [c for c in children if alive(c)]
        assert not survivors, f"{point}: parser processes {survivors} outlived their parent"
        counts = read_counts(path)  # readable, read-only, by another process's DuckDB
        assert counts in (before, after), (point, counts)
        observed.append((point, counts == after))

    code, out = finish(kcast(env, tmp_path, "ingest", "retrosheet", "--source", str(subset_events)))
    assert code == 0, out
    assert read_counts(path) == after
    print("kill points (point, fully written):", observed, "totals:", after)


# --- threads of one process ------------------------------------------------------------------


def test_threads_read_while_another_writes_and_a_read_only_open_refuses_writes(
    tmp_path: Path,
) -> None:
    """Readers in several threads run beside one thread's transactions (in-process sharing of
    the one open database), each sees a committed state, and a read-only open never writes."""
    import pandas as pd

    from kcast.errors import WarehouseError
    from kcast.warehouse import open_warehouse

    path = tmp_path / "threads.duckdb"
    wh = open_warehouse(str(path))
    assert wh.created
    errors: list[str] = []
    seen: list[int] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(20):
                rows = pd.DataFrame(
                    {"player_id": [2 * i, 2 * i + 1], "full_name": [f"p{2 * i}", f"p{2 * i + 1}"]}
                )
                with wh.transaction():  # two rows at once: a reader sees both or neither
                    wh.upsert("players", rows.iloc[:1])
                    wh.upsert("players", rows.iloc[1:])
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(repr(exc))
        finally:
            done.set()

    def read() -> None:
        reader = open_warehouse(str(path), read_only=True)
        try:
            while not done.is_set():
                seen.append(reader.count("players"))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(repr(exc))

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert seen and all(n % 2 == 0 for n in seen), sorted(set(seen))
    assert wh.count("players") == 40
    reader = open_warehouse(str(path), read_only=True)
    with pytest.raises(WarehouseError, match="read-only"):
        reader.upsert("players", pd.DataFrame({"player_id": [99]}))
    assert wh.count("players") == 40


def test_the_worker_does_not_create_a_warehouse(tmp_path: Path) -> None:
    target = tmp_path / "kcats.duckdb"
    env = _env(target, tmp_path)
    code, out = finish(kcast(env, tmp_path, "serve", "--port", str(free_port())), timeout=60)
    assert code == 1 and f"no warehouse at {target}" in out, out
    assert not target.exists()


def _scalar(path: Path, sql: str) -> int:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def _kill_while_writing(proc: subprocess.Popen, path: Path, timeout: float = 120) -> bool:
    """SIGKILL ``proc`` as soon as it holds the warehouse's write gate; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if holds_write_gate(proc.pid, path):
            proc.kill()
            proc.wait(10)
            return True
        time.sleep(0.002)
    proc.communicate(timeout=60)
    return False


def test_predict_grade_and_train_killed_while_writing(
    trained_warehouse: Path, tmp_path: Path
) -> None:
    path = tmp_path / "killed.duckdb"
    shutil.copy(trained_warehouse, path)
    env = _env(path, tmp_path)
    day = PREDICT_DAY
    checks = {
        "predict": (
            ("predict", "--date", day),
            f"SELECT COUNT(*) FROM pitcher_strikeout_predictions WHERE game_date = '{day}'",
        ),
        "grade": (
            ("grade", "--date", day),
            "SELECT COUNT(*) FROM pitcher_strikeout_predictions "
            f"WHERE game_date = '{day}' AND actual_strikeouts IS NOT NULL",
        ),
        "train": (
            ("train", "--through", day, "--system", "v1_6_rolling", "--model-dir", str(tmp_path)),
            "SELECT COUNT(*) FROM model_registry",
        ),
    }
    seen = {}
    for name, (args, sql) in checks.items():
        before = _scalar(path, sql)
        killed = _kill_while_writing(kcast(env, tmp_path, *args), path)
        mid = _scalar(path, sql)  # readable at once, by a read-only open
        code, out = finish(kcast(env, tmp_path, *args))
        assert code == 0, f"rerun of {name}: {out[-2000:]}"
        after = _scalar(path, sql)
        assert after > before and mid in (before, after), (name, before, mid, after)
        seen[name] = (killed, before, mid, after)
    active = _scalar(
        path,
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM model_registry WHERE is_active "
        "GROUP BY system_id)",
    )
    assert active == 1
    assert all(k for k, *_ in seen.values()), seen
    print("killed while writing (killed, before, after kill, after rerun):", seen)


def test_reads_together_open_the_file_once_and_let_writers_in(tmp_path: Path) -> None:
    """A block of reads (a cold date's build) keeps the read-only database open between its
    queries, longer than the usual linger; a write in this process or in another one still gets
    the file during the block, and the block's next query sees it."""
    from kcast.warehouse import duckdb as engine
    from kcast.warehouse import open_warehouse

    path = tmp_path / "together.duckdb"
    wh = open_warehouse(str(path))
    wh.close()
    wh = open_warehouse(str(path), migrate=False)
    pause = engine.LINGER * 4
    before = wh.opens
    with wh.reads_together():
        for _ in range(3):
            wh.count("players")
            time.sleep(pause)  # work between the reads, longer than LINGER
    assert wh.opens == before + 1
    time.sleep(pause)
    wh.count("players")
    assert wh.opens == before + 2  # after the block, the database is let go as before

    with wh.reads_together():
        wh.count("players")
        wh.execute("CREATE TABLE here AS SELECT 1 AS x")  # this process writes mid-block
        assert wh.query("SELECT x FROM here")["x"].tolist() == [1]
        time.sleep(pause)
        writer = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from kcast.warehouse import open_warehouse; "
                "open_warehouse(sys.argv[1], migrate=False)"
                ".execute('CREATE TABLE there AS SELECT 2 AS x')",
                str(path),
            ],
            env={**os.environ, "KCAST_LOCK_TIMEOUT": "10"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert writer.returncode == 0, writer.stderr
        assert wh.query("SELECT x FROM there")["x"].tolist() == [2]


@pytest.mark.parametrize("setting", [None, "true"])
def test_the_access_log_is_off_unless_asked_for(
    trained_warehouse: Path, tmp_path: Path, setting: str | None
) -> None:
    """``kcast serve`` at info level writes no line per request, unless KCAST_ACCESS_LOG=true."""
    warehouse = tmp_path / "served.duckdb"
    shutil.copy(trained_warehouse, warehouse)
    extra = {} if setting is None else {"KCAST_ACCESS_LOG": setting}
    port = free_port()
    proc = subprocess.Popen(
        _kcast_cmd("serve", "--port", str(port), "--log-level", "info"),
        env=_env(warehouse, tmp_path, **extra),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}")
        assert httpx.get(f"http://127.0.0.1:{port}/systems", timeout=30).status_code == 200
    finally:
        stop_worker(proc)
    out = proc.stdout.read() if proc.stdout else ""
    assert "Application startup complete" in out  # info lines are written
    assert ('"GET /systems HTTP/1.1" 200' in out) == (setting == "true"), out
