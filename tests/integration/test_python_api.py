"""The Python API (``kcast.api``): docs/python.md's examples run as doctests on a real warehouse
(2018-2019, models trained on games before 2019-07-01), and ``import kcast`` stays light."""

from __future__ import annotations

import doctest
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "python.md"


@pytest.fixture
def api_warehouse(trained_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from kcast.config import get_settings

    path = tmp_path / "api.duckdb"
    shutil.copy(trained_warehouse, path)
    monkeypatch.setenv("KCAST_WAREHOUSE", str(path))
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    get_settings.cache_clear()
    return path


def test_python_md_examples_pass(api_warehouse: Path) -> None:
    result = doctest.testfile(
        str(DOC),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert result.attempted >= 20
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"


def test_import_kcast_is_light() -> None:
    """``import kcast`` loads neither pandas nor a warehouse engine; the API loads on use."""
    code = (
        "import sys, kcast; heavy = [m for m in ('pandas', 'duckdb', 'altair', 'kcast.api') "
        "if m in sys.modules]; print(heavy); print(callable(kcast.predict), 'kcast.api' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "True True"]


def test_backtest_stays_callable_after_its_module_is_imported() -> None:
    import kcast
    from kcast.backtest import run_backtest  # the module kcast.backtest, imported

    assert callable(kcast.backtest) and kcast.backtest is kcast.api.backtest
    assert run_backtest.__module__ == "kcast.backtest"
