"""Game ids: making them, and finding a source's game among the stored ones."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from kcast.data.gameids import (
    PitcherDays,
    StoredGames,
    canonical_game_id,
    doubleheader_numbers,
    free_game_id,
    game_stem,
    new_game_id,
    place_schedule_games,
    place_start_games,
    relocate_rows,
)
from kcast.errors import InputError, UnknownTeamError

DAY = dt.date(2024, 7, 1)


def _game(pk: int, home: str, away: str, number: int = 0, start: str | None = None) -> dict:
    return {
        "mlb_game_pk": pk,
        "game_date": DAY,
        "home_team": home,
        "away_team": away,
        "game_number": number,
        "start_time": start,
    }


def _stored(*rows: tuple) -> pd.DataFrame:
    cols = ["game_id", "game_date", "home_team", "away_team", "game_number", "mlb_game_pk"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)


# --- making ids -------------------------------------------------------------------------------


def test_new_game_id_and_stem() -> None:
    assert game_stem("CHN", DAY) == "CHN20240701"
    assert new_game_id("CHN", DAY) == "CHN202407010"
    assert new_game_id("NYA", dt.date(2024, 9, 28), 2) == "NYA202409282"
    # dates as the warehouse returns them
    assert new_game_id("CHN", pd.Timestamp("2024-07-01"), 1) == "CHN202407011"
    assert new_game_id("CHN", "2024-07-01") == "CHN202407010"
    with pytest.raises(InputError, match="game number 10"):
        new_game_id("CHN", DAY, 10)


def test_doubleheaders_are_numbered_from_one() -> None:
    assert doubleheader_numbers(1) == [0]
    assert doubleheader_numbers(2) == [1, 2]
    assert doubleheader_numbers(3) == [1, 2, 3]
    assert doubleheader_numbers(0) == []


def test_a_taken_id_moves_to_the_first_free_number() -> None:
    assert free_game_id("CHN", DAY, 0, set()) == "CHN202407010"
    assert free_game_id("CHN", DAY, 0, {"CHN202407010"}) == "CHN202407011"
    assert free_game_id("CHN", DAY, 2, {"CHN202407011"}) == "CHN202407012"
    taken = {"CHN202407012", "CHN202407011"}
    assert free_game_id("CHN", DAY, 2, taken) == "CHN202407013"
    everything = {new_game_id("CHN", DAY, n) for n in range(10)}
    with pytest.raises(InputError, match="more than 10 games at CHN on 2024-07-01"):
        free_game_id("CHN", DAY, 0, everything)


# --- stored games -------------------------------------------------------------------------------


def test_stored_games_by_pk_slot_and_teams() -> None:
    stored = StoredGames(
        _stored(
            ("TOR202407011", DAY, "TOR", "HOU", 1, 744914),
            ("WAS202407012", DAY, "WAS", "NYN", 2, None),
            ("CHN202407010", pd.Timestamp(DAY), "CHN", "SLN", None, float("nan")),
        )
    )
    assert stored.by_pk(744914) == "TOR202407011"
    assert stored.by_pk(744914, DAY) == "TOR202407011"
    assert stored.by_pk(744914, DAY + dt.timedelta(days=1)) is None
    assert stored.by_pk(1) is None
    assert stored.pk_of("TOR202407011") == 744914 and stored.pk_of("WAS202407012") is None
    assert stored.with_pk() == {"TOR202407011"}
    # slots and teams find only the games without a gamePk
    assert stored.by_slot("WAS", DAY, 2) == "WAS202407012"
    assert stored.by_slot("CHN", DAY, 0) == "CHN202407010"  # a missing number is 0
    assert stored.by_slot("TOR", DAY, 1) is None
    assert stored.by_teams("WAS", "NYN", DAY) == ["WAS202407012"]
    assert stored.by_teams("NYN", "WAS", DAY) == []
    assert StoredGames(None).by_pk(744914) is None


def test_pitcher_days_find_the_start_of_a_doubleheader() -> None:
    rows = pd.DataFrame(
        {
            "game_id": ["NYA202409281", "NYA202409282", "NYA202409281", "BOS202409280"],
            "pitcher_id": [1, 1, 2, 3],
            "game_date": [pd.Timestamp("2024-09-28")] * 4,
            "is_start": [False, True, True, True],
        }
    )
    days = PitcherDays(rows)
    day = dt.date(2024, 9, 28)
    assert days.games(1, day) == ["NYA202409281", "NYA202409282"]
    assert days.game_of(1, day) == "NYA202409282"  # he started the second game
    assert days.game_of(1, day, is_start=False) == "NYA202409281"
    assert days.game_of(2, day, is_start=False) == "NYA202409281"  # his only game that day
    assert days.game_of(4, day) is None
    # two starts the same day: no single answer
    both = PitcherDays(rows.assign(is_start=True))
    assert both.candidates(1, day) == ["NYA202409281", "NYA202409282"]
    assert both.game_of(1, day) is None


# --- schedules ----------------------------------------------------------------------------------


def test_schedule_reuses_by_pk_and_by_slot() -> None:
    existing = _stored(
        ("TOR202407011", DAY, "TOR", "HOU", 1, 744914),  # by gamePk, though numbered 1
        ("COL202407010", DAY, "COL", "MIL", 0, None),  # by slot: same home, date, number
        ("WAS202407012", DAY, "WAS", "NYN", 2, None),  # by teams: numbered differently
    )
    games = [
        _game(744914, "TOR", "HOU"),
        _game(746535, "COL", "SDN"),
        _game(744840, "WAS", "NYN"),
        _game(745000, "CHN", "SLN"),
    ]
    assert place_schedule_games(games, existing) == []
    ids = [g["game_id"] for g in games]
    assert ids == ["TOR202407011", "COL202407010", "WAS202407012", "CHN202407010"]


def test_schedule_doubleheader_keeps_both_games() -> None:
    """A stored game without a gamePk is matched by teams only when the slate has one game of
    the two teams: a doubleheader's games get their own slots."""
    existing = _stored(("NYA202407011", DAY, "NYA", "BAL", 1, None))
    games = [
        _game(2, "NYA", "BAL", 2, "2024-07-01T23:05:00Z"),
        _game(1, "NYA", "BAL", 1, "2024-07-01T17:05:00Z"),
    ]
    assert place_schedule_games(games, existing) == []
    assert [g["game_id"] for g in games] == ["NYA202407012", "NYA202407011"]


