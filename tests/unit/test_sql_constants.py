"""The policy constants the SQL views receive (``kcast.warehouse.sql_constants``)."""

from __future__ import annotations

import pytest

from kcast import policy
from kcast.errors import WarehouseError
from kcast.monitoring import load_queries
from kcast.warehouse.migrations import view_sql
from kcast.warehouse.sql_constants import RED_FLAGS, constants, render, sql_number


def test_render_writes_in_policy_values() -> None:
    assert render("x <= {{AGREE_WITHIN}} AND y <= {{ DISAGREE_OVER }}") == (
        f"x <= {policy.AGREE_WITHIN!r} AND y <= {policy.DISAGREE_OVER!r}"
    )
    assert sql_number(0.7) == "0.7" and sql_number(2) == "2.0"
    with pytest.raises(WarehouseError, match="unknown placeholder"):
        render("{{NO_SUCH_RULE}}", "view v")


def test_views_follow_policy_when_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "AGREE_WITHIN", 0.75)
    monkeypatch.setattr(policy, "DISAGREE_OVER", 1.5)
    sql = view_sql()["system_agreement"]
    assert "WHEN spread <= 0.75 THEN 'strong'" in sql
    assert "WHEN spread <= 1.5 THEN 'moderate'" in sql
    assert "{{" not in sql


def test_every_placeholder_is_rendered() -> None:
    texts = list(view_sql().values()) + [q.sql for q in load_queries().values()]
    assert all("{{" not in text for text in texts)
    flags = constants()["RED_FLAGS_TABLE"]
    assert all(f"'{flag}'" in flags for flag in RED_FLAGS)
    assert set(RED_FLAGS) >= set(policy.CONFIDENCE_PENALTY) | set(policy.BLOCKS_OVER)
