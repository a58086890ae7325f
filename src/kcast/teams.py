"""MLB team codes: one canonical code per club, and every spelling the sources use.

kcast keys teams by Retrosheet's codes (``NYA``, ``SLN``...), the codes of its deepest source.
The Athletics are ``OAK`` in every season, including 2025 in Sacramento (the park id tells the
parks apart), so a franchise's history stays in one place. An unknown code is an error, never a
silent new team.
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
