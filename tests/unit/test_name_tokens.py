"""Names made comparable: the tokens and the compact form that name matching compares (the
matching itself, against the Chadwick register and real appearances, is in
tests/integration/test_names.py)."""

from __future__ import annotations

import pytest

from kcast.data.names import compact, name_tokens


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("Carlos Rodón", ["carlos", "rodon"]),
        ("J.T. Brubaker", ["j", "t", "brubaker"]),
        ("Lance McCullers Jr.", ["lance", "mccullers"]),
        ("Will Smith II", ["will", "smith"]),
        ("Hyun-Jin Ryu", ["hyun", "jin", "ryu"]),
        ("Travis d'Arnaud", ["travis", "darnaud"]),
        ("  Sandy  ALCÁNTARA ", ["sandy", "alcantara"]),
    ],
)
def test_name_tokens(name: str, tokens: list[str]) -> None:
    assert name_tokens(name) == tokens


def test_compact_joins_initials_and_particles() -> None:
    assert compact("J. T.") == compact("JT") == compact("J.T.") == "jt"
    assert compact("De La Cruz") == compact("de la cruz") == "delacruz"
    assert compact(None) == ""
