"""The worker as an attacker on loopback finds it: a real uvicorn server with KCAST_API_TOKEN,
a real warehouse and real systems. Writes need the token, bad input is a 422 that names the
field and never echoes it, big bodies are a 413 before parsing, and the connection survives."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from kcast.config import Settings
from kcast.errors import ConfigError
from kcast.service.security import EXCERPT, check_exposure, is_loopback, public_text

TOKEN = "s3cret-token-for-tests"
GAME = {"pitcher_id": 453281, "game_date": "2019-07-13"}
AUTH = {"authorization": f"Bearer {TOKEN}"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def live(service_factory):
    return service_factory(api_token=TOKEN, max_body=1_000_000)


@pytest.fixture(scope="module")
def client(live):
    server, _ = live
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def stored(state, day: str) -> int:
    rows = state.warehouse.query(
        "SELECT COUNT(*) AS n FROM pitcher_strikeout_predictions WHERE game_date = $d", {"d": day}
    )
    return int(rows["n"].iloc[0])


# --- the token --------------------------------------------------------------------------------


def test_writes_need_the_token(client: httpx.Client, live) -> None:
    _, state = live
    before = stored(state, "2019-07-13")
    made_up = {"games": [{**GAME, "line": 19.5, "over_odds": 900, "under_odds": -900}]}
    answer = client.post("/predict-batch", json=made_up)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert (
        client.post(
            "/predict-batch", json=made_up, headers={"authorization": "Bearer x"}
        ).status_code
        == 403
    )
    assert (
        client.post("/predict-batch", json=made_up, headers={"authorization": TOKEN}).status_code
        == 401
    )
    assert stored(state, "2019-07-13") == before  # nothing replaced
    ok = client.post("/predict-batch", json={"games": [GAME]}, headers=AUTH)
    assert ok.status_code == 200, ok.text
    assert ok.json()["total_rows_written"] > 0


def test_reads_and_unstored_batches_stay_open(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/picks", params={"date": "2019-07-13"}).status_code == 200
    assert client.get("/systems").status_code == 200
    answer = client.post("/predict-batch", json={"games": [GAME], "write": False})
    assert answer.status_code == 200 and answer.json()["total_rows_written"] == 0


def test_auth_reads_and_read_only(service_factory) -> None:
    server, _ = service_factory(api_token=TOKEN, auth_reads=True, read_only=True)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        assert c.get("/health").status_code == 200  # probes carry no token
        for path in ("/picks?date=2019-07-13", "/systems", "/metrics", "/openapi.json", "/docs"):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers=AUTH).status_code == 200, path
        assert c.post("/predict", json=GAME).status_code == 401
        refused = c.post("/predict-batch", json={"games": [GAME]}, headers=AUTH)
        assert refused.status_code == 403 and "read-only" in refused.text


# --- bad input: 422, the field named, nothing echoed, the connection kept --------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"pitcher_id": 453281, "game_date": "2019-07-13", "line": NaN}', "body.line"),
        ('{"pitcher_id": 453281, "game_date": "2019-07-13", "line": Infinity}', "body.line"),
        ('{"pitcher_id": 453281, "game_date": "2019-07-13", "line": 1e400}', "body.line"),
        ('{"pitcher_id": NaN, "game_date": "2019-07-13"}', "body.pitcher_id"),
        (
            '{"pitcher_id": 453281, "game_date": "2019-07-13", "line": 4.5, '
            '"over_odds": -Infinity}',
            "body.over_odds",
        ),
        ('{"pitcher_id": 453281, "game_date": "2019-07-13", "junk": 1}', "body.junk"),
        ('{"pitcher_id": 453281, "game_date": "2099-07-13"}', "body.game_date"),
        ('{"pitcher_id": 453281, "game_date": "1850-01-01"}', "body.game_date"),
    ],
)
def test_bad_input_is_a_422_and_the_connection_lives(
    client: httpx.Client, body: str, field: str
) -> None:
    answer = client.post("/predict", content=body, headers=JSON)
    assert answer.status_code == 422, answer.text
    fields = [e["field"] for e in answer.json()["detail"]]
    assert field in fields
    assert client.get("/health").status_code == 200  # same connection, still served


def test_non_finite_in_a_batch(client: httpx.Client) -> None:
    for body in (
        '{"date": "2019-07-13", "write": NaN}',
        '{"games": [{"pitcher_id": 453281, "game_date": "2019-07-13", "line": NaN}]}',
        '{"games": [{"pitcher_id": 453281, "game_date": "2019-07-13", "x": 1}], "write": false}',
    ):
        assert client.post("/predict-batch", content=body, headers=JSON).status_code == 422
    assert client.get("/picks", params={"date": "1850-01-01"}).status_code == 422


def test_unknown_query_parameters_are_refused(client: httpx.Client) -> None:
    answer = client.get("/picks", params={"date": "2019-07-13", "sytem": "v1_baseline"})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["detail"]] == ["query.sytem"]


def test_422_quotes_only_an_excerpt(client: httpx.Client) -> None:
    answer = client.post("/predict", json={**GAME, "opponent": "A" * 10_000})
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["field"] == "body.opponent" and len(error["input"]) <= EXCERPT
    assert len(answer.content) < 1_000


# --- body size ------------------------------------------------------------------------------


def test_big_bodies_are_a_413_before_parsing(client: httpx.Client) -> None:
    batch = json.dumps({"games": [GAME] * 100_000})  # 5 MB
    answer = client.post("/predict-batch", content=batch, headers=JSON)
    assert answer.status_code == 413 and len(answer.content) < 200
    junk = '{"pitcher_id": 453281, "game_date": "2019-07-13", "junk": "' + "x" * 50_000_000 + '"}'
    assert client.post("/predict", content=junk, headers=JSON).status_code == 413
    assert client.get("/health").status_code == 200


def _raw(url: str, head: str, body: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{head}\r\n".encode()
            + body
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer


def test_streamed_bodies_are_counted(live) -> None:
    server, _ = live
    piece = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(20)) + b"0\r\n\r\n"
    assert _raw(server.url, "Transfer-Encoding: chunked\r\n", chunks).startswith(b"HTTP/1.1 413")
    lying = _raw(server.url, "Content-Length: 99999999999\r\n", b"{}")
    assert lying.startswith(b"HTTP/1.1 413")


# --- what the answers show ------------------------------------------------------------------


def test_docs_are_served_by_the_worker(client: httpx.Client) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "/docs-static/" in html
        assert "cdn" not in html.lower() and "https://" not in html, html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        answer = client.get(f"/docs-static/{asset}")
        assert answer.status_code == 200 and len(answer.content) > 100_000


def test_no_absolute_model_paths(service_factory, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "v1_baseline"
    server, _ = service_factory(v1_model_path=str(missing))
    with httpx.Client(base_url=server.url, timeout=60) as c:
        health = c.get("/health").text
        systems = c.get("/systems").text
    assert "v1_baseline" in health
    for text in (health, systems):
        assert str(tmp_path) not in text and "/tmp/" not in text


def test_openapi_documents_the_new_answers(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    batch = spec["paths"]["/predict-batch"]["post"]["responses"]
    assert {"401", "403", "413", "422"} <= set(batch)
    assert spec["components"]["schemas"]["PitcherGame"]["additionalProperties"] is False


# --- start-up -------------------------------------------------------------------------------


def test_a_public_bind_needs_a_token() -> None:
    open_writes = Settings(_env_file=None)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::")
    check_exposure("127.0.0.1", open_writes)
    with pytest.raises(ConfigError, match="KCAST_API_TOKEN"):
        check_exposure("0.0.0.0", open_writes)
    check_exposure("0.0.0.0", Settings(_env_file=None, api_token="t" * 20))
    check_exposure("0.0.0.0", Settings(_env_file=None, read_only=True))
    check_exposure("0.0.0.0", Settings(_env_file=None, allow_unauthenticated_writes=True))


def test_public_text_cuts_paths(tmp_path: Path) -> None:
    text = f"FileNotFoundError: {tmp_path}/v1/model.json; also /etc/secret/x.json at http://h/a/b"
    shown = public_text(text, tmp_path)
    assert str(tmp_path) not in shown and "v1/model.json" in shown
    assert "/etc/secret" not in shown and "x.json" in shown and "http://h/a/b" in shown
