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


# --- the API never fails silently (issue 23) -----------------------------------------------


def test_no_starters_is_a_named_error(api_warehouse: Path) -> None:
    import kcast
    from kcast.errors import NoStartersError

    with pytest.raises(NoStartersError, match=r"no starters known for 2019-12-25: ingest"):
        kcast.predict("2019-12-25")


def test_a_system_without_a_model_is_named_with_its_setting(
    history_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No trained model: the error names each system and the setting as it is spelled."""
    import kcast
    from kcast.config import get_settings
    from kcast.errors import SystemsFailedError

    path = tmp_path / "untrained.duckdb"
    shutil.copy(history_warehouse, path)
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "v1_baseline,v1_6_rolling")
    get_settings.cache_clear()
    with pytest.raises(
        SystemsFailedError, match=r"v1_baseline: .*set MLB_V1_MODEL_PATH or run"
    ) as e:
        kcast.predict("2019-07-13", warehouse=str(path))
    assert set(e.value.errors) == {"v1_baseline", "v1_6_rolling"}
    assert "set MLB_V1_6_MODEL_PATH or run" in e.value.errors["v1_6_rolling"]
    assert "V1_MODEL_PATH" not in str(e.value).replace("MLB_V1_MODEL_PATH", "")


def test_models_are_found_beside_the_warehouse_wherever_the_script_runs(
    trained_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warehouse whose registry records its models relative to the model folder (as
    `kcast run` does from its folder): a notebook in another folder finds them."""
    import duckdb

    import kcast
    from kcast.config import get_settings

    home = tmp_path / "project"
    (home / "models").mkdir(parents=True)
    shutil.copy(trained_warehouse, home / "kcast.duckdb")
    con = duckdb.connect(str(home / "kcast.duckdb"))
    rows = con.execute("SELECT system_id, version, path FROM model_registry").fetchall()
    for system_id, version, path in rows:
        source = Path(path)
        target = home / "models" / system_id / source.name
        target.parent.mkdir(exist_ok=True)
        for twin in source.parent.glob(source.stem + "*"):
            shutil.copy(twin, target.parent / twin.name)
        relative = f"{system_id}/{source.name}"
        con.execute(
            "UPDATE model_registry SET path = ? WHERE system_id = ? AND version = ?",
            [relative, system_id, version],
        )
    con.close()
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("KCAST_MODEL_DIR", raising=False)  # the default, models
    get_settings.cache_clear()
    picks = kcast.predict("2019-07-13", warehouse=str(home / "kcast.duckdb"))
    # kcast's default systems: the seed's three and v2_matchup, each with its model found
    assert len(picks) == 4 * 32 and set(picks["system_id"]) == {
        "v1_baseline",
        "v1_6_rolling",
        "ensemble_v1",
        "v2_matchup",
    }


def test_look_ahead_warns_as_the_cli_does(api_warehouse: Path) -> None:
    import kcast
    from kcast.errors import LookAheadWarning

    with pytest.warns(LookAheadWarning, match=r"trained on games up to 2019-0.*after 2019-04-1"):
        kcast.predict("2019-04-15")


def test_a_warehouse_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    import kcast
    from kcast.errors import WarehouseError

    missing = tmp_path / "typo.duckdb"
    with pytest.raises(WarehouseError, match=r"typo\.duckdb"):
        kcast.predict("2019-07-13", warehouse=str(missing))
    assert not missing.exists()


def test_a_line_that_is_no_strikeout_line_is_refused(api_warehouse: Path) -> None:
    import kcast
    from kcast.errors import InputError

    with pytest.raises(InputError, match=r"line 5\.3 is not a strikeout line"):
        kcast.distribution(453281, "2019-07-13", line=5.3)
    with pytest.raises(InputError, match=r"start 2019-07-14 is after end 2019-07-01"):
        kcast.backtest("2019-07-14", "2019-07-01")
