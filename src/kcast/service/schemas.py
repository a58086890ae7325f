"""Request and response models of the worker (they are its OpenAPI schema).

``PredictResponse`` keeps the single-system worker's fields at its top level
(``LEGACY_FIELDS``) so old clients keep working, and adds ``systems``: every active system's
own answer, error or breaker state.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from kcast.dates import DATE_PATTERN, parse_date_arg, parse_day  # noqa: F401 - re-exported
from kcast.errors import InputError
from kcast.market import DecisionTime, price_problem
from kcast.policy import MAX_ABS_ODDS
from kcast.systems.registry import SYSTEMS
from kcast.teams import canonical_team

MAX_BATCH = 100

EXAMPLE_GAME = {"pitcher_id": 453281, "game_date": "2019-07-13"}
EXAMPLE_GAME_WITH_LINE = {
    "pitcher_id": 453281,
    "game_date": "2019-07-13",
    "line": 4.5,
    "over_odds": -115,
    "under_odds": -105,
}


IsoDate = Annotated[
    dt.date,
    BeforeValidator(parse_day),
    WithJsonSchema(
        {"type": "string", "format": "date", "pattern": DATE_PATTERN, "examples": ["2019-07-13"]}
    ),
]
PitcherId = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1, description="MLBAM player id")]
# a registered system's id (an unknown one is a 422 that lists the known ones)
SystemId = Literal.__getitem__(tuple(SYSTEMS))  # type: ignore[attr-defined]
Line = Annotated[
    float,
    Field(
        strict=True,
        ge=0.5,
        le=20.0,
        multiple_of=0.5,
        allow_inf_nan=False,
        description="The strikeout prop line, e.g. 5.5",
    ),
]
AmericanOdds = Annotated[
    int,
    Field(
        strict=True,
        ge=-MAX_ABS_ODDS,
        le=MAX_ABS_ODDS,
        description=f"American odds, -{MAX_ABS_ODDS} to -100 or +100 to +{MAX_ABS_ODDS}, e.g. -115",
    ),
]


class ErrorResponse(BaseModel):
    """What a 4xx or 503 answers: what is wrong."""

    detail: Any


class FieldError(BaseModel):
    """One bad input: which field, what is wrong, and a short excerpt of what was sent."""

    field: str = Field(description="Where: body.games.0.line, query.date, ...")
    loc: list[int | str]
    msg: str
    type: str
    input: str | None = Field(None, description="At most 60 characters of the bad value")


class ValidationErrorResponse(BaseModel):
    """What a 422 answers: every bad field (at most 20), never the whole input."""

    detail: list[FieldError]
    more_errors: int | None = Field(None, description="Further errors not listed")


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


DECISION_TIME_CHARS = 10  # the longest form, a clock time, is 5


def decision_time(value: str | None) -> str | None:
    """A decision time as ``market.DecisionTime`` reads it (open, close, now or HH:MM US
    Eastern); a ``ValueError`` naming the valid forms (a 422) otherwise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("decision_time must be a string: open, close, now or HH:MM (US Eastern)")
    if len(value) > DECISION_TIME_CHARS:
        raise ValueError(f"decision_time is at most {DECISION_TIME_CHARS} characters")
    try:
        return DecisionTime.parse(value).label
    except InputError as exc:
        raise ValueError(str(exc)) from None


DecisionTimeField = Annotated[
    str | None,
    BeforeValidator(decision_time),
    Field(
        None,
        json_schema_extra={"maxLength": DECISION_TIME_CHARS},
        description="When to decide: open, close, now or HH:MM (US Eastern); only quotes "
        "captured by then count (default KCAST_DECISION_TIME)",
        examples=["open", "close", "17:00"],
    ),
]


