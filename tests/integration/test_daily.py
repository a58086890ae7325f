"""``kcast daily`` lived day by day: a short replay of real 2025 days (benchmarks/replay_season.py
has the 30-day one) with the worker serving throughout, the MLB Stats API (schedules, posted
lineups, boxscores and live feeds assembled from the 2025 event files) and The Odds API served
from loopback in their real shapes, faults on some runs, a scratched starter and a postponed
game; then the feed's plate appearances against the event files', and the stored predictions
against the walk-forward backtest on the same warehouse with the event files loaded."""

from __future__ import annotations

import datetime as dt
import gzip
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import EVENTS, PROPS, REGISTER_FILE, REPO, STATCAST

sys.path.insert(0, str(REPO / "benchmarks"))
import replay_season  # noqa: E402

START = dt.date(2025, 6, 4)  # 2025-06-05 has a doubleheader (SLN)
DAYS = 5
FOLLOWED = dt.date(2025, 5, 28)  # the week before: read through the Stats API, no predictions
STARTS = STATCAST / "joey11600_starts_2024_2025.csv.gz"
LINES = PROPS / "strikeoutcenter_k_props_2025.csv.gz"
FAULTS = {
    (1, 0): {"statsapi": "500"},  # the morning's slate: 500 on every attempt
    (2, 1): {"odds": "429-once"},  # 429 with Retry-After once: the retry gets the snapshot
    (2, 2): {"odds": "malformed"},  # a body that is not JSON
    (3, 0): {"boxscore": "timeout"},  # yesterday's boxscores: no answer within the timeout
    (4, 0): {"feed": "500"},  # yesterday's live feeds: 500 on every attempt
}


@pytest.fixture(scope="module")
def season_warehouse(tmp_path_factory: pytest.TempPathFactory, register) -> Path:
    """History (Retrosheet's 2024 event file) and the real lines of the replayed days: none of
    2025 but its lines, which the replay follows from FOLLOWED on through the Stats API."""
    from kcast.data.lines import ingest_lines
    from kcast.data.retrosheet import ingest_retrosheet
    from kcast.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("season")
    lines = pd.read_csv(LINES)
    days = pd.to_datetime(lines["game_date"]).dt.date
    window = lines[(days >= START) & (days < START + dt.timedelta(days=DAYS))]
    part = root / "lines.csv.gz"
    with gzip.open(part, "wt") as f:
        window.to_csv(f, index=False)
    path = root / "season.duckdb"
    wh = open_warehouse(str(path))
    try:
        ingest_retrosheet(wh, [EVENTS / "2024eve.zip"], register, workers=2)
        ingest_lines(wh, part, register, fmt="strikeoutcenter")
    finally:
        wh.close()
    return path


