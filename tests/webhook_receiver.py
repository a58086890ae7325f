"""A webhook receiver on loopback for the alert tests: it records every request's JSON body, and
answers each with the next status of its script (the last one repeats): ``[500]`` always fails,
``[500, 200]`` fails once, then takes everything."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """``url`` to post to, ``bodies`` received (also the failed ones), ``statuses`` answered."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [200])
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                with owner.lock:
                    status = owner.script[min(len(owner.statuses), len(owner.script) - 1)]
                    owner.bodies.append(body)
                    owner.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-token"

    def taken(self) -> list[dict]:
        """The bodies answered 2xx."""
        with self.lock:
            return [b for b, s in zip(self.bodies, self.statuses, strict=True) if s < 300]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
