"""Sportsbook names to MLBAM ids: name normalisation and a matcher that knows who pitched when.

A book spells a pitcher its own way (``Carlos Rodon``, ``JT Brubaker``, ``Lance McCullers Jr.``,
``Matt Waldron``). The matcher reads the Chadwick register (every MLB player's name, given name,
suffix and seasons) and the warehouse's ``pitcher_games`` (who pitched, and who started, on which
date for which team), and resolves a name on a date, with the game's teams when known:

1. Normalise: strip accents, case, punctuation and suffixes (Jr., Sr., II, III, IV); join
   initials (``J.T.`` = ``J. T.`` = ``JT``) and hyphenated or spaced parts (``Hyun-Jin``).
2. Look the name up in the register under every first-name form: the register's first name, the
   first of the given names, and common short forms (Matt = Matthew, Zach = Zack = Zachary ...).
3. Several people with the name (two Luis Garcias, two Will Smiths): prefer, in order, the one who
   started for one of the game's teams that day, appeared for one of them, started for any team,
   appeared for any team. Two or more in the best tier is ambiguous.
4. No register entry with the name: take the pitcher of one of the game's teams that day whose
   name is close (``Calb Kilian`` = Caleb Kilian, ``Tyler Megill`` = Tylor Megill), starters first.
5. A name that resolves to one person with no appearance that day keeps the id, with a note.

Every result carries a note that begins with its status, e.g. ``start: ...`` or
``unknown_name: ...``, so unmatched lines can be grouped by reason.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from kcast.data.register import Register
from kcast.warehouse import Warehouse

# Statuses a match can have; the first word of every note.
START = "start"  # resolved, and the pitcher started that day
RELIEF = "relief"  # resolved, pitched that day but did not start
NO_APPEARANCE = "no_appearance"  # resolved; the warehouse has games that day, he is in none
NO_GAMES = "no_games"  # the warehouse has no game on that date (e.g. postseason, not loaded)
AMBIGUOUS = "ambiguous"  # several people with the name and nothing tells them apart
UNKNOWN_NAME = "unknown_name"  # nobody in the register (or among that day's pitchers) fits
STATUSES = (START, RELIEF, NO_APPEARANCE, NO_GAMES, AMBIGUOUS, UNKNOWN_NAME)

SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}

# Groups of interchangeable first names. A name may sit in several groups (Chris: Christopher,
# Kristopher, Christian); a book's name matches a register name when they share a group.
NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("matthew", "matt", "mattie"),
    ("michael", "mike", "mikey", "mick"),
    ("zachary", "zachery", "zach", "zack", "zac", "zak"),
    ("joshua", "josh"),
    ("cameron", "cam"),
    ("jacob", "jake", "jakob"),
    ("nicholas", "nick", "nicky", "nico"),
    ("christopher", "chris", "kristopher", "kris", "cristopher"),
    ("christian", "chris"),
    ("daniel", "dan", "danny"),
    ("joseph", "joe", "joey"),
    ("robert", "rob", "robbie", "bob", "bobby"),
    ("william", "will", "willie", "bill", "billy"),
    ("james", "jim", "jimmy", "jamie"),
    ("thomas", "tom", "tommy"),
    ("anthony", "tony"),
    ("alexander", "alex", "alec", "alek", "xander"),
    ("alejandro", "alex"),
    ("andrew", "andy", "drew"),
    ("benjamin", "ben", "benny"),
    ("charles", "charlie", "chuck", "chas"),
    ("edward", "ed", "eddie", "eddy", "ted"),
    ("eduardo", "eddie", "eddy"),
    ("gregory", "greg"),
    ("jeffrey", "jeff", "geoffrey", "geoff"),
    ("jonathan", "jon", "jonny", "johnathan", "jonathon"),
    ("john", "johnny", "jack"),
    ("kenneth", "ken", "kenny"),
    ("lawrence", "larry"),
    ("nathaniel", "nathan", "nate"),
    ("patrick", "pat"),
    ("peter", "pete"),
    ("richard", "rich", "richie", "rick", "ricky"),
    ("ricardo", "ricky"),
    ("ronald", "ron", "ronny", "ronnie"),
    ("samuel", "sam", "sammy"),
    ("stephen", "steven", "steve", "stevie"),
    ("timothy", "tim", "timmy"),
    ("douglas", "doug"),
    ("frederick", "fred", "freddy", "freddie"),
    ("gerald", "jerry"),
    ("mitchell", "mitch"),
    ("bradley", "brad"),
    ("abraham", "abe"),
    ("theodore", "ted", "teddy", "theo"),
    ("vincent", "vince", "vinny"),
    ("raymond", "ray"),
    ("randall", "randy"),
    ("donald", "don", "donnie"),
    ("phillip", "philip", "phil"),
    ("maximilian", "maxwell", "max"),
    ("enrique", "kike"),
    ("sebastian", "seby"),
    ("tyler", "ty"),
    ("jeremy", "jeremiah"),
    ("isaac", "ike"),
)

_FIRST_GROUPS: dict[str, set[str]] = defaultdict(set)
for _group in NICKNAME_GROUPS:
    for _name in _group:
        _FIRST_GROUPS[_name].add(_group[0])


def strip_accents(text: str) -> str:
    """``Rodón`` -> ``Rodon``: decompose, drop combining marks."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_tokens(name: object) -> list[str]:
    """A name as lowercase ASCII tokens, without suffixes or punctuation.

    ``"J.T. Brubaker"`` -> ``["j", "t", "brubaker"]``; ``"Lance McCullers Jr."`` ->
    ``["lance", "mccullers"]``; ``"Hyun-Jin Ryu"`` -> ``["hyun", "jin", "ryu"]``.
    """
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return []
    text = strip_accents(str(name)).lower()
    text = re.sub(r"['\u2019`]", "", text)  # O'Neill -> oneill
    text = re.sub(r"[^a-z0-9]+", " ", text)  # dots, hyphens, commas -> spaces
    tokens = text.split()
    while len(tokens) > 2 and tokens[-1] in SUFFIXES:
        tokens.pop()
    return tokens


