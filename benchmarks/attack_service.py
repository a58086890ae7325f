"""Attack the prediction worker on loopback, and measure /health under a flood of big bodies.

The worker runs in its own process (this script again with ``--serve``) over a copy of a
trained warehouse, with ``KCAST_API_TOKEN`` set and ``KCAST_LOCK_TIMEOUT=3``. Four parts:

* ``attacks``: each hostile request of the hardening issues (and a few more) once; prints the
  table of attack, status answered, answer size, the longest run of a 60,000-character input
  echoed back, and whether a valid request on the same connection still worked afterwards.
* ``flood``: 3 clients each send ``--flood-count`` 5 MB bodies to /predict-batch while a 4th
  client calls /health ``--health-count`` times; prints /health's p50/p99. Then the server's
  own count of 5xx answers (/metrics) so far: it must be 0.
* ``held``: another process holds the warehouse's write lock (a kcast write transaction) while
  the requests that read or write it are sent: each must be a 503 with a JSON body naming the
  cause and the holder, and a Retry-After; then, the lock released, no model was reloaded and
  no breaker counted it.
* ``ingest``: lines files with absurd odds (``-110000000000000000000000``, ``+999999``,
  ``-9999999999``, ``+9000`` both sides), a NUL byte and dates outside the known seasons, each
  given to ``kcast ingest lines --allow-unmatched``: exit code, the error's first line, and
  whether ``prop_lines`` changed; then a price like ``+999999`` stored directly (as an older
  kcast did) and a ``/predict`` of that pitcher: the price must decide nothing.

Every loop is bounded in count and time; the only address used is 127.0.0.1. Exit 1 on any 5xx
outside ``held``, on an answer there that is not that 503, or on an ingest that stored a row.

Usage::

    python benchmarks/attack_service.py --warehouse trained.duckdb \
        --register ../shared/data/ids/chadwick_register_mlb_players.csv.gz
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from loopback import free_port, wait_healthy

from kcast.warehouse import open_warehouse

TOKEN = "attack-bench-token"
GAME = {"pitcher_id": 453281, "game_date": "2019-07-13"}
LONG = "Q" * 60_000  # an input no answer may echo more than 60 characters of
LOCK_TIMEOUT = 3  # the worker's KCAST_LOCK_TIMEOUT
COLD_DAY = "2019-07-20"  # a date no attack asks for before the warehouse is held
# a kcast process writing to the warehouse: it holds the file until told to let go
HOLD = """
import sys
from kcast.warehouse.duckdb import DuckDBWarehouse
wh = DuckDBWarehouse(sys.argv[1], lock_timeout=60)
with wh.transaction():
    print("held", flush=True)
    sys.stdin.readline()
