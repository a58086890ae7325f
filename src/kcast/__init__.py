"""kcast: forecasts of MLB starting pitchers' strikeouts, compared with sportsbook prop lines.

Retrosheet notice: the information used here was obtained free of charge from and is copyrighted by
Retrosheet. Interested parties may contact Retrosheet at www.retrosheet.org.
"""

import sys
import types

__version__ = "0.1.0"

RETROSHEET_NOTICE = (
    "The information used here was obtained free of charge from and is copyrighted by "
    "Retrosheet. Interested parties may contact Retrosheet at www.retrosheet.org."
)

# The Python API (kcast.api), loaded on first use so that `import kcast` stays instant and opens
# no warehouse: kcast.predict(date), kcast.backtest(start, end), kcast.distribution(pitcher, date),
# kcast.plot_distribution(pmf, line). See docs/python.md.
_API = ("predict", "backtest", "distribution", "plot_distribution", "Backtest")
__all__ = ["RETROSHEET_NOTICE", "__version__", *_API]


def __getattr__(name: str):  # noqa: ANN202 - PEP 562
    if name in _API:
        # kcast.api stands above every other module (it imports them all): loading it here,
        # on first use, is what keeps `import kcast` instant and free of an import circle
        from kcast import api

        return getattr(api, name)
    raise AttributeError(f"module 'kcast' has no attribute {name!r}")


def _keep_api_names() -> None:
    """``kcast.backtest`` is also a module: importing it must not hide the function.

    Python binds a submodule to its package's attribute when it is first imported; this package
    keeps its API names instead (the modules stay importable as ``kcast.backtest`` etc. through
    ``sys.modules``, so ``from kcast.backtest import run_backtest`` works as before)."""

    class _Package(types.ModuleType):
        def __setattr__(self, name: str, value: object) -> None:
            if name in _API and isinstance(value, types.ModuleType):
                return
            super().__setattr__(name, value)

    sys.modules[__name__].__class__ = _Package


_keep_api_names()