def name_suffix(name: object) -> str | None:
    """The generational suffix of a name (``jr``, ``sr``, ``ii`` ...), if it has one."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return None
    words = re.sub(r"[^a-z0-9]+", " ", strip_accents(str(name)).lower()).split()
    return words[-1] if len(words) > 2 and words[-1] in SUFFIXES else None


def compact(text: object) -> str:
    """Tokens joined without spaces: ``"J. T."`` -> ``"jt"``, ``"De La Cruz"`` -> ``"delacruz"``."""
    return "".join(name_tokens(text))


def first_name_forms(first: str) -> set[str]:
    """A compact first name and the nickname groups it belongs to."""
    forms = {first} if first else set()
    forms |= _FIRST_GROUPS.get(first, set())
    return forms


def _split_keys(tokens: list[str]) -> set[tuple[str, str]]:
    """Every (first, last) reading of a token list: each split point, with and without initials.

    ``["luis", "l", "ortiz"]`` gives ("luis", "lortiz"), ("luisl", "ortiz") and, dropping the
    middle initial, ("luis", "ortiz").
    """
    out: set[tuple[str, str]] = set()
    variants = [tokens]
    middle_dropped = [
        t for i, t in enumerate(tokens) if not (0 < i < len(tokens) - 1 and len(t) == 1)
    ]
    if middle_dropped != tokens and len(middle_dropped) >= 2:
        variants.append(middle_dropped)
    for toks in variants:
        for i in range(1, len(toks)):
            out.add(("".join(toks[:i]), "".join(toks[i:])))
    return out


@dataclass(frozen=True)
class Appearance:
    """One pitcher-game from the warehouse."""

    pitcher_id: int
    game_date: dt.date
    team: str
    game_id: str
    is_start: bool


@dataclass(frozen=True)
class NameMatch:
    """The result of resolving one name: the id (or None), the status, a note saying why."""

    pitcher_id: int | None
    status: str
    note: str
    appearance: Appearance | None = None

    @property
    def game_id(self) -> str | None:
        """The start this name was matched to, if any."""
        if self.appearance is not None and self.appearance.is_start:
            return self.appearance.game_id
        return None

    @property
    def team(self) -> str | None:
        return self.appearance.team if self.appearance is not None else None


class NameMatcher:
    """Resolve sportsbook names to MLBAM ids with the register and the day's appearances."""

    def __init__(self, register: Register, appearances: pd.DataFrame | None = None) -> None:
        self._people: dict[int, dict] = {}
        self._by_key: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._index_register(register.frame)
        self._by_date: dict[dt.date, list[Appearance]] = defaultdict(list)
        self._by_pitcher: dict[int, list[Appearance]] = defaultdict(list)
        if appearances is not None:
            self.add_appearances(appearances)

    # --- building -------------------------------------------------------------------------
    def _index_register(self, frame: pd.DataFrame) -> None:
        nothing = [None] * len(frame)
        given = frame["name_given"] if "name_given" in frame.columns else nothing
        suffixes = frame["name_suffix"] if "name_suffix" in frame.columns else nothing
        for mlbam, first, last, giv, suffix, played_first, played_last in zip(
            frame["key_mlbam"],
            frame["name_first"],
            frame["name_last"],
            given,
            suffixes,
            frame["mlb_played_first"],
            frame["mlb_played_last"],
            strict=True,
        ):
            if pd.isna(mlbam) or pd.isna(last):
                continue
            pid = int(mlbam)
            last_c = compact(last)
            firsts = self._register_firsts(first, giv)
            self._people[pid] = {
                "name": f"{first if not pd.isna(first) else ''} {last}".strip(),
                "last": last_c,
                "firsts": firsts,
                "suffix": compact(suffix) or None,
                "first_year": _year(played_first),
                "last_year": _year(played_last),
            }
            for f in firsts:
                for form in first_name_forms(f):
                    self._by_key[(form, last_c)].add(pid)

    @staticmethod
    def _register_firsts(first: object, given: object) -> set[str]:
        """Compact first names a book may use: the register's, without initials, the given one."""
        out: set[str] = set()
        tokens = name_tokens(first)
        if tokens:
            out.add("".join(tokens))
            long_tokens = [t for t in tokens if len(t) > 1]
            if long_tokens and len(long_tokens) < len(tokens):
                out.add("".join(long_tokens))
        given_tokens = name_tokens(given)
        if given_tokens:
            out.add(given_tokens[0])
        return out

    def add_appearances(self, frame: pd.DataFrame) -> None:
        """Add pitcher-games (pitcher_id, game_date, team, game_id, is_start)."""
        for pid, date, team, game_id, is_start in zip(
            frame["pitcher_id"],
            frame["game_date"],
            frame["team"],
            frame["game_id"],
            frame["is_start"],
            strict=True,
        ):
            day = pd.Timestamp(date).date()
            appearance = Appearance(int(pid), day, team, game_id, bool(is_start))
            self._by_date[day].append(appearance)
            self._by_pitcher[int(pid)].append(appearance)

    @classmethod
    def from_warehouse(
        cls, wh: Warehouse, register: Register, dates: Iterable[dt.date] | None = None
    ) -> NameMatcher:
        """A matcher with the warehouse's pitcher-games on (the span of) ``dates``."""
        return cls(register, load_appearances(wh, dates))

    def name_of(self, pitcher_id: int) -> str | None:
        person = self._people.get(int(pitcher_id))
        return person["name"] if person else None

    # --- resolving ------------------------------------------------------------------------
    def candidates(self, name: str) -> set[int]:
        """Register people whose name fits ``name`` under any reading (no date involved).

        A suffix in ``name`` (Jr., Sr., II) keeps those with that suffix when any has it, so
        ``Lance McCullers Jr.`` is not his father.
        """
        tokens = name_tokens(name)
        found: set[int] = set()
        for first, last in _split_keys(tokens):
            for form in first_name_forms(first):
                found |= self._by_key.get((form, last), set())
        suffix = name_suffix(name)
        if suffix is not None:
            same = {p for p in found if self._people[p]["suffix"] == suffix}
            found = same or found
        return found

    def resolve(
        self, name: str, date: dt.date, teams: Iterable[str] = (), pitcher_id: int | None = None
    ) -> NameMatch:
        """Resolve ``name`` on ``date``; ``teams`` are the game's (or the pitcher's) team codes.

        ``pitcher_id``, when the source already has one, skips the name lookup.
        """
        teams = tuple(t for t in teams if t)
        day = self._by_date.get(date, [])
        if pitcher_id is not None:
            return self._with_appearance(int(pitcher_id), date, day, teams, "id given")
        cands = self.candidates(name)
        on_day = [a for a in day if a.pitcher_id in cands]
        if on_day:
            chosen, tier = _best(on_day, teams)
            if len(chosen) == 1:
                how = "name" if len(cands) == 1 else f"name ({len(cands)} players, {tier})"
                return self._found(chosen[0], how, teams)
            ids = ", ".join(sorted(str(a.pitcher_id) for a in chosen))
            return NameMatch(
                None,
                AMBIGUOUS,
                f"{AMBIGUOUS}: {len(chosen)} players named {name!r} {tier} on {date}: {ids}",
            )
        active = sorted(p for p in cands if self._active(p, date.year))
        if not active:
            fuzzy = self._fuzzy(name, day, teams)
            if fuzzy is not None:
                appearance, score = fuzzy
                close = self.name_of(appearance.pitcher_id)
                how = f"close name {close!r} ({score:.2f}) of {appearance.team} that day"
                return self._found(appearance, how, teams)
            why = (
                f"only players of other seasons are named {name!r}"
                if cands
                else f"no player named {name!r} in the register"
            )
            return NameMatch(None, UNKNOWN_NAME, f"{UNKNOWN_NAME}: {why}")
        if len(active) > 1 and teams:
            # nobody with the name pitched that day: the one who pitched for one of the
            # game's teams most recently (a postseason line, before the warehouse has the game)
            recent = [(self._last_team(p, date), p) for p in active]
            on_teams = sorted(
                ((a.game_date, p, a) for a, p in recent if a is not None and a.team in teams),
                reverse=True,
            )
            if len(on_teams) == 1 or (len(on_teams) > 1 and on_teams[0][0] > on_teams[1][0]):
                _when, pid, last = on_teams[0]
                how = (
                    f"name ({len(active)} players; the one who pitched for {last.team} "
                    f"most recently, on {last.game_date})"
                )
                return self._with_appearance(pid, date, day, teams, how)
        if len(active) > 1:
            status = AMBIGUOUS if day else NO_GAMES
            reason = (
                "none of them pitched that day" if day else f"no games in the warehouse on {date}"
            )
            return NameMatch(
                None,
                status,
                f"{status}: {len(active)} players named {name!r} "
                f"({', '.join(map(str, active))}); {reason}",
            )
        return self._with_appearance(active[0], date, day, teams, "name")

    def _with_appearance(
        self,
        pid: int,
        date: dt.date,
        day: list[Appearance],
        teams: tuple[str, ...],
        how: str,
    ) -> NameMatch:
        mine = [a for a in day if a.pitcher_id == pid]
        if mine:
            chosen, _tier = _best(mine, teams)
            return self._found(chosen[0], how, teams)
        if not day:
            return NameMatch(
                pid, NO_GAMES, f"{NO_GAMES}: {how} -> {pid}; no games in the warehouse on {date}"
            )
        near = self._nearby_start(pid, date)
        extra = f"; started on {near}" if near else ""
        return NameMatch(
            pid,
            NO_APPEARANCE,
            f"{NO_APPEARANCE}: {how} -> {pid}; no appearance in the warehouse on {date}{extra}",
        )

    def _found(self, a: Appearance, how: str, teams: tuple[str, ...]) -> NameMatch:
        status = START if a.is_start else RELIEF
        role = "started" if a.is_start else "pitched in relief"
        other = f" (not one of {'/'.join(teams)})" if teams and a.team not in teams else ""
        return NameMatch(
            a.pitcher_id,
            status,
            f"{status}: {how} -> {a.pitcher_id}; {role} for {a.team}{other} in {a.game_id}",
            a,
        )

    def _fuzzy(
        self, name: str, day: list[Appearance], teams: tuple[str, ...]
    ) -> tuple[Appearance, float] | None:
        """The day's pitcher of one of ``teams`` whose name is close to ``name``, if exactly one."""
        if not teams:
            return None
        target = compact(name)
        pool = [a for a in day if a.team in teams]
        for group in ([a for a in pool if a.is_start], [a for a in pool if not a.is_start]):
            scored = []
            for a in group:
                person = self._people.get(a.pitcher_id)
                if person is None:
                    continue
                # the register's name either way round: books now and then swap first and last
                # names (a book's "Daniel Davis" is Davis Daniel)
                firsts = person["firsts"] or {""}
                forms = {f + person["last"] for f in firsts} | {person["last"] + f for f in firsts}
                score = max(difflib.SequenceMatcher(None, target, x).ratio() for x in forms)
                scored.append((score, a))
            good = sorted((s for s in scored if s[0] >= FUZZY_MIN), key=lambda s: -s[0])
            if len(good) == 1 or (len(good) > 1 and good[0][0] - good[1][0] >= 0.1):
                return good[0][1], good[0][0]
        return None

    def _last_team(self, pid: int, date: dt.date) -> Appearance | None:
        """The pitcher's latest appearance before ``date`` in the same season, if any."""
        before = [
            a
            for a in self._by_pitcher.get(pid, [])
            if a.game_date < date and a.game_date.year == date.year
        ]
        return max(before, key=lambda a: a.game_date) if before else None

    def _nearby_start(self, pid: int, date: dt.date) -> dt.date | None:
        for delta in (1, -1, 2, -2):
            other = date + dt.timedelta(days=delta)
            if any(a.pitcher_id == pid and a.is_start for a in self._by_date.get(other, [])):
                return other
        return None

    def _active(self, pid: int, year: int) -> bool:
        person = self._people[pid]
        first, last = person["first_year"], person["last_year"]
        return (first is None or first <= year) and (last is None or last >= year)


