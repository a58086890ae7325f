"""Name matching with real people: the Chadwick register and who pitched in 2022 (Retrosheet)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from kcast.data.names import (
    AMBIGUOUS,
    NO_APPEARANCE,
    NO_GAMES,
    RELIEF,
    START,
    UNKNOWN_NAME,
    NameMatcher,
)
from kcast.teams import canonical_team
from tests.conftest import RETRO_CSV, STATCAST

D = dt.date


@pytest.fixture(scope="module")
def appearances_2022(register) -> pd.DataFrame:
    """Every regular-season pitcher-game of 2022 from Retrosheet's pitching.csv, by MLBAM id."""
    rows = pd.read_csv(RETRO_CSV / "2022pitching.csv.gz", dtype=str)
    rows = rows[rows["gametype"] == "regular"]
    return pd.DataFrame(
        {
            "pitcher_id": rows["id"].map(register.retro_to_mlbam),
            "game_date": pd.to_datetime(rows["date"], format="%Y%m%d").dt.date,
            "team": rows["team"].map(canonical_team),
            "game_id": rows["gid"],
            "is_start": rows["p_gs"] == "1",
        }
    )


@pytest.fixture(scope="module")
def matcher(register, appearances_2022) -> NameMatcher:
    return NameMatcher(register, appearances_2022)


@pytest.fixture(scope="module")
def bare(register) -> NameMatcher:
    """The register alone: names, no appearances."""
    return NameMatcher(register)


@pytest.mark.parametrize(
    ("name", "mlbam"),
    [
        ("Carlos Rodon", 607074),  # the register has Rodón
        ("Carlos Rodón", 607074),
        ("JT Brubaker", 664141),
        ("J.T. Brubaker", 664141),
        ("J. T. Brubaker", 664141),
        ("A.J. Minter", 621345),  # the register has "A. J."
        ("AJ Minter", 621345),
        ("Lance McCullers Jr.", 621121),
        ("Matt Liberatore", 669461),  # the register has Matthew
        ("Matthew Liberatore", 669461),
        ("Zach Littell", 641793),  # the register has Zack
        ("Zack Littell", 641793),
        ("Hyun-Jin Ryu", 547943),
        ("Hyun Jin Ryu", 547943),
        ("Jacob DeGrom", 594798),  # the register has deGrom
        ("Sandy Alcantara", 645261),
        ("Cam Smith", 701358),  # Cameron Vaughn Smith
    ],
)
def test_register_spellings(bare: NameMatcher, name: str, mlbam: int) -> None:
    assert bare.candidates(name) == {mlbam}


def test_suffix_and_seasons_tell_father_and_son_apart(bare: NameMatcher) -> None:
    """Lance McCullers Sr. pitched 1985-1992; his son from 2015."""
    assert bare.candidates("Lance McCullers") == {621121, 118617}
    assert bare.candidates("Lance McCullers Sr.") == {118617}
    match = bare.resolve("Lance McCullers", D(2022, 6, 1), ["HOU"])
    assert (match.pitcher_id, match.status) == (621121, NO_GAMES)


def test_same_name_told_apart_by_team_and_date(matcher: NameMatcher) -> None:
    """2022-04-30: Houston's Luis Garcia started, San Diego's Luis García relieved."""
    houston = matcher.resolve("Luis Garcia", D(2022, 4, 30), ["HOU", "MIN"])
    assert (houston.pitcher_id, houston.status) == (677651, START)
    assert houston.game_id is not None and houston.team == "HOU"
    san_diego = matcher.resolve("Luis Garcia", D(2022, 4, 30), ["SDN", "CIN"])
    assert (san_diego.pitcher_id, san_diego.status) == (472610, RELIEF)
    assert san_diego.game_id is None  # a relief appearance is not a start
    # with no team, the one who started wins
    assert matcher.resolve("Luis Garcia", D(2022, 4, 30)).pitcher_id == 677651