class PitcherGame(BaseModel):
    """One pitcher-game to predict.

    The game is found in the warehouse (the actual start of a past date, or a probable pitcher
    stored by ``kcast ingest statsapi``); for a game the warehouse does not know, give
    ``opponent`` and ``is_home`` (and ``team`` if the pitcher changed clubs).
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [EXAMPLE_GAME_WITH_LINE]}
    )

    pitcher_id: PitcherId
    game_date: IsoDate
    line: Line | None = None
    over_odds: AmericanOdds | None = None
    under_odds: AmericanOdds | None = None
    opponent: str | None = Field(None, max_length=40, description="The opposing club, e.g. NYA")
    is_home: StrictBool | None = Field(None, description="Pitching at home")
    team: str | None = Field(None, max_length=40, description="The pitcher's club")
    decision_time: DecisionTimeField = None

    @field_validator("over_odds", "under_odds")
    @classmethod
    def _american(cls, value: int | None) -> int | None:
        if value is not None and -100 < value < 100:
            raise ValueError(f"American odds {value} are impossible: use <= -100 or >= +100")
        return value

    @field_validator("opponent", "team")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        return None if value is None else canonical_team(value)

    @model_validator(mode="after")
    def _odds_need_line(self) -> PitcherGame:
        if self.line is None and (self.over_odds is not None or self.under_odds is not None):
            raise ValueError("over_odds/under_odds were given without a line")
        problem = price_problem(self.over_odds, self.under_odds)
        if problem is not None:  # e.g. +9000 on both sides: a sure profit no book offers
            raise ValueError(problem)
        return self

    def record(self) -> dict[str, Any]:
        """The request as a row for ``slate.explicit_starters``."""
        return self.model_dump()


class BatchRequest(BaseModel):
    """A batch: every starter of ``date``, or a list of pitcher-games (not both)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["date"]}, {"required": ["games"]}],
            "examples": [{"date": "2019-07-13"}, {"games": [EXAMPLE_GAME], "write": False}],
        },
    )

    # not nullable: give one of the two
    date: IsoDate = Field(None, description="Predict every starter of this date")  # type: ignore[assignment]
    games: list[PitcherGame] = Field(None, min_length=1, max_length=MAX_BATCH)  # type: ignore[assignment]
    write: StrictBool = Field(True, description="Store the predictions in the warehouse")
    decision_time: DecisionTimeField = None

    @model_validator(mode="after")
    def _one_of(self) -> BatchRequest:
        if (self.date is None) == (self.games is None):
            raise ValueError("give either date or games (a list of pitcher-games), not both")
        if self.games:
            seen: set[tuple[int, dt.date]] = set()
            for game in self.games:
                key = (game.pitcher_id, game.game_date)
                if key in seen:
                    raise ValueError(f"pitcher {key[0]} on {key[1]} appears twice in games")
                seen.add(key)
        return self


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------

LEGACY_FIELDS = (
    "pitcher_id",
    "game_date",
    "line",
    "predicted_strikeouts",
    "confidence",
    "recommendation",
    "edge",
    "red_flags",
    "model_version",
)

Status = Literal["ok", "failed", "skipped"]


class SystemAnswer(BaseModel):
    """One system's answer for one pitcher-game, or why there is none."""

    status: Status
    error: str | None = Field(None, description="Why the system failed or was skipped")
    breaker_state: str | None = None
    model_version: str | None = None
    predicted_strikeouts: float | None = None
    predicted_median: int | None = None
    k_p10: int | None = None
    k_p90: int | None = None
    p_over: float | None = None
    p_under: float | None = None
    p_push: float | None = None
    edge: float | None = None
    expected_value: float | None = None
    confidence: float | None = None
    recommendation: str | None = Field(
        None, description="The decision's side (OVER, UNDER), else PASS"
    )
    verdict: str | None = Field(
        None, description="OVER, UNDER or PASS at the line by the thresholds"
    )
    decision: str | None = Field(None, description="bet, lean or pass")
    decision_line: float | None = Field(None, description="The bet's (or lean's) line")
    decision_book: str | None = Field(None, description="The book whose price it is at")
    decision_odds: float | None = Field(None, description="Its price, American")
    decision_ev: float | None = Field(None, description="Expected profit per unit at that price")
    stake: float | None = Field(None, description="A bet's share of the day's bankroll")
    alternate_line: bool | None = Field(None, description="At another line than the answer's")
    other_book: bool | None = Field(None, description="At another book than the answer's line")
    decision_reason: str | None = Field(None, description="Why: bet, lean or pass")
    red_flags: list[str] = Field(default_factory=list)
    reasons: str | None = None
    seconds: float | None = None


