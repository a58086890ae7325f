"""The warehouse's tables, declared once.

Both engines (DuckDB and BigQuery) create their tables from these declarations, the upsert
reads each table's natural key from here, and ``docs/warehouse.md`` describes the same columns.
Types are BigQuery's names; each engine maps them to its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

TYPES = ("INT64", "FLOAT64", "STRING", "DATE", "TIMESTAMP", "BOOL")

# The same types in kcast's SQL dialect (DuckDB's; the BigQuery engine translates).
SQL_TYPES = {
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "STRING": "VARCHAR",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "BOOL": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    required: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: type {self.type!r} is not one of {TYPES}")


@dataclass(frozen=True)
class Table:
    """A table: its columns, its natural key, and how sources of different rank merge.

    ``rank`` names an INT64 column. When two sources write the same key, the row keeps the
    higher-ranked source's values and only fills its gaps (NULLs) from the lower one, so the
    result does not depend on the order in which ingests run.

    ``merge`` is ``fill`` (a NULL in new data keeps the stored value, so sources can complete
    each other) or ``replace`` (the new row replaces the stored one, NULLs included).
    """

    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    rank: str | None = None
    merge: str = "fill"
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(c.name for c in self.columns)
        object.__setattr__(self, "column_names", names)
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"table {self.name}: key columns {missing} are not columns")
        if self.merge not in ("fill", "replace"):
            raise ValueError(f"table {self.name}: merge must be fill or replace")
        if self.rank is not None and self.rank not in names:
            raise ValueError(f"table {self.name}: rank column {self.rank} is not a column")

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def required(self) -> tuple[str, ...]:
        """Columns every written row must carry: the key, required columns, the rank."""
        return tuple(
            c.name for c in self.columns if c.required or c.name in self.key or c.name == self.rank
        )


def _c(name: str, type_: str, doc: str, required: bool = False) -> Column:
    return Column(name, type_, doc, required)


# Source ranks: a higher rank wins where two sources disagree about the same pitcher-game.
SOURCE_RANK = {
    "retrosheet_events": 50,  # play-by-play, pitch counts from the sequences
    "retrosheet_csv": 40,  # Retrosheet's own per-game CSVs
    "statsapi": 30,  # MLB's official boxscores
    "statsapi_feed": 30,  # the Stats API's live feed of a final game (plate appearances)
    "statsapi_posted": 25,  # lineups the Stats API posts before a game (the final one replaces)
    "statcast_starts": 20,  # Statcast-derived per-start logs
}

# The last columns of every table whose sources merge by rank.
RANKED_SOURCE = (
    _c("source", "STRING", "source of the row's highest-ranked values"),
    _c("source_rank", "INT64", "rank of that source (see SOURCE_RANK)"),
    _c("updated_at", "TIMESTAMP", "when the row was last written (UTC)"),
)


def _game_of(side: Column) -> tuple[Column, ...]:
    """The first columns of a per-game row of one side (a pitcher, a team): the game, the side,
    and when and what kind of game it was."""
    return (
        _c("game_id", "STRING", "games.game_id", True),
        side,
        _c("game_date", "DATE", "date of the game", True),
        _c("season", "INT64", "season year", True),
        _c("game_type", "STRING", "as games.game_type", True),
    )


PLAYERS = Table(
    "players",
    "Every player kcast knows, keyed by MLBAM id (the one player key everywhere).",
    (
        _c("player_id", "INT64", "MLBAM id", True),
        _c("retro_id", "STRING", "Retrosheet id (abcde001)"),
        _c("bbref_id", "STRING", "Baseball-Reference id"),
        _c("fangraphs_id", "STRING", "FanGraphs id"),
        _c("name_first", "STRING", "first name as commonly used"),
        _c("name_last", "STRING", "last name"),
        _c("name_suffix", "STRING", "Jr., II, ..."),
        _c("full_name", "STRING", "first, last and suffix"),
        _c("birth_date", "DATE", "date of birth, where known"),
        _c("throws", "STRING", "throwing hand: R, L (B for the rare switch pitcher)"),
        _c("bats", "STRING", "batting side: R, L or B"),
        _c("mlb_played_first", "INT64", "first MLB season"),
        _c("mlb_played_last", "INT64", "last MLB season"),
        _c("source", "STRING", "where the row last came from"),
        _c("updated_at", "TIMESTAMP", "when the row was last written (UTC)"),
    ),
    key=("player_id",),
)

GAMES = Table(
    "games",
    "One row per game. game_id is Retrosheet's form, home team + YYYYMMDD + game number.",
    (
        _c("game_id", "STRING", "e.g. NYA201904010 (0 = single game, 1/2 = doubleheader)", True),
        _c("game_date", "DATE", "local date of the game", True),
        _c("season", "INT64", "season year", True),
        _c(
            "game_type",
            "STRING",
            "regular, wildcard, divisionseries, lcs, worldseries, "
            "allstar, playoff (tie-breaker), spring, exhibition",
            True,
        ),
        _c("game_number", "INT64", "0 single game, 1 or 2 in a doubleheader"),
        _c("home_team", "STRING", "canonical team code", True),
        _c("away_team", "STRING", "canonical team code", True),
        _c("park_id", "STRING", "Retrosheet park id (e.g. NYC21) or MLB venue id as mlb:NNNN"),
        _c("mlb_game_pk", "INT64", "MLB Stats API gamePk, where known"),
        _c("start_time", "STRING", "local start time as the source gives it"),
        _c("day_night", "STRING", "day or night"),
        _c("temperature", "INT64", "degrees Fahrenheit at first pitch (null if unknown)"),
        _c("wind_speed", "INT64", "mph (null if unknown)"),
        _c("wind_dir", "STRING", "Retrosheet wind direction code"),
        _c("sky", "STRING", "sky condition"),
        _c("umpire_home", "STRING", "home-plate umpire (Retrosheet id or MLB name)"),
        _c("uses_dh", "BOOL", "designated hitter used"),
        _c("innings", "INT64", "innings played"),
        _c("home_runs_scored", "INT64", "runs scored by the home team"),
        _c("away_runs_scored", "INT64", "runs scored by the away team"),
        _c("status", "STRING", "final, scheduled, postponed, in_progress ..."),
        _c("home_probable_id", "INT64", "MLBAM id of the home probable pitcher (slates)"),
        _c("away_probable_id", "INT64", "MLBAM id of the away probable pitcher (slates)"),
        *RANKED_SOURCE,
    ),
    key=("game_id",),
    rank="source_rank",
)

PITCHER_GAMES = Table(
    "pitcher_games",
    "Every pitching appearance, starters and relievers, one row per pitcher per game.",
    (
        *_game_of(_c("pitcher_id", "INT64", "MLBAM id", True)),
        _c("retro_id", "STRING", "Retrosheet id of the pitcher, where known"),
        _c("team", "STRING", "the pitcher's team", True),
        _c("opponent", "STRING", "the opposing team", True),
        _c("is_home", "BOOL", "pitched for the home team", True),
        _c("is_start", "BOOL", "started the game", True),
        _c("appearance_seq", "INT64", "1 = starter, 2 = first reliever, ..."),
        _c("outs", "INT64", "outs recorded (innings pitched times 3)"),
        _c("batters_faced", "INT64", "batters faced"),
        _c("pitches", "INT64", "pitches thrown (null where the source has no pitch counts)"),
        _c("strikes", "INT64", "strikes thrown, where known"),
        _c("strikeouts", "INT64", "strikeouts", True),
        _c("walks", "INT64", "walks (intentional included)"),
        _c("hits", "INT64", "hits allowed"),
        _c("home_runs", "INT64", "home runs allowed"),
        _c("runs", "INT64", "runs allowed"),
        _c("earned_runs", "INT64", "earned runs allowed"),
        _c("hit_batters", "INT64", "batters hit by a pitch"),
        *RANKED_SOURCE,
    ),
    key=("game_id", "pitcher_id"),
    rank="source_rank",
)

TEAM_BATTING_GAMES = Table(
    "team_batting_games",
    "Per team per game batting: plate appearances and strikeouts, split by pitcher hand "
    "where the source has play-by-play, and the starting lineup's handedness.",
    (
        *_game_of(_c("team", "STRING", "the batting team", True)),
        _c("opponent", "STRING", "the pitching team", True),
        _c("is_home", "BOOL", "batting team is at home", True),
        _c("plate_appearances", "INT64", "plate appearances", True),
        _c("strikeouts", "INT64", "strikeouts", True),
        _c("walks", "INT64", "walks"),
        _c("pa_vs_rhp", "INT64", "plate appearances against right-handed pitchers"),
        _c("so_vs_rhp", "INT64", "strikeouts against right-handed pitchers"),
        _c("pa_vs_lhp", "INT64", "plate appearances against left-handed pitchers"),
        _c("so_vs_lhp", "INT64", "strikeouts against left-handed pitchers"),
        _c("pa_vs_starter", "INT64", "plate appearances against the opposing starter"),
        _c("so_vs_starter", "INT64", "strikeouts by the opposing starter"),
        _c("lineup_lhb", "INT64", "left-handed batters in the starting lineup"),
        _c("lineup_rhb", "INT64", "right-handed batters in the starting lineup"),
        _c("lineup_shb", "INT64", "switch-hitters in the starting lineup"),
        *RANKED_SOURCE,
    ),
    key=("game_id", "team"),
    rank="source_rank",
)

PLATE_APPEARANCES = Table(
    "plate_appearances",
    "Every plate appearance of the play-by-play sources (Retrosheet event files, and for a "
    "season in progress the MLB Stats API's live feed of each final game, source "
    "statsapi_feed): who batted, who pitched, where in the order, and how it ended.",
    (
        *_game_of(
            _c(
                "pa_index",
                "INT64",
                "1, 2, ... in the order the game's plate appearances ended",
                True,
            )
        ),
        _c("inning", "INT64", "inning", True),
        _c("batting_team", "STRING", "the batter's team", True),
        _c("pitching_team", "STRING", "the pitcher's team", True),
        _c("batter_id", "INT64", "MLBAM id of the batter charged with the outcome", True),
        _c("pitcher_id", "INT64", "MLBAM id of the pitcher charged with the outcome", True),
        _c("lineup_slot", "INT64", "batting-order slot 1-9 of the batter"),
        _c(
            "times_faced",
            "INT64",
            "times through the order: the batter's 1st, 2nd, ... plate appearance against "
            "this pitcher in the game",
        ),
        _c("bats", "STRING", "side the batter hit from (R or L; a switch-hitter's side)"),
        _c("throws", "STRING", "the pitcher's throwing hand (R or L)"),
        _c("pitch_sequence", "STRING", "Retrosheet pitch codes of the plate appearance"),
        _c("pitches", "INT64", "pitches thrown"),
        _c("swinging_strikes", "INT64", "swinging strikes, missed bunts and foul tips (whiffs)"),
        _c("called_strikes", "INT64", "called strikes (with whiffs: CSW)"),
        _c("is_strikeout", "BOOL", "ended in a strikeout", True),
        _c("is_walk", "BOOL", "ended in a walk (intentional included)", True),
        _c("event", "STRING", "the Retrosheet event text (the feed's event type)"),
        _c("source", "STRING", "where the row came from"),
        _c("updated_at", "TIMESTAMP", "when the row was last written (UTC)"),
        _c(
            "source_rank",
            "INT64",
            "rank of the source (see SOURCE_RANK): the event files' rows replace a game's feed "
            "rows when they are loaded",
        ),
    ),
    key=("game_id", "pa_index"),
    rank="source_rank",
)

LINEUPS = Table(
    "lineups",
    "Starting batting orders, one row per team per game per slot (1-9): from the event files, "
    "Retrosheet's teamstats.csv and, on live days, the MLB Stats API: the lineups it posts before "
    "a game (source statsapi_posted), replaced by the final boxscore's battingOrder.",
    (
        _c("game_id", "STRING", "games.game_id", True),
        _c("team", "STRING", "the batting team", True),
        _c("slot", "INT64", "batting-order slot 1-9", True),
        _c("game_date", "DATE", "date of the game", True),
        _c("season", "INT64", "season year", True),
        _c("player_id", "INT64", "MLBAM id of the starting batter", True),
        _c("bats", "STRING", "batting side: R, L or B (switch)"),
        *RANKED_SOURCE,
    ),
    key=("game_id", "team", "slot"),
    rank="source_rank",
)

# Statcast pitch types of the pitch-mix file: code -> name.
PITCH_TYPES = {
    "ff": "four-seam fastball",
    "si": "sinker",
    "fc": "cutter",
    "sl": "slider",
    "st": "sweeper",
    "cu": "curveball",
    "ch": "changeup",
}

PITCH_MIX_STARTS = Table(
    "pitch_mix_starts",
    "Statcast pitch-mix lines, one row per pitcher-start (`kcast ingest pitch-mix`; see "
    "docs/sources/pitch-mix.md): whiffs, called strikes, velocities and pitch usage. The file "
    "names the pitcher, not his id: every row is kept, matched to a pitcher and a start or not "
    "(`match_note` says why).",
    (
        _c("game_date", "DATE", "date of the game", True),
        _c("player_name", "STRING", "the pitcher's name as the file spells it", True),
        _c("home_team", "STRING", "home team", True),
        _c("away_team", "STRING", "away team", True),
        _c("season", "INT64", "season year", True),
        _c("pitcher_id", "INT64", "MLBAM id the name resolved to (NULL when it did not)"),
        _c("game_id", "STRING", "games.game_id of the start it matched (NULL when none)"),
        _c("team", "STRING", "the pitcher's team, when matched"),
        _c("match_note", "STRING", "how the name was matched, or why not (first word: status)"),
        _c("throws", "STRING", "throwing hand (R or L)"),
        _c("outs", "INT64", "outs recorded"),
        _c("pitches", "INT64", "pitches thrown"),
        _c("batters_faced", "INT64", "plate appearances (the file's PA)"),
        _c("strikeouts", "INT64", "strikeouts"),
        _c("walks", "INT64", "walks"),
        _c(
            "strikes",
            "INT64",
            "strikes not put in play (called, swinging, fouls): Strikes + Balls + BIP = Pitches",
        ),
        _c("balls", "INT64", "balls"),
        _c("balls_in_play", "INT64", "balls put in play"),
        _c("whiffs", "INT64", "swinging strikes"),
        _c("called_strikes", "INT64", "called strikes"),
        _c("csw", "INT64", "called strikes plus whiffs"),
        *(
            _c(f"{code}_velo", "FLOAT64", f"mean release speed of his {name} (mph)")
            for code, name in PITCH_TYPES.items()
        ),
        *(
            _c(
                f"{code}_usage_v{side}",
                "FLOAT64",
                f"share of his pitches to {hand} batters: {name}",
            )
            for side, hand in (("r", "right-handed"), ("l", "left-handed"))
            for code, name in PITCH_TYPES.items()
        ),
        _c("source", "STRING", "the file the row came from"),
        _c("updated_at", "TIMESTAMP", "when the row was last written (UTC)"),
    ),
    key=("game_date", "player_name", "home_team", "away_team"),
    merge="replace",
)

UMPIRES = Table(
    "umpires",
    "Every umpire of Retrosheet's biographical file (`kcast ingest umpires`): his Retrosheet id "
    "(the id the event files and gameinfo.csv give for games.umpire_home) and his names, so that "
    "an umpire the MLB Stats API names (`CB Bucknor` = nickname + last name) is matched to his "
    "history.",
    (
        _c("umpire_id", "STRING", "Retrosheet id (abcde901)", True),
        _c("name_last", "STRING", "last name", True),
        _c("name_first", "STRING", "given names (Christopher Blake)"),
        _c("nickname", "STRING", "first name as used (CB)"),
        _c("full_name", "STRING", "nickname (else given names) and last name: CB Bucknor"),
        _c("ump_debut", "DATE", "first game as an MLB umpire"),
        _c("ump_last_game", "DATE", "last game as an MLB umpire in that release of the file"),
        _c("source", "STRING", "the file the row came from"),
        _c("updated_at", "TIMESTAMP", "when the row was last written (UTC)"),
    ),
    key=("umpire_id",),
    merge="replace",
)

PROP_LINES = Table(
    "prop_lines",
    "Sportsbook pitcher-strikeout lines. Every row is kept, matched to a pitcher or not.",
    (
        _c(
            "source",
            "STRING",
            "file kind or feed (odds_api, strikeoutcenter, steveliang, csv)",
            True,
        ),
        _c("game_date", "DATE", "date of the game", True),
        _c("pitcher_name", "STRING", "the name as the book spelled it", True),
        _c("book", "STRING", "sportsbook (or consensus)", True),
        _c("line", "FLOAT64", "the strikeout line, e.g. 5.5", True),
        _c(
            "snapshot", "STRING", "open, close, or posted (a single price with no open/close)", True
        ),
        _c("pitcher_id", "INT64", "MLBAM id the name resolved to (null when unmatched)"),
        _c("team", "STRING", "the pitcher's team where the source or the match says"),
        _c("game_id", "STRING", "the start this line was matched to (null if none)"),
        _c("over_odds", "INT64", "American odds for the over"),
        _c("under_odds", "INT64", "American odds for the under"),
        _c("captured_at", "TIMESTAMP", "when the price was captured (UTC)"),
        _c("game_time", "TIMESTAMP", "first pitch as the feed gives it (UTC), where it does"),
        _c("is_main", "BOOL", "the main line (offered by the most books) rather than an alternate"),
        _c("event_id", "STRING", "the feed's event id, where it has one"),
        _c("projection", "FLOAT64", "a projection shipped with the line (e.g. SaberSim), if any"),
        _c("match_note", "STRING", "how the name was matched, or why it was not"),
        _c("updated_at", "TIMESTAMP", "when the row was last written (UTC)"),
    ),
    key=("source", "game_date", "pitcher_name", "book", "line", "snapshot"),
)

INGEST_LOG = Table(
    "ingest_log",
    "One row per ingest run: what was read and how many rows each table gained.",
    (
        _c("run_id", "STRING", "unique id of the run", True),
        _c("started_at", "TIMESTAMP", "start (UTC)", True),
        _c("finished_at", "TIMESTAMP", "end (UTC)"),
        _c("kind", "STRING", "retrosheet, retrosheet-csv, starts, statsapi, lines, odds-api", True),
        _c("target", "STRING", "the file, folder, URL or date ingested"),
        _c("rows_read", "INT64", "rows or records read"),
        _c("rows_inserted", "INT64", "new rows across all tables"),
        _c("rows_updated", "INT64", "existing rows rewritten"),
        _c("status", "STRING", "ok or failed"),
        _c("message", "STRING", "the error, when it failed"),
    ),
    key=("run_id",),
)

SCHEMA_MIGRATIONS = Table(
    "schema_migrations",
    "Migrations applied to this warehouse.",
    (
        _c("version", "INT64", "migration number", True),
        _c("name", "STRING", "what it does", True),
        _c("applied_at", "TIMESTAMP", "when (UTC)", True),
    ),
    key=("version",),
)

MODEL_REGISTRY = Table(
    "model_registry",
    "Every trained model: which system, which version, where its file is, and which is active.",
    (
        _c("system_id", "STRING", "the prediction system", True),
        _c("version", "STRING", "model version (system, training cut-off, fingerprint)", True),
        _c(
            "path",
            "STRING",
            "where the model file is (JSON; metadata beside it as *.meta.json): a path relative "
            "to KCAST_MODEL_DIR, gs://BUCKET/PATH, or an absolute path outside the model folder",
            True,
        ),
        _c("sha256", "STRING", "the model file's SHA-256, checked whenever it is loaded"),
        _c("trained_through", "DATE", "trained only on games before this date", True),
        _c("training_rows", "INT64", "starts it learned from"),
        _c("metrics", "STRING", "held-out metrics (JSON)"),
        _c("features", "STRING", "feature list (JSON)"),
        _c("is_active", "BOOL", "the version `kcast predict` uses when no path is set", True),
        _c("created_at", "TIMESTAMP", "when it was trained (UTC)", True),
    ),
    key=("system_id", "version"),
    merge="replace",
)

# the decision's columns of a prediction row (``kcast.decision``), besides ``recommendation``
DECISION_COLUMNS = (
    "verdict",
    "decision",
    "decision_line",
    "decision_book",
    "decision_odds",
    "decision_ev",
    "stake",
    "alternate_line",
    "other_book",
    "decision_reason",
)

PREDICTIONS = Table(
    "pitcher_strikeout_predictions",
    "One row per pitcher per game per prediction system (system_id), with its grade once known.",
    (
        _c("game_id", "STRING", "games.game_id", True),
        _c("pitcher_id", "INT64", "MLBAM id", True),
        _c(
            "system_id",
            "STRING",
            "the prediction system that made the row (see MLB_ACTIVE_SYSTEMS)",
            True,
        ),
        _c("game_date", "DATE", "date of the game", True),
        _c("pitcher_name", "STRING", "for readers"),
        _c("team", "STRING", "the pitcher's team"),
        _c("opponent", "STRING", "the opposing team"),
        _c("is_home", "BOOL", "pitching at home"),
        _c(
            "model_version",
            "STRING",
            "the model that answered (kept for single-system readers)",
            True,
        ),
        _c(
            "predicted_strikeouts",
            "FLOAT64",
            "expected strikeouts (mean of the distribution)",
            True,
        ),
        _c("predicted_median", "INT64", "median of the distribution"),
        _c("k_p10", "INT64", "10th percentile"),
        _c("k_p90", "INT64", "90th percentile"),
        _c("line", "FLOAT64", "the sportsbook line used (null if none)"),
        _c("over_odds", "INT64", "American odds for the over"),
        _c("under_odds", "INT64", "American odds for the under"),
        _c("book", "STRING", "whose line it is (consensus, DraftKings, ...)"),
        _c(
            "model_p_over",
            "FLOAT64",
            "the system's own P(over), pushes excluded, before the market",
        ),
        _c("p_over", "FLOAT64", "P(strikeouts > line): the system pooled with the market"),
        _c("p_under", "FLOAT64", "P(strikeouts < line)"),
        _c("p_push", "FLOAT64", "P(strikeouts = line), whole-number lines only"),
        _c("market_p_over", "FLOAT64", "the market's de-vigged P(over)"),
        _c("edge", "FLOAT64", "predicted strikeouts minus the line"),
        _c("expected_value", "FLOAT64", "expected profit per unit staked on the recommended side"),
        _c("confidence", "FLOAT64", "0-100", True),
        _c(
            "recommendation",
            "STRING",
            "what the row tells you to do: the decision's side (OVER, UNDER), else PASS",
            True,
        ),
        _c("verdict", "STRING", "OVER, UNDER or PASS at the row's line by the thresholds"),
        _c("decision", "STRING", "bet, lean or pass (kcast.decision)"),
        _c("decision_line", "FLOAT64", "the line of the bet or lean (a bet's may be an alternate)"),
        _c("decision_book", "STRING", "the book whose price the bet or lean is at"),
        _c("decision_odds", "INT64", "the price of the bet or lean, American"),
        _c("decision_ev", "FLOAT64", "expected profit per unit of the bet or lean at its price"),
        _c("stake", "FLOAT64", "a bet's share of the day's bankroll (fractional Kelly, capped)"),
        _c("alternate_line", "BOOL", "the bet or lean is at another line than the row's"),
        _c("other_book", "BOOL", "the bet or lean is at another book than the row's"),
        _c("decision_reason", "STRING", "why: bet, lean or pass, and at which line and book"),
        _c("red_flags", "STRING", "comma-separated red flags"),
        _c("reasons", "STRING", "why PASS, or what the ensemble was missing"),
        _c(
            "lineup_status",
            "STRING",
            "the opposing lineup the features saw: confirmed, projected (the team's latest "
            "against that hand; red flag lineup_projected) or unavailable (team rates; red flag "
            "lineup_unavailable)",
        ),
        _c("pmf", "STRING", "the distribution: JSON list of P(0..20 strikeouts)"),
        _c("created_at", "TIMESTAMP", "when predicted (UTC)", True),
        _c("actual_strikeouts", "INT64", "what happened (after grading)"),
        _c("result", "STRING", "win, loss, push, or no_line (after grading); null before"),
        _c("graded_at", "TIMESTAMP", "when graded (UTC)"),
    ),
    key=("game_id", "pitcher_id", "system_id"),
    merge="replace",
)

BETS = Table(
    "bets",
    "One row per pick of a betting rule: a system's side of a line at a book's price, decided "
    "at a time, judged by the fair close once graded; a bet (its rule live, kcast.gate) is "
    "staked by fractional Kelly, a lean is not. Re-deciding a day "
    "(`kcast predict`, `kcast daily`) leaves exactly the bets the latest decision takes for "
    "that day's games, systems and strategy (the decision time and books are not in the key: "
    "the latest decision is the bet); a placed bet is history: one graded (a result) or of "
    "a game under way is kept as it was, never deleted or rewritten by a re-run.",
    (
        _c("system_id", "STRING", "the prediction system whose probability made the bet", True),
        _c("game_id", "STRING", "games.game_id", True),
        _c("pitcher_id", "INT64", "MLBAM id", True),
        _c("strategy", "STRING", "the bet rule: ev (default), move or signal (kcast.bets)", True),
        _c("game_date", "DATE", "date of the game", True),
        _c("side", "STRING", "OVER or UNDER", True),
        _c("line", "FLOAT64", "the rung bet (the main line or an alternate)", True),
        _c("main_line", "FLOAT64", "the market's main line at the decision time"),
        _c("book", "STRING", "the book whose price was taken (the best among KCAST_BOOKS)", True),
        _c("odds", "INT64", "the price taken, American", True),
        _c("decided_at", "TIMESTAMP", "when the decision was made (UTC)", True),
        _c("decision_time", "STRING", "open, close, HH:MM (US Eastern) or now"),
        _c("stake", "FLOAT64", "share of the bankroll staked (fractional Kelly, capped)"),
        _c("p_win", "FLOAT64", "the stated probability the bet wins"),
        _c(
            "ev",
            "FLOAT64",
            "expected profit per unit at the price taken, by the stated probability",
        ),
        _c("model_p_over", "FLOAT64", "the system's own P(over) at the main line"),
        _c("stated_p_over", "FLOAT64", "P(over) at the main line, the system with the market"),
        _c("fair_p_decision", "FLOAT64", "the market's fair probability of the side bet then"),
        _c("fair_p_close", "FLOAT64", "the fair closing probability of the side bet (graded)"),
        _c("clv", "FLOAT64", "closing-line value: fair_p_close - fair_p_decision"),
        _c("ev_close", "FLOAT64", "expected profit per unit of the price taken at the fair close"),
        _c("result", "STRING", "win, loss or push (after grading); null before"),
        _c("profit", "FLOAT64", "stake times the units won (after grading)"),
        _c("source", "STRING", "predict, daily, worker, api or backtest"),
        _c("reason", "STRING", "why the bet: its rung, book and EV (the prediction row's too)"),
        _c(
            "status",
            "STRING",
            "bet (its rule is live: staked) or lean (its rule is not live: never staked, "
            "graded to grow the rule's record; never in the money figures)",
        ),
        _c("market", "STRING", "main (the rung is the market's main line) or alternate"),
        _c("created_at", "TIMESTAMP", "when written (UTC)", True),
        _c("graded_at", "TIMESTAMP", "when graded (UTC)"),
    ),
    key=("system_id", "game_id", "pitcher_id", "strategy"),
    merge="replace",
)

PREDICTION_SNAPSHOTS = Table(
    "prediction_snapshots",
    "An earlier answer of a prediction row, kept when a new prediction of the same pitcher, game "
    "and system replaced it with another answer (a lineup confirmed, a line moved, a model "
    "retrained): the stored row as it was, and when and what changed. "
    "`kcast query prediction_changes --date D` shows them beside the current rows.",
    (
        *(replace(c, required=c.required or c.name == "created_at") for c in PREDICTIONS.columns),
        _c("replaced_at", "TIMESTAMP", "when the new prediction replaced this one (UTC)", True),
        _c(
            "changes",
            "STRING",
            "what the new prediction changed, column: before -> after, e.g. "
            "'lineup_status: projected -> confirmed; predicted_strikeouts: 5.12 -> 5.48'",
        ),
    ),
    key=("game_id", "pitcher_id", "system_id", "created_at"),
    merge="replace",
)

ALERTS_SENT = Table(
    "alerts_sent",
    "One row per webhook alert and webhook (kcast.webhook_alerts): what was sent, so that each "
    "alert goes once; a failed one is tried again by the next run.",
    (
        _c(
            "alert_key",
            "STRING",
            "what makes the alert once: kind, system, start, side, line",
            True,
        ),
        _c(
            "webhook",
            "STRING",
            "a hash of the webhook's URL (the URL itself is never stored)",
            True,
        ),
        _c("kind", "STRING", "new_bet, lineup, scratched or price_move", True),
        _c("game_date", "DATE", "the day of the game", True),
        _c("text", "STRING", "the alert as sent"),
        _c("fields", "STRING", "the alert's fields (JSON): the bet, and the lineup then"),
        _c("status", "STRING", "sent or failed", True),
        _c("error", "STRING", "why it failed, after its retries"),
        _c("sent_at", "TIMESTAMP", "when it was sent (UTC)"),
        _c("created_at", "TIMESTAMP", "when last tried (UTC)", True),
    ),
    key=("alert_key", "webhook"),
    merge="replace",
)

FOUNDATION_TABLES = (
    SCHEMA_MIGRATIONS,
    PLAYERS,
    GAMES,
    PITCHER_GAMES,
    TEAM_BATTING_GAMES,
    PROP_LINES,
    INGEST_LOG,
    PLATE_APPEARANCES,
    LINEUPS,
    PITCH_MIX_STARTS,
    UMPIRES,
)

PREDICTION_TABLES = (MODEL_REGISTRY, PREDICTIONS, BETS, PREDICTION_SNAPSHOTS, ALERTS_SENT)

TABLES: dict[str, Table] = {t.name: t for t in FOUNDATION_TABLES + PREDICTION_TABLES}


def markdown() -> str:
    """``docs/warehouse.md``: every table and column (``python -m kcast.warehouse.schema``)."""
    out = [
        "# Warehouse tables",
        "",
        "Generated from `src/kcast/warehouse/schema.py` (`python -m kcast.warehouse.schema >"
        " docs/warehouse.md`); a test keeps the two in step. Types are BigQuery's; DuckDB uses"
        " BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP and BOOLEAN. Every write is a MERGE on the"
        " table's key, so re-running an ingest never duplicates a row.",
        "",
    ]
    for table in TABLES.values():
        out += [f"## `{table.name}`", "", table.doc, "", f"Key: `{', '.join(table.key)}`."]
        if table.rank:
            out.append(
                f"Sources merge by `{table.rank}`: a higher-ranked source's values win and a lower"
                " one only fills gaps ("
                + ", ".join(f"{k} {v}" for k, v in SOURCE_RANK.items())
                + ")."
            )
        elif table.merge == "replace":
            out.append("A new row for a key replaces the stored one.")
        out += ["", "| column | type | | meaning |", "|---|---|---|---|"]
        for c in table.columns:
            flag = "key" if c.name in table.key else ("required" if c.required else "")
            out.append(f"| `{c.name}` | {c.type} | {flag} | {c.doc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown())
