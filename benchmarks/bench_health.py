"""``/health`` under load: a liveness probe's latency while many connections keep the worker busy.

The worker is one process (this script again with ``--serve``; uvicorn with httptools and uvloop,
access log off) over a copy of a trained warehouse (``bench_service.py --build DIR`` makes one).
After a warm-up (the date's slate built, its answers kept), it measures:

* ``/health`` idle: ``--probes`` calls, one at a time;
* ``/health`` busy: ``wrk`` keeps ``--connections`` connections busy for ``--seconds`` with the
  work a dashboard and clients bring (``--load``: ``/picks`` and ``/slate`` of the date,
  ``/predict-batch`` of the date without writing, warm ``/predict`` of its starters, in turn),
  while a probe opens a new connection every ``--every`` seconds and calls ``/health`` with a
  one-second timeout, as a liveness probe does (``http.client``: the client's own cost is tens
  of microseconds). It prints the probe's p50/p99/max, how many
  answers took over 100 ms and how many missed the second, and the load's requests a second.

The only address used is 127.0.0.1; every loop is bounded. Exit 1 when a probe failed or the
load saw a 5xx.

Usage::

    python benchmarks/bench_health.py --warehouse /tmp/bench/trained.duckdb --date 2019-08-10
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from loopback import free_port, wait_healthy

LOADS = ("picks", "slate", "batch", "predict")
PROBE_TIMEOUT = 1.0  # seconds: what a liveness probe commonly allows

LUA = """
local requests = {%(requests)s}
local headers = {["Content-Type"] = "application/json"}
local sent = 0
request = function()
  sent = sent + 1
  local r = requests[(sent %% #requests) + 1]
  return wrk.format(r[1], r[2], headers, r[3])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %%d, "micros": %%d, "status": %%d, "socket": %%d, '
    .. '"p50": %%d, "p99": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def serve(args: argparse.Namespace) -> None:
    """The worker on 127.0.0.1:PORT (the server side of the benchmark)."""
    import uvicorn

    from kcast.config import get_settings
    from kcast.service import create_app

    settings = get_settings().model_copy(update={"warehouse": args.warehouse})
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


def start(warehouse: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", "--warehouse", str(warehouse), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url)
    return proc, url


def load_requests(client: httpx.Client, day: str, kinds: list[str]) -> list[tuple[str, str, str]]:
    """The load's requests (method, path, JSON body), the date warmed on the way."""
    starters = client.get("/slate", params={"date": day}).json()["starters"]
    if not starters:
        raise SystemExit(f"no starters on {day}")
    out: list[tuple[str, str, str]] = []
    for kind in kinds:
        if kind == "picks":
            out.append(("GET", f"/picks?date={day}", ""))
        elif kind == "slate":
            out.append(("GET", f"/slate?date={day}", ""))
        elif kind == "batch":
            out.append(("POST", "/predict-batch", json.dumps({"date": day, "write": False})))
        else:
            for s in starters[:10]:
                body = {"pitcher_id": s["pitcher_id"], "game_date": day, "line": 5.5}
                out.append(("POST", "/predict", json.dumps(body)))
    for method, path, body in out:  # warm: the slate built, its answers kept
        answer = client.request(method, path, content=body or None, headers=_json(body))
        if answer.status_code != 200:
            raise SystemExit(f"{method} {path} answered {answer.status_code}: {answer.text[:200]}")
    return out


def _json(body: str) -> dict[str, str]:
    return {"content-type": "application/json"} if body else {}


def wrk(url: str, requests: list[tuple[str, str, str]], connections: int, seconds: float) -> dict:
    rows = ", ".join(f'{{"{m}", "{p}", [==[{b}]==]}}' for m, p, b in requests)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % {"requests": rows})
    try:
        cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s"]
        cmd += ["--timeout", "30s", "-s", f.name, url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    finally:
        os.unlink(f.name)
    raw = json.loads(next(x for x in out.stdout.splitlines() if x.startswith("WRK "))[4:])
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / (raw["micros"] / 1e6), 1),
        "p50_ms": raw["p50"] / 1000,
        "p99_ms": raw["p99"] / 1000,
        "bad": raw["status"] + raw["socket"],
    }


def probe(url: str, until: float, every: float) -> list[float | None]:
    """``/health`` on a new connection every ``every`` seconds until ``until``: each answer's
    milliseconds, None for one that failed or missed PROBE_TIMEOUT."""
    host, port = url.removeprefix("http://").split(":")
    out: list[float | None] = []
    while time.monotonic() < until:
        t0 = time.perf_counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=PROBE_TIMEOUT)
        try:
            connection.request("GET", "/health")
            answer = connection.getresponse()
            answer.read()
            ok = answer.status == 200
        except OSError:
            ok = False
        finally:
            connection.close()
        out.append((time.perf_counter() - t0) * 1000 if ok else None)
        time.sleep(max(0.0, every - (time.perf_counter() - t0)))
    return out


def summary(ms: list[float | None]) -> dict:
    got = np.array([m for m in ms if m is not None])
    return {
        "probes": len(ms),
        "failed": sum(m is None for m in ms),
        "p50_ms": round(float(np.percentile(got, 50)), 1) if len(got) else None,
        "p99_ms": round(float(np.percentile(got, 99)), 1) if len(got) else None,
        "max_ms": round(float(got.max()), 1) if len(got) else None,
        "over_100_ms": int((got > 100).sum()),
    }


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "health.duckdb"
        shutil.copy(args.warehouse, copy)
        proc, url = start(copy)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                requests = load_requests(client, args.date, args.load)
            idle = probe(url, time.monotonic() + args.probes * args.every, args.every)
            result: dict = {}
            load = threading.Thread(
                target=lambda: result.update(wrk(url, requests, args.connections, args.seconds))
            )
            load.start()
            time.sleep(1.0)  # the load running
            busy = probe(url, time.monotonic() + args.seconds - 2.0, args.every)
            load.join()
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "load": ", ".join(args.load),
        "connections": args.connections,
        "idle": summary(idle),
        "busy": summary(busy),
        "load_result": result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="A warehouse with trained models")
    parser.add_argument("--date", default="2019-08-10", help="The slate's date")
    parser.add_argument("--connections", type=int, default=50, help="Busy connections")
    parser.add_argument("--seconds", type=float, default=20.0, help="How long the load runs")
    parser.add_argument("--every", type=float, default=0.05, help="Seconds between probes")
    parser.add_argument("--probes", type=int, default=100, help="Idle probes")
    parser.add_argument(
        "--load", default=",".join(LOADS), help="Comma-separated: " + ", ".join(LOADS)
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    args.load = [k.strip() for k in args.load.split(",") if k.strip()]
    unknown = set(args.load) - set(LOADS)
    if unknown:
        parser.error(f"unknown load {sorted(unknown)}; use {', '.join(LOADS)}")
    if shutil.which("wrk") is None:
        parser.error("the load client is wrk: apt-get install wrk")
    before = os.getloadavg()[0]
    out = run(args)
    out["load_average"] = {"before": round(before, 2), "after": round(os.getloadavg()[0], 2)}
    print(json.dumps(out, indent=2))
    if out["busy"]["failed"] or out["load_result"].get("bad"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
