"""Settings, read from the environment (and an optional ``.env`` file).

Every data location comes from here or from a command-line argument; the code names no
machine path of its own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kcast import policy

ALL_SYSTEMS_DEFAULT = "v1_baseline,v1_6_rolling,ensemble_v1"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "kcast"


class Settings(BaseSettings):
    """kcast's settings. Environment variable names are given by each field's alias."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- warehouse and data locations -------------------------------------------------------
    warehouse: str = Field(
        "kcast.duckdb",
        validation_alias=AliasChoices("KCAST_WAREHOUSE", "warehouse"),
        description="A DuckDB file path, or bigquery://PROJECT/DATASET.",
    )
    bigquery_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("KCAST_BIGQUERY_ENDPOINT", "bigquery_endpoint"),
        description="BigQuery API endpoint, e.g. a local emulator's http://127.0.0.1:9050 "
        "(then no credentials are used). Unset: Google's, with application default credentials.",
    )
    bigquery_location: str | None = Field(
        None,
        validation_alias=AliasChoices("KCAST_BIGQUERY_LOCATION", "bigquery_location"),
        description="BigQuery location (e.g. US, EU) for jobs; unset: the dataset's.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        validation_alias=AliasChoices("KCAST_CACHE_DIR", "cache_dir"),
        description="Where downloads (Retrosheet seasons, the register) are kept.",
    )
    register_path: Path | None = Field(
        None,
        validation_alias=AliasChoices("KCAST_REGISTER", "register_path"),
        description="The Chadwick register (a CSV, optionally gzipped). Downloaded when unset.",
    )
    model_dir: Path = Field(
        Path("models"),
        validation_alias=AliasChoices("KCAST_MODEL_DIR", "model_dir"),
        description="Where `kcast train` writes model files.",
    )

    # --- remote sources ---------------------------------------------------------------------
    statsapi_url: str = Field(
        "https://statsapi.mlb.com",
        validation_alias=AliasChoices("KCAST_STATSAPI_URL", "statsapi_url"),
    )
    odds_api_url: str = Field(
        "https://api.the-odds-api.com",
        validation_alias=AliasChoices("KCAST_ODDS_API_URL", "odds_api_url"),
    )
    odds_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ODDS_API_KEY", "odds_api_key")
    )
    retrosheet_url: str = Field(
        "https://www.retrosheet.org/events",
        validation_alias=AliasChoices("KCAST_RETROSHEET_URL", "retrosheet_url"),
    )
    register_url: str = Field(
        "https://raw.githubusercontent.com/chadwickbureau/register/master/data",
        validation_alias=AliasChoices("KCAST_REGISTER_URL", "register_url"),
    )
    http_timeout: float = Field(
        20.0, validation_alias=AliasChoices("KCAST_HTTP_TIMEOUT", "http_timeout")
    )
    http_retries: int = Field(
        3, validation_alias=AliasChoices("KCAST_HTTP_RETRIES", "http_retries")
    )

    # --- prediction systems -----------------------------------------------------------------
    active_systems: str = Field(
        ALL_SYSTEMS_DEFAULT,
        validation_alias=AliasChoices("MLB_ACTIVE_SYSTEMS", "active_systems"),
    )
    v1_model_path: Path | None = Field(
        None, validation_alias=AliasChoices("MLB_V1_MODEL_PATH", "v1_model_path")
    )
    v1_6_model_path: Path | None = Field(
        None, validation_alias=AliasChoices("MLB_V1_6_MODEL_PATH", "v1_6_model_path")
    )
    primary_system: str = Field(
        "ensemble_v1",
        validation_alias=AliasChoices("MLB_PRIMARY_SYSTEM", "primary_system"),
        description="The system whose picks are shown and fill the worker's legacy fields.",
    )
    ensemble_v1_weight: float = Field(
        policy.ENSEMBLE_V1_WEIGHT,
        ge=0,
        validation_alias=AliasChoices("MLB_ENSEMBLE_V1_WEIGHT", "ensemble_v1_weight"),
    )
    ensemble_v1_6_weight: float = Field(
        policy.ENSEMBLE_V1_6_WEIGHT,
        ge=0,
        validation_alias=AliasChoices("MLB_ENSEMBLE_V1_6_WEIGHT", "ensemble_v1_6_weight"),
    )
    min_edge: float = Field(
        policy.MIN_EDGE, ge=0, validation_alias=AliasChoices("MLB_MIN_EDGE", "min_edge")
    )
    market_blend: str = Field(
        "auto",
        pattern="^(auto|off)$",
        validation_alias=AliasChoices("MLB_MARKET_BLEND", "market_blend"),
        description="auto: stated P(over) pools each system with the de-vigged market, weights "
        "learned from its graded lines; off: each system's own probability.",
    )
    min_confidence: float = Field(
        policy.MIN_CONFIDENCE,
        ge=0,
        le=100,
        validation_alias=AliasChoices("MLB_MIN_CONFIDENCE", "min_confidence"),
    )

    # --- bets a bettor can take (kcast.market, kcast.bets) -----------------------------------
    books: str = Field(
        "",
        validation_alias=AliasChoices("KCAST_BOOKS", "books"),
        description="The books you can bet, comma-separated (e.g. DraftKings,FanDuel); "
        "empty: every book. The best price of each side is taken among them.",
    )
    decision_time: str = Field(
        "now",
        validation_alias=AliasChoices("KCAST_DECISION_TIME", "decision_time"),
        description="When `kcast predict` decides: open, close, HH:MM (US Eastern) or now.",
    )
    devig_method: str = Field(
        policy.DEVIG_METHOD,
        pattern="^(multiplicative|additive|power|shin)$",
        validation_alias=AliasChoices("KCAST_DEVIG", "devig_method"),
    )
    min_bet_ev: float = Field(
        policy.MIN_BET_EV, validation_alias=AliasChoices("KCAST_MIN_BET_EV", "min_bet_ev")
    )
    kelly_fraction: float = Field(
        policy.KELLY_FRACTION,
        ge=0,
        le=1,
        validation_alias=AliasChoices("KCAST_KELLY_FRACTION", "kelly_fraction"),
    )
    max_stake_bet: float = Field(
        policy.MAX_STAKE_BET,
        ge=0,
        le=1,
        validation_alias=AliasChoices("KCAST_MAX_STAKE_BET", "max_stake_bet"),
    )
    max_stake_day: float = Field(
        policy.MAX_STAKE_DAY,
        ge=0,
        le=1,
        validation_alias=AliasChoices("KCAST_MAX_STAKE_DAY", "max_stake_day"),
    )

    # --- worker -----------------------------------------------------------------------------
    breaker_failures: int = Field(
        3, ge=1, validation_alias=AliasChoices("KCAST_BREAKER_FAILURES", "breaker_failures")
    )
    breaker_cooldown: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("KCAST_BREAKER_COOLDOWN", "breaker_cooldown")
    )
    system_timeout: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("KCAST_SYSTEM_TIMEOUT", "system_timeout")
    )

    @field_validator(
        "register_path", "v1_model_path", "v1_6_model_path", "odds_api_key", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("active_systems")
    @classmethod
    def _strip_systems(cls, value: str) -> str:
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    @property
    def book_list(self) -> list[str] | None:
        """The books in ``KCAST_BOOKS`` (None: every book)."""
        books = [b.strip() for b in self.books.split(",") if b.strip()]
        return books or None

    @property
    def active_system_ids(self) -> list[str]:
        """The ids in ``MLB_ACTIVE_SYSTEMS``, in the order given."""
        return [s for s in self.active_systems.split(",") if s]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
