"""MLB team codes: one canonical code per club, and every spelling the sources use.

kcast keys teams by Retrosheet's codes (``NYA``, ``SLN``...), the codes of its deepest source.
The Athletics are ``OAK`` in every season, including 2025 in Sacramento (the park id tells the
parks apart), so a franchise's history stays in one place; Retrosheet's own 2025 files call them
``ATH``, and their game ids are filed under ``OAK`` too (``kcast.data.gameids.canonical_game_id``).
An unknown code is an error, never a silent new team.

Those codes stay inside the warehouse. Everything a user sees (the CLI, the worker's answers,
the dashboard, the Python API) shows MLB's abbreviations and names instead, as they were that
season: ``display_team("NYA", 2025) == "NYY"``, ``display_team("OAK", 2024) == "OAK"`` and
``display_team("OAK", 2025) == "ATH"``; ``team_name`` gives the full name. Requests accept
either spelling (``canonical_team``).
"""

from __future__ import annotations

from kcast.errors import UnknownTeamError

# canonical code -> (MLB Stats API abbreviation, full name, MLBAM team id)
TEAMS: dict[str, tuple[str, str, int]] = {
    "ANA": ("LAA", "Los Angeles Angels", 108),
    "ARI": ("AZ", "Arizona Diamondbacks", 109),
    "ATL": ("ATL", "Atlanta Braves", 144),
    "BAL": ("BAL", "Baltimore Orioles", 110),
    "BOS": ("BOS", "Boston Red Sox", 111),
    "CHA": ("CWS", "Chicago White Sox", 145),
    "CHN": ("CHC", "Chicago Cubs", 112),
    "CIN": ("CIN", "Cincinnati Reds", 113),
    "CLE": ("CLE", "Cleveland Guardians", 114),
    "COL": ("COL", "Colorado Rockies", 115),
    "DET": ("DET", "Detroit Tigers", 116),
    "HOU": ("HOU", "Houston Astros", 117),
    "KCA": ("KC", "Kansas City Royals", 118),
    "LAN": ("LAD", "Los Angeles Dodgers", 119),
    "MIA": ("MIA", "Miami Marlins", 146),
    "MIL": ("MIL", "Milwaukee Brewers", 158),
    "MIN": ("MIN", "Minnesota Twins", 142),
    "NYA": ("NYY", "New York Yankees", 147),
    "NYN": ("NYM", "New York Mets", 121),
    "OAK": ("ATH", "Athletics", 133),
    "PHI": ("PHI", "Philadelphia Phillies", 143),
    "PIT": ("PIT", "Pittsburgh Pirates", 134),
    "SDN": ("SD", "San Diego Padres", 135),
    "SEA": ("SEA", "Seattle Mariners", 136),
    "SFN": ("SF", "San Francisco Giants", 137),
    "SLN": ("STL", "St. Louis Cardinals", 138),
    "TBA": ("TB", "Tampa Bay Rays", 139),
    "TEX": ("TEX", "Texas Rangers", 140),
    "TOR": ("TOR", "Toronto Blue Jays", 141),
    "WAS": ("WSH", "Washington Nationals", 120),
}

# All-Star squads appear in Retrosheet's files; they are teams of a kind but never a club.
ALL_STAR_CODES = {"ALS", "NLS", "AL", "NL"}

_EXTRA_ALIASES = {
    # older MLB / sportsbook spellings
    "ARZ": "ARI",
    "CHW": "CHA",
    "KCR": "KCA",
    "LA": "LAN",
    "SDP": "SDN",
    "SFG": "SFN",
    "TBR": "TBA",
    "WSN": "WAS",
    "WAS": "WAS",
    "OAK": "OAK",
    "ATH": "OAK",
    "AZ": "ARI",
    "CWS": "CHA",
    "CHC": "CHN",
    "KC": "KCA",
    "LAA": "ANA",
    "LAD": "LAN",
    "NYY": "NYA",
    "NYM": "NYN",
    "SD": "SDN",
    "SF": "SFN",
    "STL": "SLN",
    "TB": "TBA",
    "WSH": "WAS",
    "CAL": "ANA",
    "FLO": "MIA",
    "MON": "WAS",
    # full names used by The Odds API and others
    "OAKLAND ATHLETICS": "OAK",
    "SACRAMENTO ATHLETICS": "OAK",
    "ATHLETICS": "OAK",
    "CLEVELAND INDIANS": "CLE",
    "TAMPA BAY DEVIL RAYS": "TBA",
    "LOS ANGELES ANGELS OF ANAHEIM": "ANA",
    "ANAHEIM ANGELS": "ANA",
    "FLORIDA MARLINS": "MIA",
    "ARIZONA D-BACKS": "ARI",
}

