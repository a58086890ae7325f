"""Load benchmark of the prediction worker: real HTTP on loopback against a real uvicorn server.

The server is one worker process (this script started again with ``--serve``; uvicorn with
httptools and uvloop, access log off) over a copy of a warehouse that holds history and
trained, registered models; ``--build DIR`` makes one from the shared data (the 2018 and 2019
Retrosheet seasons, models trained on games before 2019-07-01). For each scenario (all systems
healthy, one system raising, one system hanging past its timeout), each on a fresh server and
warehouse copy, it measures:

* the worker's first request (a starter of the day before: it waits for the start-up load of
  the history and its context), then the first ``/predict`` of the date (cold: the date's
  starters, features, lines and every system's answers);
* a pitcher off the date's slate (the request names his game): his first ``/predict`` and his
  warm ones; and, for ``--cold-samples`` figures with a median, the first ``/predict`` of more
  pitchers off the slate and of the dates after;
* ``/predict`` under load: the 30 starters of the slate in turn, each with a line and odds,
  from ``--connections`` clients (``wrk`` connections, each one request at a time), the date
  warm; alternating in rounds with ``GET /health`` under the same load, so that both see the
  same machine (the two core machine is shared, and its noise cancels in their ratio);
* ``/predict-batch`` of the whole slate, one client, rows written (warm: the date's answers
  kept).

In the faulty scenarios the load starts once the faulty system's breaker is open. The client of
the load is ``wrk`` (Debian package ``wrk``; a Python client cannot send 1,000 requests a
second on these cores), with a Lua script that cycles through the bodies and stops each thread
after its share of ``--max-requests``; every ``wrk`` run also stops after ``--seconds``. The
other measurements use ``httpx``, one request at a time. The only address used is 127.0.0.1;
any 5xx or connection error fails the run (exit 1).

Usage::

    python benchmarks/bench_service.py --build /tmp/bench --data ../shared/data
    python benchmarks/bench_service.py --warehouse /tmp/bench/trained.duckdb --date 2019-08-10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from loopback import free_port, wait_healthy

SCENARIOS = {
    "healthy": None,
    "one system raising": "v1_6_rolling=raise",
    "one system hanging": "v1_6_rolling=hang",
}
TRAINED_THROUGH = dt.date(2019, 7, 1)


# --------------------------------------------------------------------------------------------
# The warehouse (--build)
# --------------------------------------------------------------------------------------------


def build_warehouse(folder: Path, data: Path) -> Path:
    """``folder/trained.duckdb``: the 2018-2019 Retrosheet seasons from ``data`` (the shared
    data folder), every trainable system trained on games before 2019-07-01 and registered
    (models in ``folder/models``). Kept when it is already there."""
    from kcast.data.register import Register
    from kcast.data.retrosheet import ingest_retrosheet
    from kcast.training import train_systems
    from kcast.warehouse import open_warehouse

    target = folder / "trained.duckdb"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "building.duckdb"
    partial.unlink(missing_ok=True)
    events = data / "retrosheet" / "events"
    wh = open_warehouse(str(partial))
    try:
        register = Register.load(data / "ids" / "chadwick_register_mlb_players.csv.gz")
        ingest_retrosheet(wh, [events / "2018eve.zip", events / "2019eve.zip"], register)
        train_systems(wh, TRAINED_THROUGH, folder / "models")
    finally:
        wh.close()
    partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
    partial.rename(target)
    return target


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
    # http and loop "auto": httptools and uvloop (installed with kcast)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


def start_server(args: argparse.Namespace, warehouse: Path, fault: str | None) -> tuple:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", "--warehouse", str(warehouse), "--port", str(port)]
    cmd += ["--system-timeout", str(args.system_timeout)]
    if fault:
        cmd += ["--fault", fault]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url)
    return proc, url


# --------------------------------------------------------------------------------------------
# Load (wrk)
# --------------------------------------------------------------------------------------------

LUA = """
local bodies = {%(bodies)s}
local method, path, limit = "%(method)s", "%(path)s", %(limit)d
local headers = {["Content-Type"] = "application/json"}
local sent, answered = 0, 0
request = function()
  sent = sent + 1
  return wrk.format(method, path, headers, bodies[(sent %% #bodies) + 1])
end
response = function(status, hdrs, body)
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %%d, "micros": %%d, "status": %%d, "socket": %%d, '
    .. '"p50": %%d, "p99": %%d, "mean": %%f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def wrk(
    args: argparse.Namespace, url: str, method: str, path: str, bodies: list[dict | None]
) -> dict:
    """One ``wrk`` run: ``--connections`` clients for at most ``--seconds`` and at most
    ``--max-requests`` answers; requests a second and latency (ms)."""
    threads = min(args.threads, args.connections)
    lua_bodies = ", ".join("nil" if b is None else f"[==[{json.dumps(b)}]==]" for b in bodies)
    script = LUA % {
        "bodies": lua_bodies,
        "method": method,
        "path": path,
        "limit": max(1, args.max_requests // threads),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        cmd = ["wrk", "-t", str(threads), "-c", str(args.connections)]
        cmd += ["-d", f"{args.seconds:g}s", "--timeout", "10s", "-s", f.name, url]
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.seconds + 30, check=True
        )
    finally:
        os.unlink(f.name)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK "))
    raw = json.loads(line[4:])
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / (raw["micros"] / 1e6), 1),
        "p50_ms": raw["p50"] / 1000,
        "p99_ms": raw["p99"] / 1000,
        "mean_ms": raw["mean"] / 1000,
        "bad": raw["status"] + raw["socket"],  # non-2xx answers and socket errors
    }


def rounds(args: argparse.Namespace, url: str, games: list[dict]) -> dict:
    """``--rounds`` rounds of /health then /predict under the same load; the median round."""
    runs: dict[str, list[dict]] = {"health": [], "predict": []}
    for _ in range(args.rounds):
        runs["health"].append(wrk(args, url, "GET", "/health", [None]))
        runs["predict"].append(wrk(args, url, "POST", "/predict", games))
    out = {}
    for name, items in runs.items():
        out[name] = {
            "requests": sum(r["requests"] for r in items),
            "bad": sum(r["bad"] for r in items),
            **{k: statistics.median(r[k] for r in items) for k in ("rps", "p50_ms", "p99_ms")},
            "rounds": items,
        }
    ratios = [
        p["mean_ms"] / h["mean_ms"] for p, h in zip(runs["predict"], runs["health"], strict=True)
    ]
    out["cost_ratio"] = round(statistics.median(ratios), 2)
    return out


# --------------------------------------------------------------------------------------------
# One request at a time (httpx)
# --------------------------------------------------------------------------------------------


def timed(client: httpx.Client, method: str, path: str, **kwargs) -> tuple[float, int]:
    t0 = time.perf_counter()
    response = client.request(method, path, **kwargs)
    return (time.perf_counter() - t0) * 1000, response.status_code


def percentiles(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(max(ms), 1),
    }


def off_slate_games(
    client: httpx.Client, day: dt.date, on_slate: set[int], count: int
) -> list[dict]:
    """Up to ``count`` starters of the days before who do not start on ``day``, each asked for
    on ``day`` against the same opponent (games the warehouse does not know)."""
    found: dict[int, dict] = {}
    for back in range(1, 8):
        earlier = str(day - dt.timedelta(days=back))
        for s in client.get("/slate", params={"date": earlier}).json()["starters"]:
            pid = s["pitcher_id"]
            if pid in on_slate or pid in found or not (s.get("opponent") and s.get("team")):
                continue
            found[pid] = {
                "pitcher_id": pid,
                "game_date": str(day),
                "opponent": s["opponent"],
                "is_home": bool(s["is_home"]),
                "team": s["team"],
                "line": 5.5,
                "over_odds": -110,
                "under_odds": -110,
            }
            if len(found) == count:
                return list(found.values())
    if not found:
        raise SystemExit(f"no starter of the week before {day} is off its slate")
    return list(found.values())


def first_of_dates(client: httpx.Client, day: dt.date, count: int) -> list[float]:
    """The first ``/predict`` of each of the ``count`` dates after ``day`` (cold dates)."""
    ms = []
    for ahead in range(1, count + 1):
        date = str(day + dt.timedelta(days=ahead))
        starters = client.get("/slate", params={"date": date}).json()["starters"]
        if starters:
            body = {"pitcher_id": starters[0]["pitcher_id"], "game_date": date, "line": 5.5}
            ms.append(timed(client, "POST", "/predict", json=body)[0])
    return ms


def scenario(args: argparse.Namespace, source: Path, name: str, fault: str | None) -> dict:
    """One scenario on a fresh copy of the warehouse and a fresh server."""
    day = dt.date.fromisoformat(args.date)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "bench.duckdb"
        shutil.copy(source, warehouse)
        proc, url = start_server(args, warehouse, fault)
        statuses: list[int] = []
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                starters = client.get("/slate", params={"date": args.date}).json()["starters"]
                if not starters:
                    raise SystemExit(f"no starters on {args.date} in {source}")
                games = [
                    {"pitcher_id": s["pitcher_id"], "game_date": args.date, "line": 5.5}
                    | {"over_odds": -110, "under_odds": -110}
                    for s in starters
                ]
                # the worker's first request waits for its start-up load (the history and its
                # context, loaded in the background); asked for the day before, so that the
                # date's own first request is a cold date in a started worker
                before = str(day - dt.timedelta(days=1))
                first = client.get("/slate", params={"date": before}).json()["starters"][0]
                first_ms, status = timed(
                    client,
                    "POST",
                    "/predict",
                    json={**games[0], "pitcher_id": first["pitcher_id"], "game_date": before},
                )
                statuses.append(status)
                cold_ms, status = timed(client, "POST", "/predict", json=games[0])
                statuses.append(status)
                opened = 0
                if fault:
                    system_id = fault.split("=")[0]
                    for opened in range(11):  # noqa: B007 - the count is reported
                        health = client.get("/health").json()
                        if health["systems"][system_id]["breaker_state"] == "open":
                            break
                        statuses.append(timed(client, "POST", "/predict", json=games[0])[1])
                offs = off_slate_games(
                    client, day, {s["pitcher_id"] for s in starters}, args.cold_samples
                )
                off_cold = [timed(client, "POST", "/predict", json=g) for g in offs]
                statuses += [s for _, s in off_cold]
                off = offs[0]
                more_cold = first_of_dates(client, day, args.cold_samples - 1)
                off_warm = [timed(client, "POST", "/predict", json=off) for _ in range(50)]
                on_warm = [timed(client, "POST", "/predict", json=games[1]) for _ in range(50)]
                statuses += [s for _, s in off_warm + on_warm]
                load = rounds(args, url, games)
                batches = [
                    timed(client, "POST", "/predict-batch", json={"date": args.date})
                    for _ in range(args.batch_requests)
                ]
                statuses += [s for _, s in batches]
                health = client.get("/health").json()
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "scenario": name,
        "starters": len(starters),
        "first_request_ms": round(first_ms, 1),
        "cold_first_predict_ms": round(cold_ms, 1),
        "cold_dates_ms": [round(ms, 1) for ms in [cold_ms, *more_cold]],
        "requests_to_open_breaker": opened,
        "off_slate_cold_ms": round(off_cold[0][0], 1),
        "off_slate_colds_ms": [round(ms, 1) for ms, _ in off_cold],
        "off_slate_warm": percentiles([ms for ms, _ in off_warm]),
        "on_slate_warm": percentiles([ms for ms, _ in on_warm]),
        "load": load,
        "batch_first_ms": round(batches[0][0], 1),
        "batch_warm": percentiles([ms for ms, _ in batches[1:]]),
        "bad_statuses": sum(s >= 500 or s == 0 for s in statuses),
        "non_200": sum(s != 200 for s in statuses),
        "breakers": {s: h.get("breaker_state") for s, h in health["systems"].items()},
    }


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"Slate {args.date} ({results[0]['starters']} starters); load from `wrk` with "
        f"{args.connections} connections on {min(args.threads, args.connections)} thread(s), "
        f"{args.rounds} rounds of {args.seconds:g} s per endpoint (at most {args.max_requests} "
        f"requests each); system timeout {args.system_timeout:g} s; load average before: "
        f"{args.load_before}, after: {os.getloadavg()[0]:.2f}.",
        "",
        "| scenario | endpoint | requests | req/s | p50 ms | p99 ms | bad |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        for endpoint in ("predict", "health"):
            s = r["load"][endpoint]
            lines.append(
                f"| {r['scenario']} | /{endpoint} | {s['requests']} | {s['rps']} | "
                f"{s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['bad']} |"
            )
    lines += [
        "",
        "| scenario | /predict ÷ /health (mean latency) | worker's first request ms | cold first "
        "/predict of the date ms | off-slate cold ms | off-slate warm p50 / p99 ms | on-slate "
        "warm p50 / p99 ms | /predict-batch first ms | /predict-batch warm p50 / max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        ow, sw, bw = r["off_slate_warm"], r["on_slate_warm"], r["batch_warm"]
        lines.append(
            f"| {r['scenario']} | {r['load']['cost_ratio']} | {r['first_request_ms']} | "
            f"{r['cold_first_predict_ms']} | "
            f"{r['off_slate_cold_ms']} | {ow['p50_ms']} / {ow['p99_ms']} | "
            f"{sw['p50_ms']} / {sw['p99_ms']} | {r['batch_first_ms']} | "
            f"{bw['p50_ms']} / {bw['max_ms']} |"
        )
    lines.append("")
    for r in results:
        dates, offs = r["cold_dates_ms"], r["off_slate_colds_ms"]
        lines.append(
            f"- {r['scenario']}: first /predict of {len(dates)} dates (the slate's, then the "
            f"days after) median {statistics.median(dates):.1f} ms, max {max(dates):.1f} "
            f"({', '.join(map(str, dates))}); first /predict of {len(offs)} pitchers off the "
            f"slate median {statistics.median(offs):.1f} ms, max {max(offs):.1f} "
            f"({', '.join(map(str, offs))})"
        )
    for r in results:
        breakers = ", ".join(f"{k} {v}" for k, v in r["breakers"].items())
        lines.append(
            f"- {r['scenario']}: /predict sent before the load to open the faulty system's "
            f"breaker: {r['requests_to_open_breaker']}; breakers after the run: {breakers}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default=os.environ.get("KCAST_WAREHOUSE"))
    parser.add_argument("--build", type=Path, help="Build (or reuse) DIR/trained.duckdb")
    parser.add_argument("--data", type=Path, help="The shared data folder (with --build)")
    parser.add_argument("--date", default="2019-08-10", help="A slate's date (15 games)")
    parser.add_argument("--connections", type=int, default=4, help="Clients under load")
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="Per wrk run")
    parser.add_argument("--max-requests", type=int, default=20_000, help="Per wrk run")
    parser.add_argument("--batch-requests", type=int, default=20)
    parser.add_argument(
        "--cold-samples", type=int, default=5, help="Cold dates and off-slate pitchers"
    )
    parser.add_argument("--system-timeout", type=float, default=2.0)
    parser.add_argument("--scenario", choices=list(SCENARIOS), action="append")
    parser.add_argument("--json", action="store_true", help="Print JSON, not Markdown")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--fault", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        if not args.data:
            parser.error("--build needs --data (the shared data folder)")
        print(build_warehouse(args.build, args.data))
        return
    if not args.warehouse:
        parser.error("give --warehouse (a warehouse with history and trained models)")
    if args.serve:
        serve(args)
        return
    if shutil.which("wrk") is None:
        parser.error("the load client is wrk: apt-get install wrk")
    dt.date.fromisoformat(args.date)
    args.load_before = f"{os.getloadavg()[0]:.2f}"
    chosen = args.scenario or list(SCENARIOS)
    results = [scenario(args, Path(args.warehouse), name, SCENARIOS[name]) for name in chosen]
    print(json.dumps(results, indent=2) if args.json else markdown(results, args))
    bad = sum(r["bad_statuses"] + r["load"]["predict"]["bad"] for r in results)
    bad += sum(r["load"]["health"]["bad"] for r in results)
    if bad:
        print(f"FAILED: {bad} answers were 5xx, not 200 under load, or lost", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
