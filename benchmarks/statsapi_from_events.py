"""MLB Stats API answers assembled from Retrosheet's event files, in the API's real shapes.

A replay of a season (``replay_season.py``) has no live API to ask, so this module builds its
answers from what really happened, as Retrosheet's event files record it (kcast's own parse:
``kcast.data.retrosheet.read_frames``, the rows ``kcast ingest retrosheet`` would store):

* the schedule's game (``/api/v1/schedule``): teams, status, first pitch, the probable
  starters (the real ones), the home-plate umpire (``hydrate=officials``, all day: crews are
  posted before the day) and, from ``LINEUP_LEAD`` before first pitch, the posted lineups
  (``hydrate=lineups``: the nine starters in batting order, with their batting and throwing
  sides from the season's rosters);
* the boxscore (``/api/v1/game/{pk}/boxscore``): every pitcher's line in the order they
  pitched (outs, batters faced, pitches, strikes, strikeouts, walks, hits, home runs, runs,
  earned runs, hit batters), each team's plate appearances, strikeouts and walks, every
  batter's batting-order code (slot x 100 for a starter, + 1, 2 ... for those who came in), the
  home-plate umpire by name (from ``umpires``: Retrosheet's id where the name is not known) and
  the temperature and wind;
* the live feed (``/api/v1.1/game/{pk}/feed/live``): one play per plate appearance in order,
  with its inning and half, the batter and pitcher Retrosheet charges (so the feed needs no
  substitution events to say who a walk or strikeout belongs to), their sides, an event type
  read from the event text, and every pitch as a pitch event with the Stats API's call code
  for Retrosheet's (a pitch the catcher blocked: W for a swinging strike, *B for a ball;
  pickoff throws as pickoff events; Retrosheet's other markers have no event).

What the event files lack is said here and in the replay's output: the gamePk is the Statcast
start log's (by the starter and date), or a made-up one above 900,000,000 for a game the log
lacks; plays that end an inning with the batter still up (caught stealing) are not in the
feed (they are no plate appearance in either source).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kcast.data.retrosheet import RetrosheetFrames
from kcast.teams import TEAMS

LINEUP_LEAD = dt.timedelta(hours=4)  # lineups are posted this long before first pitch
MADE_UP_PK = 900_000_000
# Retrosheet's pitch codes -> the Stats API's pitch calls (automatic ball V and strike A: the
# pitch clock; K, a strike of unknown kind, keeps its letter: the feed has no such call)
CALLS = {
    "B": "B",
    "C": "C",
    "S": "S",
    "F": "F",
    "T": "T",
    "X": "X",
    "H": "H",
    "I": "I",
    "L": "L",
    "M": "M",
    "O": "O",
    "P": "P",
    "Q": "Q",
    "R": "R",
    "Y": "Y",
    "K": "K",
    "V": "VP",
    "A": "AC",
}
BLOCKED = {"S": "W", "B": "*B"}


def _person(player_id: int, known: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": int(player_id), "link": f"/api/v1/people/{int(player_id)}"}
    if known is not None:
        if isinstance(known.get("full_name"), str):
            out["fullName"] = known["full_name"]
        for key, column in (("batSide", "bats"), ("pitchHand", "throws")):
            code = known.get(column)
            if isinstance(code, str) and code:
                out[key] = {"code": "S" if code == "B" else code}
    out.setdefault("fullName", str(player_id))
    return out


def pitch_events(sequence: str | None) -> list[dict[str, Any]]:
    """A plate appearance's ``playEvents`` from its Retrosheet pitch codes."""
    events: list[dict[str, Any]] = []
    blocked = False
    for c in sequence or "":
        if c == "*":
            blocked = True
            continue
        if c in "123":
            events.append(
                {
                    "type": "pickoff",
                    "isPitch": False,
                    "details": {"code": c, "eventType": "pickoff"},
                }
            )
        elif c in CALLS:
            code = BLOCKED.get(c, CALLS[c]) if blocked else CALLS[c]
            events.append(
                {
                    "type": "pitch",
                    "isPitch": True,
                    "pitchNumber": sum(e["isPitch"] for e in events) + 1,
                    "details": {"call": {"code": code}, "code": code},
                }
            )
        blocked = False
    return events


