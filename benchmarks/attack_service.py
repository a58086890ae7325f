"""Attack the prediction worker on loopback, and measure /health under a flood of big bodies.

The worker runs in its own process (this script again with ``--serve``) over a copy of a
trained warehouse, with ``KCAST_API_TOKEN`` set. Two parts:

* ``attacks``: each hostile request of the hardening issue (and a few more) once; prints the
  table of attack, status answered, answer size, and whether a valid request on the same
  connection still worked afterwards; then the server's own count of 5xx answers (/metrics).
* ``flood``: 3 clients each send ``--flood-count`` 5 MB bodies to /predict-batch while a 4th
  client calls /health ``--health-count`` times; prints /health's p50/p99.

Every loop is bounded in count and time; the only address used is 127.0.0.1. Exit 1 on any 5xx.

Usage::

    python benchmarks/attack_service.py --warehouse trained.duckdb
"""

from __future__ import annotations

import argparse
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
from loopback import free_port, wait_healthy

TOKEN = "attack-bench-token"
GAME = {"pitcher_id": 453281, "game_date": "2019-07-13"}


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from kcast.config import get_settings
    from kcast.service import create_app

    settings = get_settings().model_copy(update={"warehouse": args.warehouse})
    uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port, log_level="warning")


def start(warehouse: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "KCAST_API_TOKEN": TOKEN}
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
    ]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--flood-count", type=int, default=40, help="5 MB bodies per client")
    parser.add_argument("--health-count", type=int, default=300)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "attack.duckdb"
        shutil.copy(args.warehouse, copy)
        proc, url = start(copy)
        try:
            rows = run_attacks(url)
            print("| attack | status | bytes | s | next request | note |")
            print("| --- | --- | --- | --- | --- | --- |")
            for r in rows:
                print(
                    f"| {r['attack']} | {r['status']} | {r['bytes']:,} | {r['seconds']} "
                    f"| {r['next']} | {r['note']} |"
                )
            result = flood(url, 3, args.flood_count, args.health_count)
            print(json.dumps(result, indent=2))
            errors = server_5xx(url)
            print(f"server 5xx answers: {errors}")
        finally:
            proc.terminate()
            proc.wait(30)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