def test_schedule_taken_id_gets_the_next_number_with_a_note() -> None:
    twins = [_game(1, "CHN", "ANA"), _game(2, "CHN", "SFN")]
    notes = place_schedule_games(twins)
    assert [g["game_id"] for g in twins] == ["CHN202407010", "CHN202407011"]
    assert notes == [
        "game 2: CHN202407010 was taken by another game that day; stored as CHN202407011"
    ]


def test_schedule_pk_on_another_day_is_a_new_game() -> None:
    """A postponed game keeps its gamePk; the made-up game on another date is a new game."""
    existing = _stored(("TOR202406300", DAY - dt.timedelta(days=1), "TOR", "HOU", 0, 744914))
    games = [_game(744914, "TOR", "HOU")]
    place_schedule_games(games, existing)
    assert games[0]["game_id"] == "TOR202407010"


# --- start logs ---------------------------------------------------------------------------------


def _starts(*rows: tuple) -> pd.DataFrame:
    cols = ["game_pk", "game_date", "pitcher", "home_team"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)


def test_start_log_doubleheader_is_numbered_in_pk_order() -> None:
    starts = _starts(
        (902, DAY, 10, "NYA"), (902, DAY, 11, "NYA"),
        (901, DAY, 12, "NYA"), (901, DAY, 13, "NYA"),
        (903, DAY, 14, "BOS"), (903, DAY, 15, "BOS"),
    )  # fmt: skip
    ids, notes = place_start_games(starts, StoredGames(), PitcherDays())
    assert ids == {901: "NYA202407011", 902: "NYA202407012", 903: "BOS202407010"}
    assert notes == []


