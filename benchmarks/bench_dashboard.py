"""Load time of the dashboard's day page in a real headless Chromium, warm and cold.

The worker is ``kcast serve`` in its own process over a copy of a warehouse that holds the
day's stored predictions (``kcast predict --date D`` first); the browser is Debian's Chromium
(``/usr/bin/chromium``) driven by Playwright, in one browser context so that its cache is warm
after the first load. The first load is the cold one (the worker draws the day's charts and
the browser fetches the style and script); the next ``--loads`` are warm.

Every figure is in milliseconds from the start of navigation, read from the browser itself:
Navigation Timing (the HTML received, DOMContentLoaded, the load event), the first contentful
paint, and ``data-first-charts-ms``, which the page's script sets once every chart in view (the
viewport is 1280x900) is loaded and decoded, after it has sorted the cards. A load counts as
*usable* at the later of the load event and that mark: every card's figures and the table in the
page, style applied, the sort control working, the charts in view drawn. Each load checks that
those charts were drawn (an image of real size, no error); the rest load as they scroll into view.

Usage::

    python benchmarks/bench_dashboard.py --warehouse trained.duckdb --date 2025-07-20 [--loads 9]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from loopback import free_port, wait_healthy

CHROMIUM = os.environ.get("KCAST_CHROMIUM", "/usr/bin/chromium")
FIGURES = {
    "html": "the page's HTML received (responseEnd)",
    "fcp": "first contentful paint",
    "dcl": "DOMContentLoaded (every card's figures and the table)",
    "load": "load event",
    "charts": "the charts in view drawn (data-first-charts-ms)",
    "usable": "usable: the later of the load event and the charts in view",
}
MEASURE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  const charts = Array.from(document.querySelectorAll("img.chart"));
  return {
    html: nav.responseEnd, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
    fcp: paint ? paint.startTime : null, charts: Number(document.body.dataset.firstChartsMs),
    bytes: nav.encodedBodySize,
    n_charts: charts.length,
    n_in_view: charts.filter(i => i.getBoundingClientRect().top < innerHeight).length,
    n_drawn: charts.filter(i => i.dataset.rendered === "true" && i.naturalWidth > 0).length,
  };
}"""


def start(warehouse: Path) -> tuple[subprocess.Popen, str]:
    """``kcast serve`` over ``warehouse`` on a free loopback port, once it answers /health."""
    port = free_port()
    kcast = shutil.which("kcast") or "kcast"
    cmd = [kcast, "serve", "--warehouse", str(warehouse), "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"])
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url, seconds=180)
    return proc, url


def load_times(url: str, loads: int) -> tuple[dict, list[dict]]:
    """The cold load, then ``loads`` warm ones, in one browser context."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        runs = []
        for _ in range(loads + 1):
            page.goto(url, wait_until="load")
            page.wait_for_function("document.body.dataset.chartsReady !== undefined")
            runs.append(page.evaluate(MEASURE))
        browser.close()
    if errors:
        raise SystemExit(f"the page logged errors: {errors}")
    for run in runs:
        run["usable"] = max(run["load"], run["charts"])
        if not run["n_charts"] or run["n_drawn"] < run["n_in_view"]:
            raise SystemExit(f"charts in view not drawn: {run}")
    return runs[0], runs[1:]


def screenshots(base: str, day: str, folder: Path) -> list[Path]:
    """A picture of each page on ``day`` into ``folder``: the day at 1400 and at 375 pixels
    wide (a phone), the others at 1280 (the pitcher: the first card with a bet, else the
    first card)."""
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})

        def shot(path: str, name: str, height: int, width: int = 1280) -> None:
            """The page's top ``height`` pixels (at most: the whole page if shorter)."""
            page.set_viewport_size({"width": width, "height": 1000})
            page.goto(base + path, wait_until="load")
            page.wait_for_function("document.body.dataset.chartsReady !== undefined")
            whole = page.evaluate("document.documentElement.scrollHeight")
            saved.append(folder / name)
            clip = {"x": 0, "y": 0, "width": width, "height": min(height, whole)}
            page.screenshot(path=str(saved[-1]), full_page=True, clip=clip)

        shot(f"/?date={day}", "dashboard-day-1400.png", 1400, width=1400)
        shot(f"/?date={day}", "dashboard-day-375.png", 1600, width=375)
        pitcher = page.eval_on_selector(
            "#cards > article.bet h3 a, #cards > article h3 a", "a => a.getAttribute('href')"
        )
        shot(pitcher, "dashboard-pitcher.png", 2000)
        shot(f"/performance?date={day}&days=60", "dashboard-performance.png", 2600)
        shot("/status", "dashboard-health.png", 1400)
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--date", required=True, help="A day with stored predictions")
    parser.add_argument("--loads", type=int, default=9, help="Warm loads after the cold one")
    parser.add_argument("--json", action="store_true", help="Print one JSON object")
    parser.add_argument(
        "--screenshots", type=Path, help="Also save a picture of each page into this folder"
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copy(args.warehouse, copy)
        proc, base = start(copy)
        try:
            cold, warm = load_times(f"{base}/?date={args.date}", args.loads)
            if args.screenshots:
                for path in screenshots(base, args.date, args.screenshots):
                    print(f"saved {path}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    with open("/proc/loadavg") as f:
        load_average = f.read().split()[:3]
    result = {
        "date": args.date,
        "charts": cold["n_charts"],
        "html_kb": round(cold["bytes"] / 1024),
        "loads": len(warm),
        "cold": {k: round(cold[k]) for k in FIGURES if cold[k] is not None},
        "warm_median": {k: round(statistics.median(r[k] for r in warm)) for k in FIGURES},
        "warm_best": {k: round(min(r[k] for r in warm)) for k in FIGURES},
        "load_average": load_average,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"/?date={args.date}: {result['charts']} charts ({cold['n_in_view']} in view), "
        f"{result['html_kb']} kB of HTML, "
        f"{len(warm)} warm loads (load average {' '.join(load_average)})"
    )
    print(f"{'ms from navigation start':58} {'median':>7} {'best':>6} {'cold':>6}")
    for key, what in FIGURES.items():
        cold_ms = result["cold"].get(key, "-")
        print(
            f"{what:58} {result['warm_median'][key]:>7} {result['warm_best'][key]:>6} {cold_ms:>6}"
        )


if __name__ == "__main__":
    main()