def test_two_will_smiths(matcher: NameMatcher) -> None:
    """The Braves' reliever pitched on 2022-04-08; the Dodgers' catcher never pitches."""
    match = matcher.resolve("Will Smith", D(2022, 4, 8), ["ATL", "CIN"])
    assert (match.pitcher_id, match.status) == (519293, RELIEF)
    # a day neither pitched: the Braves' game points at the one who last pitched for Atlanta
    idle = matcher.resolve("Will Smith", D(2022, 4, 10), ["ATL", "WAS"])
    assert (idle.pitcher_id, idle.status, idle.game_id) == (519293, NO_APPEARANCE, None)
    assert "pitched for ATL most recently, on 2022-04-09" in idle.note
    # with no team to go by, nothing tells them apart
    unknown = matcher.resolve("Will Smith", D(2022, 4, 10))
    assert unknown.pitcher_id is None and unknown.status == AMBIGUOUS
    assert "519293" in unknown.note and "669257" in unknown.note


@pytest.mark.parametrize(
    ("name", "date", "team", "mlbam"),
    [
        ("Calb Kilian", D(2022, 6, 15), "CHN", 668873),  # typo for Caleb
        ("Tyler Megill", D(2022, 6, 16), "NYN", 656731),  # Tylor; Trevor Megill is his brother
        ("Trevor Rodgers", D(2022, 6, 14), "MIA", 669432),  # Rogers
        ("Christian Javier", D(2022, 6, 19), "HOU", 664299),  # Cristian
    ],
)
def test_misspelled_names_resolve_to_the_teams_starter(
    matcher: NameMatcher, name: str, date: dt.date, team: str, mlbam: int
) -> None:
    match = matcher.resolve(name, date, [team])
    assert (match.pitcher_id, match.status) == (mlbam, START)
    assert "close name" in match.note


def test_a_typo_needs_the_team(matcher: NameMatcher) -> None:
    """Without a team there is nothing to compare a misspelled name with."""
    match = matcher.resolve("Calb Kilian", D(2022, 6, 15))
    assert match.pitcher_id is None and match.status == UNKNOWN_NAME


def test_swapped_first_and_last_name(register) -> None:
    """A book's "Daniel Davis" was the Braves' Davis Daniel, who started on 2025-07-22."""
    starts = pd.read_csv(STATCAST / "joey11600_starts_2024_2025.csv.gz")
    day = starts[starts["game_date"] == "2025-07-22"]
    frame = pd.DataFrame(
        {
            "pitcher_id": day["pitcher"],
            "game_date": pd.to_datetime(day["game_date"]).dt.date,
            "team": day["pitcher_team"].map(canonical_team),
            "game_id": "pk" + day["game_pk"].astype(str),
            "is_start": True,
        }
    )
    match = NameMatcher(register, frame).resolve("Daniel Davis", D(2025, 7, 22), ["ATL", "SFN"])
    assert (match.pitcher_id, match.status, match.team) == (669721, START, "ATL")


def test_resolved_but_no_appearance(matcher: NameMatcher) -> None:
    """Aaron Civale had a line for 2022-07-01 and started the next day."""
    match = matcher.resolve("Aaron Civale", D(2022, 7, 1), ["CLE"])
    assert (match.pitcher_id, match.status, match.game_id) == (650644, NO_APPEARANCE, None)
    assert "started on 2022-07-02" in match.note


def test_no_games_that_day(matcher: NameMatcher) -> None:
    match = matcher.resolve("Max Scherzer", D(2022, 12, 25), ["NYN"])
    assert (match.pitcher_id, match.status) == (453286, NO_GAMES)


def test_unknown_name(matcher: NameMatcher) -> None:
    match = matcher.resolve("Nobody Atallnamed", D(2022, 6, 15), ["CHN"])
    assert match.pitcher_id is None and match.status == UNKNOWN_NAME
    assert match.note.startswith("unknown_name:")


def test_given_id_skips_the_name(matcher: NameMatcher) -> None:
    match = matcher.resolve("", D(2022, 4, 30), ["HOU"], pitcher_id=677651)
    assert (match.pitcher_id, match.status) == (677651, START)