@pytest.fixture(scope="module")
def replayed(season_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    return replay_season.replay(
        season_warehouse,
        tmp_path_factory.mktemp("replay"),
        START,
        DAYS,
        REGISTER_FILE,
        EVENTS / "2025eve.zip",
        STARTS,
        first=FOLLOWED,
        faults=FAULTS,
        scratch_day=0,
        postpone_day=2,
        props_csv=LINES,
        log=lambda *a: None,
    )


def test_each_fault_fails_its_step_and_the_next_run_completes_it(replayed) -> None:
    runs = {(r.day, r.index): r for r in replayed.runs}
    day = [START + dt.timedelta(days=i) for i in range(DAYS)]
    slate = runs[(day[1], 0)]
    assert slate.exit_code == 1 and "schedule" in slate.failed
    assert "500" in slate.failed["schedule"]
    assert runs[(day[1], 1)].steps["schedule"] == "ok"
    assert runs[(day[1], 1)].steps["predict"] == "ok"  # the slate came, so did its predictions
    assert runs[(day[2], 1)].steps["odds"] == "ok"  # one 429, then the retry
    bad_json = runs[(day[2], 2)]
    assert bad_json.exit_code == 1 and list(bad_json.failed) == ["odds"]
    assert runs[(day[2], 3)].steps["odds"] == "ok"
    box = runs[(day[3], 0)]
    assert box.exit_code == 1 and "results" in box.failed
    assert "unavailable" in box.failed["results"]
    assert runs[(day[3], 1)].steps["results"] == "ok"
    feed = runs[(day[4], 0)]
    assert feed.exit_code == 1 and "results" in feed.failed
    assert "live feed of" in feed.failed["results"]
    assert runs[(day[4], 1)].steps["results"] == "ok"
    clean = [r for r in replayed.runs if not r.faults]
    assert all(r.exit_code == 0 for r in clean), [(r.day, r.index, r.failed) for r in clean]


def test_every_start_predicted_and_graded_nothing_duplicated(replayed) -> None:
    c = replayed.checks
    assert c["starts_missing"] == 0
    assert c["finished_starts_without_prediction"] == 0
    assert c["finished_starts_ungraded"] == 0 and c["ungraded_total"] == 0
    assert c["duplicate_prediction_keys"] == 0
    assert c["pitcher_in_two_games_one_day"] == 0
    assert c["duplicate_line_keys"] == 0
    assert c["monitoring_views_agree"]
    assert {"SLN202506051", "SLN202506052"} <= set(c["doubleheader_games"])
    # every odds capture kept beside the open and close rows
    assert c["odds_rows"]["distinct capture snapshots"] > DAYS
    assert c["odds_rows"]["kept captures"] > c["odds_rows"]["close"]


def test_scratched_and_postponed_starters_are_void_and_the_replacement_is_predicted(
    replayed,
) -> None:
    c = replayed.checks
    scratch, postpone = c["injected"]["scratch"], c["injected"]["postpone"]
    void = {(v["game_id"], v["pitcher_id"]) for v in c["void"]}
    assert (scratch["game_id"], scratch["scratched"]) in void
    assert {g for g, _ in void} == {scratch["game_id"], postpone["game_id"]}
    assert c["games_postponed"] == 1
    systems = len(c["predictions_by_system"])
    assert c["graded_by_result"]["void"] == systems * len(void)  # every system's row
    # the replacement (the real starter) is predicted and graded for the same game
    only = replayed.comparison["only_in_daily"]
    assert all(r["result"] == "void" for r in only)


def test_predictions_equal_the_backtest_or_the_difference_is_explained(replayed) -> None:
    cmp = replayed.comparison
    assert cmp["only_in_backtest_count"] == 0
    assert cmp["matched_rows"] == cmp["backtest_rows"]
    assert cmp["differences_unexplained_count"] == 0, cmp["differences_unexplained"]
    assert cmp["rows_equal_in_every_column"] >= 0.9 * cmp["matched_rows"]


def test_the_worker_served_throughout_without_a_5xx(replayed) -> None:
    assert replayed.worker["5xx"] == 0, replayed.worker["errors"]
    assert replayed.worker["answers"].get(200, 0) > 0
    assert replayed.worker["health_at_end"] == "ok"


def test_kcast_daily_command_reports_steps_and_exits_1_on_a_failed_step(
    tmp_path: Path, monkeypatch
) -> None:
    """The command itself: no Stats API to reach (a closed loopback port) fails the slate
    steps; without ODDS_API_KEY the odds step is skipped; the exit code is 1."""
    from kcast.cli import app

    monkeypatch.setenv("KCAST_WAREHOUSE", str(tmp_path / "empty.duckdb"))
    monkeypatch.setenv("KCAST_STATSAPI_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("KCAST_HTTP_RETRIES", "0")
    monkeypatch.delenv("ODDS_API_KEY", raising=False)
    made = CliRunner().invoke(app, ["warehouse", "migrate"])
    assert made.exit_code == 0, made.output
    result = CliRunner().invoke(app, ["daily", "--date", "2025-06-04", "--json"])
    assert result.exit_code == 1, result.output
    import json

    report = json.loads(result.output)
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["schedule"]["status"] == "failed"
    assert "SourceUnavailableError" in steps["schedule"]["detail"]
    assert steps["odds"]["status"] == "skipped"
    assert steps["predict"]["status"] == "skipped"
    assert report["exit_code"] == 1


def test_the_feeds_give_the_event_files_plate_appearances(replayed) -> None:
    """Every plate appearance of the followed and replayed days, from the live feeds, equals
    the event files' in everything the features read (the game the replay postponed aside)."""
    pa = replayed.checks["plate_appearances"]
    assert pa["stored"] == pa["in_event_files"] > 0
    assert pa["only_stored"] == pa["only_in_event_files"] == 0
    assert pa["sources"] == {"statsapi_feed": pa["stored"]}
    assert pa["differences_by_column"] == {}
    assert replayed.checks["followed_before_start"]["days"] == (START - FOLLOWED).days


def test_a_posted_lineup_predicts_the_starter_again(replayed) -> None:
    """Night games are predicted in the morning on projected lineups; their lineups post four
    hours before first pitch, and the next run predicts them again on the confirmed ones: the
    rows end confirmed (but where no run came between the posting and first pitch), the
    earlier answers are kept in prediction_snapshots."""
    c = replayed.checks
    status = c["lineups_at_end"]
    assert status.get("confirmed", 0) >= 0.9 * sum(status.values()), status
    assert c["snapshots"]["lineup projected -> confirmed"] > 0
