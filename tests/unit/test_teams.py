"""Team names: Retrosheet's codes inside the warehouse, MLB's spellings in every answer."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

from kcast import teams
from kcast.teams import TEAMS, canonical_team, display_team, display_teams, team_name


@pytest.mark.parametrize(
    ("code", "season", "shown"),
    [
        ("SDN", 2025, "SD"),
        ("WAS", 2025, "WSH"),
        ("TBA", 2025, "TB"),
        ("CHA", 2025, "CWS"),
        ("NYN", 2025, "NYM"),
        ("OAK", 2025, "ATH"),
        ("OAK", 2024, "OAK"),
        ("OAK", "2019-07-13", "OAK"),
        ("OAK", pd.Timestamp("2025-07-20"), "ATH"),
        ("NYY", 2019, "NYY"),  # an MLB spelling goes through unchanged
        ("ATH", 2024, "OAK"),
    ],
)
def test_display_team(code: str, season: object, shown: str) -> None:
    assert display_team(code, season) == shown


def test_every_display_spelling_is_accepted_back() -> None:
    for code in TEAMS:
        for season in (2019, 2025):
            assert canonical_team(display_team(code, season)) == code
            assert canonical_team(team_name(code, season)) == code


def test_unknown_or_missing_values_pass_through() -> None:
    assert display_team(None) is None and display_team("XYZ") == "XYZ"
    assert team_name("XYZ") == "XYZ"


def test_display_teams_on_a_frame() -> None:
    frame = pd.DataFrame(
        {
            "team": ["OAK", "SDN"],
            "opponent": ["SDN", "OAK"],
            "game_date": ["2024-09-01", "2025-07-20"],
        }
    )
    out = display_teams(frame)
    assert out["team"].tolist() == ["OAK", "SD"] and out["opponent"].tolist() == ["SD", "ATH"]
    assert frame["team"].tolist() == ["OAK", "SDN"]  # the input is left alone


def test_doctests() -> None:
    assert doctest.testmod(teams).failed == 0
