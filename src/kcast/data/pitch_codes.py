"""Pitch codes: Retrosheet's, and the MLB Stats API's calls written in Retrosheet's.

kcast stores a plate appearance's pitches as Retrosheet writes them (``pitch_sequence``), from
whichever source has them: the event files, or the Stats API's live feed, whose pitch calls
(``playEvents[].details.call.code``) are translated here. Pitches thrown, swinging strikes and
called strikes are then counted the same way for both.
"""

from __future__ import annotations

# Retrosheet's codes of a pitch thrown (Chadwick's ``cw_pitch_ball_thrown`` and
# ``cw_pitch_strike_thrown``): an automatic ball or strike (V, A: the pitch clock) is not thrown
BALLS_THROWN = frozenset("BHIP")
STRIKES_THROWN = frozenset("CFKLMOQRSTXY")
THROWN = BALLS_THROWN | STRIKES_THROWN
# swinging strikes (a foul tip counts, as in Statcast's whiffs) and called strikes
WHIFF_CODES = frozenset("SMQT")
CALLED_CODES = frozenset("C")

# The Stats API's pitch calls -> Retrosheet's codes. A swinging strike the catcher blocked (W)
# is a swinging strike marked as blocked (*S); the three in-play calls (X out, D no out, E runs) are Retrosheet's X;
# a ball in the dirt (*B) is a ball; V/VP/AB are automatic balls and AC an automatic strike
# (pitch-clock violations, not thrown).
FEED_CALLS = {
    "B": "B",
    "*B": "B",
    "C": "C",
    "S": "S",
    "W": "*S",
    "F": "F",
    "T": "T",
    "L": "L",
    "M": "M",
    "O": "O",
    "X": "X",
    "D": "X",
    "E": "X",
    "H": "H",
    "I": "I",
    "P": "P",
    "Q": "Q",
    "R": "R",
    "Y": "Y",
    "V": "V",
    "VP": "V",
    "AB": "V",
    "AC": "A",
}
UNKNOWN = "U"  # Retrosheet's unknown pitch: a call the table above does not know


def retrosheet_code(call: object) -> str:
    """Retrosheet's code for a Stats API pitch call (``U`` when the call is not known)."""
    return FEED_CALLS.get(str(call).strip().upper(), UNKNOWN) if call is not None else UNKNOWN


def pitch_counts(sequence: str) -> tuple[int, int, int]:
    """Pitches thrown, swinging strikes and called strikes of a sequence of Retrosheet codes
    (markers such as pickoff throws, ``*`` or ``>`` are not pitches)."""
    thrown = [c for c in sequence if c in THROWN]
    whiffs = sum(c in WHIFF_CODES for c in thrown)
    called = sum(c in CALLED_CODES for c in thrown)
    return len(thrown), whiffs, called