def event_type(event: str, strikeout: bool, walk: bool) -> str:
    """The Stats API's event type for a Retrosheet play that ends a plate appearance."""
    if strikeout:
        return "strikeout"
    if walk:
        return "intent_walk" if event.startswith(("IW", "I/", "I.")) or event == "I" else "walk"
    first = event.split("/", 1)[0].split(".", 1)[0]
    for prefix, kind in (
        ("HP", "hit_by_pitch"),
        ("HR", "home_run"),
        ("H", "home_run"),
        ("FC", "fielders_choice"),
        ("S", "single"),
        ("D", "double"),
        ("T", "triple"),
        ("E", "field_error"),
        ("C", "catcher_interf"),
    ):
        if first.startswith(prefix) and not (prefix == "D" and first.startswith("DI")):
            return kind
    return "field_out"


@dataclass
class Season:
    """The event files' rows of the replayed days, indexed for the answers."""

    games: pd.DataFrame  # game_id, game_date, ..., mlb_game_pk, pk_note
    pitchers: pd.DataFrame
    batting: pd.DataFrame
    lineups: pd.DataFrame
    plays: pd.DataFrame
    players: pd.DataFrame  # indexed by player_id: full_name, bats, throws
    umpire_names: dict[str, str]

    def __post_init__(self) -> None:
        self._plays = {g: f.sort_values("pa_index") for g, f in self.plays.groupby("game_id")}
        self._lineups = {g: f.sort_values("slot") for g, f in self.lineups.groupby("game_id")}
        self._pitchers = dict(tuple(self.pitchers.groupby("game_id")))
        self._batting = {g: f.set_index("team") for g, f in self.batting.groupby("game_id")}
        empty = self.plays.iloc[:0]
        self._no_plays, self._no_lineup = empty, self.lineups.iloc[:0]
        self._people = self.players.to_dict("index")
        self._answers: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, game) -> JSON

    def game_plays(self, game_id: str) -> pd.DataFrame:
        return self._plays.get(game_id, self._no_plays)

    def game_lineups(self, game_id: str) -> pd.DataFrame:
        return self._lineups.get(game_id, self._no_lineup)

    def batters(self, game_id: str, team: str) -> set[int]:
        """The team's starters and every batter who came up for it in the game."""
        plays, lineup = self.game_plays(game_id), self.game_lineups(game_id)
        return {int(p) for p in plays.loc[plays["batting_team"] == team, "batter_id"]} | {
            int(p) for p in lineup.loc[lineup["team"] == team, "player_id"]
        }

    @classmethod
    def from_frames(
        cls,
        frames: RetrosheetFrames,
        first: dt.date,
        last: dt.date,
        pks: dict[tuple[int, dt.date], int],
        umpire_names: dict[str, str],
    ) -> Season:
        """The games from ``first`` to ``last``; ``pks``: (pitcher, date) -> gamePk of the start
        log (a game gets its home starter's, else its away starter's, else a made-up one)."""

        def window(frame: pd.DataFrame) -> pd.DataFrame:
            days = pd.to_datetime(frame["game_date"]).dt.date
            out = frame[(days >= first) & (days <= last)].copy()
            out["game_date"] = pd.to_datetime(out["game_date"]).dt.date
            return out

        games = window(frames.games[frames.games["game_type"] == "regular"])
        pitchers = window(frames.pitcher_games)
        starts = pitchers[pitchers["is_start"]]
        by_game: dict[str, int] = {}
        for start in starts.sort_values("is_home", ascending=False).itertuples():
            pk = pks.get((int(start.pitcher_id), start.game_date))
            if pk is not None and start.game_id not in by_game:
                by_game[start.game_id] = pk
        games = games.sort_values(["game_date", "game_id"]).reset_index(drop=True)
        made_up = {g: MADE_UP_PK + i for i, g in enumerate(games["game_id"]) if g not in by_game}
        games["mlb_game_pk"] = games["game_id"].map(by_game | made_up).astype("int64")
        games["pk_note"] = games["game_id"].map(lambda g: "made up" if g in made_up else "")
        ids = set(games["game_id"])
        players = frames.players.drop_duplicates("player_id").set_index("player_id")
        return cls(
            games,
            pitchers[pitchers["game_id"].isin(ids)],
            window(frames.team_batting_games).query("game_id in @ids"),
            window(frames.lineups).query("game_id in @ids"),
            window(frames.plate_appearances).query("game_id in @ids"),
            players[["full_name", "bats", "throws"]],
            umpire_names,
        )

    # --- the answers ---------------------------------------------------------------------
    def person(self, player_id: int) -> dict[str, Any]:
        return _person(int(player_id), self._people.get(int(player_id)))

    def posted_lineups(self, game_id: str, home: str, away: str) -> dict[str, Any]:
        """``lineups`` of a schedule game: each side's nine in batting order."""
        rows = self.game_lineups(game_id)
        out = {}
        for side, team in (("home", home), ("away", away)):
            nine = rows.loc[rows["team"] == team, "player_id"]
            if len(nine) == 9:
                out[f"{side}Players"] = [self.person(p) for p in nine]
        return out

    def batting_orders(self, game_id: str) -> dict[int, int]:
        """Player -> batting-order code: slot x 100 for a starter, + 1, 2 ... in the order the
        others first came up in that slot."""
        codes: dict[int, int] = {}
        for r in self.game_lineups(game_id).itertuples():
            codes[int(r.player_id)] = int(r.slot) * 100
        came_in: dict[tuple[str, int], int] = {}
        for r in self.game_plays(game_id).itertuples():
            if pd.isna(r.lineup_slot) or int(r.batter_id) in codes:
                continue
            key = (r.batting_team, int(r.lineup_slot))
            came_in[key] = came_in.get(key, 0) + 1
            codes[int(r.batter_id)] = int(r.lineup_slot) * 100 + came_in[key]
        return codes

    def boxscore(self, game: Any, copyright_: str) -> dict[str, Any]:
        """A final game's boxscore (built once)."""
        key = ("boxscore", game.game_id)
        if key not in self._answers:
            self._answers[key] = self._boxscore(game, copyright_)
        return self._answers[key]

    def feed(self, game: Any, copyright_: str) -> dict[str, Any]:
        """A final game's live feed (built once)."""
        key = ("feed", game.game_id)
        if key not in self._answers:
            self._answers[key] = self._feed(game, copyright_)
        return self._answers[key]

    def _boxscore(self, game: Any, copyright_: str) -> dict[str, Any]:
        orders = self.batting_orders(game.game_id)
        pitchers = self._pitchers[game.game_id]
        batting = self._batting[game.game_id]
        teams = {}
        for side, code in (("away", game.away_team), ("home", game.home_team)):
            players: dict[str, Any] = {}
            mine = pitchers[pitchers["team"] == code].sort_values("appearance_seq")
            for r in mine.itertuples():
                players[f"ID{int(r.pitcher_id)}"] = {
                    "person": self.person(r.pitcher_id),
                    "position": {"code": "1", "abbreviation": "P"},
                    "stats": {"batting": {}, "pitching": _pitching_line(r)},
                }
            batters = self.batters(game.game_id, code)
            team_orders = {p: o for p, o in orders.items() if p in batters}
            for pid, order in team_orders.items():
                entry = players.setdefault(f"ID{pid}", {"person": self.person(pid)})
                entry["battingOrder"] = str(order)
                entry.setdefault("stats", {"batting": {}, "pitching": {}})
            starters = sorted((o, p) for p, o in team_orders.items() if o % 100 == 0)
            row = batting.loc[code]
            teams[side] = {
                "team": team_json(code),
                "teamStats": {
                    "batting": {
                        "plateAppearances": int(row["plate_appearances"]),
                        "strikeOuts": int(row["strikeouts"]),
                        "baseOnBalls": int(row["walks"]),
                    },
                    "pitching": {},
                },
                "players": players,
                "pitchers": [int(p) for p in mine["pitcher_id"]],
                "batters": [p for _, p in starters],
                "battingOrder": [p for _, p in starters],
            }
        info = []
        if not pd.isna(game.temperature):
            info.append({"label": "Weather", "value": f"{int(game.temperature)} degrees."})
        if not pd.isna(game.wind_speed):
            info.append({"label": "Wind", "value": f"{int(game.wind_speed)} mph."})
        return {
            "copyright": copyright_,
            "teams": teams,
            "officials": self.officials(game),
            "info": info,
        }

    def officials(self, game: Any) -> list[dict[str, Any]]:
        """The home-plate umpire, by name (Retrosheet's id where ``umpires`` has no name)."""
        if not isinstance(game.umpire_home, str) or not game.umpire_home:
            return []
        name = self.umpire_names.get(game.umpire_home, game.umpire_home)
        return [{"official": {"fullName": name}, "officialType": "Home Plate"}]

    def _feed(self, game: Any, copyright_: str) -> dict[str, Any]:
        plays = self.game_plays(game.game_id)
        all_plays = []
        for i, r in enumerate(plays.itertuples()):
            top = r.batting_team == game.away_team
            all_plays.append(
                {
                    "result": {
                        "type": "atBat",
                        "eventType": event_type(
                            str(r.event), bool(r.is_strikeout), bool(r.is_walk)
                        ),
                        "description": f"Retrosheet event {r.event}",
                    },
                    "about": {
                        "atBatIndex": i,
                        "halfInning": "top" if top else "bottom",
                        "isTopInning": bool(top),
                        "inning": int(r.inning),
                        "isComplete": True,
                    },
                    "matchup": {
                        "batter": self.person(r.batter_id),
                        "batSide": {"code": r.bats} if isinstance(r.bats, str) else {},
                        "pitcher": self.person(r.pitcher_id),
                        "pitchHand": {"code": r.throws} if isinstance(r.throws, str) else {},
                    },
                    "playEvents": pitch_events(r.pitch_sequence),
                }
            )
        orders = self.batting_orders(game.game_id)
        teams = {
            side: {
                "team": team_json(code),
                "players": {
                    f"ID{p}": {"person": self.person(p), "battingOrder": str(o)}
                    for p, o in orders.items()
                    if p in self.batters(game.game_id, code)
                },
            }
            for side, code in (("away", game.away_team), ("home", game.home_team))
        }
        people = (
            set(orders)
            | {int(p) for p in plays["pitcher_id"]}
            | {int(p) for p in self._pitchers[game.game_id]["pitcher_id"]}
        )
        return {
            "copyright": copyright_,
            "gamePk": int(game.mlb_game_pk),
            "gameData": {
                "game": {"pk": int(game.mlb_game_pk), "type": "R"},
                "players": {f"ID{p}": self.person(p) for p in sorted(people)},
            },
            "liveData": {"plays": {"allPlays": all_plays}, "boxscore": {"teams": teams}},
        }


def team_json(code: str) -> dict[str, Any]:
    abbrev, name, mlbam = TEAMS[code]
    return {"id": mlbam, "name": name, "abbreviation": abbrev, "link": f"/api/v1/teams/{mlbam}"}


def _pitching_line(r: Any) -> dict[str, Any]:
    line = {
        "outs": r.outs,
        "battersFaced": r.batters_faced,
        "numberOfPitches": r.pitches,
        "strikes": r.strikes,
        "strikeOuts": r.strikeouts,
        "baseOnBalls": r.walks,
        "hits": r.hits,
        "homeRuns": r.home_runs,
        "runs": r.runs,
        "earnedRuns": r.earned_runs,
        "hitBatsmen": r.hit_batters,
    }
    line = {k: int(v) for k, v in line.items() if not pd.isna(v)}
    if "outs" in line:
        line["inningsPitched"] = f"{line['outs'] // 3}.{line['outs'] % 3}"
    return line
