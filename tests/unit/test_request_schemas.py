"""Request bodies the worker refuses with a 422, never a 500 (the fuzzer's finds)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kcast.service.schemas import BatchRequest, decision_time


@pytest.mark.parametrize("value", [[None, None], 17, {"at": "open"}, 1.5, True])
def test_a_decision_time_that_is_not_a_string_is_a_validation_error(value) -> None:
    with pytest.raises(ValueError, match="decision_time must be a string"):
        decision_time(value)


def test_decision_time_forms() -> None:
    assert decision_time(None) is None
    assert decision_time("open") == "open"
    with pytest.raises(ValueError):
        decision_time("noon")


def test_the_fuzzers_batch_body_is_a_validation_error() -> None:
    from_fuzzer = {"date": "2019-07-13", "decision_time": [None, None]}
    with pytest.raises(ValidationError, match="decision_time"):
        BatchRequest.model_validate(from_fuzzer)


@pytest.mark.parametrize("body", [{"date": "2019-07-13", "decision_time": None, "write": True}])
def test_a_null_decision_time_is_the_default(body: dict) -> None:
    assert BatchRequest.model_validate(body).decision_time is None


def test_a_long_decision_time_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="at most 10 characters"):
        BatchRequest.model_validate({"date": "2019-07-13", "decision_time": "o" * 11})
