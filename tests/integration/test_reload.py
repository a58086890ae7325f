"""Models that reload: after training, the running worker (a real uvicorn server) serves the new
model version within one polling interval, or at once on POST /admin/reload, with no restart
and no failed request; a broken model file keeps the old model serving and /health says why."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

from kcast.training import train_systems
from kcast.warehouse.base import utc_now

DATE = "2019-07-13"
PITCHER = 453281  # Wade LeBlanc, started for SEA at ANA on 2019-07-13
TOKEN = "test-token-not-a-secret"


class Traffic:
    """A thread sending /predict and /health requests until stopped; counts every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failed: list[str] = []
        self.versions: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set():
                for method, path, body in (
                    ("POST", "/predict", {"pitcher_id": PITCHER, "game_date": DATE}),
                    ("GET", "/health", None),
                ):
                    try:
                        r = client.request(method, path, json=body)
                    except httpx.HTTPError as exc:
                        self.failed.append(f"{path}: {exc!r}")
                        continue
                    if r.status_code != 200:
                        self.failed.append(f"{path}: {r.status_code} {r.text[:200]}")
                    else:
                        self.ok += 1
                        if path == "/predict":
                            self.versions.append(
                                r.json()["systems"]["v1_baseline"]["model_version"]
                            )

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)


def versions(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=30).json()["reload"]["versions"]


def test_trained_models_serve_within_one_interval_without_a_failed_request(
    service_factory, tmp_path: Path
) -> None:
    interval = 1.0
    server, state = service_factory(reload_seconds=interval)
    before = versions(server.url)
    with Traffic(server.url) as traffic:
        time.sleep(1.0)
        # kcast train, on the worker's own warehouse (one DuckDB process until the shared
        # warehouse lands; the worker sees the registry change as another process's would)
        train_systems(state.warehouse, dt.date(2019, 7, 8), tmp_path / "models", ["v1_baseline"])
        trained = time.monotonic()
        while versions(server.url)["v1_baseline"] == before["v1_baseline"]:
            assert time.monotonic() - trained < interval + 10, "the new model was not served"
            time.sleep(0.05)
        seconds = time.monotonic() - trained
        time.sleep(1.0)  # requests on the new model
    after = versions(server.url)
    print(
        f"\nreload: new version served {seconds:.2f} s after training; requests ok "
        f"{traffic.ok}, failed {len(traffic.failed)}"
    )
    assert after["v1_baseline"] != before["v1_baseline"]
    assert after["v1_baseline"].startswith("v1_baseline-20190708")
    assert after["v1_6_rolling"] == before["v1_6_rolling"]
    assert seconds <= interval + 2.0
    assert traffic.failed == []
    assert traffic.versions[-1] == after["v1_baseline"]
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok" and health["reload"]["error"] is None
    assert health["systems"]["v1_baseline"]["model_version"] == after["v1_baseline"]


def test_admin_reload_is_authenticated_and_a_broken_model_keeps_the_old_one(
    service_factory, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("KCAST_API_TOKEN", TOKEN)
    server, state = service_factory(reload_seconds=0)  # no polling: only the route reloads
    url = server.url
    serving = versions(url)
    assert httpx.post(f"{url}/admin/reload").status_code == 401
    bad = httpx.post(f"{url}/admin/reload", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    same = httpx.post(f"{url}/admin/reload", headers=auth).json()
    assert same["changed"] is False and same["versions"] == serving

    # a new model whose file is broken, registered as the active version
    good = state.warehouse.query(
        "SELECT * FROM model_registry WHERE system_id = 'v1_baseline' AND is_active"
    )
    broken = tmp_path / "v1_baseline-broken.json"
    broken.write_text('{"this is": "not a model"')
    Path(str(broken).replace(".json", ".meta.json")).write_text(json.dumps({}))
    row = good.iloc[0].to_dict() | {
        "version": "v1_baseline-broken",
        "path": str(broken),
        "created_at": utc_now(),
    }
    with state.warehouse.transaction():
        state.warehouse.execute(
            "UPDATE model_registry SET is_active = FALSE WHERE system_id = 'v1_baseline'"
        )
        state.warehouse.upsert("model_registry", pd.DataFrame([row]))
    with Traffic(url) as traffic:
        time.sleep(0.5)
        answer = httpx.post(f"{url}/admin/reload", headers=auth, timeout=60).json()
        time.sleep(0.5)
    assert answer["changed"] is False
    assert "v1_baseline" in answer["error"]
    assert answer["versions"] == serving
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "degraded"
    assert "v1_baseline" in health["reload"]["error"]
    assert health["systems"]["v1_baseline"]["model_version"] == serving["v1_baseline"]
    assert traffic.failed == [] and traffic.ok > 0
    assert set(traffic.versions) == {serving["v1_baseline"]}

    # a good model again: POST /admin/reload serves it at once and clears the error
    train_systems(state.warehouse, dt.date(2019, 7, 8), tmp_path / "models", ["v1_baseline"])
    t0 = time.monotonic()
    fixed = httpx.post(f"{url}/admin/reload", headers=auth, timeout=60).json()
    seconds = time.monotonic() - t0
    print(f"\nPOST /admin/reload served the new model in {seconds:.2f} s")
    assert fixed["changed"] is True and fixed["error"] is None
    assert fixed["versions"]["v1_baseline"].startswith("v1_baseline-20190708")
    assert versions(url) == fixed["versions"]
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
