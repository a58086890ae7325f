"""Settings, read from the environment (and an optional ``.env`` file).

Every data location comes from here or from a command-line argument; the code names no
machine path of its own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kcast import policy

# the seed's three systems, and v2_matchup: the lineup batter by batter, the best forecaster at
# the open in 2025 with the season's batters (docs/results.md), so the primary system by default
SEED_SYSTEMS = "v1_baseline,v1_6_rolling,ensemble_v1"
PRIMARY_SYSTEM_DEFAULT = "v2_matchup"
ALL_SYSTEMS_DEFAULT = f"{SEED_SYSTEMS},{PRIMARY_SYSTEM_DEFAULT}"
SECRET_SETTINGS = ("ODDS_API_KEY", "KCAST_API_TOKEN")
# the register that `kcast run --data` found, kept in the cache folder for later commands
REMEMBERED_REGISTER = "register-path.txt"


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
    lock_timeout: float = Field(
        30.0,
        validation_alias=AliasChoices("KCAST_LOCK_TIMEOUT", "lock_timeout"),
        description="Seconds a command waits for another process's hold on a DuckDB warehouse "
        "file before it fails naming that process.",
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
        description="Where `kcast train` writes model files (a local folder); the registry "
        "records the models under it relative to it, and reads them back under it.",
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
        PRIMARY_SYSTEM_DEFAULT,
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
    edge_gate: str = Field(
        "on",
        pattern="^(on|off)$",
        validation_alias=AliasChoices("KCAST_EDGE_GATE", "edge_gate"),
        description="on: a betting rule bets only while its own graded record shows an edge "
        "(kcast.gate; else its picks are leans); off: every rule bets.",
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

    bankroll: float = Field(
        1000.0,
        gt=0,
        validation_alias=AliasChoices("KCAST_BANKROLL", "bankroll"),
        description="Your bankroll, in money: stakes (shares of it) are shown in money and in "
        "units.",
    )
    unit_size: float = Field(
        10.0,
        gt=0,
        validation_alias=AliasChoices("KCAST_UNIT", "unit_size"),
        description="The money of one unit (a flat bet); stakes are also shown in units.",
    )

    # --- alerts to webhooks (kcast.webhook_alerts) --------------------------------------------
    webhooks: str = Field(
        "",
        validation_alias=AliasChoices("KCAST_WEBHOOKS", "webhooks"),
        description="Webhook URLs that `kcast daily` and the worker notify (new bet, lineup "
        "change, scratch, price move), comma-separated; Slack and Discord URLs get their JSON, "
        "others plain JSON; a `slack:`, `discord:` or `json:` prefix chooses the format.",
    )
    webhook_timeout: float = Field(
        5.0,
        gt=0,
        le=60,
        validation_alias=AliasChoices("KCAST_WEBHOOK_TIMEOUT", "webhook_timeout"),
        description="Seconds one webhook call may take; each alert is tried 3 times at most.",
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
    api_token: SecretStr | None = Field(
        None,
        min_length=16,
        validation_alias=AliasChoices("KCAST_API_TOKEN", "api_token"),
        description="When set, every endpoint that writes needs `Authorization: Bearer TOKEN`.",
    )
    auth_reads: bool = Field(
        False,
        validation_alias=AliasChoices("KCAST_AUTH_READS", "auth_reads"),
        description="true: the reading endpoints need the token too.",
    )
    allow_unauthenticated_writes: bool = Field(
        False,
        validation_alias=AliasChoices(
            "KCAST_ALLOW_UNAUTHENTICATED_WRITES", "allow_unauthenticated_writes"
        ),
        description="true: `kcast serve` may listen on a public address with writes open to "
        "anyone (no KCAST_API_TOKEN).",
    )
    read_only: bool = Field(
        False,
        validation_alias=AliasChoices("KCAST_READ_ONLY", "read_only"),
        description="true: the worker stores nothing (/predict-batch answers with write=false).",
    )
    max_body: int = Field(
        1_000_000,
        ge=1024,
        validation_alias=AliasChoices("KCAST_MAX_BODY", "max_body"),
        description="The largest request body in bytes; larger ones are answered 413.",
    )
    access_log: bool = Field(
        False,
        validation_alias=AliasChoices("KCAST_ACCESS_LOG", "access_log"),
        description="true: `kcast serve` logs every request (uvicorn's access log) at info level.",
    )
    worker_threads: int = Field(
        0,
        ge=0,
        le=256,
        validation_alias=AliasChoices("KCAST_WORKER_THREADS", "worker_threads"),
        description="Requests the worker runs on threads at once (builds, reads, batches; "
        "0: one per CPU). More threads than CPUs fight over Python's lock and slow /health.",
    )
    reload_seconds: float = Field(
        30.0,
        ge=0,
        validation_alias=AliasChoices("KCAST_RELOAD_SECONDS", "reload_seconds"),
        description="How often the worker looks for newly trained models and loads them "
        "(0: only on POST /admin/reload).",
    )

    @field_validator(
        "register_path",
        "v1_model_path",
        "v1_6_model_path",
        "odds_api_key",
        "api_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model_dir", mode="before")
    @classmethod
    def _local_model_dir(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower().startswith("gs:"):
            raise ValueError(
                "KCAST_MODEL_DIR is a local folder; to train into Cloud Storage run "
                "`kcast train --model-dir gs://BUCKET/PATH`"
            )
        return value

    @field_validator("active_systems")
    @classmethod
    def _strip_systems(cls, value: str) -> str:
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    @model_validator(mode="after")
    def _remembered_register(self) -> Settings:
        """Unset KCAST_REGISTER: the register ``kcast run --data`` found last, if it is there."""
        if self.register_path is None:
            remembered = remembered_register(self.cache_dir)
            if remembered is not None:
                self.register_path = remembered
        return self

    @property
    def book_list(self) -> list[str] | None:
        """The books in ``KCAST_BOOKS`` (None: every book)."""
        books = [b.strip() for b in self.books.split(",") if b.strip()]
        return books or None

    @property
    def webhook_list(self) -> list[str]:
        """The URLs in ``KCAST_WEBHOOKS``."""
        return [w.strip() for w in self.webhooks.split(",") if w.strip()]

    @property
    def active_system_ids(self) -> list[str]:
        """The ids in ``MLB_ACTIVE_SYSTEMS``, in the order given."""
        return [s for s in self.active_systems.split(",") if s]


def remembered_register(cache_dir: Path) -> Path | None:
    """The register path kept by ``remember_register``, when that file still exists."""
    note = Path(cache_dir).expanduser() / REMEMBERED_REGISTER
    try:
        path = Path(note.read_text(encoding="utf-8").strip())
    except OSError:
        return None
    return path if path.is_file() else None


def remember_register(cache_dir: Path, register: Path) -> Path:
    """Keep ``register`` (an absolute path) in the cache folder, for every later command."""
    note = Path(cache_dir).expanduser() / REMEMBERED_REGISTER
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(str(Path(register).resolve()) + "\n", encoding="utf-8")
    return note


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()


# --------------------------------------------------------------------------------------------
# Settings problems, said in one line each
# --------------------------------------------------------------------------------------------


def env_name(field_name: str) -> str:
    """The environment variable of a setting (``v1_model_path`` -> ``MLB_V1_MODEL_PATH``)."""
    alias = Settings.model_fields[field_name].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else field_name.upper()


def accepts(variable: str) -> str:
    """What the setting whose environment variable is ``variable`` accepts, in words."""
    for name, info in Settings.model_fields.items():
        if env_name(name) != variable:
            continue
        text = str(info.annotation).replace("typing.", "").replace("pathlib.", "")
        kind = {
            "<class 'float'>": "a number",
            "<class 'int'>": "a whole number",
            "<class 'bool'>": "true or false",
            "<class 'str'>": "text",
            "<class 'Path'>": "a path",
        }.get(text, text)
        bounds = []
        for item in info.metadata:
            for attr, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                if getattr(item, attr, None) is not None:
                    bounds.append(f"{word} {getattr(item, attr)}")
            if getattr(item, "min_length", None):
                kind = f"a secret of at least {item.min_length} characters"
            if getattr(item, "pattern", None):
                kind = " or ".join(item.pattern.strip("^$()").split("|"))
        return kind + (f" {' and '.join(bounds)}" if bounds else "")
    return "see docs/operations.md"


def describe_settings_error(exc: Exception) -> list[str]:
    """One line per bad setting of a pydantic ``ValidationError`` from ``Settings()``:
    the variable, its value and what it accepts."""
    lines = []
    for error in exc.errors():  # type: ignore[attr-defined]
        loc = ".".join(str(p) for p in error.get("loc", ())) or "settings"
        if loc in Settings.model_fields:
            loc = env_name(loc)
        value = error.get("input")
        shown = repr(value if not isinstance(value, str) else value[:80])
        if loc in SECRET_SETTINGS:
            shown = "'***'"
        if loc == "settings":
            lines.append(f"settings: {error.get('msg')}")
            continue
        lines.append(f"{loc}={shown} is not valid ({error.get('msg')}); it accepts {accepts(loc)}")
    return lines