class PredictResponse(BaseModel):
    """The legacy single-system answer (from the primary system) plus every system's own."""

    pitcher_id: int
    game_date: dt.date
    line: float | None
    predicted_strikeouts: float
    confidence: float
    recommendation: str
    edge: float | None
    red_flags: list[str]
    model_version: str
    decision_time: str | None = Field(
        None, description="The decision time the answer was decided at (open, close, now, HH:MM)"
    )
    systems: dict[str, SystemAnswer]


class PitcherGameRow(BaseModel):
    """A pitcher in a game: what a starter and a stored prediction both name."""

    game_id: str
    game_date: dt.date
    pitcher_id: int
    pitcher_name: str | None = None
    team: str | None = None
    opponent: str | None = None
    is_home: bool | None = None


class Starter(PitcherGameRow):
    """One starter of a slate."""

    starter_source: str | None = None


class SystemRun(BaseModel):
    """What one system did in a batch."""

    status: Status
    rows: int = 0
    error: str | None = None
    breaker_state: str | None = None
    seconds: float | None = None


class BatchResponse(BaseModel):
    """What a batch did: rows written per system, systems skipped or failed and why."""

    date: dt.date | None
    starters: list[Starter]
    written: bool
    predicted_at: dt.datetime = Field(description="When the rows were made (UTC)")
    rows_written: dict[str, int]
    total_rows_written: int
    skipped: dict[str, str]
    failed: dict[str, str]
    systems: dict[str, SystemRun]
    seconds: float
    decision_time: str | None = Field(
        None, description="The decision time the rows were decided at"
    )
    note: str | None = None


class BreakerInfo(BaseModel):
    """A circuit breaker's state."""

    state: str
    failure_count: int
    last_error: str | None = None
    retry_in_seconds: float | None = None


class SystemHealth(BaseModel):
    """One active system's health."""

    status: Literal["ok", "degraded", "failed"]
    loaded: bool
    model_version: str | None = None
    breaker_state: str | None = None
    failure_count: int = 0
    last_error: str | None = None
    retry_in_seconds: float | None = None
    fault: str | None = Field(None, description="An injected fault (tests), if any")


class HealthResponse(BaseModel):
    """Liveness, the warehouse, and each active system's breaker."""

    status: Literal["ok", "degraded", "down"]
    version: str
    warehouse: str
    warehouse_ok: bool
    uptime_seconds: float
    systems: dict[str, SystemHealth]
    reload: dict[str, Any] | None = Field(
        None,
        description="Model reload: generation, the versions serving, when the models were "
        "last reloaded and checked, and the error of a failed reload (the old models serve)",
    )


class SystemInfo(BaseModel):
    """A registered system."""

    system_id: str
    description: str
    is_ensemble: bool
    members: list[str] = Field(default_factory=list)
    features_count: int
    active: bool
    loaded: bool
    load_error: str | None = None
    model_version: str | None = None
    breaker: BreakerInfo | None = None


class Pick(PitcherGameRow):
    """A stored prediction."""

    system_id: str
    model_version: str
    predicted_strikeouts: float
    predicted_median: int | None = None
    k_p10: int | None = None
    k_p90: int | None = None
    line: float | None = None
    over_odds: int | None = None
    under_odds: int | None = None
    book: str | None = None
    p_over: float | None = None
    p_under: float | None = None
    edge: float | None = None
    expected_value: float | None = None
    confidence: float
    recommendation: str
    verdict: str | None = None
    decision: str | None = None
    decision_line: float | None = None
    decision_book: str | None = None
    decision_odds: int | None = None
    decision_ev: float | None = None
    stake: float | None = None
    alternate_line: bool | None = None
    other_book: bool | None = None
    decision_reason: str | None = None
    red_flags: list[str] = Field(default_factory=list)
    reasons: str | None = None
    created_at: dt.datetime
    actual_strikeouts: int | None = None
    result: str | None = None


class PicksResponse(BaseModel):
    """A date's stored predictions, ensemble picks first."""

    date: dt.date
    system: str | None = None
    count: int
    picks: list[Pick]


class SlateResponse(BaseModel):
    """A date's starters (actual starters of played games, else stored probables)."""

    date: dt.date
    count: int
    starters: list[Starter]
