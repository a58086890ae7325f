"""A new user's mistakes, each answered in one line that names what is wrong: bad settings, an
ensemble without its members, a --data folder that is not there, dates the API refuses, lines
files that do not match, misspelt headers; and secrets never printed or stored."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from kcast.config import (
    REMEMBERED_REGISTER,
    Settings,
    describe_settings_error,
    get_settings,
    remember_register,
)
from kcast.data import lines as lines_module
from kcast.data.http import HttpClient, mask_secrets
from kcast.data.lines import detect_format, ingest_lines
from kcast.errors import InputError, SourceUnavailableError
from kcast.service.schemas import parse_date_arg, parse_day
from kcast.warehouse import open_warehouse
from tests.conftest import REGISTER_FILE


def kcast(monkeypatch: pytest.MonkeyPatch, capsys, *args: str) -> tuple[int, str]:
    """Run ``kcast ARGS`` in this process; (exit code, what it printed)."""
    from kcast.cli import main

    monkeypatch.setattr(sys, "argv", ["kcast", *args])
    get_settings.cache_clear()
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("var", "value", "accepts"),
    [
        ("MLB_MIN_EDGE", "abc", "a number >= 0"),
        ("KCAST_AUTH_READS", "maybe", "true or false"),
        ("MLB_MARKET_BLEND", "sometimes", "auto or off"),
        ("KCAST_MAX_BODY", "12", "a whole number >= 1024"),
        ("KCAST_API_TOKEN", "short", "a secret of at least 16 characters"),
    ],
)
def test_a_bad_setting_is_one_line(monkeypatch, capsys, var: str, value: str, accepts: str) -> None:
    monkeypatch.setenv(var, value)
    code, out = kcast(monkeypatch, capsys, "status")
    assert code == 1
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    shown = "'***'" if var == "KCAST_API_TOKEN" else repr(value)  # a secret is never printed
    assert var in lines[0] and shown in lines[0] and accepts in lines[0]
    assert var != "KCAST_API_TOKEN" or value not in lines[0]
    assert "Traceback" not in out


def test_describe_settings_error_masks_secrets() -> None:
    from pydantic import ValidationError

    try:
        Settings(_env_file=None, min_edge="x", max_body="y")
    except ValidationError as exc:
        lines = describe_settings_error(exc)
    assert [line.split("=")[0] for line in lines] == ["MLB_MIN_EDGE", "KCAST_MAX_BODY"]


def test_an_ensemble_alone_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLB_ACTIVE_SYSTEMS", "ensemble_v1")
    code, out = kcast(monkeypatch, capsys, "status")
    assert code == 1
    assert "ensemble_v1" in out and "v1_baseline" in out and "v1_6_rolling" in out
    assert "Traceback" not in out


def test_the_worker_refuses_an_ensemble_alone(tmp_path: Path) -> None:
    from kcast.errors import ConfigError
    from kcast.service.app import build_state

    with pytest.raises(ConfigError, match="none of them is active"):
        build_state(Settings(_env_file=None, active_systems="ensemble_v1"))


def test_serve_refuses_a_public_bind_without_a_token(monkeypatch, capsys) -> None:
    code, out = kcast(monkeypatch, capsys, "serve", "--host", "0.0.0.0", "--port", "1")
    assert code == 1 and "KCAST_API_TOKEN" in out and "0.0.0.0" in out


# --- kcast run --data ------------------------------------------------------------------------


def test_run_data_that_does_not_exist(monkeypatch, capsys, tmp_path: Path) -> None:
    code, out = kcast(
        monkeypatch, capsys, "run", "--date", "2019-07-13", "--data", str(tmp_path / "dat")
    )
    assert code == 1 and "no such folder" in out and "dat" in out


def test_run_data_without_the_sub_folders(monkeypatch, capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out = kcast(
        monkeypatch, capsys, "run", "--date", "2019-07-13", "--data", str(tmp_path / "empty")
    )
    assert code == 1 and "retrosheet/events" in out and "ids" in out


def test_run_refuses_dates_the_api_refuses(monkeypatch, capsys) -> None:
    for day in ("1850-01-01", "2999-01-01", "2019-02-30"):
        code, out = kcast(monkeypatch, capsys, "run", "--date", day)
        assert code == 1 and "--date" in out, out


def test_run_on_a_day_without_games_trains_nothing(monkeypatch, capsys, tmp_path: Path) -> None:
    """A --data folder with the register only: no starters, so no model is trained."""
    data = tmp_path / "data"
    (data / "ids").mkdir(parents=True)
    (data / "ids" / REGISTER_FILE.name).symlink_to(REGISTER_FILE)
    code, out = kcast(monkeypatch, capsys, "run", "--date", "2019-12-25", "--data", str(data))
    assert code == 0, out
    assert "no starters known for 2019-12-25" in out and "training" not in out
    wh = open_warehouse()
    assert wh.count("model_registry") == 0


def test_the_register_found_by_data_is_remembered(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KCAST_REGISTER")
    get_settings.cache_clear()
    assert get_settings().register_path is None
    note = remember_register(get_settings().cache_dir, REGISTER_FILE)
    assert note.name == REMEMBERED_REGISTER
    get_settings.cache_clear()
    assert get_settings().register_path == REGISTER_FILE.resolve()
    monkeypatch.setenv("KCAST_REGISTER", str(tmp_path / "other.csv"))  # the setting wins
    get_settings.cache_clear()
    assert get_settings().register_path == tmp_path / "other.csv"


# --- dates -----------------------------------------------------------------------------------


def test_one_date_rule() -> None:
    assert parse_day("2019-07-13") == dt.date(2019, 7, 13)
    today = dt.date(2026, 1, 1)
    assert parse_day("2026-12-31", today=today) == dt.date(2026, 12, 31)
    with pytest.raises(ValueError, match="ahead"):
        parse_day("2099-07-13", today=today)
    with pytest.raises(ValueError, match="1871"):
        parse_day("1850-01-01")
    with pytest.raises(InputError, match="--date: date 1850-01-01 is outside"):
        parse_date_arg("1850-01-01")


# --- lines files -----------------------------------------------------------------------------


def _generic(path: Path, names: list[str], header: str | None = None) -> Path:
    frame = pd.DataFrame(
        {
            "game_date": "2025-06-03",
            "pitcher_name": names,
            "book": "DraftKings",
            "line": "5.5",
            "over_odds": "-110",
            "under_odds": "-110",
        }
    )
    if header:
        frame.columns = header.split(",")
    frame.to_csv(path, index=False)
    return path


def test_a_file_of_unknown_names_is_refused(register, tmp_path: Path) -> None:
    wh = open_warehouse()
    path = _generic(tmp_path / "garbage.csv", [f"Nobody Number{i}" for i in range(300)])
    with pytest.raises(InputError, match=r"only 0\.0% of the pitcher names") as info:
        ingest_lines(wh, path, register)
    assert "garbage.csv" in str(info.value) and "--allow-unmatched" in str(info.value)
    assert wh.count("prop_lines") == 0
    report = ingest_lines(wh, path, register, allow_unmatched=True)
    assert report.inserted == 300 and wh.count("prop_lines") == 300


def test_known_names_pass(register, tmp_path: Path) -> None:
    wh = open_warehouse()
    names = ["Carlos Rodon", "Gerrit Cole", "Nobody Atall"]
    report = ingest_lines(wh, _generic(tmp_path / "ok.csv", names), register)
    assert report.inserted == 3


def test_a_garbage_file_stops_after_the_probe(register, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lines_module, "PROBE_ROWS", 50)
    reads = []
    real = lines_module.read_csv_text

    def spy(path, nrows=None):
        reads.append(nrows)
        return real(path, nrows=nrows)

    monkeypatch.setattr(lines_module, "read_csv_text", spy)
    path = _generic(tmp_path / "big.csv", [f"Nobody Number{i}" for i in range(2_000)])
    with pytest.raises(InputError, match="first 50 rows"):
        ingest_lines(open_warehouse(), path, register)
    assert reads == [50]  # the rest of the file was never read


def test_a_misspelt_header_column_is_named(register, tmp_path: Path) -> None:
    path = _generic(
        tmp_path / "typo.csv",
        ["Carlos Rodon"],
        header="game_date,pitcher_nmae,book,line,over_odds,under_odds",
    )
    with pytest.raises(InputError, match="'pitcher_nmae' \\(did you mean 'pitcher_name'\\?\\)"):
        ingest_lines(open_warehouse(), path, register)
    path = _generic(
        tmp_path / "typo2.csv",
        ["Carlos Rodon"],
        header="game_date,pitcher_name,book,lnie,over_odds,under_odds",
    )
    with pytest.raises(InputError, match="missing line \\(the header has 'lnie': misspelt\\?\\)"):
        ingest_lines(open_warehouse(), path, register)
    with pytest.raises(InputError, match="SO_Projection"):
        detect_format(["SO_Projectoin", "OU", "Platform"])


def test_ingest_lines_cli_has_the_options(monkeypatch, capsys, tmp_path: Path) -> None:
    path = _generic(tmp_path / "garbage.csv", [f"Nobody Number{i}" for i in range(20)])
    code, out = kcast(monkeypatch, capsys, "ingest", "lines", str(path))
    assert code == 1 and "garbage.csv" in out and "0.0%" in out
    code, out = kcast(monkeypatch, capsys, "ingest", "lines", str(path), "--allow-unmatched")
    assert code == 0, out


# --- secrets ---------------------------------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f'{{"message": "bad request {self.path}", "apiKey": "{self.path[-12:]}"}}'.encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_echoed_key_is_never_printed_or_stored(echo_server, monkeypatch, register) -> None:
    from kcast.data.odds_api import OddsApiClient, ingest_odds_api

    key = "KEY-abcdef123456"
    monkeypatch.setenv("ODDS_API_KEY", key)
    monkeypatch.setenv("KCAST_ODDS_API_URL", echo_server)
    get_settings.cache_clear()
    wh = open_warehouse()
    with pytest.raises(SourceUnavailableError) as info:
        ingest_odds_api(wh, register, dt.date(2025, 6, 3), client=OddsApiClient.from_settings())
    assert key not in str(info.value) and "400" in str(info.value)
    logged = wh.query("SELECT message FROM ingest_log")["message"].str.cat()
    assert "400" in logged and key not in logged and "abcdef" not in logged
    with HttpClient(retries=0) as http, pytest.raises(SourceUnavailableError) as info:
        http.get(f"{echo_server}/x", params={"token": "tok-987654321"})
    assert "987654321" not in str(info.value)


def test_mask_secrets() -> None:
    text = 'apiKey=abc123&x=1 {"api_key": "zzzz"} Authorization: Bearer qwe.rty monkey=ok'
    masked = mask_secrets(text, {"hunter2-secret"}) + mask_secrets(
        "pw hunter2-secret", {"hunter2-secret"}
    )
    for secret in ("abc123", "zzzz", "qwe.rty", "hunter2-secret"):
        assert secret not in masked
    assert "monkey=ok" in masked
