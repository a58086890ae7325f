"""The Chadwick register: the crosswalk between Retrosheet, MLBAM, bbref and FanGraphs ids.

The register is the Chadwick Baseball Bureau's (Open Data Commons Attribution License;
attribution: Chadwick Baseball Bureau). kcast reads it from ``KCAST_REGISTER`` (a CSV, gzipped or
not, with the register's column names) or downloads its shards into the cache.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from kcast.config import get_settings
from kcast.data.http import HttpClient
from kcast.errors import InputError

REGISTER_COLUMNS = (
    "key_mlbam",
    "key_retro",
    "key_bbref",
    "key_fangraphs",
    "name_last",
    "name_first",
    "name_suffix",
    "birth_year",
    "birth_month",
    "birth_day",
    "mlb_played_first",
    "mlb_played_last",
)
# Kept when the file has them: given names let the name matcher find "Jonathan Brubaker" (JT).
OPTIONAL_COLUMNS = ("name_given",)
REGISTER_SHARDS = tuple("0123456789abcdef")


def read_register(path: str | Path) -> pd.DataFrame:
    """Read a register CSV; keep the people with an MLBAM id. Raises naming missing columns."""
    path = Path(path)
    if not path.exists():
        raise InputError("register file not found (set KCAST_REGISTER)", source=str(path))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"cannot read the register: {exc}", source=str(path)) from exc
    missing = [c for c in REGISTER_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"register is missing columns {missing}", source=str(path), line=1)
    frame = frame[list(REGISTER_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in frame.columns]]
    return frame[frame["key_mlbam"].notna()].reset_index(drop=True)


def download_register(base_url: str, cache_dir: Path, timeout: float = 60.0) -> Path:
    """Fetch the register's shards (``people-0.csv`` ... ``people-f.csv``) into one cached CSV."""
    target = cache_dir / "register" / "chadwick_register.csv.gz"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    with HttpClient(timeout=timeout) as http:
        for shard in REGISTER_SHARDS:
            url = f"{base_url.rstrip('/')}/people-{shard}.csv"
            data = http.get_bytes(url)
            parts.append(pd.read_csv(io.BytesIO(data), dtype=str))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["key_mlbam"].notna() & frame["mlb_played_first"].notna()]
    tmp = target.with_suffix(".tmp")
    frame.to_csv(tmp, index=False, compression="gzip")
    tmp.replace(target)
    return target


@dataclass
class Register:
    """People with MLBAM ids, and lookups between their ids."""

    frame: pd.DataFrame

    @classmethod
    def load(cls, path: str | Path | None = None) -> Register:
        """From ``path``, else ``KCAST_REGISTER``, else a (cached) download."""
        settings = get_settings()
        path = path or settings.register_path
        if path is None:
            path = download_register(settings.register_url, settings.cache_dir)
        return cls(read_register(path))

    @cached_property
    def retro_to_mlbam(self) -> dict[str, int]:
        rows = self.frame.dropna(subset=["key_retro"])
        return dict(zip(rows["key_retro"], rows["key_mlbam"].astype(int), strict=True))

    @cached_property
    def mlbam_to_retro(self) -> dict[int, str]:
        return {v: k for k, v in self.retro_to_mlbam.items()}

    def players_frame(self) -> pd.DataFrame:
        """The register as rows of the ``players`` table."""
        f = self.frame
        first = f["name_first"].fillna("")
        last = f["name_last"].fillna("")
        suffix = f["name_suffix"].fillna("")
        full = (first + " " + last + (" " + suffix).where(suffix != "", "")).str.strip()
        return pd.DataFrame(
            {
                "player_id": f["key_mlbam"].astype(int),
                "retro_id": f["key_retro"],
                "bbref_id": f["key_bbref"],
                "fangraphs_id": f["key_fangraphs"],
                "name_first": f["name_first"],
                "name_last": f["name_last"],
                "name_suffix": f["name_suffix"],
                "full_name": full,
                "birth_date": [
                    _birth_date(y, m, d)
                    for y, m, d in zip(
                        f["birth_year"], f["birth_month"], f["birth_day"], strict=True
                    )
                ],
                "mlb_played_first": pd.to_numeric(f["mlb_played_first"], errors="coerce"),
                "mlb_played_last": pd.to_numeric(f["mlb_played_last"], errors="coerce"),
                "source": "chadwick_register",
            }
        )


def _birth_date(y: object, m: object, d: object) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