FUZZY_MIN = 0.8  # SequenceMatcher ratio of compact full names needed for a close-name match


def _best(appearances: list[Appearance], teams: tuple[str, ...]) -> tuple[list[Appearance], str]:
    """The appearances of the best tier: start for a game team, appearance for one, start, any."""
    tiers = []
    if teams:
        tiers.append(("started for " + "/".join(teams), lambda a: a.is_start and a.team in teams))
        tiers.append(("pitched for " + "/".join(teams), lambda a: a.team in teams))
    tiers.append(("started that day", lambda a: a.is_start))
    tiers.append(("pitched that day", lambda a: True))
    for label, keep in tiers:
        chosen = [a for a in appearances if keep(a)]
        if chosen:
            # one pitcher with two rows that day (a doubleheader) counts once: take the start
            by_pitcher: dict[int, Appearance] = {}
            for a in sorted(chosen, key=lambda a: (not a.is_start, a.game_id)):
                by_pitcher.setdefault(a.pitcher_id, a)
            return list(by_pitcher.values()), label
    return [], "none"


def _year(value: object) -> int | None:
    try:
        return int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def load_appearances(wh: Warehouse, dates: Iterable[dt.date] | None = None) -> pd.DataFrame:
    """Pitcher-games from the warehouse: from January 1 of the first of ``dates``' seasons to two
    days after the last of them (all when None), so each pitcher's latest team is known."""
    select = "SELECT pitcher_id, game_date, team, game_id, is_start FROM pitcher_games"
    if dates is None:
        return wh.query(select)
    days = sorted({pd.Timestamp(d).date() for d in dates})
    if not days:
        return pd.DataFrame(columns=["pitcher_id", "game_date", "team", "game_id", "is_start"])
    lo = dt.date(days[0].year, 1, 1)
    hi = days[-1] + dt.timedelta(days=2)
    return wh.query(select + " WHERE game_date BETWEEN $lo AND $hi", {"lo": lo, "hi": hi})
