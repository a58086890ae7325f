"""Models found through the registry wherever they live: relative to ``KCAST_MODEL_DIR`` or in
Cloud Storage (a real ``gcp-storage-emulator`` on loopback), checked by their SHA-256.

The end-to-end test runs everything as separate processes: the emulator, a ``kcast serve``
worker whose only kcast setting is ``KCAST_WAREHOUSE``, and ``kcast train --model-dir gs://...``
writing a new model while the worker serves; it measures how long the worker takes to serve it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from kcast.config import Settings
from kcast.errors import ModelError
from kcast.model_store import registry_location, sha256_of
from kcast.systems.registry import load_system, model_path
from kcast.training import train_systems
from kcast.warehouse import open_warehouse
from kcast.warehouse.base import utc_now
from kcast.warehouse.migrations import migrate
from tests.conftest import REGISTER_FILE, REPO
from tests.integration.test_concurrency import finish, free_port, stop_worker, wait_healthy

BUCKET = "kcast-models"
DATE = "2019-07-13"
PITCHER = 453281  # Wade LeBlanc, started for SEA at ANA on 2019-07-13


@pytest.fixture(scope="module")
def emulator():
    """A Cloud Storage emulator on 127.0.0.1 holding one empty bucket; yields its host:port."""
    program = Path(sys.executable).with_name("gcp-storage-emulator")
    port = free_port()
    host = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(program), "start", "--host", "127.0.0.1"]
        + ["--port", str(port), "--default-bucket", BUCKET, "--in-memory", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, f"the emulator exited: {proc.stderr.read()}"
        try:
            httpx.get(f"http://{host}/storage/v1/b/{BUCKET}", timeout=2)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the emulator did not listen"
            time.sleep(0.1)
    yield host
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def gcs(emulator: str, monkeypatch: pytest.MonkeyPatch):
    """A Cloud Storage client of the emulator (this process's gs:// reads go there too)."""
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{emulator}")
    return storage.Client()


def kcast_env(tmp: Path, warehouse: Path, emulator: str, **extra: str) -> dict[str, str]:
    """A process environment with no kcast setting but ``KCAST_WAREHOUSE`` (and ``extra``);
    its home (so its cache) is in ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCAST_", "MLB_"))}
    env.update(
        PYTHONPATH=str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", ""),
        HOME=str(tmp / "home"),
        STORAGE_EMULATOR_HOST=f"http://{emulator}",
        KCAST_WAREHOUSE=str(warehouse),
        **extra,
    )
    return env


def kcast(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    cmd = [sys.executable, "-c", "from kcast.cli import main; main()", *args]
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return finish(proc, timeout=600)


def registry(warehouse: Path) -> pd.DataFrame:
    wh = open_warehouse(str(warehouse), migrate=False, read_only=True)
    try:
        return wh.query(
            "SELECT system_id, version, path, sha256, is_active, created_at FROM model_registry "
            "ORDER BY system_id, created_at"
        )
    finally:
        wh.close()


def health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=30).json()


def test_a_worker_with_only_the_warehouse_serves_models_from_the_bucket_and_picks_up_a_new_one(
    history_warehouse: Path, emulator: str, gcs, tmp_path: Path
) -> None:
    warehouse = tmp_path / "kcast.duckdb"
    shutil.copy(history_warehouse, warehouse)
    work = tmp_path / "work"  # the processes' folder: it holds no models
    work.mkdir()
    trainer = kcast_env(
        tmp_path / "trainer", warehouse, emulator, KCAST_REGISTER=str(REGISTER_FILE)
    )
    code, out = kcast(
        trainer, work, "train", "--through", "2019-07-01", "--model-dir", f"gs://{BUCKET}/prod"
    )
    assert code == 0, out
    rows = registry(warehouse)
    trained = ["eb_rate", "v1_6_rolling", "v1_baseline", "v2_matchup"]  # every trainable system
    assert sorted(rows["system_id"]) == trained
    for row in rows.itertuples():
        assert row.path == f"gs://{BUCKET}/prod/{row.system_id}/{row.version}.json"
        assert len(row.sha256) == 64
    stored = sorted(b.name for b in gcs.list_blobs(BUCKET, prefix="prod/"))
    assert len(stored) == 2 * len(trained), stored  # each model and its metadata
    assert sum(n.endswith(".meta.json") for n in stored) == len(trained), stored
    assert not (work / "models").exists()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    worker_env = kcast_env(tmp_path / "worker", warehouse, emulator, KCAST_RELOAD_SECONDS="1")
    worker = subprocess.Popen(
        [sys.executable, "-c", "from kcast.cli import main; main()", "serve", "--port", str(port)]
        + ["--log-level", "warning"],
        env=worker_env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(worker, url)
        first = health(url)
        assert first["status"] == "ok", first
        active = dict(zip(rows["system_id"], rows["version"], strict=True))
        trained_systems = ("v1_baseline", "v1_6_rolling", "v2_matchup")  # the default's models
        for system_id in trained_systems:
            assert first["systems"][system_id]["model_version"] == active[system_id]
        cached = sorted(p.name for p in (tmp_path / "worker" / "home").rglob("*.json"))
        # the three models and their metadata, in the worker's cache
        assert len(cached) == 2 * len(trained_systems), cached
        answer = httpx.post(
            f"{url}/predict", json={"pitcher_id": PITCHER, "game_date": DATE}, timeout=120
        )
        assert answer.status_code == 200, answer.text

        # a model trained into the bucket after the worker started
        code, out = kcast(
            trainer,
            work,
            "train",
            "--through",
            "2019-07-08",
            "--system",
            "v1_baseline",
            "--model-dir",
            f"gs://{BUCKET}/prod",
        )
        trained = time.monotonic()
        assert code == 0, out
        while health(url)["systems"]["v1_baseline"].get("model_version") == active["v1_baseline"]:
            assert time.monotonic() - trained < 30, "the new model was not served"
            time.sleep(0.05)
        seconds = time.monotonic() - trained
        after = health(url)
        new = registry(warehouse).query("system_id == 'v1_baseline' and is_active").iloc[0]
        registered = pd.Timestamp(new["created_at"]).tz_localize("UTC").timestamp()
        pickup = after["reload"]["reloaded_at"] - registered
        print(
            f"\ngs:// model served {pickup:.2f} s after it was registered, {seconds:.2f} s after "
            "`kcast train` exited (the worker checks every 1 s)"
        )
        after = health(url)
        assert worker.poll() is None, "the worker restarted"
        assert after["systems"]["v1_baseline"]["model_version"].startswith("v1_baseline-20190708")
        assert after["systems"]["v1_6_rolling"]["model_version"] == active["v1_6_rolling"]
        assert after["reload"]["error"] is None
        answer = httpx.post(
            f"{url}/predict", json={"pitcher_id": PITCHER, "game_date": DATE}, timeout=120
        )
        assert answer.status_code == 200, answer.text
        version = answer.json()["systems"]["v1_baseline"]["model_version"]
        assert version == after["systems"]["v1_baseline"]["model_version"]
    finally:
        stop_worker(worker)
    assert 0 < pickup < 1.0 + 5.0


def _trained_copy(history_warehouse: Path, tmp: Path, model_dir: str | Path):
    path = tmp / "kcast.duckdb"
    shutil.copy(history_warehouse, path)
    wh = open_warehouse(str(path))
    train_systems(wh, dt.date(2019, 7, 1), model_dir, ["v1_baseline"])
    return wh


def test_a_changed_bucket_file_is_refused_and_the_cached_copy_is_checked(
    history_warehouse: Path, gcs, tmp_path: Path
) -> None:
    wh = _trained_copy(history_warehouse, tmp_path, f"gs://{BUCKET}/checked")
    try:
        settings = Settings(_env_file=None, cache_dir=tmp_path / "cache")
        good = load_system("v1_baseline", wh, settings)
        row = wh.query("SELECT * FROM model_registry WHERE is_active").iloc[0]
        name = row["path"].removeprefix(f"gs://{BUCKET}/")
        # the object changes in the bucket: the cached copy, whose hash is right, still serves
        blob = gcs.bucket(BUCKET).blob(name)
        original = blob.download_as_bytes()
        changed = json.loads(original)
        changed["tampered"] = True
        blob.upload_from_string(json.dumps(changed))
        assert load_system("v1_baseline", wh, settings).version_ == good.version_
        # without the cache it is downloaded again and refused
        shutil.rmtree(tmp_path / "cache")
        with pytest.raises(ModelError, match="SHA-256 is .* not the .* recorded"):
            model_path("v1_baseline", wh, settings)
        assert not list((tmp_path / "cache").rglob("*.json")), "a refused file is not kept"
        # a damaged cached copy is replaced by the bucket's (here restored) file
        blob.upload_from_string(original)
        cached = model_path("v1_baseline", wh, settings)
        cached.write_text("{}")
        assert sha256_of(model_path("v1_baseline", wh, settings)) == row["sha256"]
        # an object that is not there
        wh.execute(
            "UPDATE model_registry SET path = $p WHERE is_active",
            {"p": f"gs://{BUCKET}/checked/nothing.json"},
        )
        with pytest.raises(ModelError, match="does not exist"):
            model_path("v1_baseline", wh, Settings(_env_file=None, cache_dir=tmp_path / "c2"))
    finally:
        wh.close()


def test_a_reload_onto_a_model_whose_hash_differs_keeps_the_old_one(
    service_factory, tmp_path: Path
) -> None:
    server, state = service_factory(reload_seconds=0)
    serving = state.reload_status()["versions"]
    row = state.warehouse.query(
        "SELECT * FROM model_registry WHERE system_id = 'v1_baseline' AND is_active"
    ).iloc[0]
    copy = tmp_path / "v1_baseline" / "v1_baseline-copy.json"
    copy.parent.mkdir()
    data = json.loads(Path(row["path"]).read_text())
    copy.write_text(json.dumps(data) + " ")  # the same model, one byte more: another hash
    meta = Path(row["path"]).with_name(Path(row["path"]).stem + ".meta.json")
    shutil.copy(meta, copy.with_name("v1_baseline-copy.meta.json"))
    new = row.to_dict() | {
        "version": "v1_baseline-copy",
        "path": str(copy),
        "sha256": row["sha256"],
        "created_at": utc_now(),
    }
    with state.warehouse.transaction():
        state.warehouse.execute(
            "UPDATE model_registry SET is_active = FALSE WHERE system_id = 'v1_baseline'"
        )
        state.warehouse.upsert("model_registry", pd.DataFrame([new]))
    answer = state.reload()
    assert answer["changed"] is False
    assert "SHA-256" in answer["error"] and "v1_baseline" in answer["error"]
    assert answer["versions"] == serving
    assert health(server.url)["status"] == "degraded"


def test_local_models_are_registered_relative_to_the_model_dir_and_found_under_another(
    history_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"  # KCAST_MODEL_DIR (tests/conftest.py)
    wh = _trained_copy(history_warehouse, tmp_path, models)
    try:
        row = wh.query("SELECT version, path, sha256 FROM model_registry").iloc[0]
        assert row["path"] == f"v1_baseline/{row['version']}.json"
        assert row["sha256"] == sha256_of(models / row["path"])
        # the folder moves (another machine, a container's volume): the setting follows it
        moved = tmp_path / "elsewhere"
        models.rename(moved)
        with pytest.raises(ModelError, match="KCAST_MODEL_DIR"):
            model_path("v1_baseline", wh, Settings(_env_file=None, model_dir=models))
        system = load_system("v1_baseline", wh, Settings(_env_file=None, model_dir=moved))
        assert system.version_ == row["version"]
        # the path setting still overrides the registry
        other = tmp_path / "override"
        train_systems(wh, dt.date(2019, 6, 1), other, ["v1_baseline"])
        wh.execute("UPDATE model_registry SET is_active = (version = $v)", {"v": row["version"]})
        monkeypatch.chdir(tmp_path)  # a relative setting is read from the working folder
        monkeypatch.setenv("MLB_V1_MODEL_PATH", "override/v1_baseline")
        overridden = load_system("v1_baseline", wh, Settings(_env_file=None, model_dir=moved))
        assert overridden.version_.startswith("v1_baseline-20190601")
        monkeypatch.delenv("MLB_V1_MODEL_PATH")
        # a damaged local file is refused by its hash
        (moved / row["path"]).write_text((moved / row["path"]).read_text() + "\n")
        with pytest.raises(ModelError, match="SHA-256"):
            model_path("v1_baseline", wh, Settings(_env_file=None, model_dir=moved))
    finally:
        wh.close()


def test_migration_5_makes_paths_under_the_model_dir_relative_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"  # KCAST_MODEL_DIR (tests/conftest.py)
    wh = open_warehouse(str(tmp_path / "old.duckdb"))
    try:
        rows = [
            ("v1_baseline", "a", str(models / "v1_baseline" / "a.json")),
            ("v1_6_rolling", "b", str(tmp_path / "outside" / "b.json")),
            ("v1_6_rolling", "c", f"gs://{BUCKET}/prod/v1_6_rolling/c.json"),
            ("v1_baseline", "d", "v1_baseline/d.json"),
        ]
        frame = pd.DataFrame(
            [
                {
                    "system_id": s,
                    "version": v,
                    "path": p,
                    "trained_through": dt.date(2019, 7, 1),
                    "is_active": False,
                    "created_at": utc_now(),
                }
                for s, v, p in rows
            ]
        )
        wh.upsert("model_registry", frame)
        wh.execute("DELETE FROM schema_migrations WHERE version = 5")
        assert "5: model registry" in " ".join(migrate(wh))
        got = wh.query("SELECT version, path FROM model_registry ORDER BY version")
        assert list(got["path"]) == [
            "v1_baseline/a.json",
            str(tmp_path / "outside" / "b.json"),
            f"gs://{BUCKET}/prod/v1_6_rolling/c.json",
            "v1_baseline/d.json",
        ]
        assert migrate(wh) == []
    finally:
        wh.close()
    assert registry_location(models / "x" / "y.json", models) == "x/y.json"
    assert registry_location(tmp_path / "y.json", models) == str((tmp_path / "y.json").resolve())


def test_a_cloud_storage_model_dir_setting_is_refused_with_the_way_to_train_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from kcast.config import describe_settings_error

    monkeypatch.setenv("KCAST_MODEL_DIR", "gs://kcast-models/prod")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    (line,) = describe_settings_error(caught.value)
    assert line.startswith("KCAST_MODEL_DIR='gs://kcast-models/prod' is not valid")
    assert "kcast train --model-dir gs://BUCKET/PATH" in line and "a path" in line
