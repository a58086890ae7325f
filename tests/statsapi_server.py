"""A real HTTP server on 127.0.0.1 that answers at the MLB Stats API's paths with real responses.

The responses are the real statsapi.mlb.com JSON files in ``../shared/data/statsapi`` (see its
README), served unchanged. Anything not routed answers 404, as the real API does for an unknown
game. Tests add routes for failure modes: a status first (503 once, then the file), a delay
past the client's timeout, or a body that is not JSON.

Use::

    with StatsApiServer() as server:            # the real fixture routes
        monkeypatch.setenv("KCAST_STATSAPI_URL", server.url)
        server.route("/api/v1/game/744840/boxscore", Reply(status=500))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from tests.conftest import STATSAPI

SCHEDULE_2024_07_01 = STATSAPI / "schedule_2024-07-01_dsotm.json"
SCHEDULE_SPRING_2019_03_09 = STATSAPI / "schedule_probablePitcher_2019-03-09_spring.json"
BOXSCORE_744914 = STATSAPI / "boxscore_744914_dsotm.json"
FEED_LIVE_744914 = STATSAPI / "feed_live_744914_dsotm.json"
PEOPLE_660271 = STATSAPI / "people_660271_dsotm.json"

# route -> real file. A route is a path plus the query parameters a request must carry.
REAL_ROUTES: dict[str, Path] = {
    "/api/v1/schedule?sportId=1&date=2024-07-01": SCHEDULE_2024_07_01,
    "/api/v1/schedule?sportId=1&date=2019-03-09": SCHEDULE_SPRING_2019_03_09,
    "/api/v1/game/744914/boxscore": BOXSCORE_744914,
    "/api/v1.1/game/744914/feed/live": FEED_LIVE_744914,
    "/api/v1/people/660271": PEOPLE_660271,
}


@dataclass
class Reply:
    """One answer: a status, a body (or a real file), and an optional delay before it."""

    status: int = 200
    body: bytes = b""
    file: Path | None = None
    delay: float = 0.0
    content_type: str = "application/json;charset=UTF-8"

    def payload(self) -> bytes:
        return self.file.read_bytes() if self.file is not None else self.body


@dataclass
class Sequence:
    """Answers in turn: each reply once, then the last one for every later request."""

    replies: list[Reply]
    calls: int = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        return reply


Route = Path | Reply | Sequence | Callable[[], Reply]


def _split(key: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(key)
    return parts.path, dict(parse_qsl(parts.query))


@dataclass
class StatsApiServer:
    """A ``ThreadingHTTPServer`` on a free loopback port, run in a thread."""

    routes: dict[str, Route] = field(default_factory=lambda: dict(REAL_ROUTES))
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, key: str, answer: Route) -> None:
        """Answer requests matching ``key`` (a path, optionally with required parameters).

        The route added last wins over earlier ones that match the same request.
        """
        with self._lock:
            self.routes.pop(key, None)
            self.routes[key] = answer

    def hits(self, path: str) -> int:
        """How many requests reached ``path`` (query ignored)."""
        with self._lock:
            return sum(1 for r in self.requests if urlsplit(r).path == path)

    def answer(self, target: str) -> Reply:
        """The reply for a request target (path and query)."""
        path, params = _split(target)
        with self._lock:
            self.requests.append(target)
            route: Route | None = None
            for key in reversed(self.routes):
                rpath, required = _split(key)
                if rpath == path and all(params.get(k) == v for k, v in required.items()):
                    route = self.routes[key]
                    break
            if route is None:
                return Reply(status=404, body=b'{"message": "Object not found"}')
            if isinstance(route, Path):
                return Reply(file=route)
            if isinstance(route, Sequence):
                return route.next()
            if isinstance(route, Reply):
                return route
        return route()

    def start(self) -> StatsApiServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                reply = server.answer(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.payload()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StatsApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