_ALIASES: dict[str, str] = {}
for _code, (_abbrev, _name, _mlbam) in TEAMS.items():
    _ALIASES[_code] = _code
    _ALIASES[_abbrev] = _code
    _ALIASES[_name.upper()] = _code
_ALIASES.update(_EXTRA_ALIASES)

_BY_MLBAM_ID = {mlbam: code for code, (_a, _n, mlbam) in TEAMS.items()}


def canonical_team(value: object, source: str | None = None, line: int | None = None) -> str:
    """Return kcast's code for a team spelled any way a source spells it.

    Raises ``UnknownTeamError`` naming the value (and the file and line, when given).
    """
    text = str(value).strip().upper() if value is not None else ""
    code = _ALIASES.get(text)
    if code is None:
        raise UnknownTeamError(
            f"unknown team code {value!r}; kcast knows the 30 MLB clubs by Retrosheet code "
            f"(e.g. NYA), MLB abbreviation (e.g. NYY) or full name",
            source=source,
            line=line,
        )
    return code


def is_all_star(value: object) -> bool:
    """True for the All-Star squads (ALS/NLS), which are not clubs."""
    return str(value).strip().upper() in ALL_STAR_CODES


def team_from_mlbam_id(team_id: int, source: str | None = None) -> str:
    """The code of the club with this MLBAM team id (as the Stats API gives it)."""
    code = _BY_MLBAM_ID.get(int(team_id))
    if code is None:
        raise UnknownTeamError(f"unknown MLBAM team id {team_id!r}", source=source)
    return code


def mlb_abbreviation(code: str) -> str:
    """The MLB Stats API abbreviation of a canonical code."""
    return TEAMS[canonical_team(code)][0]


# Spellings that changed over the years: (canonical code, first season of the next spelling)
# -> the spelling before it. The Athletics became "ATH" (and just "Athletics") in 2025; the
# Guardians were the Indians through 2021.
_OLD_ABBREVIATIONS: dict[str, tuple[int, str]] = {"OAK": (2025, "OAK")}
_OLD_NAMES: dict[str, tuple[int, str]] = {
    "OAK": (2025, "Oakland Athletics"),
    "CLE": (2022, "Cleveland Indians"),
}


def _season(season: object) -> int | None:
    if season is None:
        return None
    year = getattr(season, "year", season)  # a date, datetime or Timestamp gives its year
    if isinstance(year, str):
        year = year.strip()[:4]  # "2025" or "2025-07-20"
    try:
        return int(year)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def display_team(code: object, season: object = None) -> str:
    """The abbreviation users read for a team (MLB's, as it was in ``season``).

    ``code`` is any spelling ``canonical_team`` knows; ``season`` a year or a date (None: the
    current spelling). A missing or unknown value is returned as it is (so a display never
    fails on a row it cannot name).

    >>> display_team("NYA", 2025), display_team("SDN", 2025), display_team("TBA", 2019)
    ('NYY', 'SD', 'TB')
    >>> display_team("OAK", 2024), display_team("OAK", 2025), display_team("ATH")
    ('OAK', 'ATH', 'ATH')
    """
    return _as_of(code, season, _OLD_ABBREVIATIONS, 0)


def team_name(code: object, season: object = None) -> str:
    """A team's full name as it was in ``season`` (None: today's).

    >>> team_name("CHA"), team_name("OAK", 2019), team_name("OAK", 2025), team_name("CLE", 2019)
    ('Chicago White Sox', 'Oakland Athletics', 'Athletics', 'Cleveland Indians')
    """
    return _as_of(code, season, _OLD_NAMES, 1)


def _as_of(code: object, season: object, changed: dict, part: int) -> str:
    """``TEAMS[code][part]`` as it was in ``season``: ``changed`` holds (first season of the
    current one, the one before) for teams that changed it. Unknown codes come back as given."""
    if code is None or (isinstance(code, float) and code != code):
        return code  # type: ignore[return-value]
    try:
        canon = canonical_team(code)
    except UnknownTeamError:
        return str(code)
    year = _season(season)
    old = changed.get(canon)
    if old is not None and year is not None and year < old[0]:
        return old[1]
    return TEAMS[canon][part]


def display_teams(frame, season_column: str = "game_date", columns=("team", "opponent")):  # noqa: ANN001, ANN201
    """A copy of a DataFrame with its team columns in MLB's spelling of each row's season."""
    out = frame.copy()
    if out.empty:
        return out
    seasons = out[season_column] if season_column in out else [None] * len(out)
    for col in columns:
        if col in out:
            out[col] = [display_team(c, s) for c, s in zip(out[col], seasons, strict=True)]
    return out
