"""What the benchmarks share: a worker started on a free loopback port, waited for until it
answers /health."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, url: str, seconds: float = 120) -> None:
    """Wait until the worker ``proc`` at ``url`` answers /health with 200; stop it and raise
    ``RuntimeError`` (with what it printed, when piped) if it exits or takes over ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"the worker exited with code {proc.returncode}: {said}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the worker did not answer /health within {seconds:.0f} s")
