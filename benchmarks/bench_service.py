"""Load benchmark of the prediction worker: real HTTP on loopback against a real uvicorn server.

The server runs in its own process (this script started again with ``--serve``), over a copy
of a warehouse that holds history and trained, registered models (``kcast train``); the
client is this process, with a few threads of ``httpx`` clients. For each scenario (all
systems healthy, one system raising, one system hanging past its timeout) it measures:

* ``/predict`` for each starter of a slate in turn (with a line and odds), and
* ``/predict-batch`` of the whole slate (features once, every system, rows written),

and reports requests per second and p50/p99 latency. Every loop is bounded in count and in
time, the only address used is 127.0.0.1, and any 5xx answer fails the run (exit 1).

Usage::

    python benchmarks/bench_service.py --warehouse trained.duckdb --date 2019-08-10
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

SCENARIOS = {
    "healthy": None,
    "one system raising": "v1_6_rolling=raise",
    "one system hanging": "v1_6_rolling=hang",
}


# --------------------------------------------------------------------------------------------
# Server side (run with --serve)
# --------------------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    """Run the worker on 127.0.0.1:PORT with the given fault injected."""
    import uvicorn

    from kcast.config import get_settings
    from kcast.service import create_app
    from kcast.service.breakers import Fault

    settings = get_settings().model_copy(
        update={"warehouse": args.warehouse, "system_timeout": args.system_timeout}
    )
    app = create_app(settings)
    if args.fault:
        system_id, kind = args.fault.split("=")
        app.state.kcast.faults.inject(system_id, Fault(kind, "benchmark fault"))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


# --------------------------------------------------------------------------------------------
# Client side
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Run:
    """Latencies and statuses of one endpoint in one scenario."""

    endpoint: str
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    wall: float = 0.0

    def summary(self) -> dict[str, float | int]:
        lat = np.array(self.latencies) * 1000.0
        return {
            "requests": len(self.latencies),
            "rps": round(len(self.latencies) / self.wall, 1) if self.wall else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else float("nan"),
            "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else float("nan"),
            "5xx": sum(s >= 500 for s in self.statuses),
            "non_200": sum(s != 200 for s in self.statuses),
        }


def hammer(
    url: str,
    endpoint: str,
    bodies: list[dict],
    count: int,
    concurrency: int,
    max_seconds: float,
) -> Run:
    """Send ``count`` POSTs (cycling through ``bodies``) from ``concurrency`` threads; stop
    early after ``max_seconds``."""
    run = Run(endpoint)
    lock = threading.Lock()
    next_index = iter(range(count))
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while time.perf_counter() < deadline:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                response = client.post(endpoint, json=bodies[i % len(bodies)])
                elapsed = time.perf_counter() - t0
                with lock:
                    run.latencies.append(elapsed)
                    run.statuses.append(response.status_code)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    run.wall = time.perf_counter() - t0
    return run


def start_server(args: argparse.Namespace, warehouse: Path, fault: str | None) -> tuple:
    port = free_port()
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        "--warehouse",
        str(warehouse),
        "--port",
        str(port),
        "--system-timeout",
        str(args.system_timeout),
    ]
    if fault:
        cmd += ["--fault", fault]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("the server did not start within 120 s")


def scenario(args: argparse.Namespace, source: Path, name: str, fault: str | None) -> dict:
    """One scenario on a fresh copy of the warehouse and a fresh server."""
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "bench.duckdb"
        shutil.copy(source, warehouse)
        proc, url = start_server(args, warehouse, fault)
        try:
            slate = httpx.get(f"{url}/slate", params={"date": args.date}, timeout=60).json()
            starters = slate["starters"]
            if not starters:
                raise SystemExit(f"no starters on {args.date} in {source}")
            games = [
                {
                    "pitcher_id": s["pitcher_id"],
                    "game_date": args.date,
                    "line": 5.5,
                    "over_odds": -110,
                    "under_odds": -110,
                }
                for s in starters
            ]
            t0 = time.perf_counter()
            cold = httpx.post(f"{url}/predict", json=games[0], timeout=120)
            cold_ms = (time.perf_counter() - t0) * 1000
            predict = hammer(
                url, "/predict", games, args.predict_requests, args.concurrency, args.max_seconds
            )
            batch = hammer(
                url,
                "/predict-batch",
                [{"date": args.date}],
                args.batch_requests,
                args.concurrency,
                args.max_seconds,
            )
            health = httpx.get(f"{url}/health", timeout=30).json()
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "scenario": name,
        "starters": len(starters),
        "cold_first_predict_ms": round(cold_ms, 1),
        "cold_status": cold.status_code,
        "predict": predict.summary(),
        "batch": batch.summary(),
        "breakers": {s: h.get("breaker_state") for s, h in health["systems"].items()},
    }


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"Slate {args.date} ({results[0]['starters']} starters), {args.concurrency} client "
        f"thread(s), system timeout {args.system_timeout:g} s; server and client are separate "
        "processes on this machine (loopback).",
        "",
        "| scenario | endpoint | requests | req/s | p50 ms | p99 ms | 5xx |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        for endpoint in ("predict", "batch"):
            s = r[endpoint]
            name = "/predict" if endpoint == "predict" else "/predict-batch (whole slate)"
            lines.append(
                f"| {r['scenario']} | {name} | {s['requests']} | {s['rps']} | "
                f"{s['p50_ms']} | {s['p99_ms']} | {s['5xx']} |"
            )
    lines.append("")
    for r in results:
        breakers = ", ".join(f"{k} {v}" for k, v in r["breakers"].items())
        lines.append(
            f"- {r['scenario']}: first /predict of the date (features built) "
            f"{r['cold_first_predict_ms']} ms; breakers after the run: {breakers}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default=os.environ.get("KCAST_WAREHOUSE"))
    parser.add_argument("--date", default="2019-08-10", help="A slate's date (15 games)")
    parser.add_argument("--predict-requests", type=int, default=300)
    parser.add_argument("--batch-requests", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="Per endpoint")
    parser.add_argument("--system-timeout", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="Print JSON, not Markdown")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--fault", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.warehouse:
        parser.error("give --warehouse (a warehouse with history and trained models)")
    if args.serve:
        serve(args)
        return
    dt.date.fromisoformat(args.date)
    source = Path(args.warehouse)
    results = [scenario(args, source, name, fault) for name, fault in SCENARIOS.items()]
    print(json.dumps(results, indent=2) if args.json else markdown(results, args))
    errors = sum(r["predict"]["5xx"] + r["batch"]["5xx"] for r in results)
    errors += sum(r["cold_status"] >= 500 for r in results)
    if errors:
        print(f"FAILED: {errors} answers were 5xx", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
