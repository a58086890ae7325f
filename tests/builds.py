"""Expensive test fixtures built once per test run and shared by every xdist worker.

A session fixture of pytest is built once per *process*: with ``-n 2`` each worker used to ingest
the same seasons and train the same models. Here the first worker that needs a build makes it in
the run's own folder (pytest's numbered temporary folder, which every worker of one run shares)
while holding a file lock; a worker that comes later waits for the lock, finds the build done and
copies it into a folder of its own, so that no two processes ever open one DuckDB file. A build
that failed is not tried again by the next worker: it fails with the first worker's error.

Each build is a function ``build(folder)`` that fills an empty folder; ``shared_build`` returns
the worker's own copy of that folder: its files copied (a DuckDB file per process), its folders
linked (read-only contents, such as trained models, which the copied warehouse's model registry
names by their place in the shared folder).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DONE = ".built"  # written last, holding the seconds the build took
FAILED = ".failed"  # the error of a build that failed


def worker_id() -> str:
    """``gw0``, ``gw1``... under xdist, ``main`` in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder this run's processes share: pytest's numbered folder of the run (each xdist
    worker's own temporary folder is a child of it)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker_id() != "main" else base
    folder = root / "shared-builds"
    folder.mkdir(exist_ok=True)
    return folder


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if missing), held for the ``with`` block."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(shared: Path, name: str, build: Callable[[Path], None]) -> Path:
    """``shared/name``, filled by ``build`` unless another process of the run already did."""
    folder = shared / name
    with locked(shared / f"{name}.lock"):
        if (folder / DONE).exists():
            return folder
        failed = shared / f"{name}{FAILED}"
        if failed.exists():
            raise RuntimeError(f"the shared build {name!r} failed earlier:\n{failed.read_text()}")
        if folder.exists():  # a process that died half-way
            shutil.rmtree(folder)
        folder.mkdir()
        started = time.monotonic()
        try:
            build(folder)
        except BaseException:
            failed.write_text(f"in {worker_id()}:\n{traceback.format_exc()}")
            raise
        (folder / DONE).write_text(f"{time.monotonic() - started:.1f} s in {worker_id()}\n")
        return folder


def shared_build(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """This worker's own copy of the run's build ``name`` (built now if no worker has yet)."""
    folder = build_once(run_folder(tmp_path_factory), name, build)
    own = tmp_path_factory.mktemp(name)
    for entry in folder.iterdir():
        if entry.is_dir():
            (own / entry.name).symlink_to(entry, target_is_directory=True)
        elif entry.name != DONE:
            shutil.copy2(entry, own / entry.name)
    return own
