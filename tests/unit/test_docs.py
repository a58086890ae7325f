"""The documentation that is generated from code stays in step with it."""

from __future__ import annotations

from kcast.features.build import ALL_FEATURES, BASELINE_FEATURES, ROLLING_FEATURES
from kcast.warehouse.schema import markdown
from tests.conftest import REPO


def test_warehouse_doc_is_current() -> None:
    assert (REPO / "docs" / "warehouse.md").read_text().strip() == markdown().strip(), (
        "docs/warehouse.md is stale: run `python -m kcast.warehouse.schema > docs/warehouse.md`"
    )


def test_every_feature_is_documented() -> None:
    text = (REPO / "docs" / "features.md").read_text()
    for name in ALL_FEATURES:
        assert f"`{name}`" in text or name in text, f"{name} is not in docs/features.md"
    assert f"`v1_baseline` uses {len(BASELINE_FEATURES)} features" in text
    assert f"`v1_6_rolling` {len(ROLLING_FEATURES)}" in text