"""


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from kcast.config import get_settings
    from kcast.service import create_app

    settings = get_settings().model_copy(update={"warehouse": args.warehouse})
    uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port, log_level="warning")


def start(warehouse: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "KCAST_API_TOKEN": TOKEN,
        "KCAST_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
        "KCAST_RELOAD_SECONDS": "0",
    }
    cmd = [sys.executable, __file__, "--serve", "--warehouse", str(warehouse), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url)
    return proc, url


def raw(body: str | bytes) -> dict:
    return {"content": body, "headers": {"content-type": "application/json"}}


def attacks() -> list[tuple[str, str, str, dict]]:
    """(name, method, path, httpx request arguments)."""
    auth = {"authorization": f"Bearer {TOKEN}"}
    big_batch = json.dumps({"games": [GAME] * 100_000})
    mid_batch = json.dumps({"games": [GAME] * 15_000, "write": False})
    return [
        ("batch write, no token", "POST", "/predict-batch", {"json": {"games": [GAME]}}),
        (
            "batch write, wrong token",
            "POST",
            "/predict-batch",
            {"json": {"games": [GAME]}, "headers": {"authorization": "Bearer nope"}},
        ),
        (
            "batch write, made-up line, no token",
            "POST",
            "/predict-batch",
            {"json": {"games": [{**GAME, "line": 19.5, "over_odds": 900, "under_odds": -900}]}},
        ),
        (
            "game dated 2099, with token",
            "POST",
            "/predict-batch",
            {"json": {"games": [{**GAME, "game_date": "2099-07-13"}]}, "headers": auth},
        ),
        ("date 1850 on /picks", "GET", "/picks?date=1850-01-01", {}),
        (
            "line NaN",
            "POST",
            "/predict",
            raw('{"pitcher_id": 453281, "game_date": "2019-07-13", "line": NaN}'),
        ),
        (
            "line Infinity",
            "POST",
            "/predict",
            raw('{"pitcher_id": 453281, "game_date": "2019-07-13", "line": Infinity}'),
        ),
        (
            "line 1e400",
            "POST",
            "/predict",
            raw('{"pitcher_id": 453281, "game_date": "2019-07-13", "line": 1e400}'),
        ),
        (
            "pitcher_id NaN",
            "POST",
            "/predict",
            raw('{"pitcher_id": NaN, "game_date": "2019-07-13"}'),
        ),
        (
            "over_odds -Infinity",
            "POST",
            "/predict",
            raw(
                '{"pitcher_id": 453281, "game_date": "2019-07-13", "line": 4.5, "over_odds": -Infinity}'
            ),
        ),
        (
            "write NaN in batch",
            "POST",
            "/predict-batch",
            raw('{"date": "2019-07-13", "write": NaN}'),
        ),
        ("100,000-game batch (5 MB)", "POST", "/predict-batch", raw(big_batch)),
        (
            "50 MB unknown field",
            "POST",
            "/predict",
            raw(
                '{"pitcher_id": 453281, "game_date": "2019-07-13", "junk": "'
                + "x" * 50_000_000
                + '"}'
            ),
        ),
        ("small unknown field", "POST", "/predict", {"json": {**GAME, "junk": 1}}),
        (
            "unknown field in batch",
            "POST",
            "/predict-batch",
            {"json": {"games": [{**GAME, "x": 1}], "write": False}},
        ),
        ("broken JSON", "POST", "/predict", raw('{"pitcher_id": 4532')),
        (
            "10 KB string in opponent",
            "POST",
            "/predict",
            {"json": {**GAME, "opponent": "A" * 10_000}},
        ),
        ("deeply nested JSON", "POST", "/predict", raw("[" * 50_000 + "]" * 50_000)),
        (
            "Content-Length 100 GB, 2 bytes sent",
            "RAW",
            "/predict",
            {"head": "Content-Length: 99999999999\r\n", "body": b"{}"},
        ),
        (
            "chunked 3 MB, no Content-Length",
            "RAW",
            "/predict",
            {"head": "Transfer-Encoding: chunked\r\n", "chunked": 3_000_000},
        ),
        (
            "Content-Length not a number",
            "RAW",
            "/predict",
            {"head": "Content-Length: abc\r\n", "body": b"{}"},
        ),
        ("unknown query parameter", "GET", "/picks?date=2019-07-13&sytem=x", {}),
        (
            "Basic auth instead of Bearer",
            "POST",
            "/predict-batch",
            {"json": {"games": [GAME]}, "headers": {"authorization": f"Basic {TOKEN}"}},
        ),
        (
            "token in the query string",
            "POST",
            f"/predict-batch?token={TOKEN}",
            {"json": {"games": [GAME]}},
        ),
        ("15,000 games under the limit", "POST", "/predict-batch", raw(mid_batch)),
        ("path traversal on /docs-static", "GET", "/docs-static/../../../../etc/passwd", {}),
        ("encoded traversal", "GET", "/docs-static/..%2f..%2f..%2fetc%2fpasswd", {}),
        ("pitcher_id 2**63", "POST", "/predict", {"json": {**GAME, "pitcher_id": 2**63}}),
        ("NUL byte in opponent", "POST", "/predict", {"json": {**GAME, "opponent": "NY\u0000A"}}),
        ("/docs loads from the worker", "GET", "/docs", {}),
        ("/health", "GET", "/health", {}),
        ("/systems", "GET", "/systems", {}),
        (
            "batch write=false, no token",
            "POST",
            "/predict-batch",
            {"json": {"games": [GAME], "write": False}},
        ),
        # issue 24
        (
            "1: non-ASCII bearer token, /admin/reload",
            "POST",
            "/admin/reload",
            {"headers": {"authorization": "Bearer éé".encode()}},
        ),
        (
            "1: non-ASCII bearer token, a write",
            "POST",
            "/predict-batch",
            {"json": {"games": [GAME]}, "headers": {"authorization": "Bearer éé".encode()}},
        ),
        ("2: NUL byte in /static/", "GET", "/static/%00", {}),
        ("2: NUL byte in /docs-static/", "GET", "/docs-static/%00", {}),
        ("2: 5,000-character file name in /static/", "GET", "/static/" + "a" * 5_000, {}),
        (
            "7: odds +999999 on both sides",
            "POST",
            "/predict",
            {"json": {**GAME, "line": 6.5, "over_odds": 999_999, "under_odds": 999_999}},
        ),
        (
            "7: odds -9999999999",
            "POST",
            "/predict",
            {"json": {**GAME, "line": 6.5, "over_odds": -9_999_999_999, "under_odds": -110}},
        ),
        (
            "7: odds +9000 on both sides (a sure profit)",
            "POST",
            "/predict",
            {"json": {**GAME, "line": 6.5, "over_odds": 9_000, "under_odds": 9_000}},
        ),
        ("10: 60,000-character system id", "GET", f"/systems/{LONG}", {}),
        ("10: 60,000-character date, dashboard", "GET", "/", {"params": {"date": LONG}}),
        ("10: 60,000-character date, /picks", "GET", "/picks", {"params": {"date": LONG}}),
        ("10: 60,000-character query name", "GET", f"/health?{LONG}=1", {}),
        ("10: 60,000-character opponent", "POST", "/predict", {"json": {**GAME, "team": LONG}}),
        ("10: 60,000-character field name", "POST", "/predict", {"json": {**GAME, LONG: 1}}),
        (
            "10: 60,000-character batch date",
            "POST",
            "/predict-batch",
            {"json": {"date": LONG, "write": False}},
        ),
    ]


def longest_run(text: str, char: str = "Q") -> int:
    """The longest run of ``char`` in ``text`` (how much of a LONG input was echoed)."""
    best = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        best = max(best, run)
    return best


def send_raw(url: str, path: str, head: str, body: bytes = b"", chunked: int = 0) -> tuple:
    """A hand-made POST on a socket (what httpx refuses to send); (status, size)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{head}\r\n"
        ).encode()
        try:
            sock.sendall(request + body)
            if chunked:
                piece = b"x" * 65536
                for _ in range(chunked // len(piece)):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError as exc:
            return type(exc).__name__, 0
    if not answer:
        return "closed", 0
    return answer.split(b" ", 2)[1].decode(), len(answer)


def run_attacks(url: str) -> list[dict]:
    rows = []
    for name, method, path, kwargs in attacks():
        with httpx.Client(base_url=url, timeout=120) as client:
            t0 = time.perf_counter()
            body = ""
            try:
                if method == "RAW":
                    status, size = send_raw(url, path, **kwargs)
                else:
                    response = client.request(method, path, **kwargs)
                    status, size = str(response.status_code), len(response.content)
                    body = response.text
            except httpx.HTTPError as exc:
                status, size, body = type(exc).__name__, 0, ""
            seconds = time.perf_counter() - t0
            try:  # the same client (connection) still serves a valid request
                after = str(client.get("/health").status_code)
            except httpx.HTTPError as exc:
                after = type(exc).__name__
        extra = ""
        if name.startswith("/docs"):
            extra = "no CDN" if "cdn" not in body.lower() and "/docs-static/" in body else "CDN!"
        if name in ("/health", "/systems"):
            extra = "abs path!" if str(Path.home()) in body or "/tmp/" in body else "no abs path"
        rows.append(
            {
                "attack": name,
                "status": status,
                "bytes": size,
                "echo": longest_run(body) if name.startswith("10:") else "",
                "seconds": round(seconds, 2),
                "next": after,
                "note": extra,
            }
        )
    return rows


def server_5xx(url: str) -> int:
    total = 0
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("kcast_request_latency_seconds_count") and 'status="5' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def flood(url: str, clients: int, count: int, health_count: int) -> dict:
    body = json.dumps({"games": [GAME] * 100_000}).encode()  # about 5 MB
    statuses: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + 300

    def sender() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for _ in range(count):
                if time.monotonic() > stop:
                    return
                try:
                    code = str(client.post("/predict-batch", **raw(body)).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                with lock:
                    statuses.append(code)

    threads = [threading.Thread(target=sender) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(health_count):
            t0 = time.perf_counter()
            client.get("/health")
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.01)
    for t in threads:
        t.join()
    ms = np.array(latencies) * 1000
    return {
        "health_requests": len(ms),
        "health_p50_ms": round(float(np.percentile(ms, 50)), 1),
        "health_p99_ms": round(float(np.percentile(ms, 99)), 1),
        "health_max_ms": round(float(ms.max()), 1),
        "big_bodies_sent": len(statuses),
        "big_body_statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
    }


# --------------------------------------------------------------------------------------------
# Item 3: the warehouse held by another process
# --------------------------------------------------------------------------------------------


def held(url: str, warehouse: Path) -> tuple[list[dict], dict]:
    """Each request that reads or writes the warehouse while another process holds it; then,
    released, what /health and a reload say."""
    auth = {"authorization": f"Bearer {TOKEN}"}
    cold = {"pitcher_id": 453281, "game_date": COLD_DAY, "opponent": "TEX", "is_home": False}
    requests = [
        (
            "POST /predict-batch (cold date)",
            "POST",
            "/predict-batch",
            {"json": {"date": COLD_DAY}, "headers": auth},
        ),
        ("POST /predict (cold)", "POST", "/predict", {"json": cold}),
        ("GET /picks", "GET", "/picks", {"params": {"date": COLD_DAY}}),
        ("GET /slate", "GET", "/slate", {"params": {"date": COLD_DAY}}),
        ("GET / (dashboard)", "GET", "/", {"params": {"date": COLD_DAY}}),
        ("POST /admin/reload", "POST", "/admin/reload", {"headers": auth}),
        ("GET /health", "GET", "/health", {}),
    ]
    with httpx.Client(base_url=url, timeout=120) as client:
        before = client.get("/health").json()["reload"]["generation"]
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    rows = []
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        for name, method, path, kwargs in requests:
            t0 = time.perf_counter()
            status, detail, retry = held_request(url, method, path, kwargs)
            rows.append(
                {
                    "request": name,
                    "status": status,
                    "cause": detail.get("cause", ""),
                    "retry_after": retry,
                    "holder named": f"PID {proc.pid}" in str(detail.get("holder")),
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(60)
    again = [held_request(url, "POST", "/predict", {"json": cold})[0]]
    again.append(held_request(url, "GET", "/picks", {"params": {"date": COLD_DAY}})[0])
    with httpx.Client(base_url=url, timeout=120) as client:
        reload = client.post("/admin/reload", headers=auth).json()
        health = client.get("/health").json()
    after = {
        "requests after the release": again,
        "generation before / after": [before, health["reload"]["generation"]],
        "reload after the release changed models": reload.get("changed"),
        "breaker failures": {s: h["failure_count"] for s, h in health["systems"].items()},
    }
    return rows, after


def held_request(url: str, method: str, path: str, kwargs: dict) -> tuple[object, dict, str]:
    """One request on a connection of its own: status (or the error), JSON detail, Retry-After."""
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            answer = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        return type(exc).__name__, {}, ""
    detail = {}
    if answer.headers.get("content-type") == "application/json":
        detail = answer.json().get("detail") or {}
    detail = detail if isinstance(detail, dict) else {}
    return answer.status_code, detail, answer.headers.get("retry-after", "")


# --------------------------------------------------------------------------------------------
# Items 6, 7 and 11: hostile lines files
# --------------------------------------------------------------------------------------------

LINES_HEADER = "game_date,pitcher_name,book,line,over_odds,under_odds\n"
HOSTILE_LINES = {
    "6: over_odds -110000000000000000000000": "2019-07-13,Wade LeBlanc,JunkBook,6.5,-110000000000000000000000,-110",
    "7: +999999 on both sides": "2019-07-13,Wade LeBlanc,JunkBook,6.5,+999999,+999999",
    "7: under_odds -9999999999": "2019-07-13,Wade LeBlanc,JunkBook,6.5,-110,-9999999999",
    "7: +9000 on both sides": "2019-07-13,Wade LeBlanc,JunkBook,6.5,+9000,+9000",
    "11: NUL byte in a name": "2019-07-13,Wade\x00LeBlanc,JunkBook,6.5,-110,-110",
    "11: date 0001-01-01": "0001-01-01,Wade LeBlanc,JunkBook,6.5,-110,-110",
    "11: date 2099-07-01": "2099-07-01,Wade LeBlanc,JunkBook,6.5,-110,-110",
}


def prop_lines(warehouse: Path) -> int:
    wh = open_warehouse(str(warehouse), migrate=False, read_only=True)
    try:
        return int(wh.query("SELECT COUNT(*) AS n FROM prop_lines")["n"].iloc[0])
    finally:
        wh.close()


def ingest(url: str, warehouse: Path, folder: Path, register: Path) -> tuple[list[dict], dict]:
    """``kcast ingest lines`` of each hostile file; then a stored +999999 and a /predict."""
    rows = []
    env = {k: v for k, v in os.environ.items() if k != "KCAST_API_TOKEN"}
    env["KCAST_REGISTER"] = str(register)
    for name, row in HOSTILE_LINES.items():
        path = folder / "hostile.csv"
        path.write_bytes((LINES_HEADER + row + "\n").encode())
        before = prop_lines(warehouse)
        cmd = [sys.executable, "-c", "from kcast.cli import main; main()", "ingest", "lines"]
        cmd += [str(path), "--allow-unmatched", "-w", str(warehouse)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        said = " ".join((done.stdout + done.stderr).split())
        rows.append(
            {
                "file": name,
                "exit": done.returncode,
                "line named": "hostile.csv, line 2:" in said,
                "said": said[:150],
                "traceback": "Traceback" in said,
                "rows stored": prop_lines(warehouse) - before,
            }
        )
    # a price like that stored directly, as an older kcast would have
    wh = open_warehouse(str(warehouse), migrate=False)
    try:
        junk = {
            "source": "csv",
            "game_date": dt.date(2019, 7, 13),
            "pitcher_name": "Wade LeBlanc",
            "book": "JunkBook",
            "line": 6.5,
            "snapshot": "posted",
            "pitcher_id": 453281,
            "over_odds": 999_999,
            "under_odds": 999_999,
        }
        wh.upsert("prop_lines", pd.DataFrame([junk]))
    finally:
        wh.close()
    body = httpx.post(f"{url}/predict", json=GAME, timeout=120).json()
    stored = {
        "line": body.get("line"),
        "recommendation": body.get("recommendation"),
        "expected values": {s: a.get("expected_value") for s, a in body["systems"].items()},
    }
    return rows, stored


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
    for r in rows:
        out.append("| " + " | ".join(str(r[k]) for k in keys) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument(
        "--register",
        type=Path,
        default=os.environ.get("KCAST_REGISTER"),
        help="The Chadwick register file the lines ingest matches names with (KCAST_REGISTER)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--flood-count", type=int, default=40, help="5 MB bodies per client")
    parser.add_argument("--health-count", type=int, default=300)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if args.register is None:
        parser.error("give --register (the Chadwick register file) for the ingest attacks")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "attack.duckdb"
        shutil.copy(args.warehouse, copy)
        proc, url = start(copy)
        try:
            rows = run_attacks(url)
            print(table(rows))
            result = flood(url, 3, args.flood_count, args.health_count)
            print(json.dumps(result, indent=2))
            errors = server_5xx(url)
            print(f"server 5xx answers: {errors}")
            held_rows, after = held(url, copy)
            print(table(held_rows))
            print(json.dumps(after, indent=2))
            errors += sum(
                r["status"] != 503 or not r["retry_after"] or not r["cause"]
                for r in held_rows
                if r["request"] != "GET /health"
            )
            errors += after["generation before / after"][0] != after["generation before / after"][1]
            ingest_rows, stored = ingest(url, copy, Path(tmp), args.register)
            print(table(ingest_rows))
            print(json.dumps(stored, indent=2))
            errors += sum(
                r["exit"] != 1 or r["rows stored"] or r["traceback"] or not r["line named"]
                for r in ingest_rows
            )
            errors += stored["line"] is not None
        finally:
            proc.terminate()
            proc.wait(30)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