def test_start_log_reuses_by_pk_then_by_pitcher_day() -> None:
    stored = StoredGames(
        pd.DataFrame({"game_id": ["NYA202407012"], "mlb_game_pk": [902], "game_date": [DAY]})
    )
    rows = pd.DataFrame(
        {
            "game_id": ["BOS202407011", "BOS202407012"],
            "pitcher_id": [14, 14],
            "game_date": [DAY, DAY],
            "is_start": [False, True],
        }
    )
    starts = _starts((902, DAY, 10, "NYA"), (903, DAY, 14, "BOS"), (903, DAY, 15, "BOS"))
    ids, notes = place_start_games(starts, stored, PitcherDays(rows))
    assert ids == {902: "NYA202407012", 903: "BOS202407012"}
    assert notes == []


def test_start_log_never_takes_another_pks_game() -> None:
    """A starter's stored game that belongs to another gamePk is not reused, and a new id
    skips the numbers held by stored games with a gamePk."""
    stored = StoredGames(
        pd.DataFrame({"game_id": ["NYA202407010"], "mlb_game_pk": [800], "game_date": [DAY]})
    )
    rows = pd.DataFrame(
        {"game_id": ["NYA202407010"], "pitcher_id": [10], "game_date": [DAY], "is_start": [True]}
    )
    starts = _starts((902, DAY, 10, "NYA"))
    ids, notes = place_start_games(starts, stored, PitcherDays(rows))
    assert ids == {902: "NYA202407011"}
    assert notes == ["game_pk 902: NYA202407010 already belongs to another game_pk; new id"]


# --- relocating lower-ranked rows ---------------------------------------------------------------


def test_relocate_rows_moves_a_misnumbered_doubleheader_start() -> None:
    day = dt.date(2024, 9, 28)
    lower = pd.DataFrame(
        {
            "game_id": ["NYA202409281", "NYA202409282", "BOS202409280"],
            "pitcher_id": [1, 2, 3],
            "game_date": [day] * 3,
            "is_start": [True, True, True],
        }
    )
    ours = pd.DataFrame(
        {
            "game_id": ["NYA202409282", "NYA202409281", "NYA202409282", "BOS202409280"],
            "pitcher_id": [1, 2, 2, 3],
            "game_date": [day] * 4,
            "is_start": [True, False, True, True],
        }
    )
    moves, notes = relocate_rows(lower, ours)
    # pitcher 1 moves to the game he started; pitcher 2 already has a row in his game (he
    # pitched in both), and pitcher 3 is in place
    assert moves.to_dict("records") == [
        {"game_id": "NYA202409281", "pitcher_id": 1, "game_id_new": "NYA202409282"}
    ]
    assert notes == []
    # a pitcher who started both games of the doubleheader: no single game to move to
    guess = lower.iloc[[0]].assign(game_id="NYA202409280")
    both = ours.iloc[[0, 1]].assign(pitcher_id=1, is_start=True)
    moves, notes = relocate_rows(guess, both)
    assert moves.empty
    assert notes == ["pitcher 1's row in NYA202409280 matches several games; kept"]


def test_canonical_game_id_spells_the_home_team_as_kcast() -> None:
    """Retrosheet's 2025 files call the Athletics ATH; kcast files their games as OAK, the id
    the Stats API and the start log build, so the sources meet on one id."""
    assert canonical_game_id("ATH202503280") == "OAK202503280"
    assert canonical_game_id("OAK202409260") == "OAK202409260"
    assert canonical_game_id("NYA201904011") == "NYA201904011"
    with pytest.raises(UnknownTeamError, match=r"2025ABC\.EVA, line 3: unknown team code 'XYZ'"):
        canonical_game_id("XYZ202504010", "2025ABC.EVA", 3)
