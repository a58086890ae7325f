"""Secrets are masked wherever kcast writes (issue 24, item 9): the console, ``ingest_log``, log
records (the worker's access log included) and error messages, also when an upstream echoes a
key back percent-encoded (a key with ``+/=%&`` in it)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
import pytest

from kcast.config import get_settings
from kcast.errors import InputError, SourceUnavailableError
from kcast.warehouse import open_warehouse
from tests.conftest import REGISTER_FILE, free_port
from tests.integration.test_cli_mistakes import kcast

KEY = "k3y+with/odd=chars%&more"  # every character a URL encodes
SPELLINGS = {
    "as given": KEY,
    "percent-encoded": quote(KEY, safe=""),
    "form-encoded": quote_plus(KEY),
    "lower-case hex": quote(KEY, safe="").lower(),
    "encoded twice": quote(quote(KEY, safe=""), safe=""),
    "JSON-escaped": KEY.replace("/", "\\/"),
}
DAY = "2025-06-03"


class Upstream(BaseHTTPRequestHandler):
    """A fake The Odds API that echoes what it was sent: ``mode`` says where."""

    mode = "price"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        key = parse_qs(url.query).get("apiKey", [""])[0]
        raw = url.query.split("apiKey=", 1)[-1].split("&", 1)[0]  # as sent, percent-encoded
        if self.mode == "error":
            status = 401
            body: object = {"message": f"key {raw} (also {raw.lower()}, {quote(raw)}) is unknown"}
        elif url.path.endswith("/events"):
            status = 200
            body = [{"id": "ev1", "commence_time": f"{DAY}T23:05:00Z"}]
        else:
            status = 200
            outcomes = [
                {"name": "Over", "description": f"echo {raw}", "point": 6.5, "price": key},
                {"name": "Under", "description": f"echo {raw}", "point": 6.5, "price": -110},
            ]
            body = {
                "id": "ev1",
                "commence_time": f"{DAY}T23:05:00Z",
                "home_team": "New York Yankees",
                "away_team": "Cleveland Guardians",
                "bookmakers": [
                    {
                        "key": "dk",
                        "title": "DraftKings",
                        "markets": [{"key": "pitcher_strikeouts", "outcomes": outcomes}],
                    }
                ],
            }
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Upstream]]:
    handler = type("Echo", (Upstream,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ODDS_API_KEY", KEY)
    monkeypatch.setenv("KCAST_ODDS_API_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("KCAST_HTTP_RETRIES", "0")
    get_settings.cache_clear()
    yield handler
    server.shutdown()
    server.server_close()


def assert_masked(text: str, where: str) -> None:
    for name, spelling in SPELLINGS.items():
        assert spelling not in text, f"the key {name} is in {where}: {text[:400]}"
    assert "odd=chars" not in text and "odd%3Dchars" not in text.replace("%3d", "%3D"), where


def test_mask_secrets_knows_every_spelling() -> None:
    from kcast.masking import mask_secrets

    for name, spelling in SPELLINGS.items():
        shown = mask_secrets(f"before {spelling} after", {KEY})
        assert shown == "before *** after", (name, shown)


@pytest.mark.parametrize("mode", ["price", "error"])
def test_an_echoed_key_is_masked_in_the_error_the_log_and_the_console(
    upstream, register, monkeypatch: pytest.MonkeyPatch, capsys, mode: str
) -> None:
    from kcast.data.odds_api import OddsApiClient, ingest_odds_api

    upstream.mode = mode
    wh = open_warehouse()
    expected = InputError if mode == "price" else SourceUnavailableError
    with pytest.raises(expected) as info:
        ingest_odds_api(wh, register, dt.date(2025, 6, 3), client=OddsApiClient.from_settings())
    assert_masked(str(info.value), "the error")
    assert "***" in str(info.value)
    logged = wh.query("SELECT status, target, message FROM ingest_log")
    assert list(logged["status"]) == ["failed"]
    assert_masked(logged.to_csv(), "ingest_log")
    code, out = kcast(monkeypatch, capsys, "ingest", "odds-api", "--date", DAY)
    assert code == 1
    assert_masked(out, "the console")


def test_log_records_are_masked(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("ODDS_API_KEY", KEY)
    kcast(monkeypatch, capsys, "--help")  # the command line masks every log record it makes
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("kcast.test_secrets")
    logger.addHandler(handler)
    try:
        logger.error("upstream said %s", f"no such key {quote(KEY, safe='')}")
        logger.warning("GET https://x/odds?apiKey=%s&regions=us", quote_plus(KEY))
        logger.warning({"detail": KEY})
        try:
            raise RuntimeError(f"the key {KEY} was refused")
        except RuntimeError:
            logger.exception("failed")
        access = logging.getLogger("uvicorn.access")
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        path = f"/predict-batch?token={quote(KEY, safe='')}"
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", path, "1.1", 401)
        access.removeHandler(handler)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert_masked(text, "the log")
    assert text.count("***") >= 5 and "401" in text and "RuntimeError" in text


def test_the_workers_access_log_masks_a_token_in_the_query(
    trained_warehouse: Path, tmp_path: Path
) -> None:
    token = "query-string-token-" + "Z" * 8
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCAST_", "MLB_"))}
    env.update(
        KCAST_API_TOKEN=token,
        KCAST_ACCESS_LOG="true",
        KCAST_REGISTER=str(REGISTER_FILE),
        KCAST_CACHE_DIR=str(tmp_path / "cache"),
        KCAST_MODEL_DIR=str(tmp_path / "models"),
        KCAST_RELOAD_SECONDS="0",
    )
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(trained_warehouse.read_bytes())
    log = tmp_path / "worker.log"
    cmd = [sys.executable, "-c", "from kcast.cli import main; main()", "serve"]
    cmd += ["--port", str(port), "-w", str(copy), "--log-level", "info"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        game = {"games": [{"pitcher_id": 453281, "game_date": "2019-07-13"}]}
        answer = httpx.post(f"{url}/predict-batch?token={token}", json=game, timeout=60)
        assert answer.status_code == 422  # the token belongs in the header, not the URL
        httpx.get(f"{url}/health?apiKey={token}", timeout=60)
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(30)
    text = log.read_text()
    assert "/predict-batch?token=***" in text, text[-2000:]
    assert token not in text and "ZZZZZZZZ" not in text
